//! A lexical pre-pass over one declaration chunk.
//!
//! In: the text of a chunk (a declaration head up to the next head). Out:
//! diagnostics for the mistakes that a PEG parser reports badly: unterminated
//! strings, invalid escapes, unbalanced or mismatched delimiters (with a label
//! on the opening one), nesting deeper than [`MAX_NESTING`], and characters
//! that cannot start any token (`;`, `'`, `$`...). A chunk with such an error
//! is not handed to pest, so each mistake is reported once, precisely.

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// How deeply brackets and string interpolations may nest.
pub const MAX_NESTING: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    /// `(`, `[` or `{` in code, with its offset.
    Bracket(u8, usize),
    /// A string literal opened at the offset.
    String(usize),
    /// `{` starting an interpolation inside a string.
    Interpolation(usize),
}

/// Checks `text` (which starts at `base` in file `file`).
pub fn check(file: FileId, base: usize, text: &str, next_head: Option<usize>) -> Vec<Diagnostic> {
    let span = |start: usize, end: usize| Span::new(file, base + start, base + end);
    let bytes = text.as_bytes();
    let mut diagnostics = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let in_string = matches!(stack.last(), Some(Frame::String(_)));
        let byte = bytes[index];
        if in_string {
            match byte {
                b'"' => {
                    stack.pop();
                    index += 1;
                }
                b'\\' => {
                    index += check_escape(text, index, &span, &mut diagnostics);
                }
                b'{' => {
                    stack.push(Frame::Interpolation(index));
                    if stack.len() > MAX_NESTING {
                        diagnostics.push(too_deep(span(index, index + 1)));
                        return diagnostics;
                    }
                    index += 1;
                }
                b'\n' => {
                    let Some(Frame::String(open)) = stack.pop() else {
                        break;
                    };
                    diagnostics.push(unterminated_string(span(open, index), span(index, index)));
                    // Unwind interpolations of this line: the rest of the line is lost anyway.
                    index += 1;
                }
                _ => index += utf8_width(byte),
            }
            continue;
        }
        match byte {
            b'/' if bytes.get(index + 1) == Some(&b'/') => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'"' => {
                stack.push(Frame::String(index));
                if stack.len() > MAX_NESTING {
                    diagnostics.push(too_deep(span(index, index + 1)));
                    return diagnostics;
                }
                index += 1;
            }
            b'(' | b'[' | b'{' => {
                stack.push(Frame::Bracket(byte, index));
                if stack.len() > MAX_NESTING {
                    diagnostics.push(too_deep(span(index, index + 1)));
                    return diagnostics;
                }
                index += 1;
            }
            b')' | b']' | b'}' => {
                match stack.last().copied() {
                    Some(Frame::Bracket(open, _)) if closer(open) == byte => {
                        stack.pop();
                    }
                    Some(Frame::Interpolation(_)) if byte == b'}' => {
                        stack.pop();
                    }
                    Some(Frame::Bracket(open, opened_at)) => {
                        let expected = closer(open) as char;
                        diagnostics.push(
                            Diagnostic::new(
                                Code::UnmatchedDelimiter,
                                span(index, index + 1),
                                format!("mismatched closing delimiter `{}`", byte as char),
                            )
                            .label(format!("expected `{expected}` here"))
                            .secondary(span(opened_at, opened_at + 1), format!("`{}` opened here", open as char))
                            .fix(
                                format!("close `{}` with `{expected}`", open as char),
                                span(index, index + 1),
                                expected.to_string(),
                            ),
                        );
                        return diagnostics;
                    }
                    _ => {
                        diagnostics.push(
                            Diagnostic::new(
                                Code::UnmatchedDelimiter,
                                span(index, index + 1),
                                format!("unmatched closing delimiter `{}`", byte as char),
                            )
                            .label("nothing here is open")
                            .fix("remove it", span(index, index + 1), ""),
                        );
                        return diagnostics;
                    }
                }
                index += 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => index += 1,
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => index += 1,
            b':' | b',' | b'.' | b'?' | b'=' | b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|'
            | b'@' => index += 1,
            b'\'' => {
                // One diagnostic for a single-quoted string, with fixes for both quotes.
                diagnostics.push(invalid_character(text, index, 1, &span));
                let close = text[index + 1..].find(['\'', '\n']).map(|offset| index + 1 + offset);
                index = match close {
                    Some(close) if bytes[close] == b'\'' => close + 1,
                    _ => index + 1,
                };
            }
            b'\\' if matches!(stack.last(), Some(Frame::Interpolation(_))) => {
                // `"{\"a\": 1}"`: the `{` opened an interpolation, where escapes mean nothing.
                let Some(Frame::Interpolation(open)) = stack.last().copied() else { break };
                diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidCharacter,
                        span(index, index + 1),
                        "unexpected `\\` inside an interpolation",
                    )
                    .label("this is code, not text")
                    .secondary(span(open, open + 1), "this `{` starts an interpolation")
                    .help("to write a literal brace in a string, escape it: `\\{`")
                    .fix("escape the brace", span(open, open + 1), "\\{"),
                );
                return diagnostics;
            }
            _ => {
                let width = char_width(text, index);
                diagnostics.push(invalid_character(text, index, width, &span));
                index += width;
            }
        }
    }
    // Whatever is still open at the end of the chunk was never closed.
    for frame in stack.iter().rev().take(1) {
        match *frame {
            Frame::String(open) => {
                diagnostics.push(unterminated_string(span(open, text.len()), span(text.len(), text.len())));
            }
            Frame::Bracket(open, at) => {
                let close = closer(open) as char;
                let mut diagnostic =
                    Diagnostic::new(Code::UnclosedDelimiter, span(at, at + 1), format!("unclosed `{}`", open as char))
                        .label(format!("this `{}` is never closed", open as char));
                let end = trimmed_end(text);
                if let Some(next) = next_head {
                    diagnostic = diagnostic.secondary(
                        Span::new(file, next, next),
                        format!("the next declaration starts here: add `{close}` before it"),
                    );
                } else {
                    diagnostic = diagnostic.secondary(span(end, end), "the file ends here");
                }
                diagnostics.push(diagnostic.fix(
                    format!("close it with `{close}`"),
                    span(end, end),
                    format!("\n{close}"),
                ));
            }
            Frame::Interpolation(open) => {
                diagnostics.push(
                    Diagnostic::new(
                        Code::UnclosedDelimiter,
                        span(open, open + 1),
                        "unclosed interpolation `{` in a string",
                    )
                    .label("this `{` is never closed")
                    .help("close the interpolation with `}`, or write `\\{` for a literal brace"),
                );
            }
        }
    }
    diagnostics
}

fn closer(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

fn trimmed_end(text: &str) -> usize {
    text.trim_end().len()
}

fn utf8_width(first_byte: u8) -> usize {
    match first_byte {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

fn char_width(text: &str, index: usize) -> usize {
    text.get(index..).and_then(|rest| rest.chars().next()).map(char::len_utf8).unwrap_or(1)
}

fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::new(Code::NestingTooDeep, span, format!("nesting deeper than {MAX_NESTING} levels"))
        .label("this opens one level too many")
        .help("split the expression with `let` bindings or smaller maps")
}

fn unterminated_string(string: Span, end_of_line: Span) -> Diagnostic {
    Diagnostic::new(Code::UnterminatedString, string, "unterminated string literal")
        .label("this string is never closed")
        .help("strings end on the line they start on: close it with `\"`, and write `\\n` for a line break")
        .fix("close the string", end_of_line, "\"")
}

/// Checks one escape at `index` (a backslash) and returns how many bytes it covers.
fn check_escape(
    text: &str,
    index: usize,
    span: &impl Fn(usize, usize) -> Span,
    diagnostics: &mut Vec<Diagnostic>,
) -> usize {
    let rest = &text[index + 1..];
    let Some(next) = rest.chars().next() else {
        return 1;
    };
    match next {
        'n' | 't' | 'r' | '\\' | '"' | '{' | '}' | '0' => 2,
        'u' => {
            let Some(body) = rest.strip_prefix("u{") else {
                diagnostics.push(
                    Diagnostic::new(Code::InvalidEscape, span(index, index + 2), "invalid unicode escape")
                        .label("expected `\\u{...}` with 1 to 6 hex digits")
                        .help("write a code point as `\\u{1F600}`"),
                );
                return 2;
            };
            let digits: String = body.chars().take_while(char::is_ascii_hexdigit).collect();
            let closed = body[digits.len()..].starts_with('}');
            let length = 3 + digits.len() + usize::from(closed);
            let valid = closed
                && (1..=6).contains(&digits.len())
                && u32::from_str_radix(&digits, 16).ok().and_then(char::from_u32).is_some();
            if !valid {
                diagnostics.push(
                    Diagnostic::new(Code::InvalidEscape, span(index, index + length), "invalid unicode escape")
                        .label("not a Unicode scalar value")
                        .help("write a code point as `\\u{1F600}`: 1 to 6 hex digits, not a surrogate, at most 10FFFF"),
                );
            }
            length
        }
        '\n' => {
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidEscape,
                    span(index, index + 1),
                    "a backslash cannot continue a string on the next line",
                )
                .label("line continuation is not supported")
                .help("close the string on this line and join the pieces with `+`"),
            );
            1
        }
        other => {
            let width = other.len_utf8();
            let escape = format!("\\{other}");
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidEscape,
                    span(index, index + 1 + width),
                    format!("unknown escape `{escape}`"),
                )
                .label("unknown escape")
                .help("the escapes are \\n \\t \\r \\0 \\\\ \\\" \\{ \\} and \\u{...}; write `\\\\` for a backslash")
                .fix("escape the backslash", span(index, index + 1), "\\\\"),
            );
            1 + width
        }
    }
}

fn invalid_character(text: &str, index: usize, width: usize, span: &impl Fn(usize, usize) -> Span) -> Diagnostic {
    let character = text.get(index..index + width).unwrap_or("?");
    let here = span(index, index + width);
    match character {
        ";" => Diagnostic::new(Code::InvalidCharacter, here, "unexpected `;`")
            .label("statements and fields end at the end of the line")
            .fix("remove the `;`", here, ""),
        "'" => {
            let line_end = text[index + 1..].find(['\'', '\n']).map(|offset| index + 1 + offset);
            let diagnostic = Diagnostic::new(Code::InvalidCharacter, here, "unexpected `'`")
                .label("strings use double quotes")
                .help("write strings as \"text\"");
            match line_end {
                Some(close) if text.as_bytes()[close] == b'\'' => diagnostic.fix("use double quotes", here, "\"").fix(
                    "use double quotes",
                    span(close, close + 1),
                    "\"",
                ),
                _ => diagnostic,
            }
        }
        "#" => Diagnostic::new(Code::InvalidCharacter, here, "unexpected `#`").label("comments start with `//`").fix(
            "write a `//` comment",
            here,
            "//",
        ),
        "`" => Diagnostic::new(Code::InvalidCharacter, here, "unexpected backtick")
            .label("strings use double quotes")
            .fix("use a double quote", here, "\""),
        _ => {
            let shown = character.escape_debug().to_string();
            Diagnostic::new(Code::InvalidCharacter, here, format!("unexpected character `{shown}`"))
                .label("no token starts with this character")
                .help("outside strings and comments, integ uses ASCII letters, digits, `_` and the operators of the language")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<&'static str> {
        check(FileId(0), 0, text, None).iter().map(|diagnostic| diagnostic.code.as_str()).collect()
    }

    #[test]
    fn balanced_code_is_clean() {
        assert!(codes("type A { x: [Int] }\nmap f(a: A) -> B { y: \"{a.x}\" }").is_empty());
        assert!(codes("// a comment with ' and ; inside\ntype A {}").is_empty());
        assert!(codes("x: \"a\\n\\u{1F600}\\{\"").is_empty());
    }

    #[test]
    fn reports_lexical_mistakes() {
        assert_eq!(codes("type A { x: Int"), ["E0102"]);
        assert_eq!(codes("type A { x: Int }}"), ["E0109"]);
        assert_eq!(codes("type A { x: (Int] }"), ["E0109"]);
        assert_eq!(codes("secret a = \"abc\nsecret b = 1"), ["E0101"]);
        assert_eq!(codes("x: \"\\q\""), ["E0105"]);
        assert_eq!(codes("x: \"\\u{D800}\""), ["E0105"]);
        assert_eq!(codes("x: 1;"), ["E0107"]);
        assert_eq!(codes("x: 'a'"), ["E0107"]);
        assert_eq!(codes(&"(".repeat(100)), ["E0106"]);
        assert_eq!(codes(&"\"{".repeat(40)), ["E0106"]);
    }
}
