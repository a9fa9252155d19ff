//! Comments recovered from the source text.
//!
//! The parser drops comments (they are whitespace to the grammar), so the
//! formatter finds them again here: [`scan`] lists every `//` comment outside
//! string literals (interpolations included, since strings are reprinted as
//! written), with its byte range. The layout code then takes them out of a
//! [`Comments`] as it walks the tree, each exactly once.

/// One `//` or `///` comment: its byte range and text (without the line end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Every comment of `source`, in order.
pub fn scan(source: &str) -> Vec<Comment> {
    let bytes = source.as_bytes();
    let mut found = Vec::new();
    // Nesting of strings and interpolations: `true` for a string, `false` for
    // the code of an interpolation (whose braces are counted in `depths`).
    let mut in_string: Vec<bool> = Vec::new();
    let mut depths: Vec<usize> = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if in_string.last() == Some(&true) {
            match byte {
                b'\\' => index += 1,
                b'"' | b'\n' => {
                    in_string.pop();
                }
                b'{' => {
                    in_string.push(false);
                    depths.push(0);
                }
                _ => {}
            }
            index += 1;
            continue;
        }
        match byte {
            b'"' => in_string.push(true),
            b'{' if !depths.is_empty() => {
                if let Some(depth) = depths.last_mut() {
                    *depth += 1;
                }
            }
            b'}' if !depths.is_empty() => {
                if depths.last() == Some(&0) {
                    depths.pop();
                    in_string.pop();
                } else if let Some(depth) = depths.last_mut() {
                    *depth -= 1;
                }
            }
            b'/' if bytes.get(index + 1) == Some(&b'/') => {
                let end = source[index..].find('\n').map_or(source.len(), |offset| index + offset);
                if in_string.is_empty() {
                    found.push(Comment { start: index, end, text: source[index..end].trim_end().to_owned() });
                }
                index = end;
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    found
}

/// The comments of a file and which of them are printed already.
pub struct Comments {
    list: Vec<Comment>,
    taken: Vec<bool>,
    /// Every comment before this index is taken.
    first_open: usize,
}

impl Comments {
    pub fn new(list: Vec<Comment>) -> Comments {
        let taken = vec![false; list.len()];
        Comments { list, taken, first_open: 0 }
    }

    /// Takes every comment not yet taken that starts before `position`.
    pub fn take_before(&mut self, position: usize) -> Vec<Comment> {
        let mut out = Vec::new();
        for index in self.first_open..self.list.len() {
            if self.list[index].start >= position {
                break;
            }
            if !self.taken[index] {
                self.taken[index] = true;
                out.push(self.list[index].clone());
            }
        }
        self.advance();
        out
    }

    /// Takes every comment not yet taken that starts in `floor..position`.
    pub fn take_between(&mut self, floor: usize, position: usize) -> Vec<Comment> {
        let mut out = Vec::new();
        for index in self.first_open..self.list.len() {
            if self.list[index].start >= position {
                break;
            }
            if !self.taken[index] && self.list[index].start >= floor {
                self.taken[index] = true;
                out.push(self.list[index].clone());
            }
        }
        self.advance();
        out
    }

    /// Takes the comment that ends the line of `position`, when only spaces
    /// and commas stand between them in `source`.
    pub fn take_trailing(&mut self, source: &str, position: usize) -> Option<Comment> {
        let index = (self.first_open..self.list.len())
            .find(|&index| !self.taken[index] && self.list[index].start >= position)?;
        let comment = &self.list[index];
        let between = source.get(position..comment.start)?;
        if !between.bytes().all(|byte| matches!(byte, b' ' | b'\t' | b',')) {
            return None;
        }
        self.taken[index] = true;
        let comment = comment.clone();
        self.advance();
        Some(comment)
    }

    /// Whether a comment not yet taken starts inside `start..end`.
    pub fn any_within(&self, start: usize, end: usize) -> bool {
        (self.first_open..self.list.len())
            .any(|index| !self.taken[index] && self.list[index].start >= start && self.list[index].start < end)
    }

    fn advance(&mut self) {
        while self.first_open < self.taken.len() && self.taken[self.first_open] {
            self.first_open += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<String> {
        scan(source).into_iter().map(|comment| comment.text).collect()
    }

    #[test]
    fn finds_line_and_doc_comments() {
        assert_eq!(texts("/// doc\ntype A { x: Int } // after  \n// end"), ["/// doc", "// after", "// end"]);
    }

    #[test]
    fn skips_slashes_inside_strings_and_interpolations() {
        assert_eq!(texts("let u = \"http://x/{a ?? \"//y\"}\" // real"), ["// real"]);
        assert_eq!(texts("let u = \"\\\"//\" // real"), ["// real"]);
    }

    #[test]
    fn a_trailing_comment_needs_nothing_but_spaces_and_commas_before_it() {
        let source = "a, // one\nb } // two";
        let mut comments = Comments::new(scan(source));
        assert_eq!(comments.take_trailing(source, 1).map(|comment| comment.text), Some("// one".into()));
        assert_eq!(comments.take_trailing(source, 11), None);
        assert_eq!(comments.take_before(source.len()).len(), 1);
    }
}
