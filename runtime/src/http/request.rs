//! Built requests (§ 10.4–10.7, § 10.11 of spec.md).
//!
//! A [`Request`] is what an endpoint call evaluated to: the method, the path
//! (already percent-encoded), the query pairs, the endpoint's headers, the
//! body and the idempotency key. The api's part — base URL, api headers,
//! auth — is added by [`ApiClient::send`](super::ApiClient::send).
//!
//! ```
//! use integ_runtime::http::{Body, Method, PathTemplate, Request};
//!
//! let request = Request::builder(Method::POST)
//!     .path(PathTemplate::new().literal("/orders/").param("12/a b").literal("/items"))
//!     .query("tag", "x")
//!     .query("tag", "y z")
//!     .header("X-Shop-Version", "2024-04")
//!     .body(Body::json(br#"{"sku":"A1"}"#.to_vec()))
//!     .idempotency_key("order-12")
//!     .build()
//!     .unwrap();
//! assert_eq!(request.path, "/orders/12%2Fa%20b/items");
//! assert_eq!(request.query_string(), "tag=x&tag=y%20z");
//! ```
//!
//! - **Path.** The caller gives literal text and values; each value is
//!   percent-encoded as **one path segment**: every byte but the unreserved
//!   `A–Z a–z 0–9 - . _ ~` is written `%XX` (uppercase hex), so `/` becomes
//!   `%2F`. An empty value is an error (it would address another resource),
//!   and so are the values `.` and `..`, which URL parsers resolve as dot
//!   segments even when percent-encoded, changing the path's structure.
//! - **Query.** Pairs in order, repeated keys allowed; keys and values are
//!   percent-encoded with the same unreserved set (space `%20`, `+` `%2B`).
//! - **Headers.** Names must be HTTP tokens; values must not contain a line
//!   feed, a carriage return or a NUL. Secret values are marked sensitive.
//! - **Idempotency key.** Sent as `Idempotency-Key` (or the configured name),
//!   the same value on every attempt and page request. An empty key is an
//!   error.
//!
//! Errors are [`RequestError`]s, which convert to
//! [`EvalError`]: a run-time error of evaluation,
//! no request is sent.

use bytes::Bytes;
use percent_encoding::utf8_percent_encode;
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

pub use reqwest::Method;

use crate::error::EvalError;
use crate::secret::{Secret, URL_COMPONENT, form_encode, redact};

/// The request could not be built; nothing is sent. The message names the
/// part at fault, never a secret value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    message: String,
}

impl RequestError {
    pub fn new(message: impl AsRef<str>) -> RequestError {
        RequestError { message: redact(message.as_ref()).into_owned() }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<RequestError> for EvalError {
    fn from(error: RequestError) -> EvalError {
        EvalError::Other(error.message)
    }
}

/// Percent-encodes `value` as one path segment (§ 10.4).
pub fn encode_path_segment(value: &str) -> String {
    utf8_percent_encode(value, URL_COMPONENT).collect()
}

/// Percent-encodes a query key or value (§ 10.5).
pub fn encode_query_component(value: &str) -> String {
    utf8_percent_encode(value, URL_COMPONENT).collect()
}

/// `k=v&k2=v2`, encoded, in order.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode_query_component(key));
        out.push('=');
        out.push_str(&encode_query_component(value));
    }
    out
}

/// A piece of a path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPart {
    /// Literal text of the template, used as written.
    Literal(String),
    /// The text form of a path parameter, encoded as one segment.
    Param(String),
}

/// A path template being filled: literal text and parameter values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathTemplate {
    parts: Vec<PathPart>,
}

impl PathTemplate {
    pub fn new() -> PathTemplate {
        PathTemplate::default()
    }

    /// A path without parameters.
    pub fn literal_path(text: impl Into<String>) -> PathTemplate {
        PathTemplate::new().literal(text)
    }

    /// Fills the `{}` placeholders of `template` with `values`, in order:
    /// `interpolate("/orders/{}/items/{}", &["12", "a/b"])`.
    pub fn interpolate(template: &str, values: &[&str]) -> Result<PathTemplate, RequestError> {
        let mut path = PathTemplate::new();
        let mut values = values.iter();
        for (index, piece) in template.split("{}").enumerate() {
            if index > 0 {
                let value =
                    values.next().ok_or_else(|| RequestError::new(format!("path `{template}`: too few values")))?;
                path = path.param(*value);
            }
            if !piece.is_empty() {
                path = path.literal(piece);
            }
        }
        if values.next().is_some() {
            return Err(RequestError::new(format!("path `{template}`: too many values")));
        }
        Ok(path)
    }

    pub fn literal(mut self, text: impl Into<String>) -> PathTemplate {
        self.parts.push(PathPart::Literal(text.into()));
        self
    }

    pub fn param(mut self, value: impl Into<String>) -> PathTemplate {
        self.parts.push(PathPart::Param(value.into()));
        self
    }

    pub fn parts(&self) -> &[PathPart] {
        &self.parts
    }

    /// The encoded path. It must start with `/` and contain no `?` or `#`.
    pub fn render(&self) -> Result<String, RequestError> {
        let mut out = String::new();
        let mut params = 0;
        for part in &self.parts {
            match part {
                PathPart::Literal(text) => {
                    if text.contains(['?', '#']) {
                        return Err(RequestError::new(format!("path text `{text}` contains `?` or `#`")));
                    }
                    out.push_str(text);
                }
                PathPart::Param(value) => {
                    params += 1;
                    if value.is_empty() {
                        return Err(RequestError::new(format!("path parameter {params} is empty")));
                    }
                    if value == "." || value == ".." {
                        return Err(RequestError::new(format!(
                            "path parameter {params} is `{value}`, which would change the path's structure"
                        )));
                    }
                    out.push_str(&encode_path_segment(value));
                }
            }
        }
        if !out.starts_with('/') {
            return Err(RequestError::new(format!("path `{out}` does not start with `/`")));
        }
        Ok(out)
    }
}

/// A request body and its content type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    pub bytes: Bytes,
    /// Sent as `Content-Type` (§ 10.6 step 2) when given.
    pub content_type: Option<String>,
}

impl Body {
    pub fn raw(bytes: impl Into<Bytes>, content_type: Option<&str>) -> Body {
        Body { bytes: bytes.into(), content_type: content_type.map(str::to_owned) }
    }

    /// `application/json`.
    pub fn json(bytes: impl Into<Bytes>) -> Body {
        Body::raw(bytes, Some("application/json"))
    }

    /// `application/x-www-form-urlencoded`, encoded by the WHATWG serializer
    /// (space `+`, every byte but `A–Z a–z 0–9 * - . _` percent-encoded).
    pub fn form(pairs: &[(String, String)]) -> Body {
        Body::raw(form_urlencoded(pairs), Some("application/x-www-form-urlencoded"))
    }

    /// `application/xml; charset=utf-8`.
    pub fn xml(text: impl Into<String>) -> Body {
        Body::raw(text.into(), Some("application/xml; charset=utf-8"))
    }
}

/// The WHATWG `application/x-www-form-urlencoded` serialization of `pairs`.
pub fn form_urlencoded(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&form_encode(key));
        out.push('=');
        out.push_str(&form_encode(value));
    }
    out
}

/// A header of a request, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: HeaderValue,
}

impl Header {
    /// Validates a header: the name is an HTTP token, the value has no line
    /// break or NUL.
    pub fn new(name: &str, value: &str) -> Result<Header, RequestError> {
        let name = header_name(name)?;
        let value = header_value(&name, value)?;
        Ok(Header { name, value })
    }

    /// A header whose value is a secret: marked sensitive, recorded as
    /// `<redacted>` (§ 7.4).
    pub fn secret(name: &str, value: &Secret) -> Result<Header, RequestError> {
        let mut header = Header::new(name, value.expose())?;
        header.value.set_sensitive(true);
        Ok(header)
    }
}

pub(crate) fn header_name(name: &str) -> Result<HeaderName, RequestError> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| RequestError::new(format!("`{name}` is not a valid header name")))
}

pub(crate) fn header_value(name: &HeaderName, value: &str) -> Result<HeaderValue, RequestError> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(RequestError::new(format!(
            "the value of header `{name}` contains a line break or a NUL character"
        )));
    }
    HeaderValue::from_str(value)
        .map_err(|_| RequestError::new(format!("the value of header `{name}` is not a valid header value")))
}

/// The idempotency key of a call and the header that carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub header: HeaderName,
    pub value: HeaderValue,
}

/// The default idempotency header.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// A request, as an endpoint call built it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The percent-encoded path, starting with `/`, appended to the base URL.
    pub path: String,
    /// Query pairs (not encoded), in order; keys may repeat.
    pub query: Vec<(String, String)>,
    /// The endpoint's headers (§ 10.6 step 4).
    pub headers: Vec<Header>,
    pub body: Option<Body>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// An absolute URL that replaces base URL, path and query (the next URL
    /// of `link_header` and `next_url` pagination).
    pub url: Option<Url>,
}

impl Request {
    pub fn builder(method: Method) -> RequestBuilder {
        RequestBuilder {
            request: Request {
                method,
                path: "/".to_owned(),
                query: Vec::new(),
                headers: Vec::new(),
                body: None,
                idempotency_key: None,
                url: None,
            },
            idempotency_header: None,
            idempotency_value: None,
            error: None,
        }
    }

    /// A GET of a literal path.
    pub fn get(path: &str) -> Result<Request, RequestError> {
        Request::builder(Method::GET).path(PathTemplate::literal_path(path)).build()
    }

    /// The encoded query string, without `?`.
    pub fn query_string(&self) -> String {
        encode_query(&self.query)
    }

    /// Replaces every pair named `key` by one pair at the end (pagination
    /// parameters replace written ones, § 10.5).
    pub fn set_query(&mut self, key: &str, value: impl Into<String>) {
        self.query.retain(|(name, _)| name != key);
        self.query.push((key.to_owned(), value.into()));
    }

    /// Whether the method may be repeated by definition (RFC 9110): GET,
    /// HEAD, OPTIONS, PUT, DELETE, TRACE.
    pub fn method_is_idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
        )
    }
}

/// Builds a [`Request`]; the first error is kept and returned by `build`.
#[derive(Debug)]
pub struct RequestBuilder {
    request: Request,
    idempotency_header: Option<String>,
    idempotency_value: Option<String>,
    error: Option<RequestError>,
}

impl RequestBuilder {
    fn fail(&mut self, error: RequestError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    pub fn path(mut self, path: PathTemplate) -> RequestBuilder {
        match path.render() {
            Ok(path) => self.request.path = path,
            Err(error) => self.fail(error),
        }
        self
    }

    /// Appends a query pair.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> RequestBuilder {
        self.request.query.push((key.into(), value.into()));
        self
    }

    /// Appends a pair when `value` is some (an optional scalar).
    pub fn query_opt(self, key: impl Into<String>, value: Option<impl Into<String>>) -> RequestBuilder {
        match value {
            Some(value) => self.query(key, value),
            None => self,
        }
    }

    /// One pair per value, in order (a list).
    pub fn query_all<V: Into<String>>(mut self, key: &str, values: impl IntoIterator<Item = V>) -> RequestBuilder {
        for value in values {
            self.request.query.push((key.to_owned(), value.into()));
        }
        self
    }

    /// Sets an endpoint header, replacing one of the same name.
    pub fn header(mut self, name: &str, value: &str) -> RequestBuilder {
        match Header::new(name, value) {
            Ok(header) => self.push_header(header),
            Err(error) => self.fail(error),
        }
        self
    }

    /// Sets an endpoint header whose value is a secret.
    pub fn secret_header(mut self, name: &str, value: &Secret) -> RequestBuilder {
        match Header::secret(name, value) {
            Ok(header) => self.push_header(header),
            Err(error) => self.fail(error),
        }
        self
    }

    fn push_header(&mut self, header: Header) {
        self.request.headers.retain(|existing| existing.name != header.name);
        self.request.headers.push(header);
    }

    pub fn body(mut self, body: Body) -> RequestBuilder {
        self.request.body = Some(body);
        self
    }

    pub fn idempotency_key(mut self, key: impl Into<String>) -> RequestBuilder {
        self.idempotency_value = Some(key.into());
        self
    }

    /// The header of the idempotency key (default `Idempotency-Key`).
    pub fn idempotency_header(mut self, name: impl Into<String>) -> RequestBuilder {
        self.idempotency_header = Some(name.into());
        self
    }

    /// An absolute URL replacing base URL, path and query.
    pub fn url(mut self, url: Url) -> RequestBuilder {
        self.request.url = Some(url);
        self
    }

    pub fn build(mut self) -> Result<Request, RequestError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if let Some(value) = self.idempotency_value.take() {
            if value.is_empty() {
                return Err(RequestError::new("the idempotency key is empty"));
            }
            let name = header_name(self.idempotency_header.as_deref().unwrap_or(IDEMPOTENCY_HEADER))?;
            let value = header_value(&name, &value)?;
            self.request.idempotency_key = Some(IdempotencyKey { header: name, value });
        }
        Ok(self.request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_one_segment() {
        let path = PathTemplate::new().literal("/contacts/").param("a/b?c#d é~._-").render().unwrap();
        assert_eq!(path, "/contacts/a%2Fb%3Fc%23d%20%C3%A9~._-");
        assert!(PathTemplate::new().literal("/x/").param("").render().is_err());
        assert!(PathTemplate::new().literal("/x/").param("..").render().is_err());
        assert!(PathTemplate::new().literal("/x/").param("...").render().is_ok());
        assert!(PathTemplate::new().literal("x").render().is_err());
        assert!(PathTemplate::new().literal("/x?y").render().is_err());
    }

    #[test]
    fn interpolation_is_positional() {
        let path = PathTemplate::interpolate("/orders/{}/items/{}", &["12", "A B"]).unwrap();
        assert_eq!(path.render().unwrap(), "/orders/12/items/A%20B");
        assert!(PathTemplate::interpolate("/orders/{}", &[]).is_err());
        assert!(PathTemplate::interpolate("/orders", &["1"]).is_err());
    }

    #[test]
    fn query_keeps_order_and_repeats() {
        let request = Request::builder(Method::GET)
            .query("sort-by", "created at")
            .query_all("status", ["paid", "a+b"])
            .query_opt("email", None::<String>)
            .build()
            .unwrap();
        assert_eq!(request.query_string(), "sort-by=created%20at&status=paid&status=a%2Bb");
    }

    #[test]
    fn headers_are_validated() {
        let error = Request::builder(Method::GET).header("X-Note", "a\nb").build().unwrap_err();
        assert!(error.message().contains("X-Note") || error.message().contains("x-note"), "{error}");
        assert!(Request::builder(Method::GET).header("Bad Name", "x").build().is_err());
        let request = Request::builder(Method::GET).header("X-A", "1").header("x-a", "2").build().unwrap();
        assert_eq!(request.headers.len(), 1);
        assert_eq!(request.headers[0].value, "2");
    }

    #[test]
    fn idempotency_keys() {
        let request = Request::builder(Method::POST).idempotency_key("k-1").build().unwrap();
        let key = request.idempotency_key.unwrap();
        assert_eq!(key.header, "idempotency-key");
        assert_eq!(key.value, "k-1");
        let request =
            Request::builder(Method::POST).idempotency_key("k").idempotency_header("X-Request-Key").build().unwrap();
        assert_eq!(request.idempotency_key.unwrap().header, "x-request-key");
        assert!(Request::builder(Method::POST).idempotency_key("").build().is_err());
    }

    #[test]
    fn form_bodies() {
        let body = Body::form(&[("name".into(), "Ann Lee".into()), ("note".into(), "a&b=c*~".into())]);
        assert_eq!(&body.bytes[..], b"name=Ann+Lee&note=a%26b%3Dc*%7E");
        assert_eq!(body.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    }
}
