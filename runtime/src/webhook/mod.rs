//! Inbound webhooks (§ 12.3 of spec.md): signature schemes, body limits and
//! the router that serves webhook flows.
//!
//! In: one [`Route`] per webhook flow (its path, [`Scheme`] with secrets
//! already read, and body limit) and a [`Sink`] that decodes, deduplicates
//! and durably stores accepted events. Out: an axum [`axum::Router`] that
//! answers each request as § 12.3 says — `404`, `405`, `413`, `401`, `415`,
//! `400`, `200` (duplicate), `503` or `202` — with a JSON body.
//!
//! `integ run` serves it with [`serve`]; generated code exposes the same
//! router, so that an application mounts its webhooks in its own axum app:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use integ_runtime::webhook::{self, Accepted, Inbound, Refused, Route, Scheme, Sink};
//! struct Print;
//! impl Sink for Print {
//!     fn accept(&self, event: Inbound) -> Result<Accepted, Refused> {
//!         println!("{} bytes for {}", event.body.len(), event.flow);
//!         Ok(Accepted::Duplicate)
//!     }
//! }
//! let route = Route { flow: "on_issue".into(), path: "/hooks/github".into(), scheme: Scheme::None, max_body: 1 << 20 };
//! let hooks = webhook::router(vec![route], Arc::new(Print), webhook::Options::default()).unwrap();
//! let app: axum::Router = axum::Router::new().merge(hooks);
//! ```

pub mod body;
pub mod queue;
mod server;
pub mod signature;

pub use queue::{Admit, QueueSink, delivery_key_header, work};
pub use server::{
    Accepted, Inbound, Now, Options, Refused, Route, RouteError, Sink, kept_headers, not_found, router, serve,
};
pub use signature::{Algorithm, Canonical, Encoding, HmacScheme, Key, Scheme, SignatureError, Signed};
