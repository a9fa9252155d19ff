//! Calls of the standard library's natives in generated Rust: each native
//! is a call of its typed implementation in `integ_runtime::natives`,
//! written as a template.
//!
//! In: a call of a native (IR) inside a function being generated. Out: its
//! [`Code`]. Entry point: [`call`]; [`supported`] says which natives have a
//! template, and [`UNSUPPORTED`] lists those that have none, with the reason.
//!
//! A template is Rust text with placeholders for the arguments, by position:
//!
//! | placeholder | what it becomes                                          |
//! |-------------|----------------------------------------------------------|
//! | `{0}`       | the argument's value (copied, cloned or moved)           |
//! | `{&0}`      | a reference to it (`&T`)                                 |
//! | `{s0}`      | a `&str` of a `String` argument                          |
//! | `{os0}`     | an `Option<&str>` of a `String?` argument                |
//! | `{o&0}`     | an `Option<&T>` of a `T?` argument                       |
//! | `{sl0}`     | a slice (`&[T]`) of a list or map argument               |
//! | `{w0}`      | the `integ_runtime::wire` format of the argument's type  |
//! | `{f1}`      | a closure for a function argument                        |
//! | `{rt}`      | the runtime crate's path                                 |
//!
//! A template ending in `?` is fallible. The closure's parameters are
//! references (`|x: &T|`) unless the native's entry says they are values.
//! An argument for `{os0}` or `{o&0}` that is not optional is passed as
//! `Some(..)` of a reference, never copied into an optional first.
//!
//! A few natives have a second template for what their type parameter `T`
//! is bound to ([`Subject`]): `float(j)` of a `Json` reads the number inside,
//! `string(xs)` of a list writes its JSON.
//!
//! Types are worked out as the checker does: the native's declared
//! signature is instantiated by matching its parameter types against the
//! arguments' types, lambdas' parameters take the instantiated types, and a
//! lambda's body type binds the rest. Where the declared result is `T?` and
//! `T` is itself optional, the typed function's `Option<Option<_>>` is
//! flattened, as the adapters' `unwrap_or_default()` flattens it.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::quote;

use super::GenError;
use super::expr::{Body, Code, Form, unify};
use crate::check::types::Ty;
use crate::ir::{Callee, Expr, Literal};

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

/// What a generic native's first type parameter (`T`) is bound to, as far as
/// it picks the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subject {
    /// Any other type, or not known yet.
    Plain,
    /// `Json`, which the checker lets stand for `Numeric` and `Comparable`
    /// types: its number is read at run time, as the adapters read it.
    Json,
    /// A list, map or record, optional or not: no text form but its JSON.
    Data,
    /// The type of a bare `none`, which has no Rust type.
    None,
}

impl Subject {
    fn of(ty: Option<&Ty>) -> Subject {
        match ty.map(Ty::unwrap_optional) {
            Some(Ty::Json) => Subject::Json,
            Some(Ty::List(_) | Ty::Map(_) | Ty::Record(_)) => Subject::Data,
            Some(Ty::None) => Subject::None,
            _ => Subject::Plain,
        }
    }
}

/// Natives that generated Rust cannot call, with the reason.
pub(crate) const UNSUPPORTED: &[(&str, &str)] = &[];

fn template(name: &str, subject: Subject) -> Option<Template> {
    Some(match (name, subject) {
        // Strings.
        ("char_count", _) => refs("{rt}::natives::strings::char_count({s0})"),
        ("nonblank", _) => refs("{rt}::natives::strings::nonblank({os0})"),
        ("trim", _) => refs("{rt}::natives::strings::trim({s0})"),
        ("trim_start", _) => refs("{rt}::natives::strings::trim_start({s0})"),
        ("trim_end", _) => refs("{rt}::natives::strings::trim_end({s0})"),
        ("lower", _) => refs("{rt}::natives::strings::lower({s0})"),
        ("upper", _) => refs("{rt}::natives::strings::upper({s0})"),
        ("title_case", _) => refs("{rt}::natives::strings::title_case({s0})"),
        ("ascii_fold", _) => refs("{rt}::natives::strings::ascii_fold({s0})"),
        ("slugify", _) => refs("{rt}::natives::strings::slugify({s0})"),
        ("collapse_whitespace", _) => refs("{rt}::natives::strings::collapse_whitespace({s0})"),
        ("contains_text", _) => refs("{rt}::natives::strings::contains_text({s0}, {s1})"),
        ("starts_with", _) => refs("{rt}::natives::strings::starts_with({s0}, {s1})"),
        ("ends_with", _) => refs("{rt}::natives::strings::ends_with({s0}, {s1})"),
        ("replace", _) => refs("{rt}::natives::strings::replace({s0}, {s1}, {s2})"),
        ("remove_prefix", _) => refs("{rt}::natives::strings::remove_prefix({s0}, {s1})"),
        ("split", _) => refs("{rt}::natives::strings::split({s0}, {s1})"),
        ("substring", _) => refs("{rt}::natives::strings::substring({s0}, {1}, {2})"),
        ("truncate", _) => refs("{rt}::natives::strings::truncate({s0}, {1}, {s2})"),
        ("pad_left", _) => refs("{rt}::natives::strings::pad_left({s0}, {1}, {s2})?"),
        ("pad_right", _) => refs("{rt}::natives::strings::pad_right({s0}, {1}, {s2})?"),
        ("matches", _) => refs("{rt}::natives::strings::matches({s0}, {s1})?"),
        ("regex_find", _) => refs("{rt}::natives::strings::regex_find({s0}, {s1})?"),
        ("regex_replace", _) => refs("{rt}::natives::strings::regex_replace({s0}, {s1}, {s2})?"),
        ("digits", _) => refs("{rt}::natives::strings::digits({s0})"),
        ("is_email", _) => refs("{rt}::natives::strings::is_email({s0})"),
        ("email_domain", _) => refs("{rt}::natives::strings::email_domain({s0})"),
        ("to_e164", _) => refs("{rt}::natives::strings::to_e164({s0}, {s1})"),
        ("escape_markdown", _) => refs("{rt}::natives::strings::escape_markdown({s0})"),
        ("format_decimal", _) => refs("{rt}::natives::strings::format_decimal({0}, {1}, {s2}, {s3})"),
        ("string", Subject::None) => refs("String::new()"),
        ("string", Subject::Data) => refs("{rt}::natives::strings::string_as_json::<{w0}>({&0})?"),
        ("string", _) => refs("{rt}::generated::text({&0})"),
        ("join", _) => refs("{rt}::natives::strings::join({sl0}, {s1})"),
        // Numbers.
        ("decimal", _) => refs("{rt}::natives::numbers::decimal({0})"),
        ("decimal_from_float", _) => refs("{rt}::natives::numbers::decimal_from_float({0})?"),
        ("float", Subject::Json) => refs("{rt}::natives::numbers::float_of_json({&0})?"),
        ("float", _) => refs("{rt}::natives::numbers::float({0})"),
        ("int", Subject::Json) => refs("{rt}::natives::numbers::int_of_json({&0})?"),
        ("int", _) => refs("{rt}::natives::numbers::int({0})?"),
        ("parse_int", _) => refs("{rt}::natives::numbers::parse_int({s0})"),
        ("parse_decimal", _) => refs("{rt}::natives::numbers::parse_decimal({s0})"),
        ("parse_float", _) => refs("{rt}::natives::numbers::parse_float({s0})"),
        ("parse_bool", _) => refs("{rt}::natives::numbers::parse_bool({s0})"),
        ("round", _) => refs("{rt}::natives::numbers::round({0}, {1})?"),
        ("round_half_even", _) => refs("{rt}::natives::numbers::round_half_even({0}, {1})?"),
        ("floor", _) => refs("{rt}::natives::numbers::floor({0})"),
        ("ceil", _) => refs("{rt}::natives::numbers::ceil({0})"),
        ("abs", Subject::Json) => refs("{rt}::natives::numbers::abs_of_json({&0})?"),
        ("abs", _) => refs("{rt}::natives::numbers::abs({0})?"),
        ("min", _) => refs("{rt}::natives::numbers::min({0}, {1})"),
        ("max", _) => refs("{rt}::natives::numbers::max({0}, {1})"),
        ("from_minor_units", _) => refs("{rt}::natives::numbers::from_minor_units({0}, {1})?"),
        ("to_minor_units", _) => refs("{rt}::natives::numbers::to_minor_units({0}, {1})?"),
        ("currency_exponent", _) => refs("{rt}::natives::numbers::currency_exponent({s0})"),
        // Dates, times and durations; the clock is the system's.
        ("now", _) => refs("{rt}::natives::dates::now(&{rt}::natives::SystemClock)"),
        ("today", _) => refs("{rt}::natives::dates::today(&{rt}::natives::SystemClock)"),
        ("datetime", _) => refs("{rt}::natives::dates::datetime({0}, {1}, {2}, {3}, {4}, {5})"),
        ("date", _) => refs("{rt}::natives::dates::date({0}, {1}, {2})"),
        ("parse_datetime", _) => refs("{rt}::natives::dates::parse_datetime({s0}, {os1})?"),
        ("parse_datetime_in", _) => refs("{rt}::natives::dates::parse_datetime_in({s0}, {s1}, {s2})?"),
        ("parse_date", _) => refs("{rt}::natives::dates::parse_date({s0}, {os1})?"),
        ("format_datetime", _) => refs("{rt}::natives::dates::format_datetime({0}, {s1})?"),
        ("format_date", _) => refs("{rt}::natives::dates::format_date({0}, {s1})?"),
        ("from_unix", _) => refs("{rt}::natives::dates::from_unix({0})?"),
        ("from_unix_ms", _) => refs("{rt}::natives::dates::from_unix_ms({0})?"),
        ("to_unix", _) => refs("{rt}::natives::dates::to_unix({0})"),
        ("to_unix_ms", _) => refs("{rt}::natives::dates::to_unix_ms({0})?"),
        ("in_zone", _) => refs("{rt}::natives::dates::in_zone({0}, {s1})"),
        ("to_date", _) => refs("{rt}::natives::dates::to_date({0})"),
        ("local_date", _) => refs("{rt}::natives::dates::local_date({0}, {s1})"),
        ("start_of_day", _) => refs("{rt}::natives::dates::start_of_day({0})?"),
        ("year", _) => refs("{rt}::natives::dates::year({0})"),
        ("month", _) => refs("{rt}::natives::dates::month({0})"),
        ("day", _) => refs("{rt}::natives::dates::day({0})"),
        ("weekday", _) => refs("{rt}::natives::dates::weekday({0})"),
        ("add_months", _) => refs("{rt}::natives::dates::add_months({0}, {1})?"),
        ("days_between", _) => refs("{rt}::natives::dates::days_between({0}, {1})"),
        ("seconds", _) => refs("{rt}::natives::dates::seconds({0})?"),
        ("total_seconds", _) => refs("{rt}::natives::dates::total_seconds({0})"),
        // Lists.
        ("len", _) => refs("{rt}::natives::lists::len({sl0})"),
        ("is_empty", _) => refs("{rt}::natives::lists::is_empty({sl0})"),
        ("first", _) => refs("{rt}::natives::lists::first({sl0})"),
        ("last", _) => refs("{rt}::natives::lists::last({sl0})"),
        ("at", _) => refs("{rt}::natives::lists::at({sl0}, {1})"),
        ("map", _) => refs("{rt}::natives::lists::map({sl0}, {f1})?"),
        ("filter", _) => refs("{rt}::natives::lists::filter({sl0}, {f1})?"),
        ("find", _) => refs("{rt}::natives::lists::find({sl0}, {f1})?"),
        ("any", _) => refs("{rt}::natives::lists::any({sl0}, {f1})?"),
        ("all", _) => refs("{rt}::natives::lists::all({sl0}, {f1})?"),
        ("count", _) => refs("{rt}::natives::lists::count({sl0}, {f1})?"),
        ("flat_map", _) => refs("{rt}::natives::lists::flat_map({sl0}, {f1})?"),
        ("filter_map", _) => refs("{rt}::natives::lists::filter_map({sl0}, {f1})?"),
        ("compact", _) => refs("{rt}::natives::lists::compact({sl0})"),
        ("fold", _) => Template { text: "{rt}::natives::lists::fold({sl0}, {1}, {f2})?", params: Params::ValueThenRef },
        ("sort", _) => refs("{rt}::natives::lists::sort({sl0})"),
        ("sort_by", _) => refs("{rt}::natives::lists::sort_by({sl0}, {f1}, {2})?"),
        ("reverse", _) => refs("{rt}::natives::lists::reverse({sl0})"),
        ("unique", _) => refs("{rt}::natives::lists::unique({sl0})"),
        ("unique_by", _) => refs("{rt}::natives::lists::unique_by({sl0}, {f1})?"),
        ("contains", _) => refs("{rt}::natives::lists::contains({sl0}, {&1})"),
        ("take", _) => refs("{rt}::natives::lists::take({sl0}, {1})"),
        ("drop", _) => refs("{rt}::natives::lists::drop({sl0}, {1})"),
        ("chunk", _) => refs("{rt}::natives::lists::chunk({sl0}, {1})"),
        ("group_by", _) => refs("{rt}::natives::lists::group_by({sl0}, {f1})?"),
        ("index_by", _) => refs("{rt}::natives::lists::index_by({sl0}, {f1})?"),
        ("sum", Subject::Json) => refs("{rt}::natives::numbers::sum_of_json({sl0})?"),
        ("sum", _) => refs("{rt}::natives::lists::sum({sl0})?"),
        ("min_of", _) => refs("{rt}::natives::lists::min_of({sl0})"),
        ("max_of", _) => refs("{rt}::natives::lists::max_of({sl0})"),
        // Maps.
        ("keys", _) => refs("{rt}::natives::maps::keys({sl0})"),
        ("values", _) => refs("{rt}::natives::maps::values({sl0})"),
        ("get", _) => refs("{rt}::natives::maps::get({sl0}, {s1}).cloned()"),
        ("has_key", _) => refs("{rt}::natives::maps::has_key({sl0}, {s1})"),
        // Optionals.
        ("map_some", _) => values("{rt}::natives::options::map_some({0}, {f1})?"),
        ("and_then", _) => values("{rt}::natives::options::and_then({0}, {f1})?"),
        ("required", _) => refs("{rt}::natives::options::required({0}, {s1})?"),
        // Json.
        ("json_field", _) => refs("{rt}::natives::json::json_field({o&0}, {s1}).cloned()"),
        ("json_path", _) => refs("{rt}::natives::json::json_path({o&0}, {s1}).cloned()"),
        ("json_string", _) => refs("{rt}::natives::json::json_string({o&0}).map(String::from)"),
        ("json_int", _) => refs("{rt}::natives::json::json_int({o&0})"),
        ("json_decimal", _) => refs("{rt}::natives::json::json_decimal({o&0})"),
        ("json_bool", _) => refs("{rt}::natives::json::json_bool({o&0})"),
        ("json_list", _) => refs("{rt}::natives::json::json_list({o&0}).map(<[_]>::to_vec)"),
        ("json_type", _) => refs("String::from({rt}::natives::json::json_type({&0}))"),
        // std/hash.
        ("sha256", _) => refs("{rt}::natives::hash::sha256({s0})"),
        ("sha512", _) => refs("{rt}::natives::hash::sha512({s0})"),
        ("sha1", _) => refs("{rt}::natives::hash::sha1({s0})"),
        ("md5", _) => refs("{rt}::natives::hash::md5({s0})"),
        ("md5_base64", _) => refs("{rt}::natives::hash::md5_base64({s0})"),
        ("hmac_sha256", _) => refs("{rt}::natives::hash::hmac_sha256({s0}, {s1})"),
        ("hmac_sha256_base64", _) => refs("{rt}::natives::hash::hmac_sha256_base64({s0}, {s1})"),
        ("hmac_sha512", _) => refs("{rt}::natives::hash::hmac_sha512({s0}, {s1})"),
        ("hmac_sha512_base64", _) => refs("{rt}::natives::hash::hmac_sha512_base64({s0}, {s1})"),
        ("hmac_sha1", _) => refs("{rt}::natives::hash::hmac_sha1({s0}, {s1})"),
        ("hmac_sha256_hex_key", _) => refs("{rt}::natives::hash::hmac_sha256_hex_key({s0}, {s1})"),
        ("crc32", _) => refs("{rt}::natives::hash::crc32({s0})"),
        ("constant_time_eq", _) => refs("{rt}::natives::hash::constant_time_eq({s0}, {s1})"),
        // std/encoding.
        ("base64_encode", _) => refs("{rt}::natives::encoding::base64_encode({s0})"),
        ("base64_decode", _) => refs("{rt}::natives::encoding::base64_decode({s0})"),
        ("base64url_encode", _) => refs("{rt}::natives::encoding::base64url_encode({s0})"),
        ("base64url_decode", _) => refs("{rt}::natives::encoding::base64url_decode({s0})"),
        ("hex_encode", _) => refs("{rt}::natives::encoding::hex_encode({s0})"),
        ("hex_decode", _) => refs("{rt}::natives::encoding::hex_decode({s0})"),
        ("url_encode", _) => refs("{rt}::natives::encoding::url_encode({s0})"),
        ("url_decode", _) => refs("{rt}::natives::encoding::url_decode({s0})"),
        ("form_url_encode", _) => refs("{rt}::natives::encoding::form_url_encode({s0})"),
        ("form_url_decode", _) => refs("{rt}::natives::encoding::form_url_decode({s0})"),
        ("json_encode", Subject::None) => refs("String::from(\"null\")"),
        ("json_encode", _) => refs("{rt}::natives::encoding::json_encode_as::<{w0}>({&0})?"),
        ("json_parse", _) => refs("{rt}::natives::encoding::json_parse({s0})"),
        ("html_escape", _) => refs("{rt}::natives::encoding::html_escape({s0})"),
        // std/uuid; random bits from the operating system.
        ("uuid_v4", _) => refs("{rt}::natives::uuid::uuid_v4(&{rt}::natives::SystemClock)"),
        ("uuid_v7", _) => refs("{rt}::natives::uuid::uuid_v7(&{rt}::natives::SystemClock)"),
        ("uuid_v5", _) => refs("{rt}::natives::uuid::uuid_v5({s0}, {s1})"),
        ("is_uuid", _) => refs("{rt}::natives::uuid::is_uuid({s0})"),
        ("parse_uuid", _) => refs("{rt}::natives::uuid::parse_uuid({s0})"),
        _ => return None,
    })
}

/// Whether the Rust back end can call native `name`.
pub(crate) fn supported(name: &str) -> bool {
    template(name, Subject::Plain).is_some()
}

/// Why a call of native `name` cannot be generated.
fn not_supported(body: &Body<'_, '_>, name: &str) -> GenError {
    let reason = UNSUPPORTED.iter().find(|(unsupported, _)| *unsupported == name).map(|(_, reason)| *reason);
    body.unsupported(match reason {
        Some(reason) => format!("the standard-library function `{name}` ({reason})"),
        None => format!("the standard-library function `{name}`"),
    })
}

/// The kind of placeholder (`""`, `"&"`, `"s"`, `"os"`, ...) each argument
/// position takes in `text`.
fn placeholder_kinds(text: &str) -> HashMap<usize, &str> {
    let mut kinds = HashMap::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let placeholder = &after[..end];
        rest = &after[end + 1..];
        if let Some(digit) = placeholder.find(|c: char| c.is_ascii_digit()) {
            let (kind, index) = placeholder.split_at(digit);
            if let Ok(index) = index.parse() {
                kinds.insert(index, kind);
            }
        }
    }
    kinds
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
    if !supported(name) {
        return Err(not_supported(body, name));
    }
    // `len(filter(xs, f))` counts without copying the kept elements.
    if name == "len"
        && let [Expr::Call { callee: Callee::Native(inner), args: inner_args }] = args
        && inner == "filter"
    {
        return call(body, "count", inner_args, expected);
    }
    // `sum(map(xs, f))` adds as it goes, without the intermediate list.
    if name == "sum"
        && let [inner_call @ Expr::Call { callee: Callee::Native(inner), .. }] = args
        && inner == "map"
    {
        let mapped = body.expr(inner_call, None)?;
        if let (Ty::List(item), Some(tried)) = (&mapped.ty, &mapped.tried)
            && matches!(**item, Ty::Int | Ty::Float | Ty::Decimal)
        {
            let text = tried.to_string();
            if let Some(rest) = text.strip_prefix(":: integ_runtime :: natives :: lists :: map (") {
                let fused: TokenStream = format!(":: integ_runtime :: natives :: lists :: sum_by ({rest}")
                    .parse()
                    .map_err(|error| GenError::Syntax(format!("sum: {error}")))?;
                return Ok(Code {
                    tokens: quote!(#fused?),
                    form: Form::Owned,
                    ty: (**item).clone(),
                    atomic: true,
                    tried: Some(fused),
                });
            }
        }
    }
    // Trimming borrows: `s.trim()` is a `&str` into `s`, copied only where an
    // owned String is wanted (`lower(trim(s))` allocates once).
    if let ("trim" | "trim_start" | "trim_end", [arg]) = (name, args) {
        let code = body.expr(arg, Some(&Ty::String))?;
        let code = body.coerce(code, &Ty::String)?;
        if code.ty == Ty::String {
            let text = code.as_str();
            let method = quote::format_ident!("{}", name);
            return Ok(Code {
                tokens: quote!(#text.#method()),
                form: Form::Str,
                ty: Ty::String,
                atomic: true,
                tried: None,
            });
        }
    }
    let Some(plain) = template(name, Subject::Plain) else {
        return Err(not_supported(body, name));
    };
    let Some(native) = body.generator.program.natives.get(name).cloned() else {
        return Err(body.unsupported(format!("the undeclared native `{name}`")));
    };
    let kinds = placeholder_kinds(plain.text);
    let mut bindings: HashMap<u32, Ty> = HashMap::new();
    // The type the call's place expects binds the result's variables, except
    // a bare `T?`: `Int?` is what `first` gives for `[Int]` and for `[Int?]`.
    let bare_optional = matches!(&native.result, Ty::Optional(inner) if matches!(**inner, Ty::Var(_)));
    if let Some(expected) = expected
        && !expected.has_vars()
        && !expected.contains_error()
        && !bare_optional
    {
        bind(&native.result, expected, &mut bindings);
    }
    // Values first, so that the types of function arguments' parameters are
    // known; each is made to fit its parameter once all of them bound theirs
    // (`min(3, 1.5)` is a Decimal `min`: its 3 becomes a Decimal).
    let mut codes: Vec<Option<Code>> = vec![None; native.params.len()];
    for (position, (_, param_ty)) in native.params.iter().enumerate() {
        if matches!(param_ty, Ty::Fn(..)) {
            continue;
        }
        let arg = match args.get(position) {
            Some(arg) => arg.clone(),
            None => match native.defaults.get(position).and_then(Option::as_ref) {
                Some(default) => default.clone(),
                None => Expr::Literal(Literal::None),
            },
        };
        let lending = matches!(kinds.get(&position), Some(&("os" | "o&")));
        if lending && matches!(arg, Expr::Literal(Literal::None)) {
            // `None`, not `None.as_deref()`, whose type would not be inferred.
            codes[position] = Some(Code::owned_value(quote!(None), Ty::None, true));
            continue;
        }
        let wanted = substitute(param_ty, &bindings);
        let code = body.expr(&arg, if wanted.has_vars() { None } else { Some(&wanted) })?;
        bind(param_ty, &code.ty, &mut bindings);
        codes[position] = Some(code);
    }
    for (position, (_, param_ty)) in native.params.iter().enumerate() {
        let Some(code) = codes[position].take() else { continue };
        let wanted = substitute(param_ty, &bindings);
        // An `Option<&_>` placeholder takes a present value as it is.
        let lending = matches!(kinds.get(&position), Some(&("os" | "o&")));
        let lent = lending && (code.ty == Ty::None || matches!(&wanted, Ty::Optional(inner) if **inner == code.ty));
        let code = if wanted.has_vars() || lent { code } else { body.coerce(code, &wanted)? };
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
            .map(|index| match plain.params {
                Params::Refs => Form::Ref,
                Params::Values => Form::Place,
                Params::ValueThenRef if index == 0 => Form::Place,
                Params::ValueThenRef => Form::Ref,
            })
            .collect();
        closures[position] = Some(closure(body, arg, &param_tys, &forms, fn_result, &mut bindings)?);
    }
    let result = substitute(&native.result, &bindings);
    let result = if result.has_vars() { expected.cloned().unwrap_or(Ty::Error) } else { result };
    // `T?` of an optional `T`: the typed function gives `Option<Option<_>>`.
    let nested = matches!(&native.result, Ty::Optional(inner)
        if matches!(**inner, Ty::Var(var) if bindings.get(&var).is_some_and(Ty::is_optional)));
    // `T` as bound, else (a bare `none` binds nothing) the first argument's type.
    let first_ty = codes.first().and_then(Option::as_ref).map(|code| &code.ty);
    let Some(template) = template(name, Subject::of(bindings.get(&0).or(first_ty))) else {
        return Err(not_supported(body, name));
    };
    let text = expand(body, name, template.text, &codes, &closures)?;
    let fallible = text.trim_end().ends_with('?');
    let inner_text = text.trim_end().trim_end_matches('?');
    let inner: TokenStream = inner_text.parse().map_err(|error| GenError::Syntax(format!("{name}: {error}")))?;
    Ok(match (fallible, nested) {
        (false, false) => Code::owned_value(inner, result, true),
        (false, true) => Code::owned_value(quote!(#inner.flatten()), result, true),
        (true, false) => {
            Code { tokens: quote!(#inner?), form: Form::Owned, ty: result, atomic: true, tried: Some(inner) }
        }
        (true, true) => Code {
            tokens: quote!(#inner?.flatten()),
            form: Form::Owned,
            ty: result,
            atomic: true,
            tried: Some(quote!(#inner.map(Option::flatten))),
        },
    })
}

/// A closure for a function argument: a lambda, or a function passed by
/// name. Its result binds the type variables of `result` (the declared
/// result of the function parameter) and is made to fit it.
fn closure(
    body: &mut Body<'_, '_>,
    arg: &Expr,
    param_tys: &[Ty],
    forms: &[Form],
    result: &Ty,
    bindings: &mut HashMap<u32, Ty>,
) -> Result<TokenStream, GenError> {
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
            let wanted = substitute(result, bindings);
            let code = body.expr(&lambda.body, if wanted.has_vars() { None } else { Some(&wanted) })?;
            bind(result, &code.ty, bindings);
            let wanted = substitute(result, bindings);
            let code = if wanted.has_vars() { code } else { body.coerce(code, &wanted)? };
            let value = match &code.tried {
                Some(inner) => inner.clone(),
                None => {
                    let owned = code.owned();
                    quote!(Ok(#owned))
                }
            };
            Ok(quote!(|#(#idents),*| #value))
        }
        Expr::FunctionValue(Callee::User(index)) => {
            let Some(function) = body.generator.program.functions.get(*index as usize) else {
                return Err(body.unsupported("an unknown function"));
            };
            let name = super::ident(&function.name);
            let function_result = function.result.clone();
            let idents: Vec<_> = (0..param_tys.len()).map(|position| quote::format_ident!("arg{}", position)).collect();
            let args: Vec<TokenStream> = idents
                .iter()
                .zip(forms)
                .map(|(ident, form)| if *form == Form::Ref { quote!(#ident) } else { quote!(&#ident) })
                .collect();
            bind(result, &function_result, bindings);
            let wanted = substitute(result, bindings);
            // A function of a plain result where an optional one is wanted (`and_then`).
            if wanted.is_optional() && !function_result.is_optional() {
                return Ok(quote!(|#(#idents),*| #name(#(#args),*).map(Some)));
            }
            if forms.iter().all(|form| *form == Form::Ref) {
                // It takes the references as they come.
                return Ok(quote!(#name));
            }
            Ok(quote!(|#(#idents),*| #name(#(#args),*)))
        }
        _ => Err(body.unsupported("a function argument that is not a lambda or a function's name")),
    }
}

/// An `Option<&T>` of a `T?` (or a present `T`).
fn opt_ref(code: &Code) -> TokenStream {
    match &code.ty {
        Ty::None => quote!(None),
        Ty::Optional(_) => {
            let value = code.paren();
            quote!(#value.as_ref())
        }
        _ => {
            let value = code.borrow();
            quote!(Some(#value))
        }
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
            "o&" => opt_ref(code),
            "sl" => code.slice(),
            "w" => body.format_marker(&code.ty)?,
            _ => return Err(GenError::Syntax(format!("template of `{name}`: `{{{placeholder}}}`"))),
        };
        out.push_str(&tokens.to_string());
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every native the standard library declares, by name.
    fn declared() -> Vec<String> {
        let analysis =
            crate::check_source("t.integ", "import \"std/hash\"\nimport \"std/encoding\"\nimport \"std/uuid\"\n");
        let program = crate::ir::lower::lower(&analysis.program, &analysis.checked);
        let mut names: Vec<String> = program.natives.keys().cloned().collect();
        names.sort();
        names
    }

    #[test]
    fn every_native_has_a_template_or_a_reason() {
        let names = declared();
        // The prelude's 119 natives and the three modules' 13, 13 and 5.
        assert_eq!(names.len(), 150, "{names:?}");
        let missing: Vec<&String> = names
            .iter()
            .filter(|name| !supported(name) && !UNSUPPORTED.iter().any(|(unsupported, _)| unsupported == name))
            .collect();
        assert!(missing.is_empty(), "natives without a template and not listed in UNSUPPORTED: {missing:?}");
        for (name, reason) in UNSUPPORTED {
            assert!(!supported(name), "`{name}` has a template but is listed as unsupported ({reason})");
            assert!(
                names.iter().any(|declared| declared == name),
                "`{name}` is listed as unsupported but not declared"
            );
        }
    }

    #[test]
    fn variants_take_their_function_arguments_alike() {
        for name in declared() {
            let Some(plain) = template(&name, Subject::Plain) else { continue };
            for subject in [Subject::Json, Subject::Data, Subject::None] {
                if let Some(variant) = template(&name, subject) {
                    assert!(variant.params == plain.params, "`{name}` for {subject:?}");
                }
            }
        }
    }

    #[test]
    fn placeholders() {
        let kinds = placeholder_kinds("{rt}::f({s0}, {o&1}, {sl2}, {f3}, {w4})?");
        assert_eq!(kinds.get(&0), Some(&"s"));
        assert_eq!(kinds.get(&1), Some(&"o&"));
        assert_eq!(kinds.get(&2), Some(&"sl"));
        assert_eq!(kinds.get(&3), Some(&"f"));
        assert_eq!(kinds.get(&4), Some(&"w"));
        assert_eq!(kinds.len(), 5);
    }
}
