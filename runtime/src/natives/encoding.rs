//! `std/encoding`: base64, base64url, hex, percent-encoding, JSON text and
//! HTML escaping. Text is encoded as its UTF-8 bytes; decoders give none for
//! malformed input and for bytes that are not UTF-8.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{Native, native_table, optional};
use crate::error::EvalError;
use crate::types::{DateTimeFormat, DurationFormat, NumberFormat, Schema, TypeDesc};
use crate::value::Value;

/// Standard base64, padded.
pub fn base64_encode(s: &str) -> String {
    STANDARD.encode(s.as_bytes())
}

/// Decodes `s` without padding, or with exactly the canonical padding.
fn decode_base64(padded: &GeneralPurpose, unpadded: &GeneralPurpose, s: &str) -> Option<String> {
    let engine = if s.ends_with('=') { padded } else { unpadded };
    String::from_utf8(engine.decode(s.as_bytes()).ok()?).ok()
}

/// The text whose standard base64 (padded or not) is `s`.
pub fn base64_decode(s: &str) -> Option<String> {
    decode_base64(&STANDARD, &STANDARD_NO_PAD, s)
}

/// base64url without padding.
pub fn base64url_encode(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s.as_bytes())
}

/// The text whose base64url (padded or not) is `s`.
pub fn base64url_decode(s: &str) -> Option<String> {
    decode_base64(&URL_SAFE, &URL_SAFE_NO_PAD, s)
}

/// Lowercase hex of the UTF-8 bytes.
pub fn hex_encode(s: &str) -> String {
    hex::encode(s.as_bytes())
}

/// The text whose bytes `s` spells in hex.
pub fn hex_decode(s: &str) -> Option<String> {
    String::from_utf8(hex::decode(s).ok()?).ok()
}

/// Every byte but the RFC 3986 unreserved characters is escaped.
const URL_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `s` percent-encoded for a path segment or query value.
pub fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_ESCAPED).to_string()
}

/// `%XX` escapes decoded strictly: a `%` without two hex digits is an error.
fn percent_decode_strict(bytes: impl IntoIterator<Item = u8>) -> Option<String> {
    let mut bytes = bytes.into_iter();
    let mut out = Vec::new();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let high = char::from(bytes.next()?).to_digit(16)?;
            let low = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(high * 16 + low).ok()?);
        } else {
            out.push(byte);
        }
    }
    String::from_utf8(out).ok()
}

/// `s` with `%XX` escapes decoded; `+` stays a plus sign.
pub fn url_decode(s: &str) -> Option<String> {
    percent_decode_strict(s.bytes())
}

/// `s` as an `application/x-www-form-urlencoded` value (WHATWG).
pub fn form_url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `s` decoded as a form value: `+` is a space, then `%XX` escapes.
pub fn form_url_decode(s: &str) -> Option<String> {
    percent_decode_strict(s.bytes().map(|byte| if byte == b'+' { b' ' } else { byte }))
}

/// The type of a value, as far as the value shows it: a record or enum by its
/// schema index, a list or map by its elements (`Json` when it has none),
/// scalars in their default wire format.
pub(crate) fn type_of(value: &Value) -> TypeDesc {
    match value {
        Value::None | Value::Json(_) | Value::Function(_) => TypeDesc::Json,
        Value::Bool(_) => TypeDesc::Bool,
        Value::Int(_) => TypeDesc::Int(NumberFormat::Number),
        Value::Float(_) => TypeDesc::Float(NumberFormat::Number),
        Value::Decimal(_) => TypeDesc::Decimal(NumberFormat::Number),
        Value::String(_) => TypeDesc::String,
        Value::DateTime(_) => TypeDesc::DateTime(DateTimeFormat::Rfc3339),
        Value::Date(_) => TypeDesc::Date,
        Value::Duration(_) => TypeDesc::Duration(DurationFormat::Iso8601),
        Value::Enum { ty, .. } => TypeDesc::Enum(*ty),
        Value::Record(record) => TypeDesc::Record(record.ty),
        Value::List(items) => TypeDesc::List(Box::new(element_type(items.iter()))),
        Value::Map(entries) => TypeDesc::Map(Box::new(element_type(entries.iter().map(|(_, value)| value)))),
    }
}

/// The type of a list's or map's elements: the type of the present ones
/// (Ints widened to Decimal or Float when those occur too), optional when
/// some are none.
fn element_type<'v>(elements: impl Iterator<Item = &'v Value>) -> TypeDesc {
    let mut element: Option<TypeDesc> = None;
    let mut optional = false;
    for value in elements {
        if value.is_none() {
            optional = true;
            continue;
        }
        let ty = type_of(value);
        element = Some(match element {
            None => ty,
            Some(TypeDesc::Int(_)) if matches!(ty, TypeDesc::Decimal(_) | TypeDesc::Float(_)) => ty,
            Some(known) => known,
        });
    }
    match element {
        None => TypeDesc::Json,
        Some(TypeDesc::Json) => TypeDesc::Json,
        Some(ty) if optional => TypeDesc::Optional(Box::new(ty)),
        Some(ty) => ty,
    }
}

/// `x` as compact JSON, as `body json(x)` sends it.
pub fn json_encode(value: &Value, schema: &Schema) -> Result<String, EvalError> {
    if let Value::Function(_) = value {
        return Err(EvalError::Native { function: "json_encode", message: "a function cannot be encoded".to_owned() });
    }
    let mut out = Vec::new();
    crate::encode::json(value, &type_of(value), schema, &mut out)?;
    String::from_utf8(out).map_err(|error| EvalError::Encode(error.to_string()))
}

/// `x` as compact JSON, for a typed value in wire format `F` (generated
/// code): the bytes [`json_encode`] writes for the same value and type.
pub fn json_encode_as<F: crate::wire::Format>(value: &F::Value) -> Result<String, EvalError> {
    let mut out = Vec::new();
    crate::wire::to_json::<F>(value, &mut out)?;
    String::from_utf8(out).map_err(|error| EvalError::Encode(error.to_string()))
}

/// The JSON value written in `s`, or none.
pub fn json_parse(s: &str) -> Option<serde_json::Value> {
    serde_json::from_str(s).ok()
}

/// `&` `<` `>` `"` `'` as HTML entities.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub(super) const NATIVES: &[Native] = native_table! {
    "base64_encode" / 1 => |_, a| Ok(Value::string(base64_encode(a.string(0)?)));
    "base64_decode" / 1 => |_, a| Ok(optional(base64_decode(a.string(0)?), Value::string));
    "base64url_encode" / 1 => |_, a| Ok(Value::string(base64url_encode(a.string(0)?)));
    "base64url_decode" / 1 => |_, a| Ok(optional(base64url_decode(a.string(0)?), Value::string));
    "hex_encode" / 1 => |_, a| Ok(Value::string(hex_encode(a.string(0)?)));
    "hex_decode" / 1 => |_, a| Ok(optional(hex_decode(a.string(0)?), Value::string));
    "url_encode" / 1 => |_, a| Ok(Value::string(url_encode(a.string(0)?)));
    "url_decode" / 1 => |_, a| Ok(optional(url_decode(a.string(0)?), Value::string));
    "form_url_encode" / 1 => |_, a| Ok(Value::string(form_url_encode(a.string(0)?)));
    "form_url_decode" / 1 => |_, a| Ok(optional(form_url_decode(a.string(0)?), Value::string));
    "json_encode" / 1 => |context, a| Ok(Value::string(json_encode(a.get(0), context.schema)?));
    "json_parse" / 1 => |_, a| Ok(optional(json_parse(a.string(0)?), |json| Value::Json(Arc::new(json))));
    "html_escape" / 1 => |_, a| Ok(Value::string(html_escape(a.string(0)?)));
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::value::DateTime;

    #[test]
    fn base64() {
        assert_eq!(base64_encode("hello world"), "aGVsbG8gd29ybGQ=");
        assert_eq!(base64_encode("héllo"), "aMOpbGxv");
        assert_eq!(base64_encode(""), "");
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ=").as_deref(), Some("hello world"));
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ").as_deref(), Some("hello world"));
        assert_eq!(base64_decode("").as_deref(), Some(""));
        for bad in
            ["not base64!", "aGk_Pg", "aGk-Pg", "aGVs bG8=", "aGVsbG8gd29ybGQ==", "aGVsbG8gd29ybGQ=x", "a", "/w=="]
        {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
        assert_eq!(base64url_encode("hi?>"), "aGk_Pg");
        assert_eq!(base64url_encode(""), "");
        assert_eq!(base64url_decode("aGk_Pg").as_deref(), Some("hi?>"));
        assert_eq!(base64url_decode("aGk_Pg==").as_deref(), Some("hi?>"));
        assert_eq!(base64url_decode("aGk/Pg=="), None);
        assert_eq!(base64url_decode("aGk+Pg"), None);
        assert_eq!(base64url_decode("aGk_Pg="), None);
    }

    #[test]
    fn hex() {
        assert_eq!(hex_encode("hié"), "6869c3a9");
        assert_eq!(hex_encode(""), "");
        assert_eq!(hex_decode("6869C3A9").as_deref(), Some("hié"));
        assert_eq!(hex_decode("").as_deref(), Some(""));
        assert_eq!(hex_decode("686"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(hex_decode("ff"), None);
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(url_encode("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
        assert_eq!(url_encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(url_encode("+*%"), "%2B%2A%25");
        assert_eq!(url_decode("a%20b%26c%2Fd+e").as_deref(), Some("a b&c/d+e"));
        assert_eq!(url_decode("%c3%A9").as_deref(), Some("é"));
        assert_eq!(url_decode("100%"), None);
        assert_eq!(url_decode("%2"), None);
        assert_eq!(url_decode("%zz"), None);
        assert_eq!(url_decode("%FF"), None);
        assert_eq!(url_decode("").as_deref(), Some(""));
        assert_eq!(form_url_encode("a b&c=d/é~"), "a+b%26c%3Dd%2F%C3%A9%7E");
        assert_eq!(form_url_encode("*-._"), "*-._");
        assert_eq!(form_url_decode("a+b%2Bc").as_deref(), Some("a b+c"));
        assert_eq!(form_url_decode("%"), None);
        for text in ["", "a b+c", "é/&=?#%", "~*"] {
            assert_eq!(url_decode(&url_encode(text)).as_deref(), Some(text));
            assert_eq!(form_url_decode(&form_url_encode(text)).as_deref(), Some(text));
        }
    }

    #[test]
    fn json_text() {
        let parsed = json_parse(r#"{"a": [1, 2]}"#).unwrap();
        let element = crate::natives::json::json_path(Some(&parsed), "a.1");
        assert_eq!(crate::natives::json::json_int(element), Some(2));
        assert_eq!(json_parse("{oops"), None);
        assert_eq!(json_parse(""), None);
        assert_eq!(json_parse(" 1 2 "), None);
        assert_eq!(json_parse(" [true] "), Some(serde_json::json!([true])));
        assert_eq!(json_parse("null"), Some(serde_json::Value::Null));
        assert!(json_encode(&Value::Function(1), &Schema::default()).is_err());
    }

    #[test]
    fn json_encode_examples() {
        use crate::types::{FieldDesc, RecordDesc};
        let field = |name: &str, ty| FieldDesc { name: name.to_owned(), wire: name.to_owned(), ty, read: true };
        let fields =
            vec![field("a", TypeDesc::Int(NumberFormat::Number)), field("b", TypeDesc::List(Box::new(TypeDesc::Bool)))];
        let schema = Schema { records: vec![RecordDesc::new("", fields, true)], enums: vec![] };
        // json_encode({ a: 1, b: [true, false] }) == "\{\"a\":1,\"b\":[true,false]\}"
        let record = Value::record(0, vec![Value::Int(1), Value::list(vec![Value::Bool(true), Value::Bool(false)])]);
        assert_eq!(json_encode(&record, &schema).unwrap(), r#"{"a":1,"b":[true,false]}"#);
        // json_encode("say \"hi\"") == "\"say \\\"hi\\\"\""
        assert_eq!(json_encode(&s(r#"say "hi""#), &schema).unwrap(), r#""say \"hi\"""#);
        assert_eq!(json_encode(&dec("12.50"), &schema).unwrap(), "12.50");
        assert_eq!(json_encode(&Value::list(vec![Value::Int(1), Value::None]), &schema).unwrap(), "[1,null]");
        assert_eq!(json_encode(&Value::None, &schema).unwrap(), "null");
    }

    #[test]
    fn types_of_values() {
        assert_eq!(type_of(&Value::Int(1)), TypeDesc::Int(NumberFormat::Number));
        assert_eq!(type_of(&dec("1.5")), TypeDesc::Decimal(NumberFormat::Number));
        let instant = DateTime { seconds: 0, nanos: 0, offset_seconds: 0 };
        assert_eq!(type_of(&Value::DateTime(instant)), TypeDesc::DateTime(DateTimeFormat::Rfc3339));
        assert_eq!(type_of(&Value::record(3, vec![])), TypeDesc::Record(3));
        assert_eq!(type_of(&Value::Enum { ty: 2, variant: 0 }), TypeDesc::Enum(2));
        assert_eq!(type_of(&strs(&[])), TypeDesc::List(Box::new(TypeDesc::Json)));
        assert_eq!(type_of(&strs(&["a"])), TypeDesc::List(Box::new(TypeDesc::String)));
        let mixed = Value::list(vec![Value::Int(1), dec("2.5"), Value::None]);
        let optional_decimal = TypeDesc::Optional(Box::new(TypeDesc::Decimal(NumberFormat::Number)));
        assert_eq!(type_of(&mixed), TypeDesc::List(Box::new(optional_decimal)));
        let nested = Value::list(vec![ints(&[1])]);
        let list_of_ints = TypeDesc::List(Box::new(TypeDesc::Int(NumberFormat::Number)));
        assert_eq!(type_of(&nested), TypeDesc::List(Box::new(list_of_ints)));
        let map = Value::Map(Arc::new(vec![("a".into(), Value::Bool(true))]));
        assert_eq!(type_of(&map), TypeDesc::Map(Box::new(TypeDesc::Bool)));
        assert_eq!(type_of(&Value::None), TypeDesc::Json);
    }

    #[test]
    fn typed_values_encode_as_the_adapter_encodes_them() {
        use crate::wire;
        let encode = |value: Value| json_encode(&value, &Schema::default()).unwrap();
        assert_eq!(json_encode_as::<wire::Int>(&42).unwrap(), encode(Value::Int(42)));
        let total: rust_decimal::Decimal = "12.50".parse().unwrap();
        assert_eq!(json_encode_as::<wire::Decimal>(&total).unwrap(), encode(Value::Decimal(total)));
        let at = DateTime { seconds: 1_709_294_400, nanos: 0, offset_seconds: 3600 };
        assert_eq!(json_encode_as::<wire::DateTime>(&at).unwrap(), encode(Value::DateTime(at)));
        let names = vec!["a\"b".to_owned(), "é".to_owned()];
        assert_eq!(json_encode_as::<wire::List<wire::String>>(&names).unwrap(), encode(strs(&["a\"b", "é"])));
        let entries = vec![("b".to_owned(), Some(1)), ("a".to_owned(), None)];
        let map = Value::Map(Arc::new(vec![("b".into(), Value::Int(1)), ("a".into(), Value::None)]));
        assert_eq!(json_encode_as::<wire::Map<wire::Opt<wire::Int>>>(&entries).unwrap(), encode(map));
        assert_eq!(json_encode_as::<wire::Opt<wire::Int>>(&None).unwrap(), encode(Value::None));
        let json = serde_json::json!({"a": [1, null]});
        assert_eq!(json_encode_as::<wire::Json>(&json).unwrap(), encode(Value::Json(Arc::new(json.clone()))));
    }

    #[test]
    fn html() {
        assert_eq!(html_escape(r#"<b>Tom & "Jerry"</b>"#), "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;");
        assert_eq!(html_escape("plain"), "plain");
        assert_eq!(html_escape("it's"), "it&#39;s");
        assert_eq!(html_escape(""), "");
    }

    #[test]
    fn adapters() {
        assert_eq!(call("base64_encode", &[s("hello world")]).unwrap(), s("aGVsbG8gd29ybGQ="));
        assert_eq!(call("base64_decode", &[s("not base64!")]).unwrap(), Value::None);
        assert_eq!(call("hex_decode", &[s("6869C3A9")]).unwrap(), s("hié"));
        assert_eq!(call("url_decode", &[s("100%")]).unwrap(), Value::None);
        assert_eq!(call("form_url_decode", &[s("a+b%2Bc")]).unwrap(), s("a b+c"));
        assert_eq!(call("json_parse", &[s("{oops")]).unwrap(), Value::None);
        let parsed = call("json_parse", &[s("[1]")]).unwrap();
        assert_eq!(parsed, Value::Json(Arc::new(serde_json::json!([1]))));
        assert_eq!(call("html_escape", &[s("<")]).unwrap(), s("&lt;"));
    }
}
