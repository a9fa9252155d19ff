//! The parser facade: chunks, lexical check, pest, AST building.

use pest::Parser as _;

use super::ast::Module;
use super::{build, chunks, errors, lexcheck};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "syntax/grammar.pest"]
pub(crate) struct IntegParser;

/// Parses one file. Never fails: returns every declaration that parsed and a
/// diagnostic for each part that did not.
pub fn parse(file: FileId, text: &str) -> (Module, Vec<Diagnostic>) {
    let mut module = Module { file, decls: Vec::new() };
    let mut diagnostics = Vec::new();
    let heads = chunks::heads(text);
    let mut boundaries = Vec::with_capacity(heads.len() + 2);
    boundaries.push(0);
    boundaries.extend(heads.iter().copied().filter(|&offset| offset > 0));
    boundaries.push(text.len());
    boundaries.dedup();
    for window in boundaries.windows(2) {
        let (start, end) = (window[0], window[1]);
        let next_head = (end < text.len()).then_some(end);
        parse_chunk(file, text, start, end, next_head, &mut module, &mut diagnostics);
    }
    (module, diagnostics)
}

fn parse_chunk(
    file: FileId,
    text: &str,
    start: usize,
    end: usize,
    next_head: Option<usize>,
    module: &mut Module,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let chunk = &text[start..end];
    let lexical = lexcheck::check(file, start, chunk, next_head);
    if !lexical.is_empty() {
        diagnostics.extend(lexical);
        return;
    }
    let offset = start + trivia_length(chunk);
    if offset >= end {
        return;
    }
    // The whole chunk must be declarations, so that a declaration that stops
    // early (an optional part that failed to parse) is reported where it
    // failed rather than as junk after it.
    match crate::with_stack(|| IntegParser::parse(Rule::chunk, &text[offset..end])) {
        Ok(pairs) => {
            for pair in pairs {
                if pair.as_rule() == Rule::EOI {
                    continue;
                }
                match build::declaration(file, offset, text, pair) {
                    Ok(decl) => module.decls.push(decl),
                    Err(diagnostic) => diagnostics.push(diagnostic),
                }
            }
        }
        Err(error) => diagnostics.push(errors::convert(file, text, offset, end, next_head, &error)),
    }
}

/// The length of the whitespace and comments at the start of `text`.
pub(crate) fn trivia_length(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut index = 0;
    loop {
        while index < bytes.len() && matches!(bytes[index], b' ' | b'\t' | b'\r' | b'\n') {
            index += 1;
        }
        if text[index..].starts_with("\u{FEFF}") {
            index += 3;
            continue;
        }
        if bytes.get(index) == Some(&b'/') && bytes.get(index + 1) == Some(&b'/') {
            while index < bytes.len() && bytes[index] != b'\n' {
                index += 1;
            }
            continue;
        }
        return index;
    }
}

/// The diagnostic for an expression or chain that is too deep to check safely.
pub(crate) fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::new(Code::NestingTooDeep, span, "expression nested too deeply")
        .label(format!("this expression is more than {} levels deep", super::MAX_EXPRESSION_DEPTH))
        .help("split it with `let` bindings or smaller functions")
}
