//! The program's types, as the runtime needs them: for decoding responses,
//! payloads and fixtures straight into [`crate::Value`]s, and for encoding
//! values back to JSON, forms, XML and text.
//!
//! Both back ends build a [`Schema`]: the interpreter from the checked
//! program, generated code from constants. Records and enums are referred to
//! by their index in the schema.

use std::collections::HashMap;

/// Wire format of a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NumberFormat {
    /// A JSON number.
    #[default]
    Number,
    /// A JSON string holding the number (`@format(string)`).
    String,
}

/// Wire format of a DateTime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DateTimeFormat {
    #[default]
    Rfc3339,
    /// Seconds since the epoch, as a JSON number.
    Unix,
    /// Milliseconds since the epoch, as a JSON integer.
    UnixMs,
    Rfc2822,
}

/// Wire format of a Duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DurationFormat {
    /// `"PT90S"`.
    #[default]
    Iso8601,
    Seconds,
    Milliseconds,
}

/// A type, with its wire format.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeDesc {
    Int(NumberFormat),
    Float(NumberFormat),
    Decimal(NumberFormat),
    Bool,
    String,
    DateTime(DateTimeFormat),
    Date,
    Duration(DurationFormat),
    Json,
    Optional(Box<TypeDesc>),
    List(Box<TypeDesc>),
    /// `{String: T}`.
    Map(Box<TypeDesc>),
    /// Index into [`Schema::records`].
    Record(u32),
    /// Index into [`Schema::enums`].
    Enum(u32),
}

impl TypeDesc {
    /// The name of the type as integ writes it, for error messages.
    pub fn describe(&self, schema: &Schema) -> String {
        match self {
            TypeDesc::Int(_) => "Int".to_owned(),
            TypeDesc::Float(_) => "Float".to_owned(),
            TypeDesc::Decimal(_) => "Decimal".to_owned(),
            TypeDesc::Bool => "Bool".to_owned(),
            TypeDesc::String => "String".to_owned(),
            TypeDesc::DateTime(_) => "DateTime".to_owned(),
            TypeDesc::Date => "Date".to_owned(),
            TypeDesc::Duration(_) => "Duration".to_owned(),
            TypeDesc::Json => "Json".to_owned(),
            TypeDesc::Optional(inner) => format!("{}?", inner.describe(schema)),
            TypeDesc::List(inner) => format!("[{}]", inner.describe(schema)),
            TypeDesc::Map(inner) => format!("{{String: {}}}", inner.describe(schema)),
            TypeDesc::Record(index) => schema
                .records
                .get(*index as usize)
                .map(|record| record.name.clone())
                .unwrap_or_else(|| "record".to_owned()),
            TypeDesc::Enum(index) => schema
                .enums
                .get(*index as usize)
                .map(|definition| definition.name.clone())
                .unwrap_or_else(|| "enum".to_owned()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldDesc {
    pub name: String,
    /// The member name on the wire (`@wire`), or the field name.
    pub wire: String,
    pub ty: TypeDesc,
    /// Whether decoding keeps it. A field the program never reads is checked
    /// (its type, a member given twice, a missing member) but its value is not
    /// built: it holds `none`.
    pub read: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecordDesc {
    pub name: String,
    pub fields: Vec<FieldDesc>,
    /// An object literal's type, or the arguments of an endpoint.
    pub anonymous: bool,
    by_wire: HashMap<String, u32>,
}

impl RecordDesc {
    pub fn new(name: impl Into<String>, fields: Vec<FieldDesc>, anonymous: bool) -> RecordDesc {
        let by_wire = fields.iter().enumerate().map(|(index, field)| (field.wire.clone(), index as u32)).collect();
        RecordDesc { name: name.into(), fields, anonymous, by_wire }
    }

    /// The index of the field whose wire name is `wire`.
    pub fn field_by_wire(&self, wire: &str) -> Option<u32> {
        self.by_wire.get(wire).copied()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct VariantDesc {
    pub name: String,
    pub wire: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumDesc {
    pub name: String,
    pub variants: Vec<VariantDesc>,
    /// The `@other` variant unknown wire strings decode to.
    pub other: Option<u32>,
}

impl EnumDesc {
    pub fn variant_by_wire(&self, wire: &str) -> Option<u32> {
        self.variants.iter().position(|variant| variant.wire == wire).map(|index| index as u32)
    }
}

/// Every record and enum type of a program.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    pub records: Vec<RecordDesc>,
    pub enums: Vec<EnumDesc>,
}

impl Schema {
    pub fn record(&self, index: u32) -> Option<&RecordDesc> {
        self.records.get(index as usize)
    }

    pub fn enumeration(&self, index: u32) -> Option<&EnumDesc> {
        self.enums.get(index as usize)
    }
}
