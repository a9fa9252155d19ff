//! The api client: one call, step by step (§ 16.2 of spec.md).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION, PROXY_AUTHORIZATION,
    RETRY_AFTER, USER_AGENT,
};
use tokio::time::Instant;
use url::Url;

use super::auth::{AuthError, Credential, Outgoing, SharedAuth, Token, TokenReply, TokenTransport};
use super::errors::{
    CallError, CallErrorKind, ConfigError, ErrorArm, RecordedRequest, RecordedResponse, StatusMapping, body_excerpt,
    format_duration, map_status, record_body, record_headers, status_text,
};
use super::limits::Limits;
use super::policy::{DelayRng, DelaySource, Failure, Policy, Rate};
use super::request::{Header, Request, encode_query, encode_query_component, header_name, header_value};
use crate::secret::{REDACTED, redact};

/// Redirects followed in a row at most (§ 16.3).
pub const MAX_REDIRECTS: u32 = 10;

/// The wall clock: `Retry-After` dates and HMAC timestamps read it.
pub type WallClock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The configuration of an api (§ 9).
#[derive(Clone)]
pub struct ApiConfig {
    /// The api's name, in errors and logs (`Crm`).
    pub name: String,
    /// An absolute `http(s)` URL without user information, query or fragment;
    /// a trailing `/` is ignored and its path is kept.
    pub base_url: String,
    /// The api's `headers` (§ 10.6 step 3), in order.
    pub headers: Vec<(String, Credential)>,
    pub auth: SharedAuth,
    pub policy: Arc<Policy>,
    /// The api's `rate_limit:` clause; the policy's when `None`.
    pub rate_limit: Option<Rate>,
    /// The api's `concurrency:` clause; the policy's when `None`.
    pub concurrency: Option<u32>,
    /// The api's `errors` arms.
    pub errors: Vec<ErrorArm>,
    /// Seeds jitter and HMAC nonces (tests); from the OS when `None`.
    pub seed: Option<u64>,
    /// The wall clock; `SystemTime::now` when `None`.
    pub wall_clock: Option<WallClock>,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ApiConfig")
            .field("name", &self.name)
            .field("base_url", &redact(&self.base_url))
            .field("headers", &self.headers)
            .field("auth", &self.auth)
            .field("policy", &self.policy)
            .field("rate_limit", &self.rate_limit)
            .field("concurrency", &self.concurrency)
            .field("errors", &self.errors)
            .field("seed", &self.seed)
            .finish()
    }
}

impl ApiConfig {
    pub fn new(name: impl Into<String>, base_url: impl Into<String>) -> ApiConfig {
        ApiConfig {
            name: name.into(),
            base_url: base_url.into(),
            headers: Vec::new(),
            auth: SharedAuth::default(),
            policy: Arc::new(Policy::default()),
            rate_limit: None,
            concurrency: None,
            errors: Vec::new(),
            seed: None,
            wall_clock: None,
        }
    }

    pub fn auth(mut self, auth: impl Into<SharedAuth>) -> ApiConfig {
        self.auth = auth.into();
        self
    }

    pub fn policy(mut self, policy: impl Into<Arc<Policy>>) -> ApiConfig {
        self.policy = policy.into();
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<Credential>) -> ApiConfig {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn rate_limit(mut self, rate: Rate) -> ApiConfig {
        self.rate_limit = Some(rate);
        self
    }

    pub fn concurrency(mut self, limit: u32) -> ApiConfig {
        self.concurrency = Some(limit);
        self
    }

    pub fn errors(mut self, arms: Vec<ErrorArm>) -> ApiConfig {
        self.errors = arms;
        self
    }

    pub fn seed(mut self, seed: u64) -> ApiConfig {
        self.seed = Some(seed);
        self
    }

    pub fn wall_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> ApiConfig {
        self.wall_clock = Some(Arc::new(clock));
        self
    }
}

/// What `send` needs to know about the endpoint being called.
#[derive(Clone, Debug, Default)]
pub struct EndpointOptions {
    /// The endpoint's name, in errors and logs (`upsert_contact`).
    pub name: String,
    /// The endpoint's own `policy:` (§ 11.9); the api's when `None`.
    pub policy: Option<Arc<Policy>>,
    /// The endpoint's `errors` arms, tried before the api's.
    pub errors: Vec<ErrorArm>,
    /// `idempotent: true`: a POST or PATCH may be retried.
    pub idempotent: bool,
    /// The limiter, concurrency limit and breaker of the endpoint's own
    /// policy, applied in addition to the api's (§ 11.9). Build it once per
    /// endpoint with [`Limits::for_endpoint_policy`] and share it.
    pub limits: Option<Arc<Limits>>,
}

impl EndpointOptions {
    pub fn new(name: impl Into<String>) -> EndpointOptions {
        EndpointOptions { name: name.into(), ..EndpointOptions::default() }
    }

    pub fn policy(mut self, policy: impl Into<Arc<Policy>>) -> EndpointOptions {
        self.policy = Some(policy.into());
        self
    }

    pub fn errors(mut self, arms: Vec<ErrorArm>) -> EndpointOptions {
        self.errors = arms;
        self
    }

    pub fn idempotent(mut self, idempotent: bool) -> EndpointOptions {
        self.idempotent = idempotent;
        self
    }

    pub fn limits(mut self, limits: Arc<Limits>) -> EndpointOptions {
        self.limits = Some(limits);
        self
    }
}

/// A successful call's final response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    /// The whole body, decompressed.
    pub body: Bytes,
    /// The URL that answered (after redirects), without auth query parameters.
    pub url: Url,
    /// An `=> none` arm matched the status: the call's result is `none` and
    /// the body is not to be decoded.
    pub none: bool,
    /// Attempts the call made.
    pub attempts: u32,
}

impl Response {
    /// A header's value as text (the first, if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `headers` of `records`/`select`/`paginate` expressions (§ 10.8):
    /// names in lowercase, repeated headers joined with `", "`, in order of
    /// first appearance.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            match pairs.iter_mut().find(|(existing, _)| existing == name.as_str()) {
                Some((_, joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                None => pairs.push((name.as_str().to_owned(), value.into_owned())),
            }
        }
        pairs
    }
}

/// A client of one api: its base URL, headers, auth, policy, error arms,
/// shared limits and connection pool. Cheap to clone (clones share all).
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ApiClient")
            .field("name", &self.inner.name)
            .field("base_url", &redact(self.inner.base.as_str()))
            .field("limits", &self.inner.limits)
            .finish()
    }
}

struct ClientInner {
    name: String,
    base: Url,
    /// The base URL as text, without a trailing `/`.
    base_text: String,
    headers: HeaderMap,
    auth: SharedAuth,
    /// Lowercase names of the headers the auth scheme sets.
    auth_headers: Vec<String>,
    policy: Arc<Policy>,
    errors: Vec<ErrorArm>,
    limits: Limits,
    http: reqwest::Client,
    rng: DelayRng,
    wall_clock: WallClock,
    user_agent: HeaderValue,
}

/// Validates a base URL (§ 9): absolute http(s), a host, no user
/// information, query or fragment.
pub fn parse_base_url(text: &str) -> Result<Url, ConfigError> {
    let invalid = |why: &str| ConfigError::new(format!("base URL `{text}` {why}"));
    let url = Url::parse(text).map_err(|_| invalid("is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("is not an http:// or https:// URL"));
    }
    if !url.has_host() || url.host_str().is_some_and(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("has user information"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("has a query or a fragment"));
    }
    Ok(url)
}

/// Same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

fn redirect_followed(method: &Method, status: u16) -> bool {
    match status {
        301..=303 => matches!(*method, Method::GET | Method::HEAD),
        307 | 308 => true,
        _ => false,
    }
}

/// A reqwest error as one line: what failed and why, without the URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = inner.source();
    }
    redact(&text).into_owned()
}

/// Runs `future` until `deadline`; `None` when the deadline passed first.
async fn within<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        None => Some(future.await),
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
    }
}

/// How long an attempt may take: the policy's timeout, or what is left of
/// the deadline when that is shorter (then `true`).
fn attempt_budget(timeout: Duration, deadline: Option<Instant>) -> (Duration, bool) {
    match deadline {
        Some(deadline) => {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining <= timeout { (remaining, true) } else { (timeout, false) }
        }
        None => (timeout, false),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A response read whole.
struct Exchange {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    url: Url,
}

/// How an attempt ended, once a request was sent.
enum Outcome {
    Response(Exchange),
    Timeout,
    Connection(String),
}

impl Outcome {
    fn failure(&self) -> Option<Failure> {
        match self {
            Outcome::Response(exchange) if (200..300).contains(&exchange.status) => None,
            Outcome::Response(exchange) => Some(Failure::Status(exchange.status)),
            Outcome::Timeout => Some(Failure::Timeout),
            Outcome::Connection(_) => Some(Failure::Connection),
        }
    }

    /// A breaker failure: timeout, connection failure or 5xx (§ 11.6).
    fn breaker_failure(&self) -> bool {
        match self {
            Outcome::Response(exchange) => (500..600).contains(&exchange.status),
            Outcome::Timeout | Outcome::Connection(_) => true,
        }
    }

    fn describe(&self, timeout: Duration) -> String {
        match self {
            Outcome::Response(exchange) => status_text(exchange.status),
            Outcome::Timeout => format!("timed out after {}", format_duration(timeout)),
            Outcome::Connection(message) => format!("connection failed: {message}"),
        }
    }
}

enum Attempt {
    /// The request was sent.
    Sent(Box<Sent>),
    /// The call ends without (another) request: breaker open, no
    /// credentials, deadline passed.
    Stopped(CallErrorKind),
}

struct Sent {
    outcome: Outcome,
    token: Option<u64>,
    record: Option<LastRequest>,
}

/// The request an attempt sent, for the call's error. Recording it (the
/// method, the URL, every header and the body as redacted text) costs more
/// than the rest of the call's own work, and a successful call never shows
/// it: an attempt answered with a 2xx keeps the request as sent and records
/// it only if an `errors` arm maps the status to an error; any other outcome
/// records it as soon as the attempt ends.
enum LastRequest {
    Recorded(RecordedRequest),
    Sent { url: Url, headers: HeaderMap },
}

enum ExchangeError {
    Connection(String),
    Credentials(String),
}

/// One call in progress.
struct Call<'a> {
    endpoint: &'a EndpointOptions,
    policy: &'a Policy,
    deadline: Option<Instant>,
    method: Method,
    /// The URL without credentials.
    url: Url,
    /// The URL for messages, redacted.
    shown_url: String,
    /// Headers of steps 1–5 of § 10.6.
    headers: HeaderMap,
    body: Option<Bytes>,
}

impl ApiClient {
    /// Checks the configuration and makes the client (its connection pool,
    /// limiter, breaker and semaphore). Call it inside the tokio runtime that
    /// will run the calls (the rate limiter reads tokio's clock).
    pub fn new(config: ApiConfig) -> Result<ApiClient, ConfigError> {
        let base = parse_base_url(&config.base_url)?;
        let base_text = base.as_str().trim_end_matches('/').to_owned();
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let header = match value {
                Credential::Text(text) => Header::new(name, text),
                Credential::Secret(secret) => Header::secret(name, secret),
            }
            .map_err(|error| ConfigError::new(format!("api {}: {error}", config.name)))?;
            headers.insert(header.name, header.value);
        }
        config.auth.validate().map_err(|error| ConfigError::new(format!("api {}: {error}", config.name)))?;
        let policy = config.policy;
        let limits = Limits::new(
            config.name.clone(),
            policy.circuit_breaker,
            config.rate_limit.or(policy.rate_limit),
            config.concurrency.or(policy.concurrency),
        )?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .build()
            .map_err(|error| ConfigError::new(format!("api {}: cannot make the HTTP client: {error}", config.name)))?;
        let user_agent = HeaderValue::from_str(&format!("integ/{}", crate::VERSION))
            .unwrap_or_else(|_| HeaderValue::from_static("integ"));
        Ok(ApiClient {
            inner: Arc::new(ClientInner {
                auth_headers: config.auth.header_names(),
                name: config.name,
                base,
                base_text,
                headers,
                auth: config.auth,
                policy,
                errors: config.errors,
                limits,
                http,
                rng: config.seed.map(DelayRng::seeded).unwrap_or_else(DelayRng::from_entropy),
                wall_clock: config.wall_clock.unwrap_or_else(|| Arc::new(SystemTime::now)),
                user_agent,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub fn auth(&self) -> &SharedAuth {
        &self.inner.auth
    }

    /// The URL of `request` without credentials: its `url`, or the base URL
    /// followed by its path and query.
    pub fn url_for(&self, request: &Request) -> Result<Url, String> {
        if let Some(url) = &request.url {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("`{url}` is not an http(s) URL"));
            }
            return Ok(url.clone());
        }
        if !request.path.starts_with('/') {
            return Err(format!("path `{}` does not start with `/`", request.path));
        }
        let mut url = Url::parse(&format!("{}{}", self.inner.base_text, request.path))
            .map_err(|error| format!("`{}{}` is not a valid URL: {error}", self.inner.base_text, request.path))?;
        let query = encode_query(&request.query);
        url.set_query(if query.is_empty() { None } else { Some(&query) });
        Ok(url)
    }

    /// The headers of steps 1–5 of § 10.6 (auth comes per attempt).
    fn assemble_headers(&self, request: &Request) -> Result<HeaderMap, String> {
        // User-Agent, Accept, Content-Type, the api's and the request's
        // headers, the idempotency key, and room for the credentials.
        let mut headers = HeaderMap::with_capacity(5 + self.inner.headers.len() + request.headers.len());
        headers.insert(USER_AGENT, self.inner.user_agent.clone());
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(content_type) = request.body.as_ref().and_then(|body| body.content_type.as_deref()) {
            headers.insert(CONTENT_TYPE, header_value(&CONTENT_TYPE, content_type).map_err(|error| error.to_string())?);
        }
        for (name, value) in &self.inner.headers {
            headers.insert(name.clone(), value.clone());
        }
        for header in &request.headers {
            headers.insert(header.name.clone(), header.value.clone());
        }
        if let Some(key) = &request.idempotency_key {
            headers.insert(key.header.clone(), key.value.clone());
        }
        Ok(headers)
    }

    fn call_error(&self, call: &Call<'_>, kind: CallErrorKind, attempts: u32) -> CallError {
        let mut error =
            CallError::new(&self.inner.name, &call.endpoint.name, kind, call.method.clone(), &call.shown_url);
        error.attempts = attempts;
        error
    }

    /// Sends `request` to this api as `endpoint` (§ 16.2 steps 3 and 4):
    /// for each attempt, the breaker is consulted, a concurrency slot, the
    /// credentials (a cached or fresh token) and a rate-limit slot are taken,
    /// the request is signed and sent with the attempt's timeout, and the
    /// outcome is classified; a 401 to a token is answered by one refresh and
    /// one repeat; a failure listed in `retry_on` is retried after the backoff
    /// (or `Retry-After`) while attempts and the deadline allow — a POST or
    /// PATCH only with an idempotency key or `idempotent: true`. The final
    /// status is mapped through the endpoint's arms, then the api's.
    pub async fn send(&self, request: Request, endpoint: &EndpointOptions) -> Result<Response, CallError> {
        let policy: &Policy = endpoint.policy.as_deref().unwrap_or(&self.inner.policy);
        // A deadline too far away to represent is no deadline.
        let deadline = policy.deadline.and_then(|deadline| Instant::now().checked_add(deadline));
        let url_result = self.url_for(&request);
        let shown_url = match &url_result {
            Ok(url) => redact(url.as_str()).into_owned(),
            Err(_) => redact(&format!("{}{}", self.inner.base_text, request.path)).into_owned(),
        };
        let mut call = Call {
            endpoint,
            policy,
            deadline,
            method: request.method.clone(),
            url: self.inner.base.clone(),
            shown_url,
            headers: HeaderMap::new(),
            body: request.body.as_ref().map(|body| body.bytes.clone()),
        };
        match url_result.and_then(|url| Ok((url, self.assemble_headers(&request)?))) {
            Ok((url, headers)) => {
                call.url = url;
                call.headers = headers;
            }
            Err(message) => {
                return Err(self.call_error(
                    &call,
                    CallErrorKind::InvalidRequest { message: redact(&message).into() },
                    0,
                ));
            }
        }
        let retry_safe = request.method_is_idempotent() || request.idempotency_key.is_some() || endpoint.idempotent;
        let max_attempts = policy.attempts.max(1);
        let api = self.inner.name.as_str();
        let endpoint_name = endpoint.name.as_str();

        let mut sent: u32 = 0;
        let mut repeating = false;
        let mut refreshed = false;
        let mut last_request: Option<LastRequest> = None;
        loop {
            let number = if repeating { sent } else { sent + 1 };
            let attempt = self.attempt(&call, number).await;
            let (outcome, token) = match attempt {
                Attempt::Stopped(kind) => {
                    let mut error = self.call_error(&call, kind, sent);
                    error.request = last_request.map(|last| Box::new(self.record_request(&call, last)));
                    tracing::debug!(api, endpoint = endpoint_name, "call failed: {error}");
                    return Err(error);
                }
                Attempt::Sent(sent_attempt) => {
                    let Sent { outcome, token, record } = *sent_attempt;
                    last_request = record.or(last_request);
                    (outcome, token)
                }
            };
            if !repeating {
                sent = sent.saturating_add(1);
            }
            repeating = false;

            if let (Outcome::Response(exchange), Some(token)) = (&outcome, token)
                && exchange.status == 401
                && !refreshed
            {
                refreshed = true;
                repeating = true;
                self.inner.auth.invalidate(token);
                tracing::debug!(
                    api,
                    endpoint = endpoint_name,
                    attempt = number,
                    "401 with an oauth2 token: refreshing the token and repeating the request once"
                );
                continue;
            }

            if let Some(failure) = outcome.failure()
                && policy.retries(failure)
            {
                let why = outcome.describe(policy.timeout);
                if sent >= max_attempts {
                    if max_attempts > 1 {
                        tracing::debug!(api, endpoint = endpoint_name, attempts = sent, "{why}: no attempts left");
                    }
                } else if !retry_safe {
                    tracing::debug!(
                        api,
                        endpoint = endpoint_name,
                        method = %call.method,
                        "{why}: not retried, a {} without an idempotency key or `idempotent: true` could run twice",
                        call.method
                    );
                } else {
                    let retry_after = match &outcome {
                        Outcome::Response(exchange) => {
                            exchange.headers.get(RETRY_AFTER).and_then(|value| value.to_str().ok())
                        }
                        _ => None,
                    };
                    let (delay, source) =
                        policy.retry_delay(sent, retry_after, (self.inner.wall_clock)(), &self.inner.rng);
                    let fits = deadline
                        .is_none_or(|deadline| Instant::now().checked_add(delay).is_some_and(|at| at <= deadline));
                    if fits {
                        let source = match source {
                            DelaySource::Backoff => "backoff",
                            DelaySource::RetryAfter => "Retry-After",
                        };
                        tracing::warn!(
                            api,
                            endpoint = endpoint_name,
                            attempt = sent,
                            delay_ms = millis(delay),
                            delay_source = source,
                            "{api}.{endpoint_name} attempt {sent} failed: {why}; retrying in {}",
                            format_duration(delay)
                        );
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    tracing::debug!(
                        api,
                        endpoint = endpoint_name,
                        delay_ms = millis(delay),
                        "{why}: the next attempt would start after the deadline; giving up"
                    );
                }
            }
            return self.finish(&call, outcome, sent, last_request);
        }
    }

    /// Step 4: the final outcome becomes a response or an error.
    fn finish(
        &self,
        call: &Call<'_>,
        outcome: Outcome,
        attempts: u32,
        request: Option<LastRequest>,
    ) -> Result<Response, CallError> {
        let attach = |mut error: CallError, response: Option<RecordedResponse>| {
            error.request = request.map(|last| Box::new(self.record_request(call, last)));
            error.response = response.map(Box::new);
            tracing::debug!(api = %self.inner.name, endpoint = %call.endpoint.name, "call failed: {error}");
            error
        };
        let exchange = match outcome {
            Outcome::Timeout => {
                let kind = CallErrorKind::Timeout { timeout: call.policy.timeout };
                return Err(attach(self.call_error(call, kind, attempts), None));
            }
            Outcome::Connection(message) => {
                return Err(attach(self.call_error(call, CallErrorKind::Connection { message }, attempts), None));
            }
            Outcome::Response(exchange) => exchange,
        };
        let status = exchange.status;
        let kind = match map_status(&call.endpoint.errors, &self.inner.errors, status) {
            mapping @ (StatusMapping::Success | StatusMapping::None) => {
                let none = mapping == StatusMapping::None;
                return Ok(Response {
                    status,
                    headers: exchange.headers,
                    body: exchange.body,
                    url: exchange.url,
                    none,
                    attempts,
                });
            }
            StatusMapping::Error(name) => {
                CallErrorKind::Mapped { name, status, body_excerpt: body_excerpt(&exchange.body) }
            }
            StatusMapping::Http => CallErrorKind::Http { status, body_excerpt: body_excerpt(&exchange.body) },
        };
        let recorded = RecordedResponse {
            status,
            headers: record_headers(&exchange.headers, &[]),
            body: record_body(&exchange.body),
        };
        let mut error = self.call_error(call, kind, attempts);
        error.url = redact(exchange.url.as_str()).into_owned();
        Err(attach(error, Some(recorded)))
    }

    /// One attempt: § 16.2 step 3, items 1 to 5.
    async fn attempt(&self, call: &Call<'_>, number: u32) -> Attempt {
        let api = self.inner.name.as_str();
        let endpoint = call.endpoint.name.as_str();
        let endpoint_limits = call.endpoint.limits.as_deref();
        let deadline_kind = || CallErrorKind::Deadline { deadline: call.policy.deadline.unwrap_or_default() };

        // 1. The circuit breakers (the api's, then the endpoint's own).
        let mut permits = Vec::new();
        for limits in std::iter::once(&self.inner.limits).chain(endpoint_limits) {
            if let Some(breaker) = limits.breaker() {
                match breaker.try_acquire() {
                    Ok(permit) => permits.push(permit),
                    Err(open) => {
                        tracing::debug!(
                            api,
                            endpoint,
                            breaker = limits.owner(),
                            retry_in_ms = millis(open.retry_in),
                            "circuit breaker open: failing fast"
                        );
                        return Attempt::Stopped(CallErrorKind::CircuitOpen);
                    }
                }
            }
        }

        // 2. A concurrency slot (held for the attempt).
        let slots = within(call.deadline, async {
            let api_slot = self.inner.limits.concurrency_slot().await;
            let endpoint_slot = match endpoint_limits {
                Some(limits) => limits.concurrency_slot().await,
                None => None,
            };
            (api_slot, endpoint_slot)
        })
        .await;
        let Some(_slots) = slots else { return Attempt::Stopped(deadline_kind()) };

        // 3. Credentials: a cached or fresh token.
        let transport = TokenSender { client: &self.inner, policy: &self.inner.policy, deadline: call.deadline };
        let token: Option<Token> = match within(call.deadline, self.inner.auth.token(&transport)).await {
            None | Some(Err(AuthError::Deadline)) => return Attempt::Stopped(deadline_kind()),
            Some(Err(AuthError::Failed(message))) => {
                return Attempt::Stopped(CallErrorKind::Auth { message: redact(&message).into_owned() });
            }
            Some(Ok(token)) => token,
        };

        // 2 (continued). The rate-limit slot, taken last so that the spacing
        // holds when the request leaves, whatever was waited for before.
        let rate = within(call.deadline, async {
            self.inner.limits.rate_slot().await;
            if let Some(limits) = endpoint_limits {
                limits.rate_slot().await;
            }
        })
        .await;
        if rate.is_none() {
            return Attempt::Stopped(deadline_kind());
        }

        // 4. Sign and send, with the attempt's timeout.
        let (budget, by_deadline) = attempt_budget(call.policy.timeout, call.deadline);
        let started = Instant::now();
        let mut record = None;
        tracing::debug!(api, endpoint, attempt = number, method = %call.method, url = %call.shown_url, "sending");
        let result = tokio::time::timeout(budget, self.exchange(call, token.as_ref(), &mut record)).await;
        let elapsed = started.elapsed();

        // 5. Classify.
        let outcome = match result {
            Err(_) if by_deadline => {
                tracing::debug!(api, endpoint, attempt = number, "the deadline passed during the attempt");
                return Attempt::Stopped(deadline_kind());
            }
            Err(_) => Outcome::Timeout,
            Ok(Err(ExchangeError::Credentials(message))) => {
                return Attempt::Stopped(CallErrorKind::Auth { message: redact(&message).into_owned() });
            }
            Ok(Err(ExchangeError::Connection(message))) => Outcome::Connection(message),
            Ok(Ok(exchange)) => Outcome::Response(exchange),
        };
        let status = match &outcome {
            Outcome::Response(exchange) => Some(exchange.status),
            _ => None,
        };
        tracing::debug!(
            api,
            endpoint,
            attempt = number,
            method = %call.method,
            url = %call.shown_url,
            status,
            duration_ms = millis(elapsed),
            "attempt ended: {}",
            outcome.describe(call.policy.timeout)
        );
        let breaker_failure = outcome.breaker_failure();
        for permit in permits {
            permit.record(breaker_failure);
        }
        let success = matches!(&outcome, Outcome::Response(exchange) if (200..300).contains(&exchange.status));
        let record = match record {
            Some(sent) if !success => Some(LastRequest::Recorded(self.record_request(call, sent))),
            record => record,
        };
        Attempt::Sent(Box::new(Sent { outcome, token: token.map(|token| token.id), record }))
    }

    /// Sends one attempt and reads the whole response, following redirects
    /// (§ 16.3): 301, 302 and 303 for GET and HEAD, 307 and 308 for every
    /// method (same method and body), at most 10 in a row. Credentials go only
    /// to the api's origin; a hop to another origin also loses
    /// `Authorization`, `Proxy-Authorization`, `Cookie` and secret headers.
    async fn exchange(
        &self,
        call: &Call<'_>,
        token: Option<&Token>,
        record: &mut Option<LastRequest>,
    ) -> Result<Exchange, ExchangeError> {
        let mut url = call.url.clone();
        let mut hops = 0;
        let empty = Bytes::new();
        let body = call.body.as_ref().unwrap_or(&empty);
        loop {
            let mut headers = call.headers.clone();
            let mut sent_url = url.clone();
            if same_origin(&url, &self.inner.base) {
                let mut parts = Outgoing { method: &call.method, url: &mut sent_url, headers: &mut headers, body };
                self.inner
                    .auth
                    .apply(&mut parts, token, (self.inner.wall_clock)(), &self.inner.rng)
                    .map_err(ExchangeError::Credentials)?;
            } else {
                strip_credentials(&mut headers);
            }
            let mut request = reqwest::Request::new(call.method.clone(), sent_url.clone());
            *request.headers_mut() = headers.clone();
            if let Some(body) = &call.body {
                *request.body_mut() = Some(body.clone().into());
            }
            *record = Some(LastRequest::Sent { url: sent_url.clone(), headers });
            let mut response =
                self.inner.http.execute(request).await.map_err(|error| ExchangeError::Connection(describe(error)))?;
            let status = response.status().as_u16();
            if hops < MAX_REDIRECTS && redirect_followed(&call.method, status) {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|location| location.to_str().ok())
                    .and_then(|location| sent_url.join(location).ok())
                    .filter(|next| matches!(next.scheme(), "http" | "https"));
                if let Some(next) = next {
                    hops += 1;
                    tracing::debug!(
                        api = %self.inner.name,
                        status,
                        to = %redact(next.as_str()),
                        "following a redirect"
                    );
                    url = next;
                    continue;
                }
            }
            let headers = std::mem::take(response.headers_mut());
            let body = response.bytes().await.map_err(|error| ExchangeError::Connection(describe(error)))?;
            return Ok(Exchange { status, headers, body, url });
        }
    }
}

impl ApiClient {
    /// The request an attempt sent, as recorded (§ 7.4).
    fn record_request(&self, call: &Call<'_>, last: LastRequest) -> RecordedRequest {
        match last {
            LastRequest::Recorded(recorded) => recorded,
            LastRequest::Sent { url, headers } => RecordedRequest {
                method: call.method.to_string(),
                url: self.recorded_url(&url),
                headers: record_headers(&headers, &self.inner.auth_headers),
                body: call.body.as_ref().map(|body| record_body(body)),
            },
        }
    }

    /// A URL as recorded (§ 7.4): the auth scheme's query parameter shows
    /// `<redacted>`, and every secret value is scrubbed.
    fn recorded_url(&self, url: &Url) -> String {
        let Some(param) = self.inner.auth.query_param() else { return redact(url.as_str()).into_owned() };
        if !url.query_pairs().any(|(key, _)| key == param) {
            return redact(url.as_str()).into_owned();
        }
        let query: Vec<String> = url
            .query_pairs()
            .map(|(key, value)| {
                let shown = if key == param { REDACTED.to_owned() } else { encode_query_component(&value) };
                format!("{}={shown}", encode_query_component(&key))
            })
            .collect();
        let mut shown = url.clone();
        shown.set_query(None);
        shown.set_fragment(None);
        redact(&format!("{shown}?{}", query.join("&"))).into_owned()
    }
}

/// Removes what must not reach another origin.
fn strip_credentials(headers: &mut HeaderMap) {
    for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE] {
        headers.remove(name);
    }
    let secret_names: Vec<HeaderName> =
        headers.iter().filter(|(_, value)| value.is_sensitive()).map(|(name, _)| name.clone()).collect();
    for name in secret_names {
        headers.remove(name);
    }
}

/// Sends token requests under the api's policy: its timeout, retries,
/// backoff and `Retry-After`, and the call's deadline — without the breaker,
/// rate limit or concurrency limit (§ 8.5).
struct TokenSender<'a> {
    client: &'a ClientInner,
    policy: &'a Policy,
    deadline: Option<Instant>,
}

impl TokenTransport for TokenSender<'_> {
    async fn post_form(&self, url: &Url, mut headers: HeaderMap, body: String) -> TokenReply {
        headers.insert(USER_AGENT, self.client.user_agent.clone());
        let body = Bytes::from(body);
        let attempts = self.policy.attempts.max(1);
        let shown_url = redact(url.as_str()).into_owned();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (budget, by_deadline) = attempt_budget(self.policy.timeout, self.deadline);
            let exchange = async {
                let response = self
                    .client
                    .http
                    .post(url.clone())
                    .headers(headers.clone())
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(describe)?;
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body = response.bytes().await.map_err(describe)?;
                Ok::<_, String>(Exchange { status, headers, body, url: url.clone() })
            };
            tracing::debug!(api = %self.client.name, attempt, url = %shown_url, "sending a token request");
            let outcome = match tokio::time::timeout(budget, exchange).await {
                Err(_) if by_deadline => return TokenReply::Deadline,
                Err(_) => Outcome::Timeout,
                Ok(Err(message)) => Outcome::Connection(message),
                Ok(Ok(exchange)) => Outcome::Response(exchange),
            };
            if let Some(failure) = outcome.failure()
                && self.policy.retries(failure)
                && attempt < attempts
            {
                let retry_after = match &outcome {
                    Outcome::Response(exchange) => {
                        exchange.headers.get(RETRY_AFTER).and_then(|value| value.to_str().ok())
                    }
                    _ => None,
                };
                let (delay, _) =
                    self.policy.retry_delay(attempt, retry_after, (self.client.wall_clock)(), &self.client.rng);
                if self
                    .deadline
                    .is_none_or(|deadline| Instant::now().checked_add(delay).is_some_and(|at| at <= deadline))
                {
                    tracing::debug!(
                        api = %self.client.name,
                        attempt,
                        delay_ms = millis(delay),
                        "token request failed: {}; retrying in {}",
                        outcome.describe(self.policy.timeout),
                        format_duration(delay)
                    );
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return match outcome {
                Outcome::Response(exchange) => TokenReply::Response { status: exchange.status, body: exchange.body },
                Outcome::Timeout => {
                    TokenReply::Failed(format!("timed out after {}", format_duration(self.policy.timeout)))
                }
                Outcome::Connection(message) => TokenReply::Failed(message),
            };
        }
    }
}

/// Validates an api or endpoint header for generated code that builds
/// headers itself.
pub fn validate_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let name = header_name(name).map_err(|error| ConfigError::new(error.to_string()))?;
    let value = header_value(&name, value).map_err(|error| ConfigError::new(error.to_string()))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert!(parse_base_url("https://shop.example.com/api/v2").is_ok());
        assert!(parse_base_url("ftp://shop.example.com").is_err());
        assert!(parse_base_url("https://user:pw@shop.example.com").is_err());
        assert!(parse_base_url("https://shop.example.com/?a=1").is_err());
        assert!(parse_base_url("https://shop.example.com/#x").is_err());
        assert!(parse_base_url("/relative").is_err());
    }

    #[test]
    fn urls_keep_the_base_path() {
        let client = ApiClient::new(ApiConfig::new("Shop", "https://shop.example.com/api/v2/")).unwrap();
        let request = Request::builder(Method::GET)
            .path(super::super::PathTemplate::new().literal("/orders/").param("a/b"))
            .query("q", "x y")
            .build()
            .unwrap();
        assert_eq!(client.url_for(&request).unwrap().as_str(), "https://shop.example.com/api/v2/orders/a%2Fb?q=x%20y");
        let root = ApiClient::new(ApiConfig::new("Shop", "https://shop.example.com")).unwrap();
        assert_eq!(root.url_for(&Request::get("/ping").unwrap()).unwrap().as_str(), "https://shop.example.com/ping");
    }

    /// The request is recorded for an error whether the attempt failed (a
    /// 503, recorded as soon as it ends) or succeeded with a 2xx that an
    /// `errors` arm maps to an error (recorded only then).
    #[tokio::test]
    async fn requests_are_recorded_for_errors() {
        use super::super::{Auth, Body, ErrorArm, StatusPattern};
        use crate::secret::Secret;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/accepted", axum::routing::post(|| async { (axum::http::StatusCode::ACCEPTED, "queued") }))
            .route("/down", axum::routing::post(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = ApiClient::new(
            ApiConfig::new("Crm", format!("http://{addr}"))
                .auth(Auth::Bearer(Secret::new("record-test-token-9")))
                .policy(Policy::single_attempt()),
        )
        .unwrap();
        let request = |path: &str| {
            Request::builder(Method::POST)
                .path(super::super::PathTemplate::literal_path(path))
                .body(Body::json(br#"{"a":1}"#.to_vec()))
                .build()
                .unwrap()
        };
        let endpoint =
            EndpointOptions::new("upsert").errors(vec![ErrorArm::new([StatusPattern::Exact(202)], "Queued")]);
        for (path, status) in [("/accepted", 202), ("/down", 503)] {
            let error = client.send(request(path), &endpoint).await.unwrap_err();
            assert_eq!(error.response.as_ref().map(|response| response.status), Some(status));
            let recorded = error.request.as_deref().expect("a recorded request");
            assert_eq!(recorded.method, "POST");
            assert_eq!(recorded.url, format!("http://{addr}{path}"));
            assert_eq!(recorded.body.as_deref(), Some(r#"{"a":1}"#));
            let header =
                |name: &str| recorded.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
            assert_eq!(header("authorization"), Some(REDACTED));
            assert_eq!(header("content-type"), Some("application/json"));
        }
    }

    #[test]
    fn redirect_rules() {
        assert!(redirect_followed(&Method::GET, 302));
        assert!(redirect_followed(&Method::HEAD, 303));
        assert!(!redirect_followed(&Method::POST, 302));
        assert!(redirect_followed(&Method::POST, 307));
        assert!(redirect_followed(&Method::PATCH, 308));
        assert!(!redirect_followed(&Method::GET, 304));
    }
}
