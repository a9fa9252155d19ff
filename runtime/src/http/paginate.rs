//! Pagination (§ 10.9 of spec.md): a driver for the pages of a stream
//! endpoint.
//!
//! The HTTP layer does not evaluate integ expressions: after each page the
//! caller (the interpreter, or generated code) reads the response — its
//! records, and the `next`, `has_more` and `stop` expressions of the style —
//! and reports a [`PageOutcome`]. The [`Pager`] decides from it whether and
//! how to request the next page, and applies the guards:
//!
//! | Style | Next request | Stops after a page when |
//! |---|---|---|
//! | [`PageStyle::Cursor`] | the first request with `param` = the cursor | with `has_more`: it is false; without: the cursor is none or `""` |
//! | [`PageStyle::Page`] | `param` = `start` + page index; `size_param` = `size` on every request | the page is empty, has fewer than `size` records, or `stop` |
//! | [`PageStyle::Offset`] | `param` = records received so far; `limit_param` = `limit` on every request | the page is empty, has fewer than `limit` records, or `stop` |
//! | [`PageStyle::LinkHeader`] | the `Link` entry with the relation (RFC 8288) | no such entry |
//! | [`PageStyle::NextUrl`] | the URL the caller reports | none or `""` |
//!
//! Guards, each ending the stream with a [`CallErrorKind::Pagination`] error
//! *after* the page that triggered it has been delivered (its records are
//! good): a cursor or next URL already used in the stream; a next URL on
//! another origin than the api's base URL (relative URLs are resolved against
//! the URL that answered); `has_more` true without a cursor; `max_pages`
//! pages received (default 1000) while another is wanted. A `page` or
//! `offset` page whose records are the same as the previous page's (the
//! server ignored the parameter) ends the stream with an error *instead of*
//! that page, which would only repeat records. `stop` is honoured by every
//! style. Nothing loops: every page either moves to a request never made
//! before or ends the stream, and `max_pages` bounds the total.
//!
//! Page requests go through [`ApiClient::send`], so each is retried, rate
//! limited and protected by the breaker on its own, with its own deadline.
//! A page request that fails ends the stream with that error.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use reqwest::header::{HeaderMap, LINK};
use url::Url;

use super::client::{ApiClient, EndpointOptions, Response, same_origin};
use super::errors::{CallError, CallErrorKind};
use super::request::Request;
use crate::secret::redact;

/// How a stream endpoint gets its next page (`paginate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageStyle {
    /// No `paginate`: one request.
    Single,
    /// `cursor(next: e, param: "cursor", has_more: e)`.
    Cursor { param: String },
    /// `page(param: "page", start: 1, size_param: s, size: n, stop: e)`.
    Page { param: String, start: u64, size_param: Option<String>, size: Option<u64> },
    /// `offset(param: "offset", limit_param: "limit", limit: 100, stop: e)`.
    Offset { param: String, limit_param: String, limit: u64 },
    /// `link_header(rel: "next")`.
    LinkHeader { rel: String },
    /// `next_url(e)`.
    NextUrl,
}

impl PageStyle {
    /// `page()` with its defaults.
    pub fn page() -> PageStyle {
        PageStyle::Page { param: "page".into(), start: 1, size_param: None, size: None }
    }

    /// `offset()` with its defaults.
    pub fn offset() -> PageStyle {
        PageStyle::Offset { param: "offset".into(), limit_param: "limit".into(), limit: 100 }
    }

    /// `link_header` with its default relation.
    pub fn link_header() -> PageStyle {
        PageStyle::LinkHeader { rel: "next".into() }
    }
}

/// Options of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagerOptions {
    /// `max_pages:` (default 1000).
    pub max_pages: u32,
}

impl Default for PagerOptions {
    fn default() -> PagerOptions {
        PagerOptions { max_pages: 1000 }
    }
}

/// What the caller read from a page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageOutcome {
    /// How many records the page held.
    pub records: usize,
    /// `cursor`: the `next` value; `next_url`: the URL. `None` or `""` means
    /// none. Ignored by the other styles.
    pub next: Option<String>,
    /// `cursor`'s `has_more`, when the style declares one.
    pub has_more: Option<bool>,
    /// The `stop` expression was true.
    pub stop: bool,
    /// A fingerprint of the page's records, to notice a page that repeats the
    /// previous one (`page`, `offset`); the body's hash when `None`.
    pub fingerprint: Option<u64>,
}

impl PageOutcome {
    pub fn records(records: usize) -> PageOutcome {
        PageOutcome { records, ..PageOutcome::default() }
    }

    pub fn with_next(mut self, next: Option<impl Into<String>>) -> PageOutcome {
        self.next = next.map(Into::into);
        self
    }

    pub fn with_has_more(mut self, has_more: bool) -> PageOutcome {
        self.has_more = Some(has_more);
        self
    }

    pub fn with_stop(mut self, stop: bool) -> PageOutcome {
        self.stop = stop;
        self
    }

    pub fn with_fingerprint(mut self, fingerprint: u64) -> PageOutcome {
        self.fingerprint = Some(fingerprint);
        self
    }
}

enum State {
    /// The next request to send.
    Next(Box<Request>),
    /// The stream ends with this error at the next call.
    Failing(Box<CallError>),
    Done,
}

/// Drives the pages of one stream.
pub struct Pager {
    client: ApiClient,
    endpoint: EndpointOptions,
    style: PageStyle,
    options: PagerOptions,
    /// The first request, which the next ones repeat (§ 10.9).
    first: Request,
    state: State,
    /// Pages received.
    pages: u32,
    /// Records received (for `offset`).
    received: u64,
    cursors: HashSet<String>,
    urls: HashSet<String>,
    previous_fingerprint: Option<u64>,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Pager")
            .field("api", &self.client.name())
            .field("endpoint", &self.endpoint.name)
            .field("style", &self.style)
            .field("pages", &self.pages)
            .finish()
    }
}

impl Pager {
    /// A stream whose first page is `first` (for `page` and `offset`, the
    /// first page's parameters are added here).
    pub fn new(
        client: ApiClient,
        first: Request,
        endpoint: EndpointOptions,
        style: PageStyle,
        options: PagerOptions,
    ) -> Pager {
        let initial = match &style {
            PageStyle::Page { param, start, size_param, size } => page_params(param, *start, size_param, *size),
            PageStyle::Offset { param, limit_param, limit } => offset_params(param, 0, limit_param, *limit),
            _ => Vec::new(),
        };
        let start = with_params(&first, initial);
        let mut urls = HashSet::new();
        if let Ok(url) = client.url_for(&start) {
            urls.insert(url.to_string());
        }
        Pager {
            client,
            endpoint,
            style,
            options,
            state: State::Next(Box::new(start)),
            first,
            pages: 0,
            received: 0,
            cursors: HashSet::new(),
            urls,
            previous_fingerprint: None,
        }
    }

    /// Pages received so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Fetches the next page: `None` when the stream has ended, else the
    /// page's response or the error that ends the stream. `extract` reads
    /// the response and says what it held.
    pub async fn next<F>(&mut self, extract: F) -> Option<Result<Response, CallError>>
    where
        F: FnOnce(&Response) -> Result<PageOutcome, CallError>,
    {
        let request = match std::mem::replace(&mut self.state, State::Done) {
            State::Done => return None,
            State::Failing(error) => return Some(Err(*error)),
            State::Next(request) => *request,
        };
        let response = match self.client.send(request.clone(), &self.endpoint).await {
            Ok(response) => response,
            Err(error) => return Some(Err(error)),
        };
        self.pages = self.pages.saturating_add(1);
        let outcome = match extract(&response) {
            Ok(outcome) => outcome,
            Err(error) => return Some(Err(error)),
        };
        match self.plan(&request, &response, &outcome) {
            Plan::Stop => {}
            Plan::Next(_) if self.pages >= self.options.max_pages => {
                let message = format!(
                    "{} pages were received and the stream wants another (max_pages: {})",
                    self.pages, self.options.max_pages
                );
                self.state = State::Failing(Box::new(self.error(&response, message)));
            }
            Plan::Next(next) => self.state = State::Next(next),
            Plan::FailAfter(message) => self.state = State::Failing(Box::new(self.error(&response, message))),
            Plan::FailNow(message) => return Some(Err(self.error(&response, message))),
        }
        tracing::debug!(
            api = %self.client.name(),
            endpoint = %self.endpoint.name,
            page = self.pages,
            records = outcome.records,
            more = matches!(self.state, State::Next(_)),
            "page received"
        );
        Some(Ok(response))
    }

    fn error(&self, response: &Response, message: String) -> CallError {
        let mut error = CallError::new(
            self.client.name(),
            &self.endpoint.name,
            CallErrorKind::Pagination { message: redact(&message).into_owned() },
            self.first.method.clone(),
            response.url.as_str(),
        );
        error.attempts = response.attempts;
        error
    }

    /// Same-request-otherwise: the first request with these parameters.
    fn with_params(&self, params: Vec<(String, String)>) -> Box<Request> {
        Box::new(with_params(&self.first, params))
    }

    /// The first request sent to `url` (which replaces path and query).
    fn with_url(&mut self, base: &Url, target: &str) -> Plan {
        let url = match base.join(target) {
            Ok(url) => url,
            Err(_) => return Plan::FailAfter(format!("the next URL `{target}` is not a valid URL")),
        };
        if !same_origin(&url, self.client.base_url()) {
            return Plan::FailAfter(format!(
                "the next URL `{url}` is not on the api's origin `{}`; credentials are never sent to another server",
                self.client.base_url().origin().ascii_serialization()
            ));
        }
        if !self.urls.insert(url.to_string()) {
            return Plan::FailAfter(format!("the next URL `{url}` was already requested in this stream"));
        }
        let mut next = self.first.clone();
        next.url = Some(url);
        Plan::Next(Box::new(next))
    }

    /// Whether the page repeats the previous page's records.
    fn repeats_previous(&mut self, response: &Response, outcome: &PageOutcome) -> bool {
        let fingerprint = outcome.fingerprint.unwrap_or_else(|| {
            let mut hasher = DefaultHasher::new();
            response.body.hash(&mut hasher);
            hasher.finish()
        });
        let repeated = outcome.records > 0 && self.previous_fingerprint == Some(fingerprint);
        self.previous_fingerprint = Some(fingerprint);
        repeated
    }

    fn plan(&mut self, request: &Request, response: &Response, outcome: &PageOutcome) -> Plan {
        let next_value = outcome.next.as_deref().filter(|next| !next.is_empty());
        match self.style.clone() {
            PageStyle::Single => Plan::Stop,
            PageStyle::Cursor { param } => {
                if outcome.stop || outcome.has_more == Some(false) {
                    return Plan::Stop;
                }
                let Some(cursor) = next_value else {
                    return if outcome.has_more == Some(true) {
                        Plan::FailAfter("`has_more` is true but the next cursor is empty".into())
                    } else {
                        Plan::Stop
                    };
                };
                if !self.cursors.insert(cursor.to_owned()) {
                    return Plan::FailAfter(format!("the cursor `{cursor}` was already used in this stream"));
                }
                Plan::Next(self.with_params(vec![(param, cursor.to_owned())]))
            }
            PageStyle::Page { param, start, size_param, size } => {
                if self.repeats_previous(response, outcome) {
                    return Plan::FailNow(format!(
                        "page {} has the same records as the previous page: the server ignored `{param}`",
                        self.pages
                    ));
                }
                if outcome.records == 0 || outcome.stop || size.is_some_and(|size| (outcome.records as u64) < size) {
                    return Plan::Stop;
                }
                let number = start.saturating_add(u64::from(self.pages));
                Plan::Next(self.with_params(page_params(&param, number, &size_param, size)))
            }
            PageStyle::Offset { param, limit_param, limit } => {
                if self.repeats_previous(response, outcome) {
                    return Plan::FailNow(format!(
                        "the page at offset {} has the same records as the previous page: the server ignored `{param}`",
                        self.received
                    ));
                }
                self.received = self.received.saturating_add(outcome.records as u64);
                if outcome.records == 0 || outcome.stop || (outcome.records as u64) < limit {
                    return Plan::Stop;
                }
                Plan::Next(self.with_params(offset_params(&param, self.received, &limit_param, limit)))
            }
            PageStyle::LinkHeader { rel } => {
                if outcome.stop {
                    return Plan::Stop;
                }
                match link_target(&response.headers, &rel) {
                    Some(target) => self.with_url(&response.url, &target),
                    None => Plan::Stop,
                }
            }
            PageStyle::NextUrl => {
                if outcome.stop {
                    return Plan::Stop;
                }
                match next_value {
                    Some(target) => {
                        let target = target.to_owned();
                        let base = if response.url.as_str().is_empty() {
                            self.client.url_for(request).unwrap_or_else(|_| self.client.base_url().clone())
                        } else {
                            response.url.clone()
                        };
                        self.with_url(&base, &target)
                    }
                    None => Plan::Stop,
                }
            }
        }
    }
}

/// `request` with `params` after its written parameters, each replacing a
/// written parameter of the same name (§ 10.5).
fn with_params(request: &Request, params: Vec<(String, String)>) -> Request {
    let mut request = request.clone();
    request.query.retain(|(name, _)| params.iter().all(|(param, _)| param != name));
    request.query.extend(params);
    request
}

fn page_params(param: &str, number: u64, size_param: &Option<String>, size: Option<u64>) -> Vec<(String, String)> {
    let mut params = vec![(param.to_owned(), number.to_string())];
    if let (Some(size_param), Some(size)) = (size_param, size) {
        params.push((size_param.clone(), size.to_string()));
    }
    params
}

fn offset_params(param: &str, offset: u64, limit_param: &str, limit: u64) -> Vec<(String, String)> {
    vec![(param.to_owned(), offset.to_string()), (limit_param.to_owned(), limit.to_string())]
}

enum Plan {
    Stop,
    Next(Box<Request>),
    /// Deliver this page, then end the stream with an error.
    FailAfter(String),
    /// End the stream with an error instead of this page.
    FailNow(String),
}

/// The target of the first `Link` entry (RFC 8288) whose `rel` contains
/// `rel` (case-insensitive), across every `Link` header.
pub fn link_target(headers: &HeaderMap, rel: &str) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            parse_link_header(value).into_iter().find(|(_, rels)| rels.iter().any(|r| r.eq_ignore_ascii_case(rel)))
        })
        .map(|(target, _)| target)
}

/// Parses one `Link` header value into (target, relations) entries. Malformed
/// entries are skipped.
pub fn parse_link_header(value: &str) -> Vec<(String, Vec<String>)> {
    let mut entries = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        // Up to the next `<`.
        while chars.next_if(|c| *c != '<').is_some() {}
        if chars.next().is_none() {
            break;
        }
        let mut target = String::new();
        let mut closed = false;
        for c in chars.by_ref() {
            if c == '>' {
                closed = true;
                break;
            }
            target.push(c);
        }
        if !closed {
            break;
        }
        let mut rels = Vec::new();
        // Parameters: `; name=value` or `; name="quoted"`, until `,` or the end.
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            match chars.peek() {
                Some(';') => {
                    chars.next();
                }
                _ => break,
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let mut name = String::new();
            while let Some(c) = chars.next_if(|c| !matches!(c, '=' | ';' | ',') && !c.is_whitespace()) {
                name.push(c);
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let mut parameter = String::new();
            if chars.next_if_eq(&'=').is_some() {
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                if chars.next_if_eq(&'"').is_some() {
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => {
                                if let Some(escaped) = chars.next() {
                                    parameter.push(escaped);
                                }
                            }
                            other => parameter.push(other),
                        }
                    }
                } else {
                    while let Some(c) = chars.next_if(|c| !matches!(c, ';' | ',') && !c.is_whitespace()) {
                        parameter.push(c);
                    }
                }
            }
            if name.eq_ignore_ascii_case("rel") {
                rels.extend(parameter.split_whitespace().map(str::to_owned));
            }
        }
        entries.push((target.trim().to_owned(), rels));
        // Skip to the `,` that separates entries.
        while chars.next_if(|c| *c != ',' && *c != '<').is_some() {}
        chars.next_if_eq(&',');
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let entries = parse_link_header(
            r#"<https://api.example.com/items?page=2>; rel="next", <https://api.example.com/items?page=9>; rel=last,
               </items?page=1>; title="a, b; c"; rel="prev first""#,
        );
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0], ("https://api.example.com/items?page=2".to_owned(), vec!["next".to_owned()]));
        assert_eq!(entries[1].1, vec!["last".to_owned()]);
        assert_eq!(entries[2], ("/items?page=1".to_owned(), vec!["prev".to_owned(), "first".to_owned()]));
        let mut headers = HeaderMap::new();
        headers.append(LINK, "<a>; rel=prev".parse().unwrap());
        headers.append(LINK, "<b>; REL=\"NEXT\"".parse().unwrap());
        assert_eq!(link_target(&headers, "next").as_deref(), Some("b"));
        assert_eq!(link_target(&headers, "last"), None);
        assert!(parse_link_header("garbage <unclosed").is_empty());
        assert!(parse_link_header("").is_empty());
    }
}
