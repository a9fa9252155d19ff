//! Signature schemes against vectors made by the schemes' own reference
//! libraries (`tests/webhooks/vectors.json`, written by
//! `tests/webhooks/make_vectors.py` with the `standardwebhooks` and `stripe`
//! Python packages, and Python's `hmac` for GitHub and generic `hmac`).
//!
//! Each delivery goes, over loopback, through the router `integ run` serves
//! (`integ_runtime::webhook::router`) with the interpreter's sink
//! (`integ_compiler::interp::webhook::sink`) over an in-memory store,
//! and a clock fixed at the vectors' time: valid deliveries are accepted
//! (`202`) and queued; tampered bodies, wrong keys, stale timestamps get
//! `401`; replayed delivery ids (a flow's `dedupe:`, or the scheme's
//! `webhook-id` / `X-GitHub-Delivery`) get `200` duplicate.

use std::collections::HashMap;
use std::sync::Arc;

use integ_compiler::interp::flow::Host;
use integ_compiler::interp::webhook::{routes, sink};
use integ_compiler::interp::{Interpreter, Options};
use integ_runtime::store::{MemoryStore, Store};
use jiff::Timestamp;

const PROGRAM: &str = "tests/webhooks/vectors.integ";

struct Disk;

impl integ_compiler::program::Loader for Disk {
    fn read(&mut self, path: &str) -> Result<String, integ_compiler::program::LoadError> {
        std::fs::read_to_string(path).map_err(|error| integ_compiler::program::LoadError::Io(error.to_string()))
    }
}

#[derive(serde::Deserialize)]
struct Vectors {
    now: i64,
    secrets: HashMap<String, String>,
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    flow: String,
    path: String,
    name: String,
    headers: serde_json::Map<String, serde_json::Value>,
    body: String,
    expect: u16,
}

fn vectors() -> Vectors {
    serde_json::from_str(&std::fs::read_to_string("tests/webhooks/vectors.json").unwrap()).unwrap()
}

/// The program's webhook flows served on a loopback port with the vectors'
/// clock; returns the base URL and the store.
fn serve(runtime: &tokio::runtime::Runtime, vectors: &Vectors) -> (String, Arc<dyn Store>) {
    let analysis = integ_compiler::analyze(PROGRAM, &mut Disk).unwrap();
    assert!(!analysis.diagnostics().iter().any(|diagnostic| diagnostic.is_error()), "{PROGRAM} does not check");
    let lowered = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    let secrets = vectors.secrets.clone();
    let options = Options { environment: Box::new(move |name| secrets.get(name).cloned()), ..Options::default() };
    let interpreter = Interpreter::new(lowered, options).unwrap();
    let apis = {
        let _entered = runtime.enter();
        interpreter.connect().unwrap()
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let host = Arc::new(Host {
        interpreter: Arc::new(interpreter),
        apis: Arc::new(apis),
        store: store.clone(),
        handle: runtime.handle().clone(),
    });
    let flows: Vec<_> = host.interpreter.program.flows.iter().collect();
    let routes = routes(&host.interpreter, &flows).unwrap();
    assert_eq!(routes.len(), 7);
    let sink = Arc::new(sink(&host, &flows));
    let now = Timestamp::from_second(vectors.now).unwrap();
    let options = integ_runtime::webhook::Options { now: Arc::new(move || now) };
    let router = integ_runtime::webhook::router(routes, sink, options).unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(integ_runtime::webhook::serve(listener, router, std::future::pending()));
    (format!("http://{address}"), store)
}

#[test]
fn every_vector_is_accepted_or_refused_as_its_reference_library_says() {
    let vectors = vectors();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (base, store) = serve(&runtime, &vectors);
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    let mut accepted: HashMap<String, u64> = HashMap::new();
    let mut seen_outcomes: HashMap<(String, u16), u32> = HashMap::new();
    for case in &vectors.cases {
        let mut request = client.post(format!("{base}{}", case.path)).body(case.body.clone());
        for (name, value) in &case.headers {
            request = request.header(name, value.as_str().unwrap());
        }
        let response = runtime.block_on(request.send()).unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = serde_json::from_slice(&runtime.block_on(response.bytes()).unwrap()).unwrap();
        *seen_outcomes.entry((case.flow.clone(), status)).or_default() += 1;
        if status != case.expect {
            failures.push(format!("{} / {}: expected {}, got {status} {body}", case.flow, case.name, case.expect));
            continue;
        }
        match status {
            202 => {
                assert_eq!(body["status"], "accepted", "{body}");
                assert_eq!(body["event"].as_str().unwrap().len(), 26, "{body}");
                *accepted.entry(case.flow.clone()).or_default() += 1;
            }
            200 => assert_eq!(body, serde_json::json!({ "status": "duplicate" })),
            401 => {
                assert_eq!(body["status"], "rejected");
                let error = body["error"].as_str().unwrap();
                assert!(error.starts_with("the signature does not verify"), "{error}");
                // The answer names headers, never a signature or a secret.
                for secret in vectors.secrets.values() {
                    assert!(!error.contains(secret.as_str()), "{error}");
                }
                for value in case.headers.values() {
                    let value = value.as_str().unwrap();
                    if value.len() > 20 {
                        assert!(!error.contains(value), "{error} shows a header value");
                    }
                }
            }
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
    // Every scheme had valid, refused and (but for two) replayed deliveries.
    for flow in
        ["github_hook", "stripe_hook", "standard_hook", "shopify_hook", "slack_hook", "wide_hook", "legacy_hook"]
    {
        assert!(seen_outcomes.contains_key(&(flow.to_owned(), 202)), "{flow} accepted nothing");
        assert!(seen_outcomes.contains_key(&(flow.to_owned(), 401)), "{flow} refused nothing");
    }
    for flow in ["github_hook", "stripe_hook", "standard_hook", "shopify_hook", "slack_hook"] {
        assert!(seen_outcomes.contains_key(&(flow.to_owned(), 200)), "{flow} saw no replay");
    }
    // What was accepted, and only that, is queued.
    let mut queued: HashMap<String, u64> = store.pending_event_counts().unwrap().into_iter().collect();
    queued.retain(|_, count| *count > 0);
    assert_eq!(queued, accepted);
}

#[test]
fn a_form_body_is_queued_raw_with_its_headers_but_not_its_signature() {
    let vectors = vectors();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (base, store) = serve(&runtime, &vectors);
    let case = vectors.cases.iter().find(|case| case.flow == "slack_hook" && case.expect == 202).unwrap();
    let mut request = reqwest::Client::new().post(format!("{base}{}", case.path)).body(case.body.clone());
    for (name, value) in &case.headers {
        request = request.header(name, value.as_str().unwrap());
    }
    request = request.header("authorization", "Bearer should-not-be-kept").header("x-request-id", "r-1");
    let response = runtime.block_on(request.send()).unwrap();
    assert_eq!(response.status(), 202);
    let events = store.pending_events("slack_hook", 10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].body, case.body.as_bytes());
    assert_eq!(events[0].delivery_key.as_deref(), Some("t-1"));
    let names: Vec<&str> = events[0].headers.iter().map(|(name, _)| name.as_str()).collect();
    assert!(names.contains(&"content-type") && names.contains(&"x-request-id"), "{names:?}");
    assert!(names.contains(&"x-slack-request-timestamp"), "{names:?}");
    assert!(!names.contains(&"x-slack-signature") && !names.contains(&"authorization"), "{names:?}");
}
