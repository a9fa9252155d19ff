//! Lowering `test` blocks → [`crate::ir::test`].
//!
//! A test's frame starts with one slot per flow of the program (named after
//! the flow, so that `sync_orders.read` lowers like any field access of a
//! local) and one slot per endpoint (named `calls(Api.endpoint)`, which no
//! source name can spell), which the test runner fills before each item:
//! the flow's latest results and the endpoint's calls so far. `fixture(...)`
//! lowers to [`Expr::Fixture`]; in `given ... returns fixture(...)` and
//! `fails ... body fixture(...)` the file is the raw body instead; the
//! `per page N` after `returns e` becomes [`Response::Returns`]'s `per_page`.

use super::{Frame, Lowerer};
use crate::check::types::Ty;
use crate::ir::Expr;
use crate::ir::test::{CallsSlot, Expectation, FailBody, FlowSlot, Response, Test, TestItem, TestItemKind};
use crate::source::FileId;
use crate::syntax::ast::{self, BinaryOp, ExprKind};

/// The frame name of the slot holding `calls(Api.endpoint)`.
fn calls_key(api: usize, endpoint: usize) -> String {
    format!("calls({api}.{endpoint})")
}

impl Lowerer<'_> {
    /// Lowers the tests declared in `file` (not those of imported modules).
    pub(super) fn lower_tests(&mut self, file: FileId) -> Vec<crate::ir::test::Test> {
        let Some(module) = self.loaded.module(file) else { return Vec::new() };
        let mut tests = Vec::new();
        for decl in &module.ast.decls {
            if let ast::DeclKind::Test(test) = &decl.kind {
                tests.push(self.lower_test(test));
            }
        }
        tests
    }

    fn lower_test(&mut self, decl: &ast::TestDecl) -> Test {
        let mut frame = Frame::new();
        let mut flows: Vec<FlowSlot> = Vec::new();
        let mut calls: Vec<CallsSlot> = Vec::new();
        let mut names: Vec<&String> = self.checked.flows.keys().collect();
        names.sort();
        for name in names {
            let Some(info) = self.checked.flows.get(name) else { continue };
            let slot = frame.declare(name);
            flows.push(FlowSlot { flow: name.clone(), slot, record: info.result.0 });
        }
        for (api, info) in self.checked.apis.iter().enumerate() {
            for (endpoint, endpoint_info) in info.endpoints.iter().enumerate() {
                let slot = frame.declare(&calls_key(api, endpoint));
                calls.push(CallsSlot {
                    api: api as u32,
                    endpoint: endpoint as u32,
                    slot,
                    record: endpoint_info.params_record.0,
                });
            }
        }
        let items = decl.items.iter().map(|item| self.lower_test_item(&mut frame, item, &flows)).collect();
        let mut reads_failed = Vec::new();
        for item in &decl.items {
            if let ast::TestItem::Expect { condition, .. } = item {
                collect_failed_reads(condition, &mut reads_failed);
            }
        }
        Test {
            name: decl.name.clone(),
            location: self.test_location(decl.name_span),
            span: decl.name_span,
            frame_size: frame.size,
            flows,
            calls,
            reads_failed,
            items,
        }
    }

    fn lower_test_item(&mut self, frame: &mut Frame, item: &ast::TestItem, flows: &[FlowSlot]) -> TestItem {
        let mut used = Vec::new();
        let (kind, span) = match item {
            ast::TestItem::Let(statement) => {
                collect_names(&statement.value, &mut used);
                let value = match statement.ty.as_ref().and_then(|written| self.resolve_written_type(written)) {
                    Some(declared) => self.lower_part_to(frame, &statement.value, &declared),
                    None => self.lower_part(frame, &statement.value),
                };
                let slot = frame.declare(&statement.name.name);
                (TestItemKind::Let { slot, value }, statement.span)
            }
            ast::TestItem::Given { target, response, span } => (self.lower_given(frame, target, response), *span),
            ast::TestItem::Run { flow, args, span } => {
                for arg in args {
                    collect_names(&arg.value, &mut used);
                }
                (self.lower_run(frame, flow, args), *span)
            }
            ast::TestItem::Expect { condition, span } => {
                collect_names(condition, &mut used);
                (TestItemKind::Expect(self.lower_expectation(frame, condition, &used)), *span)
            }
        };
        let reads = flows
            .iter()
            .filter(|flow| used.iter().any(|(name, _)| *name == flow.flow))
            .map(|flow| flow.flow.clone())
            .collect();
        let span = self.trimmed(span);
        TestItem { kind, location: self.test_location(span), span, reads }
    }

    fn lower_given(&mut self, frame: &mut Frame, target: &ast::Expr, response: &ast::SettingValue) -> TestItemKind {
        let (endpoint_expr, call_args) = match &target.kind {
            ExprKind::Call { callee, args, .. } => (&**callee, args.as_slice()),
            _ => (target, &[][..]),
        };
        let Some((api, endpoint)) = self.endpoint_of(endpoint_expr) else {
            return TestItemKind::Given { api: u32::MAX, endpoint: u32::MAX, args: Vec::new(), responses: Vec::new() };
        };
        let info = self.checked.apis[api].endpoints[endpoint].clone();
        let mut args = Vec::new();
        for arg in call_args {
            let Some(name) = &arg.name else { continue };
            let Some(index) = info.params.iter().position(|param| param.name == name.name) else { continue };
            let ty = info.params[index].ty.clone();
            args.push((index as u32, self.lower_to(frame, &arg.value, &ty), ty));
        }
        let expected = match &info.result {
            Ty::Stream(item) => (**item).clone().list(),
            other => other.clone(),
        };
        let mut responses = Vec::new();
        for (index, phrase) in response.phrases.iter().enumerate() {
            let atoms: &[ast::Expr] = match phrase.atoms.split_first() {
                Some((first, rest)) if index > 0 && is_word(first, "then") => rest,
                _ => &phrase.atoms,
            };
            responses.push(self.lower_response(frame, atoms, &expected));
        }
        TestItemKind::Given { api: api as u32, endpoint: endpoint as u32, args, responses }
    }

    fn lower_response(&mut self, frame: &mut Frame, atoms: &[ast::Expr], expected: &Ty) -> Response {
        match atoms {
            [word, value, rest @ ..] if is_word(word, "returns") => match fixture_path(value) {
                Some(path) => Response::ReturnsFixture { path },
                None => Response::Returns {
                    value: self.lower_to(frame, value, expected),
                    ty: expected.clone(),
                    per_page: per_page(rest),
                },
            },
            [word] if is_word(word, "succeeds") => Response::Succeeds,
            [word] if is_word(word, "resets") => Response::Resets,
            [first, second] if is_word(first, "times") && is_word(second, "out") => Response::TimesOut,
            [word, status, rest @ ..] if is_word(word, "fails") => {
                let status = match status.kind {
                    ExprKind::Int(code) => u16::try_from(code).unwrap_or(500),
                    _ => 500,
                };
                let mut retry_after_ms = None;
                let mut body = None;
                let mut rest = rest;
                while let [key, value, tail @ ..] = rest {
                    if is_word(key, "retry_after")
                        && let ExprKind::Quantity(quantity) = &value.kind
                    {
                        retry_after_ms = crate::check::literals::duration_ms(quantity, value).ok();
                    } else if is_word(key, "body") {
                        body = Some(match fixture_path(value) {
                            Some(path) => FailBody::Fixture(path),
                            None => FailBody::Value(self.lower_to(frame, value, &Ty::Json), Ty::Json),
                        });
                    }
                    rest = tail;
                }
                Response::Fails { status, retry_after_ms, body }
            }
            // The checker reported anything else.
            _ => Response::Fails { status: 500, retry_after_ms: None, body: None },
        }
    }

    fn lower_run(&mut self, frame: &mut Frame, flow: &ast::Ident, args: &[ast::Arg]) -> TestItemKind {
        let Some(info) = self.checked.flows.get(&flow.name).cloned() else {
            return TestItemKind::Run { flow: flow.name.clone(), payload: None, states: Vec::new() };
        };
        let mut payload = None;
        let mut states = Vec::new();
        for (position, arg) in args.iter().enumerate() {
            let name = match &arg.name {
                Some(name) => name.name.clone(),
                None if position == 0 => match &info.payload {
                    Some((name, _, _)) => name.clone(),
                    None => continue,
                },
                None => continue,
            };
            if let Some((payload_name, ty, _)) = &info.payload
                && *payload_name == name
            {
                payload = Some(self.lower_to(frame, &arg.value, ty));
            } else if let Some(index) = info.states.iter().position(|(state, _, _)| *state == name) {
                let ty = info.states[index].1.clone();
                states.push((index as u32, self.lower_to(frame, &arg.value, &ty)));
            }
        }
        TestItemKind::Run { flow: flow.name.clone(), payload, states }
    }

    fn lower_expectation(
        &mut self,
        frame: &mut Frame,
        condition: &ast::Expr,
        used: &[(String, crate::source::Span)],
    ) -> Expectation {
        let mut inner = condition;
        while let ExprKind::Paren(expr) = &inner.kind {
            inner = expr;
        }
        if let ExprKind::Binary { op, lhs, rhs, .. } = &inner.kind
            && matches!(op, BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge)
        {
            let lhs_ty = self.ty(lhs);
            let rhs_ty = self.ty(rhs);
            let lowered_lhs = self.lower(frame, lhs);
            let lowered_rhs = self.lower(frame, rhs);
            let slots = (frame.fresh(), frame.fresh());
            return Expectation::Compare {
                op: *op,
                lhs: lowered_lhs,
                lhs_ty,
                rhs: lowered_rhs,
                rhs_ty,
                slots,
                lhs_text: self.written(lhs),
                rhs_text: self.written(rhs),
            };
        }
        let lowered = self.lower(frame, condition);
        let mut names: Vec<(String, Expr, Ty)> = Vec::new();
        for (name, span) in used {
            if names.iter().any(|(known, _, _)| known == name) {
                continue;
            }
            let Some(slot) = frame.lookup(name) else { continue };
            let ty = self.checked.expr_types.get(&name_key(condition, *span)).cloned().unwrap_or(Ty::Error);
            names.push((name.clone(), Expr::Local(slot), ty));
        }
        Expectation::Condition { condition: lowered, names }
    }

    fn test_location(&self, span: crate::source::Span) -> crate::ir::flow::Location {
        match self.loaded.sources.get(span.file) {
            Some(file) => {
                let (line, column) = file.line_column(span.start as usize);
                crate::ir::flow::Location {
                    file: file.name.clone(),
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                }
            }
            None => crate::ir::flow::Location::default(),
        }
    }

    /// `span` without the blank space that ends it (an item's span runs to the next item).
    fn trimmed(&self, span: crate::source::Span) -> crate::source::Span {
        let snippet = self.loaded.sources.snippet(span);
        let blank = snippet.len() - snippet.trim_end().len();
        crate::source::Span { end: span.end.saturating_sub(blank as u32), ..span }
    }

    /// An expression as written, on one line.
    fn written(&self, expr: &ast::Expr) -> String {
        self.loaded.sources.snippet(expr.span).split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// `Api.endpoint`, as indexes into the checked (and lowered) apis.
    fn endpoint_of(&self, expr: &ast::Expr) -> Option<(usize, usize)> {
        let ExprKind::Field { base, name, .. } = &expr.kind else { return None };
        let ExprKind::Name(api_name) = &base.kind else { return None };
        let api = self.checked.apis.iter().position(|api| api.name == api_name.name)?;
        let endpoint = self.checked.apis[api].endpoint(&name.name)?;
        Some((api, endpoint))
    }

    /// `fixture("path")` and `calls(Api.endpoint)` in tests; `None` for any other call.
    pub(super) fn lower_test_call(
        &mut self,
        frame: &mut Frame,
        callee: &ast::Expr,
        args: &[ast::Arg],
        ty: &Ty,
    ) -> Option<Expr> {
        let ExprKind::Name(name) = &callee.kind else { return None };
        if frame.lookup(&name.name).is_some() {
            return None;
        }
        match name.name.as_str() {
            "fixture" => Some(match args {
                [arg] => match &arg.value.kind {
                    ExprKind::String(literal) => match literal.as_plain() {
                        Some(path) => Expr::Fixture { path, ty: ty.clone() },
                        None => Expr::Invalid,
                    },
                    _ => Expr::Invalid,
                },
                _ => Expr::Invalid,
            }),
            "calls" => Some(
                args.first()
                    .and_then(|arg| self.endpoint_of(&arg.value))
                    .and_then(|(api, endpoint)| frame.lookup(&calls_key(api, endpoint)))
                    .map(Expr::Local)
                    .unwrap_or(Expr::Invalid),
            ),
            _ => None,
        }
    }
}

/// Flows whose `failed` an expectation reads (`expect f.failed`, `expect !f.failed`).
fn collect_failed_reads(expr: &ast::Expr, out: &mut Vec<String>) {
    fn walk(expr: &ast::Expr, out: &mut Vec<String>) {
        match &expr.kind {
            ExprKind::Field { base, name, .. } => {
                if let ExprKind::Name(flow) = &base.kind
                    && name.name == "failed"
                {
                    out.push(flow.name.clone());
                }
                walk(base, out);
            }
            ExprKind::Unary { operand, .. } => walk(operand, out),
            ExprKind::Binary { lhs, rhs, .. } => {
                walk(lhs, out);
                walk(rhs, out);
            }
            ExprKind::Paren(inner) => walk(inner, out),
            _ => {}
        }
    }
    walk(expr, out);
}

fn is_word(expr: &ast::Expr, word: &str) -> bool {
    matches!(&expr.kind, ExprKind::Name(name) if name.name == word)
}

/// `N` of `per page N` after `returns e` (the checker reported any other words).
fn per_page(rest: &[ast::Expr]) -> Option<u64> {
    match rest {
        [per, page, count] if is_word(per, "per") && is_word(page, "page") => match count.kind {
            ExprKind::Int(records) => u64::try_from(records).ok().filter(|records| *records >= 1),
            _ => None,
        },
        _ => None,
    }
}

/// The path of `fixture("path")`.
fn fixture_path(expr: &ast::Expr) -> Option<String> {
    let ExprKind::Call { callee, args, .. } = &expr.kind else { return None };
    let ExprKind::Name(name) = &callee.kind else { return None };
    if name.name != "fixture" {
        return None;
    }
    match args.as_slice() {
        [arg] => match &arg.value.kind {
            ExprKind::String(literal) => literal.as_plain(),
            _ => None,
        },
        _ => None,
    }
}

/// The names an expression reads (not lambda parameters' uses, nor member names).
fn collect_names(expr: &ast::Expr, out: &mut Vec<(String, crate::source::Span)>) {
    match &expr.kind {
        ExprKind::Name(name) => out.push((name.name.clone(), name.span)),
        ExprKind::Field { base, .. } => collect_names(base, out),
        ExprKind::Call { callee, args, .. } => {
            if let ExprKind::Field { base, .. } = &callee.kind {
                collect_names(base, out);
            }
            for arg in args {
                collect_names(&arg.value, out);
            }
        }
        ExprKind::Index { base, index } => {
            collect_names(base, out);
            collect_names(index, out);
        }
        ExprKind::Unary { operand, .. } => collect_names(operand, out),
        ExprKind::Binary { lhs, rhs, .. } => {
            collect_names(lhs, out);
            collect_names(rhs, out);
        }
        ExprKind::List(items) => items.iter().for_each(|item| collect_names(item, out)),
        ExprKind::Object { fields, .. } => fields.iter().for_each(|field| collect_names(&field.value, out)),
        ExprKind::If { condition, then_branch, else_branch } => {
            collect_names(condition, out);
            collect_names(then_branch, out);
            collect_names(else_branch, out);
        }
        ExprKind::Paren(inner) => collect_names(inner, out),
        ExprKind::String(literal) => {
            for part in &literal.parts {
                if let ast::StringPart::Interpolation(inner) = part {
                    collect_names(inner, out);
                }
            }
        }
        _ => {}
    }
}

/// The key of the name expression at `span` inside `root`, for its checked type.
fn name_key(root: &ast::Expr, span: crate::source::Span) -> crate::check::expr::ExprKey {
    fn find(expr: &ast::Expr, span: crate::source::Span) -> Option<&ast::Expr> {
        if matches!(expr.kind, ExprKind::Name(_)) && expr.span == span {
            return Some(expr);
        }
        match &expr.kind {
            ExprKind::Field { base, .. } => find(base, span),
            ExprKind::Call { callee, args, .. } => {
                find(callee, span).or_else(|| args.iter().find_map(|arg| find(&arg.value, span)))
            }
            ExprKind::Index { base, index } => find(base, span).or_else(|| find(index, span)),
            ExprKind::Unary { operand, .. } => find(operand, span),
            ExprKind::Binary { lhs, rhs, .. } => find(lhs, span).or_else(|| find(rhs, span)),
            ExprKind::List(items) => items.iter().find_map(|item| find(item, span)),
            ExprKind::Object { fields, .. } => fields.iter().find_map(|field| find(&field.value, span)),
            ExprKind::If { condition, then_branch, else_branch } => {
                find(condition, span).or_else(|| find(then_branch, span)).or_else(|| find(else_branch, span))
            }
            ExprKind::Paren(inner) => find(inner, span),
            ExprKind::String(literal) => literal.parts.iter().find_map(|part| match part {
                ast::StringPart::Interpolation(inner) => find(inner, span),
                _ => None,
            }),
            _ => None,
        }
    }
    crate::check::expr::ExprKey::of(find(root, span).unwrap_or(root))
}
