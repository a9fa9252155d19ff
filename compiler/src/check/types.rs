//! Types as the checker sees them.
//!
//! In: resolved type expressions. Out: [`Ty`] values, the [`TypeTable`] of
//! records and enums (named and anonymous), assignability and display. A
//! [`Ty::Error`] stands for a type that was already reported, so one mistake
//! never cascades into many.

use std::collections::HashMap;
use std::fmt;

use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnumId(pub u32);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    Int,
    Float,
    Decimal,
    Bool,
    String,
    DateTime,
    Date,
    Duration,
    Json,
    /// A secret's value: a String that may flow only into auth and headers.
    Secret,
    Record(RecordId),
    Enum(EnumId),
    Optional(Box<Ty>),
    List(Box<Ty>),
    /// `{String: T}`.
    Map(Box<Ty>),
    Fn(Vec<Ty>, Box<Ty>),
    /// What calling a stream endpoint gives: iterable once, by `for`.
    Stream(Box<Ty>),
    /// No value: a no-content endpoint, a statement.
    Unit,
    /// The type of the `none` literal before it meets an optional.
    None,
    /// A type parameter of a generic function, during one call.
    Var(u32),
    /// Already reported; compatible with everything.
    Error,
}

/// Bounds on type parameters of natives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Comparable,
    Numeric,
}

impl Bound {
    pub fn parse(name: &str) -> Option<Bound> {
        match name {
            "Comparable" => Some(Bound::Comparable),
            "Numeric" => Some(Bound::Numeric),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Bound::Comparable => "Comparable",
            Bound::Numeric => "Numeric",
        }
    }

    pub fn admits(self, ty: &Ty) -> bool {
        match self {
            Bound::Comparable => matches!(
                ty,
                Ty::Int | Ty::Float | Ty::Decimal | Ty::String | Ty::DateTime | Ty::Date | Ty::Duration | Ty::Error
            ),
            Bound::Numeric => matches!(ty, Ty::Int | Ty::Float | Ty::Decimal | Ty::Error),
        }
    }
}

/// The built-in scalar types by name.
pub const SCALARS: &[(&str, Ty)] = &[
    ("Int", Ty::Int),
    ("Float", Ty::Float),
    ("Decimal", Ty::Decimal),
    ("Bool", Ty::Bool),
    ("String", Ty::String),
    ("DateTime", Ty::DateTime),
    ("Date", Ty::Date),
    ("Duration", Ty::Duration),
    ("Json", Ty::Json),
];

/// Names that user declarations may not take.
pub const RESERVED_TYPE_NAMES: &[&str] =
    &["Int", "Float", "Decimal", "Bool", "String", "DateTime", "Date", "Duration", "Json", "Secret"];

impl Ty {
    pub fn optional(self) -> Ty {
        match self {
            Ty::Optional(_) | Ty::Error | Ty::None => self,
            other => Ty::Optional(Box::new(other)),
        }
    }

    pub fn list(self) -> Ty {
        Ty::List(Box::new(self))
    }

    pub fn is_optional(&self) -> bool {
        matches!(self, Ty::Optional(_) | Ty::None)
    }

    /// The type inside an optional, or the type itself.
    pub fn unwrap_optional(&self) -> &Ty {
        match self {
            Ty::Optional(inner) => inner,
            other => other,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }

    /// Scalars: what may go into a path segment, a query value or a form field.
    pub fn is_scalar(&self) -> bool {
        matches!(
            self,
            Ty::Int
                | Ty::Float
                | Ty::Decimal
                | Ty::Bool
                | Ty::String
                | Ty::DateTime
                | Ty::Date
                | Ty::Duration
                | Ty::Enum(_)
                | Ty::Error
        )
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Decimal)
    }

    /// Whether the type mentions a type variable.
    pub fn has_vars(&self) -> bool {
        match self {
            Ty::Var(_) => true,
            Ty::Optional(inner) | Ty::List(inner) | Ty::Map(inner) | Ty::Stream(inner) => inner.has_vars(),
            Ty::Fn(params, ret) => params.iter().any(Ty::has_vars) || ret.has_vars(),
            _ => false,
        }
    }

    pub fn contains_error(&self) -> bool {
        match self {
            Ty::Error => true,
            Ty::Optional(inner) | Ty::List(inner) | Ty::Map(inner) | Ty::Stream(inner) => inner.contains_error(),
            Ty::Fn(params, ret) => params.iter().any(Ty::contains_error) || ret.contains_error(),
            _ => false,
        }
    }
}

/// A field of a record.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDef {
    pub name: String,
    pub ty: Ty,
    /// The name on the wire (`@wire`), or the field name.
    pub wire: String,
    /// `@format(...)` for DateTime and Duration fields.
    pub format: Option<String>,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecordDef {
    pub name: String,
    pub fields: Vec<FieldDef>,
    pub span: Span,
    pub doc: Option<String>,
    /// Object literals without a type name, endpoint parameter records, flow counters.
    pub anonymous: bool,
    index: HashMap<String, usize>,
}

impl RecordDef {
    pub fn new(name: String, span: Span, doc: Option<String>, anonymous: bool) -> RecordDef {
        RecordDef { name, fields: Vec::new(), span, doc, anonymous, index: HashMap::new() }
    }

    /// Adds a field unless one of that name exists; returns the index of the existing one.
    pub fn push(&mut self, field: FieldDef) -> Result<(), usize> {
        if let Some(&existing) = self.index.get(&field.name) {
            return Err(existing);
        }
        self.index.insert(field.name.clone(), self.fields.len());
        self.fields.push(field);
        Ok(())
    }

    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.index.get(name).and_then(|&index| self.fields.get(index))
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct VariantDef {
    pub name: String,
    pub wire: String,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumDef {
    pub name: String,
    pub variants: Vec<VariantDef>,
    pub span: Span,
    pub doc: Option<String>,
    /// The `@other` variant, which unknown wire values decode to.
    pub other: Option<usize>,
}

impl EnumDef {
    pub fn variant(&self, name: &str) -> Option<usize> {
        self.variants.iter().position(|variant| variant.name == name)
    }
}

/// Every record and enum of a program.
#[derive(Clone, Debug, Default)]
pub struct TypeTable {
    pub records: Vec<RecordDef>,
    pub enums: Vec<EnumDef>,
}

impl TypeTable {
    pub fn add_record(&mut self, record: RecordDef) -> RecordId {
        self.records.push(record);
        RecordId((self.records.len() - 1) as u32)
    }

    pub fn add_enum(&mut self, definition: EnumDef) -> EnumId {
        self.enums.push(definition);
        EnumId((self.enums.len() - 1) as u32)
    }

    pub fn record(&self, id: RecordId) -> Option<&RecordDef> {
        self.records.get(id.0 as usize)
    }

    pub fn record_mut(&mut self, id: RecordId) -> Option<&mut RecordDef> {
        self.records.get_mut(id.0 as usize)
    }

    pub fn enumeration(&self, id: EnumId) -> Option<&EnumDef> {
        self.enums.get(id.0 as usize)
    }

    /// Shows a type as the user writes it.
    pub fn display<'a>(&'a self, ty: &'a Ty) -> TyDisplay<'a> {
        TyDisplay { table: self, ty }
    }

    /// Whether a value of type `from` may be used where `to` is expected.
    pub fn assignable(&self, from: &Ty, to: &Ty) -> bool {
        if from == to {
            return true;
        }
        match (from, to) {
            (Ty::Error, _) | (_, Ty::Error) => true,
            (Ty::None, Ty::Optional(_)) => true,
            (_, Ty::Json) => !matches!(from, Ty::Secret | Ty::Fn(..) | Ty::Stream(_) | Ty::Unit),
            (Ty::Secret, Ty::String) => true,
            (Ty::Optional(inner_from), Ty::Optional(inner_to)) => self.assignable(inner_from, inner_to),
            (_, Ty::Optional(inner_to)) => self.assignable(from, inner_to),
            (Ty::List(a), Ty::List(b)) | (Ty::Map(a), Ty::Map(b)) | (Ty::Stream(a), Ty::Stream(b)) => {
                self.assignable(a, b)
            }
            (Ty::Record(a), Ty::Record(b)) => self.records_compatible(*a, *b),
            _ => false,
        }
    }

    /// Two object literals with the same fields, in the same order, have the
    /// same shape. (A named record is built by naming it or by an expected
    /// type, never converted from an anonymous one: the field order of the
    /// value would not be the record's.)
    fn records_compatible(&self, from: RecordId, to: RecordId) -> bool {
        let (Some(from_def), Some(to_def)) = (self.record(from), self.record(to)) else {
            return false;
        };
        from_def.anonymous
            && to_def.anonymous
            && from_def.fields.len() == to_def.fields.len()
            && from_def
                .fields
                .iter()
                .zip(&to_def.fields)
                .all(|(field, target)| field.name == target.name && self.assignable(&field.ty, &target.ty))
    }
}

pub struct TyDisplay<'a> {
    table: &'a TypeTable,
    ty: &'a Ty,
}

impl fmt::Display for TyDisplay<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.table;
        match self.ty {
            Ty::Int => formatter.write_str("Int"),
            Ty::Float => formatter.write_str("Float"),
            Ty::Decimal => formatter.write_str("Decimal"),
            Ty::Bool => formatter.write_str("Bool"),
            Ty::String => formatter.write_str("String"),
            Ty::DateTime => formatter.write_str("DateTime"),
            Ty::Date => formatter.write_str("Date"),
            Ty::Duration => formatter.write_str("Duration"),
            Ty::Json => formatter.write_str("Json"),
            Ty::Secret => formatter.write_str("Secret"),
            Ty::Record(id) => match table.record(*id) {
                Some(record) if record.anonymous && record.name.is_empty() => {
                    formatter.write_str("{ ")?;
                    for (index, field) in record.fields.iter().enumerate() {
                        if index > 0 {
                            formatter.write_str(", ")?;
                        }
                        write!(formatter, "{}: {}", field.name, table.display(&field.ty))?;
                    }
                    formatter.write_str(" }")
                }
                Some(record) => formatter.write_str(&record.name),
                None => formatter.write_str("?"),
            },
            Ty::Enum(id) => formatter.write_str(table.enumeration(*id).map(|e| e.name.as_str()).unwrap_or("?")),
            Ty::Optional(inner) => write!(formatter, "{}?", table.display(inner)),
            Ty::List(inner) => write!(formatter, "[{}]", table.display(inner)),
            Ty::Map(inner) => write!(formatter, "{{String: {}}}", table.display(inner)),
            Ty::Fn(params, ret) => {
                formatter.write_str("fn(")?;
                for (index, param) in params.iter().enumerate() {
                    if index > 0 {
                        formatter.write_str(", ")?;
                    }
                    write!(formatter, "{}", table.display(param))?;
                }
                write!(formatter, ") -> {}", table.display(ret))
            }
            Ty::Stream(inner) => write!(formatter, "stream {}", table.display(inner)),
            Ty::Unit => formatter.write_str("nothing"),
            Ty::None => formatter.write_str("none"),
            Ty::Var(index) => write!(formatter, "{}", var_name(*index)),
            Ty::Error => formatter.write_str("{unknown}"),
        }
    }
}

fn var_name(index: u32) -> String {
    match index {
        0 => "T".to_owned(),
        1 => "U".to_owned(),
        2 => "V".to_owned(),
        other => format!("T{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignability_wraps_optionals_and_accepts_none() {
        let table = TypeTable::default();
        assert!(table.assignable(&Ty::Int, &Ty::Int.optional()));
        assert!(table.assignable(&Ty::None, &Ty::String.optional()));
        assert!(!table.assignable(&Ty::Int.optional(), &Ty::Int));
        assert!(!table.assignable(&Ty::Int, &Ty::Decimal));
        assert!(table.assignable(&Ty::Int.list(), &Ty::Json));
        assert!(!table.assignable(&Ty::Secret, &Ty::Json));
        assert_eq!(table.display(&Ty::Map(Box::new(Ty::Int.optional()))).to_string(), "{String: Int?}");
    }
}
