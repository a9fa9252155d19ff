//! Values: what integ programs compute with at run time.
//!
//! One [`Value`] type serves the interpreter, the natives of the standard
//! library, decoding and encoding. A value does not carry its full type: the
//! program's types are known before it runs (see [`crate::types::Schema`]),
//! so records hold their fields by index and enums their variant by index.
//! Cloning is cheap: strings, lists, maps, records and Json are shared
//! (`Arc`), scalars are copied.

use std::cmp::Ordering;
use std::sync::Arc;

use rust_decimal::Decimal;

/// Shared, immutable text.
pub type Str = Arc<str>;

/// An instant with the UTC offset it was written in, nanosecond precision.
/// Two DateTimes are equal when they denote the same instant.
#[derive(Clone, Copy, Debug)]
pub struct DateTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
    /// The offset from UTC the instant is shown in, in seconds.
    pub offset_seconds: i32,
}

impl DateTime {
    pub fn from_timestamp(timestamp: jiff::Timestamp, offset: jiff::tz::Offset) -> DateTime {
        DateTime {
            seconds: timestamp.as_second(),
            nanos: timestamp.subsec_nanosecond().rem_euclid(1_000_000_000) as u32,
            offset_seconds: offset.seconds(),
        }
        .normalized(timestamp)
    }

    /// Fixes up `seconds` for instants before the epoch with a fraction.
    fn normalized(mut self, timestamp: jiff::Timestamp) -> DateTime {
        if timestamp.subsec_nanosecond() < 0 {
            self.seconds -= 1;
        }
        self
    }

    pub fn timestamp(self) -> jiff::Timestamp {
        jiff::Timestamp::new(self.seconds, self.nanos as i32).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    pub fn offset(self) -> jiff::tz::Offset {
        jiff::tz::Offset::from_seconds(self.offset_seconds).unwrap_or(jiff::tz::Offset::UTC)
    }

    /// Nanoseconds since the epoch, for comparisons.
    pub fn instant_nanos(self) -> i128 {
        i128::from(self.seconds) * 1_000_000_000 + i128::from(self.nanos)
    }
}

impl PartialEq for DateTime {
    fn eq(&self, other: &DateTime) -> bool {
        self.instant_nanos() == other.instant_nanos()
    }
}

impl Eq for DateTime {}

impl PartialOrd for DateTime {
    fn partial_cmp(&self, other: &DateTime) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DateTime {
    fn cmp(&self, other: &DateTime) -> Ordering {
        self.instant_nanos().cmp(&other.instant_nanos())
    }
}

/// A signed length of time, millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    pub millis: i64,
}

/// A record's fields, by index, with the record type's index in the schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub ty: u32,
    pub fields: Box<[Value]>,
}

/// A value at run time.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `none`, and a JSON `null` in `Json`.
    #[default]
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Decimal(Decimal),
    String(Str),
    DateTime(DateTime),
    Date(jiff::civil::Date),
    Duration(Duration),
    /// A variant of enum type `ty`, by index.
    Enum {
        ty: u32,
        variant: u32,
    },
    List(Arc<Vec<Value>>),
    /// `{String: T}`, in insertion order.
    Map(Arc<Vec<(Str, Value)>>),
    Record(Arc<Record>),
    /// Any JSON value, passed through untouched.
    Json(Arc<serde_json::Value>),
    /// A function passed as an argument (a lambda, or a function or map
    /// passed by name), by the interpreter's index. Natives call it through
    /// `natives::Context::call`; it is never encoded.
    Function(u32),
}

impl Value {
    pub fn string(text: impl Into<Str>) -> Value {
        Value::String(text.into())
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    pub fn record(ty: u32, fields: Vec<Value>) -> Value {
        Value::Record(Arc::new(Record { ty, fields: fields.into_boxed_slice() }))
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "none",
            Value::Bool(_) => "Bool",
            Value::Int(_) => "Int",
            Value::Float(_) => "Float",
            Value::Decimal(_) => "Decimal",
            Value::String(_) => "String",
            Value::DateTime(_) => "DateTime",
            Value::Date(_) => "Date",
            Value::Duration(_) => "Duration",
            Value::Enum { .. } => "enum",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Record(_) => "record",
            Value::Json(_) => "Json",
            Value::Function(_) => "function",
        }
    }

    /// Ordering between two values of the same comparable type (numbers may
    /// mix Int with Decimal or Float). `None` for values that do not order.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Decimal(a), Value::Decimal(b)) => Some(a.cmp(b)),
            (Value::Int(a), Value::Decimal(b)) => Some(Decimal::from(*a).cmp(b)),
            (Value::Decimal(a), Value::Int(b)) => Some(a.cmp(&Decimal::from(*b))),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
            (Value::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
            (Value::String(a), Value::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::DateTime(a), Value::DateTime(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            (Value::Duration(a), Value::Duration(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Enum { variant: a, .. }, Value::Enum { variant: b, .. }) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// Equality as integ defines it: Decimals by value (`12.50 == 12.5`),
/// DateTimes by instant, records and lists field by field, Ints equal to
/// Decimals and Floats of the same value.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::None, Value::None) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Enum { ty: a, variant: x }, Value::Enum { ty: b, variant: y }) => a == b && x == y,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Record(a), Value::Record(b)) => a.fields == b.fields,
            (Value::Json(a), Value::Json(b)) => a == b,
            (Value::Json(a), other) | (other, Value::Json(a)) => json_equals_scalar(a, other),
            (Value::None, _) | (_, Value::None) => false,
            _ => self.compare(other) == Some(Ordering::Equal),
        }
    }
}

/// A Json scalar compared with a typed scalar (in response expressions,
/// `body.has_more == true`).
fn json_equals_scalar(json: &serde_json::Value, other: &Value) -> bool {
    match (json, other) {
        (serde_json::Value::Null, Value::None) => true,
        (serde_json::Value::Bool(a), Value::Bool(b)) => a == b,
        (serde_json::Value::String(a), Value::String(b)) => a.as_str() == &**b,
        (serde_json::Value::Number(number), Value::Int(b)) => number.as_i64() == Some(*b),
        (serde_json::Value::Number(number), Value::Float(b)) => number.as_f64() == Some(*b),
        (serde_json::Value::Number(number), Value::Decimal(b)) => {
            number.to_string().parse::<Decimal>().is_ok_and(|a| a == *b)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_small() {
        assert!(std::mem::size_of::<Value>() <= 24, "Value is {} bytes", std::mem::size_of::<Value>());
    }

    #[test]
    fn decimals_compare_by_value_and_mix_with_ints() {
        let twelve_fifty = Value::Decimal(Decimal::new(1250, 2));
        let twelve_five = Value::Decimal(Decimal::new(125, 1));
        assert_eq!(twelve_fifty, twelve_five);
        assert_eq!(Value::Int(3), Value::Decimal(Decimal::new(300, 2)));
        assert_eq!(Value::Int(3).compare(&Value::Decimal(Decimal::new(301, 2))), Some(Ordering::Less));
    }

    #[test]
    fn datetimes_are_equal_as_instants() {
        let utc = DateTime { seconds: 1_700_000_000, nanos: 0, offset_seconds: 0 };
        let paris = DateTime { offset_seconds: 3600, ..utc };
        assert_eq!(Value::DateTime(utc), Value::DateTime(paris));
    }
}
