//! The differential test of the two back ends' calls: every endpoint of the
//! three examples is called with the same arguments through the interpreter
//! (`Interpreter::connect_with` + `call_endpoint`) and through the generated
//! client (`Apis::configure`), against one in-process server on 127.0.0.1
//! that records every request and answers from the examples' fixtures
//! (streams over several pages). The recorded requests — method, path,
//! query, headers (auth included) and body — must be the same, in the same
//! order, and the results must encode to the same JSON.
//!
//! Secrets are set to known values through the environment lookup both
//! sides read. The HMAC signature of the ledger depends on the time: the
//! server checks it, and records whether it is valid instead of its value.

mod support;

use support::ENVIRONMENT;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use integ_compiler::interp::calls::{Outcome, Redirects};
use integ_compiler::interp::{Interpreter, Options};
use integ_compiler::ir;
use integ_compiler::program::FsLoader;
use integ_golden::{github_to_chat, shop_to_crm, stripe_to_ledger};
use integ_runtime::generated::{CallFailure, Env, Pages};
use integ_runtime::{Value, decode, encode};
use serde_json::{Value as Json, json};

/// Every api, by name, and the path its stand-in answers under.
const APIS: &[(&str, &str)] = &[
    ("Shop", "/shop"),
    ("Crm", "/crm"),
    ("Heartbeat", "/heartbeat"),
    ("GitHub", "/github"),
    ("Chat", "/chat"),
    ("Stripe", "/stripe"),
    ("Rates", "/rates"),
    ("Ledger", "/ledger"),
];

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq)]
struct Recorded {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: String,
}

struct Server {
    base: String,
    log: Mutex<Vec<Recorded>>,
}

fn fixture(path: &str) -> Json {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(path);
    let text = std::fs::read_to_string(&here).unwrap_or_else(|error| panic!("{}: {error}", here.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", here.display()))
}

fn list(json: Json) -> Vec<Json> {
    match json {
        Json::Array(items) => items,
        other => panic!("not a list: {other}"),
    }
}

fn query_value<'q>(query: &'q [(String, String)], key: &str) -> Option<&'q str> {
    query.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
}

fn ok(json: Json) -> Response {
    (StatusCode::OK, [("content-type", "application/json")], json.to_string()).into_response()
}

/// `count` records made from `items`, each with `key` made unique.
fn many(items: &[Json], count: usize, key: &str) -> Vec<Json> {
    (0..count)
        .map(|index| {
            let mut item = items[index % items.len()].clone();
            let unique = format!("{}-{index}", item[key].as_str().unwrap_or("x"));
            item[key] = Json::String(unique);
            item
        })
        .collect()
}

/// The answer to a request, from the fixtures.
fn answer(server: &Server, method: &Method, path: &str, query: &[(String, String)]) -> Response {
    let base = &server.base;
    match (method.as_str(), path) {
        ("POST", "/crm-oauth/token" | "/github-oauth/token") => {
            ok(json!({ "access_token": "test-access-token", "token_type": "bearer", "expires_in": 3600 }))
        }
        ("GET", "/shop/orders") => {
            let orders = list(fixture("shop_to_crm/fixtures/orders.json"));
            match query_value(query, "page_info") {
                None => ok(json!({ "orders": orders[..2], "next_cursor": "cursor-2" })),
                Some(_) => ok(json!({ "orders": orders[2..], "next_cursor": null })),
            }
        }
        ("GET", "/shop/customers") => {
            let customers = list(fixture("shop_to_crm/fixtures/customers.json"));
            match query_value(query, "page") {
                None => ok(json!({
                    "customers": customers[..1],
                    "next_page_url": format!("{base}/shop/customers?page=2&limit=250"),
                })),
                Some(_) => ok(json!({ "customers": customers[1..], "next_page_url": null })),
            }
        }
        ("PUT", contact) if contact.starts_with("/crm/contacts/by-external-id/") => {
            ok(json!({ "id": "contact-1", "external_id": "shop:501" }))
        }
        ("POST", "/crm/deals/upsert") => ok(json!({ "id": "deal-1" })),
        ("POST", tags) if tags.starts_with("/crm/contacts/") => StatusCode::NO_CONTENT.into_response(),
        ("GET", "/heartbeat/") => StatusCode::OK.into_response(),
        ("GET", "/github/repos/acme/widgets/issues") => {
            let issues = list(fixture("github_to_chat/fixtures/issues.json"));
            match query_value(query, "page") {
                None => {
                    let link = format!("<{base}/github/repos/acme/widgets/issues?page=2>; rel=\"next\"");
                    let mut response = ok(Json::Array(issues[..1].to_vec()));
                    if let Ok(value) = link.parse() {
                        response.headers_mut().insert("link", value);
                    }
                    response
                }
                Some(_) => ok(Json::Array(issues[1..].to_vec())),
            }
        }
        ("POST", "/chat/chat.postMessage") => {
            ok(json!({ "ts": 1_709_300_000_123_i64, "channel": "#eng-issues", "success": true }))
        }
        ("GET", "/chat/channels.list") => {
            let channels = list(fixture("github_to_chat/fixtures/channels.json"));
            match query_value(query, "offset") {
                Some("0") | None => {
                    ok(json!({ "channels": many(&channels, 100, "_id"), "offset": 0, "count": 100, "total": 103 }))
                }
                Some(_) => ok(json!({ "channels": channels, "offset": 100, "count": 3, "total": 103 })),
            }
        }
        ("GET", "/stripe/v1/balance_transactions") => {
            let data = list(fixture("stripe_to_ledger/fixtures/balance_transactions.json"));
            match query_value(query, "starting_after") {
                None => ok(json!({ "data": data[..2], "has_more": true })),
                Some(_) => ok(json!({ "data": data[2..], "has_more": false })),
            }
        }
        ("GET", "/stripe/v1/payouts") => {
            let data = list(fixture("stripe_to_ledger/fixtures/payouts.json"));
            match query_value(query, "starting_after") {
                None => ok(json!({ "data": data[..1], "has_more": true })),
                Some(_) => ok(json!({ "data": data[1..], "has_more": false })),
            }
        }
        ("POST", charge) if charge.starts_with("/stripe/v1/charges/") => ok(json!({})),
        ("POST", payout) if payout.starts_with("/stripe/v1/payouts/") => {
            ok(fixture("stripe_to_ledger/fixtures/payout_paid.json"))
        }
        ("GET", rates) if rates.starts_with("/rates/") => ok(fixture("stripe_to_ledger/fixtures/rates_usd_eur.json")),
        ("POST", "/ledger/journal-entries") => {
            ok(json!({ "entry": { "id": "je_1001", "status": "posted" }, "warnings": ["rounded"] }))
        }
        ("POST", "/ledger/bank/imports") => ok(json!({ "import_id": "imp_77", "lines": 1 })),
        ("GET", "/ledger/accounts") => {
            let accounts = list(fixture("stripe_to_ledger/fixtures/accounts.json"));
            match query_value(query, "page") {
                Some("1") => ok(json!({ "items": many(&accounts, 100, "code"), "page": 1, "total_pages": 2 })),
                _ => ok(json!({ "items": accounts, "page": 2, "total_pages": 2 })),
            }
        }
        _ => (StatusCode::NOT_FOUND, format!("no stand-in for {method} {path}")).into_response(),
    }
}

/// Headers that depend on the connection or the time, left out of the comparison.
const UNCOMPARED: &[&str] = &["date", "connection", "keep-alive"];

/// Whether the ledger's HMAC signature is right for this request.
fn ledger_signature_valid(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let timestamp = header("x-ledger-timestamp");
    let digest = integ_runtime::natives::hash::sha256(&String::from_utf8_lossy(body));
    let paths = [uri.path().to_owned(), uri.path_and_query().map(|path| path.as_str().to_owned()).unwrap_or_default()];
    paths.iter().any(|path| {
        let message = format!("{method}\n{path}\n{timestamp}\n{digest}");
        let expected = integ_runtime::http::hmac_signature(
            integ_runtime::http::HmacAlgorithm::Sha256,
            integ_runtime::http::SignatureEncoding::Base64,
            b"test-ledger-signing",
            message.as_bytes(),
        );
        expected == header("x-ledger-signature")
    })
}

async fn record(
    State(server): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let mut recorded_headers: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !UNCOMPARED.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    if headers.contains_key("x-ledger-signature") {
        let valid = ledger_signature_valid(&method, &uri, &headers, &body);
        for (name, value) in &mut recorded_headers {
            if name == "x-ledger-signature" {
                *value = if valid { "<valid signature>".to_owned() } else { format!("<INVALID {value}>") };
            } else if name == "x-ledger-timestamp" {
                *value = "<timestamp>".to_owned();
            }
        }
    }
    recorded_headers.sort();
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers: recorded_headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    if let Ok(mut log) = server.log.lock() {
        log.push(recorded);
    }
    answer(&server, &method, uri.path(), &query)
}

async fn start() -> Arc<Server> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|error| panic!("bind: {error}"));
    let address = listener.local_addr().unwrap_or_else(|error| panic!("{error}"));
    let server = Arc::new(Server { base: format!("http://{address}"), log: Mutex::new(Vec::new()) });
    let app = axum::Router::new().fallback(record).with_state(server.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    server
}

fn take_log(server: &Server) -> Vec<Recorded> {
    server.log.lock().map(|mut log| std::mem::take(&mut *log)).unwrap_or_default()
}

fn environment() -> HashMap<String, String> {
    ENVIRONMENT.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

/// Base and token URLs of every api, on the test server.
/// Every api to the recording server (one type serves both back ends).
fn redirects(server: &Server) -> Redirects {
    let base_urls = APIS.iter().map(|(api, path)| ((*api).to_owned(), format!("{}{path}", server.base))).collect();
    let token_urls = [("Crm", "/crm-oauth/token"), ("GitHub", "/github-oauth/token")]
        .iter()
        .map(|(api, path)| ((*api).to_owned(), format!("{}{path}", server.base)))
        .collect();
    Redirects { base_urls, token_urls }
}

/// A call: api, endpoint, arguments as JSON (decoded by each back end into its values).
struct Call {
    api: &'static str,
    endpoint: &'static str,
    args: Vec<Json>,
}

fn call(api: &'static str, endpoint: &'static str, args: Vec<Json>) -> Call {
    Call { api, endpoint, args }
}

/// What a call gave: a value's JSON, or the JSON of each page's records.
#[derive(Debug, PartialEq)]
enum Got {
    Value(Json),
    Pages(Vec<Vec<Json>>),
    Failed(String),
}

/// Runs `calls` through the interpreter of `root`; gives the results.
async fn interpreted(root: &str, server: &Server, calls: &[Call]) -> Vec<Got> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(root).to_string_lossy().into_owned();
    let analysis = integ_compiler::analyze(&root, &mut FsLoader).unwrap_or_else(|error| panic!("{root}: {error}"));
    let program = ir::lower::lower(&analysis.program, &analysis.checked);
    let variables = environment();
    // Whole results, as `integ call` prints them: generated structs decode every field.
    let options = Options {
        environment: Box::new(move |name| variables.get(name).cloned()),
        read_everything: true,
        ..Options::default()
    };
    let interpreter = Interpreter::new(program.clone(), options).unwrap_or_else(|error| panic!("{root}: {error}"));
    let apis = interpreter.connect_with(&redirects(server)).unwrap_or_else(|error| panic!("connect: {error}"));
    let mut results = Vec::new();
    for call in calls {
        let api_index =
            program.apis.iter().position(|api| api.name == call.api).unwrap_or_else(|| panic!("{}", call.api));
        let api = &program.apis[api_index];
        let endpoint_index = api
            .endpoints
            .iter()
            .position(|endpoint| endpoint.name == call.endpoint)
            .unwrap_or_else(|| panic!("{}", call.endpoint));
        let endpoint = &api.endpoints[endpoint_index];
        let args: Vec<Value> = call
            .args
            .iter()
            .zip(&endpoint.params)
            .map(|(json, (_, ty))| {
                decode::from_json(json, &interpreter.desc(ty), &interpreter.schema, "arg")
                    .unwrap_or_else(|error| panic!("{}.{}: {error}", call.api, call.endpoint))
            })
            .collect();
        let outcome = interpreter.call_endpoint(&apis, api_index as u32, endpoint_index as u32, args).await;
        let encode = |value: &Value, ty: &ir::api::Result| -> Json {
            let ty = match ty {
                ir::api::Result::Single { ty, .. } => ty,
                ir::api::Result::Stream { item, .. } => item,
                ir::api::Result::Unit => return Json::Null,
            };
            encode::to_json_value(value, &interpreter.desc(ty), &interpreter.schema)
                .unwrap_or_else(|error| panic!("encode: {error}"))
        };
        results.push(match outcome {
            Err(failure) => Got::Failed(failure.to_string()),
            Ok(Outcome::Done) => Got::Value(Json::Null),
            Ok(Outcome::Value(value)) => Got::Value(encode(&value, &endpoint.result)),
            Ok(Outcome::Stream(mut stream)) => {
                let mut pages = Vec::new();
                while let Some(page) = stream.next_page(&interpreter).await {
                    match page {
                        Ok(records) => {
                            pages.push(records.iter().map(|record| encode(record, &endpoint.result)).collect())
                        }
                        Err(failure) => {
                            pages.push(vec![Json::String(format!("failed: {failure}"))]);
                            break;
                        }
                    }
                }
                Got::Pages(pages)
            }
        });
    }
    results
}

fn arg<T: serde::de::DeserializeOwned>(json: &Json) -> T {
    serde_json::from_value(json.clone()).unwrap_or_else(|error| panic!("argument {json}: {error}"))
}

/// An argument in a wire format (dates, whose Rust types have no serde impls).
fn wired<F: integ_runtime::wire::Format>(json: &Json) -> F::Value {
    integ_runtime::wire::json::<F>(json.to_string().as_bytes(), "arg").unwrap_or_else(|error| panic!("{json}: {error}"))
}

fn value<T: serde::Serialize>(result: Result<T, CallFailure>) -> Got {
    match result {
        Ok(value) => Got::Value(serde_json::to_value(&value).unwrap_or_else(|error| panic!("{error}"))),
        Err(failure) => Got::Failed(failure.to_string()),
    }
}

async fn pages<T: serde::Serialize>(result: Result<Pages<T>, CallFailure>) -> Got {
    let mut stream = match result {
        Ok(stream) => stream,
        Err(failure) => return Got::Failed(failure.to_string()),
    };
    let mut pages = Vec::new();
    while let Some(page) = stream.next_page().await {
        match page {
            Ok(records) => pages.push(
                records
                    .iter()
                    .map(|record| serde_json::to_value(record).unwrap_or_else(|error| panic!("{error}")))
                    .collect(),
            ),
            Err(error) => {
                pages.push(vec![Json::String(format!("failed: {error}"))]);
                break;
            }
        }
    }
    Got::Pages(pages)
}

fn generated_env() -> Env {
    Env::from_pairs(environment())
}

async fn shop_generated(server: &Server, calls: &[Call]) -> Vec<Got> {
    use integ_runtime::wire::{DateTime, Opt};
    use shop_to_crm::*;
    let apis = Apis::configure(&generated_env(), &redirects(server)).unwrap_or_else(|error| panic!("{error}"));
    let mut results = Vec::new();
    for call in calls {
        let a = &call.args;
        results.push(match (call.api, call.endpoint) {
            ("Shop", "list_orders") => pages(apis.shop.list_orders(&wired::<Opt<DateTime>>(&a[0]))).await,
            ("Shop", "list_customers") => pages(apis.shop.list_customers()).await,
            ("Crm", "upsert_contact") => value(apis.crm.upsert_contact(&arg(&a[0]), &arg::<Contact>(&a[1])).await),
            ("Crm", "upsert_deal") => value(apis.crm.upsert_deal(&arg::<Deal>(&a[0])).await),
            ("Crm", "add_tags") => value(apis.crm.add_tags(&arg(&a[0]), &arg::<Vec<String>>(&a[1])).await),
            ("Heartbeat", "ping") => value(apis.heartbeat.ping().await),
            (api, endpoint) => panic!("no generated call for {api}.{endpoint}"),
        });
    }
    results
}

async fn github_generated(server: &Server, calls: &[Call]) -> Vec<Got> {
    use github_to_chat::*;
    use integ_runtime::wire::{DateTime, Opt};
    let apis = Apis::configure(&generated_env(), &redirects(server)).unwrap_or_else(|error| panic!("{error}"));
    let mut results = Vec::new();
    for call in calls {
        let a = &call.args;
        results.push(match (call.api, call.endpoint) {
            ("GitHub", "list_issues") => {
                // `issue_state` has a default: left out, it is `None`.
                let state: Option<String> = a.get(3).map(arg);
                let since = wired::<Opt<DateTime>>(&a[2]);
                pages(apis.git_hub.list_issues(&arg(&a[0]), &arg(&a[1]), &since, state.as_ref())).await
            }
            ("Chat", "post_message") => value(apis.chat.post_message(&arg::<ChatMessage>(&a[0])).await),
            ("Chat", "list_channels") => pages(apis.chat.list_channels()).await,
            (api, endpoint) => panic!("no generated call for {api}.{endpoint}"),
        });
    }
    results
}

async fn stripe_generated(server: &Server, calls: &[Call]) -> Vec<Got> {
    use integ_runtime::wire;
    use stripe_to_ledger::*;
    let apis = Apis::configure(&generated_env(), &redirects(server)).unwrap_or_else(|error| panic!("{error}"));
    let mut results = Vec::new();
    for call in calls {
        let a = &call.args;
        results.push(match (call.api, call.endpoint) {
            ("Stripe", "list_balance_transactions") => pages(apis.stripe.list_balance_transactions(&arg(&a[0]))).await,
            ("Stripe", "list_payouts") => pages(apis.stripe.list_payouts(&arg(&a[0]))).await,
            ("Stripe", "tag_charge") => value(apis.stripe.tag_charge(&arg(&a[0]), &arg(&a[1])).await),
            ("Stripe", "tag_payout") => {
                value(apis.stripe.tag_payout(&arg(&a[0]), &arg::<PayoutExportMetadata>(&a[1])).await)
            }
            ("Rates", "get_rates") => {
                value(apis.rates.get_rates(&arg(&a[0]), &wired::<wire::Date>(&a[1]), &arg::<Vec<String>>(&a[2])).await)
            }
            ("Ledger", "post_entry") => value(apis.ledger.post_entry(&arg::<JournalEntry>(&a[0])).await),
            ("Ledger", "import_payout") => value(apis.ledger.import_payout(&arg::<PayoutBatch>(&a[0])).await),
            ("Ledger", "list_accounts") => pages(apis.ledger.list_accounts()).await,
            (api, endpoint) => panic!("no generated call for {api}.{endpoint}"),
        });
    }
    results
}

/// Compares the two back ends' requests and results, request by request.
fn compare(
    program: &str,
    calls: &[Call],
    interpreted: (Vec<Recorded>, Vec<Got>),
    generated: (Vec<Recorded>, Vec<Got>),
) {
    let (interpreter_requests, interpreter_results) = interpreted;
    let (generated_requests, generated_results) = generated;
    for (index, (a, b)) in interpreter_requests.iter().zip(&generated_requests).enumerate() {
        assert_eq!(a, b, "{program}: request {index} differs (left: interpreter, right: generated)");
    }
    assert_eq!(
        interpreter_requests.len(),
        generated_requests.len(),
        "{program}: the back ends sent different numbers of requests"
    );
    for ((call, a), b) in calls.iter().zip(&interpreter_results).zip(&generated_results) {
        assert_eq!(a, b, "{program}: {}.{} gave different results", call.api, call.endpoint);
        if let Got::Failed(message) = a {
            panic!("{program}: {}.{} failed: {message}", call.api, call.endpoint);
        }
    }
    if std::env::var_os("INTEG_SHOW_REQUESTS").is_some() {
        eprintln!("{program}: {interpreter_requests:#?}\n{interpreter_results:#?}");
    }
    for request in &interpreter_requests {
        assert!(
            request.headers.iter().all(|(_, value)| !value.starts_with("<INVALID")),
            "{program}: a bad HMAC signature: {request:#?}"
        );
    }
    // Every stream was read over more than one page.
    for (call, result) in calls.iter().zip(&interpreter_results) {
        if let Got::Pages(pages) = result {
            assert!(pages.len() >= 2, "{program}: {}.{} gave {} page(s)", call.api, call.endpoint, pages.len());
        }
    }
}

fn covered(program: &str, calls: &[Call], expected: &[&str]) {
    let mut names: Vec<String> = calls.iter().map(|call| format!("{}.{}", call.api, call.endpoint)).collect();
    names.sort();
    names.dedup();
    let mut expected: Vec<String> = expected.iter().map(|name| (*name).to_owned()).collect();
    expected.sort();
    assert_eq!(names, expected, "{program}: every endpoint is called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shop_to_crm_requests_are_the_same() {
    let server = start().await;
    let contact = json!({
        "external_id": "shop:501", "email": "ana.lima@example.com", "first_name": "Ana", "last_name": "Lima",
        "full_name": "Ana Lima", "phone": "+14155550132", "lifecycle_stage": "repeat-customer",
        "marketing_opt_in": true, "tags": ["vip", "newsletter"],
        "address": { "street": "500 Howard St, Suite 300", "city": "San Francisco", "postal_code": "94105", "country": "US" },
        "lifetime_orders": 3, "source": "shop"
    });
    let deal = json!({
        "external_id": "shop-order:1001", "contact_external_id": "shop:501", "name": "Order #1001 (2 items)",
        "dealstage": "closedwon", "value": { "amount": 129.90, "currency": "USD" },
        "discount": { "amount": 10.00, "currency": "USD" }, "close_date": "2024-03-01", "line_count": 3,
        "skus": ["TEE-BLK-M", "MUG-01"], "note": "Gift wrap, please"
    });
    let calls = vec![
        call("Shop", "list_orders", vec![json!("2024-03-01T10:00:00Z")]),
        call("Shop", "list_orders", vec![Json::Null]),
        call("Shop", "list_customers", vec![]),
        call("Crm", "upsert_contact", vec![json!("shop:501"), contact]),
        call("Crm", "upsert_deal", vec![deal]),
        call("Crm", "add_tags", vec![json!("contact-1"), json!(["interest-apparel", "interest-home goods"])]),
        call("Heartbeat", "ping", vec![]),
    ];
    covered(
        "shop_to_crm",
        &calls,
        &[
            "Shop.list_orders",
            "Shop.list_customers",
            "Crm.upsert_contact",
            "Crm.upsert_deal",
            "Crm.add_tags",
            "Heartbeat.ping",
        ],
    );
    let interpreter_results = interpreted("../../examples/shop_to_crm/sync.integ", &server, &calls).await;
    let interpreter_requests = take_log(&server);
    let generated_results = shop_generated(&server, &calls).await;
    let generated_requests = take_log(&server);
    assert!(interpreter_requests.len() >= 10, "{interpreter_requests:#?}");
    compare(
        "shop_to_crm",
        &calls,
        (interpreter_requests, interpreter_results),
        (generated_requests, generated_results),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_to_chat_requests_are_the_same() {
    let server = start().await;
    let message = json!({
        "channel": "#eng-issues", "text": "*Opened* acme/widgets#1347: Token leaks in debug log",
        "attachments": [{
            "title": "#1347 Token leaks", "title_link": "https://github.example.com/acme/widgets/issues/1347",
            "text": null, "color": "#2EB67D",
            "fields": [{ "title": "Labels", "value": "bug, security", "short": true }]
        }],
        "dedupe_id": "issue-2000001347-opened"
    });
    let calls = vec![
        call(
            "GitHub",
            "list_issues",
            vec![json!("acme"), json!("widgets"), json!("2024-03-01T00:00:00Z"), json!("all")],
        ),
        call("GitHub", "list_issues", vec![json!("acme"), json!("widgets"), Json::Null, json!("open")]),
        call("GitHub", "list_issues", vec![json!("acme"), json!("widgets"), Json::Null]),
        call("Chat", "post_message", vec![message]),
        call("Chat", "list_channels", vec![]),
    ];
    covered("github_to_chat", &calls, &["GitHub.list_issues", "Chat.post_message", "Chat.list_channels"]);
    let interpreter_results = interpreted("../../examples/github_to_chat/notify.integ", &server, &calls).await;
    let interpreter_requests = take_log(&server);
    let generated_results = github_generated(&server, &calls).await;
    let generated_requests = take_log(&server);
    assert!(interpreter_requests.len() >= 8, "{interpreter_requests:#?}");
    compare(
        "github_to_chat",
        &calls,
        (interpreter_requests, interpreter_results),
        (generated_requests, generated_results),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_to_ledger_requests_are_the_same() {
    let server = start().await;
    let entry = json!({
        "external_id": "stripe:txn_1OqXyZ2eZvKYlo2C0a1b2c3d", "entry_date": "2024-03-01", "currency": "EUR",
        "memo": "Order 1001", "reference": "ch_3OqXyZ2eZvKYlo2C1x2y3z4w",
        "lines": [
            { "account": "1210", "debit": 86.82, "credit": 0, "description": "Stripe balance" },
            { "account": "4000", "debit": 0, "credit": 89.50, "description": "Order 1001" },
            { "account": "6810", "debit": 2.68, "credit": 0, "description": "Stripe fees" }
        ],
        "original": { "amount": 100.00, "currency": "USD" }, "fx_rate": 0.895
    });
    let batch = json!({
        "PayoutId": "po_1OrA9d2eZvKYlo2CkLm3Np4q", "Reference": "ACME 2024-03-04 & <co>", "ValueDate": "2024-03-04",
        "Amount": { "amount": 1234.56, "currency": "USD" }, "BankAccount": "1200", "ClearingAccount": "1210"
    });
    let meta = json!({ "metadata[ledger_import_id]": "imp_77", "metadata[exported_at]": 1_709_510_400 });
    let calls = vec![
        call("Stripe", "list_balance_transactions", vec![json!(1_709_251_200)]),
        call("Stripe", "list_balance_transactions", vec![Json::Null]),
        call("Stripe", "list_payouts", vec![json!(1_709_251_200)]),
        call("Stripe", "tag_charge", vec![json!("ch_3OqXyZ2eZvKYlo2C1x2y3z4w"), json!("je 1001/ü")]),
        call("Stripe", "tag_payout", vec![json!("po_1OrA9d2eZvKYlo2CkLm3Np4q"), meta]),
        call("Rates", "get_rates", vec![json!("USD"), json!("2024-03-01"), json!(["EUR", "GBP"])]),
        call("Ledger", "post_entry", vec![entry]),
        call("Ledger", "import_payout", vec![batch]),
        call("Ledger", "list_accounts", vec![]),
    ];
    covered(
        "stripe_to_ledger",
        &calls,
        &[
            "Stripe.list_balance_transactions",
            "Stripe.list_payouts",
            "Stripe.tag_charge",
            "Stripe.tag_payout",
            "Rates.get_rates",
            "Ledger.post_entry",
            "Ledger.import_payout",
            "Ledger.list_accounts",
        ],
    );
    let interpreter_results = interpreted("../../examples/stripe_to_ledger/export.integ", &server, &calls).await;
    let interpreter_requests = take_log(&server);
    let generated_results = stripe_generated(&server, &calls).await;
    let generated_requests = take_log(&server);
    assert!(interpreter_requests.len() >= 12, "{interpreter_requests:#?}");
    compare(
        "stripe_to_ledger",
        &calls,
        (interpreter_requests, interpreter_results),
        (generated_requests, generated_results),
    );
}
