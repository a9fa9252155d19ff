//! Literal forms with units: durations, sizes, status patterns, rates.
//!
//! In: AST quantities and numbers. Out: their values (milliseconds, bytes,
//! status ranges) or a diagnostic naming what is malformed, with a "did you
//! mean" for misspelt units.

use crate::check::suggest;
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{Expr, ExprKind, Quantity};

pub const DURATION_UNITS: &[(&str, u64)] =
    &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];
pub const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
];

/// A status pattern: one code or a class such as `5xx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusPattern {
    Code(u16),
    Class(u16),
    /// `_`: every status outside 2xx.
    Any,
}

impl StatusPattern {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Code(code) => code == status,
            StatusPattern::Class(class) => status / 100 == class,
            StatusPattern::Any => !(200..300).contains(&status),
        }
    }

    /// Whether every status this pattern matches is also matched by `other`.
    pub fn covered_by(self, other: StatusPattern) -> bool {
        match (self, other) {
            (StatusPattern::Code(a), StatusPattern::Code(b)) => a == b,
            (StatusPattern::Code(a), StatusPattern::Class(b)) => a / 100 == b,
            (StatusPattern::Class(a), StatusPattern::Class(b)) => a == b,
            (StatusPattern::Class(_), StatusPattern::Code(_)) => false,
            (_, StatusPattern::Any) => true,
            (StatusPattern::Any, _) => false,
        }
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Code(code) => write!(formatter, "{code}"),
            StatusPattern::Class(class) => write!(formatter, "{class}xx"),
            StatusPattern::Any => formatter.write_str("_"),
        }
    }
}

fn whole_number(text: &str) -> Option<u64> {
    if text.contains('.') { None } else { text.parse().ok() }
}

/// Milliseconds of a duration quantity such as `10s` or `1.5s`.
pub fn duration_ms(quantity: &Quantity, whole: &Expr) -> Result<u64, Diagnostic> {
    let Some(&(_, factor)) = DURATION_UNITS.iter().find(|(unit, _)| *unit == quantity.unit) else {
        let mut diagnostic = Diagnostic::new(
            Code::InvalidDuration,
            quantity.unit_span,
            format!("unknown duration unit `{}`", quantity.unit),
        )
        .label("not a duration unit")
        .note("durations are written `250ms`, `10s`, `5m`, `2h` or `1d`");
        let units = DURATION_UNITS.iter().map(|(unit, _)| *unit);
        let alias = match quantity.unit.as_str() {
            "sec" | "secs" | "second" | "seconds" => Some("s"),
            "min" | "mins" | "minute" | "minutes" => Some("m"),
            "hr" | "hrs" | "hour" | "hours" => Some("h"),
            "day" | "days" => Some("d"),
            "msec" | "millis" | "milliseconds" => Some("ms"),
            _ => None,
        };
        if let Some(best) = alias.or_else(|| suggest::best(&quantity.unit, units)) {
            diagnostic = diagnostic.help(format!("did you mean `{}{best}`?", quantity.number)).maybe_fix(
                format!("write `{best}`"),
                quantity.unit_span,
                best,
            );
        }
        return Err(diagnostic);
    };
    let value: f64 = quantity.number.parse().unwrap_or(f64::NAN);
    let millis = value * factor as f64;
    if !millis.is_finite() || millis > 1e15 {
        return Err(Diagnostic::new(Code::InvalidDuration, whole.span, "duration out of range")
            .label("longer than any duration integ can wait")
            .help("durations must be shorter than about 30,000 years"));
    }
    if millis.fract() != 0.0 {
        return Err(Diagnostic::new(Code::InvalidDuration, whole.span, "duration finer than a millisecond")
            .label("durations are whole milliseconds")
            .help("write it in milliseconds, such as `1500ms`"));
    }
    Ok(millis as u64)
}

/// Bytes of a size quantity such as `1MB`.
pub fn size_bytes(quantity: &Quantity, whole: &Expr) -> Result<u64, Diagnostic> {
    let Some(&(_, factor)) = SIZE_UNITS.iter().find(|(unit, _)| *unit == quantity.unit) else {
        let mut diagnostic =
            Diagnostic::new(Code::InvalidSize, quantity.unit_span, format!("unknown size unit `{}`", quantity.unit))
                .label("not a size unit")
                .note("sizes are written `512B`, `64KB`, `1MB`, `1GB`, `1KiB`, `1MiB` or `1GiB`");
        if let Some(best) = SIZE_UNITS
            .iter()
            .map(|(unit, _)| *unit)
            .find(|unit| unit.eq_ignore_ascii_case(&quantity.unit))
            .or_else(|| suggest::best(&quantity.unit, SIZE_UNITS.iter().map(|(unit, _)| *unit)))
        {
            diagnostic = diagnostic.maybe_fix(format!("write `{best}`"), quantity.unit_span, best);
        }
        return Err(diagnostic);
    };
    let Some(number) = whole_number(&quantity.number) else {
        return Err(Diagnostic::new(Code::InvalidSize, whole.span, "a size must be a whole number")
            .label("fractional size")
            .help("use a smaller unit, such as `1500KB`"));
    };
    number.checked_mul(factor).ok_or_else(|| {
        Diagnostic::new(Code::InvalidSize, whole.span, "size out of range").label("too large to represent in bytes")
    })
}

/// A status pattern written as `404` or `5xx`.
pub fn status_pattern(expr: &Expr) -> Result<StatusPattern, Diagnostic> {
    match &expr.kind {
        ExprKind::Int(code) => {
            if (100..=599).contains(code) {
                Ok(StatusPattern::Code(*code as u16))
            } else {
                Err(Diagnostic::new(Code::InvalidStatusPattern, expr.span, format!("`{code}` is not an HTTP status"))
                    .label("statuses go from 100 to 599")
                    .help("write an exact status such as `404` or a class such as `5xx`"))
            }
        }
        ExprKind::Quantity(quantity) if quantity.unit == "xx" => match whole_number(&quantity.number) {
            Some(class @ 1..=5) => Ok(StatusPattern::Class(class as u16)),
            _ => Err(Diagnostic::new(
                Code::InvalidStatusPattern,
                expr.span,
                format!("`{}xx` is not a status class", quantity.number),
            )
            .label("classes go from `1xx` to `5xx`")),
        },
        ExprKind::Quantity(quantity) if quantity.unit.chars().all(|c| c == 'x' || c == 'X') => {
            Err(Diagnostic::new(Code::InvalidStatusPattern, expr.span, "invalid status class")
                .label("a class is one digit followed by `xx`")
                .help("write `4xx` or `5xx`, or list exact statuses such as `502`"))
        }
        _ => Err(Diagnostic::new(Code::InvalidStatusPattern, expr.span, "expected a status pattern")
            .label("not a status")
            .help("write an exact status such as `429` or a class such as `5xx`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span};

    fn quantity(number: &str, unit: &str) -> (Quantity, Expr) {
        let span = Span::new(FileId(0), 0, number.len() + unit.len());
        let quantity = Quantity { number: number.into(), unit: unit.into(), unit_span: span };
        (quantity.clone(), Expr { kind: ExprKind::Quantity(quantity), span })
    }

    #[test]
    fn durations_sizes_and_statuses() {
        let (q, e) = quantity("200", "ms");
        assert_eq!(duration_ms(&q, &e).unwrap(), 200);
        let (q, e) = quantity("1.5", "s");
        assert_eq!(duration_ms(&q, &e).unwrap(), 1500);
        let (q, e) = quantity("10", "sec");
        assert_eq!(duration_ms(&q, &e).unwrap_err().suggestions[0].replacement, "s");
        let (q, e) = quantity("1", "MiB");
        assert_eq!(size_bytes(&q, &e).unwrap(), 1 << 20);
        let (q, e) = quantity("1", "mb");
        assert_eq!(size_bytes(&q, &e).unwrap_err().suggestions[0].replacement, "MB");
        let (_, e) = quantity("5", "xx");
        assert_eq!(status_pattern(&e).unwrap(), StatusPattern::Class(5));
        let (_, e) = quantity("6", "xx");
        assert!(status_pattern(&e).is_err());
        assert!(StatusPattern::Code(503).covered_by(StatusPattern::Class(5)));
    }
}
