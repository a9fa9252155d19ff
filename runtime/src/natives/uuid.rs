//! `std/uuid`: generating and checking UUIDs (RFC 9562), as canonical
//! lowercase strings.

use ::uuid::{Builder, Uuid};

use super::{Clock, Native, native_table, optional};
use crate::value::Value;

fn canonical(uuid: Uuid) -> String {
    uuid.hyphenated().to_string()
}

/// A random (version 4) UUID, from the clock's random source.
pub fn uuid_v4(clock: &dyn Clock) -> String {
    let mut bytes = [0u8; 16];
    clock.fill_random(&mut bytes);
    canonical(Builder::from_random_bytes(bytes).into_uuid())
}

/// A time-ordered (version 7) UUID: the clock's Unix time in milliseconds,
/// then random bits (a clock before 1970 counts as 1970).
pub fn uuid_v7(clock: &dyn Clock) -> String {
    let now = clock.now();
    let millis = now.seconds.saturating_mul(1000).saturating_add(i64::from(now.nanos / 1_000_000));
    let mut bytes = [0u8; 10];
    clock.fill_random(&mut bytes);
    canonical(Builder::from_unix_timestamp_millis(u64::try_from(millis).unwrap_or(0), &bytes).into_uuid())
}

/// The name-based (version 5) UUID of `name` in `namespace` (any form
/// `parse_uuid` accepts); none when `namespace` is not a UUID.
pub fn uuid_v5(namespace: &str, name: &str) -> Option<String> {
    let namespace = parse(namespace)?;
    Some(canonical(Uuid::new_v5(&namespace, name.as_bytes())))
}

/// 36 characters: hex digits (either case) with hyphens after the 8th, 12th,
/// 16th and 20th digit.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

fn parse(s: &str) -> Option<Uuid> {
    let text = s.trim();
    let body = match text.get(..9) {
        Some(prefix) if prefix.eq_ignore_ascii_case("urn:uuid:") => text.get(9..)?,
        _ => text.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')).unwrap_or(text),
    };
    let simple = body.len() == 32 && body.bytes().all(|byte| byte.is_ascii_hexdigit());
    if !(simple || is_uuid(body)) {
        return None;
    }
    Uuid::try_parse(body).ok()
}

/// `s` as a canonical lowercase UUID.
pub fn parse_uuid(s: &str) -> Option<String> {
    parse(s).map(canonical)
}

pub(super) const NATIVES: &[Native] = native_table! {
    "uuid_v4" / 0 => |context, _a| Ok(Value::string(uuid_v4(context.clock)));
    "uuid_v7" / 0 => |context, _a| Ok(Value::string(uuid_v7(context.clock)));
    "uuid_v5" / 2 => |_, a| Ok(optional(uuid_v5(a.string(0)?, a.string(1)?), Value::string));
    "is_uuid" / 1 => |_, a| Ok(Value::Bool(is_uuid(a.string(0)?)));
    "parse_uuid" / 1 => |_, a| Ok(optional(parse_uuid(a.string(0)?), Value::string));
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{FixedClock, SeededClock, SystemClock};
    use super::*;
    use crate::value::DateTime;

    const DNS: &str = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
    const URL: &str = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

    #[test]
    fn random_uuids() {
        let a = uuid_v4(&SystemClock);
        assert!(is_uuid(&a));
        assert_eq!(a.chars().count(), 36);
        assert_eq!(a.get(14..15), Some("4"));
        assert_ne!(uuid_v4(&SystemClock), uuid_v4(&SystemClock));
        let epoch = DateTime { seconds: 0, nanos: 0, offset_seconds: 0 };
        assert_eq!(uuid_v4(&SeededClock::new(epoch, 1)), uuid_v4(&SeededClock::new(epoch, 1)));
        let seeded = SeededClock::new(epoch, 1);
        assert_ne!(uuid_v4(&seeded), uuid_v4(&seeded));
    }

    #[test]
    fn time_ordered_uuids() {
        let at = |seconds| FixedClock(DateTime { seconds, nanos: 0, offset_seconds: 0 });
        let earlier = uuid_v7(&at(1_709_294_400));
        let later = uuid_v7(&at(1_709_294_401));
        assert!(is_uuid(&earlier));
        assert_eq!(earlier.get(14..15), Some("7"));
        assert!(earlier < later);
        // The first 48 bits are the Unix time in milliseconds.
        assert_eq!(earlier.get(..13), Some("018df9e2-b200"));
        let before_1970 = uuid_v7(&at(-5));
        assert!(before_1970.starts_with("00000000-0000-7"));
    }

    #[test]
    fn name_based_uuids() {
        assert_eq!(uuid_v5(DNS, "example.com").as_deref(), Some("cfbff0d1-9375-5685-968c-48ce8b15ae17"));
        assert_eq!(uuid_v5(URL, "https://example.com/").as_deref(), Some("dd2c1780-811a-5296-81c5-178a0ef488bc"));
        assert_eq!(uuid_v5("not-a-uuid", "x"), None);
        assert_eq!(uuid_v5(&DNS.to_uppercase(), "example.com"), uuid_v5(DNS, "example.com"));
        assert_eq!(uuid_v5("{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", "example.com"), uuid_v5(DNS, "example.com"));
    }

    #[test]
    fn checking_and_parsing() {
        assert!(is_uuid("cfbff0d1-9375-5685-968c-48ce8b15ae17"));
        assert!(is_uuid("CFBFF0D1-9375-5685-968C-48CE8B15AE17"));
        assert!(!is_uuid("cfbff0d193755685968c48ce8b15ae17"));
        assert!(!is_uuid(""));
        assert!(!is_uuid("{cfbff0d1-9375-5685-968c-48ce8b15ae17}"));
        assert!(!is_uuid("cfbff0d1-9375-5685-968c-48ce8b15ae1g"));
        assert!(!is_uuid("cfbff0d1-9375-5685-968c-48ce8b15ae17 "));
        assert!(!is_uuid("cfbff0d1+9375-5685-968c-48ce8b15ae17"));
        let canonical = Some("cfbff0d1-9375-5685-968c-48ce8b15ae17");
        assert_eq!(parse_uuid("{CFBFF0D1-9375-5685-968C-48CE8B15AE17}").as_deref(), canonical);
        assert_eq!(parse_uuid("urn:uuid:cfbff0d193755685968c48ce8b15ae17").as_deref(), canonical);
        assert_eq!(parse_uuid("URN:UUID:cfbff0d1-9375-5685-968c-48ce8b15ae17").as_deref(), canonical);
        assert_eq!(parse_uuid("  cfbff0d1-9375-5685-968c-48ce8b15ae17\n").as_deref(), canonical);
        assert_eq!(parse_uuid("{cfbff0d193755685968c48ce8b15ae17}").as_deref(), canonical);
        assert_eq!(parse_uuid("cfbff0d1"), None);
        assert_eq!(parse_uuid(""), None);
        assert_eq!(parse_uuid("{cfbff0d1-9375-5685-968c-48ce8b15ae17"), None);
        assert_eq!(parse_uuid("cfbff0d1-9375-5685-968c48ce8b15ae17"), None);
        assert_eq!(parse_uuid("urn:uuid:"), None);
        assert_eq!(parse_uuid("ü"), None);
    }

    #[test]
    fn adapters() {
        let first = call("uuid_v4", &[]).unwrap();
        assert!(first.as_str().is_some_and(is_uuid));
        let v7 = call("uuid_v7", &[]).unwrap();
        // The test clock reads 2024-03-01T12:00:00Z: 1709294400000 ms.
        assert_eq!(v7.as_str().and_then(|text| text.get(..13)), Some("018df9e2-b200"));
        assert_eq!(call("uuid_v5", &[s("not-a-uuid"), s("x")]).unwrap(), Value::None);
        assert_eq!(call("is_uuid", &[s("")]).unwrap(), Value::Bool(false));
        assert_eq!(call("parse_uuid", &[s("cfbff0d1")]).unwrap(), Value::None);
    }
}
