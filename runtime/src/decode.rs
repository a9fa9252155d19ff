//! Decoding by declared type (§ 15 of spec.md): JSON bytes straight into
//! [`Value`]s, fields into slots by index, members the program never reads
//! checked but not kept, every mismatch a [`DecodeError`] naming its path.
//!
//! The decoder walks the document once with [`jiter`], guided by the declared
//! type: no generic JSON tree is built (except for `Json` values, which are
//! one), unknown members are skipped without being built, and nothing is
//! allocated for a value beyond the value itself. Paths for error messages
//! are assembled only when an error unwinds.
//!
//! Besides [`json`] and [`from_json`], this module has [`json_records`] for
//! the records of a stream page, decoded element by element (§ 10.8), and the
//! text parsers the decoder uses ([`parse_rfc3339`], [`parse_rfc2822`],
//! [`parse_date`], [`parse_iso8601_duration`]), which natives may share.

use std::cell::OnceCell;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use jiter::{Jiter, JiterError, JiterErrorType, NumberInt, Peek};
use rust_decimal::Decimal;

use crate::error::DecodeError;
use crate::types::{DateTimeFormat, DurationFormat, NumberFormat, RecordDesc, Schema, TypeDesc};
use crate::value::{DateTime, Duration, Str, Value};

/// How deeply arrays and objects may nest in a decoded document. Deeper
/// documents are refused with an error rather than risking the stack.
pub const MAX_DEPTH: usize = 128;

/// How many characters of a string (or a number's text) an error message
/// shows before cutting it with `…`.
const FOUND_CHARS: usize = 40;

/// Records with more fields than this find members through the record's
/// hash map rather than by a linear scan of the wire names (see
/// [`FieldIndex::find`]).
const LINEAR_SCAN_FIELDS: usize = 24;

// ====================================================================== public API

/// Decodes a JSON document of type `ty`; `root` names the decode site in
/// error paths (`body`, `payload`, `fixture("orders.json")`).
///
/// When `ty` is optional, an empty document (no bytes, or only whitespace, as
/// the body of a `204`) decodes to `none` (§ 10.8); for any other type it is
/// invalid JSON. Content after the document is invalid JSON too. When a
/// document is both malformed and of the wrong shape, the syntax error is
/// reported.
pub fn json(bytes: &[u8], ty: &TypeDesc, schema: &Schema, root: &str) -> Result<Value, DecodeError> {
    if matches!(ty, TypeDesc::Optional(_)) && is_blank(bytes) {
        return Ok(Value::None);
    }
    let indexes = index_cells(schema);
    let mut decoder = Decoder { jiter: Jiter::new(bytes), schema, indexes: &indexes };
    decoder.document(ty).map_err(|failure| failure.into_error(bytes, root, &[]))
}

/// Decodes an already parsed `Json` value as type `ty` (a `Json` expression
/// used where a declared type is expected), with the same rules and messages
/// as [`json`]. Maps take the order of the `serde_json` object.
pub fn from_json(value: &serde_json::Value, ty: &TypeDesc, schema: &Schema, root: &str) -> Result<Value, DecodeError> {
    Walker { schema }.value(value, ty, 0).map_err(|failure| failure.render(&[], root, &[]))
}

/// Decodes the records of a stream page element by element (§ 10.8): the
/// array reached from the document's root through the object members named
/// `path` (wire names; an empty path means the document itself is the
/// array), each element decoded as `element`.
///
/// A page-level problem (invalid JSON, a missing member, something other than
/// an array) is the outer error. An element that fails to decode is an inner
/// error, for that element alone, whose path names it
/// (`body.orders[3].total_cents`); the other elements are still decoded.
pub fn json_records(
    bytes: &[u8],
    path: &[&str],
    element: &TypeDesc,
    schema: &Schema,
    root: &str,
) -> Result<Vec<Result<Value, DecodeError>>, DecodeError> {
    let indexes = index_cells(schema);
    let mut decoder = Decoder { jiter: Jiter::new(bytes), schema, indexes: &indexes };
    let mut page = Page { element, bytes, root, prefix: Vec::new(), records: Vec::new(), valid: None };
    let outcome: Res<'_, ()> = decoder.jiter.peek().map_err(Box::from).and_then(|peek| {
        decoder.records_at(peek, path, &mut page)?;
        decoder.jiter.finish()?;
        Ok(())
    });
    match outcome {
        Ok(()) => Ok(page.records),
        Err(failure) => Err(failure.into_error(bytes, root, &page.prefix)),
    }
}

/// The expected type as error messages name it: the type, with its wire
/// format where the wire shows it (`DateTime (RFC 3339 with an offset)`) and
/// the wire names of an enum (`OrderStatus (one of "paid", "pending")`). An
/// optional type is named by its inner type (`null` would have been
/// accepted).
pub fn describe_expected(ty: &TypeDesc, schema: &Schema) -> String {
    match ty {
        TypeDesc::Optional(inner) => describe_expected(inner, schema),
        TypeDesc::Int(NumberFormat::String) => "Int (as a string)".to_owned(),
        TypeDesc::Float(NumberFormat::String) => "Float (as a string)".to_owned(),
        TypeDesc::Decimal(NumberFormat::String) => "Decimal (as a string)".to_owned(),
        TypeDesc::DateTime(DateTimeFormat::Rfc3339) => "DateTime (RFC 3339 with an offset)".to_owned(),
        TypeDesc::DateTime(DateTimeFormat::Unix) => "DateTime (seconds since the epoch)".to_owned(),
        TypeDesc::DateTime(DateTimeFormat::UnixMs) => "DateTime (milliseconds since the epoch)".to_owned(),
        TypeDesc::DateTime(DateTimeFormat::Rfc2822) => "DateTime (RFC 2822)".to_owned(),
        TypeDesc::Date => "Date (YYYY-MM-DD)".to_owned(),
        TypeDesc::Duration(DurationFormat::Iso8601) => "Duration (ISO 8601)".to_owned(),
        TypeDesc::Duration(DurationFormat::Seconds) => "Duration (seconds)".to_owned(),
        TypeDesc::Duration(DurationFormat::Milliseconds) => "Duration (milliseconds)".to_owned(),
        TypeDesc::Enum(index) => match schema.enumeration(*index) {
            Some(definition) => {
                let mut text = format!("{} (one of ", definition.name);
                for (position, variant) in definition.variants.iter().enumerate() {
                    if position > 0 {
                        text.push_str(", ");
                    }
                    if position == 20 {
                        text.push('…');
                        break;
                    }
                    text.push_str(&quote(&variant.wire));
                }
                text.push(')');
                text
            }
            None => ty.describe(schema),
        },
        _ => ty.describe(schema),
    }
}

// ====================================================================== failures and paths

/// One step of a path in an error message.
#[derive(Clone, Debug)]
enum Seg<'s> {
    /// An object member named in the schema (a field's wire name, a records
    /// path step): `.name` or `["wire name"]`.
    Member(&'s str),
    /// An object member of a `Json` value: shown like [`Seg::Member`].
    Name(Str),
    /// An array index: `[3]`.
    Index(usize),
    /// A map key: `["key"]`.
    Key(Str),
}

/// Why decoding stopped. Boxed, so that results stay small on the hot path.
#[derive(Debug)]
enum Failure<'s> {
    /// The value does not match its type; `rev_path` runs from the value
    /// up to the root (segments are pushed while the error unwinds).
    Mismatch { rev_path: Vec<Seg<'s>>, message: String },
    /// The document is not JSON.
    Syntax(JiterError),
}

type Res<'s, T> = Result<T, Box<Failure<'s>>>;

impl From<JiterError> for Box<Failure<'_>> {
    fn from(error: JiterError) -> Self {
        Box::new(Failure::Syntax(error))
    }
}

impl<'s> Failure<'s> {
    /// Adds the step to the failing value's parent.
    fn at(mut self: Box<Self>, seg: Seg<'s>) -> Box<Self> {
        if let Failure::Mismatch { rev_path, .. } = &mut *self {
            rev_path.push(seg);
        }
        self
    }

    /// The error as reported: a mismatch in a malformed document is reported
    /// as the syntax error (found by a second, validating pass, which only
    /// failures pay for).
    fn into_error(self, bytes: &[u8], root: &str, prefix: &[Seg<'_>]) -> DecodeError {
        match self {
            Failure::Syntax(error) => syntax_error(&error, bytes, root),
            Failure::Mismatch { .. } => match validate(bytes) {
                Err(error) => syntax_error(&error, bytes, root),
                Ok(()) => self.render(bytes, root, prefix),
            },
        }
    }

    /// The error, for a document known to be JSON.
    fn render(self, bytes: &[u8], root: &str, prefix: &[Seg<'_>]) -> DecodeError {
        match self {
            Failure::Syntax(error) => syntax_error(&error, bytes, root),
            Failure::Mismatch { rev_path, message } => {
                let mut path = root.to_owned();
                for seg in prefix.iter().chain(rev_path.iter().rev()) {
                    push_seg(&mut path, seg);
                }
                DecodeError { path, message }
            }
        }
    }
}

fn mismatch<'s, T>(message: String) -> Res<'s, T> {
    Err(Box::new(Failure::Mismatch { rev_path: Vec::new(), message }))
}

fn too_deep<'s, T>() -> Res<'s, T> {
    mismatch(format!("nesting deeper than {MAX_DEPTH} levels"))
}

fn push_seg(path: &mut String, seg: &Seg<'_>) {
    match seg {
        Seg::Member(name) => push_member(path, name),
        Seg::Name(name) => push_member(path, name),
        Seg::Index(index) => {
            let _ = write!(path, "[{index}]");
        }
        Seg::Key(key) => {
            path.push('[');
            path.push_str(&quote(key));
            path.push(']');
        }
    }
}

pub(crate) fn push_member(path: &mut String, name: &str) {
    if is_identifier(name) {
        path.push('.');
        path.push_str(name);
    } else {
        path.push('[');
        path.push_str(&quote(name));
        path.push(']');
    }
}

fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// `text` in double quotes, escaped as in JSON.
pub(crate) fn quote(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    crate::encode::write_json_string(&mut out, text);
    String::from_utf8(out).unwrap_or_default()
}

/// Checks that the whole document is JSON.
fn validate(bytes: &[u8]) -> Result<(), JiterError> {
    let mut jiter = Jiter::new(bytes);
    jiter.next_skip()?;
    jiter.finish()
}

fn syntax_error(error: &JiterError, bytes: &[u8], root: &str) -> DecodeError {
    let (line, column) = line_column(bytes, error.index);
    let reason = match &error.error_type {
        JiterErrorType::JsonError(kind) => kind.to_string(),
        other => other.to_string(),
    };
    DecodeError { path: root.to_owned(), message: format!("invalid JSON at line {line}, column {column}: {reason}") }
}

/// Line and column (both from 1; the column counts characters) of a byte
/// offset.
pub(crate) fn line_column(bytes: &[u8], index: usize) -> (usize, usize) {
    let before = bytes.get(..index.min(bytes.len())).unwrap_or(bytes);
    let line = 1 + before.iter().filter(|byte| **byte == b'\n').count();
    let line_start = before.iter().rposition(|byte| *byte == b'\n').map_or(0, |position| position + 1);
    let column = 1 + before.get(line_start..).unwrap_or_default().iter().filter(|byte| (**byte & 0xC0) != 0x80).count();
    (line, column)
}

pub(crate) fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
}

// ====================================================================== describing what was found

pub(crate) fn found_string(text: &str) -> String {
    format!("string {}", quote(&cut(text)))
}

pub(crate) fn found_number(text: &str) -> String {
    format!("number {}", cut(text))
}

pub(crate) fn cut(text: &str) -> String {
    match text.char_indices().nth(FOUND_CHARS) {
        Some((end, _)) => format!("{}…", text.get(..end).unwrap_or(text)),
        None => text.to_owned(),
    }
}

fn expected_found<'s, T>(ty: &TypeDesc, schema: &Schema, found: &str) -> Res<'s, T> {
    mismatch(format!("expected {}, found {found}", describe_expected(ty, schema)))
}

/// `null` for a missing `Json` member, shared.
static JSON_NULL: LazyLock<Arc<serde_json::Value>> = LazyLock::new(|| Arc::new(serde_json::Value::Null));

fn json_null() -> Value {
    Value::Json(Arc::clone(&JSON_NULL))
}

// ====================================================================== the JSON decoder

struct Decoder<'s, 'j, 'c> {
    jiter: Jiter<'j>,
    schema: &'s Schema,
    /// Member lookup tables by record type, built when first needed.
    indexes: &'c [OnceCell<FieldIndex>],
}

/// Room for the member lookup tables of a schema's records.
fn index_cells(schema: &Schema) -> Vec<OnceCell<FieldIndex>> {
    std::iter::repeat_with(OnceCell::new).take(schema.records.len()).collect()
}

impl<'s, 'j, 'c> Decoder<'s, 'j, 'c> {
    fn document(&mut self, ty: &'s TypeDesc) -> Res<'s, Value> {
        let peek = self.jiter.peek()?;
        let value = self.value(peek, ty, 0)?;
        self.jiter.finish()?;
        Ok(value)
    }

    /// Decodes the value that starts with `peek` as `ty`; `depth` arrays and
    /// objects enclose it.
    fn value(&mut self, peek: Peek, ty: &'s TypeDesc, depth: usize) -> Res<'s, Value> {
        match ty {
            TypeDesc::String => {
                if peek == Peek::String {
                    let text = self.jiter.known_str()?;
                    Ok(Value::String(Arc::from(text)))
                } else {
                    self.mismatch(peek, ty)
                }
            }
            TypeDesc::Int(NumberFormat::Number) => self.int(peek, ty),
            TypeDesc::Float(NumberFormat::Number) => self.float(peek, ty),
            TypeDesc::Bool => match peek {
                Peek::True | Peek::False => Ok(Value::Bool(self.jiter.known_bool(peek)?)),
                _ => self.mismatch(peek, ty),
            },
            TypeDesc::Optional(inner) => {
                if peek == Peek::Null {
                    self.jiter.known_null()?;
                    Ok(Value::None)
                } else {
                    self.value(peek, inner, depth)
                }
            }
            TypeDesc::Record(index) => self.record(peek, ty, *index, depth),
            TypeDesc::List(inner) => self.list(peek, ty, inner, depth),
            TypeDesc::Map(inner) => self.map(peek, ty, inner, depth),
            TypeDesc::Json => {
                if peek == Peek::Null {
                    self.jiter.known_null()?;
                    return Ok(json_null());
                }
                Ok(Value::Json(Arc::new(self.json(peek, depth)?)))
            }
            TypeDesc::Decimal(NumberFormat::Number)
            | TypeDesc::DateTime(DateTimeFormat::Unix | DateTimeFormat::UnixMs)
            | TypeDesc::Duration(DurationFormat::Seconds | DurationFormat::Milliseconds) => {
                if !peek.is_num() {
                    return self.mismatch(peek, ty);
                }
                let text = self.jiter.known_number_bytes(peek)?;
                let text = std::str::from_utf8(text).unwrap_or_default();
                match from_number_text(text, ty) {
                    Some(value) => Ok(value),
                    None => expected_found(ty, self.schema, &found_number(text)),
                }
            }
            TypeDesc::Int(NumberFormat::String)
            | TypeDesc::Float(NumberFormat::String)
            | TypeDesc::Decimal(NumberFormat::String)
            | TypeDesc::DateTime(DateTimeFormat::Rfc3339 | DateTimeFormat::Rfc2822)
            | TypeDesc::Date
            | TypeDesc::Duration(DurationFormat::Iso8601)
            | TypeDesc::Enum(_) => {
                if peek != Peek::String {
                    return self.mismatch(peek, ty);
                }
                let schema = self.schema;
                let text = self.jiter.known_str()?;
                match from_string(text, ty, schema) {
                    Some(value) => Ok(value),
                    None => expected_found(ty, schema, &found_string(text)),
                }
            }
        }
    }

    fn int(&mut self, peek: Peek, ty: &'s TypeDesc) -> Res<'s, Value> {
        if !peek.is_num() {
            return self.mismatch(peek, ty);
        }
        // The fast path: a plain integer. A failure leaves the parser where
        // it was, and the number is read again from its text (`3.0`, `1e3`,
        // out of range, or not a number at all).
        if let Ok(NumberInt::Int(int)) = self.jiter.known_int(peek) {
            return Ok(Value::Int(int));
        }
        let text = self.jiter.known_number_bytes(peek)?;
        let text = std::str::from_utf8(text).unwrap_or_default();
        match parse_number(text.as_bytes(), false).and_then(|number| number.to_i64()) {
            Some(int) => Ok(Value::Int(int)),
            None => expected_found(ty, self.schema, &found_number(text)),
        }
    }

    fn float(&mut self, peek: Peek, ty: &'s TypeDesc) -> Res<'s, Value> {
        if !peek.is_num() {
            return self.mismatch(peek, ty);
        }
        let start = self.jiter.current_index();
        let float = self.jiter.known_float(peek)?;
        if float.is_finite() {
            return Ok(Value::Float(float));
        }
        let text = std::str::from_utf8(self.jiter.slice_to_current(start)).unwrap_or_default();
        expected_found(ty, self.schema, &found_number(text))
    }

    /// A wrong kind of value: reads it to say what it is.
    #[cold]
    fn mismatch<T>(&mut self, peek: Peek, ty: &TypeDesc) -> Res<'s, T> {
        let found = self.found(peek)?;
        expected_found(ty, self.schema, &found)
    }

    fn found(&mut self, peek: Peek) -> Res<'s, String> {
        Ok(match peek {
            Peek::Null => {
                self.jiter.known_null()?;
                "null".to_owned()
            }
            Peek::True | Peek::False => format!("bool {}", self.jiter.known_bool(peek)?),
            Peek::String => found_string(self.jiter.known_str()?),
            Peek::Array => "array".to_owned(),
            Peek::Object => "object".to_owned(),
            _ if peek.is_num() => {
                let text = self.jiter.known_number_bytes(peek)?;
                found_number(std::str::from_utf8(text).unwrap_or_default())
            }
            _ => {
                // Not a value: the skip reports the syntax error.
                self.jiter.known_skip(peek)?;
                "a value".to_owned()
            }
        })
    }

    fn record(&mut self, peek: Peek, ty: &'s TypeDesc, index: u32, depth: usize) -> Res<'s, Value> {
        let schema = self.schema;
        let Some(desc) = schema.record(index) else {
            return mismatch(format!("unknown record type #{index}"));
        };
        if peek != Peek::Object {
            return self.mismatch(peek, ty);
        }
        if depth >= MAX_DEPTH {
            return too_deep();
        }
        let indexes = self.indexes;
        let Some(cell) = indexes.get(index as usize) else {
            return mismatch(format!("unknown record type #{index}"));
        };
        let lookup = cell.get_or_init(|| FieldIndex::new(desc));
        let mut fields = vec![Value::None; desc.fields.len()];
        let mut seen = Seen::new(desc.fields.len());
        let mut found = 0;
        let mut guess = 0;
        let mut member = self.jiter.known_object()?.map(|key| lookup.find(desc, key, &mut guess));
        while let Some(slot) = member {
            match slot.and_then(|index| desc.fields.get(index).map(|field| (index, field))) {
                Some((index, field)) => {
                    if !seen.insert(index) {
                        return mismatch(format!("member {} given twice", quote(&field.wire)));
                    }
                    found += 1;
                    let peek = self.jiter.peek()?;
                    if field.read {
                        let value = self
                            .value(peek, &field.ty, depth + 1)
                            .map_err(|failure| failure.at(Seg::Member(&field.wire)))?;
                        if let Some(slot) = fields.get_mut(index) {
                            *slot = value;
                        }
                    } else {
                        // Never read, but still of its declared type.
                        self.check(peek, &field.ty, depth + 1)
                            .map_err(|failure| failure.at(Seg::Member(&field.wire)))?;
                    }
                }
                None => self.jiter.next_skip()?,
            }
            member = self.jiter.next_key()?.map(|key| lookup.find(desc, key, &mut guess));
        }
        if found < desc.fields.len() {
            fill_missing(desc, &seen, &mut fields, schema)?;
        }
        Ok(Value::record(index, fields))
    }

    /// Checks that the value starting with `peek` is of type `ty`, building
    /// as little of it as it can: a member the program never reads is still
    /// checked (§ 15.1), only not kept.
    fn check(&mut self, peek: Peek, ty: &'s TypeDesc, depth: usize) -> Res<'s, ()> {
        match ty {
            TypeDesc::String if peek == Peek::String => Ok(self.jiter.known_skip(peek)?),
            TypeDesc::Bool if matches!(peek, Peek::True | Peek::False) => Ok(self.jiter.known_skip(peek)?),
            TypeDesc::Json => Ok(self.jiter.known_skip(peek)?),
            TypeDesc::Optional(_) if peek == Peek::Null => Ok(self.jiter.known_skip(peek)?),
            TypeDesc::Optional(inner) => self.check(peek, inner, depth),
            TypeDesc::List(inner) if peek == Peek::Array => {
                if depth >= MAX_DEPTH {
                    return too_deep();
                }
                let mut index = 0;
                let mut next = self.jiter.known_array()?;
                while let Some(peek) = next {
                    self.check(peek, inner, depth + 1).map_err(|failure| failure.at(Seg::Index(index)))?;
                    index += 1;
                    next = self.jiter.array_step()?;
                }
                Ok(())
            }
            // Records, maps and scalars are decoded and dropped: their rules
            // (members given twice, missing fields, formats) are the decoder's.
            _ => self.value(peek, ty, depth).map(drop),
        }
    }

    fn list(&mut self, peek: Peek, ty: &'s TypeDesc, inner: &'s TypeDesc, depth: usize) -> Res<'s, Value> {
        if peek != Peek::Array {
            return self.mismatch(peek, ty);
        }
        if depth >= MAX_DEPTH {
            return too_deep();
        }
        let mut items = Vec::new();
        let mut next = self.jiter.known_array()?;
        while let Some(peek) = next {
            let index = items.len();
            items.push(self.value(peek, inner, depth + 1).map_err(|failure| failure.at(Seg::Index(index)))?);
            next = self.jiter.array_step()?;
        }
        Ok(Value::List(Arc::new(items)))
    }

    fn map(&mut self, peek: Peek, ty: &'s TypeDesc, inner: &'s TypeDesc, depth: usize) -> Res<'s, Value> {
        if peek != Peek::Object {
            return self.mismatch(peek, ty);
        }
        if depth >= MAX_DEPTH {
            return too_deep();
        }
        let mut entries: Vec<(Str, Value)> = Vec::new();
        let mut keys = KeySet::default();
        let mut key = self.jiter.known_object()?.map(Str::from);
        while let Some(name) = key {
            if !keys.insert(&entries, &name) {
                return mismatch(format!("key {} given twice", quote(&name)));
            }
            let peek = self.jiter.peek()?;
            let value = self.value(peek, inner, depth + 1).map_err(|failure| failure.at(Seg::Key(name.clone())))?;
            entries.push((name, value));
            key = self.jiter.next_key()?.map(Str::from);
        }
        Ok(Value::Map(Arc::new(entries)))
    }

    /// Any JSON value, built as a `serde_json::Value`.
    fn json(&mut self, peek: Peek, depth: usize) -> Res<'s, serde_json::Value> {
        use serde_json::Value as Json;
        Ok(match peek {
            Peek::Null => {
                self.jiter.known_null()?;
                Json::Null
            }
            Peek::True | Peek::False => Json::Bool(self.jiter.known_bool(peek)?),
            Peek::String => Json::String(self.jiter.known_str()?.to_owned()),
            Peek::Array => {
                if depth >= MAX_DEPTH {
                    return too_deep();
                }
                let mut items = Vec::new();
                let mut next = self.jiter.known_array()?;
                while let Some(peek) = next {
                    let index = items.len();
                    items.push(self.json(peek, depth + 1).map_err(|failure| failure.at(Seg::Index(index)))?);
                    next = self.jiter.array_step()?;
                }
                Json::Array(items)
            }
            Peek::Object => {
                if depth >= MAX_DEPTH {
                    return too_deep();
                }
                let mut members = serde_json::Map::new();
                let mut key = self.jiter.known_object()?.map(str::to_owned);
                while let Some(name) = key {
                    let peek = self.jiter.peek()?;
                    let value = self
                        .json(peek, depth + 1)
                        .map_err(|failure| failure.at(Seg::Name(Str::from(name.as_str()))))?;
                    members.insert(name, value);
                    key = self.jiter.next_key()?.map(str::to_owned);
                }
                Json::Object(members)
            }
            _ if peek.is_num() => {
                let text = self.jiter.known_number_bytes(peek)?;
                let text = std::str::from_utf8(text).unwrap_or_default();
                match json_number(text) {
                    Some(number) => Json::Number(number),
                    None => return mismatch(format!("number {} is out of range", cut(text))),
                }
            }
            _ => {
                self.jiter.known_skip(peek)?;
                Json::Null
            }
        })
    }

    // ------------------------------------------------------------------ stream pages

    /// The records array at `path`, element by element. On a page-level
    /// failure, `prefix` is left holding the path to where it happened.
    fn records_at(&mut self, peek: Peek, path: &[&'s str], page: &mut Page<'s, '_>) -> Res<'s, ()> {
        let Some((first, rest)) = path.split_first() else {
            if peek != Peek::Array {
                let found = self.found(peek)?;
                return mismatch(format!("expected [{}], found {found}", page.element.describe(self.schema)));
            }
            let mut next = self.jiter.known_array()?;
            while let Some(peek) = next {
                let index = page.records.len();
                let checkpoint = self.jiter.clone();
                match self.value(peek, page.element, page.prefix.len() + 1) {
                    Ok(value) => page.records.push(Ok(value)),
                    Err(failure) => {
                        if matches!(*failure, Failure::Syntax(_)) || !page.is_valid() {
                            // A malformed page fails as a whole.
                            return Err(failure);
                        }
                        let error = failure.at(Seg::Index(index)).render(page.bytes, page.root, &page.prefix);
                        page.records.push(Err(error));
                        self.jiter = checkpoint;
                        self.jiter.known_skip(peek)?;
                    }
                }
                next = self.jiter.array_step()?;
            }
            return Ok(());
        };
        if peek != Peek::Object {
            let found = self.found(peek)?;
            return mismatch(format!("expected an object with member {}, found {found}", quote(first)));
        }
        let mut found = false;
        let mut key = self.jiter.known_object()?.map(|key| key == *first);
        while let Some(matches) = key {
            if matches {
                if found {
                    return mismatch(format!("member {} given twice", quote(first)));
                }
                found = true;
                let peek = self.jiter.peek()?;
                page.prefix.push(Seg::Member(first));
                self.records_at(peek, rest, page)?;
                page.prefix.pop();
            } else {
                self.jiter.next_skip()?;
            }
            key = self.jiter.next_key()?.map(|key| key == *first);
        }
        if !found {
            let expected = format!("[{}]", page.element.describe(self.schema));
            return mismatch(format!("missing member {} (expected {expected})", quote(first)));
        }
        Ok(())
    }
}

/// The state of [`json_records`].
struct Page<'s, 'b> {
    element: &'s TypeDesc,
    bytes: &'b [u8],
    root: &'b str,
    /// The members from the root to the current position.
    prefix: Vec<Seg<'s>>,
    records: Vec<Result<Value, DecodeError>>,
    /// Whether the whole document is JSON, once checked.
    valid: Option<bool>,
}

impl Page<'_, '_> {
    fn is_valid(&mut self) -> bool {
        let bytes = self.bytes;
        *self.valid.get_or_insert_with(|| validate(bytes).is_ok())
    }
}

/// What decoding needs to know of a record type beyond its description,
/// worked out once per decode.
struct FieldIndex {
    /// Whether a member is found through the record's hash map rather than
    /// by comparing it with each wire name.
    hashed: bool,
}

impl FieldIndex {
    fn new(desc: &RecordDesc) -> FieldIndex {
        FieldIndex { hashed: desc.fields.len() > LINEAR_SCAN_FIELDS }
    }

    /// The field of the member `key`, if any. Members usually come in
    /// the same order as the fields, so the field after the last one found is
    /// tried first. Comparing wire names directly (length first) beats
    /// hashing: on the benchmark's orders, mostly unknown members, decoding
    /// takes 51k instructions a record this way and 63k through the hash map
    /// (a table of length-and-prefix signatures was slower still).
    #[inline]
    fn find(&self, desc: &RecordDesc, key: &str, guess: &mut usize) -> Option<usize> {
        let fields = &desc.fields;
        let index = match fields.get(*guess) {
            Some(field) if field.wire == key => *guess,
            _ if self.hashed => desc.field_by_wire(key)? as usize,
            _ => fields.iter().position(|field| field.wire == key)?,
        };
        *guess = index + 1;
        Some(index)
    }
}

/// The fields that did not appear: `none` for optionals, `null` for Json, an
/// error for the first other field (in declaration order).
fn fill_missing<'s>(desc: &'s RecordDesc, seen: &Seen, fields: &mut [Value], schema: &Schema) -> Res<'s, ()> {
    for (index, (field, value)) in desc.fields.iter().zip(fields.iter_mut()).enumerate() {
        if seen.contains(index) {
            continue;
        }
        match &field.ty {
            TypeDesc::Optional(_) => {}
            TypeDesc::Json if field.read => *value = json_null(),
            TypeDesc::Json => {}
            ty => {
                return mismatch(format!("missing field {} (expected {})", quote(&field.wire), ty.describe(schema)));
            }
        }
    }
    Ok(())
}

/// Which fields of a record have been read.
enum Seen {
    Small(u128),
    Large(Vec<bool>),
}

impl Seen {
    fn new(count: usize) -> Seen {
        if count <= 128 { Seen::Small(0) } else { Seen::Large(vec![false; count]) }
    }

    /// Marks `index`; false if it was marked already.
    #[inline]
    fn insert(&mut self, index: usize) -> bool {
        match self {
            Seen::Small(bits) => {
                let bit = 1u128 << (index & 127);
                let fresh = *bits & bit == 0;
                *bits |= bit;
                fresh
            }
            Seen::Large(flags) => match flags.get_mut(index) {
                Some(flag) => !std::mem::replace(flag, true),
                None => true,
            },
        }
    }

    fn contains(&self, index: usize) -> bool {
        match self {
            Seen::Small(bits) => index < 128 && bits & (1u128 << index) != 0,
            Seen::Large(flags) => flags.get(index).copied().unwrap_or(false),
        }
    }
}

/// Detects keys given twice in a map: a scan for small maps, a hash set for
/// large ones.
#[derive(Default)]
struct KeySet {
    large: Option<HashSet<Str>>,
}

impl KeySet {
    const SCAN: usize = 16;

    fn insert(&mut self, entries: &[(Str, Value)], key: &Str) -> bool {
        if let Some(set) = &mut self.large {
            return set.insert(key.clone());
        }
        if entries.iter().any(|(existing, _)| existing == key) {
            return false;
        }
        if entries.len() >= Self::SCAN {
            let mut set: HashSet<Str> = entries.iter().map(|(existing, _)| existing.clone()).collect();
            set.insert(key.clone());
            self.large = Some(set);
        }
        true
    }
}

/// A JSON number as `serde_json` holds it: an integer when it has no
/// fraction or exponent and fits 64 bits, else the nearest float; `None` for
/// a number too large for a float.
pub(crate) fn json_number(text: &str) -> Option<serde_json::Number> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(int) = text.parse::<i64>() {
            return Some(int.into());
        }
        if let Ok(int) = text.parse::<u64>() {
            return Some(int.into());
        }
    }
    serde_json::Number::from_f64(text.parse::<f64>().ok()?)
}

// ====================================================================== scalars from text

/// A scalar of a number-kind type from a JSON number's text.
pub(crate) fn from_number_text(text: &str, ty: &TypeDesc) -> Option<Value> {
    match ty {
        TypeDesc::Int(NumberFormat::Number) => parse_number(text.as_bytes(), false)?.to_i64().map(Value::Int),
        TypeDesc::Float(NumberFormat::Number) => parse_float(text, false).map(Value::Float),
        TypeDesc::Decimal(NumberFormat::Number) => {
            parse_number(text.as_bytes(), false)?.to_decimal().map(Value::Decimal)
        }
        TypeDesc::DateTime(DateTimeFormat::Unix) => {
            let nanos = parse_number(text.as_bytes(), false)?.to_scaled_floor(9)?;
            let seconds = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
            let nanos = u32::try_from(nanos.rem_euclid(1_000_000_000)).ok()?;
            datetime_in_range(seconds, nanos, 0).map(Value::DateTime)
        }
        TypeDesc::DateTime(DateTimeFormat::UnixMs) => {
            let millis = parse_number(text.as_bytes(), false)?.to_i64()?;
            let nanos = u32::try_from(millis.rem_euclid(1000) * 1_000_000).ok()?;
            datetime_in_range(millis.div_euclid(1000), nanos, 0).map(Value::DateTime)
        }
        TypeDesc::Duration(DurationFormat::Seconds) => {
            let millis = parse_number(text.as_bytes(), false)?.to_scaled_rounded(3)?;
            Some(Value::Duration(Duration { millis: i64::try_from(millis).ok()? }))
        }
        TypeDesc::Duration(DurationFormat::Milliseconds) => {
            parse_number(text.as_bytes(), false)?.to_i64().map(|millis| Value::Duration(Duration { millis }))
        }
        _ => None,
    }
}

/// A scalar of a string-kind type from a JSON string's content.
pub(crate) fn from_string(text: &str, ty: &TypeDesc, schema: &Schema) -> Option<Value> {
    match ty {
        TypeDesc::String => Some(Value::String(Arc::from(text))),
        TypeDesc::Int(NumberFormat::String) => parse_int_text(text).map(Value::Int),
        TypeDesc::Float(NumberFormat::String) => parse_float(text, true).map(Value::Float),
        TypeDesc::Decimal(NumberFormat::String) => {
            parse_number(text.as_bytes(), true)?.to_decimal().map(Value::Decimal)
        }
        TypeDesc::DateTime(DateTimeFormat::Rfc3339) => parse_rfc3339(text).map(Value::DateTime),
        TypeDesc::DateTime(DateTimeFormat::Rfc2822) => parse_rfc2822(text).map(Value::DateTime),
        TypeDesc::Date => parse_date(text).map(Value::Date),
        TypeDesc::Duration(DurationFormat::Iso8601) => parse_iso8601_duration(text).map(Value::Duration),
        TypeDesc::Enum(index) => {
            let definition = schema.enumeration(*index)?;
            let variant = definition.variant_by_wire(text).or(definition.other)?;
            Some(Value::Enum { ty: *index, variant })
        }
        _ => None,
    }
}

/// An integer in a string: an optional sign, then ASCII digits.
fn parse_int_text(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_float(text: &str, lenient: bool) -> Option<f64> {
    parse_number(text.as_bytes(), lenient)?;
    text.parse::<f64>().ok().filter(|float| float.is_finite())
}

/// A number read exactly from its text: `±mantissa × 10^exponent`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Number {
    negative: bool,
    /// The first 38 significant digits.
    mantissa: u128,
    exponent: i64,
    /// Significant digits written (from the first non-zero digit, trailing
    /// zeros included).
    digits: u32,
    /// A non-zero digit beyond the 38th was dropped.
    inexact: bool,
}

const MAX_KEPT_DIGITS: u32 = 38;

/// Reads a number written as JSON writes it (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`);
/// `lenient` also allows a leading `+` and leading zeros (numbers in strings).
fn parse_number(text: &[u8], lenient: bool) -> Option<Number> {
    let mut number = Number { negative: false, mantissa: 0, exponent: 0, digits: 0, inexact: false };
    let mut index = 0;
    match text.first() {
        Some(b'-') => {
            number.negative = true;
            index = 1;
        }
        Some(b'+') if lenient => index = 1,
        _ => {}
    }
    let start = index;
    while let Some(digit) = text.get(index).filter(|byte| byte.is_ascii_digit()) {
        number.push_digit(digit - b'0', false);
        index += 1;
    }
    let integer_digits = index - start;
    if integer_digits == 0 || (!lenient && integer_digits > 1 && text.get(start) == Some(&b'0')) {
        return None;
    }
    if text.get(index) == Some(&b'.') {
        index += 1;
        let fraction_start = index;
        while let Some(digit) = text.get(index).filter(|byte| byte.is_ascii_digit()) {
            number.push_digit(digit - b'0', true);
            index += 1;
        }
        if index == fraction_start {
            return None;
        }
    }
    if matches!(text.get(index), Some(b'e' | b'E')) {
        index += 1;
        let negative = match text.get(index) {
            Some(b'-') => {
                index += 1;
                true
            }
            Some(b'+') => {
                index += 1;
                false
            }
            _ => false,
        };
        let exponent_start = index;
        let mut exponent: i64 = 0;
        while let Some(digit) = text.get(index).filter(|byte| byte.is_ascii_digit()) {
            exponent = (exponent * 10 + i64::from(digit - b'0')).min(1_000_000_000_000);
            index += 1;
        }
        if index == exponent_start {
            return None;
        }
        number.exponent += if negative { -exponent } else { exponent };
    }
    (index == text.len()).then_some(number)
}

impl Number {
    fn push_digit(&mut self, digit: u8, fraction: bool) {
        if self.mantissa == 0 && digit == 0 && self.digits == 0 {
            // A leading zero: no significant digit yet.
            if fraction {
                self.exponent -= 1;
            }
            return;
        }
        self.digits += 1;
        if self.digits <= MAX_KEPT_DIGITS {
            self.mantissa = self.mantissa * 10 + u128::from(digit);
            if fraction {
                self.exponent -= 1;
            }
        } else {
            self.inexact |= digit != 0;
            if !fraction {
                self.exponent += 1;
            }
        }
    }

    /// The value as an Int, if it is integral and in range.
    fn to_i64(self) -> Option<i64> {
        if self.inexact {
            return None;
        }
        if self.mantissa == 0 {
            return Some(0);
        }
        let magnitude = if self.exponent >= 0 {
            self.mantissa.checked_mul(pow10(self.exponent)?)?
        } else {
            let divisor = pow10(-self.exponent)?;
            if !self.mantissa.is_multiple_of(divisor) {
                return None;
            }
            self.mantissa / divisor
        };
        let magnitude = i128::try_from(magnitude).ok()?;
        i64::try_from(if self.negative { -magnitude } else { magnitude }).ok()
    }

    /// The value as an exact Decimal: at most 28 significant digits and a
    /// scale of at most 28.
    fn to_decimal(self) -> Option<Decimal> {
        if self.mantissa == 0 {
            let scale = u32::try_from((-self.exponent).clamp(0, 28)).ok()?;
            return Decimal::try_from_i128_with_scale(0, scale).ok();
        }
        if self.digits > 28 {
            return None;
        }
        let (mantissa, scale) = if self.exponent >= 0 {
            if i64::from(self.digits) + self.exponent > 28 {
                return None;
            }
            (self.mantissa.checked_mul(pow10(self.exponent)?)?, 0)
        } else {
            (self.mantissa, u32::try_from(-self.exponent).ok().filter(|scale| *scale <= 28)?)
        };
        let mantissa = i128::try_from(mantissa).ok()?;
        Decimal::try_from_i128_with_scale(if self.negative { -mantissa } else { mantissa }, scale).ok()
    }

    /// The value times `10^places`, rounded toward negative infinity.
    fn to_scaled_floor(self, places: i64) -> Option<i128> {
        let exponent = self.exponent + places;
        let magnitude = self.mantissa;
        if exponent >= 0 {
            let value = i128::try_from(magnitude.checked_mul(pow10(exponent)?)?).ok()?;
            return Some(if self.negative { -value } else { value });
        }
        let (quotient, remainder) = match pow10(-exponent) {
            Some(divisor) => (magnitude / divisor, magnitude % divisor),
            None => (0, magnitude),
        };
        let quotient = i128::try_from(quotient).ok()?;
        Some(if self.negative {
            if remainder != 0 || self.inexact { -quotient - 1 } else { -quotient }
        } else {
            quotient
        })
    }

    /// The value times `10^places`, rounded to the nearest integer (halves
    /// away from zero).
    fn to_scaled_rounded(self, places: i64) -> Option<i128> {
        let exponent = self.exponent + places;
        let magnitude = if exponent >= 0 {
            self.mantissa.checked_mul(pow10(exponent)?)?
        } else {
            match pow10(-exponent) {
                Some(divisor) => {
                    let quotient = self.mantissa / divisor;
                    let remainder = self.mantissa % divisor;
                    if remainder >= divisor - remainder { quotient + 1 } else { quotient }
                }
                None => 0,
            }
        };
        let magnitude = i128::try_from(magnitude).ok()?;
        Some(if self.negative { -magnitude } else { magnitude })
    }
}

/// `10^exponent` for `0 ≤ exponent ≤ 38`.
fn pow10(exponent: i64) -> Option<u128> {
    10u128.checked_pow(u32::try_from(exponent).ok()?)
}

// ====================================================================== dates and times

/// A DateTime if the instant is in the range of `jiff::Timestamp` (years
/// -9999 to 9999).
fn datetime_in_range(seconds: i64, nanos: u32, offset_seconds: i32) -> Option<DateTime> {
    jiff::Timestamp::new(seconds, i32::try_from(nanos).ok()?).ok()?;
    Some(DateTime { seconds, nanos, offset_seconds })
}

/// Parses an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS`, `T`, `t` or a space
/// between date and time, optional fractional seconds (any number of digits,
/// kept to the nanosecond), then an offset (`Z`, `z` or `±HH:MM`), which is
/// required and kept. A leap second (`:60`) reads as `:59`.
pub fn parse_rfc3339(text: &str) -> Option<DateTime> {
    let bytes = text.as_bytes();
    let (year, month, day) = read_date(bytes)?;
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = two_digits(bytes, 11)?;
    let minute = two_digits(bytes, 14)?;
    let second = two_digits(bytes, 17)?;
    if bytes.get(13) != Some(&b':') || bytes.get(16) != Some(&b':') || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut index = 19;
    let mut nanos = 0u32;
    if bytes.get(index) == Some(&b'.') {
        index += 1;
        let start = index;
        while let Some(digit) = bytes.get(index).filter(|byte| byte.is_ascii_digit()) {
            if index - start < 9 {
                nanos = nanos * 10 + u32::from(digit - b'0');
            }
            index += 1;
        }
        let count = index - start;
        if count == 0 {
            return None;
        }
        if count < 9 {
            nanos *= 10u32.pow(9 - count as u32);
        }
    }
    let offset_seconds = match bytes.get(index) {
        Some(b'Z' | b'z') => {
            index += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let hours = two_digits(bytes, index + 1)?;
            let minutes = two_digits(bytes, index + 4)?;
            if bytes.get(index + 3) != Some(&b':') || hours > 23 || minutes > 59 {
                return None;
            }
            index += 6;
            let offset = (hours * 3600 + minutes * 60) as i32;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    if index != bytes.len() {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second.min(59));
    datetime_in_range(local - i64::from(offset_seconds), nanos, offset_seconds)
}

/// Parses an RFC 2822 date-time (`Fri, 01 Mar 2024 12:00:00 +0000`); the
/// offset is kept.
pub fn parse_rfc2822(text: &str) -> Option<DateTime> {
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let zoned = PARSER.parse_zoned(text).ok()?;
    Some(DateTime::from_timestamp(zoned.timestamp(), zoned.offset()))
}

/// Parses `YYYY-MM-DD`, a date that exists.
pub fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 {
        return None;
    }
    let (year, month, day) = read_date(bytes)?;
    jiff::civil::Date::new(i16::try_from(year).ok()?, month as i8, day as i8).ok()
}

/// `YYYY-MM-DD` at the start of `bytes`, checked to exist.
fn read_date(bytes: &[u8]) -> Option<(i64, u32, u32)> {
    let year = i64::from(two_digits(bytes, 0)? * 100 + two_digits(bytes, 2)?);
    let month = two_digits(bytes, 5)?;
    let day = two_digits(bytes, 8)?;
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((year, month, day))
}

fn two_digits(bytes: &[u8], index: usize) -> Option<u32> {
    let tens = bytes.get(index).filter(|byte| byte.is_ascii_digit())?;
    let ones = bytes.get(index + 1).filter(|byte| byte.is_ascii_digit())?;
    Some(u32::from(tens - b'0') * 10 + u32::from(ones - b'0'))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Parses an ISO 8601 duration (`PT10S`, `PT1H30M`, `P1DT2H`, `-PT0.25S`):
/// an optional sign, `P`, weeks and days (a day is 24 hours), then `T` and
/// hours, minutes and seconds. Years and months are rejected (their length
/// varies). The last component may have a fraction (`.` or `,`); the result
/// is rounded to the millisecond.
pub fn parse_iso8601_duration(text: &str) -> Option<Duration> {
    const SECOND: i128 = 1_000_000_000;
    let bytes = text.as_bytes();
    let mut index = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            index = 1;
            true
        }
        Some(b'+') => {
            index = 1;
            false
        }
        _ => false,
    };
    if !matches!(bytes.get(index), Some(b'P' | b'p')) {
        return None;
    }
    index += 1;
    let mut nanos: i128 = 0;
    let mut in_time = false;
    let mut last_rank = 0;
    let mut components = 0;
    let mut fractional = false;
    while index < bytes.len() {
        if matches!(bytes.get(index), Some(b'T' | b't')) {
            if in_time {
                return None;
            }
            in_time = true;
            index += 1;
            // `T` must be followed by a component.
            if index == bytes.len() {
                return None;
            }
            continue;
        }
        if fractional {
            // Only the last component may have a fraction.
            return None;
        }
        let start = index;
        let mut whole: i128 = 0;
        while let Some(digit) = bytes.get(index).filter(|byte| byte.is_ascii_digit()) {
            whole = whole.checked_mul(10)?.checked_add(i128::from(digit - b'0'))?;
            if whole > i128::from(u64::MAX) {
                return None;
            }
            index += 1;
        }
        if index == start {
            return None;
        }
        let (mut fraction, mut scale) = (0i128, 1i128);
        if matches!(bytes.get(index), Some(b'.' | b',')) {
            index += 1;
            let fraction_start = index;
            while let Some(digit) = bytes.get(index).filter(|byte| byte.is_ascii_digit()) {
                if index - fraction_start < 18 {
                    fraction = fraction * 10 + i128::from(digit - b'0');
                    scale *= 10;
                }
                index += 1;
            }
            if index == fraction_start {
                return None;
            }
            fractional = true;
        }
        let designator = bytes.get(index)?.to_ascii_uppercase();
        index += 1;
        let (rank, unit) = match (in_time, designator) {
            (false, b'W') => (1, 7 * 86_400 * SECOND),
            (false, b'D') => (2, 86_400 * SECOND),
            (true, b'H') => (3, 3600 * SECOND),
            (true, b'M') => (4, 60 * SECOND),
            (true, b'S') => (5, SECOND),
            // Years and months (and anything else).
            _ => return None,
        };
        if rank <= last_rank {
            return None;
        }
        last_rank = rank;
        components += 1;
        nanos = nanos.checked_add(whole.checked_mul(unit)?)?.checked_add(fraction * unit / scale)?;
    }
    if components == 0 {
        return None;
    }
    let millis = (nanos + 500_000) / 1_000_000;
    let millis = i64::try_from(if negative { -millis } else { millis }).ok()?;
    Some(Duration { millis })
}

// ====================================================================== decoding a serde_json::Value

struct Walker<'s> {
    schema: &'s Schema,
}

impl<'s> Walker<'s> {
    fn value(&self, json: &serde_json::Value, ty: &'s TypeDesc, depth: usize) -> Res<'s, Value> {
        use serde_json::Value as Json;
        match (ty, json) {
            (TypeDesc::Optional(_), Json::Null) => Ok(Value::None),
            (TypeDesc::Optional(inner), _) => self.value(json, inner, depth),
            (TypeDesc::Json, Json::Null) => Ok(json_null()),
            (TypeDesc::Json, _) => Ok(Value::Json(Arc::new(json.clone()))),
            (TypeDesc::String, Json::String(text)) => Ok(Value::String(Arc::from(text.as_str()))),
            (TypeDesc::Bool, Json::Bool(value)) => Ok(Value::Bool(*value)),
            (TypeDesc::Int(NumberFormat::Number), Json::Number(number)) if number.is_i64() => {
                Ok(Value::Int(number.as_i64().unwrap_or_default()))
            }
            (TypeDesc::Float(NumberFormat::Number), Json::Number(number)) => match number.as_f64() {
                Some(float) if float.is_finite() => Ok(Value::Float(float)),
                _ => self.mismatch(json, ty),
            },
            (
                TypeDesc::Int(NumberFormat::Number)
                | TypeDesc::Decimal(NumberFormat::Number)
                | TypeDesc::DateTime(DateTimeFormat::Unix | DateTimeFormat::UnixMs)
                | TypeDesc::Duration(DurationFormat::Seconds | DurationFormat::Milliseconds),
                Json::Number(number),
            ) => match from_number_text(&number.to_string(), ty) {
                Some(value) => Ok(value),
                None => self.mismatch(json, ty),
            },
            (
                TypeDesc::Int(NumberFormat::String)
                | TypeDesc::Float(NumberFormat::String)
                | TypeDesc::Decimal(NumberFormat::String)
                | TypeDesc::DateTime(DateTimeFormat::Rfc3339 | DateTimeFormat::Rfc2822)
                | TypeDesc::Date
                | TypeDesc::Duration(DurationFormat::Iso8601)
                | TypeDesc::Enum(_),
                Json::String(text),
            ) => match from_string(text, ty, self.schema) {
                Some(value) => Ok(value),
                None => self.mismatch(json, ty),
            },
            (TypeDesc::List(inner), Json::Array(items)) => {
                if depth >= MAX_DEPTH {
                    return too_deep();
                }
                let mut values = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    values.push(self.value(item, inner, depth + 1).map_err(|failure| failure.at(Seg::Index(index)))?);
                }
                Ok(Value::List(Arc::new(values)))
            }
            (TypeDesc::Map(inner), Json::Object(members)) => {
                if depth >= MAX_DEPTH {
                    return too_deep();
                }
                let mut entries = Vec::with_capacity(members.len());
                for (key, member) in members {
                    let key = Str::from(key.as_str());
                    let value =
                        self.value(member, inner, depth + 1).map_err(|failure| failure.at(Seg::Key(key.clone())))?;
                    entries.push((key, value));
                }
                Ok(Value::Map(Arc::new(entries)))
            }
            (TypeDesc::Record(index), Json::Object(members)) => {
                let Some(desc) = self.schema.record(*index) else {
                    return mismatch(format!("unknown record type #{index}"));
                };
                if depth >= MAX_DEPTH {
                    return too_deep();
                }
                let mut fields = vec![Value::None; desc.fields.len()];
                let mut seen = Seen::new(desc.fields.len());
                for (position, (field, slot)) in desc.fields.iter().zip(fields.iter_mut()).enumerate() {
                    if let Some(member) = members.get(&field.wire) {
                        seen.insert(position);
                        // A member the program never reads is checked, not kept.
                        let value = self
                            .value(member, &field.ty, depth + 1)
                            .map_err(|failure| failure.at(Seg::Member(&field.wire)))?;
                        if field.read {
                            *slot = value;
                        }
                    }
                }
                fill_missing(desc, &seen, &mut fields, self.schema)?;
                Ok(Value::record(*index, fields))
            }
            _ => self.mismatch(json, ty),
        }
    }

    #[cold]
    fn mismatch<T>(&self, json: &serde_json::Value, ty: &TypeDesc) -> Res<'s, T> {
        use serde_json::Value as Json;
        let found = match json {
            Json::Null => "null".to_owned(),
            Json::Bool(value) => format!("bool {value}"),
            Json::Number(number) => found_number(&number.to_string()),
            Json::String(text) => found_string(text),
            Json::Array(_) => "array".to_owned(),
            Json::Object(_) => "object".to_owned(),
        };
        expected_found(ty, self.schema, &found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{EnumDesc, FieldDesc, VariantDesc};

    fn field(name: &str, wire: &str, ty: TypeDesc) -> FieldDesc {
        FieldDesc { name: name.to_owned(), wire: wire.to_owned(), ty, read: true }
    }

    fn opt(ty: TypeDesc) -> TypeDesc {
        TypeDesc::Optional(Box::new(ty))
    }

    fn list(ty: TypeDesc) -> TypeDesc {
        TypeDesc::List(Box::new(ty))
    }

    const ORDER_STATUS: u32 = 0;
    const KIND: u32 = 1;
    const LINE_ITEM: u32 = 0;
    const ADDRESS: u32 = 1;
    const ORDER: u32 = 2;

    fn schema() -> Schema {
        let variants = |names: &[(&str, &str)]| {
            names
                .iter()
                .map(|(name, wire)| VariantDesc { name: (*name).to_owned(), wire: (*wire).to_owned() })
                .collect()
        };
        let mut ignored = field("ignored", "ignored", TypeDesc::Int(NumberFormat::Number));
        ignored.read = false;
        Schema {
            enums: vec![
                EnumDesc {
                    name: "OrderStatus".to_owned(),
                    variants: variants(&[("paid", "paid"), ("pending", "pending"), ("refunded", "REFUNDED")]),
                    other: None,
                },
                EnumDesc {
                    name: "Kind".to_owned(),
                    variants: variants(&[("a", "a"), ("b", "b"), ("unknown", "unknown")]),
                    other: Some(2),
                },
            ],
            records: vec![
                RecordDesc::new(
                    "LineItem",
                    vec![
                        field("sku", "sku", TypeDesc::String),
                        field("quantity", "quantity", TypeDesc::Int(NumberFormat::Number)),
                        field("unit_price", "unit_price", TypeDesc::Decimal(NumberFormat::String)),
                    ],
                    false,
                ),
                RecordDesc::new(
                    "Address",
                    vec![
                        field("country_code", "country code", opt(TypeDesc::String)),
                        field("city", "city", TypeDesc::String),
                    ],
                    false,
                ),
                RecordDesc::new(
                    "Order",
                    vec![
                        field("id", "id", TypeDesc::Int(NumberFormat::Number)),
                        field("email", "email", opt(TypeDesc::String)),
                        field("status", "financial_status", TypeDesc::Enum(ORDER_STATUS)),
                        field("total_cents", "total_price_cents", TypeDesc::Int(NumberFormat::Number)),
                        field("shipping", "shipping_address", opt(TypeDesc::Record(ADDRESS))),
                        field("updated_at", "updated_at", TypeDesc::DateTime(DateTimeFormat::Rfc3339)),
                        field("items", "items", list(TypeDesc::Record(LINE_ITEM))),
                        field("tags", "tags", TypeDesc::Map(Box::new(TypeDesc::String))),
                        field("raw", "raw", TypeDesc::Json),
                        field("paid_at", "paidAt", opt(TypeDesc::DateTime(DateTimeFormat::Unix))),
                        ignored,
                    ],
                    false,
                ),
            ],
        }
    }

    fn decode(text: &str, ty: &TypeDesc) -> Result<Value, DecodeError> {
        json(text.as_bytes(), ty, &schema(), "body")
    }

    fn ok(text: &str, ty: TypeDesc) -> Value {
        match decode(text, &ty) {
            Ok(value) => value,
            Err(error) => panic!("{text} as {ty:?}: {error}"),
        }
    }

    fn err(text: &str, ty: TypeDesc) -> String {
        match decode(text, &ty) {
            Ok(value) => panic!("{text} as {ty:?} decoded to {value:?}"),
            Err(error) => {
                // The same document through serde_json gives the same error,
                // unless it is not JSON.
                if let Ok(parsed) = serde_json::from_str::<serde_json::Value>(text)
                    && !text.contains("1e400")
                    && !text.contains("99999999999999999999")
                    && !text.contains("1.0000000000000000000")
                {
                    let walked = from_json(&parsed, &ty, &schema(), "body");
                    // serde_json keeps neither duplicate members nor the
                    // text of numbers.
                    if !error.message.contains("twice") {
                        let walked = walked.as_ref().err();
                        assert_eq!(
                            walked.map(|walked| &walked.path),
                            Some(&error.path),
                            "from_json differs for {text}"
                        );
                        if !error.message.contains("found number") {
                            assert_eq!(walked, Some(&error), "from_json differs for {text}");
                        }
                    }
                }
                error.to_string()
            }
        }
    }

    const INT: TypeDesc = TypeDesc::Int(NumberFormat::Number);
    const DECIMAL: TypeDesc = TypeDesc::Decimal(NumberFormat::Number);

    fn decimal(text: &str) -> Decimal {
        match ok(text, DECIMAL) {
            Value::Decimal(decimal) => decimal,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ints_accept_integral_numbers_only() {
        assert_eq!(ok("3", INT).as_int(), Some(3));
        assert_eq!(ok(" -42 ", INT).as_int(), Some(-42));
        assert_eq!(ok("3.0", INT).as_int(), Some(3));
        assert_eq!(ok("1e3", INT).as_int(), Some(1000));
        assert_eq!(ok("1.5E1", INT).as_int(), Some(15));
        assert_eq!(ok("-0", INT).as_int(), Some(0));
        assert_eq!(ok("-0.0", INT).as_int(), Some(0));
        assert_eq!(ok("12500e-2", INT).as_int(), Some(125));
        assert_eq!(ok("9223372036854775807", INT).as_int(), Some(i64::MAX));
        assert_eq!(ok("-9223372036854775808", INT).as_int(), Some(i64::MIN));
        assert_eq!(ok("9.223372036854775807e18", INT).as_int(), Some(i64::MAX));
        assert_eq!(err("12.5", INT), "body: expected Int, found number 12.5");
        assert_eq!(err("\"12\"", INT), "body: expected Int, found string \"12\"");
        assert_eq!(err("1e30", INT), "body: expected Int, found number 1e30");
        assert_eq!(err("9223372036854775808", INT), "body: expected Int, found number 9223372036854775808");
        assert_eq!(err("null", INT), "body: expected Int, found null");
        assert_eq!(err("true", INT), "body: expected Int, found bool true");
        assert_eq!(err("[1]", INT), "body: expected Int, found array");
        assert_eq!(err("{}", INT), "body: expected Int, found object");
        assert_eq!(
            err("1.0000000000000000000000000000000000000000001", INT),
            "body: expected Int, found number 1.00000000000000000000000000000000000000…"
        );
    }

    #[test]
    fn ints_as_strings() {
        let ty = || TypeDesc::Int(NumberFormat::String);
        assert_eq!(ok("\"12\"", ty()).as_int(), Some(12));
        assert_eq!(ok("\"-3\"", ty()).as_int(), Some(-3));
        assert_eq!(ok("\"+4\"", ty()).as_int(), Some(4));
        assert_eq!(err("12", ty()), "body: expected Int (as a string), found number 12");
        assert_eq!(err("\"12.5\"", ty()), "body: expected Int (as a string), found string \"12.5\"");
        assert_eq!(err("\" 12\"", ty()), "body: expected Int (as a string), found string \" 12\"");
        assert_eq!(err("\"\"", ty()), "body: expected Int (as a string), found string \"\"");
    }

    #[test]
    fn floats() {
        let float = TypeDesc::Float(NumberFormat::Number);
        assert!(matches!(ok("1", float.clone()), Value::Float(value) if value == 1.0));
        assert!(matches!(ok("-2.5e-3", float.clone()), Value::Float(value) if value == -0.0025));
        assert!(matches!(ok("0.1", float.clone()), Value::Float(value) if value == 0.1));
        assert_eq!(err("\"1.5\"", float.clone()), "body: expected Float, found string \"1.5\"");
        assert_eq!(err("null", float.clone()), "body: expected Float, found null");
        assert_eq!(err("1e400", float), "body: expected Float, found number 1e400");
        let string = TypeDesc::Float(NumberFormat::String);
        assert!(matches!(ok("\"1.5\"", string.clone()), Value::Float(value) if value == 1.5));
        assert_eq!(err("\"NaN\"", string.clone()), "body: expected Float (as a string), found string \"NaN\"");
        assert_eq!(err("1.5", string), "body: expected Float (as a string), found number 1.5");
    }

    #[test]
    fn decimals_are_exact_and_keep_their_scale() {
        assert_eq!(decimal("12.50").to_string(), "12.50");
        assert_eq!(decimal("12.50").scale(), 2);
        assert_eq!(decimal("-3").to_string(), "-3");
        assert_eq!(decimal("0.00").to_string(), "0.00");
        assert_eq!(decimal("-0.0").to_string(), "0.0");
        assert_eq!(decimal("1.5e3").to_string(), "1500");
        assert_eq!(decimal("1.5e-3").to_string(), "0.0015");
        assert_eq!(decimal("0.1").to_string(), "0.1");
        assert_eq!(decimal("1234567890123456789012345678").to_string(), "1234567890123456789012345678");
        assert_eq!(decimal("0.1234567890123456789012345678").to_string(), "0.1234567890123456789012345678");
        assert_eq!(decimal("-9999999999999999999999999999").to_string(), "-9999999999999999999999999999");
        assert_eq!(
            err("12345678901234567890123456789", DECIMAL),
            "body: expected Decimal, found number 12345678901234567890123456789"
        );
        assert!(err("1234567890123456789012345678901234567890", DECIMAL).starts_with("body: expected Decimal"));
        assert!(err("1e-29", DECIMAL).starts_with("body: expected Decimal"));
        assert!(err("1e28", DECIMAL).starts_with("body: expected Decimal"));
        assert_eq!(decimal("1e27").to_string(), "1000000000000000000000000000");
        assert_eq!(err("\"12.50\"", DECIMAL), "body: expected Decimal, found string \"12.50\"");
        let string = || TypeDesc::Decimal(NumberFormat::String);
        assert!(matches!(ok("\"12.50\"", string()), Value::Decimal(value) if value.to_string() == "12.50"));
        assert!(matches!(ok("\"-3\"", string()), Value::Decimal(value) if value.to_string() == "-3"));
        assert!(matches!(ok("\"007.5\"", string()), Value::Decimal(value) if value.to_string() == "7.5"));
        assert_eq!(err("12.50", string()), "body: expected Decimal (as a string), found number 12.50");
        assert_eq!(err("\"12,50\"", string()), "body: expected Decimal (as a string), found string \"12,50\"");
        assert_eq!(err("\"\"", string()), "body: expected Decimal (as a string), found string \"\"");
    }

    #[test]
    fn bools_and_strings() {
        assert_eq!(ok("true", TypeDesc::Bool).as_bool(), Some(true));
        assert_eq!(ok("false", TypeDesc::Bool).as_bool(), Some(false));
        assert_eq!(err("\"true\"", TypeDesc::Bool), "body: expected Bool, found string \"true\"");
        assert_eq!(err("1", TypeDesc::Bool), "body: expected Bool, found number 1");
        assert_eq!(
            ok(r#""a\"b\\c\nd\u00e9\ud83d\ude00""#, TypeDesc::String).as_str(),
            Some("a\"b\\c\nd\u{e9}\u{1F600}")
        );
        assert_eq!(ok("\"日本語\"", TypeDesc::String).as_str(), Some("日本語"));
        assert_eq!(err("42", TypeDesc::String), "body: expected String, found number 42");
        assert_eq!(err("null", TypeDesc::String), "body: expected String, found null");
    }

    #[test]
    fn long_strings_are_cut_in_messages() {
        let long = "x".repeat(41);
        assert_eq!(
            err(&format!("\"{long}\""), INT),
            format!("body: expected Int, found string \"{}…\"", "x".repeat(40))
        );
        let exact = "é".repeat(40);
        assert_eq!(err(&format!("\"{exact}\""), INT), format!("body: expected Int, found string \"{exact}\""));
        assert_eq!(err(r#""a\"b\n""#, INT), r#"body: expected Int, found string "a\"b\n""#);
    }

    fn datetime(text: &str, format: DateTimeFormat) -> DateTime {
        match ok(text, TypeDesc::DateTime(format)) {
            Value::DateTime(datetime) => datetime,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc3339_datetimes() {
        let rfc = DateTimeFormat::Rfc3339;
        let utc = datetime("\"2024-05-01T12:00:00Z\"", rfc);
        assert_eq!(utc, DateTime { seconds: 1_714_564_800, nanos: 0, offset_seconds: 0 });
        let paris = datetime("\"2024-05-01T14:00:00+02:00\"", rfc);
        assert_eq!((paris.seconds, paris.offset_seconds), (1_714_564_800, 7200));
        let lower = datetime("\"2024-05-01t12:00:00z\"", rfc);
        assert_eq!(lower, utc);
        let spaced = datetime("\"2024-05-01 08:30:00-03:30\"", rfc);
        assert_eq!((spaced.seconds, spaced.offset_seconds), (1_714_564_800, -12_600));
        let fraction = datetime("\"2024-05-01T12:00:00.123456789Z\"", rfc);
        assert_eq!(fraction.nanos, 123_456_789);
        assert_eq!(datetime("\"2024-05-01T12:00:00.5Z\"", rfc).nanos, 500_000_000);
        assert_eq!(datetime("\"2024-05-01T12:00:00.1234567891234Z\"", rfc).nanos, 123_456_789);
        assert_eq!(
            datetime("\"1969-12-31T23:59:59.5Z\"", rfc),
            DateTime { seconds: -1, nanos: 500_000_000, offset_seconds: 0 }
        );
        assert_eq!(datetime("\"2024-02-29T00:00:00Z\"", rfc).seconds, 1_709_164_800);
        assert_eq!(datetime("\"0000-01-01T00:00:00Z\"", rfc).seconds, -62_167_219_200);
        assert_eq!(datetime("\"2016-12-31T23:59:60Z\"", rfc).seconds, 1_483_228_799);
        assert_eq!(
            err("\"2024-05-01 10:00\"", TypeDesc::DateTime(rfc)),
            "body: expected DateTime (RFC 3339 with an offset), found string \"2024-05-01 10:00\""
        );
        for bad in [
            "2024-05-01 10:00:00",
            "yesterday",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:60:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+0200",
            "2024-05-01T12:00:00+24:00",
            "2024-05-01T12:00:00Zjunk",
            "2024-05-01X12:00:00Z",
            "2024-5-01T12:00:00Z",
            "9999-12-31T23:59:59-23:00",
            "",
        ] {
            assert!(decode(&format!("\"{bad}\""), &TypeDesc::DateTime(rfc)).is_err(), "{bad} was accepted");
        }
        assert_eq!(
            err("1714564800", TypeDesc::DateTime(rfc)),
            "body: expected DateTime (RFC 3339 with an offset), found number 1714564800"
        );
    }

    #[test]
    fn rfc3339_agrees_with_jiff() {
        for text in [
            "2024-05-01T12:00:00Z",
            "1999-12-31T23:59:59.999+05:45",
            "1900-03-01T00:00:00-11:59",
            "2400-02-29T06:07:08.000000001+14:00",
            "0001-01-01T00:00:00Z",
        ] {
            let ours = parse_rfc3339(text).map(DateTime::timestamp);
            let theirs = text.parse::<jiff::Timestamp>().ok();
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn unix_datetimes() {
        let unix = DateTimeFormat::Unix;
        assert_eq!(datetime("1709294400", unix), DateTime { seconds: 1_709_294_400, nanos: 0, offset_seconds: 0 });
        assert_eq!(datetime("1709294400.25", unix).nanos, 250_000_000);
        assert_eq!(datetime("1.7092944e9", unix).seconds, 1_709_294_400);
        assert_eq!(datetime("-1.5", unix), DateTime { seconds: -2, nanos: 500_000_000, offset_seconds: 0 });
        assert_eq!(datetime("0.0000000019", unix).nanos, 1);
        assert_eq!(
            err("\"1709294400\"", TypeDesc::DateTime(unix)),
            "body: expected DateTime (seconds since the epoch), found string \"1709294400\""
        );
        assert!(err("1e20", TypeDesc::DateTime(unix)).starts_with("body: expected DateTime"));
        let millis = DateTimeFormat::UnixMs;
        assert_eq!(
            datetime("1709294400123", millis),
            DateTime { seconds: 1_709_294_400, nanos: 123_000_000, offset_seconds: 0 }
        );
        assert_eq!(datetime("-1", millis), DateTime { seconds: -1, nanos: 999_000_000, offset_seconds: 0 });
        assert_eq!(
            err("1.5", TypeDesc::DateTime(millis)),
            "body: expected DateTime (milliseconds since the epoch), found number 1.5"
        );
    }

    #[test]
    fn rfc2822_datetimes() {
        let rfc = DateTimeFormat::Rfc2822;
        let utc = datetime("\"Fri, 01 Mar 2024 12:00:00 +0000\"", rfc);
        assert_eq!(utc, DateTime { seconds: 1_709_294_400, nanos: 0, offset_seconds: 0 });
        let east = datetime("\"Fri, 01 Mar 2024 07:00:00 -0500\"", rfc);
        assert_eq!((east.seconds, east.offset_seconds), (1_709_294_400, -18_000));
        assert_eq!(
            err("\"2024-03-01T12:00:00Z\"", TypeDesc::DateTime(rfc)),
            "body: expected DateTime (RFC 2822), found string \"2024-03-01T12:00:00Z\""
        );
    }

    #[test]
    fn dates() {
        let date = |text: &str| match ok(text, TypeDesc::Date) {
            Value::Date(date) => date,
            other => panic!("{other:?}"),
        };
        assert_eq!(date("\"2024-02-29\""), jiff::civil::date(2024, 2, 29));
        assert_eq!(date("\"0001-01-01\""), jiff::civil::date(1, 1, 1));
        assert_eq!(err("\"2024-02-30\""), "body: expected Date (YYYY-MM-DD), found string \"2024-02-30\"");
        fn err(text: &str) -> String {
            super::tests::err(text, TypeDesc::Date)
        }
        for bad in ["\"2023-02-29\"", "\"2024-2-3\"", "\"2024-02-03T00:00:00Z\"", "\"20240203\"", "20240203"] {
            assert!(decode(bad, &TypeDesc::Date).is_err(), "{bad}");
        }
    }

    fn millis(text: &str, format: DurationFormat) -> i64 {
        match ok(text, TypeDesc::Duration(format)) {
            Value::Duration(duration) => duration.millis,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn durations() {
        let iso = DurationFormat::Iso8601;
        assert_eq!(millis("\"PT10S\"", iso), 10_000);
        assert_eq!(millis("\"PT90S\"", iso), 90_000);
        assert_eq!(millis("\"PT1H30M\"", iso), 5_400_000);
        assert_eq!(millis("\"P1DT2H\"", iso), 93_600_000);
        assert_eq!(millis("\"P1D\"", iso), 86_400_000);
        assert_eq!(millis("\"P2W\"", iso), 14 * 86_400_000);
        assert_eq!(millis("\"PT0.25S\"", iso), 250);
        assert_eq!(millis("\"PT0,5S\"", iso), 500);
        assert_eq!(millis("\"PT1.5H\"", iso), 5_400_000);
        assert_eq!(millis("\"-PT5S\"", iso), -5000);
        assert_eq!(millis("\"PT0S\"", iso), 0);
        assert_eq!(millis("\"PT0.0005S\"", iso), 1);
        assert_eq!(millis("\"pt10s\"", iso), 10_000);
        assert_eq!(err("\"P1M\"", TypeDesc::Duration(iso)), "body: expected Duration (ISO 8601), found string \"P1M\"");
        assert_eq!(err("10", TypeDesc::Duration(iso)), "body: expected Duration (ISO 8601), found number 10");
        for bad in ["P1Y", "P", "PT", "P1DT", "PT1.5H30M", "PT10", "10S", "PT1S1M", "PT1H1H", "P1D2W", "PT-1S", ""] {
            assert!(decode(&format!("\"{bad}\""), &TypeDesc::Duration(iso)).is_err(), "{bad} was accepted");
        }
        let seconds = DurationFormat::Seconds;
        assert_eq!(millis("90", seconds), 90_000);
        assert_eq!(millis("1.5", seconds), 1500);
        assert_eq!(millis("-0.25", seconds), -250);
        assert_eq!(millis("0.0005", seconds), 1);
        assert_eq!(millis("0.0004", seconds), 0);
        assert_eq!(
            err("\"90\"", TypeDesc::Duration(seconds)),
            "body: expected Duration (seconds), found string \"90\""
        );
        let ms = DurationFormat::Milliseconds;
        assert_eq!(millis("1500", ms), 1500);
        assert_eq!(err("1.5", TypeDesc::Duration(ms)), "body: expected Duration (milliseconds), found number 1.5");
    }

    #[test]
    fn json_takes_anything() {
        let value = ok(r#" {"a": [1, 2.5, "x", null, true, {"b": {}}], "big": 18446744073709551615} "#, TypeDesc::Json);
        let Value::Json(json) = value else { panic!("{value:?}") };
        assert_eq!(
            *json,
            serde_json::json!({"a": [1, 2.5, "x", null, true, {"b": {}}], "big": 18_446_744_073_709_551_615u64})
        );
        assert!(matches!(ok("null", TypeDesc::Json), Value::Json(json) if json.is_null()));
        assert_eq!(err("[1e400]", TypeDesc::Json), "body[0]: number 1e400 is out of range");
    }

    #[test]
    fn optionals() {
        assert!(ok("null", opt(INT)).is_none());
        assert_eq!(ok("5", opt(INT)).as_int(), Some(5));
        assert!(ok("", opt(INT)).is_none());
        assert!(ok(" \n", opt(INT)).is_none());
        assert_eq!(err("\"5\"", opt(INT)), "body: expected Int, found string \"5\"");
        let items = ok("[1, null, 3]", list(opt(INT)));
        assert_eq!(items, Value::list(vec![Value::Int(1), Value::None, Value::Int(3)]));
    }

    #[test]
    fn lists() {
        assert_eq!(ok("[]", list(INT)), Value::list(vec![]));
        assert_eq!(ok("[1,2 , 3]", list(INT)), Value::list(vec![Value::Int(1), Value::Int(2), Value::Int(3)]));
        assert_eq!(err("[1, 2, \"x\"]", list(INT)), "body[2]: expected Int, found string \"x\"");
        assert_eq!(err("{\"a\": 1}", list(INT)), "body: expected [Int], found object");
        assert_eq!(err("[[1], [2, null]]", list(list(INT))), "body[1][1]: expected Int, found null");
    }

    #[test]
    fn maps_keep_document_order() {
        let map = || TypeDesc::Map(Box::new(INT));
        let Value::Map(entries) = ok(r#"{"z": 1, "a": 2, "m": 3}"#, map()) else { panic!() };
        let keys: Vec<&str> = entries.iter().map(|(key, _)| &**key).collect();
        assert_eq!(keys, ["z", "a", "m"]);
        assert_eq!(err(r#"{"ok": 1, "not ok": "x"}"#, map()), r#"body["not ok"]: expected Int, found string "x""#);
        assert_eq!(err(r#"{"id": "x"}"#, map()), r#"body["id"]: expected Int, found string "x""#);
        assert_eq!(err(r#"{"a": 1, "a": 2}"#, map()), r#"body: key "a" given twice"#);
        assert_eq!(err("[]", map()), "body: expected {String: Int}, found array");
        let many: Vec<String> = (0..40).map(|index| format!("\"k{index}\": {index}")).collect();
        let Value::Map(entries) = ok(&format!("{{{}}}", many.join(",")), map()) else { panic!() };
        assert_eq!(entries.len(), 40);
        assert!(err(&format!("{{{}, \"k7\": 1}}", many.join(",")), map()).contains("key \"k7\" given twice"));
    }

    const FULL_ORDER: &str = r#"{
        "id": 1042,
        "email": "ada@example.com",
        "financial_status": "REFUNDED",
        "total_price_cents": 12550,
        "shipping_address": {"country code": "FR", "city": "Paris"},
        "updated_at": "2024-05-01T14:00:00+02:00",
        "items": [{"sku": "A-1", "quantity": 2, "unit_price": "12.50"}],
        "tags": {"b": "2", "a": "1"},
        "raw": {"anything": [1, 2, 3]},
        "paidAt": 1714564800,
        "ignored": 7,
        "unknown": {"deeply": [{"nested": ["stuff", 1, 2.5, null]}]}
    }"#;

    #[test]
    fn records_decode_by_wire_name() {
        let Value::Record(order) = ok(FULL_ORDER, TypeDesc::Record(ORDER)) else { panic!() };
        assert_eq!(order.ty, ORDER);
        let fields = &order.fields;
        assert_eq!(fields[0].as_int(), Some(1042));
        assert_eq!(fields[1].as_str(), Some("ada@example.com"));
        assert_eq!(fields[2], Value::Enum { ty: ORDER_STATUS, variant: 2 });
        assert_eq!(fields[3].as_int(), Some(12550));
        let Value::Record(address) = &fields[4] else { panic!() };
        assert_eq!(
            (address.ty, address.fields[0].as_str(), address.fields[1].as_str()),
            (ADDRESS, Some("FR"), Some("Paris"))
        );
        assert!(matches!(fields[5], Value::DateTime(DateTime { offset_seconds: 7200, .. })));
        let items = fields[6].as_list().unwrap();
        let Value::Record(item) = &items[0] else { panic!() };
        assert_eq!(item.fields[2], Value::Decimal(Decimal::new(1250, 2)));
        assert!(matches!(&fields[7], Value::Map(entries) if entries[0].0.as_ref() == "b"));
        assert!(matches!(&fields[8], Value::Json(json) if json["anything"][2] == 3));
        assert!(matches!(fields[9], Value::DateTime(DateTime { seconds: 1_714_564_800, .. })));
        assert!(fields[10].is_none(), "fields not read hold none");
    }

    #[test]
    fn records_in_any_order_and_with_missing_optionals() {
        let text = r#"{"updated_at": "2024-05-01T12:00:00Z", "items": [], "tags": {}, "total_price_cents": 1,
                       "financial_status": "paid", "id": 7, "email": null, "ignored": 0}"#;
        let Value::Record(order) = ok(text, TypeDesc::Record(ORDER)) else { panic!() };
        assert_eq!(order.fields[0].as_int(), Some(7));
        assert!(order.fields[1].is_none());
        assert!(order.fields[4].is_none());
        assert!(matches!(&order.fields[8], Value::Json(json) if json.is_null()), "a missing Json member is null");
        assert!(order.fields[9].is_none());
    }

    #[test]
    fn members_never_read_are_checked_but_not_kept() {
        let order = || TypeDesc::Record(ORDER);
        let Value::Record(decoded) = ok(FULL_ORDER, order()) else { panic!() };
        assert!(decoded.fields[10].is_none(), "an unread member is not kept");
        let wrong = FULL_ORDER.replace("\"ignored\": 7", "\"ignored\": \"seven\"");
        assert_eq!(err(&wrong, order()), "body.ignored: expected Int, found string \"seven\"");
        let twice = FULL_ORDER.replace("\"ignored\": 7", "\"ignored\": 7, \"ignored\": 8");
        assert_eq!(err(&twice, order()), "body: member \"ignored\" given twice");
        let missing = FULL_ORDER.replace("\"ignored\": 7,", "");
        assert_eq!(err(&missing, order()), "body: missing field \"ignored\" (expected Int)");
    }

    #[test]
    fn record_errors() {
        let order = || TypeDesc::Record(ORDER);
        let without_total = FULL_ORDER.replace("\"total_price_cents\": 12550,", "");
        assert_eq!(err(&without_total, order()), "body: missing field \"total_price_cents\" (expected Int)");
        let twice = FULL_ORDER.replace("\"id\": 1042,", "\"id\": 1042, \"id\": 1043,");
        assert_eq!(err(&twice, order()), "body: member \"id\" given twice");
        let bad_city = FULL_ORDER.replace("\"city\": \"Paris\"", "\"city\": 75");
        assert_eq!(err(&bad_city, order()), "body.shipping_address.city: expected String, found number 75");
        let bad_country = FULL_ORDER.replace("\"country code\": \"FR\"", "\"country code\": false");
        assert_eq!(
            err(&bad_country, order()),
            "body.shipping_address[\"country code\"]: expected String, found bool false"
        );
        let bad_price = FULL_ORDER.replace("\"12.50\"", "12.50");
        assert_eq!(
            err(&bad_price, order()),
            "body.items[0].unit_price: expected Decimal (as a string), found number 12.50"
        );
        let bad_tag = FULL_ORDER.replace("\"a\": \"1\"", "\"a\": 1");
        assert_eq!(err(&bad_tag, order()), "body.tags[\"a\"]: expected String, found number 1");
        let bad_status = FULL_ORDER.replace("\"REFUNDED\"", "\"cancelled\"");
        assert_eq!(
            err(&bad_status, order()),
            "body.financial_status: expected OrderStatus (one of \"paid\", \"pending\", \"REFUNDED\"), found string \"cancelled\""
        );
        let bad_date = FULL_ORDER.replace("2024-05-01T14:00:00+02:00", "2024-05-01 10:00");
        assert_eq!(
            err(&bad_date, order()),
            "body.updated_at: expected DateTime (RFC 3339 with an offset), found string \"2024-05-01 10:00\""
        );
        assert_eq!(err("[]", order()), "body: expected Order, found array");
        assert_eq!(err(&format!("[{FULL_ORDER}, 3]"), list(order())), "body[1]: expected Order, found number 3");
        let line_item = || TypeDesc::Record(LINE_ITEM);
        assert_eq!(
            err(r#"{"sku": "a", "quantity": 1}"#, line_item()),
            r#"body: missing field "unit_price" (expected Decimal)"#
        );
    }

    #[test]
    fn enums() {
        let status = || TypeDesc::Enum(ORDER_STATUS);
        assert_eq!(ok("\"paid\"", status()), Value::Enum { ty: ORDER_STATUS, variant: 0 });
        assert_eq!(ok("\"REFUNDED\"", status()), Value::Enum { ty: ORDER_STATUS, variant: 2 });
        assert!(err("\"refunded\"", status()).contains("found string \"refunded\""), "wire names are case-sensitive");
        assert_eq!(
            err("1", status()),
            "body: expected OrderStatus (one of \"paid\", \"pending\", \"REFUNDED\"), found number 1"
        );
        let kind = || TypeDesc::Enum(KIND);
        assert_eq!(ok("\"b\"", kind()), Value::Enum { ty: KIND, variant: 1 });
        assert_eq!(ok("\"something new\"", kind()), Value::Enum { ty: KIND, variant: 2 });
        assert_eq!(ok("\"unknown\"", kind()), Value::Enum { ty: KIND, variant: 2 });
        assert!(err("null", kind()).ends_with("found null"));
    }

    #[test]
    fn invalid_json_is_reported_with_its_position() {
        assert_eq!(err("{\"id\": 1", INT), "body: invalid JSON at line 1, column 9: EOF while parsing an object");
        assert_eq!(
            err("{\"id\": 1", TypeDesc::Record(LINE_ITEM)),
            "body: invalid JSON at line 1, column 9: EOF while parsing an object"
        );
        assert_eq!(err("", INT), "body: invalid JSON at line 1, column 1: EOF while parsing a value");
        assert_eq!(err("[1, 2] x", list(INT)), "body: invalid JSON at line 1, column 8: trailing characters");
        assert_eq!(err("[1,\n 2,\n x]", list(INT)), "body: invalid JSON at line 3, column 2: expected value");
        assert_eq!(err("\"é\u{1}\"", TypeDesc::String).split(": ").nth(1), Some("invalid JSON at line 1, column 3"));
        assert_eq!(err("[1, 2,]", list(INT)), "body: invalid JSON at line 1, column 7: trailing comma");
        assert_eq!(err("nul", opt(INT)), "body: invalid JSON at line 1, column 4: EOF while parsing a value");
        assert_eq!(err("[01]", list(INT)), "body: invalid JSON at line 1, column 3: invalid number");
        assert!(err("NaN", TypeDesc::Float(NumberFormat::Number)).contains("invalid JSON"));
        // A type error before a syntax error: the syntax error is reported.
        assert_eq!(err("[\"x\", }", list(INT)), "body: invalid JSON at line 1, column 7: expected value");
        assert_eq!(
            err("{\"sku\": 1, \"quantity\": tru}", TypeDesc::Record(LINE_ITEM)).split(": ").nth(1),
            Some("invalid JSON at line 1, column 27")
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let mut ty = INT;
        for _ in 0..MAX_DEPTH {
            ty = list(ty);
        }
        assert!(decode(&nested(MAX_DEPTH), &ty).is_ok());
        let deeper = list(ty);
        assert!(err(&nested(MAX_DEPTH + 1), deeper).ends_with("nesting deeper than 128 levels"));
        assert!(decode(&nested(MAX_DEPTH), &TypeDesc::Json).is_ok());
        assert!(err(&nested(MAX_DEPTH + 1), TypeDesc::Json).ends_with("nesting deeper than 128 levels"));
        assert!(decode(&nested(100_000), &TypeDesc::Json).is_err());
        assert!(decode(&nested(100_000), &list(INT)).is_err());
        let objects = format!("{}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        assert!(decode(&objects, &TypeDesc::Json).is_err());
        assert!(decode(&objects, &TypeDesc::Record(LINE_ITEM)).is_err());
    }

    #[test]
    fn paths_use_wire_names_and_quote_the_others() {
        let mut path = "body".to_owned();
        for seg in [Seg::Member("orders"), Seg::Index(3), Seg::Member("total price"), Seg::Key(Str::from("k\"ey"))] {
            push_seg(&mut path, &seg);
        }
        assert_eq!(path, r#"body.orders[3]["total price"]["k\"ey"]"#);
        assert!(is_identifier("_a1") && !is_identifier("1a") && !is_identifier("") && !is_identifier("a-b"));
    }

    #[test]
    fn records_of_a_page_fail_one_by_one() {
        let schema = schema();
        let page = r#"{"next": "abc", "data": {"orders": [
            {"sku": "a", "quantity": 1, "unit_price": "1.00"},
            {"sku": "b", "quantity": "two", "unit_price": "2.00"},
            {"sku": "c", "quantity": 3, "unit_price": "3.00", "extra": [1, {"x": 2}]},
            {"sku": "d"}
        ]}, "after": [1, 2]}"#;
        let records =
            json_records(page.as_bytes(), &["data", "orders"], &TypeDesc::Record(LINE_ITEM), &schema, "body").unwrap();
        assert_eq!(records.len(), 4);
        assert!(records[0].is_ok() && records[2].is_ok());
        assert_eq!(
            records[1].as_ref().unwrap_err().to_string(),
            "body.data.orders[1].quantity: expected Int, found string \"two\""
        );
        assert_eq!(
            records[3].as_ref().unwrap_err().to_string(),
            "body.data.orders[3]: missing field \"quantity\" (expected Int)"
        );
        let Ok(Value::Record(third)) = &records[2] else { panic!() };
        assert_eq!(third.fields[0].as_str(), Some("c"));

        let element = TypeDesc::Record(LINE_ITEM);
        let page_error = |text: &str, path: &[&str]| {
            json_records(text.as_bytes(), path, &element, &schema, "body").unwrap_err().to_string()
        };
        assert_eq!(
            page_error(r#"{"data": {}}"#, &["data", "orders"]),
            "body.data: missing member \"orders\" (expected [LineItem])"
        );
        assert_eq!(
            page_error(r#"{"data": {"orders": 3}}"#, &["data", "orders"]),
            "body.data.orders: expected [LineItem], found number 3"
        );
        assert_eq!(page_error(r#"[1]"#, &["data"]), "body: expected an object with member \"data\", found array");
        assert_eq!(
            page_error(r#"{"data": [{"sku": 1}], "more": }"#, &["data"]),
            "body: invalid JSON at line 1, column 32: expected value"
        );
        assert_eq!(page_error(r#"[{"sku": 1}, ]"#, &[]), "body: invalid JSON at line 1, column 14: trailing comma");
        let top =
            json_records(br#"[{"sku": "a", "quantity": 1, "unit_price": "1"}, 7]"#, &[], &element, &schema, "body")
                .unwrap();
        assert_eq!(top[1].as_ref().unwrap_err().to_string(), "body[1]: expected LineItem, found number 7");
    }

    #[test]
    fn numbers_are_read_exactly() {
        let number = |text: &str| parse_number(text.as_bytes(), false).unwrap();
        assert_eq!(
            number("12.50"),
            Number { negative: false, mantissa: 1250, exponent: -2, digits: 4, inexact: false }
        );
        assert_eq!(number("-0.0015e1").exponent, -3);
        assert_eq!(number("0").digits, 0);
        for bad in ["", "-", "+1", "01", "1.", ".5", "1e", "1e+", "1x", "--1", "1.5.5"] {
            assert!(parse_number(bad.as_bytes(), false).is_none(), "{bad}");
        }
        assert!(parse_number(b"+01", true).is_some());
        assert_eq!(number("1e999999999999999999999").to_i64(), None);
        assert_eq!(number("0e999999999999999999999").to_i64(), Some(0));
        assert_eq!(number("1e-999999999999999999999").to_decimal(), None);
        assert_eq!(number("123456789012345678901234567890123456789012345").to_i64(), None);
    }
}
