//! Reading `Json` values: members, paths, and the scalars inside.
//!
//! A JSON `null` counts as none everywhere here: `json_field` and
//! `json_path` give none for a member that is `null`.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::numbers::{DecimalText, Inexact, decimal_from_text, read_decimal_text};
use super::{Native, native_table, optional};
use crate::value::Value;

fn present(json: Option<&Json>) -> Option<&Json> {
    json.filter(|json| !json.is_null())
}

/// The member `key` of the object `j`; none when absent or `null`.
pub fn json_field<'j>(j: Option<&'j Json>, key: &str) -> Option<&'j Json> {
    present(j?.as_object()?.get(key))
}

/// The value at the dot-separated `path` (object keys, array indexes in digits).
pub fn json_path<'j>(j: Option<&'j Json>, path: &str) -> Option<&'j Json> {
    let mut current = present(j)?;
    if path.is_empty() {
        return Some(current);
    }
    for segment in path.split('.') {
        current = match current {
            Json::Object(members) => members.get(segment),
            Json::Array(elements) if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) => {
                segment.parse::<usize>().ok().and_then(|index| elements.get(index))
            }
            _ => None,
        }
        .filter(|json| !json.is_null())?;
    }
    Some(current)
}

/// The text of a JSON string.
pub fn json_string(j: Option<&Json>) -> Option<&str> {
    j?.as_str()
}

/// The digits and exponent of a JSON number, from its text.
fn number_text(number: &serde_json::Number) -> Option<DecimalText> {
    read_decimal_text(&number.to_string(), true)
}

/// A JSON number that is whole and in the Int range (`3`, `3.0`, `1e3`).
pub fn json_int(j: Option<&Json>) -> Option<i64> {
    let number = match j? {
        Json::Number(number) => number,
        _ => return None,
    };
    if let Some(value) = number.as_i64() {
        return Some(value);
    }
    let text = number_text(number)?;
    let significant = text.digits.trim_end_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    let exponent = text.exponent + i64::try_from(text.digits.len() - significant.len()).ok()?;
    if exponent < 0 {
        return None;
    }
    let magnitude: i128 = significant.parse().ok()?;
    let scaled = magnitude.checked_mul(10i128.checked_pow(u32::try_from(exponent).ok()?)?)?;
    i64::try_from(if text.negative { -scaled } else { scaled }).ok()
}

/// The exact Decimal of a JSON number's text; none when a Decimal cannot
/// hold it exactly.
pub(crate) fn number_to_decimal(number: &serde_json::Number) -> Option<Decimal> {
    decimal_from_text(&number_text(number)?, Inexact::Refuse)
}

/// The exact value of a JSON number.
pub fn json_decimal(j: Option<&Json>) -> Option<Decimal> {
    match j? {
        Json::Number(number) => number_to_decimal(number),
        _ => None,
    }
}

pub fn json_bool(j: Option<&Json>) -> Option<bool> {
    j?.as_bool()
}

/// The elements of a JSON array.
pub fn json_list(j: Option<&Json>) -> Option<&[Json]> {
    j?.as_array().map(Vec::as_slice)
}

/// `null`, `bool`, `number`, `string`, `array` or `object`.
pub fn json_type(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// A JSON scalar as a typed value: a number as an Int when it is one, else a
/// Decimal when exact, else a Float; `null` as none. None for arrays and
/// objects.
pub(crate) fn json_to_scalar(json: &Json) -> Option<Value> {
    Some(match json {
        Json::Null => Value::None,
        Json::Bool(value) => Value::Bool(*value),
        Json::String(text) => Value::string(text.as_str()),
        Json::Number(number) => match number.as_i64() {
            Some(value) => Value::Int(value),
            None => match number_to_decimal(number) {
                Some(value) => Value::Decimal(value),
                None => Value::Float(number.as_f64()?),
            },
        },
        Json::Array(_) | Json::Object(_) => return None,
    })
}

/// A typed scalar as JSON (numbers exactly as far as serde_json keeps them).
pub(crate) fn scalar_to_json(value: &Value) -> Option<Json> {
    Some(match value {
        Value::None => Json::Null,
        Value::Bool(value) => Json::Bool(*value),
        Value::Int(value) => Json::from(*value),
        Value::Float(value) => Json::Number(serde_json::Number::from_f64(*value)?),
        Value::Decimal(value) => serde_json::from_str(&value.to_string()).ok()?,
        Value::String(text) => Json::String(text.to_string()),
        Value::Json(json) => Json::clone(json),
        _ => return None,
    })
}

/// `Json` values order as `sort`, `min` and `max` order them given `Json`
/// (see [`super::compare_json`]).
impl super::Comparable for Json {
    fn compare(&self, other: &Json) -> std::cmp::Ordering {
        super::compare_json(self, other)
    }
}

fn json(value: &Json) -> Value {
    Value::Json(Arc::new(value.clone()))
}

pub(super) const NATIVES: &[Native] = native_table! {
    "json_field" / 2 => |context, a| {
        let j = a.opt_json(0, context.schema)?;
        Ok(optional(json_field(j.as_deref(), a.string(1)?), json))
    };
    "json_path" / 2 => |context, a| {
        let j = a.opt_json(0, context.schema)?;
        Ok(optional(json_path(j.as_deref(), a.string(1)?), json))
    };
    "json_string" / 1 => |context, a| {
        Ok(optional(json_string(a.opt_json(0, context.schema)?.as_deref()), Value::string))
    };
    "json_int" / 1 => |context, a| Ok(optional(json_int(a.opt_json(0, context.schema)?.as_deref()), Value::Int));
    "json_decimal" / 1 => |context, a| {
        Ok(optional(json_decimal(a.opt_json(0, context.schema)?.as_deref()), Value::Decimal))
    };
    "json_bool" / 1 => |context, a| Ok(optional(json_bool(a.opt_json(0, context.schema)?.as_deref()), Value::Bool));
    "json_list" / 1 => |context, a| {
        let j = a.opt_json(0, context.schema)?;
        Ok(optional(json_list(j.as_deref()), |elements| Value::list(elements.iter().map(json).collect())))
    };
    "json_type" / 1 => |context, a| {
        Ok(Value::string(a.opt_json(0, context.schema)?.as_deref().map_or("null", json_type)))
    };
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn j(text: &str) -> Json {
        serde_json::from_str(text).unwrap()
    }

    fn jv(text: &str) -> Value {
        Value::Json(Arc::new(j(text)))
    }

    #[test]
    fn fields_and_paths() {
        let record = j(r#"{"id": 7, "name": "Ana", "note": null}"#);
        assert_eq!(json_string(json_field(Some(&record), "name")), Some("Ana"));
        assert_eq!(json_field(Some(&j(r#"{"id": 7}"#)), "name"), None);
        assert_eq!(json_field(Some(&record), "note"), None);
        assert_eq!(json_field(None, "id"), None);
        assert_eq!(json_field(Some(&j("[1]")), "0"), None);
        let items = j(r#"{"items": [{"sku": "A-1"}], "a.b": 1, "n": null}"#);
        assert_eq!(json_string(json_path(Some(&items), "items.0.sku")), Some("A-1"));
        assert_eq!(json_path(Some(&j(r#"{"items": []}"#)), "items.0.sku"), None);
        assert_eq!(json_path(Some(&items), ""), Some(&items));
        assert_eq!(json_path(Some(&j("null")), ""), None);
        assert_eq!(json_path(Some(&items), "a.b"), None);
        assert_eq!(json_path(Some(&items), "n"), None);
        assert_eq!(json_path(Some(&items), "items.-1"), None);
        assert_eq!(json_path(Some(&items), "items.x"), None);
        assert_eq!(json_path(Some(&items), "items.99999999999999999999999"), None);
        assert_eq!(json_path(Some(&j(r#"{"": {"x": 1}}"#)), ".x"), Some(&j("1")));
        assert_eq!(json_path(Some(&j("[[0, [5]]]")), "0.1.0"), Some(&j("5")));
        assert_eq!(json_path(None, ""), None);
    }

    #[test]
    fn scalars() {
        assert_eq!(json_string(Some(&j(r#""abc""#))), Some("abc"));
        assert_eq!(json_string(Some(&j("42"))), None);
        assert_eq!(json_string(None), None);
        assert_eq!(json_int(Some(&j("3"))), Some(3));
        assert_eq!(json_int(Some(&j("3.0"))), Some(3));
        assert_eq!(json_int(Some(&j("-3.000"))), Some(-3));
        assert_eq!(json_int(Some(&j("1e3"))), Some(1000));
        assert_eq!(json_int(Some(&j("0.0"))), Some(0));
        assert_eq!(json_int(Some(&j(r#""3""#))), None);
        assert_eq!(json_int(Some(&j("2.5"))), None);
        assert_eq!(json_int(Some(&j("1e30"))), None);
        assert_eq!(json_int(Some(&j("9223372036854775807"))), Some(i64::MAX));
        assert_eq!(json_int(Some(&j("9223372036854775808"))), None);
        assert_eq!(json_int(Some(&j("-9223372036854775808"))), Some(i64::MIN));
        assert_eq!(json_int(None), None);
        assert_eq!(json_decimal(Some(&j("12.5"))), Some("12.5".parse().unwrap()));
        assert_eq!(json_decimal(Some(&j("-3"))), Some(Decimal::from(-3)));
        assert_eq!(json_decimal(Some(&j("1e3"))), Some(Decimal::from(1000)));
        assert_eq!(json_decimal(Some(&j(r#""12.50""#))), None);
        assert_eq!(json_decimal(Some(&j("1e40"))), None);
        assert_eq!(json_decimal(None), None);
        assert_eq!(json_bool(Some(&j("true"))), Some(true));
        assert_eq!(json_bool(Some(&j(r#""true""#))), None);
        assert_eq!(json_list(Some(&j(r#"["a", "b"]"#))).map(<[Json]>::len), Some(2));
        assert_eq!(json_list(Some(&j(r#""a""#))), None);
        for (text, kind) in [
            ("null", "null"),
            ("true", "bool"),
            ("1.5", "number"),
            (r#""x""#, "string"),
            ("[1, 2]", "array"),
            (r#"{"a": 1}"#, "object"),
        ] {
            assert_eq!(json_type(&j(text)), kind);
        }
    }

    #[test]
    fn scalar_conversions() {
        assert_eq!(json_to_scalar(&j("3")), Some(Value::Int(3)));
        assert_eq!(json_to_scalar(&j("2.5")), Some(dec("2.5")));
        assert_eq!(json_to_scalar(&j("1e300")), Some(Value::Float(1e300)));
        assert_eq!(json_to_scalar(&j("null")), Some(Value::None));
        assert_eq!(json_to_scalar(&j("[]")), None);
        assert_eq!(scalar_to_json(&Value::Int(3)), Some(j("3")));
        assert_eq!(scalar_to_json(&dec("2.5")), Some(j("2.5")));
        assert_eq!(scalar_to_json(&Value::Float(f64::NAN)), None);
        assert_eq!(scalar_to_json(&Value::Date(jiff::civil::date(2024, 1, 1))), None);
    }

    #[test]
    fn json_orders_as_values_do() {
        use super::super::{Comparable, compare_values};
        let texts = ["null", "false", "true", "-1", "2", "10", "2.50", "\"a\"", "\"B\"", "[1, 2]", "[1, 3]", "{}"];
        for a in texts {
            for b in texts {
                let ordering = j(a).compare(&j(b));
                assert_eq!(ordering, compare_values(&jv(a), &jv(b)), "{a} against {b}");
            }
        }
        assert_eq!(super::super::lists::sort(&[j("10"), j("2"), j("null")]), [j("null"), j("2"), j("10")]);
    }

    #[test]
    fn adapters() {
        let record = jv(r#"{"id": 7, "name": "Ana", "tags": ["a", "b"], "qty": "3"}"#);
        let name = call("json_field", &[record.clone(), s("name")]).unwrap();
        assert_eq!(call("json_string", &[name]).unwrap(), s("Ana"));
        assert_eq!(call("json_field", &[record.clone(), s("missing")]).unwrap(), Value::None);
        assert_eq!(call("json_field", &[Value::None, s("id")]).unwrap(), Value::None);
        let qty = call("json_field", &[record.clone(), s("qty")]).unwrap();
        assert_eq!(call("json_int", &[qty]).unwrap(), Value::None);
        let tags = call("json_list", &[call("json_field", &[record.clone(), s("tags")]).unwrap()]).unwrap();
        assert_eq!(tags, Value::list(vec![jv(r#""a""#), jv(r#""b""#)]));
        assert_eq!(call("json_path", &[record.clone(), s("tags.1")]).unwrap(), jv(r#""b""#));
        assert_eq!(call("json_type", &[jv("[1, 2]")]).unwrap(), s("array"));
        assert_eq!(call("json_type", &[Value::None]).unwrap(), s("null"));
        assert_eq!(call("json_decimal", &[jv("12.5")]).unwrap(), dec("12.5"));
        assert_eq!(call("json_bool", &[jv("true")]).unwrap(), Value::Bool(true));
        assert_eq!(call("json_int", &[jv("null")]).unwrap(), Value::None);
        // Values that were not converted to Json are, as an assignment would.
        assert_eq!(call("json_int", &[Value::Int(3)]).unwrap(), Value::Int(3));
        assert_eq!(call("json_string", &[s("abc")]).unwrap(), s("abc"));
        assert_eq!(call("json_string", &[Value::Int(42)]).unwrap(), Value::None);
        assert_eq!(call("json_type", &[ints(&[1, 2])]).unwrap(), s("array"));
        assert!(call("json_type", &[Value::Function(0)]).is_err());
    }
}
