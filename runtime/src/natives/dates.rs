//! Dates, times and durations: the clock, construction, parsing and
//! formatting (strftime patterns, by jiff's `strtime`), Unix times, IANA time
//! zones, calendar arithmetic and durations.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::fmt::strtime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};

use super::{Clock, Native, native_table, optional};
use crate::error::EvalError;
use crate::value::{DateTime, Duration, Value};

fn out_of_range(function: &'static str) -> EvalError {
    EvalError::Native {
        function,
        message: "the result is outside the range of DateTime (years -9999 to 9999)".to_owned(),
    }
}

fn utc(timestamp: Timestamp) -> DateTime {
    DateTime::from_timestamp(timestamp, Offset::UTC)
}

/// The IANA time zone `name`; `UTC` works without a time zone database.
pub fn time_zone(name: &str) -> Option<TimeZone> {
    if name.eq_ignore_ascii_case("UTC") || name.eq_ignore_ascii_case("Etc/UTC") {
        return Some(TimeZone::UTC);
    }
    if name.is_empty() {
        return None;
    }
    TimeZone::get(name).ok()
}

/// The current instant, with a UTC offset.
pub fn now(clock: &dyn Clock) -> DateTime {
    DateTime { offset_seconds: 0, ..clock.now() }
}

/// Today's date in UTC.
pub fn today(clock: &dyn Clock) -> Date {
    to_date(now(clock))
}

/// The instant `year-month-day hour:minute:second` in UTC; none when a part
/// is out of range.
pub fn datetime(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Option<DateTime> {
    let civil = jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        0,
    )
    .ok()?;
    Offset::UTC.to_timestamp(civil).ok().map(utc)
}

/// The date `year-month-day`; none when it does not exist.
pub fn date(year: i64, month: i64, day: i64) -> Option<Date> {
    Date::new(i16::try_from(year).ok()?, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// Reads fixed-width ASCII digits.
struct Cursor<'t> {
    bytes: &'t [u8],
    position: usize,
}

impl Cursor<'_> {
    fn number(&mut self, width: usize) -> Option<i64> {
        let digits = self.bytes.get(self.position..self.position + width)?;
        let mut value = 0;
        for digit in digits {
            if !digit.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(digit - b'0');
        }
        self.position += width;
        Some(value)
    }

    fn byte(&mut self, accept: impl Fn(u8) -> bool) -> Option<u8> {
        let byte = *self.bytes.get(self.position)?;
        accept(byte).then(|| {
            self.position += 1;
            byte
        })
    }

    fn date(&mut self) -> Option<Date> {
        let year = self.number(4)?;
        self.byte(|b| b == b'-')?;
        let month = self.number(2)?;
        self.byte(|b| b == b'-')?;
        let day = self.number(2)?;
        date(year, month, day)
    }

    fn at_end(&self) -> bool {
        self.position == self.bytes.len()
    }
}

/// RFC 3339: `YYYY-MM-DD`, `T`, `t` or a space, `hh:mm:ss`, an optional
/// fraction (any number of digits, kept to nanoseconds), and `Z`, `z` or
/// `±hh:mm`.
pub fn parse_rfc3339(text: &str) -> Option<DateTime> {
    let mut cursor = Cursor { bytes: text.as_bytes(), position: 0 };
    let day = cursor.date()?;
    cursor.byte(|b| matches!(b, b'T' | b't' | b' '))?;
    let hour = cursor.number(2)?;
    cursor.byte(|b| b == b':')?;
    let minute = cursor.number(2)?;
    cursor.byte(|b| b == b':')?;
    let second = cursor.number(2)?;
    let mut nanos: i64 = 0;
    if cursor.byte(|b| b == b'.').is_some() {
        let mut digits = 0;
        while let Some(digit) = cursor.byte(|b| b.is_ascii_digit()) {
            if digits < 9 {
                nanos = nanos * 10 + i64::from(digit - b'0');
            }
            digits += 1;
        }
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset_seconds = match cursor.byte(|b| matches!(b, b'Z' | b'z' | b'+' | b'-'))? {
        b'Z' | b'z' => 0,
        sign => {
            let hours = cursor.number(2)?;
            cursor.byte(|b| b == b':')?;
            let minutes = cursor.number(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if sign == b'-' { -seconds } else { seconds }
        }
    };
    if !cursor.at_end() {
        return None;
    }
    let time = Time::new(
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        i32::try_from(nanos).ok()?,
    )
    .ok()?;
    let offset = Offset::from_seconds(i32::try_from(offset_seconds).ok()?).ok()?;
    let timestamp = offset.to_timestamp(day.to_datetime(time)).ok()?;
    Some(DateTime::from_timestamp(timestamp, offset))
}

/// A pattern is valid when it can write a complete zoned datetime.
fn check_pattern(function: &'static str, pattern: &str) -> Result<(), EvalError> {
    let sample = Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC);
    strtime::format(pattern, &sample)
        .map(drop)
        .map_err(|error| EvalError::Native { function, message: format!("invalid pattern {pattern:?}: {error}") })
}

fn parse_with_pattern(text: &str, pattern: &str) -> Option<DateTime> {
    let parsed = strtime::parse(pattern, text).ok()?;
    if parsed.iana_time_zone().is_some() {
        let zoned = parsed.to_zoned().ok()?;
        return Some(DateTime::from_timestamp(zoned.timestamp(), zoned.offset()));
    }
    if parsed.timestamp().is_some() || parsed.offset().is_some() {
        let timestamp = parsed.to_timestamp().ok()?;
        return Some(DateTime::from_timestamp(timestamp, parsed.offset().unwrap_or(Offset::UTC)));
    }
    Offset::UTC.to_timestamp(parsed.to_datetime().ok()?).ok().map(utc)
}

/// An instant in RFC 3339, or read with a strftime `pattern` (UTC when the
/// pattern reads no offset). An invalid pattern is an error.
pub fn parse_datetime(s: &str, pattern: Option<&str>) -> Result<Option<DateTime>, EvalError> {
    let text = s.trim();
    match pattern {
        None => Ok(parse_rfc3339(text)),
        Some(pattern) => {
            check_pattern("parse_datetime", pattern)?;
            Ok(parse_with_pattern(text, pattern))
        }
    }
}

/// A wall-clock time read with `pattern` in the IANA zone `zone`: the earlier
/// instant when it occurs twice, none when it is skipped.
pub fn parse_datetime_in(s: &str, pattern: &str, zone: &str) -> Result<Option<DateTime>, EvalError> {
    check_pattern("parse_datetime_in", pattern)?;
    let Some(zone) = time_zone(zone) else {
        return Ok(None);
    };
    let Ok(parsed) = strtime::parse(pattern, s.trim()) else {
        return Ok(None);
    };
    let shown_in_zone = |timestamp: Timestamp| DateTime::from_timestamp(timestamp, zone.to_offset(timestamp));
    if let Some(timestamp) = parsed.timestamp() {
        return Ok(Some(shown_in_zone(timestamp)));
    }
    let Ok(civil) = parsed.to_datetime() else {
        return Ok(None);
    };
    let offset = match parsed.offset() {
        // An offset written in the text decides the instant.
        Some(offset) => offset,
        None => match zone.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Fold { before, .. } => before,
            AmbiguousOffset::Gap { .. } => return Ok(None),
        },
    };
    Ok(offset.to_timestamp(civil).ok().map(shown_in_zone))
}

/// A date as `YYYY-MM-DD`, or read with a strftime `pattern`.
pub fn parse_date(s: &str, pattern: Option<&str>) -> Result<Option<Date>, EvalError> {
    let text = s.trim();
    match pattern {
        None => {
            let mut cursor = Cursor { bytes: text.as_bytes(), position: 0 };
            Ok(cursor.date().filter(|_| cursor.at_end()))
        }
        Some(pattern) => {
            check_pattern("parse_date", pattern)?;
            Ok(strtime::parse(pattern, text).ok().and_then(|parsed| parsed.to_date().ok()))
        }
    }
}

/// `t` written with a strftime pattern, in its own offset.
pub fn format_datetime(t: DateTime, pattern: &str) -> Result<String, EvalError> {
    let zoned = t.timestamp().to_zoned(TimeZone::fixed(t.offset()));
    strtime::format(pattern, &zoned).map_err(|error| EvalError::Native {
        function: "format_datetime",
        message: format!("invalid pattern {pattern:?}: {error}"),
    })
}

/// `d` written with a strftime pattern.
pub fn format_date(d: Date, pattern: &str) -> Result<String, EvalError> {
    strtime::format(pattern, d).map_err(|error| EvalError::Native {
        function: "format_date",
        message: format!("invalid pattern {pattern:?} for a Date: {error}"),
    })
}

/// The instant `seconds` after the Unix epoch, in UTC.
pub fn from_unix(seconds: i64) -> Result<DateTime, EvalError> {
    Timestamp::from_second(seconds).map(utc).map_err(|_| out_of_range("from_unix"))
}

/// The instant `ms` milliseconds after the Unix epoch, in UTC.
pub fn from_unix_ms(ms: i64) -> Result<DateTime, EvalError> {
    Timestamp::from_millisecond(ms).map(utc).map_err(|_| out_of_range("from_unix_ms"))
}

/// Whole seconds since the epoch, rounded toward the past.
pub fn to_unix(t: DateTime) -> i64 {
    t.seconds
}

/// Whole milliseconds since the epoch, rounded toward the past.
pub fn to_unix_ms(t: DateTime) -> Result<i64, EvalError> {
    t.seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(t.nanos / 1_000_000)))
        .ok_or(EvalError::Overflow("to_unix_ms"))
}

/// The same instant shown in the IANA zone `zone`.
pub fn in_zone(t: DateTime, zone: &str) -> Option<DateTime> {
    let zone = time_zone(zone)?;
    let timestamp = t.timestamp();
    Some(DateTime { offset_seconds: zone.to_offset(timestamp).seconds(), ..t })
}

/// The calendar date of `t` in its own offset.
pub fn to_date(t: DateTime) -> Date {
    t.offset().to_datetime(t.timestamp()).date()
}

/// The calendar date of `t` in the IANA zone `zone`.
pub fn local_date(t: DateTime, zone: &str) -> Option<Date> {
    Some(time_zone(zone)?.to_datetime(t.timestamp()).date())
}

/// Midnight at the start of `d`, in UTC.
pub fn start_of_day(d: Date) -> Result<DateTime, EvalError> {
    Offset::UTC.to_timestamp(d.to_datetime(Time::midnight())).map(utc).map_err(|_| out_of_range("start_of_day"))
}

pub fn year(d: Date) -> i64 {
    i64::from(d.year())
}

pub fn month(d: Date) -> i64 {
    i64::from(d.month())
}

pub fn day(d: Date) -> i64 {
    i64::from(d.day())
}

/// 1 for Monday to 7 for Sunday.
pub fn weekday(d: Date) -> i64 {
    i64::from(d.weekday().to_monday_one_offset())
}

/// `d` moved by `n` months, the day clamped to the target month's last.
pub fn add_months(d: Date, n: i64) -> Result<Date, EvalError> {
    let overflow = || EvalError::Overflow("add_months");
    let index = (i64::from(d.year()) * 12 + i64::from(d.month()) - 1).checked_add(n).ok_or_else(overflow)?;
    let year = i16::try_from(index.div_euclid(12)).map_err(|_| overflow())?;
    let month = i8::try_from(index.rem_euclid(12) + 1).map_err(|_| overflow())?;
    let first = Date::new(year, month, 1).map_err(|_| overflow())?;
    Date::new(year, month, d.day().min(first.days_in_month())).map_err(|_| overflow())
}

/// Days since 1970-01-01 (proleptic Gregorian).
fn epoch_day(d: Date) -> i64 {
    let month = i64::from(d.month());
    let year = i64::from(d.year()) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(d.day()) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Days from `a` to `b`.
pub fn days_between(a: Date, b: Date) -> i64 {
    epoch_day(b) - epoch_day(a)
}

/// A Duration of `n` seconds.
pub fn seconds(n: i64) -> Result<Duration, EvalError> {
    n.checked_mul(1000).map(|millis| Duration { millis }).ok_or(EvalError::Overflow("seconds"))
}

/// Whole seconds in `d`, truncated toward zero.
pub fn total_seconds(d: Duration) -> i64 {
    d.millis / 1000
}

pub(super) const NATIVES: &[Native] = native_table! {
    "now" / 0 => |context, _a| Ok(Value::DateTime(now(context.clock)));
    "today" / 0 => |context, _a| Ok(Value::Date(today(context.clock)));
    "datetime" / 6 => |_, a| {
        let value = datetime(a.int(0)?, a.int(1)?, a.int(2)?, a.int(3)?, a.int(4)?, a.int(5)?);
        Ok(optional(value, Value::DateTime))
    };
    "date" / 3 => |_, a| Ok(optional(date(a.int(0)?, a.int(1)?, a.int(2)?), Value::Date));
    "parse_datetime" / 2 => |_, a| Ok(optional(parse_datetime(a.string(0)?, a.opt_string(1)?)?, Value::DateTime));
    "parse_datetime_in" / 3 => |_, a| {
        Ok(optional(parse_datetime_in(a.string(0)?, a.string(1)?, a.string(2)?)?, Value::DateTime))
    };
    "parse_date" / 2 => |_, a| Ok(optional(parse_date(a.string(0)?, a.opt_string(1)?)?, Value::Date));
    "format_datetime" / 2 => |_, a| Ok(Value::string(format_datetime(a.datetime(0)?, a.string(1)?)?));
    "format_date" / 2 => |_, a| Ok(Value::string(format_date(a.date(0)?, a.string(1)?)?));
    "from_unix" / 1 => |_, a| Ok(Value::DateTime(from_unix(a.int(0)?)?));
    "from_unix_ms" / 1 => |_, a| Ok(Value::DateTime(from_unix_ms(a.int(0)?)?));
    "to_unix" / 1 => |_, a| Ok(Value::Int(to_unix(a.datetime(0)?)));
    "to_unix_ms" / 1 => |_, a| Ok(Value::Int(to_unix_ms(a.datetime(0)?)?));
    "in_zone" / 2 => |_, a| Ok(optional(in_zone(a.datetime(0)?, a.string(1)?), Value::DateTime));
    "to_date" / 1 => |_, a| Ok(Value::Date(to_date(a.datetime(0)?)));
    "local_date" / 2 => |_, a| Ok(optional(local_date(a.datetime(0)?, a.string(1)?), Value::Date));
    "start_of_day" / 1 => |_, a| Ok(Value::DateTime(start_of_day(a.date(0)?)?));
    "year" / 1 => |_, a| Ok(Value::Int(year(a.date(0)?)));
    "month" / 1 => |_, a| Ok(Value::Int(month(a.date(0)?)));
    "day" / 1 => |_, a| Ok(Value::Int(day(a.date(0)?)));
    "weekday" / 1 => |_, a| Ok(Value::Int(weekday(a.date(0)?)));
    "add_months" / 2 => |_, a| Ok(Value::Date(add_months(a.date(0)?, a.int(1)?)?));
    "days_between" / 2 => |_, a| Ok(Value::Int(days_between(a.date(0)?, a.date(1)?)));
    "seconds" / 1 => |_, a| Ok(Value::Duration(seconds(a.int(0)?)?));
    "total_seconds" / 1 => |_, a| Ok(Value::Int(total_seconds(a.duration(0)?)));
};

#[cfg(test)]
mod tests {
    use super::super::FixedClock;
    use super::super::testing::*;
    use super::*;

    fn unix(seconds: i64) -> DateTime {
        from_unix(seconds).unwrap()
    }

    fn ymd(year: i64, month: i64, day: i64) -> Date {
        date(year, month, day).unwrap()
    }

    #[test]
    fn clock() {
        let clock = FixedClock(DateTime { seconds: 1_709_294_400, nanos: 5, offset_seconds: 3600 });
        let now = now(&clock);
        assert_eq!((now.seconds, now.nanos, now.offset_seconds), (1_709_294_400, 5, 0));
        assert_eq!(today(&clock), ymd(2024, 3, 1));
        let late = FixedClock(DateTime { seconds: 1_709_333_999, nanos: 0, offset_seconds: 3600 });
        assert_eq!(today(&late), ymd(2024, 3, 1));
        assert!(now > unix(1_700_000_000));
        assert!(today(&super::super::SystemClock) > to_date(unix(1_700_000_000)));
    }

    #[test]
    fn construction() {
        assert_eq!(datetime(2024, 3, 1, 12, 0, 0), Some(unix(1_709_294_400)));
        assert_eq!(datetime(2024, 2, 30, 0, 0, 0), None);
        assert_eq!(datetime(2024, 13, 1, 0, 0, 0), None);
        assert_eq!(datetime(2024, 1, 1, 24, 0, 0), None);
        assert_eq!(datetime(2024, 1, 1, 0, 0, 60), None);
        assert_eq!(datetime(2024, 1, 1, 0, -1, 0), None);
        assert_eq!(datetime(i64::MAX, 1, 1, 0, 0, 0), None);
        assert_eq!(datetime(1970, 1, 1, 0, 0, 0), Some(unix(0)));
        assert_eq!(date(2024, 2, 29), Some(ymd(2024, 2, 29)));
        assert_eq!(date(2023, 2, 29), None);
        assert_eq!(date(2024, 0, 1), None);
        assert_eq!(date(-99999, 1, 1), None);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_datetime("2024-03-01T13:00:00+01:00", None), Ok(Some(unix(1_709_294_400))));
        let parsed = parse_datetime("2024-03-01T13:00:00.250+01:00", None).unwrap().unwrap();
        assert_eq!((parsed.seconds, parsed.nanos, parsed.offset_seconds), (1_709_294_400, 250_000_000, 3600));
        assert_eq!(parse_datetime(" 2024-03-01t12:00:00z ", None), Ok(Some(unix(1_709_294_400))));
        assert_eq!(parse_datetime("2024-03-01 12:00:00Z", None), Ok(Some(unix(1_709_294_400))));
        let precise = parse_datetime("2024-03-01T12:00:00.1234567891Z", None).unwrap().unwrap();
        assert_eq!(precise.nanos, 123_456_789);
        let negative = parse_datetime("2024-03-01T07:00:00-05:00", None).unwrap().unwrap();
        assert_eq!((negative, negative.offset_seconds), (unix(1_709_294_400), -18000));
        for bad in [
            "yesterday",
            "",
            "2024-03-01",
            "2024-03-01T12:00:00",
            "2024-03-01T12:00Z",
            "2024-03-01T12:00:00.Z",
            "2024-02-30T12:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T12:00:60Z",
            "2024-03-01T12:00:00+0100",
            "2024-03-01T12:00:00+24:00",
            "2024-03-01T12:00:00Z trailing",
            "24-03-01T12:00:00Z",
            "２０２４-03-01T12:00:00Z",
        ] {
            assert_eq!(parse_datetime(bad, None), Ok(None), "{bad}");
        }
    }

    #[test]
    fn patterns() {
        let parsed = parse_datetime("01/03/2024 12:00", Some("%d/%m/%Y %H:%M"));
        assert_eq!(parsed, Ok(Some(unix(1_709_294_400))));
        let with_offset = parse_datetime("2024-03-01 13:00 +0100", Some("%Y-%m-%d %H:%M %z")).unwrap().unwrap();
        assert_eq!((with_offset, with_offset.offset_seconds), (unix(1_709_294_400), 3600));
        assert_eq!(parse_datetime("1709294400", Some("%s")), Ok(Some(unix(1_709_294_400))));
        assert_eq!(parse_datetime("2024-03-01", Some("%Y-%m-%d")), Ok(Some(unix(1_709_251_200))));
        assert_eq!(parse_datetime("01/03/2024", Some("%d/%m/%Y %H")), Ok(None));
        assert_eq!(parse_datetime("30/02/2024 12:00", Some("%d/%m/%Y %H:%M")), Ok(None));
        assert_eq!(parse_datetime("12:00", Some("%H:%M")), Ok(None));
        assert!(matches!(parse_datetime("x", Some("%Y-%")), Err(EvalError::Native { function: "parse_datetime", .. })));
        assert!(parse_datetime("x", Some("%J")).is_err());
        let zoned = parse_datetime("2024-03-01 13:00 Europe/Paris", Some("%Y-%m-%d %H:%M %Q")).unwrap().unwrap();
        assert_eq!((zoned, zoned.offset_seconds), (unix(1_709_294_400), 3600));
    }

    #[test]
    fn patterns_in_zones() {
        let pattern = "%Y-%m-%d %H:%M";
        let paris = parse_datetime_in("2024-03-01 13:00", pattern, "Europe/Paris").unwrap().unwrap();
        assert_eq!((paris, paris.offset_seconds), (unix(1_709_294_400), 3600));
        // Skipped when clocks go forward.
        assert_eq!(parse_datetime_in("2024-03-31 02:30", pattern, "Europe/Paris"), Ok(None));
        // Twice when clocks go back: the earlier instant (still summer time).
        let fold = parse_datetime_in("2024-10-27 02:30", pattern, "Europe/Paris").unwrap().unwrap();
        assert_eq!((fold, fold.offset_seconds), (unix(1_729_989_000), 7200));
        assert_eq!(parse_datetime_in("2024-03-01 13:00", pattern, "Mars/Olympus"), Ok(None));
        assert_eq!(parse_datetime_in("2024-03-01 13:00", pattern, ""), Ok(None));
        assert_eq!(parse_datetime_in("nonsense", pattern, "Europe/Paris"), Ok(None));
        assert_eq!(parse_datetime_in("2024-03-01 12:00", pattern, "UTC"), Ok(Some(unix(1_709_294_400))));
        assert!(parse_datetime_in("x", "%", "UTC").is_err());
        // A written offset decides the instant; it is shown in the zone.
        let written = parse_datetime_in("2024-03-01 12:00 +0000", "%Y-%m-%d %H:%M %z", "Europe/Paris").unwrap();
        assert_eq!(written.map(|t| (t.seconds, t.offset_seconds)), Some((1_709_294_400, 3600)));
    }

    #[test]
    fn dates_from_text() {
        assert_eq!(parse_date("2024-03-01", None), Ok(Some(ymd(2024, 3, 1))));
        assert_eq!(parse_date(" 2024-03-01\n", None), Ok(Some(ymd(2024, 3, 1))));
        assert_eq!(parse_date("03/01/2024", Some("%m/%d/%Y")), Ok(Some(ymd(2024, 3, 1))));
        assert_eq!(parse_date("2024-02-30", None), Ok(None));
        assert_eq!(parse_date("2024-3-1", None), Ok(None));
        assert_eq!(parse_date("2024-03-01T00:00:00Z", None), Ok(None));
        assert_eq!(parse_date("", None), Ok(None));
        assert_eq!(parse_date("13/01/2024", Some("%m/%d/%Y")), Ok(None));
        assert!(parse_date("x", Some("%Q%")).is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(format_datetime(unix(1_709_294_400), "%Y-%m-%d %H:%M").unwrap(), "2024-03-01 12:00");
        assert_eq!(format_datetime(unix(0), "%d %b %Y").unwrap(), "01 Jan 1970");
        let paris = in_zone(unix(1_709_294_400), "Europe/Paris").unwrap();
        assert_eq!(format_datetime(paris, "%H:%M %:z").unwrap(), "13:00 +01:00");
        assert_eq!(format_datetime(paris, "%z").unwrap(), "+0100");
        assert_eq!(format_datetime(unix(0), "%s").unwrap(), "0");
        assert!(format_datetime(paris, "%Z").is_ok());
        assert!(matches!(format_datetime(unix(0), "%"), Err(EvalError::Native { function: "format_datetime", .. })));
        assert!(format_datetime(unix(0), "%J").is_err());
        assert_eq!(format_datetime(unix(0), "").unwrap(), "");
        assert_eq!(format_date(ymd(2024, 3, 1), "%d.%m.%Y").unwrap(), "01.03.2024");
        assert_eq!(format_date(ymd(2024, 3, 1), "%A %-d %B").unwrap(), "Friday 1 March");
        assert!(matches!(format_date(ymd(2024, 3, 1), "%H"), Err(EvalError::Native { function: "format_date", .. })));
        assert!(format_date(ymd(2024, 3, 1), "%z").is_err());
    }

    #[test]
    fn unix_times() {
        assert_eq!(unix(0), datetime(1970, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(from_unix_ms(1_709_294_400_000).unwrap(), unix(1_709_294_400));
        assert_eq!(to_unix_ms(from_unix_ms(1_709_294_400_123).unwrap()), Ok(1_709_294_400_123));
        assert_eq!(to_unix(unix(1_709_294_400)), 1_709_294_400);
        assert_eq!(to_unix(from_unix_ms(-1).unwrap()), -1);
        assert_eq!(to_unix_ms(from_unix_ms(-1).unwrap()), Ok(-1));
        assert_eq!(to_unix_ms(unix(1)), Ok(1000));
        assert!(matches!(from_unix(i64::MAX), Err(EvalError::Native { function: "from_unix", .. })));
        assert!(from_unix(i64::MIN).is_err());
        assert!(from_unix_ms(i64::MAX).is_err());
        let corrupt = DateTime { seconds: i64::MAX, nanos: 0, offset_seconds: 0 };
        assert_eq!(to_unix_ms(corrupt), Err(EvalError::Overflow("to_unix_ms")));
    }

    #[test]
    fn zones_and_dates() {
        let t = unix(1_709_294_400);
        let paris = in_zone(t, "Europe/Paris").unwrap();
        assert_eq!(paris, t);
        assert_eq!(paris.offset_seconds, 3600);
        assert_eq!(in_zone(unix(0), "Mars/Olympus"), None);
        assert_eq!(in_zone(t, "UTC").map(|t| t.offset_seconds), Some(0));
        assert_eq!(to_date(t), ymd(2024, 3, 1));
        let tokyo = in_zone(unix(1_709_254_800), "Asia/Tokyo").unwrap();
        assert_eq!(to_date(tokyo), ymd(2024, 3, 1));
        let new_york = in_zone(unix(1_709_254_800), "America/New_York").unwrap();
        assert_eq!(to_date(new_york), ymd(2024, 2, 29));
        assert_eq!(local_date(unix(1_709_254_800), "America/Los_Angeles"), Some(ymd(2024, 2, 29)));
        assert_eq!(local_date(unix(1_709_254_800), "UTC"), Some(ymd(2024, 3, 1)));
        assert_eq!(local_date(unix(0), "Nowhere/Else"), None);
        assert_eq!(start_of_day(ymd(2024, 3, 1)), Ok(datetime(2024, 3, 1, 0, 0, 0).unwrap()));
        assert!(start_of_day(Date::MIN).is_err());
        assert!(start_of_day(Date::MAX).is_err());
        let d = to_date(t);
        assert_eq!((year(d), month(d), day(d), weekday(d)), (2024, 3, 1, 5));
        assert_eq!(weekday(ymd(2024, 3, 3)), 7);
        assert_eq!(weekday(ymd(2024, 3, 4)), 1);
    }

    #[test]
    fn calendar_arithmetic() {
        assert_eq!(add_months(ymd(2024, 1, 31), 1), Ok(ymd(2024, 2, 29)));
        assert_eq!(add_months(ymd(2024, 3, 15), -3), Ok(ymd(2023, 12, 15)));
        assert_eq!(add_months(ymd(2023, 1, 31), 1), Ok(ymd(2023, 2, 28)));
        assert_eq!(add_months(ymd(2024, 12, 31), 0), Ok(ymd(2024, 12, 31)));
        assert_eq!(add_months(ymd(2024, 5, 31), 13), Ok(ymd(2025, 6, 30)));
        assert_eq!(add_months(ymd(2024, 1, 1), -25), Ok(ymd(2021, 12, 1)));
        assert_eq!(add_months(ymd(9999, 12, 1), 1), Err(EvalError::Overflow("add_months")));
        assert_eq!(add_months(ymd(2024, 1, 1), i64::MAX), Err(EvalError::Overflow("add_months")));
        assert_eq!(add_months(ymd(2024, 1, 1), i64::MIN), Err(EvalError::Overflow("add_months")));
        assert_eq!(days_between(to_date(unix(0)), to_date(unix(86_400 * 31))), 31);
        assert_eq!(days_between(to_date(unix(86_400)), to_date(unix(0))), -1);
        assert_eq!(days_between(ymd(2024, 3, 1), ymd(2024, 3, 1)), 0);
        assert_eq!(days_between(ymd(2023, 3, 1), ymd(2024, 3, 1)), 366);
        assert_eq!(days_between(Date::MIN, Date::MAX), 7_304_483);
        assert_eq!(epoch_day(ymd(1970, 1, 1)), 0);
        assert_eq!(epoch_day(ymd(2000, 3, 1)), 11_017);
        assert_eq!(epoch_day(ymd(1969, 12, 31)), -1);
    }

    #[test]
    fn durations() {
        assert_eq!(seconds(90), Ok(Duration { millis: 90_000 }));
        assert_eq!(seconds(-5), Ok(Duration { millis: -5000 }));
        assert_eq!(seconds(i64::MAX), Err(EvalError::Overflow("seconds")));
        assert_eq!(total_seconds(Duration { millis: 120_000 }), 120);
        assert_eq!(total_seconds(Duration { millis: 1999 }), 1);
        assert_eq!(total_seconds(Duration { millis: -1999 }), -1);
        assert_eq!(total_seconds(Duration { millis: i64::MIN }), i64::MIN / 1000);
    }

    #[test]
    fn adapters() {
        assert_eq!(call("now", &[]).unwrap(), Value::DateTime(unix(1_709_294_400)));
        assert_eq!(call("today", &[]).unwrap(), Value::Date(ymd(2024, 3, 1)));
        let args = [2024, 3, 1, 12, 0, 0].map(Value::Int);
        assert_eq!(call("datetime", &args).unwrap(), Value::DateTime(unix(1_709_294_400)));
        assert_eq!(call("date", &[2023, 2, 29].map(Value::Int)).unwrap(), Value::None);
        assert_eq!(call("parse_datetime", &[s("yesterday"), Value::None]).unwrap(), Value::None);
        assert_eq!(
            call("parse_datetime", &[s("01/03/2024 12:00"), s("%d/%m/%Y %H:%M")]).unwrap(),
            Value::DateTime(unix(1_709_294_400))
        );
        assert_eq!(call("parse_date", &[s("2024-02-29"), Value::None]).unwrap(), Value::Date(ymd(2024, 2, 29)));
        let paris = call("in_zone", &[Value::DateTime(unix(1_709_294_400)), s("Europe/Paris")]).unwrap();
        assert_eq!(call("format_datetime", &[paris, s("%H:%M %:z")]).unwrap(), s("13:00 +01:00"));
        assert_eq!(call("to_unix", &[Value::DateTime(unix(7))]).unwrap(), Value::Int(7));
        assert_eq!(call("seconds", &[Value::Int(90)]).unwrap(), Value::Duration(Duration { millis: 90_000 }));
        assert_eq!(call("total_seconds", &[Value::Duration(Duration { millis: 120_000 })]).unwrap(), Value::Int(120));
        let jan31 = Value::Date(ymd(2024, 1, 31));
        assert_eq!(call("add_months", &[jan31, Value::Int(1)]).unwrap(), Value::Date(ymd(2024, 2, 29)));
    }
}
