//! The webhook router: § 12.3's steps, in order, for every inbound request.
//!
//! Steps 1–6 (path, method, size, signature, content type, nesting) are
//! checked here; decoding by the payload type, the dedupe check and the
//! durable write (steps 6–8) belong to the [`Sink`], which the interpreter
//! and generated code each provide. The sink runs on a blocking thread
//! (`spawn_blocking`): it may write to the state store synchronously, and
//! the answer (`202`) is sent only after it returned.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use jiff::Timestamp;

use super::body::{self, Format};
use super::signature::{Scheme, Signed};
use crate::store::EventId;

/// One webhook flow's route.
#[derive(Clone, Debug)]
pub struct Route {
    /// The flow, for the sink and for log lines.
    pub flow: String,
    /// As written in the program: `/hooks/github`; matched exactly.
    pub path: String,
    pub scheme: Scheme,
    /// Bytes; a longer body is answered `413`.
    pub max_body: u64,
}

/// A request that passed steps 1–5, for the [`Sink`].
#[derive(Clone, Debug)]
pub struct Inbound {
    pub flow: String,
    pub received_at: Timestamp,
    /// The request headers without those that carry signatures, secrets
    /// or credentials (see [`kept_headers`]), names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The raw body, byte for byte.
    pub body: Vec<u8>,
    /// The body as JSON text: the raw body for JSON, a form body as the
    /// object of its fields (§ 12.3).
    pub json: Vec<u8>,
}

/// What a sink did with an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Stored in the flow's durable queue: answered `202`.
    Queued(EventId),
    /// Its dedupe key was accepted in the last 30 days: answered `200`.
    Duplicate,
}

/// Why a sink refused an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The body does not decode as the payload type (or its dedupe key
    /// cannot be computed): answered `400` with the message.
    #[error("{0}")]
    Decode(String),
    /// The state store is unavailable: answered `503`.
    #[error("{0}")]
    Unavailable(String),
}

/// Where accepted events go: decoded, checked against the dedupe keys and
/// stored durably (§ 12.3 steps 6–8). Called on a blocking thread, once per
/// request that passed the router's checks.
pub trait Sink: Send + Sync + 'static {
    fn accept(&self, event: Inbound) -> Result<Accepted, Refused>;
}

/// The time signatures' timestamps are checked against (tests inject one).
pub type Now = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Settings of a [`router`].
#[derive(Clone)]
pub struct Options {
    pub now: Now,
}

impl Default for Options {
    fn default() -> Options {
        Options { now: Arc::new(Timestamp::now) }
    }
}

/// Why a router cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("webhook path `{0}` must start with `/` and contain no `?`, `#` or whitespace")]
    InvalidPath(String),
    #[error("two webhook flows listen on `{0}`")]
    DuplicatePath(String),
}

struct Shared {
    sink: Arc<dyn Sink>,
    now: Now,
}

/// An axum router with one route per webhook (the request handling of
/// § 12.3). It has no fallback, so that it can be merged into an
/// application's own router; [`serve`] adds [`not_found`] for paths that
/// are no webhook's.
pub fn router(routes: Vec<Route>, sink: Arc<dyn Sink>, options: Options) -> Result<Router, RouteError> {
    let shared = Arc::new(Shared { sink, now: options.now });
    let mut seen = HashSet::new();
    let mut router = Router::new();
    for route in routes {
        if !route.path.starts_with('/') || route.path.contains(['?', '#']) || route.path.contains(char::is_whitespace) {
            return Err(RouteError::InvalidPath(route.path));
        }
        if !seen.insert(route.path.clone()) {
            return Err(RouteError::DuplicatePath(route.path));
        }
        // axum reads `{...}` as a capture: braces of the path are literal.
        let pattern = route.path.replace('{', "{{").replace('}', "}}");
        let route = Arc::new(route);
        let shared = shared.clone();
        router = router.route(
            &pattern,
            axum::routing::any(move |request: Request| {
                let (shared, route) = (shared.clone(), route.clone());
                async move { handle(&shared, &route, request).await }
            }),
        );
    }
    Ok(router)
}

/// Serves `router` on `listener` until `shutdown` completes, answering
/// `404` for any other path; requests in progress finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.fallback(not_found)).with_graceful_shutdown(shutdown).await
}

/// The answer to a path that is no webhook's (step 1).
pub async fn not_found(request: Request) -> Response {
    let message = format!("no webhook listens on `{}`", request.uri().path().chars().take(200).collect::<String>());
    tracing::warn!("webhook request refused (404): {message}");
    rejected(StatusCode::NOT_FOUND, &message)
}

/// `{"status":"rejected","error":"..."}` with `status`.
fn rejected(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "status": "rejected", "error": message });
    (status, axum::Json(body)).into_response()
}

async fn handle(shared: &Shared, route: &Route, request: Request) -> Response {
    let flow = route.flow.as_str();
    let refuse = |status: StatusCode, message: &str| {
        tracing::warn!(flow = %flow, "{flow}: webhook request refused ({}): {message}", status.as_u16());
        rejected(status, message)
    };
    // 2. The method.
    if request.method() != Method::POST {
        let mut response =
            refuse(StatusCode::METHOD_NOT_ALLOWED, &format!("`{}` takes POST, not {}", route.path, request.method()));
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    // 3. The size: the declared length first, then what arrives.
    let too_large = || format!("the body is larger than the limit of {} bytes", route.max_body);
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > route.max_body) {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, &too_large());
    }
    let (parts, body) = request.into_parts();
    let mut bytes = Vec::with_capacity(usize::try_from(declared.unwrap_or(0)).unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                if (bytes.len() + chunk.len()) as u64 > route.max_body {
                    return refuse(StatusCode::PAYLOAD_TOO_LARGE, &too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            Err(error) => return refuse(StatusCode::BAD_REQUEST, &format!("the body could not be read: {error}")),
        }
    }
    // 4. The signature (never logged).
    let signed = Signed { headers: &parts.headers, path: parts.uri.path(), body: &bytes };
    if let Err(error) = route.scheme.verify(&signed, (shared.now)()) {
        return refuse(StatusCode::UNAUTHORIZED, &format!("the signature does not verify: {error}"));
    }
    // 5. The content type; 6. a form read as JSON, the nesting limit.
    let content_type = parts.headers.get(header::CONTENT_TYPE).map(|value| value.to_str().unwrap_or("(not text)"));
    let json = match body::format(content_type) {
        Ok(Format::Json) => match body::check_nesting(&bytes) {
            Ok(()) => None,
            Err(error) => return refuse(StatusCode::BAD_REQUEST, &error.to_string()),
        },
        Ok(Format::Form) => match body::form_to_json(&bytes) {
            Ok(json) => Some(json),
            Err(error) => return refuse(StatusCode::BAD_REQUEST, &error.to_string()),
        },
        Err(error) => return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, &error.to_string()),
    };
    let headers = kept_headers(&parts.headers, &route.scheme);
    let json = json.unwrap_or_else(|| bytes.clone());
    let inbound = Inbound { flow: route.flow.clone(), received_at: Timestamp::now(), headers, body: bytes, json };
    // 6–8. Decoded, deduplicated and stored by the sink, before the answer.
    let sink = shared.sink.clone();
    match tokio::task::spawn_blocking(move || sink.accept(inbound)).await {
        Ok(Ok(Accepted::Queued(id))) => {
            tracing::info!(flow = %flow, "{flow}: webhook event {id} accepted");
            let body = serde_json::json!({ "status": "accepted", "event": id.to_string() });
            (StatusCode::ACCEPTED, axum::Json(body)).into_response()
        }
        Ok(Ok(Accepted::Duplicate)) => {
            tracing::info!(flow = %flow, "{flow}: webhook event is a duplicate of one already accepted; not run again");
            (StatusCode::OK, axum::Json(serde_json::json!({ "status": "duplicate" }))).into_response()
        }
        Ok(Err(Refused::Decode(message))) => refuse(StatusCode::BAD_REQUEST, &message),
        Ok(Err(Refused::Unavailable(message))) => refuse(StatusCode::SERVICE_UNAVAILABLE, &message),
        Err(_) => refuse(StatusCode::SERVICE_UNAVAILABLE, "the event could not be stored"),
    }
}

/// The request headers worth keeping with an event (for its dead letter):
/// all but those of the signature scheme and any that may carry a
/// credential (`Authorization`, `Cookie`, names containing `signature`,
/// `secret`, `token`, `auth`, `key` or `password`). Names are lowercase;
/// values that are not text are dropped.
pub fn kept_headers(headers: &HeaderMap, scheme: &Scheme) -> Vec<(String, String)> {
    let signature_headers = scheme.signature_headers();
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !signature_headers.iter().any(|header| header == name)
                && name != "cookie"
                && !["signature", "secret", "token", "auth", "key", "password"].iter().any(|word| name.contains(word))
        })
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Answers by the body's first byte: `d` duplicate, `x` decode error,
    /// `u` unavailable, else queued; remembers what it was given.
    struct Scripted(Mutex<Vec<Inbound>>);

    impl Sink for Scripted {
        fn accept(&self, event: Inbound) -> Result<Accepted, Refused> {
            let first = event.body.first().copied();
            self.0.lock().unwrap().push(event);
            match first {
                Some(b'd') => Ok(Accepted::Duplicate),
                Some(b'x') => Err(Refused::Decode("`id`: expected String".into())),
                Some(b'u') => Err(Refused::Unavailable("the state store is unavailable".into())),
                _ => Ok(Accepted::Queued(EventId::from_u128(7))),
            }
        }
    }

    async fn serve_routes(routes: Vec<Route>) -> (String, Arc<Scripted>) {
        let sink = Arc::new(Scripted(Mutex::new(Vec::new())));
        let router = router(routes, sink.clone(), Options::default()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, router, std::future::pending()));
        (format!("http://{address}"), sink)
    }

    async fn post(url: String, body: &'static str) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new().post(url).body(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap())
    }

    fn route(path: &str) -> Route {
        Route { flow: "hook".into(), path: path.into(), scheme: Scheme::None, max_body: 100 }
    }

    #[tokio::test]
    async fn the_sink_decides_202_200_400_and_503() {
        let (base, sink) = serve_routes(vec![route("/hooks/a"), route("/hooks/{x}")]).await;
        let url = format!("{base}/hooks/a");
        assert_eq!(
            post(url.clone(), "{}").await,
            (202, serde_json::json!({ "status": "accepted", "event": "00000000000000000000000007" }))
        );
        assert_eq!(post(url.clone(), "dup").await, (200, serde_json::json!({ "status": "duplicate" })));
        assert_eq!(
            post(url.clone(), "x").await,
            (400, serde_json::json!({ "status": "rejected", "error": "`id`: expected String" }))
        );
        assert_eq!(post(url.clone(), "u").await.0, 503);
        // The braces of a path are literal: `/hooks/other` is no capture of `{x}`.
        assert_eq!(post(format!("{base}/hooks/other"), "{}").await.0, 404);
        let given = sink.0.lock().unwrap();
        assert_eq!(given.len(), 4);
        assert_eq!(given[0].flow, "hook");
        assert_eq!(given[0].json, b"{}");
    }

    #[tokio::test]
    async fn bad_and_duplicate_paths_are_errors_not_panics() {
        let sink: Arc<dyn Sink> = Arc::new(Scripted(Mutex::new(Vec::new())));
        for path in ["", "hooks", "/a b", "/a?b"] {
            let error = router(vec![route(path)], sink.clone(), Options::default()).unwrap_err();
            assert_eq!(error, RouteError::InvalidPath(path.into()));
        }
        let error = router(vec![route("/a"), route("/a")], sink, Options::default()).unwrap_err();
        assert_eq!(error, RouteError::DuplicatePath("/a".into()));
    }

    #[test]
    fn kept_headers_drop_signatures_and_credentials() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("content-type", "application/json"),
            ("x-github-delivery", "d-1"),
            ("x-hub-signature-256", "sha256=00"),
            ("authorization", "Bearer t"),
            ("cookie", "a=b"),
            ("x-api-key", "k"),
            ("x-custom-sig", "s"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let scheme =
            Scheme::Hmac(super::super::HmacScheme::new(crate::secret::Secret::new("s3cr3t-value"), "X-Custom-Sig"));
        let kept = kept_headers(&headers, &scheme);
        let names: Vec<&str> = kept.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["content-type", "x-github-delivery"]);
    }
}
