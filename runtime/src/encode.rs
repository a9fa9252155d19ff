//! Encoding values: JSON (§ 15.3 of spec.md), the text form of interpolation
//! (§ 15.4), form-urlencoded pairs and XML for request bodies.

use crate::error::EvalError;
use crate::types::{Schema, TypeDesc};
use crate::value::Value;

/// Appends the compact JSON of `value` (of type `ty`) to `out`.
pub fn json(value: &Value, ty: &TypeDesc, schema: &Schema, out: &mut Vec<u8>) -> Result<(), EvalError> {
    let _ = (value, ty, schema, out);
    Err(EvalError::Other("JSON encoding is not implemented yet".to_owned()))
}

/// `value` as a `serde_json::Value` (for `Json` conversions).
pub fn to_json_value(value: &Value, ty: &TypeDesc, schema: &Schema) -> Result<serde_json::Value, EvalError> {
    let mut bytes = Vec::new();
    json(value, ty, schema, &mut bytes)?;
    serde_json::from_slice(&bytes).map_err(|error| EvalError::Encode(error.to_string()))
}

/// The text form of a scalar, as string interpolation shows it.
pub fn text(value: &Value, schema: &Schema) -> String {
    let _ = schema;
    format!("{value:?}")
}

/// Form fields (`application/x-www-form-urlencoded`) of a record: one pair
/// per scalar field, repeated for lists, left out for none.
pub fn form(value: &Value, ty: &TypeDesc, schema: &Schema) -> Result<Vec<(String, String)>, EvalError> {
    let _ = (value, ty, schema);
    Err(EvalError::Other("form encoding is not implemented yet".to_owned()))
}

/// An XML document whose root element is `root`.
pub fn xml(value: &Value, ty: &TypeDesc, schema: &Schema, root: &str) -> Result<String, EvalError> {
    let _ = (value, ty, schema, root);
    Err(EvalError::Other("XML encoding is not implemented yet".to_owned()))
}
