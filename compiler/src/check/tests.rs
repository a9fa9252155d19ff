//! `test` blocks: stand-ins (`given`), runs and expectations.
//!
//! In: test declarations. Out: diagnostics for stand-in responses that do
//! not fit their endpoint (E0901, a misplaced or malformed `per page N`
//! included), runs of unknown flows (E0215), expectations that are not Bool
//! (E0900), and secrets in tests (E0700).

use super::scope::{BodyKind, Cx, Secrets};
use super::types::Ty;
use super::{Checker, SymbolKind, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, BinaryOp, Expr, ExprKind, Phrase, TestItem};

impl Checker<'_> {
    pub(crate) fn check_test(&mut self, test: &ast::TestDecl) {
        let mut cx = Cx::new(BodyKind::Test, Secrets::Forbidden("a test"));
        if test.name.trim().is_empty() {
            self.report(
                Diagnostic::new(Code::InvalidGiven, test.name_span, "a test needs a name")
                    .label("empty name")
                    .help("say what it checks: `test \"pending orders are skipped\" { ... }`"),
            );
        }
        if test.items.is_empty() {
            self.report(
                Diagnostic::new(Code::ExpectNotBool, test.name_span, format!("test \"{}\" checks nothing", test.name))
                    .label("no `expect` in this test")
                    .help("add `expect condition`"),
            );
        }
        for item in &test.items {
            match item {
                TestItem::Let(statement) => self.check_let(&mut cx, statement),
                TestItem::Expect { condition, .. } => {
                    cx.secrets = Secrets::Forbidden("a test expectation");
                    let ty = self.check_expr(&mut cx, condition, Some(&Ty::Bool));
                    cx.secrets = Secrets::Forbidden("a test");
                    if !matches!(ty, Ty::Bool | Ty::Error) {
                        let shown = self.show(&ty);
                        let mut diagnostic = Diagnostic::new(
                            Code::ExpectNotBool,
                            condition.span,
                            format!("`expect` needs a Bool, found `{shown}`"),
                        )
                        .label("not a condition");
                        diagnostic = if ty.is_optional() {
                            diagnostic.help("compare it: `expect x == value`, or `expect x != none`")
                        } else {
                            diagnostic.help("compare it with the value you expect: `expect x == value`")
                        };
                        self.report(diagnostic);
                    }
                }
                TestItem::Run { flow, args, .. } => self.check_run(&mut cx, flow, args),
                TestItem::Given { target, response, .. } => self.check_given(&mut cx, target, response),
            }
        }
        let unused = cx.finish();
        self.report_unused_locals(unused);
    }

    fn check_run(&mut self, cx: &mut Cx, flow: &ast::Ident, args: &[ast::Arg]) {
        let info = match self.use_symbol(&flow.name).map(|index| self.symbols[index].kind.clone()) {
            Some(SymbolKind::Flow) => self.flows.get(&flow.name).cloned(),
            _ => None,
        };
        let Some(info) = info else {
            let flows: Vec<String> = self.flows.keys().cloned().collect();
            let mut diagnostic = Diagnostic::new(Code::UnknownFlow, flow.span, format!("unknown flow `{}`", flow.name))
                .label("no flow of this name");
            if let Some(best) = suggest::best(&flow.name, flows.iter().map(String::as_str)) {
                diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                    format!("use `{best}`"),
                    flow.span,
                    best,
                );
            }
            self.report(diagnostic);
            self.check_args_loosely(cx, args);
            return;
        };
        let mut given: Vec<String> = Vec::new();
        for (position, arg) in args.iter().enumerate() {
            let (name, span) = match &arg.name {
                Some(name) => (name.name.clone(), name.span),
                None if position == 0 && info.payload.is_some() => {
                    (info.payload.as_ref().map(|(name, _, _)| name.clone()).unwrap_or_default(), arg.span)
                }
                None => {
                    self.report(
                        Diagnostic::new(Code::WrongArgumentCount, arg.span, "name this argument of `run`")
                            .label("expected `payload_name: value` or `state_name: value`"),
                    );
                    self.check_expr(cx, &arg.value, None);
                    continue;
                }
            };
            let target = info
                .payload
                .iter()
                .chain(info.states.iter())
                .find(|(candidate, _, _)| *candidate == name)
                .map(|(_, ty, _)| ty.clone());
            let Some(ty) = target else {
                let mut candidates: Vec<&str> = info.states.iter().map(|(name, _, _)| name.as_str()).collect();
                if let Some((payload, _, _)) = &info.payload {
                    candidates.push(payload);
                }
                let mut diagnostic = Diagnostic::new(
                    Code::UnknownArgument,
                    span,
                    format!("flow `{}` has no state or payload `{name}`", info.name),
                )
                .label("unknown name");
                if let Some(best) = suggest::best(&name, candidates.iter().copied()) {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                        format!("use `{best}`"),
                        span,
                        best,
                    );
                }
                self.report(diagnostic);
                self.check_expr(cx, &arg.value, None);
                continue;
            };
            if given.contains(&name) {
                self.report(
                    Diagnostic::new(Code::DuplicateMember, span, format!("`{name}` is given twice"))
                        .label("already given"),
                );
            }
            given.push(name.clone());
            let actual = self.check_expr(cx, &arg.value, Some(&ty));
            self.expect_assignable(&actual, &ty, arg.value.span, &format!("`{name}`"));
        }
        if let Some((payload, _, _)) = &info.payload
            && !given.contains(payload)
        {
            self.report(
                Diagnostic::new(Code::PayloadMisuse, flow.span, format!("`run {}` needs a payload", info.name))
                    .label("webhook flows run on an event")
                    .help(format!("pass one: `run {}({payload}: fixture(\"event.json\"))`", info.name)),
            );
        }
    }

    fn check_given(&mut self, cx: &mut Cx, target: &Expr, response: &ast::SettingValue) {
        let (endpoint_expr, args) = match &target.kind {
            ExprKind::Call { callee, args, .. } => (&**callee, args.as_slice()),
            _ => (target, &[][..]),
        };
        let Some((api, endpoint)) = self.endpoint_ref(cx, endpoint_expr) else {
            return;
        };
        let info = self.apis[api].endpoints[endpoint].clone();
        for arg in args {
            let param = match &arg.name {
                Some(name) => info.params.iter().find(|param| param.name == name.name),
                None => None,
            };
            match (param, &arg.name) {
                (Some(param), _) => {
                    let ty = self.check_expr(cx, &arg.value, Some(&param.ty));
                    self.expect_assignable(&ty, &param.ty, arg.value.span, &format!("argument `{}`", param.name));
                }
                (None, Some(name)) => {
                    let mut diagnostic = Diagnostic::new(
                        Code::UnknownArgument,
                        name.span,
                        format!("`{}` has no parameter `{}`", info.name, name.name),
                    )
                    .label("unknown parameter");
                    if let Some(best) = suggest::best(&name.name, info.params.iter().map(|param| param.name.as_str())) {
                        diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), name.span, best);
                    }
                    self.report(diagnostic);
                }
                (None, None) => self.report(
                    Diagnostic::new(Code::InvalidGiven, arg.span, "name the arguments a stand-in matches")
                        .label("expected `name: value`"),
                ),
            }
        }
        for (index, phrase) in response.phrases.iter().enumerate() {
            let atoms: &[Expr] = if index == 0 {
                &phrase.atoms
            } else {
                match phrase.atoms.split_first() {
                    Some((first, rest)) if is_word(first, "then") => rest,
                    _ => {
                        self.report(
                            Diagnostic::new(Code::InvalidGiven, phrase.span, "later responses start with `then`")
                                .label("expected `then returns ...` or `then fails ...`")
                                .maybe_fix("add `then`", phrase.span.shrink_to_start(), "then "),
                        );
                        continue;
                    }
                }
            };
            self.given_response(cx, phrase, atoms, &info.result, &info.name);
        }
    }

    fn given_response(&mut self, cx: &mut Cx, phrase: &Phrase, atoms: &[Expr], result: &Ty, endpoint: &str) {
        let usage = "`returns VALUE`, `fails STATUS`, `fails 429 retry_after 1s`, `times out`, `resets` or `succeeds`";
        match atoms {
            [word, per, page, ..] if is_word(word, "returns") && is_word(per, "per") && is_word(page, "page") => {
                self.report(
                    Diagnostic::new(Code::InvalidGiven, word.span, "`returns` needs a value before `per page`")
                        .label("nothing to return")
                        .help("write the list of records first: `returns [a, b, c] per page 2`"),
                );
            }
            [word, value, rest @ ..] if is_word(word, "returns") => {
                let whole = rest.last().map_or(value.span, |last| word.span.to(last.span));
                let expected = match result {
                    Ty::Stream(item) => (**item).clone().list(),
                    Ty::Unit => {
                        self.report(
                            Diagnostic::new(Code::InvalidGiven, word.span, format!("`{endpoint}` returns nothing"))
                                .label("there is no value to return")
                                .fix("use `succeeds`", word.span.to(whole), "succeeds"),
                        );
                        return;
                    }
                    other => other.clone(),
                };
                let ty = self.check_expr(cx, value, Some(&expected));
                self.expect_assignable(&ty, &expected, value.span, &format!("the stand-in for `{endpoint}`"));
                if !rest.is_empty() {
                    self.check_page_size(value, rest, result, endpoint);
                }
            }
            [word] if is_word(word, "succeeds") => {
                if !matches!(result, Ty::Unit) {
                    self.report(
                        Diagnostic::new(Code::InvalidGiven, word.span, format!("`{endpoint}` returns a value"))
                            .label("say what it returns")
                            .help("write `returns value`"),
                    );
                }
            }
            [word] if is_word(word, "resets") => {}
            [first, second] if is_word(first, "times") && is_word(second, "out") => {}
            [word, status, rest @ ..] if is_word(word, "fails") => {
                match status.kind {
                    ExprKind::Int(code) if (400..=599).contains(&code) => {}
                    _ => self.report(
                        Diagnostic::new(Code::InvalidGiven, status.span, "a stand-in fails with a 4xx or 5xx status")
                            .label("expected a status such as `503`"),
                    ),
                }
                let mut rest = rest;
                while !rest.is_empty() {
                    match rest {
                        [key, value, tail @ ..] if is_word(key, "retry_after") => {
                            self.duration_value(value);
                            rest = tail;
                        }
                        [key, value, tail @ ..] if is_word(key, "body") => {
                            self.check_expr(cx, value, Some(&Ty::Json));
                            rest = tail;
                        }
                        [other, ..] => {
                            self.report(
                                Diagnostic::new(Code::InvalidGiven, other.span, "unexpected words after the status")
                                    .label("expected `retry_after DURATION` or `body VALUE`"),
                            );
                            break;
                        }
                        [] => break,
                    }
                }
            }
            [word] if is_word(word, "fails") => {
                self.report(
                    Diagnostic::new(Code::InvalidGiven, word.span, "`fails` needs a status").label("write `fails 503`"),
                );
            }
            [word] if is_word(word, "returns") => {
                self.report(
                    Diagnostic::new(Code::InvalidGiven, word.span, "`returns` needs a value")
                        .label("write `returns [...]` or `returns fixture(\"file.json\")`"),
                );
            }
            _ => {
                let mut diagnostic = Diagnostic::new(Code::InvalidGiven, phrase.span, "malformed stand-in response")
                    .label(format!("expected {usage}"));
                if let Some(Expr { kind: ExprKind::Name(first), .. }) = atoms.first()
                    && let Some(best) = suggest::best(&first.name, ["returns", "fails", "times", "resets", "succeeds"])
                {
                    diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), first.span, best);
                }
                self.report(diagnostic);
            }
        }
    }

    /// The words after `returns VALUE`: only `per page N` (§ 13.1), on a
    /// stream endpoint, after a list (not a fixture), with `N` an integer
    /// literal of at least 1.
    fn check_page_size(&mut self, value: &Expr, rest: &[Expr], result: &Ty, endpoint: &str) {
        let (Some(first), Some(last)) = (rest.first(), rest.last()) else { return };
        let words = first.span.to(last.span);
        if !is_word(first, "per") {
            let mut diagnostic =
                Diagnostic::new(Code::InvalidGiven, words, "unexpected words after the returned value")
                    .label("expected `per page N` or the end of the response")
                    .help("a page size is written `returns [...] per page 2`; a later response starts after a comma: `returns [...], then fails 503`");
            if is_word(first, "then") {
                diagnostic = diagnostic.maybe_fix("add a comma", value.span.shrink_to_end(), ",");
            }
            self.report(diagnostic);
            return;
        }
        if !matches!(result, Ty::Stream(_)) {
            let removal = value.span.shrink_to_end().to(last.span);
            self.report(
                Diagnostic::new(
                    Code::InvalidGiven,
                    words,
                    format!("`{endpoint}` returns a single result, which has no pages"),
                )
                .label("`per page` is for stream endpoints")
                .help("remove `per page ...`: a single result is one response")
                .fix("remove `per page ...`", removal, ""),
            );
            return;
        }
        if is_fixture(value) {
            self.report(
                Diagnostic::new(Code::InvalidGiven, words, "`per page` does not apply to `returns fixture(...)`")
                    .label("a fixture cannot be cut into pages")
                    .secondary(value.span, "one whole response body, served as written")
                    .help("give each page as its own fixture, `returns fixture(\"page1.json\"), then returns fixture(\"page2.json\")`, or return a list of records: `returns [...] per page 2`"),
            );
            return;
        }
        match rest {
            [_, page, count, extra @ ..] if is_word(page, "page") => {
                match count.kind {
                    ExprKind::Int(records) if records >= 1 => {}
                    ExprKind::Int(records) => self.report(
                        Diagnostic::new(Code::InvalidGiven, count.span, "a page holds at least one record")
                            .label(format!("a page of {records} records"))
                            .help("write `per page 1` or more"),
                    ),
                    _ => self.report(
                        Diagnostic::new(Code::InvalidGiven, count.span, "`per page` takes an integer literal")
                            .label("expected a number of records such as `2`")
                            .help("write the number itself: `per page 2`"),
                    ),
                }
                if let (Some(first_extra), Some(last_extra)) = (extra.first(), extra.last()) {
                    let mut diagnostic = Diagnostic::new(
                        Code::InvalidGiven,
                        first_extra.span.to(last_extra.span),
                        "unexpected words after the page size",
                    )
                    .label("expected the end of the response")
                    .help("a later response starts after a comma: `returns [...] per page 2, then fails 503`");
                    if is_word(first_extra, "then") {
                        diagnostic = diagnostic.maybe_fix("add a comma", count.span.shrink_to_end(), ",");
                    }
                    self.report(diagnostic);
                }
            }
            // `per page -1` reads as `page - 1`.
            [_, negative, ..] if negative_page(negative).is_some() => {
                let span = negative_page(negative).unwrap_or(negative.span);
                self.report(
                    Diagnostic::new(Code::InvalidGiven, span, "a page holds at least one record")
                        .label("a negative page size")
                        .help("write `per page 1` or more"),
                );
            }
            [per, page] if is_word(page, "page") => {
                self.report(
                    Diagnostic::new(Code::InvalidGiven, per.span.to(page.span), "`per page` needs a number of records")
                        .label("how many records does a page hold?")
                        .help("write `per page 2`"),
                );
            }
            [per] => {
                self.report(
                    Diagnostic::new(Code::InvalidGiven, per.span, "`per` needs `page N`")
                        .label("expected `per page N`")
                        .help("write `per page 2`"),
                );
            }
            [_, other, ..] => {
                let mut diagnostic = Diagnostic::new(Code::InvalidGiven, other.span, "expected `page` after `per`")
                    .label("expected `page`")
                    .help("a page size is written `per page 2`");
                if let ExprKind::Name(name) = &other.kind
                    && suggest::best(&name.name, ["page"]).is_some()
                {
                    diagnostic = diagnostic.maybe_fix("use `page`", other.span, "page");
                }
                self.report(diagnostic);
            }
            [] => {}
        }
    }
}

/// `page -1`, which reads as `page - 1`: the span of `-1`.
fn negative_page(expr: &Expr) -> Option<crate::source::Span> {
    match &expr.kind {
        ExprKind::Binary { op: BinaryOp::Sub, op_span, lhs, rhs } if is_word(lhs, "page") => Some(op_span.to(rhs.span)),
        _ => None,
    }
}

/// `fixture("path")`, whose file is a whole response body.
fn is_fixture(expr: &Expr) -> bool {
    matches!(&expr.kind, ExprKind::Call { callee, .. } if is_word(callee, "fixture"))
}

fn is_word(expr: &Expr, word: &str) -> bool {
    matches!(&expr.kind, ExprKind::Name(name) if name.name == word)
}
