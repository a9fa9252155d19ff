//! Between the compiler's values and the protocol's: byte offsets and
//! UTF-16 positions, file names and `file:` URIs, diagnostics.

use std::str::FromStr;

use integ_compiler::diagnostic::{Diagnostic, Severity};
use integ_compiler::source::{Origin, SourceFile, SourceMap, Span};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Position, Range, Uri};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// Characters escaped in the path of a `file:` URI (what VS Code escapes).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The file name the compiler uses for a document: the path of a `file:`
/// URI, or the whole URI for other schemes (unsaved buffers).
pub fn uri_to_path(uri: &Uri) -> String {
    let text = uri.as_str();
    match text.strip_prefix("file://") {
        Some(rest) => {
            // Skip the authority (empty for local files): the path starts at the first `/`.
            let path = rest.find('/').map(|slash| &rest[slash..]).unwrap_or(rest);
            let decoded = percent_decode_str(path).decode_utf8_lossy().into_owned();
            // `file:///c%3A/x` on Windows: drop the slash before a drive letter.
            let bytes = decoded.as_bytes();
            if bytes.len() > 2 && bytes[0] == b'/' && bytes[2] == b':' && bytes[1].is_ascii_alphabetic() {
                decoded[1..].to_owned()
            } else {
                integ_compiler::program::normalize(&decoded)
            }
        }
        None => text.to_owned(),
    }
}

/// The URI of a file name (an absolute path, or a URI kept as the name).
pub fn path_to_uri(path: &str) -> Option<Uri> {
    if path.contains("://") || path.starts_with("untitled:") {
        return Uri::from_str(path).ok();
    }
    if !path.starts_with('/') {
        return None;
    }
    Uri::from_str(&format!("file://{}", utf8_percent_encode(path, PATH))).ok()
}

/// The UTF-16 position of byte `offset` in `file`.
pub fn position(file: &SourceFile, offset: usize) -> Position {
    let text = &*file.text;
    let mut offset = offset.min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = file.line_index(offset);
    let line_start = file.line_starts().get(line).copied().unwrap_or(0).min(offset);
    let character: usize = text[line_start..offset].chars().map(char::len_utf16).sum();
    Position { line: line as u32, character: character as u32 }
}

/// The byte offset of a UTF-16 position in `text` (clamped to the line and the text).
pub fn offset(text: &str, position: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..position.line {
        match text[line_start..].find('\n') {
            Some(newline) => line_start += newline + 1,
            None => return text.len(),
        }
    }
    let line_end = text[line_start..].find('\n').map(|newline| line_start + newline).unwrap_or(text.len());
    let mut units = 0usize;
    for (index, character) in text[line_start..line_end].char_indices() {
        if units >= position.character as usize {
            return line_start + index;
        }
        units += character.len_utf16();
    }
    line_end
}

pub fn range(file: &SourceFile, span: Span) -> Range {
    Range { start: position(file, span.start as usize), end: position(file, span.end as usize) }
}

/// Where a span is, as a protocol location; none for the standard library.
pub fn location(sources: &SourceMap, span: Span) -> Option<Location> {
    let file = sources.get(span.file)?;
    if file.origin == Origin::Std {
        return None;
    }
    Some(Location { uri: path_to_uri(&file.name)?, range: range(file, span) })
}

/// A compiler diagnostic as the protocol's: the same code, the primary span
/// as the range, secondary labels as related information, and the primary
/// label, notes and help in the message (editors show only the message).
pub fn diagnostic(sources: &SourceMap, diagnostic: &Diagnostic) -> Option<lsp_types::Diagnostic> {
    let primary = diagnostic.primary_span();
    let file = sources.get(primary.file)?;
    let mut message = diagnostic.message.clone();
    if let Some(label) = diagnostic.labels.iter().find(|label| label.primary && !label.message.is_empty()) {
        message.push_str(&format!("\n{}", label.message));
    }
    for note in &diagnostic.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .labels
        .iter()
        .filter(|label| !label.primary)
        .filter_map(|label| {
            Some(DiagnosticRelatedInformation {
                location: location(sources, label.span)?,
                message: if label.message.is_empty() { diagnostic.message.clone() } else { label.message.clone() },
            })
        })
        .collect();
    Some(lsp_types::Diagnostic {
        range: range(file, primary),
        severity: Some(match diagnostic.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.as_str().to_owned())),
        code_description: None,
        source: Some("integ".to_owned()),
        message,
        related_information: if related.is_empty() { None } else { Some(related) },
        tags: None,
        data: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "a\u{e9}\u{1F600}b\nxy";
        let file = SourceFile::new("/t.integ", text, Origin::User);
        let b = text.find('b').unwrap_or(0);
        assert_eq!(position(&file, b), Position { line: 0, character: 4 });
        assert_eq!(offset(text, Position { line: 0, character: 4 }), b);
        assert_eq!(offset(text, Position { line: 1, character: 1 }), text.len() - 1);
        assert_eq!(offset(text, Position { line: 1, character: 99 }), text.len());
        assert_eq!(offset(text, Position { line: 9, character: 0 }), text.len());
        // Inside the surrogate pair: the start of the character.
        assert_eq!(position(&file, b - 1), Position { line: 0, character: 2 });
    }

    #[test]
    fn file_uris_round_trip() {
        let uri = path_to_uri("/home/a b/c#d.integ").unwrap_or_else(|| Uri::from_str("file:///x").unwrap());
        assert_eq!(uri.as_str(), "file:///home/a%20b/c%23d.integ");
        assert_eq!(uri_to_path(&uri), "/home/a b/c#d.integ");
        let untitled = Uri::from_str("untitled:Untitled-1").unwrap();
        assert_eq!(uri_to_path(&untitled), "untitled:Untitled-1");
    }
}
