//! Calls: functions, maps, methods, endpoints and the built-ins.
//!
//! In: a call expression. Out: its result type. Arguments are matched to
//! parameters (positional first, then named; each once; optional and
//! defaulted parameters may be left out), type parameters of generic natives
//! are unified left to right (so a lambda's parameters get their types from
//! the list before it), and bounds are checked. `x.f(a)` is `f(x, a)`;
//! `Api.endpoint(args)` calls an endpoint (flows and tests only).

use super::scope::{BodyKind, Cx, LocalKind};
use super::types::{Bound, RecordDef, Ty};
use super::{Checker, FnSig, ParamSig, SymbolKind, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, Arg, Expr, ExprKind};

/// One argument after matching: which parameter it fills.
struct Matched<'a> {
    param: usize,
    value: &'a Expr,
}

impl Checker<'_> {
    pub(crate) fn check_call(
        &mut self,
        cx: &mut Cx,
        whole: &Expr,
        callee: &Expr,
        args: &[Arg],
        args_span: Span,
        expected: Option<&Ty>,
    ) -> Ty {
        match &callee.kind {
            ExprKind::Name(name) if cx.peek(&name.name).is_none() => match name.name.as_str() {
                "env" => self.check_env(cx, whole, args),
                "fixture" => self.check_fixture(cx, whole, args, expected),
                "calls" => self.check_calls(cx, whole, args),
                _ => match self.use_symbol(&name.name).map(|index| self.symbols[index].kind.clone()) {
                    Some(SymbolKind::Map | SymbolKind::Fn) => match self.functions.get(&name.name).cloned() {
                        Some(sig) => self.apply(cx, &sig, None, args, args_span, whole.span),
                        None => {
                            self.check_args_loosely(cx, args);
                            Ty::Error
                        }
                    },
                    Some(SymbolKind::Type(id)) => {
                        self.check_args_loosely(cx, args);
                        let record = self.types.record(id).map(|record| record.name.clone()).unwrap_or_default();
                        self.report(
                            Diagnostic::new(
                                Code::NotCallable,
                                callee.span,
                                format!("`{record}` is a type, not a function"),
                            )
                            .label("types are built with braces")
                            .help(format!("write `{record} {{ field: value, ... }}`")),
                        );
                        Ty::Error
                    }
                    Some(other) => {
                        self.check_args_loosely(cx, args);
                        self.report(
                            Diagnostic::new(
                                Code::NotCallable,
                                callee.span,
                                format!("`{}` is a {}, not a function", name.name, other.describe()),
                            )
                            .label("cannot be called"),
                        );
                        Ty::Error
                    }
                    None => {
                        self.check_args_loosely(cx, args);
                        self.unknown_function(cx, name, None);
                        Ty::Error
                    }
                },
            },
            ExprKind::Field { base, name, optional } => {
                if let Some(api) = self.api_named(cx, base) {
                    if let ExprKind::Name(api_name) = &base.kind {
                        self.use_symbol(&api_name.name);
                    }
                    return self.check_endpoint_call(cx, whole, api, name, args, args_span);
                }
                if let ExprKind::Name(base_name) = &base.kind {
                    let unknown = cx.peek(&base_name.name).is_none() && self.symbol(&base_name.name).is_none();
                    if unknown && base_name.name.starts_with(|c: char| c.is_ascii_uppercase()) {
                        self.check_args_loosely(cx, args);
                        let apis = self.names_where(|kind| matches!(kind, SymbolKind::Api(_)));
                        let mut diagnostic = Diagnostic::new(
                            Code::UnknownApi,
                            base_name.span,
                            format!("unknown api `{}`", base_name.name),
                        )
                        .label("no api of this name");
                        if let Some(best) = suggest::best(&base_name.name, apis.iter().map(String::as_str)) {
                            diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                                format!("use `{best}`"),
                                base_name.span,
                                best,
                            );
                        }
                        self.report(diagnostic);
                        return Ty::Error;
                    }
                }
                // Method syntax: `x.f(a)` is `f(x, a)`.
                let receiver_ty = self.check_expr(cx, base, None);
                // `x?.f()` and `a?.b.f()`: the call is skipped when the chain met none.
                let chained =
                    matches!(receiver_ty, Ty::Optional(_)) && (*optional || super::expr::in_optional_chain(base));
                let receiver_ty = match (&receiver_ty, chained) {
                    (Ty::Optional(inner), true) => (**inner).clone(),
                    _ => receiver_ty,
                };
                if let Ty::Record(id) = &receiver_ty
                    && self.types.record(*id).and_then(|record| record.field(&name.name)).is_some()
                {
                    self.check_args_loosely(cx, args);
                    self.report(
                        Diagnostic::new(
                            Code::NotCallable,
                            name.span,
                            format!("field `{}` is not a function", name.name),
                        )
                        .label("a field, not a function")
                        .maybe_fix("read the field", args_span, ""),
                    );
                    return Ty::Error;
                }
                let sig = match self.use_symbol(&name.name).map(|index| self.symbols[index].kind.clone()) {
                    Some(SymbolKind::Map | SymbolKind::Fn) => self.functions.get(&name.name).cloned(),
                    _ => None,
                };
                let Some(sig) = sig else {
                    self.check_args_loosely(cx, args);
                    if !receiver_ty.is_error() {
                        self.unknown_function(cx, name, Some(&receiver_ty));
                    }
                    return Ty::Error;
                };
                let result = self.apply(cx, &sig, Some((base, receiver_ty.clone())), args, args_span, whole.span);
                if chained { result.optional() } else { result }
            }
            ExprKind::Name(name) => {
                let local = cx.lookup(&name.name).map(|local| (local.ty.clone(), local.span));
                if let Some((_, span)) = &local {
                    self.local_uses.push((name.span, *span));
                }
                let local_ty = local.map(|(ty, _)| ty).unwrap_or(Ty::Error);
                self.check_args_loosely(cx, args);
                if !local_ty.is_error() {
                    self.report(
                        Diagnostic::new(Code::NotCallable, callee.span, format!("`{}` is a variable of type `{}`, not a function", name.name, self.show(&local_ty)))
                            .label("cannot be called")
                            .help("functions are declared with `fn` or `map`; lambdas are only passed to functions such as `map` and `filter`"),
                    );
                }
                Ty::Error
            }
            _ => {
                self.check_expr(cx, callee, None);
                self.check_args_loosely(cx, args);
                self.report(
                    Diagnostic::new(Code::NotCallable, callee.span, "this is not a function")
                        .label("cannot be called")
                        .help("call functions, maps and endpoints by name: `f(x)`, `x.f()`, `Api.endpoint(...)`"),
                );
                Ty::Error
            }
        }
    }

    fn unknown_function(&mut self, cx: &Cx, name: &ast::Ident, receiver: Option<&Ty>) {
        let _ = cx;
        let candidates: Vec<String> = self.functions.keys().cloned().collect();
        let message = match receiver {
            Some(ty) => format!("no function `{}` for `{}`", name.name, self.show(ty)),
            None => format!("unknown function `{}`", name.name),
        };
        let mut diagnostic =
            Diagnostic::new(Code::UnknownFunction, name.span, message).label("no function or map of this name");
        if let Some(best) = suggest::best(&name.name, candidates.iter().map(String::as_str)) {
            diagnostic =
                diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(format!("use `{best}`"), name.span, best);
        } else {
            diagnostic = diagnostic.help("functions come from the standard library (`std/prelude` and the modules you import), `fn` and `map` declarations");
        }
        self.report(diagnostic);
    }

    /// Checks arguments when the callee is unknown, for their own errors.
    pub(crate) fn check_args_loosely(&mut self, cx: &mut Cx, args: &[Arg]) {
        for arg in args {
            if !matches!(arg.value.kind, ExprKind::Lambda { .. }) {
                self.check_expr(cx, &arg.value, None);
            }
        }
    }

    /// Matches arguments to parameters, reporting E0303, E0304 and E0209.
    fn match_args<'a>(
        &mut self,
        params: &[ParamSig],
        receiver: usize,
        args: &'a [Arg],
        args_span: Span,
        callee: &str,
    ) -> Option<Vec<Matched<'a>>> {
        let mut matched: Vec<Matched<'a>> = Vec::new();
        let mut filled = vec![false; params.len()];
        for slot in filled.iter_mut().take(receiver) {
            *slot = true;
        }
        let mut next_positional = receiver;
        let mut seen_named = false;
        let mut ok = true;
        for arg in args {
            match &arg.name {
                None => {
                    if seen_named {
                        self.report(
                            Diagnostic::new(
                                Code::WrongArgumentCount,
                                arg.span,
                                "positional argument after a named one",
                            )
                            .label("give this argument a name, or move it before the named ones"),
                        );
                        ok = false;
                        continue;
                    }
                    if next_positional >= params.len() {
                        let takes = params.len() - receiver;
                        self.report(
                            Diagnostic::new(
                                Code::WrongArgumentCount,
                                arg.span,
                                format!(
                                    "`{callee}` takes {takes} argument{}, but more were given",
                                    if takes == 1 { "" } else { "s" }
                                ),
                            )
                            .label("unexpected argument")
                            .fix("remove it", arg.span, ""),
                        );
                        ok = false;
                        continue;
                    }
                    filled[next_positional] = true;
                    matched.push(Matched { param: next_positional, value: &arg.value });
                    next_positional += 1;
                }
                Some(name) => {
                    seen_named = true;
                    let Some(index) = params.iter().position(|param| param.name == name.name) else {
                        let mut diagnostic = Diagnostic::new(
                            Code::UnknownArgument,
                            name.span,
                            format!("`{callee}` has no parameter `{}`", name.name),
                        )
                        .label("unknown parameter");
                        let unfilled: Vec<&str> = params
                            .iter()
                            .enumerate()
                            .filter(|(index, _)| !filled[*index])
                            .map(|(_, param)| param.name.as_str())
                            .collect();
                        if let Some(best) = suggest::best(&name.name, unfilled.iter().copied()) {
                            diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                                format!("use `{best}`"),
                                name.span,
                                best,
                            );
                        } else if !params.is_empty() {
                            let names: Vec<String> =
                                params.iter().skip(receiver).map(|param| format!("`{}`", param.name)).collect();
                            diagnostic =
                                diagnostic.note(format!("its parameters are {}", super::decls::join_words(&names)));
                        }
                        self.report(diagnostic);
                        ok = false;
                        continue;
                    };
                    if filled[index] {
                        self.report(
                            Diagnostic::new(
                                Code::DuplicateMember,
                                name.span,
                                format!("argument `{}` is given twice", name.name),
                            )
                            .label("already given")
                            .fix("remove it", arg.span, ""),
                        );
                        ok = false;
                        continue;
                    }
                    filled[index] = true;
                    matched.push(Matched { param: index, value: &arg.value });
                }
            }
        }
        let missing: Vec<&ParamSig> = params
            .iter()
            .enumerate()
            .filter(|(index, param)| !filled[*index] && !param.optional())
            .map(|(_, param)| param)
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|param| format!("`{}`", param.name)).collect();
            let insertion = missing.iter().map(|param| format!("{}: ", param.name)).collect::<Vec<_>>().join(", ");
            let close =
                Span { start: args_span.end.saturating_sub(1), end: args_span.end.saturating_sub(1), ..args_span };
            let separator = if args.is_empty() { "" } else { ", " };
            self.report(
                Diagnostic::new(
                    Code::WrongArgumentCount,
                    args_span,
                    format!(
                        "`{callee}` is missing {} {}",
                        if names.len() == 1 { "argument" } else { "arguments" },
                        super::decls::join_words(&names)
                    ),
                )
                .label(format!("missing {}", super::decls::join_words(&names)))
                .maybe_fix("add the missing arguments", close, format!("{separator}{insertion}")),
            );
            ok = false;
        }
        let _ = ok;
        Some(matched)
    }

    /// Applies a signature to arguments (with an optional method receiver).
    pub(crate) fn apply(
        &mut self,
        cx: &mut Cx,
        sig: &FnSig,
        receiver: Option<(&Expr, Ty)>,
        args: &[Arg],
        args_span: Span,
        call_span: Span,
    ) -> Ty {
        if cx.body == BodyKind::Config && !sig.native && sig.is_map {
            // Maps are pure and may run anywhere; nothing to restrict.
        }
        let receiver_count = usize::from(receiver.is_some());
        if receiver.is_some() && sig.params.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::WrongArgumentCount,
                    call_span,
                    format!("`{}` takes no arguments, so it cannot be called as a method", sig.name),
                )
                .label("no parameter for the value before the dot")
                .help(format!("call it as `{}()`", sig.name)),
            );
            self.check_args_loosely(cx, args);
            return sig.ret.clone();
        }
        let Some(matched) = self.match_args(&sig.params, receiver_count, args, args_span, &sig.name) else {
            return Ty::Error;
        };
        let mut bindings: Vec<Option<Ty>> = vec![None; sig.generics.len()];
        let mut bound_by: Vec<Option<Span>> = vec![None; sig.generics.len()];
        if let Some((receiver_expr, receiver_ty)) = &receiver {
            let param_ty = sig.params[0].ty.clone();
            if !self.unify(cx, &param_ty, receiver_ty, &mut bindings) {
                let expected = substitute(&param_ty, &bindings);
                self.report_mismatch(receiver_ty, &expected, receiver_expr.span, &format!("`{}`", sig.name));
            } else {
                note_bindings(&param_ty, &mut bound_by, receiver_expr.span);
            }
        }
        // Lambdas last, so that their parameter types are known from the other arguments.
        let mut order: Vec<&Matched<'_>> = matched.iter().collect();
        order.sort_by_key(|item| matches!(item.value.kind, ExprKind::Lambda { .. }));
        for item in order {
            let param = &sig.params[item.param];
            let expected = substitute(&param.ty, &bindings);
            let actual = match (&item.value.kind, &expected) {
                (ExprKind::Lambda { params, body }, Ty::Fn(param_tys, ret)) => {
                    self.check_lambda(cx, item.value, params, body, param_tys, ret)
                }
                // A function or map passed by name: its signature fills in the type parameters.
                (ExprKind::Name(name), Ty::Fn(..))
                    if cx.peek(&name.name).is_none() && self.functions.contains_key(&name.name) =>
                {
                    self.check_expr(cx, item.value, Some(&expected))
                }
                _ => {
                    let hint = if expected.has_vars() { None } else { Some(&expected) };
                    self.check_expr(cx, item.value, hint)
                }
            };
            if self.unify(cx, &param.ty, &actual, &mut bindings) {
                note_bindings(&param.ty, &mut bound_by, item.value.span);
            } else {
                let shown_expected = substitute(&param.ty, &bindings);
                self.report_mismatch(
                    &actual,
                    &shown_expected,
                    item.value.span,
                    &format!("argument `{}` of `{}`", param.name, sig.name),
                );
            }
        }
        for (index, (name, bound)) in sig.generics.iter().enumerate() {
            let (Some(bound), Some(ty)) = (bound, &bindings[index]) else {
                continue;
            };
            if !bound.admits(ty) && !ty.contains_error() && *ty != Ty::Json {
                let shown = self.show(ty);
                let span = bound_by[index].unwrap_or(call_span);
                let what = match bound {
                    Bound::Comparable => "numbers, strings, dates, times and durations",
                    Bound::Numeric => "Int, Float and Decimal",
                };
                self.report(
                    Diagnostic::new(
                        Code::UnsatisfiedBound,
                        span,
                        format!("`{}` needs `{name}: {}`, but `{name}` is `{shown}`", sig.name, bound.name()),
                    )
                    .label(format!("`{shown}` is not {}", bound.name()))
                    .note(format!("{} types are {what}", bound.name())),
                );
            }
        }
        let ret = substitute(&sig.ret, &bindings);
        erase_vars(&ret)
    }

    fn check_lambda(
        &mut self,
        cx: &mut Cx,
        whole: &Expr,
        params: &[ast::Ident],
        body: &Expr,
        param_tys: &[Ty],
        ret: &Ty,
    ) -> Ty {
        if params.len() != param_tys.len() {
            self.report(
                Diagnostic::new(
                    Code::InvalidLambda,
                    whole.span,
                    format!(
                        "this lambda takes {} parameter{}, but {} {} expected",
                        params.len(),
                        if params.len() == 1 { "" } else { "s" },
                        param_tys.len(),
                        if param_tys.len() == 1 { "is" } else { "are" }
                    ),
                )
                .label("wrong number of parameters"),
            );
            return Ty::Error;
        }
        cx.push();
        for (param, ty) in params.iter().zip(param_tys) {
            cx.declare(&param.name, erase_vars(ty), param.span, LocalKind::Param);
        }
        let hint = if ret.has_vars() { None } else { Some(ret) };
        let body_ty = self.check_expr(cx, body, hint);
        if let Some(ret) = hint {
            self.expect_fits(cx, &body_ty, ret, body.span, "the lambda's result");
        }
        cx.pop();
        Ty::Fn(param_tys.iter().map(erase_vars).collect(), Box::new(body_ty))
    }

    /// Unifies a parameter type (with type variables) with an argument type.
    fn unify(&self, cx: &Cx, param: &Ty, arg: &Ty, bindings: &mut Vec<Option<Ty>>) -> bool {
        match (param, arg) {
            (_, Ty::Error) => {
                bind_all(param, &Ty::Error, bindings);
                true
            }
            (Ty::Var(index), _) => {
                let index = *index as usize;
                if index >= bindings.len() {
                    return false;
                }
                match bindings[index].clone() {
                    None => {
                        if !matches!(arg, Ty::None) {
                            bindings[index] = Some(arg.clone());
                        }
                        true
                    }
                    Some(bound) => {
                        if self.fits(cx, arg, &bound) {
                            true
                        } else if self.fits(cx, &bound, arg) {
                            bindings[index] = Some(arg.clone());
                            true
                        } else if bound.is_numeric()
                            && arg.is_numeric()
                            && matches!((&bound, arg), (Ty::Int, Ty::Decimal) | (Ty::Decimal, Ty::Int))
                        {
                            bindings[index] = Some(Ty::Decimal);
                            true
                        } else {
                            false
                        }
                    }
                }
            }
            (Ty::Optional(inner), Ty::Optional(arg_inner)) => self.unify(cx, inner, arg_inner, bindings),
            (Ty::Optional(_), Ty::None) => true,
            (Ty::Optional(inner), _) => self.unify(cx, inner, arg, bindings),
            (Ty::List(inner), Ty::List(arg_inner)) | (Ty::Map(inner), Ty::Map(arg_inner)) => {
                self.unify(cx, inner, arg_inner, bindings)
            }
            (Ty::Fn(params, ret), Ty::Fn(arg_params, arg_ret)) => {
                params.len() == arg_params.len()
                    && params.iter().zip(arg_params).all(|(param, arg)| self.unify(cx, param, arg, bindings))
                    && self.unify(cx, ret, arg_ret, bindings)
            }
            (_, Ty::Json) if param.has_vars() => {
                bind_all(param, &Ty::Json, bindings);
                true
            }
            _ if param.has_vars() => false,
            _ => self.fits(cx, arg, param),
        }
    }

    /// `env("VAR")` or `env("VAR", "default")`: configuration from the environment.
    fn check_env(&mut self, cx: &mut Cx, whole: &Expr, args: &[Arg]) -> Ty {
        if !cx.env_allowed {
            self.report(
                Diagnostic::new(Code::EnvOutsideConfig, whole.span, "`env` can only be used in configuration")
                    .label("not configuration")
                    .note("`env` may appear in secrets, `base_url`, header values, auth arguments and webhook triggers")
                    .help("maps, flows and tests stay reproducible: pass the value in through a parameter or state"),
            );
            return Ty::Error;
        }
        let plain = |checker: &mut Self, arg: Option<&Arg>, what: &str| -> Option<String> {
            let arg = arg?;
            match &arg.value.kind {
                ExprKind::String(literal) if literal.as_plain().is_some() => literal.as_plain(),
                _ => {
                    checker.report(
                        Diagnostic::new(
                            Code::InvalidSettingValue,
                            arg.value.span,
                            format!("the {what} of `env` must be a plain string"),
                        )
                        .label("expected a string literal without interpolation"),
                    );
                    None
                }
            }
        };
        match args {
            [name] | [name, _] if name.name.is_none() => {
                if let Some(variable) = plain(self, Some(name), "variable name")
                    && (variable.is_empty() || !variable.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidSettingValue,
                            name.value.span,
                            format!("`{variable}` is not an environment variable name"),
                        )
                        .label("use letters, digits and `_`, such as \"SHOP_TOKEN\""),
                    );
                }
                if let Some(default) = args.get(1) {
                    plain(self, Some(default), "default");
                }
                Ty::String
            }
            _ => {
                self.report(
                    Diagnostic::new(
                        Code::WrongArgumentCount,
                        whole.span,
                        "`env` takes a variable name and an optional default",
                    )
                    .label("write `env(\"VAR\")` or `env(\"VAR\", \"default\")`"),
                );
                Ty::String
            }
        }
    }

    /// `fixture("orders.json")`: test data, typed by where it goes.
    fn check_fixture(&mut self, cx: &mut Cx, whole: &Expr, args: &[Arg], expected: Option<&Ty>) -> Ty {
        if cx.body != BodyKind::Test {
            self.test_only(whole, "fixture");
            return Ty::Error;
        }
        match args {
            [arg]
                if arg.name.is_none()
                    && matches!(&arg.value.kind, ExprKind::String(literal) if literal.as_plain().is_some()) => {}
            _ => {
                self.report(
                    Diagnostic::new(Code::WrongArgumentCount, whole.span, "`fixture` takes the path of a JSON file")
                        .label("write `fixture(\"fixtures/orders.json\")`"),
                );
            }
        }
        match expected {
            Some(ty) if !ty.has_vars() => ty.clone(),
            _ => {
                self.report(
                    Diagnostic::new(Code::CannotInfer, whole.span, "the type of this fixture is unknown here")
                        .label("nothing says what the file holds")
                        .help("use it where a type is expected: `let orders: [Order] = fixture(\"orders.json\")`"),
                );
                Ty::Error
            }
        }
    }

    /// `calls(Api.endpoint)`: the arguments of every call a test's flow made.
    fn check_calls(&mut self, cx: &mut Cx, whole: &Expr, args: &[Arg]) -> Ty {
        if cx.body != BodyKind::Test {
            self.test_only(whole, "calls");
            return Ty::Error;
        }
        let target = match args {
            [arg] if arg.name.is_none() => &arg.value,
            _ => {
                self.report(
                    Diagnostic::new(Code::WrongArgumentCount, whole.span, "`calls` takes one endpoint")
                        .label("write `calls(Api.endpoint)`"),
                );
                return Ty::Error;
            }
        };
        match self.endpoint_ref(cx, target) {
            Some((api, endpoint)) => {
                let record = self.apis[api].endpoints[endpoint].params_record;
                Ty::Record(record).list()
            }
            None => Ty::Error,
        }
    }

    fn test_only(&mut self, whole: &Expr, name: &str) {
        self.report(
            Diagnostic::new(Code::TestOnlyOutsideTest, whole.span, format!("`{name}` can only be used in a test"))
                .label("test-only function")
                .help("integrations read real data at run time; fixtures and recorded calls belong in `test` blocks"),
        );
    }

    /// Resolves `Api.endpoint` (without a call) to indexes, reporting unknown names.
    pub(crate) fn endpoint_ref(&mut self, cx: &Cx, target: &Expr) -> Option<(usize, usize)> {
        let ExprKind::Field { base, name, .. } = &target.kind else {
            self.report(
                Diagnostic::new(Code::InvalidGiven, target.span, "expected an endpoint such as `Shop.list_orders`")
                    .label("not an endpoint"),
            );
            return None;
        };
        let Some(api) = self.api_named(cx, base) else {
            if let ExprKind::Name(base_name) = &base.kind {
                let apis = self.names_where(|kind| matches!(kind, SymbolKind::Api(_)));
                let mut diagnostic =
                    Diagnostic::new(Code::UnknownApi, base_name.span, format!("unknown api `{}`", base_name.name))
                        .label("no api of this name");
                if let Some(best) = suggest::best(&base_name.name, apis.iter().map(String::as_str)) {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                        format!("use `{best}`"),
                        base_name.span,
                        best,
                    );
                }
                self.report(diagnostic);
            } else {
                self.report(
                    Diagnostic::new(Code::InvalidGiven, target.span, "expected an endpoint such as `Shop.list_orders`")
                        .label("not an endpoint"),
                );
            }
            return None;
        };
        if let ExprKind::Name(api_name) = &base.kind {
            self.use_symbol(&api_name.name);
        }
        match self.apis[api].endpoint(&name.name) {
            Some(index) => Some((api, index)),
            None => {
                self.unknown_endpoint(api, name);
                None
            }
        }
    }

    fn check_endpoint_call(
        &mut self,
        cx: &mut Cx,
        whole: &Expr,
        api: usize,
        name: &ast::Ident,
        args: &[Arg],
        args_span: Span,
    ) -> Ty {
        let Some(endpoint_index) = self.apis[api].endpoint(&name.name) else {
            self.check_args_loosely(cx, args);
            self.unknown_endpoint(api, name);
            return Ty::Error;
        };
        if !matches!(cx.body, BodyKind::Flow | BodyKind::Test) {
            let place = match cx.body {
                BodyKind::Pure => "maps and functions are pure: they cannot call endpoints",
                _ => "endpoints are called from flows",
            };
            self.report(
                Diagnostic::new(
                    Code::MisplacedClause,
                    whole.span,
                    format!("endpoint `{}.{}` called outside a flow", self.apis[api].name, name.name),
                )
                .label("not allowed here")
                .note(place)
                .help("call the endpoint in a flow and pass its result to the map"),
            );
        }
        let endpoint = self.apis[api].endpoints[endpoint_index].clone();
        let sig = FnSig {
            name: format!("{}.{}", self.apis[api].name, endpoint.name),
            generics: Vec::new(),
            params: endpoint.params.clone(),
            ret: endpoint.result.clone(),
            span: endpoint.span,
            native: false,
            is_map: false,
        };
        self.apply(cx, &sig, None, args, args_span, whole.span)
    }
}

/// Records which span bound each type variable of `param`.
fn note_bindings(param: &Ty, bound_by: &mut [Option<Span>], span: Span) {
    match param {
        Ty::Var(index) => {
            if let Some(slot) = bound_by.get_mut(*index as usize) {
                slot.get_or_insert(span);
            }
        }
        Ty::Optional(inner) | Ty::List(inner) | Ty::Map(inner) | Ty::Stream(inner) => {
            note_bindings(inner, bound_by, span)
        }
        Ty::Fn(params, ret) => {
            for param in params {
                note_bindings(param, bound_by, span);
            }
            note_bindings(ret, bound_by, span);
        }
        _ => {}
    }
}

fn bind_all(param: &Ty, to: &Ty, bindings: &mut [Option<Ty>]) {
    match param {
        Ty::Var(index) => {
            if let Some(slot) = bindings.get_mut(*index as usize) {
                slot.get_or_insert_with(|| to.clone());
            }
        }
        Ty::Optional(inner) | Ty::List(inner) | Ty::Map(inner) | Ty::Stream(inner) => bind_all(inner, to, bindings),
        Ty::Fn(params, ret) => {
            for param in params {
                bind_all(param, to, bindings);
            }
            bind_all(ret, to, bindings);
        }
        _ => {}
    }
}

/// Replaces bound type variables.
pub(crate) fn substitute(ty: &Ty, bindings: &[Option<Ty>]) -> Ty {
    match ty {
        Ty::Var(index) => match bindings.get(*index as usize) {
            Some(Some(bound)) => bound.clone(),
            _ => ty.clone(),
        },
        Ty::Optional(inner) => substitute(inner, bindings).optional(),
        Ty::List(inner) => substitute(inner, bindings).list(),
        Ty::Map(inner) => Ty::Map(Box::new(substitute(inner, bindings))),
        Ty::Stream(inner) => Ty::Stream(Box::new(substitute(inner, bindings))),
        Ty::Fn(params, ret) => Ty::Fn(
            params.iter().map(|param| substitute(param, bindings)).collect(),
            Box::new(substitute(ret, bindings)),
        ),
        other => other.clone(),
    }
}

/// Unbound type variables become `Error` (unknown, never reported twice).
pub(crate) fn erase_vars(ty: &Ty) -> Ty {
    match ty {
        Ty::Var(_) => Ty::Error,
        Ty::Optional(inner) => erase_vars(inner).optional(),
        Ty::List(inner) => erase_vars(inner).list(),
        Ty::Map(inner) => Ty::Map(Box::new(erase_vars(inner))),
        Ty::Stream(inner) => Ty::Stream(Box::new(erase_vars(inner))),
        Ty::Fn(params, ret) => Ty::Fn(params.iter().map(erase_vars).collect(), Box::new(erase_vars(ret))),
        other => other.clone(),
    }
}

/// An anonymous record of parameters, for `calls(Api.endpoint)`.
pub(crate) fn params_record(name: &str, params: &[ParamSig], span: Span) -> RecordDef {
    let mut record = RecordDef::new(format!("arguments of {name}"), span, None, true);
    for param in params {
        let _ = record.push(super::types::FieldDef {
            name: param.name.clone(),
            ty: param.ty.clone(),
            wire: param.name.clone(),
            format: None,
            span: param.span,
            doc: None,
        });
    }
    record
}
