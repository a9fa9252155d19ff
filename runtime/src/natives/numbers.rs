//! Numbers and conversions: `decimal`, `float`, `int`, parsing, rounding,
//! `abs`, `min`, `max` and money in minor units.

use rust_decimal::{Decimal, RoundingStrategy};

use super::{Comparable, Native, Numeric, native_table, optional};
use crate::error::EvalError;
use crate::value::Value;

// ============================================================= exact decimal text

/// The largest mantissa of a Decimal, 2^96 - 1.
const MAX_MANTISSA: u128 = (1 << 96) - 1;

/// The largest scale of a Decimal.
const MAX_SCALE: i64 = 28;

/// A number read from decimal text: `digits` × 10^`exponent`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DecimalText {
    pub negative: bool,
    /// ASCII digits without leading zeros (`""` for zero).
    pub digits: String,
    pub exponent: i64,
}

/// Reads `[+-]digits[.digits]`, and `[eE][+-]digits` after it when
/// `exponent_allowed`; the whole text must match.
pub(crate) fn read_decimal_text(text: &str, exponent_allowed: bool) -> Option<DecimalText> {
    let bytes = text.as_bytes();
    let mut position = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            position = 1;
            true
        }
        Some(b'+') => {
            position = 1;
            false
        }
        _ => false,
    };
    let digit_run =
        |from: usize| bytes.get(from..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count());
    let integer_length = digit_run(position);
    if integer_length == 0 {
        return None;
    }
    let integer = text.get(position..position + integer_length)?;
    position += integer_length;
    let mut fraction = "";
    if bytes.get(position) == Some(&b'.') {
        let length = digit_run(position + 1);
        if length == 0 {
            return None;
        }
        fraction = text.get(position + 1..position + 1 + length)?;
        position += 1 + length;
    }
    let mut exponent: i64 = 0;
    if exponent_allowed && matches!(bytes.get(position), Some(b'e' | b'E')) {
        position += 1;
        let exponent_negative = match bytes.get(position) {
            Some(b'-') => {
                position += 1;
                true
            }
            Some(b'+') => {
                position += 1;
                false
            }
            _ => false,
        };
        let length = digit_run(position);
        if length == 0 {
            return None;
        }
        // Exponents beyond a million put any non-zero value out of range;
        // saturating keeps the arithmetic below from overflowing.
        for digit in bytes.get(position..position + length)? {
            exponent = (exponent * 10 + i64::from(digit - b'0')).min(1_000_000);
        }
        if exponent_negative {
            exponent = -exponent;
        }
        position += length;
    }
    if position != bytes.len() {
        return None;
    }
    let mut digits = String::with_capacity(integer.len() + fraction.len());
    digits.push_str(integer);
    digits.push_str(fraction);
    let digits = digits.trim_start_matches('0').to_owned();
    let fraction_length = i64::try_from(fraction.len()).ok()?;
    Some(DecimalText { negative, digits, exponent: exponent - fraction_length })
}

/// How a [`DecimalText`] with more than 28 decimals becomes a Decimal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inexact {
    /// It does not: none.
    Refuse,
    /// Rounded to 28 decimals, half to even.
    RoundHalfEven,
}

fn mantissa(digits: &str) -> Option<u128> {
    if digits.is_empty() {
        return Some(0);
    }
    if digits.len() > 29 {
        return None;
    }
    digits.parse::<u128>().ok().filter(|value| *value <= MAX_MANTISSA)
}

fn signed(negative: bool, mantissa: u128, scale: i64) -> Option<Decimal> {
    let mantissa = i128::try_from(mantissa).ok()?;
    let value = Decimal::try_from_i128_with_scale(mantissa, u32::try_from(scale).ok()?).ok()?;
    Some(positive_zero(if negative { -value } else { value }))
}

/// The Decimal that `text` denotes, keeping its scale where it can (`12.50`
/// keeps two places; trailing zeros beyond 28 places are dropped). None when
/// the value is out of the Decimal range, or needs more than 28 decimals and
/// `inexact` is [`Inexact::Refuse`].
pub(crate) fn decimal_from_text(text: &DecimalText, inexact: Inexact) -> Option<Decimal> {
    let mut digits = text.digits.as_str();
    let mut exponent = text.exponent;
    if digits.is_empty() {
        return signed(false, 0, (-exponent).clamp(0, MAX_SCALE));
    }
    if exponent >= 0 {
        let total = usize::try_from(exponent).ok()?.checked_add(digits.len())?;
        if total > 29 {
            return None;
        }
        let value = mantissa(digits)?.checked_mul(10u128.checked_pow(u32::try_from(exponent).ok()?)?)?;
        return signed(text.negative, value, 0);
    }
    // Drop trailing zeros of the fraction only as far as needed to fit.
    while exponent < 0 && (exponent < -MAX_SCALE || mantissa(digits).is_none()) {
        match digits.strip_suffix('0') {
            Some(shorter) => {
                digits = shorter;
                exponent += 1;
            }
            None => break,
        }
    }
    if exponent >= -MAX_SCALE {
        return signed(text.negative, mantissa(digits)?, -exponent);
    }
    if inexact == Inexact::Refuse {
        return None;
    }
    // Round away the digits beyond 28 decimals, half to even.
    let excess = usize::try_from(-exponent - MAX_SCALE).ok()?;
    let kept_length = digits.len().saturating_sub(excess);
    let (kept, dropped) = digits.split_at_checked(kept_length)?;
    let kept_value = mantissa(kept)?;
    let dropped_padded = format!("{dropped:0>excess$}");
    let first = dropped_padded.as_bytes().first().copied().unwrap_or(b'0');
    let rest_nonzero = dropped_padded.bytes().skip(1).any(|b| b != b'0');
    let round_up = first > b'5' || (first == b'5' && (rest_nonzero || kept_value % 2 == 1));
    let value = if round_up { kept_value.checked_add(1)? } else { kept_value };
    if value > MAX_MANTISSA {
        return None;
    }
    signed(text.negative, value, MAX_SCALE)
}

/// `-0` as `0` (a Decimal zero may carry a sign; integ's does not).
pub(crate) fn positive_zero(mut value: Decimal) -> Decimal {
    if value.is_zero() {
        value.set_sign_positive(true);
    }
    value
}

/// The Float nearest to `value` (correctly rounded, through its text).
pub(crate) fn decimal_to_float(value: Decimal) -> f64 {
    value.to_string().parse().unwrap_or(f64::NAN)
}

/// `value` truncated toward zero; outside the Int range is an overflow.
pub(crate) fn decimal_to_int(value: Decimal) -> Result<i64, EvalError> {
    i64::try_from(value.trunc()).map_err(|_| EvalError::Overflow("int"))
}

/// `value` truncated toward zero; NaN and infinities are errors, values
/// outside the Int range overflow.
pub(crate) fn float_to_int(value: f64) -> Result<i64, EvalError> {
    if !value.is_finite() {
        return Err(EvalError::Native { function: "int", message: format!("{value} is not a finite number") });
    }
    let truncated = value.trunc();
    // -2^63 is representable; 2^63 is the first Float above the range.
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&truncated) {
        Ok(truncated as i64)
    } else {
        Err(EvalError::Overflow("int"))
    }
}

// ============================================================= the natives

/// The Int `x` as an exact Decimal.
pub fn decimal(x: i64) -> Decimal {
    Decimal::from(x)
}

/// The shortest Decimal that reads back as the same Float; more than 28
/// decimals are rounded half to even; NaN, infinities and values out of the
/// Decimal range are errors.
pub fn decimal_from_float(x: f64) -> Result<Decimal, EvalError> {
    let error = |message: String| EvalError::Native { function: "decimal_from_float", message };
    if !x.is_finite() {
        return Err(error(format!("{x} is not a finite number")));
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(x);
    read_decimal_text(text, true)
        .and_then(|text| decimal_from_text(&text, Inexact::RoundHalfEven))
        .ok_or_else(|| error(format!("{text} is out of the Decimal range")))
}

/// `x` as a Float.
pub fn float<T: Numeric>(x: T) -> f64 {
    x.to_float()
}

/// `x` truncated toward zero; out of the Int range is an error.
pub fn int<T: Numeric>(x: T) -> Result<i64, EvalError> {
    x.to_int()
}

/// An optional sign and ASCII digits, surrounding whitespace ignored.
pub fn parse_int(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// An optional sign, digits, optionally `.` and digits; the scale is kept.
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    decimal_from_text(&read_decimal_text(s.trim(), false)?, Inexact::Refuse)
}

/// A finite Float (exponents allowed).
pub fn parse_float(s: &str) -> Option<f64> {
    let text = s.trim();
    // Rust also reads `inf`, `infinity` and `nan`; the result filter below
    // rejects them along with overflows such as `1e400`.
    text.parse::<f64>().ok().filter(|value| value.is_finite())
}

/// `yes`/`no` and friends, case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    let text = s.trim();
    let is = |word: &str| text.eq_ignore_ascii_case(word);
    if ["true", "yes", "y", "on", "1"].into_iter().any(is) {
        Some(true)
    } else if ["false", "no", "n", "off", "0"].into_iter().any(is) {
        Some(false)
    } else {
        None
    }
}

fn places(places: i64) -> u32 {
    u32::try_from(places.max(0)).unwrap_or(u32::MAX)
}

/// `value` rounded to `places` decimals, halves away from zero.
pub fn round(value: Decimal, places: i64) -> Result<Decimal, EvalError> {
    Ok(positive_zero(value.round_dp_with_strategy(self::places(places), RoundingStrategy::MidpointAwayFromZero)))
}

/// `value` rounded to `places` decimals, halves to even.
pub fn round_half_even(value: Decimal, places: i64) -> Result<Decimal, EvalError> {
    Ok(positive_zero(value.round_dp_with_strategy(self::places(places), RoundingStrategy::MidpointNearestEven)))
}

pub fn floor(value: Decimal) -> Decimal {
    positive_zero(value.floor())
}

pub fn ceil(value: Decimal) -> Decimal {
    positive_zero(value.ceil())
}

/// The absolute value; of the smallest Int, an overflow.
pub fn abs<T: Numeric>(x: T) -> Result<T, EvalError> {
    x.abs()
}

/// The smaller of `a` and `b`, `a` when they are equal, `b` when `a` is none.
pub fn min<T: Comparable>(a: Option<T>, b: T) -> T {
    match a {
        Some(a) if a.compare(&b).is_le() => a,
        _ => b,
    }
}

/// The larger of `a` and `b`, `a` when they are equal, `b` when `a` is none.
pub fn max<T: Comparable>(a: Option<T>, b: T) -> T {
    match a {
        Some(a) if a.compare(&b).is_ge() => a,
        _ => b,
    }
}

/// `amount` / 10^`exponent`, exactly; a negative exponent counts as 0, one
/// above 28 is an error.
pub fn from_minor_units(amount: i64, exponent: i64) -> Result<Decimal, EvalError> {
    let exponent = exponent.max(0);
    if exponent > MAX_SCALE {
        return Err(EvalError::Native {
            function: "from_minor_units",
            message: format!("exponent {exponent} is above 28"),
        });
    }
    signed(amount < 0, u128::from(amount.unsigned_abs()), exponent).ok_or(EvalError::Overflow("from_minor_units"))
}

/// `amount` × 10^`exponent` rounded half away from zero to a whole number;
/// a negative exponent counts as 0; out of the Int range is an overflow.
pub fn to_minor_units(amount: Decimal, exponent: i64) -> Result<i64, EvalError> {
    let overflow = EvalError::Overflow("to_minor_units");
    let exponent = exponent.max(0);
    let mantissa = amount.mantissa();
    if mantissa == 0 {
        return Ok(0);
    }
    let scale = i64::from(amount.scale());
    if exponent >= scale {
        let shift = u32::try_from(exponent - scale).map_err(|_| overflow.clone())?;
        let factor = 10i128.checked_pow(shift).ok_or_else(|| overflow.clone())?;
        let value = mantissa.checked_mul(factor).ok_or_else(|| overflow.clone())?;
        return i64::try_from(value).map_err(|_| overflow);
    }
    let scale = u32::try_from(scale - exponent).map_err(|_| overflow.clone())?;
    let shifted = Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| overflow.clone())?;
    i64::try_from(shifted.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)).map_err(|_| overflow)
}

/// Minor-unit digits of an ISO 4217 currency code.
pub fn currency_exponent(code: &str) -> i64 {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
        "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    if ZERO.iter().any(|known| known.eq_ignore_ascii_case(code)) {
        0
    } else if THREE.iter().any(|known| known.eq_ignore_ascii_case(code)) {
        3
    } else {
        2
    }
}

// ============================================================= Value numbers

/// A Json number as an Int, Decimal or Float value.
fn json_number(function: &'static str, value: &Value) -> Result<Value, EvalError> {
    match value {
        Value::Json(json) => number_of_json(function, json),
        other => Ok(other.clone()),
    }
}

/// The number a `Json` value holds, as an Int, Decimal or Float value; an
/// error when it holds something else.
fn number_of_json(function: &'static str, json: &serde_json::Value) -> Result<Value, EvalError> {
    match super::json::json_to_scalar(json) {
        Some(number @ (Value::Int(_) | Value::Decimal(_) | Value::Float(_))) => Ok(number),
        _ => Err(EvalError::Native { function, message: "the Json value is not a number".to_owned() }),
    }
}

fn not_a_number(function: &'static str, value: &Value) -> EvalError {
    EvalError::Native { function, message: format!("expected a number, found {}", value.kind()) }
}

/// A number back to Json (for natives generic over `Numeric` given Json).
fn to_json(function: &'static str, value: Value) -> Result<Value, EvalError> {
    number_to_json(function, &value).map(|json| Value::Json(std::sync::Arc::new(json)))
}

fn number_to_json(function: &'static str, value: &Value) -> Result<serde_json::Value, EvalError> {
    super::json::scalar_to_json(value)
        .ok_or_else(|| EvalError::Native { function, message: format!("{} cannot be written as JSON", value.kind()) })
}

pub(crate) fn float_of_value(function: &'static str, value: &Value) -> Result<f64, EvalError> {
    match json_number(function, value)? {
        Value::Int(x) => Ok(float(x)),
        Value::Float(x) => Ok(x),
        Value::Decimal(x) => Ok(float(x)),
        _ => Err(not_a_number(function, value)),
    }
}

fn int_of_value(value: &Value) -> Result<i64, EvalError> {
    match json_number("int", value)? {
        Value::Int(x) => int(x),
        Value::Float(x) => int(x),
        Value::Decimal(x) => int(x),
        _ => Err(not_a_number("int", value)),
    }
}

fn abs_of_value(value: &Value) -> Result<Value, EvalError> {
    let result = match json_number("abs", value)? {
        Value::Int(x) => Value::Int(abs(x)?),
        Value::Float(x) => Value::Float(abs(x)?),
        Value::Decimal(x) => Value::Decimal(abs(x)?),
        _ => return Err(not_a_number("abs", value)),
    };
    if matches!(value, Value::Json(_)) { to_json("abs", result) } else { Ok(result) }
}

/// `a + b` for `sum`: Ints stay Ints (overflow is an error), an Int with a
/// Decimal gives a Decimal, with a Float a Float.
pub(crate) fn add_values(a: &Value, b: &Value) -> Result<Value, EvalError> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(Numeric::add(*x, *y)?),
        (Value::Decimal(x), Value::Decimal(y)) => Value::Decimal(Numeric::add(*x, *y)?),
        (Value::Int(x), Value::Decimal(y)) => Value::Decimal(Numeric::add(Decimal::from(*x), *y)?),
        (Value::Decimal(x), Value::Int(y)) => Value::Decimal(Numeric::add(*x, Decimal::from(*y))?),
        (Value::Float(x), Value::Float(y)) => Value::Float(x + y),
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => Value::Float(*x as f64 + y),
        (Value::Decimal(x), Value::Float(y)) | (Value::Float(y), Value::Decimal(x)) => {
            Value::Float(decimal_to_float(*x) + y)
        }
        (Value::Int(_) | Value::Decimal(_) | Value::Float(_), other) | (other, _) => {
            return Err(not_a_number("sum", other));
        }
    })
}

/// `sum` over values: 0 for an empty list, Json in and Json out.
pub(crate) fn sum_values(items: &[Value]) -> Result<Value, EvalError> {
    let mut total = Value::Int(0);
    let mut json = false;
    for item in items {
        json |= matches!(item, Value::Json(_));
        total = add_values(&total, &json_number("sum", item)?)?;
    }
    if json { to_json("sum", total) } else { Ok(total) }
}

// ============================================================= Json numbers

// `Numeric` natives given `Json` (the checker lets `Json` stand for any
// bound), for generated code: what the adapters do with a `Value::Json`.

/// `float(x)` of a `Json` number; an error when `x` is not a number.
pub fn float_of_json(x: &serde_json::Value) -> Result<f64, EvalError> {
    float_of_value("float", &number_of_json("float", x)?)
}

/// `int(x)` of a `Json` number; an error when `x` is not a number.
pub fn int_of_json(x: &serde_json::Value) -> Result<i64, EvalError> {
    int_of_value(&number_of_json("int", x)?)
}

/// `abs(x)` of a `Json` number, as `Json`; an error when `x` is not a number.
pub fn abs_of_json(x: &serde_json::Value) -> Result<serde_json::Value, EvalError> {
    number_to_json("abs", &abs_of_value(&number_of_json("abs", x)?)?)
}

/// `sum(xs)` of `Json` numbers, as `Json`; an error when one is not a number.
pub fn sum_of_json(items: &[serde_json::Value]) -> Result<serde_json::Value, EvalError> {
    let mut total = Value::Int(0);
    for item in items {
        total = add_values(&total, &number_of_json("sum", item)?)?;
    }
    number_to_json("sum", &total)
}

pub(super) const NATIVES: &[Native] = native_table! {
    "decimal" / 1 => |_, a| Ok(Value::Decimal(decimal(a.int(0)?)));
    "decimal_from_float" / 1 => |_, a| Ok(Value::Decimal(decimal_from_float(a.float(0)?)?));
    "float" / 1 => |_, a| Ok(Value::Float(float_of_value("float", a.get(0))?));
    "int" / 1 => |_, a| Ok(Value::Int(int_of_value(a.get(0))?));
    "parse_int" / 1 => |_, a| Ok(optional(parse_int(a.string(0)?), Value::Int));
    "parse_decimal" / 1 => |_, a| Ok(optional(parse_decimal(a.string(0)?), Value::Decimal));
    "parse_float" / 1 => |_, a| Ok(optional(parse_float(a.string(0)?), Value::Float));
    "parse_bool" / 1 => |_, a| Ok(optional(parse_bool(a.string(0)?), Value::Bool));
    "round" / 2 => |_, a| Ok(Value::Decimal(round(a.decimal(0)?, a.int(1)?)?));
    "round_half_even" / 2 => |_, a| Ok(Value::Decimal(round_half_even(a.decimal(0)?, a.int(1)?)?));
    "floor" / 1 => |_, a| Ok(Value::Decimal(floor(a.decimal(0)?)));
    "ceil" / 1 => |_, a| Ok(Value::Decimal(ceil(a.decimal(0)?)));
    "abs" / 1 => |_, a| abs_of_value(a.get(0));
    "min" / 2 => |_, a| Ok(min((!a.get(0).is_none()).then(|| a.get(0)), a.get(1)).clone());
    "max" / 2 => |_, a| Ok(max((!a.get(0).is_none()).then(|| a.get(0)), a.get(1)).clone());
    "from_minor_units" / 2 => |_, a| Ok(Value::Decimal(from_minor_units(a.int(0)?, a.int(1)?)?));
    "to_minor_units" / 2 => |_, a| Ok(Value::Int(to_minor_units(a.decimal(0)?, a.int(1)?)?));
    "currency_exponent" / 1 => |_, a| Ok(Value::Int(currency_exponent(a.string(0)?)));
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    /// Equal with the same scale, as text shows it.
    fn same(a: Decimal, b: &str) {
        assert_eq!(a.to_string(), b);
    }

    #[test]
    fn conversions() {
        assert_eq!(decimal(1999) / Decimal::from(100), d("19.99"));
        assert_eq!(decimal(i64::MIN), Decimal::from(i64::MIN));
        same(decimal_from_float(0.1).unwrap(), "0.1");
        same(decimal_from_float(2.5).unwrap(), "2.5");
        same(decimal_from_float(100.0).unwrap(), "100.0");
        same(decimal_from_float(-0.0).unwrap(), "0.0");
        same(decimal_from_float(1e20).unwrap(), "100000000000000000000");
        same(decimal_from_float(1.5e-7).unwrap(), "0.00000015");
        same(decimal_from_float(1.5e-28).unwrap(), "0.0000000000000000000000000002");
        same(decimal_from_float(2.5e-28).unwrap(), "0.0000000000000000000000000002");
        same(decimal_from_float(1e-40).unwrap(), "0.0000000000000000000000000000");
        same(decimal_from_float(0.1 + 0.2).unwrap(), "0.30000000000000004");
        assert!(decimal_from_float(f64::NAN).is_err());
        assert!(decimal_from_float(f64::INFINITY).is_err());
        assert!(decimal_from_float(1e30).is_err());
        assert_eq!(float(3i64), 3.0);
        assert_eq!(float(2.5f64), 2.5);
        assert_eq!(float(d("0.1")), 0.1);
        assert_eq!(float(d("79228162514264337593543950335")), 7.922816251426434e28);
        assert_eq!(int(-2.7f64), Ok(-2));
        assert_eq!(int(7i64), Ok(7));
        assert_eq!(int(d("-2.7")), Ok(-2));
        assert_eq!(int(d("9223372036854775807.9")), Ok(i64::MAX));
        assert_eq!(int(d("9223372036854775808")), Err(EvalError::Overflow("int")));
        assert_eq!(int(-9_223_372_036_854_775_808.0f64), Ok(i64::MIN));
        assert_eq!(int(9_223_372_036_854_775_808.0f64), Err(EvalError::Overflow("int")));
        assert!(matches!(int(f64::NAN), Err(EvalError::Native { function: "int", .. })));
        assert!(int(f64::NEG_INFINITY).is_err());
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_int(" 42 "), Some(42));
        assert_eq!(parse_int("-7"), Some(-7));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("4.2"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("1,000"), None);
        assert_eq!(parse_int("1e3"), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("--1"), None);
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("٤٢"), None);
        same(parse_decimal("12.50").unwrap(), "12.50");
        same(parse_decimal("-0.5").unwrap(), "-0.5");
        same(parse_decimal(" +3 ").unwrap(), "3");
        same(parse_decimal("-0.00").unwrap(), "0.00");
        assert_eq!(parse_decimal("1,000"), None);
        assert_eq!(parse_decimal("1e3"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal(".5"), None);
        assert_eq!(parse_decimal("5."), None);
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(parse_decimal("1.2.3"), None);
        same(parse_decimal("79228162514264337593543950335").unwrap(), "79228162514264337593543950335");
        assert_eq!(parse_decimal("79228162514264337593543950336"), None);
        same(parse_decimal("0.0000000000000000000000000001").unwrap(), "0.0000000000000000000000000001");
        assert_eq!(parse_decimal("0.00000000000000000000000000001"), None);
        same(parse_decimal("1.000000000000000000000000000000000").unwrap(), "1.0000000000000000000000000000");
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float(" -2.5 "), Some(-2.5));
        assert_eq!(parse_float("abc"), None);
        assert_eq!(parse_float("NaN"), None);
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_float("-infinity"), None);
        assert_eq!(parse_float("1e400"), None);
        assert_eq!(parse_float(""), None);
        assert_eq!(parse_bool(" Yes "), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(parse_bool("ON"), Some(true));
        assert_eq!(parse_bool("n"), Some(false));
        assert_eq!(parse_bool(""), None);
    }

    #[test]
    fn rounding() {
        assert_eq!(round(d("2.345"), 2), Ok(d("2.35")));
        assert_eq!(round(d("2.5"), 0), Ok(d("3")));
        assert_eq!(round(d("-2.5"), 0), Ok(d("-3")));
        same(round(d("1.004"), 2).unwrap(), "1.00");
        same(round(d("-0.4"), 0).unwrap(), "0");
        same(round(d("2.5"), -1).unwrap(), "3");
        same(round(d("2.5"), i64::MAX).unwrap(), "2.5");
        assert_eq!(round_half_even(d("2.345"), 2), Ok(d("2.34")));
        assert_eq!(round_half_even(d("2.5"), 0), Ok(d("2")));
        assert_eq!(round_half_even(d("3.5"), 0), Ok(d("4")));
        assert_eq!(round_half_even(d("-2.5"), 0), Ok(d("-2")));
        same(floor(d("2.7")), "2");
        same(floor(d("-2.5")), "-3");
        same(ceil(d("2.1")), "3");
        same(ceil(d("-2.5")), "-2");
        same(ceil(d("-0.5")), "0");
        assert_eq!(floor(Decimal::MIN), Decimal::MIN);
        assert_eq!(ceil(Decimal::MAX), Decimal::MAX);
    }

    #[test]
    fn abs_min_max() {
        assert_eq!(abs(-3i64), Ok(3));
        same(abs(d("-2.50")).unwrap(), "2.50");
        assert_eq!(abs(-1.5f64), Ok(1.5));
        assert_eq!(abs(i64::MIN), Err(EvalError::Overflow("abs")));
        assert_eq!(min(Some(3), 5), 3);
        assert_eq!(min(None, 5), 5);
        assert_eq!(max(Some(3), 5), 5);
        assert_eq!(max(None, "b"), "b");
        assert!(max(Some(f64::NAN), 1.0).is_nan());
        // Ties keep `a`.
        let a = crate::value::DateTime { seconds: 60, nanos: 0, offset_seconds: 3600 };
        let b = crate::value::DateTime { seconds: 60, nanos: 0, offset_seconds: 0 };
        assert_eq!(max(Some(a), b).offset_seconds, 3600);
        assert_eq!(min(Some(a), b).offset_seconds, 3600);
    }

    #[test]
    fn money() {
        same(from_minor_units(1999, 2).unwrap(), "19.99");
        same(from_minor_units(-250, 2).unwrap(), "-2.50");
        same(from_minor_units(1999, 0).unwrap(), "1999");
        same(from_minor_units(1999, 3).unwrap(), "1.999");
        same(from_minor_units(5, -2).unwrap(), "5");
        same(from_minor_units(i64::MIN, 28).unwrap(), "-0.0000000009223372036854775808");
        assert!(matches!(from_minor_units(1, 29), Err(EvalError::Native { .. })));
        assert_eq!(to_minor_units(d("12.34"), 2), Ok(1234));
        assert_eq!(to_minor_units(d("19.995"), 2), Ok(2000));
        assert_eq!(to_minor_units(d("-19.995"), 2), Ok(-2000));
        assert_eq!(to_minor_units(d("500"), 0), Ok(500));
        assert_eq!(to_minor_units(d("1.5"), -1), Ok(2));
        assert_eq!(to_minor_units(d("0"), 1000), Ok(0));
        assert_eq!(to_minor_units(d("1"), 19), Err(EvalError::Overflow("to_minor_units")));
        assert_eq!(to_minor_units(d("1"), i64::MAX), Err(EvalError::Overflow("to_minor_units")));
        assert_eq!(to_minor_units(d("0.0000000000000000000000000001"), 30), Ok(100));
        assert_eq!(currency_exponent("usd"), 2);
        assert_eq!(currency_exponent("JPY"), 0);
        assert_eq!(currency_exponent("KWD"), 3);
        assert_eq!(currency_exponent("xof"), 0);
        assert_eq!(currency_exponent(""), 2);
        assert_eq!(currency_exponent("???"), 2);
    }

    #[test]
    fn value_sums() {
        assert_eq!(sum_values(&[]).unwrap(), Value::Int(0));
        assert_eq!(sum_values(&[Value::Int(1), Value::Int(2), Value::Int(3)]).unwrap(), Value::Int(6));
        let total = sum_values(&[dec("1.25"), dec("2.50")]).unwrap();
        assert!(matches!(total, Value::Decimal(value) if value.to_string() == "3.75"));
        assert_eq!(sum_values(&[Value::Int(i64::MAX), Value::Int(1)]), Err(EvalError::Overflow("sum")));
        assert_eq!(sum_values(&[Value::Float(0.5), Value::Float(0.25)]).unwrap(), Value::Float(0.75));
        assert!(sum_values(&[s("x")]).is_err());
        let json = |text: &str| Value::Json(std::sync::Arc::new(serde_json::from_str(text).unwrap()));
        assert_eq!(sum_values(&[json("1"), json("2")]).unwrap(), json("3"));
        assert!(sum_values(&[json("\"1\"")]).is_err());
    }

    #[test]
    fn json_numbers_as_the_adapters_read_them() {
        let j = |text: &str| -> serde_json::Value { serde_json::from_str(text).unwrap() };
        let value = |text: &str| Value::Json(std::sync::Arc::new(j(text)));
        for text in ["2.5", "-3", "1e2", "12.50", "-9223372036854775808", "\"7\"", "null", "[1]"] {
            let json = j(text);
            assert_eq!(float_of_json(&json).map(Value::Float), call("float", &[value(text)]), "float({text})");
            assert_eq!(int_of_json(&json).map(Value::Int), call("int", &[value(text)]), "int({text})");
            let abs = abs_of_json(&json).map(|json| Value::Json(std::sync::Arc::new(json)));
            assert_eq!(abs, call("abs", &[value(text)]), "abs({text})");
        }
        assert_eq!(float_of_json(&j("2.5")), Ok(2.5));
        assert_eq!(int_of_json(&j("-2.7")), Ok(-2));
        assert_eq!(abs_of_json(&j("-12.50")), Ok(j("12.50")));
        assert!(int_of_json(&j("\"7\"")).is_err());
        for list in ["[1, 2]", "[1, 2.25]", "[0.5, 1e400]", "[9223372036854775807, 1]", "[1, \"x\"]", "[1, null]"] {
            let items: Vec<serde_json::Value> = serde_json::from_str(list).unwrap();
            let values = Value::list(items.iter().map(|item| Value::Json(std::sync::Arc::new(item.clone()))).collect());
            let sum = sum_of_json(&items).map(|json| Value::Json(std::sync::Arc::new(json)));
            assert_eq!(sum, call("sum", &[values]), "sum({list})");
        }
        assert_eq!(sum_of_json(&[j("1.25"), j("2.50")]), Ok(j("3.75")));
        // An empty list sums to 0 in both; the adapter's 0 is an Int.
        assert_eq!(sum_of_json(&[]), Ok(j("0")));
    }

    #[test]
    fn adapters() {
        assert_eq!(call("decimal", &[Value::Int(1999)]).unwrap(), dec("1999"));
        assert_eq!(call("float", &[Value::Int(3)]).unwrap(), Value::Float(3.0));
        assert_eq!(call("float", &[dec("2.5")]).unwrap(), Value::Float(2.5));
        assert_eq!(call("int", &[Value::Float(-2.7)]).unwrap(), Value::Int(-2));
        assert_eq!(call("int", &[Value::Int(7)]).unwrap(), Value::Int(7));
        assert!(call("int", &[s("7")]).is_err());
        assert_eq!(call("parse_int", &[s("")]).unwrap(), Value::None);
        assert_eq!(call("parse_decimal", &[s("12.50")]).unwrap(), dec("12.50"));
        assert_eq!(call("round", &[dec("2.5"), Value::Int(0)]).unwrap(), Value::Int(3));
        assert_eq!(call("round", &[Value::Int(2), Value::Int(0)]).unwrap(), Value::Int(2));
        assert_eq!(call("abs", &[Value::Int(-3)]).unwrap(), Value::Int(3));
        assert_eq!(call("abs", &[dec("-2.50")]).unwrap(), dec("2.5"));
        assert_eq!(call("abs", &[Value::Int(i64::MIN)]), Err(EvalError::Overflow("abs")));
        assert_eq!(call("min", &[Value::Int(3), Value::Int(5)]).unwrap(), Value::Int(3));
        assert_eq!(call("min", &[Value::None, Value::Int(5)]).unwrap(), Value::Int(5));
        assert_eq!(call("max", &[Value::Int(3), Value::Int(5)]).unwrap(), Value::Int(5));
        assert_eq!(call("max", &[Value::None, s("b")]).unwrap(), s("b"));
        assert_eq!(call("max", &[Value::Int(3), dec("2.5")]).unwrap(), Value::Int(3));
        assert_eq!(call("from_minor_units", &[Value::Int(1999), Value::Int(2)]).unwrap(), dec("19.99"));
        assert_eq!(call("to_minor_units", &[Value::Int(500), Value::Int(0)]).unwrap(), Value::Int(500));
        assert_eq!(call("currency_exponent", &[s("usd")]).unwrap(), Value::Int(2));
    }
}
