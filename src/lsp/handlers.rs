//! Answers to requests: each decodes its parameters, asks
//! [`integ_compiler::ide`] and converts the answer to the protocol's types.

use std::collections::HashMap;

use integ_compiler::Analysis;
use integ_compiler::diagnostic::Applicability;
use integ_compiler::ide::{self, CompletionKind, SymbolCategory};
use integ_compiler::source::Span;
use lsp_server::{ErrorCode, Request};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, Rename, Request as _, WorkspaceSymbolRequest,
};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CompletionItem, CompletionItemKind, Documentation, Hover,
    HoverContents, Location, MarkupContent, MarkupKind, OneOf, Position, SymbolKind, TextDocumentPositionParams,
    TextEdit, Uri, WorkspaceEdit, WorkspaceSymbol,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Server, convert};

type Answer = Result<Value, (ErrorCode, String)>;

fn params<P: DeserializeOwned>(request: Request) -> Result<P, (ErrorCode, String)> {
    serde_json::from_value(request.params)
        .map_err(|error| (ErrorCode::InvalidParams, format!("invalid parameters for `{}`: {error}", request.method)))
}

fn to_value(value: impl serde::Serialize) -> Answer {
    serde_json::to_value(value).map_err(|error| (ErrorCode::InternalError, error.to_string()))
}

pub fn handle(server: &mut Server, request: Request) -> Answer {
    match request.method.as_str() {
        HoverRequest::METHOD => hover(server, params(request)?),
        GotoDefinition::METHOD => {
            let params: lsp_types::GotoDefinitionParams = params(request)?;
            definition(server, params.text_document_position_params)
        }
        References::METHOD => references(server, params(request)?),
        Completion::METHOD => completion(server, params(request)?),
        DocumentSymbolRequest::METHOD => document_symbols(server, params(request)?),
        WorkspaceSymbolRequest::METHOD => workspace_symbols(server, params(request)?),
        PrepareRenameRequest::METHOD => prepare_rename(server, params(request)?),
        Rename::METHOD => rename(server, params(request)?),
        CodeActionRequest::METHOD => code_actions(server, params(request)?),
        Formatting::METHOD => formatting(server, params(request)?),
        other => Err((ErrorCode::MethodNotFound, format!("integ lsp does not handle `{other}`"))),
    }
}

/// The document's analysis and the byte offset of a position in it; none
/// when the document is not open.
fn locate<'s>(server: &'s Server, at: &TextDocumentPositionParams) -> Option<(&'s Analysis, usize)> {
    let (document, analysis) = server.document(&at.text_document.uri)?;
    Some((analysis, convert::offset(&document.text, at.position)))
}

/// The URI of a file of an analysis: the open document's own, or one made from its path.
fn uri_of(server: &Server, name: &str) -> Option<Uri> {
    match server.documents.get(name) {
        Some(document) => Some(document.uri.clone()),
        None => convert::path_to_uri(name),
    }
}

fn location(server: &Server, analysis: &Analysis, span: Span) -> Option<Location> {
    let file = analysis.sources().get(span.file)?;
    if file.origin == integ_compiler::source::Origin::Std {
        return None;
    }
    Some(Location { uri: uri_of(server, &file.name)?, range: convert::range(file, span) })
}

fn hover(server: &Server, params: lsp_types::HoverParams) -> Answer {
    let Some((analysis, offset)) = locate(server, &params.text_document_position_params) else {
        return Ok(Value::Null);
    };
    let root = analysis.program.root;
    let Some(found) = ide::hover(analysis, root, offset) else {
        return Ok(Value::Null);
    };
    let range = analysis.sources().get(found.span.file).map(|file| convert::range(file, found.span));
    to_value(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: found.markdown }),
        range,
    })
}

fn definition(server: &Server, at: TextDocumentPositionParams) -> Answer {
    let Some((analysis, offset)) = locate(server, &at) else {
        return Ok(Value::Null);
    };
    match ide::definition(analysis, analysis.program.root, offset).and_then(|span| location(server, analysis, span)) {
        Some(found) => to_value(lsp_types::GotoDefinitionResponse::Scalar(found)),
        None => Ok(Value::Null),
    }
}

fn references(server: &Server, params: lsp_types::ReferenceParams) -> Answer {
    let Some((analysis, offset)) = locate(server, &params.text_document_position) else {
        return Ok(Value::Null);
    };
    let spans = ide::references(analysis, analysis.program.root, offset, params.context.include_declaration);
    let found: Vec<Location> = spans.into_iter().filter_map(|span| location(server, analysis, span)).collect();
    to_value(found)
}

fn completion(server: &Server, params: lsp_types::CompletionParams) -> Answer {
    let at = &params.text_document_position;
    let path = convert::uri_to_path(&at.text_document.uri);
    let Some(document) = server.documents.get(&path) else {
        return Ok(Value::Null);
    };
    let offset = convert::offset(&document.text, at.position);
    let analysis = server.analyses.get(&path);
    let mut reanalyze = |patched: &str| Some(server.analyze(&path, patched));
    let items: Vec<CompletionItem> = ide::complete(analysis, &document.text, offset, &mut reanalyze)
        .into_iter()
        .map(|item| CompletionItem {
            kind: Some(match item.kind {
                CompletionKind::Keyword => CompletionItemKind::KEYWORD,
                CompletionKind::Type => CompletionItemKind::STRUCT,
                CompletionKind::Field => CompletionItemKind::FIELD,
                CompletionKind::Variant => CompletionItemKind::ENUM_MEMBER,
                CompletionKind::Endpoint => CompletionItemKind::METHOD,
                CompletionKind::Function => CompletionItemKind::FUNCTION,
                CompletionKind::Variable => CompletionItemKind::VARIABLE,
                CompletionKind::Setting => CompletionItemKind::PROPERTY,
                CompletionKind::Value => CompletionItemKind::CONSTANT,
            }),
            detail: item.detail,
            documentation: item
                .documentation
                .map(|value| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })),
            insert_text: item.insert_text,
            label: item.label,
            ..CompletionItem::default()
        })
        .collect();
    to_value(lsp_types::CompletionResponse::Array(items))
}

fn symbol_kind(category: SymbolCategory) -> SymbolKind {
    match category {
        SymbolCategory::Type => SymbolKind::STRUCT,
        SymbolCategory::Enum => SymbolKind::ENUM,
        SymbolCategory::Field => SymbolKind::FIELD,
        SymbolCategory::Variant => SymbolKind::ENUM_MEMBER,
        SymbolCategory::Api => SymbolKind::MODULE,
        SymbolCategory::Endpoint => SymbolKind::METHOD,
        SymbolCategory::Function | SymbolCategory::Map => SymbolKind::FUNCTION,
        SymbolCategory::Constant => SymbolKind::CONSTANT,
        SymbolCategory::Policy => SymbolKind::OBJECT,
        SymbolCategory::Flow => SymbolKind::EVENT,
        SymbolCategory::Test => SymbolKind::METHOD,
    }
}

fn document_symbols(server: &Server, params: lsp_types::DocumentSymbolParams) -> Answer {
    let Some((_, analysis)) = server.document(&params.text_document.uri) else {
        return Ok(Value::Null);
    };
    let root = analysis.program.root;
    let Some(file) = analysis.sources().get(root) else {
        return Ok(Value::Null);
    };
    #[allow(deprecated)] // `deprecated` is a required field of the protocol's struct.
    fn convert_symbol(
        file: &integ_compiler::source::SourceFile,
        symbol: ide::DocumentSymbol,
    ) -> lsp_types::DocumentSymbol {
        lsp_types::DocumentSymbol {
            name: symbol.name,
            detail: symbol.detail,
            kind: symbol_kind(symbol.category),
            tags: None,
            deprecated: None,
            range: convert::range(file, symbol.span),
            selection_range: convert::range(file, symbol.selection),
            children: if symbol.children.is_empty() {
                None
            } else {
                Some(symbol.children.into_iter().map(|child| convert_symbol(file, child)).collect())
            },
        }
    }
    let symbols: Vec<lsp_types::DocumentSymbol> =
        ide::document_symbols(analysis, root).into_iter().map(|symbol| convert_symbol(file, symbol)).collect();
    to_value(lsp_types::DocumentSymbolResponse::Nested(symbols))
}

fn workspace_symbols(server: &Server, params: lsp_types::WorkspaceSymbolParams) -> Answer {
    // Every open document's program: its own declarations and those of what it imports.
    let mut seen = std::collections::HashSet::new();
    let mut found = Vec::new();
    for analysis in server.analyses.values() {
        for (symbol, container) in ide::workspace_symbols(analysis, &params.query) {
            let Some(location) = location(server, analysis, symbol.selection) else { continue };
            if !seen.insert((location.uri.as_str().to_owned(), symbol.selection.start, symbol.name.clone())) {
                continue;
            }
            found.push(WorkspaceSymbol {
                name: symbol.name,
                kind: symbol_kind(symbol.category),
                tags: None,
                container_name: container,
                location: OneOf::Left(location),
                data: None,
            });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    to_value(lsp_types::WorkspaceSymbolResponse::Nested(found))
}

fn prepare_rename(server: &Server, at: TextDocumentPositionParams) -> Answer {
    let Some((analysis, offset)) = locate(server, &at) else {
        return Ok(Value::Null);
    };
    match ide::prepare_rename(analysis, analysis.program.root, offset) {
        Ok(span) => {
            let Some(file) = analysis.sources().get(span.file) else { return Ok(Value::Null) };
            to_value(lsp_types::PrepareRenameResponse::Range(convert::range(file, span)))
        }
        Err(error) => Err((ErrorCode::RequestFailed, error.to_string())),
    }
}

fn rename(server: &Server, params: lsp_types::RenameParams) -> Answer {
    let Some((analysis, offset)) = locate(server, &params.text_document_position) else {
        return Ok(Value::Null);
    };
    let edits = ide::rename(analysis, analysis.program.root, offset, &params.new_name)
        .map_err(|error| (ErrorCode::RequestFailed, error.to_string()))?;
    // The protocol's `WorkspaceEdit::changes` is keyed by `Uri`, which clippy flags
    // for its cached parts; the keys are never changed while in the map.
    #[allow(clippy::mutable_key_type)]
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for (span, new_text) in edits {
        let Some(found) = location(server, analysis, span) else { continue };
        changes.entry(found.uri).or_default().push(TextEdit { range: found.range, new_text });
    }
    to_value(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() })
}

/// Quick fixes: the suggestions of the diagnostics that touch the range.
fn code_actions(server: &Server, params: lsp_types::CodeActionParams) -> Answer {
    let Some((document, analysis)) = server.document(&params.text_document.uri) else {
        return Ok(Value::Null);
    };
    let start = convert::offset(&document.text, params.range.start);
    let end = convert::offset(&document.text, params.range.end);
    let mut actions = Vec::new();
    for diagnostic in server.diagnostics_of(analysis) {
        let primary = diagnostic.primary_span();
        if (primary.start as usize) > end || (primary.end as usize) < start {
            continue;
        }
        let converted = convert::diagnostic(analysis.sources(), diagnostic);
        for suggestion in &diagnostic.suggestions {
            let Some(found) = location(server, analysis, suggestion.span) else { continue };
            #[allow(clippy::mutable_key_type)] // As in `rename`: the protocol's key type.
            let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
            changes.insert(found.uri, vec![TextEdit { range: found.range, new_text: suggestion.replacement.clone() }]);
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: suggestion.message.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: converted.clone().map(|converted| vec![converted]),
                edit: Some(WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }),
                is_preferred: Some(suggestion.applicability == Applicability::MachineApplicable),
                ..CodeAction::default()
            }));
        }
    }
    to_value(actions)
}

/// The whole document in the canonical layout of `integ fmt`, as one edit;
/// nothing for a file with syntax errors (its diagnostics say why).
fn formatting(server: &Server, params: lsp_types::DocumentFormattingParams) -> Answer {
    let path = convert::uri_to_path(&params.text_document.uri);
    let Some(document) = server.documents.get(&path) else {
        return Ok(Value::Null);
    };
    match integ_compiler::fmt::format(&document.text) {
        Ok(formatted) if formatted == document.text => to_value(Vec::<TextEdit>::new()),
        Ok(formatted) => {
            let file = integ_compiler::source::SourceFile::new(
                path.clone(),
                document.text.as_str(),
                integ_compiler::source::Origin::User,
            );
            let whole =
                lsp_types::Range { start: Position::default(), end: convert::position(&file, document.text.len()) };
            to_value(vec![TextEdit { range: whole, new_text: formatted }])
        }
        Err(integ_compiler::fmt::FormatError::Syntax { .. }) => Ok(Value::Null),
        Err(error) => Err((ErrorCode::RequestFailed, error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_refused() {
        let mut server = Server::default();
        let request = Request { id: 1.into(), method: "textDocument/foldingRange".to_owned(), params: Value::Null };
        let answer = handle(&mut server, request);
        assert!(matches!(answer, Err((ErrorCode::MethodNotFound, _))));
        let request = Request { id: 2.into(), method: "textDocument/hover".to_owned(), params: Value::Null };
        assert!(matches!(handle(&mut server, request), Err((ErrorCode::InvalidParams, _))));
    }
}
