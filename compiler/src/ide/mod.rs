//! Queries for editors: what the language server asks of a checked program.
//!
//! In: an [`Analysis`] (a root file, its imports, the checker's results), a
//! file and a byte offset. Out: plain values: definitions and references as
//! [`Span`]s, hovers as Markdown, completions, symbols and rename edits. No
//! IO and no protocol types: the CLI's `integ lsp` converts offsets to
//! positions and values to JSON. Entry points: [`definition`],
//! [`references`], [`hover`], [`complete`], [`document_symbols`],
//! [`workspace_symbols`], [`prepare_rename`] and [`rename`].
//!
//! ```
//! use integ_compiler::{check_source, ide};
//!
//! let text = "type Order { id: Int }\nfn id_of(o: Order) -> Int = o.id\n";
//! let analysis = check_source("main.integ", text);
//! let file = analysis.program.root;
//! let use_of_order = text.rfind("Order").unwrap();
//! let declared = ide::definition(&analysis, file, use_of_order).unwrap();
//! assert_eq!(&text[declared.range()], "Order");
//! assert_eq!(declared.start, 5);
//! ```

mod complete;
mod hover;
pub mod resolve;
mod symbols;
pub mod walk;

pub use complete::{Completion, CompletionKind, complete};
pub use hover::{Hover, hover};
pub use symbols::{DocumentSymbol, SymbolCategory, document_symbols, workspace_symbols};

use crate::Analysis;
use crate::source::{FileId, Span};
use resolve::{Definition, Resolver};
use walk::Occurrence;

/// The name at `offset` in `file`, if any: the innermost one whose span holds
/// the offset (a cursor just after a name counts as on it).
pub fn occurrence_at(analysis: &Analysis, file: FileId, offset: usize) -> Option<Occurrence<'_>> {
    let module = analysis.program.module(file)?;
    let mut best: Option<Occurrence<'_>> = None;
    let score = |occurrence: &Occurrence<'_>| {
        let span = occurrence.ident().span;
        // Inside beats touching the end; then the shorter span wins.
        let inside = (span.start as usize) <= offset && offset < (span.end as usize);
        (!inside, span.len())
    };
    walk::walk_module(&module.ast, &mut |occurrence| {
        if occurrence.ident().span.contains(offset)
            && best.as_ref().is_none_or(|current| score(&occurrence) < score(current))
        {
            best = Some(occurrence);
        }
    });
    best
}

/// What the name at `offset` refers to.
pub fn definition_at(analysis: &Analysis, file: FileId, offset: usize) -> Option<(Occurrence<'_>, Definition)> {
    let occurrence = occurrence_at(analysis, file, offset)?;
    let definition = Resolver::new(analysis).resolve(&occurrence)?;
    Some((occurrence, definition))
}

/// The span of the name that declares what the name at `offset` refers to.
pub fn definition(analysis: &Analysis, file: FileId, offset: usize) -> Option<Span> {
    definition_at(analysis, file, offset).map(|(_, definition)| definition.span)
}

/// Every place in the user's files that names what the name at `offset`
/// names, in file and source order; with `include_declaration`, the
/// declaring name too (when it is in a user file).
pub fn references(analysis: &Analysis, file: FileId, offset: usize, include_declaration: bool) -> Vec<Span> {
    let Some((_, definition)) = definition_at(analysis, file, offset) else {
        return Vec::new();
    };
    references_of(analysis, &definition, include_declaration)
}

fn references_of(analysis: &Analysis, definition: &Definition, include_declaration: bool) -> Vec<Span> {
    let resolver = Resolver::new(analysis);
    let mut found = Vec::new();
    for module in &analysis.program.modules {
        if analysis.program.is_std(module.file) {
            continue;
        }
        walk::walk_module(&module.ast, &mut |occurrence| {
            let span = occurrence.ident().span;
            if span == definition.span && !include_declaration {
                return;
            }
            if resolver.resolve(&occurrence).is_some_and(|resolved| resolved.span == definition.span) {
                found.push(span);
            }
        });
    }
    if include_declaration && !analysis.program.is_std(definition.span.file) && definition.span != Span::default() {
        found.push(definition.span);
    }
    found.sort();
    found.dedup();
    found
}

/// Why a name cannot be renamed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenameError {
    #[error("there is no name to rename here")]
    NoName,
    #[error("`{0}` is declared in the standard library and cannot be renamed")]
    Std(String),
    #[error("`{0}` is not a valid name: names start with a letter or `_` and go on with letters, digits and `_`")]
    InvalidName(String),
    #[error("`{0}` is a keyword")]
    Keyword(String),
}

/// The words the grammar reserves: no declaration, parameter or local may take one.
pub const KEYWORDS: &[&str] = &[
    "import", "secret", "type", "enum", "api", "endpoint", "auth", "map", "fn", "native", "policy", "flow", "test",
    "let", "for", "in", "where", "dedupe", "if", "else", "match", "state", "payload", "skip", "fail", "log", "stream",
    "catch", "expect", "given", "run", "true", "false", "none",
];

/// The span of the name at `offset` if it can be renamed.
pub fn prepare_rename(analysis: &Analysis, file: FileId, offset: usize) -> Result<Span, RenameError> {
    let (occurrence, definition) = definition_at(analysis, file, offset).ok_or(RenameError::NoName)?;
    if analysis.program.is_std(definition.span.file) {
        return Err(RenameError::Std(occurrence.ident().name.clone()));
    }
    Ok(occurrence.ident().span)
}

/// The edits that rename what the name at `offset` names to `new_name`,
/// everywhere in the user's files: (span, replacement) pairs.
pub fn rename(
    analysis: &Analysis,
    file: FileId,
    offset: usize,
    new_name: &str,
) -> Result<Vec<(Span, String)>, RenameError> {
    let mut characters = new_name.chars();
    let valid = characters.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|rest| rest.is_ascii_alphanumeric() || rest == '_');
    if !valid {
        return Err(RenameError::InvalidName(new_name.to_owned()));
    }
    if KEYWORDS.contains(&new_name) {
        return Err(RenameError::Keyword(new_name.to_owned()));
    }
    prepare_rename(analysis, file, offset)?;
    let (_, definition) = definition_at(analysis, file, offset).ok_or(RenameError::NoName)?;
    Ok(references_of(analysis, &definition, true).into_iter().map(|span| (span, new_name.to_owned())).collect())
}

#[cfg(test)]
mod tests;
