//! The registry of natives matches the standard library: every `native fn`
//! declared in `stdlib/*.integ` has an adapter, every adapter is declared,
//! and each adapter expects as many arguments as the declaration has
//! parameters.

use std::collections::BTreeMap;
use std::path::PathBuf;

use integ_runtime::natives;

/// One `native fn` declaration.
#[derive(Debug)]
struct Declaration {
    file: String,
    line: usize,
    parameters: usize,
}

fn stdlib() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../stdlib")
}

/// The number of parameters in the text between a declaration's parentheses:
/// top-level commas, outside brackets and string literals (`fn(T) -> U`'s
/// `->` does not close an angle bracket).
fn count_parameters(list: &str) -> usize {
    if list.trim().is_empty() {
        return 0;
    }
    let mut depth: i32 = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut previous = ' ';
    let mut count = 1;
    for c in list.chars() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                '"' => in_string = true,
                '(' | '[' | '{' | '<' => depth += 1,
                '>' if previous == '-' => {}
                ')' | ']' | '}' | '>' => depth -= 1,
                ',' if depth == 0 => count += 1,
                _ => {}
            }
        }
        previous = c;
    }
    assert_eq!(depth, 0, "unbalanced parameter list: {list}");
    count
}

/// The parameter list of a declaration: from the `(` after the name to the
/// matching `)`.
fn parameter_list(rest: &str) -> &str {
    let Some(open) = rest.find('(') else {
        panic!("no parameter list in `{rest}`");
    };
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (index, c) in rest.char_indices().skip_while(|(index, _)| *index < open) {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    // A parameter list laid out one per line ends with a comma.
                    let list = rest[open + 1..index].trim();
                    return list.strip_suffix(',').unwrap_or(list);
                }
            }
            _ => {}
        }
    }
    panic!("unclosed parameter list in `{rest}`");
}

fn declarations() -> BTreeMap<String, Declaration> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(stdlib())
        .expect("stdlib/ is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "integ"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "expected the standard library's modules in {:?}", stdlib());
    let mut declared = BTreeMap::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a readable module");
        let file = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let mut offset = 0;
        for (index, line) in text.lines().enumerate() {
            let start = offset;
            offset += line.len() + 1;
            let indent = line.len() - line.trim_start().len();
            if !line.trim_start().starts_with("native fn ") {
                continue;
            }
            // A long declaration is written over several lines (as `integ fmt` lays it out).
            let rest = &text[start + indent + "native fn ".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            assert!(!name.is_empty(), "{file}:{}: a native without a name", index + 1);
            let declaration =
                Declaration { file: file.clone(), line: index + 1, parameters: count_parameters(parameter_list(rest)) };
            if let Some(previous) = declared.insert(name.clone(), declaration) {
                panic!("`{name}` is declared twice ({}:{} and {file}:{})", previous.file, previous.line, index + 1);
            }
        }
    }
    declared
}

#[test]
fn parameter_counting() {
    assert_eq!(count_parameters(""), 0);
    assert_eq!(count_parameters("s: String"), 1);
    assert_eq!(count_parameters("xs: [T], f: fn(T) -> U"), 2);
    assert_eq!(count_parameters("xs: [T], init: A, f: fn(A, T) -> A"), 3);
    assert_eq!(count_parameters("m: {String: T}, key: String"), 2);
    assert_eq!(count_parameters(r#"s: String, fill: String = ",", sep: String = "\",\"""#), 3);
    assert_eq!(parameter_list("f<T>(a: fn(T) -> U, b: Int) -> T"), "a: fn(T) -> U, b: Int");
    assert_eq!(parameter_list("f(\n  a: Int,\n  b: String = \",\",\n) -> T"), "a: Int,\n  b: String = \",\"");
}

#[test]
fn every_declared_native_is_registered_with_its_arity() {
    let declared = declarations();
    assert!(declared.len() > 100, "found only {} natives", declared.len());
    let mut problems = Vec::new();
    for (name, declaration) in &declared {
        match natives::arity(name) {
            None => problems.push(format!("{}:{}: `{name}` has no registry entry", declaration.file, declaration.line)),
            Some(arity) if arity != declaration.parameters => problems.push(format!(
                "{}:{}: `{name}` declares {} parameters, its adapter expects {arity}",
                declaration.file, declaration.line, declaration.parameters
            )),
            Some(_) => assert!(natives::lookup(name).is_some()),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_registered_native_is_declared_once() {
    let declared = declarations();
    let mut seen = std::collections::HashSet::new();
    for name in natives::names() {
        assert!(seen.insert(name), "`{name}` is registered twice");
        assert!(declared.contains_key(name), "`{name}` is registered but no stdlib/*.integ declares it");
    }
    assert_eq!(seen.len(), declared.len());
}
