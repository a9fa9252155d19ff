//! Typing expressions.
//!
//! In: an expression, its [`Cx`] and the type the context expects (which
//! types literals, `none`, `[]`, object literals, bare enum variants and
//! lambdas). Out: the expression's type, and diagnostics for every rule it
//! breaks. Optional values must be unwrapped with `?.`, `??` or a `!= none`
//! check, which narrows the path in the branch that follows.

use super::scope::{Cx, LocalKind, Secrets};
use super::types::{RecordDef, Ty};
use super::{Checker, SymbolKind, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp, Expr, ExprKind, StringPart, UnaryOp};

/// Narrowings implied by a condition: for when it holds, and when it does not.
#[derive(Default)]
pub(crate) struct Narrowing {
    pub when_true: Vec<(String, Ty)>,
    pub when_false: Vec<(String, Ty)>,
}

impl Checker<'_> {
    pub(crate) fn show(&self, ty: &Ty) -> String {
        self.types.display(ty).to_string()
    }

    /// Whether `from` fits `to` here (Json decodes into anything at decode sites).
    pub(crate) fn fits(&self, cx: &Cx, from: &Ty, to: &Ty) -> bool {
        if cx.json_decodes && contains_json(from) && !matches!(to, Ty::Secret) {
            return true;
        }
        self.types.assignable(from, to)
    }

    /// Reports E0300 (or E0301 for an optional) unless `actual` fits `expected`.
    pub(crate) fn expect_assignable(&mut self, actual: &Ty, expected: &Ty, span: Span, what: &str) -> bool {
        if self.types.assignable(actual, expected) {
            return true;
        }
        self.report_mismatch(actual, expected, span, what);
        false
    }

    pub(crate) fn expect_fits(&mut self, cx: &Cx, actual: &Ty, expected: &Ty, span: Span, what: &str) -> bool {
        if self.fits(cx, actual, expected) {
            return true;
        }
        self.report_mismatch(actual, expected, span, what);
        false
    }

    pub(crate) fn report_mismatch(&mut self, actual: &Ty, expected: &Ty, span: Span, what: &str) {
        let expected_shown = self.show(expected);
        let actual_shown = self.show(actual);
        if let Ty::Optional(inner) = actual
            && self.types.assignable(inner, expected)
        {
            self.report(
                Diagnostic::new(
                    Code::OptionalNotUnwrapped,
                    span,
                    format!("{what} needs a `{expected_shown}`, but this is `{actual_shown}`, which may be none"),
                )
                .label("this may be none")
                .help("give a default with `??`, or check it with `if x != none { ... }` first")
                .maybe_fix(
                    "give a default",
                    span.shrink_to_end(),
                    format!(" ?? {}", default_for(expected)),
                ),
            );
            return;
        }
        let mut diagnostic = Diagnostic::new(
            Code::TypeMismatch,
            span,
            format!("mismatched types: {what} expects `{expected_shown}`, found `{actual_shown}`"),
        )
        .label(format!("expected `{expected_shown}`, found `{actual_shown}`"));
        let conversion = match (actual, expected.unwrap_optional()) {
            (Ty::Int, Ty::Decimal) => Some("convert it with `decimal(...)`"),
            (Ty::Int, Ty::Float) => Some("convert it with `float(...)`"),
            (Ty::Decimal | Ty::Float, Ty::Int) => Some("convert it with `int(...)` (truncates) or `round(...)`"),
            (Ty::Float, Ty::Decimal) => Some("convert it with `decimal_from_float(...)`"),
            (Ty::Int | Ty::Decimal | Ty::Float | Ty::Bool | Ty::Date | Ty::DateTime | Ty::Enum(_), Ty::String) => {
                Some("convert it with `string(...)` or interpolate it: \"{...}\"")
            }
            (Ty::String, Ty::Int) => Some("parse it with `parse_int(...)`, which gives an `Int?`"),
            (Ty::String, Ty::Decimal) => Some("parse it with `parse_decimal(...)`, which gives a `Decimal?`"),
            (Ty::String, Ty::DateTime) => Some("parse it with `parse_datetime(...)`, which gives a `DateTime?`"),
            (Ty::String, Ty::Enum(_)) => Some("write the variant's name, not a string"),
            (Ty::None, _) => Some("the field is not optional: make its type optional (`T?`) or give a value"),
            (Ty::Secret, _) => Some("secrets may flow only into auth and headers"),
            _ => None,
        };
        if let Some(conversion) = conversion {
            diagnostic = diagnostic.help(conversion);
        }
        self.report(diagnostic);
    }

    /// Types `expr`; `expected` guides literals and is not itself enforced.
    pub(crate) fn check_expr(&mut self, cx: &mut Cx, expr: &Expr, expected: Option<&Ty>) -> Ty {
        let ty = crate::with_stack(|| self.check_expr_inner(cx, expr, expected));
        // Lowering reads the type of every expression from here.
        self.expr_types.insert(ExprKey::of(expr), ty.clone());
        ty
    }

    fn check_expr_inner(&mut self, cx: &mut Cx, expr: &Expr, expected: Option<&Ty>) -> Ty {
        match &expr.kind {
            ExprKind::Int(_) => match expected.map(Ty::unwrap_optional) {
                Some(Ty::Decimal) => Ty::Decimal,
                Some(Ty::Float) => Ty::Float,
                _ => Ty::Int,
            },
            ExprKind::Number(_) => match expected.map(Ty::unwrap_optional) {
                Some(Ty::Float) => Ty::Float,
                _ => Ty::Decimal,
            },
            ExprKind::Quantity(quantity) => self.check_quantity(quantity, expr),
            ExprKind::String(literal) => self.check_string(cx, literal),
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::None => match expected {
                Some(ty @ Ty::Optional(_)) => ty.clone(),
                _ => Ty::None,
            },
            ExprKind::Name(name) => self.check_name(cx, name, expected),
            ExprKind::Field { base, name, optional } => self.check_field(cx, expr, base, name, *optional, expected),
            ExprKind::Call { callee, args, args_span } => self.check_call(cx, expr, callee, args, *args_span, expected),
            ExprKind::Index { base, index } => self.check_index(cx, base, index),
            ExprKind::Unary { op, op_span, operand } => self.check_unary(cx, *op, *op_span, operand, expected),
            ExprKind::Binary { op, op_span, lhs, rhs } => {
                self.check_binary(cx, expr, *op, *op_span, lhs, rhs, expected)
            }
            ExprKind::List(items) => self.check_list(cx, items, expected),
            ExprKind::Object { name, fields } => self.check_object(cx, expr, name.as_ref(), fields, expected),
            ExprKind::Lambda { params, .. } => {
                let _ = params;
                self.report(
                    Diagnostic::new(
                        Code::InvalidLambda,
                        expr.span,
                        "a lambda can only be an argument to a function that takes one",
                    )
                    .label("not expected here")
                    .help("pass it to a list function such as `map`, `filter` or `sort_by`, or write a `fn` for reuse"),
                );
                Ty::Error
            }
            ExprKind::If { condition, then_branch, else_branch } => {
                let condition_ty = self.check_expr(cx, condition, Some(&Ty::Bool));
                self.expect_assignable(&condition_ty, &Ty::Bool, condition.span, "an `if` condition");
                let narrowing = self.narrowing(cx, condition);
                let mark = cx.narrowing_mark();
                for (path, ty) in narrowing.when_true {
                    cx.narrow(path, ty);
                }
                let then_ty = self.check_expr(cx, then_branch, expected);
                cx.restore_narrowing(mark);
                for (path, ty) in narrowing.when_false {
                    cx.narrow(path, ty);
                }
                let else_ty = self.check_expr(cx, else_branch, expected.or(Some(&then_ty)));
                cx.restore_narrowing(mark);
                self.join(&then_ty, &else_ty, else_branch.span, "the `else` branch")
            }
            ExprKind::Match { scrutinee, arms } => self.check_match(cx, expr, scrutinee, arms, expected),
            ExprKind::Paren(inner) => self.check_expr(cx, inner, expected),
        }
    }

    /// The common type of two branches (or reports E0300).
    pub(crate) fn join(&mut self, first: &Ty, second: &Ty, span: Span, what: &str) -> Ty {
        if first == second || second.is_error() {
            return first.clone();
        }
        if first.is_error() {
            return second.clone();
        }
        match (first, second) {
            (Ty::None, other) | (other, Ty::None) => return other.clone().optional(),
            (Ty::Int, Ty::Decimal) | (Ty::Decimal, Ty::Int) => return Ty::Decimal,
            (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => return Ty::Float,
            _ => {}
        }
        if self.types.assignable(second, first) {
            return first.clone();
        }
        if self.types.assignable(first, second) {
            return second.clone();
        }
        if let (Ty::Optional(inner), other) | (other, Ty::Optional(inner)) = (first, second)
            && self.types.assignable(other, inner)
        {
            return Ty::Optional(inner.clone());
        }
        self.report_mismatch(second, first, span, what);
        Ty::Error
    }

    fn check_quantity(&mut self, quantity: &ast::Quantity, expr: &Expr) -> Ty {
        if super::literals::DURATION_UNITS.iter().any(|(unit, _)| *unit == quantity.unit) {
            if let Err(diagnostic) = super::literals::duration_ms(quantity, expr) {
                self.report(diagnostic);
            }
            return Ty::Duration;
        }
        if super::literals::SIZE_UNITS.iter().any(|(unit, _)| *unit == quantity.unit) {
            if let Err(diagnostic) = super::literals::size_bytes(quantity, expr) {
                self.report(diagnostic);
            }
            return Ty::Int;
        }
        if quantity.unit == "xx" {
            self.report(
                Diagnostic::new(
                    Code::InvalidStatusPattern,
                    expr.span,
                    format!("`{}xx` is a status class, not a value", quantity.number),
                )
                .label("status classes appear only in `retry_on` and `errors`")
                .help("compare the status with a range instead: `status >= 500 && status < 600`"),
            );
            return Ty::Error;
        }
        match super::literals::duration_ms(quantity, expr) {
            Ok(_) => Ty::Duration,
            Err(diagnostic) => {
                self.report(diagnostic);
                Ty::Error
            }
        }
    }

    fn check_string(&mut self, cx: &mut Cx, literal: &ast::StringLit) -> Ty {
        let mut secret = false;
        for part in &literal.parts {
            let StringPart::Interpolation(inner) = part else {
                continue;
            };
            let ty = self.check_expr(cx, inner, None);
            match &ty {
                Ty::Secret => secret = true,
                Ty::Optional(inner_ty) if !inner_ty.is_error() => {
                    let shown = self.show(&ty);
                    self.report(
                        Diagnostic::new(
                            Code::OptionalNotUnwrapped,
                            inner.span,
                            format!("cannot interpolate `{shown}`: it may be none"),
                        )
                        .label("this may be none")
                        .help("give a default: `{x ?? \"\"}`")
                        .maybe_fix("give a default", inner.span.shrink_to_end(), " ?? \"\""),
                    );
                }
                Ty::None => {
                    self.report(
                        Diagnostic::new(Code::NotInterpolatable, inner.span, "cannot interpolate `none`")
                            .label("this is always none"),
                    );
                }
                Ty::Record(_) | Ty::List(_) | Ty::Map(_) | Ty::Json | Ty::Fn(..) | Ty::Stream(_) | Ty::Unit => {
                    let shown = self.show(&ty);
                    let help = match ty {
                        Ty::List(_) => "join the items first: `{xs.join(\", \")}`",
                        Ty::Json => "pick a field and convert it, or encode it with `json_encode(...)`",
                        _ => "interpolate one of its fields instead",
                    };
                    self.report(
                        Diagnostic::new(
                            Code::NotInterpolatable,
                            inner.span,
                            format!("cannot interpolate a value of type `{shown}`"),
                        )
                        .label("not text")
                        .help(help),
                    );
                }
                _ => {}
            }
        }
        if secret { Ty::Secret } else { Ty::String }
    }

    fn check_name(&mut self, cx: &mut Cx, name: &ast::Ident, expected: Option<&Ty>) -> Ty {
        if let Some(narrowed) = cx.narrowed(&name.name).cloned() {
            if let Some(local) = cx.lookup(&name.name) {
                self.local_uses.push((name.span, local.span));
            }
            return narrowed;
        }
        if let Some(local) = cx.lookup(&name.name) {
            self.local_uses.push((name.span, local.span));
            return local.ty.clone();
        }
        if let Some(Ty::Enum(id)) = expected.map(Ty::unwrap_optional) {
            let id = *id;
            if self.types.enumeration(id).is_some_and(|definition| definition.variant(&name.name).is_some()) {
                return Ty::Enum(id);
            }
        }
        let Some(index) = self.use_symbol(&name.name) else {
            self.unknown_name(cx, name, expected);
            return Ty::Error;
        };
        let kind = self.symbols[index].kind.clone();
        match kind {
            SymbolKind::Secret => {
                if let Secrets::Forbidden(place) = cx.secrets {
                    self.report(
                        Diagnostic::new(Code::SecretLeak, name.span, format!("secret `{}` used in {place}", name.name))
                            .label("secrets may flow only into auth and headers")
                            .secondary(self.symbols[index].span, "declared as a secret here")
                            .note("a secret that reaches a body, a query, a map, a log or a test can end up in a provider's records, a dead letter or CI output")
                            .help("pass it through the api's `auth:` clause or a header value"),
                    );
                    return Ty::Error;
                }
                Ty::Secret
            }
            SymbolKind::Map | SymbolKind::Fn => {
                let sig = self.functions.get(&name.name).cloned();
                match (sig, expected) {
                    (Some(sig), Some(Ty::Fn(params, _)))
                        if sig.generics.is_empty() && sig.params.len() == params.len() =>
                    {
                        Ty::Fn(sig.params.iter().map(|param| param.ty.clone()).collect(), Box::new(sig.ret.clone()))
                    }
                    _ => {
                        self.report(
                            Diagnostic::new(
                                Code::NotCallable,
                                name.span,
                                format!(
                                    "`{}` is a {}; call it with arguments",
                                    name.name,
                                    self.symbols[index].kind.describe()
                                ),
                            )
                            .label("a function is not a value here")
                            .maybe_fix("call it", name.span.shrink_to_end(), "(...)"),
                        );
                        Ty::Error
                    }
                }
            }
            SymbolKind::Flow if cx.body == super::scope::BodyKind::Test => match self.flows.get(&name.name) {
                Some(info) => Ty::Record(info.result),
                None => Ty::Error,
            },
            other => {
                let help = match other {
                    SymbolKind::Api(_) => {
                        format!("call one of its endpoints: `{}.endpoint(...)`", name.name)
                    }
                    SymbolKind::Enum(_) => format!("name a variant: `{}.variant`", name.name),
                    SymbolKind::Type(_) => {
                        format!("build a value with `{} {{ field: value }}`", name.name)
                    }
                    SymbolKind::Policy => "policies are named in `policy:` clauses".to_owned(),
                    SymbolKind::Auth => "auth schemes are named in an api's `auth:` clause".to_owned(),
                    SymbolKind::Flow => "flows are run by triggers, or by `run` in a test".to_owned(),
                    _ => String::new(),
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownName,
                        name.span,
                        format!("`{}` is a {}, not a value", name.name, other.describe()),
                    )
                    .label("expected a value")
                    .help(help),
                );
                Ty::Error
            }
        }
    }

    fn unknown_name(&mut self, cx: &Cx, name: &ast::Ident, expected: Option<&Ty>) {
        let mut candidates = cx.names();
        candidates
            .extend(self.names_where(|kind| matches!(kind, SymbolKind::Secret | SymbolKind::Map | SymbolKind::Fn)));
        if let Some(Ty::Enum(id)) = expected.map(Ty::unwrap_optional)
            && let Some(definition) = self.types.enumeration(*id)
        {
            candidates.extend(definition.variants.iter().map(|variant| variant.name.clone()));
        }
        let mut diagnostic = Diagnostic::new(Code::UnknownName, name.span, format!("unknown name `{}`", name.name))
            .label("not found in this scope");
        if let Some(best) = suggest::best(&name.name, candidates.iter().map(String::as_str)) {
            diagnostic =
                diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(format!("use `{best}`"), name.span, best);
        } else if let Some(variant_of) = self.enum_with_variant(&name.name) {
            diagnostic = diagnostic
                .help(format!("`{}` is a variant of `{variant_of}`: write `{variant_of}.{}`", name.name, name.name))
                .maybe_fix("qualify it", name.span, format!("{variant_of}.{}", name.name));
        }
        self.report(diagnostic);
    }

    fn enum_with_variant(&self, variant: &str) -> Option<String> {
        self.types
            .enums
            .iter()
            .find(|definition| definition.variant(variant).is_some())
            .map(|definition| definition.name.clone())
    }

    /// `Name.variant` if `base` names an enum.
    fn enum_named(&self, cx: &Cx, base: &Expr) -> Option<super::types::EnumId> {
        let ExprKind::Name(name) = &base.kind else {
            return None;
        };
        if cx.peek(&name.name).is_some() {
            return None;
        }
        match self.symbol(&name.name)?.kind {
            SymbolKind::Enum(id) => Some(id),
            _ => None,
        }
    }

    /// The api a name refers to, if it is one (and not shadowed by a local).
    pub(crate) fn api_named(&self, cx: &Cx, base: &Expr) -> Option<usize> {
        let ExprKind::Name(name) = &base.kind else {
            return None;
        };
        if cx.peek(&name.name).is_some() {
            return None;
        }
        match self.symbol(&name.name)?.kind {
            SymbolKind::Api(index) => Some(index),
            _ => None,
        }
    }

    fn check_field(
        &mut self,
        cx: &mut Cx,
        whole: &Expr,
        base: &Expr,
        name: &ast::Ident,
        optional: bool,
        expected: Option<&Ty>,
    ) -> Ty {
        let _ = expected;
        if let Some(id) = self.enum_named(cx, base) {
            if let ExprKind::Name(enum_name) = &base.kind {
                self.use_symbol(&enum_name.name);
            }
            let Some(definition) = self.types.enumeration(id).cloned() else {
                return Ty::Error;
            };
            if definition.variant(&name.name).is_some() {
                return Ty::Enum(id);
            }
            let mut diagnostic = Diagnostic::new(
                Code::UnknownVariant,
                name.span,
                format!("`{}` has no variant `{}`", definition.name, name.name),
            )
            .label("unknown variant")
            .secondary(definition.span, format!("`{}` is declared here", definition.name));
            if let Some(best) =
                suggest::best(&name.name, definition.variants.iter().map(|variant| variant.name.as_str()))
            {
                diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                    format!("use `{best}`"),
                    name.span,
                    best,
                );
            } else {
                let all: Vec<String> =
                    definition.variants.iter().map(|variant| format!("`{}`", variant.name)).collect();
                diagnostic = diagnostic.help(format!("the variants are {}", super::decls::join_words(&all)));
            }
            self.report(diagnostic);
            return Ty::Error;
        }
        if let Some(api) = self.api_named(cx, base) {
            if let ExprKind::Name(api_name) = &base.kind {
                self.use_symbol(&api_name.name);
            }
            let known = self.apis.get(api).is_some_and(|info| info.endpoint(&name.name).is_some());
            if known {
                self.report(
                    Diagnostic::new(Code::NotCallable, whole.span, format!("endpoint `{}` must be called", name.name))
                        .label("an endpoint is not a value")
                        .maybe_fix("call it", whole.span.shrink_to_end(), "(...)"),
                );
            } else {
                self.unknown_endpoint(api, name);
            }
            return Ty::Error;
        }
        if let Some(path) = path_of(whole)
            && let Some(narrowed) = cx.narrowed(&path).cloned()
        {
            self.check_expr(cx, base, None);
            return narrowed;
        }
        let base_ty = self.check_expr(cx, base, None);
        // `a?.b.c`: once `?.` met none, the rest of the chain is skipped.
        if let Ty::Optional(inner) = &base_ty
            && !optional
            && in_optional_chain(base)
        {
            let inner = (**inner).clone();
            return self.field_of(cx, base, &inner, name, false).optional();
        }
        self.field_of(cx, base, &base_ty, name, optional)
    }

    /// The type of field `name` of a value of type `base_ty`.
    fn field_of(&mut self, cx: &Cx, base: &Expr, base_ty: &Ty, name: &ast::Ident, optional: bool) -> Ty {
        let dot = Span::new(name.span.file, base.span.end as usize, name.span.start as usize);
        match base_ty {
            Ty::Error => Ty::Error,
            Ty::Json => Ty::Json,
            Ty::Optional(inner) if optional => {
                let inner = (**inner).clone();
                let field = self.field_of(cx, base, &inner, name, false);
                field.optional()
            }
            Ty::None if optional => Ty::None,
            Ty::Optional(inner) if cx.body == super::scope::BodyKind::Test => {
                // In a test, a none here fails the expectation that reads it.
                let inner = (**inner).clone();
                self.field_of(cx, base, &inner, name, false).optional()
            }
            Ty::Optional(inner) => {
                let shown = self.show(base_ty);
                let inner_shown = self.show(inner);
                let fix_replacement = "?.";
                self.report(
                    Diagnostic::new(
                        Code::OptionalNotUnwrapped,
                        base.span,
                        format!("`{}` is `{shown}`, so it may be none", source_text(self, base)),
                    )
                    .label(format!("this may be none, and `.{}` needs a `{inner_shown}`", name.name))
                    .help("use `?.` to get an optional result, `??` to give a default, or check `!= none` first")
                    .maybe_fix("use `?.`", dot, fix_replacement),
                );
                // Go on as if it were present: the field is still checked, and the
                // mistake is reported once rather than at every use of the result.
                let inner = (**inner).clone();
                self.field_of(cx, base, &inner, name, false)
            }
            Ty::Record(id) => {
                if optional {
                    self.report(
                        Diagnostic::new(Code::UnnecessaryOptionalOp, dot, "`?.` on a value that is never none")
                            .label(format!("`{}` is `{}`, not optional", source_text(self, base), self.show(base_ty)))
                            .fix("use `.`", dot, "."),
                    );
                }
                let Some(record) = self.types.record(*id).cloned() else {
                    return Ty::Error;
                };
                match record.field(&name.name) {
                    Some(field) => field.ty.clone(),
                    None => {
                        self.unknown_field(&record, name);
                        Ty::Error
                    }
                }
            }
            Ty::Map(_) => {
                self.report(
                    Diagnostic::new(Code::NotARecord, name.span, format!("a map has no field `{}`", name.name))
                        .label("maps are read by key")
                        .help(format!(
                            "write `{}[\"{}\"]`, which gives an optional",
                            source_text(self, base),
                            name.name
                        )),
                );
                Ty::Error
            }
            other => {
                let shown = self.show(other);
                let mut diagnostic =
                    Diagnostic::new(Code::NotARecord, name.span, format!("`{shown}` has no field `{}`", name.name))
                        .label(format!("`{}` is `{shown}`", source_text(self, base)));
                if self.functions.contains_key(&name.name) {
                    diagnostic = diagnostic
                        .help(format!("`{}` is a function: call it as a method, `.{}()`", name.name, name.name))
                        .maybe_fix("call it", name.span.shrink_to_end(), "()");
                }
                self.report(diagnostic);
                Ty::Error
            }
        }
    }

    pub(crate) fn unknown_field(&mut self, record: &RecordDef, name: &ast::Ident) {
        let what = if record.anonymous && record.name.is_empty() {
            "this record".to_owned()
        } else {
            format!("`{}`", record.name)
        };
        let mut diagnostic =
            Diagnostic::new(Code::UnknownField, name.span, format!("{what} has no field `{}`", name.name))
                .label("unknown field");
        if !record.anonymous {
            diagnostic = diagnostic.secondary(record.span, format!("`{}` is declared here", record.name));
        }
        if let Some(best) = suggest::best(&name.name, record.fields.iter().map(|field| field.name.as_str())) {
            diagnostic =
                diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(format!("use `{best}`"), name.span, best);
        } else if let Some(field) = record.fields.iter().find(|field| field.wire == name.name) {
            diagnostic = diagnostic
                .help(format!("`{}` is the wire name of field `{}`", name.name, field.name))
                .maybe_fix(format!("use `{}`", field.name), name.span, field.name.clone());
        } else {
            let all: Vec<String> = record.fields.iter().take(8).map(|field| format!("`{}`", field.name)).collect();
            if !all.is_empty() {
                diagnostic = diagnostic.note(format!("its fields are {}", super::decls::join_words(&all)));
            }
        }
        self.report(diagnostic);
    }

    pub(crate) fn unknown_endpoint(&mut self, api: usize, name: &ast::Ident) {
        let Some(info) = self.apis.get(api).cloned() else {
            return;
        };
        let mut diagnostic = Diagnostic::new(
            Code::UnknownEndpoint,
            name.span,
            format!("api `{}` has no endpoint `{}`", info.name, name.name),
        )
        .label("unknown endpoint")
        .secondary(info.span, format!("`{}` is declared here", info.name));
        if let Some(best) = suggest::best(&name.name, info.endpoints.iter().map(|endpoint| endpoint.name.as_str())) {
            diagnostic =
                diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(format!("use `{best}`"), name.span, best);
        } else if !info.endpoints.is_empty() {
            let all: Vec<String> = info.endpoints.iter().map(|endpoint| format!("`{}`", endpoint.name)).collect();
            diagnostic = diagnostic.note(format!("its endpoints are {}", super::decls::join_words(&all)));
        }
        self.report(diagnostic);
    }

    fn check_index(&mut self, cx: &mut Cx, base: &Expr, index: &Expr) -> Ty {
        let base_ty = self.check_expr(cx, base, None);
        match base_ty.clone() {
            Ty::List(element) => {
                let index_ty = self.check_expr(cx, index, Some(&Ty::Int));
                self.expect_assignable(&index_ty, &Ty::Int, index.span, "a list index");
                element.optional()
            }
            Ty::Map(value) => {
                let key_ty = self.check_expr(cx, index, Some(&Ty::String));
                self.expect_assignable(&key_ty, &Ty::String, index.span, "a map key");
                value.optional()
            }
            Ty::Json => {
                let key_ty = self.check_expr(cx, index, None);
                if !matches!(key_ty, Ty::Int | Ty::String | Ty::Error) {
                    self.report_mismatch(&key_ty, &Ty::String, index.span, "a Json index");
                }
                Ty::Json
            }
            Ty::Error => {
                self.check_expr(cx, index, None);
                Ty::Error
            }
            Ty::Optional(inner)
                if cx.body == super::scope::BodyKind::Test && matches!(*inner, Ty::List(_) | Ty::Map(_)) =>
            {
                // In a test, a none here fails the expectation that reads it.
                let index_ty = self.check_expr(cx, index, None);
                let _ = index_ty;
                match *inner {
                    Ty::List(element) | Ty::Map(element) => element.optional(),
                    _ => Ty::Error,
                }
            }
            Ty::Optional(_) => {
                self.check_expr(cx, index, None);
                let shown = self.show(&base_ty);
                self.report(
                    Diagnostic::new(
                        Code::OptionalNotUnwrapped,
                        base.span,
                        format!("cannot index `{shown}`: it may be none"),
                    )
                    .label("this may be none")
                    .help("give a default first: `(xs ?? [])[0]`"),
                );
                Ty::Error
            }
            other => {
                self.check_expr(cx, index, None);
                let shown = self.show(&other);
                self.report(
                    Diagnostic::new(
                        Code::InvalidOperands,
                        base.span,
                        format!("cannot index a value of type `{shown}`"),
                    )
                    .label("only lists, maps and Json can be indexed"),
                );
                Ty::Error
            }
        }
    }

    fn check_unary(&mut self, cx: &mut Cx, op: UnaryOp, op_span: Span, operand: &Expr, expected: Option<&Ty>) -> Ty {
        let ty = self.check_expr(cx, operand, if op == UnaryOp::Not { Some(&Ty::Bool) } else { expected });
        match (op, &ty) {
            (_, Ty::Error) => Ty::Error,
            (UnaryOp::Not, Ty::Bool) => Ty::Bool,
            (UnaryOp::Neg, Ty::Int | Ty::Float | Ty::Decimal | Ty::Duration) => ty,
            _ => {
                let shown = self.show(&ty);
                let wanted = if op == UnaryOp::Not { "a Bool" } else { "a number or a duration" };
                let code = if ty.is_optional() { Code::OptionalNotUnwrapped } else { Code::InvalidOperands };
                self.report(
                    Diagnostic::new(code, operand.span, format!("`{}` cannot be applied to `{shown}`", op.as_str()))
                        .label(format!("expected {wanted}, found `{shown}`"))
                        .secondary(op_span, "this operator"),
                );
                Ty::Error
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_binary(
        &mut self,
        cx: &mut Cx,
        whole: &Expr,
        op: BinaryOp,
        op_span: Span,
        lhs: &Expr,
        rhs: &Expr,
        expected: Option<&Ty>,
    ) -> Ty {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let left = self.check_expr(cx, lhs, Some(&Ty::Bool));
                self.expect_assignable(&left, &Ty::Bool, lhs.span, &format!("`{}`", op.as_str()));
                let narrowing = self.narrowing(cx, lhs);
                let mark = cx.narrowing_mark();
                let applied = if op == BinaryOp::And { narrowing.when_true } else { narrowing.when_false };
                for (path, ty) in applied {
                    cx.narrow(path, ty);
                }
                let right = self.check_expr(cx, rhs, Some(&Ty::Bool));
                cx.restore_narrowing(mark);
                self.expect_assignable(&right, &Ty::Bool, rhs.span, &format!("`{}`", op.as_str()));
                Ty::Bool
            }
            BinaryOp::Coalesce => {
                let left = self.check_expr(cx, lhs, expected.map(|ty| ty.clone().optional()).as_ref());
                match left {
                    Ty::Optional(inner) => {
                        let right = self.check_expr(cx, rhs, Some(&inner));
                        if right.is_optional() {
                            let joined =
                                self.join(&Ty::Optional(inner.clone()), &right, rhs.span, "the right side of `??`");
                            return joined;
                        }
                        if self.fits(cx, &right, &inner) {
                            return (*inner).clone();
                        }
                        self.join(&inner, &right, rhs.span, "the right side of `??`")
                    }
                    Ty::None => self.check_expr(cx, rhs, expected),
                    Ty::Error => {
                        self.check_expr(cx, rhs, expected);
                        Ty::Error
                    }
                    Ty::Json => {
                        self.check_expr(cx, rhs, None);
                        Ty::Json
                    }
                    other => {
                        let right = self.check_expr(cx, rhs, Some(&other));
                        let _ = right;
                        let removal = Span::new(op_span.file, lhs.span.end as usize, rhs.span.end as usize);
                        self.report(
                            Diagnostic::new(Code::UnnecessaryOptionalOp, op_span, "`??` on a value that is never none")
                                .label(format!("`{}` is `{}`, not optional", source_text(self, lhs), self.show(&other)))
                                .secondary(rhs.span, "so this default is never used")
                                .fix("remove the default", removal, ""),
                        );
                        other
                    }
                }
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                // Check the side that can stand alone first, so `pending == o.status` works.
                let (first, second) = if self.is_unbound_name(cx, lhs) { (rhs, lhs) } else { (lhs, rhs) };
                let first_ty = self.check_expr(cx, first, None);
                let second_ty = self.check_expr(cx, second, Some(&first_ty));
                let (left, right) =
                    if std::ptr::eq(first, lhs) { (first_ty, second_ty) } else { (second_ty, first_ty) };
                if matches!(rhs.kind, ExprKind::None) && !left.is_optional() && !matches!(left, Ty::Error | Ty::Json) {
                    self.report(
                        Diagnostic::new(
                            Code::UnnecessaryOptionalOp,
                            whole.span,
                            format!("`{}` is never none", source_text(self, lhs)),
                        )
                        .label(format!(
                            "`{}` is `{}`, not optional, so this is always {}",
                            source_text(self, lhs),
                            self.show(&left),
                            op == BinaryOp::Ne
                        )),
                    );
                    return Ty::Bool;
                }
                let comparable = self.fits(cx, &left, &right)
                    || self.fits(cx, &right, &left)
                    || (left.is_numeric()
                        && right.is_numeric()
                        && !matches!((&left, &right), (Ty::Decimal, Ty::Float) | (Ty::Float, Ty::Decimal)));
                if !comparable {
                    let (left_shown, right_shown) = (self.show(&left), self.show(&right));
                    self.report(
                        Diagnostic::new(
                            Code::InvalidOperands,
                            op_span,
                            format!("cannot compare `{left_shown}` with `{right_shown}`"),
                        )
                        .label(format!("`{left_shown}` {} `{right_shown}`", op.as_str()))
                        .secondary(lhs.span, format!("this is `{left_shown}`"))
                        .secondary(rhs.span, format!("this is `{right_shown}`")),
                    );
                }
                Ty::Bool
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let left = self.check_expr(cx, lhs, None);
                let right = self.check_expr(cx, rhs, Some(&left));
                if left.is_error() || right.is_error() {
                    return Ty::Bool;
                }
                for (side, ty) in [(lhs, &left), (rhs, &right)] {
                    if ty.is_optional() {
                        let shown = self.show(ty);
                        self.report(
                            Diagnostic::new(
                                Code::OptionalNotUnwrapped,
                                side.span,
                                format!("cannot order `{shown}`: it may be none"),
                            )
                            .label("this may be none")
                            .help("give a default with `??`, or check `!= none` first"),
                        );
                        return Ty::Bool;
                    }
                }
                let numeric_mix = matches!(
                    (&left, &right),
                    (Ty::Int, Ty::Decimal) | (Ty::Decimal, Ty::Int) | (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int)
                );
                let json = cx.json_decodes && (left == Ty::Json || right == Ty::Json);
                let ordered = super::types::Bound::Comparable.admits(&left) && (left == right || numeric_mix);
                if !(ordered || json) {
                    let (left_shown, right_shown) = (self.show(&left), self.show(&right));
                    self.report(
                        Diagnostic::new(
                            Code::InvalidOperands,
                            op_span,
                            format!("cannot order `{left_shown}` and `{right_shown}`"),
                        )
                        .label(format!(
                            "`{}` needs two numbers, strings, dates, times or durations of the same type",
                            op.as_str()
                        ))
                        .secondary(lhs.span, format!("this is `{left_shown}`"))
                        .secondary(rhs.span, format!("this is `{right_shown}`")),
                    );
                }
                Ty::Bool
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                let left = self.check_expr(cx, lhs, expected);
                let right_expected = match (&left, op) {
                    (Ty::DateTime | Ty::Date, BinaryOp::Add | BinaryOp::Sub) => None,
                    (Ty::Duration, BinaryOp::Mul | BinaryOp::Div) => Some(Ty::Int),
                    _ => Some(left.clone()),
                };
                let right = self.check_expr(cx, rhs, right_expected.as_ref());
                self.arithmetic(op, op_span, lhs, rhs, &left, &right)
            }
        }
    }

    fn arithmetic(&mut self, op: BinaryOp, op_span: Span, lhs: &Expr, rhs: &Expr, left: &Ty, right: &Ty) -> Ty {
        use BinaryOp::*;
        use Ty::*;
        let result = match (op, left, right) {
            (_, Error, _) | (_, _, Error) => Some(Error),
            (Add | Sub | Mul | Div | Rem, Int, Int) => Some(Int),
            (Add | Sub | Mul | Div | Rem, Decimal, Decimal | Int) | (Add | Sub | Mul | Div | Rem, Int, Decimal) => {
                Some(Decimal)
            }
            (Add | Sub | Mul | Div, Float, Float | Int) | (Add | Sub | Mul | Div, Int, Float) => Some(Float),
            (Add, String, String) => Some(String),
            (Add, List(a), List(b)) if a == b => Some(List(a.clone())),
            (Add | Sub, DateTime, Duration) => Some(DateTime),
            (Sub, DateTime, DateTime) => Some(Duration),
            (Add | Sub, Date, Duration) => Some(Date),
            (Add | Sub, Duration, Duration) => Some(Duration),
            (Mul | Div, Duration, Int) => Some(Duration),
            _ => Option::None,
        };
        if let Some(result) = result {
            return result;
        }
        let (left_shown, right_shown) = (self.show(left), self.show(right));
        let mut diagnostic = if left.is_optional() || right.is_optional() {
            let side = if left.is_optional() { lhs } else { rhs };
            Diagnostic::new(
                Code::OptionalNotUnwrapped,
                side.span,
                format!("`{}` cannot be applied to an optional value", op.as_str()),
            )
            .label("this may be none")
            .help("give a default with `??` first")
        } else {
            Diagnostic::new(
                Code::InvalidOperands,
                op_span,
                format!("cannot apply `{}` to `{left_shown}` and `{right_shown}`", op.as_str()),
            )
            .label(format!("`{left_shown}` {} `{right_shown}`", op.as_str()))
            .secondary(lhs.span, format!("this is `{left_shown}`"))
            .secondary(rhs.span, format!("this is `{right_shown}`"))
        };
        let help = match (left, right) {
            (Decimal, Float) | (Float, Decimal) => {
                Some("Decimal and Float do not mix: convert with `decimal_from_float(...)` or `float(...)`")
            }
            (String, Int | Decimal | Float) | (Int | Decimal | Float, String) => {
                Some("build text with interpolation: \"{a}{b}\"")
            }
            _ => Option::None,
        };
        if let Some(help) = help {
            diagnostic = diagnostic.help(help);
        }
        self.report(diagnostic);
        Error
    }

    fn is_unbound_name(&self, cx: &Cx, expr: &Expr) -> bool {
        match &expr.kind {
            ExprKind::Name(name) => cx.peek(&name.name).is_none() && self.symbol(&name.name).is_none(),
            _ => false,
        }
    }

    fn check_list(&mut self, cx: &mut Cx, items: &[Expr], expected: Option<&Ty>) -> Ty {
        let expected_element = match expected.map(Ty::unwrap_optional) {
            Some(Ty::List(element)) => Some((**element).clone()),
            _ => None,
        };
        let Some(first) = items.first() else {
            return Ty::List(Box::new(expected_element.unwrap_or(Ty::Error)));
        };
        let mut element = self.check_expr(cx, first, expected_element.as_ref());
        if let Some(expected_element) = &expected_element
            && self.fits(cx, &element, expected_element)
        {
            element = expected_element.clone();
        }
        for item in &items[1..] {
            let ty = self.check_expr(cx, item, Some(&element));
            element = self.join(&element, &ty, item.span, "a list item");
        }
        element.list()
    }

    fn check_object(
        &mut self,
        cx: &mut Cx,
        whole: &Expr,
        name: Option<&ast::Ident>,
        fields: &[ast::ObjectField],
        expected: Option<&Ty>,
    ) -> Ty {
        let target = match name {
            Some(type_name) => match self.use_symbol(&type_name.name).map(|index| self.symbols[index].kind.clone()) {
                Some(SymbolKind::Type(id)) => Some(id),
                Some(other) => {
                    self.report(
                        Diagnostic::new(
                            Code::UnknownType,
                            type_name.span,
                            format!("`{}` is a {}, not a record type", type_name.name, other.describe()),
                        )
                        .label("expected a record type"),
                    );
                    return self.check_anonymous(cx, fields, None);
                }
                None => {
                    let candidates = self.names_where(|kind| matches!(kind, SymbolKind::Type(_)));
                    let mut diagnostic = Diagnostic::new(
                        Code::UnknownType,
                        type_name.span,
                        format!("unknown type `{}`", type_name.name),
                    )
                    .label("no record type of this name");
                    if let Some(best) = suggest::best(&type_name.name, candidates.iter().map(String::as_str)) {
                        diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                            format!("use `{best}`"),
                            type_name.span,
                            best,
                        );
                    }
                    self.report(diagnostic);
                    self.check_anonymous(cx, fields, None);
                    return Ty::Error;
                }
            },
            None => match expected.map(Ty::unwrap_optional) {
                Some(Ty::Record(id)) if self.types.record(*id).is_some_and(|record| !record.anonymous) => Some(*id),
                Some(Ty::Map(value)) => {
                    let value = (**value).clone();
                    let mut seen: Vec<(String, Span)> = Vec::new();
                    for field in fields {
                        self.duplicate_key(&mut seen, &field.key);
                        let ty = self.check_expr(cx, &field.value, Some(&value));
                        self.expect_fits(cx, &ty, &value, field.value.span, &format!("key `{}`", field.key.text()));
                    }
                    return Ty::Map(Box::new(value));
                }
                _ => None,
            },
        };
        match target {
            Some(id) => {
                let mut inits: Vec<(ast::Ident, &Expr, Span)> = Vec::new();
                for field in fields {
                    match &field.key {
                        ast::ObjectKey::Ident(ident) => inits.push((ident.clone(), &field.value, field.span)),
                        ast::ObjectKey::String(text, span) => {
                            self.report(
                                Diagnostic::new(Code::UnknownTargetField, *span, format!("record fields are names, not strings: `\"{text}\"`"))
                                    .label("write the field name without quotes")
                                    .note("quoted keys are for query, headers and form bodies, whose names may not be identifiers"),
                            );
                            self.check_expr(cx, &field.value, None);
                        }
                    }
                }
                let borrowed: Vec<super::decls::RecordItem<'_>> = inits
                    .iter()
                    .map(|(ident, value, span)| super::decls::RecordItem::Field(ident, value, *span))
                    .collect();
                let target_span = name.map(|ident| ident.span).unwrap_or(whole.span);
                self.check_record_fields(cx, id, &borrowed, whole.span, target_span, "record literal");
                Ty::Record(id)
            }
            None => self.check_anonymous(cx, fields, expected),
        }
    }

    fn duplicate_key(&mut self, seen: &mut Vec<(String, Span)>, key: &ast::ObjectKey) -> bool {
        if let Some((_, first)) = seen.iter().find(|(name, _)| name == key.text()) {
            let first = *first;
            self.report(
                Diagnostic::new(Code::DuplicateMember, key.span(), format!("key `{}` appears twice", key.text()))
                    .label("repeated here")
                    .secondary(first, "first here"),
            );
            return true;
        }
        seen.push((key.text().to_owned(), key.span()));
        false
    }

    /// An object literal with no record type: an anonymous record.
    pub(crate) fn check_anonymous(&mut self, cx: &mut Cx, fields: &[ast::ObjectField], expected: Option<&Ty>) -> Ty {
        let _ = expected;
        let mut record = RecordDef::new(String::new(), Span::default(), None, true);
        let mut seen: Vec<(String, Span)> = Vec::new();
        for field in fields {
            if self.duplicate_key(&mut seen, &field.key) {
                self.check_expr(cx, &field.value, None);
                continue;
            }
            let ty = self.check_expr(cx, &field.value, None);
            if matches!(ty, Ty::None) {
                self.report(
                    Diagnostic::new(Code::CannotInfer, field.value.span, "the type of `none` is unknown here")
                        .label("no type says what this is the absence of")
                        .help("leave the key out, or give the object a type"),
                );
            }
            let _ = record.push(super::types::FieldDef {
                name: field.key.text().to_owned(),
                ty,
                wire: field.key.text().to_owned(),
                format: None,
                span: field.key.span(),
                doc: None,
            });
        }
        Ty::Record(self.types.add_record(record))
    }

    pub(crate) fn check_let(&mut self, cx: &mut Cx, statement: &ast::LetStmt) {
        let annotated = statement.ty.as_ref().map(|ty| self.resolve_type(ty, &[]));
        let value_ty = self.check_expr(cx, &statement.value, annotated.as_ref());
        let ty = match annotated {
            Some(annotated) => {
                self.expect_fits(
                    cx,
                    &value_ty,
                    &annotated,
                    statement.value.span,
                    &format!("`{}`", statement.name.name),
                );
                annotated
            }
            None => {
                let unknown = match &statement.value.kind {
                    ExprKind::None => true,
                    ExprKind::List(items) => items.is_empty(),
                    _ => false,
                };
                if unknown {
                    self.report(
                        Diagnostic::new(
                            Code::CannotInfer,
                            statement.value.span,
                            format!("cannot infer the type of `{}`", statement.name.name),
                        )
                        .label("the type of this value is unknown")
                        .help(format!("write the type: `let {}: [String] = ...`", statement.name.name))
                        .maybe_fix(
                            "annotate it",
                            statement.name.span.shrink_to_end(),
                            ": Type",
                        ),
                    );
                }
                if matches!(value_ty, Ty::Stream(_)) {
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            statement.value.span,
                            "a stream cannot be bound with `let`",
                        )
                        .label("records are fetched as a `for` loop reads them")
                        .help("loop over it directly: `for record in ... { }`"),
                    );
                }
                if matches!(value_ty, Ty::Unit) {
                    self.report(
                        Diagnostic::new(Code::TypeMismatch, statement.value.span, "this call returns nothing")
                            .label("no value to bind")
                            .help("call it as a statement, without `let`"),
                    );
                }
                value_ty
            }
        };
        if let Some(catch) = &statement.catch {
            self.check_catch(cx, &statement.value, catch);
        }
        cx.declare(&statement.name.name, ty, statement.name.span, LocalKind::Let);
    }

    /// Narrowings from `x != none`, `x == none`, `&&`, `||` and `!`.
    pub(crate) fn narrowing(&self, cx: &Cx, condition: &Expr) -> Narrowing {
        match &condition.kind {
            ExprKind::Paren(inner) => self.narrowing(cx, inner),
            ExprKind::Unary { op: UnaryOp::Not, operand, .. } => {
                let inner = self.narrowing(cx, operand);
                Narrowing { when_true: inner.when_false, when_false: inner.when_true }
            }
            ExprKind::Binary { op: BinaryOp::And, lhs, rhs, .. } => {
                let mut left = self.narrowing(cx, lhs);
                let right = self.narrowing(cx, rhs);
                left.when_true.extend(right.when_true);
                Narrowing { when_true: left.when_true, when_false: Vec::new() }
            }
            ExprKind::Binary { op: BinaryOp::Or, lhs, rhs, .. } => {
                let mut left = self.narrowing(cx, lhs);
                let right = self.narrowing(cx, rhs);
                left.when_false.extend(right.when_false);
                Narrowing { when_true: Vec::new(), when_false: left.when_false }
            }
            ExprKind::Binary { op: op @ (BinaryOp::Ne | BinaryOp::Eq), lhs, rhs, .. } => {
                let subject = match (&lhs.kind, &rhs.kind) {
                    (_, ExprKind::None) => lhs,
                    (ExprKind::None, _) => rhs,
                    _ => return Narrowing::default(),
                };
                let (Some(path), Some(Ty::Optional(inner))) = (path_of(subject), self.path_type(cx, subject)) else {
                    return Narrowing::default();
                };
                let entry = vec![(path, *inner)];
                if *op == BinaryOp::Ne {
                    Narrowing { when_true: entry, when_false: Vec::new() }
                } else {
                    Narrowing { when_true: Vec::new(), when_false: entry }
                }
            }
            _ => Narrowing::default(),
        }
    }

    /// The type of a name or field path, without reporting anything.
    pub(crate) fn path_type(&self, cx: &Cx, expr: &Expr) -> Option<Ty> {
        if let Some(path) = path_of(expr)
            && let Some(narrowed) = cx.narrowed(&path)
        {
            return Some(narrowed.clone());
        }
        match &expr.kind {
            ExprKind::Name(name) => cx.peek(&name.name).map(|local| local.ty.clone()),
            ExprKind::Field { base, name, optional } => {
                let base_ty = self.path_type(cx, base)?;
                let (record_ty, wrap) = match (&base_ty, optional) {
                    (Ty::Optional(inner), true) => ((**inner).clone(), true),
                    (other, _) => (other.clone(), false),
                };
                let Ty::Record(id) = record_ty else {
                    return None;
                };
                let field = self.types.record(id)?.field(&name.name)?.ty.clone();
                Some(if wrap { field.optional() } else { field })
            }
            ExprKind::Paren(inner) => self.path_type(cx, inner),
            _ => None,
        }
    }
}

/// Whether `expr` ends a chain that contains `?.` (`a?.b`, `a?.b.c`, `a?.b.f()`):
/// what follows it in the chain is skipped when the chain met none.
pub(crate) fn in_optional_chain(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Field { optional: true, .. } => true,
        ExprKind::Field { base, .. } | ExprKind::Index { base, .. } => in_optional_chain(base),
        ExprKind::Call { callee, .. } => match &callee.kind {
            ExprKind::Field { base, optional, .. } => *optional || in_optional_chain(base),
            _ => false,
        },
        _ => false,
    }
}

/// Identifies an expression of the program: no two expressions share a span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExprKey {
    pub file: crate::source::FileId,
    pub start: u32,
    pub end: u32,
}

impl ExprKey {
    pub fn of(expr: &Expr) -> ExprKey {
        ExprKey { file: expr.span.file, start: expr.span.start, end: expr.span.end }
    }
}

/// `o.shipping.city` for a path of names and fields; `None` for anything else.
pub(crate) fn path_of(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Name(name) => Some(name.name.clone()),
        ExprKind::Field { base, name, optional: false } => path_of(base).map(|base| format!("{base}.{}", name.name)),
        ExprKind::Paren(inner) => path_of(inner),
        _ => None,
    }
}

/// The source text of an expression, for messages (shortened if long).
pub(crate) fn source_text(checker: &Checker<'_>, expr: &Expr) -> String {
    let text = checker.program.sources.snippet(expr.span);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 40 {
        let short: String = text.chars().take(37).collect();
        format!("{short}...")
    } else {
        text
    }
}

fn contains_json(ty: &Ty) -> bool {
    match ty {
        Ty::Json => true,
        Ty::Optional(inner) | Ty::List(inner) | Ty::Map(inner) => contains_json(inner),
        _ => false,
    }
}

/// A default value to suggest after `??`.
fn default_for(ty: &Ty) -> &'static str {
    match ty {
        Ty::String => "\"\"",
        Ty::Int => "0",
        Ty::Decimal | Ty::Float => "0.0",
        Ty::Bool => "false",
        Ty::List(_) => "[]",
        _ => "default",
    }
}
