//! The outline of a file and the declarations of a program.
//!
//! In: an [`Analysis`]. Out: [`DocumentSymbol`] trees for one file (the
//! declarations, with fields, variants and endpoints as children) and a flat
//! list of the user's declarations matching a query, for "go to symbol".

use super::hover::{endpoint_signature, signature};
use crate::Analysis;
use crate::source::{FileId, Span};
use crate::syntax::ast::{ApiItem, Decl, DeclKind};

/// What kind of thing a symbol is, for the editor's icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolCategory {
    Type,
    Enum,
    Field,
    Variant,
    Api,
    Endpoint,
    Function,
    Map,
    Constant,
    Policy,
    Flow,
    Test,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentSymbol {
    pub name: String,
    pub detail: Option<String>,
    pub category: SymbolCategory,
    /// The whole declaration.
    pub span: Span,
    /// Its name.
    pub selection: Span,
    pub children: Vec<DocumentSymbol>,
}

fn category(decl: &Decl) -> Option<SymbolCategory> {
    Some(match &decl.kind {
        DeclKind::Import(_) => return None,
        DeclKind::Secret(_) | DeclKind::Auth(_) => SymbolCategory::Constant,
        DeclKind::Type(_) => SymbolCategory::Type,
        DeclKind::Enum(_) => SymbolCategory::Enum,
        DeclKind::Api(_) => SymbolCategory::Api,
        DeclKind::Map(_) => SymbolCategory::Map,
        DeclKind::Fn(_) => SymbolCategory::Function,
        DeclKind::Policy(_) => SymbolCategory::Policy,
        DeclKind::Flow(_) => SymbolCategory::Flow,
        DeclKind::Test(_) => SymbolCategory::Test,
    })
}

fn decl_symbol(analysis: &Analysis, decl: &Decl) -> Option<DocumentSymbol> {
    let category = category(decl)?;
    let (name, selection) = match (&decl.kind, decl.name()) {
        (DeclKind::Test(test), _) => (test.name.clone(), test.name_span),
        (_, Some(ident)) => (ident.name.clone(), ident.span),
        (_, None) => return None,
    };
    let mut children = Vec::new();
    match &decl.kind {
        DeclKind::Type(record) => {
            for field in &record.fields {
                children.push(DocumentSymbol {
                    name: field.name.name.clone(),
                    detail: analysis
                        .sources()
                        .get(field.ty.span.file)
                        .and_then(|source| source.text.get(field.ty.span.range()).map(str::to_owned)),
                    category: SymbolCategory::Field,
                    span: field.span,
                    selection: field.name.span,
                    children: Vec::new(),
                });
            }
        }
        DeclKind::Enum(enumeration) => {
            for variant in &enumeration.variants {
                children.push(DocumentSymbol {
                    name: variant.name.name.clone(),
                    detail: None,
                    category: SymbolCategory::Variant,
                    span: variant.span,
                    selection: variant.name.span,
                    children: Vec::new(),
                });
            }
        }
        DeclKind::Api(api) => {
            for item in &api.items {
                if let ApiItem::Endpoint(endpoint) = item {
                    children.push(DocumentSymbol {
                        name: endpoint.name.name.clone(),
                        detail: Some(endpoint_signature(analysis, endpoint)),
                        category: SymbolCategory::Endpoint,
                        span: endpoint.span,
                        selection: endpoint.name.span,
                        children: Vec::new(),
                    });
                }
            }
        }
        _ => {}
    }
    let detail = match &decl.kind {
        DeclKind::Fn(_) | DeclKind::Map(_) | DeclKind::Secret(_) | DeclKind::Auth(_) => Some(signature(analysis, decl)),
        _ => None,
    };
    // A declaration's span always holds its name's (the protocol requires it).
    let span = decl.span.to(selection);
    Some(DocumentSymbol { name, detail, category, span, selection, children })
}

/// The declarations of `file`, in source order.
pub fn document_symbols(analysis: &Analysis, file: FileId) -> Vec<DocumentSymbol> {
    let Some(module) = analysis.program.module(file) else {
        return Vec::new();
    };
    module.ast.decls.iter().filter_map(|decl| decl_symbol(analysis, decl)).collect()
}

/// Whether the characters of `query` appear in `name` in order, ignoring case.
fn matches(name: &str, query: &str) -> bool {
    let mut name_characters = name.chars().flat_map(char::to_lowercase);
    query.chars().flat_map(char::to_lowercase).all(|wanted| name_characters.any(|found| found == wanted))
}

/// The declarations (and endpoints) of the user's files whose names match
/// `query` (its characters in order, ignoring case), with their container.
pub fn workspace_symbols(analysis: &Analysis, query: &str) -> Vec<(DocumentSymbol, Option<String>)> {
    let mut found = Vec::new();
    for module in &analysis.program.modules {
        if analysis.program.is_std(module.file) {
            continue;
        }
        for decl in &module.ast.decls {
            let Some(mut symbol) = decl_symbol(analysis, decl) else { continue };
            let children = std::mem::take(&mut symbol.children);
            let container = symbol.name.clone();
            if matches(&symbol.name, query) {
                found.push((symbol, None));
            }
            for child in children {
                if child.category == SymbolCategory::Endpoint && matches(&child.name, query) {
                    found.push((child, Some(container.clone())));
                }
            }
        }
    }
    found
}
