//! Maps (`{String: T}`): insertion-ordered entries, read by key.
//!
//! The typed functions take a map as its entries, `&[(K, T)]` with string
//! keys, in the map's order.

use super::{Native, native_table};
use crate::value::Value;

/// The keys, in the map's order.
pub fn keys<K: Clone + AsRef<str>, T>(entries: &[(K, T)]) -> Vec<K> {
    entries.iter().map(|(key, _)| key.clone()).collect()
}

/// The values, in the map's order.
pub fn values<K, T: Clone>(entries: &[(K, T)]) -> Vec<T> {
    entries.iter().map(|(_, value)| value.clone()).collect()
}

/// The value at `key`.
pub fn get<'m, K: AsRef<str>, T>(entries: &'m [(K, T)], key: &str) -> Option<&'m T> {
    entries.iter().find(|(candidate, _)| candidate.as_ref() == key).map(|(_, value)| value)
}

pub fn has_key<K: AsRef<str>, T>(entries: &[(K, T)], key: &str) -> bool {
    get(entries, key).is_some()
}

pub(super) const NATIVES: &[Native] = native_table! {
    "keys" / 1 => |_, a| Ok(Value::list(keys(a.map(0)?).into_iter().map(Value::String).collect()));
    "values" / 1 => |_, a| Ok(Value::list(values(a.map(0)?)));
    "get" / 2 => |_, a| Ok(get(a.map(0)?, a.string(1)?).cloned().unwrap_or_default());
    "has_key" / 2 => |_, a| Ok(Value::Bool(has_key(a.map(0)?, a.string(1)?)));
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::value::Str;
    use std::sync::Arc;

    fn map(entries: &[(&str, i64)]) -> Value {
        Value::Map(Arc::new(entries.iter().map(|(key, value)| (Str::from(*key), Value::Int(*value))).collect()))
    }

    #[test]
    fn typed() {
        let entries = vec![("b".to_owned(), 1), ("a".to_owned(), 2)];
        assert_eq!(keys(&entries), ["b", "a"]);
        assert_eq!(values(&entries), [1, 2]);
        assert_eq!(get(&entries, "a"), Some(&2));
        assert_eq!(get(&entries, "z"), None);
        assert!(has_key(&entries, "b"));
        assert!(!has_key(&entries, ""));
        let empty: Vec<(String, i64)> = Vec::new();
        assert!(keys(&empty).is_empty());
        assert_eq!(get(&empty, "a"), None);
    }

    #[test]
    fn examples() {
        // keys(index_by(["b", "a"], s => s)) == ["b", "a"]
        let m = map(&[("b", 1), ("a", 2)]);
        assert_eq!(call("keys", std::slice::from_ref(&m)).unwrap(), strs(&["b", "a"]));
        // values(...) keep the map's order
        assert_eq!(call("values", std::slice::from_ref(&m)).unwrap(), ints(&[1, 2]));
        // get(index_by(["x"], s => s), "x") == "x"; "z" gives none
        assert_eq!(call("get", &[m.clone(), s("a")]).unwrap(), Value::Int(2));
        assert_eq!(call("get", &[m.clone(), s("z")]).unwrap(), Value::None);
        // has_key(index_by(["x"], s => s), "x") == true
        assert_eq!(call("has_key", &[m.clone(), s("b")]).unwrap(), Value::Bool(true));
        assert_eq!(call("has_key", &[m, s("z")]).unwrap(), Value::Bool(false));
        assert_eq!(call("keys", &[map(&[])]).unwrap(), Value::list(vec![]));
    }
}
