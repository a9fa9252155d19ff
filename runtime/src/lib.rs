//! integ-runtime: the small async runtime that both of integ's back ends
//! target — the interpreter and the generated Rust.
//!
//! - [`value`]: the values programs compute with; [`types`]: the program's
//!   types as the runtime needs them;
//! - [`decode`] and [`encode`]: JSON, forms, XML and text, by declared type;
//!   [`wire`]: the same JSON and text for generated code's typed values;
//! - [`http`]: requests with auth, policies (timeouts, retries, backoff,
//!   `Retry-After`, circuit breakers, rate limits, concurrency) and pagination;
//! - [`natives`]: the natives of the standard library;
//! - [`run`]: the bookkeeping of a flow run (commits, checkpoints, dedupe
//!   keys, dead letters, counters), held by both back ends' runners;
//! - [`secret`]: secrets and their redaction everywhere;
//! - [`webhook`]: inbound webhooks: signature schemes and the router.
//!
//! The contract is `spec.md` at the root of the repository. Dependencies
//! point one way: this crate knows nothing of the compiler.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod decode;
pub mod encode;
pub mod error;
pub mod generated;
pub mod http;
pub mod natives;
pub mod ops;
pub mod run;
pub mod secret;
pub mod store;
pub mod types;
pub mod value;
pub mod webhook;
pub mod wire;

pub use error::{DecodeError, EvalError};
pub use types::{Schema, TypeDesc};
pub use value::Value;

// The types generated code holds, under the names it uses.
pub use jiff::civil::Date;
pub use rust_decimal::Decimal;
pub use serde_json::Value as Json;

/// The version in the `User-Agent` of every request: `integ/<version>`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
