//! The examples of `integ explain` are checked: the wrong one reports its
//! code, the fixed one reports no error. Codes whose examples need several
//! files or bytes that are not UTF-8 are listed in `NEEDS_FILES`.

use integ_compiler::check_source;
use integ_compiler::diagnostic::{Code, Severity};

/// Examples that cannot stand alone in one UTF-8 file.
const NEEDS_FILES: &[&str] = &["E0108", "E0210", "E0211", "W0003"];

fn examples(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```integ\n") {
        let body = &rest[start + "```integ\n".len()..];
        let Some(end) = body.find("```") else { break };
        blocks.push(body[..end].to_owned());
        rest = &body[end..];
    }
    blocks
}

#[test]
fn wrong_examples_report_their_code_and_fixed_ones_check_clean() {
    let mut failures = Vec::new();
    for code in Code::ALL {
        if NEEDS_FILES.contains(&code.as_str()) {
            continue;
        }
        let blocks = examples(code.explain());
        let (Some(wrong), Some(fixed)) = (blocks.first(), blocks.get(1)) else {
            failures.push(format!("{code}: needs a wrong and a fixed example"));
            continue;
        };
        let wrong_codes: Vec<&str> = check_source("wrong.integ", wrong)
            .diagnostics()
            .iter()
            .map(|diagnostic| diagnostic.code.as_str())
            .collect();
        if !wrong_codes.contains(&code.as_str()) {
            failures.push(format!("{code}: the wrong example reports {wrong_codes:?}"));
        }
        let fixed_analysis = check_source("fixed.integ", fixed);
        let fixed_codes: Vec<&str> = fixed_analysis
            .diagnostics()
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error || diagnostic.code == *code)
            .map(|diagnostic| diagnostic.code.as_str())
            .collect();
        if !fixed_codes.is_empty() {
            failures.push(format!("{code}: the fixed example reports {fixed_codes:?}"));
        }
    }
    assert!(failures.is_empty(), "{} explain texts are off:\n{}", failures.len(), failures.join("\n"));
}
