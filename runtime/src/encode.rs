//! Encoding values: JSON (§ 15.3 of spec.md), the text form of interpolation
//! (§ 5.8, § 15.4), form-urlencoded pairs and XML for request bodies (§ 10.7).
//!
//! Everything is written straight to a buffer, with no intermediate tree. The
//! declared type guides the wire format (`@format`) and, for records, comes
//! from the schema: a value encodes correctly even where its type is only
//! known to be `Json` (a record assigned to a `Json` field, say).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use rust_decimal::Decimal;

use crate::error::EvalError;
use crate::types::{DateTimeFormat, DurationFormat, NumberFormat, Schema, TypeDesc};
use crate::value::{DateTime, Duration, Value};

/// How deeply values may nest when encoded; deeper values are an error
/// rather than a risk to the stack.
pub const MAX_DEPTH: usize = 512;

// ====================================================================== JSON

/// Appends the compact JSON of `value` (of type `ty`) to `out` (§ 15.3).
///
/// Records are objects with their fields in declaration order under their
/// wire names, a `none` field left out (a `none` in a `Json` field is
/// `null`); enums are their wire names; Decimals keep their digits and scale;
/// Floats are in shortest round-trip form, and NaN or an infinity is an
/// [`EvalError::Encode`]; DateTimes, Durations and numbers follow the type's
/// `@format`. On an error, `out` may hold part of the document.
pub fn json(value: &Value, ty: &TypeDesc, schema: &Schema, out: &mut Vec<u8>) -> Result<(), EvalError> {
    JsonWriter { out, schema, lenient: false }.value(value, Some(ty), 0)
}

/// The compact JSON of `value` (of type `ty`), as a string.
pub fn json_string(value: &Value, ty: &TypeDesc, schema: &Schema) -> Result<String, EvalError> {
    let mut out = Vec::new();
    json(value, ty, schema, &mut out)?;
    String::from_utf8(out).map_err(|error| EvalError::Encode(error.to_string()))
}

/// `value` as a `serde_json::Value` (for `Json` conversions).
pub fn to_json_value(value: &Value, ty: &TypeDesc, schema: &Schema) -> Result<serde_json::Value, EvalError> {
    let mut bytes = Vec::new();
    json(value, ty, schema, &mut bytes)?;
    serde_json::from_slice(&bytes).map_err(|error| EvalError::Encode(error.to_string()))
}

struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
    schema: &'a Schema,
    /// For the text form, which cannot fail: NaN and infinities are `null`.
    lenient: bool,
}

impl JsonWriter<'_> {
    fn value(&mut self, value: &Value, ty: Option<&TypeDesc>, depth: usize) -> Result<(), EvalError> {
        let ty = strip_optional(ty);
        match value {
            Value::None => self.out.extend_from_slice(b"null"),
            Value::Bool(true) => self.out.extend_from_slice(b"true"),
            Value::Bool(false) => self.out.extend_from_slice(b"false"),
            Value::Int(int) => match ty {
                Some(TypeDesc::Int(NumberFormat::String) | TypeDesc::Decimal(NumberFormat::String)) => {
                    self.out.push(b'"');
                    write_int(self.out, *int);
                    self.out.push(b'"');
                }
                Some(TypeDesc::Float(format)) => self.float(*int as f64, *format)?,
                _ => write_int(self.out, *int),
            },
            Value::Float(float) => {
                let format = match ty {
                    Some(TypeDesc::Float(format)) => *format,
                    _ => NumberFormat::Number,
                };
                self.float(*float, format)?;
            }
            Value::Decimal(decimal) => {
                if let Some(TypeDesc::Decimal(NumberFormat::String)) = ty {
                    self.out.push(b'"');
                    write_decimal(self.out, decimal);
                    self.out.push(b'"');
                } else {
                    write_decimal(self.out, decimal);
                }
            }
            Value::String(text) => write_json_string(self.out, text),
            Value::DateTime(datetime) => {
                let format = match ty {
                    Some(TypeDesc::DateTime(format)) => *format,
                    _ => DateTimeFormat::Rfc3339,
                };
                match format {
                    DateTimeFormat::Unix | DateTimeFormat::UnixMs => write_datetime(self.out, *datetime, format)?,
                    DateTimeFormat::Rfc3339 | DateTimeFormat::Rfc2822 => {
                        self.out.push(b'"');
                        write_datetime(self.out, *datetime, format)?;
                        self.out.push(b'"');
                    }
                }
            }
            Value::Date(date) => {
                self.out.push(b'"');
                write_date(self.out, *date);
                self.out.push(b'"');
            }
            Value::Duration(duration) => {
                let format = match ty {
                    Some(TypeDesc::Duration(format)) => *format,
                    _ => DurationFormat::Iso8601,
                };
                if format == DurationFormat::Iso8601 {
                    self.out.push(b'"');
                    write_duration(self.out, *duration, format);
                    self.out.push(b'"');
                } else {
                    write_duration(self.out, *duration, format);
                }
            }
            Value::Enum { ty: index, variant } => {
                write_json_string(self.out, variant_wire(self.schema, *index, *variant)?)
            }
            Value::List(items) => {
                check_depth(depth)?;
                let inner = match ty {
                    Some(TypeDesc::List(inner)) => Some(&**inner),
                    _ => None,
                };
                self.out.push(b'[');
                for (position, item) in items.iter().enumerate() {
                    if position > 0 {
                        self.out.push(b',');
                    }
                    self.value(item, inner, depth + 1)?;
                }
                self.out.push(b']');
            }
            Value::Map(entries) => {
                check_depth(depth)?;
                let inner = match ty {
                    Some(TypeDesc::Map(inner)) => Some(&**inner),
                    _ => None,
                };
                self.out.push(b'{');
                for (position, (key, item)) in entries.iter().enumerate() {
                    if position > 0 {
                        self.out.push(b',');
                    }
                    write_json_string(self.out, key);
                    self.out.push(b':');
                    self.value(item, inner, depth + 1)?;
                }
                self.out.push(b'}');
            }
            Value::Record(record) => {
                check_depth(depth)?;
                let desc = self
                    .schema
                    .record(record.ty)
                    .ok_or_else(|| EvalError::Encode(format!("unknown record type #{}", record.ty)))?;
                if desc.fields.len() != record.fields.len() {
                    return Err(EvalError::Encode(format!(
                        "a `{}` record has {} fields, not {}",
                        desc.name,
                        desc.fields.len(),
                        record.fields.len()
                    )));
                }
                self.out.push(b'{');
                let mut first = true;
                for (field, item) in desc.fields.iter().zip(record.fields.iter()) {
                    if item.is_none() && !matches!(field.ty, TypeDesc::Json) {
                        continue;
                    }
                    if !first {
                        self.out.push(b',');
                    }
                    first = false;
                    write_json_string(self.out, &field.wire);
                    self.out.push(b':');
                    self.value(item, Some(&field.ty), depth + 1)?;
                }
                self.out.push(b'}');
            }
            Value::Json(json) => {
                serde_json::to_writer(&mut *self.out, &**json).map_err(|error| EvalError::Encode(error.to_string()))?
            }
            Value::Function(_) => return Err(EvalError::Encode("a function has no JSON form".to_owned())),
        }
        Ok(())
    }

    fn float(&mut self, float: f64, format: NumberFormat) -> Result<(), EvalError> {
        if !float.is_finite() {
            if self.lenient {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            return Err(EvalError::Encode(format!("the Float {} has no JSON form", float_text(float))));
        }
        if format == NumberFormat::String {
            self.out.push(b'"');
            write_float(self.out, float);
            self.out.push(b'"');
        } else {
            write_float(self.out, float);
        }
        Ok(())
    }
}

fn strip_optional(mut ty: Option<&TypeDesc>) -> Option<&TypeDesc> {
    while let Some(TypeDesc::Optional(inner)) = ty {
        ty = Some(inner);
    }
    ty
}

fn check_depth(depth: usize) -> Result<(), EvalError> {
    if depth >= MAX_DEPTH {
        return Err(EvalError::Encode(format!("the value nests deeper than {MAX_DEPTH} levels")));
    }
    Ok(())
}

fn variant_wire(schema: &Schema, index: u32, variant: u32) -> Result<&str, EvalError> {
    schema
        .enumeration(index)
        .and_then(|definition| definition.variants.get(variant as usize))
        .map(|variant| variant.wire.as_str())
        .ok_or_else(|| EvalError::Encode(format!("unknown variant #{variant} of enum #{index}")))
}

/// How JSON escapes each byte: 0 for none, `u` for `\u00XX`, else the letter
/// after the backslash.
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends `text` as a JSON string, quoted and escaped (`"`, `\` and control
/// characters; everything else is written as is, in UTF-8).
pub fn write_json_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPES[byte as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(bytes.get(start..index).unwrap_or_default());
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xF)]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

// ====================================================================== scalars

pub(crate) fn write_int(out: &mut Vec<u8>, int: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(int).as_bytes());
}

/// A finite Float in shortest round-trip form, `.0` for whole values
/// (`1.5`, `100.0`, `1e-7`, `1e16`).
pub(crate) fn write_float(out: &mut Vec<u8>, float: f64) {
    out.extend_from_slice(ryu::Buffer::new().format_finite(float).as_bytes());
}

/// A Float as text: shortest round-trip form, or `NaN`, `inf`, `-inf`.
pub(crate) fn float_text(float: f64) -> &'static str {
    if float.is_nan() {
        "NaN"
    } else if float > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

/// A Decimal in plain notation with its scale (`12.50`, `100`, `-0.05`),
/// never an exponent; zero has no sign.
pub(crate) fn write_decimal(out: &mut Vec<u8>, decimal: &Decimal) {
    let mantissa = decimal.mantissa();
    let scale = decimal.scale() as usize;
    if mantissa < 0 {
        out.push(b'-');
    }
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(mantissa.unsigned_abs()).as_bytes();
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + scale - digits.len(), b'0');
        out.extend_from_slice(digits);
    }
}

fn write_two(out: &mut Vec<u8>, value: u32) {
    out.push(b'0' + (value / 10 % 10) as u8);
    out.push(b'0' + (value % 10) as u8);
}

/// A year as four digits; years before 0 (which RFC 3339 cannot show) as
/// ISO 8601's expanded form (`-000001`).
fn write_year(out: &mut Vec<u8>, year: i64) {
    if (0..=9999).contains(&year) {
        let year = year as u32;
        write_two(out, year / 100);
        write_two(out, year % 100);
    } else {
        let text = format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.unsigned_abs());
        out.extend_from_slice(text.as_bytes());
    }
}

/// A proleptic Gregorian date from days since 1970-01-01 (H. Hinnant's
/// algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A DateTime in RFC 3339, in its own offset (`Z` for UTC), with fractional
/// seconds only when non-zero, in 3, 6 or 9 digits. An offset with seconds,
/// which RFC 3339 cannot show, is written `+HH:MM:SS`.
fn write_rfc3339(out: &mut Vec<u8>, datetime: DateTime) {
    let local = datetime.seconds.saturating_add(i64::from(datetime.offset_seconds));
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let second_of_day = local.rem_euclid(86_400) as u32;
    write_year(out, year);
    out.push(b'-');
    write_two(out, month);
    out.push(b'-');
    write_two(out, day);
    out.push(b'T');
    write_two(out, second_of_day / 3600);
    out.push(b':');
    write_two(out, second_of_day / 60 % 60);
    out.push(b':');
    write_two(out, second_of_day % 60);
    let nanos = datetime.nanos;
    if nanos != 0 {
        let (value, digits) = if nanos.is_multiple_of(1_000_000) {
            (nanos / 1_000_000, 3)
        } else if nanos.is_multiple_of(1000) {
            (nanos / 1000, 6)
        } else {
            (nanos, 9)
        };
        out.push(b'.');
        let mut buffer = itoa::Buffer::new();
        let text = buffer.format(value).as_bytes();
        out.resize(out.len() + digits - text.len().min(digits), b'0');
        out.extend_from_slice(text);
    }
    let offset = datetime.offset_seconds;
    if offset == 0 {
        out.push(b'Z');
    } else {
        out.push(if offset < 0 { b'-' } else { b'+' });
        let offset = offset.unsigned_abs();
        write_two(out, offset / 3600);
        out.push(b':');
        write_two(out, offset / 60 % 60);
        if !offset.is_multiple_of(60) {
            out.push(b':');
            write_two(out, offset % 60);
        }
    }
}

/// A DateTime in a wire format, without quotes.
pub(crate) fn write_datetime(out: &mut Vec<u8>, datetime: DateTime, format: DateTimeFormat) -> Result<(), EvalError> {
    match format {
        DateTimeFormat::Rfc3339 => write_rfc3339(out, datetime),
        // `seconds` is already rounded toward the past.
        DateTimeFormat::Unix => write_int(out, datetime.seconds),
        DateTimeFormat::UnixMs => {
            let millis = i128::from(datetime.seconds) * 1000 + i128::from(datetime.nanos / 1_000_000);
            out.extend_from_slice(itoa::Buffer::new().format(millis).as_bytes());
        }
        DateTimeFormat::Rfc2822 => write_rfc2822(out, datetime)?,
    }
    Ok(())
}

/// A DateTime in RFC 2822, in its own offset: `Fri, 01 Mar 2024 12:00:00
/// +0000` (whole seconds; an offset's seconds, which RFC 2822 cannot show,
/// are dropped and the time shown in the offset that remains). Years before
/// 0 are an error.
fn write_rfc2822(out: &mut Vec<u8>, datetime: DateTime) -> Result<(), EvalError> {
    const DAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let offset = datetime.offset_seconds / 60 * 60;
    let local = datetime.seconds.saturating_add(i64::from(offset));
    let days = local.div_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if year < 0 {
        return Err(EvalError::Encode(format!("the year {year} has no RFC 2822 form")));
    }
    // 1970-01-01 was a Thursday.
    out.extend_from_slice(DAYS[(days + 4).rem_euclid(7) as usize]);
    out.extend_from_slice(b", ");
    write_two(out, day);
    out.push(b' ');
    out.extend_from_slice(MONTHS[(month as usize).saturating_sub(1) % 12]);
    out.push(b' ');
    write_year(out, year);
    out.push(b' ');
    let second_of_day = local.rem_euclid(86_400) as u32;
    write_two(out, second_of_day / 3600);
    out.push(b':');
    write_two(out, second_of_day / 60 % 60);
    out.push(b':');
    write_two(out, second_of_day % 60);
    out.push(b' ');
    out.push(if offset < 0 { b'-' } else { b'+' });
    let offset = offset.unsigned_abs();
    write_two(out, offset / 3600);
    write_two(out, offset / 60 % 60);
    Ok(())
}

/// `YYYY-MM-DD`.
pub(crate) fn write_date(out: &mut Vec<u8>, date: jiff::civil::Date) {
    write_year(out, i64::from(date.year()));
    out.push(b'-');
    write_two(out, date.month() as u32);
    out.push(b'-');
    write_two(out, date.day() as u32);
}

/// A Duration in a wire format, without quotes: ISO 8601 in seconds
/// (`PT90S`, `PT0.25S`, `-PT5S`, `PT0S`), a number of seconds (`90`,
/// `0.25`), or an integer of milliseconds.
pub(crate) fn write_duration(out: &mut Vec<u8>, duration: Duration, format: DurationFormat) {
    let millis = duration.millis;
    match format {
        DurationFormat::Milliseconds => write_int(out, millis),
        DurationFormat::Iso8601 | DurationFormat::Seconds => {
            let iso = format == DurationFormat::Iso8601;
            if millis < 0 {
                out.push(b'-');
            }
            if iso {
                out.extend_from_slice(b"PT");
            }
            let magnitude = millis.unsigned_abs();
            out.extend_from_slice(itoa::Buffer::new().format(magnitude / 1000).as_bytes());
            let fraction = (magnitude % 1000) as u32;
            if fraction != 0 {
                out.push(b'.');
                out.push(b'0' + (fraction / 100) as u8);
                if !fraction.is_multiple_of(100) {
                    out.push(b'0' + (fraction / 10 % 10) as u8);
                    if !fraction.is_multiple_of(10) {
                        out.push(b'0' + (fraction % 10) as u8);
                    }
                }
            }
            if iso {
                out.push(b'S');
            }
        }
    }
}

// ====================================================================== text form

/// The text form of a value (§ 5.8, § 15.4), as string interpolation and
/// `string()` write it: a String as itself, an Int in decimal, a Float in
/// shortest round-trip form (`1.5`, `100.0`; `NaN`, `inf`, `-inf`), a Decimal
/// with its scale (`12.50`), a DateTime in RFC 3339, a Date as `YYYY-MM-DD`,
/// a Duration as ISO 8601 in seconds (`PT90S`), an enum by its wire name
/// (hence the schema), `none` as `""`; records, lists, maps and Json as their
/// compact JSON (with `null` for a non-finite Float, since text cannot fail).
pub fn text(value: &Value, schema: &Schema) -> String {
    let mut out = Vec::new();
    // Only an enum or record missing from the schema fails; the text is then
    // what was written before it.
    let _ = write_text(&mut out, value, None, schema);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the text form of `value` (see [`text`]) to `out`.
pub fn push_text(out: &mut String, value: &Value, schema: &Schema) {
    out.push_str(&text(value, schema));
}

/// The text form of a value of type `ty`, with the type's `@format`: a
/// `DateTime @format(unix)` as its seconds, a `Duration @format(milliseconds)`
/// as an integer, and so on (§ 15.4: record fields in form and XML bodies).
pub fn field_text(value: &Value, ty: &TypeDesc, schema: &Schema) -> Result<String, EvalError> {
    let mut out = Vec::new();
    write_text(&mut out, value, Some(ty), schema)?;
    String::from_utf8(out).map_err(|error| EvalError::Encode(error.to_string()))
}

fn write_text(out: &mut Vec<u8>, value: &Value, ty: Option<&TypeDesc>, schema: &Schema) -> Result<(), EvalError> {
    let ty = strip_optional(ty);
    match value {
        Value::None => {}
        Value::String(text) => out.extend_from_slice(text.as_bytes()),
        Value::Bool(value) => out.extend_from_slice(if *value { b"true" } else { b"false" }),
        Value::Int(int) => match ty {
            Some(TypeDesc::Float(_)) => write_float(out, *int as f64),
            _ => write_int(out, *int),
        },
        Value::Float(float) => {
            if float.is_finite() {
                write_float(out, *float);
            } else {
                out.extend_from_slice(float_text(*float).as_bytes());
            }
        }
        Value::Decimal(decimal) => write_decimal(out, decimal),
        Value::DateTime(datetime) => {
            let format = match ty {
                Some(TypeDesc::DateTime(format)) => *format,
                _ => DateTimeFormat::Rfc3339,
            };
            write_datetime(out, *datetime, format)?;
        }
        Value::Date(date) => write_date(out, *date),
        Value::Duration(duration) => {
            let format = match ty {
                Some(TypeDesc::Duration(format)) => *format,
                _ => DurationFormat::Iso8601,
            };
            write_duration(out, *duration, format);
        }
        Value::Enum { ty: index, variant } => out.extend_from_slice(variant_wire(schema, *index, *variant)?.as_bytes()),
        Value::List(_) | Value::Map(_) | Value::Record(_) | Value::Json(_) => {
            JsonWriter { out, schema, lenient: true }.value(value, ty, 0)?;
        }
        Value::Function(_) => return Err(EvalError::Encode("a function has no text form".to_owned())),
    }
    Ok(())
}

// ====================================================================== forms

/// Form fields (`application/x-www-form-urlencoded`) of a record (§ 10.7):
/// one pair per field, in declaration order, under its wire name, the value
/// in text form with the field's `@format`; a list repeats the name once per
/// item; `none` (a field or a list item) is left out. A `Json` object is
/// accepted too (its members in order; `null` left out). A field that is a
/// record, a map, or a list of those is an [`EvalError::Encode`].
pub fn form(value: &Value, ty: &TypeDesc, schema: &Schema) -> Result<Vec<(String, String)>, EvalError> {
    let _ = ty;
    let mut pairs = Vec::new();
    match value {
        Value::Record(record) => {
            let desc = schema
                .record(record.ty)
                .ok_or_else(|| EvalError::Encode(format!("unknown record type #{}", record.ty)))?;
            for (field, item) in desc.fields.iter().zip(record.fields.iter()) {
                form_field(&mut pairs, &field.wire, item, &field.ty, schema)?;
            }
        }
        Value::Json(json) => match &**json {
            serde_json::Value::Object(members) => {
                for (name, member) in members {
                    form_json(&mut pairs, name, member, true)?;
                }
            }
            other => return Err(EvalError::Encode(format!("a form body must be an object, not {}", json_kind(other)))),
        },
        other => return Err(EvalError::Encode(format!("a form body must be a record, not {}", other.kind()))),
    }
    Ok(pairs)
}

/// The `application/x-www-form-urlencoded` serialization of `pairs` (WHATWG):
/// space as `+`, every byte other than `A–Z a–z 0–9 * - . _` percent-encoded.
pub fn form_urlencoded(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn form_field(
    pairs: &mut Vec<(String, String)>,
    name: &str,
    value: &Value,
    ty: &TypeDesc,
    schema: &Schema,
) -> Result<(), EvalError> {
    match value {
        Value::None => {}
        Value::List(items) => {
            let inner = match strip_optional(Some(ty)) {
                Some(TypeDesc::List(inner)) => inner,
                _ => &TypeDesc::Json,
            };
            for item in items.iter() {
                match item {
                    Value::None => {}
                    Value::Json(json) => form_json(pairs, name, json, false)?,
                    Value::List(_) | Value::Map(_) | Value::Record(_) => {
                        return Err(EvalError::Encode(format!(
                            "form field `{name}` holds a {}, which has no form encoding",
                            item.kind()
                        )));
                    }
                    _ => pairs.push((name.to_owned(), field_text(item, inner, schema)?)),
                }
            }
        }
        Value::Map(_) | Value::Record(_) => {
            return Err(EvalError::Encode(format!(
                "form field `{name}` is a {}, which has no form encoding",
                value.kind()
            )));
        }
        Value::Json(json) => form_json(pairs, name, json, true)?,
        _ => pairs.push((name.to_owned(), field_text(value, ty, schema)?)),
    }
    Ok(())
}

fn form_json(
    pairs: &mut Vec<(String, String)>,
    name: &str,
    json: &serde_json::Value,
    arrays: bool,
) -> Result<(), EvalError> {
    use serde_json::Value as Json;
    match json {
        Json::Null => {}
        Json::Bool(value) => pairs.push((name.to_owned(), value.to_string())),
        Json::Number(number) => pairs.push((name.to_owned(), number.to_string())),
        Json::String(text) => pairs.push((name.to_owned(), text.clone())),
        Json::Array(items) if arrays => {
            for item in items {
                form_json(pairs, name, item, false)?;
            }
        }
        other => {
            return Err(EvalError::Encode(format!(
                "form field `{name}` is {}, which has no form encoding",
                json_kind(other)
            )));
        }
    }
    Ok(())
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

// ====================================================================== XML

/// An XML document whose root element is `root` (§ 10.7):
/// `<?xml version="1.0" encoding="UTF-8"?>`, then `<root>` with one child
/// element per field, in order, named by the field's wire name. A scalar is
/// the element's text (text form with the field's `@format`; `&`, `<`, `>`
/// escaped); `none` leaves the element out; a record is an element with
/// children; a list is one element per item, all with the field's name; a map
/// is an element with one child per key. A `Json` value is written the same
/// way (objects as elements with children, arrays as repeated elements,
/// `null` left out).
///
/// Errors ([`EvalError::Encode`]): `root`, a wire name or a map key that is
/// not an XML name (a letter or `_`, then letters, digits, `_`, `-`, `.`), a
/// list directly inside a list, text with a character XML 1.0 cannot carry
/// (control characters other than tab and line breaks, U+FFFE, U+FFFF), a
/// value that is not a record or a Json object.
pub fn xml(value: &Value, ty: &TypeDesc, schema: &Schema, root: &str) -> Result<String, EvalError> {
    check_xml_name(root)?;
    let mut writer = XmlWriter { writer: Writer::new(Vec::new()), schema };
    writer.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    match value {
        Value::Record(_) => writer.element(root, value, Some(ty), 0)?,
        Value::Json(json) if json.is_object() => writer.json_element(root, json, 0)?,
        Value::Json(json) => {
            return Err(EvalError::Encode(format!("an XML body must be an object, not {}", json_kind(json))));
        }
        other => return Err(EvalError::Encode(format!("an XML body must be a record, not {}", other.kind()))),
    }
    String::from_utf8(writer.writer.into_inner()).map_err(|error| EvalError::Encode(error.to_string()))
}

struct XmlWriter<'a> {
    writer: Writer<Vec<u8>>,
    schema: &'a Schema,
}

impl XmlWriter<'_> {
    fn event(&mut self, event: Event<'_>) -> Result<(), EvalError> {
        self.writer.write_event(event).map_err(|error| EvalError::Encode(format!("cannot write XML: {error}")))
    }

    fn start(&mut self, name: &str) -> Result<(), EvalError> {
        self.event(Event::Start(BytesStart::new(name)))
    }

    fn end(&mut self, name: &str) -> Result<(), EvalError> {
        self.event(Event::End(BytesEnd::new(name)))
    }

    fn text_element(&mut self, name: &str, text: &str) -> Result<(), EvalError> {
        check_xml_text(name, text)?;
        self.start(name)?;
        if !text.is_empty() {
            self.event(Event::Text(BytesText::from_escaped(quick_xml::escape::partial_escape(text))))?;
        }
        self.end(name)
    }

    /// The element(s) for `value` named `name`.
    fn element(&mut self, name: &str, value: &Value, ty: Option<&TypeDesc>, depth: usize) -> Result<(), EvalError> {
        check_depth(depth)?;
        let ty = strip_optional(ty);
        match value {
            Value::None => {}
            Value::List(items) => {
                let inner = match ty {
                    Some(TypeDesc::List(inner)) => Some(&**inner),
                    _ => None,
                };
                for item in items.iter() {
                    if matches!(item, Value::List(_)) {
                        return Err(EvalError::Encode(format!("XML element `{name}` holds a list of lists")));
                    }
                    self.element(name, item, inner, depth + 1)?;
                }
            }
            Value::Record(record) => {
                let schema = self.schema;
                let desc = schema
                    .record(record.ty)
                    .ok_or_else(|| EvalError::Encode(format!("unknown record type #{}", record.ty)))?;
                check_xml_name(name)?;
                self.start(name)?;
                for (field, item) in desc.fields.iter().zip(record.fields.iter()) {
                    check_xml_name(&field.wire)?;
                    self.element(&field.wire, item, Some(&field.ty), depth + 1)?;
                }
                self.end(name)?;
            }
            Value::Map(entries) => {
                let inner = match ty {
                    Some(TypeDesc::Map(inner)) => Some(&**inner),
                    _ => None,
                };
                check_xml_name(name)?;
                self.start(name)?;
                for (key, item) in entries.iter() {
                    check_xml_name(key)?;
                    self.element(key, item, inner, depth + 1)?;
                }
                self.end(name)?;
            }
            Value::Json(json) => self.json_element(name, json, depth + 1)?,
            _ => {
                check_xml_name(name)?;
                let text = match ty {
                    Some(ty) => field_text(value, ty, self.schema)?,
                    None => text(value, self.schema),
                };
                self.text_element(name, &text)?;
            }
        }
        Ok(())
    }

    fn json_element(&mut self, name: &str, json: &serde_json::Value, depth: usize) -> Result<(), EvalError> {
        use serde_json::Value as Json;
        check_depth(depth)?;
        check_xml_name(name)?;
        match json {
            Json::Null => {}
            Json::Bool(value) => self.text_element(name, if *value { "true" } else { "false" })?,
            Json::Number(number) => self.text_element(name, &number.to_string())?,
            Json::String(text) => self.text_element(name, text)?,
            Json::Array(items) => {
                for item in items {
                    if item.is_array() {
                        return Err(EvalError::Encode(format!("XML element `{name}` holds a list of lists")));
                    }
                    self.json_element(name, item, depth + 1)?;
                }
            }
            Json::Object(members) => {
                self.start(name)?;
                for (key, member) in members {
                    self.json_element(key, member, depth + 1)?;
                }
                self.end(name)?;
            }
        }
        Ok(())
    }
}

/// An XML name as § 10.7 allows it: a letter or `_`, then letters, digits,
/// `_`, `-` and `.`.
fn check_xml_name(name: &str) -> Result<(), EvalError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|first| first.is_alphabetic() || first == '_')
        && chars.all(|next| next.is_alphanumeric() || matches!(next, '_' | '-' | '.'));
    if valid { Ok(()) } else { Err(EvalError::Encode(format!("`{name}` is not an XML element name"))) }
}

fn check_xml_text(name: &str, text: &str) -> Result<(), EvalError> {
    let invalid = text.chars().find(
        |&char| matches!(char, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}'),
    );
    match invalid {
        Some(char) => Err(EvalError::Encode(format!(
            "the text of XML element `{name}` contains U+{:04X}, which XML cannot carry",
            u32::from(char)
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::types::{EnumDesc, FieldDesc, RecordDesc, VariantDesc};

    fn field(wire: &str, ty: TypeDesc) -> FieldDesc {
        FieldDesc { name: wire.replace(' ', "_"), wire: wire.to_owned(), ty, read: true }
    }

    fn opt(ty: TypeDesc) -> TypeDesc {
        TypeDesc::Optional(Box::new(ty))
    }

    const INT: TypeDesc = TypeDesc::Int(NumberFormat::Number);
    const CONTACT: u32 = 0;
    const ADDRESS: u32 = 1;
    const FORMATS: u32 = 2;

    fn schema() -> Schema {
        Schema {
            enums: vec![EnumDesc {
                name: "Stage".to_owned(),
                variants: vec![
                    VariantDesc { name: "lead".to_owned(), wire: "lead".to_owned() },
                    VariantDesc { name: "customer".to_owned(), wire: "CUSTOMER".to_owned() },
                ],
                other: None,
            }],
            records: vec![
                RecordDesc::new(
                    "Contact",
                    vec![
                        field("id", INT),
                        field("email", opt(TypeDesc::String)),
                        field("stage", TypeDesc::Enum(0)),
                        field("address", opt(TypeDesc::Record(ADDRESS))),
                        field("tags", TypeDesc::List(Box::new(TypeDesc::String))),
                        field("extra", TypeDesc::Json),
                    ],
                    false,
                ),
                RecordDesc::new(
                    "Address",
                    vec![field("city", TypeDesc::String), field("zip code", TypeDesc::String)],
                    false,
                ),
                RecordDesc::new(
                    "Formats",
                    vec![
                        field("count", TypeDesc::Int(NumberFormat::String)),
                        field("ratio", TypeDesc::Float(NumberFormat::String)),
                        field("price", TypeDesc::Decimal(NumberFormat::String)),
                        field("at", TypeDesc::DateTime(DateTimeFormat::Unix)),
                        field("at_ms", TypeDesc::DateTime(DateTimeFormat::UnixMs)),
                        field("mail_date", TypeDesc::DateTime(DateTimeFormat::Rfc2822)),
                        field("wait", TypeDesc::Duration(DurationFormat::Seconds)),
                        field("wait_ms", TypeDesc::Duration(DurationFormat::Milliseconds)),
                        field("times", TypeDesc::List(Box::new(TypeDesc::DateTime(DateTimeFormat::Unix)))),
                    ],
                    false,
                ),
            ],
        }
    }

    fn encode(value: &Value, ty: &TypeDesc) -> String {
        json_string(value, ty, &schema()).unwrap()
    }

    fn datetime(text: &str) -> DateTime {
        crate::decode::parse_rfc3339(text).unwrap()
    }

    fn contact(email: Option<&str>, address: Value, extra: Value) -> Value {
        Value::record(
            CONTACT,
            vec![
                Value::Int(7),
                email.map_or(Value::None, Value::string),
                Value::Enum { ty: 0, variant: 1 },
                address,
                Value::list(vec![Value::string("vip"), Value::string("b2b")]),
                extra,
            ],
        )
    }

    fn address() -> Value {
        Value::record(ADDRESS, vec![Value::string("Paris"), Value::string("75001")])
    }

    #[test]
    fn records_are_objects_in_declaration_order_without_none_fields() {
        let value = contact(Some("a@b.c"), address(), Value::Json(Arc::new(serde_json::json!({"k": [1, null]}))));
        assert_eq!(
            encode(&value, &TypeDesc::Record(CONTACT)),
            r#"{"id":7,"email":"a@b.c","stage":"CUSTOMER","address":{"city":"Paris","zip code":"75001"},"tags":["vip","b2b"],"extra":{"k":[1,null]}}"#
        );
        let sparse = contact(None, Value::None, Value::None);
        assert_eq!(
            encode(&sparse, &TypeDesc::Record(CONTACT)),
            r#"{"id":7,"stage":"CUSTOMER","tags":["vip","b2b"],"extra":null}"#,
            "none fields are left out, except Json ones"
        );
        // A record where only Json is known still uses its own schema.
        assert_eq!(encode(&address(), &TypeDesc::Json), r#"{"city":"Paris","zip code":"75001"}"#);
        assert_eq!(encode(&Value::None, &opt(INT)), "null");
        assert_eq!(
            encode(&Value::list(vec![Value::Int(1), Value::None]), &TypeDesc::List(Box::new(opt(INT)))),
            "[1,null]"
        );
    }

    #[test]
    fn maps_keep_their_order() {
        let map = Value::Map(Arc::new(vec![
            (Arc::from("z"), Value::Int(1)),
            (Arc::from("a\"b"), Value::None),
            (Arc::from("m"), Value::Int(3)),
        ]));
        assert_eq!(encode(&map, &TypeDesc::Map(Box::new(opt(INT)))), r#"{"z":1,"a\"b":null,"m":3}"#);
    }

    #[test]
    fn numbers() {
        let decimal = |mantissa: i64, scale: u32| Value::Decimal(Decimal::new(mantissa, scale));
        let number = TypeDesc::Decimal(NumberFormat::Number);
        assert_eq!(encode(&decimal(1250, 2), &number), "12.50");
        assert_eq!(encode(&decimal(-5, 2), &number), "-0.05");
        assert_eq!(encode(&decimal(100, 0), &number), "100");
        assert_eq!(encode(&decimal(1, 3), &number), "0.001");
        assert_eq!(encode(&decimal(-0, 2), &number), "0.00");
        assert_eq!(encode(&Value::Decimal(-Decimal::new(0, 1)), &number), "0.0");
        assert_eq!(encode(&Value::Decimal(Decimal::MAX), &number), "79228162514264337593543950335");
        assert_eq!(encode(&decimal(1250, 2), &TypeDesc::Decimal(NumberFormat::String)), "\"12.50\"");
        let float = TypeDesc::Float(NumberFormat::Number);
        assert_eq!(encode(&Value::Float(1.5), &float), "1.5");
        assert_eq!(encode(&Value::Float(100.0), &float), "100.0");
        assert_eq!(encode(&Value::Float(0.1), &float), "0.1");
        assert_eq!(encode(&Value::Float(-0.0), &float), "-0.0");
        assert_eq!(encode(&Value::Float(1e300), &float), "1e300");
        assert_eq!(encode(&Value::Float(2.5), &TypeDesc::Float(NumberFormat::String)), "\"2.5\"");
        assert_eq!(encode(&Value::Int(3), &float), "3.0");
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let error = json_string(&Value::Float(bad), &float, &schema()).unwrap_err();
            assert!(matches!(error, EvalError::Encode(_)), "{error}");
        }
        assert_eq!(encode(&Value::Int(i64::MIN), &INT), "-9223372036854775808");
        assert_eq!(encode(&Value::Int(42), &TypeDesc::Int(NumberFormat::String)), "\"42\"");
        assert_eq!(encode(&Value::Bool(true), &TypeDesc::Bool), "true");
    }

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for text in
            ["", "plain", "quote \" backslash \\ slash /", "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}", "é日本🎉", "\u{2028}"]
        {
            assert_eq!(
                encode(&Value::string(text), &TypeDesc::String),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn datetimes() {
        let rfc = TypeDesc::DateTime(DateTimeFormat::Rfc3339);
        let show = |text: &str| encode(&Value::DateTime(datetime(text)), &rfc);
        assert_eq!(show("2024-05-01T12:00:00Z"), "\"2024-05-01T12:00:00Z\"");
        assert_eq!(show("2024-05-01T14:00:00+02:00"), "\"2024-05-01T14:00:00+02:00\"");
        assert_eq!(show("2024-05-01T08:30:00.5-03:30"), "\"2024-05-01T08:30:00.500-03:30\"");
        assert_eq!(show("2024-05-01T12:00:00.000120Z"), "\"2024-05-01T12:00:00.000120Z\"");
        assert_eq!(show("2024-05-01T12:00:00.000000001Z"), "\"2024-05-01T12:00:00.000000001Z\"");
        assert_eq!(show("1969-12-31T23:59:59.999Z"), "\"1969-12-31T23:59:59.999Z\"");
        assert_eq!(show("0000-03-01T00:00:00Z"), "\"0000-03-01T00:00:00Z\"");
        let with_seconds = DateTime { seconds: 0, nanos: 0, offset_seconds: 3661 };
        assert_eq!(encode(&Value::DateTime(with_seconds), &rfc), "\"1970-01-01T01:01:01+01:01:01\"");

        let before_epoch = Value::DateTime(datetime("1969-12-31T23:59:59.5Z"));
        assert_eq!(encode(&before_epoch, &TypeDesc::DateTime(DateTimeFormat::Unix)), "-1");
        assert_eq!(encode(&before_epoch, &TypeDesc::DateTime(DateTimeFormat::UnixMs)), "-500");
        let moment = Value::DateTime(datetime("2024-03-01T13:00:00.123456+01:00"));
        assert_eq!(encode(&moment, &TypeDesc::DateTime(DateTimeFormat::Unix)), "1709294400");
        assert_eq!(encode(&moment, &TypeDesc::DateTime(DateTimeFormat::UnixMs)), "1709294400123");
        assert_eq!(
            encode(&moment, &TypeDesc::DateTime(DateTimeFormat::Rfc2822)),
            "\"Fri, 01 Mar 2024 13:00:00 +0100\""
        );
        assert_eq!(encode(&Value::Date(jiff::civil::date(2024, 2, 29)), &TypeDesc::Date), "\"2024-02-29\"");
        assert_eq!(encode(&Value::Date(jiff::civil::date(-44, 3, 15)), &TypeDesc::Date), "\"-000044-03-15\"");
    }

    #[test]
    fn rfc3339_agrees_with_jiff() {
        let mut seconds: i64 = -62_135_596_800;
        while seconds < 253_402_300_799 {
            for (nanos, offset) in [(0, 0), (1, 3600), (120_000_000, -34_200), (999_999_999, 50_400)] {
                let datetime = DateTime { seconds, nanos, offset_seconds: offset };
                let mut ours = Vec::new();
                write_rfc3339(&mut ours, datetime);
                let ours = String::from_utf8(ours).unwrap();
                let zoned = datetime.timestamp().to_zoned(jiff::tz::TimeZone::fixed(datetime.offset()));
                let theirs = zoned.datetime();
                assert!(ours.starts_with(&theirs.date().to_string()), "{ours} vs {theirs}");
                assert_eq!(crate::decode::parse_rfc3339(&ours), Some(datetime), "{ours}");
            }
            seconds += 7_777_777;
        }
    }

    #[test]
    fn durations() {
        let show = |millis: i64, format: DurationFormat| {
            encode(&Value::Duration(Duration { millis }), &TypeDesc::Duration(format))
        };
        let iso = DurationFormat::Iso8601;
        assert_eq!(show(10_000, iso), "\"PT10S\"");
        assert_eq!(show(90_000, iso), "\"PT90S\"");
        assert_eq!(show(250, iso), "\"PT0.25S\"");
        assert_eq!(show(1, iso), "\"PT0.001S\"");
        assert_eq!(show(1010, iso), "\"PT1.01S\"");
        assert_eq!(show(-5000, iso), "\"-PT5S\"");
        assert_eq!(show(0, iso), "\"PT0S\"");
        assert_eq!(show(i64::MIN, iso), "\"-PT9223372036854775.808S\"");
        assert_eq!(show(1500, DurationFormat::Seconds), "1.5");
        assert_eq!(show(90_000, DurationFormat::Seconds), "90");
        assert_eq!(show(-250, DurationFormat::Seconds), "-0.25");
        assert_eq!(show(1500, DurationFormat::Milliseconds), "1500");
    }

    #[test]
    fn formats_apply_to_fields() {
        let moment = Value::DateTime(datetime("2024-03-01T12:00:00.75Z"));
        let value = Value::record(
            FORMATS,
            vec![
                Value::Int(12),
                Value::Float(0.5),
                Value::Decimal(Decimal::new(1250, 2)),
                moment.clone(),
                moment.clone(),
                moment.clone(),
                Value::Duration(Duration { millis: 1500 }),
                Value::Duration(Duration { millis: 1500 }),
                Value::list(vec![moment.clone()]),
            ],
        );
        assert_eq!(
            encode(&value, &TypeDesc::Record(FORMATS)),
            r#"{"count":"12","ratio":"0.5","price":"12.50","at":1709294400,"at_ms":1709294400750,"mail_date":"Fri, 01 Mar 2024 12:00:00 +0000","wait":1.5,"wait_ms":1500,"times":[1709294400]}"#
        );
        let pairs = form(&value, &TypeDesc::Record(FORMATS), &schema()).unwrap();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("count", "12"),
                ("ratio", "0.5"),
                ("price", "12.50"),
                ("at", "1709294400"),
                ("at_ms", "1709294400750"),
                ("mail_date", "Fri, 01 Mar 2024 12:00:00 +0000"),
                ("wait", "1.5"),
                ("wait_ms", "1500"),
                ("times", "1709294400"),
            ]
        );
    }

    #[test]
    fn text_form() {
        let schema = schema();
        let text = |value: Value| text(&value, &schema);
        assert_eq!(text(Value::string("héllo")), "héllo");
        assert_eq!(text(Value::Int(-42)), "-42");
        assert_eq!(text(Value::Float(1.5)), "1.5");
        assert_eq!(text(Value::Float(100.0)), "100.0");
        assert_eq!(text(Value::Float(0.0001)), "0.0001");
        assert_eq!(text(Value::Float(f64::NAN)), "NaN");
        assert_eq!(text(Value::Float(f64::INFINITY)), "inf");
        assert_eq!(text(Value::Float(f64::NEG_INFINITY)), "-inf");
        assert_eq!(text(Value::Decimal(Decimal::new(1250, 2))), "12.50");
        assert_eq!(text(Value::Decimal(Decimal::new(-5, 2))), "-0.05");
        assert_eq!(text(Value::Bool(false)), "false");
        assert_eq!(text(Value::DateTime(datetime("2024-03-01T12:00:00Z"))), "2024-03-01T12:00:00Z");
        assert_eq!(text(Value::DateTime(datetime("2024-03-01T12:00:00.25+05:30"))), "2024-03-01T12:00:00.250+05:30");
        assert_eq!(text(Value::Date(jiff::civil::date(2024, 5, 1))), "2024-05-01");
        assert_eq!(text(Value::Duration(Duration { millis: 90_000 })), "PT90S");
        assert_eq!(text(Value::Duration(Duration { millis: -5000 })), "-PT5S");
        assert_eq!(text(Value::Enum { ty: 0, variant: 1 }), "CUSTOMER");
        assert_eq!(text(Value::None), "");
        assert_eq!(text(address()), r#"{"city":"Paris","zip code":"75001"}"#);
        assert_eq!(text(Value::list(vec![Value::Float(f64::NAN), Value::string("x")])), r#"[null,"x"]"#);
        assert_eq!(text(Value::Json(Arc::new(serde_json::json!("s")))), r#""s""#);
        let mut out = String::from("id=");
        push_text(&mut out, &Value::Int(3), &schema);
        assert_eq!(out, "id=3");
    }

    #[test]
    fn forms() {
        let schema = schema();
        let value = contact(Some("a+b@c.d"), Value::None, Value::None);
        let pairs = form(&value, &TypeDesc::Record(CONTACT), &schema).unwrap();
        assert_eq!(form_urlencoded(&pairs), "id=7&email=a%2Bb%40c.d&stage=CUSTOMER&tags=vip&tags=b2b");
        let with_address = contact(None, address(), Value::None);
        let error = form(&with_address, &TypeDesc::Record(CONTACT), &schema).unwrap_err();
        assert_eq!(error.to_string(), "cannot encode: form field `address` is a record, which has no form encoding");
        let json = Value::Json(Arc::new(serde_json::json!({"a": "x y", "b": [1, true], "c": null})));
        let pairs = form(&json, &TypeDesc::Json, &schema).unwrap();
        assert_eq!(form_urlencoded(&pairs), "a=x+y&b=1&b=true");
        assert!(form(&Value::Int(1), &INT, &schema).is_err());
        let pairs = vec![("k*-._".to_owned(), "~!é ".to_owned())];
        assert_eq!(form_urlencoded(&pairs), "k*-._=%7E%21%C3%A9+");
    }

    #[test]
    fn xml_documents() {
        let schema = schema();
        let address = Value::record(ADDRESS, vec![Value::string("Paris & <Co> \"x\""), Value::string("75001")]);
        let xml_of = |value: &Value, root: &str| xml(value, &TypeDesc::Record(CONTACT), &schema, root);
        let value = contact(None, Value::None, Value::None);
        assert_eq!(
            xml_of(&value, "Contact").unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Contact><id>7</id><stage>CUSTOMER</stage><tags>vip</tags><tags>b2b</tags></Contact>"#
        );
        let error = xml(&address, &TypeDesc::Record(ADDRESS), &schema, "Address").unwrap_err();
        assert_eq!(error.to_string(), "cannot encode: `zip code` is not an XML element name");
        let nested = Value::record(
            CONTACT,
            vec![
                Value::Int(1),
                Value::string("a\rb"),
                Value::Enum { ty: 0, variant: 0 },
                Value::None,
                Value::list(vec![]),
                Value::Json(Arc::new(serde_json::json!({"n": [1, 2], "o": {"p": null, "q": "<"}}))),
            ],
        );
        assert_eq!(
            xml_of(&nested, "c").unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?><c><id>1</id><email>a&#13;b</email><stage>lead</stage><extra><n>1</n><n>2</n><o><q>&lt;</q></o></extra></c>"#
        );
        let map_schema = Schema {
            records: vec![
                RecordDesc::new(
                    "M",
                    vec![
                        field("m", TypeDesc::Map(Box::new(TypeDesc::Decimal(NumberFormat::Number)))),
                        field("r", TypeDesc::Record(1)),
                    ],
                    false,
                ),
                RecordDesc::new("R", vec![field("s", TypeDesc::String)], false),
            ],
            enums: vec![],
        };
        let value = Value::record(
            0,
            vec![
                Value::Map(Arc::new(vec![(Arc::from("a"), Value::Decimal(Decimal::new(10, 1)))])),
                Value::record(1, vec![Value::string("")]),
            ],
        );
        assert_eq!(
            xml(&value, &TypeDesc::Record(0), &map_schema, "root").unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?><root><m><a>1.0</a></m><r><s></s></r></root>"#
        );
        let bad_key = Value::record(
            0,
            vec![Value::Map(Arc::new(vec![(Arc::from("1a"), Value::None)])), Value::record(1, vec![Value::string("")])],
        );
        assert!(xml(&bad_key, &TypeDesc::Record(0), &map_schema, "root").is_err());
        assert!(xml_of(&value, "bad root").is_err());
        let control = Value::record(1, vec![Value::string("\u{1}")]);
        assert!(xml(&control, &TypeDesc::Record(1), &map_schema, "root").is_err());
        assert!(xml(&Value::Int(1), &INT, &schema, "root").is_err());
    }

    #[test]
    fn errors_rather_than_panics() {
        let schema = schema();
        let unknown = Value::record(99, vec![]);
        assert!(json_string(&unknown, &TypeDesc::Json, &schema).is_err());
        let short = Value::record(CONTACT, vec![Value::Int(1)]);
        assert!(json_string(&short, &TypeDesc::Json, &schema).is_err());
        assert!(json_string(&Value::Enum { ty: 0, variant: 9 }, &TypeDesc::Json, &schema).is_err());
        assert!(json_string(&Value::Function(0), &TypeDesc::Json, &schema).is_err());
        for seconds in [i64::MIN, i64::MAX] {
            for offset_seconds in [i32::MIN, 0, i32::MAX] {
                let datetime = Value::DateTime(DateTime { seconds, nanos: 999_999_999, offset_seconds });
                for format in
                    [DateTimeFormat::Rfc3339, DateTimeFormat::Unix, DateTimeFormat::UnixMs, DateTimeFormat::Rfc2822]
                {
                    let _ = json_string(&datetime, &TypeDesc::DateTime(format), &schema);
                }
                let _ = text(&datetime, &schema);
            }
        }
        let mut deep = Value::Int(0);
        for _ in 0..MAX_DEPTH + 1 {
            deep = Value::list(vec![deep]);
        }
        assert!(json_string(&deep, &TypeDesc::Json, &schema).is_err());
    }

    #[test]
    fn json_values_are_built() {
        let value = to_json_value(&address(), &TypeDesc::Record(ADDRESS), &schema()).unwrap();
        assert_eq!(value, serde_json::json!({"city": "Paris", "zip code": "75001"}));
    }
}
