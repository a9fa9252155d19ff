//! `integ test [PATH...]`: runs the `test` blocks of `.integ` files (§ 13 of spec.md).
//!
//! In: files and directories (searched like `integ check`), `--filter` and
//! `--junit`. Out: one line per test (`ok` or `FAILED`), then each failure
//! with its source location, a code frame and the values it compared (a line
//! diff for `expect a == b`), then a summary with counts and time — the
//! shape of `cargo test`'s output. A program with errors gets its
//! diagnostics instead, and none of its tests run.
//!
//! Each file's tests are those it declares (not those of the files it
//! imports); fixtures are read relative to the file's directory. Tests run
//! one after the other, each isolated (`integ_compiler::interp::test`).
//!
//! Exit status: 0 every test passed; 1 a test failed or a program has
//! errors; 2 bad arguments, an unreadable file or a JUnit file that cannot
//! be written.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term::{self, termcolor};
use integ_compiler::diagnostic::{Tally, render};
use integ_compiler::interp::test::{Detail, Failure, TestConfig, TestResult, run_test};
use integ_compiler::ir;
use integ_compiler::program::LoadError;
use integ_compiler::source::SourceMap;

use crate::Colour;
use crate::files::{FsLoader, collect};

#[derive(Args)]
pub struct TestArgs {
    /// Files or directories (searched recursively for `*.integ`); the current directory by default.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Run only the tests whose description contains this text.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Also write the results as JUnit XML to this file, for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// When to colour text output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Colour,
}

/// The tests of one file, run.
struct FileResults {
    file: String,
    results: Vec<TestResult>,
}

pub fn run(args: &TestArgs) -> ExitCode {
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let roots = match collect(&paths) {
        Ok(roots) => roots,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    if roots.is_empty() {
        let shown: Vec<String> = paths.iter().map(|path| format!("`{}`", path.display())).collect();
        eprintln!("error: no .integ files found in {}", shown.join(", "));
        return ExitCode::from(2);
    }
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
        }
    };
    let started = Instant::now();
    let mut stdout = std::io::stdout().lock();
    let mut unreadable = false;
    let mut program_errors = 0usize;
    let mut filtered_out = 0usize;
    let mut files: Vec<FileResults> = Vec::new();
    let mut failures_text = String::new();
    let mut failed_names: Vec<String> = Vec::new();
    for root in &roots {
        let analysis = match integ_compiler::analyze(root, &mut FsLoader) {
            Ok(analysis) => analysis,
            Err(LoadError::NotFound) => {
                eprintln!("error: cannot read `{root}`: no such file or directory");
                unreadable = true;
                continue;
            }
            Err(error) => {
                eprintln!("error: cannot read `{root}`: {error}");
                unreadable = true;
                continue;
            }
        };
        let tally = Tally::of(analysis.diagnostics());
        if tally.errors > 0 {
            let errors: Vec<_> =
                analysis.diagnostics().iter().filter(|diagnostic| diagnostic.is_error()).cloned().collect();
            let _ = stdout.write_all(render::render(analysis.sources(), &errors, colour).as_bytes());
            let _ = writeln!(
                stdout,
                "error: `{root}` has {} error{}: its tests do not run\n",
                tally.errors,
                plural(tally.errors)
            );
            program_errors += 1;
            continue;
        }
        let mut lowered = ir::lower::lower_with_tests(&analysis.program, &analysis.checked, analysis.program.root);
        let total = lowered.tests.len();
        if let Some(filter) = &args.filter {
            lowered.tests.retain(|test| test.name.contains(filter.as_str()));
        }
        filtered_out += total - lowered.tests.len();
        if lowered.tests.is_empty() {
            continue;
        }
        let program = Arc::new(lowered);
        let directory = Path::new(root).parent().map(Path::to_path_buf).unwrap_or_default();
        let config = TestConfig { fixtures: Arc::new(move |path: &str| read_fixture(&directory, path)) };
        let count = program.tests.len();
        let _ = writeln!(stdout, "\nrunning {count} test{} from {root}", plural(count));
        let mut results = Vec::new();
        for index in 0..count {
            let result = run_test(&program, index, &config);
            let status = if result.passed() { green("ok", colour) } else { red("FAILED", colour) };
            let _ = writeln!(stdout, "test {} ... {status}", result.name);
            let _ = stdout.flush();
            if !result.passed() {
                failed_names.push(format!("{root}: {}", result.name));
                failures_text.push_str(&describe_failures(analysis.sources(), &result, colour));
            }
            results.push(result);
        }
        files.push(FileResults { file: root.clone(), results });
    }
    let passed: usize = files.iter().flat_map(|file| &file.results).filter(|result| result.passed()).count();
    let failed: usize = files.iter().flat_map(|file| &file.results).filter(|result| !result.passed()).count();
    if !failures_text.is_empty() {
        let _ = write!(stdout, "\nfailures:\n{failures_text}\nfailures:\n");
        for name in &failed_names {
            let _ = writeln!(stdout, "    {name}");
        }
    }
    let ok = failed == 0 && program_errors == 0 && !unreadable;
    let verdict = if ok { green("ok", colour) } else { red("FAILED", colour) };
    let mut summary = format!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; {filtered_out} filtered out; finished in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    if program_errors > 0 {
        let _ = write!(summary, "\n{program_errors} file{} with errors", plural(program_errors));
    }
    let _ = writeln!(stdout, "{summary}");
    if let Some(path) = &args.junit
        && let Err(error) = std::fs::write(path, junit(&files))
    {
        eprintln!("error: cannot write `{}`: {}", path.display(), crate::files::describe(&error));
        return ExitCode::from(2);
    }
    if unreadable {
        ExitCode::from(2)
    } else if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Reads `path` relative to the test file's directory.
fn read_fixture(directory: &Path, path: &str) -> Result<Vec<u8>, String> {
    let full = directory.join(path);
    std::fs::read(&full)
        .map_err(|error| format!("cannot read `{}`: {}", full.display(), crate::files::describe(&error)))
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn green(text: &str, colour: bool) -> String {
    if colour { format!("\x1b[32m{text}\x1b[0m") } else { text.to_owned() }
}

fn red(text: &str, colour: bool) -> String {
    if colour { format!("\x1b[31m{text}\x1b[0m") } else { text.to_owned() }
}

/// A failed test's report: each failure with its code frame and values.
fn describe_failures(sources: &SourceMap, result: &TestResult, colour: bool) -> String {
    let mut text = format!("\n---- {} ----\n", result.name);
    for failure in &result.failures {
        text.push_str(&frame(sources, failure, colour));
        text.push_str(&detail(&failure.detail));
    }
    text
}

/// The failure's message and the source around it, as diagnostics show it.
fn frame(sources: &SourceMap, failure: &Failure, colour: bool) -> String {
    let label = cs::Label::primary(failure.span.file, failure.span.range()).with_message("failed here");
    let diagnostic = cs::Diagnostic::error().with_message(failure.message.clone()).with_labels(vec![label]);
    let mut buffer = if colour { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
    if term::emit_to_write_style(&mut buffer, &term::Config::default(), sources, &diagnostic).is_err() {
        return format!("error: {}\n  at {}\n", failure.message, failure.location);
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

fn detail(detail: &Detail) -> String {
    match detail {
        Detail::None => String::new(),
        Detail::Diff { left_text, left, right_text, right } => {
            let mut text = format!("  left:  {left_text}\n  right: {right_text}\n  diff (- left, + right):\n");
            let diff = similar::TextDiff::from_lines(left.as_str(), right.as_str());
            for change in diff.iter_all_changes() {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                let line = change.value();
                let _ = writeln!(text, "  {sign} {}", line.strip_suffix('\n').unwrap_or(line));
            }
            text
        }
        Detail::Operands { op, left_text, left, right_text, right } => {
            format!("  left ({left_text}):\n{}\n  is not {op} right ({right_text}):\n{}\n", indent(left), indent(right))
        }
        Detail::Values(values) => {
            let mut text = String::new();
            for (name, value) in values {
                let _ = writeln!(text, "  {name} =\n{}", indent(value));
            }
            text
        }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}")).collect::<Vec<_>>().join("\n")
}

/// JUnit XML: one `testsuite` per file, one `testcase` per test, a
/// `failure` per failed test with every failure's message and place.
fn junit(files: &[FileResults]) -> String {
    use quick_xml::escape::escape;
    let seconds = |duration: Duration| format!("{:.3}", duration.as_secs_f64());
    let all: Vec<&TestResult> = files.iter().flat_map(|file| &file.results).collect();
    let failures = all.iter().filter(|result| !result.passed()).count();
    let total_time: Duration = all.iter().map(|result| result.duration).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"integ test\" tests=\"{}\" failures=\"{failures}\" time=\"{}\">",
        all.len(),
        seconds(total_time)
    );
    for file in files {
        let failed = file.results.iter().filter(|result| !result.passed()).count();
        let time: Duration = file.results.iter().map(|result| result.duration).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" time=\"{}\">",
            escape(file.file.as_str()),
            file.results.len(),
            seconds(time)
        );
        for result in &file.results {
            let _ = write!(
                xml,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{}\"",
                escape(result.name.as_str()),
                escape(file.file.as_str()),
                escape(file.file.as_str()),
                result.location.line,
                seconds(result.duration)
            );
            match result.failures.first() {
                None => xml.push_str("/>\n"),
                Some(first) => {
                    let body: Vec<String> = result
                        .failures
                        .iter()
                        .map(|failure| {
                            format!("{}: {}\n{}", failure.location, failure.message, detail(&failure.detail))
                        })
                        .collect();
                    let _ = write!(
                        xml,
                        ">\n      <failure message=\"{}\" type=\"test failure\">{}</failure>\n    </testcase>\n",
                        escape(format!("{}: {}", first.location, first.message).as_str()),
                        escape(body.join("\n").as_str())
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}
