//! Every ```integ block of spec.md is a whole program that checks clean,
//! or starts with `// expect: CODES` and reports exactly those codes.
//! Fragments that are not whole programs are written as ```text.

use integ_compiler::check_source;
use integ_compiler::diagnostic::render;

mod support;

use support::spec_blocks;

#[test]
fn spec_examples_check_as_documented() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/spec.md")).expect("spec.md is readable");
    let mut failures = Vec::new();
    for (line, block) in spec_blocks(&spec) {
        let expected: Vec<String> = block
            .lines()
            .next()
            .and_then(|first| first.trim().strip_prefix("// expect:"))
            .map(|codes| codes.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let analysis = check_source("spec.integ", &block);
        let actual: Vec<String> =
            analysis.diagnostics().iter().map(|diagnostic| diagnostic.code.as_str().to_owned()).collect();
        if actual != expected {
            let rendered = render::render(analysis.sources(), analysis.diagnostics(), false);
            failures.push(format!("spec.md:{line}: expected {expected:?}, got {actual:?}\n{rendered}"));
        }
    }
    assert!(failures.is_empty(), "{} examples of spec.md differ:\n{}", failures.len(), failures.join("\n"));
}
