//! Scripted stand-ins, for `integ test` (§ 13.1 of spec.md).
//!
//! In: [`Scripts`], which the test runner changes as it goes (a `given`
//! installs a [`Script`]; before each call the runner activates the script
//! whose arguments match). Out: the answer to each request of an endpoint.
//!
//! Each request (one attempt) takes the script's next response; the last
//! one repeats. A `returns <list>` of a stream answers every page request
//! of one stream: a request that continues a stream (it carries the
//! pagination's cursor, a page after the first, an offset, or the stand-in's
//! `mock_offset`) stays on it, cut into pages as the module above describes
//! (or into pages of `N` records for `returns e per page N`).
//! An endpoint without a script answers `204` when it has no result, and
//! otherwise `501`, remembered as a call without a stand-in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header::RETRY_AFTER;
use axum::response::Response;
use serde_json::Value as Json;

use super::{
    ApiState, EndpointState, Incoming, Kind, OFFSET_PARAM, PageSize, Paging, Reply, lock, page, placed, reset,
};

/// One response of a script.
#[derive(Clone, Debug, PartialEq)]
pub enum Scripted {
    /// A value, encoded as in production: for a stream, the list of its
    /// records, with `per_page` records a page when given (`returns e per
    /// page N`), whatever the pagination's size or the request's limit.
    Returns { value: Json, per_page: Option<usize> },
    /// A `200` whose body is these bytes (a fixture file).
    Body(Vec<u8>),
    /// `204`, no body.
    Succeeds,
    /// A failure status, with `Retry-After` in whole seconds and a JSON body.
    Fails { status: u16, retry_after_seconds: Option<u64>, body: Option<Vec<u8>> },
    /// No answer: the client's attempt times out.
    TimesOut,
    /// The connection is closed before the response is complete.
    Resets,
}

/// The responses of one `given`, and how far the requests got through them.
#[derive(Debug)]
pub struct Script {
    responses: Vec<Scripted>,
    position: Mutex<Option<usize>>,
}

impl Script {
    pub fn new(responses: Vec<Scripted>) -> Script {
        Script { responses, position: Mutex::new(None) }
    }
}

/// The active script of each endpoint of a test, by `Api.endpoint`, and the
/// endpoints called without one.
#[derive(Debug, Default)]
pub struct Scripts {
    active: Mutex<HashMap<String, Arc<Script>>>,
    unscripted: Mutex<Vec<String>>,
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts::default()
    }

    /// Makes `script` answer the requests of `endpoint` (`Api.endpoint`); `None` removes it.
    pub fn activate(&self, endpoint: &str, script: Option<Arc<Script>>) {
        let mut active = lock(&self.active);
        match script {
            Some(script) => {
                active.insert(endpoint.to_owned(), script);
            }
            None => {
                active.remove(endpoint);
            }
        }
    }

    /// The endpoints (`Api.endpoint`) requested without a script since the last call.
    pub fn take_unscripted(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.unscripted))
    }
}

/// How long a `times out` stand-in holds a request before it answers `504`
/// (on the test's virtual clock, so only a client without a timeout waits for it).
const HOLD: Duration = Duration::from_secs(24 * 3600);

pub(super) async fn answer(api: &ApiState, scripts: &Scripts, endpoint: &EndpointState, call: &Incoming) -> Response {
    let name = format!("{}.{}", api.name, endpoint.name);
    let script = lock(&scripts.active).get(&name).cloned();
    let Some(script) = script else {
        if matches!(endpoint.kind, Kind::Unit) {
            return Reply { status: 204, headers: Vec::new(), body: Vec::new() }.into_response();
        }
        lock(&scripts.unscripted).push(name.clone());
        return Reply::error(501, "no_stand_in", format!("`{name}` was called without a `given`")).into_response();
    };
    let continues = continues_stream(&endpoint.kind, call);
    let response = {
        let mut position = lock(&script.position);
        let current = position.and_then(|index| script.responses.get(index));
        let stay = continues && matches!(current, Some(Scripted::Returns { .. }));
        if !stay {
            let last = script.responses.len().saturating_sub(1);
            *position = Some(position.map_or(0, |index| (index + 1).min(last)));
        }
        position.and_then(|index| script.responses.get(index)).cloned()
    };
    let Some(response) = response else {
        return Reply::error(501, "no_stand_in", format!("the stand-in of `{name}` has no response")).into_response();
    };
    match response {
        Scripted::Returns { value, per_page } => returns(endpoint, call, value, per_page).into_response(),
        Scripted::Body(bytes) => Reply {
            status: 200,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: bytes,
        }
        .into_response(),
        Scripted::Succeeds => Reply { status: 204, headers: Vec::new(), body: Vec::new() }.into_response(),
        Scripted::Fails { status, retry_after_seconds, body } => {
            let mut headers = Vec::new();
            if let Some(seconds) = retry_after_seconds {
                headers.push((RETRY_AFTER.as_str().to_owned(), seconds.to_string()));
            }
            if body.is_some() {
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
            }
            Reply { status, headers, body: body.unwrap_or_default() }.into_response()
        }
        Scripted::TimesOut => {
            tokio::time::sleep(HOLD).await;
            Reply::error(504, "held", "the stand-in held this request").into_response()
        }
        Scripted::Resets => reset(),
    }
}

/// The body of `returns value`: at the `select` path, or cut into pages of
/// a stream: `per_page` records a page when given, else the pagination's
/// `size` (or for `offset` the limit the request sends), else one page.
fn returns(endpoint: &EndpointState, call: &Incoming, value: Json, per_page: Option<usize>) -> Reply {
    match &endpoint.kind {
        Kind::Stream { skeleton, at, paging, .. } => {
            let Json::Array(records) = value else {
                return Reply::error(500, "internal", "a stream's stand-in returns a list of records");
            };
            let page_size = match per_page {
                Some(records) => PageSize::Fixed(records.max(1)),
                None => PageSize::Default(usize::MAX),
            };
            match page(&records, skeleton, at, paging, page_size, call) {
                Ok((body, headers)) => {
                    let mut reply = Reply::json(200, &body);
                    reply.headers.extend(headers);
                    reply
                }
                Err(message) => Reply::error(400, "bad_page", message),
            }
        }
        Kind::Single { skeleton, select, .. } => Reply::json(200, &placed(skeleton, select.as_deref(), value)),
        Kind::Unservable(reason) => Reply::error(
            501,
            "fixture_needed",
            format!(
                "{reason}; in a test, give the pages as fixtures: `returns fixture(\"page1.json\"), then returns fixture(\"page2.json\")`"
            ),
        ),
        Kind::Unit | Kind::Raw(_) => Reply::json(200, &value),
    }
}

/// Whether a request of a stream endpoint asks for a page after the first.
fn continues_stream(kind: &Kind, call: &Incoming) -> bool {
    let Kind::Stream { paging, .. } = kind else { return false };
    match paging {
        Paging::Single => false,
        Paging::Cursor { param, .. } => call.param(param).is_some(),
        Paging::Page { param, start, .. } => call.param(param).is_some_and(|value| value.trim() != start.to_string()),
        Paging::Offset { param, .. } => call.param(param).is_some_and(|value| value.trim() != "0"),
        Paging::Link { .. } | Paging::NextUrl { .. } => call.param(OFFSET_PARAM).is_some(),
    }
}
