//! Text: the string natives of the prelude, regular expressions, email and
//! phone normalisation, `format_decimal`, `string` and `join`.
//!
//! Positions and lengths count characters (Unicode scalar values), never
//! bytes; whitespace is Unicode White_Space.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;
use rust_decimal::{Decimal, RoundingStrategy};

use super::fold_table::{DROPPED, EXPANDED, SHIFTED};
use super::{Native, count_to_int, native_table, optional};
use crate::error::EvalError;
use crate::types::Schema;
use crate::value::Value;

/// The number of characters in `s`.
pub fn char_count(s: &str) -> i64 {
    count_to_int(s.chars().count())
}

/// `s` trimmed, or none when it is none, empty or only whitespace.
pub fn nonblank(s: Option<&str>) -> Option<String> {
    let trimmed = s?.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

pub fn trim(s: &str) -> String {
    s.trim().to_owned()
}

pub fn trim_start(s: &str) -> String {
    s.trim_start().to_owned()
}

pub fn trim_end(s: &str) -> String {
    s.trim_end().to_owned()
}

/// Lower case by the Unicode default case mapping.
pub fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// Upper case by the Unicode default case mapping (`ß` becomes `SS`).
pub fn upper(s: &str) -> String {
    s.to_uppercase()
}

/// A letter at the start or after a character that is neither a letter nor
/// a digit is upper-cased, every other letter lower-cased.
pub fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if c.is_alphabetic() {
            if in_word {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
        } else {
            out.push(c);
        }
        in_word = c.is_alphanumeric();
    }
    out
}

/// `s` with diacritics removed (see `fold_table` for the exact mapping).
pub fn ascii_fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        fold_char(c, &mut out);
    }
    out
}

fn fold_char(c: char, out: &mut String) {
    let code = u32::from(c);
    if code < 0x80 {
        out.push(c);
        return;
    }
    let in_range = |first: u32, last: u32| {
        if last < code {
            std::cmp::Ordering::Less
        } else if first > code {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    };
    if DROPPED.binary_search_by(|&(first, last)| in_range(first, last)).is_ok() {
        return;
    }
    if let Ok(index) = SHIFTED.binary_search_by(|&(first, last, _)| in_range(first, last)) {
        let folded =
            SHIFTED.get(index).and_then(|&(_, _, offset)| code.checked_add_signed(offset)).and_then(char::from_u32);
        out.push(folded.unwrap_or(c));
        return;
    }
    match EXPANDED.binary_search_by_key(&code, |&(from, _)| from).ok().and_then(|index| EXPANDED.get(index)) {
        Some((_, folded)) => out.push_str(folded),
        None => out.push(c),
    }
}

/// A URL slug: folded, lower-cased, runs of other characters than `a`–`z`
/// and `0`–`9` as one `-`, no leading or trailing `-`.
pub fn slugify(s: &str) -> String {
    let folded = ascii_fold(s).to_lowercase();
    let mut out = String::with_capacity(folded.len());
    let mut separated = false;
    for c in folded.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if separated && !out.is_empty() {
                out.push('-');
            }
            separated = false;
            out.push(c);
        } else {
            separated = true;
        }
    }
    out
}

/// `s` trimmed, each inner run of whitespace one space.
pub fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn contains_text(s: &str, needle: &str) -> bool {
    s.contains(needle)
}

pub fn starts_with(s: &str, prefix: &str) -> bool {
    s.starts_with(prefix)
}

pub fn ends_with(s: &str, suffix: &str) -> bool {
    s.ends_with(suffix)
}

/// Every non-overlapping `from` replaced by `to`; an empty `from` changes nothing.
pub fn replace(s: &str, from: &str, to: &str) -> String {
    if from.is_empty() { s.to_owned() } else { s.replace(from, to) }
}

pub fn remove_prefix(s: &str, prefix: &str) -> String {
    s.strip_prefix(prefix).unwrap_or(s).to_owned()
}

/// The pieces between separators; `[]` for `""`, `[s]` for an empty separator.
pub fn split(s: &str, separator: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else if separator.is_empty() {
        vec![s.to_owned()]
    } else {
        s.split(separator).map(str::to_owned).collect()
    }
}

/// Characters `start..end` (clamped; `""` when `end <= start`).
pub fn substring(s: &str, start: i64, end: Option<i64>) -> String {
    let count = char_count(s);
    let start = start.clamp(0, count);
    let end = end.unwrap_or(count).clamp(0, count);
    if end <= start {
        return String::new();
    }
    let skip = usize::try_from(start).unwrap_or(usize::MAX);
    let take = usize::try_from(end - start).unwrap_or(0);
    s.chars().skip(skip).take(take).collect()
}

/// `s` cut to `max_chars` characters, `suffix` included when it fits.
pub fn truncate(s: &str, max_chars: i64, suffix: &str) -> String {
    let max = usize::try_from(max_chars.max(0)).unwrap_or(usize::MAX);
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let suffix_count = suffix.chars().count();
    if max < suffix_count {
        return s.chars().take(max).collect();
    }
    let mut out: String = s.chars().take(max - suffix_count).collect();
    out.push_str(suffix);
    out
}

/// The longest result `pad_left` and `pad_right` build, in characters.
pub const MAX_PAD_WIDTH: i64 = 1_000_000;

/// The padding that brings `s` to `width` characters, or none when `s` is
/// already that long or `fill` is empty.
fn padding(function: &'static str, s: &str, width: i64, fill: &str) -> Result<Option<String>, EvalError> {
    let count = char_count(s);
    if count >= width || fill.is_empty() {
        return Ok(None);
    }
    if width > MAX_PAD_WIDTH {
        return Err(EvalError::Native {
            function,
            message: format!("cannot pad to {width} characters (at most {MAX_PAD_WIDTH})"),
        });
    }
    let needed = usize::try_from(width - count).unwrap_or(0);
    Ok(Some(fill.chars().cycle().take(needed).collect()))
}

/// `s` padded on the left with `fill` to `width` characters.
pub fn pad_left(s: &str, width: i64, fill: &str) -> Result<String, EvalError> {
    Ok(match padding("pad_left", s, width, fill)? {
        Some(mut padded) => {
            padded.push_str(s);
            padded
        }
        None => s.to_owned(),
    })
}

/// `s` padded on the right with `fill` to `width` characters.
pub fn pad_right(s: &str, width: i64, fill: &str) -> Result<String, EvalError> {
    Ok(match padding("pad_right", s, width, fill)? {
        Some(padded) => format!("{s}{padded}"),
        None => s.to_owned(),
    })
}

/// The compiled `pattern`, from a small cache: programs use a handful of
/// literal patterns, called once per record.
fn regex(function: &'static str, pattern: &str) -> Result<Arc<Regex>, EvalError> {
    const CAPACITY: usize = 128;
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(regex) = cache.lock().ok().and_then(|cache| cache.get(pattern).cloned()) {
        return Ok(regex);
    }
    let regex = Regex::new(pattern).map(Arc::new).map_err(|error| EvalError::Native {
        function,
        message: format!("invalid regular expression {pattern:?}: {error}"),
    })?;
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), Arc::clone(&regex));
    }
    Ok(regex)
}

/// True when `pattern` matches anywhere in `s`; an invalid pattern is an error.
pub fn matches(s: &str, pattern: &str) -> Result<bool, EvalError> {
    Ok(regex("matches", pattern)?.is_match(s))
}

/// Capture group 1 of the first match (when the pattern has groups), or the
/// whole first match.
pub fn regex_find(s: &str, pattern: &str) -> Result<Option<String>, EvalError> {
    let regex = regex("regex_find", pattern)?;
    if regex.captures_len() > 1 {
        Ok(regex.captures(s).and_then(|captures| captures.get(1)).map(|group| group.as_str().to_owned()))
    } else {
        Ok(regex.find(s).map(|found| found.as_str().to_owned()))
    }
}

/// Every match replaced; `$1`, `${1}`, `${name}` and `$$` in `replacement`.
pub fn regex_replace(s: &str, pattern: &str, replacement: &str) -> Result<String, EvalError> {
    Ok(regex("regex_replace", pattern)?.replace_all(s, replacement).into_owned())
}

/// The ASCII digits of `s`.
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// One `@`, a non-empty local part, at least two non-empty domain labels, no whitespace.
pub fn is_email(s: &str) -> bool {
    if s.chars().any(char::is_whitespace) {
        return false;
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty() && domain.split('.').count() >= 2 && domain.split('.').all(|label| !label.is_empty())
}

/// The lower-cased text after the last `@`.
pub fn email_domain(s: &str) -> Option<String> {
    let (_, domain) = s.rsplit_once('@')?;
    (!domain.is_empty()).then(|| domain.to_lowercase())
}

/// A phone number in E.164 form, best effort (see the doc comment).
pub fn to_e164(s: &str, country_code: &str) -> Option<String> {
    let all = digits(s);
    let country = digits(country_code);
    let number = if s.trim_start().starts_with('+') {
        all
    } else if let Some(international) = all.strip_prefix("00") {
        international.to_owned()
    } else if all.len() > 10 && all.starts_with(&country) {
        all
    } else {
        let national = all.strip_prefix('0').unwrap_or(&all);
        format!("{country}{national}")
    };
    (8..=15).contains(&number.len()).then(|| format!("+{number}"))
}

/// `s` with a backslash before each Markdown control character.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '(' | ')' | '#' | '>' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `d` rounded half away from zero to `places` decimals (0 to 28) and written
/// with exactly that many, `thousands` between groups of integer digits.
pub fn format_decimal(d: Decimal, places: i64, thousands: &str, point: &str) -> String {
    let places = u32::try_from(places.clamp(0, 28)).unwrap_or(0);
    let rounded = d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    let scale = usize::try_from(rounded.scale()).unwrap_or(0);
    let mut digits = rounded.mantissa().unsigned_abs().to_string();
    if digits.len() <= scale {
        digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
    }
    let (integer, fraction) = digits.split_at_checked(digits.len() - scale).unwrap_or((&digits, ""));
    let mut out = String::with_capacity(digits.len() + 8);
    if rounded.is_sign_negative() && !rounded.is_zero() {
        out.push('-');
    }
    for (index, digit) in integer.chars().enumerate() {
        if index > 0 && (integer.len() - index) % 3 == 0 {
            out.push_str(thousands);
        }
        out.push(digit);
    }
    if places > 0 {
        out.push_str(point);
        out.push_str(fraction);
        for _ in scale..places as usize {
            out.push('0');
        }
    }
    out
}

/// `value` as text, as interpolation writes it; Json, lists, maps and records
/// as compact JSON; none as `""`.
pub fn string(value: &Value, schema: &Schema) -> Result<String, EvalError> {
    match value {
        Value::None => Ok(String::new()),
        Value::List(_) | Value::Map(_) | Value::Record(_) | Value::Json(_) => {
            super::encoding::json_encode(value, schema)
        }
        Value::Function(_) => {
            Err(EvalError::Native { function: "string", message: "a function has no text form".to_owned() })
        }
        _ => Ok(crate::encode::text(value, schema)),
    }
}

/// `string(x)` of a typed list, map or record (optional or not) in wire
/// format `F` (generated code): its compact JSON, as [`string`] writes it;
/// none gives `""`.
pub fn string_as_json<F: crate::wire::Format>(value: &F::Value) -> Result<String, EvalError> {
    let text = super::encoding::json_encode_as::<F>(value)?;
    // Only none encodes as `null`: lists, maps and records never do.
    Ok(if text == "null" { String::new() } else { text })
}

/// The strings with `separator` between them.
pub fn join<S: AsRef<str>>(items: &[S], separator: &str) -> String {
    let mut out = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(separator);
        }
        out.push_str(item.as_ref());
    }
    out
}

pub(super) const NATIVES: &[Native] = native_table! {
    "char_count" / 1 => |_, a| Ok(Value::Int(char_count(a.string(0)?)));
    "nonblank" / 1 => |_, a| Ok(optional(nonblank(a.opt_string(0)?), Value::string));
    "trim" / 1 => |_, a| Ok(Value::string(trim(a.string(0)?)));
    "trim_start" / 1 => |_, a| Ok(Value::string(trim_start(a.string(0)?)));
    "trim_end" / 1 => |_, a| Ok(Value::string(trim_end(a.string(0)?)));
    "lower" / 1 => |_, a| Ok(Value::string(lower(a.string(0)?)));
    "upper" / 1 => |_, a| Ok(Value::string(upper(a.string(0)?)));
    "title_case" / 1 => |_, a| Ok(Value::string(title_case(a.string(0)?)));
    "ascii_fold" / 1 => |_, a| Ok(Value::string(ascii_fold(a.string(0)?)));
    "slugify" / 1 => |_, a| Ok(Value::string(slugify(a.string(0)?)));
    "collapse_whitespace" / 1 => |_, a| Ok(Value::string(collapse_whitespace(a.string(0)?)));
    "contains_text" / 2 => |_, a| Ok(Value::Bool(contains_text(a.string(0)?, a.string(1)?)));
    "starts_with" / 2 => |_, a| Ok(Value::Bool(starts_with(a.string(0)?, a.string(1)?)));
    "ends_with" / 2 => |_, a| Ok(Value::Bool(ends_with(a.string(0)?, a.string(1)?)));
    "replace" / 3 => |_, a| Ok(Value::string(replace(a.string(0)?, a.string(1)?, a.string(2)?)));
    "remove_prefix" / 2 => |_, a| Ok(Value::string(remove_prefix(a.string(0)?, a.string(1)?)));
    "split" / 2 => |_, a| {
        Ok(Value::list(split(a.string(0)?, a.string(1)?).into_iter().map(Value::string).collect()))
    };
    "substring" / 3 => |_, a| Ok(Value::string(substring(a.string(0)?, a.int(1)?, a.opt_int(2)?)));
    "truncate" / 3 => |_, a| Ok(Value::string(truncate(a.string(0)?, a.int(1)?, a.string(2)?)));
    "pad_left" / 3 => |_, a| Ok(Value::string(pad_left(a.string(0)?, a.int(1)?, a.string(2)?)?));
    "pad_right" / 3 => |_, a| Ok(Value::string(pad_right(a.string(0)?, a.int(1)?, a.string(2)?)?));
    "matches" / 2 => |_, a| Ok(Value::Bool(matches(a.string(0)?, a.string(1)?)?));
    "regex_find" / 2 => |_, a| Ok(optional(regex_find(a.string(0)?, a.string(1)?)?, Value::string));
    "regex_replace" / 3 => |_, a| Ok(Value::string(regex_replace(a.string(0)?, a.string(1)?, a.string(2)?)?));
    "digits" / 1 => |_, a| Ok(Value::string(digits(a.string(0)?)));
    "is_email" / 1 => |_, a| Ok(Value::Bool(is_email(a.string(0)?)));
    "email_domain" / 1 => |_, a| Ok(optional(email_domain(a.string(0)?), Value::string));
    "to_e164" / 2 => |_, a| Ok(optional(to_e164(a.string(0)?, a.string(1)?), Value::string));
    "escape_markdown" / 1 => |_, a| Ok(Value::string(escape_markdown(a.string(0)?)));
    "format_decimal" / 4 => |_, a| {
        Ok(Value::string(format_decimal(a.decimal(0)?, a.int(1)?, a.string(2)?, a.string(3)?)))
    };
    "string" / 1 => |context, a| Ok(Value::string(string(a.get(0), context.schema)?));
    "join" / 2 => |context, a| {
        let items = a.list(0)?;
        let texts: Vec<String> = items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.to_string(),
                other => crate::encode::text(other, context.schema),
            })
            .collect();
        Ok(Value::string(join(&texts, a.string(1)?)))
    };
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn counting_and_blanks() {
        assert_eq!(char_count("héllo"), 5);
        assert_eq!(char_count(""), 0);
        assert_eq!(char_count("👍🏽"), 2);
        assert_eq!(nonblank(Some("  Ana ")).as_deref(), Some("Ana"));
        assert_eq!(nonblank(Some("   ")), None);
        assert_eq!(nonblank(Some("")), None);
        assert_eq!(nonblank(None), None);
        assert_eq!(nonblank(Some("\u{a0}x\u{2003}")).as_deref(), Some("x"));
    }

    #[test]
    fn trimming_and_case() {
        assert_eq!(trim("  a b  "), "a b");
        assert_eq!(trim("\n\t"), "");
        assert_eq!(trim(""), "");
        assert_eq!(trim("\u{a0}a\u{a0}"), "a");
        assert_eq!(trim_start("  a "), "a ");
        assert_eq!(trim_end("  a "), "  a");
        assert_eq!(lower("ÀBc"), "àbc");
        assert_eq!(upper("straße"), "STRASSE");
        assert_eq!(lower(""), "");
        assert_eq!(title_case("ANNA-LENA o'brien"), "Anna-Lena O'Brien");
        assert_eq!(title_case("3rd street"), "3rd Street");
        assert_eq!(title_case("it's"), "It'S");
        assert_eq!(title_case("élodie DUPONT"), "Élodie Dupont");
        assert_eq!(title_case(""), "");
        assert_eq!(title_case("  "), "  ");
    }

    #[test]
    fn folding_and_slugs() {
        assert_eq!(ascii_fold("Crème Brûlée"), "Creme Brulee");
        assert_eq!(ascii_fold("Łódź Straße"), "Lodz Strasse");
        assert_eq!(ascii_fold("Æsir Øre Œuvre Đuro Þór"), "AEsir Ore OEuvre Duro Thor");
        assert_eq!(ascii_fold("ǽ ǿ"), "ae o");
        // Compatibility forms: ligatures, full-width letters, superscripts.
        assert_eq!(ascii_fold("ﬁne Ｆｕｌｌ x²"), "fine Full x2");
        // Combining marks already separate are dropped too.
        assert_eq!(ascii_fold("e\u{301}"), "e");
        // Other characters are kept.
        assert_eq!(ascii_fold("日本 Привет 한국"), "日本 Привет 한국");
        assert_eq!(ascii_fold("Ёлка"), "Елка");
        assert_eq!(ascii_fold(""), "");
        assert_eq!(slugify("Crème Brûlée: 2 for 1!"), "creme-brulee-2-for-1");
        assert_eq!(slugify("  --  "), "");
        assert_eq!(slugify(""), "");
        assert_eq!(slugify("Hello, World"), "hello-world");
        assert_eq!(slugify("--a--b--"), "a-b");
        assert_eq!(slugify("日本"), "");
        assert_eq!(collapse_whitespace("  a \t b\n c  "), "a b c");
        assert_eq!(collapse_whitespace(""), "");
        assert_eq!(collapse_whitespace(" \u{a0} "), "");
    }

    #[test]
    fn fold_table_is_sorted() {
        assert!(DROPPED.windows(2).all(|pair| pair[0].1 < pair[1].0));
        assert!(DROPPED.iter().all(|(first, last)| first <= last));
        assert!(SHIFTED.windows(2).all(|pair| pair[0].1 < pair[1].0));
        assert!(EXPANDED.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn searching_and_replacing() {
        assert!(contains_text("Hello", "ell"));
        assert!(!contains_text("Hello", "ELL"));
        assert!(contains_text("", ""));
        assert!(starts_with("INV-001", "INV-"));
        assert!(!starts_with("inv-001", "INV-"));
        assert!(starts_with("x", ""));
        assert!(ends_with("report.csv", ".csv"));
        assert!(ends_with("", ""));
        assert_eq!(replace("a-b-c", "-", "+"), "a+b+c");
        assert_eq!(replace("abc", "", "x"), "abc");
        assert_eq!(replace("aaa", "aa", "b"), "ba");
        assert_eq!(remove_prefix("gid://shop/Order/42", "gid://shop/Order/"), "42");
        assert_eq!(remove_prefix("42", "#"), "42");
        assert_eq!(remove_prefix("42", ""), "42");
    }

    #[test]
    fn splitting_and_cutting() {
        assert_eq!(split("a,b,,c", ","), ["a", "b", "", "c"]);
        assert!(split("", ",").is_empty());
        assert_eq!(split("abc", ""), ["abc"]);
        assert_eq!(split(",", ","), ["", ""]);
        assert_eq!(split("a::b", "::"), ["a", "b"]);
        assert_eq!(substring("hello", 1, Some(3)), "el");
        assert_eq!(substring("hello", 2, None), "llo");
        assert_eq!(substring("hello", 3, Some(99)), "lo");
        assert_eq!(substring("hello", 4, Some(2)), "");
        assert_eq!(substring("hello", -5, Some(2)), "he");
        assert_eq!(substring("héllo", 1, Some(2)), "é");
        assert_eq!(substring("", 0, None), "");
        assert_eq!(substring("abc", i64::MIN, Some(i64::MAX)), "abc");
        assert_eq!(truncate("Hello world", 8, "..."), "Hello...");
        assert_eq!(truncate("Hi", 8, "..."), "Hi");
        assert_eq!(truncate("Hello", 2, "..."), "He");
        assert_eq!(truncate("Hello", 3, "..."), "...");
        assert_eq!(truncate("Hello", -1, "..."), "");
        assert_eq!(truncate("Hello", 4, ""), "Hell");
        assert_eq!(truncate("Hello", 5, "..."), "Hello");
        assert_eq!(truncate("héllo wörld", 6, "…"), "héllo…");
    }

    #[test]
    fn padding() {
        assert_eq!(pad_left("7", 3, "0").unwrap(), "007");
        assert_eq!(pad_left("abcd", 2, " ").unwrap(), "abcd");
        assert_eq!(pad_left("5", 4, "ab").unwrap(), "aba5");
        assert_eq!(pad_left("5", 4, "").unwrap(), "5");
        assert_eq!(pad_left("é", 3, "·").unwrap(), "··é");
        assert_eq!(pad_right("ab", 4, " ").unwrap(), "ab  ");
        assert_eq!(pad_right("ab", 5, "xy").unwrap(), "abxyx");
        assert_eq!(pad_right("ab", -3, "xy").unwrap(), "ab");
        assert!(matches!(pad_left("x", i64::MAX, " "), Err(EvalError::Native { function: "pad_left", .. })));
        assert!(matches!(pad_right("x", MAX_PAD_WIDTH + 1, " "), Err(EvalError::Native { function: "pad_right", .. })));
        assert_eq!(pad_right("x", MAX_PAD_WIDTH, " ").unwrap().len(), 1_000_000);
        // A long string needs no padding, whatever the width limit.
        assert_eq!(pad_left("abc", 2, "").unwrap(), "abc");
    }

    #[test]
    fn regular_expressions() {
        assert!(matches("INV-2024-001", r"^INV-\d{4}-\d+$").unwrap());
        assert!(!matches("inv-1", "^INV-").unwrap());
        assert!(matches("", "").unwrap());
        assert_eq!(regex_find("Order #1001 shipped", r"#(\d+)").unwrap().as_deref(), Some("1001"));
        assert_eq!(regex_find("no number", r"\d+").unwrap(), None);
        assert_eq!(regex_find("abc 42", r"\d+").unwrap().as_deref(), Some("42"));
        // A group that did not take part gives none.
        assert_eq!(regex_find("b", "(a)?b").unwrap(), None);
        assert_eq!(regex_replace("2024-03-01", r"(\d+)-(\d+)-(\d+)", "$3.$2.$1").unwrap(), "01.03.2024");
        assert_eq!(regex_replace("a1b22", r"\d+", "#").unwrap(), "a#b#");
        assert_eq!(regex_replace("ab", "(?P<x>a)", "${x}$$").unwrap(), "a$b");
        assert_eq!(regex_replace("ab", "(a)", "${1}z").unwrap(), "azb");
        for result in
            [matches("x", "("), regex_find("x", "[").map(|_| true), regex_replace("x", "a{2,1}", "").map(|_| true)]
        {
            assert!(matches!(result, Err(EvalError::Native { .. })), "{result:?}");
        }
        // Look-around is not supported: an invalid pattern.
        assert!(matches("x", "(?=x)").is_err());
    }

    #[test]
    fn emails_and_phones() {
        assert_eq!(digits("+1 (415) 555-0132"), "14155550132");
        assert_eq!(digits("n/a"), "");
        assert_eq!(digits("٣"), "");
        assert!(is_email("ana@example.com"));
        assert!(!is_email("ana@localhost"));
        assert!(!is_email("ana lima@example.com"));
        assert!(!is_email("a@b@example.com"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("ana@example..com"));
        assert!(!is_email("ana@.com"));
        assert!(!is_email("ana@example.com."));
        assert!(!is_email(""));
        assert!(!is_email(" ana@example.com"));
        assert_eq!(email_domain("Ana@Example.com").as_deref(), Some("example.com"));
        assert_eq!(email_domain("ana"), None);
        assert_eq!(email_domain("ana@"), None);
        assert_eq!(email_domain("a@b@C.org").as_deref(), Some("c.org"));
        assert_eq!(to_e164("(415) 555-0132", "1").as_deref(), Some("+14155550132"));
        assert_eq!(to_e164("1-415-555-0132", "1").as_deref(), Some("+14155550132"));
        assert_eq!(to_e164("020 7946 0958", "44").as_deref(), Some("+442079460958"));
        assert_eq!(to_e164("+49 30 1234567", "1").as_deref(), Some("+49301234567"));
        assert_eq!(to_e164("0049 30 1234567", "1").as_deref(), Some("+49301234567"));
        assert_eq!(to_e164("12", "1"), None);
        assert_eq!(to_e164("", "1"), None);
        assert_eq!(to_e164("+", "1"), None);
        assert_eq!(to_e164("+1234567890123456", "1"), None);
        assert_eq!(to_e164("020 7946 0958", "+44").as_deref(), Some("+442079460958"));
        assert_eq!(escape_markdown("*a_b*"), "\\*a\\_b\\*");
        assert_eq!(escape_markdown("plain"), "plain");
        assert_eq!(escape_markdown(r"\`~[]()#>|"), r"\\\`\~\[\]\(\)\#\>\|");
    }

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn decimals_as_text() {
        assert_eq!(format_decimal(d("1234.5"), 2, "", "."), "1234.50");
        assert_eq!(format_decimal(d("1234567.891"), 2, ",", "."), "1,234,567.89");
        assert_eq!(format_decimal(d("-1234.5"), 0, ".", ","), "-1.235");
        assert_eq!(format_decimal(d("-0.004"), 2, "", "."), "0.00");
        assert_eq!(format_decimal(d("0.005"), 2, "", "."), "0.01");
        assert_eq!(format_decimal(d("-0.005"), 2, "", "."), "-0.01");
        assert_eq!(format_decimal(d("0"), 0, ",", "."), "0");
        assert_eq!(format_decimal(d("5"), -3, ",", "."), "5");
        assert_eq!(format_decimal(d("123"), 2, "'", ","), "123,00");
        assert_eq!(format_decimal(d("1234"), 1, " ", "."), "1 234.0");
        assert_eq!(format_decimal(d("100000"), 0, ",", "."), "100,000");
        assert_eq!(format_decimal(d("0.5"), 3, "", "."), "0.500");
        assert_eq!(format_decimal(d("1"), 40, "", ".").len(), 30);
        assert_eq!(format_decimal(Decimal::MAX, 2, ",", ".").len(), 38 + 3);
        assert_eq!(format_decimal(Decimal::MIN, 0, "", "."), "-79228162514264337593543950335");
    }

    #[test]
    fn joining() {
        assert_eq!(join(&["bug", "p1"], ", "), "bug, p1");
        assert_eq!(join(&["a", "b"], ""), "ab");
        assert_eq!(join::<&str>(&[], ","), "");
        assert_eq!(join(&["a"], ","), "a");
    }

    #[test]
    fn adapters() {
        assert_eq!(call("char_count", &[s("héllo")]).unwrap(), Value::Int(5));
        assert_eq!(call("nonblank", &[Value::None]).unwrap(), Value::None);
        assert_eq!(call("nonblank", &[s("  Ana ")]).unwrap(), s("Ana"));
        assert_eq!(call("split", &[s("a,b,,c"), s(",")]).unwrap(), strs(&["a", "b", "", "c"]));
        assert_eq!(call("split", &[s(""), s(",")]).unwrap(), strs(&[]));
        assert_eq!(call("substring", &[s("hello"), Value::Int(2), Value::None]).unwrap(), s("llo"));
        assert_eq!(call("substring", &[s("hello"), Value::Int(1), Value::Int(3)]).unwrap(), s("el"));
        assert_eq!(call("truncate", &[s("Hello world"), Value::Int(8), s("...")]).unwrap(), s("Hello..."));
        assert_eq!(call("pad_left", &[s("abcd"), Value::Int(2), s(" ")]).unwrap(), s("abcd"));
        assert_eq!(call("regex_find", &[s("no number"), s(r"\d+")]).unwrap(), Value::None);
        assert!(call("matches", &[s("x"), s("(")]).is_err());
        assert_eq!(call("to_e164", &[s("12"), s("1")]).unwrap(), Value::None);
        assert_eq!(call("email_domain", &[s("ana")]).unwrap(), Value::None);
        // Decimal parameters accept Ints.
        assert_eq!(call("format_decimal", &[Value::Int(7), Value::Int(2), s(""), s(".")]).unwrap(), s("7.00"));
        assert_eq!(call("format_decimal", &[dec("-0.004"), Value::Int(2), s(""), s(".")]).unwrap(), s("0.00"));
        assert_eq!(call("join", &[strs(&["bug", "p1"]), s(", ")]).unwrap(), s("bug, p1"));
        assert_eq!(call("join", &[strs(&[]), s(",")]).unwrap(), s(""));
        assert_eq!(call("string", &[Value::None]).unwrap(), s(""));
        assert!(call("string", &[Value::Function(0)]).is_err());
    }

    #[test]
    fn string_of_typed_data_is_its_json() {
        use crate::wire;
        let schema = Schema::default();
        let items = vec![1, 2];
        assert_eq!(string_as_json::<wire::List<wire::Int>>(&items).unwrap(), string(&ints(&[1, 2]), &schema).unwrap());
        let entries = vec![("k".to_owned(), "v".to_owned())];
        let map = Value::Map(Arc::new(vec![("k".into(), s("v"))]));
        assert_eq!(string_as_json::<wire::Map<wire::String>>(&entries).unwrap(), string(&map, &schema).unwrap());
        assert_eq!(string_as_json::<wire::Opt<wire::List<wire::Int>>>(&Some(items)).unwrap(), "[1,2]");
        assert_eq!(
            string_as_json::<wire::Opt<wire::List<wire::Int>>>(&None).unwrap(),
            string(&Value::None, &schema).unwrap()
        );
    }

    #[test]
    fn string_uses_the_text_form() {
        let schema = Schema::default();
        for value in [Value::Int(42), dec("12.50"), Value::Bool(true), s("x"), Value::Float(1.0)] {
            assert_eq!(string(&value, &schema).unwrap(), crate::encode::text(&value, &schema));
        }
        assert_eq!(string(&Value::None, &schema).unwrap(), "");
        // The examples of `string`.
        assert_eq!(string(&Value::Int(42), &schema).unwrap(), "42");
        assert_eq!(string(&dec("12.50"), &schema).unwrap(), "12.50");
        assert_eq!(string(&Value::Bool(true), &schema).unwrap(), "true");
        let instant = |seconds| Value::DateTime(crate::natives::dates::from_unix(seconds).unwrap());
        assert_eq!(string(&instant(1_709_294_400), &schema).unwrap(), "2024-03-01T12:00:00Z");
        assert_eq!(string(&instant(1_700_000_000), &schema).unwrap(), "2023-11-14T22:13:20Z");
        // Lists and Json as compact JSON.
        assert_eq!(string(&ints(&[1, 2]), &schema).unwrap(), "[1,2]");
        let json = Value::Json(Arc::new(serde_json::json!({"a": "b"})));
        assert_eq!(string(&json, &schema).unwrap(), r#"{"a":"b"}"#);
    }
}
