//! Run-time errors of evaluation and decoding.
//!
//! Calls fail with [`crate::http::CallError`]; evaluating an expression fails
//! with [`EvalError`] (a division by zero, an overflow, a native given input
//! it rejects); decoding fails with [`DecodeError`], which names the place in
//! the document: `body.orders[3].total_cents: expected Int, found string "12.5"`.

/// A value did not match its declared type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DecodeError {
    /// Where, from the decode site's root: `body.orders[3].total_cents`.
    pub path: String,
    /// What was expected and found: `expected Int, found string "12.5"`.
    pub message: String,
}

/// Evaluation failed. A flow dead-letters the record it was working on.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("division by zero")]
    DivisionByZero,
    #[error("arithmetic overflow in `{0}`")]
    Overflow(&'static str),
    /// A native function rejected its input.
    #[error("`{function}`: {message}")]
    Native { function: &'static str, message: String },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A value could not be encoded (a Float that is NaN, say).
    #[error("cannot encode: {0}")]
    Encode(String),
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
}
