//! The canonical layout: the AST of a file, with its comments, as a [`Doc`].
//!
//! In: the source text, its [`ast::Module`] (parsed without errors) and its
//! comments. Out: one document for the whole file. The rules:
//!
//! - two spaces of indentation; no blank line at the start or end of a block,
//!   and a run of blank lines between two items becomes one;
//! - brace lists (type fields, enum variants, api, endpoint, policy and map
//!   bodies, object literals, `match`, `errors` and `catch` arms) stay on one
//!   line, comma-separated, only when written on one line and short enough;
//!   otherwise one item a line, without commas. Flow, test and statement
//!   blocks always take one statement a line;
//! - parentheses and brackets (arguments, parameters, lists) break by width
//!   alone: everything on one line, or one item a line with a trailing comma;
//! - a method chain with two calls or more after its head, a chain of
//!   operators of one precedence, an `if` expression and a `for` header
//!   break by width or where the author broke them;
//! - literals (strings, numbers, quantities) are reprinted as written;
//! - settings, `state` and `payload` come first in a flow; endpoint clause
//!   words (`GET`, `records`, `body`...) are written without a colon and
//!   every other clause with one.
//!
//! Comments are taken from [`Comments`] at each item: the ones before it
//! print on lines of their own above it, one on the same line after it
//! stays there. A comment in a place no item starts (inside an expression)
//! moves to the next item boundary; none is ever dropped.

use super::comments::{Comment, Comments};
use super::doc::{Doc, concat, group, if_break, indent, text};
use crate::source::Span;
use crate::syntax::ast::*;

/// How the items of a list are separated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// `, ` on one line, a line break (no comma) when broken: brace lists.
    Comma,
    /// `, ` on one line, `,` and a line break when broken, with a trailing
    /// comma: parentheses and brackets.
    Trailing,
    /// Always a line break: statements.
    Hard,
}

/// Endpoint clause words, written without a colon.
const CLAUSE_WORDS: &[&str] = &["records", "select", "paginate", "body", "query", "headers", "errors"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

pub struct Layout<'a> {
    source: &'a str,
    comments: Comments,
    /// The end of the last item or comment printed, to find blank lines.
    last_end: usize,
    /// Every comment's byte range, sorted, to trim them off span ends.
    ranges: Vec<(usize, usize)>,
}

impl<'a> Layout<'a> {
    pub fn new(source: &'a str, list: Vec<Comment>) -> Layout<'a> {
        let ranges = list.iter().map(|comment| (comment.start, comment.start + comment.text.len())).collect();
        Layout { source, comments: Comments::new(list), last_end: 0, ranges }
    }

    pub fn module(&mut self, module: &Module) -> Doc {
        let body = self.sequence(&module.decls, |decl| decl.span, Self::decl, self.source.len(), Sep::Hard, false);
        concat(vec![body, Doc::HardLine])
    }

    // ------------------------------------------------------------ helpers

    fn src(&self, span: Span) -> &'a str {
        self.source.get(span.start as usize..self.end(span)).unwrap_or_default()
    }

    /// Where `span` really ends: pest lets a rule that ends in an optional
    /// part take the whitespace and comments after it, which are trimmed off.
    fn end(&self, span: Span) -> usize {
        let start = span.start as usize;
        let mut end = (span.end as usize).min(self.source.len());
        loop {
            let Some(text) = self.source.get(start..end) else { return end };
            end = start + text.trim_end().len();
            match self.ranges.binary_search_by_key(&end, |range| range.1) {
                Ok(index) if self.ranges[index].0 >= start => end = self.ranges[index].0,
                _ => return end,
            }
        }
    }

    /// The position of the closing bracket of a node that ends with one.
    fn close_of(&self, span: Span) -> usize {
        self.end(span).saturating_sub(1)
    }

    fn gap_has_newline(&self, start: usize, end: usize) -> bool {
        start < end && self.source.get(start..end).is_some_and(|gap| gap.contains('\n'))
    }

    /// Whether a blank line (only spaces) stands between the last thing
    /// printed and `position`.
    fn blank_before(&self, position: usize) -> bool {
        let Some(gap) = self.source.get(self.last_end.min(position)..position) else { return false };
        let mut lines = gap.split('\n');
        // The first and last pieces are the ends of the lines of the two items.
        lines.next();
        let mut inner: Vec<&str> = lines.collect();
        inner.pop();
        inner.iter().any(|line| line.trim().is_empty())
    }

    /// The comments before `position` on lines of their own, then a blank
    /// line if the source has one before the item.
    fn leading(&mut self, floor: Option<usize>, position: usize, mut first: bool) -> Doc {
        let mut parts = Vec::new();
        let taken = match floor {
            Some(floor) => {
                self.last_end = floor;
                self.comments.take_between(floor, position)
            }
            None => self.comments.take_before(position),
        };
        for comment in taken {
            if !first && self.blank_before(comment.start) {
                parts.push(Doc::HardLine);
            }
            parts.push(text(comment.text));
            parts.push(Doc::HardLine);
            self.last_end = comment.end;
            first = false;
        }
        if !first && self.blank_before(position) {
            parts.push(Doc::HardLine);
        }
        concat(parts)
    }

    /// A comment that ends the line of the item ending at `end`.
    fn trailing(&mut self, end: usize) -> Doc {
        self.last_end = end;
        match self.comments.take_trailing(self.source, end) {
            Some(comment) => {
                self.last_end = comment.end;
                concat(vec![Doc::LineSuffix(format!(" {}", comment.text)), Doc::BreakParent])
            }
            None => concat(vec![]),
        }
    }

    /// The items of a list with their comments, and the comments left before
    /// `close` (the closing bracket). `same_line` keeps clauses that share a
    /// source line together, comma-separated.
    fn sequence<T>(
        &mut self,
        items: &[T],
        span_of: impl Fn(&T) -> Span,
        print: impl Fn(&mut Self, &T) -> Doc,
        close: usize,
        sep: Sep,
        same_line: bool,
    ) -> Doc {
        self.sequence_with_floors(items, |_| None, span_of, print, close, sep, same_line)
    }

    /// [`Self::sequence`] for items printed out of source order: `floor_of`
    /// gives where each item's own leading comments and blank lines begin.
    #[allow(clippy::too_many_arguments)]
    fn sequence_with_floors<T>(
        &mut self,
        items: &[T],
        floor_of: impl Fn(&T) -> Option<usize>,
        span_of: impl Fn(&T) -> Span,
        print: impl Fn(&mut Self, &T) -> Doc,
        close: usize,
        sep: Sep,
        same_line: bool,
    ) -> Doc {
        let mut parts = Vec::new();
        let mut previous_end: Option<usize> = None;
        for item in items {
            let span = span_of(item);
            let start = span.start as usize;
            if let Some(end) = previous_end {
                if same_line && !self.gap_has_newline(end, start) {
                    parts.push(text(", "));
                } else {
                    parts.push(match sep {
                        Sep::Comma => concat(vec![if_break(text(""), text(",")), Doc::Line]),
                        Sep::Trailing => concat(vec![text(","), Doc::Line]),
                        Sep::Hard => Doc::HardLine,
                    });
                }
            }
            parts.push(self.leading(floor_of(item), start, previous_end.is_none()));
            parts.push(print(self, item));
            let end = self.end(span);
            parts.push(self.trailing(end));
            previous_end = Some(end);
        }
        if sep == Sep::Trailing && previous_end.is_some() {
            parts.push(if_break(text(","), text("")));
        }
        let dangling = self.comments.take_before(close);
        for (index, comment) in dangling.into_iter().enumerate() {
            let first = previous_end.is_none() && index == 0;
            if !first {
                parts.push(Doc::HardLine);
                if self.blank_before(comment.start) {
                    parts.push(Doc::HardLine);
                }
            }
            parts.push(text(comment.text));
            parts.push(Doc::BreakParent);
            self.last_end = comment.end;
        }
        concat(parts)
    }

    /// `{ a, b }` or one item a line; `{}` when empty.
    fn braces(&self, inner: Doc, force: bool) -> Doc {
        if is_empty(&inner) {
            return text("{}");
        }
        let mut parts = vec![text("{"), indent(concat(vec![Doc::Line, inner])), Doc::Line, text("}")];
        if force {
            parts.push(Doc::BreakParent);
        }
        group(concat(parts))
    }

    /// A block of statements: always one a line.
    fn block_of(&self, inner: Doc) -> Doc {
        if is_empty(&inner) {
            return text("{}");
        }
        concat(vec![text("{"), indent(concat(vec![Doc::HardLine, inner])), Doc::HardLine, text("}")])
    }

    /// `(a, b)` or `[a, b]`, broken one item a line by width.
    fn delimited(&self, open: &str, inner: Doc, close: &str) -> Doc {
        if is_empty(&inner) {
            return text(format!("{open}{close}"));
        }
        group(concat(vec![text(open), indent(concat(vec![Doc::SoftLine, inner])), Doc::SoftLine, text(close)]))
    }

    // ------------------------------------------------------------ declarations

    fn decl(&mut self, decl: &Decl) -> Doc {
        match &decl.kind {
            DeclKind::Import(import) => {
                let literal = self.src(import.path_span);
                let literal = if literal.starts_with('"') { literal.to_owned() } else { format!("{:?}", import.path) };
                text(format!("import {literal}"))
            }
            DeclKind::Secret(secret) => {
                concat(vec![text(format!("secret {} = ", secret.name.name)), self.expr(&secret.value)])
            }
            DeclKind::Auth(auth) => concat(vec![text(format!("auth {} = ", auth.name.name)), self.expr(&auth.value)]),
            DeclKind::Type(ty) => {
                let inner = self.sequence(
                    &ty.fields,
                    |field| field.span,
                    Self::field,
                    self.close_of(decl.span),
                    Sep::Comma,
                    false,
                );
                concat(vec![text(format!("type {} ", ty.name.name)), self.braces(inner, self.multiline(decl.span))])
            }
            DeclKind::Enum(en) => {
                let inner = self.sequence(
                    &en.variants,
                    |variant| variant.span,
                    |this, variant| concat(vec![text(variant.name.name.clone()), this.attributes(&variant.attributes)]),
                    self.close_of(decl.span),
                    Sep::Comma,
                    false,
                );
                concat(vec![text(format!("enum {} ", en.name.name)), self.braces(inner, self.multiline(decl.span))])
            }
            DeclKind::Api(api) => {
                let force =
                    self.multiline(decl.span) || api.items.iter().any(|item| matches!(item, ApiItem::Endpoint(_)));
                let inner = self.sequence(
                    &api.items,
                    |item| match item {
                        ApiItem::Clause(clause) => clause.span,
                        ApiItem::Endpoint(endpoint) => endpoint.span,
                    },
                    |this, item| match item {
                        ApiItem::Clause(clause) => this.clause(clause, false),
                        ApiItem::Endpoint(endpoint) => this.endpoint(endpoint),
                    },
                    self.close_of(decl.span),
                    Sep::Comma,
                    true,
                );
                concat(vec![text(format!("api {} ", api.name.name)), self.braces(inner, force)])
            }
            DeclKind::Policy(policy) => {
                let inner = self.sequence(
                    &policy.clauses,
                    |clause| clause.span,
                    |this, clause| this.clause(clause, false),
                    self.close_of(decl.span),
                    Sep::Comma,
                    true,
                );
                concat(vec![
                    text(format!("policy {} ", policy.name.name)),
                    self.braces(inner, self.multiline(decl.span)),
                ])
            }
            DeclKind::Map(map) => {
                let head = concat(vec![
                    text(format!("map {}", map.name.name)),
                    self.params(&map.params, map.params_span),
                    text(" -> "),
                    self.type_expr(&map.target),
                    text(" "),
                ]);
                let force =
                    self.multiline(map.body_span) || map.items.iter().any(|item| matches!(item, MapItem::Let(_)));
                let inner = self.sequence(
                    &map.items,
                    |item| match item {
                        MapItem::Let(statement) => statement.span,
                        MapItem::Field(field) => field.span,
                    },
                    |this, item| match item {
                        MapItem::Let(statement) => this.let_stmt(statement),
                        MapItem::Field(field) => {
                            concat(vec![text(format!("{}: ", field.name.name)), this.expr(&field.value)])
                        }
                    },
                    self.close_of(map.body_span),
                    Sep::Comma,
                    false,
                );
                concat(vec![head, self.braces(inner, force)])
            }
            DeclKind::Fn(function) => {
                let mut parts = Vec::new();
                if function.native {
                    parts.push(text("native "));
                }
                parts.push(text(format!("fn {}", function.name.name)));
                if !function.generics.is_empty() {
                    let generics: Vec<String> = function
                        .generics
                        .iter()
                        .map(|generic| match &generic.bound {
                            Some(bound) => format!("{}: {}", generic.name.name, bound.name),
                            None => generic.name.name.clone(),
                        })
                        .collect();
                    parts.push(text(format!("<{}>", generics.join(", "))));
                }
                parts.push(self.params(&function.params, function.params_span));
                parts.push(text(" -> "));
                parts.push(self.type_expr(&function.returns));
                if let Some(body) = &function.body {
                    if hugs(body) {
                        parts.push(text(" = "));
                        parts.push(self.expr(body));
                    } else {
                        // A body that cannot break well moves to the next line when too long.
                        parts.push(text(" ="));
                        parts.push(group(indent(concat(vec![Doc::Line, self.expr(body)]))));
                    }
                }
                concat(parts)
            }
            DeclKind::Flow(flow) => {
                // Settings, `state` and `payload` first, each group in written
                // order; each item keeps the comments written above it.
                let span_of = |item: &FlowItem| match item {
                    FlowItem::Setting(clause) => clause.span,
                    FlowItem::State(state) => state.span,
                    FlowItem::Payload(payload) => payload.span,
                    FlowItem::Stmt(statement) => statement.span,
                };
                let open = self
                    .source
                    .get(decl.span.range())
                    .and_then(|text| text.find('{'))
                    .map_or(0, |offset| decl.span.start as usize + offset + 1);
                let mut floors = Vec::with_capacity(flow.items.len());
                let mut floor = open;
                for item in &flow.items {
                    floors.push(floor);
                    floor = self.end(span_of(item));
                }
                let mut items: Vec<(&FlowItem, usize)> = flow
                    .items
                    .iter()
                    .zip(floors.iter().copied())
                    .filter(|(item, _)| !matches!(item, FlowItem::Stmt(_)))
                    .collect();
                items.extend(flow.items.iter().zip(floors).filter(|(item, _)| matches!(item, FlowItem::Stmt(_))));
                let inner = self.sequence_with_floors(
                    &items,
                    |(_, floor)| Some(*floor),
                    |(item, _)| span_of(item),
                    |this, (item, _)| match item {
                        FlowItem::Setting(clause) => this.clause(clause, true),
                        FlowItem::State(state) => concat(vec![
                            text(format!("state {}: ", state.name.name)),
                            this.type_expr(&state.ty),
                            text(" = "),
                            this.expr(&state.init),
                        ]),
                        FlowItem::Payload(payload) => {
                            concat(vec![text(format!("payload {}: ", payload.name.name)), this.type_expr(&payload.ty)])
                        }
                        FlowItem::Stmt(statement) => this.stmt(statement),
                    },
                    self.close_of(decl.span),
                    Sep::Hard,
                    false,
                );
                concat(vec![text(format!("flow {} ", flow.name.name)), self.block_of(inner)])
            }
            DeclKind::Test(test) => {
                let inner = self.sequence(
                    &test.items,
                    test_item_span,
                    Self::test_item,
                    self.close_of(decl.span),
                    Sep::Hard,
                    false,
                );
                concat(vec![text(format!("test {} ", self.src(test.name_span))), self.block_of(inner)])
            }
        }
    }

    fn multiline(&self, span: Span) -> bool {
        self.src(span).contains('\n')
    }

    fn field(&mut self, field: &Field) -> Doc {
        concat(vec![
            text(format!("{}: ", field.name.name)),
            self.type_expr(&field.ty),
            self.attributes(&field.attributes),
        ])
    }

    fn attributes(&mut self, attributes: &[Attribute]) -> Doc {
        let mut parts = Vec::new();
        for attribute in attributes {
            parts.push(text(format!(" @{}", attribute.name.name)));
            if !attribute.args.is_empty() {
                parts.push(self.args(&attribute.args, self.close_of(attribute.span)));
            }
        }
        concat(parts)
    }

    fn params(&mut self, params: &[Param], span: Span) -> Doc {
        let inner = self.sequence(
            params,
            |param| param.span,
            |this, param| {
                let mut parts = vec![text(format!("{}: ", param.name.name)), this.type_expr(&param.ty)];
                if let Some(default) = &param.default {
                    parts.push(text(" = "));
                    parts.push(this.expr(default));
                }
                concat(parts)
            },
            self.close_of(span),
            Sep::Trailing,
            false,
        );
        self.delimited("(", inner, ")")
    }

    fn type_expr(&mut self, ty: &TypeExpr) -> Doc {
        text(type_text(ty))
    }

    fn endpoint(&mut self, endpoint: &EndpointDecl) -> Doc {
        let mut parts =
            vec![text(format!("endpoint {}", endpoint.name.name)), self.params(&endpoint.params, endpoint.params_span)];
        if let Some(returns) = &endpoint.returns {
            parts.push(text(if returns.stream { " -> stream " } else { " -> " }));
            parts.push(self.type_expr(&returns.ty));
        }
        parts.push(text(" "));
        let inner = self.sequence(
            &endpoint.clauses,
            |clause| clause.span,
            |this, clause| this.clause(clause, false),
            self.close_of(endpoint.span),
            Sep::Comma,
            true,
        );
        // The body is judged without the parameters, which may span lines.
        let body_start = endpoint.returns.as_ref().map_or(endpoint.params_span.end, |returns| returns.span.end);
        let body = Span { start: body_start, ..endpoint.span };
        parts.push(self.braces(inner, self.multiline(body)));
        concat(parts)
    }

    fn clause(&mut self, clause: &Clause, in_flow: bool) -> Doc {
        let key = clause.key.name.as_str();
        let colon = if in_flow {
            true
        } else if CLAUSE_WORDS.contains(&key) || METHODS.contains(&key) {
            false
        } else if METHODS.contains(&key.to_ascii_uppercase().as_str()) {
            // A method in the wrong case is an error the checker explains: keep it as written.
            clause.colon
        } else {
            true
        };
        let key_doc = text(if colon { format!("{key}: ") } else { format!("{key} ") });
        let value = match &clause.value {
            ClauseValue::Arms(arms, span) => self.arms(arms, *span, self.multiline(*span)),
            ClauseValue::Setting(setting) => self.setting(setting),
        };
        concat(vec![key_doc, value])
    }

    fn setting(&mut self, setting: &SettingValue) -> Doc {
        let mut parts = Vec::new();
        for (index, phrase) in setting.phrases.iter().enumerate() {
            if index > 0 {
                parts.push(text(", "));
            }
            for (position, atom) in phrase.atoms.iter().enumerate() {
                if position > 0 {
                    parts.push(text(" "));
                }
                parts.push(self.expr(atom));
            }
        }
        concat(parts)
    }

    fn arms(&mut self, arms: &[Arm], span: Span, force: bool) -> Doc {
        let inner = self.sequence(
            arms,
            |arm| arm.span,
            |this, arm| concat(vec![text(format!("{} => ", this.pattern(&arm.pattern))), this.expr(&arm.value)]),
            self.close_of(span),
            Sep::Comma,
            false,
        );
        self.braces(inner, force)
    }

    fn pattern(&self, pattern: &Pattern) -> String {
        let alternatives: Vec<String> = pattern
            .alternatives
            .iter()
            .map(|alternative| match alternative {
                PatternAlt::Variant { qualifier: Some(qualifier), name } => format!("{}.{}", qualifier.name, name.name),
                PatternAlt::Variant { qualifier: None, name } => name.name.clone(),
                other => self.src(other.span()).to_owned(),
            })
            .collect();
        alternatives.join(" | ")
    }

    fn test_item(&mut self, item: &TestItem) -> Doc {
        match item {
            TestItem::Given { target, response, .. } => {
                concat(vec![text("given "), self.expr(target), text(" "), self.setting(response)])
            }
            TestItem::Expect { condition, .. } => concat(vec![text("expect "), self.expr(condition)]),
            TestItem::Run { flow, args, span } => {
                let mut parts = vec![text(format!("run {}", flow.name))];
                if !args.is_empty() {
                    parts.push(self.args(args, self.close_of(*span)));
                }
                concat(parts)
            }
            TestItem::Let(statement) => self.let_stmt(statement),
        }
    }

    // ------------------------------------------------------------ statements

    fn stmt(&mut self, statement: &Stmt) -> Doc {
        crate::with_stack(|| self.stmt_inner(statement))
    }

    fn stmt_inner(&mut self, statement: &Stmt) -> Doc {
        match &statement.kind {
            StmtKind::Let(statement) => self.let_stmt(statement),
            StmtKind::For(for_stmt) => {
                let mut header = vec![self.expr(&for_stmt.iterable)];
                let mut continuation = Vec::new();
                let mut force = false;
                let mut previous_end = self.end(for_stmt.iterable.span);
                if let Some(filter) = &for_stmt.filter {
                    force |= self.gap_has_newline(previous_end, filter.span.start as usize);
                    continuation.push(Doc::Line);
                    continuation.push(text("where "));
                    continuation.push(self.expr(filter));
                    previous_end = self.end(filter.span);
                }
                if let Some(dedupe) = &for_stmt.dedupe {
                    force |= self.gap_has_newline(previous_end, dedupe.span.start as usize);
                    continuation.push(Doc::Line);
                    continuation.push(text("dedupe "));
                    continuation.push(self.expr(dedupe));
                }
                header.push(indent(indent(concat(continuation))));
                if force {
                    header.push(Doc::BreakParent);
                }
                concat(vec![
                    text(format!("for {} in ", for_stmt.binding.name)),
                    group(concat(header)),
                    text(" "),
                    self.block(&for_stmt.body),
                ])
            }
            StmtKind::If(if_stmt) => self.if_stmt(if_stmt),
            StmtKind::Skip => text("skip"),
            StmtKind::Fail(message) => concat(vec![text("fail "), self.expr(message)]),
            StmtKind::Log { level, message } => {
                let head = match level {
                    Some(level) => format!("log {} ", level.name),
                    None => "log ".to_owned(),
                };
                concat(vec![text(head), self.expr(message)])
            }
            StmtKind::Assign { target, value } => concat(vec![text(format!("{} = ", target.name)), self.expr(value)]),
            StmtKind::Expr { expr, catch } => {
                let mut parts = vec![self.expr(expr)];
                if let Some(catch) = catch {
                    parts.push(text(" "));
                    parts.push(self.catch(catch));
                }
                concat(parts)
            }
        }
    }

    fn if_stmt(&mut self, if_stmt: &IfStmt) -> Doc {
        let mut parts = vec![text("if "), self.expr(&if_stmt.condition), text(" "), self.block(&if_stmt.then_block)];
        match &if_stmt.else_branch {
            Some(ElseBranch::If(statement)) => {
                parts.push(text(" else "));
                parts.push(self.stmt(statement));
            }
            Some(ElseBranch::Block(block)) => {
                parts.push(text(" else "));
                parts.push(self.block(block));
            }
            None => {}
        }
        concat(parts)
    }

    fn block(&mut self, block: &Block) -> Doc {
        let inner = self.sequence(
            &block.stmts,
            |statement| statement.span,
            Self::stmt,
            self.close_of(block.span),
            Sep::Hard,
            false,
        );
        self.block_of(inner)
    }

    fn let_stmt(&mut self, statement: &LetStmt) -> Doc {
        let mut parts = vec![text(format!("let {}", statement.name.name))];
        if let Some(ty) = &statement.ty {
            parts.push(text(": "));
            parts.push(self.type_expr(ty));
        }
        parts.push(text(" = "));
        parts.push(self.expr(&statement.value));
        if let Some(catch) = &statement.catch {
            parts.push(text(" "));
            parts.push(self.catch(catch));
        }
        concat(parts)
    }

    fn catch(&mut self, catch: &Catch) -> Doc {
        let inner = self.sequence(
            &catch.arms,
            |arm| arm.span,
            |_, arm| {
                let target = match &arm.target {
                    CatchTarget::Wildcard(_) => "_".to_owned(),
                    CatchTarget::Error { api: Some(api), name } => format!("{}.{}", api.name, name.name),
                    CatchTarget::Error { api: None, name } => name.name.clone(),
                };
                text(format!("{target} => {}", arm.action.name))
            },
            self.close_of(catch.span),
            Sep::Comma,
            false,
        );
        concat(vec![text("catch "), self.braces(inner, self.multiline(catch.span))])
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self, expr: &Expr) -> Doc {
        crate::with_stack(|| self.expr_inner(expr))
    }

    fn expr_inner(&mut self, expr: &Expr) -> Doc {
        match &expr.kind {
            ExprKind::Int(_) | ExprKind::Number(_) | ExprKind::Quantity(_) | ExprKind::String(_) => {
                text(self.src(expr.span))
            }
            ExprKind::Bool(value) => text(if *value { "true" } else { "false" }),
            ExprKind::None => text("none"),
            ExprKind::Name(name) => text(name.name.clone()),
            ExprKind::Field { .. } | ExprKind::Call { .. } | ExprKind::Index { .. } => self.chain(expr),
            ExprKind::Unary { op, operand, .. } => concat(vec![text(op.as_str()), self.expr(operand)]),
            ExprKind::Binary { .. } => self.binary(expr),
            ExprKind::List(items) => {
                let inner =
                    self.sequence(items, |item| item.span, Self::expr, self.close_of(expr.span), Sep::Trailing, false);
                self.delimited("[", inner, "]")
            }
            ExprKind::Object { name, fields } => {
                let inner = self.sequence(
                    fields,
                    |field| field.span,
                    |this, field| {
                        let key = match &field.key {
                            ObjectKey::Ident(ident) => ident.name.clone(),
                            ObjectKey::String(_, span) => this.src(*span).to_owned(),
                        };
                        concat(vec![text(format!("{key}: ")), this.expr(&field.value)])
                    },
                    self.close_of(expr.span),
                    Sep::Comma,
                    false,
                );
                let braces = self.braces(inner, self.multiline(expr.span));
                match name {
                    Some(name) => concat(vec![text(format!("{} ", name.name)), braces]),
                    None => braces,
                }
            }
            ExprKind::Lambda { params, body } => {
                let head = match params.as_slice() {
                    [single] => single.name.clone(),
                    _ => format!("({})", params.iter().map(|param| param.name.as_str()).collect::<Vec<_>>().join(", ")),
                };
                concat(vec![text(format!("{head} => ")), self.expr(body)])
            }
            ExprKind::If { .. } => {
                let force = self.multiline(expr.span);
                let mut parts = Vec::new();
                self.if_expr(expr, &mut parts);
                if force {
                    parts.push(Doc::BreakParent);
                }
                group(concat(parts))
            }
            ExprKind::Match { scrutinee, arms } => {
                let head = concat(vec![text("match "), self.expr(scrutinee), text(" ")]);
                // The arms' span is not kept: they run to the end of the expression.
                let arms_span = Span { start: scrutinee.span.end, ..expr.span };
                concat(vec![head, self.arms(arms, arms_span, self.multiline(arms_span))])
            }
            ExprKind::Paren(inner) => concat(vec![text("("), self.expr(inner), text(")")]),
        }
    }

    /// `if c { a } else if d { b } else { c }`, the branches indented when broken.
    fn if_expr(&mut self, expr: &Expr, parts: &mut Vec<Doc>) {
        let ExprKind::If { condition, then_branch, else_branch } = &expr.kind else {
            parts.push(self.expr(expr));
            return;
        };
        parts.push(text("if "));
        parts.push(self.expr(condition));
        parts.push(text(" {"));
        parts.push(indent(concat(vec![Doc::Line, self.expr(then_branch)])));
        parts.push(Doc::Line);
        parts.push(text("} else "));
        if matches!(else_branch.kind, ExprKind::If { .. }) {
            self.if_expr(else_branch, parts);
        } else {
            parts.push(text("{"));
            parts.push(indent(concat(vec![Doc::Line, self.expr(else_branch)])));
            parts.push(Doc::Line);
            parts.push(text("}"));
        }
    }

    /// A chain of operators of one precedence, broken before the operators.
    fn binary(&mut self, expr: &Expr) -> Doc {
        let ExprKind::Binary { op: top, .. } = &expr.kind else {
            return self.expr(expr);
        };
        let level = precedence(*top);
        let mut rights = Vec::new();
        let mut current = expr;
        while let ExprKind::Binary { op, lhs, rhs, .. } = &current.kind {
            if precedence(*op) != level {
                break;
            }
            rights.push((*op, rhs.as_ref()));
            current = lhs;
        }
        rights.reverse();
        let first = self.expr(current);
        let mut rest = Vec::new();
        for (op, rhs) in rights {
            rest.push(Doc::Line);
            rest.push(text(format!("{} ", op.as_str())));
            rest.push(self.expr(rhs));
        }
        group(concat(vec![first, indent(concat(rest))]))
    }

    /// Field accesses, calls and indexing. Two method calls or more after
    /// the head may break one a line, before their dots.
    fn chain(&mut self, expr: &Expr) -> Doc {
        enum Op<'e> {
            Field { name: &'e Ident, optional: bool, base_end: usize },
            Call { args: &'e [Arg], args_span: Span },
            Index { index: &'e Expr },
        }
        let mut ops = Vec::new();
        let mut current = expr;
        loop {
            match &current.kind {
                ExprKind::Field { base, name, optional } => {
                    ops.push(Op::Field { name, optional: *optional, base_end: self.end(base.span) });
                    current = base;
                }
                ExprKind::Call { callee, args, args_span } => {
                    ops.push(Op::Call { args, args_span: *args_span });
                    current = callee;
                }
                ExprKind::Index { base, index } => {
                    ops.push(Op::Index { index });
                    current = base;
                }
                _ => break,
            }
        }
        ops.reverse();
        let base_is_name = matches!(current.kind, ExprKind::Name(_));
        let mut head = vec![self.expr(current)];
        let mut head_has_ops = false;
        let mut segments: Vec<Vec<Doc>> = Vec::new();
        let mut force = false;
        for index in 0..ops.len() {
            let doc = match &ops[index] {
                Op::Field { name, optional, base_end } => {
                    let method = matches!(ops.get(index + 1), Some(Op::Call { .. }));
                    if method {
                        if !segments.is_empty() || head_has_ops || !base_is_name {
                            force |= self.gap_has_newline(*base_end, name.span.start as usize);
                            segments.push(Vec::new());
                        } else {
                            // `Shop.list_orders(...)`: a name and its first call stay together.
                            head_has_ops = true;
                        }
                    }
                    text(format!("{}{}", if *optional { "?." } else { "." }, name.name))
                }
                Op::Call { args, args_span } => self.args(args, self.close_of(*args_span)),
                Op::Index { index } => concat(vec![text("["), self.expr(index), text("]")]),
            };
            match segments.last_mut() {
                Some(segment) => segment.push(doc),
                None => {
                    head_has_ops = true;
                    head.push(doc);
                }
            }
        }
        if segments.len() < 2 {
            head.extend(segments.into_iter().flatten());
            return concat(head);
        }
        let mut rest = Vec::new();
        for segment in segments {
            rest.push(Doc::SoftLine);
            rest.extend(segment);
        }
        let mut parts = vec![concat(head), indent(concat(rest))];
        if force {
            parts.push(Doc::BreakParent);
        }
        group(concat(parts))
    }

    fn args(&mut self, args: &[Arg], close: usize) -> Doc {
        let inner = self.sequence(
            args,
            |arg| arg.span,
            |this, arg| match &arg.name {
                Some(name) => concat(vec![text(format!("{}: ", name.name)), this.expr(&arg.value)]),
                None => this.expr(&arg.value),
            },
            close,
            Sep::Trailing,
            false,
        );
        self.delimited("(", inner, ")")
    }
}

fn is_empty(doc: &Doc) -> bool {
    match doc {
        Doc::Concat(parts) => parts.iter().all(is_empty),
        Doc::Text(value) => value.is_empty(),
        Doc::IfBreak(broken, flat) => is_empty(broken) && is_empty(flat),
        _ => false,
    }
}

/// Whether an expression after `=` stays on the `=` line, breaking inside
/// its own brackets: `if`, `match`, objects and calls of a plain name.
fn hugs(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::If { .. } | ExprKind::Match { .. } | ExprKind::Object { .. } => true,
        ExprKind::Call { callee, .. } => match &callee.kind {
            ExprKind::Name(_) => true,
            ExprKind::Field { base, .. } => matches!(base.kind, ExprKind::Name(_)),
            _ => false,
        },
        _ => false,
    }
}

fn test_item_span(item: &TestItem) -> Span {
    match item {
        TestItem::Given { span, .. } | TestItem::Expect { span, .. } | TestItem::Run { span, .. } => *span,
        TestItem::Let(statement) => statement.span,
    }
}

fn type_text(ty: &TypeExpr) -> String {
    match &ty.kind {
        TypeExprKind::Named(name) => name.name.clone(),
        TypeExprKind::List(item) => format!("[{}]", type_text(item)),
        TypeExprKind::Map(key, value) => format!("{{{}: {}}}", type_text(key), type_text(value)),
        TypeExprKind::Fn(params, result) => {
            let params: Vec<String> = params.iter().map(type_text).collect();
            format!("fn({}) -> {}", params.join(", "), type_text(result))
        }
        TypeExprKind::Optional(inner) => format!("{}?", type_text(inner)),
    }
}

fn precedence(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Coalesce => 1,
        BinaryOp::Or => 2,
        BinaryOp::And => 3,
        BinaryOp::Eq | BinaryOp::Ne => 4,
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 5,
        BinaryOp::Add | BinaryOp::Sub => 6,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 7,
    }
}
