//! The test runner (`interp::test`) on the programs of `tests/test_command/`:
//! each test's failures, checked at the library level (the CLI's output is
//! snapshotted by `tests/test_command.rs` at the workspace root).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use integ_compiler::interp::test::{Detail, TestConfig, TestResult, run_test};
use integ_compiler::program::FsLoader;
use integ_compiler::{analyze, ir};

fn programs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/test_command")
}

/// Runs every test of `file` (in `tests/test_command/`).
fn run_file(file: &str) -> Vec<TestResult> {
    run_path(&programs().join(file))
}

/// Runs every test of the program at `path`; fixtures are read next to it.
fn run_path(path: &Path) -> Vec<TestResult> {
    let analysis = analyze(&path.to_string_lossy(), &mut FsLoader).expect("the program loads");
    let errors: Vec<_> = analysis.diagnostics().iter().filter(|diagnostic| diagnostic.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let program = Arc::new(ir::lower::lower_with_tests(&analysis.program, &analysis.checked, analysis.program.root));
    let directory = path.parent().expect("a file has a directory").to_path_buf();
    let config = TestConfig {
        fixtures: Arc::new(move |name: &str| std::fs::read(directory.join(name)).map_err(|error| error.to_string())),
    };
    (0..program.tests.len()).map(|index| run_test(&program, index, &config)).collect()
}

#[test]
fn every_test_of_the_passing_program_passes() {
    let results = run_file("passing.integ");
    assert!(results.len() >= 10);
    let failed: Vec<_> = results.iter().filter(|result| !result.passed()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn every_test_of_the_paging_program_passes() {
    let results = run_file("paging.integ");
    assert_eq!(results.len(), 9);
    let failed: Vec<_> = results.iter().filter(|result| !result.passed()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn hours_of_waiting_pass_on_the_virtual_clock() {
    let started = std::time::Instant::now();
    let results = run_file("retries.integ");
    assert!(results.iter().all(TestResult::passed), "{results:#?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "the waits were real");
}

#[test]
fn failing_expectations_carry_their_values() {
    let results = run_file("failing.integ");
    let by_name = |name: &str| results.iter().find(|result| result.name == name).expect("the test exists");
    let diff = &by_name("a wrong contact shows a diff").failures;
    assert_eq!(diff.len(), 1, "{diff:#?}");
    match &diff[0].detail {
        Detail::Diff { left, right, .. } => {
            assert!(left.contains("\"shop-7\""), "{left}");
            assert!(right.contains("\"shop-8\""), "{right}");
        }
        other => panic!("expected a diff, got {other:?}"),
    }
}

#[test]
fn every_test_of_the_examples_passes() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for program in ["shop_to_crm/sync.integ", "github_to_chat/notify.integ", "stripe_to_ledger/export.integ"] {
        let results = run_path(&examples.join(program));
        assert!(results.len() >= 5, "{program} has tests");
        let failed: Vec<_> = results
            .iter()
            .filter(|result| !result.passed())
            .map(|result| {
                let messages: Vec<String> = result
                    .failures
                    .iter()
                    .map(|failure| format!("{}: {} {:?}", failure.location, failure.message, failure.detail))
                    .collect();
                format!("{}\n  {}", result.name, messages.join("\n  "))
            })
            .collect();
        assert!(failed.is_empty(), "{program}:\n{}", failed.join("\n"));
    }
}
