//! The HTTP layer: requests with auth, policies and pagination (§ 8, § 10,
//! § 11 and § 16.2–16.4 of spec.md).
//!
//! It knows nothing of integ's syntax or of the interpreter: it takes plain
//! Rust configuration and requests, so that the interpreter and generated
//! code use it alike.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use integ_runtime::http::*;
//! use integ_runtime::secret::Secret;
//!
//! let policy = Policy { timeout: Duration::from_secs(10), attempts: 5, ..Policy::default() };
//! let crm = ApiClient::new(
//!     ApiConfig::new("Crm", "https://crm.example.com/v1")
//!         .auth(Auth::Bearer(Secret::new(std::env::var("CRM_TOKEN")?)))
//!         .policy(policy)
//!         .errors(vec![ErrorArm::new([StatusPattern::Class(5)], "Unavailable")]),
//! )?;
//! let upsert = EndpointOptions::new("upsert_contact").idempotent(true);
//! let request = Request::builder(Method::POST)
//!     .path(PathTemplate::literal_path("/contacts"))
//!     .body(Body::json(br#"{"email":"ann@example.com"}"#.to_vec()))
//!     .build()?;
//! let response = crm.send(request, &upsert).await?;
//! # let _ = response; Ok(()) }
//! ```
//!
//! The parts:
//!
//! - [`request`]: [`Request`] and its builder — path templates whose values
//!   are percent-encoded as single segments, ordered query pairs, validated
//!   headers, bodies, idempotency keys.
//! - [`auth`]: [`Auth`] (the schemes of § 8) and [`SharedAuth`] (a scheme in
//!   use, with its OAuth2 token cache and single-flight refresh; HMAC
//!   signing).
//! - [`policy`]: [`Policy`] with the built-in default, backoff, jitter and
//!   `Retry-After` computations, seedable randomness.
//! - [`breaker`] and [`limits`]: the circuit breaker, the GCRA rate limiter
//!   and the concurrency limit an api's calls share.
//! - [`ApiClient::send`]: one call, step by step (§ 16.2 steps 3 and 4).
//! - [`paginate`]: the [`Pager`] that drives a stream's pages.
//! - [`errors`]: [`CallError`] and status mapping.
//!
//! **One call.** For each attempt: the breaker (open: `CircuitOpen`, no
//! request); a concurrency slot; credentials (a cached or fresh OAuth2
//! token); a rate-limit slot; the HMAC signature; the request, under the
//! attempt's timeout (the whole exchange, redirects and body included); the
//! outcome — a status, `timeout` or `connection`. A 401 to a request that
//! carried an OAuth2 token refreshes the token and repeats the request once,
//! without counting an attempt. A failure listed in `retry_on` is retried
//! while attempts remain and the delay ends before the deadline; a POST or
//! PATCH only when the request has an idempotency key or the endpoint is
//! `idempotent`. The delay is the backoff with jitter, or the `Retry-After`
//! value (seconds or HTTP-date, no jitter, capped at the backoff's maximum).
//! The final status is mapped through the endpoint's arms, then the api's:
//! an error name, `none`, a success, or the built-in `Http`.
//!
//! **The rate-limit slot is taken last**, just before signing and sending
//! (§ 16.2 lists "a rate-limit slot and a concurrency slot" before the
//! credentials): a request that waited for a concurrency slot or a token
//! would otherwise leave right after another, closer than the rate allows.
//!
//! **The deadline** bounds every wait (for a concurrency slot, a token, a
//! rate-limit slot), every attempt and every delay. When it passes during a wait
//! or an attempt the call fails with [`CallErrorKind::Deadline`] (the error
//! `Timeout`); when the delay before the next attempt would end after it,
//! the call fails at once with the last attempt's failure.
//!
//! **Time** is tokio's clock everywhere (timeouts, delays, the rate limiter,
//! the breaker, token expiry), so tests and `integ test` can run on paused
//! time; the wall clock, read for `Retry-After` dates and HMAC timestamps,
//! can be replaced with [`ApiConfig::wall_clock`].
//!
//! **Redaction.** Every message, log line and URL this layer produces goes
//! through [`crate::secret::redact`]; recorded requests and responses (for
//! dead letters) show credentials and secret headers as `<redacted>`.
//! Every request and decision is logged with `tracing` at `debug` (fields
//! `api`, `endpoint`, `method`, `url`, `status`, `attempt`, `duration_ms`),
//! and retries at `warn` as § 16.8 says.
//!
//! **The HTTP client** (§ 16.3): reqwest with rustls, HTTP/1.1 and HTTP/2,
//! gzip and brotli, one connection pool per api, the proxy variables
//! honoured, `User-Agent: integ/<version>` unless the program sets one.
//! Redirects are followed by this layer, not reqwest: 301, 302 and 303 for
//! GET and HEAD, 307 and 308 for every method, at most 10 in a row;
//! credentials are only ever applied to requests to the api's own origin.

pub mod auth;
pub mod breaker;
mod client;
pub mod errors;
pub mod limits;
pub mod paginate;
pub mod policy;
pub mod request;

pub use auth::{
    ApiKeyLocation, Auth, AuthStyle, Canonical, CanonicalField, CanonicalFn, CanonicalPart, CanonicalTemplate,
    Credential, HmacAlgorithm, HmacAuth, OAuth2ClientCredentials, OAuth2RefreshToken, SharedAuth, SignatureEncoding,
    SigningInput, hmac_signature,
};
pub use breaker::{BreakerState, CircuitBreaker};
pub use client::{
    ApiClient, ApiConfig, EndpointOptions, MAX_REDIRECTS, Response, WallClock, parse_base_url, same_origin,
    validate_header,
};
pub use errors::{
    CallError, CallErrorDetails, CallErrorKind, ConfigError, ErrorArm, ErrorTarget, RecordedRequest, RecordedResponse,
    StatusMapping, map_status,
};
pub use limits::Limits;
pub use paginate::{PageOutcome, PageStyle, Pager, PagerOptions};
pub use policy::{Backoff, BreakerConfig, DelayRng, Jitter, Policy, Rate, RetryOn, StatusPattern};
pub use request::{Body, Header, IdempotencyKey, Method, PathTemplate, Request, RequestBuilder, RequestError};
