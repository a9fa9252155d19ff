//! Calls of the standard library's natives in generated Rust: each native
//! is a call of its typed implementation in `integ_runtime::natives`,
//! written as a template.
//!
//! A template is Rust text with placeholders for the arguments, by position:
//!
//! | placeholder | what it becomes                                    |
//! |-------------|----------------------------------------------------|
//! | `{0}`       | the argument's value (copied, cloned or moved)     |
//! | `{&0}`      | a reference to it (`&T`)                           |
//! | `{s0}`      | a `&str` of a `String` argument                    |
//! | `{os0}`     | an `Option<&str>` of a `String?` argument          |
//! | `{f1}`      | a closure for a function argument                  |
//! | `{rt}`      | the runtime crate's path                           |
//!
//! A template ending in `?` is fallible. The closure's parameters are
//! references (`|x: &T|`) unless the native's entry says they are values.
//!
//! Types are worked out as the checker does: the native's declared
//! signature is instantiated by matching its parameter types against the
//! arguments' types, lambdas' parameters take the instantiated types, and a
//! lambda's body type binds the rest.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::quote;

use super::GenError;
use super::expr::{Body, Code, Form, unify};
use crate::check::types::Ty;
use crate::ir::{Callee, Expr};

/// How a native's function arguments receive their parameters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Params {
    /// `|x: &T|` (lists).
    Refs,
    /// `|x: T|` (optionals).
    Values,
    /// `|acc: A, x: &T|` (`fold`).
    ValueThenRef,
}

/// A native's call template.
struct Template {
    text: &'static str,
    params: Params,
}

const fn refs(text: &'static str) -> Template {
    Template { text, params: Params::Refs }
}

const fn values(text: &'static str) -> Template {
    Template { text, params: Params::Values }
}

fn template(name: &str) -> Option<Template> {
    Some(match name {
        // Strings.
        "char_count" => refs("{rt}::natives::strings::char_count({s0})"),
        "nonblank" => refs("{rt}::natives::strings::nonblank({os0})"),
        "trim" => refs("{rt}::natives::strings::trim({s0})"),
        "trim_start" => refs("{rt}::natives::strings::trim_start({s0})"),
        "trim_end" => refs("{rt}::natives::strings::trim_end({s0})"),
        "lower" => refs("{rt}::natives::strings::lower({s0})"),
        "upper" => refs("{rt}::natives::strings::upper({s0})"),
        "title_case" => refs("{rt}::natives::strings::title_case({s0})"),
        "ascii_fold" => refs("{rt}::natives::strings::ascii_fold({s0})"),
        "slugify" => refs("{rt}::natives::strings::slugify({s0})"),
        "collapse_whitespace" => refs("{rt}::natives::strings::collapse_whitespace({s0})"),
        "contains_text" => refs("{rt}::natives::strings::contains_text({s0}, {s1})"),
        "starts_with" => refs("{rt}::natives::strings::starts_with({s0}, {s1})"),
        "ends_with" => refs("{rt}::natives::strings::ends_with({s0}, {s1})"),
        "replace" => refs("{rt}::natives::strings::replace({s0}, {s1}, {s2})"),
        "remove_prefix" => refs("{rt}::natives::strings::remove_prefix({s0}, {s1})"),
        "split" => refs("{rt}::natives::strings::split({s0}, {s1})"),
        "substring" => refs("{rt}::natives::strings::substring({s0}, {1}, {2})"),
        "truncate" => refs("{rt}::natives::strings::truncate({s0}, {1}, {s2})"),
        "pad_left" => refs("{rt}::natives::strings::pad_left({s0}, {1}, {s2})?"),
        "pad_right" => refs("{rt}::natives::strings::pad_right({s0}, {1}, {s2})?"),
        "matches" => refs("{rt}::natives::strings::matches({s0}, {s1})?"),
        "regex_find" => refs("{rt}::natives::strings::regex_find({s0}, {s1})?"),
        "regex_replace" => refs("{rt}::natives::strings::regex_replace({s0}, {s1}, {s2})?"),
        "digits" => refs("{rt}::natives::strings::digits({s0})"),
        "is_email" => refs("{rt}::natives::strings::is_email({s0})"),
        "email_domain" => refs("{rt}::natives::strings::email_domain({s0})"),
        "to_e164" => refs("{rt}::natives::strings::to_e164({s0}, {s1})"),
        "escape_markdown" => refs("{rt}::natives::strings::escape_markdown({s0})"),
        "format_decimal" => refs("{rt}::natives::strings::format_decimal({0}, {1}, {s2}, {s3})"),
        "string" => refs("{rt}::generated::text({&0})"),
        "join" => refs("{rt}::natives::strings::join({&0}, {s1})"),
        // Numbers.
        "decimal" => refs("{rt}::natives::numbers::decimal({0})"),
        "decimal_from_float" => refs("{rt}::natives::numbers::decimal_from_float({0})?"),
        "float" => refs("{rt}::natives::numbers::float({0})"),
        "int" => refs("{rt}::natives::numbers::int({0})?"),
        "parse_int" => refs("{rt}::natives::numbers::parse_int({s0})"),
        "parse_decimal" => refs("{rt}::natives::numbers::parse_decimal({s0})"),
        "parse_float" => refs("{rt}::natives::numbers::parse_float({s0})"),
        "parse_bool" => refs("{rt}::natives::numbers::parse_bool({s0})"),
        "round" => refs("{rt}::natives::numbers::round({0}, {1})?"),
        "round_half_even" => refs("{rt}::natives::numbers::round_half_even({0}, {1})?"),
        "floor" => refs("{rt}::natives::numbers::floor({0})"),
        "ceil" => refs("{rt}::natives::numbers::ceil({0})"),
        "abs" => refs("{rt}::natives::numbers::abs({0})?"),
        "min" => refs("{rt}::natives::numbers::min({0}, {1})"),
        "max" => refs("{rt}::natives::numbers::max({0}, {1})"),
        "from_minor_units" => refs("{rt}::natives::numbers::from_minor_units({0}, {1})?"),
        "to_minor_units" => refs("{rt}::natives::numbers::to_minor_units({0}, {1})?"),
        "currency_exponent" => refs("{rt}::natives::numbers::currency_exponent({s0})"),
        // Lists.
        "len" => refs("{rt}::natives::lists::len({&0})"),
        "is_empty" => refs("{rt}::natives::lists::is_empty({&0})"),
        "first" => refs("{rt}::natives::lists::first({&0})"),
        "last" => refs("{rt}::natives::lists::last({&0})"),
        "at" => refs("{rt}::natives::lists::at({&0}, {1})"),
        "map" => refs("{rt}::natives::lists::map({&0}, {f1})?"),
        "filter" => refs("{rt}::natives::lists::filter({&0}, {f1})?"),
        "find" => refs("{rt}::natives::lists::find({&0}, {f1})?"),
        "any" => refs("{rt}::natives::lists::any({&0}, {f1})?"),
        "all" => refs("{rt}::natives::lists::all({&0}, {f1})?"),
        "count" => refs("{rt}::natives::lists::count({&0}, {f1})?"),
        "flat_map" => refs("{rt}::natives::lists::flat_map({&0}, {f1})?"),
        "filter_map" => refs("{rt}::natives::lists::filter_map({&0}, {f1})?"),
        "compact" => refs("{rt}::natives::lists::compact({&0})"),
        "fold" => Template { text: "{rt}::natives::lists::fold({&0}, {1}, {f2})?", params: Params::ValueThenRef },
        "sort" => refs("{rt}::natives::lists::sort({&0})"),
        "sort_by" => refs("{rt}::natives::lists::sort_by({&0}, {f1}, {2})?"),
        "reverse" => refs("{rt}::natives::lists::reverse({&0})"),
        "unique" => refs("{rt}::natives::lists::unique({&0})"),
        "unique_by" => refs("{rt}::natives::lists::unique_by({&0}, {f1})?"),
        "contains" => refs("{rt}::natives::lists::contains({&0}, {&1})"),
        "take" => refs("{rt}::natives::lists::take({&0}, {1})"),
        "drop" => refs("{rt}::natives::lists::drop({&0}, {1})"),
        "chunk" => refs("{rt}::natives::lists::chunk({&0}, {1})"),
        "sum" => refs("{rt}::natives::lists::sum({&0})?"),
        "min_of" => refs("{rt}::natives::lists::min_of({&0})"),
        "max_of" => refs("{rt}::natives::lists::max_of({&0})"),
        // Maps.
        "keys" => refs("{rt}::natives::maps::keys({&0})"),
        "values" => refs("{rt}::natives::maps::values({&0})"),
        "get" => refs("{rt}::natives::maps::get({&0}, {s1}).cloned()"),
        "has_key" => refs("{rt}::natives::maps::has_key({&0}, {s1})"),
        // Optionals.
        "map_some" => values("{rt}::natives::options::map_some({0}, {f1})?"),
        "and_then" => values("{rt}::natives::options::and_then({0}, {f1})?"),
        "required" => refs("{rt}::natives::options::required({0}, {s1})?"),
        _ => return None,
    })
}

/// Whether the Rust back end can call native `name`.
pub(crate) fn supported(name: &str) -> bool {
    template(name).is_some()
}

/// Binds the type variables of `pattern` by matching it against `actual`.
fn bind(pattern: &Ty, actual: &Ty, bindings: &mut HashMap<u32, Ty>) {
    match (pattern, actual) {
        (Ty::Var(var), _) => {
            if matches!(actual, Ty::Error | Ty::None) {
                return;
            }
            let bound = match bindings.get(var) {
                Some(known) => unify(known, actual),
                None => actual.clone(),
            };
            bindings.insert(*var, bound);
        }
        (Ty::Optional(p), Ty::Optional(a)) | (Ty::List(p), Ty::List(a)) | (Ty::Map(p), Ty::Map(a)) => {
            bind(p, a, bindings)
        }
        (Ty::Optional(p), other) => bind(p, other, bindings),
        (Ty::Fn(ps, pr), Ty::Fn(a_s, ar)) => {
            for (p, a) in ps.iter().zip(a_s) {
                bind(p, a, bindings);
            }
            bind(pr, ar, bindings);
        }
        _ => {}
    }
}

/// `pattern` with its bound variables replaced.
fn substitute(pattern: &Ty, bindings: &HashMap<u32, Ty>) -> Ty {
    match pattern {
        Ty::Var(var) => bindings.get(var).cloned().unwrap_or(Ty::Var(*var)),
        Ty::Optional(inner) => substitute(inner, bindings).optional(),
        Ty::List(inner) => Ty::List(Box::new(substitute(inner, bindings))),
        Ty::Map(inner) => Ty::Map(Box::new(substitute(inner, bindings))),
        Ty::Stream(inner) => Ty::Stream(Box::new(substitute(inner, bindings))),
        Ty::Fn(params, result) => Ty::Fn(
            params.iter().map(|param| substitute(param, bindings)).collect(),
            Box::new(substitute(result, bindings)),
        ),
        other => other.clone(),
    }
}

/// The code of a call of native `name`.
pub(super) fn call(
    body: &mut Body<'_, '_>,
    name: &str,
    args: &[Expr],
    expected: Option<&Ty>,
) -> Result<Code, GenError> {
    let Some(template) = template(name) else {
        return Err(body.unsupported(format!("the standard-library function `{name}`")));
    };
    let Some(native) = body.generator.program.natives.get(name).cloned() else {
        return Err(body.unsupported(format!("the undeclared native `{name}`")));
    };
    let mut bindings: HashMap<u32, Ty> = HashMap::new();
    if let Some(expected) = expected {
        if !expected.has_vars() && !expected.contains_error() {
            bind(&native.result, expected, &mut bindings);
        }
    }
    // Values first, so that the types of function arguments' parameters are known.
    let mut codes: Vec<Option<Code>> = vec![None; native.params.len()];
    for (position, (_, param_ty)) in native.params.iter().enumerate() {
        if matches!(param_ty, Ty::Fn(..)) {
            continue;
        }
        let arg = match args.get(position) {
            Some(arg) => arg.clone(),
            None => match native.defaults.get(position).and_then(Option::as_ref) {
                Some(default) => default.clone(),
                None => Expr::Literal(crate::ir::Literal::None),
            },
        };
        let wanted = substitute(param_ty, &bindings);
        let code = body.expr(&arg, if wanted.has_vars() { None } else { Some(&wanted) })?;
        bind(param_ty, &code.ty, &mut bindings);
        let wanted = substitute(param_ty, &bindings);
        let code = if wanted.has_vars() { code } else { body.coerce(code, &wanted)? };
        codes[position] = Some(code);
    }
    let mut closures: Vec<Option<TokenStream>> = vec![None; native.params.len()];
    for (position, (_, param_ty)) in native.params.iter().enumerate() {
        let Ty::Fn(fn_params, fn_result) = param_ty else { continue };
        let Some(arg) = args.get(position) else {
            return Err(body.unsupported(format!("`{name}` without its function argument")));
        };
        let param_tys: Vec<Ty> = fn_params.iter().map(|param| substitute(param, &bindings)).collect();
        let forms: Vec<Form> = (0..param_tys.len())
            .map(|index| match template.params {
                Params::Refs => Form::Ref,
                Params::Values => Form::Place,
                Params::ValueThenRef if index == 0 => Form::Place,
                Params::ValueThenRef => Form::Ref,
            })
            .collect();
        let wanted_result = substitute(fn_result, &bindings);
        let (closure, result_ty) = closure(body, arg, &param_tys, &forms, &wanted_result)?;
        bind(fn_result, &result_ty, &mut bindings);
        closures[position] = Some(closure);
    }
    let result = substitute(&native.result, &bindings);
    let result = if result.has_vars() { expected.cloned().unwrap_or(Ty::Error) } else { result };
    let text = expand(body, name, template.text, &codes, &closures)?;
    let fallible = text.trim_end().ends_with('?');
    let inner_text = text.trim_end().trim_end_matches('?');
    let inner: TokenStream = inner_text.parse().map_err(|error| GenError::Syntax(format!("{name}: {error}")))?;
    Ok(if fallible {
        Code { tokens: quote!(#inner?), form: Form::Owned, ty: result, atomic: true, tried: Some(inner) }
    } else {
        Code::owned_value(inner, result, true)
    })
}

/// A closure for a function argument: a lambda, or a function passed by name.
fn closure(
    body: &mut Body<'_, '_>,
    arg: &Expr,
    param_tys: &[Ty],
    forms: &[Form],
    wanted: &Ty,
) -> Result<(TokenStream, Ty), GenError> {
    match arg {
        Expr::Lambda(index) => {
            let Some(lambda) = body.generator.program.lambdas.get(*index as usize).cloned() else {
                return Err(body.unsupported("an unknown lambda"));
            };
            let mut idents = Vec::new();
            for ((slot, ty), form) in lambda.params.iter().zip(param_tys).zip(forms) {
                let name = body.slot_name(*slot);
                idents.push(body.bind(*slot, &name, ty.clone(), *form));
            }
            let code = body.expr(&lambda.body, if wanted.has_vars() { None } else { Some(wanted) })?;
            let code = if wanted.has_vars() { code } else { body.coerce(code, wanted)? };
            let ty = code.ty.clone();
            let value = match &code.tried {
                Some(inner) => inner.clone(),
                None => {
                    let owned = code.owned();
                    quote!(Ok(#owned))
                }
            };
            Ok((quote!(|#(#idents),*| #value), ty))
        }
        Expr::FunctionValue(Callee::User(index)) => {
            let Some(function) = body.generator.program.functions.get(*index as usize) else {
                return Err(body.unsupported("an unknown function"));
            };
            let name = super::ident(&function.name);
            let idents: Vec<_> = (0..param_tys.len()).map(|position| quote::format_ident!("arg{}", position)).collect();
            let args: Vec<TokenStream> = idents
                .iter()
                .zip(forms)
                .map(|(ident, form)| if *form == Form::Ref { quote!(#ident) } else { quote!(&#ident) })
                .collect();
            Ok((quote!(|#(#idents),*| #name(#(#args),*)), function.result.clone()))
        }
        _ => Err(body.unsupported("a function argument that is not a lambda or a function's name")),
    }
}

fn expand(
    body: &Body<'_, '_>,
    name: &str,
    text: &str,
    codes: &[Option<Code>],
    closures: &[Option<TokenStream>],
) -> Result<String, GenError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(GenError::Syntax(format!("template of `{name}`: unclosed placeholder")));
        };
        let placeholder = &after[..end];
        rest = &after[end + 1..];
        if placeholder == "rt" {
            out.push_str("::integ_runtime");
            continue;
        }
        let (kind, index) = placeholder.split_at(placeholder.find(|c: char| c.is_ascii_digit()).unwrap_or(0));
        let index: usize =
            index.parse().map_err(|_| GenError::Syntax(format!("template of `{name}`: `{{{placeholder}}}`")))?;
        if kind == "f" {
            let closure = closures
                .get(index)
                .and_then(Option::as_ref)
                .ok_or_else(|| body.unsupported(format!("`{name}` without argument {}", index + 1)))?;
            out.push_str(&closure.to_string());
            continue;
        }
        let code = codes
            .get(index)
            .and_then(Option::as_ref)
            .ok_or_else(|| body.unsupported(format!("`{name}` without argument {}", index + 1)))?;
        let tokens = match kind {
            "" => code.owned(),
            "&" => code.borrow(),
            "s" => code.as_str(),
            "os" => code.opt_str(),
            _ => return Err(GenError::Syntax(format!("template of `{name}`: `{{{placeholder}}}`"))),
        };
        out.push_str(&tokens.to_string());
    }
    out.push_str(rest);
    Ok(out)
}
