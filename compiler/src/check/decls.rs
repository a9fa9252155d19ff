//! Records, enums, functions and maps.
//!
//! Signatures are resolved in phase 2 (so bodies can call anything declared
//! anywhere); map and function bodies are checked in phase 3. A map body must
//! set every field of its target exactly once, each with the right type.

use std::collections::HashMap;

use super::scope::{BodyKind, Cx, LocalKind, Secrets};
use super::types::{Bound, FieldDef, Ty, VariantDef};
use super::{Checker, FnSig, ParamSig, SymbolKind, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, Attribute, ExprKind, MapItem};

/// The `@format` values a field may carry, by type.
const DATETIME_FORMATS: &[&str] = &["rfc3339", "unix", "unix_ms", "rfc2822"];
const DURATION_FORMATS: &[&str] = &["iso8601", "seconds", "milliseconds"];
/// Numbers sent as JSON strings (`"12.50"`).
const NUMBER_FORMATS: &[&str] = &["string"];

impl Checker<'_> {
    pub(crate) fn resolve_record(&mut self, decl: &ast::TypeDecl) {
        let Some(SymbolKind::Type(id)) = self.symbol_kind_here(&decl.name) else {
            return;
        };
        let mut wires: HashMap<String, Span> = HashMap::new();
        for field in &decl.fields {
            let ty = self.resolve_type(&field.ty, &[]);
            self.require_data_type(&ty, field.ty.span, "a record field");
            let (wire, format) = self.field_attributes(&field.attributes, &ty, &field.name);
            let repeated_name = self.types.record(id).is_some_and(|record| record.field(&field.name.name).is_some());
            if repeated_name {
                // Reported below as a duplicate field.
            } else if let Some(previous) = wires.get(&wire) {
                let previous = *previous;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        field.name.span,
                        format!("two fields of `{}` read the wire name `{wire}`", decl.name.name),
                    )
                    .label("this field's wire name is taken")
                    .secondary(previous, "already read by this field")
                    .help("give one of them a different `@wire(\"...\")`"),
                );
            } else {
                wires.insert(wire.clone(), field.name.span);
            }
            let definition = FieldDef {
                name: field.name.name.clone(),
                ty,
                wire,
                format,
                span: field.name.span,
                doc: field.doc.clone(),
            };
            let Some(record) = self.types.record_mut(id) else {
                return;
            };
            if let Err(existing) = record.push(definition) {
                let first = record.fields.get(existing).map(|field| field.span).unwrap_or_default();
                self.report(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        field.name.span,
                        format!("field `{}` is declared twice in `{}`", field.name.name, decl.name.name),
                    )
                    .label("declared again here")
                    .secondary(first, "first declared here")
                    .fix("remove the second declaration", field.span, ""),
                );
            }
        }
    }

    /// `@wire("name")` and `@format(unix)`: the wire name and format of a field.
    fn field_attributes(&mut self, attributes: &[Attribute], ty: &Ty, field: &ast::Ident) -> (String, Option<String>) {
        let mut wire = field.name.clone();
        let mut format = None;
        for attribute in attributes {
            match attribute.name.name.as_str() {
                "wire" => match attribute.args.as_slice() {
                    [arg] if arg.name.is_none() => match &arg.value.kind {
                        ExprKind::String(literal) if literal.as_plain().is_some_and(|text| !text.is_empty()) => {
                            wire = literal.as_plain().unwrap_or_default();
                        }
                        _ => self.report(
                            Diagnostic::new(
                                Code::InvalidSettingValue,
                                arg.value.span,
                                "`@wire` takes the field's name on the wire as a string",
                            )
                            .label("expected a non-empty string such as \"createdAt\""),
                        ),
                    },
                    _ => self.report(
                        Diagnostic::new(Code::WrongArgumentCount, attribute.span, "`@wire` takes exactly one string")
                            .label("write `@wire(\"wireName\")`"),
                    ),
                },
                "format" => {
                    let allowed: &[&str] = match ty.unwrap_optional() {
                        Ty::DateTime => DATETIME_FORMATS,
                        Ty::Duration => DURATION_FORMATS,
                        Ty::Int | Ty::Float | Ty::Decimal => NUMBER_FORMATS,
                        _ => &[],
                    };
                    let written = match attribute.args.as_slice() {
                        [arg] if arg.name.is_none() => match &arg.value.kind {
                            ExprKind::Name(name) => Some((name.name.clone(), name.span)),
                            ExprKind::String(literal) => literal.as_plain().map(|text| (text, arg.value.span)),
                            _ => None,
                        },
                        _ => None,
                    };
                    match written {
                        _ if allowed.is_empty() => {
                            let shown = self.types.display(ty).to_string();
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidSettingValue,
                                    attribute.span,
                                    format!("`@format` does not apply to a field of type `{shown}`"),
                                )
                                .label("only DateTime, Duration and number fields have wire formats")
                                .fix("remove the attribute", attribute.span, ""),
                            );
                        }
                        Some((value, span)) if allowed.contains(&value.as_str()) => {
                            let _ = span;
                            format = Some(value);
                        }
                        Some((value, span)) => {
                            let mut diagnostic =
                                Diagnostic::new(Code::InvalidSettingValue, span, format!("unknown format `{value}`"))
                                    .label(format!("expected one of {}", allowed.join(", ")));
                            if let Some(best) = suggest::best(&value, allowed.iter().copied()) {
                                diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), span, best);
                            }
                            self.report(diagnostic);
                        }
                        None => self.report(
                            Diagnostic::new(
                                Code::WrongArgumentCount,
                                attribute.span,
                                "`@format` takes one format name",
                            )
                            .label(format!("write `@format({})`", allowed[0])),
                        ),
                    }
                }
                other => {
                    let mut diagnostic = Diagnostic::new(
                        Code::UnknownSetting,
                        attribute.name.span,
                        format!("unknown attribute `@{other}`"),
                    )
                    .label("fields take `@wire(...)` and `@format(...)`");
                    if let Some(best) = suggest::best(other, ["wire", "format"]) {
                        diagnostic = diagnostic.maybe_fix(format!("use `@{best}`"), attribute.name.span, best);
                    }
                    self.report(diagnostic);
                }
            }
        }
        (wire, format)
    }

    pub(crate) fn resolve_enum(&mut self, decl: &ast::EnumDecl) {
        let Some(SymbolKind::Enum(id)) = self.symbol_kind_here(&decl.name) else {
            return;
        };
        let mut variants: Vec<VariantDef> = Vec::new();
        let mut catch_all: Option<Span> = None;
        let mut other_name: Option<String> = None;
        for variant in &decl.variants {
            let mut wire = variant.name.name.clone();
            for attribute in &variant.attributes {
                if attribute.name.name == "other" {
                    if !attribute.args.is_empty() {
                        self.report(
                            Diagnostic::new(Code::WrongArgumentCount, attribute.span, "`@other` takes no arguments")
                                .label("write `@other`"),
                        );
                    }
                    match catch_all {
                        Some(first) => self.report(
                            Diagnostic::new(
                                Code::DuplicateMember,
                                attribute.span,
                                format!("`{}` has two `@other` variants", decl.name.name),
                            )
                            .label("a second catch-all")
                            .secondary(first, "the first one")
                            .help("unknown wire values can go to one variant only"),
                        ),
                        None => {
                            catch_all = Some(attribute.span);
                            other_name = Some(variant.name.name.clone());
                        }
                    }
                    continue;
                }
                if attribute.name.name == "wire" {
                    match attribute.args.as_slice() {
                        [arg] => match &arg.value.kind {
                            ExprKind::String(literal) if literal.as_plain().is_some() => {
                                wire = literal.as_plain().unwrap_or_default()
                            }
                            _ => self.report(
                                Diagnostic::new(
                                    Code::InvalidSettingValue,
                                    arg.value.span,
                                    "`@wire` takes the variant's value on the wire as a string",
                                )
                                .label("expected a string"),
                            ),
                        },
                        _ => self.report(
                            Diagnostic::new(
                                Code::WrongArgumentCount,
                                attribute.span,
                                "`@wire` takes exactly one string",
                            )
                            .label("write `@wire(\"VALUE\")`"),
                        ),
                    }
                } else {
                    let mut diagnostic = Diagnostic::new(
                        Code::UnknownSetting,
                        attribute.name.span,
                        format!("unknown attribute `@{}`", attribute.name.name),
                    )
                    .label("variants take `@wire(...)` and `@other`");
                    if let Some(best) = suggest::best(&attribute.name.name, ["wire", "other"]) {
                        diagnostic = diagnostic.maybe_fix(format!("use `@{best}`"), attribute.name.span, best);
                    }
                    self.report(diagnostic);
                }
            }
            if let Some(first) = variants.iter().find(|existing| existing.name == variant.name.name) {
                let first = first.span;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        variant.name.span,
                        format!("variant `{}` is declared twice in `{}`", variant.name.name, decl.name.name),
                    )
                    .label("declared again here")
                    .secondary(first, "first declared here")
                    .fix("remove the second one", variant.span, ""),
                );
                continue;
            }
            if let Some(first) = variants.iter().find(|existing| existing.wire == wire) {
                let first = first.span;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        variant.name.span,
                        format!("two variants of `{}` have the wire value \"{wire}\"", decl.name.name),
                    )
                    .label("same wire value")
                    .secondary(first, "as this one"),
                );
                continue;
            }
            variants.push(VariantDef {
                name: variant.name.name.clone(),
                wire,
                span: variant.name.span,
                doc: variant.doc.clone(),
            });
        }
        if variants.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::InvalidType,
                    decl.name.span,
                    format!("enum `{}` has no variants", decl.name.name),
                )
                .label("an enum needs at least one variant")
                .help("list its values: `enum Status { active, closed }`"),
            );
        }
        if let Some(definition) = self.types.enums.get_mut(id.0 as usize) {
            definition.other = other_name.and_then(|other| variants.iter().position(|variant| variant.name == other));
            definition.variants = variants;
        }
    }

    /// The symbol kind of the declaration named `name` in the current file, if
    /// this declaration is the one the name resolves to (not a reported duplicate).
    pub(crate) fn symbol_kind_here(&self, name: &ast::Ident) -> Option<SymbolKind> {
        let index = *self.by_name.get(&name.name)?;
        let symbol = &self.symbols[index];
        (symbol.span == name.span).then(|| symbol.kind.clone())
    }

    fn generics(&mut self, generics: &[ast::Generic]) -> Vec<(String, Option<Bound>)> {
        let mut resolved: Vec<(String, Option<Bound>)> = Vec::new();
        for generic in generics {
            let bound = generic.bound.as_ref().and_then(|bound| {
                let parsed = Bound::parse(&bound.name);
                if parsed.is_none() {
                    let mut diagnostic =
                        Diagnostic::new(Code::UnknownType, bound.span, format!("unknown bound `{}`", bound.name))
                            .label("bounds are `Comparable` and `Numeric`");
                    if let Some(best) = suggest::best(&bound.name, ["Comparable", "Numeric"]) {
                        diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), bound.span, best);
                    }
                    self.report(diagnostic);
                }
                parsed
            });
            if resolved.iter().any(|(name, _)| *name == generic.name.name) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        generic.name.span,
                        format!("type parameter `{}` is declared twice", generic.name.name),
                    )
                    .label("declared again"),
                );
            }
            resolved.push((generic.name.name.clone(), bound));
        }
        resolved
    }

    pub(crate) fn params(
        &mut self,
        params: &[ast::Param],
        generics: &[(String, Option<Bound>)],
        allow_fn: bool,
    ) -> Vec<ParamSig> {
        let mut resolved: Vec<ParamSig> = Vec::new();
        for param in params {
            let ty = self.resolve_type(&param.ty, generics);
            if !allow_fn {
                self.require_data_type(&ty, param.ty.span, "a parameter here");
            }
            if let Some(first) = resolved.iter().find(|existing| existing.name == param.name.name) {
                let first = first.span;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        param.name.span,
                        format!("parameter `{}` is declared twice", param.name.name),
                    )
                    .label("declared again")
                    .secondary(first, "first declared here"),
                );
                continue;
            }
            resolved.push(ParamSig {
                name: param.name.name.clone(),
                ty,
                has_default: param.default.is_some(),
                span: param.name.span,
            });
        }
        resolved
    }

    pub(crate) fn resolve_fn_signature(&mut self, function: &ast::FnDecl) {
        if self.symbol_kind_here(&function.name) != Some(SymbolKind::Fn) {
            return;
        }
        if !function.native && !function.generics.is_empty() {
            let first = function.generics[0].name.span;
            let last = function.generics[function.generics.len() - 1].name.span;
            self.report(
                Diagnostic::new(
                    Code::InvalidType,
                    first.to(last),
                    format!("function `{}` declares type parameters", function.name.name),
                )
                .label("only native functions of the standard library are generic")
                .help("write the concrete types this function works on"),
            );
        }
        let generics = self.generics(&function.generics);
        // Only natives take functions: a user function could not call one.
        let params = self.params(&function.params, &generics, function.native);
        let ret = self.resolve_type(&function.returns, &generics);
        if !function.native && function.body.is_none() {
            self.report(
                Diagnostic::new(
                    Code::MissingClause,
                    function.name.span,
                    format!("function `{}` has no body", function.name.name),
                )
                .label("expected `= expression` after the return type")
                .fix("add a body", function.returns.span.shrink_to_end(), " = todo"),
            );
        }
        if function.native && function.body.is_some() {
            self.report(
                Diagnostic::new(
                    Code::MisplacedClause,
                    function.name.span,
                    format!("native function `{}` has a body", function.name.name),
                )
                .label("natives are implemented in the runtime")
                .help("remove `native`, or remove the body"),
            );
        }
        let sig = FnSig {
            name: function.name.name.clone(),
            generics,
            params,
            ret,
            span: function.name.span,
            native: function.native,
            is_map: false,
        };
        self.functions.insert(function.name.name.clone(), sig);
    }

    pub(crate) fn resolve_map_signature(&mut self, map: &ast::MapDecl) {
        if self.symbol_kind_here(&map.name) != Some(SymbolKind::Map) {
            return;
        }
        let params = self.params(&map.params, &[], false);
        let ret = self.resolve_type(&map.target, &[]);
        let sig = FnSig {
            name: map.name.name.clone(),
            generics: Vec::new(),
            params,
            ret,
            span: map.name.span,
            native: false,
            is_map: true,
        };
        self.functions.insert(map.name.name.clone(), sig);
    }

    pub(crate) fn check_fn(&mut self, function: &ast::FnDecl) {
        let Some(body) = &function.body else { return };
        let Some(sig) = self.functions.get(&function.name.name).cloned() else {
            return;
        };
        if sig.span != function.name.span {
            return;
        }
        let mut cx = Cx::new(BodyKind::Pure, Secrets::Forbidden("a function"));
        for (param, written) in sig.params.iter().zip(&function.params) {
            cx.declare(&param.name, param.ty.clone(), written.name.span, LocalKind::Param);
        }
        self.check_param_defaults(&mut cx, &function.params, &sig.params);
        let expected = if sig.ret.has_vars() { None } else { Some(sig.ret.clone()) };
        let actual = self.check_expr(&mut cx, body, expected.as_ref());
        if let Some(expected) = expected {
            self.expect_assignable(&actual, &expected, body.span, "the function's body");
        }
        let unused = cx.finish();
        self.report_unused_locals(unused);
    }

    pub(crate) fn check_param_defaults(&mut self, cx: &mut Cx, written: &[ast::Param], sigs: &[ParamSig]) {
        for (param, sig) in written.iter().zip(sigs) {
            if let Some(default) = &param.default {
                let expected = if sig.ty.has_vars() { None } else { Some(sig.ty.clone()) };
                let actual = self.check_expr(cx, default, expected.as_ref());
                if let Some(expected) = expected {
                    self.expect_assignable(&actual, &expected, default.span, "the default value");
                }
            }
        }
    }

    pub(crate) fn check_map(&mut self, map: &ast::MapDecl) {
        let Some(sig) = self.functions.get(&map.name.name).cloned() else {
            return;
        };
        if sig.span != map.name.span {
            return;
        }
        let mut cx = Cx::new(BodyKind::Pure, Secrets::Forbidden("a map"));
        for (param, written) in sig.params.iter().zip(&map.params) {
            cx.declare(&param.name, param.ty.clone(), written.name.span, LocalKind::Param);
        }
        self.check_param_defaults(&mut cx, &map.params, &sig.params);
        let record_id = match &sig.ret {
            Ty::Record(id) => Some(*id),
            Ty::Error => None,
            other => {
                let shown = self.types.display(other).to_string();
                self.report(
                    Diagnostic::new(
                        Code::MapTargetNotRecord,
                        map.target.span,
                        format!("map `{}` targets `{shown}`, which is not a record", map.name.name),
                    )
                    .label("a map builds a record field by field")
                    .help(format!(
                        "use a function for other results: `fn {}(...) -> {shown} = expression`",
                        map.name.name
                    )),
                );
                None
            }
        };
        let items: Vec<RecordItem<'_>> = map
            .items
            .iter()
            .map(|item| match item {
                MapItem::Let(statement) => RecordItem::Let(statement),
                MapItem::Field(field) => RecordItem::Field(&field.name, &field.value, field.span),
            })
            .collect();
        match record_id {
            Some(id) => {
                let target_name = map.target.span;
                self.check_record_fields(&mut cx, id, &items, map.body_span, target_name, "map");
            }
            None => {
                for item in &items {
                    match item {
                        RecordItem::Let(statement) => self.check_let(&mut cx, statement),
                        RecordItem::Field(_, value, _) => {
                            self.check_expr(&mut cx, value, None);
                        }
                    }
                }
            }
        }
        let unused = cx.finish();
        self.report_unused_locals(unused);
    }

    /// Checks `name: value` initialisers against record `id`: every field set
    /// exactly once (E0400, E0401), no unknown field (E0402), right types.
    pub(crate) fn check_record_fields(
        &mut self,
        cx: &mut Cx,
        id: super::types::RecordId,
        items: &[RecordItem<'_>],
        body_span: Span,
        target_span: Span,
        what: &str,
    ) {
        let Some(record) = self.types.record(id).cloned() else {
            return;
        };
        let mut set: HashMap<&str, Span> = HashMap::new();
        let fields: Vec<(&ast::Ident, &ast::Expr, Span)> = items
            .iter()
            .filter_map(|item| match item {
                RecordItem::Field(name, value, span) => Some((*name, *value, *span)),
                RecordItem::Let(_) => None,
            })
            .collect();
        for item in items {
            let (name, value, item_span) = match item {
                RecordItem::Let(statement) => {
                    // In source order: a field sees the `let`s above it, not those below.
                    self.check_let(cx, statement);
                    continue;
                }
                RecordItem::Field(name, value, span) => (*name, *value, span),
            };
            let Some(field) = record.field(&name.name) else {
                let mut diagnostic = Diagnostic::new(
                    Code::UnknownTargetField,
                    name.span,
                    format!("`{}` has no field `{}`", record.name, name.name),
                )
                .label(format!("not a field of `{}`", record.name))
                .secondary(record.span, format!("`{}` is declared here", record.name));
                let unset: Vec<&str> = record
                    .fields
                    .iter()
                    .map(|field| field.name.as_str())
                    .filter(|field| {
                        !set.contains_key(field) && !fields.iter().any(|(other, _, _)| other.name == *field)
                    })
                    .collect();
                if let Some(best) = suggest::best(&name.name, unset.iter().copied())
                    .or_else(|| suggest::best(&name.name, record.fields.iter().map(|f| f.name.as_str())))
                {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                        format!("set `{best}`"),
                        name.span,
                        best,
                    );
                } else {
                    diagnostic = diagnostic.help(format!("remove it, or add the field to `type {}`", record.name));
                }
                self.report(diagnostic);
                self.check_expr(cx, value, None);
                continue;
            };
            if let Some(first) = set.get(name.name.as_str()) {
                let first = *first;
                self.report(
                    Diagnostic::new(Code::FieldSetTwice, name.span, format!("field `{}` is set twice", name.name))
                        .label("set again here")
                        .secondary(first, "first set here")
                        .help("each field of the target is set exactly once; remove one of them")
                        .fix("remove this one", *item_span, ""),
                );
                self.check_expr(cx, value, Some(&field.ty));
                continue;
            }
            set.insert(name.name.as_str(), name.span);
            let actual = self.check_expr(cx, value, Some(&field.ty));
            self.expect_assignable(&actual, &field.ty, value.span, &format!("field `{}`", name.name));
        }
        let missing: Vec<&FieldDef> =
            record.fields.iter().filter(|field| !set.contains_key(field.name.as_str())).collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|field| format!("`{}`", field.name)).collect();
            let (noun, list) =
                if names.len() == 1 { ("field", names[0].clone()) } else { ("fields", join_words(&names)) };
            let insertion: String =
                missing.iter().map(|field| format!("  {}: {}\n", field.name, placeholder(&field.ty))).collect();
            let close = body_span.shrink_to_end();
            let insert_at = if close.start > body_span.start {
                crate::source::Span { start: close.start - 1, end: close.start - 1, ..close }
            } else {
                close
            };
            let primary = target_span;
            let mut diagnostic = Diagnostic::new(
                Code::MissingField,
                primary,
                format!("{what} leaves {noun} {list} of `{}` unset", record.name),
            )
            .label(format!("missing {list}"))
            .secondary(record.span, format!("`{}` is declared here", record.name));
            if missing.iter().any(|field| field.ty.is_optional()) {
                diagnostic = diagnostic.note("optional fields are set too: write `field: none` to leave one empty");
            }
            diagnostic = diagnostic.maybe_fix("set the missing fields", insert_at, insertion);
            self.report(diagnostic);
        }
    }
}

/// An item of a map body or record literal, in source order.
pub(crate) enum RecordItem<'a> {
    Field(&'a ast::Ident, &'a ast::Expr, Span),
    Let(&'a ast::LetStmt),
}

/// "`a`, `b` and `c`".
pub(crate) fn join_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A value to write for a missing field in a suggestion.
fn placeholder(ty: &Ty) -> &'static str {
    match ty {
        Ty::Optional(_) => "none",
        Ty::Int => "0",
        Ty::Float | Ty::Decimal => "0.0",
        Ty::Bool => "false",
        Ty::String => "\"\"",
        Ty::List(_) => "[]",
        _ => "todo",
    }
}
