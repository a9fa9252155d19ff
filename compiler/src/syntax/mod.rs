//! Syntax: text in, [`ast::Module`] and diagnostics out.
//!
//! The entry point is [`parse`], which never fails: it returns the tree of
//! every declaration it could read and a diagnostic for every one it could
//! not. The pest grammar (`grammar.pest`) stays behind this facade:
//!
//! 1. [`chunks`] splits the file at declaration heads (`type X`, `api X`...),
//! 2. [`lexcheck`] checks each chunk for lexical mistakes (strings, brackets),
//! 3. pest parses the chunk declaration by declaration ([`parser`]),
//! 4. [`build`] turns pest pairs into the AST, with spans.
//!
//! A chunk that fails is reported and skipped, so one run reports every
//! syntax error in a file.

pub mod ast;
mod build;
mod chunks;
mod errors;
pub mod lexcheck;
mod parser;

pub use parser::parse;

/// The reserved words of the language (usable as field names and keys).
pub const KEYWORDS: &[&str] = &[
    "import", "secret", "type", "enum", "api", "endpoint", "auth", "map", "fn", "native", "policy", "flow", "test",
    "let", "for", "in", "where", "dedupe", "if", "else", "match", "state", "payload", "skip", "fail", "log", "true",
    "false", "none", "stream", "catch", "expect", "given", "run",
];

/// How deep an expression tree may grow (chains of operators, calls and fields).
pub const MAX_EXPRESSION_DEPTH: usize = 200;
