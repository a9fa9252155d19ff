//! Completion: what may be written at the cursor.
//!
//! In: the text of the file being edited (which may not parse), the cursor's
//! byte offset, the last analysis of the file if any, and a way to analyse a
//! patched copy of the text. Out: [`Completion`]s. The context comes from
//! the text around the cursor (after `.`, after `auth:`, at the start of a
//! clause in a `policy`, `api`, `endpoint`, `flow` or `test` block, in a type
//! position); types of receivers come from analysing the text with a
//! placeholder name at the cursor, so `o.` completes the fields of `o` even
//! though `o.` alone is a syntax error (rust-analyzer's "fake ident" trick).

use super::hover::{signature, symbol_decl};
use super::resolve::Resolver;
use super::walk::{self, MemberKind, Occurrence};
use crate::Analysis;
use crate::check::SymbolKind;
use crate::check::types::{SCALARS, Ty};
use crate::source::FileId;
use crate::syntax::ast::DeclKind;

/// What a completion inserts, for the editor's icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Type,
    Field,
    Variant,
    Endpoint,
    Function,
    Variable,
    Setting,
    Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    /// A signature or type, shown beside the label.
    pub detail: Option<String>,
    /// Markdown, such as a doc comment.
    pub documentation: Option<String>,
    /// What to insert when it differs from the label.
    pub insert_text: Option<String>,
}

impl Completion {
    fn new(label: impl Into<String>, kind: CompletionKind) -> Completion {
        Completion { label: label.into(), kind, detail: None, documentation: None, insert_text: None }
    }

    fn detail(mut self, detail: impl Into<String>) -> Completion {
        self.detail = Some(detail.into());
        self
    }

    fn documentation(mut self, documentation: Option<&str>) -> Completion {
        self.documentation = documentation.map(str::trim).filter(|doc| !doc.is_empty()).map(str::to_owned);
        self
    }

    fn insert(mut self, text: impl Into<String>) -> Completion {
        self.insert_text = Some(text.into());
        self
    }
}

/// The name put at the cursor in the patched copy of the text.
pub const PLACEHOLDER: &str = "__integ_complete__";

const DECL_KEYWORDS: &[&str] =
    &["import", "secret", "type", "enum", "api", "auth", "map", "fn", "policy", "flow", "test"];
const STATEMENT_KEYWORDS: &[&str] = &["let", "for", "if", "log", "skip", "fail", "state", "payload"];
const EXPRESSION_KEYWORDS: &[&str] = &["if", "else", "match", "none", "true", "false"];
const TEST_KEYWORDS: &[&str] = &["given", "run", "expect", "let"];

/// Completions at `offset` of `text`, the root file of `analysis` (the last
/// analysis of this file, possibly of older text). `reanalyze` checks a
/// patched copy of the text as the same file.
pub fn complete(
    analysis: Option<&Analysis>,
    text: &str,
    offset: usize,
    reanalyze: &mut dyn FnMut(&str) -> Option<Analysis>,
) -> Vec<Completion> {
    let mut offset = offset.min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let bytes = text.as_bytes();
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let mut start = offset;
    while start > 0 && is_word(bytes[start - 1]) {
        start -= 1;
    }
    let mut word_end = offset;
    while word_end < bytes.len() && is_word(bytes[word_end]) {
        word_end += 1;
    }
    let prefix = &text[start..offset];
    let scan = scan(&text[..start]);
    if scan.in_comment_or_string {
        return Vec::new();
    }
    // The text with a placeholder name in place of the word at the cursor.
    let patched = format!("{}{PLACEHOLDER}{}", &text[..start], &text[word_end..]);
    let mut items = if start > 0 && bytes[start - 1] == b'.' {
        members(analysis, text, start, &patched, reanalyze)
    } else {
        let patched_analysis = reanalyze(&patched);
        general(patched_analysis.as_ref().or(analysis), start, &scan)
    };
    items.retain(|item| fuzzy(&item.label, prefix));
    items.sort_by(|a, b| a.label.cmp(&b.label).then(a.detail.cmp(&b.detail)));
    items.dedup_by(|a, b| a.label == b.label && a.kind == b.kind);
    items
}

/// Whether the characters of `prefix` appear in `label` in order, ignoring case.
fn fuzzy(label: &str, prefix: &str) -> bool {
    let mut characters = label.chars().flat_map(char::to_lowercase);
    prefix.chars().flat_map(char::to_lowercase).all(|wanted| characters.any(|found| found == wanted))
}

/// What the text before the cursor says about where it is.
struct Scan {
    in_comment_or_string: bool,
    /// The heads of the unclosed `{` blocks, outermost first ("policy standard").
    blocks: Vec<String>,
    /// Whether an unclosed `(` is open (a parameter list or call).
    in_parens: bool,
    /// The text of the current line before the word at the cursor.
    line: String,
}

fn scan(before: &str) -> Scan {
    #[derive(PartialEq)]
    enum State {
        Code,
        String,
        Comment,
    }
    let mut state = State::Code;
    // Stack of open brackets: the byte and, for `{`, where its head starts.
    let mut open: Vec<(u8, usize)> = Vec::new();
    let mut interpolations: Vec<usize> = Vec::new();
    let mut head_start = 0;
    let bytes = before.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        match state {
            State::Comment => {
                if byte == b'\n' {
                    state = State::Code;
                }
            }
            State::String => match byte {
                b'\\' => index += 1,
                b'"' => state = State::Code,
                b'{' => {
                    interpolations.push(open.len());
                    state = State::Code;
                }
                b'\n' => state = State::Code,
                _ => {}
            },
            State::Code => match byte {
                b'"' => state = State::String,
                b'/' if bytes.get(index + 1) == Some(&b'/') => state = State::Comment,
                b'{' | b'(' | b'[' => {
                    open.push((byte, head_start));
                    if byte == b'{' {
                        head_start = index + 1;
                    }
                }
                b'}' if interpolations.last() == Some(&open.len()) => {
                    interpolations.pop();
                    state = State::String;
                }
                b'}' | b')' | b']' => {
                    if let Some((opened, previous_head)) = open.pop()
                        && opened == b'{'
                    {
                        head_start = previous_head;
                    }
                    if byte == b'}' {
                        head_start = index + 1;
                    }
                }
                b'\n' | b',' if open.last().is_none_or(|(opened, _)| *opened == b'{') => head_start = index + 1,
                _ => {}
            },
        }
        index += 1;
    }
    // The head of each `{`: the words between the previous boundary and it.
    let mut blocks = Vec::new();
    for &(opened, head) in &open {
        if opened == b'{' {
            blocks.push(head);
        }
    }
    let heads: Vec<String> = blocks
        .iter()
        .map(|&head| {
            let rest = before.get(head..).unwrap_or_default();
            let end = rest.find('{').unwrap_or(rest.len());
            rest[..end].split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect();
    let line_start = before.rfind('\n').map(|newline| newline + 1).unwrap_or(0);
    Scan {
        in_comment_or_string: state != State::Code,
        blocks: heads,
        in_parens: open.last().is_some_and(|(opened, _)| *opened == b'('),
        line: before[line_start..].to_owned(),
    }
}

/// Completions after `receiver.`: endpoints, variants, fields and methods.
fn members(
    analysis: Option<&Analysis>,
    text: &str,
    start: usize,
    patched: &str,
    reanalyze: &mut dyn FnMut(&str) -> Option<Analysis>,
) -> Vec<Completion> {
    let dot = start - 1;
    let bytes = text.as_bytes();
    let mut receiver_start = dot;
    while receiver_start > 0 && (bytes[receiver_start - 1].is_ascii_alphanumeric() || bytes[receiver_start - 1] == b'_')
    {
        receiver_start -= 1;
    }
    let receiver = &text[receiver_start..dot];
    let qualified = receiver_start > 0 && matches!(bytes[receiver_start - 1], b'.' | b'?');
    // `Api.` and `Enum.` need no types: the namespace says.
    if !qualified
        && let Some(analysis) = analysis
        && let Some(items) = namespace_members(analysis, receiver)
    {
        return items;
    }
    let patched_analysis = reanalyze(patched);
    if let Some(patched_analysis) = &patched_analysis {
        if !qualified && let Some(items) = namespace_members(patched_analysis, receiver) {
            return items;
        }
        let root = patched_analysis.program.root;
        if let Some(ty) = placeholder_receiver_type(patched_analysis, root, start) {
            return members_of_type(patched_analysis, &ty);
        }
    }
    Vec::new()
}

fn namespace_members(analysis: &Analysis, receiver: &str) -> Option<Vec<Completion>> {
    let resolver = Resolver::new(analysis);
    let index = resolver.symbol(receiver)?;
    match analysis.checked.symbols.get(index)?.kind {
        SymbolKind::Api(api) => {
            let info = analysis.checked.apis.get(api)?;
            let decl = symbol_decl(analysis, index)?;
            let DeclKind::Api(api_decl) = &decl.kind else { return None };
            Some(
                api_decl
                    .items
                    .iter()
                    .filter_map(|item| match item {
                        crate::syntax::ast::ApiItem::Endpoint(endpoint) => Some(endpoint),
                        crate::syntax::ast::ApiItem::Clause(_) => None,
                    })
                    .filter(|endpoint| info.endpoint(&endpoint.name.name).is_some())
                    .map(|endpoint| {
                        Completion::new(endpoint.name.name.clone(), CompletionKind::Endpoint)
                            .detail(super::hover::endpoint_signature(analysis, endpoint))
                            .documentation(endpoint.doc.as_deref())
                    })
                    .collect(),
            )
        }
        SymbolKind::Enum(id) => {
            let definition = analysis.checked.types.enumeration(id)?;
            Some(
                definition
                    .variants
                    .iter()
                    .map(|variant| {
                        Completion::new(variant.name.clone(), CompletionKind::Variant)
                            .detail(definition.name.clone())
                            .documentation(variant.doc.as_deref())
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// The type of the expression before the placeholder field in `file`.
fn placeholder_receiver_type(analysis: &Analysis, file: FileId, start: usize) -> Option<Ty> {
    let module = analysis.program.module(file)?;
    let resolver = Resolver::new(analysis);
    let mut found = None;
    walk::walk_module(&module.ast, &mut |occurrence| {
        if let Occurrence::Field { base, name, .. } = occurrence
            && name.span.start as usize == start
            && name.name == PLACEHOLDER
        {
            found = resolver.type_of(base).cloned();
        }
    });
    found
}

/// Fields of a record type and the functions callable as its methods.
fn members_of_type(analysis: &Analysis, ty: &Ty) -> Vec<Completion> {
    let types = &analysis.checked.types;
    let mut items = Vec::new();
    let inner = ty.unwrap_optional();
    if let Ty::Record(id) = inner
        && let Some(record) = types.record(*id)
    {
        for field in &record.fields {
            items.push(
                Completion::new(field.name.clone(), CompletionKind::Field)
                    .detail(types.display(&field.ty).to_string())
                    .documentation(field.doc.as_deref()),
            );
        }
    }
    if ty.is_error() {
        return items;
    }
    for (name, function) in &analysis.checked.functions {
        let Some(first) = function.params.first() else { continue };
        if function.is_map || !receiver_fits(analysis, ty, &first.ty) {
            continue;
        }
        let decl = analysis
            .checked
            .symbols
            .iter()
            .position(|symbol| symbol.name == *name)
            .and_then(|index| symbol_decl(analysis, index));
        let detail = decl.map(|decl| signature(analysis, decl)).unwrap_or_else(|| name.clone());
        items.push(
            Completion::new(name.clone(), CompletionKind::Function)
                .detail(detail)
                .documentation(decl.and_then(|decl| decl.doc.as_deref()))
                .insert(format!("{name}(")),
        );
    }
    items
}

/// Whether a value of type `receiver` may be the first argument of a parameter of type `param`.
fn receiver_fits(analysis: &Analysis, receiver: &Ty, param: &Ty) -> bool {
    match (receiver, param) {
        (_, Ty::Var(_)) => true,
        (Ty::List(element), Ty::List(param_element)) => receiver_fits(analysis, element, param_element),
        (Ty::Map(value), Ty::Map(param_value)) => receiver_fits(analysis, value, param_value),
        (Ty::Optional(inner), Ty::Optional(param_inner)) => receiver_fits(analysis, inner, param_inner),
        (_, Ty::Optional(param_inner)) => receiver_fits(analysis, receiver, param_inner),
        _ => analysis.checked.types.assignable(receiver, param),
    }
}

/// Completions anywhere else: clause names, auth schemes, policies, types,
/// keywords, locals, declarations and standard library functions.
fn general(analysis: Option<&Analysis>, start: usize, scan: &Scan) -> Vec<Completion> {
    let line = scan.line.trim_start();
    let at_line_start = line.is_empty();
    let innermost = scan.blocks.last().map(String::as_str).unwrap_or("");
    let head_word = innermost.split_whitespace().next().unwrap_or("");
    let mut items = Vec::new();
    // `auth: ` in an api, or `auth name = ` at the top level: the schemes.
    let trimmed = line.trim_end();
    if (trimmed.ends_with("auth:") && head_word == "api") || (line.starts_with("auth ") && trimmed.ends_with('=')) {
        for scheme in crate::check::config::AUTH_SCHEMES {
            let params: Vec<String> = scheme
                .params
                .iter()
                .map(|param| if param.required { param.name.to_owned() } else { format!("{}?", param.name) })
                .collect();
            items.push(
                Completion::new(scheme.name, CompletionKind::Function)
                    .detail(format!("{}({})", scheme.name, params.join(", ")))
                    .insert(format!("{}(", scheme.name)),
            );
        }
        if let Some(analysis) = analysis {
            items.extend(symbols_of(analysis, |kind| matches!(kind, SymbolKind::Auth)));
        }
        return items;
    }
    if trimmed.ends_with("policy:") {
        if let Some(analysis) = analysis {
            items.extend(symbols_of(analysis, |kind| matches!(kind, SymbolKind::Policy)));
        }
        return items;
    }
    if at_line_start || line.ends_with(',') {
        let settings: &[&str] = match head_word {
            "" => {
                return DECL_KEYWORDS
                    .iter()
                    .map(|keyword| Completion::new(*keyword, CompletionKind::Keyword))
                    .collect();
            }
            "policy" => crate::check::policy::POLICY_SETTINGS,
            "api" => crate::check::api::API_CLAUSES,
            "endpoint" => crate::check::api::ENDPOINT_CLAUSES,
            "flow" => crate::check::flow::FLOW_SETTINGS,
            _ => &[],
        };
        for setting in settings {
            items.push(Completion::new(*setting, CompletionKind::Setting).insert(format!("{setting}: ")));
        }
        match head_word {
            "api" => items.push(Completion::new("endpoint", CompletionKind::Keyword)),
            "endpoint" => {
                for method in crate::check::api::METHODS {
                    items.push(Completion::new(*method, CompletionKind::Keyword));
                }
            }
            "policy" | "type" | "enum" => {}
            "test" => {
                items.extend(TEST_KEYWORDS.iter().map(|keyword| Completion::new(*keyword, CompletionKind::Keyword)))
            }
            _ => items
                .extend(STATEMENT_KEYWORDS.iter().map(|keyword| Completion::new(*keyword, CompletionKind::Keyword))),
        }
        if matches!(head_word, "policy" | "api" | "endpoint" | "type" | "enum") {
            return items;
        }
    }
    let type_position = trimmed.ends_with("->")
        || (trimmed.ends_with(':') && (head_word == "type" || scan.in_parens || line.starts_with("let ")));
    items.extend(types(analysis));
    if type_position {
        return items;
    }
    items.extend(EXPRESSION_KEYWORDS.iter().map(|keyword| Completion::new(*keyword, CompletionKind::Keyword)));
    if let Some(analysis) = analysis {
        items.extend(locals(analysis, analysis.program.root, start));
        items.extend(symbols_of(analysis, |kind| {
            matches!(
                kind,
                SymbolKind::Fn | SymbolKind::Map | SymbolKind::Secret | SymbolKind::Api(_) | SymbolKind::Enum(_)
            ) || matches!(kind, SymbolKind::Flow)
        }));
    }
    items
}

/// Scalar, record and enum types.
fn types(analysis: Option<&Analysis>) -> Vec<Completion> {
    let mut items: Vec<Completion> =
        SCALARS.iter().map(|(name, _)| Completion::new(*name, CompletionKind::Type).detail("built-in type")).collect();
    if let Some(analysis) = analysis {
        items.extend(symbols_of(analysis, |kind| matches!(kind, SymbolKind::Type(_) | SymbolKind::Enum(_))));
    }
    items
}

/// Top-level symbols of some kinds, with their signatures and docs.
fn symbols_of(analysis: &Analysis, keep: impl Fn(&SymbolKind) -> bool) -> Vec<Completion> {
    let mut items = Vec::new();
    for (index, symbol) in analysis.checked.symbols.iter().enumerate() {
        if !keep(&symbol.kind) || symbol.name.starts_with("__") {
            continue;
        }
        let kind = match symbol.kind {
            SymbolKind::Type(_) | SymbolKind::Enum(_) => CompletionKind::Type,
            SymbolKind::Fn | SymbolKind::Map => CompletionKind::Function,
            _ => CompletionKind::Value,
        };
        let decl = symbol_decl(analysis, index);
        let mut item = Completion::new(symbol.name.clone(), kind);
        if let Some(decl) = decl {
            item = item.detail(signature(analysis, decl).lines().next().unwrap_or_default().to_owned());
            item = item.documentation(decl.doc.as_deref());
        }
        if kind == CompletionKind::Function {
            item = item.insert(format!("{}(", symbol.name));
        }
        items.push(item);
    }
    items
}

/// Parameters and locals declared before `offset` in the declaration that holds it.
fn locals(analysis: &Analysis, file: FileId, offset: usize) -> Vec<Completion> {
    let Some(module) = analysis.program.module(file) else {
        return Vec::new();
    };
    let Some(decl) = module.ast.decls.iter().find(|decl| decl.span.contains(offset)) else {
        return Vec::new();
    };
    let mut uses: std::collections::HashMap<crate::source::Span, String> = std::collections::HashMap::new();
    for (used, declared) in &analysis.checked.local_uses {
        let key = crate::check::expr::ExprKey { file: used.file, start: used.start, end: used.end };
        if let Some(ty) = analysis.checked.expr_types.get(&key) {
            uses.entry(*declared).or_insert_with(|| analysis.checked.types.display(ty).to_string());
        }
    }
    let mut items = Vec::new();
    walk::walk_decl(decl, &mut |occurrence| {
        if let Occurrence::Member { ident, kind } = occurrence
            && !matches!(kind, MemberKind::Field | MemberKind::Variant | MemberKind::Endpoint)
            && (ident.span.end as usize) <= offset
            && ident.name != PLACEHOLDER
        {
            let mut item = Completion::new(ident.name.clone(), CompletionKind::Variable);
            if let Some(ty) = uses.get(&ident.span) {
                item = item.detail(ty.clone());
            }
            items.push(item);
        }
    });
    items
}
