//! End-to-end tests of `integ test` (§ 13 of spec.md): the binary runs the
//! programs of `tests/test_command/` as a user would, and its exit code and
//! output are checked. `passing.integ` exercises every kind of `given`
//! response, scripts, OAuth2 tokens, paging, states and `calls(...)`;
//! `failing.integ` fails in every way a test can (its report is
//! snapshotted); `retries.integ` waits hours on the virtual clock;
//! `paging.integ` cuts stand-in streams with `returns e per page N`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_integ");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The outcome of one run of `integ`.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn programs() -> PathBuf {
    Path::new(ROOT).join("tests/test_command")
}

/// Runs `integ` in `dir`, without colour, and kills it after `limit`: a
/// test that really waited out its retries would hit the limit.
fn run_in(dir: &Path, args: &[&str], limit: Duration) -> Run {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for variable in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "COLUMNS", "TERM"] {
        command.env_remove(variable);
    }
    let mut child = command.spawn().expect("the integ binary starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("integ can be waited for").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("`integ {}` took longer than {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("integ's output can be read");
    Run {
        code: output.status.code().expect("integ exits with a code, not a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

fn integ_test(args: &[&str]) -> Run {
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    run_in(&programs(), &all, Duration::from_secs(120))
}

/// The output with the times that change from run to run replaced.
fn redact(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.find("finished in ") {
            Some(at) => out.push_str(&format!("{}finished in [time]", &line[..at])),
            None => out.push_str(&redact_times(line)),
        }
        out.push('\n');
    }
    out
}

/// `time="0.123"` → `time="[time]"`.
fn redact_times(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("time=\"") {
        let (before, after) = rest.split_at(at + 6);
        out.push_str(before);
        let end = after.find('"').unwrap_or(after.len());
        out.push_str("[time]");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn every_test_of_the_passing_program_passes() {
    let run = integ_test(&["passing.integ"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("running 12 tests from passing.integ"), "{}", run.stdout);
    assert_eq!(run.stdout.matches(" ... ok").count(), 12, "{}", run.stdout);
    assert!(!run.stdout.contains("FAILED"), "{}", run.stdout);
    assert!(run.stdout.contains("test result: ok. 12 passed; 0 failed; 0 filtered out"), "{}", run.stdout);
    assert!(run.stderr.is_empty(), "log lines are hidden by default: {}", run.stderr);
}

#[test]
fn failures_show_their_place_and_values() {
    let run = integ_test(&["failing.integ"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    insta::assert_snapshot!("failing_output", redact(&run.stdout));
}

#[test]
fn hours_of_waiting_take_no_real_time() {
    // Retry-After 1h, a timeout of 1h, a backoff of 1h: the guard is a minute.
    let run = run_in(&programs(), &["test", "retries.integ"], Duration::from_secs(60));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("test result: ok. 1 passed"), "{}", run.stdout);
}

#[test]
fn filter_selects_tests_by_description() {
    let run = integ_test(&["failing.integ", "--filter", "diff"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("running 1 test from failing.integ"), "{}", run.stdout);
    assert!(run.stdout.contains("0 passed; 1 failed; 7 filtered out"), "{}", run.stdout);
    let run = integ_test(&["passing.integ", "failing.integ", "--filter", "a map is checked"]);
    assert_eq!(run.code, 0, "the failing tests are filtered out: {}", run.stdout);
    assert!(run.stdout.contains("1 passed; 0 failed; 19 filtered out"), "{}", run.stdout);
    assert!(!run.stdout.contains("failing.integ"), "a file without selected tests is not listed: {}", run.stdout);
}

#[test]
fn junit_xml_is_written() {
    let directory = std::env::temp_dir().join(format!("integ-test-junit-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join("results.xml");
    let file_text = file.to_string_lossy().into_owned();
    let run = integ_test(&["failing.integ", "--filter", "a", "--junit", &file_text]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let xml = std::fs::read_to_string(&file).expect("the JUnit file is written");
    std::fs::remove_dir_all(&directory).ok();
    assert!(xml.starts_with("<?xml"), "{xml}");
    insta::assert_snapshot!("junit", redact(&xml));
}

#[test]
fn a_program_with_errors_runs_no_test() {
    let run = integ_test(&["broken.integ", "passing.integ"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("error[E0201]: unknown name `undefined_name`"), "{}", run.stdout);
    assert!(run.stdout.contains("`broken.integ` has 1 error: its tests do not run"), "{}", run.stdout);
    assert!(!run.stdout.contains("never runs"), "{}", run.stdout);
    assert!(run.stdout.contains("12 passed; 0 failed"), "the other file's tests still run: {}", run.stdout);
    assert!(run.stdout.contains("1 file with errors"), "{}", run.stdout);
}

#[test]
fn exit_codes() {
    let run = integ_test(&["empty.integ"]);
    assert_eq!((run.code, run.stdout.contains("0 passed; 0 failed")), (0, true), "{run:?}");
    let run = integ_test(&["no_such_file.integ"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot read `no_such_file.integ`"), "{}", run.stderr);
    let run = integ_test(&["--no-such-option"]);
    assert_eq!(run.code, 2, "{run:?}");
    let run = run_in(&programs().join("fixtures"), &["test"], Duration::from_secs(60));
    assert_eq!(run.code, 2, "a directory without .integ files: {run:?}");
    assert!(run.stderr.contains("no .integ files found"), "{}", run.stderr);
}

/// Runs the tests of `paging.integ` whose description contains `filter`, with
/// the stand-ins' debug log, and counts the requests each path received.
fn page_requests(filter: &str) -> Vec<(String, usize)> {
    let run = integ_test(&["paging.integ", "--filter", filter, "--log-level", "debug", "--log-format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("1 passed; 0 failed"), "`{filter}` selects one passing test: {}", run.stdout);
    let mut counts: Vec<(String, usize)> = Vec::new();
    for line in run.stderr.lines().filter(|line| line.contains(r#""message":"stand-in request""#)) {
        let path = line.split(r#""path":""#).nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("?");
        match counts.iter_mut().find(|(known, _)| known == path) {
            Some((_, count)) => *count += 1,
            None => counts.push((path.to_owned(), 1)),
        }
    }
    counts
}

#[test]
fn per_page_cuts_stand_in_streams() {
    let run = integ_test(&["paging.integ"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("test result: ok. 9 passed; 0 failed"), "{}", run.stdout);
    // 5 records, 2 a page: 3 page requests, whatever the style; `calls(...)`
    // counts the one call of the stream (the test checks it is 1).
    let three = |path: &str| vec![(path.to_owned(), 3)];
    assert_eq!(page_requests("cursor pages of two records"), three("/api/cursor"));
    assert_eq!(page_requests("offset pages of two records"), three("/api/offset"));
    assert_eq!(page_requests("link header pages of two records"), three("/api/link"));
    // 1 a page: 3 pages reach `max_pages: 3`, and the stream ends with an error.
    assert_eq!(page_requests("cursor pages of one record"), three("/api/cursor"));
    assert_eq!(page_requests("next url pages of one record"), three("/api/url"));
    // `page(size: 2)` served 3 a page: 3, 2, then the empty page that ends it.
    assert_eq!(page_requests("numbered pages override"), three("/api/pages"));
    // Pages shorter than `size` or `limit` end the stream after the first.
    assert_eq!(page_requests("shorter than the declared size"), vec![("/api/pages".to_owned(), 1)]);
    assert_eq!(page_requests("shorter than the limit"), vec![("/api/large-offset".to_owned(), 1)]);
    // Two streams: 3 pages of 1, then 2 pages of 2.
    assert_eq!(page_requests("its own page size"), vec![("/api/cursor".to_owned(), 5)]);
}

#[test]
fn the_examples_pass() {
    let run = run_in(Path::new(ROOT), &["test", "examples/"], Duration::from_secs(120));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for example in ["shop_to_crm/sync.integ", "github_to_chat/notify.integ", "stripe_to_ledger/export.integ"] {
        assert!(run.stdout.contains(&format!("from examples/{example}")), "{example}: {}", run.stdout);
    }
    assert!(!run.stdout.contains("FAILED"), "{}", run.stdout);
}
