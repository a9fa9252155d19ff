//! Round trips between the JSON encoder and decoder (§ 15), and properties of
//! both: decoding what was encoded gives back the same values — Decimal
//! scales, DateTime offsets and nanoseconds, Float bits, map order, enum
//! catch-alls included — and no input makes either panic.

use std::sync::Arc;

use integ_runtime::decode;
use integ_runtime::encode;
use integ_runtime::types::{
    DateTimeFormat, DurationFormat, EnumDesc, FieldDesc, NumberFormat, RecordDesc, Schema, TypeDesc, VariantDesc,
};
use integ_runtime::value::{DateTime, Duration, Str, Value};
use proptest::prelude::*;
use rust_decimal::Decimal;

// ====================================================================== the schema

const STATUS: u32 = 0;
const ITEM: u32 = 0;
const EVERYTHING: u32 = 1;
const PAGE: u32 = 2;

fn field(wire: &str, ty: TypeDesc) -> FieldDesc {
    FieldDesc { name: wire.replace([' ', '-'], "_"), wire: wire.to_owned(), ty, read: true }
}

fn opt(ty: TypeDesc) -> TypeDesc {
    TypeDesc::Optional(Box::new(ty))
}

fn list(ty: TypeDesc) -> TypeDesc {
    TypeDesc::List(Box::new(ty))
}

fn map(ty: TypeDesc) -> TypeDesc {
    TypeDesc::Map(Box::new(ty))
}

/// Field types of `Everything`, in order.
fn everything_types() -> Vec<(&'static str, TypeDesc)> {
    vec![
        ("int", TypeDesc::Int(NumberFormat::Number)),
        ("int as string", TypeDesc::Int(NumberFormat::String)),
        ("float", TypeDesc::Float(NumberFormat::Number)),
        ("float-string", TypeDesc::Float(NumberFormat::String)),
        ("decimal", TypeDesc::Decimal(NumberFormat::Number)),
        ("decimalString", TypeDesc::Decimal(NumberFormat::String)),
        ("bool", TypeDesc::Bool),
        ("text", TypeDesc::String),
        ("at", TypeDesc::DateTime(DateTimeFormat::Rfc3339)),
        ("at_unix", TypeDesc::DateTime(DateTimeFormat::Unix)),
        ("at_ms", TypeDesc::DateTime(DateTimeFormat::UnixMs)),
        ("at_mail", TypeDesc::DateTime(DateTimeFormat::Rfc2822)),
        ("day", TypeDesc::Date),
        ("wait", TypeDesc::Duration(DurationFormat::Iso8601)),
        ("wait_s", TypeDesc::Duration(DurationFormat::Seconds)),
        ("wait_ms", TypeDesc::Duration(DurationFormat::Milliseconds)),
        ("raw", TypeDesc::Json),
        ("maybe", opt(TypeDesc::Int(NumberFormat::Number))),
        ("item", opt(TypeDesc::Record(ITEM))),
        ("items", list(TypeDesc::Record(ITEM))),
        ("counts", map(opt(TypeDesc::Int(NumberFormat::Number)))),
        ("status", TypeDesc::Enum(STATUS)),
        ("grid", opt(list(list(opt(TypeDesc::String))))),
        ("children", list(TypeDesc::Record(EVERYTHING))),
    ]
}

fn schema() -> Schema {
    let variant = |name: &str, wire: &str| VariantDesc { name: name.to_owned(), wire: wire.to_owned() };
    Schema {
        enums: vec![EnumDesc {
            name: "Status".to_owned(),
            variants: vec![
                variant("paid", "paid"),
                variant("pending", "pending"),
                variant("refunded", "REFUNDED"),
                variant("unknown", "unknown"),
            ],
            other: Some(3),
        }],
        records: vec![
            RecordDesc::new(
                "Item",
                vec![
                    field("sku", TypeDesc::String),
                    field("quantity", TypeDesc::Int(NumberFormat::Number)),
                    field("unit_price", TypeDesc::Decimal(NumberFormat::String)),
                ],
                false,
            ),
            RecordDesc::new(
                "Everything",
                everything_types().into_iter().map(|(wire, ty)| field(wire, ty)).collect(),
                false,
            ),
            RecordDesc::new(
                "Page",
                vec![field("data", list(TypeDesc::Record(EVERYTHING))), field("next", opt(TypeDesc::String))],
                false,
            ),
        ],
    }
}

// ====================================================================== strict equality

/// Equality that also compares what `==` does not: Decimal scales, DateTime
/// offsets, Float bits.
fn same(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Decimal(a), Value::Decimal(b)) => a == b && a.scale() == b.scale(),
        (Value::DateTime(a), Value::DateTime(b)) => {
            a == b && a.nanos == b.nanos && a.offset_seconds == b.offset_seconds
        }
        (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
        (Value::List(a), Value::List(b)) => a.len() == b.len() && a.iter().zip(b.iter()).all(|(a, b)| same(a, b)),
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|((k, a), (l, b))| k == l && same(a, b))
        }
        (Value::Record(a), Value::Record(b)) => {
            a.ty == b.ty
                && a.fields.len() == b.fields.len()
                && a.fields.iter().zip(b.fields.iter()).all(|(a, b)| same(a, b))
        }
        (Value::Json(a), Value::Json(b)) => a == b,
        _ => left == right,
    }
}

fn round_trip(value: &Value, ty: &TypeDesc) -> Result<(String, Value), String> {
    let schema = schema();
    let text = encode::json_string(value, ty, &schema).map_err(|error| error.to_string())?;
    let back = decode::json(text.as_bytes(), ty, &schema, "body").map_err(|error| format!("{text}: {error}"))?;
    Ok((text, back))
}

fn assert_round_trip(value: &Value, ty: &TypeDesc) -> String {
    let (text, back) = round_trip(value, ty).unwrap();
    assert!(same(value, &back), "{text}\n{value:?}\n{back:?}");
    text
}

// ====================================================================== examples

fn datetime(text: &str) -> DateTime {
    decode::parse_rfc3339(text).unwrap()
}

fn item(sku: &str, quantity: i64, price: Decimal) -> Value {
    Value::record(ITEM, vec![Value::string(sku), Value::Int(quantity), Value::Decimal(price)])
}

fn sample(children: Vec<Value>) -> Value {
    Value::record(
        EVERYTHING,
        vec![
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Float(0.1 + 0.2),
            Value::Float(-1e-300),
            Value::Decimal(Decimal::new(1250, 2)),
            Value::Decimal(Decimal::from_i128_with_scale(-1_234_567_890_123_456_789_012_345_678, 28)),
            Value::Bool(true),
            Value::string("\u{0}quote\" back\\slash\n tab\t é 日本 🎉 \u{2028} \u{7f}"),
            Value::DateTime(datetime("2024-05-01T14:00:00.123456789+02:00")),
            Value::DateTime(datetime("1969-07-20T20:17:40Z")),
            Value::DateTime(datetime("2024-03-01T12:00:00.999Z")),
            Value::DateTime(datetime("2024-03-01T07:00:00-05:00")),
            Value::Date(jiff::civil::date(2024, 2, 29)),
            Value::Duration(Duration { millis: -90_250 }),
            Value::Duration(Duration { millis: 1 }),
            Value::Duration(Duration { millis: i64::MAX }),
            Value::Json(Arc::new(
                serde_json::json!({"a": [1, 2.5, "x", null, true], "big": u64::MAX, "neg": i64::MIN}),
            )),
            Value::None,
            Value::None,
            Value::list(vec![item("A-1", 2, Decimal::new(1250, 2)), item("B", 0, Decimal::new(0, 3))]),
            Value::Map(Arc::new(vec![
                (Str::from("z"), Value::Int(1)),
                (Str::from("a"), Value::None),
                (Str::from("key with \"quotes\""), Value::Int(-3)),
            ])),
            Value::Enum { ty: STATUS, variant: 2 },
            Value::list(vec![Value::list(vec![Value::None, Value::string("x")]), Value::list(vec![])]),
            Value::list(children),
        ],
    )
}

#[test]
fn a_record_of_everything_round_trips() {
    let inner = sample(vec![]);
    let outer = sample(vec![inner.clone(), inner]);
    let text = assert_round_trip(&outer, &TypeDesc::Record(EVERYTHING));
    assert!(text.contains(r#""decimal":12.50,"#), "{text}");
    assert!(text.contains(r#""at":"2024-05-01T14:00:00.123456789+02:00""#), "{text}");
    assert!(text.contains(r#""at_mail":"Fri, 01 Mar 2024 07:00:00 -0500""#), "{text}");
    assert!(text.contains(r#""wait":"-PT90.25S""#), "{text}");
    assert!(text.contains(r#""status":"REFUNDED""#), "{text}");
    assert!(!text.contains("maybe") && !text.contains(r#""item""#), "none fields are left out: {text}");
    let page = Value::record(PAGE, vec![Value::list(vec![outer]), Value::string("cursor")]);
    assert_round_trip(&page, &TypeDesc::Record(PAGE));
}

#[test]
fn the_other_variant_round_trips_under_its_own_name() {
    let unknown = Value::Enum { ty: STATUS, variant: 3 };
    assert_eq!(assert_round_trip(&unknown, &TypeDesc::Enum(STATUS)), r#""unknown""#);
    let schema = schema();
    let decoded = decode::json(br#""chargeback""#, &TypeDesc::Enum(STATUS), &schema, "body").unwrap();
    assert_eq!(decoded, unknown);
}

#[test]
fn pages_decode_record_by_record() {
    let schema = schema();
    let good = sample(vec![]);
    let good_text = encode::json_string(&good, &TypeDesc::Record(EVERYTHING), &schema).unwrap();
    let bad_text = good_text.replace(r#""status":"REFUNDED""#, r#""status":7"#);
    let page = format!(r#"{{"next": null, "data": [{good_text}, {bad_text}, {good_text}]}}"#);
    let records =
        decode::json_records(page.as_bytes(), &["data"], &TypeDesc::Record(EVERYTHING), &schema, "body").unwrap();
    assert_eq!(records.len(), 3);
    assert!(same(records[0].as_ref().unwrap(), &good));
    assert!(same(records[2].as_ref().unwrap(), &good));
    assert_eq!(
        records[1].as_ref().unwrap_err().to_string(),
        r#"body.data[1].status: expected Status (one of "paid", "pending", "REFUNDED", "unknown"), found number 7"#
    );
    // The same page decoded as a whole fails on the bad record.
    let whole = decode::json(page.as_bytes(), &TypeDesc::Record(PAGE), &schema, "body").unwrap_err();
    assert_eq!(whole.path, "body.data[1].status");
}

#[test]
fn wire_names_that_are_not_identifiers_are_quoted_in_paths() {
    let schema = schema();
    let text = encode::json_string(&sample(vec![]), &TypeDesc::Record(EVERYTHING), &schema).unwrap();
    let bad = text.replace(r#""int as string":"9223372036854775807""#, r#""int as string":"x""#);
    let error = decode::json(bad.as_bytes(), &TypeDesc::Record(EVERYTHING), &schema, "payload").unwrap_err();
    assert_eq!(error.to_string(), r#"payload["int as string"]: expected Int (as a string), found string "x""#);
    let bad = text.replace(r#""key with \"quotes\"":-3"#, r#""key with \"quotes\"":"-3""#);
    let error = decode::json(bad.as_bytes(), &TypeDesc::Record(EVERYTHING), &schema, "payload").unwrap_err();
    assert_eq!(error.to_string(), r#"payload.counts["key with \"quotes\""]: expected Int, found string "-3""#);
}

#[test]
fn from_json_agrees_with_the_byte_decoder() {
    let schema = schema();
    let ty = TypeDesc::Record(EVERYTHING);
    let value = sample(vec![sample(vec![])]);
    let bytes = encode::json_string(&value, &ty, &schema).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&bytes).unwrap();
    let walked = decode::from_json(&parsed, &ty, &schema, "body").unwrap();
    // serde_json keeps numbers as f64, so the 28-digit Decimal is not exact,
    // and objects sorted by key (no `preserve_order`), so maps are in key
    // order; everything else is the same.
    let Value::Record(walked) = walked else { panic!() };
    let Value::Record(value) = value else { panic!() };
    for (index, (a, b)) in value.fields.iter().zip(walked.fields.iter()).enumerate() {
        if ![4, 5, 19, 20, 23].contains(&index) {
            assert!(same(a, b), "field {index}: {a:?} vs {b:?}");
        }
    }
}

#[test]
fn truncated_documents_are_invalid_json_never_panics() {
    let schema = schema();
    let ty = TypeDesc::Record(EVERYTHING);
    let text = encode::json_string(&sample(vec![sample(vec![])]), &ty, &schema).unwrap();
    for end in 0..text.len() {
        let Some(prefix) = text.get(..end) else { continue };
        let error = decode::json(prefix.as_bytes(), &ty, &schema, "body").unwrap_err();
        assert!(error.message.starts_with("invalid JSON at line 1, column "), "{prefix}: {error}");
        assert_eq!(error.path, "body");
    }
}

// ====================================================================== properties

fn arb_decimal() -> impl Strategy<Value = Decimal> {
    (any::<i128>(), 0u32..=28).prop_map(|(mantissa, scale)| {
        Decimal::from_i128_with_scale(mantissa % 10_000_000_000_000_000_000_000_000_000, scale)
    })
}

/// Instants whose local date, in any offset, is between years 1 and 9999.
fn arb_datetime() -> impl Strategy<Value = DateTime> {
    (-62_135_596_800i64 + 2 * 86_400..253_402_300_799 - 2 * 86_400, 0u32..1_000_000_000, -1439i32..=1439)
        .prop_map(|(seconds, nanos, minutes)| DateTime { seconds, nanos, offset_seconds: minutes * 60 })
}

fn arb_date() -> impl Strategy<Value = jiff::civil::Date> {
    (0i16..=9999, 1i8..=12, 1i8..=31).prop_map(|(year, month, day)| {
        jiff::civil::Date::new(year, month, day).unwrap_or_else(|_| jiff::civil::date(year, month, 28))
    })
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|int| serde_json::json!(int)),
        any::<u64>().prop_map(|int| serde_json::json!(int)),
        any::<f64>()
            .prop_filter_map("finite", |float| serde_json::Number::from_f64(float).map(serde_json::Value::Number)),
        any::<String>().prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
        ]
    })
}

fn arb_item() -> impl Strategy<Value = Value> {
    (any::<String>(), any::<i64>(), arb_decimal()).prop_map(|(sku, quantity, price)| {
        Value::record(ITEM, vec![Value::string(sku), Value::Int(quantity), Value::Decimal(price)])
    })
}

fn arb_optional<S: Strategy<Value = Value>>(inner: S) -> impl Strategy<Value = Value> {
    prop_oneof![1 => Just(Value::None), 3 => inner]
}

fn arb_map() -> impl Strategy<Value = Value> {
    prop::collection::vec((any::<String>(), arb_optional(any::<i64>().prop_map(Value::Int))), 0..5).prop_map(
        |entries| {
            // Keys are unique in a map.
            let mut seen = std::collections::HashSet::new();
            let entries: Vec<(Str, Value)> = entries
                .into_iter()
                .filter(|(key, _)| seen.insert(key.clone()))
                .map(|(key, value)| (Str::from(key), value))
                .collect();
            Value::Map(Arc::new(entries))
        },
    )
}

fn arb_everything(children: BoxedStrategy<Vec<Value>>) -> impl Strategy<Value = Value> {
    let numbers = (
        any::<i64>(),
        any::<i64>(),
        any::<f64>().prop_filter("finite", |float| float.is_finite()),
        any::<f64>().prop_filter("finite", |float| float.is_finite()),
        arb_decimal(),
        arb_decimal(),
        any::<bool>(),
        any::<String>(),
    );
    let times = (
        arb_datetime(),
        arb_datetime().prop_map(|datetime| DateTime { nanos: 0, offset_seconds: 0, ..datetime }),
        arb_datetime().prop_map(|datetime| DateTime {
            nanos: datetime.nanos / 1_000_000 * 1_000_000,
            offset_seconds: 0,
            ..datetime
        }),
        // RFC 2822 has whole seconds; jiff reads years from 1900.
        (-2_208_988_800i64 + 86_400..253_402_300_799 - 2 * 86_400, -1439i32..=1439)
            .prop_map(|(seconds, minutes)| DateTime { seconds, nanos: 0, offset_seconds: minutes * 60 }),
        arb_date(),
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
    );
    let rest = (
        arb_json(),
        arb_optional(any::<i64>().prop_map(Value::Int)),
        arb_optional(arb_item()),
        prop::collection::vec(arb_item(), 0..3),
        arb_map(),
        0u32..4,
        arb_optional(
            prop::collection::vec(
                prop::collection::vec(arb_optional(any::<String>().prop_map(Value::string)), 0..3),
                0..3,
            )
            .prop_map(|rows| Value::list(rows.into_iter().map(Value::list).collect())),
        ),
        children,
    );
    (numbers, times, rest).prop_map(|(numbers, times, rest)| {
        let (int, int_string, float, float_string, decimal, decimal_string, flag, text) = numbers;
        let (at, at_unix, at_ms, at_mail, day, wait, wait_s, wait_ms) = times;
        let (raw, maybe, item, items, counts, status, grid, children) = rest;
        Value::record(
            EVERYTHING,
            vec![
                Value::Int(int),
                Value::Int(int_string),
                Value::Float(float),
                Value::Float(float_string),
                Value::Decimal(decimal),
                Value::Decimal(decimal_string),
                Value::Bool(flag),
                Value::string(text),
                Value::DateTime(at),
                Value::DateTime(at_unix),
                Value::DateTime(at_ms),
                Value::DateTime(at_mail),
                Value::Date(day),
                Value::Duration(Duration { millis: wait }),
                Value::Duration(Duration { millis: wait_s }),
                Value::Duration(Duration { millis: wait_ms }),
                Value::Json(Arc::new(raw)),
                maybe,
                item,
                Value::list(items),
                counts,
                Value::Enum { ty: STATUS, variant: status },
                grid,
                Value::list(children),
            ],
        )
    })
}

fn arb_tree() -> impl Strategy<Value = Value> {
    let leaf = arb_everything(Just(Vec::new()).boxed()).boxed();
    arb_everything(prop::collection::vec(leaf, 0..2).boxed())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip(value in arb_tree()) {
        let (text, back) = round_trip(&value, &TypeDesc::Record(EVERYTHING)).map_err(TestCaseError::fail)?;
        prop_assert!(same(&value, &back), "{}", text);
        // The text is JSON serde_json reads.
        prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    }

    #[test]
    fn strings_round_trip(text in any::<String>()) {
        let value = Value::string(text.as_str());
        let (encoded, back) = round_trip(&value, &TypeDesc::String).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&encoded, &serde_json::to_string(&text).unwrap());
        prop_assert_eq!(back, value);
    }

    #[test]
    fn decimals_round_trip_with_their_scale(decimal in arb_decimal()) {
        for ty in [TypeDesc::Decimal(NumberFormat::Number), TypeDesc::Decimal(NumberFormat::String)] {
            let (text, back) = round_trip(&Value::Decimal(decimal), &ty).map_err(TestCaseError::fail)?;
            prop_assert!(same(&Value::Decimal(decimal), &back), "{}", text);
            prop_assert_eq!(text.trim_matches('"'), decimal.to_string());
        }
    }

    #[test]
    fn floats_round_trip(float in any::<f64>().prop_filter("finite", |float| float.is_finite())) {
        let (text, back) = round_trip(&Value::Float(float), &TypeDesc::Float(NumberFormat::Number)).map_err(TestCaseError::fail)?;
        prop_assert!(same(&Value::Float(float), &back), "{}", text);
        let schema = Schema::default();
        let shown = encode::text(&Value::Float(float), &schema);
        prop_assert_eq!(shown.parse::<f64>().ok(), Some(float));
        prop_assert!(shown.contains(['.', 'e']), "{}", shown);
    }

    #[test]
    fn ints_round_trip(int in any::<i64>()) {
        for ty in [TypeDesc::Int(NumberFormat::Number), TypeDesc::Int(NumberFormat::String)] {
            let (_, back) = round_trip(&Value::Int(int), &ty).map_err(TestCaseError::fail)?;
            prop_assert_eq!(back, Value::Int(int));
        }
    }

    #[test]
    fn datetimes_round_trip_and_agree_with_jiff(datetime in arb_datetime()) {
        let (text, back) = round_trip(&Value::DateTime(datetime), &TypeDesc::DateTime(DateTimeFormat::Rfc3339))
            .map_err(TestCaseError::fail)?;
        prop_assert!(same(&Value::DateTime(datetime), &back), "{}", text);
        // jiff reads the same instant, and writes the same local time.
        let text = text.trim_matches('"');
        prop_assert_eq!(text.parse::<jiff::Timestamp>().ok(), Some(datetime.timestamp()));
        let local = datetime.offset().to_datetime(datetime.timestamp());
        prop_assert!(text.starts_with(&local.strftime("%Y-%m-%dT%H:%M:%S").to_string()), "{} vs {}", text, local);
        // Fractional digits come in groups of three.
        if let Some((_, fraction)) = text.split_once('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            prop_assert!(matches!(digits, 3 | 6 | 9), "{}", text);
        }
    }

    #[test]
    fn rfc2822_agrees_with_jiff(seconds in -2_208_988_800i64 + 86_400..253_402_300_799 - 2 * 86_400, minutes in -1439i32..=1439) {
        let datetime = DateTime { seconds, nanos: 0, offset_seconds: minutes * 60 };
        let schema = Schema::default();
        let ours = encode::field_text(&Value::DateTime(datetime), &TypeDesc::DateTime(DateTimeFormat::Rfc2822), &schema).unwrap();
        let zoned = jiff::fmt::rfc2822::parse(&ours).map_err(|error| TestCaseError::fail(format!("{ours}: {error}")))?;
        prop_assert_eq!(zoned.timestamp(), datetime.timestamp());
        prop_assert_eq!(zoned.offset().seconds(), datetime.offset_seconds);
    }

    #[test]
    fn durations_round_trip(millis in any::<i64>()) {
        for format in [DurationFormat::Iso8601, DurationFormat::Seconds, DurationFormat::Milliseconds] {
            let value = Value::Duration(Duration { millis });
            let (text, back) = round_trip(&value, &TypeDesc::Duration(format)).map_err(TestCaseError::fail)?;
            prop_assert_eq!(back, value, "{}", text);
        }
    }

    #[test]
    fn dates_round_trip(date in arb_date()) {
        let (_, back) = round_trip(&Value::Date(date), &TypeDesc::Date).map_err(TestCaseError::fail)?;
        prop_assert_eq!(back, Value::Date(date));
    }

    #[test]
    fn json_round_trips(json in arb_json()) {
        let value = Value::Json(Arc::new(json));
        let (text, back) = round_trip(&value, &TypeDesc::Json).map_err(TestCaseError::fail)?;
        prop_assert!(same(&value, &back), "{}", text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let schema = schema();
        for ty in [TypeDesc::Record(EVERYTHING), TypeDesc::Json, list(opt(TypeDesc::Decimal(NumberFormat::Number))), TypeDesc::String] {
            if let Err(error) = decode::json(&bytes, &ty, &schema, "body") {
                prop_assert!(error.path.starts_with("body"));
            }
        }
        let _ = decode::json_records(&bytes, &["data"], &TypeDesc::Record(EVERYTHING), &schema, "body");
    }

    #[test]
    fn json_like_text_never_panics(text in r#"[\[\]{}":,0-9eE.+\- a-z\\ntu]{0,64}"#) {
        let schema = schema();
        for ty in [
            TypeDesc::Record(EVERYTHING),
            TypeDesc::Json,
            list(TypeDesc::Int(NumberFormat::Number)),
            map(TypeDesc::Float(NumberFormat::Number)),
            TypeDesc::Decimal(NumberFormat::Number),
            TypeDesc::DateTime(DateTimeFormat::Unix),
            TypeDesc::Duration(DurationFormat::Seconds),
        ] {
            let decoded = decode::json(text.as_bytes(), &ty, &schema, "body");
            // What jiter and serde_json both accept as JSON is never reported
            // as invalid JSON.
            if serde_json::from_str::<serde_json::Value>(&text).is_ok()
                && let Err(error) = &decoded
            {
                prop_assert!(!error.message.starts_with("invalid JSON"), "{}: {}", text, error);
            }
        }
    }

    #[test]
    fn mutated_documents_never_panic(value in arb_tree(), position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let schema = schema();
        let ty = TypeDesc::Record(EVERYTHING);
        let mut bytes = encode::json_string(&value, &ty, &schema).unwrap().into_bytes();
        let index = position.index(bytes.len());
        bytes[index] = byte;
        let _ = decode::json(&bytes, &ty, &schema, "body");
        bytes.truncate(index);
        let _ = decode::json(&bytes, &ty, &schema, "body");
    }

    #[test]
    fn texts_parse_back(int in any::<i64>(), decimal in arb_decimal(), millis in any::<i64>(), datetime in arb_datetime()) {
        let schema = Schema::default();
        prop_assert_eq!(encode::text(&Value::Int(int), &schema).parse::<i64>().ok(), Some(int));
        let shown = encode::text(&Value::Decimal(decimal), &schema);
        prop_assert_eq!(&shown, &decimal.to_string());
        prop_assert!(!shown.contains('e'));
        let shown = encode::text(&Value::Duration(Duration { millis }), &schema);
        prop_assert_eq!(decode::parse_iso8601_duration(&shown), Some(Duration { millis }));
        let shown = encode::text(&Value::DateTime(datetime), &schema);
        let back = decode::parse_rfc3339(&shown).unwrap();
        prop_assert!(same(&Value::DateTime(back), &Value::DateTime(datetime)));
    }
}
