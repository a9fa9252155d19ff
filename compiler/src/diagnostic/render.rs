//! Renders diagnostics as text with codespan-reporting.
//!
//! In: a [`SourceMap`] and diagnostics. Out: rustc-like text, with ANSI
//! colour when the caller asks for it (the CLI asks only on a terminal).
//! This is the one place that converts our [`Diagnostic`] to codespan's.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, termcolor};

use super::{Diagnostic, Severity};
use crate::source::{FileId, SourceMap};

impl<'a> Files<'a> for SourceMap {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        self.get(id).map(|file| file.name.as_str()).ok_or(FilesError::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        self.get(id).map(|file| &*file.text).ok_or(FilesError::FileMissing)
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, FilesError> {
        self.get(id).map(|file| file.line_index(byte_index)).ok_or(FilesError::FileMissing)
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<std::ops::Range<usize>, FilesError> {
        let file = self.get(id).ok_or(FilesError::FileMissing)?;
        let starts = file.line_starts();
        let max = starts.len().saturating_sub(1);
        if line_index > max + 1 {
            return Err(FilesError::LineTooLarge { given: line_index, max });
        }
        let start = starts.get(line_index).copied().unwrap_or(file.text.len());
        let end = starts.get(line_index + 1).copied().unwrap_or(file.text.len());
        Ok(start..end)
    }
}

/// Converts one diagnostic to codespan's form.
pub fn to_codespan(map: &SourceMap, diagnostic: &Diagnostic) -> cs::Diagnostic<FileId> {
    let severity = match diagnostic.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let labels = diagnostic
        .labels
        .iter()
        .filter(|label| map.get(label.span.file).is_some())
        .map(|label| {
            let style = if label.primary { cs::LabelStyle::Primary } else { cs::LabelStyle::Secondary };
            let range = clamp_range(map, label.span.file, label.span.range());
            cs::Label::new(style, label.span.file, range).with_message(label.message.clone())
        })
        .collect();
    let mut notes = diagnostic.notes.iter().map(|note| format!("note: {note}")).collect::<Vec<_>>();
    if let Some(help) = &diagnostic.help {
        notes.push(format!("help: {help}"));
    }
    for suggestion in &diagnostic.suggestions {
        // "did you mean `x`?" already says it; the JSON output keeps the edit.
        let repeated =
            diagnostic.help.as_deref().is_some_and(|help| help.contains(&format!("`{}`", suggestion.replacement)));
        if repeated && !suggestion.replacement.is_empty() {
            continue;
        }
        let replacement = suggestion.replacement.trim_end();
        if replacement.is_empty() || suggestion.message.contains(&format!("`{replacement}`")) {
            notes.push(format!("suggestion: {}", suggestion.message));
        } else if replacement.contains('\n') {
            notes.push(format!("suggestion: {}:\n{replacement}", suggestion.message));
        } else {
            notes.push(format!("suggestion: {}: `{replacement}`", suggestion.message));
        }
    }
    cs::Diagnostic::new(severity)
        .with_code(diagnostic.code.as_str())
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

fn clamp_range(map: &SourceMap, file: FileId, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let length = map.get(file).map(|source| source.text.len()).unwrap_or(0);
    let start = range.start.min(length);
    let end = range.end.clamp(start, length);
    start..end
}

/// Renders diagnostics as text, one after the other, with a blank line between.
pub fn render(map: &SourceMap, diagnostics: &[Diagnostic], colour: bool) -> String {
    let config = term::Config::default();
    let mut buffer = if colour { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
    for diagnostic in diagnostics {
        let converted = to_codespan(map, diagnostic);
        if term::emit_to_write_style(&mut buffer, &config, map, &converted).is_err() {
            // A label outside its file: fall back to the message alone.
            let line = format!("{}[{}]: {}\n\n", diagnostic.severity.as_str(), diagnostic.code, diagnostic.message);
            let _ = std::io::Write::write_all(&mut buffer, line.as_bytes());
        }
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}
