//! End-to-end tests of the `integ` command-line tool: the binary is run as a
//! user would run it, and its exit code, stdout and stderr are checked.
//!
//! Each test that needs files writes them to its own directory under the
//! system temporary directory (removed when the test ends) and runs `integ`
//! there, so that file names in the output are short and stable. Tests that
//! read the repository (examples, fixtures) run from its root.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_integ");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

// ---------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------

/// The outcome of one run of `integ`.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }
}

/// Runs `integ` in `dir`, with an environment that does not depend on the
/// caller's terminal (no colour or width variables, no stdin).
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(dir).stdin(Stdio::null());
    for variable in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "COLUMNS", "LINES", "TERM"] {
        command.env_remove(variable);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("the integ binary runs");
    Run {
        code: output.status.code().expect("integ exits with a code, not a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `integ` from the repository root.
fn integ(args: &[&str]) -> Run {
    run_in(Path::new(ROOT), args, &[])
}

/// A directory of its own for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("integ-cli-{}-{name}-{unique}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temporary directory can be created");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `relative`, creating parent directories.
    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("parent can be created");
        std::fs::write(&path, contents).expect("file can be written");
        path
    }

    fn read(&self, relative: &str) -> Vec<u8> {
        std::fs::read(self.0.join(relative)).expect("file can be read")
    }

    fn run(&self, args: &[&str]) -> Run {
        run_in(&self.0, args, &[])
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("directory can be created");
    for entry in std::fs::read_dir(from).expect("directory can be read") {
        let entry = entry.expect("entry can be read");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("file can be copied");
        }
    }
}

fn has_ansi(text: &str) -> bool {
    text.contains('\u{1b}')
}

/// Removes ANSI SGR sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for next in chars.by_ref() {
                if next == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The `file:line:column` locations of the diagnostics of a text rendering, in order.
fn locations(rendered: &str) -> Vec<String> {
    rendered.lines().filter_map(|line| line.trim_start().strip_prefix("┌─ ")).map(str::to_owned).collect()
}

/// The `error[E....]` / `warning[W....]` headers of a text rendering, in order.
fn headers(rendered: &str) -> Vec<String> {
    rendered
        .lines()
        .filter(|line| line.starts_with("error[") || line.starts_with("warning["))
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------

/// Parses stdout of `--format json`: every line must be one JSON object.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
            assert!(value.is_object(), "not a JSON object: {line}");
            value
        })
        .collect()
}

fn number(value: &Value, key: &str) -> usize {
    value[key].as_u64().unwrap_or_else(|| panic!("`{key}` is not a number in {value}")) as usize
}

fn string<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_else(|| panic!("`{key}` is not a string in {value}"))
}

fn array<'a>(value: &'a Value, key: &str) -> &'a Vec<Value> {
    value[key].as_array().unwrap_or_else(|| panic!("`{key}` is not an array in {value}"))
}

fn primary_label(diagnostic: &Value) -> &Value {
    array(diagnostic, "labels").iter().find(|label| label["primary"] == true).expect("a primary label")
}

const RANGE_FIELDS: [&str; 6] = ["byte_start", "byte_end", "line_start", "column_start", "line_end", "column_end"];

/// Asserts the shape of one diagnostic of the JSON contract (version 1).
fn assert_schema(diagnostic: &Value) {
    assert_eq!(diagnostic["version"], 1, "{diagnostic}");
    let code = string(diagnostic, "code");
    assert!(
        code.len() == 5 && code.starts_with(['E', 'W']) && code[1..].bytes().all(|b| b.is_ascii_digit()),
        "code `{code}`"
    );
    let severity = string(diagnostic, "severity");
    let expected = if code.starts_with('E') { "error" } else { "warning" };
    assert_eq!(severity, expected, "{diagnostic}");
    assert!(!string(diagnostic, "message").is_empty(), "{diagnostic}");
    string(diagnostic, "file");
    let labels = array(diagnostic, "labels");
    assert_eq!(labels.iter().filter(|label| label["primary"] == true).count(), 1, "one primary label: {diagnostic}");
    for label in labels {
        assert!(label["primary"].is_boolean(), "{label}");
        string(label, "message");
        string(label, "file");
        for field in RANGE_FIELDS {
            number(label, field);
        }
    }
    assert_eq!(string(primary_label(diagnostic), "file"), string(diagnostic, "file"), "{diagnostic}");
    for note in array(diagnostic, "notes") {
        assert!(note.is_string(), "{diagnostic}");
    }
    assert!(diagnostic["help"].is_null() || diagnostic["help"].is_string(), "{diagnostic}");
    for suggestion in array(diagnostic, "suggestions") {
        string(suggestion, "message");
        string(suggestion, "file");
        string(suggestion, "replacement");
        let applicability = string(suggestion, "applicability");
        assert!(matches!(applicability, "machine-applicable" | "maybe-incorrect"), "{suggestion}");
        for field in RANGE_FIELDS {
            number(suggestion, field);
        }
    }
}

/// 1-based line and column (counted in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// Asserts that a label's or suggestion's range is a valid range of `text`
/// and that its lines and columns are those of its byte offsets.
fn assert_range(range: &Value, text: &str) {
    let (start, end) = (number(range, "byte_start"), number(range, "byte_end"));
    assert!(start <= end && end <= text.len(), "range out of the file ({} bytes): {range}", text.len());
    assert!(text.is_char_boundary(start) && text.is_char_boundary(end), "range splits a character: {range}");
    assert_eq!((number(range, "line_start"), number(range, "column_start")), line_column(text, start), "{range}");
    assert_eq!((number(range, "line_end"), number(range, "column_end")), line_column(text, end), "{range}");
}

/// The summary line for these counts.
fn summary(files: usize, errors: usize, warnings: usize) -> String {
    let s = |count: usize| if count == 1 { "" } else { "s" };
    format!("checked {files} file{}: {errors} error{}, {warnings} warning{}", s(files), s(errors), s(warnings))
}

/// Applies machine-applicable edits `(start, end, replacement)` to `source`,
/// from the end backwards; edits must not overlap.
fn apply_edits(source: &[u8], mut edits: Vec<(usize, usize, String)>) -> Vec<u8> {
    edits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    edits.dedup();
    for pair in edits.windows(2) {
        assert!(pair[1].1 <= pair[0].0, "overlapping machine-applicable edits: {pair:?}");
    }
    let mut out = source.to_vec();
    for (start, end, replacement) in edits {
        out.splice(start..end, replacement.bytes());
    }
    out
}

/// The machine-applicable suggestions of `diagnostics`, by file.
fn machine_edits(diagnostics: &[Value]) -> BTreeMap<String, Vec<(usize, usize, String)>> {
    let mut edits: BTreeMap<String, Vec<(usize, usize, String)>> = BTreeMap::new();
    for diagnostic in diagnostics {
        for suggestion in array(diagnostic, "suggestions") {
            if suggestion["applicability"] == "machine-applicable" {
                edits.entry(string(suggestion, "file").to_owned()).or_default().push((
                    number(suggestion, "byte_start"),
                    number(suggestion, "byte_end"),
                    string(suggestion, "replacement").to_owned(),
                ));
            }
        }
    }
    edits
}

// ---------------------------------------------------------------------------
// Sources used by several tests
// ---------------------------------------------------------------------------

/// Two errors: an unknown type (line 9) and an unknown field read inside a
/// string interpolation (line 18), after multi-byte characters on the same
/// line and on line 1.
const TWO_ERRORS: &str = r#"// Café ☕ orders — naïve
type Customer {
  email: String
}

type Order {
  id: Int
  email: String
  customer: Custmer
}

type Contact {
  external_id: String
  email: String
}

map to_contact(o: Order) -> Contact {
  external_id: "café ☕-{o.emial}"
  email: o.email
}
"#;

/// One warning (an unused parameter), no error.
const ONE_WARNING: &str = r#"type Order {
  id: Int
}

fn label(o: Order, unused: String) -> String = "order-{o.id}"
"#;

/// A file with one unknown type, named after `name`, for ordering tests.
fn unknown_type(name: &str) -> String {
    format!("type Holder {{\n  value: {name}\n}}\n")
}

// ---------------------------------------------------------------------------
// The examples
// ---------------------------------------------------------------------------

/// `.integ` files under `directory`, skipping hidden directories and `target`.
fn integ_files(directory: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).expect("directory can be read") {
        let entry = entry.expect("entry can be read");
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().expect("file type").is_dir() {
            if !name.starts_with('.') && name != "target" {
                integ_files(&entry.path(), found);
            }
        } else if name.ends_with(".integ") {
            found.push(entry.path());
        }
    }
}

/// Every user file checked for `directory`: its `.integ` files and,
/// transitively, the files they import (`std/...` modules are not user files).
fn user_files(directory: &Path) -> BTreeSet<PathBuf> {
    let mut pending = Vec::new();
    integ_files(directory, &mut pending);
    let mut seen = BTreeSet::new();
    while let Some(path) = pending.pop() {
        let path = path.canonicalize().expect("a checked file exists");
        if !seen.insert(path.clone()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("example is UTF-8");
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("import \"") else {
                continue;
            };
            let target = &rest[..rest.find('"').expect("import path is closed")];
            if !target.starts_with("std/") {
                pending.push(path.parent().expect("file has a directory").join(target));
            }
        }
    }
    seen
}

#[test]
fn examples_check_clean() {
    let files = user_files(&Path::new(ROOT).join("examples"));
    assert!(files.len() >= 3, "examples hold the three integrations: {files:?}");
    let run = integ(&["check", "examples/"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.last_line(), summary(files.len(), 0, 0));
    assert_eq!(run.stdout, format!("{}\n", summary(files.len(), 0, 0)), "nothing but the summary");
    assert_eq!(run.stderr, "");

    // Equivalent spellings of the same roots check the same files.
    let again = integ(&["check", "./examples", "examples/shop_to_crm/sync.integ", "--deny-warnings"]);
    assert_eq!((again.code, again.stdout.as_str()), (0, run.stdout.as_str()));

    // In JSON the summary goes to stderr and stdout stays empty.
    let json = integ(&["check", "--format", "json", "examples"]);
    assert_eq!(json.code, 0);
    assert_eq!(json.stdout, "");
    assert_eq!(json.stderr, format!("{}\n", summary(files.len(), 0, 0)));
}

// ---------------------------------------------------------------------------
// Errors, warnings and exit codes
// ---------------------------------------------------------------------------

#[test]
fn errors_are_all_printed_and_exit_1() {
    let dir = TempDir::new("errors");
    dir.write("orders.integ", TWO_ERRORS);
    let run = dir.run(&["check", "orders.integ"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.stderr, "");
    assert_eq!(
        headers(&run.stdout),
        ["error[E0200]: unknown type `Custmer`", "error[E0203]: `Order` has no field `emial`"]
    );
    // Columns count characters: `é` and `☕` come before `emial` on line 18.
    assert_eq!(locations(&run.stdout), ["orders.integ:9:13", "orders.integ:18:27"]);
    assert_eq!(run.last_line(), "checked 1 file: 2 errors, 0 warnings");
    insta::assert_snapshot!("two_errors_text", run.stdout);
}

#[test]
fn warnings_exit_0_unless_denied() {
    let dir = TempDir::new("warnings");
    dir.write("label.integ", ONE_WARNING);
    let run = dir.run(&["check", "label.integ"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(headers(&run.stdout), ["warning[W0002]: parameter `unused` is never used"]);
    assert_eq!(locations(&run.stdout), ["label.integ:5:20"]);
    assert_eq!(run.last_line(), "checked 1 file: 0 errors, 1 warning");
    assert_eq!(run.stderr, "");

    let denied = dir.run(&["check", "--deny-warnings", "label.integ"]);
    assert_eq!(denied.code, 1, "{denied:#?}");
    assert_eq!(denied.stdout, run.stdout, "--deny-warnings changes the exit code, not the output");

    let json = dir.run(&["check", "--format", "json", "--deny-warnings", "label.integ"]);
    assert_eq!(json.code, 1);
    assert_eq!(json.stderr, "checked 1 file: 0 errors, 1 warning\n");
    let diagnostics = json_lines(&json.stdout);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(
        (diagnostics[0]["code"].as_str(), diagnostics[0]["severity"].as_str()),
        (Some("W0002"), Some("warning"))
    );
}

#[test]
fn errors_and_warnings_are_counted_together() {
    let dir = TempDir::new("mixed");
    dir.write("a_label.integ", ONE_WARNING);
    dir.write("b_orders.integ", TWO_ERRORS);
    let run = dir.run(&["check", "."]);
    assert_eq!(run.code, 1);
    assert_eq!(locations(&run.stdout), ["a_label.integ:5:20", "b_orders.integ:9:13", "b_orders.integ:18:27"]);
    assert_eq!(run.last_line(), "checked 2 files: 2 errors, 1 warning");
}

#[test]
fn missing_path_exits_2() {
    let dir = TempDir::new("missing");
    let run = dir.run(&["check", "nowhere.integ"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.stdout, "", "nothing is checked");
    assert!(run.stderr.starts_with("error: cannot read `nowhere.integ`: "), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);

    // A missing path among good ones is still an error of the arguments.
    dir.write("good.integ", ONE_WARNING);
    let run = dir.run(&["check", "good.integ", "nowhere/"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.starts_with("error: cannot read `nowhere/`: "), "{}", run.stderr);
}

#[test]
fn directory_without_integ_files_exits_2() {
    let dir = TempDir::new("empty");
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let run = dir.run(&["check", "empty"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "error: no .integ files found in `empty`\n");

    // Files in skipped directories and files of other extensions do not count.
    dir.write("other/notes.txt", "type A { x: Int }\n");
    dir.write("other/old.integ.bak", "type A { x: Int }\n");
    dir.write("other/.hidden/a.integ", "type A { x: Int }\n");
    dir.write("other/target/a.integ", "type A { x: Int }\n");
    let run = dir.run(&["check", "empty", "other"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.stderr, "error: no .integ files found in `empty`, `other`\n");
}

#[cfg(unix)]
#[test]
fn unreadable_file_found_in_a_directory_exits_2_after_checking_the_rest() {
    let dir = TempDir::new("unreadable");
    dir.write("project/orders.integ", TWO_ERRORS);
    std::os::unix::fs::symlink("nowhere.integ", dir.path().join("project/dangling.integ")).unwrap();
    let run = dir.run(&["check", "project"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.stderr, "error: cannot read `project/dangling.integ`: no such file or directory\n");
    assert_eq!(locations(&run.stdout), ["project/orders.integ:9:13", "project/orders.integ:18:27"]);
    assert_eq!(run.last_line(), "checked 1 file: 2 errors, 0 warnings");
}

// ---------------------------------------------------------------------------
// Argument errors (clap)
// ---------------------------------------------------------------------------

#[test]
fn no_path_is_a_usage_error() {
    let run = integ(&["check"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "error: the following required arguments were not provided:\n  <PATH>...\n\n\
         Usage: integ check <PATH>...\n\nFor more information, try '--help'.\n"
    );
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let run = integ(&["check", "--frobnicate", "examples"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with("error: unexpected argument '--frobnicate' found\n"), "{}", run.stderr);
    assert!(run.stderr.contains("\nUsage: integ check "), "{}", run.stderr);

    for (flag, value, possible) in [
        ("--format", "xml", "[possible values: text, json]"),
        ("--color", "sometimes", "[possible values: auto, always, never]"),
    ] {
        let run = integ(&["check", flag, value, "examples"]);
        assert_eq!(run.code, 2, "{run:#?}");
        assert_eq!(run.stdout, "");
        assert!(run.stderr.starts_with(&format!("error: invalid value '{value}' for '{flag} <")), "{}", run.stderr);
        assert!(run.stderr.contains(possible), "{}", run.stderr);
    }

    let run = integ(&["frobnicate"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.starts_with("error: unrecognized subcommand 'frobnicate'"), "{}", run.stderr);

    let run = integ(&[]);
    assert_eq!(run.code, 2, "no subcommand: {run:#?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("Usage: integ [OPTIONS] <COMMAND>"), "{}", run.stderr);
}

#[test]
fn help_and_version() {
    let help = integ(&["--help"]);
    assert_eq!((help.code, help.stderr.as_str()), (0, ""));
    insta::assert_snapshot!("help", help.stdout);

    let check_help = integ(&["check", "--help"]);
    assert_eq!((check_help.code, check_help.stderr.as_str()), (0, ""));
    let flat = check_help.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "Exits 0 when there is no error, 1 when there is one (or a warning, with --deny-warnings), \
             2 when a file cannot be read or the arguments are wrong."
        ),
        "{}",
        check_help.stdout
    );
    insta::assert_snapshot!("check_help", check_help.stdout);

    assert_eq!(integ(&["help", "check"]).stdout, check_help.stdout);

    let version = integ(&["--version"]);
    assert_eq!(version.code, 0);
    assert_eq!(version.stdout, format!("integ {}\n", env!("CARGO_PKG_VERSION")));
}

// ---------------------------------------------------------------------------
// Directories and roots
// ---------------------------------------------------------------------------

#[test]
fn directories_are_searched_recursively_in_sorted_order() {
    let dir = TempDir::new("walk");
    // Written out of order, so that creation order cannot explain the output.
    dir.write("project/gamma.integ", unknown_type("Gamma"));
    dir.write("project/delta/x/y.integ", unknown_type("Delta"));
    dir.write("project/beta/two.integ", unknown_type("BetaTwo"));
    dir.write("project/beta/one.integ", unknown_type("BetaOne"));
    dir.write("project/alpha.integ", unknown_type("Alpha"));
    // Skipped: hidden directories (at any depth), `target`, other extensions.
    dir.write("project/.git/hidden.integ", unknown_type("Hidden"));
    dir.write("project/beta/.cache/hidden.integ", unknown_type("Hidden"));
    dir.write("project/target/built.integ", unknown_type("Built"));
    dir.write("project/notes.txt", unknown_type("Notes"));

    let run = dir.run(&["check", "project"]);
    assert_eq!(run.code, 1, "{run:#?}");
    let expected_headers: Vec<String> = ["Alpha", "BetaOne", "BetaTwo", "Delta", "Gamma"]
        .iter()
        .map(|name| format!("error[E0200]: unknown type `{name}`"))
        .collect();
    assert_eq!(headers(&run.stdout), expected_headers);
    assert_eq!(
        locations(&run.stdout),
        [
            "project/alpha.integ:2:10",
            "project/beta/one.integ:2:10",
            "project/beta/two.integ:2:10",
            "project/delta/x/y.integ:2:10",
            "project/gamma.integ:2:10",
        ]
    );
    assert_eq!(run.last_line(), "checked 5 files: 5 errors, 0 warnings");

    // Roots given separately are sorted too, and a path given twice is checked once.
    let run = dir.run(&["check", "project/gamma.integ", "project/beta", "project/alpha.integ", "project/gamma.integ"]);
    assert_eq!(
        locations(&run.stdout),
        [
            "project/alpha.integ:2:10",
            "project/beta/one.integ:2:10",
            "project/beta/two.integ:2:10",
            "project/gamma.integ:2:10",
        ]
    );
    assert_eq!(run.last_line(), "checked 4 files: 4 errors, 0 warnings");

    // A file named explicitly is checked even inside a skipped directory.
    let run = dir.run(&["check", "project/target/built.integ"]);
    assert_eq!(headers(&run.stdout), ["error[E0200]: unknown type `Built`"]);
}

#[test]
fn a_file_imported_by_another_root_is_reported_once() {
    let dir = TempDir::new("dedupe");
    dir.write("app/main.integ", "import \"./lib.integ\"\n\ntype Order {\n  id: Int\n  address: Address\n}\n");
    dir.write("app/lib.integ", "type Address {\n  line1: Strin\n}\n");

    // Both files are roots; the error in lib.integ is seen from both.
    let run = dir.run(&["check", "app"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(headers(&run.stdout), ["error[E0200]: unknown type `Strin`"]);
    assert_eq!(locations(&run.stdout), ["app/lib.integ:2:10"]);
    assert_eq!(run.last_line(), "checked 2 files: 1 error, 0 warnings");

    let json = dir.run(&["check", "--format", "json", "app/main.integ", "app/lib.integ"]);
    assert_eq!(json.code, 1);
    assert_eq!(json_lines(&json.stdout).len(), 1, "{}", json.stdout);
    assert_eq!(json.stderr, "checked 2 files: 1 error, 0 warnings\n");

    // The importing file alone still counts (and reports) the imported one.
    let run = dir.run(&["check", "app/main.integ"]);
    assert_eq!(locations(&run.stdout), ["app/lib.integ:2:10"]);
    assert_eq!(run.last_line(), "checked 2 files: 1 error, 0 warnings");
}

// ---------------------------------------------------------------------------
// Files that are not UTF-8
// ---------------------------------------------------------------------------

/// Line 3 has `é` (two bytes) before a Latin-1 `é` (0xE9), the first invalid byte.
const LATIN1: &[u8] =
    b"// caf\xc3\xa9 \xe2\x98\x95\ntype Product {\n  name: String @wire(\"nom du caf\xc3\xa9 \xe9\")\n}\n";

#[test]
fn invalid_utf8_is_e0108_at_the_first_bad_byte() {
    let dir = TempDir::new("latin1");
    dir.write("latin1.integ", LATIN1);
    let valid_up_to = String::from_utf8(LATIN1.to_vec()).unwrap_err().utf8_error().valid_up_to();
    let prefix = std::str::from_utf8(&LATIN1[..valid_up_to]).unwrap();
    assert_eq!(line_column(prefix, valid_up_to), (3, 35), "the test's own arithmetic");

    let run = dir.run(&["check", "latin1.integ"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(headers(&run.stdout), ["error[E0108]: `latin1.integ` is not valid UTF-8"]);
    assert_eq!(locations(&run.stdout), ["latin1.integ:3:35"]);
    assert!(run.stdout.contains("the first invalid byte is here"), "{}", run.stdout);
    assert_eq!(run.last_line(), "checked 1 file: 1 error, 0 warnings");

    let json = dir.run(&["check", "--format", "json", "latin1.integ"]);
    assert_eq!(json.code, 1);
    let diagnostics = json_lines(&json.stdout);
    assert_eq!(diagnostics.len(), 1);
    assert_schema(&diagnostics[0]);
    assert_eq!(diagnostics[0]["code"], "E0108");
    let label = primary_label(&diagnostics[0]);
    assert_eq!(number(label, "byte_start"), valid_up_to);
    assert_eq!(number(label, "byte_end"), valid_up_to + 1, "the one invalid byte");
    assert_eq!((number(label, "line_start"), number(label, "column_start")), (3, 35));
    assert_eq!(number(label, "line_end"), 3);
}

#[test]
fn invalid_utf8_in_an_import_is_reported_once_with_the_import() {
    let run = integ(&["check", "tests/fixtures/syntax/invalid_utf8_import"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        headers(&run.stdout),
        ["error[E0108]: `tests/fixtures/syntax/invalid_utf8_import/legacy.integ` is not valid UTF-8"]
    );
    assert_eq!(locations(&run.stdout)[0], "tests/fixtures/syntax/invalid_utf8_import/legacy.integ:3:33");
    assert_eq!(run.last_line(), "checked 2 files: 1 error, 0 warnings");
}

// ---------------------------------------------------------------------------
// JSON output
// ---------------------------------------------------------------------------

#[test]
fn json_is_one_object_per_diagnostic_with_exact_ranges() {
    let dir = TempDir::new("json");
    dir.write("orders.integ", TWO_ERRORS);
    let run = dir.run(&["check", "--format", "json", "orders.integ"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.stderr, "checked 1 file: 2 errors, 0 warnings\n", "the summary goes to stderr");
    assert!(!run.stdout.contains("checked"), "no summary on stdout: {}", run.stdout);
    assert!(run.stdout.ends_with('\n'));
    let diagnostics = json_lines(&run.stdout);
    assert_eq!(diagnostics.len(), 2, "{}", run.stdout);

    for diagnostic in &diagnostics {
        assert_schema(diagnostic);
        assert_eq!(diagnostic["file"], "orders.integ");
        for item in array(diagnostic, "labels").iter().chain(array(diagnostic, "suggestions")) {
            assert_eq!(item["file"], "orders.integ");
            assert_range(item, TWO_ERRORS);
        }
    }

    let unknown_type = &diagnostics[0];
    assert_eq!(unknown_type["code"], "E0200");
    assert_eq!(unknown_type["severity"], "error");
    assert_eq!(unknown_type["message"], "unknown type `Custmer`");
    assert_eq!(unknown_type["help"], "did you mean `Customer`?");
    assert_eq!(unknown_type["notes"], serde_json::json!([]));
    let label = primary_label(unknown_type);
    assert_eq!(label["message"], "no type of this name");
    assert_eq!(&TWO_ERRORS[number(label, "byte_start")..number(label, "byte_end")], "Custmer");
    let position: Vec<usize> = RANGE_FIELDS[2..].iter().map(|field| number(label, field)).collect();
    assert_eq!(position, [9, 13, 9, 20]);
    let suggestions = array(unknown_type, "suggestions");
    assert_eq!(suggestions.len(), 1);
    assert_eq!(suggestions[0]["replacement"], "Customer");
    assert_eq!(suggestions[0]["applicability"], "maybe-incorrect");
    assert_eq!(&TWO_ERRORS[number(&suggestions[0], "byte_start")..number(&suggestions[0], "byte_end")], "Custmer");

    let unknown_field = &diagnostics[1];
    assert_eq!(unknown_field["code"], "E0203");
    assert_eq!(unknown_field["message"], "`Order` has no field `emial`");
    let label = primary_label(unknown_field);
    let start = number(label, "byte_start");
    assert_eq!(&TWO_ERRORS[start..number(label, "byte_end")], "emial");
    let position: Vec<usize> = RANGE_FIELDS[2..].iter().map(|field| number(label, field)).collect();
    assert_eq!(position, [18, 27, 18, 32], "columns count characters, not bytes");
    let line_start = TWO_ERRORS[..start].rfind('\n').unwrap() + 1;
    assert_eq!(start - line_start + 1, 30, "in bytes it would be column 30");
    // The secondary label points at the declaration of `Order`.
    let secondary: Vec<&Value> =
        array(unknown_field, "labels").iter().filter(|label| label["primary"] == false).collect();
    assert_eq!(secondary.len(), 1);
    assert_eq!(secondary[0]["message"], "`Order` is declared here");
    assert_eq!(&TWO_ERRORS[number(secondary[0], "byte_start")..number(secondary[0], "byte_end")], "Order");
    assert_eq!((number(secondary[0], "line_start"), number(secondary[0], "column_start")), (6, 6));
}

/// Every diagnostic of every fixture follows the schema, its ranges index
/// its files exactly, the output has no duplicate, and the summary agrees.
#[test]
fn json_ranges_are_exact_for_every_fixture() {
    let run = integ(&["check", "--format", "json", "tests/fixtures"]);
    assert_eq!(run.code, 1);
    let diagnostics = json_lines(&run.stdout);
    assert!(diagnostics.len() > 100, "the fixtures have many diagnostics");
    let distinct: BTreeSet<&str> = run.stdout.lines().collect();
    assert_eq!(distinct.len(), diagnostics.len(), "no diagnostic is printed twice");

    let mut texts: HashMap<String, Result<String, usize>> = HashMap::new();
    for diagnostic in &diagnostics {
        assert_schema(diagnostic);
        let items = array(diagnostic, "labels").iter().chain(array(diagnostic, "suggestions"));
        for item in items {
            let file = string(item, "file").to_owned();
            let text = texts.entry(file.clone()).or_insert_with(|| {
                let bytes = std::fs::read(Path::new(ROOT).join(&file)).expect("diagnostics name readable files");
                String::from_utf8(bytes).map_err(|error| error.utf8_error().valid_up_to())
            });
            match text {
                Ok(text) => assert_range(item, text),
                Err(valid_up_to) => {
                    // Only the first invalid byte is reported in a file that is not UTF-8.
                    assert_eq!(diagnostic["code"], "E0108", "{diagnostic}");
                    assert_eq!(number(item, "byte_start"), *valid_up_to, "{diagnostic}");
                }
            }
        }
    }

    let errors = diagnostics.iter().filter(|diagnostic| diagnostic["severity"] == "error").count();
    let warnings = diagnostics.len() - errors;
    let files = {
        let mut found = Vec::new();
        integ_files(&Path::new(ROOT).join("tests/fixtures"), &mut found);
        found.len()
    };
    assert_eq!(run.stderr, format!("{}\n", summary(files, errors, warnings)));
}

// ---------------------------------------------------------------------------
// Colour
// ---------------------------------------------------------------------------

#[test]
fn colour_follows_the_flag_and_no_color() {
    let dir = TempDir::new("colour");
    dir.write("orders.integ", TWO_ERRORS);
    let never = dir.run(&["check", "--color", "never", "orders.integ"]);
    assert_eq!(never.code, 1);
    assert!(!has_ansi(&never.stdout), "{}", never.stdout);

    let always = dir.run(&["check", "--color", "always", "orders.integ"]);
    assert_eq!(always.code, 1);
    assert!(always.stdout.contains("\u{1b}["), "--color always colours: {}", always.stdout);
    assert_eq!(strip_ansi(&always.stdout), never.stdout, "colour adds escapes and nothing else");

    // Under the test stdout is a pipe, not a terminal: no colour by default.
    let default = dir.run(&["check", "orders.integ"]);
    assert!(!has_ansi(&default.stdout), "{}", default.stdout);
    assert_eq!(default.stdout, never.stdout);

    let no_color = run_in(dir.path(), &["check", "--color", "auto", "orders.integ"], &[("NO_COLOR", "1")]);
    assert_eq!(no_color.code, 1);
    assert_eq!(no_color.stdout, never.stdout);

    // JSON is never coloured.
    let json = dir.run(&["check", "--format", "json", "--color", "always", "orders.integ"]);
    assert!(!has_ansi(&json.stdout) && !has_ansi(&json.stderr), "{json:#?}");
}

// ---------------------------------------------------------------------------
// explain
// ---------------------------------------------------------------------------

fn explanation_files() -> BTreeMap<String, String> {
    let directory = Path::new(ROOT).join("compiler/src/diagnostic/explain");
    std::fs::read_dir(&directory)
        .expect("explanations directory")
        .map(|entry| entry.expect("entry").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            let code = name.strip_suffix(".md")?;
            (code.starts_with("E0") || code.starts_with("W0"))
                .then(|| (code.to_owned(), std::fs::read_to_string(&path).expect("explanation is UTF-8")))
        })
        .collect()
}

#[test]
fn explain_prints_the_explanation() {
    let files = explanation_files();
    let run = integ(&["explain", "E0509"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stderr, "");
    assert!(run.stdout.starts_with("# E0509"), "{}", run.stdout);
    assert_eq!(run.stdout, files["E0509"], "the explanation file, verbatim");

    let lowercase = integ(&["explain", "e0509"]);
    assert_eq!((lowercase.code, lowercase.stdout.as_str()), (0, run.stdout.as_str()));

    let warning = integ(&["explain", "W0002"]);
    assert_eq!(warning.code, 0);
    assert!(warning.stdout.starts_with("# W0002"), "{}", warning.stdout);
}

#[test]
fn explain_list_lists_every_code() {
    let files = explanation_files();
    let run = integ(&["explain", "list"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), files.len(), "one line per explanation file");
    let codes: Vec<&str> = lines.iter().map(|line| line.split_whitespace().next().unwrap()).collect();
    let expected: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(codes, expected, "every code, in order");
    for line in &lines {
        let (code, rest) = line.split_once(' ').unwrap();
        let (severity, title) = rest.trim_start().split_once(' ').unwrap();
        assert_eq!(severity, if code.starts_with('E') { "error" } else { "warning" }, "{line}");
        // The title is the heading of the explanation.
        let heading = files[code].lines().next().unwrap();
        assert_eq!(heading, format!("# {code}: {}", title.trim_start()), "{line}");
    }
    assert_eq!(integ(&["explain", "LIST"]).stdout, run.stdout);
}

#[test]
fn explain_unknown_code_exits_2_with_a_hint() {
    let run = integ(&["explain", "E9999"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "error: no diagnostic code `E9999`\nhelp: `integ explain list` prints every code\n");

    let short = integ(&["explain", "509"]);
    assert_eq!(short.code, 2);
    assert_eq!(
        short.stderr,
        "error: no diagnostic code `509`\nhelp: did you mean E0509?\nhelp: `integ explain list` prints every code\n"
    );

    let missing = integ(&["explain"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("<CODE>"), "{}", missing.stderr);
}

// ---------------------------------------------------------------------------
// Machine-applicable suggestions
// ---------------------------------------------------------------------------

/// Checks `fixture` (under tests/fixtures/) in a copy, applies every
/// machine-applicable suggestion, and returns the fixed source.
fn fix_fixture(fixture: &str, code: &str) -> String {
    let dir = TempDir::new("fix");
    let source = std::fs::read(Path::new(ROOT).join("tests/fixtures").join(fixture)).unwrap();
    dir.write("broken.integ", &source);
    let before = dir.run(&["check", "--format", "json", "broken.integ"]);
    assert_eq!(before.code, 1, "{before:#?}");
    let diagnostics = json_lines(&before.stdout);
    assert!(diagnostics.iter().any(|diagnostic| diagnostic["code"] == code), "{fixture} reports {code}");
    let edits = machine_edits(&diagnostics);
    assert_eq!(edits.keys().collect::<Vec<_>>(), ["broken.integ"], "{fixture}");
    let fixed = apply_edits(&source, edits["broken.integ"].clone());
    dir.write("broken.integ", &fixed);

    let after = dir.run(&["check", "--format", "json", "broken.integ"]);
    let remaining = json_lines(&after.stdout);
    assert!(!remaining.iter().any(|diagnostic| diagnostic["code"] == code), "{fixture}: {}", after.stdout);
    assert_eq!(after.code, 0, "{fixture} is accepted once fixed: {after:#?}");
    assert_eq!(after.stdout, "");
    assert_eq!(String::from_utf8(dir.read("broken.integ")).unwrap().as_bytes(), fixed.as_slice());
    String::from_utf8(fixed).unwrap()
}

#[test]
fn machine_applicable_suggestions_fix_the_file() {
    // E0103: `=` where `:` is expected.
    let fixed = fix_fixture("syntax/equals_for_colon_map_field.integ", "E0103");
    let line = fixed.lines().find(|line| line.contains("o.email")).unwrap();
    assert_eq!(line.replace(' ', ""), "email:o.email", "{fixed}");
    let fixed = fix_fixture("syntax/equals_for_colon_policy.integ", "E0103");
    assert!(!fixed.lines().filter(|line| !line.starts_with("//")).any(|line| line.contains(" = ")), "{fixed}");

    // E0104: a stray comma.
    let fixed = fix_fixture("syntax/stray_comma.integ", "E0104");
    assert!(fixed.contains("enum OrderStatus { paid, pending, refunded }"), "{fixed}");

    // E0502: lowercase methods (two in one file).
    let fixed = fix_fixture("apis/lowercase_method.integ", "E0502");
    assert!(fixed.contains("    GET \"/bins\"\n") && fixed.contains("    DELETE \"/bins/{code}\"\n"), "{fixed}");

    // E0107: a `#` comment and single quotes.
    let fixed = fix_fixture("syntax/hash_comment.integ", "E0107");
    assert!(!fixed.lines().any(|line| line.trim_start().starts_with('#')), "{fixed}");
    fix_fixture("syntax/single_quoted_string.integ", "E0107");
}

/// Over every fixture at once: applying all machine-applicable suggestions
/// removes exactly the diagnostics that carried them and adds none.
#[test]
fn machine_applicable_suggestions_remove_only_their_diagnostics() {
    let dir = TempDir::new("fix-all");
    copy_tree(&Path::new(ROOT).join("tests/fixtures"), &dir.path().join("fixtures"));
    let before = json_lines(&dir.run(&["check", "--format", "json", "fixtures"]).stdout);

    let key = |diagnostic: &Value| {
        (
            string(diagnostic, "file").to_owned(),
            string(diagnostic, "code").to_owned(),
            string(diagnostic, "message").to_owned(),
        )
    };
    let mut expected: Vec<_> = before
        .iter()
        .filter(|diagnostic| {
            !array(diagnostic, "suggestions").iter().any(|s| s["applicability"] == "machine-applicable")
        })
        .map(key)
        .collect();
    expected.sort();

    let edits = machine_edits(&before);
    assert!(edits.len() >= 10, "many fixtures have machine-applicable fixes: {:?}", edits.keys());
    for (file, edits) in edits {
        let fixed = apply_edits(&dir.read(&file), edits);
        dir.write(&file, fixed);
    }

    let after = json_lines(&dir.run(&["check", "--format", "json", "fixtures"]).stdout);
    let mut actual: Vec<_> = after.iter().map(key).collect();
    actual.sort();
    assert_eq!(actual, expected);
}

// ---------------------------------------------------------------------------
// Arbitrary input
// ---------------------------------------------------------------------------

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "type ", "Order", " {", "}", "\n", "  id: Int\n", "  name: String?", "enum S { a, b }", "map m(o: Order) -> Order {",
            "o.", "emial", "\"", "\"é☕{o.id}\"", "=", ":", ",", ",,", "//", "# ", "get ", "POST ", "\"/x\"", "(", ")",
            "[", "]", "api A {", "flow f {", "policy p {", "import \"./nowhere.integ\"\n", "import \"std/hash\"\n",
            "@wire(\"x\")", "10s", "5 attempts", "'", "\t", "\r\n", "ü", "𝄞",
        ])
        .prop_map(|token| token.as_bytes().to_vec()),
        2 => "\\PC{1,3}".prop_map(String::into_bytes),
        1 => prop::sample::select(vec![vec![0xff], vec![0xe9], vec![0xc3], vec![0xe2, 0x98]]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x1e7e_9c11),
        ..ProptestConfig::default()
    })]

    /// Whatever the file holds, `integ check --format json` exits 0 or 1,
    /// agrees with its summary, and every range is exact.
    #[test]
    fn arbitrary_files_get_consistent_json(parts in prop::collection::vec(fragment(), 0..50)) {
        let source: Vec<u8> = parts.concat();
        let dir = TempDir::new("arbitrary");
        dir.write("input.integ", &source);
        let run = dir.run(&["check", "--format", "json", "input.integ"]);
        let diagnostics = json_lines(&run.stdout);
        let errors = diagnostics.iter().filter(|diagnostic| diagnostic["severity"] == "error").count();
        prop_assert_eq!(run.code, if errors > 0 { 1 } else { 0 }, "{:#?}", run);
        prop_assert_eq!(&run.stderr, &format!("{}\n", summary(1, errors, diagnostics.len() - errors)));
        match std::str::from_utf8(&source) {
            Ok(text) => {
                for diagnostic in &diagnostics {
                    assert_schema(diagnostic);
                    prop_assert_eq!(diagnostic["file"].as_str(), Some("input.integ"));
                    for item in array(diagnostic, "labels").iter().chain(array(diagnostic, "suggestions")) {
                        assert_range(item, text);
                    }
                }
            }
            Err(error) => {
                prop_assert_eq!(diagnostics.len(), 1, "{}", run.stdout);
                prop_assert_eq!(diagnostics[0]["code"].as_str(), Some("E0108"));
                let label = primary_label(&diagnostics[0]);
                let valid_up_to = error.valid_up_to();
                let prefix = std::str::from_utf8(&source[..valid_up_to]).unwrap();
                prop_assert_eq!(number(label, "byte_start"), valid_up_to);
                prop_assert_eq!(
                    (number(label, "line_start"), number(label, "column_start")),
                    line_column(prefix, valid_up_to)
                );
            }
        }
    }
}
