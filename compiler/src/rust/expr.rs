//! Functions and maps as Rust: expressions with their types worked out
//! again from the IR (locals, fields, natives' signatures), so that each
//! value is moved, copied, cloned or borrowed as its Rust type needs.

use std::collections::HashMap;

use proc_macro2::{Ident, Literal as Lit, Span, TokenStream};
use quote::quote;

use super::{GenError, Generator, natives, rt};
use crate::check::types::{EnumId, RecordId, Ty};
use crate::ir::{self, Callee, Expr, Literal, Part, Pattern};
use crate::syntax::ast::{BinaryOp, UnaryOp};

/// How a piece of generated code holds its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Form {
    /// A value of the type, computed (a temporary).
    Owned,
    /// A place of the type (a local bound by value, a field of one).
    Place,
    /// A reference to a value of the type (a parameter, a lambda's parameter).
    Ref,
    /// A `&str` of a String value: a literal (`"text"`), or a borrow that
    /// lives as long as the expression (`s.trim()`, `s.as_deref().unwrap_or("")`).
    Str,
}

/// Generated code for an expression, with its integ type.
#[derive(Clone, Debug)]
pub(super) struct Code {
    pub tokens: TokenStream,
    pub form: Form,
    pub ty: Ty,
    /// Whether the tokens can take a postfix operator without parentheses.
    pub atomic: bool,
    /// For `f(x)?`: `f(x)`, so that a tail position can return it as is.
    pub tried: Option<TokenStream>,
}

impl Code {
    pub(super) fn owned_value(tokens: TokenStream, ty: Ty, atomic: bool) -> Code {
        Code { tokens, form: Form::Owned, ty, atomic, tried: None }
    }

    fn tried(inner: TokenStream, ty: Ty) -> Code {
        Code { tokens: quote!(#inner?), form: Form::Owned, ty, atomic: true, tried: Some(inner) }
    }

    pub(super) fn paren(&self) -> TokenStream {
        let tokens = &self.tokens;
        if self.atomic { tokens.clone() } else { quote!((#tokens)) }
    }

    /// The value, by value: copied, cloned or moved.
    pub(super) fn owned(&self) -> TokenStream {
        let tokens = self.paren();
        match self.form {
            Form::Owned => self.tokens.clone(),
            Form::Str => quote!(String::from(#tokens)),
            Form::Place if is_copy(&self.ty) => tokens,
            Form::Ref if is_copy(&self.ty) => quote!(*#tokens),
            // A list parameter is a slice (`&[T]`).
            Form::Ref if matches!(self.ty, Ty::List(_)) => quote!(#tokens.to_vec()),
            Form::Place | Form::Ref => quote!(#tokens.clone()),
        }
    }

    /// A reference to the value (`&T`).
    pub(super) fn borrow(&self) -> TokenStream {
        let tokens = self.paren();
        match self.form {
            Form::Owned | Form::Place => quote!(&#tokens),
            Form::Ref => self.tokens.clone(),
            Form::Str => quote!(&String::from(#tokens)),
        }
    }

    /// A `&[T]` of a list: a list literal as an array (`&[a, b]`, not
    /// `&vec![a, b]`), else a reference to the `Vec`.
    pub(super) fn slice(&self) -> TokenStream {
        use proc_macro2::{Delimiter, TokenTree};
        if self.form == Form::Owned {
            let trees: Vec<TokenTree> = self.tokens.clone().into_iter().collect();
            if let [TokenTree::Ident(vec), TokenTree::Punct(bang), TokenTree::Group(elements)] = trees.as_slice()
                && vec == "vec"
                && bang.as_char() == '!'
                && elements.delimiter() == Delimiter::Bracket
            {
                return quote!(&#elements);
            }
        }
        self.borrow()
    }

    /// A `&str` of a String.
    pub(super) fn as_str(&self) -> TokenStream {
        let tokens = self.paren();
        match self.form {
            Form::Str => self.tokens.clone(),
            Form::Owned | Form::Place | Form::Ref => quote!(#tokens.as_str()),
        }
    }

    /// An `Option<&str>` of a `String?`.
    pub(super) fn opt_str(&self) -> TokenStream {
        let tokens = self.paren();
        match (&self.ty, self.form) {
            (Ty::None, _) => quote!(None),
            _ if self.tokens.to_string() == "None" => quote!(None),
            (Ty::Optional(_), _) => quote!(#tokens.as_deref()),
            (_, _) => {
                let text = self.as_str();
                quote!(Some(#text))
            }
        }
    }
}

/// Types whose Rust values are `Copy`.
pub(super) fn is_copy(ty: &Ty) -> bool {
    match ty {
        Ty::Int | Ty::Float | Ty::Decimal | Ty::Bool | Ty::DateTime | Ty::Date | Ty::Duration | Ty::Enum(_) => true,
        Ty::Optional(inner) => is_copy(inner),
        Ty::None | Ty::Unit => true,
        _ => false,
    }
}

#[derive(Clone, Debug)]
struct Slot {
    ident: Ident,
    ty: Ty,
    form: Form,
}

/// One function's body being generated.
pub(super) struct Body<'g, 'a> {
    pub(super) generator: &'g Generator<'a>,
    item: String,
    names: Vec<String>,
    slots: HashMap<u32, Slot>,
    taken: HashMap<String, u32>,
    /// Slots read exactly once, by the record a map builds: moved, not cloned.
    movable: std::collections::HashSet<u32>,
}

pub(super) fn function(generator: &Generator<'_>, function: &ir::Function) -> Result<TokenStream, GenError> {
    let mut body = Body {
        generator,
        item: function.name.clone(),
        names: function.locals.clone(),
        slots: HashMap::new(),
        taken: HashMap::new(),
        movable: std::collections::HashSet::new(),
    };
    let name = super::ident(&function.name);
    let mut params = Vec::new();
    for (position, (param, ty)) in function.params.iter().enumerate() {
        let rust = match ty {
            Ty::List(item) => {
                let item = body.rust_type(item)?;
                quote!([#item])
            }
            other => body.rust_type(other)?,
        };
        let ident = body.bind(position as u32, param, ty.clone(), Form::Ref);
        if super::reads_local(generator.program, &[&function.body], position as u32) {
            params.push(quote!(#ident: &#rust));
        } else {
            // A parameter the body never reads (the checker warns about it).
            let unused = quote::format_ident!("_{}", param);
            params.push(quote!(#unused: &#rust));
        }
    }
    let result_ty = body.rust_type(&function.result)?;
    let (statements, result) = match &function.body {
        Expr::Block { lets, result } => (body.lets(lets, result)?, &**result),
        other => (Vec::new(), other),
    };
    let value = body.expr(result, Some(&function.result))?;
    let value = body.coerce(value, &function.result)?;
    let tail = match &value.tried {
        Some(inner) => inner.clone(),
        None => {
            let owned = value.owned();
            quote!(Ok(#owned))
        }
    };
    let doc = generator.doc(&function.name);
    let rt = rt();
    // Parameters are `&T` (`&String` too, so that a function passed by name
    // fits the natives' `Fn(&T)` arguments), lists `&[T]`.
    let allow = if function.params.len() > 7 {
        quote!(#[allow(clippy::ptr_arg, clippy::too_many_arguments)])
    } else if function.params.iter().any(|(_, ty)| matches!(ty, Ty::String)) {
        quote!(#[allow(clippy::ptr_arg)])
    } else {
        quote!()
    };
    Ok(quote! {
        #doc
        #allow
        pub fn #name(#(#params),*) -> Result<#result_ty, #rt::EvalError> {
            #(#statements)*
            #tail
        }
    })
}

impl<'g, 'a> Body<'g, 'a> {
    /// An empty body for `item`, whose slots are named by `names` (an
    /// endpoint's expressions, which run in the endpoint's frame).
    pub(super) fn new(generator: &'g Generator<'a>, item: String, names: Vec<String>) -> Body<'g, 'a> {
        Body {
            generator,
            item,
            names,
            slots: HashMap::new(),
            taken: HashMap::new(),
            movable: std::collections::HashSet::new(),
        }
    }
}

impl Body<'_, '_> {
    pub(super) fn unsupported(&self, message: impl Into<String>) -> GenError {
        GenError::Unsupported { item: self.item.clone(), message: message.into() }
    }

    pub(super) fn rust_type(&self, ty: &Ty) -> Result<TokenStream, GenError> {
        self.generator.rust_type(ty).map_err(|message| self.unsupported(message))
    }

    pub(super) fn display(&self, ty: &Ty) -> String {
        self.generator.program.types.display(ty).to_string()
    }

    /// Marks `slot` as read for the last time from here on: a read moves
    /// its value instead of cloning it.
    pub(super) fn mark_movable(&mut self, slot: u32) {
        self.movable.insert(slot);
    }

    /// Gives slot `slot` a Rust name (its integ name when free) and a type.
    pub(super) fn bind(&mut self, slot: u32, wanted: &str, ty: Ty, form: Form) -> Ident {
        let wanted = if wanted.is_empty() {
            self.names.get(slot as usize).filter(|name| !name.is_empty()).cloned().unwrap_or_else(|| "value".to_owned())
        } else {
            wanted.to_owned()
        };
        let count = self.taken.entry(wanted.clone()).or_insert(0);
        *count += 1;
        let text = if *count == 1 { wanted } else { format!("{wanted}_{count}") };
        let ident =
            super::names::rust_ident(&text).unwrap_or_else(|| Ident::new(&format!("v{slot}"), Span::call_site()));
        self.slots.insert(slot, Slot { ident: ident.clone(), ty, form });
        ident
    }

    pub(super) fn slot_name(&self, slot: u32) -> String {
        self.names.get(slot as usize).cloned().unwrap_or_default()
    }

    /// The code of `expr`; `expected` is the type its place wants, when known.
    pub(super) fn expr(&mut self, expr: &Expr, expected: Option<&Ty>) -> Result<Code, GenError> {
        let rt = rt();
        Ok(match expr {
            Expr::Literal(literal) => self.literal(literal, expected)?,
            Expr::Local(slot) => {
                let Some(local) = self.slots.get(slot) else {
                    return Err(self.unsupported(format!("a local (slot {slot}) read before it is bound")));
                };
                let ident = &local.ident;
                let form = if self.movable.contains(slot) { Form::Owned } else { local.form };
                Code { tokens: quote!(#ident), form, ty: local.ty.clone(), atomic: true, tried: None }
            }
            Expr::Secret(_) => return Err(self.unsupported("secrets outside auth and headers")),
            Expr::Env { .. } => return Err(self.unsupported("`env(...)` in a function")),
            Expr::Variant { ty, variant } => {
                let name = self.generator.names.enumeration(*ty);
                let variant = self.generator.names.variant(*ty, *variant as usize);
                Code::owned_value(quote!(#name::#variant), Ty::Enum(EnumId(*ty)), true)
            }
            Expr::Field { base, record, index } => {
                let base = self.expr(base, None)?;
                let base = self.coerce(base, &Ty::Record(RecordId(*record)))?;
                let field = self.generator.names.field(*record, *index as usize);
                let ty = self
                    .generator
                    .program
                    .types
                    .record(RecordId(*record))
                    .and_then(|definition| definition.fields.get(*index as usize))
                    .map(|field| field.ty.clone())
                    .unwrap_or(Ty::Error);
                let tokens = base.paren();
                let form = if base.form == Form::Owned { Form::Owned } else { Form::Place };
                Code { tokens: quote!(#tokens.#field), form, ty, atomic: true, tried: None }
            }
            Expr::JsonField { base, name } => {
                let base = self.expr(base, None)?;
                if base.ty != Ty::Json {
                    return Err(self.unsupported(format!("a member of a `{}`", self.display(&base.ty))));
                }
                let base = base.borrow();
                Code::owned_value(quote!(#rt::generated::json_member(#base, #name)), Ty::Json, true)
            }
            Expr::Index { base, index } => {
                let base = self.expr(base, None)?;
                let index = self.expr(index, None)?;
                let (base_tokens, index_owned) = (base.borrow(), index.owned());
                match (&base.ty, &index.ty) {
                    (Ty::List(item), Ty::Int) => Code::owned_value(
                        quote!(#rt::natives::lists::at(#base_tokens, #index_owned)),
                        (**item).clone().optional(),
                        true,
                    ),
                    (Ty::Map(item), Ty::String) => {
                        let key = index.as_str();
                        Code::owned_value(
                            quote!(#rt::natives::maps::get(#base_tokens, #key).cloned()),
                            (**item).clone().optional(),
                            true,
                        )
                    }
                    (Ty::Json, Ty::Int) => {
                        Code::owned_value(quote!(#rt::generated::json_at(#base_tokens, #index_owned)), Ty::Json, true)
                    }
                    (Ty::Json, Ty::String) => {
                        let key = index.as_str();
                        Code::owned_value(quote!(#rt::generated::json_member(#base_tokens, #key)), Ty::Json, true)
                    }
                    (base_ty, index_ty) => {
                        return Err(self.unsupported(format!(
                            "indexing a `{}` with a `{}`",
                            self.display(base_ty),
                            self.display(index_ty)
                        )));
                    }
                }
            }
            Expr::Chain { base, slot, then } => {
                let base = self.expr(base, None)?;
                let (scrutinee, inner, form) = match (&base.ty, base.form) {
                    (Ty::Optional(inner), Form::Owned) => (base.tokens.clone(), (**inner).clone(), Form::Place),
                    (Ty::Optional(inner), _) => (base.borrow(), (**inner).clone(), Form::Ref),
                    (Ty::Json, _) => {
                        let json = base.borrow();
                        (quote!(#rt::generated::json_present(#json)), Ty::Json, Form::Ref)
                    }
                    (other, _) => {
                        return Err(self.unsupported(format!("`?.` on a `{}`", self.display(other))));
                    }
                };
                let name = self.slot_name(*slot);
                let ident = self.bind(*slot, &name, inner, form);
                let then = self.expr(then, None)?;
                // A Json `null` is `none` to `??`, `== none` and `?.` (as in the
                // interpreter): the chain gives `None` rather than `Some(null)`.
                let json = then.ty == Ty::Json;
                let optional = then.ty.is_optional() || json;
                let ty = if then.ty.is_optional() { then.ty.clone() } else { then.ty.clone().optional() };
                let owned = then.owned();
                let owned = if json { quote!(#rt::generated::json_non_null(#owned)) } else { owned };
                if has_try(&owned) || base.ty == Ty::Json {
                    // `?` cannot leave a closure: a `match` it is.
                    let value = if optional { owned } else { quote!(Some(#owned)) };
                    Code::owned_value(quote!(match #scrutinee { Some(#ident) => #value, None => None }), ty, false)
                } else {
                    let receiver = match base.form {
                        Form::Owned => base.paren(),
                        _ => {
                            let base = base.paren();
                            quote!(#base.as_ref())
                        }
                    };
                    let method = if optional { quote!(and_then) } else { quote!(map) };
                    Code::owned_value(quote!(#receiver.#method(|#ident| #owned)), ty, true)
                }
            }
            Expr::Call { callee: Callee::User(index), args } => self.call_user(*index, args)?,
            Expr::Call { callee: Callee::Native(name), args } => natives::call(self, name, args, expected)?,
            Expr::FunctionValue(_) | Expr::Lambda(_) => {
                return Err(self.unsupported("a function value outside a call of a standard-library function"));
            }
            Expr::Endpoint { .. } => return Err(self.unsupported("endpoint calls outside flows")),
            Expr::Record { ty, fields } => {
                let name = self.generator.names.record(*ty);
                let definition = self.generator.program.types.record(RecordId(*ty)).cloned();
                let mut values = Vec::new();
                for (position, field) in fields.iter().enumerate() {
                    let field_ty = definition
                        .as_ref()
                        .and_then(|definition| definition.fields.get(position))
                        .map(|field| field.ty.clone())
                        .unwrap_or(Ty::Error);
                    let ident = self.generator.names.field(*ty, position);
                    let code = self.expr(field, Some(&field_ty))?;
                    let code = self.coerce(code, &field_ty)?;
                    let owned = code.owned();
                    if ident == owned.to_string() {
                        values.push(quote!(#ident));
                    } else {
                        values.push(quote!(#ident: #owned));
                    }
                }
                Code::owned_value(quote!(#name { #(#values),* }), Ty::Record(RecordId(*ty)), true)
            }
            Expr::List(items) => {
                let mut element = match expected {
                    Some(Ty::List(inner)) => Some((**inner).clone()),
                    _ => None,
                };
                let mut codes = Vec::new();
                for item in items {
                    let code = self.expr(item, element.as_ref())?;
                    element = Some(match element {
                        Some(known) => unify(&known, &code.ty),
                        None => code.ty.clone(),
                    });
                    codes.push(code);
                }
                let element = element.unwrap_or(Ty::Error);
                let mut values = Vec::new();
                for code in codes {
                    values.push(self.coerce(code, &element)?.owned());
                }
                let tokens = list_tokens(&values);
                Code::owned_value(tokens, Ty::List(Box::new(element)), true)
            }
            Expr::Map(entries) => {
                let mut element = match expected {
                    Some(Ty::Map(inner)) => Some((**inner).clone()),
                    _ => None,
                };
                let mut codes = Vec::new();
                for (key, value) in entries {
                    let code = self.expr(value, element.as_ref())?;
                    element = Some(match element {
                        Some(known) => unify(&known, &code.ty),
                        None => code.ty.clone(),
                    });
                    codes.push((key, code));
                }
                let element = element.unwrap_or(Ty::Error);
                let mut values = Vec::new();
                for (key, code) in codes {
                    let value = self.coerce(code, &element)?.owned();
                    values.push(quote!((String::from(#key), #value)));
                }
                let tokens = list_tokens(&values);
                Code::owned_value(tokens, Ty::Map(Box::new(element)), true)
            }
            Expr::Interpolate(parts) => self.interpolate(parts)?,
            Expr::Unary { op, operand } => {
                if *op == UnaryOp::Not {
                    // `!!b` is `b`; `!(a == b)` is `a != b`, `!(a < b)` is `a >= b`
                    // (a NaN does not order at all): clippy's `nonminimal_bool`.
                    if let Expr::Unary { op: UnaryOp::Not, operand: inner } = &**operand {
                        return self.expr(inner, expected);
                    }
                    if let Some(flipped) = negated(operand) {
                        return self.expr(&flipped, expected);
                    }
                }
                let operand = self.expr(operand, None)?;
                let value = operand.owned();
                let value = if operand.form == Form::Owned && !operand.atomic { quote!((#value)) } else { value };
                match (op, &operand.ty) {
                    (UnaryOp::Not, _) => Code::owned_value(quote!(!#value), Ty::Bool, false),
                    (UnaryOp::Neg, Ty::Int) => Code::tried(quote!(#rt::ops::neg_int(#value)), Ty::Int),
                    (UnaryOp::Neg, Ty::Duration) => Code::tried(quote!(#rt::ops::neg_duration(#value)), Ty::Duration),
                    (UnaryOp::Neg, ty @ (Ty::Float | Ty::Decimal)) => {
                        Code::owned_value(quote!(-#value), ty.clone(), false)
                    }
                    (_, ty) => return Err(self.unsupported(format!("`-` on a `{}`", self.display(ty)))),
                }
            }
            Expr::Binary { op, lhs, rhs } => {
                let lhs = self.expr(lhs, None)?;
                let rhs = self.expr(rhs, Some(&lhs.ty.clone()))?;
                let (lhs, rhs) = if matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
                    (lhs, rhs)
                } else {
                    // An optional operand of arithmetic or ordering was narrowed by a check.
                    let lhs_target = lhs.ty.unwrap_optional().clone();
                    let rhs_target = rhs.ty.unwrap_optional().clone();
                    (self.coerce(lhs, &lhs_target)?, self.coerce(rhs, &rhs_target)?)
                };
                self.binary(*op, lhs, rhs)?
            }
            Expr::And(lhs, rhs) | Expr::Or(lhs, rhs) => {
                let lhs = self.expr(lhs, Some(&Ty::Bool))?;
                let rhs = self.expr(rhs, Some(&Ty::Bool))?;
                let (lhs, rhs) = (operand(&lhs), operand(&rhs));
                let tokens = if matches!(expr, Expr::And(..)) { quote!(#lhs && #rhs) } else { quote!(#lhs || #rhs) };
                Code::owned_value(tokens, Ty::Bool, false)
            }
            Expr::Coalesce(lhs, rhs) => {
                let lhs = self.expr(lhs, None)?;
                let inner = lhs.ty.unwrap_optional().clone();
                let rhs = self.expr(rhs, Some(&inner))?;
                self.coalesce(lhs, rhs)?
            }
            Expr::If { condition, then, otherwise } => {
                let condition = self.expr(condition, Some(&Ty::Bool))?;
                let then = self.expr(then, expected)?;
                let otherwise = self.expr(otherwise, expected.or(Some(&then.ty.clone())))?;
                let ty = match expected {
                    Some(expected) if !expected.has_vars() && !expected.contains_error() => expected.clone(),
                    _ => unify(&then.ty, &otherwise.ty),
                };
                let then = self.coerce(then, &ty)?.owned();
                let otherwise = self.coerce(otherwise, &ty)?.owned();
                let condition = condition.owned();
                if then.to_string() == otherwise.to_string() {
                    // Both branches alike (clippy's `if_same_then_else`); the
                    // condition still runs when it can fail.
                    let tokens = if has_try(&condition) { quote!({ let _ = #condition; #then }) } else { then };
                    return Ok(Code::owned_value(tokens, ty, false));
                }
                Code::owned_value(quote!(if #condition { #then } else { #otherwise }), ty, false)
            }
            Expr::Match { scrutinee, arms } => self.match_expr(scrutinee, arms, expected)?,
            Expr::Block { lets, result } => self.block(lets, result, expected)?,
            Expr::ToJson { value, ty } => {
                let code = self.expr(value, Some(ty))?;
                if code.ty == Ty::Json {
                    return Ok(code);
                }
                let format = self.format_marker(&code.ty)?;
                let value = code.borrow();
                Code::tried(quote!(#rt::generated::to_json::<#format>(#value)), Ty::Json)
            }
            Expr::FromJson { value, ty, root } => {
                let code = self.expr(value, None)?;
                if code.ty != Ty::Json {
                    return self.coerce(code, ty);
                }
                let format = self.format_marker(ty)?;
                let value = code.borrow();
                Code::tried(quote!(#rt::generated::from_json::<#format>(#value, #root)), ty.clone())
            }
            Expr::Fixture { .. } => return Err(self.unsupported("`fixture(...)` outside tests")),
            Expr::Invalid => return Err(self.unsupported("an expression that did not check")),
        })
    }

    /// The `integ_runtime::wire` format of a value of type `ty`.
    pub(super) fn format_marker(&self, ty: &Ty) -> Result<TokenStream, GenError> {
        self.generator.marker_tokens(ty).map_err(|message| self.unsupported(message))
    }

    fn literal(&self, literal: &Literal, expected: Option<&Ty>) -> Result<Code, GenError> {
        let rt = rt();
        Ok(match literal {
            Literal::None => {
                let _ = expected;
                Code::owned_value(quote!(None), Ty::None, true)
            }
            Literal::Bool(value) => Code::owned_value(quote!(#value), Ty::Bool, true),
            Literal::Int(value) => int_literal(*value),
            Literal::Float(value) => {
                let tokens = if value.is_nan() {
                    quote!(f64::NAN)
                } else if value.is_infinite() {
                    if *value > 0.0 { quote!(f64::INFINITY) } else { quote!(f64::NEG_INFINITY) }
                } else {
                    let literal = Lit::f64_suffixed(value.abs());
                    if value.is_sign_negative() { quote!(-#literal) } else { quote!(#literal) }
                };
                Code::owned_value(tokens, Ty::Float, !value.is_sign_negative())
            }
            Literal::Decimal { text, mantissa, scale } => {
                if *scale > 28 || mantissa.unsigned_abs() >= 1u128 << 96 {
                    return Err(self.unsupported(format!("the decimal literal `{text}` (beyond 28 digits)")));
                }
                let mantissa = Lit::i128_unsuffixed(*mantissa);
                Code::owned_value(quote!(#rt::Decimal::from_i128_with_scale(#mantissa, #scale)), Ty::Decimal, true)
            }
            Literal::String(text) => {
                Code { tokens: quote!(#text), form: Form::Str, ty: Ty::String, atomic: true, tried: None }
            }
            Literal::Duration { millis } => {
                let millis = Lit::i64_unsuffixed(*millis);
                Code::owned_value(quote!(#rt::value::Duration { millis: #millis }), Ty::Duration, true)
            }
        })
    }

    fn call_user(&mut self, index: u32, args: &[Expr]) -> Result<Code, GenError> {
        let Some(function) = self.generator.program.functions.get(index as usize) else {
            return Err(self.unsupported("a call of an unknown function"));
        };
        let name = super::ident(&function.name);
        let mut values = Vec::new();
        for (position, (_, ty)) in function.params.iter().enumerate() {
            let code = match args.get(position) {
                Some(arg) => self.expr(arg, Some(ty))?,
                None => match function.defaults.get(position).and_then(Option::as_ref) {
                    Some(default) => self.expr(default, Some(ty))?,
                    None => {
                        return Err(self.unsupported(format!(
                            "a call of `{}` without argument {}",
                            function.name,
                            position + 1
                        )));
                    }
                },
            };
            let code = self.coerce(code, ty)?;
            values.push(if matches!(ty, Ty::List(_)) { code.slice() } else { code.borrow() });
        }
        Ok(Code::tried(quote!(#name(#(#values),*)), function.result.clone()))
    }

    fn interpolate(&mut self, parts: &[Part]) -> Result<Code, GenError> {
        let rt = rt();
        let mut pushes = Vec::new();
        for part in parts {
            match part {
                Part::Text(text) => match single_char(text) {
                    Some(c) => pushes.push(quote!(text.push(#c);)),
                    None => pushes.push(quote!(text.push_str(#text);)),
                },
                Part::Value(value, _) => {
                    let code = self.expr(value, None)?;
                    if code.ty == Ty::String {
                        let text = code.as_str();
                        pushes.push(quote!(text.push_str(#text);));
                    } else {
                        let value = code.borrow();
                        pushes.push(quote!(#rt::wire::Text::push_text(#value, &mut text);));
                    }
                }
            }
        }
        if let [Part::Text(text)] = parts {
            return Ok(Code { tokens: quote!(#text), form: Form::Str, ty: Ty::String, atomic: true, tried: None });
        }
        Ok(Code::owned_value(quote!({ let mut text = String::new(); #(#pushes)* text }), Ty::String, true))
    }

    fn binary(&mut self, op: BinaryOp, lhs: Code, rhs: Code) -> Result<Code, GenError> {
        use BinaryOp::*;
        let rt = rt();
        match op {
            Eq | Ne => {
                let tokens = self.equality(&lhs, &rhs, op == Ne)?;
                return Ok(Code::owned_value(tokens, Ty::Bool, false));
            }
            Lt | Le | Gt | Ge if matches!((&lhs.ty, &rhs.ty), (Ty::Float, _) | (_, Ty::Float)) => {
                // A NaN does not order: an error, as in the interpreter.
                let (lhs, rhs) = self.numeric_pair(lhs, rhs)?;
                let (a, b) = (lhs.owned(), rhs.owned());
                let test = match op {
                    Lt => quote!(is_lt),
                    Le => quote!(is_le),
                    Gt => quote!(is_gt),
                    _ => quote!(is_ge),
                };
                return Ok(Code::tried(
                    quote!(#rt::ops::float_order(#a, #b).map(::std::cmp::Ordering::#test)),
                    Ty::Bool,
                ));
            }
            Lt | Le | Gt | Ge => {
                let (lhs, rhs) = self.numeric_pair(lhs, rhs)?;
                let (a, b) = match (&lhs.ty, is_copy(&lhs.ty)) {
                    (_, true) => (operand(&lhs), operand(&rhs)),
                    (Ty::String, false) => (lhs.as_str(), rhs.as_str()),
                    (ty, false) => return Err(self.unsupported(format!("ordering `{}` values", self.display(ty)))),
                };
                let tokens = match op {
                    Lt => quote!(#a < #b),
                    Le => quote!(#a <= #b),
                    Gt => quote!(#a > #b),
                    _ => quote!(#a >= #b),
                };
                return Ok(Code::owned_value(tokens, Ty::Bool, false));
            }
            _ => {}
        }
        let arith = match op {
            Add => quote!(#rt::ops::Op::Add),
            Sub => quote!(#rt::ops::Op::Sub),
            Mul => quote!(#rt::ops::Op::Mul),
            Div => quote!(#rt::ops::Op::Div),
            Rem => quote!(#rt::ops::Op::Rem),
            _ => return Err(self.unsupported(format!("the operator `{}`", op.as_str()))),
        };
        let (lt, rtt) = (lhs.ty.clone(), rhs.ty.clone());
        Ok(match (&lt, &rtt) {
            (Ty::String, Ty::String) if op == Add => {
                let (a, b) = (lhs.as_str(), rhs.as_str());
                Code::owned_value(quote!(#rt::ops::concat(#a, #b)), Ty::String, true)
            }
            (Ty::List(_), Ty::List(_)) if op == Add => {
                let (a, b) = (lhs.slice(), rhs.slice());
                Code::owned_value(quote!(#rt::ops::concat_lists(#a, #b)), lt.clone(), true)
            }
            (Ty::DateTime, Ty::Duration) => {
                let (a, b) = (lhs.owned(), rhs.owned());
                Code::tried(quote!(#rt::ops::datetime_shift(#a, #arith, #b)), Ty::DateTime)
            }
            (Ty::DateTime, Ty::DateTime) => {
                let (a, b) = (lhs.owned(), rhs.owned());
                Code::tried(quote!(#rt::ops::datetime_between(#a, #b)), Ty::Duration)
            }
            (Ty::Date, Ty::Duration) => {
                let (a, b) = (lhs.owned(), rhs.owned());
                Code::tried(quote!(#rt::ops::date_shift(#a, #arith, #b)), Ty::Date)
            }
            (Ty::Duration, Ty::Duration) => {
                let (a, b) = (lhs.owned(), rhs.owned());
                Code::tried(quote!(#rt::ops::duration(#arith, #a, #b)), Ty::Duration)
            }
            (Ty::Duration, Ty::Int) => {
                let (a, b) = (lhs.owned(), rhs.owned());
                Code::tried(quote!(#rt::ops::duration_scale(#arith, #a, #b)), Ty::Duration)
            }
            _ => {
                let (lhs, rhs) = self.numeric_pair(lhs, rhs)?;
                let (a, b) = (lhs.owned(), rhs.owned());
                match lhs.ty {
                    Ty::Int => Code::tried(quote!(#rt::ops::int(#arith, #a, #b)), Ty::Int),
                    Ty::Decimal => Code::tried(quote!(#rt::ops::decimal(#arith, #a, #b)), Ty::Decimal),
                    Ty::Float => Code::tried(quote!(#rt::ops::float(#arith, #a, #b)), Ty::Float),
                    _ => {
                        return Err(self.unsupported(format!(
                            "`{}` on a `{}` and a `{}`",
                            op.as_str(),
                            self.display(&lt),
                            self.display(&rtt)
                        )));
                    }
                }
            }
        })
    }

    /// Brings an Int operand to the other's Decimal or Float.
    fn numeric_pair(&mut self, lhs: Code, rhs: Code) -> Result<(Code, Code), GenError> {
        Ok(match (&lhs.ty, &rhs.ty) {
            (Ty::Int, Ty::Decimal | Ty::Float) => {
                let target = rhs.ty.clone();
                (self.coerce(lhs, &target)?, rhs)
            }
            (Ty::Decimal | Ty::Float, Ty::Int) => {
                let target = lhs.ty.clone();
                let rhs = self.coerce(rhs, &target)?;
                (lhs, rhs)
            }
            _ => (lhs, rhs),
        })
    }

    /// `lhs == rhs` as integ defines equality (`!=` when `negate`).
    fn equality(&mut self, lhs: &Code, rhs: &Code, negate: bool) -> Result<TokenStream, GenError> {
        let rt = rt();
        let eq = if negate { quote!(!=) } else { quote!(==) };
        let not = if negate { quote!(!) } else { quote!() };
        Ok(match (&lhs.ty, &rhs.ty) {
            (Ty::None, Ty::None) => {
                let value = !negate;
                quote!(#value)
            }
            (Ty::Optional(_), Ty::None) | (Ty::None, Ty::Optional(_)) => {
                let value = if lhs.ty == Ty::None { rhs.paren() } else { lhs.paren() };
                if negate { quote!(#value.is_some()) } else { quote!(#value.is_none()) }
            }
            (Ty::Json, Ty::None) | (Ty::None, Ty::Json) => {
                let value = if lhs.ty == Ty::None { rhs.paren() } else { lhs.paren() };
                quote!(#not #value.is_null())
            }
            (_, Ty::None) | (Ty::None, _) => {
                let value = negate;
                quote!(#value)
            }
            (Ty::Optional(a), Ty::Optional(b)) if a == b => {
                let (x, y) = (lhs.borrow(), rhs.borrow());
                quote!(#x #eq #y)
            }
            (Ty::Optional(inner), other) | (other, Ty::Optional(inner)) if **inner == *other => {
                let (optional, plain) = if lhs.ty.is_optional() { (lhs, rhs) } else { (rhs, lhs) };
                let optional = optional.paren();
                let plain = plain.borrow();
                quote!(#optional.as_ref() #eq Some(#plain))
            }
            (Ty::Json, other) | (other, Ty::Json) if *other != Ty::Json => {
                let (json, value) = if lhs.ty == Ty::Json { (lhs, rhs) } else { (rhs, lhs) };
                let json = json.borrow();
                let format = self.format_marker(&value.ty)?;
                let value = value.borrow();
                quote!(#not #rt::generated::json_equals::<#format>(#json, #value))
            }
            (Ty::Int, Ty::Decimal | Ty::Float) | (Ty::Decimal | Ty::Float, Ty::Int) => {
                let (a, b) = self.numeric_pair(lhs.clone(), rhs.clone())?;
                let (a, b) = (operand(&a), operand(&b));
                quote!(#a #eq #b)
            }
            (Ty::String, Ty::String) if is_empty_literal(lhs) || is_empty_literal(rhs) => {
                let value = if is_empty_literal(lhs) { rhs.paren() } else { lhs.paren() };
                quote!(#not #value.is_empty())
            }
            (Ty::String, Ty::String) => {
                let (a, b) = (lhs.as_str(), rhs.as_str());
                quote!(#a #eq #b)
            }
            _ if is_copy(&lhs.ty) => {
                let (a, b) = (operand(lhs), operand(rhs));
                quote!(#a #eq #b)
            }
            _ => {
                let (a, b) = (lhs.borrow(), rhs.borrow());
                quote!(#a #eq #b)
            }
        })
    }

    fn coalesce(&mut self, lhs: Code, rhs: Code) -> Result<Code, GenError> {
        let rt = rt();
        if lhs.ty == Ty::Json {
            let rhs = self.coerce(rhs, &Ty::Json)?.owned();
            let value = lhs.owned();
            return Ok(Code::owned_value(
                quote!(match #rt::generated::json_non_null(#value) { Some(value) => value, None => #rhs }),
                Ty::Json,
                false,
            ));
        }
        let Ty::Optional(inner) = lhs.ty.clone() else {
            return Ok(lhs);
        };
        if rhs.ty == Ty::None {
            return Ok(lhs);
        }
        // `s ?? "text"` on a String place borrows: `s.as_deref().unwrap_or("text")`
        // is a `&str`, copied only where an owned String is wanted.
        if *inner == Ty::String && rhs.form == Form::Str && lhs.form != Form::Owned {
            let value = lhs.paren();
            let fallback = &rhs.tokens;
            return Ok(Code {
                tokens: quote!(#value.as_deref().unwrap_or(#fallback)),
                form: Form::Str,
                ty: Ty::String,
                atomic: true,
                tried: None,
            });
        }
        let ty = if rhs.ty.is_optional() { lhs.ty.clone() } else { unify(&inner, &rhs.ty) };
        let lhs = self.coerce(lhs, &if ty.is_optional() { ty.clone() } else { ty.clone().optional() })?;
        let rhs = self.coerce(rhs, &ty)?;
        let value = lhs.owned();
        let value = if lhs.atomic || lhs.form != Form::Owned { value } else { quote!((#value)) };
        let fallback = rhs.owned();
        let tokens = if has_try(&fallback) {
            // `?` cannot leave a closure.
            let present = if ty.is_optional() { quote!(Some(value)) } else { quote!(value) };
            quote!(match #value { Some(value) => #present, None => #fallback })
        } else if ty.is_optional() {
            if is_cheap(&rhs) { quote!(#value.or(#fallback)) } else { quote!(#value.or_else(|| #fallback)) }
        } else if is_default(&fallback) {
            quote!(#value.unwrap_or_default())
        } else if is_cheap(&rhs) {
            quote!(#value.unwrap_or(#fallback))
        } else {
            quote!(#value.unwrap_or_else(|| #fallback))
        };
        Ok(Code::owned_value(tokens, ty, true))
    }

    fn match_expr(&mut self, scrutinee: &Expr, arms: &[ir::Arm], expected: Option<&Ty>) -> Result<Code, GenError> {
        let rt = rt();
        let scrutinee = self.expr(scrutinee, None)?;
        let base = scrutinee.ty.unwrap_optional().clone();
        let optional = scrutinee.ty.is_optional();
        let head = match (&base, optional) {
            (Ty::String, false) => scrutinee.as_str(),
            (Ty::String, true) => scrutinee.opt_str(),
            (_, _) if is_copy(&scrutinee.ty) => scrutinee.owned(),
            (other, _) => return Err(self.unsupported(format!("`match` on a `{}`", self.display(other)))),
        };
        let mut values = Vec::new();
        for arm in arms {
            values.push(self.expr(&arm.value, expected)?);
        }
        let ty = match expected {
            Some(expected) if !expected.has_vars() && !expected.contains_error() => expected.clone(),
            _ => values
                .iter()
                .skip(1)
                .fold(values.first().map(|code| code.ty.clone()).unwrap_or(Ty::Unit), |ty, code| unify(&ty, &code.ty)),
        };
        let mut covered = Vec::new();
        let mut exhaustive = false;
        let mut rust_arms = Vec::new();
        // Patterns already matched by an earlier arm: the interpreter takes
        // the first arm that matches, so a later copy (which the checker
        // warns about) is left out rather than tripping `unreachable_patterns`.
        let mut seen: Vec<String> = Vec::new();
        for (arm, value) in arms.iter().zip(values) {
            let mut patterns = Vec::new();
            for pattern in &arm.patterns {
                if exhaustive {
                    break;
                }
                let tokens = match pattern {
                    Pattern::Wildcard => {
                        exhaustive = true;
                        quote!(_)
                    }
                    Pattern::None => {
                        covered.push(None);
                        quote!(None)
                    }
                    Pattern::Literal(literal) => {
                        let literal = match literal {
                            Literal::Int(value) => int_literal(*value).tokens,
                            Literal::Bool(value) => quote!(#value),
                            Literal::String(text) => quote!(#text),
                            Literal::None => quote!(None),
                            _ => return Err(self.unsupported("a `match` on a Float, Decimal or Duration literal")),
                        };
                        if optional && !matches!(literal.to_string().as_str(), "None") {
                            quote!(Some(#literal))
                        } else {
                            literal
                        }
                    }
                    Pattern::Variant { ty, variant } => {
                        covered.push(Some(*variant));
                        let name = self.generator.names.enumeration(*ty);
                        let variant = self.generator.names.variant(*ty, *variant as usize);
                        if optional { quote!(Some(#name::#variant)) } else { quote!(#name::#variant) }
                    }
                };
                let text = tokens.to_string();
                if !seen.contains(&text) {
                    seen.push(text);
                    patterns.push(tokens);
                }
            }
            if patterns.is_empty() {
                continue;
            }
            let value = self.coerce(value, &ty)?.owned();
            if rust_arms.is_empty() && exhaustive {
                // `match x { _ => value }` is the value (clippy's `match_single_binding`);
                // the scrutinee still runs when it can fail.
                let tokens = quote!({ let _ = #head; #value });
                return Ok(Code::owned_value(tokens, ty, false));
            }
            rust_arms.push(quote!(#(#patterns)|* => #value,));
        }
        if let Ty::Enum(id) = &base {
            let count = self.generator.program.types.enumeration(*id).map_or(0, |definition| definition.variants.len());
            let all_variants = (0..count as u32).all(|variant| covered.contains(&Some(variant)));
            if all_variants && (!optional || covered.contains(&None)) {
                exhaustive = true;
            }
        }
        if matches!(base, Ty::Bool) {
            let all = if optional { &["Some (true)", "Some (false)", "None"][..] } else { &["true", "false"][..] };
            exhaustive = exhaustive || all.iter().all(|pattern| seen.iter().any(|seen| seen == pattern));
        }
        let fallback = if exhaustive {
            quote!()
        } else {
            let message = "no `match` arm for this value";
            quote!(_ => return Err(#rt::EvalError::Other(String::from(#message))),)
        };
        Ok(Code::owned_value(quote!(match #head { #(#rust_arms)* #fallback }), ty, false))
    }

    fn block(&mut self, lets: &[(u32, Expr)], result: &Expr, expected: Option<&Ty>) -> Result<Code, GenError> {
        let statements = self.lets(lets, result)?;
        let result = self.expr(result, expected)?;
        let value = match &result.tried {
            Some(_) => result.tokens.clone(),
            None => result.owned(),
        };
        Ok(Code::owned_value(quote!({ #(#statements)* #value }), result.ty, true))
    }

    /// The `let` statements of a block whose value is `result`.
    fn lets(&mut self, lets: &[(u32, Expr)], result: &Expr) -> Result<Vec<TokenStream>, GenError> {
        // A map's field values are lets whose slots the result record reads:
        // they take the field's type and name.
        let mut field_of: HashMap<u32, (Ty, String)> = HashMap::new();
        if let Expr::Record { ty, fields } = result
            && let Some(definition) = self.generator.program.types.record(RecordId(*ty))
        {
            for (position, field) in fields.iter().enumerate() {
                if let (Expr::Local(slot), Some(def)) = (field, definition.fields.get(position)) {
                    field_of.insert(*slot, (def.ty.clone(), def.name.clone()));
                }
            }
        }
        let mut statements = Vec::new();
        for (slot, value) in lets {
            let (wanted_ty, name) = match field_of.get(slot) {
                Some((ty, name)) if self.slot_name(*slot).is_empty() => (Some(ty.clone()), name.clone()),
                Some((ty, _)) => (Some(ty.clone()), self.slot_name(*slot)),
                None => (None, self.slot_name(*slot)),
            };
            let code = self.expr(value, wanted_ty.as_ref())?;
            let code = match &wanted_ty {
                Some(ty) => self.coerce(code, ty)?,
                None => code,
            };
            let ty = code.ty.clone();
            let value = code.owned();
            let annotation = if ty.has_vars() || ty.contains_error() || ty == Ty::None {
                quote!()
            } else {
                let rust = self.rust_type(&ty)?;
                quote!(: #rust)
            };
            let ident = self.bind(*slot, &name, ty, Form::Place);
            if field_of.contains_key(slot) {
                self.movable.insert(*slot);
            }
            statements.push(quote!(let #ident #annotation = #value;));
        }
        Ok(statements)
    }

    /// `code` made fit for a place of type `target`: wrapped in `Some`, an
    /// Int widened, a narrowed optional unwrapped.
    pub(super) fn coerce(&mut self, code: Code, target: &Ty) -> Result<Code, GenError> {
        let rt = rt();
        if code.ty == *target
            || target.has_vars()
            || target.contains_error()
            || matches!(target, Ty::Json) && code.ty == Ty::Json
        {
            return Ok(code);
        }
        Ok(match (&code.ty, target) {
            (Ty::None, Ty::Optional(_)) => Code { ty: target.clone(), ..code },
            // `none` and a Json `null` are one value to the interpreter.
            (Ty::None, Ty::Json) => Code::owned_value(quote!(#rt::Json::Null), Ty::Json, true),
            (Ty::Optional(inner), Ty::Json) if **inner == Ty::Json => {
                let value = code.owned();
                let value = if code.atomic { value } else { quote!((#value)) };
                Code::owned_value(quote!(#value.unwrap_or_default()), Ty::Json, true)
            }
            // A typed value where Json is wanted (`j?.a ?? "default"`): its JSON.
            (_, Ty::Json) if !code.ty.has_vars() && !code.ty.contains_error() => {
                let format = self.format_marker(&code.ty)?;
                let value = code.borrow();
                Code::tried(quote!(#rt::generated::to_json::<#format>(#value)), Ty::Json)
            }
            (Ty::Optional(inner), target)
                if !target.is_optional() && **inner == *target
                    || matches!(target, Ty::Record(_)) && code.ty.is_optional() =>
            {
                // Narrowed by a check (`if x != none { x.name }`): never none here.
                let inner_ty = (**inner).clone();
                let value = code.borrow();
                let narrowed = Code {
                    tokens: quote!(#rt::generated::narrowed(#value)?),
                    form: Form::Ref,
                    ty: inner_ty,
                    atomic: true,
                    tried: None,
                };
                return self.coerce(narrowed, target);
            }
            (actual, Ty::Optional(inner)) if !actual.is_optional() => {
                let inner_code = self.coerce(code, inner)?;
                let value = inner_code.owned();
                Code::owned_value(quote!(Some(#value)), target.clone(), true)
            }
            (Ty::Optional(from), Ty::Optional(to)) if **from == Ty::Int && matches!(**to, Ty::Decimal | Ty::Float) => {
                let value = code.owned();
                let value = if code.atomic { value } else { quote!((#value)) };
                let widen = if **to == Ty::Decimal { quote!(#rt::Decimal::from) } else { quote!(|value| value as f64) };
                Code::owned_value(quote!(#value.map(#widen)), target.clone(), true)
            }
            (Ty::List(from), Ty::List(to)) if **from == Ty::Int && matches!(**to, Ty::Decimal | Ty::Float) => {
                let value = code.paren();
                let widen = if **to == Ty::Decimal {
                    quote!(|value| #rt::Decimal::from(*value))
                } else {
                    quote!(|value| *value as f64)
                };
                Code::owned_value(quote!(#value.iter().map(#widen).collect::<Vec<_>>()), target.clone(), true)
            }
            (Ty::Int, Ty::Decimal) => {
                let value = code.owned();
                Code::owned_value(quote!(#rt::Decimal::from(#value)), Ty::Decimal, true)
            }
            (Ty::Int, Ty::Float) if int_literal_value(&code).is_some() => {
                // `7f64`, not `7i64 as f64` (clippy's `unnecessary_cast`).
                let value = int_literal_value(&code).unwrap_or_default() as f64;
                let literal = Lit::f64_suffixed(value.abs());
                let tokens = if value < 0.0 { quote!(-#literal) } else { quote!(#literal) };
                Code::owned_value(tokens, Ty::Float, value >= 0.0)
            }
            (Ty::Int, Ty::Float) => {
                let value = operand(&code);
                Code::owned_value(quote!(#value as f64), Ty::Float, false)
            }
            (Ty::String, Ty::String) | (Ty::Secret, Ty::String) => code,
            _ => code,
        })
    }
}

/// `!(a op b)` as one comparison, for an `op` that has an opposite.
fn negated(expr: &Expr) -> Option<Expr> {
    use BinaryOp::*;
    let Expr::Binary { op, lhs, rhs } = expr else { return None };
    let op = match op {
        Eq => Ne,
        Ne => Eq,
        Lt => Ge,
        Le => Gt,
        Gt => Le,
        Ge => Lt,
        _ => return None,
    };
    Some(Expr::Binary { op, lhs: lhs.clone(), rhs: rhs.clone() })
}

/// A `Vec` of `values`: `vec![...]`, or `Vec::from([...])` when an item
/// holds an `if`, whose `else` prettyplease would print unformatted inside
/// a macro (clippy's `suspicious_else_formatting`).
fn list_tokens(values: &[TokenStream]) -> TokenStream {
    fn has_else(tokens: &TokenStream) -> bool {
        tokens.clone().into_iter().any(|tree| match tree {
            proc_macro2::TokenTree::Ident(ident) => ident == "else",
            proc_macro2::TokenTree::Group(group) => has_else(&group.stream()),
            _ => false,
        })
    }
    if values.is_empty() {
        quote!(Vec::new())
    } else if values.iter().any(has_else) {
        quote!(Vec::from([#(#values),*]))
    } else {
        quote!(vec![#(#values),*])
    }
}

/// Whether generated tokens use the `?` operator (outside string literals).
fn has_try(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Punct(punct) => punct.as_char() == '?',
        proc_macro2::TokenTree::Group(group) => has_try(&group.stream()),
        _ => false,
    })
}

/// The one character of `text`, if it has exactly one.
fn single_char(text: &str) -> Option<char> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// Whether computing `code` costs nothing (a literal or a local that is
/// copied): `unwrap_or` rather than `unwrap_or_else`.
fn is_cheap(code: &Code) -> bool {
    match code.form {
        Form::Owned => {
            let text = code.tokens.to_string();
            code.atomic && !text.contains('(') && !text.contains('!') && !text.contains('{')
                || text == "None"
                || has_no_call(&code.tokens)
        }
        Form::Place | Form::Ref => is_copy(&code.ty),
        Form::Str => false,
    }
}

/// Whether `tokens` call nothing (no function, method or macro, no `?`, no
/// `let`): an `if` or `match` over fields and literals, which clippy's
/// `unnecessary_lazy_evaluations` wants evaluated eagerly.
fn has_no_call(tokens: &TokenStream) -> bool {
    use proc_macro2::{Delimiter, TokenTree};
    let mut previous: Option<TokenTree> = None;
    for tree in tokens.clone() {
        match &tree {
            TokenTree::Punct(punct) if matches!(punct.as_char(), '!' | '?') => return false,
            TokenTree::Ident(ident) if ident == "let" => return false,
            TokenTree::Group(group) => {
                let call = group.delimiter() == Delimiter::Parenthesis
                    && match &previous {
                        Some(TokenTree::Ident(ident)) => ident != "Some" && ident != "match" && ident != "if",
                        Some(TokenTree::Punct(punct)) => punct.as_char() == '>',
                        _ => false,
                    };
                if call || !has_no_call(&group.stream()) {
                    return false;
                }
            }
            _ => {}
        }
        previous = Some(tree);
    }
    true
}

/// Whether `tokens` are the type's default value (`false`, `0`, `""`, an empty list).
fn is_default(tokens: &TokenStream) -> bool {
    matches!(tokens.to_string().as_str(), "false" | "0i64" | "String :: from (\"\")" | "Vec :: new ()" | "None")
}

/// Whether `code` is the literal `""`.
fn is_empty_literal(code: &Code) -> bool {
    code.form == Form::Str && code.tokens.to_string() == "\"\""
}

/// An operand of a Rust operator: the value, in parentheses unless atomic.
fn operand(code: &Code) -> TokenStream {
    let value = code.owned();
    if code.atomic || code.form == Form::Str { value } else { quote!((#value)) }
}

/// The value of `code` when it is an Int literal ([`int_literal`]'s tokens).
fn int_literal_value(code: &Code) -> Option<i64> {
    if code.ty != Ty::Int || code.form != Form::Owned {
        return None;
    }
    let text = code.tokens.to_string().replace(' ', "");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let value: i64 = digits.strip_suffix("i64")?.parse().ok()?;
    Some(if negative { -value } else { value })
}

fn int_literal(value: i64) -> Code {
    if value == i64::MIN {
        return Code::owned_value(quote!(i64::MIN), Ty::Int, true);
    }
    let literal = Lit::i64_suffixed(value.abs());
    if value < 0 {
        Code::owned_value(quote!(-#literal), Ty::Int, false)
    } else {
        Code::owned_value(quote!(#literal), Ty::Int, true)
    }
}

/// The type of a value that is `a` or `b` (branches, list items).
pub(super) fn unify(a: &Ty, b: &Ty) -> Ty {
    match (a, b) {
        _ if a == b => a.clone(),
        (Ty::None, other) | (other, Ty::None) => other.clone().optional(),
        (Ty::Optional(inner), other) | (other, Ty::Optional(inner)) => unify(inner, other).optional(),
        (Ty::Int, Ty::Decimal) | (Ty::Decimal, Ty::Int) => Ty::Decimal,
        (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
        (Ty::Error, other) | (other, Ty::Error) => other.clone(),
        (Ty::List(x), Ty::List(y)) => Ty::List(Box::new(unify(x, y))),
        _ => a.clone(),
    }
}
