//! Local stand-ins of a program's apis: `integ mock FILE`, and the servers
//! `integ run --mock` sends every request to. No network beyond loopback,
//! no credentials.
//!
//! In: the lowered [`ir::Program`], its runtime [`Schema`] and
//! [`StandInOptions`]. Out: [`StandIns`], one running axum server per api on
//! loopback, with the base URL to use for each (and [`StandIns::redirects`],
//! which [`Interpreter::connect_with`](super::Interpreter::connect_with)
//! takes), the writes they received and counters of what they served.
//!
//! # Servers and addresses
//!
//! Every api gets its own HTTP/1.1 server on loopback. Its base URL is
//! `http://ADDRESS` followed by the *path* of the api's declared base URL
//! (`/admin/api/2024-04` stays `/admin/api/2024-04`; a trailing `/` is
//! dropped). The declared base URL is what the `base_url` clause says
//! without reading the environment: a literal, or the default of
//! `env("VAR", "default")` (the variable's name is reported as
//! [`StandInApi::variable`]).
//!
//! - [`Bind::Ephemeral`] (the default, for `integ run --mock` and tests):
//!   `127.0.0.1` and a free port.
//! - [`Bind::Declared`] (`integ mock`): the host and port of the declared
//!   base URL when it is an `http://` URL on a loopback address
//!   (`127.0.0.0/8`, `::1` or `localhost`, which binds `127.0.0.1`) and the
//!   port is free, so that programs reach the stand-in without
//!   configuration; otherwise `127.0.0.1` and a free port.
//!
//! # Routing
//!
//! A request is matched, after the base path, against each endpoint's method
//! (`HEAD` as `GET`) and path template: literal text must be equal (after percent-decoding the
//! request), and each interpolation matches any non-empty text within one
//! segment. When several templates match, the one with a literal segment
//! where the others have a parameter wins (leftmost first). Trailing slashes
//! are ignored. No match is `404`; a path that matches with another method is
//! `405`. Both answer a JSON body that says what the stand-in serves.
//!
//! # Auth
//!
//! Any credential is accepted, but one must be present when the api declares
//! a scheme, to catch wiring mistakes: `bearer` and the OAuth2 schemes need
//! `Authorization: Bearer ...`, `basic` needs `Authorization: Basic ...`,
//! `api_key` its header or query parameter, `hmac` its signature header
//! (default `X-Signature`). Without it the answer is `401` with a JSON body
//! naming what is missing. Header and parameter names that are not literals
//! in the program are not checked.
//!
//! The OAuth2 token endpoint is served too: a `POST` to the path of the
//! auth's `token_url` answers `200` with
//! `{"access_token":"mock-token","token_type":"bearer","expires_in":3600}`,
//! whatever the form says. It is served by the api's own server (that is the
//! `token_url` [`StandIns::redirects`] gives, whatever the declared one), and
//! with [`Bind::Declared`], when the declared `token_url` is on another
//! loopback address than the api's, also by a server of its own at that
//! address when it is free. [`StandInApi::token_url`] is where the token
//! endpoint can be reached.
//!
//! # Data
//!
//! For each endpoint, the stand-in serves the fixture
//! `FIXTURES/<Api>.<endpoint>.json` when it exists (`FIXTURES` is
//! [`StandInOptions::fixtures`], for `integ mock` the `fixtures` directory
//! next to the program): for a stream endpoint a JSON array of records, for a
//! single result one value (each record or value is served exactly as
//! written). Otherwise it serves **deterministic fake data** generated from
//! the declared types, the same on every start (the generator is seeded by
//! `Api.endpoint`):
//!
//! - a stream has [`StandInOptions::records`] records (default 25; per
//!   endpoint [`EndpointSetup::records`]);
//! - strings follow the field's name: `email` → `user1@example.com`,
//!   `first_name`, `last_name`, `name` → people's names, `phone`,
//!   `country`/`country_code` (ISO codes), `city`, `currency`, `street`,
//!   `zip`/`postal_code`, `url`, `sku`, `company`, `note`..., a String `id`
//!   → `order-1` (after the record's name), `*_id` → `customer-1`, any other
//!   field → `"<field> 1"`;
//! - `Int` `id` and `*_id` fields count up from 1001; counts and quantities
//!   are 1–5, amounts (`*_cents`, `price`, `total`, `amount`...) 100–50000,
//!   other Ints 1–100; `Decimal`s have 2 decimal places; `Float`s too;
//! - `DateTime`s increase by an hour from `2024-01-01T00:00:00Z` (`updated*`
//!   and `modified*` fields half an hour later), `Date`s by a day from
//!   `2024-01-01`, `Duration`s are 1–120 minutes;
//! - enums cycle through their variants; `Bool`s are random (`test`,
//!   `deleted`, `archived`... mostly false);
//! - an optional field is none about one time in four (a top-level result
//!   never is); a list has 1–3 items, a map 1–2 entries, `Json` is
//!   `{"id": n}`; nesting stops after a few levels.
//!
//! Counters (ids, emails, dates, variants) are kept per record type and
//! field, so the records of a stream have increasing ids `1001, 1002, ...`.
//!
//! # Bodies (§ 13.1 of spec.md)
//!
//! Values are encoded as in production ([`encode::json`], wire names and
//! formats). For a single result with `select body.a.b`, the value is placed
//! at that path in a body whose other fields are zero values (`0`, `""`,
//! `false`, `[]`, `{}`, the first variant, `1970-01-01T00:00:00Z`, `null`,
//! absent for optionals); an index (`body.results[0]`) makes a list. A stream
//! page's records are placed at the `records` path the same way (without
//! `records`, the body is the list). Records are cut into pages, each request
//! computing its page from its own parameters:
//!
//! | Style | Page size | The stand-in reads | The stand-in sets |
//! |---|---|---|---|
//! | none | all records | — | — |
//! | `cursor` | [`StandInOptions::page_size`] (default 10) | the `param` cursor | `next`: a token (`"cursor-10"`, or the number `10` when `next` is an Int) on every page but the last, where it is `null` (`""` for a String, `0` for an Int with `has_more`); `has_more`: true, then false |
//! | `cursor(next: <records>.last()?.f)` | page size | the `param`: the `f` of the last record seen | `has_more` when declared; the page after the last is empty |
//! | `page` | `size`, else page size | `param` (from `start`) | `stop`: false, then true on the last page; a full last page is followed by an empty one |
//! | `offset` | the `limit_param` sent (else `limit`, else 100) | `param` | `stop` as for `page` |
//! | `link_header` | page size | `mock_offset` | `Link: <URL>; rel="next"` on every page but the last |
//! | `next_url` | page size | `mock_offset` | the URL at the path, then `null` (`""` for a String) |
//!
//! Next URLs are absolute (`http://` and the request's `Host`), repeat the
//! request's path and query and add `mock_offset=N`. A cursor the stand-in did
//! not give out is `400`. In a test, `returns e per page N` makes every style
//! serve `N` records a page instead, whatever `size` says or `limit` asks
//! (see [`Scripted::Returns`]).
//!
//! This requires `select`, `records` and every `paginate` argument to be a
//! field path from `body` (`body.data`, `body.meta?.next`,
//! `body.results[0]`). For an endpoint where one is not (`paginate
//! offset(stop: body.offset + body.count >= body.total)`), the fixture file,
//! when present, is the *whole response body*, served as it is for every
//! request (it must end the pagination itself); without it the answer is
//! `501` with a JSON body that names the file to provide.
//! [`StandInApi::needs_fixtures`] lists those endpoints.
//!
//! # Writes
//!
//! A `POST`, `PUT`, `PATCH` or `DELETE` to an endpoint that is not a stream
//! is a write. Its request is stored in memory, per endpoint, in order
//! ([`StandIns::writes`]; a log line at `info` for each) and answered from
//! the endpoint's result type: no result is `204`; otherwise a fake value in
//! which every field whose wire name is a member of the request's JSON (or
//! form) body takes that member when it fits the field's type (nested records
//! field by field), as does a field named like a path parameter (an upsert
//! returning `ContactRef { id, external_id }` echoes `external_id`; ids of
//! successive writes count up, while reads answer the same fake value every
//! time, path parameters echoed the same way). A fixture, when present, is the answer
//! instead. A request with an `Idempotency-Key` (or the endpoint's
//! `idempotency_header`) already seen by that endpoint gets the first
//! response again and is not stored again. Requests to stream endpoints are
//! never stored, whatever their method.
//!
//! # Faults
//!
//! [`EndpointSetup::faults`] injects failures for tests of flows. Each request
//! to the endpoint (after routing and auth) draws one number from a random
//! generator seeded by [`StandInOptions::seed`] and the endpoint's name, and
//! gets, with the configured probabilities: `503`; `429` with `Retry-After`
//! in whole seconds; a reset connection (the connection is closed before the
//! response is complete: a `connection` failure for the client); or a delay
//! of [`Faults::slow_by`] before the normal answer (beyond the client's
//! timeout: a `timeout` failure, though the write may still be stored, as
//! with a real server). [`Faults::reject`] answers `422` (not stored) to the
//! writes it selects, on every attempt. [`StandIns::stats`] counts what each
//! endpoint served.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, LINK, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use integ_runtime::types::{Schema, TypeDesc};
use integ_runtime::value::DateTime;
use integ_runtime::{Value, decode, encode};
use rust_decimal::Decimal;
use serde_json::{Map as JsonMap, Value as Json};

mod script;

pub use script::{Script, Scripted, Scripts};

use super::calls::Redirects;
use super::schema;
use crate::ir::api::{self as ir_api, Pagination};
use crate::ir::{self, Callee, Expr, Literal};

/// Records of a stream endpoint without a fixture.
pub const DEFAULT_RECORDS: usize = 25;
/// Records per page where the pagination does not say.
pub const DEFAULT_PAGE_SIZE: usize = 10;
/// The access token the token endpoints give out.
pub const MOCK_TOKEN: &str = "mock-token";
/// The query parameter of the next URLs of `link_header` and `next_url`.
pub const OFFSET_PARAM: &str = "mock_offset";

/// Where the servers listen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Bind {
    /// `127.0.0.1` and a free port.
    #[default]
    Ephemeral,
    /// The declared base URL's loopback host and port when free, else a free port.
    Declared,
}

/// Decides which writes are rejected with `422` (see [`Faults::reject`]).
pub type Reject = Arc<dyn Fn(&Write) -> bool + Send + Sync>;

/// Failures injected into one endpoint's answers. Probabilities are per
/// request, from 0 to 1; together at most 1.
#[derive(Clone)]
pub struct Faults {
    /// `503 Service Unavailable`.
    pub unavailable: f64,
    /// `429 Too Many Requests` with `Retry-After`.
    pub rate_limited: f64,
    /// The `Retry-After` of a `429`, sent in whole seconds (default 1 s).
    pub retry_after: Duration,
    /// The connection is closed before the response is complete.
    pub reset: f64,
    /// The answer comes after [`Faults::slow_by`].
    pub slow: f64,
    /// How long a slow answer waits (default 30 s).
    pub slow_by: Duration,
    /// Writes for which this is true are answered `422` and not stored.
    pub reject: Option<Reject>,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            unavailable: 0.0,
            rate_limited: 0.0,
            retry_after: Duration::from_secs(1),
            reset: 0.0,
            slow: 0.0,
            slow_by: Duration::from_secs(30),
            reject: None,
        }
    }
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Faults")
            .field("unavailable", &self.unavailable)
            .field("rate_limited", &self.rate_limited)
            .field("retry_after", &self.retry_after)
            .field("reset", &self.reset)
            .field("slow", &self.slow)
            .field("slow_by", &self.slow_by)
            .field("reject", &self.reject.is_some())
            .finish()
    }
}

/// Settings of one endpoint's stand-in.
#[derive(Clone, Debug, Default)]
pub struct EndpointSetup {
    /// Records of a stream without a fixture ([`StandInOptions::records`] when `None`).
    pub records: Option<usize>,
    /// Records per page ([`StandInOptions::page_size`] when `None`).
    pub page_size: Option<usize>,
    pub faults: Faults,
}

/// Settings of the stand-ins.
#[derive(Clone, Debug)]
pub struct StandInOptions {
    pub bind: Bind,
    /// The directory of `<Api>.<endpoint>.json` fixtures; none when `None`.
    pub fixtures: Option<PathBuf>,
    /// Records of a stream endpoint without a fixture (default 25).
    pub records: usize,
    /// Records per page where the pagination does not say (default 10).
    pub page_size: usize,
    /// Seeds the fault generators (the fake data is seeded by endpoint names only).
    pub seed: u64,
    /// Per endpoint, by `Api.endpoint`.
    pub endpoints: HashMap<String, EndpointSetup>,
    /// `integ test`: every endpoint answers from its script instead (see [`Scripts`]).
    pub scripts: Option<Arc<Scripts>>,
}

impl Default for StandInOptions {
    fn default() -> StandInOptions {
        StandInOptions {
            bind: Bind::Ephemeral,
            fixtures: None,
            records: DEFAULT_RECORDS,
            page_size: DEFAULT_PAGE_SIZE,
            seed: 0,
            endpoints: HashMap::new(),
            scripts: None,
        }
    }
}

impl StandInOptions {
    /// Sets up the endpoint `Api.endpoint`.
    pub fn endpoint(mut self, name: &str, setup: EndpointSetup) -> StandInOptions {
        self.endpoints.insert(name.to_owned(), setup);
        self
    }
}

/// A write a stand-in received (see the module documentation).
#[derive(Clone, Debug)]
pub struct Write {
    pub api: String,
    pub endpoint: String,
    pub method: String,
    /// The path as it arrived (percent-encoded), base path included.
    pub path: String,
    /// The raw query, without `?`.
    pub query: String,
    /// Path parameters by name (decoded), for templates whose interpolations
    /// are parameters or fields of parameters.
    pub params: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body parsed: JSON as it is, a form as an object of strings (a
    /// repeated field as a list); otherwise `null`.
    pub json: Json,
    pub idempotency_key: Option<String>,
}

/// What one endpoint served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests routed to the endpoint (with credentials).
    pub requests: u64,
    /// Requests refused for missing credentials.
    pub unauthorized: u64,
    pub unavailable: u64,
    pub rate_limited: u64,
    pub resets: u64,
    pub slow: u64,
    pub rejected: u64,
    /// Writes stored.
    pub stored: u64,
    /// Repeated idempotency keys answered from memory.
    pub replayed: u64,
}

/// One api's stand-in, as started.
#[derive(Clone, Debug)]
pub struct StandInApi {
    pub name: String,
    pub address: SocketAddr,
    /// The loopback address of the declared base URL, when it has one
    /// (with [`Bind::Declared`], `address` is this one unless it was taken).
    pub declared: Option<SocketAddr>,
    /// `http://ADDRESS` and the declared base URL's path.
    pub base_url: String,
    /// The environment variable the declared base URL reads.
    pub variable: Option<String>,
    /// Where the api's OAuth2 token endpoint is served (OAuth2 apis only).
    pub token_url: Option<String>,
    /// The environment variable the declared `token_url` reads.
    pub token_variable: Option<String>,
    /// Endpoints that answer `501` for want of a fixture: name and reason.
    pub needs_fixtures: Vec<(String, String)>,
}

/// Why the stand-ins could not start.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error("cannot listen on {address}: {message}")]
    Bind { address: String, message: String },
    #[error("fixture `{path}`: {message}")]
    Fixture { path: String, message: String },
    #[error("`{endpoint}`: {message}")]
    Data { endpoint: String, message: String },
    #[error("the stand-in options name `{0}`, which is not an endpoint of the program (write `Api.endpoint`)")]
    UnknownEndpoint(String),
}

/// The running stand-ins. Dropping them stops the servers.
pub struct StandIns {
    apis: Vec<StandInApi>,
    states: Vec<Arc<ApiState>>,
    token_paths: Vec<Option<String>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for StandIns {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("StandIns").field("apis", &self.apis).finish()
    }
}

impl Drop for StandIns {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl StandIns {
    /// Plans every endpoint (fixtures are read and fake data generated now),
    /// binds one server per api and starts serving. Call it inside a tokio
    /// runtime, which runs the servers.
    pub async fn start(
        program: Arc<ir::Program>,
        schema: Arc<Schema>,
        options: StandInOptions,
    ) -> Result<StandIns, StandInError> {
        for name in options.endpoints.keys() {
            let known = name.split_once('.').is_some_and(|(api, endpoint)| {
                program.apis.iter().any(|candidate| {
                    candidate.name == api && candidate.endpoints.iter().any(|known| known.name == endpoint)
                })
            });
            if !known {
                return Err(StandInError::UnknownEndpoint(name.clone()));
            }
        }
        let full = Arc::new(every_field_read(&schema));
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let mut stand_ins =
            StandIns { apis: Vec::new(), states: Vec::new(), token_paths: Vec::new(), tasks: Vec::new(), shutdown };
        // Token endpoints on addresses of their own (Bind::Declared): address → paths.
        let mut token_servers: Vec<(SocketAddr, Vec<String>, Option<tokio::net::TcpListener>)> = Vec::new();
        for api in &program.apis {
            let declared = declared_url(&api.base_url);
            let parsed = declared.url.as_deref().and_then(|url| url::Url::parse(url).ok());
            let base_path = parsed.as_ref().map(|url| url.path().trim_end_matches('/').to_owned()).unwrap_or_default();
            let declared_address = parsed.as_ref().and_then(loopback_address);
            let wanted = match options.bind {
                Bind::Declared => declared_address,
                Bind::Ephemeral => None,
            };
            let listener = bind(wanted).await?;
            let address = listener
                .local_addr()
                .map_err(|error| StandInError::Bind { address: "127.0.0.1".to_owned(), message: error.to_string() })?;
            let token = oauth_token_url(api);
            let token_path = token.as_ref().map(|token| {
                token
                    .url
                    .as_deref()
                    .and_then(|url| url::Url::parse(url).ok())
                    .map(|url| url.path().trim_end_matches('/').to_owned())
                    .filter(|path| !path.is_empty())
                    .unwrap_or_else(|| "/oauth/token".to_owned())
            });
            let mut token_url = token_path.as_ref().map(|path| format!("http://{address}{path}"));
            if options.bind == Bind::Declared
                && let Some(token) = &token
                && let Some(parsed) = token.url.as_deref().and_then(|url| url::Url::parse(url).ok())
                && let Some(token_address) = loopback_address(&parsed)
                && Some(token_address) != wanted.filter(|wanted| *wanted == address)
                && let Some(path) = &token_path
            {
                let served = match token_servers.iter_mut().find(|(known, _, _)| *known == token_address) {
                    Some((_, paths, _)) => {
                        paths.push(path.clone());
                        true
                    }
                    None => match tokio::net::TcpListener::bind(token_address).await {
                        Ok(listener) => {
                            token_servers.push((token_address, vec![path.clone()], Some(listener)));
                            true
                        }
                        Err(_) => false,
                    },
                };
                if served {
                    token_url = Some(format!("http://{token_address}{path}"));
                }
            }
            let state = Arc::new(plan_api(api, &schema, &full, &options, base_path.clone(), token_path.clone())?);
            let needs_fixtures = state
                .endpoints
                .iter()
                .filter_map(|endpoint| match &endpoint.kind {
                    Kind::Unservable(reason) => Some((endpoint.name.clone(), reason.clone())),
                    _ => None,
                })
                .collect();
            stand_ins.apis.push(StandInApi {
                name: api.name.clone(),
                address,
                declared: declared_address,
                base_url: format!("http://{address}{base_path}"),
                variable: declared.variable,
                token_url,
                token_variable: token.and_then(|token| token.variable),
                needs_fixtures,
            });
            stand_ins.token_paths.push(token_path);
            stand_ins.states.push(state.clone());
            let server = Arc::new(Server { api: Some(state), token_paths: Vec::new(), address });
            stand_ins.spawn(listener, server);
        }
        for (address, paths, listener) in token_servers {
            if let Some(listener) = listener {
                stand_ins.spawn(listener, Arc::new(Server { api: None, token_paths: paths, address }));
            }
        }
        Ok(stand_ins)
    }

    fn spawn(&mut self, listener: tokio::net::TcpListener, server: Arc<Server>) {
        let mut stop = self.shutdown.subscribe();
        let app = axum::Router::new().fallback(handle).with_state(server);
        self.tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            };
            if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::warn!(%error, "a stand-in stopped");
            }
        }));
    }

    /// The stand-ins, in the order of the program's apis.
    pub fn apis(&self) -> &[StandInApi] {
        &self.apis
    }

    /// The base URL of api `name`'s stand-in.
    pub fn base_url(&self, name: &str) -> Option<&str> {
        self.apis.iter().find(|api| api.name == name).map(|api| api.base_url.as_str())
    }

    /// Base URLs and token URLs that send every api's requests here, for
    /// [`Interpreter::connect_with`](super::Interpreter::connect_with). Token
    /// URLs always point at the api's own server, whatever the declared ones.
    pub fn redirects(&self) -> Redirects {
        let mut redirects = Redirects::default();
        for (api, token_path) in self.apis.iter().zip(&self.token_paths) {
            redirects.base_urls.insert(api.name.clone(), api.base_url.clone());
            if let Some(path) = token_path {
                redirects.token_urls.insert(api.name.clone(), format!("http://{}{path}", api.address));
            }
        }
        redirects
    }

    fn endpoint(&self, name: &str) -> Option<&EndpointState> {
        let (api, endpoint) = name.split_once('.')?;
        let state = self.states.iter().find(|state| state.name == api)?;
        state.endpoints.iter().find(|candidate| candidate.name == endpoint)
    }

    /// The writes endpoint `Api.endpoint` stored, in the order they arrived.
    pub fn writes(&self, endpoint: &str) -> Vec<Write> {
        self.endpoint(endpoint).map(|endpoint| lock(&endpoint.writes).clone()).unwrap_or_default()
    }

    /// Every stored write, api by api and endpoint by endpoint.
    pub fn all_writes(&self) -> Vec<Write> {
        self.states
            .iter()
            .flat_map(|state| state.endpoints.iter())
            .flat_map(|endpoint| lock(&endpoint.writes).clone())
            .collect()
    }

    /// What endpoint `Api.endpoint` served so far.
    pub fn stats(&self, endpoint: &str) -> Stats {
        self.endpoint(endpoint).map(|endpoint| *lock(&endpoint.stats)).unwrap_or_default()
    }

    /// Forgets stored writes, idempotency keys and counters.
    pub fn clear(&self) {
        for endpoint in self.states.iter().flat_map(|state| state.endpoints.iter()) {
            lock(&endpoint.writes).clear();
            lock(&endpoint.replies).clear();
            *lock(&endpoint.stats) = Stats::default();
        }
    }

    /// Stops the servers and waits for them (requests in flight finish first).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ====================================================================== declared URLs

/// A URL as the program declares it, without reading the environment.
struct Declared {
    url: Option<String>,
    variable: Option<String>,
}

fn declared_url(expr: &Expr) -> Declared {
    match expr {
        Expr::Literal(Literal::String(text)) => Declared { url: Some(text.clone()), variable: None },
        Expr::Env { variable, default } => Declared { url: default.clone(), variable: Some(variable.clone()) },
        _ => Declared { url: None, variable: None },
    }
}

fn oauth_token_url(api: &ir_api::Api) -> Option<Declared> {
    if !api.auth.scheme.starts_with("oauth2") {
        return None;
    }
    Some(
        api.auth
            .args
            .iter()
            .find(|(name, _)| name == "token_url")
            .map(|(_, expr)| declared_url(expr))
            .unwrap_or(Declared { url: None, variable: None }),
    )
}

/// The address of an `http://` URL on loopback.
fn loopback_address(url: &url::Url) -> Option<SocketAddr> {
    if url.scheme() != "http" {
        return None;
    }
    let ip = match url.host()? {
        url::Host::Ipv4(ip) if ip.is_loopback() => IpAddr::V4(ip),
        url::Host::Ipv6(ip) if ip.is_loopback() => IpAddr::V6(ip),
        url::Host::Domain(domain) if domain.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => return None,
    };
    Some(SocketAddr::new(ip, url.port_or_known_default()?))
}

/// Binds `wanted` when given and free, else a free port on 127.0.0.1.
async fn bind(wanted: Option<SocketAddr>) -> Result<tokio::net::TcpListener, StandInError> {
    if let Some(address) = wanted
        && let Ok(listener) = tokio::net::TcpListener::bind(address).await
    {
        return Ok(listener);
    }
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    tokio::net::TcpListener::bind(any)
        .await
        .map_err(|error| StandInError::Bind { address: any.to_string(), message: error.to_string() })
}

// ====================================================================== plans

/// One listening server: an api's stand-in, or only token endpoints.
struct Server {
    api: Option<Arc<ApiState>>,
    /// Token paths of a token-only server.
    token_paths: Vec<String>,
    address: SocketAddr,
}

struct ApiState {
    name: String,
    base_path: String,
    token_path: Option<String>,
    auth: AuthCheck,
    endpoints: Vec<EndpointState>,
    schema: Arc<Schema>,
    /// The schema with every field read, to check that echoed values fit.
    full: Arc<Schema>,
    /// Set under `integ test`.
    scripts: Option<Arc<Scripts>>,
}

/// The credential a request must carry.
enum AuthCheck {
    Nothing,
    /// `Authorization: <scheme> ...`.
    Authorization(&'static str),
    Header(String),
    Query(String),
}

struct EndpointState {
    name: String,
    method: String,
    write: bool,
    template: Vec<Vec<Piece>>,
    /// The name of each interpolation of the path, when it has one.
    path_params: Vec<Option<String>>,
    kind: Kind,
    idempotency_header: String,
    seed: u64,
    faults: Faults,
    rng: Mutex<Rng>,
    /// Answers given, to number the fake values of successive writes.
    served: AtomicU64,
    writes: Mutex<Vec<Write>>,
    replies: Mutex<HashMap<String, Reply>>,
    stats: Mutex<Stats>,
}

/// One piece of a path segment of a template.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    /// Interpolation number `n`.
    Param(usize),
}

/// A step of a path from `body`: a member (wire name) or a list index.
#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Member(String),
    Index(usize),
}

/// A path from `body` and the type found there (`Json` when unknown).
#[derive(Clone, Debug)]
struct BodyPath {
    segs: Vec<Seg>,
    leaf: TypeDesc,
}

enum Kind {
    Unit,
    Single {
        ty: TypeDesc,
        fixture: Option<Json>,
        skeleton: Json,
        select: Option<Vec<Seg>>,
    },
    Stream {
        records: Vec<Json>,
        skeleton: Json,
        /// Where the records go; empty: the body is the list.
        at: Vec<Seg>,
        paging: Paging,
        page_size: usize,
    },
    /// A fixture that is the whole response body.
    Raw(Vec<u8>),
    /// `501`, with this reason.
    Unservable(String),
}

enum Paging {
    Single,
    Cursor {
        param: String,
        next: Option<BodyPath>,
        /// `next: <records>.last()?.<path>`: the cursor is that field of the last record.
        by_last: Option<Vec<Seg>>,
        has_more: Option<Vec<Seg>>,
    },
    Page {
        param: String,
        start: i64,
        size: Option<usize>,
        stop: Option<Vec<Seg>>,
    },
    Offset {
        param: String,
        limit_param: String,
        limit: usize,
        stop: Option<Vec<Seg>>,
    },
    Link {
        rel: String,
    },
    NextUrl {
        url: BodyPath,
    },
}

/// A response kept for a repeated idempotency key.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: &Json) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
        let mut object = JsonMap::new();
        object.insert("error".to_owned(), Json::String(code.to_owned()));
        object.insert("message".to_owned(), Json::String(message.into()));
        Reply::json(status, &Json::Object(object))
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

fn plan_api(
    api: &ir_api::Api,
    schema: &Arc<Schema>,
    full: &Arc<Schema>,
    options: &StandInOptions,
    base_path: String,
    token_path: Option<String>,
) -> Result<ApiState, StandInError> {
    let literal = |name: &str| -> Option<String> {
        api.auth.args.iter().find(|(arg, _)| arg == name).and_then(|(_, expr)| match expr {
            Expr::Literal(Literal::String(text)) => Some(text.clone()),
            _ => None,
        })
    };
    let has = |name: &str| api.auth.args.iter().any(|(arg, _)| arg == name);
    let auth = match api.auth.scheme.as_str() {
        "bearer" | "oauth2_client_credentials" | "oauth2_refresh_token" => AuthCheck::Authorization("Bearer"),
        "basic" => AuthCheck::Authorization("Basic"),
        "api_key" => match (literal("header"), literal("query")) {
            (Some(header), _) => AuthCheck::Header(header),
            (None, Some(query)) => AuthCheck::Query(query),
            _ => AuthCheck::Nothing,
        },
        "hmac" => match literal("header") {
            Some(header) => AuthCheck::Header(header),
            None if !has("header") => AuthCheck::Header("X-Signature".to_owned()),
            None => AuthCheck::Nothing,
        },
        _ => AuthCheck::Nothing,
    };
    let endpoints = api
        .endpoints
        .iter()
        .map(|endpoint| plan_endpoint(api, endpoint, schema, options))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApiState {
        name: api.name.clone(),
        base_path,
        token_path,
        auth,
        endpoints,
        schema: schema.clone(),
        full: full.clone(),
        scripts: options.scripts.clone(),
    })
}

fn plan_endpoint(
    api: &ir_api::Api,
    endpoint: &ir_api::Endpoint,
    schema: &Schema,
    options: &StandInOptions,
) -> Result<EndpointState, StandInError> {
    let full_name = format!("{}.{}", api.name, endpoint.name);
    let setup = options.endpoints.get(&full_name).cloned().unwrap_or_default();
    let seed = fnv(&full_name);
    let (template, path_params) = template(endpoint, schema);
    let fixture_path = options.fixtures.as_ref().map(|directory| directory.join(format!("{full_name}.json")));
    let fixture = match &fixture_path {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(StandInError::Fixture { path: path.display().to_string(), message: error.to_string() });
            }
        },
        None => None,
    };
    let fixture_name = format!("fixtures/{full_name}.json");
    let fixture_error = |message: String| StandInError::Fixture {
        path: fixture_path.as_ref().map(|path| path.display().to_string()).unwrap_or_else(|| fixture_name.clone()),
        message,
    };
    let parse_fixture = |bytes: &[u8]| -> Result<Json, StandInError> {
        serde_json::from_slice(bytes).map_err(|error| fixture_error(format!("not JSON: {error}")))
    };
    let data_error = |error: integ_runtime::EvalError| StandInError::Data {
        endpoint: full_name.clone(),
        message: format!("cannot encode a stand-in value: {error}"),
    };
    let response = schema::desc(&endpoint.response);
    let skeleton = match &response {
        TypeDesc::Record(_) => {
            encode::to_json_value(&zero(&response, schema, 0), &response, schema).map_err(data_error)?
        }
        _ => Json::Object(JsonMap::new()),
    };
    let unservable = |what: String, fixture: Option<Vec<u8>>| -> Kind {
        match fixture {
            Some(bytes) => Kind::Raw(bytes),
            None => Kind::Unservable(format!(
                "`{full_name}` needs the fixture `{fixture_name}` next to the program: its {what} is not a field \
                 path from `body`, so the stand-in cannot build its responses; the fixture is a whole response body, \
                 served as it is for every request (so it must end the pagination itself)"
            )),
        }
    };
    let page_size = setup.page_size.unwrap_or(options.page_size).max(1);
    let kind = match &endpoint.result {
        ir_api::Result::Unit => Kind::Unit,
        ir_api::Result::Single { ty, select } => {
            let ty = schema::desc(ty);
            let select = match select {
                None => Ok(None),
                Some(select) => {
                    path_from(select, endpoint.body_slot, &response, schema).map(|path| Some(path.segs)).ok_or(())
                }
            };
            match select {
                Ok(select) => {
                    Kind::Single { ty, fixture: fixture.as_deref().map(parse_fixture).transpose()?, skeleton, select }
                }
                Err(()) => unservable("`select`".to_owned(), fixture),
            }
        }
        ir_api::Result::Stream { item, records, pagination, .. } => {
            let item = schema::desc(item);
            let at = match records {
                None => Some(Vec::new()),
                Some(records) => path_from(records, endpoint.body_slot, &response, schema).map(|path| path.segs),
            };
            let paging = at
                .as_ref()
                .ok_or_else(|| "`records`".to_owned())
                .and_then(|at| plan_paging(pagination.as_ref(), at, endpoint.body_slot, &response, &item, schema));
            match (at, paging) {
                (Some(at), Ok(paging)) => {
                    let records = match &fixture {
                        Some(bytes) => match parse_fixture(bytes)? {
                            Json::Array(records) => records,
                            _ => {
                                return Err(fixture_error(
                                    "a stream endpoint's fixture is a JSON array of records".to_owned(),
                                ));
                            }
                        },
                        None => {
                            let mut faker = Faker::new(schema, seed, 0);
                            (0..setup.records.unwrap_or(options.records))
                                .map(|_| {
                                    let value = faker.value(&item, u32::MAX, "", 0);
                                    encode::to_json_value(&value, &item, schema)
                                })
                                .collect::<Result<Vec<_>, _>>()
                                .map_err(data_error)?
                        }
                    };
                    Kind::Stream { records, skeleton, at, paging, page_size }
                }
                (_, Err(what)) => unservable(what, fixture),
                (None, _) => unservable("`records`".to_owned(), fixture),
            }
        }
    };
    let write =
        matches!(endpoint.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") && !matches!(kind, Kind::Stream { .. });
    Ok(EndpointState {
        name: endpoint.name.clone(),
        method: endpoint.method.clone(),
        write,
        template,
        path_params,
        kind,
        idempotency_header: endpoint.idempotency_header.clone().unwrap_or_else(|| "Idempotency-Key".to_owned()),
        seed,
        rng: Mutex::new(Rng::new(options.seed ^ seed.rotate_left(17))),
        faults: setup.faults,
        served: AtomicU64::new(0),
        writes: Mutex::new(Vec::new()),
        replies: Mutex::new(HashMap::new()),
        stats: Mutex::new(Stats::default()),
    })
}

/// The path template as segments of pieces, and the names of its interpolations.
fn template(endpoint: &ir_api::Endpoint, schema: &Schema) -> (Vec<Vec<Piece>>, Vec<Option<String>>) {
    let mut segments: Vec<Vec<Piece>> = vec![Vec::new()];
    let mut names = Vec::new();
    for part in &endpoint.path {
        match part {
            ir_api::PathPart::Text(text) => {
                for (position, chunk) in text.split('/').enumerate() {
                    if position > 0 {
                        segments.push(Vec::new());
                    }
                    if !chunk.is_empty()
                        && let Some(segment) = segments.last_mut()
                    {
                        segment.push(Piece::Text(chunk.to_owned()));
                    }
                }
            }
            ir_api::PathPart::Value(expr, _) => {
                if let Some(segment) = segments.last_mut() {
                    segment.push(Piece::Param(names.len()));
                }
                names.push(param_name(expr, endpoint, schema));
            }
        }
    }
    segments.retain(|segment| !segment.is_empty());
    (segments, names)
}

/// The name of a path interpolation: the parameter, or the last field read.
fn param_name(expr: &Expr, endpoint: &ir_api::Endpoint, schema: &Schema) -> Option<String> {
    match expr {
        Expr::Local(slot) => endpoint.params.get(*slot as usize).map(|(name, _)| name.clone()),
        Expr::Field { record, index, .. } => {
            schema.record(*record).and_then(|record| record.fields.get(*index as usize)).map(|field| field.name.clone())
        }
        Expr::JsonField { name, .. } => Some(name.clone()),
        Expr::Chain { then, .. } => param_name(then, endpoint, schema),
        _ => None,
    }
}

/// `expr` as a path from slot `root` (of type `root_ty`): fields, `?.`,
/// literal indexes and conversions to and from `Json`.
fn path_from(expr: &Expr, root: u32, root_ty: &TypeDesc, schema: &Schema) -> Option<BodyPath> {
    match expr {
        Expr::Local(slot) if *slot == root => Some(BodyPath { segs: Vec::new(), leaf: root_ty.clone() }),
        Expr::Field { base, record, index } => {
            let mut path = path_from(base, root, root_ty, schema)?;
            let field = schema.record(*record)?.fields.get(*index as usize)?;
            path.segs.push(Seg::Member(field.wire.clone()));
            path.leaf = field.ty.clone();
            Some(path)
        }
        Expr::JsonField { base, name } => {
            let mut path = path_from(base, root, root_ty, schema)?;
            path.segs.push(Seg::Member(name.clone()));
            path.leaf = TypeDesc::Json;
            Some(path)
        }
        Expr::Index { base, index } => {
            let Expr::Literal(Literal::Int(position)) = &**index else { return None };
            let mut path = path_from(base, root, root_ty, schema)?;
            path.segs.push(Seg::Index(usize::try_from(*position).ok()?));
            path.leaf = match strip_optional(&path.leaf) {
                TypeDesc::List(inner) => TypeDesc::Optional(inner.clone()),
                _ => TypeDesc::Json,
            };
            Some(path)
        }
        Expr::Chain { base, slot, then } => {
            let head = path_from(base, root, root_ty, schema)?;
            let inner = strip_optional(&head.leaf).clone();
            let tail = path_from(then, *slot, &inner, schema)?;
            let mut segs = head.segs;
            segs.extend(tail.segs);
            Some(BodyPath { segs, leaf: TypeDesc::Optional(Box::new(strip_optional(&tail.leaf).clone())) })
        }
        Expr::FromJson { value, .. } | Expr::ToJson { value, .. } => path_from(value, root, root_ty, schema),
        _ => None,
    }
}

fn strip_optional(mut ty: &TypeDesc) -> &TypeDesc {
    while let TypeDesc::Optional(inner) = ty {
        ty = inner;
    }
    ty
}

/// A path for a marker the stand-in sets: not the body itself, and not in a body that is a list.
fn marker(
    expr: &Expr,
    what: &str,
    at: &[Seg],
    root: u32,
    response: &TypeDesc,
    schema: &Schema,
) -> Result<BodyPath, String> {
    match path_from(expr, root, response, schema) {
        Some(path) if !path.segs.is_empty() && !at.is_empty() => Ok(path),
        _ => Err(what.to_owned()),
    }
}

fn plan_paging(
    pagination: Option<&Pagination>,
    at: &[Seg],
    root: u32,
    response: &TypeDesc,
    item: &TypeDesc,
    schema: &Schema,
) -> Result<Paging, String> {
    let optional_marker = |expr: Option<&Expr>, what: &str| -> Result<Option<Vec<Seg>>, String> {
        expr.map(|expr| marker(expr, what, at, root, response, schema).map(|path| path.segs)).transpose()
    };
    Ok(match pagination {
        None => Paging::Single,
        Some(Pagination::Cursor { next, param, has_more }) => {
            let has_more = optional_marker(has_more.as_ref(), "`paginate cursor(has_more: ...)`")?;
            // `<records>.last()?.<path>`: the cursor is read from the records.
            if let Expr::Chain { base, slot, then } = next
                && let Expr::Call { callee: Callee::Native(native), args } = &**base
                && native == "last"
                && let [records] = args.as_slice()
                && path_from(records, root, response, schema).is_some_and(|path| path.segs == at)
                && let Some(field) = path_from(then, *slot, item, schema)
            {
                return Ok(Paging::Cursor { param: param.clone(), next: None, by_last: Some(field.segs), has_more });
            }
            let next = marker(next, "`paginate cursor(next: ...)`", at, root, response, schema)?;
            let ends = matches!(next.leaf, TypeDesc::Optional(_) | TypeDesc::Json | TypeDesc::String);
            if !ends && has_more.is_none() {
                return Err("`paginate cursor(next: ...)` (a cursor that is never none, without `has_more`)".to_owned());
            }
            Paging::Cursor { param: param.clone(), next: Some(next), by_last: None, has_more }
        }
        Some(Pagination::Page { param, start, size, stop, .. }) => Paging::Page {
            param: param.clone(),
            start: *start,
            size: size.and_then(|size| usize::try_from(size).ok()).filter(|size| *size > 0),
            stop: optional_marker(stop.as_ref(), "`paginate page(stop: ...)`")?,
        },
        Some(Pagination::Offset { param, limit_param, limit, stop }) => Paging::Offset {
            param: param.clone(),
            limit_param: limit_param.clone().unwrap_or_else(|| "limit".to_owned()),
            limit: limit.and_then(|limit| usize::try_from(limit).ok()).filter(|limit| *limit > 0).unwrap_or(100),
            stop: optional_marker(stop.as_ref(), "`paginate offset(stop: ...)`")?,
        },
        Some(Pagination::LinkHeader { rel }) => Paging::Link { rel: rel.clone() },
        Some(Pagination::NextUrl { url }) => {
            let url = marker(url, "`paginate next_url(...)`", at, root, response, schema)?;
            Paging::NextUrl { url }
        }
    })
}

/// The schema with every field read (decoding checks every field).
fn every_field_read(schema: &Schema) -> Schema {
    let mut full = schema.clone();
    for record in &mut full.records {
        for field in &mut record.fields {
            field.read = true;
        }
    }
    full
}

// ====================================================================== serving

async fn handle(State(server): State<Arc<Server>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let method = parts.method.as_str().to_owned();
    let trimmed = path.trim_end_matches('/');
    let is_token_path = server.token_paths.iter().any(|token| token == trimmed)
        || server.api.as_ref().and_then(|api| api.token_path.as_deref()).is_some_and(|token| token == trimmed);
    if method == "POST" && is_token_path {
        tracing::debug!(path = %path, "stand-in token request");
        return token_reply().into_response();
    }
    let Some(api) = &server.api else {
        return Reply::error(
            404,
            "not_found",
            format!("this stand-in only serves tokens, at {}", server.token_paths.join(", ")),
        )
        .into_response();
    };
    let origin = parts
        .headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .map(|host| format!("http://{host}"))
        .unwrap_or_else(|| format!("http://{}", server.address));
    let call = Incoming { method, path, query, headers: parts.headers, body: body.to_vec(), origin };
    // On a task of its own, so that a client that gives up (a timeout) does not
    // stop the server's work half-way: a slow write is still stored.
    let api = api.clone();
    let served = tokio::spawn(async move {
        let response = api.serve(&call).await;
        tracing::debug!(
            api = %api.name,
            method = %call.method,
            path = %call.path,
            status = response.status().as_u16(),
            "stand-in request"
        );
        response
    });
    served
        .await
        .unwrap_or_else(|error| Reply::error(500, "internal", format!("the stand-in failed: {error}")).into_response())
}

fn token_reply() -> Reply {
    let mut object = JsonMap::new();
    object.insert("access_token".to_owned(), Json::String(MOCK_TOKEN.to_owned()));
    object.insert("token_type".to_owned(), Json::String("bearer".to_owned()));
    object.insert("expires_in".to_owned(), Json::from(3600));
    Reply::json(200, &Json::Object(object))
}

/// A request, read whole.
struct Incoming {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
    origin: String,
}

impl Incoming {
    fn query_pairs(&self) -> Vec<(String, String)> {
        parse_pairs(&self.query)
    }

    fn param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// A fault drawn for one request.
enum Fault {
    Unavailable,
    RateLimited,
    Reset,
    Slow,
}

impl ApiState {
    async fn serve(&self, call: &Incoming) -> Response {
        let Some(rest) =
            call.path.strip_prefix(self.base_path.as_str()).filter(|rest| rest.is_empty() || rest.starts_with('/'))
        else {
            return Reply::error(
                404,
                "not_found",
                format!("the stand-in of `{}` serves paths under `{}/`", self.name, self.base_path),
            )
            .into_response();
        };
        let segments: Vec<String> = rest.split('/').filter(|segment| !segment.is_empty()).map(percent_decode).collect();
        let mut best: Option<(Vec<bool>, usize, Vec<String>)> = None;
        let mut other_method = false;
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            let Some((shape, captured)) = match_template(&endpoint.template, &segments, endpoint.path_params.len())
            else {
                continue;
            };
            let same_method = endpoint.method == call.method || (call.method == "HEAD" && endpoint.method == "GET");
            if !same_method {
                other_method = true;
                continue;
            }
            if best.as_ref().is_none_or(|(known, _, _)| shape > *known) {
                best = Some((shape, index, captured));
            }
        }
        let Some((_, index, captured)) = best else {
            let (status, code) = if other_method { (405, "method_not_allowed") } else { (404, "not_found") };
            let known: Vec<String> = self
                .endpoints
                .iter()
                .map(|endpoint| {
                    format!("{} {} ({})", endpoint.method, show_template(&endpoint.template), endpoint.name)
                })
                .collect();
            return Reply::error(
                status,
                code,
                format!(
                    "no endpoint of `{}` answers {} {}; it serves {}",
                    self.name,
                    call.method,
                    rest,
                    known.join(", ")
                ),
            )
            .into_response();
        };
        let Some(endpoint) = self.endpoints.get(index) else {
            return Reply::error(500, "internal", "lost the endpoint").into_response();
        };
        if let Some(missing) = self.missing_credentials(call) {
            lock(&endpoint.stats).unauthorized += 1;
            return Reply::error(401, "unauthorized", format!("the stand-in of `{}` expects {missing}", self.name))
                .into_response();
        }
        lock(&endpoint.stats).requests += 1;
        if let Some(scripts) = &self.scripts {
            return script::answer(self, scripts, endpoint, call).await;
        }
        match endpoint.draw() {
            Some(Fault::Unavailable) => {
                lock(&endpoint.stats).unavailable += 1;
                return Reply::error(503, "unavailable", "injected fault: unavailable").into_response();
            }
            Some(Fault::RateLimited) => {
                lock(&endpoint.stats).rate_limited += 1;
                let mut reply = Reply::error(429, "rate_limited", "injected fault: too many requests");
                let seconds = endpoint.faults.retry_after.as_secs_f64().ceil() as u64;
                reply.headers.push((RETRY_AFTER.as_str().to_owned(), seconds.to_string()));
                return reply.into_response();
            }
            Some(Fault::Reset) => {
                lock(&endpoint.stats).resets += 1;
                return reset();
            }
            Some(Fault::Slow) => {
                lock(&endpoint.stats).slow += 1;
                tokio::time::sleep(endpoint.faults.slow_by).await;
            }
            None => {}
        }
        let params: Vec<(String, String)> = endpoint
            .path_params
            .iter()
            .zip(captured)
            .filter_map(|(name, value)| name.clone().map(|name| (name, value)))
            .collect();
        if !endpoint.write {
            return self.answer(endpoint, call, &params, &Json::Null).into_response();
        }
        let write = Write {
            api: self.name.clone(),
            endpoint: endpoint.name.clone(),
            method: call.method.clone(),
            path: call.path.clone(),
            query: call.query.clone(),
            params: params.clone(),
            body: call.body.clone(),
            json: parse_body(call),
            idempotency_key: call.header(&endpoint.idempotency_header).map(str::to_owned),
        };
        if let Some(reject) = &endpoint.faults.reject
            && reject(&write)
        {
            lock(&endpoint.stats).rejected += 1;
            return Reply::error(422, "rejected", "injected fault: the stand-in rejects this record").into_response();
        }
        // One lock over lookup, answer and storage, so that concurrent repeats store once.
        let mut replies = lock(&endpoint.replies);
        if let Some(key) = &write.idempotency_key
            && let Some(reply) = replies.get(key)
        {
            lock(&endpoint.stats).replayed += 1;
            return reply.clone().into_response();
        }
        let reply = self.answer(endpoint, call, &params, &write.json);
        if reply.status < 300 {
            tracing::info!(
                api = %self.name,
                endpoint = %endpoint.name,
                method = %write.method,
                path = %write.path,
                bytes = write.body.len(),
                idempotency_key = write.idempotency_key.as_deref().unwrap_or(""),
                "stand-in stored a write"
            );
            if let Some(key) = &write.idempotency_key {
                replies.insert(key.clone(), reply.clone());
            }
            lock(&endpoint.writes).push(write);
            lock(&endpoint.stats).stored += 1;
        }
        drop(replies);
        reply.into_response()
    }

    /// What the request lacks to be authenticated, if anything.
    fn missing_credentials(&self, call: &Incoming) -> Option<String> {
        match &self.auth {
            AuthCheck::Nothing => None,
            AuthCheck::Authorization(scheme) => {
                let present = call.header("authorization").is_some_and(|value| {
                    value.len() > scheme.len()
                        && value.is_char_boundary(scheme.len())
                        && value[..scheme.len()].eq_ignore_ascii_case(scheme)
                        && value[scheme.len()..].starts_with(' ')
                });
                (!present).then(|| format!("an `Authorization: {scheme} ...` header (any credential will do)"))
            }
            AuthCheck::Header(name) => {
                call.header(name).is_none().then(|| format!("a `{name}` header (any value will do)"))
            }
            AuthCheck::Query(name) => {
                call.param(name).is_none().then(|| format!("a `{name}` query parameter (any value will do)"))
            }
        }
    }

    /// The answer of an endpoint to a request (`request` is the parsed body of a write).
    fn answer(&self, endpoint: &EndpointState, call: &Incoming, params: &[(String, String)], request: &Json) -> Reply {
        let number = endpoint.served.fetch_add(1, Ordering::Relaxed);
        match &endpoint.kind {
            Kind::Unit => Reply { status: 204, headers: Vec::new(), body: Vec::new() },
            Kind::Raw(bytes) => Reply {
                status: 200,
                headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                body: bytes.clone(),
            },
            Kind::Unservable(reason) => Reply::error(501, "fixture_needed", reason.clone()),
            Kind::Single { ty, fixture, skeleton, select } => {
                let value = match fixture {
                    Some(fixture) => fixture.clone(),
                    None => {
                        // Reads answer the same every time; successive writes count on.
                        let start = if endpoint.write { number } else { 0 };
                        let mut faker = Faker::new(&self.schema, endpoint.seed, start);
                        let value = faker.value(ty, u32::MAX, "", 0);
                        let mut json = match encode::to_json_value(&value, ty, &self.schema) {
                            Ok(json) => json,
                            Err(error) => {
                                return Reply::error(500, "internal", format!("cannot encode a fake value: {error}"));
                            }
                        };
                        overlay(&mut json, ty, request, &self.full);
                        overlay_params(&mut json, ty, params, &self.full);
                        json
                    }
                };
                Reply::json(200, &placed(skeleton, select.as_deref(), value))
            }
            Kind::Stream { records, skeleton, at, paging, page_size } => {
                match page(records, skeleton, at, paging, PageSize::Default(*page_size), call) {
                    Ok((body, headers)) => {
                        let mut reply = Reply::json(200, &body);
                        reply.headers.extend(headers);
                        reply
                    }
                    Err(message) => Reply::error(400, "bad_page", message),
                }
            }
        }
    }
}

impl EndpointState {
    fn draw(&self) -> Option<Fault> {
        let faults = &self.faults;
        let total = faults.unavailable + faults.rate_limited + faults.reset + faults.slow;
        if total <= 0.0 {
            return None;
        }
        let draw = lock(&self.rng).unit();
        let mut edge = faults.unavailable;
        if draw < edge {
            return Some(Fault::Unavailable);
        }
        edge += faults.rate_limited;
        if draw < edge {
            return Some(Fault::RateLimited);
        }
        edge += faults.reset;
        if draw < edge {
            return Some(Fault::Reset);
        }
        edge += faults.slow;
        if draw < edge {
            return Some(Fault::Slow);
        }
        None
    }
}

/// A response whose body fails before any byte of it is sent: the server
/// closes the connection, and the client sees it end before the response did.
fn reset() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault: connection reset",
        ))
    });
    let mut response = Response::new(Body::from_stream(failing));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Matches request segments against a template: for each segment whether it
/// is literal (to rank matches), and the text of each interpolation.
fn match_template(template: &[Vec<Piece>], segments: &[String], params: usize) -> Option<(Vec<bool>, Vec<String>)> {
    if template.len() != segments.len() {
        return None;
    }
    let mut captured = vec![String::new(); params];
    let mut shape = Vec::with_capacity(template.len());
    for (pieces, segment) in template.iter().zip(segments) {
        shape.push(pieces.iter().all(|piece| matches!(piece, Piece::Text(_))));
        if !match_pieces(pieces, segment, &mut captured) {
            return None;
        }
    }
    Some((shape, captured))
}

/// Glob-like matching of one segment: texts literally, interpolations any non-empty text.
fn match_pieces(pieces: &[Piece], text: &str, captured: &mut Vec<String>) -> bool {
    match pieces.split_first() {
        None => text.is_empty(),
        Some((Piece::Text(literal), rest)) => {
            text.strip_prefix(literal.as_str()).is_some_and(|remaining| match_pieces(rest, remaining, captured))
        }
        Some((Piece::Param(index), rest)) => {
            let ends: Vec<usize> =
                text.char_indices().map(|(position, _)| position).skip(1).chain([text.len()]).collect();
            // Prefer the longest capture when the parameter ends the segment, the shortest otherwise.
            let ordered: Vec<usize> = if rest.is_empty() { ends.into_iter().rev().collect() } else { ends };
            for end in ordered {
                if match_pieces(rest, &text[end..], captured) {
                    if let Some(slot) = captured.get_mut(*index) {
                        *slot = text[..end].to_owned();
                    }
                    return true;
                }
            }
            false
        }
    }
}

fn show_template(template: &[Vec<Piece>]) -> String {
    let mut text = String::new();
    for segment in template {
        text.push('/');
        for piece in segment {
            match piece {
                Piece::Text(literal) => text.push_str(literal),
                Piece::Param(_) => text.push_str("{...}"),
            }
        }
    }
    if text.is_empty() {
        text.push('/');
    }
    text
}

/// How many records a page of a stream holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PageSize {
    /// The pagination's own: `page(size: ...)`, or the limit an `offset`
    /// request sends (else the `limit`); for the other styles (and `page`
    /// without `size`), this many.
    Default(usize),
    /// This many, whatever the pagination declares or the request asks
    /// (`returns e per page N` in a test).
    Fixed(usize),
}

/// One page of a stream: the body and extra headers, or why the request is wrong.
fn page(
    records: &[Json],
    skeleton: &Json,
    at: &[Seg],
    paging: &Paging,
    page_size: PageSize,
    call: &Incoming,
) -> Result<(Json, Vec<(String, String)>), String> {
    let (fixed, page_size) = match page_size {
        PageSize::Default(size) => (None, size),
        PageSize::Fixed(size) => (Some(size), size),
    };
    let total = records.len();
    let number = |name: &str| -> Result<Option<u64>, String> {
        match call.param(name) {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("query parameter `{name}` is `{text}`, not a number")),
        }
    };
    let clamp = |value: u64| usize::try_from(value).unwrap_or(usize::MAX).min(total);
    let mut headers = Vec::new();
    let mut markers: Vec<(Vec<Seg>, Json)> = Vec::new();
    let (from, to) = match paging {
        // One request: a fixed page size is all the client gets.
        Paging::Single => (0, fixed.unwrap_or(total).min(total)),
        Paging::Cursor { param, next, by_last, has_more } => {
            let from = match (call.param(param), by_last) {
                (None, _) => 0,
                (Some(cursor), Some(field)) => {
                    let position = records
                        .iter()
                        .position(|record| get_path(record, field).is_some_and(|value| json_text(value) == cursor))
                        .ok_or_else(|| format!("no record has the cursor `{cursor}` (`{param}`)"))?;
                    position + 1
                }
                (Some(cursor), None) => cursor
                    .strip_prefix("cursor-")
                    .unwrap_or(&cursor)
                    .parse::<u64>()
                    .map(clamp)
                    .map_err(|_| format!("the stand-in gave out no cursor `{cursor}` (`{param}`)"))?,
            };
            let to = from.saturating_add(page_size).min(total);
            let more = to < total;
            if let Some(next) = next {
                let value = if more {
                    match strip_optional(&next.leaf) {
                        TypeDesc::Int(_) => Json::from(to),
                        _ => Json::String(format!("cursor-{to}")),
                    }
                } else {
                    match &next.leaf {
                        TypeDesc::String => Json::String(String::new()),
                        TypeDesc::Int(_) => Json::from(0),
                        _ => Json::Null,
                    }
                };
                markers.push((next.segs.clone(), value));
            }
            if let Some(has_more) = has_more {
                markers.push((has_more.clone(), Json::Bool(more)));
            }
            (from, to)
        }
        Paging::Page { param, start, size, stop } => {
            let size = fixed.or(*size).unwrap_or(page_size);
            let page_number = match call.param(param) {
                None => *start,
                Some(text) => {
                    text.trim().parse::<i64>().map_err(|_| format!("page `{param}` is `{text}`, not a number"))?
                }
            };
            let index = usize::try_from(page_number.saturating_sub(*start).max(0)).unwrap_or(usize::MAX);
            let from = index.saturating_mul(size).min(total);
            let to = from.saturating_add(size).min(total);
            if let Some(stop) = stop {
                markers.push((stop.clone(), Json::Bool(to >= total)));
            }
            (from, to)
        }
        Paging::Offset { param, limit_param, limit, stop } => {
            let from = number(param)?.map(clamp).unwrap_or(0);
            let limit = match fixed {
                Some(size) => size,
                None => number(limit_param)?.map(clamp).filter(|limit| *limit > 0).unwrap_or(*limit),
            };
            let to = from.saturating_add(limit).min(total);
            if let Some(stop) = stop {
                markers.push((stop.clone(), Json::Bool(to >= total)));
            }
            (from, to)
        }
        Paging::Link { rel } => {
            let from = number(OFFSET_PARAM)?.map(clamp).unwrap_or(0);
            let to = from.saturating_add(page_size).min(total);
            if to < total {
                headers.push((LINK.as_str().to_owned(), format!("<{}>; rel=\"{rel}\"", next_url(call, to))));
            }
            (from, to)
        }
        Paging::NextUrl { url } => {
            let from = number(OFFSET_PARAM)?.map(clamp).unwrap_or(0);
            let to = from.saturating_add(page_size).min(total);
            let value = if to < total {
                Json::String(next_url(call, to))
            } else if url.leaf == TypeDesc::String {
                Json::String(String::new())
            } else {
                Json::Null
            };
            markers.push((url.segs.clone(), value));
            (from, to)
        }
    };
    let slice = Json::Array(records.get(from..to).map(<[Json]>::to_vec).unwrap_or_default());
    let mut body = skeleton.clone();
    set_path(&mut body, at, slice);
    for (path, value) in markers {
        set_path(&mut body, &path, value);
    }
    Ok((body, headers))
}

/// The request's URL with `mock_offset` set to `offset`.
fn next_url(call: &Incoming, offset: usize) -> String {
    let mut query: Vec<&str> =
        call.query.split('&').filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(OFFSET_PARAM)).collect();
    let offset = format!("{OFFSET_PARAM}={offset}");
    query.push(&offset);
    format!("{}{}?{}", call.origin, call.path, query.join("&"))
}

/// A JSON scalar as text (a cursor sent back in a query).
fn json_text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn get_path<'a>(mut value: &'a Json, path: &[Seg]) -> Option<&'a Json> {
    for seg in path {
        value = match seg {
            Seg::Member(name) => value.as_object()?.get(name)?,
            Seg::Index(index) => value.as_array()?.get(*index)?,
        };
    }
    Some(value)
}

/// Puts `value` at `path` in `target`, making objects and lists on the way.
/// A single result's body: `value` itself, or, with `select body.a.b`,
/// `value` placed at that path of the response skeleton.
fn placed(skeleton: &Json, select: Option<&[Seg]>, value: Json) -> Json {
    match select {
        None => value,
        Some(path) => {
            let mut body = skeleton.clone();
            set_path(&mut body, path, value);
            body
        }
    }
}

fn set_path(target: &mut Json, path: &[Seg], value: Json) {
    let Some((first, rest)) = path.split_first() else {
        *target = value;
        return;
    };
    match first {
        Seg::Member(name) => {
            if !target.is_object() {
                *target = Json::Object(JsonMap::new());
            }
            if let Json::Object(object) = target {
                let slot = object.entry(name.clone()).or_insert(Json::Null);
                set_path(slot, rest, value);
            }
        }
        Seg::Index(index) => {
            if !target.is_array() {
                *target = Json::Array(Vec::new());
            }
            if let Json::Array(items) = target {
                while items.len() <= *index {
                    items.push(Json::Null);
                }
                if let Some(slot) = items.get_mut(*index) {
                    set_path(slot, rest, value.clone());
                }
                // Earlier places hold the same value, so that every element decodes.
                for item in items.iter_mut().take(*index) {
                    if item.is_null() {
                        set_path(item, rest, value.clone());
                    }
                }
            }
        }
    }
}

/// Takes the members of `source` (a request body) whose wire names are
/// fields of `ty` and whose values fit them (nested records field by field).
fn overlay(target: &mut Json, ty: &TypeDesc, source: &Json, schema: &Schema) {
    let (TypeDesc::Record(index), Json::Object(source), Json::Object(object)) =
        (strip_optional(ty), source, &mut *target)
    else {
        return;
    };
    let Some(record) = schema.record(*index) else { return };
    for field in &record.fields {
        let Some(member) = source.get(&field.wire) else { continue };
        if let Some(fitting) = fitting(member, &field.ty, schema) {
            object.insert(field.wire.clone(), fitting);
        } else if let (TypeDesc::Record(_), Json::Object(_)) = (strip_optional(&field.ty), member)
            && let Some(slot) = object.get_mut(&field.wire)
        {
            overlay(slot, &field.ty, member, schema);
        }
    }
}

/// Path parameters named like fields of `ty` (by name or wire name) take their place.
fn overlay_params(target: &mut Json, ty: &TypeDesc, params: &[(String, String)], schema: &Schema) {
    let (TypeDesc::Record(index), Json::Object(object)) = (strip_optional(ty), &mut *target) else { return };
    let Some(record) = schema.record(*index) else { return };
    for (name, text) in params {
        let Some(field) = record.fields.iter().find(|field| field.name == *name || field.wire == *name) else {
            continue;
        };
        if let Some(value) = fitting(&Json::String(text.clone()), &field.ty, schema) {
            object.insert(field.wire.clone(), value);
        }
    }
}

/// `value` when it decodes as `ty`, or the JSON scalar a string holds (form fields, path parameters).
fn fitting(value: &Json, ty: &TypeDesc, schema: &Schema) -> Option<Json> {
    if decode::from_json(value, ty, schema, "request").is_ok() {
        return Some(value.clone());
    }
    let Json::String(text) = value else { return None };
    let parsed: Json = serde_json::from_str(text).ok()?;
    if parsed.is_object() || parsed.is_array() || parsed.is_string() {
        return None;
    }
    decode::from_json(&parsed, ty, schema, "request").is_ok().then_some(parsed)
}

/// A write's body as JSON: JSON as it is, a form as an object of strings.
fn parse_body(call: &Incoming) -> Json {
    if call.body.is_empty() {
        return Json::Null;
    }
    let form = call.header("content-type").is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
    if form {
        let mut object = JsonMap::new();
        for (key, value) in parse_pairs(&String::from_utf8_lossy(&call.body)) {
            match object.get_mut(&key) {
                Some(Json::Array(items)) => items.push(Json::String(value)),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Json::Array(vec![first, Json::String(value)]);
                }
                None => {
                    object.insert(key, Json::String(value));
                }
            }
        }
        return Json::Object(object);
    }
    serde_json::from_slice(&call.body).unwrap_or(Json::Null)
}

/// `a=1&b=x+y` as decoded pairs.
fn parse_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(&key.replace('+', " ")), percent_decode(&value.replace('+', " ")))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while position < bytes.len() {
        let byte = bytes[position];
        if byte == b'%'
            && let Some(hex) = bytes.get(position + 1..position + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(decoded) = u8::from_str_radix(hex, 16)
        {
            out.push(decoded);
            position += 3;
            continue;
        }
        out.push(byte);
        position += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ====================================================================== values

/// The zero value of a type (§ 13.1): `0`, `""`, `false`, `[]`, `{}`, the
/// first variant, the epoch, `none`.
fn zero(ty: &TypeDesc, schema: &Schema, depth: usize) -> Value {
    match ty {
        TypeDesc::Int(_) => Value::Int(0),
        TypeDesc::Float(_) => Value::Float(0.0),
        TypeDesc::Decimal(_) => Value::Decimal(Decimal::ZERO),
        TypeDesc::Bool => Value::Bool(false),
        TypeDesc::String => Value::string(""),
        TypeDesc::DateTime(_) => Value::DateTime(DateTime { seconds: 0, nanos: 0, offset_seconds: 0 }),
        TypeDesc::Date => Value::Date(jiff::civil::Date::constant(1970, 1, 1)),
        TypeDesc::Duration(_) => Value::Duration(integ_runtime::value::Duration { millis: 0 }),
        TypeDesc::Json | TypeDesc::Optional(_) => Value::None,
        TypeDesc::List(_) => Value::list(Vec::new()),
        TypeDesc::Map(_) => Value::Map(Arc::new(Vec::new())),
        TypeDesc::Enum(index) => Value::Enum { ty: *index, variant: 0 },
        TypeDesc::Record(index) => match schema.record(*index) {
            Some(record) if depth < MAX_DEPTH => {
                Value::record(*index, record.fields.iter().map(|field| zero(&field.ty, schema, depth + 1)).collect())
            }
            _ => Value::None,
        },
    }
}

/// How deep generated values nest at most.
const MAX_DEPTH: usize = 12;
/// Below this depth, optionals are none and lists empty (recursive types end).
const SHALLOW: usize = 6;
/// 2024-01-01T00:00:00Z.
const EPOCH_2024: i64 = 1_704_067_200;

const FIRST_NAMES: &[&str] =
    &["Ana", "Jonas", "Mia", "Liam", "Sofia", "Noah", "Emma", "Lucas", "Olivia", "Mateo", "Yuki", "Amara"];
const LAST_NAMES: &[&str] =
    &["Lima", "Weber", "Okafor", "Smith", "Rossi", "Tanaka", "Garcia", "Novak", "Dubois", "Jensen", "Khan", "Silva"];
const COUNTRIES: &[&str] = &["US", "DE", "FR", "GB", "NL", "CA", "ES", "JP"];
const CITIES: &[&str] = &["San Francisco", "Berlin", "Paris", "London", "Amsterdam", "Toronto", "Madrid", "Osaka"];
const CURRENCIES: &[&str] = &["USD", "EUR", "GBP"];
const COMPANIES: &[&str] = &["Acme Corp", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries"];
const STREETS: &[&str] = &["Market St", "Main St", "Oak Ave", "High St", "Elm Rd", "Harbor Blvd"];
const STATES: &[&str] = &["CA", "NY", "TX", "WA", "IL", "MA"];

/// Deterministic fake values (see the module documentation).
struct Faker<'a> {
    schema: &'a Schema,
    rng: Rng,
    counters: HashMap<(u32, String), u64>,
    /// Counters start after this (successive writes count on).
    start: u64,
}

impl<'a> Faker<'a> {
    fn new(schema: &'a Schema, seed: u64, start: u64) -> Faker<'a> {
        Faker {
            schema,
            rng: Rng::new(seed ^ start.wrapping_mul(0x2545_F491_4F6C_DD1D)),
            counters: HashMap::new(),
            start,
        }
    }

    /// The next number of `field` of `record` (from 1, after `start`).
    fn count(&mut self, record: u32, field: &str) -> u64 {
        let counter = self.counters.entry((record, field.to_owned())).or_insert(self.start);
        *counter += 1;
        *counter
    }

    fn value(&mut self, ty: &TypeDesc, record: u32, field: &str, depth: usize) -> Value {
        match ty {
            TypeDesc::Optional(inner) => {
                if depth > 0 && (depth > SHALLOW || self.rng.below(4) == 0) {
                    Value::None
                } else {
                    self.value(inner, record, field, depth)
                }
            }
            TypeDesc::List(inner) => {
                let length = if depth > SHALLOW { 0 } else { 1 + self.rng.below(3) };
                let item = singular(field);
                Value::list((0..length).map(|_| self.value(inner, record, &item, depth + 1)).collect())
            }
            TypeDesc::Map(inner) => {
                let length = if depth > SHALLOW { 0 } else { 1 + self.rng.below(2) };
                let entries = (0..length)
                    .map(|position| {
                        (
                            Arc::from(format!("key{}", position + 1).as_str()),
                            self.value(inner, record, field, depth + 1),
                        )
                    })
                    .collect();
                Value::Map(Arc::new(entries))
            }
            TypeDesc::Record(index) => {
                let Some(desc) = self.schema.record(*index) else { return Value::None };
                if depth > MAX_DEPTH {
                    return Value::None;
                }
                let fields: Vec<(String, TypeDesc)> =
                    desc.fields.iter().map(|field| (field.name.clone(), field.ty.clone())).collect();
                let values = fields.iter().map(|(name, ty)| self.value(ty, *index, name, depth + 1)).collect();
                Value::record(*index, values)
            }
            TypeDesc::Enum(index) => {
                let variants = self.schema.enumeration(*index).map(|desc| desc.variants.len()).unwrap_or(0).max(1);
                let n = self.count(record, field);
                Value::Enum { ty: *index, variant: ((n - 1) % variants as u64) as u32 }
            }
            TypeDesc::Int(_) => Value::Int(self.int(record, field)),
            TypeDesc::Decimal(_) => {
                let cents = self.cents(field);
                Value::Decimal(Decimal::new(cents, 2))
            }
            TypeDesc::Float(_) => Value::Float(self.cents(field) as f64 / 100.0),
            TypeDesc::Bool => {
                let name = field.to_ascii_lowercase();
                let rarely = ["test", "deleted", "archived", "disabled", "draft", "blocked", "spam", "fraud"]
                    .iter()
                    .any(|word| name.contains(word));
                Value::Bool(if rarely { self.rng.below(10) == 0 } else { self.rng.below(2) == 0 })
            }
            TypeDesc::String => {
                let text = self.string(record, field);
                Value::string(text)
            }
            TypeDesc::DateTime(_) => {
                let n = self.count(record, field) as i64;
                let name = field.to_ascii_lowercase();
                let later = if name.starts_with("updated") || name.starts_with("modified") { 1800 } else { 0 };
                Value::DateTime(DateTime {
                    seconds: EPOCH_2024.saturating_add((n - 1).saturating_mul(3600)).saturating_add(later),
                    nanos: 0,
                    offset_seconds: 0,
                })
            }
            TypeDesc::Date => {
                let n = self.count(record, field) as i64;
                let start = jiff::civil::Date::constant(2024, 1, 1);
                let date = jiff::Span::new().try_days(n - 1).ok().and_then(|span| start.checked_add(span).ok());
                Value::Date(date.unwrap_or(start))
            }
            TypeDesc::Duration(_) => {
                let minutes = 1 + self.rng.below(120) as i64;
                Value::Duration(integ_runtime::value::Duration { millis: minutes * 60_000 })
            }
            TypeDesc::Json => {
                let n = self.count(record, field);
                let mut object = JsonMap::new();
                object.insert("id".to_owned(), Json::from(n));
                Value::Json(Arc::new(Json::Object(object)))
            }
        }
    }

    fn int(&mut self, record: u32, field: &str) -> i64 {
        let name = field.to_ascii_lowercase();
        if name == "id" || name.ends_with("_id") || (name.len() > 2 && field.ends_with("Id")) {
            return 1000 + self.count(record, field) as i64;
        }
        let has = |words: &[&str]| words.iter().any(|word| name.contains(word));
        if has(&["count", "quantity", "qty", "number_of", "num_"]) {
            1 + self.rng.below(5) as i64
        } else if has(&["cents", "amount", "price", "total", "cost", "fee", "balance", "subtotal", "tax"]) {
            100 + self.rng.below(49_901) as i64
        } else if name == "year" {
            2024
        } else if name == "age" {
            18 + self.rng.below(60) as i64
        } else {
            1 + self.rng.below(100) as i64
        }
    }

    fn cents(&mut self, field: &str) -> i64 {
        let name = field.to_ascii_lowercase();
        let money = ["amount", "price", "total", "cost", "fee", "balance", "value", "tax", "discount"]
            .iter()
            .any(|word| name.contains(word));
        if money { 100 + self.rng.below(49_901) as i64 } else { self.rng.below(10_000) as i64 }
    }

    fn pick(&mut self, list: &[&str], n: u64) -> String {
        let offset = (self.rng.below(list.len() as u64) + n) as usize;
        list.get(offset % list.len().max(1)).copied().unwrap_or("").to_owned()
    }

    fn string(&mut self, record: u32, field: &str) -> String {
        let name = field.to_ascii_lowercase();
        let n = self.count(record, field);
        let is = |words: &[&str]| words.contains(&name.as_str());
        let has = |words: &[&str]| words.iter().any(|word| name.contains(word));
        if name == "id" {
            return format!("{}-{n}", self.stem(record));
        }
        if is(&["uuid", "guid"]) {
            return format!("00000000-0000-4000-8000-{n:012}");
        }
        if has(&["email"]) {
            return format!("user{n}@example.com");
        }
        if name.ends_with("_id") || (name.len() > 2 && field.ends_with("Id")) {
            let stem = name.trim_end_matches("_id").trim_end_matches("id");
            return format!("{}-{n}", if stem.is_empty() { "id" } else { stem });
        }
        if is(&["first_name", "firstname", "given_name", "first"]) {
            return self.pick(FIRST_NAMES, n);
        }
        if is(&["last_name", "lastname", "family_name", "surname", "last"]) {
            return self.pick(LAST_NAMES, n);
        }
        if is(&["username", "user_name", "login", "handle", "user"]) {
            return format!("user{n}");
        }
        if is(&["name", "full_name", "fullname", "display_name", "contact_name", "customer_name", "author", "owner"]) {
            let first = self.pick(FIRST_NAMES, n);
            let last = self.pick(LAST_NAMES, n);
            return format!("{first} {last}");
        }
        if has(&["phone", "mobile", "fax"]) {
            return format!("+1 415 555 {:04}", 100 + n % 9900);
        }
        if has(&["country"]) {
            return self.pick(COUNTRIES, n);
        }
        if has(&["city", "town"]) {
            return self.pick(CITIES, n);
        }
        if has(&["currency"]) {
            return self.pick(CURRENCIES, n);
        }
        if is(&["zip", "zip_code", "zipcode", "postal_code", "postcode", "postalcode"]) {
            return format!("{:05}", 10_000 + (n * 7_919) % 89_999);
        }
        if is(&["state", "region", "province"]) {
            return self.pick(STATES, n);
        }
        if is(&["street", "address", "line1", "address1", "address_line1", "street_address"]) {
            let street = self.pick(STREETS, n);
            return format!("{} {street}", 100 + n);
        }
        if is(&["line2", "address2", "address_line2"]) {
            return format!("Suite {n}");
        }
        if has(&["url", "href", "website", "link", "homepage"]) {
            return format!("https://example.com/{name}/{n}");
        }
        if has(&["company", "organization", "organisation", "employer", "org"]) {
            return self.pick(COMPANIES, n);
        }
        if is(&["sku"]) {
            return format!("SKU-{n:04}");
        }
        if is(&["code"]) {
            return format!("CODE-{n}");
        }
        if is(&["slug"]) {
            return format!("item-{n}");
        }
        if is(&["tags", "labels"]) {
            return "vip, newsletter".to_owned();
        }
        if is(&["tag", "label", "category", "product_type", "type", "kind"]) {
            return self.pick(&["apparel", "kitchen", "books", "garden", "toys"], n);
        }
        if is(&["status"]) {
            return "active".to_owned();
        }
        if is(&["language", "lang", "locale"]) {
            return "en".to_owned();
        }
        if is(&["timezone", "time_zone", "tz"]) {
            return "UTC".to_owned();
        }
        if has(&["token", "secret", "key"]) {
            return format!("tok_{n:08}");
        }
        if is(&["title", "subject", "summary", "headline"]) {
            return format!("Sample {name} {n}");
        }
        if is(&["description", "note", "notes", "body", "comment", "message", "text", "content", "bio"]) {
            return format!("Note {n}: generated by the integ stand-in.");
        }
        if name.is_empty() {
            return format!("value {n}");
        }
        format!("{} {n}", name.replace('_', " "))
    }

    /// A record's name as an id prefix: `ContactRef` → `contact`.
    fn stem(&self, record: u32) -> String {
        let name = self.schema.record(record).map(|record| record.name.as_str()).unwrap_or("item");
        let name = name.strip_suffix("Ref").or_else(|| name.strip_suffix("Reference")).unwrap_or(name);
        let mut stem = String::new();
        for (position, character) in name.chars().enumerate() {
            if character.is_uppercase() && position > 0 {
                stem.push('_');
            }
            stem.extend(character.to_lowercase());
        }
        if stem.is_empty() || !stem.chars().all(|character| character.is_alphanumeric() || character == '_') {
            "item".to_owned()
        } else {
            stem
        }
    }
}

/// The name of one item of a list field: `tags` → `tag`.
fn singular(field: &str) -> String {
    match field.strip_suffix('s') {
        Some(stem) if stem.len() > 2 && !stem.ends_with('s') => stem.to_owned(),
        _ => field.to_owned(),
    }
}

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next() % bound }
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// FNV-1a, to seed by name.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3))
}
