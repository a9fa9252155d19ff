//! Diagnostic fixtures: every file under `tests/fixtures/` whose header has
//! an `// expect:` line is checked as a root. The test asserts the codes
//! reported (in order) and snapshots the source beside the rendered output.

use std::path::Path;

use integ_compiler::diagnostic::render;
use integ_compiler::program::{LoadError, Loader};

/// Reads fixture files relative to `tests/`.
struct FixtureLoader;

impl Loader for FixtureLoader {
    fn read(&mut self, path: &str) -> Result<String, LoadError> {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(path);
        let bytes = std::fs::read(&full).map_err(|_| LoadError::NotFound)?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(text),
            Err(error) => Err(LoadError::NotUtf8 {
                valid_up_to: error.utf8_error().valid_up_to(),
                lossy: String::from_utf8_lossy(error.as_bytes()).into_owned(),
            }),
        }
    }
}

/// The codes listed after `// expect:` in the header, or `None` for helper files.
fn expected_codes(source: &str) -> Option<Vec<String>> {
    source
        .lines()
        .take_while(|line| line.starts_with("//"))
        .find_map(|line| line.trim_start_matches('/').trim().strip_prefix("expect:"))
        .map(|codes| codes.split([' ', ',']).filter(|code| !code.is_empty()).map(str::to_owned).collect())
}

#[test]
fn diagnostics() {
    insta::glob!("fixtures/**/*.integ", |path| {
        let bytes = std::fs::read(path).expect("fixture is readable");
        let source = String::from_utf8_lossy(&bytes).into_owned();
        let Some(expected) = expected_codes(&source) else {
            return;
        };
        let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let relative =
            path.strip_prefix(&tests_dir).expect("fixture under tests/").to_string_lossy().replace('\\', "/");
        let analysis = integ_compiler::analyze(&relative, &mut FixtureLoader).expect("fixture loads");
        let diagnostics = analysis.diagnostics();
        let actual: Vec<String> = diagnostics.iter().map(|diagnostic| diagnostic.code.as_str().to_owned()).collect();
        let rendered = render::render(analysis.sources(), diagnostics, false);
        assert_eq!(actual, expected, "{relative}: codes differ from the header\n{rendered}");
        insta::assert_snapshot!(format!("----- SOURCE\n{source}\n----- DIAGNOSTICS\n{rendered}"));
    });
}

/// Every diagnostic code has at least one fixture that expects it.
#[test]
fn every_code_has_a_fixture() {
    fn walk(directory: &Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(directory).expect("fixtures directory is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "integ") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"), &mut files);
    let mut expected = std::collections::HashSet::new();
    for file in files {
        let source = String::from_utf8_lossy(&std::fs::read(&file).expect("fixture is readable")).into_owned();
        expected.extend(expected_codes(&source).unwrap_or_default());
    }
    let missing: Vec<&str> = integ_compiler::diagnostic::Code::ALL
        .iter()
        .map(|code| code.as_str())
        .filter(|code| !expected.contains(*code))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}
