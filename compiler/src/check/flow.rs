//! Flows: triggers, state, payloads and statements.
//!
//! In: `flow` declarations. Out: [`FlowInfo`] (state and payload, for tests
//! that `run` a flow and read its results) and the diagnostics of triggers
//! (E0800, E0802, E0606), state (E0801, E0309), payloads (E0803), loops
//! (E0308, E0804), catch arms (E0214, E0805) and unreachable statements.

use std::collections::HashMap;

use super::scope::{BodyKind, Cx, LocalKind, Secrets};
use super::types::{FieldDef, RecordDef, RecordId, Ty};
use super::{Checker, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, Block, Catch, CatchTarget, ElseBranch, Expr, ExprKind, FlowItem, Stmt, StmtKind};

pub const FLOW_SETTINGS: &[&str] = &["trigger", "batch", "dedupe"];
pub const CATCH_ACTIONS: &[&str] = &["skip", "dead_letter", "fail", "ignore"];
/// Counters every flow result has in tests.
pub const FLOW_COUNTERS: &[&str] = &["read", "written", "skipped", "dead_letters"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TriggerKind {
    Every(u64),
    Cron(String),
    Webhook,
    Manual,
}

#[derive(Clone, Debug)]
pub struct FlowInfo {
    pub name: String,
    pub span: Span,
    pub states: Vec<(String, Ty, Span)>,
    pub payload: Option<(String, Ty, Span)>,
    pub trigger: Option<TriggerKind>,
    /// The record tests read after `run`: state values and counters.
    pub result: RecordId,
}

impl Checker<'_> {
    /// Phase 2: state and payload types, and the trigger's kind.
    pub(crate) fn resolve_flow_signature(&mut self, decl: &ast::FlowDecl) {
        if self.symbol_kind_here(&decl.name) != Some(super::SymbolKind::Flow) {
            return;
        }
        let mut states: Vec<(String, Ty, Span)> = Vec::new();
        let mut payload = None;
        let mut trigger = None;
        for item in &decl.items {
            match item {
                FlowItem::State(state) => {
                    if FLOW_COUNTERS.contains(&state.name.name.as_str()) || state.name.name == "failed" {
                        self.report(
                            Diagnostic::new(
                                Code::ReservedName,
                                state.name.span,
                                format!("`{}` is one of the counters tests read after `run`", state.name.name),
                            )
                            .label("a state of this name would hide the counter")
                            .help(format!("rename it, such as `{}_so_far`", state.name.name)),
                        );
                    }
                    let ty = self.resolve_type(&state.ty, &[]);
                    self.require_data_type(&ty, state.ty.span, "state");
                    if let Some((_, _, first)) = states.iter().find(|(name, _, _)| *name == state.name.name) {
                        let first = *first;
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateMember,
                                state.name.span,
                                format!("state `{}` is declared twice", state.name.name),
                            )
                            .label("declared again")
                            .secondary(first, "first declared here"),
                        );
                        continue;
                    }
                    states.push((state.name.name.clone(), ty, state.name.span));
                }
                FlowItem::Payload(declared) => {
                    let ty = self.resolve_type(&declared.ty, &[]);
                    self.require_data_type(&ty, declared.ty.span, "a payload");
                    if let Some((_, _, first)) = &payload {
                        let first = *first;
                        self.report(
                            Diagnostic::new(Code::PayloadMisuse, declared.name.span, "a flow has one payload")
                                .label("second payload")
                                .secondary(first, "first payload"),
                        );
                        continue;
                    }
                    payload = Some((declared.name.name.clone(), ty, declared.name.span));
                }
                FlowItem::Setting(clause) if clause.key.name == "trigger" => {
                    trigger = self.trigger_kind(clause);
                }
                _ => {}
            }
        }
        let mut record = RecordDef::new(format!("results of {}", decl.name.name), decl.name.span, None, true);
        for (name, ty, span) in &states {
            let _ = record.push(FieldDef {
                name: name.clone(),
                ty: ty.clone(),
                wire: name.clone(),
                format: None,
                span: *span,
                doc: None,
            });
        }
        for counter in FLOW_COUNTERS {
            let _ = record.push(FieldDef {
                name: (*counter).to_owned(),
                ty: Ty::Int,
                wire: (*counter).to_owned(),
                format: None,
                span: decl.name.span,
                doc: None,
            });
        }
        let _ = record.push(FieldDef {
            name: "failed".to_owned(),
            ty: Ty::Bool,
            wire: "failed".to_owned(),
            format: None,
            span: decl.name.span,
            doc: None,
        });
        let result = self.types.add_record(record);
        self.flows.insert(
            decl.name.name.clone(),
            FlowInfo { name: decl.name.name.clone(), span: decl.name.span, states, payload, trigger, result },
        );
    }

    /// The kind of a trigger, without reporting (reports happen in phase 3).
    fn trigger_kind(&self, clause: &ast::Clause) -> Option<TriggerKind> {
        let ast::ClauseValue::Setting(value) = &clause.value else {
            return None;
        };
        let [phrase] = value.phrases.as_slice() else {
            return None;
        };
        match phrase.atoms.as_slice() {
            [Expr { kind: ExprKind::Name(name), .. }] if name.name == "manual" => Some(TriggerKind::Manual),
            [Expr { kind: ExprKind::Name(every), .. }, Expr { kind: ExprKind::Quantity(quantity), span }]
                if every.name == "every" =>
            {
                super::literals::duration_ms(
                    quantity,
                    &Expr { kind: ExprKind::Quantity(quantity.clone()), span: *span },
                )
                .ok()
                .map(TriggerKind::Every)
            }
            [Expr { kind: ExprKind::Call { callee, args, .. }, .. }] => match &callee.kind {
                ExprKind::Name(name) if name.name == "webhook" => Some(TriggerKind::Webhook),
                ExprKind::Name(name) if name.name == "cron" => match args.first().map(|arg| &arg.value.kind) {
                    Some(ExprKind::String(literal)) => literal.as_plain().map(TriggerKind::Cron),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    pub(crate) fn check_flow(&mut self, decl: &ast::FlowDecl) {
        let Some(info) = self.flows.get(&decl.name.name).cloned() else {
            return;
        };
        if info.span != decl.name.span {
            return;
        }
        let mut cx = Cx::new(BodyKind::Flow, Secrets::Forbidden("a flow"));
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut trigger_seen = false;
        let mut webhook = false;
        let mut dedupe: Option<&ast::Clause> = None;
        for item in &decl.items {
            let FlowItem::Setting(clause) = item else {
                continue;
            };
            if self.duplicate_clause(&mut seen, clause) {
                continue;
            }
            match clause.key.name.as_str() {
                "trigger" => {
                    trigger_seen = true;
                    webhook = self.check_trigger(clause);
                }
                "batch" => {
                    if let Some(value) = self.setting_of(clause) {
                        self.positive_int(value, "batch");
                    }
                }
                "dedupe" => dedupe = Some(clause),
                other => {
                    let note = match other {
                        "policy" | "timeout" | "retry" => {
                            Some("policies apply to apis and endpoints: name one with `policy:` in the api")
                        }
                        "schedule" | "every" | "cron" | "webhook" => Some(
                            "schedules and webhooks are written `trigger: every 5m`, `trigger: cron(\"...\")` or `trigger: webhook(...)`",
                        ),
                        _ => None,
                    };
                    self.unknown_clause(&clause.key, other, FLOW_SETTINGS, "flow setting", note);
                }
            }
        }
        if !trigger_seen {
            self.report(
                Diagnostic::new(Code::MissingTrigger, decl.name.span, format!("flow `{}` has no trigger", decl.name.name))
                    .label("when does it run?")
                    .help("add `trigger: every 5m`, `trigger: cron(\"0 * * * *\")`, `trigger: webhook(path: \"/hooks/x\")` or `trigger: manual`"),
            );
        }
        match (&info.payload, webhook) {
            (Some((name, _, span)), false) if trigger_seen => {
                let _ = name;
                self.report(
                    Diagnostic::new(Code::PayloadMisuse, *span, "only webhook flows have a payload")
                        .label("nothing delivers a payload to this flow")
                        .help("use `trigger: webhook(...)`, or remove the payload"),
                );
            }
            (None, true) => {
                self.report(
                    Diagnostic::new(
                        Code::PayloadMisuse,
                        decl.name.span,
                        format!("webhook flow `{}` declares no payload", decl.name.name),
                    )
                    .label("what does the webhook deliver?")
                    .help("declare its type: `payload event: IssueEvent`"),
                );
            }
            _ => {}
        }
        // State first (its initial values see no other state), then the payload.
        for item in &decl.items {
            if let FlowItem::State(state) = item {
                let Some((_, ty, _)) =
                    info.states.iter().find(|(name, _, span)| *name == state.name.name && *span == state.name.span)
                else {
                    continue;
                };
                let mut init_cx = Cx::new(BodyKind::Config, Secrets::Forbidden("flow state"));
                let init_ty = self.check_expr(&mut init_cx, &state.init, Some(ty));
                self.expect_assignable(
                    &init_ty,
                    ty,
                    state.init.span,
                    &format!("the initial value of state `{}`", state.name.name),
                );
            }
        }
        for (name, ty, span) in &info.states {
            cx.declare(name, ty.clone(), *span, LocalKind::State);
        }
        if let Some((name, ty, span)) = &info.payload {
            cx.declare(name, ty.clone(), *span, LocalKind::Payload);
        }
        // A second payload was reported; declare it anyway so its uses are not reported again.
        for item in &decl.items {
            if let FlowItem::Payload(extra) = item
                && info.payload.as_ref().is_some_and(|(_, _, span)| *span != extra.name.span)
            {
                let ty = self.resolve_type(&extra.ty, &[]);
                cx.declare(&extra.name.name, ty, extra.name.span, LocalKind::Implicit);
            }
        }
        if let Some(clause) = dedupe {
            if !webhook {
                self.report(
                    Diagnostic::new(Code::MisplacedClause, clause.key.span, "`dedupe:` applies to webhook flows")
                        .label("there are no events to deduplicate")
                        .help("deduplicate records in a loop with `for x in ... dedupe x.id { ... }`"),
                );
            } else if let Some(value) = self.setting_of(clause) {
                match value.single() {
                    Some(expr) => {
                        let ty = self.check_expr(&mut cx, expr, None);
                        self.require_key(&ty, expr.span, "an event id");
                    }
                    None => self.malformed_value(
                        value.span,
                        "`dedupe` takes one expression",
                        "an expression such as `event.id`",
                    ),
                }
            }
        }
        self.check_statements(&mut cx, &decl.statements());
        let unused = cx.finish();
        self.report_unused_locals(unused);
    }

    /// Checks a trigger; returns whether it is a webhook.
    fn check_trigger(&mut self, clause: &ast::Clause) -> bool {
        let Some(value) = self.setting_of(clause) else {
            return false;
        };
        let usage = "`every 5m`, `cron(\"0 */5 * * * *\")`, `webhook(path: \"/hooks/name\")` or `manual`";
        let [phrase] = value.phrases.as_slice() else {
            self.report(
                Diagnostic::new(Code::InvalidTrigger, value.span, "a flow has one trigger")
                    .label(format!("expected {usage}")),
            );
            return false;
        };
        match phrase.atoms.as_slice() {
            [Expr { kind: ExprKind::Name(name), .. }] if name.name == "manual" => false,
            [Expr { kind: ExprKind::Name(every), .. }, interval] if every.name == "every" => {
                if let Some(ms) = self.duration_value(interval)
                    && ms < 1_000
                {
                    self.report(
                        Diagnostic::new(Code::InvalidTrigger, interval.span, "a schedule runs at most once a second")
                            .label("shorter than 1s")
                            .help("use a webhook for events that need a faster reaction"),
                    );
                }
                false
            }
            [call @ Expr { kind: ExprKind::Call { callee, args, args_span }, .. }] => match &callee.kind {
                ExprKind::Name(name) if name.name == "cron" => {
                    self.cron(call, args, *args_span);
                    false
                }
                ExprKind::Name(name) if name.name == "webhook" => {
                    self.webhook(args, *args_span);
                    true
                }
                ExprKind::Name(name) => {
                    self.unknown_trigger(name);
                    false
                }
                _ => {
                    self.report(
                        Diagnostic::new(Code::InvalidTrigger, call.span, "unknown trigger")
                            .label(format!("expected {usage}")),
                    );
                    false
                }
            },
            [Expr { kind: ExprKind::Name(name), .. }, ..] if name.name != "every" => {
                self.unknown_trigger(name);
                false
            }
            _ => {
                self.report(
                    Diagnostic::new(Code::InvalidTrigger, value.span, "malformed trigger")
                        .label(format!("expected {usage}")),
                );
                false
            }
        }
    }

    fn unknown_trigger(&mut self, name: &ast::Ident) {
        let mut diagnostic =
            Diagnostic::new(Code::InvalidTrigger, name.span, format!("unknown trigger `{}`", name.name))
                .label("expected `every`, `cron`, `webhook` or `manual`");
        let alias = match name.name.as_str() {
            "schedule" | "interval" => Some("every"),
            "on_demand" | "ondemand" | "demand" => Some("manual"),
            "hook" => Some("webhook"),
            _ => None,
        };
        if let Some(best) = alias.or_else(|| suggest::best(&name.name, ["every", "cron", "webhook", "manual"])) {
            diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), name.span, best);
        }
        self.report(diagnostic);
    }

    fn cron(&mut self, call: &Expr, args: &[ast::Arg], args_span: Span) {
        let [arg] = args else {
            self.report(
                Diagnostic::new(Code::InvalidCron, args_span, "`cron` takes one expression")
                    .label("write `cron(\"0 */5 * * * *\")`"),
            );
            return;
        };
        let ExprKind::String(literal) = &arg.value.kind else {
            self.report(
                Diagnostic::new(Code::InvalidCron, arg.value.span, "a cron expression is a string")
                    .label("expected a string"),
            );
            return;
        };
        let Some(text) = literal.as_plain() else {
            self.report(
                Diagnostic::new(Code::InvalidCron, arg.value.span, "a cron expression cannot interpolate")
                    .label("write it out"),
            );
            return;
        };
        let _ = call;
        let fields = text.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            self.report(
                Diagnostic::new(
                    Code::InvalidCron,
                    arg.value.span,
                    format!("a cron expression has 5 or 6 fields, not {fields}"),
                )
                .label("minute hour day-of-month month day-of-week, with optional seconds first")
                .help("for every five minutes write \"*/5 * * * *\""),
            );
            return;
        }
        let parsed = croner::parser::CronParser::builder()
            .seconds(if fields == 6 { croner::parser::Seconds::Required } else { croner::parser::Seconds::Disallowed })
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(&text);
        if let Err(error) = parsed {
            self.report(
                Diagnostic::new(Code::InvalidCron, arg.value.span, format!("invalid cron expression: {error}"))
                    .label("not a valid schedule")
                    .help("fields are minute (0-59), hour (0-23), day of month (1-31), month (1-12), day of week (0-6); `*`, `*/n`, `a-b` and `a,b` are allowed"),
            );
        }
    }

    fn webhook(&mut self, args: &[ast::Arg], args_span: Span) {
        let mut path_given = false;
        let mut seen: Vec<&str> = Vec::new();
        for (position, arg) in args.iter().enumerate() {
            let name = match &arg.name {
                Some(name) => name.name.as_str(),
                None if position == 0 => "path",
                None => {
                    self.report(
                        Diagnostic::new(Code::InvalidTrigger, arg.span, "name this argument of `webhook`")
                            .label("expected `name: value`"),
                    );
                    continue;
                }
            };
            if seen.contains(&name) {
                self.report(
                    Diagnostic::new(Code::DuplicateMember, arg.span, format!("`{name}` is given twice"))
                        .label("already given"),
                );
                continue;
            }
            seen.push(name);
            match name {
                "path" => {
                    path_given = true;
                    let valid = matches!(&arg.value.kind, ExprKind::String(literal) if literal.as_plain().is_some_and(|path| path.starts_with('/') && !path.contains(['?', '#', ' '])));
                    if !valid {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidTrigger,
                                arg.value.span,
                                "a webhook path is a string starting with `/`",
                            )
                            .label("expected a path such as \"/hooks/github\""),
                        );
                    } else if let ExprKind::String(literal) = &arg.value.kind
                        && let Some(path) = literal.as_plain()
                    {
                        match self.webhook_paths.get(&path) {
                            Some(first) => {
                                let first = *first;
                                self.report(
                                    Diagnostic::new(
                                        Code::InvalidTrigger,
                                        arg.value.span,
                                        format!("two webhook flows listen on `{path}`"),
                                    )
                                    .label("this path is taken")
                                    .secondary(first, "by this flow's trigger")
                                    .help("give each webhook flow its own path"),
                                );
                            }
                            None => {
                                self.webhook_paths.insert(path, arg.value.span);
                            }
                        }
                    }
                }
                "signature" => self.check_signature_scheme(&arg.value),
                "max_body" => match &arg.value.kind {
                    ExprKind::Quantity(quantity) => match super::literals::size_bytes(quantity, &arg.value) {
                        Ok(0) => self.report(
                            Diagnostic::new(Code::InvalidSize, arg.value.span, "a body limit of zero")
                                .label("every event would be rejected"),
                        ),
                        Ok(_) => {}
                        Err(diagnostic) => self.report(diagnostic),
                    },
                    _ => self.report(
                        Diagnostic::new(Code::InvalidSize, arg.value.span, "`max_body` is a size")
                            .label("expected a size such as `1MB`"),
                    ),
                },
                other => {
                    let key = arg.name.clone().unwrap_or_else(|| ast::Ident { name: other.to_owned(), span: arg.span });
                    let mut diagnostic = Diagnostic::new(
                        Code::InvalidTrigger,
                        key.span,
                        format!("`webhook` has no parameter `{other}`"),
                    )
                    .label("unknown parameter");
                    if let Some(best) = suggest::best(other, ["path", "signature", "max_body"]) {
                        diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), key.span, best);
                    } else {
                        diagnostic = diagnostic.note("its parameters are `path`, `signature` and `max_body`");
                    }
                    self.report(diagnostic);
                }
            }
        }
        if !path_given {
            self.report(
                Diagnostic::new(Code::InvalidTrigger, args_span, "`webhook` needs a `path`")
                    .label("where do events arrive?")
                    .help("write `webhook(path: \"/hooks/name\", signature: ...)`"),
            );
        }
        if !seen.contains(&"signature") {
            self.report(
                Diagnostic::new(Code::InvalidSignatureScheme, args_span, "`webhook` needs a `signature`")
                    .label("anyone who finds the URL could send events")
                    .help("verify the sender: `signature: github(secret: hook_secret)`, `hmac(...)`, `stripe(...)`, `standard_webhooks(...)`, or write `signature: none` to accept unsigned events"),
            );
        }
    }

    /// A key for deduplication: a scalar.
    fn require_key(&mut self, ty: &Ty, span: Span, what: &str) {
        if !(ty.is_scalar() || matches!(ty, Ty::Error | Ty::Json)) {
            let shown = self.show(ty);
            let code = if ty.is_optional() { Code::OptionalNotUnwrapped } else { Code::TypeMismatch };
            self.report(
                Diagnostic::new(code, span, format!("{what} must be a string, number or other scalar, not `{shown}`"))
                    .label("cannot be used as a key")
                    .help("use an id field of the record"),
            );
        }
    }

    pub(crate) fn check_statements(&mut self, cx: &mut Cx, statements: &[&Stmt]) {
        let mark = cx.narrowing_mark();
        let mut ended: Option<Span> = None;
        for statement in statements {
            if let Some(end) = ended.take() {
                self.report(
                    Diagnostic::new(Code::UnreachableCode, statement.span, "unreachable statement")
                        .label("this never runs")
                        .secondary(end, "the record's processing ends here"),
                );
            }
            self.check_statement(cx, statement);
            if diverges(statement) {
                ended = Some(statement.span);
            } else if let StmtKind::If(if_statement) = &statement.kind {
                // `if o.email == none { skip }`: below it, `o.email` is not none.
                let then_ends = block_diverges(&if_statement.then_block);
                let else_ends = match &if_statement.else_branch {
                    Some(ElseBranch::Block(block)) => block_diverges(block),
                    Some(ElseBranch::If(nested)) => diverges(nested),
                    None => false,
                };
                let narrowing = self.narrowing(cx, &if_statement.condition);
                let survivors = match (then_ends, else_ends) {
                    (true, false) => narrowing.when_false,
                    (false, true) => narrowing.when_true,
                    _ => Vec::new(),
                };
                for (path, ty) in survivors {
                    cx.narrow(path, ty);
                }
            }
        }
        cx.restore_narrowing(mark);
    }

    fn check_block(&mut self, cx: &mut Cx, block: &Block) {
        cx.push();
        let statements: Vec<&Stmt> = block.stmts.iter().collect();
        self.check_statements(cx, &statements);
        cx.pop();
    }

    fn check_statement(&mut self, cx: &mut Cx, statement: &Stmt) {
        crate::with_stack(|| self.check_statement_inner(cx, statement))
    }

    fn check_statement_inner(&mut self, cx: &mut Cx, statement: &Stmt) {
        match &statement.kind {
            StmtKind::Let(statement) => {
                self.check_let(cx, statement);
                if let Some(catch) = &statement.catch {
                    for arm in catch.arms.iter().filter(|arm| arm.action.name == "ignore") {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidCatch,
                                arm.action.span,
                                format!("`ignore` cannot give `{}` a value", statement.name.name),
                            )
                            .label("the call's result is needed below")
                            .help(
                                "use `skip`, `dead_letter` or `fail`; `ignore` is for calls whose result is not used",
                            ),
                        );
                    }
                }
            }
            StmtKind::For(for_statement) => {
                let iterable_ty = self.check_expr(cx, &for_statement.iterable, None);
                let element = match &iterable_ty {
                    Ty::Stream(element) | Ty::List(element) => (**element).clone(),
                    Ty::Error => Ty::Error,
                    Ty::Json => Ty::Json,
                    Ty::Optional(inner) if matches!(**inner, Ty::List(_)) => {
                        self.report(
                            Diagnostic::new(
                                Code::OptionalNotUnwrapped,
                                for_statement.iterable.span,
                                format!("cannot loop over `{}`: it may be none", self.show(&iterable_ty)),
                            )
                            .label("this may be none")
                            .help("loop over `xs ?? []`")
                            .maybe_fix(
                                "default to an empty list",
                                for_statement.iterable.span.shrink_to_end(),
                                " ?? []",
                            ),
                        );
                        Ty::Error
                    }
                    other => {
                        let shown = self.show(other);
                        let mut diagnostic = Diagnostic::new(
                            Code::NotAStream,
                            for_statement.iterable.span,
                            format!("`for` needs a stream or a list, not `{shown}`"),
                        )
                        .label(format!("this is `{shown}`"));
                        if let ExprKind::Call { callee, .. } = &for_statement.iterable.kind
                            && let ExprKind::Field { base, name, .. } = &callee.kind
                            && self.api_named(cx, base).is_some()
                        {
                            diagnostic = diagnostic.help(format!(
                                        "`{}` returns one `{shown}`: call it without a loop, or declare it `-> stream T` if it is paginated",
                                        name.name
                                    ));
                        }
                        self.report(diagnostic);
                        Ty::Error
                    }
                };
                cx.push();
                cx.declare(&for_statement.binding.name, element, for_statement.binding.span, LocalKind::ForBinding);
                let mark = cx.narrowing_mark();
                if let Some(filter) = &for_statement.filter {
                    let filter_ty = self.check_expr(cx, filter, Some(&Ty::Bool));
                    self.expect_assignable(&filter_ty, &Ty::Bool, filter.span, "a `where` filter");
                    for (path, ty) in self.narrowing(cx, filter).when_true {
                        cx.narrow(path, ty);
                    }
                }
                if let Some(key) = &for_statement.dedupe {
                    let key_ty = self.check_expr(cx, key, None);
                    self.require_key(&key_ty, key.span, "a `dedupe` key");
                }
                cx.loops += 1;
                self.check_block(cx, &for_statement.body);
                cx.loops -= 1;
                cx.restore_narrowing(mark);
                cx.pop();
            }
            StmtKind::If(if_statement) => self.check_if(cx, if_statement),
            StmtKind::Skip => {
                if cx.loops == 0 {
                    self.report(
                        Diagnostic::new(Code::SkipOutsideLoop, statement.span, "`skip` outside a `for` loop")
                            .label("there is no record to skip")
                            .help(
                                "`skip` ends the current record of a `for` loop; to stop the run, use `fail \"why\"`",
                            ),
                    );
                }
            }
            StmtKind::Fail(message) => {
                let saved = cx.secrets;
                cx.secrets = Secrets::Forbidden("a failure message");
                self.check_expr(cx, message, Some(&Ty::String));
                cx.secrets = saved;
            }
            StmtKind::Log { message, .. } => {
                let saved = cx.secrets;
                cx.secrets = Secrets::Forbidden("a log message");
                let ty = self.check_expr(cx, message, Some(&Ty::String));
                cx.secrets = saved;
                if !ty.is_scalar() && !ty.is_error() {
                    self.report_mismatch(&ty, &Ty::String, message.span, "a log message");
                }
            }
            StmtKind::Assign { target, value } => {
                let local = cx.peek(&target.name).cloned();
                match local {
                    Some(local) if local.kind == LocalKind::State => {
                        // State is persisted: writing it is a use.
                        cx.lookup(&target.name);
                        self.local_uses.push((target.span, local.span));
                        let ty = self.check_expr(cx, value, Some(&local.ty));
                        if !self.fits(cx, &ty, &local.ty) {
                            let (expected, actual) = (self.show(&local.ty), self.show(&ty));
                            self.report(
                                Diagnostic::new(
                                    Code::StateTypeMismatch,
                                    value.span,
                                    format!("state `{}` is `{expected}`, but this is `{actual}`", target.name),
                                )
                                .label(format!("expected `{expected}`"))
                                .secondary(local.span, format!("`{}` is declared as `{expected}` here", target.name)),
                            );
                        }
                        cx.forget_narrowing(&target.name);
                    }
                    Some(local) => {
                        self.check_expr(cx, value, None);
                        let what = match local.kind {
                            LocalKind::Let => "a `let` binding",
                            LocalKind::ForBinding => "a loop variable",
                            LocalKind::Payload => "the payload",
                            _ => "a parameter",
                        };
                        self.report(
                            Diagnostic::new(
                                Code::NotAssignable,
                                target.span,
                                format!("cannot assign to `{}`: it is {what}", target.name),
                            )
                            .label("not state")
                            .secondary(local.span, "declared here")
                            .help("only `state` is assigned; bind a new name with `let` instead"),
                        );
                    }
                    None => {
                        self.check_expr(cx, value, None);
                        let mut diagnostic = Diagnostic::new(
                            Code::NotAssignable,
                            target.span,
                            format!("cannot assign to `{}`: no state of that name", target.name),
                        )
                        .label("unknown state");
                        let states: Vec<String> = cx.names();
                        if let Some(best) = suggest::best(&target.name, states.iter().map(String::as_str)) {
                            diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                                format!("use `{best}`"),
                                target.span,
                                best,
                            );
                        } else {
                            diagnostic = diagnostic
                                .help(format!("declare it in the flow: `state {}: Type = initial`", target.name));
                        }
                        self.report(diagnostic);
                    }
                }
            }
            StmtKind::Expr { expr, catch } => {
                let ty = self.check_expr(cx, expr, None);
                if let Some(catch) = catch {
                    self.check_catch(cx, expr, catch);
                }
                let is_call = matches!(expr.kind, ExprKind::Call { .. });
                if !is_call && !ty.is_error() {
                    self.report(
                        Diagnostic::new(Code::UselessExpression, expr.span, "this expression has no effect")
                            .label("its value is never used")
                            .help("bind it with `let`, assign it to state, or remove it"),
                    );
                } else if is_call && !self.is_endpoint_call(cx, expr) && !ty.is_error() && !matches!(ty, Ty::Unit) {
                    self.report(
                        Diagnostic::new(Code::UselessExpression, expr.span, "the result of this call is never used")
                            .label("functions and maps have no side effects")
                            .help("bind the result with `let`, or pass it to an endpoint"),
                    );
                }
                if let Ty::Stream(_) = ty {
                    self.report(
                        Diagnostic::new(Code::UselessExpression, expr.span, "a stream that is never read")
                            .label("nothing is fetched until a `for` loop reads it")
                            .help("loop over it: `for record in ... { }`"),
                    );
                }
            }
        }
    }

    fn is_endpoint_call(&self, cx: &Cx, expr: &Expr) -> bool {
        match &expr.kind {
            ExprKind::Call { callee, .. } => {
                matches!(&callee.kind, ExprKind::Field { base, .. } if self.api_named(cx, base).is_some())
            }
            _ => false,
        }
    }

    fn check_if(&mut self, cx: &mut Cx, statement: &ast::IfStmt) {
        let condition_ty = self.check_expr(cx, &statement.condition, Some(&Ty::Bool));
        self.expect_assignable(&condition_ty, &Ty::Bool, statement.condition.span, "an `if` condition");
        let narrowing = self.narrowing(cx, &statement.condition);
        let mark = cx.narrowing_mark();
        for (path, ty) in narrowing.when_true {
            cx.narrow(path, ty);
        }
        self.check_block(cx, &statement.then_block);
        cx.restore_narrowing(mark);
        match &statement.else_branch {
            Some(ElseBranch::Block(block)) => {
                for (path, ty) in narrowing.when_false {
                    cx.narrow(path, ty);
                }
                self.check_block(cx, block);
                cx.restore_narrowing(mark);
            }
            Some(ElseBranch::If(nested)) => {
                for (path, ty) in narrowing.when_false {
                    cx.narrow(path, ty);
                }
                self.check_statement(cx, nested);
                cx.restore_narrowing(mark);
            }
            None => {}
        }
    }

    /// `catch { Api.Error => action }` after an endpoint call.
    pub(crate) fn check_catch(&mut self, cx: &mut Cx, call: &Expr, catch: &Catch) {
        let called = match &call.kind {
            ExprKind::Call { callee, .. } => match &callee.kind {
                ExprKind::Field { base, name, .. } => {
                    self.api_named(cx, base).map(|api| (api, self.apis[api].endpoint(&name.name)))
                }
                _ => None,
            },
            _ => None,
        };
        let Some((api, endpoint)) = called else {
            self.report(
                Diagnostic::new(Code::InvalidCatch, catch.span, "`catch` applies to endpoint calls")
                    .label("nothing here can fail with an api error")
                    .secondary(call.span, "this is not an endpoint call"),
            );
            return;
        };
        let api_name = self.apis[api].name.clone();
        let names = self.apis[api].error_names(endpoint);
        let mut wildcard: Option<Span> = None;
        let mut seen: Vec<String> = Vec::new();
        for arm in &catch.arms {
            if let Some(wildcard_span) = wildcard {
                self.report(
                    Diagnostic::new(Code::UnreachableCode, arm.span, "unreachable catch arm")
                        .label("never reached")
                        .secondary(wildcard_span, "`_` catches every error before this arm")
                        .fix("remove it", arm.span, ""),
                );
            }
            match &arm.target {
                CatchTarget::Wildcard(span) => wildcard = Some(*span),
                CatchTarget::Error { api: qualifier, name } => {
                    if let Some(qualifier) = qualifier
                        && qualifier.name != api_name
                    {
                        self.report(
                            Diagnostic::new(
                                Code::UnknownErrorName,
                                qualifier.span,
                                format!("this call is to `{api_name}`, not `{}`", qualifier.name),
                            )
                            .label(format!("errors of `{}` cannot come from this call", qualifier.name))
                            .maybe_fix(
                                format!("use `{api_name}`"),
                                qualifier.span,
                                api_name.clone(),
                            ),
                        );
                        continue;
                    }
                    if !names.contains(&name.name) {
                        let mut diagnostic = Diagnostic::new(
                            Code::UnknownErrorName,
                            name.span,
                            format!("`{api_name}` has no error `{}`", name.name),
                        )
                        .label("unknown error name");
                        if let Some(best) = suggest::best(&name.name, names.iter().map(String::as_str)) {
                            diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                                format!("use `{best}`"),
                                name.span,
                                best,
                            );
                        } else {
                            diagnostic = diagnostic
                                .note(format!(
                                    "its errors are {}",
                                    super::decls::join_words(
                                        &names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>()
                                    )
                                ))
                                .help(format!("name statuses in the api: `errors {{ 409 => {} }}`", name.name));
                        }
                        self.report(diagnostic);
                        continue;
                    }
                    if seen.contains(&name.name) {
                        self.report(
                            Diagnostic::new(
                                Code::UnreachableCode,
                                arm.span,
                                format!("`{}` is caught twice", name.name),
                            )
                            .label("the first arm always wins")
                            .fix("remove it", arm.span, ""),
                        );
                    }
                    seen.push(name.name.clone());
                }
            }
            if !CATCH_ACTIONS.contains(&arm.action.name.as_str()) {
                let mut diagnostic = Diagnostic::new(
                    Code::InvalidCatch,
                    arm.action.span,
                    format!("unknown catch action `{}`", arm.action.name),
                )
                .label("expected `skip`, `dead_letter`, `fail` or `ignore`");
                let alias = match arm.action.name.as_str() {
                    "deadletter" | "dlq" | "dead_letters" => Some("dead_letter"),
                    "continue" | "discard" => Some("ignore"),
                    "abort" | "error" | "stop" => Some("fail"),
                    _ => None,
                };
                if let Some(best) = alias.or_else(|| suggest::best(&arm.action.name, CATCH_ACTIONS.iter().copied())) {
                    diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), arm.action.span, best);
                }
                self.report(diagnostic);
            } else if arm.action.name == "skip" && cx.loops == 0 {
                self.report(
                    Diagnostic::new(Code::SkipOutsideLoop, arm.action.span, "`skip` outside a `for` loop")
                        .label("there is no record to skip")
                        .help("use `ignore` to go on without the call's result, or `dead_letter` or `fail`"),
                );
            }
        }
    }
}

/// Whether a statement never lets the statements after it run.
fn diverges(statement: &Stmt) -> bool {
    match &statement.kind {
        StmtKind::Skip | StmtKind::Fail(_) => true,
        StmtKind::If(if_statement) => {
            block_diverges(&if_statement.then_block)
                && match &if_statement.else_branch {
                    Some(ElseBranch::Block(block)) => block_diverges(block),
                    Some(ElseBranch::If(nested)) => diverges(nested),
                    None => false,
                }
        }
        _ => false,
    }
}

fn block_diverges(block: &Block) -> bool {
    block.stmts.last().is_some_and(diverges)
}
