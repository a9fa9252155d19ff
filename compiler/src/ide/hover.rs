//! Hover: what the thing under the cursor is.
//!
//! In: an [`Analysis`], a file and an offset. Out: a [`Hover`] in Markdown:
//! the signature or type of the name there (declarations, locals, fields,
//! endpoints, variants) with its `///` doc comment, or else the type of the
//! innermost expression; followed by the explanation of each diagnostic
//! whose primary span holds the offset (`integ explain CODE`).

use super::resolve::{DefKind, Definition, Resolver};
use super::walk::Occurrence;
use crate::Analysis;
use crate::check::expr::ExprKey;
use crate::check::types::Ty;
use crate::source::{FileId, Span};
use crate::syntax::ast::{ApiItem, Decl, DeclKind};

/// Markdown for the span it describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hover {
    pub span: Span,
    pub markdown: String,
}

/// What is at `offset` in `file`, in Markdown.
pub fn hover(analysis: &Analysis, file: FileId, offset: usize) -> Option<Hover> {
    let resolver = Resolver::new(analysis);
    let mut sections: Vec<String> = Vec::new();
    let mut span = None;
    if let Some(occurrence) = super::occurrence_at(analysis, file, offset) {
        let ident = occurrence.ident();
        let text = match resolver.resolve(&occurrence) {
            Some(definition) => describe(&resolver, &occurrence, &definition),
            None => type_of_span(analysis, ident.span).map(|ty| code(&format!("{}: {ty}", ident.name))),
        };
        if let Some(text) = text {
            sections.push(text);
            span = Some(ident.span);
        }
    }
    if sections.is_empty()
        && let Some((expr_span, ty)) = innermost_expression(analysis, file, offset)
    {
        sections.push(code(&ty));
        span = Some(expr_span);
    }
    for diagnostic in analysis.diagnostics() {
        let primary = diagnostic.primary_span();
        if primary.file == file && primary.contains(offset) {
            sections.push(format!(
                "**{}** {}\n\n{}",
                diagnostic.code.as_str(),
                diagnostic.code.title(),
                diagnostic.code.explain().trim_end()
            ));
            span = span.or(Some(primary));
        }
    }
    let span = span?;
    Some(Hover { span, markdown: sections.join("\n\n---\n\n") })
}

fn code(text: &str) -> String {
    format!("```integ\n{text}\n```")
}

fn with_doc(signature: &str, doc: Option<&str>) -> String {
    match doc.map(str::trim).filter(|doc| !doc.is_empty()) {
        Some(doc) => format!("{}\n\n{doc}", code(signature)),
        None => code(signature),
    }
}

fn show(analysis: &Analysis, ty: &Ty) -> String {
    analysis.checked.types.display(ty).to_string()
}

/// The type the checker gave the expression spanning exactly `span`.
fn type_of_span(analysis: &Analysis, span: Span) -> Option<String> {
    let key = ExprKey { file: span.file, start: span.start, end: span.end };
    analysis.checked.expr_types.get(&key).filter(|ty| !ty.is_error()).map(|ty| show(analysis, ty))
}

/// The smallest checked expression of `file` that holds `offset`.
fn innermost_expression(analysis: &Analysis, file: FileId, offset: usize) -> Option<(Span, String)> {
    analysis
        .checked
        .expr_types
        .iter()
        .filter(|(key, ty)| {
            key.file == file && (key.start as usize) <= offset && offset <= (key.end as usize) && !ty.is_error()
        })
        .min_by_key(|(key, _)| (key.end - key.start, key.start))
        .map(|(key, ty)| (Span { file: key.file, start: key.start, end: key.end }, show(analysis, ty)))
}

/// The declaration a symbol comes from.
pub(super) fn symbol_decl(analysis: &Analysis, index: usize) -> Option<&Decl> {
    let symbol = analysis.checked.symbols.get(index)?;
    analysis.program.module(symbol.file)?.ast.decls.get(symbol.decl)
}

fn snippet(analysis: &Analysis, start: u32, end: u32, file: FileId) -> String {
    let text = analysis.sources().get(file).map(|source| source.text.clone()).unwrap_or_default();
    text.get(start as usize..end as usize).unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The signature of a declaration as one line (or a small block for records and enums).
pub(super) fn signature(analysis: &Analysis, decl: &Decl) -> String {
    let file = decl.span.file;
    match &decl.kind {
        DeclKind::Fn(function) => snippet(analysis, decl.span.start, function.returns.span.end, file),
        DeclKind::Map(map) => snippet(analysis, decl.span.start, map.target.span.end, file),
        DeclKind::Type(record) => {
            let fields: Vec<String> = record
                .fields
                .iter()
                .map(|field| {
                    format!(
                        "    {}: {}",
                        field.name.name,
                        snippet(analysis, field.ty.span.start, field.ty.span.end, file)
                    )
                })
                .collect();
            if fields.is_empty() {
                format!("type {} {{}}", record.name.name)
            } else {
                format!("type {} {{\n{}\n}}", record.name.name, fields.join(",\n"))
            }
        }
        DeclKind::Enum(enumeration) => {
            let variants: Vec<&str> = enumeration.variants.iter().map(|variant| variant.name.name.as_str()).collect();
            format!("enum {} {{ {} }}", enumeration.name.name, variants.join(", "))
        }
        DeclKind::Api(api) => {
            let endpoints: Vec<String> = api
                .items
                .iter()
                .filter_map(|item| match item {
                    ApiItem::Endpoint(endpoint) => Some(format!("    {}", endpoint_signature(analysis, endpoint))),
                    ApiItem::Clause(_) => None,
                })
                .collect();
            if endpoints.is_empty() {
                format!("api {}", api.name.name)
            } else {
                format!("api {} {{\n{}\n}}", api.name.name, endpoints.join("\n"))
            }
        }
        DeclKind::Secret(secret) => snippet(analysis, decl.span.start, secret.value.span.end, file),
        DeclKind::Auth(auth) => snippet(analysis, decl.span.start, auth.value.span.end, file),
        DeclKind::Policy(policy) => format!("policy {}", policy.name.name),
        DeclKind::Flow(flow) => format!("flow {}", flow.name.name),
        DeclKind::Test(test) => format!("test \"{}\"", test.name),
        DeclKind::Import(import) => format!("import \"{}\"", import.path),
    }
}

pub(super) fn endpoint_signature(analysis: &Analysis, endpoint: &crate::syntax::ast::EndpointDecl) -> String {
    let end = endpoint.returns.as_ref().map(|returns| returns.span.end).unwrap_or(endpoint.params_span.end);
    snippet(analysis, endpoint.span.start, end, endpoint.span.file)
}

fn describe(resolver: &Resolver<'_>, occurrence: &Occurrence<'_>, definition: &Definition) -> Option<String> {
    let analysis = resolver.analysis;
    let types = &analysis.checked.types;
    match definition.kind {
        DefKind::Symbol(index) => {
            let decl = symbol_decl(analysis, index)?;
            Some(with_doc(&signature(analysis, decl), decl.doc.as_deref()))
        }
        DefKind::Field(record, index) => {
            let record = types.record(record)?;
            let field = record.fields.get(index)?;
            let mut text = format!("{}.{}: {}", record.name, field.name, show(analysis, &field.ty));
            if field.wire != field.name {
                text.push_str(&format!(" @wire(\"{}\")", field.wire));
            }
            Some(with_doc(&text, field.doc.as_deref()))
        }
        DefKind::Variant(enumeration, index) => {
            let definition = types.enumeration(enumeration)?;
            let variant = definition.variants.get(index)?;
            Some(with_doc(&format!("{}.{}", definition.name, variant.name), variant.doc.as_deref()))
        }
        DefKind::Endpoint(api, index) => {
            let info = analysis.checked.apis.get(api)?;
            let endpoint_info = info.endpoints.get(index)?;
            let decl = analysis.program.module(info.file)?.ast.decls.iter().find_map(|decl| match &decl.kind {
                DeclKind::Api(api_decl) if api_decl.name.span == info.span => Some(api_decl),
                _ => None,
            })?;
            let endpoint = decl.items.iter().find_map(|item| match item {
                ApiItem::Endpoint(endpoint) if endpoint.name.span == endpoint_info.span => Some(endpoint),
                _ => None,
            })?;
            let mut text = format!("api {}\n{}", info.name, endpoint_signature(analysis, endpoint));
            if let Some(method) = &endpoint_info.method {
                text.push_str(&format!("\n// {method}"));
            }
            Some(with_doc(&text, endpoint.doc.as_deref()))
        }
        DefKind::Local => {
            let name = &occurrence.ident().name;
            // The type at this use, or at any use of the declaration.
            let ty = type_of_span(analysis, occurrence.ident().span).or_else(|| {
                analysis
                    .checked
                    .local_uses
                    .iter()
                    .filter(|(_, declared)| *declared == definition.span)
                    .find_map(|(used, _)| type_of_span(analysis, *used))
            });
            Some(code(&match ty {
                Some(ty) => format!("{name}: {ty}"),
                None => name.clone(),
            }))
        }
    }
}
