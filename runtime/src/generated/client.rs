//! Support for the api clients of generated code: configuration read from
//! the environment, the error of a call, and [`Pages`], the typed stream of a
//! paginated endpoint.
//!
//! In: what a generated client struct passes (an [`Env`], a [`Redirects`], a
//! request, a page reader). Out: configuration values, [`CallFailure`]s and
//! pages of typed records. Everything HTTP goes through [`crate::http`], as
//! the interpreter's calls do, so both send the same requests.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use crate::error::EvalError;
use crate::http::{
    ApiClient, Body, CallError, CallErrorKind, ConfigError, EndpointOptions, Method, PageOutcome, PageStyle, Pager,
    PagerOptions, Request, Response,
};
use crate::secret::Secret;
use crate::value::Value;

/// Where generated clients read `env(...)` and secrets: the process's
/// environment ([`Env::process`]) or a lookup of the caller's (tests). A
/// variable set to the empty string counts as not set, as in the interpreter.
pub struct Env {
    lookup: Lookup,
}

/// Reads one variable.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for Env {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Env")
    }
}

impl Env {
    /// The process's environment variables.
    pub fn process() -> Env {
        Env::from_fn(|name| std::env::var(name).ok())
    }

    /// Variables read through `lookup`.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Env {
        Env { lookup: Box::new(lookup) }
    }

    /// Variables from a list of pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        let map: HashMap<String, String> = pairs.into_iter().map(|(key, value)| (key.into(), value.into())).collect();
        Env::from_fn(move |name| map.get(name).cloned())
    }

    fn get(&self, variable: &str) -> Option<String> {
        (self.lookup)(variable).filter(|value| !value.is_empty())
    }

    /// `env("VAR", "default")`: the variable, else the default; an error
    /// naming the variable when neither is there.
    pub fn var(&self, variable: &str, default: Option<&str>) -> Result<String, ConfigError> {
        match self.get(variable).or_else(|| default.map(str::to_owned)) {
            Some(value) => Ok(value),
            None => Err(ConfigError::new(format!("the environment variable `{variable}` is not set"))),
        }
    }

    /// A secret's value. Generated code never holds a secret's default: a
    /// secret whose variable is not set is an error naming it.
    pub fn secret(&self, name: &str, variable: &str) -> Result<String, ConfigError> {
        match self.get(variable) {
            Some(value) => {
                // Registered for redaction, as the interpreter registers every secret.
                let _ = Secret::new(value.as_str());
                Ok(value)
            }
            None => Err(ConfigError::new(format!(
                "secret `{name}` is not set: the environment variable `{variable}` is empty or missing"
            ))),
        }
    }
}

/// Where requests go instead of the URLs the program declares, by api name
/// (the base URL, and the `token_url` of an OAuth2 auth): local stand-ins,
/// test servers. The declared expressions are then not evaluated.
#[derive(Clone, Debug, Default)]
pub struct Redirects {
    pub base_urls: HashMap<String, String>,
    pub token_urls: HashMap<String, String>,
}

/// Why a call of a generated client (or of the interpreter, which uses
/// this type too) failed: the HTTP layer's error (a status mapped to an
/// error name, a timeout, an answer that does not decode...), or an error
/// of computing the request or reading the answer.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("{context}: {error}")]
    Eval { context: String, error: EvalError },
}

impl CallFailure {
    /// The integ error name (`NotFound`, `Timeout`, ...), when the HTTP layer failed.
    pub fn error_name(&self) -> Option<&str> {
        match self {
            CallFailure::Call(error) => Some(error.error_name()),
            CallFailure::Eval { .. } => None,
        }
    }
}

/// An error of computing the request of `api.endpoint`.
pub fn eval_failure(api: &str, endpoint: &str, error: EvalError) -> CallFailure {
    CallFailure::Eval { context: format!("{api}.{endpoint}"), error }
}

/// An answer of `api.endpoint` that did not decode.
pub fn decode_failure(api: &str, endpoint: &str, method: Method, response: &Response, error: EvalError) -> CallError {
    let mut failure = CallError::new(
        api,
        endpoint,
        CallErrorKind::Decode { message: error.to_string() },
        method,
        response.url.as_str(),
    );
    failure.attempts = response.attempts;
    failure
}

/// A cheap hash of a page's bytes, to notice a page that repeats the previous one.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The headers of an answer, for an endpoint's `headers`.
pub fn response_headers(response: &Response) -> Vec<(String, String)> {
    response.header_pairs()
}

/// A cursor or next URL from a `Json` value: none for `null`, a string's
/// text, other JSON as written.
pub fn json_text(json: &serde_json::Value) -> Option<String> {
    match json {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// A form body from a value's JSON (a record's fields with their formats, in order).
pub fn form_body(json: serde_json::Value) -> Result<Body, EvalError> {
    let value = Value::Json(Arc::new(json));
    let pairs = crate::encode::form(&value, &crate::TypeDesc::Json, &crate::Schema::default())?;
    Ok(Body::form(&pairs))
}

/// An XML body with root element `root` from a value's JSON.
pub fn xml_body(json: serde_json::Value, root: &str) -> Result<Body, EvalError> {
    let value = Value::Json(Arc::new(json));
    Ok(Body::xml(crate::encode::xml(&value, &crate::TypeDesc::Json, &crate::Schema::default(), root)?))
}

/// Reads one page of a stream: its records, and what the pagination needs.
pub type PageReader<T> = fn(&Response) -> Result<(Vec<T>, PageOutcome), EvalError>;

/// The pages of a paginated endpoint, fetched as they are read: each page's
/// request is sent (with the api's auth, policy and limits) only when
/// [`Pages::next_page`] asks for it.
pub struct Pages<T> {
    pager: Pager,
    read: PageReader<T>,
    api: &'static str,
    endpoint: &'static str,
    method: Method,
    buffer: VecDeque<T>,
    done: bool,
}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Pages").field("api", &self.api).field("endpoint", &self.endpoint).finish()
    }
}

/// What a stream endpoint declares about its pages.
#[derive(Clone, Debug)]
pub struct Paging {
    pub api: &'static str,
    pub endpoint: &'static str,
    pub style: PageStyle,
    pub max_pages: u32,
}

impl<T> Pages<T> {
    /// The pages of the stream whose first request is `first`.
    pub fn new(
        client: &ApiClient,
        options: &EndpointOptions,
        first: Request,
        paging: Paging,
        read: PageReader<T>,
    ) -> Pages<T> {
        let method = first.method.clone();
        let pager = Pager::new(
            client.clone(),
            first,
            options.clone(),
            paging.style,
            PagerOptions { max_pages: paging.max_pages },
        );
        Pages { pager, read, api: paging.api, endpoint: paging.endpoint, method, buffer: VecDeque::new(), done: false }
    }

    /// The records of the next page; `None` when the stream has ended. A
    /// page that does not decode, or a request that fails, is an error that
    /// ends the stream.
    pub async fn next_page(&mut self) -> Option<Result<Vec<T>, CallError>> {
        if self.done {
            return None;
        }
        let mut records = Vec::new();
        let read = self.read;
        let (api, endpoint, method) = (self.api, self.endpoint, self.method.clone());
        let extract = |response: &Response| -> Result<PageOutcome, CallError> {
            match read(response) {
                Ok((page, outcome)) => {
                    records = page;
                    Ok(outcome)
                }
                Err(error) => Err(decode_failure(api, endpoint, method, response, error)),
            }
        };
        match self.pager.next(extract).await {
            None => {
                self.done = true;
                None
            }
            Some(Ok(_)) => Some(Ok(records)),
            Some(Err(error)) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }

    /// The next record, fetching pages as needed; `None` when the stream has ended.
    pub async fn next_record(&mut self) -> Option<Result<T, CallError>> {
        loop {
            if let Some(record) = self.buffer.pop_front() {
                return Some(Ok(record));
            }
            match self.next_page().await? {
                Ok(page) => self.buffer.extend(page),
                Err(error) => return Some(Err(error)),
            }
        }
    }

    /// Every record of every page, in order; the first error ends it.
    pub async fn collect_all(mut self) -> Result<Vec<T>, CallError> {
        let mut all = Vec::new();
        while let Some(record) = self.next_record().await {
            all.push(record?);
        }
        Ok(all)
    }

    /// The records as a `futures` stream.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<T, CallError>> {
        futures_util::stream::unfold(self, |mut pages| async move {
            let record = pages.next_record().await?;
            Some((record, pages))
        })
    }

    /// Pages received so far.
    pub fn pages(&self) -> u32 {
        self.pager.pages()
    }
}
