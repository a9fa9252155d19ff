//! A small Wadler-style document and its printer.
//!
//! In: a [`Doc`] tree built by the layout code. Out: text, at most
//! [`WIDTH`] columns wide where the document allows it. A [`Doc::Group`] is
//! printed on one line when it fits in what is left of the line, otherwise
//! its [`Doc::Line`]s and [`Doc::SoftLine`]s become line breaks. A group
//! holding a [`Doc::HardLine`] or a [`Doc::BreakParent`] always breaks, and
//! so do the groups around it. [`Doc::LineSuffix`] (a trailing comment) is
//! held back until the next line break, so that it never comments code out.

/// The line width the formatter aims for.
pub const WIDTH: usize = 100;

/// One indentation level, in spaces.
const INDENT: usize = 2;

#[derive(Clone, Debug)]
pub enum Doc {
    /// Text without line breaks.
    Text(String),
    /// A space on one line, a line break in a broken group.
    Line,
    /// Nothing on one line, a line break in a broken group.
    SoftLine,
    /// Always a line break.
    HardLine,
    /// Breaks the enclosing groups without printing anything.
    BreakParent,
    /// Its content indented one level more after line breaks.
    Indent(Box<Doc>),
    /// Its content on one line if it fits; `true` when it must break.
    Group(Box<Doc>, bool),
    Concat(Vec<Doc>),
    /// The first when the enclosing group breaks, the second when it is flat.
    IfBreak(Box<Doc>, Box<Doc>),
    /// Text printed just before the next line break (a trailing comment).
    LineSuffix(String),
}

pub fn text(value: impl Into<String>) -> Doc {
    Doc::Text(value.into())
}

pub fn concat(parts: Vec<Doc>) -> Doc {
    Doc::Concat(parts)
}

pub fn indent(doc: Doc) -> Doc {
    Doc::Indent(Box::new(doc))
}

pub fn group(doc: Doc) -> Doc {
    let hard = doc.must_break();
    Doc::Group(Box::new(doc), hard)
}

pub fn if_break(broken: Doc, flat: Doc) -> Doc {
    Doc::IfBreak(Box::new(broken), Box::new(flat))
}

impl Doc {
    /// Whether the document holds a hard line break outside nested groups
    /// (nested groups carry their own answer).
    fn must_break(&self) -> bool {
        match self {
            Doc::HardLine | Doc::BreakParent => true,
            Doc::Text(_) | Doc::Line | Doc::SoftLine | Doc::LineSuffix(_) => false,
            Doc::Indent(inner) => inner.must_break(),
            Doc::Group(_, hard) => *hard,
            Doc::Concat(parts) => parts.iter().any(Doc::must_break),
            Doc::IfBreak(broken, flat) => broken.must_break() || flat.must_break(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flat,
    Break,
}

/// Prints a document; lines carry no trailing whitespace.
pub fn print(doc: &Doc) -> String {
    let mut out = String::new();
    let mut column = 0usize;
    let mut pending_indent: Option<usize> = None;
    let mut suffixes: Vec<String> = Vec::new();
    let mut stack: Vec<(usize, Mode, &Doc)> = vec![(0, Mode::Break, doc)];
    while let Some((level, mode, doc)) = stack.pop() {
        match doc {
            Doc::Text(value) => {
                if value.is_empty() {
                    continue;
                }
                if let Some(spaces) = pending_indent.take() {
                    out.extend(std::iter::repeat_n(' ', spaces));
                    column = spaces;
                }
                out.push_str(value);
                column += value.chars().count();
            }
            Doc::Line | Doc::SoftLine | Doc::HardLine => {
                let breaks = matches!(doc, Doc::HardLine) || mode == Mode::Break;
                if breaks {
                    newline(&mut out, &mut suffixes, &mut pending_indent, &mut column, level);
                } else if matches!(doc, Doc::Line) {
                    out.push(' ');
                    column += 1;
                }
            }
            Doc::BreakParent => {}
            Doc::LineSuffix(value) => suffixes.push(value.clone()),
            Doc::Indent(inner) => stack.push((level + INDENT, mode, inner)),
            Doc::Concat(parts) => {
                for part in parts.iter().rev() {
                    stack.push((level, mode, part));
                }
            }
            Doc::IfBreak(broken, flat) => stack.push((level, mode, if mode == Mode::Break { broken } else { flat })),
            Doc::Group(inner, hard) => {
                let start = pending_indent.unwrap_or(column);
                let flat = mode == Mode::Flat || (!*hard && fits(inner, &stack, WIDTH as isize - start as isize));
                let mode = if flat { Mode::Flat } else { Mode::Break };
                stack.push((level, mode, inner));
            }
        }
    }
    flush_suffixes(&mut out, &mut suffixes, &mut pending_indent);
    out
}

fn newline(
    out: &mut String,
    suffixes: &mut Vec<String>,
    pending: &mut Option<usize>,
    column: &mut usize,
    level: usize,
) {
    flush_suffixes(out, suffixes, pending);
    // Lines are never left with trailing spaces.
    while out.ends_with(' ') {
        out.pop();
    }
    out.push('\n');
    *pending = Some(level);
    *column = level;
}

fn flush_suffixes(out: &mut String, suffixes: &mut Vec<String>, pending: &mut Option<usize>) {
    if suffixes.is_empty() {
        return;
    }
    if let Some(spaces) = pending.take() {
        out.extend(std::iter::repeat_n(' ', spaces));
    }
    for suffix in suffixes.drain(..) {
        out.push_str(&suffix);
    }
}

/// Whether `doc`, printed flat, and what follows it up to the next possible
/// line break, fit in `width` columns.
fn fits(doc: &Doc, rest: &[(usize, Mode, &Doc)], mut width: isize) -> bool {
    let mut stack: Vec<(Mode, &Doc)> = vec![(Mode::Flat, doc)];
    let mut rest_index = rest.len();
    while width >= 0 {
        let (mode, doc) = match stack.pop() {
            Some(entry) => entry,
            None => {
                if rest_index == 0 {
                    return true;
                }
                rest_index -= 1;
                let (_, mode, doc) = rest[rest_index];
                (mode, doc)
            }
        };
        match doc {
            Doc::Text(value) => width -= value.chars().count() as isize,
            Doc::Line => {
                if mode == Mode::Break {
                    return true;
                }
                width -= 1;
            }
            Doc::SoftLine => {
                if mode == Mode::Break {
                    return true;
                }
            }
            Doc::HardLine => return true,
            Doc::BreakParent | Doc::LineSuffix(_) => {}
            Doc::Indent(inner) => stack.push((mode, inner)),
            Doc::Concat(parts) => {
                for part in parts.iter().rev() {
                    stack.push((mode, part));
                }
            }
            Doc::IfBreak(broken, flat) => stack.push((mode, if mode == Mode::Break { broken } else { flat })),
            Doc::Group(inner, hard) => stack.push((if *hard { Mode::Break } else { mode }, inner)),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Doc {
        let mut parts = vec![text("["), Doc::SoftLine];
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                parts.push(text(","));
                parts.push(Doc::Line);
            }
            parts.push(text(*item));
        }
        parts.push(if_break(text(","), text("")));
        group(concat(vec![concat(vec![parts.remove(0), indent(concat(parts))]), Doc::SoftLine, text("]")]))
    }

    #[test]
    fn a_group_that_fits_stays_on_one_line() {
        assert_eq!(print(&list(&["a", "b"])), "[a, b]");
    }

    #[test]
    fn a_group_that_does_not_fit_breaks_with_a_trailing_comma() {
        let long = "x".repeat(60);
        assert_eq!(print(&list(&[&long, &long])), format!("[\n  {long},\n  {long},\n]"));
    }

    #[test]
    fn a_hard_line_breaks_the_group_and_a_suffix_waits_for_the_line_end() {
        let doc = group(concat(vec![
            text("a"),
            Doc::LineSuffix(" // note".into()),
            text(","),
            Doc::Line,
            text("b"),
            Doc::BreakParent,
        ]));
        assert_eq!(print(&doc), "a, // note\nb");
    }
}
