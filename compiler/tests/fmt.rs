//! The formatter (`integ_compiler::fmt`) end to end.
//!
//! - every `tests/fmt/*.integ` fixture (unformatted input) is formatted and
//!   snapshotted beside its source;
//! - over every example, stdlib module, clean fixture under `tests/` and
//!   integ block of spec.md: formatting is idempotent, the result parses to
//!   the same tree (spans aside; flow settings moved first and clause colons
//!   canonicalised, as the formatter promises), and keeps every comment;
//! - formatting arbitrary text never panics.

#[path = "../../tests/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};

use integ_compiler::fmt::{FormatError, comments, format};
use integ_compiler::source::FileId;
use integ_compiler::syntax::{self, ast};
use proptest::prelude::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn fixtures() {
    insta::glob!("fmt/*.integ", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        let output = match format(&source) {
            Ok(formatted) => {
                assert_eq!(format(&formatted).unwrap(), formatted, "not idempotent: {}", path.display());
                formatted
            }
            Err(error) => format!("error: {error}\n"),
        };
        insta::assert_snapshot!(format!("----- SOURCE\n{source}----- FORMATTED\n{output}"));
    });
}

/// The AST as text without spans, with the changes formatting is allowed to make undone.
fn shape(text: &str) -> String {
    let (mut module, diagnostics) = syntax::parse(FileId::default(), text);
    assert!(diagnostics.is_empty(), "does not parse: {diagnostics:?}");
    for decl in &mut module.decls {
        match &mut decl.kind {
            ast::DeclKind::Flow(flow) => {
                let (mut first, statements): (Vec<_>, Vec<_>) =
                    flow.items.drain(..).partition(|item| !matches!(item, ast::FlowItem::Stmt(_)));
                first.extend(statements);
                flow.items = first;
                for item in &mut flow.items {
                    if let ast::FlowItem::Setting(clause) = item {
                        clause.colon = true;
                    }
                }
            }
            ast::DeclKind::Api(api) => {
                for item in &mut api.items {
                    match item {
                        ast::ApiItem::Clause(clause) => clause.colon = false,
                        ast::ApiItem::Endpoint(endpoint) => {
                            endpoint.clauses.iter_mut().for_each(|clause| clause.colon = false)
                        }
                    }
                }
            }
            ast::DeclKind::Policy(policy) => policy.clauses.iter_mut().for_each(|clause| clause.colon = false),
            _ => {}
        }
    }
    strip_spans(&format!("{module:#?}"))
}

/// Removes every `Span { .. }` from a debug dump.
fn strip_spans(dump: &str) -> String {
    let mut out = String::with_capacity(dump.len());
    let mut rest = dump;
    while let Some(start) = rest.find("Span {") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |offset| start + offset + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn comment_texts(text: &str) -> Vec<String> {
    let mut texts: Vec<String> = comments::scan(text).into_iter().map(|comment| comment.text).collect();
    texts.sort();
    texts
}

/// Checks the three properties on one clean file.
fn check_properties(name: &str, source: &str) {
    let formatted = match format(source) {
        Ok(formatted) => formatted,
        Err(error) => panic!("{name}: {error}"),
    };
    let again = format(&formatted).unwrap_or_else(|error| panic!("{name}, formatted: {error}"));
    assert_eq!(again, formatted, "{name}: formatting is not idempotent");
    assert_eq!(shape(&formatted), shape(source), "{name}: the formatted file parses to another tree");
    assert_eq!(comment_texts(&formatted), comment_texts(source), "{name}: comments differ");
    for (number, line) in formatted.lines().enumerate() {
        assert_eq!(line, line.trim_end(), "{name}:{}: trailing whitespace", number + 1);
    }
}

fn integ_files(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            integ_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "integ") {
            found.push(path);
        }
    }
}

/// Every file of the corpus that parses without errors.
fn corpus() -> Vec<(String, String)> {
    let mut paths = Vec::new();
    for directory in ["examples", "stdlib", "tests", "compiler/tests/fmt"] {
        integ_files(&root().join(directory), &mut paths);
    }
    let mut files = Vec::new();
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        if syntax::parse(FileId::default(), &text).1.is_empty() {
            files.push((path.display().to_string(), text));
        }
    }
    let spec = std::fs::read_to_string(root().join("spec.md")).unwrap();
    for (line, block) in support::spec_blocks(&spec) {
        if syntax::parse(FileId::default(), &block).1.is_empty() {
            files.push((format!("spec.md:{line}"), block));
        }
    }
    files
}

#[test]
fn examples_stdlib_fixtures_and_spec_blocks_keep_their_tree_and_comments() {
    let files = corpus();
    assert!(files.len() > 150, "the corpus shrank to {} files", files.len());
    for (name, source) in &files {
        check_properties(name, source);
    }
}

#[test]
fn examples_and_stdlib_are_formatted() {
    let mut paths = Vec::new();
    integ_files(&root().join("examples"), &mut paths);
    integ_files(&root().join("stdlib"), &mut paths);
    assert!(!paths.is_empty());
    for path in paths {
        let source = std::fs::read_to_string(&path).unwrap();
        assert_eq!(format(&source).unwrap(), source, "{} is not formatted: run `integ fmt`", path.display());
    }
}

#[test]
fn a_file_with_syntax_errors_is_refused_with_its_first_error() {
    let error = format("type A { id: Int\n\ntype B { x: }\n").unwrap_err();
    let FormatError::Syntax { first, diagnostics } = error else { panic!("expected a syntax error") };
    assert!(first.starts_with('E'), "{first}");
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
}

#[test]
fn an_empty_file_stays_empty_and_comments_alone_survive() {
    assert_eq!(format("").unwrap(), "");
    assert_eq!(format("\n\n  \n").unwrap(), "");
    assert_eq!(format("// a\n\n\n// b   \n").unwrap(), "// a\n\n// b\n");
}

/// Text that looks like integ: keywords, names, punctuation and comments.
fn integ_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("type ".to_owned()),
        Just("flow ".to_owned()),
        Just("api ".to_owned()),
        Just("map ".to_owned()),
        Just("let ".to_owned()),
        Just("fn ".to_owned()),
        Just("for x in ".to_owned()),
        Just("A".to_owned()),
        Just("x".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(": ".to_owned()),
        Just(", ".to_owned()),
        Just(" = ".to_owned()),
        Just(" => ".to_owned()),
        Just(" -> ".to_owned()),
        Just(".".to_owned()),
        Just("\"s{x}\"".to_owned()),
        Just("10s".to_owned()),
        Just("42".to_owned()),
        Just(" + ".to_owned()),
        Just(" // c\n".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        "[a-z]{1,3}",
    ];
    proptest::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn formatting_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = format(&text);
    }

    #[test]
    fn formatting_integ_like_text_never_panics_and_is_stable(text in integ_like()) {
        if let Ok(formatted) = format(&text) {
            prop_assert_eq!(format(&formatted).ok(), Some(formatted.clone()));
            prop_assert_eq!(comment_texts(&formatted), comment_texts(&text));
        }
    }
}
