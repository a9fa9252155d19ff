//! Lowering flows: settings, states and statements → [`crate::ir::flow`].

use std::collections::HashMap;

use super::{Frame, Lowerer, single};
use crate::check::types::Ty;
use crate::ir::Expr;
use crate::ir::flow::{
    Action, Catch, CatchArm, DEFAULT_MAX_BODY, Flow, For, Location, LogLevel, Signature, Source, State, Stmt, StmtKind,
    Trigger, Webhook,
};
use crate::source::Span;
use crate::syntax::ast::{self, ExprKind, FlowItem};

/// What lowering a flow body keeps track of besides the frame.
struct FlowFrame {
    frame: Frame,
    /// The type of every slot a name refers to (for dead-letter contexts).
    types: HashMap<u32, Ty>,
    /// Slots of the states.
    states: usize,
    /// How many `for` statements the flow has so far (they are numbered from 1).
    loops: u32,
    /// How deep in `for` loops the statement being lowered is.
    depth: u32,
}

impl Lowerer<'_> {
    pub(super) fn lower_flows(&mut self) {
        for (_, decl) in self.declarations() {
            if let ast::DeclKind::Flow(flow) = &decl.kind
                && self.is_current(&flow.name)
                && let Some(lowered) = self.lower_flow(flow)
            {
                self.out.flows.push(lowered);
            }
        }
    }

    fn lower_flow(&mut self, decl: &ast::FlowDecl) -> Option<Flow> {
        let info = self.checked.flows.get(&decl.name.name)?.clone();
        let mut trigger = Trigger::Manual;
        let mut batch = 1;
        let mut webhook = None;
        let mut dedupe_setting = None;
        for item in &decl.items {
            let FlowItem::Setting(clause) = item else { continue };
            match clause.key.name.as_str() {
                "trigger" => {
                    trigger = match &info.trigger {
                        Some(crate::check::flow::TriggerKind::Every(millis)) => Trigger::Every(*millis),
                        Some(crate::check::flow::TriggerKind::Cron(expression)) => Trigger::Cron(expression.clone()),
                        Some(crate::check::flow::TriggerKind::Webhook) => Trigger::Webhook,
                        Some(crate::check::flow::TriggerKind::Manual) | None => Trigger::Manual,
                    };
                    if trigger == Trigger::Webhook {
                        webhook = single(clause).map(|value| self.lower_webhook(value));
                    }
                }
                "dedupe" => dedupe_setting = single(clause),
                "batch" => {
                    if let Some(ast::Expr { kind: ExprKind::Int(value), .. }) = single(clause) {
                        batch = u32::try_from(*value).unwrap_or(u32::MAX).max(1);
                    }
                }
                _ => {}
            }
        }
        let mut flow_frame =
            FlowFrame { frame: Frame::new(), types: HashMap::new(), states: info.states.len(), loops: 0, depth: 0 };
        let mut states = Vec::new();
        for (name, ty, span) in &info.states {
            let slot = flow_frame.frame.declare(name);
            flow_frame.types.insert(slot, ty.clone());
            let declared = decl.items.iter().find_map(|item| match item {
                FlowItem::State(state) if state.name.span == *span => Some(state),
                _ => None,
            });
            let mut init_frame = Frame::new();
            let init = match declared {
                Some(state) => self.lower_to(&mut init_frame, &state.init, ty),
                None => Expr::Literal(crate::ir::Literal::None),
            };
            self.uses_whole(ty);
            states.push(State { name: name.clone(), ty: ty.clone(), init, init_frame_size: init_frame.size });
        }
        let payload = info.payload.as_ref().map(|(name, ty, _)| {
            let slot = flow_frame.frame.declare(name);
            flow_frame.types.insert(slot, ty.clone());
            (name.clone(), ty.clone())
        });
        if let (Some(webhook), Some(key)) = (webhook.as_mut(), dedupe_setting) {
            webhook.dedupe = Some(self.lower(&mut flow_frame.frame, key));
        }
        let body = self.lower_statements(&mut flow_frame, &decl.statements());
        Some(Flow {
            name: decl.name.name.clone(),
            location: self.location(decl.name.span),
            trigger,
            batch,
            states,
            payload,
            webhook,
            frame_size: flow_frame.frame.size,
            locals: flow_frame.frame.names.clone(),
            body,
        })
    }

    /// `webhook(path: ..., signature: ..., max_body: ...)`, checked.
    fn lower_webhook(&mut self, value: &ast::Expr) -> Webhook {
        let mut webhook =
            Webhook { path: String::new(), signature: Signature::none(), max_body: DEFAULT_MAX_BODY, dedupe: None };
        let ExprKind::Call { args, .. } = &value.kind else { return webhook };
        for (position, arg) in args.iter().enumerate() {
            let name = match &arg.name {
                Some(name) => name.name.as_str(),
                None if position == 0 => "path",
                None => continue,
            };
            match (name, &arg.value.kind) {
                ("path", ExprKind::String(literal)) => webhook.path = literal.as_plain().unwrap_or_default(),
                ("signature", _) => webhook.signature = self.lower_signature(&arg.value),
                ("max_body", ExprKind::Quantity(quantity)) => {
                    if let Ok(bytes) = crate::check::literals::size_bytes(quantity, &arg.value) {
                        webhook.max_body = bytes;
                    }
                }
                _ => {}
            }
        }
        webhook
    }

    /// A signature scheme: its arguments by name, as [`Signature`] says.
    fn lower_signature(&mut self, value: &ast::Expr) -> Signature {
        let ExprKind::Call { callee, args, .. } = &value.kind else { return Signature::none() };
        let ExprKind::Name(scheme) = &callee.kind else { return Signature::none() };
        let table = crate::check::config::SIGNATURE_SCHEMES.iter().find(|candidate| candidate.name == scheme.name);
        let mut lowered = Vec::new();
        for (position, arg) in args.iter().enumerate() {
            let name = match &arg.name {
                Some(name) => name.name.clone(),
                None => match table.and_then(|table| table.params.get(position)) {
                    Some(param) => param.name.to_owned(),
                    None => continue,
                },
            };
            let value = match &arg.value.kind {
                // Bare words such as `sha256`, `base64`.
                ExprKind::Name(word) if self.checked.symbols.iter().all(|symbol| symbol.name != word.name) => {
                    Expr::Literal(crate::ir::Literal::String(word.name.clone()))
                }
                _ if name == "canonical" => self.lower_template(&arg.value),
                _ => self.lower(&mut super::Frame::new(), &arg.value),
            };
            lowered.push((name, value));
        }
        Signature { scheme: scheme.name.clone(), args: lowered }
    }

    /// `file:line:column` of a span's start.
    fn location(&self, span: Span) -> Location {
        match self.loaded.sources.get(span.file) {
            Some(file) => {
                let (line, column) = file.line_column(span.start as usize);
                Location {
                    file: file.name.clone(),
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    column: u32::try_from(column).unwrap_or(u32::MAX),
                }
            }
            None => Location::default(),
        }
    }

    fn lower_statements(&mut self, flow: &mut FlowFrame, statements: &[&ast::Stmt]) -> Vec<Stmt> {
        statements.iter().map(|statement| self.lower_statement(flow, statement)).collect()
    }

    fn lower_block(&mut self, flow: &mut FlowFrame, block: &ast::Block) -> Vec<Stmt> {
        flow.frame.push();
        let statements: Vec<&ast::Stmt> = block.stmts.iter().collect();
        let lowered = self.lower_statements(flow, &statements);
        flow.frame.pop();
        lowered
    }

    fn lower_statement(&mut self, flow: &mut FlowFrame, statement: &ast::Stmt) -> Stmt {
        let location = self.location(statement.span);
        let kind = crate::with_stack(|| self.lower_statement_kind(flow, statement));
        Stmt { kind, location }
    }

    fn lower_statement_kind(&mut self, flow: &mut FlowFrame, statement: &ast::Stmt) -> StmtKind {
        match &statement.kind {
            ast::StmtKind::Let(statement) => {
                let ty = match &statement.ty {
                    Some(_) => self.declared_let_type(statement),
                    None => self.ty(&statement.value),
                };
                let value = self.lower_part_to(&mut flow.frame, &statement.value, &ty);
                let catch = statement.catch.as_ref().map(catch);
                let slot = flow.frame.declare(&statement.name.name);
                flow.types.insert(slot, ty);
                StmtKind::Let { slot, value, catch }
            }
            ast::StmtKind::Assign { target, value } => {
                let state = flow.frame.lookup(&target.name).filter(|slot| (*slot as usize) < flow.states);
                match state {
                    Some(state) => {
                        let ty = flow.types.get(&state).cloned().unwrap_or(Ty::Error);
                        StmtKind::Assign { state, value: self.lower_to(&mut flow.frame, value, &ty) }
                    }
                    None => StmtKind::Fail(Expr::Invalid),
                }
            }
            ast::StmtKind::Expr { expr, catch: arms } => {
                StmtKind::Call { call: self.lower(&mut flow.frame, expr), catch: arms.as_ref().map(catch) }
            }
            ast::StmtKind::For(for_statement) => {
                StmtKind::For(Box::new(self.lower_for(flow, for_statement, statement.span)))
            }
            ast::StmtKind::If(if_statement) => self.lower_if(flow, if_statement),
            ast::StmtKind::Skip => StmtKind::Skip,
            ast::StmtKind::Fail(message) => StmtKind::Fail(self.lower_to(&mut flow.frame, message, &Ty::String)),
            ast::StmtKind::Log { level, message } => {
                let level = match level.as_ref().map(|level| level.name.as_str()) {
                    Some("debug") => LogLevel::Debug,
                    Some("warn") => LogLevel::Warn,
                    Some("error") => LogLevel::Error,
                    _ => LogLevel::Info,
                };
                let ty = self.ty(message);
                StmtKind::Log { level, message: self.lower(&mut flow.frame, message), ty }
            }
        }
    }

    /// The type written in `let name: T = ...`, as the checker resolved it
    /// (the value was checked against it).
    fn declared_let_type(&self, statement: &ast::LetStmt) -> Ty {
        let value = self.ty(&statement.value);
        match statement.ty.as_ref().and_then(|written| self.resolve_written_type(written)) {
            Some(ty) => ty,
            None => value,
        }
    }

    fn lower_if(&mut self, flow: &mut FlowFrame, statement: &ast::IfStmt) -> StmtKind {
        let condition = self.lower(&mut flow.frame, &statement.condition);
        let then = self.lower_block(flow, &statement.then_block);
        let otherwise = match &statement.else_branch {
            Some(ast::ElseBranch::Block(block)) => self.lower_block(flow, block),
            Some(ast::ElseBranch::If(nested)) => {
                flow.frame.push();
                let lowered = vec![self.lower_statement(flow, nested)];
                flow.frame.pop();
                lowered
            }
            None => Vec::new(),
        };
        StmtKind::If { condition, then, otherwise }
    }

    fn lower_for(&mut self, flow: &mut FlowFrame, statement: &ast::ForStmt, span: Span) -> For {
        flow.loops += 1;
        let iterable_ty = self.ty(&statement.iterable);
        let (item, source) = match &iterable_ty {
            Ty::Stream(item) => {
                let item = (**item).clone();
                match self.lower_part(&mut flow.frame, &statement.iterable) {
                    Expr::Endpoint { api, endpoint, args } => (item, Source::Stream { api, endpoint, args }),
                    _ => (item, Source::List(Expr::Invalid)),
                }
            }
            Ty::List(item) => ((**item).clone(), Source::List(self.lower_part(&mut flow.frame, &statement.iterable))),
            Ty::Json => (Ty::Json, Source::Json(self.lower_part(&mut flow.frame, &statement.iterable))),
            _ => (Ty::Error, Source::List(Expr::Invalid)),
        };
        let id = format!("{}:{} in {}", flow.loops, statement.binding.name, self.source_text(&statement.iterable));
        // Every name in scope outside the loop, except the states (they are stored anyway).
        let mut context: Vec<(String, u32, Ty)> = Vec::new();
        for scope in &flow.frame.scopes {
            for (name, slot) in scope {
                if (*slot as usize) < flow.states {
                    continue;
                }
                if let Some(ty) = flow.types.get(slot) {
                    context.retain(|(known, _, _)| known != name);
                    context.push((name.clone(), *slot, ty.clone()));
                }
            }
        }
        flow.frame.push();
        let slot = flow.frame.declare(&statement.binding.name);
        flow.types.insert(slot, item.clone());
        // The record is stored whole in dead letters and hashed for `dedupe`.
        self.uses_whole(&item);
        let filter = statement.filter.as_ref().map(|filter| self.lower(&mut flow.frame, filter));
        let dedupe = statement.dedupe.as_ref().map(|key| self.lower(&mut flow.frame, key));
        let top_level = flow.depth == 0;
        flow.depth += 1;
        let body = self.lower_block(flow, &statement.body);
        flow.depth -= 1;
        flow.frame.pop();
        For {
            id,
            location: self.location(span),
            slot,
            binding: statement.binding.name.clone(),
            item,
            source,
            filter,
            dedupe,
            body,
            top_level,
            context,
        }
    }

    /// What a loop iterates, for its id: `Shop.list_orders` for a call, else the text as written.
    fn source_text(&self, iterable: &ast::Expr) -> String {
        if let ExprKind::Call { callee, .. } = &iterable.kind {
            return self.loaded.sources.snippet(callee.span).split_whitespace().collect();
        }
        self.loaded.sources.snippet(iterable.span).split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// A written type, resolved as the checker resolved it (the program checked).
    pub(super) fn resolve_written_type(&self, written: &ast::TypeExpr) -> Option<Ty> {
        Some(match &written.kind {
            ast::TypeExprKind::Named(name) => {
                if let Some((_, ty)) = crate::check::types::SCALARS.iter().find(|(scalar, _)| *scalar == name.name) {
                    return Some(ty.clone());
                }
                match self.checked.symbols.iter().rev().find(|symbol| symbol.name == name.name).map(|s| &s.kind) {
                    Some(crate::check::SymbolKind::Type(id)) => Ty::Record(*id),
                    Some(crate::check::SymbolKind::Enum(id)) => Ty::Enum(*id),
                    _ => return None,
                }
            }
            ast::TypeExprKind::List(inner) => Ty::List(Box::new(self.resolve_written_type(inner)?)),
            ast::TypeExprKind::Map(_, value) => Ty::Map(Box::new(self.resolve_written_type(value)?)),
            ast::TypeExprKind::Optional(inner) => Ty::Optional(Box::new(self.resolve_written_type(inner)?)),
            ast::TypeExprKind::Fn(params, result) => Ty::Fn(
                params.iter().map(|param| self.resolve_written_type(param)).collect::<Option<Vec<_>>>()?,
                Box::new(self.resolve_written_type(result)?),
            ),
        })
    }
}

fn catch(catch: &ast::Catch) -> Catch {
    Catch {
        arms: catch
            .arms
            .iter()
            .map(|arm| CatchArm {
                error: match &arm.target {
                    ast::CatchTarget::Wildcard(_) => None,
                    ast::CatchTarget::Error { name, .. } => Some(name.name.clone()),
                },
                action: match arm.action.name.as_str() {
                    "skip" => Action::Skip,
                    "dead_letter" => Action::DeadLetter,
                    "ignore" => Action::Ignore,
                    _ => Action::Fail,
                },
            })
            .collect(),
    }
}
