//! Endpoint calls: requests built from the lowered endpoint and its
//! arguments, sent through integ-runtime's HTTP layer, answers decoded by
//! declared type.
//!
//! In: an [`Interpreter`] connected to its apis ([`Apis`]), an endpoint and
//! argument values. Out: the call's result — nothing, one value, or a
//! [`Stream`] that fetches pages as they are read. Building the request
//! follows § 16.2 of spec.md: path (each value one percent-encoded segment),
//! query (none left out, lists repeated), headers (api's, then endpoint's),
//! body, idempotency key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use integ_runtime::http::{
    ApiClient, ApiConfig, ApiKeyLocation, Auth, AuthStyle, Backoff, Body, BreakerConfig, CallError, CallErrorKind,
    Canonical, CanonicalTemplate, Credential, EndpointOptions, ErrorArm, HmacAlgorithm, HmacAuth, Jitter, Limits,
    Method, OAuth2ClientCredentials, OAuth2RefreshToken, PageOutcome, PageStyle, Pager, PagerOptions, PathTemplate,
    Policy, Rate, Request, Response, RetryOn, SharedAuth, SignatureEncoding, StatusPattern,
};
use integ_runtime::secret::Secret;
use integ_runtime::{EvalError, TypeDesc, Value, decode, encode};

use super::{Frame, Interpreter, StartError};
use crate::check::literals::StatusPattern as CheckedStatus;
use crate::check::policy::{self as checked_policy, PolicyInfo};
use crate::check::types::Ty;
use crate::ir::Expr;
use crate::ir::api::{self as ir_api, Pagination};

/// Why a call failed: the HTTP layer's error, or an error of evaluating the
/// request or the answer (a run-time error, never retried). The same type
/// as generated clients' failures: the run's bookkeeping handles both.
pub use integ_runtime::generated::CallFailure;

/// What the calls of a flow run count (§ 12.10): successful writes and
/// retries, into the run's live counters.
pub type CallStats = integ_runtime::run::Live;

/// A stream record that did not decode: its JSON as received, and why.
#[derive(Clone, Debug)]
pub struct BadRecord {
    pub raw: String,
    pub error: String,
    /// The URL of the page it came in.
    pub url: String,
}

/// One record of a stream page.
pub type Item = Result<Value, BadRecord>;

/// The result of a call.
pub enum Outcome {
    /// A no-content endpoint answered.
    Done,
    Value(Value),
    Stream(Box<Stream>),
}

/// The clients of the program's apis, connected (one per api, shared by its calls).
pub struct Apis {
    clients: Vec<ApiClient>,
    endpoints: Vec<Vec<EndpointOptions>>,
    /// Kept alive so the redactor knows them for as long as the apis are used.
    _secrets: Vec<Secret>,
}

/// Where requests go instead of the URLs the program declares, by api name:
/// the base URL, and the `token_url` of an OAuth2 auth. `integ run --mock`
/// gets them from [`super::standin::StandIns::redirects`]; the program's own
/// `base_url` and `token_url` expressions are then not evaluated. The same
/// type configures generated clients.
pub use integ_runtime::generated::Redirects;

impl Interpreter {
    /// Builds an HTTP client for every api: base URLs, auth, policies and
    /// limits read from the program and the environment. Every problem is
    /// reported together.
    pub fn connect(&self) -> Result<Apis, StartError> {
        self.connect_with(&Redirects::default())
    }

    /// [`Interpreter::connect`], with the base and token URLs of `redirects`
    /// in place of the declared ones (for the apis it names).
    pub fn connect_with(&self, redirects: &Redirects) -> Result<Apis, StartError> {
        let secrets: Vec<Secret> = self.secret_values().map(Secret::new).collect();
        let mut problems = Vec::new();
        let mut clients = Vec::new();
        let mut endpoints = Vec::new();
        let mut shared: HashMap<String, SharedAuth> = HashMap::new();
        for api in &self.program.apis {
            match self.client(api, redirects, &mut shared) {
                Ok(client) => {
                    endpoints.push(
                        api.endpoints
                            .iter()
                            .map(|endpoint| self.endpoint_options(api, endpoint))
                            .collect::<Result<Vec<_>, _>>()
                            .unwrap_or_else(|problem| {
                                problems.push(problem);
                                Vec::new()
                            }),
                    );
                    clients.push(client);
                }
                Err(problem) => {
                    problems.push(problem);
                    endpoints.push(Vec::new());
                }
            }
        }
        if !problems.is_empty() {
            return Err(StartError::Config(problems.join("\n")));
        }
        Ok(Apis { clients, endpoints, _secrets: secrets })
    }

    fn config_text(&self, expr: &Expr, what: &str) -> Result<String, String> {
        let value = self.eval(&mut Frame::new(0), expr).map_err(|error| format!("{what}: {error}"))?;
        match value {
            Value::String(text) => Ok(text.to_string()),
            Value::None => Err(format!("{what} is not set")),
            other => Ok(encode::text(&other, &self.schema)),
        }
    }

    fn client(
        &self,
        api: &ir_api::Api,
        redirects: &Redirects,
        shared: &mut HashMap<String, SharedAuth>,
    ) -> Result<ApiClient, String> {
        let base_url = match redirects.base_urls.get(&api.name) {
            Some(url) => url.clone(),
            None => self.config_text(&api.base_url, &format!("`{}`'s base_url", api.name))?,
        };
        let policy = self.policy(api.policy);
        let mut config = ApiConfig::new(api.name.clone(), base_url).policy(policy).errors(error_arms(&api.errors));
        config.seed = self.http_seed;
        config.wall_clock = self.wall_clock.clone();
        let auth = match api.auth.declaration.as_ref().and_then(|name| shared.get(name)) {
            Some(auth) => auth.clone(),
            None => {
                let auth = SharedAuth::new(self.auth(api, redirects.token_urls.get(&api.name))?);
                if let Some(name) = &api.auth.declaration {
                    shared.insert(name.clone(), auth.clone());
                }
                auth
            }
        };
        config = config.auth(auth);
        for (name, expr) in &api.headers {
            let value = self.config_text(expr, &format!("header `{name}` of `{}`", api.name))?;
            config = config.header(name.clone(), self.credential(value));
        }
        if let Some(rate) = api.rate_limit {
            config = config.rate_limit(rate_of(rate));
        }
        if let Some(concurrency) = api.concurrency {
            config = config.concurrency(u32::try_from(concurrency).unwrap_or(u32::MAX));
        }
        ApiClient::new(config).map_err(|error| format!("`{}`: {}", api.name, error.message()))
    }

    /// Text that is a secret's value (or contains one) stays marked as secret.
    fn credential(&self, value: String) -> Credential {
        if self.secret_values().any(|secret| !secret.is_empty() && value.contains(secret)) {
            Credential::Secret(Secret::new(value))
        } else {
            Credential::Text(value)
        }
    }

    fn auth(&self, api: &ir_api::Api, token_url: Option<&String>) -> Result<Auth, String> {
        let auth = &api.auth;
        let owner = format!("auth of `{}`", api.name);
        let arg = |name: &str| -> Result<Option<String>, String> {
            match auth.args.iter().find(|(arg, _)| arg == name) {
                Some((_, expr)) => self.config_text(expr, &format!("`{name}` of the {owner}")).map(Some),
                None => Ok(None),
            }
        };
        let required = |name: &str| -> Result<String, String> {
            match token_url {
                Some(url) if name == "token_url" => Ok(url.clone()),
                _ => arg(name)?.ok_or_else(|| format!("the {owner} has no `{name}`")),
            }
        };
        let duration = |name: &str, default: Duration| -> Result<Duration, String> {
            match auth.args.iter().find(|(arg, _)| arg == name) {
                Some((_, expr)) => match self.eval(&mut Frame::new(0), expr) {
                    Ok(Value::Duration(duration)) => Ok(Duration::from_millis(duration.millis.max(0) as u64)),
                    _ => Err(format!("`{name}` of the {owner} is not a duration")),
                },
                None => Ok(default),
            }
        };
        let scopes = || -> Result<Vec<String>, String> {
            match auth.args.iter().find(|(arg, _)| arg == "scopes") {
                Some((_, expr)) => match self.eval(&mut Frame::new(0), expr) {
                    Ok(Value::List(items)) => {
                        Ok(items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect())
                    }
                    _ => Err(format!("`scopes` of the {owner} is not a list of strings")),
                },
                None => Ok(Vec::new()),
            }
        };
        Ok(match auth.scheme.as_str() {
            "none" => Auth::None,
            "bearer" => Auth::Bearer(Secret::new(required("token")?)),
            "basic" => Auth::Basic {
                username: self.credential(required("username")?),
                password: Secret::new(required("password")?),
            },
            "api_key" => {
                let value = self.credential(required("value")?);
                let location = match (arg("header")?, arg("query")?) {
                    (Some(header), _) => ApiKeyLocation::Header(header),
                    (None, Some(query)) => ApiKeyLocation::Query(query),
                    (None, None) => return Err(format!("the {owner} says neither `header` nor `query`")),
                };
                Auth::ApiKey { location, value }
            }
            "oauth2_client_credentials" => {
                let mut scheme = OAuth2ClientCredentials::new(
                    required("token_url")?,
                    self.credential(required("client_id")?),
                    Secret::new(required("client_secret")?),
                );
                scheme.scopes = scopes()?;
                scheme.audience = arg("audience")?;
                scheme.refresh_before = duration("refresh_before", Duration::from_secs(60))?;
                scheme.auth_style =
                    if arg("auth_style")?.as_deref() == Some("body") { AuthStyle::Body } else { AuthStyle::Header };
                Auth::OAuth2ClientCredentials(scheme)
            }
            "oauth2_refresh_token" => {
                let mut scheme = OAuth2RefreshToken::new(
                    required("token_url")?,
                    self.credential(required("client_id")?),
                    Secret::new(required("refresh_token")?),
                );
                scheme.client_secret = arg("client_secret")?.map(Secret::new);
                scheme.scopes = scopes()?;
                scheme.refresh_before = duration("refresh_before", Duration::from_secs(60))?;
                Auth::OAuth2RefreshToken(scheme)
            }
            "hmac" => {
                let mut scheme = HmacAuth::new(Secret::new(required("secret")?));
                if let Some(header) = arg("header")? {
                    scheme.header = header;
                }
                scheme.algorithm = if arg("algorithm")?.as_deref() == Some("sha512") {
                    HmacAlgorithm::Sha512
                } else {
                    HmacAlgorithm::Sha256
                };
                scheme.encoding = if arg("encoding")?.as_deref() == Some("base64") {
                    SignatureEncoding::Base64
                } else {
                    SignatureEncoding::Hex
                };
                if let Some(canonical) = arg("canonical")? {
                    scheme.canonical = Canonical::Template(
                        CanonicalTemplate::parse(&canonical)
                            .map_err(|error| format!("{owner}: {}", error.message()))?,
                    );
                }
                scheme.timestamp_header = arg("timestamp_header")?;
                scheme.key_id = arg("key_id")?.map(|key| self.credential(key));
                scheme.key_id_header = arg("key_id_header")?;
                Auth::Hmac(scheme)
            }
            other => return Err(format!("unknown auth scheme `{other}`")),
        })
    }

    fn policy(&self, index: u32) -> Policy {
        self.program.policies.get(index as usize).map(policy_of).unwrap_or_default()
    }

    fn endpoint_options(&self, api: &ir_api::Api, endpoint: &ir_api::Endpoint) -> Result<EndpointOptions, String> {
        let mut options = EndpointOptions::new(endpoint.name.clone())
            .errors(error_arms(&endpoint.errors))
            .idempotent(endpoint.idempotent);
        if let Some(index) = endpoint.policy {
            let policy = self.policy(index);
            let owner = format!("{}.{}", api.name, endpoint.name);
            let limits = Limits::for_endpoint_policy(owner, &policy).map_err(|error| error.message().to_owned())?;
            options = options.policy(policy).limits(Arc::new(limits));
        }
        Ok(options)
    }

    /// Calls `api.endpoint` with arguments in parameter order (trailing ones
    /// may be left out: they take their defaults).
    pub async fn call_endpoint(
        &self,
        apis: &Apis,
        api: u32,
        endpoint: u32,
        args: Vec<Value>,
    ) -> Result<Outcome, CallFailure> {
        self.call_endpoint_counted(apis, api, endpoint, args, &CallStats::default()).await
    }

    /// [`Interpreter::call_endpoint`], counting writes and retries in `stats`
    /// (a stream's page requests are counted by [`Stream::next_items`]).
    pub async fn call_endpoint_counted(
        &self,
        apis: &Apis,
        api: u32,
        endpoint: u32,
        args: Vec<Value>,
        stats: &CallStats,
    ) -> Result<Outcome, CallFailure> {
        let Some(api_ir) = self.program.apis.get(api as usize) else {
            return Err(eval_failure("call", EvalError::Other(format!("no api number {api}"))));
        };
        let Some(endpoint_ir) = api_ir.endpoints.get(endpoint as usize) else {
            return Err(eval_failure("call", EvalError::Other(format!("no endpoint number {endpoint}"))));
        };
        let (Some(client), Some(options)) = (
            apis.clients.get(api as usize),
            apis.endpoints.get(api as usize).and_then(|list| list.get(endpoint as usize)),
        ) else {
            return Err(eval_failure("call", EvalError::Other(format!("`{}` is not connected", api_ir.name))));
        };
        let context = format!("{}.{}", api_ir.name, endpoint_ir.name);
        let mut frame = Frame::new(endpoint_ir.frame_size);
        let mut args = args;
        for position in args.len()..endpoint_ir.params.len() {
            let value = match endpoint_ir.defaults.get(position).cloned().flatten() {
                Some(default) => {
                    self.eval(&mut Frame::new(0), &default).map_err(|error| eval_failure(&context, error))?
                }
                None => Value::None,
            };
            args.push(value);
        }
        if let Some(observer) = &self.observer {
            observer(api, endpoint, &args);
        }
        for (slot, value) in args.into_iter().enumerate() {
            frame.set(slot as u32, value);
        }
        let request = self.build_request(&mut frame, endpoint_ir).map_err(|error| eval_failure(&context, error))?;
        let writes = matches!(endpoint_ir.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE");
        let send = |request| async {
            let sent = client.send(request, options).await;
            match &sent {
                Ok(response) => {
                    stats.count_attempts(response.attempts);
                    if writes {
                        stats.count_written();
                    }
                }
                Err(error) => stats.count_attempts(error.attempts),
            }
            sent
        };
        match &endpoint_ir.result {
            ir_api::Result::Unit => {
                send(request).await?;
                Ok(Outcome::Done)
            }
            ir_api::Result::Single { ty, select } => {
                let response = send(request).await?;
                if response.none {
                    return Ok(Outcome::Value(Value::None));
                }
                let value = self
                    .read_single(&mut frame, endpoint_ir, &response, ty, select.as_ref())
                    .map_err(|message| decode_error(&context, &response, message, endpoint_ir))?;
                Ok(Outcome::Value(value))
            }
            ir_api::Result::Stream { item, records, pagination, max_pages } => {
                let style = match pagination {
                    None => PageStyle::Single,
                    Some(Pagination::Cursor { param, .. }) => PageStyle::Cursor { param: param.clone() },
                    Some(Pagination::Page { param, start, size_param, size, .. }) => PageStyle::Page {
                        param: param.clone(),
                        start: u64::try_from(*start).unwrap_or(0),
                        size_param: size_param.clone(),
                        size: size.and_then(|size| u64::try_from(size).ok()),
                    },
                    Some(Pagination::Offset { param, limit_param, limit, .. }) => PageStyle::Offset {
                        param: param.clone(),
                        limit_param: limit_param.clone().unwrap_or_else(|| "limit".to_owned()),
                        limit: limit.and_then(|limit| u64::try_from(limit).ok()).unwrap_or(100),
                    },
                    Some(Pagination::LinkHeader { rel }) => PageStyle::LinkHeader { rel: rel.clone() },
                    Some(Pagination::NextUrl { .. }) => PageStyle::NextUrl,
                };
                let pager = Pager::new(
                    client.clone(),
                    request,
                    options.clone(),
                    style,
                    PagerOptions { max_pages: u32::try_from(*max_pages).unwrap_or(u32::MAX) },
                );
                Ok(Outcome::Stream(Box::new(Stream {
                    pager,
                    method: method_of(endpoint_ir),
                    frame,
                    api,
                    endpoint,
                    item: item.clone(),
                    records: records.clone(),
                    pagination: pagination.clone(),
                    done: false,
                })))
            }
        }
    }

    fn build_request(&self, frame: &mut Frame, endpoint: &ir_api::Endpoint) -> Result<Request, EvalError> {
        let method = Method::from_bytes(endpoint.method.as_bytes())
            .map_err(|_| EvalError::Other(format!("invalid method `{}`", endpoint.method)))?;
        let mut path = PathTemplate::new();
        for part in &endpoint.path {
            path = match part {
                ir_api::PathPart::Text(text) => path.literal(text.clone()),
                ir_api::PathPart::Value(expr, _) => {
                    let value = self.eval(frame, expr)?;
                    path.param(encode::text(&value, &self.schema))
                }
            };
        }
        let mut builder = Request::builder(method).path(path);
        for (key, expr, _) in &endpoint.query {
            match self.eval(frame, expr)? {
                Value::None => {}
                Value::List(items) => {
                    let texts: Vec<String> = items
                        .iter()
                        .filter(|item| !item.is_none())
                        .map(|item| encode::text(item, &self.schema))
                        .collect();
                    builder = builder.query_all(key, texts);
                }
                value => builder = builder.query(key.clone(), encode::text(&value, &self.schema)),
            }
        }
        for (name, expr) in &endpoint.headers {
            match self.eval(frame, expr)? {
                Value::None => {}
                value => {
                    let text = encode::text(&value, &self.schema);
                    builder = match self.credential(text) {
                        Credential::Secret(secret) => builder.secret_header(name, &secret),
                        Credential::Text(text) => builder.header(name, &text),
                    };
                }
            }
        }
        if let Some(body) = &endpoint.body {
            builder = builder.body(match body {
                ir_api::Body::Json(expr, ty) => {
                    let value = self.eval(frame, expr)?;
                    let mut bytes = Vec::new();
                    encode::json(&value, &self.desc(ty), &self.schema, &mut bytes)?;
                    Body::json(bytes)
                }
                ir_api::Body::Form(expr, ty) => {
                    let value = self.eval(frame, expr)?;
                    Body::form(&encode::form(&value, &self.desc(ty), &self.schema)?)
                }
                ir_api::Body::Xml(expr, ty, root) => {
                    let value = self.eval(frame, expr)?;
                    Body::xml(encode::xml(&value, &self.desc(ty), &self.schema, root)?)
                }
            });
        }
        if let Some(key) = &endpoint.idempotency_key {
            let value = self.eval(frame, key)?;
            builder = builder.idempotency_key(encode::text(&value, &self.schema));
            if let Some(header) = &endpoint.idempotency_header {
                builder = builder.idempotency_header(header.clone());
            }
        }
        builder.build().map_err(EvalError::from)
    }

    /// Puts the response into the frame's `body`, `headers` and `status` slots.
    fn bind_response(&self, frame: &mut Frame, endpoint: &ir_api::Endpoint, response: &Response) -> Result<(), String> {
        let body = if endpoint.response == Ty::Json && response.body.is_empty() {
            Value::Json(Arc::new(serde_json::Value::Null))
        } else {
            decode::json(&response.body, &self.desc(&endpoint.response), &self.schema, "body")
                .map_err(|error| error.to_string())?
        };
        frame.set(endpoint.body_slot, body);
        let headers: Vec<(integ_runtime::value::Str, Value)> = response
            .header_pairs()
            .into_iter()
            .map(|(name, value)| (Arc::from(name.as_str()), Value::string(value)))
            .collect();
        frame.set(endpoint.headers_slot, Value::Map(Arc::new(headers)));
        frame.set(endpoint.status_slot, Value::Int(i64::from(response.status)));
        Ok(())
    }

    fn read_single(
        &self,
        frame: &mut Frame,
        endpoint: &ir_api::Endpoint,
        response: &Response,
        ty: &Ty,
        select: Option<&Expr>,
    ) -> Result<Value, String> {
        match select {
            // Straight from the bytes to the declared type.
            None => {
                decode::json(&response.body, &self.desc(ty), &self.schema, "body").map_err(|error| error.to_string())
            }
            Some(select) => {
                self.bind_response(frame, endpoint, response)?;
                self.eval(frame, select).map_err(|error| error.to_string())
            }
        }
    }
}

/// A stream endpoint's records, fetched page by page as they are read.
pub struct Stream {
    pager: Pager,
    method: Method,
    frame: Frame,
    api: u32,
    endpoint: u32,
    item: Ty,
    records: Option<Expr>,
    pagination: Option<Pagination>,
    done: bool,
}

impl Stream {
    /// The records of the next page; `None` when the stream has ended. A
    /// record that does not decode fails the page (see [`Stream::next_items`]
    /// for one that keeps the others).
    pub async fn next_page(&mut self, interpreter: &Interpreter) -> Option<Result<Vec<Value>, CallFailure>> {
        let context = self.context(interpreter);
        let items = match self.next_items(interpreter, &CallStats::default()).await? {
            Ok(items) => items,
            Err(failure) => return Some(Err(failure)),
        };
        let mut records = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok(record) => records.push(record),
                Err(bad) => {
                    self.done = true;
                    let (api, endpoint) = context.split_once('.').unwrap_or((context.as_str(), ""));
                    return Some(Err(CallFailure::Call(CallError::new(
                        api,
                        endpoint,
                        CallErrorKind::Decode { message: bad.error },
                        self.method.clone(),
                        &bad.url,
                    ))));
                }
            }
        }
        Some(Ok(records))
    }

    fn context(&self, interpreter: &Interpreter) -> String {
        interpreter
            .program
            .apis
            .get(self.api as usize)
            .and_then(|api| {
                api.endpoints.get(self.endpoint as usize).map(|endpoint| format!("{}.{}", api.name, endpoint.name))
            })
            .unwrap_or_default()
    }

    /// The records of the next page, each decoded on its own: a record that
    /// does not decode is an `Err` for it alone (§ 12.7), the others are
    /// delivered. `None` when the stream has ended. Page requests' retries
    /// are counted in `stats`.
    pub async fn next_items(
        &mut self,
        interpreter: &Interpreter,
        stats: &CallStats,
    ) -> Option<Result<Vec<Item>, CallFailure>> {
        if self.done {
            return None;
        }
        let Some(endpoint) =
            interpreter.program.apis.get(self.api as usize).and_then(|api| api.endpoints.get(self.endpoint as usize))
        else {
            self.done = true;
            return None;
        };
        let api_name = interpreter.program.apis.get(self.api as usize).map(|api| api.name.clone()).unwrap_or_default();
        let method = self.method.clone();
        let mut records: Vec<Item> = Vec::new();
        let frame = &mut self.frame;
        let item = &self.item;
        let records_expr = self.records.as_ref();
        let pagination = self.pagination.as_ref();
        let extract = |response: &Response| -> Result<PageOutcome, CallError> {
            match interpreter.read_items(frame, endpoint, response, item, records_expr, pagination) {
                Ok((page, outcome)) => {
                    records = page;
                    Ok(outcome)
                }
                Err(message) => {
                    let mut error = CallError::new(
                        api_name.clone(),
                        endpoint.name.clone(),
                        CallErrorKind::Decode { message },
                        method.clone(),
                        response.url.as_str(),
                    );
                    error.attempts = response.attempts;
                    Err(error)
                }
            }
        };
        match self.pager.next(extract).await {
            None => {
                self.done = true;
                None
            }
            Some(Ok(response)) => {
                stats.count_attempts(response.attempts);
                Some(Ok(records))
            }
            Some(Err(error)) => {
                stats.count_attempts(error.attempts);
                self.done = true;
                Some(Err(CallFailure::Call(error)))
            }
        }
    }
}

impl Interpreter {
    /// [`Interpreter::read_page`], record by record: when the page does not
    /// decode because some of its records do not, and the records are
    /// reached by a path of members from the body (`records body.orders`,
    /// or the body itself), the page is read again without them and they are
    /// given back as [`BadRecord`]s in their places.
    fn read_items(
        &self,
        frame: &mut Frame,
        endpoint: &ir_api::Endpoint,
        response: &Response,
        item: &Ty,
        records: Option<&Expr>,
        pagination: Option<&Pagination>,
    ) -> Result<(Vec<Item>, PageOutcome), String> {
        let message = match self.read_page(frame, endpoint, response, item, records, pagination) {
            Ok((page, outcome)) => return Ok((page.into_iter().map(Ok).collect(), outcome)),
            Err(message) => message,
        };
        let Some(path) = self.records_path(endpoint, records) else { return Err(message) };
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let Ok(elements) = decode::json_records(&response.body, &path, &self.desc(item), &self.schema, "body") else {
            return Err(message);
        };
        if elements.iter().all(Result::is_ok) {
            return Err(message);
        }
        // The page without its bad records, for the pagination expressions.
        let Ok(mut document) = serde_json::from_slice::<serde_json::Value>(&response.body) else { return Err(message) };
        let mut array = &mut document;
        for member in &path {
            match array.get_mut(*member) {
                Some(inner) => array = inner,
                None => return Err(message),
            }
        }
        let serde_json::Value::Array(raw) = array else { return Err(message) };
        let originals = std::mem::take(raw);
        let mut bad = Vec::new();
        for (element, decoded) in originals.into_iter().zip(&elements) {
            match decoded {
                Ok(_) => raw.push(element),
                Err(error) => bad.push(BadRecord {
                    raw: element.to_string(),
                    error: error.to_string(),
                    url: response.url.to_string(),
                }),
            }
        }
        let Ok(cleaned) = serde_json::to_vec(&document) else { return Err(message) };
        let mut trimmed = response.clone();
        trimmed.body = cleaned.into();
        let (_, mut outcome) = self.read_page(frame, endpoint, &trimmed, item, records, pagination)?;
        outcome = outcome.with_fingerprint(fingerprint(&response.body));
        let mut bad = bad.into_iter();
        let items = elements
            .into_iter()
            .map(|decoded| match decoded {
                Ok(value) => Ok(value),
                Err(error) => Err(bad.next().unwrap_or(BadRecord {
                    raw: String::new(),
                    error: error.to_string(),
                    url: response.url.to_string(),
                })),
            })
            .collect();
        Ok((items, outcome))
    }

    /// The wire names from the body to the records (empty: the body is the
    /// list), when `records` is such a path.
    fn records_path(&self, endpoint: &ir_api::Endpoint, records: Option<&Expr>) -> Option<Vec<String>> {
        let mut path = Vec::new();
        // Without `records`, the body is the list.
        let Some(mut expr) = records else { return Some(path) };
        loop {
            match expr {
                Expr::Local(slot) if *slot == endpoint.body_slot => break,
                Expr::Field { base, record, index } => {
                    let field = self.schema.records.get(*record as usize)?.fields.get(*index as usize)?;
                    path.push(field.wire.to_string());
                    expr = base;
                }
                Expr::JsonField { base, name } => {
                    path.push(name.clone());
                    expr = base;
                }
                Expr::FromJson { value, .. } => expr = value,
                _ => return None,
            }
        }
        path.reverse();
        Some(path)
    }
}

impl Interpreter {
    /// Decodes one page: its records, and what the pagination needs.
    fn read_page(
        &self,
        frame: &mut Frame,
        endpoint: &ir_api::Endpoint,
        response: &Response,
        item: &Ty,
        records: Option<&Expr>,
        pagination: Option<&Pagination>,
    ) -> Result<(Vec<Value>, PageOutcome), String> {
        let page = match (records, pagination) {
            // No expression reads the response: decode the list directly.
            (None, None | Some(Pagination::LinkHeader { .. })) => {
                let list =
                    decode::json(&response.body, &TypeDesc::List(Box::new(self.desc(item))), &self.schema, "body")
                        .map_err(|error| error.to_string())?;
                let page = into_list(list);
                let outcome = PageOutcome::records(page.len()).with_fingerprint(fingerprint(&response.body));
                return Ok((page, outcome));
            }
            _ => {
                self.bind_response(frame, endpoint, response)?;
                match records {
                    Some(records) => into_list(self.eval(frame, records).map_err(|error| error.to_string())?),
                    None => match frame.get(endpoint.body_slot) {
                        Value::Json(json) => into_list(
                            decode::from_json(&json, &TypeDesc::List(Box::new(self.desc(item))), &self.schema, "body")
                                .map_err(|error| error.to_string())?,
                        ),
                        other => into_list(other),
                    },
                }
            }
        };
        let mut outcome = PageOutcome::records(page.len()).with_fingerprint(fingerprint(&response.body));
        let text = |value: Value| -> Option<String> {
            match value {
                Value::None => None,
                Value::Json(json) => match &*json {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(text) => Some(text.clone()),
                    other => Some(other.to_string()),
                },
                other => Some(encode::text(&other, &self.schema)),
            }
        };
        let truth = |value: Value| -> bool {
            match value {
                Value::Bool(value) => value,
                Value::Json(json) => json.as_bool().unwrap_or(false),
                _ => false,
            }
        };
        match pagination {
            Some(Pagination::Cursor { next, has_more, .. }) => {
                outcome.next = text(self.eval(frame, next).map_err(|error| error.to_string())?);
                if let Some(has_more) = has_more {
                    outcome.has_more = Some(truth(self.eval(frame, has_more).map_err(|error| error.to_string())?));
                }
            }
            Some(Pagination::NextUrl { url }) => {
                outcome.next = text(self.eval(frame, url).map_err(|error| error.to_string())?);
            }
            Some(Pagination::Page { stop: Some(stop), .. } | Pagination::Offset { stop: Some(stop), .. }) => {
                outcome.stop = truth(self.eval(frame, stop).map_err(|error| error.to_string())?);
            }
            _ => {}
        }
        Ok((page, outcome))
    }
}

fn into_list(value: Value) -> Vec<Value> {
    match value {
        Value::List(items) => Arc::try_unwrap(items).unwrap_or_else(|shared| (*shared).clone()),
        Value::None => Vec::new(),
        other => vec![other],
    }
}

/// A cheap hash of a page's bytes, to notice a page that repeats the previous one.
fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

fn eval_failure(context: &str, error: EvalError) -> CallFailure {
    CallFailure::Eval { context: context.to_owned(), error }
}

fn decode_error(context: &str, response: &Response, message: String, endpoint: &ir_api::Endpoint) -> CallFailure {
    let api = context.split('.').next().unwrap_or(context);
    let mut error = CallError::new(
        api,
        endpoint.name.clone(),
        CallErrorKind::Decode { message },
        method_of(endpoint),
        response.url.as_str(),
    );
    error.attempts = response.attempts;
    CallFailure::Call(error)
}

/// The endpoint's method (GET if it were not a valid one: the checker saw to that).
fn method_of(endpoint: &ir_api::Endpoint) -> Method {
    Method::from_bytes(endpoint.method.as_bytes()).unwrap_or(Method::GET)
}

fn status_pattern(pattern: CheckedStatus) -> StatusPattern {
    match pattern {
        CheckedStatus::Code(code) => StatusPattern::Exact(code),
        CheckedStatus::Class(class) => StatusPattern::Class(u8::try_from(class).unwrap_or(u8::MAX)),
        CheckedStatus::Any => StatusPattern::Any,
    }
}

fn error_arms(arms: &[ir_api::ErrorArm]) -> Vec<ErrorArm> {
    arms.iter()
        .map(|arm| {
            let patterns: Vec<StatusPattern> = arm.patterns.iter().copied().map(status_pattern).collect();
            match &arm.name {
                Some(name) => ErrorArm::new(patterns, name.clone()),
                None => ErrorArm::none(patterns),
            }
        })
        .collect()
}

fn rate_of(rate: checked_policy::Rate) -> Rate {
    Rate::new(u32::try_from(rate.count).unwrap_or(u32::MAX), Duration::from_millis(rate.per_ms))
        .with_burst(u32::try_from(rate.burst).unwrap_or(u32::MAX))
}

/// The runtime's policy from the checked one.
pub fn policy_of(info: &PolicyInfo) -> Policy {
    Policy {
        timeout: Duration::from_millis(info.timeout_ms),
        deadline: info.deadline_ms.map(Duration::from_millis),
        attempts: u32::try_from(info.attempts).unwrap_or(u32::MAX).max(1),
        backoff: match info.backoff {
            checked_policy::Backoff::Exponential { base_ms, max_ms, factor } => Backoff::Exponential {
                base: Duration::from_millis(base_ms),
                max: Duration::from_millis(max_ms),
                factor,
            },
            checked_policy::Backoff::Constant { delay_ms } => Backoff::Constant(Duration::from_millis(delay_ms)),
        },
        jitter: match info.jitter {
            checked_policy::Jitter::Full => Jitter::Full,
            checked_policy::Jitter::Equal => Jitter::Equal,
            checked_policy::Jitter::None => Jitter::None,
        },
        retry_on: info
            .retry_on
            .iter()
            .map(|retry| match retry {
                checked_policy::RetryOn::Status(pattern) => RetryOn::Status(status_pattern(*pattern)),
                checked_policy::RetryOn::Timeout => RetryOn::Timeout,
                checked_policy::RetryOn::Connection => RetryOn::Connection,
            })
            .collect(),
        honor_retry_after: info.honor_retry_after,
        circuit_breaker: info.circuit_breaker.map(|breaker| BreakerConfig {
            failures: u32::try_from(breaker.failures).unwrap_or(u32::MAX),
            probe_after: Duration::from_millis(breaker.probe_after_ms),
            successes: u32::try_from(breaker.successes).unwrap_or(u32::MAX).max(1),
        }),
        rate_limit: info.rate_limit.map(rate_of),
        concurrency: info.concurrency.map(|limit| u32::try_from(limit).unwrap_or(u32::MAX)),
    }
}
