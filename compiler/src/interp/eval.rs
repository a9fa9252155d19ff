//! Evaluating expressions: the hot loop of maps.

use std::cmp::Ordering;
use std::sync::Arc;

use integ_runtime::value::{Duration, Record};
use integ_runtime::{EvalError, Value, decode, encode, ops};
use rust_decimal::Decimal;

use super::{Frame, Interpreter, LAMBDA};
use crate::ir::{Expr, Literal, Part, Pattern};
use crate::syntax::ast::{BinaryOp, UnaryOp};

impl Interpreter {
    /// Evaluates `expr` in `frame`.
    pub fn eval(&self, frame: &mut Frame, expr: &Expr) -> Result<Value, EvalError> {
        match expr {
            Expr::Literal(literal) => literal_value(literal),
            Expr::Local(slot) => Ok(frame.get(*slot)),
            Expr::Secret(index) => self.secret(*index),
            Expr::Env { variable, default } => self.env(variable, default.as_deref()),
            Expr::Variant { ty, variant } => Ok(Value::Enum { ty: *ty, variant: *variant }),
            Expr::Field { base, index, .. } => match self.eval(frame, base)? {
                Value::Record(record) => Ok(record.fields.get(*index as usize).cloned().unwrap_or_default()),
                Value::None => Err(EvalError::Other("read a field of none".to_owned())),
                other => Err(EvalError::Other(format!("read a field of a {}", other.kind()))),
            },
            Expr::JsonField { base, name } => match self.eval(frame, base)? {
                Value::Json(json) => {
                    Ok(Value::Json(Arc::new(json.get(name.as_str()).cloned().unwrap_or(serde_json::Value::Null))))
                }
                Value::None => Ok(Value::None),
                other => Err(EvalError::Other(format!("read member `{name}` of a {}", other.kind()))),
            },
            Expr::Index { base, index } => {
                let base = self.eval(frame, base)?;
                let index = self.eval(frame, index)?;
                index_value(&base, &index)
            }
            Expr::Chain { base, slot, then } => match self.eval(frame, base)? {
                Value::None => Ok(Value::None),
                Value::Json(json) if json.is_null() => Ok(Value::None),
                value => {
                    frame.set(*slot, value);
                    self.eval(frame, then)
                }
            },
            Expr::Call { callee, args } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(self.eval(frame, arg)?);
                }
                match callee {
                    crate::ir::Callee::User(index) => self.call_user(*index, values, frame.depth),
                    crate::ir::Callee::Native(name) => self.call_native(name, frame, &values),
                }
            }
            Expr::FunctionValue(callee) => self.function_value(callee),
            Expr::Lambda(index) => Ok(Value::Function(LAMBDA | index)),
            Expr::Endpoint { api, endpoint, args } => {
                let Some(calls) = frame.calls.clone() else {
                    return Err(EvalError::Other("an endpoint is called from a flow or `integ call`".to_owned()));
                };
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(self.eval(frame, arg)?);
                }
                calls.call(self, *api, *endpoint, values)
            }
            Expr::Record { ty, fields } => {
                let mut values = Vec::with_capacity(fields.len());
                for field in fields {
                    values.push(self.eval(frame, field)?);
                }
                Ok(Value::Record(Arc::new(Record { ty: *ty, fields: values.into_boxed_slice() })))
            }
            Expr::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.eval(frame, item)?);
                }
                Ok(Value::list(values))
            }
            Expr::Map(entries) => {
                let mut values = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    values.push((Arc::from(key.as_str()), self.eval(frame, value)?));
                }
                Ok(Value::Map(Arc::new(values)))
            }
            Expr::Interpolate(parts) => {
                let mut text = String::new();
                for part in parts {
                    match part {
                        Part::Text(piece) => text.push_str(piece),
                        Part::Value(value, _) => {
                            let value = self.eval(frame, value)?;
                            text.push_str(&encode::text(&value, &self.schema));
                        }
                    }
                }
                Ok(Value::string(text))
            }
            Expr::Unary { op, operand } => unary(*op, self.eval(frame, operand)?),
            Expr::Binary { op, lhs, rhs } => {
                let left = self.eval(frame, lhs)?;
                let right = self.eval(frame, rhs)?;
                binary(*op, left, right)
            }
            Expr::And(lhs, rhs) => match self.eval(frame, lhs)? {
                Value::Bool(false) => Ok(Value::Bool(false)),
                _ => self.eval(frame, rhs),
            },
            Expr::Or(lhs, rhs) => match self.eval(frame, lhs)? {
                Value::Bool(true) => Ok(Value::Bool(true)),
                _ => self.eval(frame, rhs),
            },
            Expr::Coalesce(lhs, rhs) => match self.eval(frame, lhs)? {
                Value::None => self.eval(frame, rhs),
                Value::Json(json) if json.is_null() => self.eval(frame, rhs),
                value => Ok(value),
            },
            Expr::If { condition, then, otherwise } => match self.eval(frame, condition)? {
                Value::Bool(true) => self.eval(frame, then),
                _ => self.eval(frame, otherwise),
            },
            Expr::Match { scrutinee, arms } => {
                let value = self.eval(frame, scrutinee)?;
                for arm in arms {
                    if arm.patterns.iter().any(|pattern| matches_pattern(pattern, &value)) {
                        return self.eval(frame, &arm.value);
                    }
                }
                Err(EvalError::Other(format!("no `match` arm for this {}", value.kind())))
            }
            Expr::Block { lets, result } => {
                for (slot, value) in lets {
                    let value = self.eval(frame, value)?;
                    frame.set(*slot, value);
                }
                self.eval(frame, result)
            }
            Expr::ToJson { value, ty } => {
                let value = self.eval(frame, value)?;
                if matches!(value, Value::Json(_)) {
                    return Ok(value);
                }
                let desc = self.desc(ty);
                Ok(Value::Json(Arc::new(encode::to_json_value(&value, &desc, &self.schema)?)))
            }
            Expr::FromJson { value, ty, root } => match self.eval(frame, value)? {
                Value::Json(json) => {
                    let desc = self.desc(ty);
                    Ok(decode::from_json(&json, &desc, &self.schema, root)?)
                }
                other => Ok(other),
            },
            Expr::Fixture { path, ty } => self.fixture(path, ty),
            Expr::Invalid => Err(EvalError::Other("this expression did not check".to_owned())),
        }
    }
}

fn literal_value(literal: &Literal) -> Result<Value, EvalError> {
    Ok(match literal {
        Literal::None => Value::None,
        Literal::Bool(value) => Value::Bool(*value),
        Literal::Int(value) => Value::Int(*value),
        Literal::Float(value) => Value::Float(*value),
        Literal::Decimal { text, mantissa, scale } => Value::Decimal(
            Decimal::try_from_i128_with_scale(*mantissa, *scale)
                .or_else(|_| text.parse::<Decimal>())
                .map_err(|error| EvalError::Other(format!("decimal literal `{text}`: {error}")))?,
        ),
        Literal::String(text) => Value::string(text.as_str()),
        Literal::Duration { millis } => Value::Duration(Duration { millis: *millis }),
    })
}

fn matches_pattern(pattern: &Pattern, value: &Value) -> bool {
    match pattern {
        Pattern::Wildcard => true,
        Pattern::None => matches!(value, Value::None),
        Pattern::Variant { ty, variant } => {
            matches!(value, Value::Enum { ty: t, variant: v } if t == ty && v == variant)
        }
        Pattern::Literal(literal) => literal_value(literal).is_ok_and(|literal| literal == *value),
    }
}

fn index_value(base: &Value, index: &Value) -> Result<Value, EvalError> {
    match (base, index) {
        (Value::List(items), Value::Int(position)) => {
            Ok(usize::try_from(*position).ok().and_then(|position| items.get(position)).cloned().unwrap_or_default())
        }
        (Value::Map(entries), Value::String(key)) => {
            Ok(entries.iter().find(|(name, _)| name == key).map(|(_, value)| value.clone()).unwrap_or_default())
        }
        (Value::Json(json), Value::Int(position)) => Ok(Value::Json(Arc::new(
            usize::try_from(*position)
                .ok()
                .and_then(|position| json.get(position))
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        ))),
        (Value::Json(json), Value::String(key)) => {
            Ok(Value::Json(Arc::new(json.get(&**key).cloned().unwrap_or(serde_json::Value::Null))))
        }
        (Value::None, _) => Ok(Value::None),
        (base, index) => Err(EvalError::Other(format!("cannot index a {} with a {}", base.kind(), index.kind()))),
    }
}

fn unary(op: UnaryOp, value: Value) -> Result<Value, EvalError> {
    match (op, value) {
        (UnaryOp::Not, Value::Bool(value)) => Ok(Value::Bool(!value)),
        (UnaryOp::Neg, Value::Int(value)) => value.checked_neg().map(Value::Int).ok_or(EvalError::Overflow("-")),
        (UnaryOp::Neg, Value::Float(value)) => Ok(Value::Float(-value)),
        (UnaryOp::Neg, Value::Decimal(value)) => Ok(Value::Decimal(-value)),
        (UnaryOp::Neg, Value::Duration(duration)) => duration
            .millis
            .checked_neg()
            .map(|millis| Value::Duration(Duration { millis }))
            .ok_or(EvalError::Overflow("-")),
        (op, value) => Err(EvalError::Other(format!("`{}` cannot apply to a {}", op.as_str(), value.kind()))),
    }
}

/// Arithmetic and comparison on values (§ 5.4 and § 5.5 of spec.md).
pub(crate) fn binary(op: BinaryOp, left: Value, right: Value) -> Result<Value, EvalError> {
    use BinaryOp::*;
    match op {
        Eq => return Ok(Value::Bool(left == right)),
        Ne => return Ok(Value::Bool(left != right)),
        Lt | Le | Gt | Ge => {
            let ordering = left
                .compare(&right)
                .ok_or_else(|| EvalError::Other(format!("cannot order a {} and a {}", left.kind(), right.kind())))?;
            let result = match op {
                Lt => ordering == Ordering::Less,
                Le => ordering != Ordering::Greater,
                Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            };
            return Ok(Value::Bool(result));
        }
        _ => {}
    }
    let symbol = op.as_str();
    let arith = match op {
        Add => ops::Op::Add,
        Sub => ops::Op::Sub,
        Mul => ops::Op::Mul,
        Div => ops::Op::Div,
        Rem => ops::Op::Rem,
        _ => return Err(invalid(symbol, left.kind(), right.kind())),
    };
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => ops::int(arith, a, b).map(Value::Int),
        (Value::Decimal(a), Value::Decimal(b)) => ops::decimal(arith, a, b).map(Value::Decimal),
        (Value::Decimal(a), Value::Int(b)) => ops::decimal(arith, a, Decimal::from(b)).map(Value::Decimal),
        (Value::Int(a), Value::Decimal(b)) => ops::decimal(arith, Decimal::from(a), b).map(Value::Decimal),
        (Value::Float(a), Value::Float(b)) => ops::float(arith, a, b).map(Value::Float),
        (Value::Float(a), Value::Int(b)) => ops::float(arith, a, b as f64).map(Value::Float),
        (Value::Int(a), Value::Float(b)) => ops::float(arith, a as f64, b).map(Value::Float),
        (Value::String(a), Value::String(b)) if op == Add => Ok(Value::string(ops::concat(&a, &b))),
        (Value::List(a), Value::List(b)) if op == Add => Ok(Value::list(ops::concat_lists(&a, &b))),
        (Value::DateTime(a), Value::Duration(b)) if matches!(op, Add | Sub) => {
            ops::datetime_shift(a, arith, b).map(Value::DateTime)
        }
        (Value::DateTime(a), Value::DateTime(b)) if op == Sub => ops::datetime_between(a, b).map(Value::Duration),
        (Value::Date(a), Value::Duration(b)) if matches!(op, Add | Sub) => {
            ops::date_shift(a, arith, b).map(Value::Date)
        }
        (Value::Duration(a), Value::Duration(b)) if matches!(op, Add | Sub) => {
            ops::duration(arith, a, b).map(Value::Duration)
        }
        (Value::Duration(a), Value::Int(b)) if matches!(op, Mul | Div) => {
            ops::duration_scale(arith, a, b).map(Value::Duration)
        }
        (a, b) => Err(invalid(symbol, a.kind(), b.kind())),
    }
}

fn invalid(op: &str, left: &str, right: &str) -> EvalError {
    EvalError::Other(format!("`{op}` cannot apply to a {left} and a {right}"))
}
