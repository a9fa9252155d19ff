//! The editor support in `editors/`: the VS Code extension's manifest, its language configuration
//! and the TextMate grammar `editors/vscode/syntaxes/integ.tmLanguage.json`.
//!
//! Nothing here needs npm or an editor. The manifest and the language configuration are read as
//! JSON and checked against each other and against the grammar. The grammar is run by a small
//! TextMate engine (the [`textmate`] module below: `begin`/`end`/`match`, `patterns`, `include`,
//! `repository`, captures, `contentName`) over `fancy-regex` in Oniguruma mode, the regex dialect
//! editors use, so that every pattern is compiled and every scope checked:
//! - every keyword of the pest grammar and of spec § 2.3, every HTTP method, log level and scalar
//!   type is highlighted as one;
//! - the examples, the standard library and the spec's examples tokenise with every scope closed at
//!   the end and no `invalid.illegal` token;
//! - the scopes of `tests/editors/sample.integ` are snapshotted, so a change of the grammar shows
//!   as a diff of the tokens it affects.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use textmate::{Grammar, Token};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

fn read_json(relative: &str) -> Value {
    serde_json::from_str(&read(relative)).unwrap_or_else(|error| panic!("{relative} is not valid JSON: {error}"))
}

fn grammar() -> Grammar {
    let json = read_json("editors/vscode/syntaxes/integ.tmLanguage.json");
    match Grammar::new(&json) {
        Ok(grammar) => grammar,
        Err(errors) => panic!("the grammar has {} problems:\n{}", errors.len(), errors.join("\n")),
    }
}

/// The tokens of `source`, line by line, failing the test when the engine reports a loop.
fn tokenize(grammar: &Grammar, source: &str) -> Vec<Vec<Token>> {
    grammar.tokenize(source).unwrap_or_else(|error| panic!("{error}")).0
}

// ---------------------------------------------------------------- the extension

#[test]
fn manifest_contributes_the_language_grammar_and_server_setting() {
    let manifest = read_json("editors/vscode/package.json");
    let grammar = read_json("editors/vscode/syntaxes/integ.tmLanguage.json");

    let languages = manifest["contributes"]["languages"].as_array().expect("contributes.languages is a list");
    assert_eq!(languages.len(), 1, "one language: {languages:?}");
    let language = &languages[0];
    assert_eq!(language["id"], "integ");
    assert_eq!(language["extensions"], serde_json::json!([".integ"]));
    let configuration = language["configuration"].as_str().expect("the language names its configuration");
    assert!(extension_path(configuration).is_file(), "{configuration} exists");

    let grammars = manifest["contributes"]["grammars"].as_array().expect("contributes.grammars is a list");
    assert_eq!(grammars.len(), 1, "one grammar: {grammars:?}");
    assert_eq!(grammars[0]["language"], "integ");
    assert_eq!(grammars[0]["scopeName"], grammar["scopeName"], "the manifest and the grammar agree on the scope");
    assert_eq!(grammar["scopeName"], "source.integ");
    let path = grammars[0]["path"].as_str().expect("the grammar has a path");
    assert_eq!(
        extension_path(path).canonicalize().ok(),
        Path::new(ROOT).join("editors/vscode/syntaxes/integ.tmLanguage.json").canonicalize().ok(),
        "the manifest points at the grammar the tests check"
    );

    let activation = manifest["activationEvents"].as_array().expect("activationEvents is a list");
    assert!(activation.iter().any(|event| event == "onLanguage:integ"), "activates on the language: {activation:?}");

    let main = manifest["main"].as_str().expect("the manifest names its entry point");
    assert!(extension_path(main).is_file(), "{main} exists");
    let setting = &manifest["contributes"]["configuration"]["properties"]["integ.path"];
    assert_eq!(setting["type"], "string");
    assert_eq!(setting["default"], "integ");
    assert!(manifest["dependencies"]["vscode-languageclient"].is_string(), "the client library is a dependency");
    assert!(manifest["engines"]["vscode"].is_string(), "the manifest names the VS Code versions it supports");
    for field in ["name", "displayName", "description", "version", "publisher", "license"] {
        assert!(manifest[field].as_str().is_some_and(|value| !value.is_empty()), "package.json has a `{field}`");
    }

    // The extension starts `integ lsp` (no other argument) from the `integ.path` setting.
    let extension = read("editors/vscode/extension.js");
    assert!(
        extension.contains("'integ.path'") || extension.contains("\"integ.path\""),
        "extension.js reads integ.path"
    );
    assert!(extension.contains("args: ['lsp']"), "extension.js starts `integ lsp`");
    assert!(extension.contains("vscode-languageclient/node"), "extension.js uses vscode-languageclient");
    assert!(extension.contains("language: 'integ'"), "the client serves integ documents");

    // The package leaves out built packages and editor state, and keeps its dependencies.
    let ignore = read("editors/vscode/.vscodeignore");
    assert!(ignore.lines().any(|line| line.trim() == "**/*.vsix"), ".vscodeignore leaves out built packages");
    assert!(!ignore.lines().any(|line| line.trim().starts_with("node_modules")), "the language client is packaged");
}

fn extension_path(relative: &str) -> PathBuf {
    Path::new(ROOT).join("editors/vscode").join(relative.trim_start_matches("./"))
}

#[test]
fn language_configuration_matches_the_lexical_structure() {
    let configuration = read_json("editors/vscode/language-configuration.json");
    assert_eq!(configuration["comments"]["lineComment"], "//");
    assert!(configuration["comments"].get("blockComment").is_none(), "integ has no block comments (spec § 2.2)");
    let pairs = |key: &str| -> BTreeSet<(String, String)> {
        configuration[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} is a list"))
            .iter()
            .map(|pair| match pair {
                Value::Array(both) => {
                    (both[0].as_str().unwrap_or("").to_owned(), both[1].as_str().unwrap_or("").to_owned())
                }
                object => (
                    object["open"].as_str().unwrap_or("").to_owned(),
                    object["close"].as_str().unwrap_or("").to_owned(),
                ),
            })
            .collect()
    };
    let brackets: BTreeSet<(String, String)> = [("(", ")"), ("[", "]"), ("{", "}")]
        .iter()
        .map(|(open, close)| (open.to_string(), close.to_string()))
        .collect();
    assert_eq!(pairs("brackets"), brackets);
    let mut closing = brackets.clone();
    closing.insert(("\"".to_owned(), "\"".to_owned()));
    assert_eq!(pairs("autoClosingPairs"), closing, "brackets and quotes close automatically");
    assert_eq!(pairs("surroundingPairs"), closing);

    let regex = |value: &Value| -> fancy_regex::Regex {
        let pattern = value.as_str().unwrap_or_else(|| panic!("{value} is a pattern"));
        fancy_regex::Regex::new(pattern).unwrap_or_else(|error| panic!("{pattern}: {error}"))
    };
    let matches = |regex: &fancy_regex::Regex, text: &str| regex.is_match(text).unwrap_or(false);

    let increase = regex(&configuration["indentationRules"]["increaseIndentPattern"]);
    let decrease = regex(&configuration["indentationRules"]["decreaseIndentPattern"]);
    for opens in
        ["type Order {", "  endpoint list() -> stream Order {", "  let x = f(", "  tags: [", "map m(o: O) -> C { // c"]
    {
        assert!(matches(&increase, opens), "`{opens}` indents the next line");
    }
    for plain in ["  email: String", "  let s = \"{a}\"", "  x { y }", "  // {"] {
        assert!(!matches(&increase, plain), "`{plain}` does not indent the next line");
    }
    for closes in ["}", "  }", "  ]", "  )", "  } else {"] {
        assert!(matches(&decrease, closes), "`{closes}` is outdented");
    }
    assert!(!matches(&decrease, "  x }"), "a line ending in `}}` is not outdented");

    let folding_start = regex(&configuration["folding"]["markers"]["start"]);
    let folding_end = regex(&configuration["folding"]["markers"]["end"]);
    assert!(matches(&folding_start, "// region: secrets") && matches(&folding_end, "  // endregion"));

    let word = regex(&configuration["wordPattern"]);
    let words: Vec<&str> = word
        .find_iter("order.total_cents >= 1_000 && o?.updated_at + 250ms != none")
        .filter_map(Result::ok)
        .map(|found| found.as_str())
        .collect();
    assert_eq!(words, ["order", "total_cents", "1_000", "o", "updated_at", "250ms", "none"]);
}

// ---------------------------------------------------------------- the grammar as data

#[test]
fn grammar_patterns_compile_in_the_portable_subset_and_every_rule_is_used() {
    // `Grammar::new` compiles every pattern (Oniguruma mode), rejects constructs whose meaning
    // differs between engines, resolves every include and reports repository entries no rule
    // includes; it returns every problem at once.
    let grammar = grammar();
    assert!(grammar.pattern_count() > 50, "the grammar was read: {} patterns", grammar.pattern_count());
}

#[test]
fn the_engine_rejects_what_the_grammar_must_not_contain() {
    // The checks above can fail: an unknown include, a non-portable flag and an unused entry.
    let broken = serde_json::json!({
        "scopeName": "source.broken",
        "patterns": [{ "include": "#missing" }, { "match": "(?m)^x$", "name": "a" }, { "match": "(" }],
        "repository": { "unused": { "match": "y", "name": "b" } }
    });
    let errors = Grammar::new(&broken).err().expect("the broken grammar is rejected");
    let all = errors.join("\n");
    assert!(all.contains("#missing"), "{all}");
    assert!(all.contains("(?m"), "{all}");
    assert!(all.contains("does not compile"), "{all}");
    assert!(all.contains("`unused` is never included"), "{all}");

    // A match rule that matches the empty string would loop forever in an editor.
    let looping = serde_json::json!({ "scopeName": "source.loop", "patterns": [{ "match": "x*", "name": "a" }] });
    let grammar = Grammar::new(&looping).expect("the grammar itself is well formed");
    let error = grammar.tokenize("y").expect_err("the empty match is reported");
    assert!(error.contains("empty"), "{error}");
}

// ---------------------------------------------------------------- keywords and names

/// A program that uses every keyword as a keyword (never as a key or after `.`).
const EVERY_KEYWORD: &str = r#"import "std/hash"
secret token = env("TOKEN")
auth shop_auth = bearer(token)
type Order { id: Int }
enum Kind { a }
native fn twice(x: Int) -> Int
fn pick(x: Int) -> Int = match x {
  1 => if true { 1 } else { 2 }
  _ => 0
}
map to_order(o: Order) -> Order {
  id: o.id
}
policy careful {
  retry: none
}
api Shop {
  endpoint list() -> stream Order {
    GET "/orders"
  }
}
flow sync {
  trigger: manual
  state since: Int = 0
  payload event: Order
  let seen = 1
  for o in Shop.list() where o.id > 0 dedupe o.id {
    if false { skip } else { fail "no" }
  }
  log "done"
  Shop.list() catch { _ => ignore }
}
test "sync" {
  given Shop.list returns []
  run sync
  expect since == 0
}
"#;

/// Whether a scope marks a keyword or a language constant.
fn is_keyword_scope(scope: &str) -> bool {
    scope.starts_with("keyword.") || scope.starts_with("storage.") || scope.starts_with("constant.language.")
}

/// The keywords of the pest grammar: the `kw_*` rules and the literal keywords.
fn pest_keywords() -> BTreeSet<String> {
    let pest = read("compiler/src/syntax/grammar.pest");
    let mut keywords = BTreeSet::new();
    for line in pest.lines() {
        let line = line.trim_start();
        let is_keyword_rule = line.starts_with("kw_") || line.starts_with("bool_lit") || line.starts_with("none_lit");
        if is_keyword_rule && let Some(body) = line.split_once("@{").map(|(_, body)| body) {
            keywords.extend(quoted_words(body));
        }
    }
    keywords
}

/// The words in double quotes in a line of the pest grammar.
fn quoted_words(text: &str) -> Vec<String> {
    text.split('"').skip(1).step_by(2).filter(|word| !word.is_empty()).map(str::to_owned).collect()
}

/// The words of the pest rule `name`, which may span several lines.
fn pest_rule_words(name: &str) -> Vec<String> {
    let pest = read("compiler/src/syntax/grammar.pest");
    let start = pest.find(&format!("\n{name} ")).unwrap_or_else(|| panic!("the pest grammar has a rule `{name}`"));
    let rest = &pest[start + 1..];
    let end = rest.find("}\n").unwrap_or(rest.len());
    quoted_words(&rest[..end])
}

/// The keyword list of spec § 2.3.
fn spec_keywords() -> BTreeSet<String> {
    let spec = read("spec.md");
    let after = spec.split_once("The keywords are:").expect("spec § 2.3 lists the keywords").1;
    let block = after.split("```").nth(1).expect("the keyword list is a code block");
    block.lines().skip(1).flat_map(str::split_whitespace).map(str::to_owned).collect()
}

#[test]
fn every_keyword_of_the_language_is_highlighted_as_a_keyword() {
    let from_pest = pest_keywords();
    let from_spec = spec_keywords();
    assert!(from_pest.len() >= 30, "the pest keywords were read: {from_pest:?}");
    assert_eq!(from_pest, from_spec, "the pest grammar and spec § 2.3 list the same keywords");

    let grammar = grammar();
    let tokens: Vec<Token> = tokenize(&grammar, EVERY_KEYWORD).into_iter().flatten().collect();
    let mut missing = Vec::new();
    for keyword in &from_pest {
        let uses: Vec<&Token> = tokens.iter().filter(|token| token.text == *keyword).collect();
        if uses.is_empty() {
            missing.push(format!("`{keyword}` does not occur as a token of the program"));
        }
        for token in uses {
            if !token.scopes.iter().any(|scope| is_keyword_scope(scope)) {
                missing.push(format!("`{keyword}` has the scopes {:?}", token.scopes));
            }
        }
    }
    assert!(missing.is_empty(), "keywords not highlighted:\n{}", missing.join("\n"));
}

#[test]
fn http_methods_log_levels_and_scalar_types_are_highlighted() {
    let grammar = grammar();
    let methods: Vec<String> = pest_rule_words("clause_word")
        .into_iter()
        .filter(|word| word.chars().all(|c| c.is_ascii_uppercase()))
        .collect();
    assert_eq!(methods.len(), 7, "the seven methods of spec § 10.3: {methods:?}");
    for method in &methods {
        let source = format!("api A {{\n  endpoint e() {{\n    {method} \"/x\"\n  }}\n}}\n");
        assert_scope(&grammar, &source, method, "keyword.other.http-method.integ");
    }

    let levels = pest_rule_words("log_level");
    assert_eq!(levels, ["debug", "info", "warn", "error"]);
    for level in &levels {
        let source = format!("flow f {{\n  log {level} \"x\"\n}}\n");
        assert_scope(&grammar, &source, level, "support.constant.log-level.integ");
    }

    // The scalar types of spec § 4.1, in each type position: fields, parameters, results, lets.
    let spec = read("spec.md");
    let section = spec.split_once("### 4.1 Scalar types").expect("spec § 4.1").1;
    let section = section.split("### 4.2").next().unwrap_or(section);
    let scalars: Vec<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(name, _)| name))
        .collect();
    assert_eq!(scalars.len(), 9, "the scalar types of spec § 4.1: {scalars:?}");
    for scalar in scalars {
        for source in [
            format!("type T {{\n  a: {scalar}? @format(unix)\n}}\n"),
            format!("fn f(a: [{scalar}]) -> {{String: {scalar}}} = a\n"),
            format!("map m(a: A) -> {scalar} {{\n}}\n"),
            format!("flow f {{\n  let a: {scalar}? = none\n}}\n"),
        ] {
            assert_scope(&grammar, &source, scalar, "support.type.primitive.integ");
        }
    }
}

/// Every token `text` of `source` has `scope`, and there is at least one.
fn assert_scope(grammar: &Grammar, source: &str, text: &str, scope: &str) {
    let tokens: Vec<Token> = tokenize(grammar, source).into_iter().flatten().collect();
    let uses: Vec<&Token> = tokens.iter().filter(|token| token.text == text).collect();
    assert!(!uses.is_empty(), "`{text}` is a token of:\n{source}\ntokens: {tokens:#?}");
    for token in uses {
        assert!(
            token.scopes.iter().any(|have| have == scope),
            "`{text}` has {scope} in:\n{source}\n{:?}",
            token.scopes
        );
    }
}

/// The scopes of the token `text` on line `line` (from 1) of `source`, without the root scope.
fn scopes_of(grammar: &Grammar, source: &str, line: usize, text: &str) -> Vec<String> {
    let lines = tokenize(grammar, source);
    let tokens = lines.get(line - 1).unwrap_or_else(|| panic!("line {line} of:\n{source}"));
    let token = tokens
        .iter()
        .find(|token| token.text == text)
        .unwrap_or_else(|| panic!("no token `{text}` on line {line} of:\n{source}\n{tokens:#?}"));
    token.scopes[1..].to_vec()
}

#[test]
fn declaration_names_get_entity_scopes() {
    let grammar = grammar();
    let source = "type Order { id: Int }\nenum Kind { a }\napi Shop {\n  endpoint list(since: DateTime?) -> stream Order {\n  }\n}\nfn key<T: Comparable>(x: T) -> String = \"k\"\nmap to_contact(o: Order) -> Contact {\n}\nflow sync {\n}\npolicy careful {\n}\nsecret token = env(\"T\")\nauth crm = bearer(token)\n";
    for (line, text, scope) in [
        (1, "Order", "entity.name.type.record.integ"),
        (2, "Kind", "entity.name.type.enum.integ"),
        (2, "a", "variable.other.enummember.integ"),
        (3, "Shop", "entity.name.type.api.integ"),
        (4, "list", "entity.name.function.endpoint.integ"),
        (4, "since", "variable.parameter.integ"),
        (4, "Order", "entity.name.type.integ"),
        (7, "key", "entity.name.function.integ"),
        (7, "T", "entity.name.type.parameter.integ"),
        (7, "Comparable", "entity.name.type.integ"),
        (8, "to_contact", "entity.name.function.map.integ"),
        (8, "Contact", "entity.name.type.integ"),
        (10, "sync", "entity.name.function.flow.integ"),
        (12, "careful", "entity.name.variable.policy.integ"),
        (14, "token", "entity.name.variable.secret.integ"),
        (15, "crm", "entity.name.variable.auth.integ"),
    ] {
        let scopes = scopes_of(&grammar, source, line, text);
        assert!(scopes.iter().any(|have| have == scope), "line {line}: `{text}` has {scope}: {scopes:?}");
    }
}

#[test]
fn keywords_as_keys_and_members_are_not_keywords() {
    // Spec § 2.3: a keyword may be a field name, an object key, a setting name or follow `.`.
    let grammar = grammar();
    let source = "type T {\n  type: String\n}\napi A {\n  policy: careful\n  auth: none\n}\nfn f(o: T) -> Json = { state: o.type, map: o.map(x => x) }\n";
    for (line, text, scope) in [
        (2, "type", "variable.other.property.integ"),
        (5, "policy", "support.type.property-name.integ"),
        (6, "auth", "support.type.property-name.integ"),
        (8, "state", "variable.other.property.integ"),
        (8, "type", "variable.other.property.integ"),
        (8, "map", "variable.other.property.integ"),
        (8, "x", "variable.parameter.integ"),
    ] {
        let scopes = scopes_of(&grammar, source, line, text);
        assert!(scopes.iter().any(|have| have == scope), "line {line}: `{text}` has {scope}: {scopes:?}");
        assert!(!scopes.iter().any(|have| is_keyword_scope(have)), "line {line}: `{text}` is no keyword: {scopes:?}");
    }
    // The member call `o.map(...)`: the second `map` on line 8.
    let tokens = &tokenize(&grammar, source)[7];
    let maps: Vec<&Token> = tokens.iter().filter(|token| token.text == "map").collect();
    assert_eq!(maps.len(), 2);
    assert!(maps[1].scopes.iter().any(|scope| scope == "entity.name.function.member.integ"), "{:?}", maps[1].scopes);
}

// ---------------------------------------------------------------- literals, strings, comments

#[test]
fn quantities_and_numbers_get_their_kind() {
    let grammar = grammar();
    let source = "fn f() -> Json = [250ms, 1.5s, 5m, 2h, 1d, 512B, 64KB, 1MiB, 5xx, 10sec, 1mb, 12.50, 1_000, 42]\n";
    for (text, scope) in [
        ("250", "constant.numeric.duration.integ"),
        ("ms", "keyword.other.unit.integ"),
        ("1.5", "constant.numeric.duration.integ"),
        ("m", "constant.numeric.duration.integ"),
        ("64", "constant.numeric.size.integ"),
        ("KB", "keyword.other.unit.integ"),
        ("MiB", "keyword.other.unit.integ"),
        ("5xx", "constant.numeric.status-class.integ"),
        ("sec", "invalid.illegal.unit.integ"),
        ("mb", "invalid.illegal.unit.integ"),
        ("12.50", "constant.numeric.decimal.integ"),
        ("1_000", "constant.numeric.integer.integ"),
        ("42", "constant.numeric.integer.integ"),
    ] {
        let scopes = scopes_of(&grammar, source, 1, text);
        assert!(scopes.iter().any(|have| have == scope), "`{text}` has {scope}: {scopes:?}");
    }
}

#[test]
fn strings_interpolate_nested_expressions_and_mark_escapes() {
    let grammar = grammar();
    let source =
        "fn f(a: String?) -> String = \"x {a ?? \"in {len(a)}\"} \\{lit\\} \\u{1F600} \\t \\q\"\nfn g() -> Int = 1\n";
    let line = &tokenize(&grammar, source)[0];
    let find = |text: &str, nth: usize| -> Vec<String> {
        line.iter()
            .filter(|token| token.text == text)
            .nth(nth)
            .unwrap_or_else(|| panic!("token `{text}` #{nth} in {line:#?}"))
            .scopes[1..]
            .to_vec()
    };
    assert_eq!(
        find("a", 1),
        ["string.quoted.double.integ", "meta.interpolation.integ", "meta.embedded.line.integ", "variable.other.integ"]
    );
    assert_eq!(find("??", 0)[3], "keyword.operator.coalesce.integ");
    // The string inside the interpolation, and its own interpolation.
    assert_eq!(find("in ", 0)[3], "string.quoted.double.integ");
    assert_eq!(find("len", 0)[6], "entity.name.function.call.integ");
    assert_eq!(find("\\{", 0), ["string.quoted.double.integ", "constant.character.escape.integ"]);
    assert_eq!(find("\\u{1F600}", 0), ["string.quoted.double.integ", "constant.character.escape.integ"]);
    assert_eq!(find("\\t", 0), ["string.quoted.double.integ", "constant.character.escape.integ"]);
    assert_eq!(find("\\q", 0), ["string.quoted.double.integ", "invalid.illegal.escape.integ"]);
    // The string closed: the next declaration is read as one.
    assert_eq!(scopes_of(&grammar, source, 2, "g"), ["entity.name.function.integ"]);

    // A string must end on its line (spec § 2.4): an unterminated one does not run on.
    let unterminated = "fn f() -> String = \"open {x\nfn g() -> Int = 1\n";
    assert_eq!(scopes_of(&grammar, unterminated, 2, "g"), ["entity.name.function.integ"]);
}

#[test]
fn comments_doc_comments_and_attributes() {
    let grammar = grammar();
    let source = "/// The `Order` type.\n/// example: trim(\" a \") == \"a\"\ntype Order {\n  // not docs\n  id: Int @wire(\"ID\") @format(string)\n  total: Decimal // cents / 100\n}\n";
    assert_eq!(
        scopes_of(&grammar, source, 1, "///"),
        ["comment.line.documentation.integ", "punctuation.definition.comment.integ"]
    );
    assert_eq!(
        scopes_of(&grammar, source, 1, "`Order`"),
        ["comment.line.documentation.integ", "markup.inline.raw.integ"]
    );
    assert_eq!(
        scopes_of(&grammar, source, 2, "trim"),
        ["comment.line.documentation.integ", "meta.embedded.line.integ", "entity.name.function.call.integ"]
    );
    assert_eq!(scopes_of(&grammar, source, 4, " not docs"), ["comment.line.double-slash.integ"]);
    let wire = scopes_of(&grammar, source, 5, "wire");
    assert!(wire.ends_with(&["storage.type.annotation.integ".to_owned()]), "{wire:?}");
    let string = scopes_of(&grammar, source, 5, "string");
    assert!(string.ends_with(&["variable.other.integ".to_owned()]), "the format name is an argument: {string:?}");
    let comment = scopes_of(&grammar, source, 6, " cents / 100");
    assert!(comment.contains(&"comment.line.double-slash.integ".to_owned()), "{comment:?}");
    assert_eq!(
        scopes_of(&grammar, source, 6, "Decimal").last().map(String::as_str),
        Some("support.type.primitive.integ")
    );
}

#[test]
fn an_unclosed_brace_does_not_hide_the_next_declaration() {
    // As the parser does (spec § 2.7), the grammar restarts at a declaration head.
    let grammar = grammar();
    let source = "map m(o: O) -> C {\n  a: { b: [ (1\n\ntype T {\n  id: Int\n}\nflow f {\n  for x in xs {\n\napi A {\n  endpoint e(\n}\n";
    let (lines, open) = grammar.tokenize(source).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(lines.len(), 12);
    assert_eq!(scopes_of(&grammar, source, 4, "T"), ["entity.name.type.record.integ"]);
    assert_eq!(scopes_of(&grammar, source, 5, "id").last().map(String::as_str), Some("variable.other.property.integ"));
    assert_eq!(scopes_of(&grammar, source, 10, "A"), ["entity.name.type.api.integ"]);
    assert!(open > 0, "the unclosed api is still open at the end");
}

// ---------------------------------------------------------------- whole programs

/// Every `.integ` file under `directory`, sorted.
fn integ_files(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            integ_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "integ") {
            found.push(path);
        }
    }
}

/// What is wrong with the tokens of a program that checks clean: a rule left open at the end, or
/// an `invalid.illegal` token.
fn problems(grammar: &Grammar, label: &str, source: &str) -> Vec<String> {
    let (lines, open) = match grammar.tokenize(source) {
        Ok(result) => result,
        Err(error) => return vec![format!("{label}: {error}")],
    };
    let mut problems = Vec::new();
    if open != 0 {
        problems.push(format!("{label}: {open} rules still open at the end of the file"));
    }
    for (number, tokens) in lines.iter().enumerate() {
        for token in tokens {
            if token.scopes.iter().any(|scope| scope.starts_with("invalid.")) {
                problems.push(format!("{label}:{}: `{}` is {:?}", number + 1, token.text, token.scopes));
            }
        }
    }
    problems
}

#[test]
fn examples_stdlib_and_spec_examples_close_every_scope() {
    let grammar = grammar();
    let mut files = Vec::new();
    for directory in ["examples", "stdlib", "tests/editors"] {
        integ_files(&Path::new(ROOT).join(directory), &mut files);
    }
    assert!(files.len() >= 8, "the examples and the standard library were found: {files:?}");
    let mut all = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        all.extend(problems(&grammar, &path.display().to_string(), &source));
    }
    // The spec's examples that check clean; those that expect diagnostics are only tokenised.
    let spec = read("spec.md");
    let blocks = support::spec_blocks(&spec);
    assert!(blocks.len() > 40, "the spec's examples were read: {}", blocks.len());
    for (line, block) in blocks {
        let label = format!("spec.md:{line}");
        if block.starts_with("// expect:") {
            if let Err(error) = grammar.tokenize(&block) {
                all.push(format!("{label}: {error}"));
            }
        } else {
            all.extend(problems(&grammar, &label, &block));
        }
    }
    assert!(all.is_empty(), "{} problems:\n{}", all.len(), all.join("\n"));
}

#[test]
fn broken_programs_tokenise_without_looping() {
    // The fixtures hold programs with every kind of error, syntax errors among them.
    let grammar = grammar();
    let mut files = Vec::new();
    integ_files(&Path::new(ROOT).join("tests/fixtures"), &mut files);
    assert!(files.len() > 20, "the fixtures were found");
    let errors: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let source = std::fs::read_to_string(path).ok()?;
            grammar.tokenize(&source).err().map(|error| format!("{}: {error}", path.display()))
        })
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // Truncations of a real program, cut anywhere, as while typing (a prime step, so that the cuts
    // fall at every kind of place).
    let sample = read("tests/editors/sample.integ");
    for (cut, _) in sample.char_indices().step_by(61) {
        if let Err(error) = grammar.tokenize(&sample[..cut]) {
            panic!("sample.integ cut at byte {cut}: {error}");
        }
    }
}

#[test]
fn sample_scopes() {
    let grammar = grammar();
    let source = read("tests/editors/sample.integ");
    insta::assert_snapshot!(render(&grammar, &source));
}

/// The source, each line followed by its tokens and their scopes (the root scope left out;
/// whitespace-only tokens too).
fn render(grammar: &Grammar, source: &str) -> String {
    let mut out = String::new();
    for (number, (line, tokens)) in source.lines().zip(tokenize(grammar, source)).enumerate() {
        out.push_str(&format!("{:>4} | {line}\n", number + 1));
        for token in tokens.iter().filter(|token| !token.text.trim().is_empty()) {
            let scopes = if token.scopes.len() > 1 { token.scopes[1..].join(" ") } else { "-".to_owned() };
            out.push_str(&format!("     | {:<22} {scopes}\n", format!("{:?}", token.text)));
        }
    }
    out
}

/// A TextMate tokenizer: enough of what VS Code's vscode-textmate does for this grammar.
///
/// Lines are tokenised one at a time with `\n` appended (as editors do); at each position every
/// candidate pattern of the innermost open rule is searched from there, together with that rule's
/// `end`, and the earliest match wins (on a tie: `end` first, then the first pattern listed). A
/// `begin` match opens its rule, an `end` match closes it. Captures name parts of a match;
/// `contentName` names what lies between `begin` and `end`. Not supported (the grammar does not
/// use them, and [`Grammar::new`] rejects them): `while`, back-references from `end` to `begin`,
/// `\G`, `$n` in scope names and grammars other than this one.
mod textmate {
    use std::collections::{BTreeSet, HashMap};

    use fancy_regex::{Captures, Regex, RegexBuilder};
    use serde_json::Value;

    type RuleId = usize;

    /// The scope of each capture group by its number.
    type CaptureNames = Vec<(usize, String)>;

    enum Rule {
        Match {
            name: Option<String>,
            regex: Regex,
            captures: CaptureNames,
        },
        BeginEnd {
            name: Option<String>,
            content_name: Option<String>,
            begin: Regex,
            end: Regex,
            begin_captures: CaptureNames,
            end_captures: CaptureNames,
            patterns: Vec<RuleId>,
        },
        Include(String),
        Group(Vec<RuleId>),
    }

    pub struct Grammar {
        scope_name: String,
        rules: Vec<Rule>,
        root: Vec<RuleId>,
        repository: HashMap<String, RuleId>,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct Token {
        pub text: String,
        pub scopes: Vec<String>,
    }

    struct Frame {
        rule: RuleId,
        /// The scopes inside the rule (its name and content name).
        inner: Vec<String>,
        /// The scopes of its `begin` and `end` (its name, not its content name).
        outer: Vec<String>,
        /// Where on the current line it was opened; `None` for an earlier line.
        opened_at: Option<usize>,
    }

    enum Found {
        End,
        Rule(RuleId),
    }

    /// Constructs that Oniguruma and fancy-regex (or other engines editors use) read differently.
    const NOT_PORTABLE: [(&str, &str); 5] = [
        ("(?m", "Oniguruma's `m` is dot-all, not multi-line"),
        ("(?s", "no dot-all flag in Oniguruma's Ruby syntax"),
        ("\\h", "`\\h` is a hex digit in Oniguruma, horizontal space elsewhere"),
        ("\\G", "`\\G` depends on the engine's anchor position"),
        ("\\A", "a line is tokenised alone: use `^`"),
    ];

    impl Grammar {
        /// Reads a grammar, compiling every pattern; every problem is reported.
        pub fn new(json: &Value) -> Result<Grammar, Vec<String>> {
            let mut builder = Builder { rules: Vec::new(), errors: Vec::new() };
            let root = builder.patterns(json.get("patterns"), "patterns");
            let mut repository = HashMap::new();
            if let Some(entries) = json.get("repository").and_then(Value::as_object) {
                for (name, rule) in entries {
                    let id = builder.rule(rule, &format!("repository.{name}"));
                    repository.insert(name.clone(), id);
                }
            }
            let scope_name = json.get("scopeName").and_then(Value::as_str).unwrap_or("").to_owned();
            let grammar = Grammar { scope_name, rules: builder.rules, root, repository };
            let mut errors = builder.errors;
            // Every include resolves, and every repository entry is included somewhere.
            let mut included = BTreeSet::new();
            for rule in &grammar.rules {
                if let Rule::Include(target) = rule {
                    match target.strip_prefix('#') {
                        Some(name) if grammar.repository.contains_key(name) => {
                            included.insert(name.to_owned());
                        }
                        None if target == "$self" || target == "$base" => {}
                        _ => errors.push(format!("include `{target}` names no repository entry")),
                    }
                }
            }
            let mut unused: Vec<&String> = grammar.repository.keys().filter(|name| !included.contains(*name)).collect();
            unused.sort();
            errors.extend(unused.into_iter().map(|name| format!("repository entry `{name}` is never included")));
            if errors.is_empty() { Ok(grammar) } else { Err(errors) }
        }

        pub fn pattern_count(&self) -> usize {
            self.rules.iter().filter(|rule| matches!(rule, Rule::Match { .. } | Rule::BeginEnd { .. })).count()
        }

        /// The tokens of every line, and how many rules are still open at the end.
        pub fn tokenize(&self, source: &str) -> Result<(Vec<Vec<Token>>, usize), String> {
            let mut stack: Vec<Frame> = Vec::new();
            let mut lines = Vec::new();
            for (number, line) in source.lines().enumerate() {
                for frame in &mut stack {
                    frame.opened_at = None;
                }
                let tokens =
                    self.tokenize_line(line, &mut stack).map_err(|error| format!("line {}: {error}", number + 1))?;
                lines.push(tokens);
            }
            Ok((lines, stack.len()))
        }

        fn tokenize_line(&self, line: &str, stack: &mut Vec<Frame>) -> Result<Vec<Token>, String> {
            let text = format!("{line}\n");
            let mut tokens: Vec<Token> = Vec::new();
            let mut position = 0;
            // Each step advances, or opens or closes a rule; a bound catches what the checks miss.
            for _ in 0..100 * text.len() + 100 {
                let (scopes, patterns, end) = match stack.last() {
                    Some(frame) => match &self.rules[frame.rule] {
                        Rule::BeginEnd { end, patterns, .. } => (frame.inner.clone(), patterns.as_slice(), Some(end)),
                        _ => return Err("a frame that is not a begin/end rule".to_owned()),
                    },
                    None => (vec![self.scope_name.clone()], self.root.as_slice(), None),
                };
                let mut best: Option<(usize, Found, Captures<'_, str>)> = None;
                if let Some(end) = end
                    && let Some(captures) = search(end, &text, position)?
                {
                    best = Some((start_of(&captures), Found::End, captures));
                }
                let mut candidates = Vec::new();
                self.flatten(patterns, &mut candidates, &mut BTreeSet::new());
                for id in candidates {
                    let regex = match &self.rules[id] {
                        Rule::Match { regex, .. } => regex,
                        Rule::BeginEnd { begin, .. } => begin,
                        _ => continue,
                    };
                    if let Some(captures) = search(regex, &text, position)? {
                        let start = start_of(&captures);
                        if best.as_ref().is_none_or(|(best_start, _, _)| start < *best_start) {
                            best = Some((start, Found::Rule(id), captures));
                        }
                    }
                }
                let Some((start, found, captures)) = best else {
                    push(&mut tokens, &text[position..], &scopes);
                    return Ok(finish(tokens, line.len()));
                };
                push(&mut tokens, &text[position..start], &scopes);
                let end_position = captures.get(0).map_or(start, |whole| whole.end());
                match found {
                    Found::End => {
                        let Some(frame) = stack.pop() else { return Err("closed a rule that is not open".to_owned()) };
                        let Rule::BeginEnd { end_captures, .. } = &self.rules[frame.rule] else { unreachable!() };
                        emit(&mut tokens, &text, &frame.outer, end_captures, &captures);
                        if end_position == position && frame.opened_at == Some(position) {
                            return Err(format!("a rule opened and closed at column {position} without advancing"));
                        }
                    }
                    Found::Rule(id) => match &self.rules[id] {
                        Rule::Match { name, captures: names, .. } => {
                            if end_position == position {
                                return Err(format!("a match rule matched the empty string at column {position}"));
                            }
                            emit(&mut tokens, &text, &with(&scopes, name), names, &captures);
                        }
                        Rule::BeginEnd { name, content_name, begin_captures, .. } => {
                            let outer = with(&scopes, name);
                            emit(&mut tokens, &text, &outer, begin_captures, &captures);
                            if end_position == position && stack.last().is_some_and(|frame| frame.rule == id) {
                                return Err(format!("a rule was opened twice at column {position} without advancing"));
                            }
                            let inner = with(&outer, content_name);
                            stack.push(Frame { rule: id, inner, outer, opened_at: Some(position) });
                        }
                        _ => return Err("matched a rule that has no pattern".to_owned()),
                    },
                }
                position = end_position;
            }
            Err("the line did not finish: the grammar loops".to_owned())
        }

        /// The match and begin/end rules of `patterns`, includes expanded, in order.
        fn flatten(&self, patterns: &[RuleId], out: &mut Vec<RuleId>, seen: &mut BTreeSet<RuleId>) {
            for &id in patterns {
                if !seen.insert(id) {
                    continue;
                }
                match &self.rules[id] {
                    Rule::Match { .. } | Rule::BeginEnd { .. } => out.push(id),
                    Rule::Group(inner) => self.flatten(inner, out, seen),
                    Rule::Include(target) => {
                        if target == "$self" || target == "$base" {
                            self.flatten(&self.root, out, seen);
                        } else if let Some(&target) =
                            target.strip_prefix('#').and_then(|name| self.repository.get(name))
                        {
                            self.flatten(&[target], out, seen);
                        }
                    }
                }
            }
        }
    }

    fn search<'t>(regex: &Regex, text: &'t str, position: usize) -> Result<Option<Captures<'t, str>>, String> {
        regex.captures_from_pos(text, position).map_err(|error| format!("`{}` failed: {error}", regex.as_str()))
    }

    fn start_of(captures: &Captures<'_, str>) -> usize {
        captures.get(0).map_or(0, |whole| whole.start())
    }

    fn with(scopes: &[String], name: &Option<String>) -> Vec<String> {
        let mut scopes = scopes.to_vec();
        scopes.extend(name.iter().cloned());
        scopes
    }

    /// Appends a token, merged with the previous one when the scopes are the same.
    fn push(tokens: &mut Vec<Token>, text: &str, scopes: &[String]) {
        if text.is_empty() {
            return;
        }
        if let Some(last) = tokens.last_mut()
            && last.scopes == scopes
        {
            last.text.push_str(text);
            return;
        }
        tokens.push(Token { text: text.to_owned(), scopes: scopes.to_vec() });
    }

    /// The tokens of a match: the text between the boundaries of its named captures, each part
    /// with the scopes of the captures that cover it (outer groups first).
    fn emit(
        tokens: &mut Vec<Token>,
        text: &str,
        scopes: &[String],
        names: &CaptureNames,
        captures: &Captures<'_, str>,
    ) {
        let Some(whole) = captures.get(0) else { return };
        let spans: Vec<(usize, usize, &String)> = names
            .iter()
            .filter_map(|(group, name)| captures.get(*group).map(|found| (found.start(), found.end(), name)))
            .filter(|(start, end, _)| start < end)
            .collect();
        let mut bounds: Vec<usize> = vec![whole.start(), whole.end()];
        bounds.extend(spans.iter().flat_map(|(start, end, _)| [*start, *end]));
        bounds.sort_unstable();
        bounds.dedup();
        for pair in bounds.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            let mut part = scopes.to_vec();
            part.extend(
                spans.iter().filter(|(start, end, _)| *start <= from && to <= *end).map(|(_, _, name)| (*name).clone()),
            );
            push(tokens, &text[from..to], &part);
        }
    }

    /// The tokens of the line without the `\n` that was appended.
    fn finish(tokens: Vec<Token>, length: usize) -> Vec<Token> {
        let mut kept = Vec::new();
        let mut offset = 0;
        for mut token in tokens {
            if offset >= length {
                break;
            }
            let room = length - offset;
            offset += token.text.len();
            if token.text.len() > room {
                token.text.truncate(room);
            }
            kept.push(token);
        }
        kept
    }

    struct Builder {
        rules: Vec<Rule>,
        errors: Vec<String>,
    }

    impl Builder {
        fn patterns(&mut self, patterns: Option<&Value>, path: &str) -> Vec<RuleId> {
            match patterns {
                None => Vec::new(),
                Some(Value::Array(list)) => {
                    list.iter().enumerate().map(|(index, rule)| self.rule(rule, &format!("{path}[{index}]"))).collect()
                }
                Some(_) => {
                    self.errors.push(format!("{path}: `patterns` is not a list"));
                    Vec::new()
                }
            }
        }

        fn rule(&mut self, json: &Value, path: &str) -> RuleId {
            let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
            for key in ["while", "applyEndPatternLast"] {
                if json.get(key).is_some() {
                    self.errors.push(format!("{path}: `{key}` is not supported by this engine"));
                }
            }
            for name in [text("name"), text("contentName")].into_iter().flatten() {
                if name.contains('$') {
                    self.errors.push(format!("{path}: capture references in scope names are not supported: {name}"));
                }
            }
            let rule = if let Some(target) = text("include") {
                Rule::Include(target)
            } else if let Some(pattern) = text("match") {
                Rule::Match {
                    name: text("name"),
                    regex: self.regex(&pattern, path),
                    captures: self.captures(json, "captures", path),
                }
            } else if let (Some(begin), Some(end)) = (text("begin"), text("end")) {
                if end.contains('\\')
                    && end.chars().zip(end.chars().skip(1)).any(|(a, b)| a == '\\' && b.is_ascii_digit())
                {
                    self.errors.push(format!("{path}: back-references in `end` are not supported: {end}"));
                }
                let captures = self.captures(json, "captures", path);
                let begin_captures = self.captures(json, "beginCaptures", path);
                let end_captures = self.captures(json, "endCaptures", path);
                Rule::BeginEnd {
                    name: text("name"),
                    content_name: text("contentName"),
                    begin: self.regex(&begin, path),
                    end: self.regex(&end, path),
                    begin_captures: if begin_captures.is_empty() { captures.clone() } else { begin_captures },
                    end_captures: if end_captures.is_empty() { captures } else { end_captures },
                    patterns: self.patterns(json.get("patterns"), &format!("{path}.patterns")),
                }
            } else if json.get("begin").is_some() || json.get("end").is_some() {
                self.errors.push(format!("{path}: `begin` without `end` or the reverse"));
                Rule::Group(Vec::new())
            } else {
                Rule::Group(self.patterns(json.get("patterns"), &format!("{path}.patterns")))
            };
            self.rules.push(rule);
            self.rules.len() - 1
        }

        fn captures(&mut self, json: &Value, key: &str, path: &str) -> CaptureNames {
            let Some(entries) = json.get(key).and_then(Value::as_object) else { return Vec::new() };
            let mut names = Vec::new();
            for (group, capture) in entries {
                if capture.get("patterns").is_some() {
                    self.errors.push(format!("{path}.{key}.{group}: patterns in captures are not supported"));
                }
                match (group.parse::<usize>(), capture.get("name").and_then(Value::as_str)) {
                    (Ok(group), Some(name)) => names.push((group, name.to_owned())),
                    _ => self.errors.push(format!("{path}.{key}.{group}: a capture needs a number and a name")),
                }
            }
            names.sort();
            names
        }

        fn regex(&mut self, pattern: &str, path: &str) -> Regex {
            for (construct, why) in NOT_PORTABLE {
                if pattern.contains(construct) {
                    self.errors.push(format!("{path}: `{pattern}` uses `{construct}`: {why}"));
                }
            }
            // Oniguruma's `^` and `$` are line anchors: multi-line mode in fancy-regex.
            match RegexBuilder::new(pattern).oniguruma_mode(true).multi_line(true).build() {
                Ok(regex) => regex,
                Err(error) => {
                    self.errors.push(format!("{path}: `{pattern}` does not compile: {error}"));
                    Regex::new("$^").unwrap_or_else(|_| unreachable!("a constant pattern"))
                }
            }
        }
    }
}
