//! Diagnostics as JSON: the machine-readable contract of `--format json`.
//!
//! In: a [`SourceMap`] and diagnostics. Out: [`JsonDiagnostic`] values, a
//! dedicated serializable struct that is versioned ([`FORMAT_VERSION`]) and
//! never the internal types, so that the compiler can change inside without
//! breaking editors and CI scripts. Lines and columns are 1-based; columns
//! count Unicode scalar values; byte offsets are 0-based and end-exclusive.

use serde::Serialize;

use super::{Applicability, Diagnostic};
use crate::source::{SourceMap, Span};

/// Bumped whenever a field changes meaning or disappears (adding one is compatible).
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct JsonDiagnostic {
    pub version: u32,
    pub code: String,
    pub severity: String,
    pub message: String,
    pub file: String,
    pub labels: Vec<JsonLabel>,
    pub notes: Vec<String>,
    pub help: Option<String>,
    pub suggestions: Vec<JsonSuggestion>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct JsonLabel {
    pub primary: bool,
    pub message: String,
    pub file: String,
    #[serde(flatten)]
    pub range: JsonRange,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct JsonRange {
    pub byte_start: usize,
    pub byte_end: usize,
    pub line_start: usize,
    pub column_start: usize,
    pub line_end: usize,
    pub column_end: usize,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct JsonSuggestion {
    pub message: String,
    pub file: String,
    pub replacement: String,
    /// `machine-applicable` or `maybe-incorrect`.
    pub applicability: String,
    #[serde(flatten)]
    pub range: JsonRange,
}

fn range(map: &SourceMap, span: Span) -> JsonRange {
    let (line_start, column_start, line_end, column_end) = match map.get(span.file) {
        Some(file) => {
            let (line_start, column_start) = file.line_column(span.start as usize);
            let (line_end, column_end) = file.line_column_end(span.end as usize);
            (line_start, column_start, line_end, column_end)
        }
        None => (1, 1, 1, 1),
    };
    JsonRange {
        byte_start: span.start as usize,
        byte_end: span.end as usize,
        line_start,
        column_start,
        line_end,
        column_end,
    }
}

fn file_name(map: &SourceMap, span: Span) -> String {
    map.get(span.file).map(|file| file.name.clone()).unwrap_or_default()
}

impl JsonDiagnostic {
    pub fn new(map: &SourceMap, diagnostic: &Diagnostic) -> JsonDiagnostic {
        JsonDiagnostic {
            version: FORMAT_VERSION,
            code: diagnostic.code.as_str().to_owned(),
            severity: diagnostic.severity.as_str().to_owned(),
            message: diagnostic.message.clone(),
            file: file_name(map, diagnostic.primary_span()),
            labels: diagnostic
                .labels
                .iter()
                .map(|label| JsonLabel {
                    primary: label.primary,
                    message: label.message.clone(),
                    file: file_name(map, label.span),
                    range: range(map, label.span),
                })
                .collect(),
            notes: diagnostic.notes.clone(),
            help: diagnostic.help.clone(),
            suggestions: diagnostic
                .suggestions
                .iter()
                .map(|suggestion| JsonSuggestion {
                    message: suggestion.message.clone(),
                    file: file_name(map, suggestion.span),
                    replacement: suggestion.replacement.clone(),
                    applicability: match suggestion.applicability {
                        Applicability::MachineApplicable => "machine-applicable",
                        Applicability::MaybeIncorrect => "maybe-incorrect",
                    }
                    .to_owned(),
                    range: range(map, suggestion.span),
                })
                .collect(),
        }
    }
}

/// One JSON object per line, one line per diagnostic.
pub fn to_json_lines(map: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        // Serializing these plain structs cannot fail: no maps with non-string keys, no floats.
        if let Ok(line) = serde_json::to_string(&JsonDiagnostic::new(map, diagnostic)) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
