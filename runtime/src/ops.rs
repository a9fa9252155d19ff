//! Arithmetic on typed values (§ 5.4 of spec.md), shared by both back ends:
//! the interpreter calls these after matching on [`crate::Value`]s, generated
//! Rust calls them directly on `i64`, `Decimal`, `f64`, [`DateTime`],
//! `Date` and [`Duration`]. One implementation, so overflow, division by zero
//! and calendar arithmetic behave the same whichever back end runs a program.

use rust_decimal::Decimal;

use crate::error::EvalError;
use crate::value::{DateTime, Duration};

/// An arithmetic operator, by its symbol in errors (`integer overflow in +`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Rem => "%",
        }
    }
}

/// `a op b` on Ints: overflow and division by zero are errors.
pub fn int(op: Op, a: i64, b: i64) -> Result<i64, EvalError> {
    let result = match op {
        Op::Add => a.checked_add(b),
        Op::Sub => a.checked_sub(b),
        Op::Mul => a.checked_mul(b),
        Op::Div | Op::Rem if b == 0 => return Err(EvalError::DivisionByZero),
        Op::Div => a.checked_div(b),
        Op::Rem => a.checked_rem(b),
    };
    result.ok_or(EvalError::Overflow(op.symbol()))
}

/// `a op b` on Decimals (an Int operand is converted first).
pub fn decimal(op: Op, a: Decimal, b: Decimal) -> Result<Decimal, EvalError> {
    let result = match op {
        Op::Add => a.checked_add(b),
        Op::Sub => a.checked_sub(b),
        Op::Mul => a.checked_mul(b),
        Op::Div | Op::Rem if b.is_zero() => return Err(EvalError::DivisionByZero),
        Op::Div => a.checked_div(b),
        Op::Rem => a.checked_rem(b),
    };
    result.ok_or(EvalError::Overflow(op.symbol()))
}

/// `a op b` on Floats (IEEE 754: no errors; `%` is not defined on Floats).
pub fn float(op: Op, a: f64, b: f64) -> Result<f64, EvalError> {
    match op {
        Op::Add => Ok(a + b),
        Op::Sub => Ok(a - b),
        Op::Mul => Ok(a * b),
        Op::Div => Ok(a / b),
        Op::Rem => Err(EvalError::Other("`%` cannot apply to a Float and a Float".to_owned())),
    }
}

/// `-a` on an Int.
pub fn neg_int(a: i64) -> Result<i64, EvalError> {
    a.checked_neg().ok_or(EvalError::Overflow("-"))
}

/// `-a` on a Duration.
pub fn neg_duration(a: Duration) -> Result<Duration, EvalError> {
    a.millis.checked_neg().map(|millis| Duration { millis }).ok_or(EvalError::Overflow("-"))
}

/// `a + b` on Strings.
pub fn concat(a: &str, b: &str) -> String {
    let mut text = String::with_capacity(a.len() + b.len());
    text.push_str(a);
    text.push_str(b);
    text
}

/// `a + b` on lists.
pub fn concat_lists<T: Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut items = Vec::with_capacity(a.len() + b.len());
    items.extend_from_slice(a);
    items.extend_from_slice(b);
    items
}

/// `a + d` and `a - d` on a DateTime: the instant moves, the offset stays.
pub fn datetime_shift(a: DateTime, op: Op, d: Duration) -> Result<DateTime, EvalError> {
    let millis = if op == Op::Add { d.millis } else { d.millis.checked_neg().ok_or(EvalError::Overflow("-"))? };
    let span = jiff::SignedDuration::from_millis(millis);
    let moved = a.timestamp().checked_add(span).map_err(|_| EvalError::Overflow(op.symbol()))?;
    Ok(DateTime::from_timestamp(moved, a.offset()))
}

/// `a - b` on DateTimes: the Duration between them, rounded toward the past
/// to whole milliseconds.
pub fn datetime_between(a: DateTime, b: DateTime) -> Result<Duration, EvalError> {
    let nanos = a.instant_nanos() - b.instant_nanos();
    let millis = i64::try_from(nanos.div_euclid(1_000_000)).map_err(|_| EvalError::Overflow("-"))?;
    Ok(Duration { millis })
}

/// `a + d` and `a - d` on a Date: whole days of `d` (a part-day is dropped).
pub fn date_shift(a: jiff::civil::Date, op: Op, d: Duration) -> Result<jiff::civil::Date, EvalError> {
    let overflow = || EvalError::Overflow(op.symbol());
    let days = d.millis / 86_400_000;
    let span = jiff::Span::new().try_days(if op == Op::Add { days } else { -days }).map_err(|_| overflow())?;
    a.checked_add(span).map_err(|_| overflow())
}

/// `a + b` and `a - b` on Durations.
pub fn duration(op: Op, a: Duration, b: Duration) -> Result<Duration, EvalError> {
    let millis = match op {
        Op::Add => a.millis.checked_add(b.millis),
        Op::Sub => a.millis.checked_sub(b.millis),
        _ => return Err(EvalError::Other(format!("`{}` cannot apply to a Duration and a Duration", op.symbol()))),
    };
    millis.map(|millis| Duration { millis }).ok_or(EvalError::Overflow(op.symbol()))
}

/// `a * n` and `a / n` on a Duration and an Int.
pub fn duration_scale(op: Op, a: Duration, n: i64) -> Result<Duration, EvalError> {
    let millis = match op {
        Op::Mul => a.millis.checked_mul(n).ok_or(EvalError::Overflow("*"))?,
        Op::Div if n == 0 => return Err(EvalError::DivisionByZero),
        Op::Div => a.millis.checked_div(n).ok_or(EvalError::Overflow("/"))?,
        _ => return Err(EvalError::Other(format!("`{}` cannot apply to a Duration and an Int", op.symbol()))),
    };
    Ok(Duration { millis })
}

/// The order of two Floats for `<`, `<=`, `>` and `>=`: a NaN operand does
/// not order, a run-time error as in the interpreter ([`crate::Value::compare`]).
pub fn float_order(a: f64, b: f64) -> Result<std::cmp::Ordering, EvalError> {
    a.partial_cmp(&b).ok_or_else(|| EvalError::Other("cannot order a Float and a Float".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_does_not_order() {
        assert_eq!(float_order(1.0, 2.0), Ok(std::cmp::Ordering::Less));
        assert!(float_order(f64::NAN, 2.0).is_err());
        assert!(float_order(0.0, f64::NAN).is_err());
    }

    #[test]
    fn ints_check_overflow_and_zero() {
        assert_eq!(int(Op::Add, 2, 3), Ok(5));
        assert_eq!(int(Op::Add, i64::MAX, 1), Err(EvalError::Overflow("+")));
        assert_eq!(int(Op::Div, 1, 0), Err(EvalError::DivisionByZero));
        assert_eq!(int(Op::Rem, i64::MIN, -1), Err(EvalError::Overflow("%")));
        assert_eq!(int(Op::Div, -7, 2), Ok(-3));
    }

    #[test]
    fn decimals_keep_scale() {
        let sum = decimal(Op::Add, Decimal::new(1250, 2), Decimal::new(5, 1)).unwrap_or_default();
        assert_eq!(sum.to_string(), "13.00");
        assert_eq!(decimal(Op::Div, Decimal::ONE, Decimal::ZERO), Err(EvalError::DivisionByZero));
    }

    #[test]
    fn datetimes_move_and_keep_their_offset() {
        let start = DateTime { seconds: 1_700_000_000, nanos: 0, offset_seconds: 3600 };
        let later = datetime_shift(start, Op::Add, Duration { millis: 1500 }).unwrap_or(start);
        assert_eq!((later.seconds, later.nanos, later.offset_seconds), (1_700_000_001, 500_000_000, 3600));
        assert_eq!(datetime_between(later, start), Ok(Duration { millis: 1500 }));
        let earlier = datetime_shift(start, Op::Sub, Duration { millis: 1 }).unwrap_or(start);
        assert_eq!((earlier.seconds, earlier.nanos), (1_699_999_999, 999_000_000));
    }

    #[test]
    fn durations_scale_and_dates_move_by_whole_days() {
        assert_eq!(duration_scale(Op::Mul, Duration { millis: 1000 }, 3), Ok(Duration { millis: 3000 }));
        assert_eq!(duration_scale(Op::Div, Duration { millis: 1000 }, 0), Err(EvalError::DivisionByZero));
        let date = jiff::civil::date(2024, 2, 28);
        assert_eq!(
            date_shift(date, Op::Add, Duration { millis: 86_400_000 * 2 - 1 }),
            Ok(jiff::civil::date(2024, 2, 29))
        );
    }
}
