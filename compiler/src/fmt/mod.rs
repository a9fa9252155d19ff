//! The formatter: source text in, the same program in the canonical layout out.
//!
//! The entry point is [`format`] (or [`format_file`], whose diagnostics carry
//! the caller's [`FileId`]). It parses the text, refuses a file with syntax
//! errors ([`FormatError::Syntax`], naming the first one; the caller prints
//! the diagnostics), lays the tree out ([`layout`], rules in its module
//! documentation) with the comments recovered from the text ([`comments`]),
//! and prints the result at [`WIDTH`] columns ([`doc`]). It does no IO.
//!
//! ```
//! let formatted = integ_compiler::fmt::format("type  Order{id:Int,email:String}").unwrap();
//! assert_eq!(formatted, "type Order { id: Int, email: String }\n");
//! ```
//!
//! Formatting is idempotent, keeps every comment, and yields a file that
//! parses to the same tree (settings moved to the top of flows and clause
//! colons aside); as a safety net, [`format_file`] parses its own output and
//! reports [`FormatError::Internal`] rather than return text that would not.

pub mod comments;
mod doc;
mod layout;

pub use doc::WIDTH;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;
use crate::syntax;

/// Why a file could not be formatted.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file does not parse; `diagnostics` holds every syntax error.
    #[error("cannot format a file with syntax errors: {first}")]
    Syntax { first: String, diagnostics: Vec<Diagnostic> },
    /// The formatter produced text that does not parse or lost a comment:
    /// a bug in the formatter, reported instead of returning broken text.
    #[error("the formatter failed on this file (a bug in integ fmt): {0}")]
    Internal(String),
}

/// Formats one file in the canonical layout.
pub fn format(text: &str) -> Result<String, FormatError> {
    format_file(FileId::default(), text)
}

/// Formats one file; syntax diagnostics point into `file`.
pub fn format_file(file: FileId, text: &str) -> Result<String, FormatError> {
    let (module, diagnostics) = syntax::parse(file, text);
    let errors: Vec<Diagnostic> =
        diagnostics.into_iter().filter(|diagnostic| diagnostic.severity == Severity::Error).collect();
    if let Some(first) = errors.first() {
        let first = format!("{} {}", first.code.as_str(), first.message);
        return Err(FormatError::Syntax { first, diagnostics: errors });
    }
    let found = comments::scan(text);
    let expected: Vec<String> = found.iter().map(|comment| comment.text.clone()).collect();
    let mut layout = layout::Layout::new(text, found);
    let document = crate::with_stack(|| layout.module(&module));
    let mut output = doc::print(&document);
    if output.trim().is_empty() {
        output.clear();
    }
    verify(&output, expected)?;
    Ok(output)
}

/// Checks that `output` parses and holds the comments of the input.
fn verify(output: &str, mut expected: Vec<String>) -> Result<(), FormatError> {
    let (_, diagnostics) = syntax::parse(FileId::default(), output);
    if let Some(error) = diagnostics.iter().find(|diagnostic| diagnostic.severity == Severity::Error) {
        return Err(FormatError::Internal(format!(
            "the formatted text does not parse: {} {}",
            error.code.as_str(),
            error.message
        )));
    }
    let mut found: Vec<String> = comments::scan(output).into_iter().map(|comment| comment.text).collect();
    expected.sort();
    found.sort();
    if expected != found {
        return Err(FormatError::Internal("a comment was lost or changed".to_owned()));
    }
    Ok(())
}
