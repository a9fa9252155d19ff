//! The natives of the standard library: every `native fn` declared in
//! `stdlib/*.integ`, implemented once for both back ends.
//!
//! Two layers:
//!
//! - **Typed functions**, the real implementations, in one module per
//!   category ([`strings`], [`numbers`], [`dates`], [`lists`], [`maps`],
//!   [`options`], [`json`], [`hash`], [`encoding`], [`uuid`]). Generated Rust
//!   calls them directly: `natives::strings::trim(&s)`,
//!   `natives::lists::map(&xs, |x| Ok(...))?`.
//! - **A registry of [`Value`] adapters** for the interpreter: [`lookup`]
//!   gives the [`NativeFn`] of a native by name. An adapter receives its
//!   arguments in declaration order, omitted ones already filled in by the
//!   interpreter (defaults evaluated, optional parameters as `Value::None`),
//!   converts them, calls the typed function and converts the result back.
//!   Function arguments (lambdas, functions passed by name) arrive as opaque
//!   values ([`Value::Function`]) that adapters call through
//!   [`Context::call`].
//!
//! Each native follows the doc comment of its declaration, which is the
//! contract; a native fails with [`EvalError::Native`] only where its doc
//! says that the record fails, and with [`EvalError::Overflow`] on an
//! arithmetic overflow. Nothing here panics, whatever the input.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use rust_decimal::Decimal;

use crate::error::EvalError;
use crate::types::Schema;
use crate::value::{DateTime, Duration, Str, Value};

pub mod dates;
pub mod encoding;
mod fold_table;
pub mod hash;
pub mod json;
pub mod lists;
pub mod maps;
pub mod numbers;
pub mod options;
pub mod strings;
pub mod uuid;

// ============================================================= clock and randomness

/// What natives read from the world: the time (`now()`, `today()`,
/// `uuid_v7()`) and random bits (`uuid_v4()`, `uuid_v7()`). The system clock
/// and the operating system's random source in production; a virtual clock
/// and a seeded generator under `integ test` (spec § 13.6).
pub trait Clock {
    /// The current instant.
    fn now(&self) -> DateTime;

    /// Fills `bytes` with random bytes; by default from the operating
    /// system's secure random source ([`os_random`]).
    fn fill_random(&self, bytes: &mut [u8]) {
        os_random(bytes);
    }
}

/// Fills `bytes` from the operating system's secure random source.
pub fn os_random(bytes: &mut [u8]) {
    use rand::TryRng;
    if rand::rngs::SysRng.try_fill_bytes(bytes).is_err() {
        // The OS source failed (it practically never does): the thread
        // generator is a CSPRNG seeded from it.
        use rand::Rng;
        rand::rng().fill_bytes(bytes);
    }
}

/// The system's real-time clock, in UTC.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime {
        DateTime::from_timestamp(jiff::Timestamp::now(), jiff::tz::Offset::UTC)
    }
}

/// A clock that always reads the same instant, for tests (random bits still
/// come from the operating system).
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub DateTime);

impl Clock for FixedClock {
    fn now(&self) -> DateTime {
        self.0
    }
}

/// A clock for fully deterministic runs: a fixed instant and seeded random
/// bits (the same seed gives the same UUIDs).
#[derive(Debug)]
pub struct SeededClock {
    pub now: DateTime,
    pub random: SeededRandom,
}

impl SeededClock {
    pub fn new(now: DateTime, seed: u64) -> SeededClock {
        SeededClock { now, random: SeededRandom::new(seed) }
    }
}

impl Clock for SeededClock {
    fn now(&self) -> DateTime {
        self.now
    }

    fn fill_random(&self, bytes: &mut [u8]) {
        self.random.fill(bytes);
    }
}

/// A deterministic generator (SplitMix64) for tests: the same seed gives the
/// same bytes. Not for anything secret.
#[derive(Debug)]
pub struct SeededRandom {
    state: AtomicU64,
}

impl SeededRandom {
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom { state: AtomicU64::new(seed) }
    }

    fn next(&self) -> u64 {
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self.state.fetch_add(GAMMA, AtomicOrdering::Relaxed).wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fills `bytes` with the next bytes of the sequence.
    pub fn fill(&self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            for (byte, random) in chunk.iter_mut().zip(word) {
                *byte = random;
            }
        }
    }
}

// ============================================================= the registry

/// How adapters call a function value: `call(function, arguments)`.
pub type Call<'f> = dyn FnMut(&Value, &[Value]) -> Result<Value, EvalError> + 'f;

/// What an adapter needs from the interpreter besides its arguments.
pub struct Context<'a> {
    /// The program's types (for the text and JSON of records and enums).
    pub schema: &'a Schema,
    /// The clock (and random source) of `now()`, `today()`, `uuid_v4()`
    /// and `uuid_v7()`.
    pub clock: &'a dyn Clock,
    /// Calls a function value (a lambda or a function passed by name, as
    /// [`Value::Function`]) with arguments.
    pub call: &'a mut Call<'a>,
}

impl Context<'_> {
    /// Calls `function` with `args` through [`Context::call`].
    pub fn call(&mut self, function: &Value, args: &[Value]) -> Result<Value, EvalError> {
        (self.call)(function, args)
    }
}

/// The Value adapter of a native: arguments in declaration order, every
/// parameter present (omitted ones filled in by the interpreter).
pub type NativeFn = fn(&mut Context<'_>, &[Value]) -> Result<Value, EvalError>;

/// A registry entry.
#[derive(Clone, Copy)]
pub struct Native {
    /// The name the native is declared with.
    pub name: &'static str,
    /// How many arguments the adapter expects: every declared parameter,
    /// optional and defaulted ones included.
    pub arity: usize,
    pub function: NativeFn,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Native").field("name", &self.name).field("arity", &self.arity).finish()
    }
}

/// Builds a table of [`Native`]s: `"name" / arity => |context, args| body`,
/// where `args` is an [`Args`] over the argument values.
macro_rules! native_table {
    ($($name:literal / $arity:literal => |$context:pat_param, $args:ident| $body:expr;)*) => {
        &[$(
            $crate::natives::Native {
                name: $name,
                arity: $arity,
                function: |$context, values| {
                    let $args = $crate::natives::Args::new($name, values);
                    $body
                },
            }
        ),*]
    };
}
pub(crate) use native_table;

/// Every category's table.
const TABLES: &[&[Native]] = &[
    strings::NATIVES,
    numbers::NATIVES,
    dates::NATIVES,
    lists::NATIVES,
    maps::NATIVES,
    options::NATIVES,
    json::NATIVES,
    hash::NATIVES,
    encoding::NATIVES,
    uuid::NATIVES,
];

fn index() -> &'static HashMap<&'static str, &'static Native> {
    static INDEX: OnceLock<HashMap<&'static str, &'static Native>> = OnceLock::new();
    INDEX.get_or_init(|| TABLES.iter().flat_map(|table| table.iter()).map(|native| (native.name, native)).collect())
}

/// Every native, in category order.
pub fn all() -> impl Iterator<Item = &'static Native> {
    TABLES.iter().flat_map(|table| table.iter())
}

/// The registry entry of the native `name`.
pub fn native(name: &str) -> Option<&'static Native> {
    index().get(name).copied()
}

/// The adapter of the native `name`.
pub fn lookup(name: &str) -> Option<NativeFn> {
    native(name).map(|native| native.function)
}

/// How many arguments the adapter of `name` expects.
pub fn arity(name: &str) -> Option<usize> {
    native(name).map(|native| native.arity)
}

/// The names of every native.
pub fn names() -> impl Iterator<Item = &'static str> {
    all().map(|native| native.name)
}

// ============================================================= arguments

/// The arguments of one adapter call, with conversions that name the native
/// and the argument when a value has the wrong kind (which the type checker
/// rules out; they are errors, never panics).
#[derive(Clone, Copy)]
pub(crate) struct Args<'v> {
    function: &'static str,
    values: &'v [Value],
}

const NONE: Value = Value::None;

impl<'v> Args<'v> {
    pub(crate) fn new(function: &'static str, values: &'v [Value]) -> Args<'v> {
        Args { function, values }
    }

    /// Argument `index`, or none when it is missing.
    pub(crate) fn get(&self, index: usize) -> &'v Value {
        self.values.get(index).unwrap_or(&NONE)
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> EvalError {
        EvalError::Native { function: self.function, message: message.into() }
    }

    fn mismatch(&self, index: usize, expected: &str) -> EvalError {
        self.error(format!("argument {} must be {expected}, found {}", index + 1, self.get(index).kind()))
    }

    pub(crate) fn string(&self, index: usize) -> Result<&'v str, EvalError> {
        match self.get(index) {
            Value::String(text) => Ok(text),
            _ => Err(self.mismatch(index, "a String")),
        }
    }

    pub(crate) fn opt_string(&self, index: usize) -> Result<Option<&'v str>, EvalError> {
        match self.get(index) {
            Value::None => Ok(None),
            _ => self.string(index).map(Some),
        }
    }

    pub(crate) fn int(&self, index: usize) -> Result<i64, EvalError> {
        match self.get(index) {
            Value::Int(value) => Ok(*value),
            _ => Err(self.mismatch(index, "an Int")),
        }
    }

    pub(crate) fn opt_int(&self, index: usize) -> Result<Option<i64>, EvalError> {
        match self.get(index) {
            Value::None => Ok(None),
            _ => self.int(index).map(Some),
        }
    }

    pub(crate) fn bool(&self, index: usize) -> Result<bool, EvalError> {
        match self.get(index) {
            Value::Bool(value) => Ok(*value),
            _ => Err(self.mismatch(index, "a Bool")),
        }
    }

    /// A Decimal; an Int is accepted (an Int is assignable to Decimal).
    pub(crate) fn decimal(&self, index: usize) -> Result<Decimal, EvalError> {
        match self.get(index) {
            Value::Decimal(value) => Ok(*value),
            Value::Int(value) => Ok(Decimal::from(*value)),
            _ => Err(self.mismatch(index, "a Decimal")),
        }
    }

    /// A Float; an Int is accepted (an Int is assignable to Float).
    pub(crate) fn float(&self, index: usize) -> Result<f64, EvalError> {
        match self.get(index) {
            Value::Float(value) => Ok(*value),
            Value::Int(value) => Ok(*value as f64),
            _ => Err(self.mismatch(index, "a Float")),
        }
    }

    pub(crate) fn datetime(&self, index: usize) -> Result<DateTime, EvalError> {
        match self.get(index) {
            Value::DateTime(value) => Ok(*value),
            _ => Err(self.mismatch(index, "a DateTime")),
        }
    }

    pub(crate) fn date(&self, index: usize) -> Result<jiff::civil::Date, EvalError> {
        match self.get(index) {
            Value::Date(value) => Ok(*value),
            _ => Err(self.mismatch(index, "a Date")),
        }
    }

    pub(crate) fn duration(&self, index: usize) -> Result<Duration, EvalError> {
        match self.get(index) {
            Value::Duration(value) => Ok(*value),
            _ => Err(self.mismatch(index, "a Duration")),
        }
    }

    pub(crate) fn list(&self, index: usize) -> Result<&'v [Value], EvalError> {
        match self.get(index) {
            Value::List(items) => Ok(items),
            _ => Err(self.mismatch(index, "a list")),
        }
    }

    pub(crate) fn map(&self, index: usize) -> Result<&'v [(Str, Value)], EvalError> {
        match self.get(index) {
            Value::Map(entries) => Ok(entries),
            _ => Err(self.mismatch(index, "a map")),
        }
    }

    /// A `Json?`: none for `none` and for JSON `null`. A value of another
    /// type is converted as an assignment to `Json` converts it (spec § 4.10:
    /// encoded by § 15.3), should a caller pass it unconverted.
    pub(crate) fn opt_json(
        &self,
        index: usize,
        schema: &Schema,
    ) -> Result<Option<std::borrow::Cow<'v, serde_json::Value>>, EvalError> {
        use std::borrow::Cow;
        let value = self.get(index);
        let json = match value {
            Value::None => return Ok(None),
            Value::Json(json) => Cow::Borrowed(&**json),
            Value::Function(_) => return Err(self.mismatch(index, "a Json value")),
            other => Cow::Owned(match json::scalar_to_json(other) {
                Some(json) => json,
                None => crate::encode::to_json_value(other, &encoding::type_of(other), schema)?,
            }),
        };
        Ok(Some(json).filter(|json| !json.is_null()))
    }
}

/// The Bool a predicate returned.
pub(crate) fn truth(function: &'static str, value: Value) -> Result<bool, EvalError> {
    match value {
        Value::Bool(value) => Ok(value),
        other => Err(EvalError::Native {
            function,
            message: format!("the function argument must return a Bool, found {}", other.kind()),
        }),
    }
}

/// `Some(value)` as a value, `None` as `none`.
pub(crate) fn optional<T>(value: Option<T>, convert: impl FnOnce(T) -> Value) -> Value {
    value.map_or(Value::None, convert)
}

/// A length or count as an Int (lengths never exceed `i64::MAX`).
pub(crate) fn count_to_int(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

// ============================================================= ordering and numbers

/// Values that `sort`, `min`, `max`, `min_of`, `max_of` and `sort_by` order:
/// a total order, so that sorting is deterministic.
pub trait Comparable {
    fn compare(&self, other: &Self) -> Ordering;
}

/// Floats order by value, with NaN after every number (and equal to itself).
pub fn compare_floats(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
}

impl Comparable for f64 {
    fn compare(&self, other: &f64) -> Ordering {
        compare_floats(*self, *other)
    }
}

macro_rules! comparable_by_ord {
    ($($ty:ty),*) => {$(
        impl Comparable for $ty {
            fn compare(&self, other: &$ty) -> Ordering {
                self.cmp(other)
            }
        }
    )*};
}

comparable_by_ord!(i64, bool, Decimal, DateTime, jiff::civil::Date, Duration);

impl Comparable for str {
    fn compare(&self, other: &str) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Comparable for String {
    fn compare(&self, other: &String) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Comparable for Str {
    fn compare(&self, other: &Str) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl<T: Comparable + ?Sized> Comparable for &T {
    fn compare(&self, other: &Self) -> Ordering {
        (**self).compare(*other)
    }
}

impl Comparable for Value {
    fn compare(&self, other: &Value) -> Ordering {
        compare_values(self, other)
    }
}

/// A total order on values: [`Value::compare`] where it is defined (numbers
/// by value, Strings bytewise, DateTimes by instant...), Floats with NaN
/// last, Json by JSON value, and values of different kinds by kind.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    if let Some(ordering) = a.compare(b) {
        return ordering;
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => compare_floats(*x, *y),
        (Value::Int(x), Value::Float(y)) => compare_floats(*x as f64, *y),
        (Value::Float(x), Value::Int(y)) => compare_floats(*x, *y as f64),
        (Value::Decimal(x), Value::Float(y)) => compare_floats(numbers::decimal_to_float(*x), *y),
        (Value::Float(x), Value::Decimal(y)) => compare_floats(*x, numbers::decimal_to_float(*y)),
        (Value::Json(x), Value::Json(y)) => compare_json(x, y),
        (Value::Json(x), other) => match json::json_to_scalar(x) {
            Some(scalar) if !matches!(scalar, Value::Json(_)) => compare_values(&scalar, other),
            _ => kind_rank(a).cmp(&kind_rank(b)),
        },
        (other, Value::Json(y)) => match json::json_to_scalar(y) {
            Some(scalar) if !matches!(scalar, Value::Json(_)) => compare_values(other, &scalar),
            _ => kind_rank(a).cmp(&kind_rank(b)),
        },
        _ => kind_rank(a).cmp(&kind_rank(b)),
    }
}

fn kind_rank(value: &Value) -> u8 {
    match value {
        Value::None => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Float(_) | Value::Decimal(_) => 2,
        Value::String(_) => 3,
        Value::DateTime(_) => 4,
        Value::Date(_) => 5,
        Value::Duration(_) => 6,
        Value::Enum { .. } => 7,
        Value::List(_) => 8,
        Value::Map(_) => 9,
        Value::Record(_) => 10,
        Value::Json(_) => 11,
        Value::Function(_) => 12,
    }
}

/// JSON values in a total order: `null`, Booleans, numbers (by value),
/// strings (bytewise), arrays (element by element), objects (all equal).
pub fn compare_json(a: &serde_json::Value, b: &serde_json::Value) -> Ordering {
    use serde_json::Value as J;
    fn rank(value: &J) -> u8 {
        match value {
            J::Null => 0,
            J::Bool(_) => 1,
            J::Number(_) => 2,
            J::String(_) => 3,
            J::Array(_) => 4,
            J::Object(_) => 5,
        }
    }
    match (a, b) {
        (J::Bool(x), J::Bool(y)) => x.cmp(y),
        (J::Number(x), J::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => match (json::number_to_decimal(x), json::number_to_decimal(y)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => compare_floats(x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN)),
            },
        },
        (J::String(x), J::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (J::Array(x), J::Array(y)) => {
            for (x, y) in x.iter().zip(y) {
                let ordering = compare_json(x, y);
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// The numbers `sum`, `abs`, `float` and `int` work on.
pub trait Numeric: Sized + Copy {
    fn zero() -> Self;
    /// `self + other`; an Int or Decimal overflow is an error.
    fn add(self, other: Self) -> Result<Self, EvalError>;
    /// The absolute value; `abs` of the smallest Int is an error.
    fn abs(self) -> Result<Self, EvalError>;
    /// The nearest Float.
    fn to_float(self) -> f64;
    /// Truncated toward zero; outside the Int range is an error.
    fn to_int(self) -> Result<i64, EvalError>;
}

impl Numeric for i64 {
    fn zero() -> i64 {
        0
    }
    fn add(self, other: i64) -> Result<i64, EvalError> {
        self.checked_add(other).ok_or(EvalError::Overflow("sum"))
    }
    fn abs(self) -> Result<i64, EvalError> {
        self.checked_abs().ok_or(EvalError::Overflow("abs"))
    }
    fn to_float(self) -> f64 {
        self as f64
    }
    fn to_int(self) -> Result<i64, EvalError> {
        Ok(self)
    }
}

impl Numeric for f64 {
    fn zero() -> f64 {
        0.0
    }
    fn add(self, other: f64) -> Result<f64, EvalError> {
        Ok(self + other)
    }
    fn abs(self) -> Result<f64, EvalError> {
        Ok(f64::abs(self))
    }
    fn to_float(self) -> f64 {
        self
    }
    fn to_int(self) -> Result<i64, EvalError> {
        numbers::float_to_int(self)
    }
}

impl Numeric for Decimal {
    fn zero() -> Decimal {
        Decimal::ZERO
    }
    fn add(self, other: Decimal) -> Result<Decimal, EvalError> {
        self.checked_add(other).ok_or(EvalError::Overflow("sum"))
    }
    fn abs(self) -> Result<Decimal, EvalError> {
        Ok(Decimal::abs(&self))
    }
    fn to_float(self) -> f64 {
        numbers::decimal_to_float(self)
    }
    fn to_int(self) -> Result<i64, EvalError> {
        numbers::decimal_to_int(self)
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the adapters' unit tests.

    use super::*;

    /// Function values for tests: `Value::Function(i)` calls `functions[i]`.
    pub(crate) type TestFn = Box<dyn Fn(&[Value]) -> Result<Value, EvalError>>;

    /// Calls the native `name` with `args`, the clock at 2024-03-01T12:00:00Z,
    /// a seeded random source, and `functions` for function values.
    pub(crate) fn call_with(name: &str, args: &[Value], functions: &[TestFn]) -> Result<Value, EvalError> {
        let schema = Schema::default();
        let clock = SeededClock::new(DateTime { seconds: 1_709_294_400, nanos: 0, offset_seconds: 0 }, 7);
        let mut call = |function: &Value, args: &[Value]| match function {
            Value::Function(index) => match functions.get(*index as usize) {
                Some(function) => function(args),
                None => Err(EvalError::Other("unknown function".to_owned())),
            },
            other => Err(EvalError::Other(format!("not a function: {}", other.kind()))),
        };
        let mut context = Context { schema: &schema, clock: &clock, call: &mut call };
        let Some(native) = native(name) else {
            return Err(EvalError::Other(format!("no native `{name}`")));
        };
        assert_eq!(native.arity, args.len(), "arity of `{name}`");
        (native.function)(&mut context, args)
    }

    /// Calls the native `name` with `args`.
    pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, EvalError> {
        call_with(name, args, &[])
    }

    pub(crate) fn s(text: &str) -> Value {
        Value::string(text)
    }

    pub(crate) fn dec(text: &str) -> Value {
        Value::Decimal(text.parse().expect("a decimal literal"))
    }

    pub(crate) fn ints(values: &[i64]) -> Value {
        Value::list(values.iter().map(|value| Value::Int(*value)).collect())
    }

    pub(crate) fn strs(values: &[&str]) -> Value {
        Value::list(values.iter().map(|value| Value::string(*value)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn names_are_unique_and_resolve() {
        let mut seen = std::collections::HashSet::new();
        for native in all() {
            assert!(seen.insert(native.name), "`{}` is registered twice", native.name);
            assert!(lookup(native.name).is_some());
            assert_eq!(arity(native.name), Some(native.arity));
        }
        assert!(lookup("no_such_native").is_none());
        assert_eq!(names().count(), seen.len());
    }

    #[test]
    fn adapters_reject_wrong_kinds_without_panicking() {
        for native in all() {
            for arguments in [vec![Value::Function(0); native.arity], vec![], vec![Value::Bool(true); 8]] {
                // Any result is fine; what matters is that nothing panics.
                let schema = Schema::default();
                let clock = FixedClock(DateTime { seconds: 0, nanos: 0, offset_seconds: 0 });
                let mut call = |_: &Value, _: &[Value]| Ok(Value::None);
                let mut context = Context { schema: &schema, clock: &clock, call: &mut call };
                let _ = (native.function)(&mut context, &arguments);
            }
        }
    }

    #[test]
    fn adapters_survive_hostile_arguments() {
        let json = |value: serde_json::Value| Value::Json(std::sync::Arc::new(value));
        let pool = vec![
            Value::None,
            s(""),
            s("%"),
            s("%Y-%m-%d %H:%M:%S %z"),
            s("\u{10FFFF}é\u{301}ß 日本"),
            s("(a|b)*\\d{2,1"),
            s("2024-02-29T23:59:59.999999999+23:59"),
            s("{cfbff0d1-9375-5685-968c-48ce8b15ae17}"),
            s("-9223372036854775808"),
            s("1e-400"),
            Value::Int(0),
            Value::Int(-1),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Int(29),
            Value::Float(f64::NAN),
            Value::Float(f64::NEG_INFINITY),
            Value::Float(-0.0),
            Value::Float(1e300),
            Value::Decimal(Decimal::MAX),
            Value::Decimal(Decimal::MIN),
            dec("0.0000000000000000000000000001"),
            Value::Bool(true),
            Value::DateTime(DateTime { seconds: i64::MAX, nanos: 999_999_999, offset_seconds: i32::MIN }),
            Value::DateTime(DateTime { seconds: 253_402_207_200, nanos: 0, offset_seconds: 93_599 }),
            Value::Date(jiff::civil::Date::MIN),
            Value::Date(jiff::civil::Date::MAX),
            Value::Duration(Duration { millis: i64::MIN }),
            ints(&[i64::MAX, 1]),
            Value::list(vec![Value::Float(f64::NAN), Value::None, dec("1"), s("x"), json(serde_json::json!(1))]),
            Value::list(vec![Value::Int(1), Value::Int(1), Value::Float(1.0)]),
            Value::Map(std::sync::Arc::new(vec![("k".into(), Value::None)])),
            json(serde_json::json!({"a": [null, 1e300, -0.0, "x"], "": {}})),
            json(serde_json::json!(null)),
            json(serde_json::json!(18446744073709551615u64)),
            Value::Function(0),
            Value::Enum { ty: 9, variant: 9 },
            Value::record(9, vec![Value::None]),
        ];
        let functions: Vec<TestFn> = vec![Box::new(|args: &[Value]| Ok(args.first().cloned().unwrap_or_default()))];
        let mut state: u64 = 17;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0)
        };
        for native in all() {
            for round in 0..(pool.len() * 12) {
                let arguments: Vec<Value> = (0..native.arity)
                    .map(|position| {
                        let index = if round < pool.len() { round + position } else { next() };
                        pool[index % pool.len()].clone()
                    })
                    .collect();
                // Any result is fine; nothing may panic.
                let _ = call_with(native.name, &arguments, &functions);
            }
        }
    }

    #[test]
    fn wrong_kinds_name_the_native_and_argument() {
        let error = call("trim", &[Value::Int(3)]).unwrap_err();
        assert_eq!(
            error,
            EvalError::Native { function: "trim", message: "argument 1 must be a String, found Int".to_owned() }
        );
    }

    #[test]
    fn clocks() {
        let fixed = DateTime { seconds: 5, nanos: 6, offset_seconds: 3600 };
        assert_eq!(FixedClock(fixed).now(), fixed);
        assert!(SystemClock.now().seconds > 1_700_000_000);
        assert_eq!(SystemClock.now().offset_seconds, 0);
    }

    #[test]
    fn random_sources() {
        let (a, b) = (SeededRandom::new(42), SeededRandom::new(42));
        let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        a.fill(&mut y);
        assert_ne!(x, y);
        let (mut p, mut q) = ([0u8; 16], [0u8; 16]);
        os_random(&mut p);
        SystemClock.fill_random(&mut q);
        assert_ne!(p, q);
        let now = DateTime { seconds: 9, nanos: 0, offset_seconds: 0 };
        let (seeded, again) = (SeededClock::new(now, 3), SeededClock::new(now, 3));
        seeded.fill_random(&mut p);
        again.fill_random(&mut q);
        assert_eq!((p, seeded.now()), (q, now));
    }

    #[test]
    fn total_order_of_values() {
        assert_eq!(compare_values(&Value::Int(1), &dec("1.5")), Ordering::Less);
        assert_eq!(compare_values(&Value::Float(f64::NAN), &Value::Float(1.0)), Ordering::Greater);
        assert_eq!(compare_values(&Value::Float(f64::NAN), &Value::Float(f64::NAN)), Ordering::Equal);
        assert_eq!(compare_values(&s("B"), &s("a")), Ordering::Less);
        assert_eq!(compare_values(&Value::None, &Value::Int(0)), Ordering::Less);
        let json = |text: &str| Value::Json(std::sync::Arc::new(serde_json::from_str(text).unwrap()));
        assert_eq!(compare_values(&json("2"), &json("10")), Ordering::Less);
        assert_eq!(compare_values(&json("\"b\""), &json("\"a\"")), Ordering::Greater);
        assert_eq!(compare_values(&json("[1, 2]"), &json("[1, 3]")), Ordering::Less);
        assert_eq!(compare_values(&json("null"), &json("false")), Ordering::Less);
        assert_eq!(compare_values(&json("3"), &Value::Int(4)), Ordering::Less);
    }
}
