//! Splitting a file into declaration chunks.
//!
//! In: the text of a file. Out: byte offsets where a declaration head starts:
//! a line whose first word is a declaration keyword followed by a name
//! (`type Order`, `native fn trim`, `test "..."`, `import "..."`). Parsing
//! restarts at each head, which is what lets one run report every error.

/// Declaration keywords and what must follow them for the line to be a head.
const HEADS: &[&str] =
    &["import", "secret", "type", "enum", "api", "auth", "map", "fn", "native", "policy", "flow", "test"];

/// The offsets of every declaration head in `text`, in order.
pub fn heads(text: &str) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if is_head(&line[indent..]) {
            offsets.push(line_start + indent);
        }
        line_start += line.len();
    }
    offsets
}

fn is_head(line: &str) -> bool {
    let word_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(line.len());
    let word = &line[..word_end];
    if !HEADS.contains(&word) {
        return false;
    }
    let rest = &line[word_end..];
    let after_space = rest.trim_start_matches([' ', '\t']);
    if after_space.len() == rest.len() {
        // `type:` or `map(`: a field or a call, not a head.
        return false;
    }
    match word {
        "import" | "test" => after_space.starts_with('"'),
        _ => after_space.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_heads_but_not_fields_or_clauses() {
        let text = "type A {\n  type: String\n  map: Int\n}\napi B {\n  auth: bearer(t)\n}\n  native fn f(x: Int) -> Int\ntest \"x\" {}\nmapping\n";
        let found: Vec<&str> = heads(text).into_iter().map(|offset| &text[offset..offset + 4]).collect();
        assert_eq!(found, ["type", "api ", "nati", "test"]);
    }
}
