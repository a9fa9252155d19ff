//! The checked types as the runtime's [`Schema`] and [`TypeDesc`]s.

use integ_runtime::types::{
    DateTimeFormat, DurationFormat, EnumDesc, FieldDesc, NumberFormat, RecordDesc, Schema, TypeDesc, VariantDesc,
};

use crate::check::types::{FieldDef, Ty, TypeTable};

/// Builds the runtime schema: record and enum indexes are the checker's.
/// `read` says whether the program ever reads a field; decoding skips the others.
pub fn schema(types: &TypeTable, read: impl Fn(u32, u32) -> bool) -> Schema {
    let records = types
        .records
        .iter()
        .enumerate()
        .map(|(record_index, record)| {
            let fields = record
                .fields
                .iter()
                .enumerate()
                .map(|(field_index, field)| FieldDesc {
                    name: field.name.clone(),
                    wire: field.wire.clone(),
                    ty: field_desc(field),
                    read: read(record_index as u32, field_index as u32),
                })
                .collect();
            RecordDesc::new(record.name.clone(), fields, record.anonymous)
        })
        .collect();
    let enums = types
        .enums
        .iter()
        .map(|definition| EnumDesc {
            name: definition.name.clone(),
            variants: definition
                .variants
                .iter()
                .map(|variant| VariantDesc { name: variant.name.clone(), wire: variant.wire.clone() })
                .collect(),
            other: definition.other.map(|index| index as u32),
        })
        .collect();
    Schema { records, enums }
}

/// A field's type with its `@format`.
fn field_desc(field: &FieldDef) -> TypeDesc {
    with_format(&field.ty, field.format.as_deref())
}

fn with_format(ty: &Ty, format: Option<&str>) -> TypeDesc {
    match (ty, format) {
        (Ty::Optional(inner), _) => TypeDesc::Optional(Box::new(with_format(inner, format))),
        (Ty::List(inner), _) => TypeDesc::List(Box::new(with_format(inner, format))),
        (Ty::Int, Some("string")) => TypeDesc::Int(NumberFormat::String),
        (Ty::Float, Some("string")) => TypeDesc::Float(NumberFormat::String),
        (Ty::Decimal, Some("string")) => TypeDesc::Decimal(NumberFormat::String),
        (Ty::DateTime, Some("unix")) => TypeDesc::DateTime(DateTimeFormat::Unix),
        (Ty::DateTime, Some("unix_ms")) => TypeDesc::DateTime(DateTimeFormat::UnixMs),
        (Ty::DateTime, Some("rfc2822")) => TypeDesc::DateTime(DateTimeFormat::Rfc2822),
        (Ty::Duration, Some("seconds")) => TypeDesc::Duration(DurationFormat::Seconds),
        (Ty::Duration, Some("milliseconds")) => TypeDesc::Duration(DurationFormat::Milliseconds),
        _ => desc(ty),
    }
}

/// The runtime description of a type (default wire formats).
pub fn desc(ty: &Ty) -> TypeDesc {
    match ty {
        Ty::Int => TypeDesc::Int(NumberFormat::Number),
        Ty::Float => TypeDesc::Float(NumberFormat::Number),
        Ty::Decimal => TypeDesc::Decimal(NumberFormat::Number),
        Ty::Bool => TypeDesc::Bool,
        Ty::String | Ty::Secret => TypeDesc::String,
        Ty::DateTime => TypeDesc::DateTime(DateTimeFormat::Rfc3339),
        Ty::Date => TypeDesc::Date,
        Ty::Duration => TypeDesc::Duration(DurationFormat::Iso8601),
        Ty::Record(id) => TypeDesc::Record(id.0),
        Ty::Enum(id) => TypeDesc::Enum(id.0),
        Ty::Optional(inner) => TypeDesc::Optional(Box::new(desc(inner))),
        Ty::List(inner) | Ty::Stream(inner) => TypeDesc::List(Box::new(desc(inner))),
        Ty::Map(inner) => TypeDesc::Map(Box::new(desc(inner))),
        Ty::None => TypeDesc::Optional(Box::new(TypeDesc::Json)),
        Ty::Json | Ty::Fn(..) | Ty::Unit | Ty::Var(_) | Ty::Error => TypeDesc::Json,
    }
}
