//! What each name of a checked program refers to.
//!
//! In: an [`Analysis`] and the [`Occurrence`]s of [`super::walk`]. Out: the
//! [`Definition`] of an occurrence, identified by the span of the name that
//! declares it. Locals come from the checker's side table
//! ([`crate::check::Checked::local_uses`]); top-level names from the one
//! namespace; fields from the type the checker gave the expression before
//! the dot; endpoints and variants from `Api.` and `Enum.`.

use std::collections::HashMap;

use super::walk::{MemberKind, Occurrence};
use crate::Analysis;
use crate::check::SymbolKind;
use crate::check::expr::ExprKey;
use crate::check::types::{EnumId, RecordId, Ty};
use crate::source::Span;
use crate::syntax::ast::{Expr, ExprKind};

/// What a definition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefKind {
    /// A top-level declaration: an index into `Checked::symbols`.
    Symbol(usize),
    /// A parameter, `let`, loop variable, state or payload.
    Local,
    Field(RecordId, usize),
    Variant(EnumId, usize),
    /// An endpoint: index of the api in `Checked::apis`, then of the endpoint.
    Endpoint(usize, usize),
}

/// A declared thing, identified by the span of its declaring name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Definition {
    pub span: Span,
    pub kind: DefKind,
}

/// Lookup tables built once per request over one analysis.
pub struct Resolver<'a> {
    pub analysis: &'a Analysis,
    symbols: HashMap<&'a str, usize>,
    locals: HashMap<Span, Span>,
    fields: HashMap<Span, (RecordId, usize)>,
    variants: HashMap<Span, (EnumId, usize)>,
    endpoints: HashMap<Span, (usize, usize)>,
}

impl<'a> Resolver<'a> {
    pub fn new(analysis: &'a Analysis) -> Resolver<'a> {
        let checked = &analysis.checked;
        let mut symbols = HashMap::new();
        // Later symbols win, as in the checker (a user declaration shadowing the std one).
        for (index, symbol) in checked.symbols.iter().enumerate() {
            symbols.insert(symbol.name.as_str(), index);
        }
        let locals = checked.local_uses.iter().copied().collect();
        let mut fields = HashMap::new();
        for (record, definition) in checked.types.records.iter().enumerate() {
            if definition.anonymous {
                continue;
            }
            for (index, field) in definition.fields.iter().enumerate() {
                fields.insert(field.span, (RecordId(record as u32), index));
            }
        }
        let mut variants = HashMap::new();
        for (enumeration, definition) in checked.types.enums.iter().enumerate() {
            for (index, variant) in definition.variants.iter().enumerate() {
                variants.insert(variant.span, (EnumId(enumeration as u32), index));
            }
        }
        let mut endpoints = HashMap::new();
        for (api, info) in checked.apis.iter().enumerate() {
            for (index, endpoint) in info.endpoints.iter().enumerate() {
                endpoints.insert(endpoint.span, (api, index));
            }
        }
        Resolver { analysis, symbols, locals, fields, variants, endpoints }
    }

    /// The top-level symbol called `name`.
    pub fn symbol(&self, name: &str) -> Option<usize> {
        self.symbols.get(name).copied()
    }

    fn symbol_definition(&self, index: usize) -> Option<Definition> {
        let symbol = self.analysis.checked.symbols.get(index)?;
        Some(Definition { span: symbol.span, kind: DefKind::Symbol(index) })
    }

    /// The type the checker gave `expr`.
    pub fn type_of(&self, expr: &Expr) -> Option<&'a Ty> {
        self.analysis.checked.expr_types.get(&ExprKey::of(expr))
    }

    /// What `occurrence` declares or refers to.
    pub fn resolve(&self, occurrence: &Occurrence<'_>) -> Option<Definition> {
        match *occurrence {
            Occurrence::Decl { ident, .. } => {
                let index = self.symbol(&ident.name)?;
                let symbol = self.analysis.checked.symbols.get(index)?;
                // A duplicate declaration is not the symbol: it declares itself only.
                if symbol.span == ident.span {
                    Some(Definition { span: ident.span, kind: DefKind::Symbol(index) })
                } else {
                    None
                }
            }
            Occurrence::Member { ident, kind } => {
                let definition_kind = match kind {
                    MemberKind::Field => {
                        let (record, index) = self.fields.get(&ident.span).copied()?;
                        DefKind::Field(record, index)
                    }
                    MemberKind::Variant => {
                        let (enumeration, index) = self.variants.get(&ident.span).copied()?;
                        DefKind::Variant(enumeration, index)
                    }
                    MemberKind::Endpoint => {
                        let (api, index) = self.endpoints.get(&ident.span).copied()?;
                        DefKind::Endpoint(api, index)
                    }
                    _ => DefKind::Local,
                };
                Some(Definition { span: ident.span, kind: definition_kind })
            }
            Occurrence::Name(ident) => {
                if let Some(&declared) = self.locals.get(&ident.span) {
                    return (declared != Span::default())
                        .then_some(Definition { span: declared, kind: DefKind::Local });
                }
                self.symbol_definition(self.symbol(&ident.name)?)
            }
            Occurrence::TypeName(ident) => {
                let index = self.symbol(&ident.name)?;
                match self.analysis.checked.symbols.get(index)?.kind {
                    SymbolKind::Type(_) | SymbolKind::Enum(_) => self.symbol_definition(index),
                    _ => None,
                }
            }
            Occurrence::Field { base, name, .. } => {
                if let ExprKind::Name(base_name) = &base.kind
                    && !self.locals.contains_key(&base_name.span)
                    && let Some(index) = self.symbol(&base_name.name)
                {
                    match self.analysis.checked.symbols.get(index)?.kind {
                        SymbolKind::Enum(id) => {
                            let definition = self.analysis.checked.types.enumeration(id)?;
                            let variant = definition.variant(&name.name)?;
                            let span = definition.variants.get(variant)?.span;
                            return Some(Definition { span, kind: DefKind::Variant(id, variant) });
                        }
                        SymbolKind::Api(api) => {
                            let info = self.analysis.checked.apis.get(api)?;
                            let endpoint = info.endpoint(&name.name)?;
                            let span = info.endpoints.get(endpoint)?.span;
                            return Some(Definition { span, kind: DefKind::Endpoint(api, endpoint) });
                        }
                        _ => {}
                    }
                }
                self.field_of(self.type_of(base)?, &name.name)
            }
            Occurrence::ObjectKey { ident, object } => {
                let object_ty = self.type_of(object)?;
                self.field_of(object_ty, &ident.name)
            }
            Occurrence::MapKey { ident, map } => {
                let signature = self.analysis.checked.functions.get(&map.name.name)?;
                self.field_of(&signature.ret, &ident.name)
            }
        }
    }

    /// The field `name` of a value of type `ty` (through optionals).
    fn field_of(&self, ty: &Ty, name: &str) -> Option<Definition> {
        let Ty::Record(id) = ty.unwrap_optional() else {
            return None;
        };
        let record = self.analysis.checked.types.record(*id)?;
        if record.anonymous {
            return None;
        }
        let index = record.field_index(name)?;
        let span = record.fields.get(index)?.span;
        Some(Definition { span, kind: DefKind::Field(*id, index) })
    }
}
