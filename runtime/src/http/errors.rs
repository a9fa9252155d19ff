//! Errors of the HTTP layer and status mapping (§ 10.10 of spec.md).
//!
//! A call that fails ends with a [`CallError`]: the api and endpoint, what
//! happened ([`CallErrorKind`]), how many attempts were sent, the method and
//! the URL (redacted), and a record of the last request and response for
//! dead letters (§ 12.7), redacted as § 7.4 says. Its `Display` reads
//! `Crm.upsert_contact failed after 5 attempts: 503 Service Unavailable (POST
//! https://crm.example.com/v1/contacts): {"error":"busy"}`.
//!
//! Every text stored here has gone through [`crate::secret::redact`], and
//! `Display` redacts once more (a secret registered after the error was made
//! is still scrubbed).

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;

use super::policy::StatusPattern;
use crate::secret::{REDACTED, redact};

/// How many characters of a response body an error message quotes.
pub const EXCERPT_CHARS: usize = 200;
/// How many bytes of a body a recorded request or response keeps (§ 12.7).
pub const RECORDED_BODY_BYTES: usize = 64 * 1024;

/// A configuration the HTTP layer cannot use: an invalid base URL, header,
/// rate, concurrency limit or auth argument. The message is redacted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub fn new(message: impl AsRef<str>) -> ConfigError {
        ConfigError { message: redact(message.as_ref()).into_owned() }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// What a matching arm makes of a status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorTarget {
    /// `=> Name`: the call fails with this error.
    Name(String),
    /// `=> none` (endpoint arms only): a successful call whose result is `none`.
    None,
}

/// One arm of an `errors` clause: `404 | 410 => Gone`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorArm {
    pub patterns: Vec<StatusPattern>,
    pub target: ErrorTarget,
}

impl ErrorArm {
    pub fn new(patterns: impl Into<Vec<StatusPattern>>, name: impl Into<String>) -> ErrorArm {
        ErrorArm { patterns: patterns.into(), target: ErrorTarget::Name(name.into()) }
    }

    pub fn none(patterns: impl Into<Vec<StatusPattern>>) -> ErrorArm {
        ErrorArm { patterns: patterns.into(), target: ErrorTarget::None }
    }

    pub fn matches(&self, status: u16) -> bool {
        self.patterns.iter().any(|pattern| pattern.matches(status))
    }
}

/// The meaning of a final status (§ 10.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusMapping {
    /// 2xx, no arm matched.
    Success,
    /// An `=> none` arm matched.
    None,
    /// An arm named an error.
    Error(String),
    /// No arm matched a status outside 2xx: the built-in `Http`.
    Http,
}

/// Maps `status` through the endpoint's arms, then the api's; the first
/// matching arm decides.
pub fn map_status(endpoint_arms: &[ErrorArm], api_arms: &[ErrorArm], status: u16) -> StatusMapping {
    let arm = endpoint_arms.iter().chain(api_arms).find(|arm| arm.matches(status));
    match arm.map(|arm| &arm.target) {
        Some(ErrorTarget::Name(name)) => StatusMapping::Error(name.clone()),
        Some(ErrorTarget::None) => StatusMapping::None,
        None if (200..300).contains(&status) => StatusMapping::Success,
        None => StatusMapping::Http,
    }
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallErrorKind {
    /// A status outside 2xx that no arm maps (error `Http`).
    Http { status: u16, body_excerpt: String },
    /// A status an arm maps to an error name.
    Mapped { name: String, status: u16, body_excerpt: String },
    /// The last attempt took longer than the policy's `timeout`.
    Timeout { timeout: Duration },
    /// DNS, refused or reset connection, TLS, or a response cut short.
    Connection { message: String },
    /// The circuit breaker is open: no request was sent.
    CircuitOpen,
    /// No credentials could be obtained (the token request failed).
    Auth { message: String },
    /// The call's deadline passed (error `Timeout`).
    Deadline { deadline: Duration },
    /// A page could not be read (reported by the caller's extractor).
    Decode { message: String },
    /// A pagination guard ended a stream (§ 10.9): a repeated cursor or URL,
    /// a next URL on another origin, `has_more` without a cursor, `max_pages`.
    Pagination { message: String },
    /// The request could not be assembled (an invalid URL or header).
    InvalidRequest { message: String },
}

impl CallErrorKind {
    /// The integ error name a `catch` arm matches (§ 10.10): the mapped name,
    /// or a built-in. The deadline passing is `Timeout`; pagination guards
    /// (not catchable, handled by `on_exhausted`) are `Pagination`; an invalid
    /// request is a run-time error of evaluation, `Request`.
    pub fn error_name(&self) -> &str {
        match self {
            CallErrorKind::Http { .. } => "Http",
            CallErrorKind::Mapped { name, .. } => name,
            CallErrorKind::Timeout { .. } | CallErrorKind::Deadline { .. } => "Timeout",
            CallErrorKind::Connection { .. } => "Connection",
            CallErrorKind::CircuitOpen => "CircuitOpen",
            CallErrorKind::Auth { .. } => "Auth",
            CallErrorKind::Decode { .. } => "Decode",
            CallErrorKind::Pagination { .. } => "Pagination",
            CallErrorKind::InvalidRequest { .. } => "Request",
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            CallErrorKind::Http { status, .. } | CallErrorKind::Mapped { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn body_excerpt(&self) -> Option<&str> {
        match self {
            CallErrorKind::Http { body_excerpt, .. } | CallErrorKind::Mapped { body_excerpt, .. }
                if !body_excerpt.is_empty() =>
            {
                Some(body_excerpt)
            }
            _ => None,
        }
    }
}

/// `503 Service Unavailable`.
pub fn status_text(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|code| code.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// `250ms`, `10s`, `1.5s`, `2m`, `1h30m`.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    if !millis.is_multiple_of(1000) {
        return format!("{}s", duration.as_secs_f64());
    }
    let seconds = millis / 1000;
    match (seconds / 3600, seconds % 3600 / 60, seconds % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m}m"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

impl fmt::Display for CallErrorKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallErrorKind::Http { status, .. } => formatter.write_str(&status_text(*status)),
            CallErrorKind::Mapped { name, status, .. } => write!(formatter, "{name} ({})", status_text(*status)),
            CallErrorKind::Timeout { timeout } => write!(formatter, "timed out after {}", format_duration(*timeout)),
            CallErrorKind::Connection { message } => write!(formatter, "connection failed: {message}"),
            CallErrorKind::CircuitOpen => formatter.write_str("circuit breaker open, no request sent"),
            CallErrorKind::Auth { message } => write!(formatter, "no credentials: {message}"),
            CallErrorKind::Deadline { deadline } => {
                write!(formatter, "deadline of {} passed", format_duration(*deadline))
            }
            CallErrorKind::Decode { message } => write!(formatter, "cannot decode the response: {message}"),
            CallErrorKind::Pagination { message } => write!(formatter, "pagination stopped: {message}"),
            CallErrorKind::InvalidRequest { message } => write!(formatter, "invalid request: {message}"),
        }
    }
}

/// A request as dead letters record it (§ 7.4, § 12.7): credentials and
/// secret-valued headers are `<redacted>`, everything else is scrubbed of
/// secret values, the body is kept up to 64 KiB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// The last response of a failed call, as dead letters record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The first 64 KiB of the body, as text (lossy UTF-8), redacted.
    pub body: String,
}

/// Headers recorded whatever their value (§ 7.4).
const ALWAYS_REDACTED: [&str; 4] = ["authorization", "proxy-authorization", "cookie", "set-cookie"];

/// Records `headers`: the always-redacted ones, those in `auth_headers` and
/// those marked sensitive become `<redacted>`; other values are scrubbed.
pub(crate) fn record_headers(headers: &HeaderMap, auth_headers: &[String]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str();
            let hidden = value.is_sensitive()
                || ALWAYS_REDACTED.contains(&name)
                || auth_headers.iter().any(|auth| auth.eq_ignore_ascii_case(name));
            let shown = if hidden {
                REDACTED.to_owned()
            } else {
                redact(&String::from_utf8_lossy(value.as_bytes())).into_owned()
            };
            (name.to_owned(), shown)
        })
        .collect()
}

/// The first `limit` bytes of `body` as redacted text.
pub(crate) fn record_body(body: &[u8]) -> String {
    let cut = body.get(..RECORDED_BODY_BYTES).unwrap_or(body);
    redact(&String::from_utf8_lossy(cut)).into_owned()
}

/// A short, one-line, redacted excerpt of a response body for messages.
pub fn body_excerpt(body: &[u8]) -> String {
    let cut = body.get(..EXCERPT_CHARS * 4).unwrap_or(body);
    let text = String::from_utf8_lossy(cut);
    let mut collapsed = String::new();
    for word in text.split_whitespace() {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    let truncated = body.len() > cut.len() || collapsed.chars().count() > EXCERPT_CHARS;
    let mut excerpt: String = collapsed.chars().take(EXCERPT_CHARS).collect();
    if truncated {
        excerpt.push('…');
    }
    redact(&excerpt).into_owned()
}

/// A failed call. The details are boxed (the error stays one pointer wide)
/// and reached through `Deref`: `error.api`, `error.kind`, `error.attempts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    details: Box<CallErrorDetails>,
}

/// What a [`CallError`] says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallErrorDetails {
    pub api: String,
    pub endpoint: String,
    pub kind: CallErrorKind,
    /// Attempts sent (a refused or abandoned one is not counted; the repeat
    /// after a token refresh is not counted either).
    pub attempts: u32,
    pub method: Method,
    /// The URL, secrets redacted.
    pub url: String,
    /// The last request sent, recorded for dead letters.
    pub request: Option<Box<RecordedRequest>>,
    /// The last response received, recorded for dead letters.
    pub response: Option<Box<RecordedResponse>>,
}

impl std::ops::Deref for CallError {
    type Target = CallErrorDetails;

    fn deref(&self) -> &CallErrorDetails {
        &self.details
    }
}

impl std::ops::DerefMut for CallError {
    fn deref_mut(&mut self) -> &mut CallErrorDetails {
        &mut self.details
    }
}

impl CallError {
    /// An error of `kind` for a call of `api.endpoint` (no records attached).
    pub fn new(
        api: impl Into<String>,
        endpoint: impl Into<String>,
        kind: CallErrorKind,
        method: Method,
        url: &str,
    ) -> CallError {
        CallError {
            details: Box::new(CallErrorDetails {
                api: api.into(),
                endpoint: endpoint.into(),
                kind,
                attempts: 0,
                method,
                url: redact(url).into_owned(),
                request: None,
                response: None,
            }),
        }
    }

    /// The integ error name (§ 10.10).
    pub fn error_name(&self) -> &str {
        self.kind.error_name()
    }

    /// The details, by value.
    pub fn into_details(self) -> CallErrorDetails {
        *self.details
    }

    /// The final status, for `Http` and mapped errors.
    pub fn status(&self) -> Option<u16> {
        self.kind.status()
    }

    fn render(&self) -> String {
        let attempts = match self.attempts {
            0 => String::new(),
            1 => " after 1 attempt".to_owned(),
            n => format!(" after {n} attempts"),
        };
        let mut text =
            format!("{}.{} failed{attempts}: {} ({} {})", self.api, self.endpoint, self.kind, self.method, self.url);
        if let Some(excerpt) = self.kind.body_excerpt() {
            text.push_str(": ");
            text.push_str(excerpt);
        }
        text
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&redact(&self.render()))
    }
}

impl std::error::Error for CallError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_tries_endpoint_then_api_arms() {
        let endpoint =
            [ErrorArm::none([StatusPattern::Exact(404)]), ErrorArm::new([StatusPattern::Exact(410)], "Gone")];
        let api = [
            ErrorArm::new([StatusPattern::Exact(401), StatusPattern::Exact(403)], "Forbidden"),
            ErrorArm::new([StatusPattern::Class(5)], "Unavailable"),
            ErrorArm::new([StatusPattern::Exact(404)], "NotFound"),
        ];
        assert_eq!(map_status(&endpoint, &api, 404), StatusMapping::None);
        assert_eq!(map_status(&endpoint, &api, 410), StatusMapping::Error("Gone".into()));
        assert_eq!(map_status(&endpoint, &api, 403), StatusMapping::Error("Forbidden".into()));
        assert_eq!(map_status(&endpoint, &api, 502), StatusMapping::Error("Unavailable".into()));
        assert_eq!(map_status(&endpoint, &api, 418), StatusMapping::Http);
        assert_eq!(map_status(&endpoint, &api, 201), StatusMapping::Success);
        let any = [ErrorArm::new([StatusPattern::Any], "Failed")];
        assert_eq!(map_status(&[], &any, 200), StatusMapping::Success);
        assert_eq!(map_status(&[], &any, 302), StatusMapping::Error("Failed".into()));
    }

    #[test]
    fn display_reads_well() {
        let mut error = CallError::new(
            "Crm",
            "upsert_contact",
            CallErrorKind::Http { status: 503, body_excerpt: "{\"error\": \"busy\"}".into() },
            Method::POST,
            "https://crm.example.com/v1/contacts",
        );
        error.attempts = 5;
        assert_eq!(
            error.to_string(),
            "Crm.upsert_contact failed after 5 attempts: 503 Service Unavailable \
             (POST https://crm.example.com/v1/contacts): {\"error\": \"busy\"}"
        );
        error.kind = CallErrorKind::CircuitOpen;
        error.attempts = 0;
        assert_eq!(
            error.to_string(),
            "Crm.upsert_contact failed: circuit breaker open, no request sent (POST https://crm.example.com/v1/contacts)"
        );
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        assert_eq!(body_excerpt(b"  {\n  \"a\": 1\n}\n"), "{ \"a\": 1 }");
        let long = "é".repeat(500);
        let excerpt = body_excerpt(long.as_bytes());
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS + 1);
        assert!(excerpt.ends_with('…'));
        assert_eq!(body_excerpt(&[0xff, 0xfe]), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }
}
