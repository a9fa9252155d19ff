//! Rust names for integ names: types keep their names, enum variants become
//! UpperCamelCase, fields and functions stay snake_case, and Rust keywords
//! are escaped (`r#type`, `self_`).

use std::collections::{BTreeSet, HashMap, HashSet};

use proc_macro2::{Ident, Span};

use crate::check::types::{EnumId, RecordId};
use crate::ir;

/// Words Rust reserves. Those a raw identifier cannot spell take a trailing `_`.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "box", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
    "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override",
    "priv", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield", "abstract", "become", "do",
];

const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// A Rust identifier for `name`, escaped when it is a keyword; `None` when
/// `name` is not an identifier at all.
pub(super) fn rust_ident(name: &str) -> Option<Ident> {
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_') || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    if NOT_RAW.contains(&name) {
        return Some(Ident::new(&format!("{name}_"), Span::call_site()));
    }
    if KEYWORDS.contains(&name) {
        return Some(Ident::new_raw(name, Span::call_site()));
    }
    Some(Ident::new(name, Span::call_site()))
}

/// `repeat_customer` → `RepeatCustomer`, `USD` → `Usd`.
pub(super) fn upper_camel(name: &str) -> String {
    let mut out = String::new();
    for word in name.split('_').filter(|word| !word.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            let rest: String = chars.collect();
            if word.chars().all(|c| !c.is_ascii_lowercase()) {
                out.push_str(&rest.to_ascii_lowercase());
            } else {
                out.push_str(&rest);
            }
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// The Rust names of the generated types, their fields and variants.
pub(super) struct Names {
    records: HashMap<u32, Ident>,
    enums: HashMap<u32, Ident>,
    fields: HashMap<(u32, usize), Ident>,
    variants: HashMap<(u32, usize), Ident>,
}

impl Names {
    pub(super) fn new(program: &ir::Program, records: &BTreeSet<u32>, enums: &BTreeSet<u32>) -> Names {
        let mut taken: HashSet<String> = HashSet::new();
        let mut unique = |wanted: String| {
            let mut name = wanted.clone();
            let mut counter = 2;
            while !taken.insert(name.clone()) {
                name = format!("{wanted}{counter}");
                counter += 1;
            }
            name
        };
        let mut names =
            Names { records: HashMap::new(), enums: HashMap::new(), fields: HashMap::new(), variants: HashMap::new() };
        for index in records {
            let Some(record) = program.types.record(RecordId(*index)) else { continue };
            let wanted = if record.anonymous || rust_ident(&record.name).is_none() {
                format!("Record{index}")
            } else {
                record.name.clone()
            };
            let name = unique(wanted);
            names.records.insert(*index, ident_or(&name, "Record"));
            for (position, field) in record.fields.iter().enumerate() {
                let ident = rust_ident(&field.name)
                    .unwrap_or_else(|| Ident::new(&format!("field{position}"), Span::call_site()));
                names.fields.insert((*index, position), ident);
            }
        }
        for index in enums {
            let Some(definition) = program.types.enumeration(EnumId(*index)) else { continue };
            let name = unique(definition.name.clone());
            names.enums.insert(*index, ident_or(&name, "Enum"));
            let mut variant_names: HashSet<String> = HashSet::new();
            for (position, variant) in definition.variants.iter().enumerate() {
                let mut name = upper_camel(&variant.name);
                if !variant_names.insert(name.clone()) {
                    name = format!("{name}{position}");
                    variant_names.insert(name.clone());
                }
                names.variants.insert((*index, position), ident_or(&name, "Variant"));
            }
        }
        names
    }

    pub(super) fn record(&self, index: u32) -> Ident {
        self.records.get(&index).cloned().unwrap_or_else(|| Ident::new(&format!("Record{index}"), Span::call_site()))
    }

    pub(super) fn enumeration(&self, index: u32) -> Ident {
        self.enums.get(&index).cloned().unwrap_or_else(|| Ident::new(&format!("Enum{index}"), Span::call_site()))
    }

    pub(super) fn field(&self, record: u32, position: usize) -> Ident {
        self.fields
            .get(&(record, position))
            .cloned()
            .unwrap_or_else(|| Ident::new(&format!("field{position}"), Span::call_site()))
    }

    pub(super) fn variant(&self, enumeration: u32, position: usize) -> Ident {
        self.variants
            .get(&(enumeration, position))
            .cloned()
            .unwrap_or_else(|| Ident::new(&format!("Variant{position}"), Span::call_site()))
    }
}

fn ident_or(name: &str, fallback: &str) -> Ident {
    rust_ident(name).unwrap_or_else(|| Ident::new(fallback, Span::call_site()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_escaped_and_variants_camel_cased() {
        assert_eq!(rust_ident("type").map(|ident| ident.to_string()), Some("r#type".to_owned()));
        assert_eq!(rust_ident("self").map(|ident| ident.to_string()), Some("self_".to_owned()));
        assert_eq!(rust_ident("order-id"), None);
        assert_eq!(upper_camel("repeat_customer"), "RepeatCustomer");
        assert_eq!(upper_camel("USD"), "Usd");
        assert_eq!(upper_camel("v2"), "V2");
        assert_eq!(upper_camel("2fa"), "V2fa");
    }
}
