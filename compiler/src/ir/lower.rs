//! Lowering: checked AST → [`super::Program`].
//!
//! In: the loaded program and the checker's result (types of every
//! expression, signatures, apis, policies). Out: the IR. Lowering assumes the
//! program checked without errors; where it meets something the checker
//! rejected it produces [`Expr::Invalid`] rather than failing.

mod flows;
mod testing;

use super::api::{self, Api, Endpoint, ErrorArm, Pagination, PathPart};
use super::{Arm, Callee, Expr, Function, Literal, Native, Part, Pattern, Program, Secret};
use crate::check::expr::{ExprKey, in_optional_chain};
use crate::check::literals::{self, StatusPattern};
use crate::check::policy::PolicyInfo;
use crate::check::types::Ty;
use crate::check::{Checked, SymbolKind};
use crate::program::Program as Loaded;
use crate::syntax::ast::{self, ClauseValue, DeclKind, ExprKind, StringPart};

/// Lowers a checked program.
pub fn lower(loaded: &Loaded, checked: &Checked) -> Program {
    let mut lowerer = Lowerer { loaded, checked, out: Program { types: checked.types.clone(), ..Program::default() } };
    lowerer.collect();
    lowerer.lower_bodies();
    lowerer.lower_flows();
    lowerer.out
}

/// [`lower`], and the tests declared in `file` (the root that `integ test` runs).
pub fn lower_with_tests(loaded: &Loaded, checked: &Checked, file: crate::source::FileId) -> Program {
    let mut lowerer = Lowerer { loaded, checked, out: Program { types: checked.types.clone(), ..Program::default() } };
    lowerer.collect();
    lowerer.lower_bodies();
    lowerer.lower_flows();
    lowerer.out.tests = lowerer.lower_tests(file);
    lowerer.out
}

struct Lowerer<'a> {
    loaded: &'a Loaded,
    checked: &'a Checked,
    out: Program,
}

/// Local names of the body being lowered, mapped to frame slots.
#[derive(Default)]
struct Frame {
    scopes: Vec<Vec<(String, u32)>>,
    next: u32,
    size: u32,
    /// The name each slot was declared with (empty for an unnamed slot), for generated code.
    names: Vec<String>,
}

impl Frame {
    fn new() -> Frame {
        Frame { scopes: vec![Vec::new()], next: 0, size: 0, names: Vec::new() }
    }

    fn declare(&mut self, name: &str) -> u32 {
        let slot = self.fresh();
        if let Some(entry) = self.names.get_mut(slot as usize) {
            *entry = name.to_owned();
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name.to_owned(), slot));
        }
        slot
    }

    /// A slot no name refers to (a `?.` chain's intermediate value).
    fn fresh(&mut self) -> u32 {
        let slot = self.next;
        self.next += 1;
        self.size = self.size.max(self.next);
        if self.names.len() < self.size as usize {
            self.names.resize(self.size as usize, String::new());
        }
        if let Some(entry) = self.names.get_mut(slot as usize) {
            entry.clear();
        }
        slot
    }

    fn lookup(&self, name: &str) -> Option<u32> {
        self.scopes
            .iter()
            .rev()
            .find_map(|scope| scope.iter().rev().find(|(local, _)| local == name).map(|(_, slot)| *slot))
    }

    fn push(&mut self) {
        self.scopes.push(Vec::new());
    }

    fn pop(&mut self) {
        self.scopes.pop();
    }
}

impl<'a> Lowerer<'a> {
    fn declarations(&self) -> Vec<(crate::source::FileId, &'a ast::Decl)> {
        let loaded = self.loaded;
        let mut modules: Vec<&crate::program::LoadedModule> = loaded.modules.iter().collect();
        modules.sort_by_key(|module| (!loaded.is_std(module.file), module.file));
        modules.into_iter().flat_map(|module| module.ast.decls.iter().map(move |decl| (module.file, decl))).collect()
    }

    /// Whether `decl` is the declaration its name resolves to (not a shadowed or duplicate one).
    fn is_current(&self, name: &ast::Ident) -> bool {
        self.checked.symbols.iter().any(|symbol| symbol.span == name.span)
            && self
                .checked
                .symbols
                .iter()
                .rev()
                .find(|symbol| symbol.name == name.name)
                .is_some_and(|symbol| symbol.span == name.span)
    }

    fn ty(&self, expr: &ast::Expr) -> Ty {
        self.checked.expr_types.get(&ExprKey::of(expr)).cloned().unwrap_or(Ty::Error)
    }

    /// Names every function, map and native, and every secret, before any body is lowered.
    fn collect(&mut self) {
        for (_, decl) in self.declarations() {
            match &decl.kind {
                DeclKind::Fn(function) if self.is_current(&function.name) => {
                    let Some(sig) = self.checked.functions.get(&function.name.name) else { continue };
                    let params: Vec<(String, Ty)> =
                        sig.params.iter().map(|param| (param.name.clone(), param.ty.clone())).collect();
                    if function.native {
                        self.out.natives.insert(
                            function.name.name.clone(),
                            Native {
                                name: function.name.name.clone(),
                                params,
                                defaults: Vec::new(),
                                result: sig.ret.clone(),
                            },
                        );
                        self.out.by_name.insert(function.name.name.clone(), Callee::Native(function.name.name.clone()));
                    } else {
                        let index = self.out.functions.len() as u32;
                        self.out.functions.push(Function {
                            name: function.name.name.clone(),
                            is_map: false,
                            params,
                            defaults: Vec::new(),
                            result: sig.ret.clone(),
                            frame_size: 0,
                            locals: Vec::new(),
                            body: Expr::Invalid,
                        });
                        self.out.by_name.insert(function.name.name.clone(), Callee::User(index));
                    }
                }
                DeclKind::Map(map) if self.is_current(&map.name) => {
                    let Some(sig) = self.checked.functions.get(&map.name.name) else { continue };
                    let index = self.out.functions.len() as u32;
                    self.out.functions.push(Function {
                        name: map.name.name.clone(),
                        is_map: true,
                        params: sig.params.iter().map(|param| (param.name.clone(), param.ty.clone())).collect(),
                        defaults: Vec::new(),
                        result: sig.ret.clone(),
                        frame_size: 0,
                        locals: Vec::new(),
                        body: Expr::Invalid,
                    });
                    self.out.by_name.insert(map.name.name.clone(), Callee::User(index));
                }
                DeclKind::Secret(secret) if self.is_current(&secret.name) => {
                    let (variable, default) = env_call(&secret.value).unwrap_or_default();
                    self.out.secrets.push(Secret { name: secret.name.name.clone(), variable, default });
                }
                _ => {}
            }
        }
        self.out.policies = self.checked.policies.clone();
        if !self.out.policies.iter().any(|policy| policy.name == "default") {
            self.out.policies.push(PolicyInfo::builtin_default());
        }
    }

    fn lower_bodies(&mut self) {
        for (_, decl) in self.declarations() {
            match &decl.kind {
                DeclKind::Fn(function) if self.is_current(&function.name) => {
                    let defaults = self.defaults(&function.params);
                    if function.native {
                        if let Some(native) = self.out.natives.get_mut(&function.name.name) {
                            native.defaults = defaults;
                        }
                        continue;
                    }
                    let Some(Callee::User(index)) = self.out.by_name.get(&function.name.name).cloned() else {
                        continue;
                    };
                    let mut frame = Frame::new();
                    for param in &function.params {
                        frame.declare(&param.name.name);
                    }
                    let result = self.out.functions[index as usize].result.clone();
                    let body = match &function.body {
                        Some(body) => self.lower_part_to(&mut frame, body, &result),
                        None => Expr::Invalid,
                    };
                    let slot = &mut self.out.functions[index as usize];
                    slot.body = body;
                    slot.defaults = defaults;
                    slot.frame_size = frame.size;
                    slot.locals = frame.names;
                }
                DeclKind::Map(map) if self.is_current(&map.name) => {
                    let Some(Callee::User(index)) = self.out.by_name.get(&map.name.name).cloned() else { continue };
                    let mut frame = Frame::new();
                    for param in &map.params {
                        frame.declare(&param.name.name);
                    }
                    let defaults = self.defaults(&map.params);
                    let body = self.lower_map_body(&mut frame, map, &self.out.functions[index as usize].result.clone());
                    let slot = &mut self.out.functions[index as usize];
                    slot.body = body;
                    slot.defaults = defaults;
                    slot.frame_size = frame.size;
                    slot.locals = frame.names;
                }
                DeclKind::Api(api_decl) if self.is_current(&api_decl.name) => {
                    if let Some(api) = self.lower_api(api_decl) {
                        self.out.apis.push(api);
                    }
                }
                _ => {}
            }
        }
    }

    fn defaults(&mut self, params: &[ast::Param]) -> Vec<Option<Expr>> {
        params
            .iter()
            .map(|param| {
                param.default.as_ref().map(|default| {
                    let mut frame = Frame::new();
                    self.lower(&mut frame, default)
                })
            })
            .collect()
    }

    fn lower_map_body(&mut self, frame: &mut Frame, map: &ast::MapDecl, result: &Ty) -> Expr {
        let Ty::Record(id) = result else { return Expr::Invalid };
        let Some(record) = self.checked.types.record(*id).cloned() else { return Expr::Invalid };
        let mut lets = Vec::new();
        let mut values: Vec<Option<Expr>> = vec![None; record.fields.len()];
        for item in &map.items {
            match item {
                ast::MapItem::Let(statement) => {
                    let value = match statement.ty.as_ref().and_then(|written| self.resolve_written_type(written)) {
                        Some(declared) => self.lower_part_to(frame, &statement.value, &declared),
                        None => self.lower_part(frame, &statement.value),
                    };
                    let slot = frame.declare(&statement.name.name);
                    lets.push((slot, value));
                }
                ast::MapItem::Field(field) => {
                    let Some(index) = record.field_index(&field.name.name) else { continue };
                    let target = record.fields[index].ty.clone();
                    let value = self.lower_to(frame, &field.value, &target);
                    // Later fields see the values of earlier ones through their lets only.
                    let slot = frame.fresh();
                    lets.push((slot, value));
                    values[index] = Some(Expr::Local(slot));
                }
            }
        }
        let fields = values.into_iter().map(|value| value.unwrap_or(Expr::Invalid)).collect();
        Expr::Block { lets, result: Box::new(Expr::Record { ty: id.0, fields }) }
    }

    /// Lowers `expr` for a place of type `target`, inserting the conversions
    /// to and from `Json` the checker allowed. The value is used whole.
    fn lower_to(&mut self, frame: &mut Frame, expr: &ast::Expr, target: &Ty) -> Expr {
        let actual = self.ty(expr);
        self.uses_whole(&actual);
        let lowered = self.lower_part(frame, expr);
        self.name_root(convert(lowered, &actual, target), expr)
    }

    /// Decode errors of a `Json` value read as a declared type name the
    /// expression it came from: `body.orders[0].total_cents: expected Int...`.
    fn name_root(&self, converted: Expr, expr: &ast::Expr) -> Expr {
        match converted {
            Expr::FromJson { value, ty, .. } => {
                let written: Vec<&str> = self.loaded.sources.snippet(expr.span).split_whitespace().collect();
                let mut root = written.join(" ");
                if root.is_empty() || root.chars().count() > 60 {
                    root = "value".to_owned();
                }
                Expr::FromJson { value, ty, root }
            }
            other => other,
        }
    }

    /// Like [`Lowerer::lower_to`] for a value that only flows on (see [`Lowerer::lower_part`]).
    fn lower_part_to(&mut self, frame: &mut Frame, expr: &ast::Expr, target: &Ty) -> Expr {
        let actual = self.ty(expr);
        let lowered = self.lower_part(frame, expr);
        if matches!(target.unwrap_optional(), Ty::Json) && !matches!(actual.unwrap_optional(), Ty::Json) {
            self.uses_whole(&actual);
        }
        self.name_root(convert(lowered, &actual, target), expr)
    }

    /// Lowers a value that is used whole: encoded, compared, stored in another
    /// value, handed to a native that may look at all of it. Every field of
    /// the records in its type is read.
    fn lower(&mut self, frame: &mut Frame, expr: &ast::Expr) -> Expr {
        let ty = self.ty(expr);
        self.uses_whole(&ty);
        self.lower_part(frame, expr)
    }

    /// Lowers a value that only flows on (a field access's base, a branch, a
    /// `let`, a user function's argument): where it ends up decides what is read.
    fn lower_part(&mut self, frame: &mut Frame, expr: &ast::Expr) -> Expr {
        crate::with_stack(|| self.lower_inner(frame, expr))
    }

    /// Marks every field of every record in `ty` as read.
    fn uses_whole(&mut self, ty: &Ty) {
        match ty {
            Ty::Record(id) if self.out.whole_records.insert(id.0) => {
                let fields: Vec<Ty> = self
                    .checked
                    .types
                    .record(*id)
                    .map(|record| record.fields.iter().map(|field| field.ty.clone()).collect())
                    .unwrap_or_default();
                for field in fields {
                    self.uses_whole(&field);
                }
            }
            Ty::Optional(inner) | Ty::List(inner) | Ty::Map(inner) | Ty::Stream(inner) => self.uses_whole(inner),
            _ => {}
        }
    }

    fn lower_inner(&mut self, frame: &mut Frame, expr: &ast::Expr) -> Expr {
        let ty = self.ty(expr);
        match &expr.kind {
            ExprKind::Int(value) => match ty.unwrap_optional() {
                Ty::Decimal => Expr::Literal(decimal_literal(&value.to_string())),
                Ty::Float => Expr::Literal(Literal::Float(*value as f64)),
                _ => Expr::Literal(Literal::Int(*value)),
            },
            ExprKind::Number(text) => match ty.unwrap_optional() {
                Ty::Float => Expr::Literal(Literal::Float(text.parse().unwrap_or(f64::NAN))),
                _ => Expr::Literal(decimal_literal(text)),
            },
            ExprKind::Quantity(quantity) => {
                if let Ok(millis) = literals::duration_ms(quantity, expr) {
                    Expr::Literal(Literal::Duration { millis: millis as i64 })
                } else if let Ok(bytes) = literals::size_bytes(quantity, expr) {
                    Expr::Literal(Literal::Int(bytes as i64))
                } else {
                    Expr::Invalid
                }
            }
            ExprKind::String(literal) => self.lower_string(frame, literal),
            ExprKind::Bool(value) => Expr::Literal(Literal::Bool(*value)),
            ExprKind::None => Expr::Literal(Literal::None),
            ExprKind::Name(name) => self.lower_name(frame, name, &ty),
            ExprKind::Paren(inner) => self.lower_part(frame, inner),
            ExprKind::Field { base, name, optional } => self.lower_field(frame, expr, base, name, *optional),
            ExprKind::Call { callee, args, .. } => match self.lower_test_call(frame, callee, args, &ty) {
                Some(lowered) => lowered,
                None => self.lower_call(frame, callee, args),
            },
            ExprKind::Index { base, index } => {
                let base_ty = self.ty(base);
                let lowered_index = self.lower(frame, index);
                let lowered_base = self.lower_part(frame, base);
                let optional_base = matches!(base_ty, Ty::Optional(_));
                if optional_base {
                    // In tests, `xs[0]` on an optional list reads through it.
                    let slot = frame.fresh();
                    Expr::Chain {
                        base: Box::new(lowered_base),
                        slot,
                        then: Box::new(Expr::Index {
                            base: Box::new(Expr::Local(slot)),
                            index: Box::new(lowered_index),
                        }),
                    }
                } else {
                    wrap_chain(lowered_base, |base| Expr::Index {
                        base: Box::new(base),
                        index: Box::new(lowered_index),
                    })
                }
            }
            ExprKind::Unary { op, operand, .. } => {
                Expr::Unary { op: *op, operand: Box::new(self.lower(frame, operand)) }
            }
            ExprKind::Binary { op, lhs, rhs, .. } => {
                let flows_on = matches!(op, ast::BinaryOp::Coalesce);
                let left = if flows_on { self.lower_part(frame, lhs) } else { self.lower(frame, lhs) };
                let right = if flows_on { self.lower_part(frame, rhs) } else { self.lower(frame, rhs) };
                match op {
                    ast::BinaryOp::And => Expr::And(Box::new(left), Box::new(right)),
                    ast::BinaryOp::Or => Expr::Or(Box::new(left), Box::new(right)),
                    ast::BinaryOp::Coalesce => Expr::Coalesce(Box::new(left), Box::new(right)),
                    _ => Expr::Binary { op: *op, lhs: Box::new(left), rhs: Box::new(right) },
                }
            }
            ExprKind::List(items) => {
                let element = match ty.unwrap_optional() {
                    Ty::List(element) => (**element).clone(),
                    _ => Ty::Error,
                };
                Expr::List(items.iter().map(|item| self.lower_to(frame, item, &element)).collect())
            }
            ExprKind::Object { fields, .. } => self.lower_object(frame, fields, &ty),
            ExprKind::Lambda { params, body } => {
                frame.push();
                let slots = params.iter().map(|param| frame.declare(&param.name)).collect();
                let lowered = self.lower_part(frame, body);
                frame.pop();
                self.out.lambdas.push(super::Lambda { params: slots, body: lowered });
                Expr::Lambda(self.out.lambdas.len() as u32 - 1)
            }
            ExprKind::If { condition, then_branch, else_branch } => Expr::If {
                condition: Box::new(self.lower(frame, condition)),
                then: Box::new(self.lower_part_to(frame, then_branch, &ty)),
                otherwise: Box::new(self.lower_part_to(frame, else_branch, &ty)),
            },
            ExprKind::Match { scrutinee, arms } => {
                let scrutinee_ty = self.ty(scrutinee);
                let lowered = self.lower_part(frame, scrutinee);
                let arms = arms
                    .iter()
                    .map(|arm| Arm {
                        patterns: arm
                            .pattern
                            .alternatives
                            .iter()
                            .map(|pattern| self.pattern(pattern, &scrutinee_ty))
                            .collect(),
                        value: self.lower_part_to(frame, &arm.value, &ty),
                    })
                    .collect();
                Expr::Match { scrutinee: Box::new(lowered), arms }
            }
        }
    }

    fn lower_string(&mut self, frame: &mut Frame, literal: &ast::StringLit) -> Expr {
        if let Some(text) = literal.as_plain() {
            return Expr::Literal(Literal::String(text));
        }
        let parts = literal
            .parts
            .iter()
            .map(|part| match part {
                StringPart::Text(text, _) => Part::Text(text.clone()),
                StringPart::Interpolation(inner) => {
                    let ty = self.ty(inner);
                    Part::Value(self.lower(frame, inner), ty)
                }
            })
            .collect();
        Expr::Interpolate(parts)
    }

    fn lower_name(&mut self, frame: &mut Frame, name: &ast::Ident, ty: &Ty) -> Expr {
        if let Some(slot) = frame.lookup(&name.name) {
            return Expr::Local(slot);
        }
        if let Ty::Enum(id) = ty.unwrap_optional()
            && let Some(variant) =
                self.checked.types.enumeration(*id).and_then(|definition| definition.variant(&name.name))
        {
            return Expr::Variant { ty: id.0, variant: variant as u32 };
        }
        let symbol = self.checked.symbols.iter().rev().find(|symbol| symbol.name == name.name);
        match symbol.map(|symbol| &symbol.kind) {
            Some(SymbolKind::Secret) => match self.out.secrets.iter().position(|secret| secret.name == name.name) {
                Some(index) => Expr::Secret(index as u32),
                None => Expr::Invalid,
            },
            Some(SymbolKind::Map | SymbolKind::Fn) => match self.out.by_name.get(&name.name) {
                Some(callee) => Expr::FunctionValue(callee.clone()),
                None => Expr::Invalid,
            },
            _ => Expr::Invalid,
        }
    }

    fn lower_field(
        &mut self,
        frame: &mut Frame,
        whole: &ast::Expr,
        base: &ast::Expr,
        name: &ast::Ident,
        optional: bool,
    ) -> Expr {
        // `Status.paid`.
        if let ExprKind::Name(enum_name) = &base.kind
            && frame.lookup(&enum_name.name).is_none()
            && let Some(Ty::Enum(id)) = Some(self.ty(whole)).filter(|ty| matches!(ty, Ty::Enum(_)))
        {
            let is_enum = self
                .checked
                .symbols
                .iter()
                .any(|symbol| symbol.name == enum_name.name && matches!(symbol.kind, SymbolKind::Enum(_)));
            if is_enum
                && let Some(variant) =
                    self.checked.types.enumeration(id).and_then(|definition| definition.variant(&name.name))
            {
                return Expr::Variant { ty: id.0, variant: variant as u32 };
            }
        }
        let base_ty = self.ty(base);
        let lowered_base = self.lower_part(frame, base);
        let inner_ty = base_ty.unwrap_optional().clone();
        if let Ty::Record(id) = &inner_ty
            && let Some(index) = self.checked.types.record(*id).and_then(|record| record.field_index(&name.name))
        {
            self.out.read_fields.insert((id.0, index as u32));
        }
        let access = |base: Expr, checked: &Checked| -> Expr {
            match &inner_ty {
                Ty::Record(id) => match checked.types.record(*id).and_then(|record| record.field_index(&name.name)) {
                    Some(index) => Expr::Field { base: Box::new(base), record: id.0, index: index as u32 },
                    None => Expr::Invalid,
                },
                Ty::Json => Expr::JsonField { base: Box::new(base), name: name.name.clone() },
                _ => Expr::Invalid,
            }
        };
        let checked = self.checked;
        let _ = optional;
        if base_ty.is_optional() {
            // `base?.name`, `a?.b.name` (the rest of a chain), or in tests `base.name`
            // on an optional: none stays none.
            let slot = frame.fresh();
            return wrap_chain(lowered_base, |inner| Expr::Chain {
                base: Box::new(inner),
                slot,
                then: Box::new(access(Expr::Local(slot), checked)),
            });
        }
        wrap_chain(lowered_base, |base| access(base, checked))
    }

    fn lower_call(&mut self, frame: &mut Frame, callee: &ast::Expr, args: &[ast::Arg]) -> Expr {
        match &callee.kind {
            ExprKind::Name(name) if frame.lookup(&name.name).is_none() => match name.name.as_str() {
                "env" => {
                    let strings: Vec<String> = args
                        .iter()
                        .filter_map(|arg| match &arg.value.kind {
                            ExprKind::String(literal) => literal.as_plain(),
                            _ => None,
                        })
                        .collect();
                    match strings.as_slice() {
                        [variable] => Expr::Env { variable: variable.clone(), default: None },
                        [variable, default] => Expr::Env { variable: variable.clone(), default: Some(default.clone()) },
                        _ => Expr::Invalid,
                    }
                }
                _ => match self.out.by_name.get(&name.name).cloned() {
                    Some(callee) => {
                        let args = self.arguments(frame, &callee, None, args);
                        Expr::Call { callee, args }
                    }
                    None => Expr::Invalid,
                },
            },
            ExprKind::Field { base, name, optional } => {
                if let ExprKind::Name(api_name) = &base.kind
                    && frame.lookup(&api_name.name).is_none()
                    && let Some(api) = self.checked.apis.iter().position(|api| api.name == api_name.name)
                {
                    let info = &self.checked.apis[api];
                    let Some(endpoint) = info.endpoint(&name.name) else { return Expr::Invalid };
                    let params: Vec<(String, Ty)> = info.endpoints[endpoint]
                        .params
                        .iter()
                        .map(|param| (param.name.clone(), param.ty.clone()))
                        .collect();
                    // Apis are lowered before flows: their defaults are known.
                    let defaults = self
                        .out
                        .apis
                        .iter()
                        .find(|lowered| lowered.name == info.name)
                        .and_then(|lowered| lowered.endpoints.iter().find(|candidate| candidate.name == name.name))
                        .map(|lowered| lowered.defaults.clone())
                        .unwrap_or_default();
                    let lowered = self.match_args(frame, &params, &defaults, None, args, false);
                    return Expr::Endpoint { api: api as u32, endpoint: endpoint as u32, args: lowered };
                }
                let Some(function) = self.out.by_name.get(&name.name).cloned() else { return Expr::Invalid };
                let receiver_ty = self.ty(base);
                let receiver = if flows_on(&function) { self.lower_part(frame, base) } else { self.lower(frame, base) };
                let chained = receiver_ty.is_optional() && (*optional || in_optional_chain(base));
                if chained {
                    // `x?.f()`, `a?.b.f()`: the call is skipped when the chain met none.
                    let slot = frame.fresh();
                    let call_args = self.arguments(frame, &function, Some(Expr::Local(slot)), args);
                    let call = Expr::Call { callee: function, args: call_args };
                    return wrap_chain(receiver, |inner| Expr::Chain {
                        base: Box::new(inner),
                        slot,
                        then: Box::new(call),
                    });
                }
                let call_args = self.arguments(frame, &function, Some(receiver), args);
                Expr::Call { callee: function, args: call_args }
            }
            _ => Expr::Invalid,
        }
    }

    /// Arguments in parameter order, omitted ones filled with their default or none.
    fn arguments(
        &mut self,
        frame: &mut Frame,
        callee: &Callee,
        receiver: Option<Expr>,
        args: &[ast::Arg],
    ) -> Vec<Expr> {
        let (params, defaults) = match callee {
            Callee::User(index) => match self.out.functions.get(*index as usize) {
                Some(function) => (function.params.clone(), function.defaults.clone()),
                None => return Vec::new(),
            },
            Callee::Native(name) => match self.checked.functions.get(name) {
                Some(sig) => (
                    sig.params.iter().map(|param| (param.name.clone(), param.ty.clone())).collect(),
                    self.native_defaults(name),
                ),
                None => return Vec::new(),
            },
        };
        let flows_on = flows_on(callee);
        self.match_args(frame, &params, &defaults, receiver, args, flows_on)
    }

    /// Defaults of a native, lowered from its declaration (natives are collected before bodies).
    fn native_defaults(&mut self, name: &str) -> Vec<Option<Expr>> {
        if let Some(native) = self.out.natives.get(name)
            && !native.defaults.is_empty()
        {
            return native.defaults.clone();
        }
        let declaration = self.declarations().into_iter().find_map(|(_, decl)| match &decl.kind {
            DeclKind::Fn(function) if function.name.name == name => Some(function.params.clone()),
            _ => None,
        });
        match declaration {
            Some(params) => {
                let defaults = self.defaults(&params);
                if let Some(native) = self.out.natives.get_mut(name) {
                    native.defaults = defaults.clone();
                }
                defaults
            }
            None => Vec::new(),
        }
    }

    /// `flows_on`: the callee only moves the arguments on (a user function, whose
    /// own body decides what it reads, or a list native that hands elements to a lambda).
    #[allow(clippy::too_many_arguments)]
    fn match_args(
        &mut self,
        frame: &mut Frame,
        params: &[(String, Ty)],
        defaults: &[Option<Expr>],
        receiver: Option<Expr>,
        args: &[ast::Arg],
        flows_on: bool,
    ) -> Vec<Expr> {
        let mut slots: Vec<Option<Expr>> = vec![None; params.len()];
        let mut next = 0;
        if let Some(receiver) = receiver {
            if let Some(first) = slots.first_mut() {
                *first = Some(receiver);
            }
            next = 1;
        }
        for arg in args {
            let index = match &arg.name {
                Some(name) => params.iter().position(|(param, _)| *param == name.name),
                None => {
                    let index = next;
                    next += 1;
                    Some(index)
                }
            };
            let Some(index) = index.filter(|index| *index < params.len()) else { continue };
            let target = params[index].1.clone();
            let value = match (target.has_vars(), flows_on) {
                (true, true) => self.lower_part(frame, &arg.value),
                (true, false) => self.lower(frame, &arg.value),
                (false, true) => self.lower_part_to(frame, &arg.value, &target),
                (false, false) => self.lower_to(frame, &arg.value, &target),
            };
            slots[index] = Some(value);
        }
        slots
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                value.or_else(|| defaults.get(index).cloned().flatten()).unwrap_or(Expr::Literal(Literal::None))
            })
            .collect()
    }

    fn lower_object(&mut self, frame: &mut Frame, fields: &[ast::ObjectField], ty: &Ty) -> Expr {
        match ty.unwrap_optional() {
            Ty::Record(id) => {
                let Some(record) = self.checked.types.record(*id).cloned() else { return Expr::Invalid };
                let mut values: Vec<Option<Expr>> = vec![None; record.fields.len()];
                for field in fields {
                    let Some(index) = record.field_index(field.key.text()) else { continue };
                    let target = record.fields[index].ty.clone();
                    values[index] = Some(self.lower_to(frame, &field.value, &target));
                }
                Expr::Record {
                    ty: id.0,
                    fields: values.into_iter().map(|value| value.unwrap_or(Expr::Invalid)).collect(),
                }
            }
            Ty::Map(value_ty) => {
                let value_ty = (**value_ty).clone();
                Expr::Map(
                    fields
                        .iter()
                        .map(|field| (field.key.text().to_owned(), self.lower_to(frame, &field.value, &value_ty)))
                        .collect(),
                )
            }
            _ => Expr::Invalid,
        }
    }

    fn pattern(&self, pattern: &ast::PatternAlt, scrutinee: &Ty) -> Pattern {
        match pattern {
            ast::PatternAlt::Wildcard(_) => Pattern::Wildcard,
            ast::PatternAlt::None(_) => Pattern::None,
            ast::PatternAlt::Bool(value, _) => Pattern::Literal(Literal::Bool(*value)),
            ast::PatternAlt::Int(value, _) => match scrutinee.unwrap_optional() {
                Ty::Decimal => Pattern::Literal(decimal_literal(&value.to_string())),
                Ty::Float => Pattern::Literal(Literal::Float(*value as f64)),
                _ => Pattern::Literal(Literal::Int(*value)),
            },
            ast::PatternAlt::Number(text, _) => match scrutinee.unwrap_optional() {
                Ty::Float => Pattern::Literal(Literal::Float(text.parse().unwrap_or(f64::NAN))),
                _ => Pattern::Literal(decimal_literal(text)),
            },
            ast::PatternAlt::String(text, _) => Pattern::Literal(Literal::String(text.clone())),
            ast::PatternAlt::Quantity(..) => Pattern::Wildcard,
            ast::PatternAlt::Variant { name, .. } => match scrutinee.unwrap_optional() {
                Ty::Enum(id) => {
                    match self.checked.types.enumeration(*id).and_then(|definition| definition.variant(&name.name)) {
                        Some(variant) => Pattern::Variant { ty: id.0, variant: variant as u32 },
                        None => Pattern::Wildcard,
                    }
                }
                _ => Pattern::Wildcard,
            },
        }
    }

    // ------------------------------------------------------------------ apis

    fn lower_api(&mut self, decl: &ast::ApiDecl) -> Option<Api> {
        let info = self.checked.apis.iter().find(|api| api.name == decl.name.name)?.clone();
        let mut base_url = Expr::Invalid;
        let mut auth = api::Auth::none();
        let mut policy_name: Option<String> = None;
        let mut rate_limit = None;
        let mut concurrency = None;
        let mut headers = Vec::new();
        let mut errors = Vec::new();
        for item in &decl.items {
            let ast::ApiItem::Clause(clause) = item else { continue };
            let single = single(clause);
            match clause.key.name.as_str() {
                "base_url" => {
                    if let Some(expr) = single {
                        base_url = self.lower(&mut Frame::new(), expr);
                    }
                }
                "auth" => {
                    if let Some(expr) = single {
                        auth = self.lower_auth(expr);
                    }
                }
                "policy" => {
                    if let Some(ast::Expr { kind: ExprKind::Name(name), .. }) = single {
                        policy_name = Some(name.name.clone());
                    }
                }
                "rate_limit" => {
                    rate_limit = self.checked_rate(clause);
                }
                "concurrency" => {
                    if let Some(ast::Expr { kind: ExprKind::Int(value), .. }) = single {
                        concurrency = Some(*value as u64);
                    }
                }
                "headers" => headers = self.lower_headers(&mut Frame::new(), clause),
                "errors" => errors = error_arms(clause),
                _ => {}
            }
        }
        let policy = self.policy_index(policy_name.as_deref());
        let mut endpoints = Vec::new();
        for item in &decl.items {
            let ast::ApiItem::Endpoint(endpoint) = item else { continue };
            let Some(endpoint_info) = info.endpoints.iter().find(|candidate| candidate.span == endpoint.name.span)
            else {
                continue;
            };
            endpoints.push(self.lower_endpoint(endpoint, endpoint_info));
        }
        Some(Api {
            name: info.name.clone(),
            base_url,
            auth,
            policy,
            rate_limit,
            concurrency,
            headers,
            errors,
            endpoints,
        })
    }

    fn policy_index(&self, name: Option<&str>) -> u32 {
        let wanted = name.unwrap_or("default");
        self.out
            .policies
            .iter()
            .position(|policy| policy.name == wanted)
            .or_else(|| self.out.policies.iter().position(|policy| policy.name == "default"))
            .unwrap_or(0) as u32
    }

    fn checked_rate(&self, clause: &ast::Clause) -> Option<crate::check::policy::Rate> {
        let ClauseValue::Setting(value) = &clause.value else { return None };
        let phrase = value.phrases.first()?;
        let [count, _, unit] = phrase.atoms.as_slice() else { return None };
        let count = match count.kind {
            ExprKind::Int(value) if value > 0 => value as u64,
            _ => return None,
        };
        let per_ms = match &unit.kind {
            ExprKind::Name(name) => match name.name.as_str() {
                "second" => 1_000,
                "minute" => 60_000,
                "hour" => 3_600_000,
                "day" => 86_400_000,
                _ => return None,
            },
            ExprKind::Quantity(quantity) => literals::duration_ms(quantity, unit).ok()?,
            _ => return None,
        };
        let burst = value
            .phrases
            .get(1)
            .and_then(|phrase| match phrase.atoms.as_slice() {
                [_, ast::Expr { kind: ExprKind::Int(burst), .. }] => Some(*burst as u64),
                _ => None,
            })
            .unwrap_or(1);
        Some(crate::check::policy::Rate { count, per_ms, burst })
    }

    fn lower_auth(&mut self, expr: &ast::Expr) -> api::Auth {
        match &expr.kind {
            ExprKind::None => api::Auth::none(),
            ExprKind::Name(name) if name.name == "none" => api::Auth::none(),
            ExprKind::Name(name) => {
                // A named `auth` declaration.
                let declaration = self.declarations().into_iter().find_map(|(_, decl)| match &decl.kind {
                    DeclKind::Auth(auth) if auth.name.name == name.name => Some(auth.value.clone()),
                    _ => None,
                });
                match declaration {
                    // Apis that name one declaration share its token cache.
                    Some(value) => api::Auth { declaration: Some(name.name.clone()), ..self.lower_auth(&value) },
                    None => api::Auth::none(),
                }
            }
            ExprKind::Call { callee, args, .. } => {
                let scheme = match &callee.kind {
                    ExprKind::Name(name) => name.name.clone(),
                    _ => "none".to_owned(),
                };
                let table = crate::check::config::AUTH_SCHEMES.iter().find(|candidate| candidate.name == scheme);
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
                        // Bare words such as `sha256`, `hex`, `header`.
                        ExprKind::Name(word) if self.checked.symbols.iter().all(|symbol| symbol.name != word.name) => {
                            Expr::Literal(Literal::String(word.name.clone()))
                        }
                        _ => {
                            let mut frame = Frame::new();
                            if table.is_some_and(|table| {
                                table.params.iter().any(|param| {
                                    param.name == name
                                        && matches!(param.kind, crate::check::config::ArgKind::Template(_))
                                })
                            }) {
                                // A signing template: its names are filled in per request.
                                self.lower_template(&arg.value)
                            } else {
                                self.lower(&mut frame, &arg.value)
                            }
                        }
                    };
                    lowered.push((name, value));
                }
                api::Auth { scheme, args: lowered, declaration: None }
            }
            _ => api::Auth::none(),
        }
    }

    /// A template such as `"{method}\n{path}"`: its placeholders stay as text.
    fn lower_template(&self, value: &ast::Expr) -> Expr {
        let ExprKind::String(literal) = &value.kind else { return Expr::Invalid };
        let mut text = String::new();
        for part in &literal.parts {
            match part {
                StringPart::Text(piece, _) => text.push_str(&piece.replace('{', "{{").replace('}', "}}")),
                StringPart::Interpolation(expr) => match &expr.kind {
                    ExprKind::Name(name) => {
                        text.push('{');
                        text.push_str(&name.name);
                        text.push('}');
                    }
                    _ => return Expr::Invalid,
                },
            }
        }
        Expr::Literal(Literal::String(text))
    }

    fn lower_headers(&mut self, frame: &mut Frame, clause: &ast::Clause) -> Vec<(String, Expr)> {
        let Some(ast::Expr { kind: ExprKind::Object { fields, .. }, .. }) = single(clause) else { return Vec::new() };
        fields.iter().map(|field| (field.key.text().to_owned(), self.lower(frame, &field.value))).collect()
    }

    fn lower_endpoint(&mut self, decl: &ast::EndpointDecl, info: &crate::check::api::EndpointInfo) -> Endpoint {
        let mut frame = Frame::new();
        let params: Vec<(String, Ty)> =
            info.params.iter().map(|param| (param.name.clone(), param.ty.clone())).collect();
        for (name, _) in &params {
            frame.declare(name);
        }
        let body_slot = frame.declare("body");
        let headers_slot = frame.declare("headers");
        let status_slot = frame.declare("status");
        let defaults = self.defaults(&decl.params);
        let mut endpoint = Endpoint {
            name: info.name.clone(),
            method: "GET".to_owned(),
            params,
            defaults,
            path: Vec::new(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            response: Ty::Json,
            result: api::Result::Unit,
            errors: Vec::new(),
            idempotency_key: None,
            idempotency_header: None,
            idempotent: false,
            policy: None,
            frame_size: 0,
            body_slot,
            headers_slot,
            status_slot,
        };
        let mut records = None;
        let mut select = None;
        let mut pagination = None;
        let mut max_pages = 1000;
        for clause in &decl.clauses {
            let key = clause.key.name.as_str();
            let value = single(clause);
            if crate::check::api::METHODS.contains(&key.to_ascii_uppercase().as_str())
                && !matches!(key, "query" | "headers" | "body" | "errors")
            {
                endpoint.method = key.to_ascii_uppercase();
                if let Some(ast::Expr { kind: ExprKind::String(literal), .. }) = value {
                    endpoint.path = literal
                        .parts
                        .iter()
                        .map(|part| match part {
                            StringPart::Text(text, _) => PathPart::Text(text.clone()),
                            StringPart::Interpolation(expr) => {
                                let ty = self.ty(expr);
                                PathPart::Value(self.lower(&mut frame, expr), ty)
                            }
                        })
                        .collect();
                }
                continue;
            }
            match key {
                "query" => {
                    if let Some(ast::Expr { kind: ExprKind::Object { fields, .. }, .. }) = value {
                        endpoint.query = fields
                            .iter()
                            .map(|field| {
                                let ty = self.ty(&field.value);
                                (field.key.text().to_owned(), self.lower(&mut frame, &field.value), ty)
                            })
                            .collect();
                    }
                }
                "headers" => endpoint.headers = self.lower_headers(&mut frame, clause),
                "body" => endpoint.body = self.lower_body(&mut frame, clause),
                "response" => {
                    if let Some(ast::Expr { kind: ExprKind::Name(name), span }) = value {
                        let _ = span;
                        endpoint.response = match self
                            .checked
                            .symbols
                            .iter()
                            .rev()
                            .find(|symbol| symbol.name == name.name)
                            .map(|symbol| &symbol.kind)
                        {
                            Some(SymbolKind::Type(id)) => Ty::Record(*id),
                            Some(SymbolKind::Enum(id)) => Ty::Enum(*id),
                            _ => Ty::Json,
                        };
                    }
                }
                "records" => records = value.cloned(),
                "select" => select = value.cloned(),
                "paginate" => pagination = value.cloned(),
                "max_pages" => {
                    if let Some(ast::Expr { kind: ExprKind::Int(pages), .. }) = value {
                        max_pages = (*pages).max(1) as u64;
                    }
                }
                "errors" => endpoint.errors = error_arms(clause),
                "idempotency_key" => endpoint.idempotency_key = value.map(|value| self.lower(&mut frame, value)),
                "idempotency_header" => {
                    if let Some(ast::Expr { kind: ExprKind::String(literal), .. }) = value {
                        endpoint.idempotency_header = literal.as_plain();
                    }
                }
                "idempotent" => {
                    endpoint.idempotent = matches!(value, Some(ast::Expr { kind: ExprKind::Bool(true), .. }))
                }
                "policy" => {
                    if let Some(ast::Expr { kind: ExprKind::Name(name), .. }) = value {
                        endpoint.policy = Some(self.policy_index(Some(&name.name)));
                    }
                }
                _ => {}
            }
        }
        endpoint.result = match &info.result {
            Ty::Unit => api::Result::Unit,
            Ty::Stream(item) => {
                let item = (**item).clone();
                let records = records.map(|records| self.lower_to(&mut frame, &records, &item.clone().list()));
                let pagination = pagination.and_then(|pagination| self.lower_pagination(&mut frame, &pagination));
                api::Result::Stream { item, records, pagination, max_pages }
            }
            single_ty => {
                let select = select.map(|select| self.lower_to(&mut frame, &select, single_ty));
                api::Result::Single { ty: single_ty.clone(), select }
            }
        };
        endpoint.frame_size = frame.size;
        endpoint
    }

    fn lower_body(&mut self, frame: &mut Frame, clause: &ast::Clause) -> Option<api::Body> {
        let ClauseValue::Setting(value) = &clause.value else { return None };
        let atoms: Vec<&ast::Expr> = value.phrases.iter().flat_map(|phrase| phrase.atoms.iter()).collect();
        match atoms.as_slice() {
            [ast::Expr { kind: ExprKind::Call { callee, args, .. }, .. }] => {
                let ExprKind::Name(encoding) = &callee.kind else { return None };
                let payload = args.iter().find(|arg| arg.name.is_none())?;
                let ty = self.ty(&payload.value);
                let lowered = self.lower(frame, &payload.value);
                match encoding.name.as_str() {
                    "json" => Some(api::Body::Json(lowered, ty)),
                    "form" => Some(api::Body::Form(lowered, ty)),
                    "xml" => {
                        let root = args.iter().find_map(|arg| match (&arg.name, &arg.value.kind) {
                            (Some(name), ExprKind::String(literal)) if name.name == "root" => literal.as_plain(),
                            _ => None,
                        })?;
                        Some(api::Body::Xml(lowered, ty, root))
                    }
                    _ => None,
                }
            }
            [object @ ast::Expr { kind: ExprKind::Object { name: Some(encoding), .. }, .. }]
            | [
                ast::Expr { kind: ExprKind::Name(encoding), .. },
                object @ ast::Expr { kind: ExprKind::Object { name: None, .. }, .. },
            ] => {
                let ty = self.ty(object);
                let lowered = self.lower(frame, object);
                match encoding.name.as_str() {
                    "json" => Some(api::Body::Json(lowered, ty)),
                    "form" => Some(api::Body::Form(lowered, ty)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn lower_pagination(&mut self, frame: &mut Frame, expr: &ast::Expr) -> Option<Pagination> {
        let (style, args) = match &expr.kind {
            ExprKind::Name(name) => (name.name.clone(), &[][..]),
            ExprKind::Call { callee, args, .. } => match &callee.kind {
                ExprKind::Name(name) => (name.name.clone(), args.as_slice()),
                _ => return None,
            },
            _ => return None,
        };
        let named = |wanted: &str| -> Option<&ast::Expr> {
            args.iter().enumerate().find_map(|(position, arg)| match &arg.name {
                Some(name) if name.name == wanted => Some(&arg.value),
                None if position == 0
                    && matches!(
                        (style.as_str(), wanted),
                        ("cursor", "next")
                            | ("next_url", "url")
                            | ("link_header", "rel")
                            | ("page" | "offset", "param")
                    ) =>
                {
                    Some(&arg.value)
                }
                _ => None,
            })
        };
        let text = |expr: Option<&ast::Expr>| -> Option<String> {
            match &expr?.kind {
                ExprKind::String(literal) => literal.as_plain(),
                _ => None,
            }
        };
        let int = |expr: Option<&ast::Expr>| -> Option<i64> {
            match expr?.kind {
                ExprKind::Int(value) => Some(value),
                _ => None,
            }
        };
        Some(match style.as_str() {
            "cursor" => Pagination::Cursor {
                next: self.lower(frame, named("next")?),
                param: text(named("param"))?,
                has_more: named("has_more").map(|has_more| self.lower_to(frame, has_more, &Ty::Bool)),
            },
            "page" => Pagination::Page {
                param: text(named("param")).unwrap_or_else(|| "page".to_owned()),
                start: int(named("start")).unwrap_or(1),
                size_param: text(named("size_param")),
                size: int(named("size")),
                stop: named("stop").map(|stop| self.lower_to(frame, stop, &Ty::Bool)),
            },
            "offset" => Pagination::Offset {
                param: text(named("param")).unwrap_or_else(|| "offset".to_owned()),
                limit_param: text(named("limit_param")),
                limit: int(named("limit")),
                stop: named("stop").map(|stop| self.lower_to(frame, stop, &Ty::Bool)),
            },
            "link_header" => Pagination::LinkHeader { rel: text(named("rel")).unwrap_or_else(|| "next".to_owned()) },
            "next_url" => Pagination::NextUrl { url: self.lower(frame, named("url")?) },
            _ => return None,
        })
    }
}

/// Whether a call only moves its arguments on (see [`Lowerer::match_args`]).
fn flows_on(callee: &Callee) -> bool {
    match callee {
        Callee::User(_) => true,
        Callee::Native(name) => matches!(
            name.as_str(),
            "map"
                | "filter"
                | "filter_map"
                | "flat_map"
                | "find"
                | "any"
                | "all"
                | "count"
                | "first"
                | "last"
                | "at"
                | "take"
                | "drop"
                | "reverse"
                | "sort_by"
                | "fold"
                | "len"
                | "is_empty"
                | "chunk"
                | "compact"
                | "min_of"
                | "max_of"
                | "group_by"
                | "index_by"
                | "unique_by"
                | "map_some"
                | "and_then"
                | "required"
                | "get"
                | "values"
                | "has_key"
                | "keys"
        ),
    }
}

/// Puts `operation` inside the innermost `?.` chain of `base`, so that the
/// whole rest of the chain is skipped when the chain met none.
fn wrap_chain(base: Expr, operation: impl FnOnce(Expr) -> Expr) -> Expr {
    match base {
        Expr::Chain { base: inner, slot, then } => {
            Expr::Chain { base: inner, slot, then: Box::new(wrap_chain(*then, operation)) }
        }
        other => operation(other),
    }
}

/// The conversion between `actual` and `target` the checker allowed implicitly.
fn convert(expr: Expr, actual: &Ty, target: &Ty) -> Expr {
    match (actual.unwrap_optional(), target.unwrap_optional()) {
        (Ty::Json, Ty::Json) | (_, Ty::Error) | (Ty::Error, _) => expr,
        (_, Ty::Json) => Expr::ToJson { value: Box::new(expr), ty: actual.clone() },
        (Ty::Json, _) => Expr::FromJson { value: Box::new(expr), ty: target.clone(), root: "value".to_owned() },
        (Ty::List(inner), Ty::List(target_inner)) if contains_json(inner) != contains_json(target_inner) => {
            if matches!(**target_inner, Ty::Json) {
                Expr::ToJson { value: Box::new(expr), ty: actual.clone() }
            } else {
                Expr::FromJson {
                    value: Box::new(Expr::ToJson { value: Box::new(expr), ty: actual.clone() }),
                    ty: target.clone(),
                    root: "value".to_owned(),
                }
            }
        }
        _ => expr,
    }
}

fn contains_json(ty: &Ty) -> bool {
    match ty {
        Ty::Json => true,
        Ty::Optional(inner) | Ty::List(inner) | Ty::Map(inner) => contains_json(inner),
        _ => false,
    }
}

fn single(clause: &ast::Clause) -> Option<&ast::Expr> {
    match &clause.value {
        ClauseValue::Setting(value) => value.single(),
        ClauseValue::Arms(..) => None,
    }
}

fn env_call(expr: &ast::Expr) -> Option<(String, Option<String>)> {
    let ExprKind::Call { callee, args, .. } = &expr.kind else { return None };
    let ExprKind::Name(name) = &callee.kind else { return None };
    if name.name != "env" {
        return None;
    }
    let strings: Vec<String> = args
        .iter()
        .filter_map(|arg| match &arg.value.kind {
            ExprKind::String(literal) => literal.as_plain(),
            _ => None,
        })
        .collect();
    match strings.as_slice() {
        [variable] => Some((variable.clone(), None)),
        [variable, default] => Some((variable.clone(), Some(default.clone()))),
        _ => None,
    }
}

fn error_arms(clause: &ast::Clause) -> Vec<ErrorArm> {
    let ClauseValue::Arms(arms, _) = &clause.value else { return Vec::new() };
    arms.iter()
        .map(|arm| {
            let patterns = arm
                .pattern
                .alternatives
                .iter()
                .filter_map(|alternative| match alternative {
                    ast::PatternAlt::Wildcard(_) => Some(StatusPattern::Any),
                    ast::PatternAlt::Int(value, span) => {
                        literals::status_pattern(&ast::Expr { kind: ExprKind::Int(*value), span: *span }).ok()
                    }
                    ast::PatternAlt::Quantity(quantity, span) => {
                        literals::status_pattern(&ast::Expr { kind: ExprKind::Quantity(quantity.clone()), span: *span })
                            .ok()
                    }
                    _ => None,
                })
                .collect();
            let name = match &arm.value.kind {
                ExprKind::Name(name) => Some(name.name.clone()),
                _ => None,
            };
            ErrorArm { patterns, name }
        })
        .collect()
}

/// A decimal literal with its digits and scale.
pub(crate) fn decimal_literal(text: &str) -> Literal {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits: String = whole.chars().chain(fraction.chars()).filter(char::is_ascii_digit).collect();
    let mantissa = digits.parse::<i128>().unwrap_or(0);
    Literal::Decimal { text: text.to_owned(), mantissa, scale: fraction.len() as u32 }
}
