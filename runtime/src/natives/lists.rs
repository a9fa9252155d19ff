//! Lists: access, the higher-order functions (`map`, `filter`, `fold`...),
//! ordering, deduplication, slicing, grouping and aggregates. Every function
//! returns a new list; function arguments are closures that may fail.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::slice;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::{Comparable, Native, Numeric, count_to_int, native_table, truth};
use crate::error::EvalError;
use crate::value::{Str, Value};

/// The number of elements.
pub fn len<T>(items: &[T]) -> i64 {
    count_to_int(items.len())
}

pub fn is_empty<T>(items: &[T]) -> bool {
    items.is_empty()
}

pub fn first<T: Clone>(items: &[T]) -> Option<T> {
    items.first().cloned()
}

pub fn last<T: Clone>(items: &[T]) -> Option<T> {
    items.last().cloned()
}

/// The element at `index`, negative from the end.
pub fn at<T: Clone>(items: &[T], index: i64) -> Option<T> {
    let position = if index < 0 {
        items.len().checked_sub(usize::try_from(index.unsigned_abs()).ok()?)?
    } else {
        usize::try_from(index).ok()?
    };
    items.get(position).cloned()
}

pub fn map<T, U>(items: &[T], mut f: impl FnMut(&T) -> Result<U, EvalError>) -> Result<Vec<U>, EvalError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(f(item)?);
    }
    Ok(out)
}

pub fn filter<T: Clone>(items: &[T], mut keep: impl FnMut(&T) -> Result<bool, EvalError>) -> Result<Vec<T>, EvalError> {
    let mut out = Vec::new();
    for item in items {
        if keep(item)? {
            out.push(item.clone());
        }
    }
    Ok(out)
}

pub fn find<T: Clone>(items: &[T], mut f: impl FnMut(&T) -> Result<bool, EvalError>) -> Result<Option<T>, EvalError> {
    for item in items {
        if f(item)? {
            return Ok(Some(item.clone()));
        }
    }
    Ok(None)
}

/// Stops at the first true.
pub fn any<T>(items: &[T], mut f: impl FnMut(&T) -> Result<bool, EvalError>) -> Result<bool, EvalError> {
    for item in items {
        if f(item)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Stops at the first false.
pub fn all<T>(items: &[T], mut f: impl FnMut(&T) -> Result<bool, EvalError>) -> Result<bool, EvalError> {
    for item in items {
        if !f(item)? {
            return Ok(false);
        }
    }
    Ok(true)
}

pub fn count<T>(items: &[T], mut f: impl FnMut(&T) -> Result<bool, EvalError>) -> Result<i64, EvalError> {
    let mut count: i64 = 0;
    for item in items {
        if f(item)? {
            count += 1;
        }
    }
    Ok(count)
}

pub fn flat_map<T, U>(items: &[T], mut f: impl FnMut(&T) -> Result<Vec<U>, EvalError>) -> Result<Vec<U>, EvalError> {
    let mut out = Vec::new();
    for item in items {
        out.extend(f(item)?);
    }
    Ok(out)
}

pub fn filter_map<T, U>(
    items: &[T],
    mut f: impl FnMut(&T) -> Result<Option<U>, EvalError>,
) -> Result<Vec<U>, EvalError> {
    let mut out = Vec::new();
    for item in items {
        if let Some(value) = f(item)? {
            out.push(value);
        }
    }
    Ok(out)
}

pub fn compact<T: Clone>(items: &[Option<T>]) -> Vec<T> {
    items.iter().flatten().cloned().collect()
}

/// `f(f(f(init, x0), x1), x2)`.
pub fn fold<T, A>(items: &[T], init: A, mut f: impl FnMut(A, &T) -> Result<A, EvalError>) -> Result<A, EvalError> {
    let mut accumulator = init;
    for item in items {
        accumulator = f(accumulator, item)?;
    }
    Ok(accumulator)
}

/// Ascending, stable.
pub fn sort<T: Comparable + Clone>(items: &[T]) -> Vec<T> {
    let mut out = items.to_vec();
    out.sort_by(|a, b| a.compare(b));
    out
}

/// Ordered by `key` (computed once per element), stable in both directions.
pub fn sort_by<T: Clone, K: Comparable>(
    items: &[T],
    key: impl FnMut(&T) -> Result<K, EvalError>,
    descending: bool,
) -> Result<Vec<T>, EvalError> {
    let keys = map(items, key)?;
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| match (keys.get(a), keys.get(b)) {
        (Some(a), Some(b)) if descending => b.compare(a),
        (Some(a), Some(b)) => a.compare(b),
        _ => std::cmp::Ordering::Equal,
    });
    Ok(order.into_iter().filter_map(|index| items.get(index).cloned()).collect())
}

pub fn reverse<T: Clone>(items: &[T]) -> Vec<T> {
    items.iter().rev().cloned().collect()
}

/// Without repeats (by `==`), first occurrences in order.
pub fn unique<T: Clone + PartialEq>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// Without repeated keys (by `==`), the first element of each key in order.
pub fn unique_by<T: Clone, K: PartialEq>(
    items: &[T],
    key: impl FnMut(&T) -> Result<K, EvalError>,
) -> Result<Vec<T>, EvalError> {
    let keys = map(items, key)?;
    let mut seen: Vec<&K> = Vec::new();
    let mut out = Vec::new();
    for (item, key) in items.iter().zip(&keys) {
        if !seen.contains(&key) {
            seen.push(key);
            out.push(item.clone());
        }
    }
    Ok(out)
}

pub fn contains<T: PartialEq>(items: &[T], x: &T) -> bool {
    items.contains(x)
}

/// The first `n` elements.
pub fn take<T: Clone>(items: &[T], n: i64) -> Vec<T> {
    let n = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
    items.iter().take(n).cloned().collect()
}

/// Without the first `n` elements.
pub fn drop<T: Clone>(items: &[T], n: i64) -> Vec<T> {
    let n = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
    items.iter().skip(n).cloned().collect()
}

/// Consecutive lists of `size` elements (at least 1).
pub fn chunk<T: Clone>(items: &[T], size: i64) -> Vec<Vec<T>> {
    let size = usize::try_from(size.max(1)).unwrap_or(usize::MAX);
    items.chunks(size).map(<[T]>::to_vec).collect()
}

/// Elements grouped by key, keys in order of first appearance.
pub fn group_by<T: Clone, K: Eq + Hash + Clone>(
    items: &[T],
    mut key: impl FnMut(&T) -> Result<K, EvalError>,
) -> Result<Vec<(K, Vec<T>)>, EvalError> {
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    let mut positions: HashMap<K, usize> = HashMap::new();
    for item in items {
        let key = key(item)?;
        match positions.get(&key).and_then(|&position| groups.get_mut(position)) {
            Some((_, group)) => group.push(item.clone()),
            None => {
                positions.insert(key.clone(), groups.len());
                groups.push((key, vec![item.clone()]));
            }
        }
    }
    Ok(groups)
}

/// A map from key to element; the later element wins, at the first one's position.
pub fn index_by<T: Clone, K: Eq + Hash + Clone>(
    items: &[T],
    mut key: impl FnMut(&T) -> Result<K, EvalError>,
) -> Result<Vec<(K, T)>, EvalError> {
    let mut entries: Vec<(K, T)> = Vec::new();
    let mut positions: HashMap<K, usize> = HashMap::new();
    for item in items {
        let key = key(item)?;
        match positions.get(&key).and_then(|&position| entries.get_mut(position)) {
            Some((_, value)) => *value = item.clone(),
            None => {
                positions.insert(key.clone(), entries.len());
                entries.push((key, item.clone()));
            }
        }
    }
    Ok(entries)
}

/// The sum; 0 for an empty list; Int overflow is an error.
pub fn sum<T: Numeric>(items: &[T]) -> Result<T, EvalError> {
    items.iter().try_fold(T::zero(), |total, item| total.add(*item))
}

/// `sum(map(items, f))` without the intermediate list (generated code): the
/// same total, overflow and errors, element by element.
pub fn sum_by<T, N: Numeric>(items: &[T], mut f: impl FnMut(&T) -> Result<N, EvalError>) -> Result<N, EvalError> {
    items.iter().try_fold(N::zero(), |total, item| total.add(f(item)?))
}

/// The first smallest element.
pub fn min_of<T: Comparable + Clone>(items: &[T]) -> Option<T> {
    let mut best = items.first()?;
    for item in items {
        if item.compare(best).is_lt() {
            best = item;
        }
    }
    Some(best.clone())
}

/// The first largest element.
pub fn max_of<T: Comparable + Clone>(items: &[T]) -> Option<T> {
    let mut best = items.first()?;
    for item in items {
        if item.compare(best).is_gt() {
            best = item;
        }
    }
    Some(best.clone())
}

// ============================================================= Values

/// A hashable stand-in for values of one kind whose `==` is plain identity
/// of the key, so that `unique` and `unique_by` are linear for them.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    String(Str),
    Int(i64),
    Decimal(Decimal),
    Bool(bool),
    Enum(u32, u32),
    Instant(i128),
    Date(jiff::civil::Date),
    Duration(i64),
}

/// Keys for every value, when they all have one and are of one kind (mixing
/// kinds, `==` compares across them, and the quadratic path is used).
fn keys_of(values: &[Value]) -> Option<Vec<Key>> {
    let mut keys = Vec::with_capacity(values.len());
    let mut kind = None;
    for value in values {
        let key = match value {
            Value::String(text) => Key::String(Arc::clone(text)),
            Value::Int(value) => Key::Int(*value),
            Value::Decimal(value) => Key::Decimal(value.normalize()),
            Value::Bool(value) => Key::Bool(*value),
            Value::Enum { ty, variant } => Key::Enum(*ty, *variant),
            Value::DateTime(value) => Key::Instant(value.instant_nanos()),
            Value::Date(value) => Key::Date(*value),
            Value::Duration(value) => Key::Duration(value.millis),
            _ => return None,
        };
        let this = std::mem::discriminant(&key);
        if *kind.get_or_insert(this) != this {
            return None;
        }
        keys.push(key);
    }
    Some(keys)
}

/// The positions of the first occurrence of each distinct key.
fn first_occurrences(keys: &[Value]) -> Vec<usize> {
    match keys_of(keys) {
        Some(hashed) => {
            let mut seen = HashSet::with_capacity(hashed.len());
            hashed.into_iter().enumerate().filter(|(_, key)| seen.insert(key.clone())).map(|(index, _)| index).collect()
        }
        None => {
            let mut kept: Vec<usize> = Vec::new();
            for (index, key) in keys.iter().enumerate() {
                if !kept.iter().any(|&seen| keys.get(seen) == Some(key)) {
                    kept.push(index);
                }
            }
            kept
        }
    }
}

fn unique_values(items: &[Value]) -> Vec<Value> {
    first_occurrences(items).into_iter().filter_map(|index| items.get(index).cloned()).collect()
}

fn key_string(function: &'static str, value: Value) -> Result<Str, EvalError> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(EvalError::Native {
            function,
            message: format!("the key function must return a String, found {}", other.kind()),
        }),
    }
}

fn one(value: &Value) -> &[Value] {
    slice::from_ref(value)
}

pub(super) const NATIVES: &[Native] = native_table! {
    "len" / 1 => |_, a| Ok(Value::Int(len(a.list(0)?)));
    "is_empty" / 1 => |_, a| Ok(Value::Bool(is_empty(a.list(0)?)));
    "first" / 1 => |_, a| Ok(first(a.list(0)?).unwrap_or_default());
    "last" / 1 => |_, a| Ok(last(a.list(0)?).unwrap_or_default());
    "at" / 2 => |_, a| Ok(at(a.list(0)?, a.int(1)?).unwrap_or_default());
    "map" / 2 => |context, a| {
        let f = a.get(1);
        Ok(Value::list(map(a.list(0)?, |x| context.call(f, one(x)))?))
    };
    "filter" / 2 => |context, a| {
        let f = a.get(1);
        Ok(Value::list(filter(a.list(0)?, |x| truth("filter", context.call(f, one(x))?))?))
    };
    "find" / 2 => |context, a| {
        let f = a.get(1);
        Ok(find(a.list(0)?, |x| truth("find", context.call(f, one(x))?))?.unwrap_or_default())
    };
    "any" / 2 => |context, a| {
        let f = a.get(1);
        Ok(Value::Bool(any(a.list(0)?, |x| truth("any", context.call(f, one(x))?))?))
    };
    "all" / 2 => |context, a| {
        let f = a.get(1);
        Ok(Value::Bool(all(a.list(0)?, |x| truth("all", context.call(f, one(x))?))?))
    };
    "count" / 2 => |context, a| {
        let f = a.get(1);
        Ok(Value::Int(count(a.list(0)?, |x| truth("count", context.call(f, one(x))?))?))
    };
    "flat_map" / 2 => |context, a| {
        let f = a.get(1);
        let items = flat_map(a.list(0)?, |x| match context.call(f, one(x))? {
            Value::List(items) => Ok(items.to_vec()),
            other => Err(EvalError::Native {
                function: "flat_map",
                message: format!("the function argument must return a list, found {}", other.kind()),
            }),
        })?;
        Ok(Value::list(items))
    };
    "filter_map" / 2 => |context, a| {
        let f = a.get(1);
        let items = filter_map(a.list(0)?, |x| Ok(Some(context.call(f, one(x))?).filter(|value| !value.is_none())))?;
        Ok(Value::list(items))
    };
    "compact" / 1 => |_, a| {
        Ok(Value::list(a.list(0)?.iter().filter(|value| !value.is_none()).cloned().collect()))
    };
    "fold" / 3 => |context, a| {
        let f = a.get(2);
        fold(a.list(0)?, a.get(1).clone(), |accumulator, x| context.call(f, &[accumulator, x.clone()]))
    };
    "sort" / 1 => |_, a| Ok(Value::list(sort(a.list(0)?)));
    "sort_by" / 3 => |context, a| {
        let f = a.get(1);
        Ok(Value::list(sort_by(a.list(0)?, |x| context.call(f, one(x)), a.bool(2)?)?))
    };
    "reverse" / 1 => |_, a| Ok(Value::list(reverse(a.list(0)?)));
    "unique" / 1 => |_, a| Ok(Value::list(unique_values(a.list(0)?)));
    "unique_by" / 2 => |context, a| {
        let (items, f) = (a.list(0)?, a.get(1));
        let keys = map(items, |x| context.call(f, one(x)))?;
        Ok(Value::list(first_occurrences(&keys).into_iter().filter_map(|index| items.get(index).cloned()).collect()))
    };
    "contains" / 2 => |_, a| Ok(Value::Bool(contains(a.list(0)?, a.get(1))));
    "take" / 2 => |_, a| Ok(Value::list(take(a.list(0)?, a.int(1)?)));
    "drop" / 2 => |_, a| Ok(Value::list(drop(a.list(0)?, a.int(1)?)));
    "chunk" / 2 => |_, a| Ok(Value::list(chunk(a.list(0)?, a.int(1)?).into_iter().map(Value::list).collect()));
    "group_by" / 2 => |context, a| {
        let f = a.get(1);
        let groups = group_by(a.list(0)?, |x| key_string("group_by", context.call(f, one(x))?))?;
        Ok(Value::Map(Arc::new(groups.into_iter().map(|(key, items)| (key, Value::list(items))).collect())))
    };
    "index_by" / 2 => |context, a| {
        let f = a.get(1);
        let entries = index_by(a.list(0)?, |x| key_string("index_by", context.call(f, one(x))?))?;
        Ok(Value::Map(Arc::new(entries)))
    };
    "sum" / 1 => |_, a| super::numbers::sum_values(a.list(0)?);
    "min_of" / 1 => |_, a| Ok(min_of(a.list(0)?).unwrap_or_default());
    "max_of" / 1 => |_, a| Ok(max_of(a.list(0)?).unwrap_or_default());
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::natives::strings::{char_count, lower, split, starts_with, substring, upper};

    fn ok<T>(value: T) -> Result<T, EvalError> {
        Ok(value)
    }

    #[test]
    fn access() {
        let empty: Vec<i64> = Vec::new();
        assert_eq!(len(&[1, 2, 3]), 3);
        assert_eq!(len(&split("", ",")), 0);
        assert!(is_empty(&split("", ",")));
        assert!(!is_empty(&[0]));
        assert_eq!(first(&[1, 2]), Some(1));
        assert_eq!(first(&empty), None);
        assert_eq!(last(&[1, 2]), Some(2));
        assert_eq!(last(&empty), None);
        assert_eq!(at(&["a", "b", "c"], 1), Some("b"));
        assert_eq!(at(&["a", "b", "c"], -1), Some("c"));
        assert_eq!(at(&["a", "b", "c"], -3), Some("a"));
        assert_eq!(at(&["a", "b", "c"], -4), None);
        assert_eq!(at(&["a"], 5), None);
        assert_eq!(at(&["a"], i64::MIN), None);
        assert_eq!(at(&["a"], i64::MAX), None);
        assert_eq!(at(&empty, 0), None);
    }

    #[test]
    fn higher_order() {
        assert_eq!(map(&[1, 2, 3], |x| ok(x * 10)), Ok(vec![10, 20, 30]));
        assert_eq!(filter(&[1, 2, 3, 4], |x| ok(x % 2 == 0)), Ok(vec![2, 4]));
        assert_eq!(find(&["a", "bb", "cc"], |s| ok(char_count(s) > 1)), Ok(Some("bb")));
        assert_eq!(find(&[1, 2], |x| ok(*x > 5)), Ok(None));
        assert_eq!(any(&["bug", "p1"], |l| ok(starts_with(l, "p"))), Ok(true));
        assert_eq!(any(&split("", ","), |l| ok(l == "bug")), Ok(false));
        assert_eq!(all(&[2, 4], |x| ok(x % 2 == 0)), Ok(true));
        assert_eq!(all(&split("", ","), |l| ok(l == "bug")), Ok(true));
        assert_eq!(count(&[1, 2, 3], |x| ok(*x > 1)), Ok(2));
        assert_eq!(flat_map(&["a b", "c"], |s| ok(split(s, " "))), Ok(vec!["a".into(), "b".into(), "c".into()]));
        let parsed = filter_map(&["1", "x", "3"], |s| ok(crate::natives::numbers::parse_int(s)));
        assert_eq!(parsed, Ok(vec![1, 3]));
        assert_eq!(compact(&[Some(1), None, Some(3)]), vec![1, 3]);
        assert_eq!(fold(&[1, 2, 3], 0, |total, x| ok(total + x)), Ok(6));
        assert_eq!(fold(&["a", "b"], String::new(), |acc, s| ok(format!("{acc}{s}/"))), Ok("a/b/".to_owned()));
        assert_eq!(fold(&[] as &[i64], 7, |total, x| ok(total + x)), Ok(7));
    }

    #[test]
    fn short_circuits_and_errors() {
        let mut calls = 0;
        assert_eq!(
            any(&[1, 2, 3], |x| {
                calls += 1;
                ok(*x == 2)
            }),
            Ok(true)
        );
        assert_eq!(calls, 2);
        calls = 0;
        assert_eq!(
            all(&[1, 2, 3], |x| {
                calls += 1;
                ok(*x < 1)
            }),
            Ok(false)
        );
        assert_eq!(calls, 1);
        let failing = map(&[1, 2], |_| Err::<i64, _>(EvalError::DivisionByZero));
        assert_eq!(failing, Err(EvalError::DivisionByZero));
    }

    #[test]
    fn ordering() {
        assert_eq!(sort(&[3, 1, 2]), [1, 2, 3]);
        assert_eq!(sort(&["b", "B", "a"]), ["B", "a", "b"]);
        assert_eq!(sort(&[2.0, f64::NAN, -1.0]).iter().map(|x| x.to_string()).collect::<Vec<_>>(), ["-1", "2", "NaN"]);
        let by_length = sort_by(&["ccc", "a", "bb"], |s| ok(char_count(s)), false);
        assert_eq!(by_length, Ok(vec!["a", "bb", "ccc"]));
        let descending = sort_by(&["x1", "y3", "z3"], |s| ok(substring(s, 1, None)), true);
        assert_eq!(descending, Ok(vec!["y3", "z3", "x1"]));
        let stable = sort_by(&["b1", "a1", "c0"], |s| ok(substring(s, 1, None)), false);
        assert_eq!(stable, Ok(vec!["c0", "b1", "a1"]));
        assert_eq!(reverse(&[1, 2, 3]), [3, 2, 1]);
        assert_eq!(min_of(&[3, 1, 2]), Some(1));
        assert_eq!(max_of(&["b", "c", "a"]), Some("c"));
        assert_eq!(min_of::<i64>(&[]), None);
        assert_eq!(max_of::<i64>(&[]), None);
    }

    #[test]
    fn deduplication_and_slices() {
        assert_eq!(unique(&[1, 2, 1, 3, 2]), [1, 2, 3]);
        let emails = ["A@x.com", "a@x.com", "b@x.com"];
        assert_eq!(unique_by(&emails, |e| ok(lower(e))), Ok(vec!["A@x.com", "b@x.com"]));
        assert!(contains(&["bug", "p1"], &"p1"));
        assert!(!contains(&[1, 2], &3));
        assert_eq!(take(&[1, 2, 3], 2), [1, 2]);
        assert_eq!(take(&[1], 5), [1]);
        assert!(take(&[1], 0).is_empty());
        assert!(take(&[1], -1).is_empty());
        assert_eq!(drop(&[1, 2, 3], 2), [3]);
        assert_eq!(drop(&[1, 2, 3], 0), [1, 2, 3]);
        assert_eq!(drop(&[1, 2, 3], -5), [1, 2, 3]);
        assert!(drop(&[1, 2, 3], i64::MAX).is_empty());
        assert_eq!(chunk(&[1, 2, 3, 4, 5], 2), vec![vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(chunk(&[1, 2], 0), vec![vec![1], vec![2]]);
        assert_eq!(chunk(&[1, 2], i64::MAX), vec![vec![1, 2]]);
        assert!(chunk::<i64>(&[], 3).is_empty());
    }

    #[test]
    fn grouping_and_sums() {
        let fruit = ["apple", "avocado", "banana"];
        let groups = group_by(&fruit, |s| ok(substring(s, 0, Some(1)))).unwrap();
        assert_eq!(groups, vec![("a".to_owned(), vec!["apple", "avocado"]), ("b".to_owned(), vec!["banana"])]);
        let index = index_by(&["ab", "cd"], |s| ok(upper(s))).unwrap();
        assert_eq!(index, vec![("AB".to_owned(), "ab"), ("CD".to_owned(), "cd")]);
        let later_wins = index_by(&["a1", "b", "a2"], |s| ok(substring(s, 0, Some(1)))).unwrap();
        assert_eq!(later_wins, vec![("a".to_owned(), "a2"), ("b".to_owned(), "b")]);
        assert_eq!(sum(&[1i64, 2, 3]), Ok(6));
        assert_eq!(sum::<i64>(&[]), Ok(0));
        assert_eq!(sum(&["1.25".parse::<Decimal>().unwrap(), "2.50".parse().unwrap()]), Ok("3.75".parse().unwrap()));
        assert_eq!(sum(&[i64::MAX, 1]), Err(EvalError::Overflow("sum")));
        assert_eq!(sum(&[0.5f64, 0.25]), Ok(0.75));
    }

    fn f(function: impl Fn(&[Value]) -> Result<Value, EvalError> + 'static) -> TestFn {
        Box::new(function)
    }

    fn int_of(args: &[Value]) -> i64 {
        args.first().and_then(Value::as_int).unwrap_or(0)
    }

    fn str_of(args: &[Value]) -> &str {
        args.first().and_then(Value::as_str).unwrap_or("")
    }

    #[test]
    fn adapters() {
        let function = Value::Function(0);
        let call1 =
            |name: &str, list: Value, function_: TestFn| call_with(name, &[list, Value::Function(0)], &[function_]);
        assert_eq!(call("len", &[ints(&[1, 2, 3])]).unwrap(), Value::Int(3));
        assert_eq!(call("first", &[strs(&[])]).unwrap(), Value::None);
        assert_eq!(call("at", &[strs(&["a", "b", "c"]), Value::Int(-1)]).unwrap(), s("c"));
        assert_eq!(call1("map", ints(&[1, 2, 3]), f(|a| Ok(Value::Int(int_of(a) * 10)))).unwrap(), ints(&[10, 20, 30]));
        let even = || f(|a| Ok(Value::Bool(int_of(a) % 2 == 0)));
        assert_eq!(call1("filter", ints(&[1, 2, 3, 4]), even()).unwrap(), ints(&[2, 4]));
        assert_eq!(call1("find", ints(&[1, 3]), even()).unwrap(), Value::None);
        assert_eq!(call1("any", strs(&[]), even()).unwrap(), Value::Bool(false));
        assert_eq!(call1("all", strs(&[]), even()).unwrap(), Value::Bool(true));
        assert_eq!(call1("count", ints(&[1, 2, 4]), even()).unwrap(), Value::Int(2));
        let not_bool = call1("filter", ints(&[1]), f(|_| Ok(Value::Int(1)))).unwrap_err();
        assert!(matches!(not_bool, EvalError::Native { function: "filter", .. }));
        let words = f(|a| Ok(Value::list(split(str_of(a), " ").into_iter().map(Value::string).collect())));
        assert_eq!(call1("flat_map", strs(&["a b", "c"]), words).unwrap(), strs(&["a", "b", "c"]));
        let parse = f(|a| Ok(crate::natives::numbers::parse_int(str_of(a)).map_or(Value::None, Value::Int)));
        assert_eq!(call1("filter_map", strs(&["1", "x", "3"]), parse).unwrap(), ints(&[1, 3]));
        let maybe = Value::list(vec![Value::Int(1), Value::None, Value::Int(3)]);
        assert_eq!(call("compact", &[maybe]).unwrap(), ints(&[1, 3]));
        let add = f(|a| match a {
            [Value::Int(x), Value::Int(y)] => Ok(Value::Int(x + y)),
            _ => Err(EvalError::Other("bad".to_owned())),
        });
        assert_eq!(
            call_with("fold", &[ints(&[1, 2, 3]), Value::Int(0), function.clone()], &[add]).unwrap(),
            Value::Int(6)
        );
        assert_eq!(call("sort", &[strs(&["b", "B", "a"])]).unwrap(), strs(&["B", "a", "b"]));
        let second = || f(|a| Ok(Value::string(substring(str_of(a), 1, None))));
        let sorted =
            call_with("sort_by", &[strs(&["x1", "y3", "z3"]), function.clone(), Value::Bool(true)], &[second()]);
        assert_eq!(sorted.unwrap(), strs(&["y3", "z3", "x1"]));
        assert_eq!(call("reverse", &[ints(&[1, 2, 3])]).unwrap(), ints(&[3, 2, 1]));
        assert_eq!(call("unique", &[ints(&[1, 2, 1, 3, 2])]).unwrap(), ints(&[1, 2, 3]));
        let lowered = f(|a| Ok(Value::string(lower(str_of(a)))));
        let emails = strs(&["A@x.com", "a@x.com", "b@x.com"]);
        assert_eq!(call1("unique_by", emails, lowered).unwrap(), strs(&["A@x.com", "b@x.com"]));
        assert_eq!(call("contains", &[strs(&["bug", "p1"]), s("p1")]).unwrap(), Value::Bool(true));
        assert_eq!(call("take", &[ints(&[1, 2, 3]), Value::Int(2)]).unwrap(), ints(&[1, 2]));
        assert_eq!(call("drop", &[ints(&[1, 2, 3]), Value::Int(2)]).unwrap(), ints(&[3]));
        let chunks = call("chunk", &[ints(&[1, 2, 3, 4, 5]), Value::Int(2)]).unwrap();
        assert_eq!(chunks, Value::list(vec![ints(&[1, 2]), ints(&[3, 4]), ints(&[5])]));
        let initial = || f(|a| Ok(Value::string(substring(str_of(a), 0, Some(1)))));
        let groups = call1("group_by", strs(&["apple", "avocado", "banana"]), initial()).unwrap();
        let expected: Vec<(Str, Value)> =
            vec![("a".into(), strs(&["apple", "avocado"])), ("b".into(), strs(&["banana"]))];
        assert_eq!(groups, Value::Map(Arc::new(expected)));
        let index = call1("index_by", strs(&["a1", "b", "a2"]), initial()).unwrap();
        assert_eq!(index, Value::Map(Arc::new(vec![("a".into(), s("a2")), ("b".into(), s("b"))])));
        let bad_key = call1("group_by", ints(&[1]), f(|_| Ok(Value::Int(1)))).unwrap_err();
        assert!(matches!(bad_key, EvalError::Native { function: "group_by", .. }));
        assert_eq!(call("sum", &[ints(&[1, 2, 3])]).unwrap(), Value::Int(6));
        assert_eq!(call("sum", &[Value::list(vec![dec("1.25"), dec("2.50")])]).unwrap(), dec("3.75"));
        assert_eq!(call("min_of", &[ints(&[3, 1, 2])]).unwrap(), Value::Int(1));
        assert_eq!(call("max_of", &[strs(&["b", "c", "a"])]).unwrap(), s("c"));
        assert_eq!(call("max_of", &[strs(&[])]).unwrap(), Value::None);
    }

    #[test]
    fn unique_values_by_equality() {
        // Decimals by value, DateTimes by instant, mixed kinds by `==`.
        let values = vec![dec("1.50"), dec("1.5"), dec("2")];
        assert_eq!(unique_values(&values), vec![dec("1.50"), dec("2")]);
        let mixed = vec![Value::Int(3), dec("3.00"), Value::Float(3.0), s("3")];
        assert_eq!(unique_values(&mixed), vec![Value::Int(3), s("3")]);
        let utc = crate::value::DateTime { seconds: 5, nanos: 0, offset_seconds: 0 };
        let paris = crate::value::DateTime { offset_seconds: 3600, ..utc };
        assert_eq!(unique_values(&[Value::DateTime(utc), Value::DateTime(paris)]).len(), 1);
        let lists = vec![ints(&[1]), ints(&[1]), ints(&[2])];
        assert_eq!(unique_values(&lists), vec![ints(&[1]), ints(&[2])]);
        let floats = vec![Value::Float(f64::NAN), Value::Float(f64::NAN)];
        assert_eq!(unique_values(&floats).len(), 2);
        assert!(unique_values(&[]).is_empty());
    }
}
