//! Auth schemes (§ 8 of spec.md).
//!
//! [`Auth`] is the configuration of a scheme; [`SharedAuth`] is the scheme in
//! use, with its OAuth2 token cache. Cloning a `SharedAuth` shares the cache,
//! so an `auth` declaration used by several apis is one `SharedAuth` given to
//! each of their [`ApiConfig`](super::ApiConfig)s (`From<Auth>` makes a new,
//! unshared one).
//!
//! What each scheme puts on a request (step 6 of § 10.6, after every other
//! header):
//!
//! | Scheme | Sets |
//! |---|---|
//! | `api_key` | the named header, or a query parameter appended after all others |
//! | `basic` | `Authorization: Basic base64(username ":" password)` |
//! | `bearer` | `Authorization: Bearer <token>` |
//! | `oauth2_*` | `Authorization: Bearer <access token>` |
//! | `hmac` | the signature header, and the timestamp and key id headers when configured |
//!
//! **OAuth2 tokens.** The token is cached per `SharedAuth` and reused until
//! `expires_in − refresh_before` has passed since it was obtained (without
//! `expires_in`, until a 401). At most one token request is in flight: the
//! others wait for it and use its token — or its failure, so that twenty
//! calls waiting on a failing token endpoint fail together rather than try
//! twenty times in turn. A 401 to a request that carried a token discards
//! that token (only if it is still the cached one, so concurrent 401s cause
//! one refresh) and the call repeats once. The token request goes through
//! the api's policy (timeout, retries, `Retry-After`) and the call's
//! deadline, but takes no rate-limit or concurrency slot and does not count
//! for the breaker. Its failure is the `Auth` error. Every access token (and
//! rotated refresh token) is registered with the redactor; a replaced token
//! is forgotten.
//!
//! **HMAC.** Each attempt is signed just before it is sent, over a canonical
//! text given as a [`CanonicalTemplate`] (`{method}`, `{path}`, `{query}`,
//! `{host}`, `{timestamp}`, `{nonce}`, `{body}`, `{body_sha256}`) or a
//! closure ([`Canonical::Custom`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest as _, Sha256, Sha512};
use tokio::time::Instant;
use url::Url;

use super::errors::{ConfigError, body_excerpt, status_text};
use super::policy::DelayRng;
use super::request::{form_urlencoded, header_name};
use crate::secret::{Redactor, Secret, basic_credentials, form_encode, redact};

/// An argument that may be a secret or plain text (`client_id`, `username`,
/// `key_id`).
#[derive(Clone, Debug)]
pub enum Credential {
    Text(String),
    Secret(Secret),
}

impl Credential {
    pub fn expose(&self) -> &str {
        match self {
            Credential::Text(text) => text,
            Credential::Secret(secret) => secret.expose(),
        }
    }
}

impl From<&str> for Credential {
    fn from(text: &str) -> Credential {
        Credential::Text(text.to_owned())
    }
}

impl From<String> for Credential {
    fn from(text: String) -> Credential {
        Credential::Text(text)
    }
}

impl From<Secret> for Credential {
    fn from(secret: Secret) -> Credential {
        Credential::Secret(secret)
    }
}

/// Where an api key goes (§ 8.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiKeyLocation {
    Header(String),
    Query(String),
}

/// How the client authenticates to the token endpoint (§ 8.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Basic` with the form-encoded id and secret.
    #[default]
    Header,
    /// `client_id` and `client_secret` form fields.
    Body,
}

/// `oauth2_client_credentials(...)` (§ 8.5).
#[derive(Clone, Debug)]
pub struct OAuth2ClientCredentials {
    pub token_url: String,
    pub client_id: Credential,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    /// Default 60 s.
    pub refresh_before: Duration,
    pub auth_style: AuthStyle,
}

impl OAuth2ClientCredentials {
    pub fn new(token_url: impl Into<String>, client_id: impl Into<Credential>, client_secret: Secret) -> Self {
        OAuth2ClientCredentials {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            scopes: Vec::new(),
            audience: None,
            refresh_before: Duration::from_secs(60),
            auth_style: AuthStyle::Header,
        }
    }
}

/// Called with the new refresh token when the provider rotates it, so that
/// it can be saved in the state store (§ 8.6).
pub type RotationHook = Arc<dyn Fn(&Secret) + Send + Sync>;

/// `oauth2_refresh_token(...)` (§ 8.6).
#[derive(Clone)]
pub struct OAuth2RefreshToken {
    pub token_url: String,
    pub client_id: Credential,
    /// Without it the client is public: `client_id` goes in the form body.
    pub client_secret: Option<Secret>,
    pub refresh_token: Secret,
    pub scopes: Vec<String>,
    pub refresh_before: Duration,
    pub on_rotate: Option<RotationHook>,
}

impl OAuth2RefreshToken {
    pub fn new(token_url: impl Into<String>, client_id: impl Into<Credential>, refresh_token: Secret) -> Self {
        OAuth2RefreshToken {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: None,
            refresh_token,
            scopes: Vec::new(),
            refresh_before: Duration::from_secs(60),
            on_rotate: None,
        }
    }
}

impl std::fmt::Debug for OAuth2RefreshToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OAuth2RefreshToken")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("refresh_token", &self.refresh_token)
            .field("scopes", &self.scopes)
            .field("refresh_before", &self.refresh_before)
            .field("on_rotate", &self.on_rotate.is_some())
            .finish()
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HmacAlgorithm {
    #[default]
    Sha256,
    Sha512,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Lowercase hexadecimal.
    #[default]
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// A name usable in an HMAC canonical template (§ 8.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanonicalField {
    /// The method in capitals.
    Method,
    /// The path as sent (percent-encoded), without the query.
    Path,
    /// The query as sent, without `?` (empty when there is none).
    Query,
    /// The `Host` header: host, and `:port` when not the default.
    Host,
    /// Unix time in whole seconds at signing.
    Timestamp,
    /// A random UUID v4, lowercase, new for each attempt.
    Nonce,
    /// The body as sent.
    Body,
    /// Lowercase hex SHA-256 of the body.
    BodySha256,
}

impl CanonicalField {
    pub fn from_name(name: &str) -> Option<CanonicalField> {
        Some(match name {
            "method" => CanonicalField::Method,
            "path" => CanonicalField::Path,
            "query" => CanonicalField::Query,
            "host" => CanonicalField::Host,
            "timestamp" => CanonicalField::Timestamp,
            "nonce" => CanonicalField::Nonce,
            "body" => CanonicalField::Body,
            "body_sha256" => CanonicalField::BodySha256,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CanonicalPart {
    Literal(String),
    Field(CanonicalField),
}

/// The canonical text of an HMAC signature: literal text and fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalTemplate {
    parts: Vec<CanonicalPart>,
}

impl Default for CanonicalTemplate {
    /// `"{method}\n{path}\n{timestamp}\n{body_sha256}"`.
    fn default() -> CanonicalTemplate {
        CanonicalTemplate::new(vec![
            CanonicalPart::Field(CanonicalField::Method),
            CanonicalPart::Literal("\n".into()),
            CanonicalPart::Field(CanonicalField::Path),
            CanonicalPart::Literal("\n".into()),
            CanonicalPart::Field(CanonicalField::Timestamp),
            CanonicalPart::Literal("\n".into()),
            CanonicalPart::Field(CanonicalField::BodySha256),
        ])
    }
}

impl CanonicalTemplate {
    pub fn new(parts: Vec<CanonicalPart>) -> CanonicalTemplate {
        CanonicalTemplate { parts }
    }

    /// Parses `"{method}\n{path}"`: `{name}` is a field, `{{` and `}}` are
    /// literal braces; an unknown name or an unclosed brace is an error.
    pub fn parse(text: &str) -> Result<CanonicalTemplate, ConfigError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(character) = chars.next() {
            match character {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for inner in chars.by_ref() {
                        if inner == '}' {
                            closed = true;
                            break;
                        }
                        name.push(inner);
                    }
                    if !closed {
                        return Err(ConfigError::new(format!("canonical template `{text}`: unclosed `{{`")));
                    }
                    let field = CanonicalField::from_name(name.trim()).ok_or_else(|| {
                        ConfigError::new(format!("canonical template `{text}`: unknown name `{name}`"))
                    })?;
                    if !literal.is_empty() {
                        parts.push(CanonicalPart::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(CanonicalPart::Field(field));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(CanonicalPart::Literal(literal));
        }
        Ok(CanonicalTemplate { parts })
    }

    pub fn parts(&self) -> &[CanonicalPart] {
        &self.parts
    }

    /// The canonical bytes for `input`.
    pub fn render(&self, input: &SigningInput<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        for part in &self.parts {
            match part {
                CanonicalPart::Literal(text) => out.extend_from_slice(text.as_bytes()),
                CanonicalPart::Field(field) => out.extend_from_slice(match field {
                    CanonicalField::Method => input.method.as_bytes(),
                    CanonicalField::Path => input.path.as_bytes(),
                    CanonicalField::Query => input.query.as_bytes(),
                    CanonicalField::Host => input.host.as_bytes(),
                    CanonicalField::Timestamp => input.timestamp.as_bytes(),
                    CanonicalField::Nonce => input.nonce.as_bytes(),
                    CanonicalField::Body => input.body,
                    CanonicalField::BodySha256 => input.body_sha256.as_bytes(),
                }),
            }
        }
        out
    }
}

/// The values a canonical text is made of, for one attempt.
#[derive(Clone, Copy, Debug)]
pub struct SigningInput<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub host: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub body: &'a [u8],
    pub body_sha256: &'a str,
}

/// A function computing the canonical bytes from the signing input.
pub type CanonicalFn = Arc<dyn Fn(&SigningInput<'_>) -> Vec<u8> + Send + Sync>;

/// The canonical text: a template, or any function of the signing input.
#[derive(Clone)]
pub enum Canonical {
    Template(CanonicalTemplate),
    Custom(CanonicalFn),
}

impl Default for Canonical {
    fn default() -> Canonical {
        Canonical::Template(CanonicalTemplate::default())
    }
}

impl std::fmt::Debug for Canonical {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Canonical::Template(template) => template.fmt(formatter),
            Canonical::Custom(_) => formatter.write_str("Custom(..)"),
        }
    }
}

/// `hmac(...)` (§ 8.7).
#[derive(Clone, Debug)]
pub struct HmacAuth {
    pub secret: Secret,
    /// Default `X-Signature`.
    pub header: String,
    pub algorithm: HmacAlgorithm,
    pub encoding: SignatureEncoding,
    pub canonical: Canonical,
    pub timestamp_header: Option<String>,
    pub key_id: Option<Credential>,
    pub key_id_header: Option<String>,
}

impl HmacAuth {
    pub fn new(secret: Secret) -> HmacAuth {
        HmacAuth {
            secret,
            header: "X-Signature".to_owned(),
            algorithm: HmacAlgorithm::Sha256,
            encoding: SignatureEncoding::Hex,
            canonical: Canonical::default(),
            timestamp_header: None,
            key_id: None,
            key_id_header: None,
        }
    }
}

/// The encoded HMAC of `message` under `key`.
pub fn hmac_signature(algorithm: HmacAlgorithm, encoding: SignatureEncoding, key: &[u8], message: &[u8]) -> String {
    let digest = match algorithm {
        HmacAlgorithm::Sha256 => match hmac::Hmac::<Sha256>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        },
        HmacAlgorithm::Sha512 => match hmac::Hmac::<Sha512>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        },
    };
    match encoding {
        SignatureEncoding::Hex => hex::encode(digest),
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(digest),
    }
}

/// An auth scheme's configuration (§ 8).
#[derive(Clone, Debug, Default)]
pub enum Auth {
    #[default]
    None,
    ApiKey {
        location: ApiKeyLocation,
        value: Credential,
    },
    Basic {
        username: Credential,
        /// May be empty (services that take an api key as the user name).
        password: Secret,
    },
    Bearer(Secret),
    OAuth2ClientCredentials(OAuth2ClientCredentials),
    OAuth2RefreshToken(OAuth2RefreshToken),
    Hmac(HmacAuth),
}

/// A token obtained from a token endpoint.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) id: u64,
    pub(crate) access: Secret,
    /// When the token must be refreshed; `None`: used until a 401.
    refresh_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct TokenState {
    token: Option<Token>,
    /// Incremented by every completed token request.
    generation: u64,
    /// The failure of the last token request, for the calls that waited on it.
    last_error: Option<String>,
    next_id: u64,
}

#[derive(Debug)]
struct TokenCache {
    state: Mutex<TokenState>,
    /// Held while a token request is in flight.
    flight: tokio::sync::Mutex<()>,
    /// The current refresh token (rotated by the provider, § 8.6).
    refresh_token: Mutex<Option<Secret>>,
}

#[derive(Debug)]
struct AuthInner {
    scheme: Auth,
    tokens: Option<TokenCache>,
}

/// An auth scheme in use, with its token cache. Clones share the cache.
#[derive(Clone, Debug)]
pub struct SharedAuth {
    inner: Arc<AuthInner>,
}

impl From<Auth> for SharedAuth {
    fn from(scheme: Auth) -> SharedAuth {
        SharedAuth::new(scheme)
    }
}

impl Default for SharedAuth {
    fn default() -> SharedAuth {
        SharedAuth::new(Auth::None)
    }
}

/// Why no token could be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AuthError {
    /// The token request (or its retries) failed: the `Auth` error.
    Failed(String),
    /// The call's deadline passed while waiting for the token.
    Deadline,
}

/// The outcome of one token-endpoint exchange after the policy's retries.
pub(crate) enum TokenReply {
    Response { status: u16, body: bytes::Bytes },
    Failed(String),
    Deadline,
}

/// Sends token requests under a policy (implemented by the client).
pub(crate) trait TokenTransport {
    async fn post_form(&self, url: &Url, headers: HeaderMap, body: String) -> TokenReply;
}

impl SharedAuth {
    pub fn new(scheme: Auth) -> SharedAuth {
        match &scheme {
            Auth::Basic { username, password } => {
                Redactor::global().register_basic(username.expose(), password.expose());
            }
            // An api key given as plain text is still a credential.
            Auth::ApiKey { value: Credential::Text(key), .. } => Redactor::global().register(key),
            _ => {}
        }
        let tokens = match &scheme {
            Auth::OAuth2ClientCredentials(_) => Some(None),
            Auth::OAuth2RefreshToken(config) => Some(Some(config.refresh_token.clone())),
            _ => None,
        }
        .map(|refresh_token| TokenCache {
            state: Mutex::new(TokenState::default()),
            flight: tokio::sync::Mutex::new(()),
            refresh_token: Mutex::new(refresh_token),
        });
        SharedAuth { inner: Arc::new(AuthInner { scheme, tokens }) }
    }

    pub fn scheme(&self) -> &Auth {
        &self.inner.scheme
    }

    /// Checks the configuration: header names, token URLs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid_header = |name: &str| {
            header_name(name).map(|_| ()).map_err(|_| ConfigError::new(format!("`{name}` is not a valid header name")))
        };
        let token_url = |url: &str| match Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
            _ => Err(ConfigError::new(format!("token URL `{url}` is not an absolute http(s) URL"))),
        };
        match &self.inner.scheme {
            Auth::ApiKey { location: ApiKeyLocation::Header(name), .. } => invalid_header(name),
            Auth::ApiKey { location: ApiKeyLocation::Query(name), .. } if name.is_empty() => {
                Err(ConfigError::new("the api key's query parameter has no name"))
            }
            Auth::OAuth2ClientCredentials(config) => token_url(&config.token_url),
            Auth::OAuth2RefreshToken(config) => token_url(&config.token_url),
            Auth::Hmac(config) => {
                invalid_header(&config.header)?;
                for name in config.timestamp_header.iter().chain(&config.key_id_header) {
                    invalid_header(name)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether the scheme uses OAuth2 tokens (and so the 401 rule).
    pub fn uses_tokens(&self) -> bool {
        self.inner.tokens.is_some()
    }

    /// The headers this scheme sets (recorded as `<redacted>`, dropped on a
    /// redirect to another origin).
    pub fn header_names(&self) -> Vec<String> {
        match &self.inner.scheme {
            Auth::None => Vec::new(),
            Auth::ApiKey { location: ApiKeyLocation::Header(name), .. } => vec![name.to_ascii_lowercase()],
            Auth::ApiKey { location: ApiKeyLocation::Query(_), .. } => Vec::new(),
            Auth::Basic { .. } | Auth::Bearer(_) | Auth::OAuth2ClientCredentials(_) | Auth::OAuth2RefreshToken(_) => {
                vec!["authorization".to_owned()]
            }
            Auth::Hmac(config) => std::iter::once(&config.header)
                .chain(&config.timestamp_header)
                .chain(&config.key_id_header)
                .map(|name| name.to_ascii_lowercase())
                .collect(),
        }
    }

    /// The query parameter this scheme sets, if any.
    pub fn query_param(&self) -> Option<&str> {
        match &self.inner.scheme {
            Auth::ApiKey { location: ApiKeyLocation::Query(name), .. } => Some(name),
            _ => None,
        }
    }

    fn cache(&self) -> Option<&TokenCache> {
        self.inner.tokens.as_ref()
    }

    /// Discards the cached token if it is still the one with `id`.
    pub(crate) fn invalidate(&self, id: u64) {
        let Some(cache) = self.cache() else { return };
        let mut state = cache.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.token.as_ref().is_some_and(|token| token.id == id) {
            if let Some(token) = state.token.take() {
                Redactor::global().forget(token.access.expose());
            }
            tracing::debug!("oauth2 token rejected with 401: discarded");
        }
    }

    /// The token to send: the cached one while it is fresh, else a new one
    /// (one request in flight; the others wait for it). `Ok(None)` for
    /// schemes without tokens.
    pub(crate) async fn token(&self, transport: &impl TokenTransport) -> Result<Option<Token>, AuthError> {
        let Some(cache) = self.cache() else { return Ok(None) };
        let generation = {
            let state = cache.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(token) = state.token.as_ref().filter(|token| token.is_fresh()) {
                return Ok(Some(token.clone()));
            }
            state.generation
        };
        let _flight = cache.flight.lock().await;
        {
            let state = cache.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if state.generation != generation {
                // A token request completed while this call waited: use its result.
                if let Some(token) = &state.token {
                    return Ok(Some(token.clone()));
                }
                if let Some(error) = &state.last_error {
                    return Err(AuthError::Failed(error.clone()));
                }
            } else if let Some(token) = state.token.as_ref().filter(|token| token.is_fresh()) {
                return Ok(Some(token.clone()));
            }
        }
        tracing::debug!("requesting an oauth2 token");
        let result = self.fetch(cache, transport).await;
        let mut state = cache.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.generation += 1;
        match result {
            Ok((access, lifetime, refresh_before)) => {
                state.next_id += 1;
                let now = Instant::now();
                let token = Token {
                    id: state.next_id,
                    access,
                    refresh_at: lifetime.and_then(|lifetime| now.checked_add(lifetime.saturating_sub(refresh_before))),
                };
                if let Some(old) = state.token.replace(token.clone()) {
                    Redactor::global().forget(old.access.expose());
                }
                state.last_error = None;
                tracing::debug!(expires_in_s = lifetime.map(|lifetime| lifetime.as_secs()), "oauth2 token obtained");
                Ok(Some(token))
            }
            Err(AuthError::Failed(message)) => {
                state.last_error = Some(message.clone());
                tracing::debug!("oauth2 token request failed: {message}");
                Err(AuthError::Failed(message))
            }
            Err(AuthError::Deadline) => {
                // Not a verdict on the token endpoint: the next caller tries again.
                state.last_error = None;
                Err(AuthError::Deadline)
            }
        }
    }

    /// One token request: the form, the exchange under the policy, the reply.
    async fn fetch(
        &self,
        cache: &TokenCache,
        transport: &impl TokenTransport,
    ) -> Result<(Secret, Option<Duration>, Duration), AuthError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        let mut form: Vec<(String, String)> = Vec::new();
        let basic = |id: &str, secret: &str| {
            let credentials = basic_credentials(&form_encode(id), &form_encode(secret));
            Redactor::global().register(&credentials);
            let mut value = HeaderValue::from_str(&format!("Basic {credentials}"))
                .map_err(|_| AuthError::Failed("the client credentials cannot be sent in a header".into()))?;
            value.set_sensitive(true);
            Ok::<HeaderValue, AuthError>(value)
        };
        let (token_url, refresh_before) = match &self.inner.scheme {
            Auth::OAuth2ClientCredentials(config) => {
                form.push(("grant_type".into(), "client_credentials".into()));
                if !config.scopes.is_empty() {
                    form.push(("scope".into(), config.scopes.join(" ")));
                }
                if let Some(audience) = &config.audience {
                    form.push(("audience".into(), audience.clone()));
                }
                match config.auth_style {
                    AuthStyle::Header => {
                        headers.insert(AUTHORIZATION, basic(config.client_id.expose(), config.client_secret.expose())?);
                    }
                    AuthStyle::Body => {
                        form.push(("client_id".into(), config.client_id.expose().to_owned()));
                        form.push(("client_secret".into(), config.client_secret.expose().to_owned()));
                    }
                }
                (&config.token_url, config.refresh_before)
            }
            Auth::OAuth2RefreshToken(config) => {
                let refresh_token = cache
                    .refresh_token
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone()
                    .unwrap_or_else(|| config.refresh_token.clone());
                form.push(("grant_type".into(), "refresh_token".into()));
                form.push(("refresh_token".into(), refresh_token.expose().to_owned()));
                if !config.scopes.is_empty() {
                    form.push(("scope".into(), config.scopes.join(" ")));
                }
                match &config.client_secret {
                    Some(secret) => {
                        headers.insert(AUTHORIZATION, basic(config.client_id.expose(), secret.expose())?);
                    }
                    None => form.push(("client_id".into(), config.client_id.expose().to_owned())),
                }
                (&config.token_url, config.refresh_before)
            }
            _ => return Err(AuthError::Failed("this scheme has no token endpoint".into())),
        };
        let url = Url::parse(token_url)
            .map_err(|_| AuthError::Failed(format!("token URL `{token_url}` is not a valid URL")))?;
        let (status, body) = match transport.post_form(&url, headers, form_urlencoded(&form)).await {
            TokenReply::Response { status, body } => (status, body),
            TokenReply::Failed(message) => {
                return Err(AuthError::Failed(redact(&format!("token request to {url} failed: {message}")).into()));
            }
            TokenReply::Deadline => return Err(AuthError::Deadline),
        };
        if !(200..300).contains(&status) {
            return Err(AuthError::Failed(
                redact(&format!("token request to {url} answered {}: {}", status_text(status), body_excerpt(&body)))
                    .into_owned(),
            ));
        }
        let reply =
            parse_token_reply(&body).map_err(|why| AuthError::Failed(format!("token response from {url}: {why}")))?;
        if let (Some(new), Auth::OAuth2RefreshToken(config)) = (reply.refresh_token, &self.inner.scheme) {
            let mut current = cache.refresh_token.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if current.as_ref().is_none_or(|old| old.expose() != new.expose()) {
                tracing::debug!("the provider rotated the refresh token");
                *current = Some(new.clone());
                if let Some(hook) = &config.on_rotate {
                    hook(&new);
                }
            }
        }
        Ok((reply.access_token, reply.expires_in, refresh_before))
    }

    /// Puts the scheme's credentials on a request (the last step of § 10.6).
    pub(crate) fn apply(
        &self,
        parts: &mut Outgoing<'_>,
        token: Option<&Token>,
        now: SystemTime,
        rng: &DelayRng,
    ) -> Result<(), String> {
        let sensitive = |value: String| {
            HeaderValue::from_str(&value)
                .map(|mut value| {
                    value.set_sensitive(true);
                    value
                })
                .map_err(|_| "a credential cannot be sent in a header (it contains invalid characters)".to_owned())
        };
        match &self.inner.scheme {
            Auth::None => {}
            Auth::ApiKey { location: ApiKeyLocation::Header(name), value } => {
                let name = header_name(name).map_err(|error| error.to_string())?;
                parts.headers.insert(name, sensitive(value.expose().to_owned())?);
            }
            Auth::ApiKey { location: ApiKeyLocation::Query(name), value } => {
                // The other parameters stay byte for byte as they were; a
                // parameter of the same name is replaced.
                let mut query: Vec<String> = parts
                    .url
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter(|pair| !pair.is_empty())
                    .filter(|pair| {
                        let key = pair.split('=').next().unwrap_or("");
                        percent_encoding::percent_decode_str(key).decode_utf8_lossy() != name.as_str()
                    })
                    .map(str::to_owned)
                    .collect();
                query.push(format!(
                    "{}={}",
                    super::request::encode_query_component(name),
                    super::request::encode_query_component(value.expose())
                ));
                parts.url.set_query(Some(&query.join("&")));
            }
            Auth::Basic { username, password } => {
                let credentials = basic_credentials(username.expose(), password.expose());
                parts.headers.insert(AUTHORIZATION, sensitive(format!("Basic {credentials}"))?);
            }
            Auth::Bearer(token) => {
                parts.headers.insert(AUTHORIZATION, sensitive(format!("Bearer {}", token.expose()))?);
            }
            Auth::OAuth2ClientCredentials(_) | Auth::OAuth2RefreshToken(_) => {
                let token = token.ok_or_else(|| "no oauth2 token".to_owned())?;
                parts.headers.insert(AUTHORIZATION, sensitive(format!("Bearer {}", token.access.expose()))?);
            }
            Auth::Hmac(config) => sign(config, parts, now, rng)?,
        }
        Ok(())
    }
}

impl Token {
    fn is_fresh(&self) -> bool {
        self.refresh_at.is_none_or(|at| Instant::now() < at)
    }
}

/// The parts of a request that credentials touch.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: &'a Method,
    pub(crate) url: &'a mut Url,
    pub(crate) headers: &'a mut HeaderMap,
    pub(crate) body: &'a [u8],
}

fn sign(config: &HmacAuth, parts: &mut Outgoing<'_>, now: SystemTime, rng: &DelayRng) -> Result<(), String> {
    let timestamp = now.duration_since(SystemTime::UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or(0).to_string();
    let nonce = uuid::Builder::from_random_bytes(rng.bytes16()).into_uuid().to_string();
    let host = match (parts.url.host_str(), parts.url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    };
    let body_sha256 = hex::encode(Sha256::digest(parts.body));
    let input = SigningInput {
        method: parts.method.as_str(),
        path: parts.url.path(),
        query: parts.url.query().unwrap_or(""),
        host: &host,
        timestamp: &timestamp,
        nonce: &nonce,
        body: parts.body,
        body_sha256: &body_sha256,
    };
    let canonical = match &config.canonical {
        Canonical::Template(template) => template.render(&input),
        Canonical::Custom(function) => function(&input),
    };
    let signature = hmac_signature(config.algorithm, config.encoding, config.secret.expose().as_bytes(), &canonical);
    let value = |text: &str| HeaderValue::from_str(text).map_err(|_| "an hmac header value is invalid".to_owned());
    let name = |text: &str| header_name(text).map_err(|error| error.to_string());
    if let Some(header) = &config.timestamp_header {
        parts.headers.insert(name(header)?, value(&timestamp)?);
    }
    if let (Some(header), Some(key_id)) = (&config.key_id_header, &config.key_id) {
        let mut key_id_value = value(key_id.expose())?;
        key_id_value.set_sensitive(matches!(key_id, Credential::Secret(_)));
        parts.headers.insert(name(header)?, key_id_value);
    }
    let signature_header: HeaderName = name(&config.header)?;
    parts.headers.insert(signature_header, value(&signature)?);
    Ok(())
}

/// A token endpoint's reply.
struct TokenResponse {
    access_token: Secret,
    expires_in: Option<Duration>,
    refresh_token: Option<Secret>,
}

/// Reads `{"access_token": "...", "token_type": "Bearer", "expires_in": 3600}`.
/// Messages never quote the body (it may hold the token).
fn parse_token_reply(body: &[u8]) -> Result<TokenResponse, String> {
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let object = json.as_object().ok_or_else(|| "the body is not a JSON object".to_owned())?;
    let access_token = match object.get("access_token") {
        Some(serde_json::Value::String(token)) if !token.is_empty() => Secret::new(token.as_str()),
        Some(_) => return Err("`access_token` is not a non-empty string".into()),
        None => return Err("`access_token` is missing".into()),
    };
    match object.get("token_type") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(serde_json::Value::String(kind)) => {
            return Err(format!("`token_type` is `{}`, not Bearer", kind.chars().take(40).collect::<String>()));
        }
        Some(_) => return Err("`token_type` is not a string".into()),
    }
    let expires_in = match object.get("expires_in") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(number)) => number
            .as_f64()
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .map(|seconds| Duration::from_secs_f64(seconds.min(1e12))),
        Some(serde_json::Value::String(text)) => text.trim().parse::<u64>().ok().map(Duration::from_secs),
        Some(_) => None,
    };
    let refresh_token = match object.get("refresh_token") {
        Some(serde_json::Value::String(token)) if !token.is_empty() => Some(Secret::new(token.as_str())),
        _ => None,
    };
    Ok(TokenResponse { access_token, expires_in, refresh_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        let template = CanonicalTemplate::parse("{method}\n{path}?{query} {{x}}").unwrap();
        let input = SigningInput {
            method: "POST",
            path: "/a%2Fb",
            query: "q=1",
            host: "h:8080",
            timestamp: "1700000000",
            nonce: "n",
            body: b"{}",
            body_sha256: "sha",
        };
        assert_eq!(template.render(&input), b"POST\n/a%2Fb?q=1 {x}");
        assert!(CanonicalTemplate::parse("{method").is_err());
        assert!(CanonicalTemplate::parse("{secret}").is_err());
        let default = CanonicalTemplate::parse("{method}\n{path}\n{timestamp}\n{body_sha256}").unwrap();
        assert_eq!(default, CanonicalTemplate::default());
    }

    #[test]
    fn hmac_known_answer() {
        // RFC 4231 test case 2.
        let signature =
            hmac_signature(HmacAlgorithm::Sha256, SignatureEncoding::Hex, b"Jefe", b"what do ya want for nothing?");
        assert_eq!(signature, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let signature =
            hmac_signature(HmacAlgorithm::Sha512, SignatureEncoding::Hex, b"Jefe", b"what do ya want for nothing?");
        assert!(signature.starts_with("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"));
    }

    #[test]
    fn token_replies() {
        let reply = parse_token_reply(br#"{"access_token":"abc-unit","token_type":"bearer","expires_in":3600}"#);
        let reply = reply.unwrap();
        assert_eq!(reply.access_token.expose(), "abc-unit");
        assert_eq!(reply.expires_in, Some(Duration::from_secs(3600)));
        assert!(parse_token_reply(br#"{"access_token":"tok-mac-unit","token_type":"mac"}"#).is_err());
        assert!(parse_token_reply(br#"{"token_type":"bearer"}"#).is_err());
        assert!(parse_token_reply(b"nope").is_err());
        let reply = parse_token_reply(br#"{"access_token":"tok-str-unit","expires_in":"60"}"#).unwrap();
        assert_eq!(reply.expires_in, Some(Duration::from_secs(60)));
    }
}
