//! Turning pest's parse errors into diagnostics people can act on.
//!
//! In: a pest error for the text starting at `base`. Out: one diagnostic with
//! friendly names for what was expected (never "expected ident_char"), what
//! was found, and a dedicated message for the common mistakes: `=` where `:`
//! belongs, a stray `,`, a missing `}` before the next declaration.

use std::sync::Mutex;

use pest::Parser as _;
use pest::error::{Error, ErrorVariant, InputLocation};

use super::parser::{IntegParser, Rule};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// Serialises re-parses with pest's error detail switched on: the switch is
/// process-wide, and a parse only reads it when it starts.
static DETAIL: Mutex<()> = Mutex::new(());

/// What the grammar expected at the failure, from a re-parse with details.
struct Expected {
    /// Where the parse failed, relative to the parsed text.
    position: usize,
    /// Punctuation and keywords, as written (`:`, `}`, `else`).
    tokens: Vec<String>,
    /// Rules that were being parsed, by friendly name (`a field`).
    rules: Vec<&'static str>,
    /// Whether an expression could start here.
    expression: bool,
}

fn expected_at(text: &str) -> Option<Expected> {
    let attempts = {
        let _guard = DETAIL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pest::set_error_detail(true);
        let result = IntegParser::parse(Rule::chunk, text);
        pest::set_error_detail(false);
        result.err()?.parse_attempts()?
    };
    let mut tokens = Vec::new();
    let mut expression = false;
    let mut starts_expression = false;
    for token in attempts.expected_tokens() {
        // Tokens print as themselves, ranges as `a..z`.
        let token = token.to_string();
        if token.len() == 4 && token.is_char_boundary(1) && &token[1..3] == ".." {
            if token.starts_with('0') {
                expression = true;
            }
            continue;
        }
        if token == "BUILTIN_RULE" || token == "//" || token.trim().is_empty() || token == "\u{feff}" {
            continue;
        }
        if matches!(token.as_str(), "!" | "\"" | "(" | "-" | "[" | "_" | "false" | "true" | "none" | "if" | "match") {
            starts_expression = true;
            continue;
        }
        if !tokens.contains(&token) {
            tokens.push(token);
        }
    }
    let mut rules = Vec::new();
    for stack in attempts.call_stacks() {
        let rule = stack.deepest.get_rule().copied().or(stack.parent);
        if let Some(name) = rule.and_then(friendly)
            && !rules.contains(&name)
        {
            rules.push(name);
        }
    }
    // Punctuation that starts an expression means one only where an expression rule failed.
    expression = expression || (starts_expression && rules.contains(&"an expression"));
    if rules.contains(&"a type") {
        tokens.retain(|token| !matches!(token.as_str(), "{" | "[" | "("));
    }
    if expression {
        rules.retain(|name| *name != "an expression");
        tokens.retain(|token| token != "{");
    }
    Some(Expected { position: attempts.max_position, tokens, rules, expression })
}

impl Expected {
    fn describe(&self) -> Option<String> {
        let is_word = |token: &&String| token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        // Keywords listed one by one say less than the rules they start.
        let keep_words = self.rules.is_empty() && !self.expression;
        let mut items: Vec<String> = self
            .tokens
            .iter()
            .filter(|token| keep_words || !is_word(token))
            .map(|token| format!("`{token}`"))
            .collect();
        if items.len() > 6 {
            items.clear();
        }
        for rule in &self.rules {
            let rule = (*rule).to_owned();
            let redundant_declaration = rule == "a declaration" && !items.is_empty();
            if !items.contains(&rule) && !redundant_declaration {
                items.push(rule);
            }
        }
        if self.expression {
            items.push("an expression".to_owned());
        }
        match items.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            [rest @ .., last] => Some(format!("{} or {last}", rest.join(", "))),
        }
    }

    fn has(&self, token: &str) -> bool {
        self.tokens.iter().any(|candidate| candidate == token)
    }
}

/// Converts the error of parsing `text[base..end]`.
pub fn convert(
    file: FileId,
    text: &str,
    base: usize,
    end: usize,
    next_head: Option<usize>,
    error: &Error<Rule>,
) -> Diagnostic {
    if let ErrorVariant::CustomError { message } = &error.variant {
        // pest ran out of stack or of its call budget: the input nests too deeply.
        let position = base
            + match error.location {
                InputLocation::Pos(position) => position,
                InputLocation::Span((start, _)) => start,
            };
        let position = position.min(end);
        let span = Span::new(file, position, (position + 1).min(end.max(position)));
        let _ = next_head;
        return Diagnostic::new(Code::NestingTooDeep, span, "this declaration nests too deeply to parse")
            .label("nested too deeply")
            .note(format!("the parser stopped: {message}"))
            .help("split it with `let` bindings or smaller functions");
    }
    let detail = expected_at(&text[base..end]);
    let position = base
        + match (&detail, &error.location) {
            (Some(detail), _) => detail.position,
            (None, InputLocation::Pos(position)) => *position,
            (None, InputLocation::Span((start, _))) => *start,
        };
    let position = position.min(end);
    // Failures are often recorded before the whitespace that precedes the culprit.
    let mut position = (position + super::parser::trivia_length(&text[position..end])).min(end);
    // A keyword where a name belongs is recorded after the keyword: point at it.
    if detail.as_ref().is_some_and(|detail| detail.rules.contains(&"a name")) {
        let before = text[base..position].trim_end();
        let word_start = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').len();
        let word = &before[word_start..];
        if super::KEYWORDS.contains(&word) && base + word_start > base {
            let preceding = before[..word_start].trim_end();
            if preceding.ends_with(|c: char| c.is_ascii_alphanumeric()) {
                position = base + word_start;
            }
        }
    }
    let positives: Vec<Rule> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let expected = detail.as_ref().and_then(Expected::describe).or_else(|| expected_list(&positives));
    let expects = |token: &str| detail.as_ref().is_some_and(|detail| detail.has(token));
    let found = found_at(text, position, end, next_head);
    let here = Span::new(file, position, position + found.length);

    if found.text == "=" && (expects(":") || positives.iter().any(|rule| expects_colon(*rule))) {
        // `name = value` becomes `name: value`, in house style.
        let spaces = text[..position].len() - text[..position].trim_end_matches([' ', '\t']).len();
        let edit = Span::new(file, position - spaces, position + found.length);
        return Diagnostic::new(Code::EqualsForColon, here, "expected `:`, found `=`")
            .label("use `:` here")
            .note("fields, settings and arguments are written `name: value`; `=` is for `let`, `state` and assignments")
            .fix("replace `=` with `:`", edit, ":");
    }
    if found.text == "," && !expects(",") {
        return Diagnostic::new(Code::StrayComma, here, "unexpected `,`")
            .label("nothing is expected before this comma")
            .help("commas separate items; remove this one")
            .fix("remove the `,`", here, "");
    }
    if (found.kind == Found::NextDeclaration || found.kind == Found::EndOfFile)
        && let Some(open) = unclosed_brace(text, base, position)
    {
        let open_span = Span::new(file, open, open + 1);
        return Diagnostic::new(Code::UnclosedDelimiter, open_span, "unclosed `{`")
            .label("this `{` is never closed")
            .secondary(here, "expected `}` before this")
            .fix("close it with `}`", Span::new(file, position, position), "}\n");
    }
    let message = match &expected {
        Some(expected) => format!("expected {expected}, found {}", found.describe()),
        None => format!("unexpected {}", found.describe()),
    };
    let mut diagnostic = Diagnostic::new(Code::SyntaxError, here, message).label(match &expected {
        Some(expected) => format!("expected {expected}"),
        None => "unexpected here".to_owned(),
    });
    if let Some(help) = hint(&positives, detail.as_ref(), &found, text, position) {
        diagnostic = diagnostic.help(help);
    } else if base == position {
        diagnostic = diagnostic.help(
            "a file is a list of declarations: import, secret, type, enum, api, auth, map, fn, native fn, policy, flow and test",
        );
    }
    diagnostic
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    Token,
    NextDeclaration,
    EndOfFile,
}

struct FoundToken {
    text: String,
    length: usize,
    kind: Found,
}

impl FoundToken {
    fn describe(&self) -> String {
        match self.kind {
            Found::EndOfFile => "the end of the file".to_owned(),
            Found::NextDeclaration => format!("the next declaration (`{}`)", self.text),
            Found::Token => format!("`{}`", self.text),
        }
    }
}

/// The token at `position`: a word, a number, a string or one punctuation character.
fn found_at(text: &str, position: usize, end: usize, next_head: Option<usize>) -> FoundToken {
    if position >= end {
        return match next_head {
            Some(head) => {
                let word: String =
                    text[head..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                FoundToken { length: 0, text: word, kind: Found::NextDeclaration }
            }
            None => FoundToken { text: String::new(), length: 0, kind: Found::EndOfFile },
        };
    }
    let rest = &text[position..end];
    let first = rest.chars().next().unwrap_or(' ');
    let length = if first.is_ascii_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len())
    } else if first == '"' {
        rest[1..].find(['"', '\n']).map(|index| index + 2).unwrap_or(rest.len()).min(rest.len())
    } else {
        ["??", "?.", "=>", "->", "==", "!=", "<=", ">=", "&&", "||"]
            .iter()
            .find(|operator| rest.starts_with(**operator))
            .map(|operator| operator.len())
            .unwrap_or(first.len_utf8())
    };
    let mut token = &rest[..length];
    if first.is_ascii_alphabetic() {
        // Report `a.b` as `a`.
        token = token.split('.').next().unwrap_or(token);
    }
    FoundToken { text: token.to_owned(), length: token.len(), kind: Found::Token }
}

/// Whether the brace opened in `text[base..position]` is still open at `position`.
fn unclosed_brace(text: &str, base: usize, position: usize) -> Option<usize> {
    let mut stack = Vec::new();
    let bytes = text.as_bytes();
    let mut index = base;
    let mut in_string = false;
    while index < position.min(bytes.len()) {
        let byte = bytes[index];
        if in_string {
            match byte {
                b'\\' => index += 1,
                b'"' | b'\n' => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b'/' if bytes.get(index + 1) == Some(&b'/') => {
                    while index < bytes.len() && bytes[index] != b'\n' {
                        index += 1;
                    }
                }
                b'{' => stack.push(index),
                b'}' => {
                    stack.pop();
                }
                _ => {}
            }
        }
        index += 1;
    }
    stack.first().copied()
}

fn expects_colon(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::field
            | Rule::clause
            | Rule::flow_setting
            | Rule::named_arg
            | Rule::obj_field
            | Rule::field_init
            | Rule::param
    )
}

/// Friendly names of what the grammar expected, deduplicated, in a stable order.
fn expected_list(positives: &[Rule]) -> Option<String> {
    let mut names: Vec<&'static str> = Vec::new();
    for rule in positives {
        if let Some(name) = friendly(*rule)
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    match names.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        [rest @ .., last] => Some(format!("{} or {last}", rest.join(", "))),
    }
}

/// The name of a rule in an error message; `None` hides helper rules.
fn friendly(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::ident | Rule::ident_any | Rule::type_name => "a name",
        Rule::keyword => return None,
        Rule::expr | Rule::primary | Rule::postfix_expr | Rule::phrase_atom => "an expression",
        Rule::prefix | Rule::op_not | Rule::op_neg => "an expression",
        Rule::infix
        | Rule::op_coalesce
        | Rule::op_or
        | Rule::op_and
        | Rule::op_eq
        | Rule::op_ne
        | Rule::op_le
        | Rule::op_ge
        | Rule::op_lt
        | Rule::op_gt
        | Rule::op_add
        | Rule::op_sub
        | Rule::op_mul
        | Rule::op_div
        | Rule::op_rem => "an operator",
        Rule::string | Rule::string_text | Rule::escape | Rule::interpolation => "a string",
        Rule::number | Rule::quantity | Rule::unit => "a number",
        Rule::bool_lit => "`true` or `false`",
        Rule::none_lit => "`none`",
        Rule::wildcard => "`_`",
        Rule::type_expr | Rule::named_type | Rule::list_type | Rule::map_type | Rule::fn_type => "a type",
        Rule::optional_mark => "`?`",
        Rule::field => "a field",
        Rule::attribute => "an attribute such as `@wire(\"name\")`",
        Rule::variant => "a variant",
        Rule::params | Rule::param => "a parameter",
        Rule::generics | Rule::generic => "a type parameter",
        Rule::return_type => "`->` and a return type",
        Rule::clause | Rule::flow_setting => "a clause such as `name: value`",
        Rule::setting_value | Rule::phrase => "a value",
        Rule::arms | Rule::arm => "an arm such as `pattern => value`",
        Rule::pattern | Rule::variant_pat => "a pattern",
        Rule::endpoint_decl => "an endpoint",
        Rule::map_body | Rule::field_init => "a field such as `name: value`",
        Rule::state_decl => "`state`",
        Rule::payload_decl => "`payload`",
        Rule::statement
        | Rule::let_stmt
        | Rule::for_stmt
        | Rule::if_stmt
        | Rule::skip_stmt
        | Rule::fail_stmt
        | Rule::log_stmt
        | Rule::assign_stmt
        | Rule::expr_stmt => "a statement",
        Rule::block => "a block `{ ... }`",
        Rule::where_clause => "`where`",
        Rule::dedupe_clause => "`dedupe`",
        Rule::log_level => "a log level",
        Rule::catch_clause | Rule::catch_arm => "a catch arm such as `Api.Error => skip`",
        Rule::given_stmt | Rule::expect_stmt | Rule::run_stmt | Rule::test_item => "`given`, `run`, `expect` or `let`",
        Rule::field_access | Rule::opt_field => "`.`",
        Rule::call_args | Rule::args | Rule::arg | Rule::named_arg => "an argument",
        Rule::index => "`[`",
        Rule::paren_expr => "`(`",
        Rule::list_lit => "a list",
        Rule::object_lit | Rule::obj_field | Rule::record_lit => "a field such as `name: value`",
        Rule::lambda => "a lambda",
        Rule::if_expr => "`if`",
        Rule::match_expr => "`match`",
        Rule::decl_entry
        | Rule::decl
        | Rule::import_decl
        | Rule::secret_decl
        | Rule::type_decl
        | Rule::enum_decl
        | Rule::api_decl
        | Rule::auth_decl
        | Rule::map_decl
        | Rule::fn_decl
        | Rule::policy_decl
        | Rule::flow_decl
        | Rule::test_decl => "a declaration",
        Rule::kw_import => "`import`",
        Rule::kw_secret => "`secret`",
        Rule::kw_type => "`type`",
        Rule::kw_enum => "`enum`",
        Rule::kw_api => "`api`",
        Rule::kw_endpoint => "`endpoint`",
        Rule::kw_auth => "`auth`",
        Rule::kw_map => "`map`",
        Rule::kw_fn => "`fn`",
        Rule::kw_native => "`native`",
        Rule::kw_policy => "`policy`",
        Rule::kw_flow => "`flow`",
        Rule::kw_test => "`test`",
        Rule::kw_let => "`let`",
        Rule::kw_for => "`for`",
        Rule::kw_in => "`in`",
        Rule::kw_where => "`where`",
        Rule::kw_dedupe => "`dedupe`",
        Rule::kw_if => "`if`",
        Rule::kw_else => "`else`",
        Rule::kw_match => "`match`",
        Rule::kw_state => "`state`",
        Rule::kw_payload => "`payload`",
        Rule::kw_skip => "`skip`",
        Rule::kw_fail => "`fail`",
        Rule::kw_log => "`log`",
        Rule::kw_stream => "`stream`",
        Rule::kw_catch => "`catch`",
        Rule::kw_expect => "`expect`",
        Rule::kw_given => "`given`",
        Rule::kw_run => "`run`",
        _ => return None,
    })
}

/// A help line for what the user probably meant.
fn hint(
    positives: &[Rule],
    detail: Option<&Expected>,
    found: &FoundToken,
    text: &str,
    position: usize,
) -> Option<String> {
    let lower = found.text.to_ascii_lowercase();
    let expects = |token: &str| detail.is_some_and(|detail| detail.has(token));
    let rules = |name: &str| detail.is_some_and(|detail| detail.rules.contains(&name));
    if found.kind == Found::Token
        && matches!(lower.as_str(), "let" | "var" | "const")
        && (positives.contains(&Rule::field) || rules("a field"))
    {
        return Some("fields are written `name: Type`".to_owned());
    }
    if found.kind == Found::Token && expects(":") && found.text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
    {
        let before = text[..position].trim_end();
        if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            return Some("a name and its type or value are separated by `:`: `name: Type`".to_owned());
        }
    }
    if found.text == "}" && detail.is_some_and(|detail| detail.expression) {
        return Some("a value is missing before `}`".to_owned());
    }
    if matches!(found.text.as_str(), "=" | ":") && expects("@") {
        return Some(
            "enum variants are names; to give one a different value on the wire write `name @wire(\"VALUE\")`"
                .to_owned(),
        );
    }
    if found.text == "=>" {
        return Some("`=>` separates a pattern from its value inside `match`, `errors` or `catch` braces".to_owned());
    }
    if found.kind == Found::Token
        && super::KEYWORDS.contains(&found.text.as_str())
        && (positives.contains(&Rule::ident) || rules("a name"))
    {
        return Some(format!(
            "`{}` is a keyword and cannot be used as a name here; choose another name, such as `{}_`",
            found.text, found.text
        ));
    }
    if found.text == "{" && expects("->") {
        return Some(
            "a map or function names its result type after `->`: `map f(o: Order) -> Contact { ... }`".to_owned(),
        );
    }
    if expects("else") && found.text != "else" {
        return Some("an `if` expression needs an `else` branch, since it must always give a value".to_owned());
    }
    None
}
