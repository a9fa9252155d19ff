//! End-to-end tests of endpoint calls written in integ.
//!
//! Each test writes a small `.integ` program, checks it, lowers it and runs
//! its endpoints with the interpreter against an in-process axum server on
//! 127.0.0.1 that records every request (method, raw path, raw query,
//! headers, body, arrival time) and answers scripted responses. What is
//! asserted is what a user wrote: auth clauses, headers, path templates,
//! query, bodies, pagination, policies, error arms and response selection
//! must turn into exactly the requests and results spec.md describes.
//! A few tests drive the built `integ call` binary to check its output, exit
//! codes and that no secret value ever reaches stdout, stderr or a message.
//!
//! Base URLs reach the programs through `env("..._URL", ...)`, set with
//! `Options { environment, .. }` (a map per test; the process environment
//! is never changed) or, for the CLI, in the child's environment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hmac::{KeyInit as _, Mac as _};
use integ_compiler::diagnostic::render;
use integ_compiler::interp::calls::{Apis, CallFailure, Outcome};
use integ_compiler::interp::{Interpreter, Options};
use integ_compiler::ir;
use integ_runtime::{Value, decode, encode};
use serde_json::{Value as Json, json};
use sha2::{Digest as _, Sha256, Sha512};

// ====================================================================== the server

/// A request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    /// The path as it arrived (still percent-encoded).
    path: String,
    /// The raw query string, without `?`.
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
    at: Instant,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Every value of a header, in order.
    fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.get_all(name).iter().filter_map(|value| value.to_str().ok()).collect()
    }

    fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// The decoded query pairs.
    fn params(&self) -> Vec<(String, String)> {
        form_pairs(&self.query)
    }

    fn param(&self, name: &str) -> Option<String> {
        self.params().into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
    }
}

/// What the server answers.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    fn status(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: Vec::new(), delay: Duration::ZERO }
    }

    fn json(body: Json) -> Reply {
        Reply::status(200).header("content-type", "application/json").body(body.to_string())
    }

    fn raw(status: u16, body: &str) -> Reply {
        Reply::status(status).header("content-type", "application/json").body(body)
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    seen: Mutex<Vec<Seen>>,
}

/// A running server; the test's runtime ends it.
#[derive(Clone)]
struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    /// `http://127.0.0.1:port`.
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.shared.seen.lock().unwrap().len()
    }

    fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|seen| seen.path == path).collect()
    }

    /// `path?query` of every request, in order.
    fn targets(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|seen| if seen.query.is_empty() { seen.path.clone() } else { format!("{}?{}", seen.path, seen.query) })
            .collect()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body: body.to_vec(),
        at: Instant::now(),
    };
    let index = {
        let mut all = shared.seen.lock().unwrap();
        all.push(seen.clone());
        all.len() - 1
    };
    let reply = (shared.handler)(&seen, index);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    response.body(Body::from(reply.body)).unwrap()
}

/// Serves every request with `handler(request, index)` (index counts from 0).
async fn serve(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Arc::new(Shared { handler: Box::new(handler), seen: Mutex::new(Vec::new()) });
    let app = axum::Router::new().fallback(handle).with_state(shared.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { addr, shared }
}

/// A server that answers every request with `reply`.
async fn always(reply: Reply) -> Server {
    serve(move |_, _| reply.clone()).await
}

/// A server that answers the replies in turn, then repeats the last one.
async fn script(replies: Vec<Reply>) -> Server {
    serve(move |_, index| replies[index.min(replies.len() - 1)].clone()).await
}

// ====================================================================== programs

/// A checked, lowered and connected program.
struct Program {
    interpreter: Interpreter,
    apis: Apis,
}

/// Checks `source` (errors fail the test, with the rendered diagnostics),
/// lowers it, starts an interpreter that reads `env` instead of the process
/// environment, and connects its apis.
fn load(source: &str, env: &[(&str, &str)]) -> Program {
    let interpreter = interpreter(source, env);
    let apis = match interpreter.connect() {
        Ok(apis) => apis,
        Err(error) => panic!("connect: {error}"),
    };
    Program { interpreter, apis }
}

fn interpreter(source: &str, env: &[(&str, &str)]) -> Interpreter {
    let analysis = integ_compiler::check_source("calls.integ", source);
    let errors: Vec<_> = analysis.diagnostics().iter().filter(|diagnostic| diagnostic.is_error()).cloned().collect();
    assert!(errors.is_empty(), "the program has errors:\n{}", render::render(analysis.sources(), &errors, false));
    let lowered = ir::lower::lower(&analysis.program, &analysis.checked);
    let map: HashMap<String, String> = env.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
    let options = Options { environment: Box::new(move |name| map.get(name).cloned()), ..Options::default() };
    Interpreter::new(lowered, options).unwrap_or_else(|error| panic!("start: {error}"))
}

/// The codes of the diagnostics of `source`.
fn codes(source: &str) -> Vec<String> {
    let analysis = integ_compiler::check_source("calls.integ", source);
    analysis.diagnostics().iter().map(|diagnostic| diagnostic.code.as_str().to_owned()).collect()
}

/// A finished stream: its pages (records as JSON) and the error that ended it.
#[derive(Debug)]
struct Drained {
    pages: Vec<Vec<Json>>,
    error: Option<CallFailure>,
}

impl Drained {
    fn records(&self) -> Vec<Json> {
        self.pages.iter().flatten().cloned().collect()
    }

    fn error_text(&self) -> String {
        self.error.as_ref().map(ToString::to_string).unwrap_or_default()
    }
}

impl Program {
    fn find(&self, name: &str) -> (u32, u32, &ir::api::Endpoint) {
        let (api_name, endpoint_name) = name.split_once('.').expect("`Api.endpoint`");
        let api = self.interpreter.program.apis.iter().position(|api| api.name == api_name).expect("the api");
        let endpoints = &self.interpreter.program.apis[api].endpoints;
        let endpoint = endpoints.iter().position(|endpoint| endpoint.name == endpoint_name).expect("the endpoint");
        (api as u32, endpoint as u32, &endpoints[endpoint])
    }

    /// Arguments by name, as JSON decoded by each parameter's type (left-out
    /// trailing parameters take their defaults, others are `none`).
    fn arguments(&self, endpoint: &ir::api::Endpoint, args: &[(&str, Json)]) -> Vec<Value> {
        let mut values = Vec::new();
        for (name, json) in args {
            let position = endpoint.params.iter().position(|(param, _)| param == name).expect("a parameter");
            if values.len() <= position {
                values.resize(position + 1, Value::None);
            }
            let desc = self.interpreter.desc(&endpoint.params[position].1);
            values[position] = decode::json(json.to_string().as_bytes(), &desc, &self.interpreter.schema, name)
                .unwrap_or_else(|error| panic!("argument {error}"));
        }
        values
    }

    fn to_json(&self, value: &Value, ty: &integ_compiler::check::types::Ty) -> Json {
        encode::to_json_value(value, &self.interpreter.desc(ty), &self.interpreter.schema).expect("encodable")
    }

    async fn call(&self, name: &str, args: &[(&str, Json)]) -> Result<Outcome, CallFailure> {
        let (api, endpoint, ir) = self.find(name);
        let values = self.arguments(ir, args);
        self.interpreter.call_endpoint(&self.apis, api, endpoint, values).await
    }

    /// Calls a single-result endpoint: its result as JSON (`null` for none).
    async fn value(&self, name: &str, args: &[(&str, Json)]) -> Result<Json, CallFailure> {
        let (_, _, ir) = self.find(name);
        let ir::api::Result::Single { ty, .. } = &ir.result else { panic!("{name} has no single result") };
        match self.call(name, args).await? {
            Outcome::Value(value) => Ok(self.to_json(&value, ty)),
            Outcome::Done => panic!("{name}: no value"),
            Outcome::Stream(_) => panic!("{name}: a stream"),
        }
    }

    /// Calls an endpoint without result.
    async fn done(&self, name: &str, args: &[(&str, Json)]) -> Result<(), CallFailure> {
        match self.call(name, args).await? {
            Outcome::Done => Ok(()),
            _ => panic!("{name}: a result"),
        }
    }

    /// Calls a stream endpoint and reads it to its end (at most 50 pages).
    async fn drain(&self, name: &str, args: &[(&str, Json)]) -> Drained {
        let (_, _, ir) = self.find(name);
        let ir::api::Result::Stream { item, .. } = &ir.result else { panic!("{name} is not a stream") };
        let mut drained = Drained { pages: Vec::new(), error: None };
        let mut stream = match self.call(name, args).await {
            Ok(Outcome::Stream(stream)) => stream,
            Ok(_) => panic!("{name}: not a stream"),
            Err(error) => {
                drained.error = Some(error);
                return drained;
            }
        };
        for _ in 0..50 {
            match stream.next_page(&self.interpreter).await {
                None => return drained,
                Some(Ok(records)) => drained.pages.push(records.iter().map(|record| self.to_json(record, item)).collect()),
                Some(Err(error)) => {
                    drained.error = Some(error);
                    assert!(stream.next_page(&self.interpreter).await.is_none(), "a stream ends after its error");
                    return drained;
                }
            }
        }
        panic!("{name}: more than 50 pages");
    }
}

/// The integ error name of a failed call (`Request`/`Eval` for run-time errors of evaluation).
fn error_name(failure: &CallFailure) -> String {
    match failure {
        CallFailure::Call(error) => error.error_name().to_owned(),
        CallFailure::Eval { .. } => "Eval".to_owned(),
    }
}

fn attempts(failure: &CallFailure) -> u32 {
    match failure {
        CallFailure::Call(error) => error.attempts,
        CallFailure::Eval { .. } => 0,
    }
}

// ====================================================================== encodings

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * position) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let digits = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
                out.push(u8::from_str_radix(digits, 16).expect("a %XX escape"));
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

/// `application/x-www-form-urlencoded` pairs (also a query string).
fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
}

fn hmac_sha256(key: &str, message: &str) -> Vec<u8> {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hmac_sha512(key: &str, message: &str) -> Vec<u8> {
    let mut mac = hmac::Hmac::<Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

// ====================================================================== auth

#[tokio::test]
async fn bearer_sends_the_secret_as_a_bearer_token() {
    let server = always(Reply::json(json!({"ok": true}))).await;
    let program = load(
        r#"
secret token = env("E2E_BEARER_TOKEN")
api Shop {
  base_url: env("SHOP_URL")
  auth: bearer(token)
  endpoint ping() -> Json {
    GET "/ping"
  }
}
"#,
        &[("SHOP_URL", &server.url()), ("E2E_BEARER_TOKEN", "tok-bearer-51c2")],
    );
    assert_eq!(program.value("Shop.ping", &[]).await.unwrap(), json!({"ok": true}));
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), Some("Bearer tok-bearer-51c2"));
}
