//! Optionals: `map_some`, `and_then` and `required`.

use super::{Native, native_table};
use crate::error::EvalError;
use crate::value::Value;

/// `f` applied to the value of `x`, or none.
pub fn map_some<T, U>(x: Option<T>, f: impl FnOnce(T) -> Result<U, EvalError>) -> Result<Option<U>, EvalError> {
    x.map(f).transpose()
}

/// `f` applied to the value of `x` (which may itself give none), or none.
pub fn and_then<T, U>(x: Option<T>, f: impl FnOnce(T) -> Result<Option<U>, EvalError>) -> Result<Option<U>, EvalError> {
    Ok(x.map(f).transpose()?.flatten())
}

/// The value of `x`; an error "`what` is missing" when it is none.
pub fn required<T>(x: Option<T>, what: &str) -> Result<T, EvalError> {
    x.ok_or_else(|| EvalError::Native { function: "required", message: format!("{what} is missing") })
}

fn present(value: &Value) -> Option<&Value> {
    (!value.is_none()).then_some(value)
}

pub(super) const NATIVES: &[Native] = native_table! {
    "map_some" / 2 => |context, a| {
        let f = a.get(1);
        Ok(map_some(present(a.get(0)), |x| context.call(f, std::slice::from_ref(x)))?.unwrap_or_default())
    };
    "and_then" / 2 => |context, a| {
        let f = a.get(1);
        let result = and_then(present(a.get(0)), |x| Ok(Some(context.call(f, std::slice::from_ref(x))?)))?;
        Ok(result.unwrap_or_default())
    };
    "required" / 2 => |_, a| required(present(a.get(0)).cloned(), a.string(1)?);
};

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn plus_one() -> TestFn {
        Box::new(|args| match args {
            [Value::Int(n)] => Ok(Value::Int(n + 1)),
            _ => Err(EvalError::Other("bad arguments".to_owned())),
        })
    }

    fn parse() -> TestFn {
        Box::new(|args| match args {
            [Value::String(text)] => Ok(super::super::numbers::parse_int(text).map_or(Value::None, Value::Int)),
            _ => Err(EvalError::Other("bad arguments".to_owned())),
        })
    }

    #[test]
    fn typed() {
        assert_eq!(map_some(Some(41), |n| Ok(n + 1)), Ok(Some(42)));
        assert_eq!(map_some(None::<i64>, |n| Ok(n + 1)), Ok(None));
        assert_eq!(and_then(Some("42"), |s| Ok(s.parse::<i64>().ok())), Ok(Some(42)));
        assert_eq!(and_then(Some("x"), |s| Ok(s.parse::<i64>().ok())), Ok(None));
        assert_eq!(and_then(None::<&str>, |s| Ok(s.parse::<i64>().ok())), Ok(None));
        assert_eq!(required(Some(7), "quantity"), Ok(7));
        assert_eq!(
            required(None::<i64>, "quantity"),
            Err(EvalError::Native { function: "required", message: "quantity is missing".to_owned() })
        );
        // An error of the function is passed on.
        let failed = map_some(Some(1), |_| Err::<i64, _>(EvalError::DivisionByZero));
        assert_eq!(failed, Err(EvalError::DivisionByZero));
    }

    #[test]
    fn examples() {
        let f = Value::Function(0);
        // parse_int("41").map_some(n => n + 1) == 42
        assert_eq!(call_with("map_some", &[Value::Int(41), f.clone()], &[plus_one()]).unwrap(), Value::Int(42));
        // parse_int("x").map_some(n => n + 1) == none (f is not called)
        assert_eq!(call_with("map_some", &[Value::None, f.clone()], &[]).unwrap(), Value::None);
        // nonblank(" 42 ").and_then(s => parse_int(s)) == 42
        assert_eq!(call_with("and_then", &[s("42"), f.clone()], &[parse()]).unwrap(), Value::Int(42));
        assert_eq!(call_with("and_then", &[s("x"), f.clone()], &[parse()]).unwrap(), Value::None);
        // nonblank("").and_then(s => parse_int(s)) == none
        assert_eq!(call_with("and_then", &[Value::None, f], &[]).unwrap(), Value::None);
        // required(parse_int("7"), "quantity") == 7
        assert_eq!(call("required", &[Value::Int(7), s("quantity")]).unwrap(), Value::Int(7));
        let error = call("required", &[Value::None, s("quantity")]).unwrap_err();
        assert_eq!(error.to_string(), "`required`: quantity is missing");
    }
}
