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
    let map: HashMap<String, String> =
        env.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
    // Results are read whole, as `integ call` reads them.
    let options = Options {
        environment: Box::new(move |name| map.get(name).cloned()),
        read_everything: true,
        ..Options::default()
    };
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
            let text = match json.as_str().and_then(|text| text.strip_prefix(RAW)) {
                Some(raw) => raw.to_owned(),
                None => json.to_string(),
            };
            values[position] = decode::json(text.as_bytes(), &desc, &self.interpreter.schema, name)
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
                Some(Ok(records)) => {
                    drained.pages.push(records.iter().map(|record| self.to_json(record, item)).collect())
                }
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

/// Marks a string argument as raw JSON text (`raw("12.50")` keeps the scale).
const RAW: &str = "\u{0}raw:";

fn raw(text: &str) -> Json {
    Json::String(format!("{RAW}{text}"))
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

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let digits: Vec<u32> = text
        .bytes()
        .filter(|byte| *byte != b'=')
        .map(|byte| ALPHABET.iter().position(|c| *c == byte).expect("base64") as u32)
        .collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0, |n, (position, digit)| n | digit << (18 - 6 * position));
        out.extend(n.to_be_bytes()[1..chunk.len()].iter());
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

/// WHATWG `application/x-www-form-urlencoded` encoding of one key or value.
fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(byte as char),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
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

#[tokio::test]
async fn named_bearer_auth_declaration() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
secret shop_token = env("SHOP_TOKEN")
auth shop_auth = bearer(token: shop_token)
api Shop {
  base_url: env("SHOP_URL")
  auth: shop_auth
  endpoint ping() {
    GET "/ping"
  }
}
"#,
        &[("SHOP_URL", &server.url()), ("SHOP_TOKEN", "tok-named-bearer-77e1")],
    );
    program.done("Shop.ping", &[]).await.unwrap();
    assert_eq!(server.seen()[0].header("authorization"), Some("Bearer tok-named-bearer-77e1"));
}

#[tokio::test]
async fn api_key_in_a_header() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
secret key = env("E2E_HEADER_KEY")
api Chat {
  base_url: env("CHAT_URL")
  auth: api_key(header: "X-Auth-Token", value: key)
  endpoint ping() {
    GET "/ping"
  }
}
"#,
        &[("CHAT_URL", &server.url()), ("E2E_HEADER_KEY", "hdr-key-0d9b44")],
    );
    program.done("Chat.ping", &[]).await.unwrap();
    let seen = &server.seen()[0];
    assert_eq!(seen.header("x-auth-token"), Some("hdr-key-0d9b44"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.query, "");
}

#[tokio::test]
async fn api_key_in_the_query_comes_last_and_is_redacted_in_errors() {
    let server = serve(|seen, _| {
        if seen.path == "/missing" { Reply::raw(404, r#"{"error":"no such thing"}"#) } else { Reply::json(json!({})) }
    })
    .await;
    let program = load(
        r#"
secret rates_key = env("E2E_QUERY_KEY")
policy once { retry: none }
api Rates {
  base_url: env("RATES_URL")
  auth: api_key(query: "access_key", value: rates_key)
  policy: once
  endpoint latest(base: String, symbols: [String]) -> Json {
    GET "/latest"
    query { base: base, symbols: symbols }
  }
  endpoint missing() {
    GET "/missing"
  }
}
"#,
        &[("RATES_URL", &server.url()), ("E2E_QUERY_KEY", "qk/7f3 a+b")],
    );
    program.value("Rates.latest", &[("base", json!("EUR")), ("symbols", json!(["USD", "GBP"]))]).await.unwrap();
    assert_eq!(server.seen()[0].query, "base=EUR&symbols=USD&symbols=GBP&access_key=qk%2F7f3%20a%2Bb");
    assert_eq!(server.seen()[0].header("authorization"), None);

    let error = program.done("Rates.missing", &[]).await.unwrap_err();
    let text = error.to_string();
    assert_eq!(error_name(&error), "Http");
    assert!(text.contains("404 Not Found"), "{text}");
    assert!(!text.contains("qk%2F7f3") && !text.contains("qk/7f3"), "{text}");
    // The request recorded for dead letters shows the key as `<redacted>`.
    let CallFailure::Call(error) = error else { panic!("an HTTP error") };
    let recorded = error.request.as_ref().expect("a recorded request");
    assert!(recorded.url.ends_with("/missing?access_key=<redacted>"), "{}", recorded.url);
}

#[tokio::test]
async fn basic_auth_with_a_user_name_and_a_secret_password() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
secret password = env("E2E_BASIC_PASSWORD")
secret stripe_key = env("E2E_STRIPE_KEY")
api Erp {
  base_url: env("ERP_URL")
  auth: basic(username: "ann@example.com", password: password)
  endpoint ping() {
    GET "/ping"
  }
}
api Stripe {
  base_url: env("ERP_URL")
  auth: basic(username: stripe_key, password: "")
  endpoint ping() {
    GET "/stripe"
  }
}
"#,
        &[("ERP_URL", &server.url()), ("E2E_BASIC_PASSWORD", "pw:é-2c81"), ("E2E_STRIPE_KEY", "sk_test_e2e_4410")],
    );
    program.done("Erp.ping", &[]).await.unwrap();
    program.done("Stripe.ping", &[]).await.unwrap();
    let seen = server.seen();
    let expected = format!("Basic {}", base64("ann@example.com:pw:é-2c81".as_bytes()));
    assert_eq!(seen[0].header("authorization"), Some(expected.as_str()));
    let expected = format!("Basic {}", base64(b"sk_test_e2e_4410:"));
    assert_eq!(seen[1].header("authorization"), Some(expected.as_str()));
}

const CLIENT_CREDENTIALS: &str = r#"
secret crm_client_id = env("CC_CLIENT_ID")
secret crm_client_secret = env("CC_CLIENT_SECRET")
policy once { retry: none }

auth crm_oauth = oauth2_client_credentials(
  token_url: env("CC_TOKEN_URL"),
  client_id: crm_client_id,
  client_secret: crm_client_secret,
  scopes: ["contacts.read", "contacts.write"],
  audience: "https://crm.example.com",
  refresh_before: 60s
)

api Crm {
  base_url: env("CC_CRM_URL")
  auth: crm_oauth
  policy: once
  endpoint me() -> Json {
    GET "/me"
  }
}

api CrmAdmin {
  base_url: env("CC_CRM_URL")
  auth: crm_oauth
  policy: once
  endpoint stats() -> Json {
    GET "/admin/stats"
  }
}
"#;

/// A token endpoint at `/oauth/token` that hands out `cc-access-e2e-1`, `-2`...; the
/// api answers 401 to the tokens in `rejected`, else echoes the token.
async fn oauth_server(rejected: &'static [&'static str]) -> Server {
    let issued = Arc::new(Mutex::new(0));
    serve(move |seen, _| {
        if seen.path == "/oauth/token" {
            let mut issued = issued.lock().unwrap();
            *issued += 1;
            return Reply::json(
                json!({"access_token": format!("cc-access-e2e-{}", *issued), "token_type": "bearer", "expires_in": 3600}),
            );
        }
        let token = seen.header("authorization").unwrap_or("").trim_start_matches("Bearer ").to_owned();
        if rejected.contains(&token.as_str()) {
            Reply::raw(401, r#"{"error":"expired"}"#)
        } else {
            Reply::json(json!({"token": token}))
        }
    })
    .await
}

#[tokio::test]
async fn oauth2_client_credentials_token_request_and_reuse() {
    let server = oauth_server(&[]).await;
    let token_url = format!("{}/oauth/token", server.url());
    let program = load(
        CLIENT_CREDENTIALS,
        &[
            ("CC_TOKEN_URL", &token_url),
            ("CC_CRM_URL", &server.url()),
            ("CC_CLIENT_ID", "client id/e2e"),
            ("CC_CLIENT_SECRET", "s3cr:t&e2e-9a"),
        ],
    );
    assert_eq!(program.value("Crm.me", &[]).await.unwrap(), json!({"token": "cc-access-e2e-1"}));
    assert_eq!(program.value("Crm.me", &[]).await.unwrap(), json!({"token": "cc-access-e2e-1"}));

    let tokens = server.seen_at("/oauth/token");
    assert_eq!(tokens.len(), 1, "the token is reused: {:?}", server.targets());
    let token = &tokens[0];
    assert_eq!(token.method, "POST");
    assert_eq!(token.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(token.header("accept"), Some("application/json"));
    let basic = format!(
        "Basic {}",
        base64(format!("{}:{}", form_encode("client id/e2e"), form_encode("s3cr:t&e2e-9a")).as_bytes())
    );
    assert_eq!(token.header("authorization"), Some(basic.as_str()));
    assert_eq!(
        form_pairs(token.body_text()),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("scope", "contacts.read contacts.write"),
            ("audience", "https://crm.example.com"),
        ])
    );
    // The api requests carry the token and only the token.
    for seen in server.seen_at("/me") {
        assert_eq!(seen.header("authorization"), Some("Bearer cc-access-e2e-1"));
    }
}

#[tokio::test]
async fn oauth2_client_credentials_then_a_401_refreshes_once_without_an_attempt() {
    let server = oauth_server(&["cc-access-e2e-1"]).await;
    let token_url = format!("{}/oauth/token", server.url());
    let program = load(
        CLIENT_CREDENTIALS,
        &[
            ("CC_TOKEN_URL", &token_url),
            ("CC_CRM_URL", &server.url()),
            ("CC_CLIENT_ID", "cid-401"),
            ("CC_CLIENT_SECRET", "csecret-401-e2e"),
        ],
    );
    // `retry: none`: the repeat after the refresh is not a retry attempt.
    assert_eq!(program.value("Crm.me", &[]).await.unwrap(), json!({"token": "cc-access-e2e-2"}));
    assert_eq!(server.targets(), ["/oauth/token", "/me", "/oauth/token", "/me"]);
    let seen = server.seen_at("/me");
    assert_eq!(seen[0].header("authorization"), Some("Bearer cc-access-e2e-1"));
    assert_eq!(seen[1].header("authorization"), Some("Bearer cc-access-e2e-2"));
}

#[tokio::test]
async fn oauth2_a_second_401_is_an_ordinary_status() {
    let server = oauth_server(&["cc-access-e2e-1", "cc-access-e2e-2"]).await;
    let token_url = format!("{}/oauth/token", server.url());
    let program = load(
        CLIENT_CREDENTIALS,
        &[
            ("CC_TOKEN_URL", &token_url),
            ("CC_CRM_URL", &server.url()),
            ("CC_CLIENT_ID", "cid-401-twice"),
            ("CC_CLIENT_SECRET", "csecret-401-twice-e2e"),
        ],
    );
    let error = program.value("Crm.me", &[]).await.unwrap_err();
    assert_eq!(error_name(&error), "Http");
    assert_eq!(server.targets(), ["/oauth/token", "/me", "/oauth/token", "/me"]);
}

#[tokio::test]
async fn oauth2_an_auth_declaration_shared_by_two_apis_has_one_token_cache() {
    let server = oauth_server(&[]).await;
    let token_url = format!("{}/oauth/token", server.url());
    let program = load(
        CLIENT_CREDENTIALS,
        &[
            ("CC_TOKEN_URL", &token_url),
            ("CC_CRM_URL", &server.url()),
            ("CC_CLIENT_ID", "cid-shared"),
            ("CC_CLIENT_SECRET", "csecret-shared-e2e"),
        ],
    );
    assert_eq!(program.value("Crm.me", &[]).await.unwrap(), json!({"token": "cc-access-e2e-1"}));
    let admin = program.value("CrmAdmin.stats", &[]).await.unwrap();
    // § 8.1, § 8.5: apis naming one `auth` declaration share its token cache.
    assert_eq!(admin["token"], "cc-access-e2e-1", "{admin}");
    assert_eq!(server.seen_at("/oauth/token").len(), 1);
}

#[tokio::test]
async fn oauth2_client_credentials_in_the_body_and_a_failing_token_endpoint() {
    let server = serve(|seen, _| {
        if seen.path == "/token" {
            if seen.body_text().contains("client_secret=good-secret-e2e") {
                Reply::json(json!({"access_token": "body-access-e2e", "token_type": "Bearer"}))
            } else {
                Reply::raw(400, r#"{"error":"invalid_client"}"#)
            }
        } else {
            Reply::json(json!({"auth": seen.header("authorization")}))
        }
    })
    .await;
    let source = r#"
secret id = env("BODY_CLIENT_ID")
secret client_secret = env("BODY_CLIENT_SECRET")
policy once { retry: none }
api Crm {
  base_url: env("BODY_CRM_URL")
  auth: oauth2_client_credentials(token_url: env("BODY_TOKEN_URL"), client_id: id, client_secret: client_secret, auth_style: body)
  policy: once
  endpoint me() -> Json {
    GET "/me"
  }
}
"#;
    let token_url = format!("{}/token", server.url());
    let program = load(
        source,
        &[
            ("BODY_TOKEN_URL", &token_url),
            ("BODY_CRM_URL", &server.url()),
            ("BODY_CLIENT_ID", "body-client"),
            ("BODY_CLIENT_SECRET", "good-secret-e2e"),
        ],
    );
    assert_eq!(program.value("Crm.me", &[]).await.unwrap(), json!({"auth": "Bearer body-access-e2e"}));
    let token = &server.seen_at("/token")[0];
    assert_eq!(token.header("authorization"), None);
    assert_eq!(
        form_pairs(token.body_text()),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("client_id", "body-client"),
            ("client_secret", "good-secret-e2e")
        ])
    );

    // A token endpoint that refuses: the call fails with `Auth`, the api is never asked.
    let before = server.seen_at("/me").len();
    let program = load(
        source,
        &[
            ("BODY_TOKEN_URL", &token_url),
            ("BODY_CRM_URL", &server.url()),
            ("BODY_CLIENT_ID", "body-client"),
            ("BODY_CLIENT_SECRET", "bad-secret-e2e-5"),
        ],
    );
    let error = program.value("Crm.me", &[]).await.unwrap_err();
    assert_eq!(error_name(&error), "Auth");
    assert_eq!(server.seen_at("/me").len(), before);
    assert!(!error.to_string().contains("bad-secret-e2e-5"), "{error}");
}

#[tokio::test]
async fn oauth2_refresh_token_with_a_client_secret_and_rotation() {
    let issued = Arc::new(Mutex::new(0));
    let server = serve(move |seen, _| {
        if seen.path == "/login/oauth/access_token" {
            let mut issued = issued.lock().unwrap();
            *issued += 1;
            return Reply::json(json!({
                "access_token": format!("gh-access-e2e-{}", *issued),
                "token_type": "Bearer",
                "expires_in": 28800,
                "refresh_token": format!("rt-rotated-{}", *issued),
            }));
        }
        match seen.header("authorization") {
            Some("Bearer gh-access-e2e-1") => Reply::raw(401, "{}"),
            other => Reply::json(json!({"auth": other})),
        }
    })
    .await;
    let token_url = format!("{}/login/oauth/access_token", server.url());
    let program = load(
        r#"
secret gh_client_id = env("RT_CLIENT_ID")
secret gh_client_secret = env("RT_CLIENT_SECRET")
secret gh_refresh = env("RT_REFRESH")
policy once { retry: none }
auth github_user = oauth2_refresh_token(
  token_url: env("RT_TOKEN_URL"),
  client_id: gh_client_id,
  client_secret: gh_client_secret,
  refresh_token: gh_refresh,
  scopes: ["repo", "read:org"]
)
api GitHub {
  base_url: env("RT_API_URL")
  auth: github_user
  policy: once
  endpoint user() -> Json {
    GET "/user"
  }
}
"#,
        &[
            ("RT_TOKEN_URL", &token_url),
            ("RT_API_URL", &server.url()),
            ("RT_CLIENT_ID", "Iv1.e2e"),
            ("RT_CLIENT_SECRET", "gh-client-secret-e2e"),
            ("RT_REFRESH", "rt-original-e2e"),
        ],
    );
    assert_eq!(program.value("GitHub.user", &[]).await.unwrap(), json!({"auth": "Bearer gh-access-e2e-2"}));
    let tokens = server.seen_at("/login/oauth/access_token");
    assert_eq!(tokens.len(), 2);
    let basic = format!("Basic {}", base64(b"Iv1.e2e:gh-client-secret-e2e"));
    assert_eq!(tokens[0].header("authorization"), Some(basic.as_str()));
    assert_eq!(
        form_pairs(tokens[0].body_text()),
        pairs(&[("grant_type", "refresh_token"), ("refresh_token", "rt-original-e2e"), ("scope", "repo read:org")])
    );
    // The provider rotated the refresh token: the next token request uses the new one.
    assert_eq!(form_pairs(tokens[1].body_text())[1], ("refresh_token".to_owned(), "rt-rotated-1".to_owned()));
}

#[tokio::test]
async fn oauth2_refresh_token_for_a_public_client() {
    let server = serve(|seen, _| {
        if seen.path == "/token" {
            Reply::json(json!({"access_token": "public-access-e2e", "token_type": "Bearer"}))
        } else {
            Reply::json(json!({"auth": seen.header("authorization")}))
        }
    })
    .await;
    let token_url = format!("{}/token", server.url());
    let program = load(
        r#"
secret refresh = env("PUB_REFRESH")
api Public {
  base_url: env("PUB_URL")
  auth: oauth2_refresh_token(token_url: env("PUB_TOKEN_URL"), client_id: "public-client", refresh_token: refresh)
  endpoint me() -> Json {
    GET "/me"
  }
}
"#,
        &[("PUB_TOKEN_URL", &token_url), ("PUB_URL", &server.url()), ("PUB_REFRESH", "rt-public-e2e")],
    );
    assert_eq!(program.value("Public.me", &[]).await.unwrap(), json!({"auth": "Bearer public-access-e2e"}));
    let token = &server.seen_at("/token")[0];
    assert_eq!(token.header("authorization"), None);
    assert_eq!(
        form_pairs(token.body_text()),
        pairs(&[("grant_type", "refresh_token"), ("refresh_token", "rt-public-e2e"), ("client_id", "public-client")])
    );
}

/// Checks an HMAC-SHA-256 hex signature over the custom canonical text.
fn verify_custom_hmac(seen: &Seen, host: &str) -> Result<(), String> {
    let timestamp = seen.header("x-ledger-timestamp").ok_or("no timestamp")?;
    let canonical = format!(
        "{} {}?{}\n{}\n{}\n{}\n{}",
        seen.method,
        seen.path,
        seen.query,
        host,
        timestamp,
        hex(&Sha256::digest(&seen.body)),
        seen.body_text()
    );
    let expected = hex(&hmac_sha256("ledger-signing-e2e", &canonical));
    match seen.header("x-ledger-signature") {
        Some(signature) if signature == expected => Ok(()),
        other => Err(format!("signature {other:?}, expected {expected} over {canonical:?}")),
    }
}

#[tokio::test]
async fn hmac_with_a_custom_canonical_template_signs_every_attempt() {
    let host = Arc::new(Mutex::new(String::new()));
    let verdicts = Arc::new(Mutex::new(Vec::new()));
    let (host_in, verdicts_in) = (host.clone(), verdicts.clone());
    let server = serve(move |seen, index| {
        verdicts_in.lock().unwrap().push(verify_custom_hmac(seen, &host_in.lock().unwrap()));
        if index == 0 { Reply::status(503) } else { Reply::json(json!({"id": "e-1"})) }
    })
    .await;
    *host.lock().unwrap() = server.addr.to_string();
    let program = load(
        r#"
secret ledger_signing = env("LEDGER_SIGNING")
secret ledger_key_id = env("LEDGER_KEY_ID")
type Entry { id: String, amount_cents: Int }
policy quick { retry: 3 attempts, constant(10ms), no jitter }
api Ledger {
  base_url: env("LEDGER_URL")
  auth: hmac(
    secret: ledger_signing,
    header: "X-Ledger-Signature",
    algorithm: sha256,
    encoding: hex,
    canonical: "{method} {path}?{query}\n{host}\n{timestamp}\n{body_sha256}\n{body}",
    timestamp_header: "X-Ledger-Timestamp",
    key_id: ledger_key_id,
    key_id_header: "X-Key-Id"
  )
  policy: quick
  endpoint post_entry(account: String, entry: Entry) -> Json {
    POST "/accounts/{account}/entries"
    query { dry_run: false, note: "a b" }
    body json(entry)
    idempotency_key: entry.id
  }
}
"#,
        &[
            ("LEDGER_URL", &format!("{}/api", server.url())),
            ("LEDGER_SIGNING", "ledger-signing-e2e"),
            ("LEDGER_KEY_ID", "key-e2e-1"),
        ],
    );
    let before = unix_now();
    let result = program
        .value(
            "Ledger.post_entry",
            &[("account", json!("acc 1/x")), ("entry", json!({"id": "e-1", "amount_cents": 250}))],
        )
        .await
        .unwrap();
    assert_eq!(result, json!({"id": "e-1"}));
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "503, then a retry");
    for (seen, verdict) in seen.iter().zip(verdicts.lock().unwrap().iter()) {
        assert_eq!(seen.path, "/api/accounts/acc%201%2Fx/entries");
        assert_eq!(seen.query, "dry_run=false&note=a%20b");
        assert_eq!(seen.body_text(), r#"{"id":"e-1","amount_cents":250}"#);
        assert_eq!(seen.header("x-key-id"), Some("key-e2e-1"));
        let timestamp: u64 = seen.header("x-ledger-timestamp").unwrap().parse().unwrap();
        assert!((before..=unix_now()).contains(&timestamp));
        assert_eq!(verdict, &Ok(()));
    }
}

#[tokio::test]
async fn hmac_sha512_base64_with_the_default_canonical_text() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
secret signing = env("HMAC512_SECRET")
api Ledger {
  base_url: env("HMAC512_URL")
  auth: hmac(secret: signing, algorithm: sha512, encoding: base64)
  endpoint ping(x: Int) {
    PUT "/ping/{x}"
    body json({ x: x })
  }
}
"#,
        &[("HMAC512_URL", &server.url()), ("HMAC512_SECRET", "hmac512-secret-e2e")],
    );
    let before = unix_now();
    program.done("Ledger.ping", &[("x", json!(7))]).await.unwrap();
    let seen = &server.seen()[0];
    let signature = seen.header("x-signature").expect("the default header");
    let body_hash = hex(&Sha256::digest(&seen.body));
    let matching = (before.saturating_sub(1)..=unix_now() + 1).any(|timestamp| {
        let canonical = format!("PUT\n/ping/7\n{timestamp}\n{body_hash}");
        base64(&hmac_sha512("hmac512-secret-e2e", &canonical)) == signature
    });
    assert!(matching, "{signature} is not HMAC-SHA-512 of the default canonical text");
}

// ====================================================================== requests

#[tokio::test]
async fn path_parameters_are_percent_encoded_single_segments_under_the_base_path() {
    let server = always(Reply::json(json!({"ok": 1}))).await;
    let program = load(
        r#"
enum Kind { invoice, credit_note @wire("credit-note") }
type Contact { external_id: String, email: String }
api Files {
  base_url: env("FILES_URL")
  endpoint get(folder: String, name: String, version: Int, kind: Kind, on: Date) -> Json {
    GET "/folders/{folder}/files/{name}/v{version}/{kind}/{on}"
  }
  endpoint update_contact(contact: Contact) {
    PUT "/contacts/{contact.external_id}"
    body json(contact)
  }
  endpoint by_sku(sku: String) -> Json {
    GET "/items/{sku.lower()}"
  }
}
"#,
        &[("FILES_URL", &format!("{}/api/v2/", server.url()))],
    );
    let args = [
        ("folder", json!("a/b c")),
        ("name", json!("café~x.y_z-1?#%")),
        ("version", json!(3)),
        ("kind", json!("credit-note")),
        ("on", json!("2024-05-01")),
    ];
    program.value("Files.get", &args).await.unwrap();
    let contact = json!({"external_id": "shop:501/ä", "email": "a@example.com"});
    program.done("Files.update_contact", &[("contact", contact)]).await.unwrap();
    program.value("Files.by_sku", &[("sku", json!("ABC-Ü 1"))]).await.unwrap();
    assert_eq!(
        server.targets(),
        [
            "/api/v2/folders/a%2Fb%20c/files/caf%C3%A9~x.y_z-1%3F%23%25/v3/credit-note/2024-05-01",
            "/api/v2/contacts/shop%3A501%2F%C3%A4",
            "/api/v2/items/abc-%C3%BC%201",
        ]
    );
    assert_eq!(server.seen()[1].method, "PUT");

    // An empty path value is a run-time error: nothing is sent.
    let args = [
        ("folder", json!("")),
        ("name", json!("n")),
        ("version", json!(1)),
        ("kind", json!("invoice")),
        ("on", json!("2024-05-01")),
    ];
    let error = program.value("Files.get", &args).await.unwrap_err();
    assert_eq!(error_name(&error), "Eval", "{error}");
    assert!(error.to_string().starts_with("Files.get: "), "{error}");
    assert_eq!(server.count(), 3);
}

const SEARCH: &str = r#"
enum OrderStatus { paid, pending, refunded @wire("REFUNDED") }
api Shop {
  base_url: env("SEARCH_URL")
  endpoint search(email: String?, statuses: [OrderStatus], since: DateTime?, min_total: Decimal?, tags: [String], flag: Bool, limit: Int = 100) -> Json {
    GET "/orders/search"
    query { email: email, status: statuses, created_after: since, min_total: min_total, tag: tags, flag: flag, limit: limit, "sort-by": "created at+desc" }
  }
}
"#;

#[tokio::test]
async fn query_values_optionals_lists_and_encoding() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(SEARCH, &[("SEARCH_URL", &server.url())]);
    let args = [
        ("email", json!("a+b@example.com")),
        ("statuses", json!(["paid", "REFUNDED"])),
        ("since", json!("2024-05-01T10:00:00Z")),
        ("min_total", raw("12.50")),
        ("tags", json!(["x y", "ü"])),
        ("flag", json!(true)),
        ("limit", json!(25)),
    ];
    program.value("Shop.search", &args).await.unwrap();
    // Optionals that are none are left out, empty lists send nothing, the default applies.
    let args = [("statuses", json!([])), ("tags", json!([])), ("flag", json!(false))];
    program.value("Shop.search", &args).await.unwrap();
    let seen = server.seen();
    assert_eq!(
        seen[0].query,
        "email=a%2Bb%40example.com&status=paid&status=REFUNDED&created_after=2024-05-01T10%3A00%3A00Z\
         &min_total=12.50&tag=x%20y&tag=%C3%BC&flag=true&limit=25&sort-by=created%20at%2Bdesc"
    );
    assert_eq!(seen[1].query, "flag=false&limit=100&sort-by=created%20at%2Bdesc");
    assert_eq!(seen[0].path, "/orders/search");
}

#[tokio::test]
async fn api_and_endpoint_headers_with_secrets_in_order() {
    let server =
        serve(|seen, _| if seen.path == "/fail" { Reply::raw(400, "{}") } else { Reply::json(json!({})) }).await;
    let program = load(
        r#"
secret legacy_token = env("LEGACY_TOKEN")
secret tenant = env("TENANT_ID", "local")
policy once { retry: none }
api Legacy {
  base_url: env("LEGACY_URL")
  auth: none
  policy: once
  headers { "Authorization": "Token {legacy_token}", "X-Tenant": tenant, "X-Api-Version": "2024-04", "X-Region": env("REGION", "eu") }
  endpoint get(id: Int, trace: String?, priority: Int?) -> Json {
    GET "/things/{id}"
    headers { "x-api-version": "2025-01", "X-Trace-Id": trace, "X-Priority": priority, "X-Thing": "thing-{id}" }
  }
  endpoint broken() {
    GET "/fail"
  }
}
api Agent {
  base_url: env("LEGACY_URL")
  auth: bearer(legacy_token)
  headers { "Authorization": "Token {legacy_token}", "User-Agent": "shop-sync/1.0", "Accept": "application/vnd.api+json" }
  endpoint ping() {
    GET "/agent"
  }
}
"#,
        &[("LEGACY_URL", &server.url()), ("LEGACY_TOKEN", "legacy-tok-e2e-31"), ("TENANT_ID", "tenant-e2e-77")],
    );
    program.value("Legacy.get", &[("id", json!(9)), ("trace", json!("tr-1")), ("priority", json!(2))]).await.unwrap();
    program.value("Legacy.get", &[("id", json!(10))]).await.unwrap();
    program.done("Agent.ping", &[]).await.unwrap();
    let seen = server.seen();
    let first = &seen[0];
    assert_eq!(first.header("authorization"), Some("Token legacy-tok-e2e-31"));
    assert_eq!(first.header("x-tenant"), Some("tenant-e2e-77"));
    assert_eq!(first.header_all("x-api-version"), ["2025-01"], "the endpoint's header replaces the api's");
    assert_eq!(first.header("x-region"), Some("eu"));
    assert_eq!(first.header("x-trace-id"), Some("tr-1"));
    assert_eq!(first.header("x-priority"), Some("2"));
    assert_eq!(first.header("x-thing"), Some("thing-9"));
    assert_eq!(first.header_all("user-agent"), [format!("integ/{}", integ_runtime::VERSION)]);
    assert_eq!(first.header("accept"), Some("application/json"));
    let second = &seen[1];
    assert_eq!(second.header("x-trace-id"), None, "none is left out");
    assert_eq!(second.header("x-priority"), None);
    let agent = &seen[2];
    assert_eq!(agent.header_all("authorization"), ["Bearer legacy-tok-e2e-31"], "the auth scheme's header wins");
    assert_eq!(agent.header_all("user-agent"), ["shop-sync/1.0"]);
    assert_eq!(agent.header_all("accept"), ["application/vnd.api+json"]);

    // A computed header value with a line feed: a run-time error, nothing sent.
    let error = program.value("Legacy.get", &[("id", json!(11)), ("trace", json!("a\nX-Evil: 1"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Eval", "{error}");
    assert_eq!(server.count(), 3);

    // Recorded for dead letters: credentials and secret-valued headers are `<redacted>`.
    let CallFailure::Call(error) = program.done("Legacy.broken", &[]).await.unwrap_err() else {
        panic!("an HTTP error")
    };
    let recorded = error.request.as_ref().expect("a recorded request");
    let header = |name: &str| recorded.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    assert_eq!(header("authorization"), Some("<redacted>"));
    assert_eq!(header("x-tenant"), Some("<redacted>"));
    assert_eq!(header("x-api-version"), Some("2024-04"));
}

#[tokio::test]
async fn json_bodies_are_the_exact_bytes_of_the_declared_type() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
enum Kind { person, company @wire("org") }
type Address { street: String, city: String? }
type Contact {
  external_id: String
  email: String @wire("email_address")
  phone: String?
  tags: [String]
  score: Decimal
  address: Address?
  created: DateTime
  kind: Kind
  extra: Json
}
api Crm {
  base_url: env("JSON_URL")
  endpoint upsert(contact: Contact) {
    PUT "/contacts"
    body json(contact)
  }
  endpoint note(id: Int, text: String, tags: [String]) {
    PUT "/notes/{id}"
    body json({ text: text, id: id, tags: tags, pinned: true, ratio: 0.5 })
  }
}
"#,
        &[("JSON_URL", &server.url())],
    );
    let contact = json!({
        "external_id": "c-1",
        "email_address": "ann@example.com",
        "phone": null,
        "tags": ["a", "b \"q\""],
        "score": 12.5,
        "address": {"street": "Main St 1", "city": null},
        "created": "2024-05-01T10:00:00+02:00",
        "kind": "org",
        "extra": {"z": [1, null]}
    });
    let text = contact.to_string().replace("12.5", "12.50");
    program.done("Crm.upsert", &[("contact", raw(&text))]).await.unwrap();
    program.done("Crm.note", &[("id", json!(4)), ("text", json!("é\n")), ("tags", json!([]))]).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(
        seen[0].body_text(),
        r#"{"external_id":"c-1","email_address":"ann@example.com","tags":["a","b \"q\""],"score":12.50,"address":{"street":"Main St 1"},"created":"2024-05-01T10:00:00+02:00","kind":"org","extra":{"z":[1,null]}}"#
    );
    assert_eq!(seen[1].body_text(), "{\"text\":\"é\\n\",\"id\":4,\"tags\":[],\"pinned\":true,\"ratio\":0.5}");
}

#[tokio::test]
async fn form_bodies_follow_the_whatwg_serializer() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
type Meta {
  order_id: String @wire("metadata[order_id]")
  amount: Int
  note: String?
  tags: [String]
  paid: Bool
}
api Stripe {
  base_url: env("FORM_URL")
  endpoint tag_charge(charge_id: String, order_id: String, description: String?) {
    POST "/charges/{charge_id}"
    body form({ "metadata[order_id]": order_id, description: description, "expand[]": ["customer", "invoice"] })
    idempotency_key: "tag-{charge_id}"
  }
  endpoint tag_payout(payout_id: String, meta: Meta) {
    POST "/payouts/{payout_id}"
    body form(meta)
    idempotency_key: "tag-{payout_id}"
  }
}
"#,
        &[("FORM_URL", &server.url())],
    );
    let args = [("charge_id", json!("ch_1")), ("order_id", json!("o 1/2*3~")), ("description", json!("a+b & c"))];
    program.done("Stripe.tag_charge", &args).await.unwrap();
    program.done("Stripe.tag_charge", &[("charge_id", json!("ch_2")), ("order_id", json!("o2"))]).await.unwrap();
    let meta = json!({"metadata[order_id]": "ö 7", "amount": 250, "note": null, "tags": ["x", "y z"], "paid": true});
    program.done("Stripe.tag_payout", &[("payout_id", json!("po_1")), ("meta", meta)]).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        seen[0].body_text(),
        "metadata%5Border_id%5D=o+1%2F2*3%7E&description=a%2Bb+%26+c&expand%5B%5D=customer&expand%5B%5D=invoice"
    );
    assert_eq!(seen[1].body_text(), "metadata%5Border_id%5D=o2&expand%5B%5D=customer&expand%5B%5D=invoice");
    assert_eq!(seen[2].body_text(), "metadata%5Border_id%5D=%C3%B6+7&amount=250&tags=x&tags=y+z&paid=true");
    assert_eq!(seen[2].header("idempotency-key"), Some("tag-po_1"));
}

#[tokio::test]
async fn object_literal_bodies_written_with_braces() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
api Stripe {
  base_url: env("BRACES_URL")
  endpoint tag_charge(charge_id: String, order_id: String) {
    POST "/charges/{charge_id}"
    body form { "metadata[order_id]": order_id, description: "a b" }
    idempotency_key: "tag-{charge_id}"
  }
  endpoint add_tags(contact_id: String, tags: [String]) {
    POST "/contacts/{contact_id}/tags"
    body json { tags: tags }
    idempotent: true
  }
}
"#,
        &[("BRACES_URL", &server.url())],
    );
    program.done("Stripe.tag_charge", &[("charge_id", json!("ch_1")), ("order_id", json!("o 1"))]).await.unwrap();
    program.done("Stripe.add_tags", &[("contact_id", json!("c1")), ("tags", json!(["a", "b c"]))]).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(seen[0].body_text(), "metadata%5Border_id%5D=o+1&description=a+b");
    assert_eq!(seen[0].header("idempotency-key"), Some("tag-ch_1"));
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(seen[1].body_text(), r#"{"tags":["a","b c"]}"#);
}

#[tokio::test]
async fn xml_bodies() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
type SupplierAddress { street: String, city: String }
type Supplier {
  id: Int
  name: String
  address: SupplierAddress
  note: String?
  tags: [String] @wire("tag")
  since: Date
}
api Erp {
  base_url: env("XML_URL")
  endpoint import_supplier(supplier: Supplier) {
    POST "/suppliers/import"
    body xml(supplier, root: "Supplier")
    idempotency_key: "import-{supplier.id}"
  }
}
"#,
        &[("XML_URL", &server.url())],
    );
    let supplier = json!({
        "id": 7,
        "name": "A & B <C>",
        "address": {"street": "Hauptstraße 1", "city": "Berlin"},
        "note": null,
        "tag": ["x", "y"],
        "since": "2024-02-29"
    });
    program.done("Erp.import_supplier", &[("supplier", supplier)]).await.unwrap();
    let seen = &server.seen()[0];
    assert_eq!(seen.header("content-type"), Some("application/xml; charset=utf-8"));
    assert_eq!(seen.header("idempotency-key"), Some("import-7"));
    assert_eq!(
        seen.body_text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Supplier><id>7</id><name>A &amp; B &lt;C&gt;</name>\
         <address><street>Hauptstraße 1</street><city>Berlin</city></address><tag>x</tag><tag>y</tag>\
         <since>2024-02-29</since></Supplier>"
    );
}

// ====================================================================== responses and errors

const CONTACTS: &str = r#"
type Contact { id: String, email: String }
type ContactPage { data: [Contact], has_more: Bool }
policy quick { retry: 3 attempts, constant(10ms), no jitter }
api Crm {
  base_url: env("RESP_URL")
  policy: quick
  errors { 401 | 403 => Forbidden, 404 => NotFound, 5xx => Unavailable }

  endpoint find_contact(email: String) -> Contact? {
    GET "/contacts/search"
    query { email: email }
    select body.results[0]
  }
  endpoint all() -> [Contact] {
    GET "/contacts"
    response: ContactPage
    select body.data
  }
  endpoint get(id: String) -> Contact? {
    GET "/contacts/{id}"
    errors { 404 => none, 410 => Gone }
  }
  endpoint must_get(id: String) -> Contact {
    GET "/contacts/{id}"
    errors { _ => Failed }
  }
  endpoint plain(id: String) -> Contact {
    GET "/contacts/{id}"
  }
  endpoint request_id() -> String? {
    GET "/rid"
    select headers["x-request-id"]
  }
  endpoint status_of() -> Int {
    POST "/status"
    select status
    idempotent: true
  }
  endpoint total() -> Int {
    GET "/total"
    select body.meta.total
  }
  endpoint raw() -> Json {
    GET "/raw"
  }
}
"#;

async fn contacts_server() -> Server {
    serve(|seen, _| match (seen.path.as_str(), seen.param("email").as_deref()) {
        ("/contacts/search", Some("ann@example.com")) => Reply::json(
            json!({"results": [{"id": "c1", "email": "ann@example.com", "extra": {"deep": [1]}}], "count": 1}),
        ),
        ("/contacts/search", _) => Reply::json(json!({"results": [], "count": 0})),
        ("/contacts", _) => Reply::json(
            json!({"data": [{"id": "c1", "email": "a@x"}, {"id": "c2", "email": "b@x"}], "has_more": false}),
        ),
        ("/contacts/c1", _) => Reply::json(json!({"email": "a@x", "id": "c1", "unknown": null})),
        ("/contacts/missing", _) => Reply::raw(404, r#"{"error":"not found"}"#),
        ("/contacts/gone", _) => Reply::raw(410, r#"{"error":"gone"}"#),
        ("/contacts/forbidden", _) => Reply::raw(403, ""),
        ("/contacts/teapot", _) => Reply::raw(418, "I'm a teapot"),
        ("/contacts/busy", _) => Reply::raw(503, r#"{"error":"busy"}"#),
        ("/contacts/empty", _) => Reply::status(204),
        ("/contacts/null", _) => Reply::raw(200, "null"),
        ("/rid", _) => Reply::json(json!({})).header("X-Request-Id", "req-42"),
        ("/status", _) => Reply::status(201).body("{}"),
        ("/total", _) => Reply::json(json!({"meta": {"total": 42}})),
        ("/raw", _) => Reply::raw(200, r#"[1, {"a": null}]"#),
        _ => Reply::status(500),
    })
    .await
}

#[tokio::test]
async fn select_and_typed_responses() {
    let server = contacts_server().await;
    let program = load(CONTACTS, &[("RESP_URL", &server.url())]);
    let found = program.value("Crm.find_contact", &[("email", json!("ann@example.com"))]).await.unwrap();
    assert_eq!(found, json!({"id": "c1", "email": "ann@example.com"}));
    assert_eq!(program.value("Crm.find_contact", &[("email", json!("nobody@example.com"))]).await.unwrap(), Json::Null);
    assert_eq!(
        program.value("Crm.all", &[]).await.unwrap(),
        json!([{"id": "c1", "email": "a@x"}, {"id": "c2", "email": "b@x"}])
    );
    assert_eq!(program.value("Crm.get", &[("id", json!("c1"))]).await.unwrap(), json!({"id": "c1", "email": "a@x"}));
    assert_eq!(program.value("Crm.request_id", &[]).await.unwrap(), json!("req-42"));
    assert_eq!(program.value("Crm.status_of", &[]).await.unwrap(), json!(201));
    assert_eq!(program.value("Crm.total", &[]).await.unwrap(), json!(42));
    assert_eq!(program.value("Crm.raw", &[]).await.unwrap(), json!([1, {"a": null}]));
    // An optional result: an empty body (204) and a JSON null are none.
    assert_eq!(program.value("Crm.get", &[("id", json!("empty"))]).await.unwrap(), Json::Null);
    assert_eq!(program.value("Crm.get", &[("id", json!("null"))]).await.unwrap(), Json::Null);
    // A required one: an empty body is a decode error.
    let error = program.value("Crm.plain", &[("id", json!("empty"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Decode", "{error}");
}

#[tokio::test]
async fn error_arms_map_statuses_to_none_and_names() {
    let server = contacts_server().await;
    let program = load(CONTACTS, &[("RESP_URL", &server.url())]);
    let base = server.url();
    // The endpoint's `404 => none` wins over the api's `404 => NotFound`.
    assert_eq!(program.value("Crm.get", &[("id", json!("missing"))]).await.unwrap(), Json::Null);

    let error = program.value("Crm.get", &[("id", json!("gone"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Gone");
    assert_eq!(
        error.to_string(),
        format!(r#"Crm.get failed after 1 attempt: Gone (410 Gone) (GET {base}/contacts/gone): {{"error":"gone"}}"#)
    );

    let error = program.value("Crm.get", &[("id", json!("forbidden"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Forbidden");
    assert_eq!(
        error.to_string(),
        format!("Crm.get failed after 1 attempt: Forbidden (403 Forbidden) (GET {base}/contacts/forbidden)")
    );

    let error = program.value("Crm.get", &[("id", json!("teapot"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Http");
    assert_eq!(
        error.to_string(),
        format!("Crm.get failed after 1 attempt: 418 I'm a teapot (GET {base}/contacts/teapot): I'm a teapot")
    );

    // 5xx: retried under the policy (3 attempts), then the api's name.
    let before = server.count();
    let error = program.value("Crm.get", &[("id", json!("busy"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Unavailable");
    assert_eq!(attempts(&error), 3);
    assert_eq!(server.count() - before, 3);
    assert_eq!(
        error.to_string(),
        format!(
            r#"Crm.get failed after 3 attempts: Unavailable (503 Service Unavailable) (GET {base}/contacts/busy): {{"error":"busy"}}"#
        )
    );

    // The endpoint's `_` arm comes before the api's arms.
    let error = program.value("Crm.must_get", &[("id", json!("missing"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Failed");
    // Without endpoint arms, the api's.
    let error = program.value("Crm.plain", &[("id", json!("missing"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "NotFound");
}

const ORDERS: &str = r#"
enum OrderStatus { paid, pending, refunded @wire("REFUNDED") }
type Order {
  id: Int
  total_cents: Int
  status: OrderStatus @wire("financial_status")
  created_at: DateTime @wire("createdAt")
  email: String?
}
type OrderPage { orders: [Order], next_cursor: String? }
policy quick { retry: 3 attempts, constant(10ms), no jitter }
api Shop {
  base_url: env("DECODE_URL")
  policy: quick

  endpoint get_order(id: Int) -> Order {
    GET "/orders/{id}"
  }
  endpoint list_orders() -> stream Order {
    GET "/orders"
    response: OrderPage
    records body.orders
  }
  endpoint list_json() -> stream Order {
    GET "/orders"
    records body.orders
  }
  endpoint list_bare() -> stream Order {
    GET "/bare"
  }
  endpoint find() -> Order? {
    GET "/orders"
    select body.orders[0]
  }
  endpoint create(order_id: Int) -> Order {
    POST "/orders"
    body json({ id: order_id })
    idempotency_key: "order-{order_id}"
  }
}
"#;

fn order(total: Json) -> Json {
    json!({"id": 1, "total_cents": total, "financial_status": "paid", "createdAt": "2024-05-01T10:00:00Z"})
}

/// The decode message of a failed call.
fn decode_message(failure: &CallFailure) -> String {
    match failure {
        CallFailure::Call(error) => match &error.kind {
            integ_runtime::http::CallErrorKind::Decode { message } => message.clone(),
            other => panic!("not a decode error: {other}"),
        },
        other => panic!("not a decode error: {other}"),
    }
}

#[tokio::test]
async fn decode_errors_name_the_path_the_type_and_what_was_found() {
    let body = Arc::new(Mutex::new(String::new()));
    let shared = body.clone();
    let server = serve(move |_, _| Reply::raw(200, &shared.lock().unwrap())).await;
    let program = load(ORDERS, &[("DECODE_URL", &server.url())]);
    let set = |text: String| *body.lock().unwrap() = text;

    let cases: Vec<(Json, &str)> = vec![
        (order(json!("12.5")), r#"body.total_cents: expected Int, found string "12.5""#),
        (order(json!(12.5)), "body.total_cents: expected Int, found number 12.5"),
        (order(json!(null)), "body.total_cents: expected Int, found null"),
        (order(json!([1])), "body.total_cents: expected Int, found array"),
        (
            json!({"id": 1, "financial_status": "paid", "createdAt": "2024-05-01T10:00:00Z"}),
            r#"body: missing field "total_cents" (expected Int)"#,
        ),
        (
            json!({"id": 1, "total_cents": 1, "financial_status": "cancelled", "createdAt": "2024-05-01T10:00:00Z"}),
            r#"body.financial_status: expected OrderStatus (one of "paid", "pending", "REFUNDED"), found string "cancelled""#,
        ),
        (
            json!({"id": 1, "total_cents": 1, "financial_status": "paid", "createdAt": "2024-05-01 10:00"}),
            r#"body.createdAt: expected DateTime (RFC 3339 with an offset), found string "2024-05-01 10:00""#,
        ),
        (
            json!({"id": 1, "total_cents": 1, "financial_status": "paid", "createdAt": "2024-05-01T10:00:00Z", "email": "x".repeat(60)}),
            "",
        ),
        (json!([]), "body: expected Order, found array"),
    ];
    // An empty expectation: the document is valid (a long optional string, an unknown member).
    for (document, expected) in cases {
        set(document.to_string());
        let result = program.value("Shop.get_order", &[("id", json!(1))]).await;
        if expected.is_empty() {
            assert!(result.is_ok(), "{document}: {:?}", result.err());
            continue;
        }
        let error = result.unwrap_err();
        assert_eq!(decode_message(&error), expected, "{document}");
    }

    // A long string is cut after 40 characters.
    set(json!({"id": 1, "total_cents": "1".repeat(50), "financial_status": "paid", "createdAt": "2024-05-01T10:00:00Z"}).to_string());
    let error = program.value("Shop.get_order", &[("id", json!(1))]).await.unwrap_err();
    assert_eq!(decode_message(&error), format!("body.total_cents: expected Int, found string \"{}…\"", "1".repeat(40)));

    // Malformed and truncated documents.
    set(r#"{"id": 1, "total_cents": }"#.to_owned());
    let error = program.value("Shop.get_order", &[("id", json!(1))]).await.unwrap_err();
    let message = decode_message(&error);
    assert!(message.starts_with("body: invalid JSON at line 1, column 26: "), "{message}");
    set("{\"id\": 1,\n \"total_cents\": 12".to_owned());
    let error = program.value("Shop.get_order", &[("id", json!(1))]).await.unwrap_err();
    let message = decode_message(&error);
    assert_eq!(message, "body: invalid JSON at line 2, column 19: EOF while parsing an object");
    set(String::new());
    let error = program.value("Shop.get_order", &[("id", json!(1))]).await.unwrap_err();
    assert!(decode_message(&error).starts_with("body: invalid JSON at line 1, column 1: "), "{error}");

    // Decode errors are never retried, and the message says what failed.
    let before = server.count();
    set(order(json!("12.5")).to_string());
    let error = program.value("Shop.get_order", &[("id", json!(1))]).await.unwrap_err();
    assert_eq!(server.count() - before, 1);
    assert_eq!(error_name(&error), "Decode");
    assert_eq!(
        error.to_string(),
        format!(
            r#"Shop.get_order failed after 1 attempt: cannot decode the response: body.total_cents: expected Int, found string "12.5" (GET {}/orders/1)"#,
            server.url()
        )
    );
    let error = program.value("Shop.create", &[("order_id", json!(1))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Decode");
    let text = error.to_string();
    assert!(
        text.starts_with("Shop.create failed after 1 attempt: cannot decode the response: body.total_cents"),
        "{text}"
    );
    assert!(text.contains("(POST http://"), "the request's method: {text}");
}

#[tokio::test]
async fn decode_errors_in_stream_pages_name_the_records_path() {
    let page = json!({"orders": [order(json!("12.5")), order(json!("12.5"))], "next_cursor": null});
    let server = serve(move |seen, _| {
        if seen.path == "/bare" {
            Reply::json(json!([order(json!(1)), order(json!(true))]))
        } else {
            Reply::json(page.clone())
        }
    })
    .await;
    let program = load(ORDERS, &[("DECODE_URL", &server.url())]);

    let drained = program.drain("Shop.list_orders", &[]).await;
    let error = drained.error.as_ref().expect("a decode error");
    assert_eq!(error_name(error), "Decode");
    assert_eq!(decode_message(error), r#"body.orders[0].total_cents: expected Int, found string "12.5""#);

    let drained = program.drain("Shop.list_bare", &[]).await;
    assert_eq!(decode_message(drained.error.as_ref().unwrap()), "body[1].total_cents: expected Int, found bool true");

    // Without `response:` the body is `Json` and the records are decoded
    // where `records` uses them; the error still names the document's path.
    let drained = program.drain("Shop.list_json", &[]).await;
    let error = drained.error.as_ref().expect("a decode error");
    assert_eq!(error_name(error), "Decode");
    assert_eq!(decode_message(error), r#"body.orders[0].total_cents: expected Int, found string "12.5""#);
    let text = drained.error_text();
    assert!(
        text.starts_with(r#"Shop.list_json failed: cannot decode the response: body.orders[0].total_cents: expected Int, found string "12.5" (GET "#),
        "{text}"
    );
    assert!(text.contains(&format!("(GET {}/", server.url())), "the page's URL: {text}");

    let error = program.value("Shop.find", &[]).await.unwrap_err();
    assert_eq!(error_name(&error), "Decode");
    let message = decode_message(&error);
    assert_eq!(message, r#"body.orders[0].total_cents: expected Int, found string "12.5""#);
}

#[tokio::test]
async fn a_stream_page_that_is_not_json_is_a_decode_error_of_the_page() {
    let server = always(Reply::raw(200, r#"{"orders": [1, 2"#)).await;
    let program = load(ORDERS, &[("DECODE_URL", &server.url())]);
    for endpoint in ["Shop.list_orders", "Shop.list_json", "Shop.list_bare"] {
        let drained = program.drain(endpoint, &[]).await;
        assert!(drained.pages.is_empty());
        let error = drained.error.as_ref().expect("a decode error");
        assert_eq!(error_name(error), "Decode");
        let text = error.to_string();
        assert!(
            text.contains(
                " failed after 1 attempt: cannot decode the response: body: invalid JSON at line 1, column 17: "
            ),
            "{text}"
        );
        assert!(text.contains(&format!("(GET {}/", server.url())), "{text}");
        assert!(text.starts_with(&format!("{endpoint} failed after 1 attempt: ")), "{text}");
    }
}

#[tokio::test]
async fn a_record_that_does_not_decode_fails_alone() {
    let page = json!({"orders": [order(json!(1)), order(json!("12.5")), order(json!(3))], "next_cursor": null});
    let server = always(Reply::json(page)).await;
    let program = load(ORDERS, &[("DECODE_URL", &server.url())]);
    for endpoint in ["Shop.list_orders", "Shop.list_json"] {
        let Outcome::Stream(mut stream) = program.call(endpoint, &[]).await.unwrap() else { panic!("a stream") };
        let stats = integ_compiler::interp::calls::CallStats::default();
        let items = stream.next_items(&program.interpreter, &stats).await.unwrap().unwrap();
        assert_eq!(items.len(), 3, "{endpoint}");
        assert!(items[0].is_ok() && items[2].is_ok(), "{endpoint}");
        let bad = items[1].as_ref().unwrap_err();
        assert_eq!(bad.error, r#"body.orders[1].total_cents: expected Int, found string "12.5""#, "{endpoint}");
        assert!(bad.raw.contains(r#""total_cents":"12.5""#), "{endpoint}: {}", bad.raw);
        assert!(stream.next_items(&program.interpreter, &stats).await.is_none());
    }
}

#[tokio::test]
async fn a_call_result_has_every_field_of_its_type() {
    let server = always(Reply::json(json!({"id": "r-1", "external_id": "x-1", "other": 1}))).await;
    let program = load(
        r#"
type Ref { id: String, external_id: String }
api Crm {
  base_url: env("REF_URL")
  endpoint upsert(id: String) -> Ref {
    PUT "/things/{id}"
  }
}
"#,
        &[("REF_URL", &server.url())],
    );
    let result = program.value("Crm.upsert", &[("id", json!("x-1"))]).await.unwrap();
    assert_eq!(result, json!({"id": "r-1", "external_id": "x-1"}));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn no_result_endpoints_never_read_the_body_and_get_bodies_are_sent() {
    let server = always(Reply::raw(200, "this is { not json")).await;
    let source = r#"
api Odd {
  base_url: env("ODD_URL")
  endpoint ping() {
    POST "/ping"
    idempotent: true
  }
  endpoint search(q: String) {
    GET "/search"
    body json({ q: q })
  }
}
"#;
    assert!(codes(source).contains(&"W0006".to_owned()), "{:?}", codes(source));
    let program = load(source, &[("ODD_URL", &server.url())]);
    program.done("Odd.ping", &[]).await.unwrap();
    program.done("Odd.search", &[("q", json!("x"))]).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].body_text(), "");
    assert_eq!((seen[1].method.as_str(), seen[1].body_text()), ("GET", r#"{"q":"x"}"#));
}

#[tokio::test]
async fn redirects_keep_credentials_on_the_api_origin_only() {
    let other = serve(|seen, _| Reply::json(json!({"auth": seen.header("authorization"), "at": "other"}))).await;
    let target = format!("{}/landing", other.url());
    let server = serve(move |seen, _| match seen.path.as_str() {
        "/old" => Reply::status(302).header("Location", "/new?x=1"),
        "/new" => Reply::json(json!({"auth": seen.header("authorization"), "at": "new"})),
        "/away" => Reply::status(307).header("Location", target.clone()),
        _ => Reply::status(404),
    })
    .await;
    let program = load(
        r#"
secret token = env("REDIRECT_TOKEN")
api Moved {
  base_url: env("REDIRECT_URL")
  auth: bearer(token)
  endpoint old() -> Json {
    GET "/old"
  }
  endpoint away() -> Json {
    GET "/away"
  }
}
"#,
        &[("REDIRECT_URL", &server.url()), ("REDIRECT_TOKEN", "redirect-token-e2e-8")],
    );
    assert_eq!(
        program.value("Moved.old", &[]).await.unwrap(),
        json!({"auth": "Bearer redirect-token-e2e-8", "at": "new"})
    );
    assert_eq!(server.targets(), ["/old", "/new?x=1"]);
    // Another origin (another port): no `Authorization`.
    assert_eq!(program.value("Moved.away", &[]).await.unwrap(), json!({"auth": null, "at": "other"}));
    assert_eq!(other.count(), 1);
}

#[tokio::test]
async fn configuration_problems_stop_the_program_before_any_request() {
    let source = r#"
secret token = env("CONFIG_TOKEN")
api A {
  base_url: env("CONFIG_A_URL")
  auth: bearer(token)
  endpoint ping() {
    GET "/ping"
  }
}
api B {
  base_url: env("CONFIG_B_URL", "http://127.0.0.1:9")
  endpoint ping() {
    GET "/ping"
  }
}
"#;
    let interpreter = interpreter(source, &[("CONFIG_B_URL", "ftp://example.com/x")]);
    assert_eq!(interpreter.missing_secrets(), [("token".to_owned(), "CONFIG_TOKEN".to_owned())]);
    let Err(error) = interpreter.connect() else { panic!("a configuration error") };
    let message = error.to_string();
    // Every problem together: the missing base URL, the missing secret, the invalid URL.
    assert!(message.contains("CONFIG_A_URL"), "{message}");
    assert!(message.contains("`B`"), "{message}");
    assert!(message.lines().count() >= 2, "{message}");
}

#[tokio::test]
async fn an_empty_idempotency_key_sends_nothing() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
api Payments {
  base_url: env("EMPTY_KEY_URL")
  endpoint charge(order_id: String) {
    POST "/charges"
    body json({ order_id: order_id })
    idempotency_key: order_id
  }
}
"#,
        &[("EMPTY_KEY_URL", &server.url())],
    );
    let error = program.done("Payments.charge", &[("order_id", json!(""))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Eval", "{error}");
    assert_eq!(server.count(), 0);
    program.done("Payments.charge", &[("order_id", json!("o-1"))]).await.unwrap();
    assert_eq!(server.seen()[0].header("idempotency-key"), Some("o-1"));
}

// ====================================================================== pagination

const PAGES: &str = r#"
type Item { id: String, n: Int }
type CursorPage { items: [Item], next: String?, more: Bool }
type StripePage { data: [Item], has_more: Bool }
type NumberedPage { items: [Item], page: Int, total_pages: Int }
type OffsetPage { items: [Item], offset: Int, count: Int, total: Int }
type UrlPage { items: [Item], next_page_url: String? }
policy quick { retry: 3 attempts, constant(10ms), no jitter }

api Pages {
  base_url: env("PAGES_URL")
  policy: quick

  endpoint cursor_more(kind: String) -> stream Item {
    GET "/cursor"
    query { kind: kind, limit: 2 }
    response: CursorPage
    records body.items
    paginate cursor(next: body.next, param: "cursor", has_more: body.more)
  }
  endpoint cursor_json() -> stream Item {
    GET "/cursor-json"
    records body.orders
    paginate cursor(next: body.next_cursor, param: "page_info")
  }
  endpoint stripe() -> stream Item {
    GET "/charges"
    query { limit: 2 }
    response: StripePage
    paginate cursor(next: body.data.last()?.id, param: "starting_after", has_more: body.has_more)
    records body.data
  }
  endpoint search(q: String) -> stream Item {
    POST "/search"
    body json({ q: q })
    idempotency_key: "search-{q}"
    headers { "X-Query": q }
    response: CursorPage
    records body.items
    paginate cursor(next: body.next, param: "cursor", has_more: body.more)
  }
  endpoint numbered() -> stream Item {
    GET "/numbered"
    query { q: "x", page: 99 }
    response: NumberedPage
    records body.items
    paginate page(param: "page", start: 1, size_param: "per_page", size: 2)
  }
  endpoint numbered_stop() -> stream Item {
    GET "/numbered-stop"
    response: NumberedPage
    records body.items
    paginate page(start: 0, stop: body.page + 1 >= body.total_pages)
  }
  endpoint ignoring() -> stream Item {
    GET "/ignoring"
    response: NumberedPage
    records body.items
    paginate page(size: 2)
  }
  endpoint offsets() -> stream Item {
    GET "/offsets"
    response: OffsetPage
    records body.items
    paginate offset(param: "offset", limit_param: "count", limit: 2)
  }
  endpoint offsets_stop() -> stream Item {
    GET "/offsets-stop"
    response: OffsetPage
    records body.items
    paginate offset(limit: 2, stop: body.offset + body.count >= body.total)
  }
  endpoint issues(open: String) -> stream Item {
    GET "/issues"
    query { state: open }
    paginate link_header
  }
  endpoint links_to(rel: String) -> stream Item {
    GET "/links"
    query { rel: rel }
    paginate link_header(rel: "next")
  }
  endpoint customers() -> stream Item {
    GET "/customers"
    query { limit: 2 }
    response: UrlPage
    records body.items
    paginate next_url(body.next_page_url)
  }
  endpoint same_cursor() -> stream Item {
    GET "/same"
    response: CursorPage
    records body.items
    paginate cursor(next: body.next, param: "cursor")
  }
  endpoint endless() -> stream Item {
    GET "/endless"
    response: CursorPage
    records body.items
    paginate cursor(next: body.next, param: "cursor", has_more: body.more)
    max_pages: 3
  }
  endpoint flaky() -> stream Item {
    GET "/flaky"
    response: CursorPage
    records body.items
    paginate cursor(next: body.next, param: "cursor")
  }
  endpoint single() -> stream Item {
    GET "/single"
  }
}
"#;

fn items(ids: &[&str]) -> Json {
    Json::Array(ids.iter().enumerate().map(|(n, id)| json!({"id": id, "n": n})).collect())
}

fn ids(records: &[Json]) -> Vec<String> {
    records.iter().map(|record| record["id"].as_str().unwrap().to_owned()).collect()
}

async fn pages_server() -> Server {
    let origin = Arc::new(Mutex::new(String::new()));
    let shared = origin.clone();
    let server = serve(move |seen, _| {
        let origin = shared.lock().unwrap().clone();
        let cursor = seen.param("cursor");
        let page = seen.param("page").and_then(|page| page.parse::<i64>().ok());
        let offset = seen.param("offset").and_then(|offset| offset.parse::<i64>().ok()).unwrap_or(0);
        match seen.path.as_str() {
            "/v1/cursor" | "/v1/search" => match cursor.as_deref() {
                None => Reply::json(json!({"items": items(&["a1", "a2"]), "next": "c 2/x", "more": true})),
                Some("c 2/x") => Reply::json(json!({"items": items(&["a3"]), "next": "c3", "more": false})),
                _ => Reply::status(400),
            },
            "/v1/cursor-json" => match seen.param("page_info").as_deref() {
                None => Reply::json(json!({"orders": items(&["j1"]), "next_cursor": 2})),
                Some("2") => Reply::json(json!({"orders": items(&["j2"]), "next_cursor": ""})),
                _ => Reply::status(400),
            },
            "/v1/charges" => match seen.param("starting_after").as_deref() {
                None => Reply::json(json!({"data": items(&["ch_1", "ch_2"]), "has_more": true})),
                Some("ch_2") => Reply::json(json!({"data": items(&["ch_3", "ch_4"]), "has_more": true})),
                Some("ch_4") => Reply::json(json!({"data": items(&["ch_5"]), "has_more": false})),
                _ => Reply::status(400),
            },
            "/v1/numbered" => match page {
                Some(1) => Reply::json(json!({"items": items(&["p1", "p2"]), "page": 1, "total_pages": 9})),
                Some(2) => Reply::json(json!({"items": items(&["p3", "p4"]), "page": 2, "total_pages": 9})),
                Some(3) => Reply::json(json!({"items": items(&["p5"]), "page": 3, "total_pages": 9})),
                _ => Reply::status(400),
            },
            "/v1/numbered-stop" => match page {
                Some(n @ 0..=1) => {
                    Reply::json(json!({"items": items(&[&format!("s{n}")]), "page": n, "total_pages": 2}))
                }
                _ => Reply::status(400),
            },
            "/v1/ignoring" => Reply::json(json!({"items": items(&["i1", "i2"]), "page": 1, "total_pages": 1})),
            "/v1/offsets" => match offset {
                0 => Reply::json(json!({"items": items(&["o1", "o2"]), "offset": 0, "count": 2, "total": 4})),
                2 => Reply::json(json!({"items": items(&["o3", "o4"]), "offset": 2, "count": 2, "total": 4})),
                4 => Reply::json(json!({"items": [], "offset": 4, "count": 0, "total": 4})),
                _ => Reply::status(400),
            },
            "/v1/offsets-stop" => match offset {
                0 => Reply::json(json!({"items": items(&["t1", "t2"]), "offset": 0, "count": 2, "total": 3})),
                2 => Reply::json(json!({"items": items(&["t3", "t4"]), "offset": 2, "count": 2, "total": 3})),
                _ => Reply::status(400),
            },
            "/v1/issues" => match page {
                None => Reply::json(items(&["g1", "g2"])).header(
                    "Link",
                    format!(r#"<{origin}/v1/issues?state=open&page=5>; rel="last", <{origin}/v1/issues?state=open&page=2>; rel="next""#),
                ),
                Some(2) => Reply::json(items(&["g3"])).header("Link", r#"</v1/issues?page=3&state=open>; rel="next""#),
                Some(3) => Reply::json(items(&["g4"])).header("Link", r#"</v1/issues?page=2&state=open>; rel="prev""#),
                _ => Reply::status(400),
            },
            "/v1/links" => Reply::json(items(&["l1"])).header("Link", "<http://elsewhere.invalid/v1/links?page=2>; rel=\"next\""),
            "/v1/customers" => match seen.param("page").as_deref() {
                None => Reply::json(json!({"items": items(&["u1", "u2"]), "next_page_url": format!("{origin}/v1/customers?page=2&limit=2")})),
                Some("2") => Reply::json(json!({"items": items(&["u3", "u4"]), "next_page_url": "customers?page=3"})),
                Some("3") => Reply::json(json!({"items": items(&["u5"]), "next_page_url": null})),
                _ => Reply::status(400),
            },
            "/v1/same" => Reply::json(json!({"items": items(&["x"]), "next": "same", "more": true})),
            "/v1/endless" => {
                let n = cursor.as_deref().map_or(0, |cursor| cursor.trim_start_matches('c').parse::<i64>().unwrap() + 1);
                Reply::json(json!({"items": items(&[&format!("e{n}")]), "next": format!("c{n}"), "more": true}))
            }
            "/v1/flaky" => match cursor.as_deref() {
                None => Reply::json(json!({"items": items(&["f1"]), "next": "two", "more": true})),
                _ => Reply::raw(503, r#"{"error":"later"}"#),
            },
            "/v1/single" => Reply::json(items(&["only1", "only2"])),
            _ => Reply::status(404),
        }
    })
    .await;
    *origin.lock().unwrap() = server.url();
    server
}

async fn pages() -> (Server, Program) {
    let server = pages_server().await;
    let program = load(PAGES, &[("PAGES_URL", &format!("{}/v1", server.url()))]);
    (server, program)
}

#[tokio::test]
async fn cursor_with_has_more() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.cursor_more", &[("kind", json!("all"))]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(drained.pages.len(), 2);
    assert_eq!(ids(&drained.records()), ["a1", "a2", "a3"]);
    assert_eq!(drained.records()[0], json!({"id": "a1", "n": 0}));
    // `has_more: false` ends the stream although the page has a `next`.
    assert_eq!(server.targets(), ["/v1/cursor?kind=all&limit=2", "/v1/cursor?kind=all&limit=2&cursor=c%202%2Fx"]);
}

#[tokio::test]
async fn cursor_without_has_more_on_a_json_body() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.cursor_json", &[]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(ids(&drained.records()), ["j1", "j2"]);
    // A JSON number is a cursor; `""` ends the stream.
    assert_eq!(server.targets(), ["/v1/cursor-json", "/v1/cursor-json?page_info=2"]);
}

#[tokio::test]
async fn stripe_style_cursor_from_the_last_record() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.stripe", &[]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(ids(&drained.records()), ["ch_1", "ch_2", "ch_3", "ch_4", "ch_5"]);
    assert_eq!(
        server.targets(),
        ["/v1/charges?limit=2", "/v1/charges?limit=2&starting_after=ch_2", "/v1/charges?limit=2&starting_after=ch_4"]
    );
}

#[tokio::test]
async fn page_requests_repeat_the_first_request_and_are_fetched_on_demand() {
    let (server, program) = pages().await;
    let Outcome::Stream(mut stream) = program.call("Pages.search", &[("q", json!("a b"))]).await.unwrap() else {
        panic!("a stream")
    };
    assert_eq!(server.count(), 0, "nothing is sent before the first page is read");
    let first = stream.next_page(&program.interpreter).await.unwrap().unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(server.count(), 1, "no prefetching");
    let second = stream.next_page(&program.interpreter).await.unwrap().unwrap();
    assert_eq!(second.len(), 1);
    assert!(stream.next_page(&program.interpreter).await.is_none());
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for seen in &seen {
        assert_eq!(seen.method, "POST");
        assert_eq!(seen.body_text(), r#"{"q":"a b"}"#);
        assert_eq!(seen.header("idempotency-key"), Some("search-a b"));
        assert_eq!(seen.header("x-query"), Some("a b"));
        assert_eq!(seen.header("content-type"), Some("application/json"));
    }
    assert_eq!(server.targets(), ["/v1/search", "/v1/search?cursor=c%202%2Fx"]);
}

#[tokio::test]
async fn page_numbers_with_size_and_stop() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.numbered", &[]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(ids(&drained.records()), ["p1", "p2", "p3", "p4", "p5"]);
    // The pagination parameter replaces the written `page`; a short page ends the stream.
    assert_eq!(
        server.targets(),
        [
            "/v1/numbered?q=x&page=1&per_page=2",
            "/v1/numbered?q=x&page=2&per_page=2",
            "/v1/numbered?q=x&page=3&per_page=2"
        ]
    );

    let drained = program.drain("Pages.numbered_stop", &[]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(ids(&drained.records()), ["s0", "s1"]);
    assert_eq!(server.targets()[3..], ["/v1/numbered-stop?page=0", "/v1/numbered-stop?page=1"]);
}

#[tokio::test]
async fn a_page_that_repeats_the_previous_one_ends_the_stream() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.ignoring", &[]).await;
    assert_eq!(ids(&drained.records()), ["i1", "i2"], "the repeated page is not delivered");
    let error = drained.error.as_ref().expect("an error");
    assert_eq!(error_name(error), "Pagination");
    assert!(
        drained.error_text().contains("page 2 has the same records as the previous page: the server ignored `page`"),
        "{}",
        drained.error_text()
    );
    assert_eq!(server.targets(), ["/v1/ignoring?page=1", "/v1/ignoring?page=2"]);
}

#[tokio::test]
async fn offsets_with_limit_and_stop() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.offsets", &[]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(ids(&drained.records()), ["o1", "o2", "o3", "o4"]);
    assert_eq!(
        server.targets(),
        ["/v1/offsets?offset=0&count=2", "/v1/offsets?offset=2&count=2", "/v1/offsets?offset=4&count=2"]
    );
    let drained = program.drain("Pages.offsets_stop", &[]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(ids(&drained.records()), ["t1", "t2", "t3", "t4"]);
    assert_eq!(server.targets()[3..], ["/v1/offsets-stop?offset=0&limit=2", "/v1/offsets-stop?offset=2&limit=2"]);
}

#[tokio::test]
async fn link_header_pagination() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.issues", &[("open", json!("open"))]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(ids(&drained.records()), ["g1", "g2", "g3", "g4"]);
    // The URL of the entry replaces path and query; relative URLs resolve against the page's URL.
    assert_eq!(
        server.targets(),
        ["/v1/issues?state=open", "/v1/issues?state=open&page=2", "/v1/issues?page=3&state=open"]
    );

    // Credentials are never sent to another origin: the stream ends with an error.
    let drained = program.drain("Pages.links_to", &[("rel", json!("next"))]).await;
    assert_eq!(ids(&drained.records()), ["l1"]);
    assert_eq!(error_name(drained.error.as_ref().unwrap()), "Pagination");
    assert!(drained.error_text().contains("is not on the api's origin"), "{}", drained.error_text());
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn next_url_pagination() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.customers", &[]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(ids(&drained.records()), ["u1", "u2", "u3", "u4", "u5"]);
    assert_eq!(server.targets(), ["/v1/customers?limit=2", "/v1/customers?page=2&limit=2", "/v1/customers?page=3"]);
}

#[tokio::test]
async fn a_repeated_cursor_ends_the_stream_with_an_error() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.same_cursor", &[]).await;
    // Both pages are delivered; the repeat is not requested.
    assert_eq!(drained.pages.len(), 2);
    assert_eq!(server.targets(), ["/v1/same", "/v1/same?cursor=same"]);
    let error = drained.error.as_ref().expect("an error");
    assert_eq!(error_name(error), "Pagination");
    assert_eq!(
        drained.error_text(),
        format!(
            "Pages.same_cursor failed after 1 attempt: pagination stopped: the cursor `same` was already used in this stream (GET {}/v1/same?cursor=same)",
            server.url()
        )
    );
}

#[tokio::test]
async fn max_pages_ends_the_stream_with_an_error() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.endless", &[]).await;
    assert_eq!(ids(&drained.records()), ["e0", "e1", "e2"]);
    assert_eq!(server.count(), 3);
    let error = drained.error.as_ref().expect("an error");
    assert_eq!(error_name(error), "Pagination");
    assert!(
        drained
            .error_text()
            .contains("pagination stopped: 3 pages were received and the stream wants another (max_pages: 3)"),
        "{}",
        drained.error_text()
    );
}

#[tokio::test]
async fn a_failing_page_request_ends_the_stream_after_its_retries() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.flaky", &[]).await;
    assert_eq!(ids(&drained.records()), ["f1"]);
    let error = drained.error.as_ref().expect("an error");
    assert_eq!(error_name(error), "Http");
    assert_eq!(attempts(error), 3);
    assert_eq!(server.targets(), ["/v1/flaky", "/v1/flaky?cursor=two", "/v1/flaky?cursor=two", "/v1/flaky?cursor=two"]);
}

#[tokio::test]
async fn a_stream_without_paginate_makes_one_request() {
    let (server, program) = pages().await;
    let drained = program.drain("Pages.single", &[]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    assert_eq!(ids(&drained.records()), ["only1", "only2"]);
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn has_more_without_a_cursor_is_an_error() {
    let server = always(Reply::json(json!({"data": [], "has_more": true}))).await;
    let source = PAGES.replace("env(\"PAGES_URL\")", &format!("\"{}\"", server.url()));
    let program = load(&source, &[]);
    let drained = program.drain("Pages.stripe", &[]).await;
    assert_eq!(drained.records(), Vec::<Json>::new());
    assert_eq!(error_name(drained.error.as_ref().unwrap()), "Pagination");
    assert!(
        drained.error_text().contains("`has_more` is true but the next cursor is empty"),
        "{}",
        drained.error_text()
    );
    assert_eq!(server.count(), 1);
}

// ====================================================================== policies

/// Milliseconds between consecutive arrivals.
fn gaps(seen: &[Seen]) -> Vec<u128> {
    seen.windows(2).map(|pair| (pair[1].at - pair[0].at).as_millis()).collect()
}

const POLICIES: &str = r#"
type Charge { id: String, amount_cents: Int }
policy quick { retry: 3 attempts, constant(20ms), no jitter }
policy honoring { retry: 2 attempts, exponential(base: 10ms, max: 5s), no jitter }
policy capped { retry: 2 attempts, exponential(base: 10ms, max: 250ms), no jitter }
policy ignoring { retry: 2 attempts, exponential(base: 10ms, max: 5s), no jitter, retry_after: ignore }
policy once { retry: none }
policy only_429 { retry: 3 attempts, constant(10ms), no jitter, retry_on: [429] }
policy impatient { timeout: 200ms, retry: 2 attempts, constant(10ms), no jitter }
policy impatient_once { timeout: 200ms, retry: none }
policy bounded { timeout: 150ms, deadline: 400ms, retry: 5 attempts, constant(100ms), no jitter }
policy fragile { retry: none, circuit_breaker: open after 2 failures, probe after 10s }

api Payments {
  base_url: env("POLICY_URL")
  policy: quick

  endpoint get_charge(id: String) -> Charge {
    GET "/charges/{id}"
  }
  endpoint create_charge(charge: Charge) -> Charge {
    POST "/charges"
    body json(charge)
    idempotency_key: "charge-{charge.id}"
  }
  endpoint create_with_header(charge: Charge) -> Charge {
    POST "/charges"
    body json(charge)
    idempotency_key: "charge-{charge.id}"
    idempotency_header: "X-Request-Id"
  }
  endpoint upsert_charge(charge: Charge) -> Charge {
    POST "/charges/upsert"
    body json(charge)
    idempotent: true
  }
  endpoint create_once(charge: Charge) -> Charge {
    POST "/charges"
    body json(charge)
    policy: once
  }
  endpoint honored(id: String) -> Charge {
    GET "/charges/{id}"
    policy: honoring
  }
  endpoint capped(id: String) -> Charge {
    GET "/charges/{id}"
    policy: capped
  }
  endpoint ignored(id: String) -> Charge {
    GET "/charges/{id}"
    policy: ignoring
  }
  endpoint only_429(id: String) -> Charge {
    GET "/charges/{id}"
    policy: only_429
  }
  endpoint impatient(id: String) -> Charge {
    GET "/charges/{id}"
    policy: impatient
  }
  endpoint impatient_once(id: String) -> Charge {
    GET "/charges/{id}"
    policy: impatient_once
  }
  endpoint bounded(id: String) -> Charge {
    GET "/charges/{id}"
    policy: bounded
  }
}

api Fragile {
  base_url: env("POLICY_URL")
  policy: fragile
  endpoint get_charge(id: String) -> Charge {
    GET "/charges/{id}"
  }
}
"#;

fn charge() -> Json {
    json!({"id": "ch_1", "amount_cents": 250})
}

fn ok_charge() -> Reply {
    Reply::json(charge())
}

async fn policies(replies: Vec<Reply>) -> (Server, Program) {
    let server = script(replies).await;
    let program = load(POLICIES, &[("POLICY_URL", &server.url())]);
    (server, program)
}

#[tokio::test]
async fn a_503_then_success_is_retried() {
    let (server, program) = policies(vec![Reply::raw(503, "{}"), ok_charge()]).await;
    assert_eq!(program.value("Payments.get_charge", &[("id", json!("ch_1"))]).await.unwrap(), charge());
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(gaps(&seen)[0] >= 20, "constant(20ms): {:?}", gaps(&seen));
}

#[tokio::test]
async fn retry_after_seconds_are_honoured_and_capped() {
    let (server, program) = policies(vec![Reply::raw(429, "{}").header("Retry-After", "1"), ok_charge()]).await;
    assert_eq!(program.value("Payments.honored", &[("id", json!("ch_1"))]).await.unwrap(), charge());
    let gap = gaps(&server.seen())[0];
    assert!((1000..3000).contains(&gap), "Retry-After: 1 waits a second, not 10ms: {gap}ms");

    // Capped at the backoff's maximum.
    let (server, program) = policies(vec![Reply::raw(429, "{}").header("Retry-After", "30"), ok_charge()]).await;
    assert_eq!(program.value("Payments.capped", &[("id", json!("ch_1"))]).await.unwrap(), charge());
    let gap = gaps(&server.seen())[0];
    assert!((250..2500).contains(&gap), "capped at max: 250ms, not 30s: {gap}ms");

    // `retry_after: ignore`: the computed delay.
    let (server, program) = policies(vec![Reply::raw(429, "{}").header("Retry-After", "30"), ok_charge()]).await;
    assert_eq!(program.value("Payments.ignored", &[("id", json!("ch_1"))]).await.unwrap(), charge());
    let gap = gaps(&server.seen())[0];
    assert!(gap < 1000, "the header is ignored: 10ms, not 5s: {gap}ms");
}

#[tokio::test]
async fn a_post_without_an_idempotency_key_is_not_retried() {
    // The checker refuses a POST that its policy may retry without a key.
    let unsafe_post = r#"
type Charge { id: String, amount_cents: Int }
policy quick { retry: 3 attempts, constant(20ms), no jitter }
api Payments {
  base_url: "http://127.0.0.1:9"
  policy: quick
  endpoint create_charge(charge: Charge) -> Charge {
    POST "/charges"
    body json(charge)
  }
}
"#;
    assert!(codes(unsafe_post).contains(&"E0509".to_owned()), "{:?}", codes(unsafe_post));
    // With `retry: none`, a 503 is final: one request.
    let (server, program) = policies(vec![Reply::raw(503, "{}"), ok_charge()]).await;
    let error = program.value("Payments.create_once", &[("charge", charge())]).await.unwrap_err();
    assert_eq!(error_name(&error), "Http");
    assert_eq!(server.count(), 1);
    assert_eq!(server.seen()[0].header("idempotency-key"), None);
}

#[tokio::test]
async fn a_post_with_an_idempotency_key_is_retried_with_the_same_key() {
    let (server, program) = policies(vec![Reply::raw(503, "{}"), Reply::raw(502, "{}"), ok_charge()]).await;
    assert_eq!(program.value("Payments.create_charge", &[("charge", charge())]).await.unwrap(), charge());
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for seen in &seen {
        assert_eq!(seen.method, "POST");
        assert_eq!(seen.header("idempotency-key"), Some("charge-ch_1"));
        assert_eq!(seen.body_text(), r#"{"id":"ch_1","amount_cents":250}"#);
    }

    let (server, program) = policies(vec![Reply::raw(503, "{}"), ok_charge()]).await;
    program.value("Payments.create_with_header", &[("charge", charge())]).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for seen in &seen {
        assert_eq!(seen.header("x-request-id"), Some("charge-ch_1"));
        assert_eq!(seen.header("idempotency-key"), None);
    }
}

#[tokio::test]
async fn an_idempotent_post_is_retried() {
    let (server, program) = policies(vec![Reply::raw(500, "{}"), ok_charge()]).await;
    assert_eq!(program.value("Payments.upsert_charge", &[("charge", charge())]).await.unwrap(), charge());
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].header("idempotency-key"), None);
}

#[tokio::test]
async fn retry_on_lists_what_is_retried() {
    let (server, program) = policies(vec![Reply::raw(503, "{}"), ok_charge()]).await;
    let error = program.value("Payments.only_429", &[("id", json!("ch_1"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Http");
    assert_eq!(server.count(), 1);
    let (server, program) = policies(vec![Reply::raw(429, "{}"), ok_charge()]).await;
    program.value("Payments.only_429", &[("id", json!("ch_1"))]).await.unwrap();
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn an_attempt_that_times_out_is_retried() {
    let slow = ok_charge().delay(Duration::from_millis(1500));
    let (server, program) = policies(vec![slow.clone(), ok_charge()]).await;
    let started = Instant::now();
    assert_eq!(program.value("Payments.impatient", &[("id", json!("ch_1"))]).await.unwrap(), charge());
    assert!(started.elapsed() < Duration::from_millis(1400), "{:?}", started.elapsed());
    assert_eq!(server.count(), 2);

    let (_server, program) = policies(vec![slow]).await;
    let started = Instant::now();
    let error = program.value("Payments.impatient_once", &[("id", json!("ch_1"))]).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1400), "{:?}", started.elapsed());
    assert_eq!(error_name(&error), "Timeout");
    assert!(error.to_string().contains("timed out after 200ms"), "{error}");
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_call() {
    let (server, program) = policies(vec![ok_charge().delay(Duration::from_millis(1500))]).await;
    let started = Instant::now();
    let error = program.value("Payments.bounded", &[("id", json!("ch_1"))]).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error_name(&error), "Timeout", "{error}");
    assert!((Duration::from_millis(350)..Duration::from_millis(1400)).contains(&elapsed), "{elapsed:?}");
    assert!(server.count() <= 2, "{}", server.count());
}

#[tokio::test]
async fn the_circuit_breaker_opens_after_failures() {
    let (server, program) = policies(vec![Reply::raw(503, "{}")]).await;
    for _ in 0..2 {
        let error = program.value("Fragile.get_charge", &[("id", json!("ch_1"))]).await.unwrap_err();
        assert_eq!(error_name(&error), "Http");
    }
    let error = program.value("Fragile.get_charge", &[("id", json!("ch_1"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "CircuitOpen");
    assert!(error.to_string().contains("circuit breaker open, no request sent"), "{error}");
    assert_eq!(server.count(), 2, "no request is sent while the breaker is open");
    // The breaker belongs to `Fragile`: `Payments` still sends.
    let _ = program.value("Payments.only_429", &[("id", json!("ch_1"))]).await;
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_error_and_retried() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let program = load(POLICIES, &[("POLICY_URL", &url)]);
    let started = Instant::now();
    let error = program.value("Payments.get_charge", &[("id", json!("ch_1"))]).await.unwrap_err();
    assert_eq!(error_name(&error), "Connection", "{error}");
    assert_eq!(attempts(&error), 3);
    assert!(started.elapsed() >= Duration::from_millis(40), "two delays of 20ms: {:?}", started.elapsed());
}

#[tokio::test]
async fn rate_limits_space_requests() {
    let server = always(Reply::json(json!({}))).await;
    let program = load(
        r#"
api Slow {
  base_url: env("RATE_URL")
  rate_limit: 5 per second
  endpoint ping() {
    GET "/ping"
  }
}
"#,
        &[("RATE_URL", &server.url())],
    );
    for _ in 0..3 {
        program.done("Slow.ping", &[]).await.unwrap();
    }
    for gap in gaps(&server.seen()) {
        assert!(gap >= 150, "5 per second: 200ms apart: {gap}ms");
    }
}

// ====================================================================== the command line

/// What a run of the CLI printed.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the built `integ` in the package's directory with exactly `env` as
/// its environment (on a blocking thread: the test's servers keep running).
async fn integ(args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let env: Vec<(String, String)> = env.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_integ"))
            .args(&args)
            .env_clear()
            .envs(env)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("integ runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

const SHOP_FILE: &str = "tests/calls/shop.integ";

async fn shop_server() -> Server {
    serve(|seen, _| {
        if seen.header("authorization") != Some("Bearer cli-token-e2e-4242") {
            return Reply::raw(401, "{}");
        }
        match (seen.method.as_str(), seen.path.as_str(), seen.param("page_info").as_deref()) {
            ("GET", "/admin/orders/7", _) => Reply::json(json!({"id": 7, "total_price_cents": 1299, "email": null})),
            ("GET", "/admin/orders/404", _) => Reply::raw(404, r#"{"errors":"Not Found"}"#),
            ("GET", "/admin/orders/500", _) => Reply::raw(500, "oops"),
            ("GET", "/admin/orders/bad", _) => Reply::raw(200, r#"{"id": 1, "total_price_cents": "12.5"}"#),
            ("GET", "/admin/orders", None) => Reply::json(json!({
                "orders": [{"id": 1, "total_price_cents": 100, "email": "a@example.com"}, {"id": 2, "total_price_cents": 200}],
                "next_cursor": "p2"
            })),
            ("GET", "/admin/orders", Some("p2")) => {
                Reply::json(json!({"orders": [{"id": 3, "total_price_cents": 300}], "next_cursor": null}))
            }
            ("DELETE", "/admin/orders/7", _) => Reply::status(204),
            _ => Reply::status(400),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_call_prints_results_as_json() {
    let server = shop_server().await;
    let url = format!("{}/admin", server.url());
    let env = [("CALLS_SHOP_URL", url.as_str()), ("CALLS_SHOP_TOKEN", "cli-token-e2e-4242")];

    let run = integ(&["call", SHOP_FILE, "Shop.get_order", "id=7"], &env).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, "{\"id\":7,\"total_price_cents\":1299}\n"), "{run:?}");

    let run = integ(&["call", SHOP_FILE, "Shop.find_order", "id=404"], &env).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, "null\n"), "{run:?}");

    // A stream: one record a line, across pages; plain text for a DateTime argument.
    let run = integ(&["call", SHOP_FILE, "Shop.list_orders", "updated_since=2024-05-01T00:00:00Z"], &env).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "{\"id\":1,\"total_price_cents\":100,\"email\":\"a@example.com\"}\n{\"id\":2,\"total_price_cents\":200}\n{\"id\":3,\"total_price_cents\":300}\n"
    );
    let targets = server.targets();
    assert_eq!(
        targets[2..],
        [
            "/admin/orders?updated_at_min=2024-05-01T00%3A00%3A00Z&status=any",
            "/admin/orders?updated_at_min=2024-05-01T00%3A00%3A00Z&status=any&page_info=p2",
        ]
    );

    // No result: nothing printed.
    let run = integ(&["call", SHOP_FILE, "Shop.cancel", "id=7", "reason=changed mind"], &env).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:?}");
    assert_eq!(server.targets().last().map(String::as_str), Some("/admin/orders/7?reason=changed%20mind"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_call_failures_exit_1_with_the_error() {
    let server = shop_server().await;
    let url = format!("{}/admin", server.url());
    let env = [("CALLS_SHOP_URL", url.as_str()), ("CALLS_SHOP_TOKEN", "cli-token-e2e-4242")];

    let run = integ(&["call", SHOP_FILE, "Shop.get_order", "id=404"], &env).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.ends_with(&format!(
            "error: Shop.get_order failed after 1 attempt: NotFound (404 Not Found) (GET {url}/orders/404): {{\"errors\":\"Not Found\"}}\n"
        )),
        "{}",
        run.stderr
    );

    let run = integ(&["call", SHOP_FILE, "Shop.get_order", "id=500"], &env).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("Unavailable (500 Internal Server Error)"), "{}", run.stderr);

    let run = integ(&["call", SHOP_FILE, "Shop.get_order", "id=bad"], &env).await;
    assert_eq!(run.code, 2, "`bad` is not an Int: {run:?}");
    assert!(run.stderr.starts_with("error: argument id"), "{}", run.stderr);

    let run = integ(&["call", SHOP_FILE, "Shop.get_ordr", "id=7"], &env).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("error: api `Shop` has no endpoint `get_ordr`"), "{}", run.stderr);
    assert!(run.stderr.contains("help: did you mean `get_order`?"), "{}", run.stderr);

    let run = integ(&["call", SHOP_FILE, "Shop.get_order"], &env).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("error: `Shop.get_order` needs `id=...`"), "{}", run.stderr);

    // A secret without a value: nothing is sent, and the variable is named.
    let before = server.count();
    let run = integ(&["call", SHOP_FILE, "Shop.get_order", "id=7"], &[("CALLS_SHOP_URL", url.as_str())]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("CALLS_SHOP_TOKEN"), "{}", run.stderr);
    assert_eq!(server.count(), before);
}

// ====================================================================== the flagship example

const FLAGSHIP: &str = "examples/shop_to_crm/sync.integ";

const SHOP_TOKEN: &str = "shpat_LEAK_e2e_5f1c0a";
const CRM_CLIENT_ID: &str = "crm-client LEAK-e2e-77";
const CRM_CLIENT_SECRET: &str = "crm-secret/LEAK+e2e&93";
/// Access tokens the CRM's stand-in hands out are this plus a number.
const CRM_ACCESS: &str = "crm-at-LEAK-e2e-";

/// What the stand-ins do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Ok,
    /// The shop answers 401 and echoes the credentials it got.
    ShopUnauthorized,
    /// The shop answers 500 (with `Retry-After: 0`) and echoes the credentials.
    ShopDown,
    /// The token endpoint answers 500 and echoes the client's credentials.
    TokenDown,
    /// The token endpoint answers 401 and echoes the client's credentials.
    TokenRefused,
    /// The CRM answers 500 and echoes the token and the request body.
    CrmDown,
    /// The CRM answers 401 to every token and echoes it.
    CrmUnauthorized,
}

/// The stand-ins of the shop (under `/admin/api/2024-04`) and the CRM
/// (`/oauth/v1/token` and `/crm/v3`), on one server.
async fn flagship_server(mode: Arc<Mutex<Mode>>) -> Server {
    let orders: Json = serde_json::from_str(include_str!("../examples/shop_to_crm/fixtures/orders.json")).unwrap();
    let issued = Arc::new(Mutex::new(0));
    serve(move |seen, _| {
        let mode = *mode.lock().unwrap();
        // What a careless server sends back: the credentials it received, decoded.
        let authorization = seen.header("authorization").unwrap_or("");
        let credential = match authorization.split_once(' ') {
            Some(("Basic", encoded)) => percent_decode(&String::from_utf8_lossy(&base64_decode(encoded))),
            Some((_, token)) => token.to_owned(),
            None => String::new(),
        };
        let echo = json!({
            "a_credential": credential,
            "b_authorization": authorization,
            "c_request_body": seen.body_text(),
            "d_query": seen.query,
        });
        let echoed = |status: u16| Reply::raw(status, &echo.to_string()).header("Retry-After", "0");
        let path = seen.path.as_str();
        if let Some(rest) = path.strip_prefix("/admin/api/2024-04") {
            return match mode {
                Mode::ShopUnauthorized => echoed(401),
                Mode::ShopDown => echoed(500),
                _ if seen.header("authorization") != Some(&format!("Bearer {SHOP_TOKEN}")) => Reply::raw(401, "{}"),
                _ if rest == "/orders" => match seen.param("page_info").as_deref() {
                    None => Reply::json(json!({"orders": orders.as_array().unwrap()[..2], "next_cursor": "page 2"})),
                    Some("page 2") => Reply::json(json!({"orders": orders.as_array().unwrap()[2..], "next_cursor": null})),
                    _ => Reply::status(400),
                },
                _ => Reply::status(404),
            };
        }
        if path == "/oauth/v1/token" {
            return match mode {
                Mode::TokenDown => echoed(500),
                Mode::TokenRefused => echoed(401),
                _ => {
                    let mut issued = issued.lock().unwrap();
                    *issued += 1;
                    Reply::json(json!({"access_token": format!("{CRM_ACCESS}{}", *issued), "token_type": "bearer", "expires_in": 3600}))
                }
            };
        }
        match mode {
            Mode::CrmDown => return echoed(500),
            Mode::CrmUnauthorized => return echoed(401),
            _ => {}
        }
        if !seen.header("authorization").is_some_and(|auth| auth.starts_with(&format!("Bearer {CRM_ACCESS}"))) {
            return Reply::raw(401, "{}");
        }
        match (seen.method.as_str(), path) {
            ("PUT", "/crm/v3/contacts/by-external-id/shop%3A501") => {
                Reply::json(json!({"id": "c-501", "external_id": "shop:501", "ignored": true}))
            }
            ("POST", "/crm/v3/deals/upsert") => Reply::json(json!({"id": "d-1001"})),
            ("POST", "/crm/v3/contacts/c-501/tags") => Reply::status(204),
            _ => Reply::status(404),
        }
    })
    .await
}

fn flagship_env(url: &str) -> Vec<(String, String)> {
    vec![
        ("SHOP_URL".to_owned(), format!("{url}/admin/api/2024-04")),
        ("SHOP_TOKEN".to_owned(), SHOP_TOKEN.to_owned()),
        ("CRM_URL".to_owned(), format!("{url}/crm/v3")),
        ("CRM_TOKEN_URL".to_owned(), format!("{url}/oauth/v1/token")),
        ("CRM_CLIENT_ID".to_owned(), CRM_CLIENT_ID.to_owned()),
        ("CRM_CLIENT_SECRET".to_owned(), CRM_CLIENT_SECRET.to_owned()),
        ("HEARTBEAT_URL".to_owned(), format!("{url}/ping")),
    ]
}

/// The flagship program, read from the repository, with its stand-ins' URLs.
fn load_flagship(url: &str) -> Program {
    let loader = &mut integ_compiler::program::MemoryLoader::new()
        .with(FLAGSHIP, include_str!("../examples/shop_to_crm/sync.integ"))
        .with("examples/shared/common.integ", include_str!("../examples/shared/common.integ"));
    let analysis = integ_compiler::analyze(FLAGSHIP, loader).unwrap();
    let errors: Vec<_> = analysis.diagnostics().iter().filter(|diagnostic| diagnostic.is_error()).cloned().collect();
    assert!(errors.is_empty(), "{}", render::render(analysis.sources(), &errors, false));
    let lowered = ir::lower::lower(&analysis.program, &analysis.checked);
    let map: HashMap<String, String> = flagship_env(url).into_iter().collect();
    // Results are read whole, as `integ call` reads them.
    let options = Options {
        environment: Box::new(move |name| map.get(name).cloned()),
        read_everything: true,
        ..Options::default()
    };
    let interpreter = Interpreter::new(lowered, options).unwrap();
    let apis = interpreter.connect().unwrap();
    Program { interpreter, apis }
}

fn flagship_contact() -> Json {
    json!({
        "external_id": "shop:501",
        "email": "ana.lima@example.com",
        "first_name": "Ana",
        "last_name": "Lima",
        "full_name": "Ana Lima",
        "phone": "+14155550132",
        "lifecycle_stage": "repeat-customer",
        "marketing_opt_in": true,
        "tags": ["vip", "newsletter"],
        "address": {"street": "500 Howard St, Suite 300", "city": "San Francisco", "postal_code": "94105", "country": "US"},
        "lifetime_orders": 3,
        "source": "shop"
    })
}

/// A deal in wire form, as raw text (decimals keep their scale).
const FLAGSHIP_DEAL: &str = r#"{"external_id":"shop-order:1001","contact_external_id":"shop:501","name":"Order #1001 (2 items)","dealstage":"closedwon","value":{"amount":129.90,"currency":"USD"},"discount":{"amount":10.00,"currency":"USD"},"close_date":"2024-03-01","line_count":3,"skus":["TEE-BLK-M","MUG-01"]}"#;

#[tokio::test]
async fn the_flagship_example_sends_what_it_declares() {
    let mode = Arc::new(Mutex::new(Mode::Ok));
    let server = flagship_server(mode.clone()).await;
    let program = load_flagship(&server.url());

    // Shop.list_orders: bearer token, the written query, cursor pages.
    let drained = program.drain("Shop.list_orders", &[("updated_since", json!("2024-03-01T11:58:00Z"))]).await;
    assert!(drained.error.is_none(), "{}", drained.error_text());
    let ids: Vec<i64> = drained.records().iter().map(|order| order["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1001, 1002, 1003, 1004]);
    assert_eq!(drained.records()[0]["total_price_cents"], json!(12990));
    let query = "updated_at_min=2024-03-01T11%3A58%3A00Z&status=any&order=updated_at%20asc&limit=100";
    assert_eq!(
        server.targets(),
        [format!("/admin/api/2024-04/orders?{query}"), format!("/admin/api/2024-04/orders?{query}&page_info=page%202")]
    );
    for seen in server.seen() {
        assert_eq!(seen.header("authorization"), Some(format!("Bearer {SHOP_TOKEN}").as_str()));
        assert_eq!(seen.header_all("accept"), ["application/json"]);
    }

    // Crm.upsert_contact: a client-credentials token, then the PUT.
    let contact = flagship_contact();
    let reference =
        program.value("Crm.upsert_contact", &[("external_id", json!("shop:501")), ("contact", contact.clone())]).await;
    assert_eq!(reference.unwrap(), json!({"id": "c-501", "external_id": "shop:501"}));
    let token = &server.seen_at("/oauth/v1/token")[0];
    let basic = format!(
        "Basic {}",
        base64(format!("{}:{}", form_encode(CRM_CLIENT_ID), form_encode(CRM_CLIENT_SECRET)).as_bytes())
    );
    assert_eq!(token.header("authorization"), Some(basic.as_str()));
    assert_eq!(
        form_pairs(token.body_text()),
        pairs(&[("grant_type", "client_credentials"), ("scope", "crm.objects.contacts.write crm.objects.deals.write")])
    );
    let put = &server.seen_at("/crm/v3/contacts/by-external-id/shop%3A501")[0];
    assert_eq!(put.method, "PUT");
    assert_eq!(put.header("authorization"), Some(format!("{CRM_ACCESS}1").replace("crm", "Bearer crm").as_str()));
    assert_eq!(put.header_all("user-agent"), ["integ-shop-to-crm/1.0"]);
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert_eq!(put.body_text(), contact.to_string());

    // Crm.upsert_deal: the idempotency key is the SHA-256 of the deal's JSON, the body itself.
    let deal = program.value("Crm.upsert_deal", &[("deal", raw(FLAGSHIP_DEAL))]).await.unwrap();
    assert_eq!(deal, json!({"id": "d-1001"}));
    let post = &server.seen_at("/crm/v3/deals/upsert")[0];
    assert_eq!(post.body_text(), FLAGSHIP_DEAL);
    assert_eq!(post.header("idempotency-key"), Some(hex(&Sha256::digest(FLAGSHIP_DEAL.as_bytes())).as_str()));

    // Crm.add_tags: `body json { tags: tags }`, safe to retry without a key.
    let tags = [("contact_id", json!("c-501")), ("tags", json!(["interest-apparel", "interest-kitchen"]))];
    program.done("Crm.add_tags", &tags).await.unwrap();
    let post = &server.seen_at("/crm/v3/contacts/c-501/tags")[0];
    assert_eq!(post.body_text(), r#"{"tags":["interest-apparel","interest-kitchen"]}"#);
    assert_eq!(post.header("idempotency-key"), None);
    assert_eq!(server.seen_at("/oauth/v1/token").len(), 1, "the token is reused");
}

/// Every form in which a secret of the flagship could leak.
fn leak_needles() -> Vec<String> {
    let mut needles = Vec::new();
    for secret in [SHOP_TOKEN, CRM_CLIENT_ID, CRM_CLIENT_SECRET] {
        needles.push(secret.to_owned());
        needles.push(form_encode(secret));
        needles.push(form_encode(secret).replace('+', "%20"));
        needles.push(serde_json::to_string(secret).unwrap().trim_matches('"').to_owned());
    }
    needles.push(base64(format!("{}:{}", form_encode(CRM_CLIENT_ID), form_encode(CRM_CLIENT_SECRET)).as_bytes()));
    needles.push(base64(format!("{CRM_CLIENT_ID}:{CRM_CLIENT_SECRET}").as_bytes()));
    needles.push(CRM_ACCESS.to_owned());
    needles.push("LEAK".to_owned());
    needles
}

fn assert_no_leak(what: &str, text: &str) {
    for needle in leak_needles() {
        assert!(!text.contains(&needle), "{what} leaks `{needle}`:\n{text}");
    }
}

/// Runs `integ call` on the flagship with trace logs as JSON; checks that
/// nothing leaks and that every log line is a JSON object.
async fn flagship_call(server: &Server, args: &[&str]) -> Run {
    let mut full = vec!["--log-level", "trace", "--log-format", "json", "call", FLAGSHIP];
    full.extend_from_slice(args);
    let env = flagship_env(&server.url());
    let env: Vec<(&str, &str)> = env.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
    let run = integ(&full, &env).await;
    assert_no_leak("stdout", &run.stdout);
    assert_no_leak("stderr", &run.stderr);
    for log in json_logs(&run) {
        assert!(log["level"].is_string() && log["message"].is_string(), "{log}");
        // Left out (a discrepancy, see the report): § 16.8 names the time
        // field `time`; the lines carry `timestamp`.
        assert!(log.get("timestamp").or(log.get("time")).is_some(), "{log}");
    }
    run
}

/// The JSON log lines of a run (the final `error: ...` line is text).
fn json_logs(run: &Run) -> Vec<Json> {
    run.stderr
        .lines()
        .filter(|line| !line.starts_with("error: ") && !line.starts_with("note: "))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("a JSON log line: {line}")))
        .collect()
}

/// The last line of standard error: the error message of a failed call.
fn error_line(run: &Run) -> &str {
    run.stderr.lines().last().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_the_flagship_leaks_through_integ_call() {
    let mode = Arc::new(Mutex::new(Mode::Ok));
    let server = flagship_server(mode.clone()).await;
    let set = |value: Mode| *mode.lock().unwrap() = value;
    let contact = flagship_contact().to_string();
    let contact_arg = format!("contact={contact}");
    let deal_arg = format!("deal={FLAGSHIP_DEAL}");
    let upsert_contact = ["Crm.upsert_contact", "external_id=shop:501", contact_arg.as_str()];
    let upsert_deal = ["Crm.upsert_deal", deal_arg.as_str()];

    // Calls that succeed.
    let run = flagship_call(&server, &["Shop.list_orders", "updated_since=2024-03-01T11:58:00Z"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
    // Every request is logged at debug with the fields of § 16.8.
    let requests: Vec<Json> = json_logs(&run).into_iter().filter(|log| log.get("status").is_some()).collect();
    assert_eq!(requests.len(), 2, "{}", run.stderr);
    for log in &requests {
        assert_eq!((log["api"].as_str(), log["endpoint"].as_str()), (Some("Shop"), Some("list_orders")), "{log}");
        assert_eq!(
            (log["method"].as_str(), log["status"].as_i64(), log["attempt"].as_i64()),
            (Some("GET"), Some(200), Some(1))
        );
        assert!(
            log["url"].as_str().unwrap().starts_with(&format!("{}/admin/api/2024-04/orders?", server.url())),
            "{log}"
        );
        assert!(log["duration_ms"].is_number(), "{log}");
    }
    let run = flagship_call(&server, &upsert_contact).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.trim(), r#"{"id":"c-501","external_id":"shop:501"}"#, "{run:?}");
    let run = flagship_call(&server, &upsert_deal).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with('{') && run.stdout.lines().count() == 1, "{run:?}");

    // The shop refuses the token and echoes it.
    set(Mode::ShopUnauthorized);
    let run = flagship_call(&server, &["Shop.list_orders"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        error_line(&run).starts_with("error: Shop.list_orders failed after 1 attempt: Unauthorized (401 Unauthorized)"),
        "{}",
        run.stderr
    );
    assert!(error_line(&run).contains("<redacted>"), "the echoed token is redacted: {}", run.stderr);

    // The shop is down (5 attempts, each echoing the token).
    set(Mode::ShopDown);
    let run = flagship_call(&server, &["Shop.list_orders"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        error_line(&run)
            .starts_with("error: Shop.list_orders failed after 5 attempts: Unavailable (500 Internal Server Error)"),
        "{}",
        run.stderr
    );
    assert!(error_line(&run).contains("<redacted>"), "{}", run.stderr);

    // The token endpoint fails, echoing the client's credentials.
    set(Mode::TokenDown);
    let run = flagship_call(&server, &upsert_contact).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(error_line(&run).starts_with("error: Crm.upsert_contact failed: no credentials: "), "{}", run.stderr);
    assert!(
        error_line(&run).contains(r#"{"a_credential":"<redacted>:<redacted>","b_authorization":"Basic <redacted>""#),
        "{}",
        run.stderr
    );
    set(Mode::TokenRefused);
    let run = flagship_call(&server, &upsert_deal).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(error_line(&run).starts_with("error: Crm.upsert_deal failed: no credentials: "), "{}", run.stderr);
    assert!(error_line(&run).contains(r#""a_credential":"<redacted>:<redacted>""#), "{}", run.stderr);

    // The CRM fails, echoing the access token and the request.
    set(Mode::CrmDown);
    let run = flagship_call(&server, &upsert_contact).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(error_line(&run).contains("Unavailable (500 Internal Server Error)"), "{}", run.stderr);
    assert!(error_line(&run).contains("<redacted>"), "{}", run.stderr);
    set(Mode::CrmUnauthorized);
    let run = flagship_call(&server, &upsert_deal).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(error_line(&run).contains("Unauthorized (401 Unauthorized)"), "{}", run.stderr);
    assert!(error_line(&run).contains("<redacted>"), "{}", run.stderr);
}
