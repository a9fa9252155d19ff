//! The webhook flows served by both back ends: `integ run --listen`'s
//! router, queue and workers (the interpreter's) and the generated
//! `webhooks()` (a router to mount in an axum app, and `work()`).
//!
//! Each back end gets the same deliveries over loopback, with its own store
//! and stand-ins; what they answered, and once their workers drained the
//! queues, what they did — runs, committed states, dead letters (with the
//! event's headers and raw body), writes — must be the same. The GitHub
//! example's events are accepted by a server that is then stopped before
//! any ran, and run by a new one on the same SQLite store: each exactly once.
//! And every signature vector of tests/webhooks/vectors.json gets from the
//! generated router the answer its reference library expects.

mod support;

use support::{ENVIRONMENT, without_ports};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use integ_compiler::interp::standin::{EndpointSetup, Faults, StandInOptions, StandIns};
use integ_compiler::interp::{Interpreter, Options, flow, webhook};
use integ_compiler::program::FsLoader;
use integ_golden::{github_to_chat, hooks};
use integ_runtime::generated::{Env, FlowHost, Redirects};
use integ_runtime::store::{EventId, MemoryStore, QueuedEvent, SqliteStore, Store};
use integ_runtime::webhook::signature::{Algorithm, Encoding, sign};
use jiff::Timestamp;
use serde_json::{Value as Json, json};
use tokio::task::JoinHandle;

const HOOKS: &str = "tests/golden/programs/hooks.integ";
const GITHUB: &str = "examples/github_to_chat/notify.integ";
/// The webhook secret of `support::ENVIRONMENT`.
const GITHUB_SECRET: &str = "test-webhook-secret";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn interpreter(root: &str) -> Arc<Interpreter> {
    // The generated code names files relative to the repository, as they were generated.
    std::env::set_current_dir(repo(".")).unwrap();
    let analysis = integ_compiler::analyze(root, &mut FsLoader).unwrap_or_else(|_| panic!("{root} does not load"));
    assert!(!analysis.diagnostics().iter().any(|diagnostic| diagnostic.is_error()), "{root} does not check");
    let program = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    let environment: BTreeMap<String, String> =
        ENVIRONMENT.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
    let options = Options { environment: Box::new(move |name| environment.get(name).cloned()), ..Options::default() };
    Arc::new(Interpreter::new(program, options).unwrap_or_else(|error| panic!("{root}: {error}")))
}

/// A server of one back end's webhook flows, with its workers.
struct Served {
    base: String,
    store: Arc<dyn Store>,
    stop: Arc<AtomicBool>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Served {
    async fn start(
        router: axum::Router,
        store: Arc<dyn Store>,
        stop: Arc<AtomicBool>,
        workers: Vec<JoinHandle<()>>,
    ) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut tasks = workers;
        tasks.push(tokio::spawn(async move {
            let _ = integ_runtime::webhook::serve(listener, router, async move {
                let _ = stopped.await;
            })
            .await;
        }));
        Served { base, store, stop, shutdown: Some(shutdown), tasks }
    }

    /// The interpreter's server (`integ run --listen`), with workers when `work`.
    async fn interpreted(
        interpreter: Arc<Interpreter>,
        redirects: &Redirects,
        store: Arc<dyn Store>,
        work: bool,
    ) -> Served {
        let apis = Arc::new(interpreter.connect_with(redirects).unwrap_or_else(|error| panic!("{error}")));
        let host = Arc::new(flow::Host {
            interpreter: interpreter.clone(),
            apis,
            store: store.clone(),
            handle: tokio::runtime::Handle::current(),
        });
        let flows: Vec<_> = interpreter.program.flows.iter().filter(|flow| flow.webhook.is_some()).collect();
        let routes = webhook::routes(&interpreter, &flows).unwrap();
        let sink = Arc::new(webhook::sink(&host, &flows));
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        if work {
            for flow in &flows {
                let wake = sink.wake(&flow.name).unwrap();
                workers.push(tokio::spawn(webhook::work(host.clone(), flow.name.clone(), wake, stop.clone())));
            }
        }
        let router = integ_runtime::webhook::router(routes, sink, integ_runtime::webhook::Options::default()).unwrap();
        Served::start(router, store, stop, workers).await
    }

    /// The generated `webhooks()`, with `work()` when `work`.
    async fn generated(webhooks: integ_runtime::generated::Webhooks, host: &FlowHost, work: bool) -> Served {
        let mut workers = Vec::new();
        if work {
            workers.push(tokio::spawn(webhooks.work()));
        }
        Served::start(webhooks.router(), host.store().clone(), host.stop_flag(), workers).await
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Json {
        let mut request = reqwest::Client::new().post(format!("{}{path}", self.base)).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let mut answer: Json = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        if answer["event"].is_string() {
            answer["event"] = json!("<id>");
        }
        if let Some(error) = answer["error"].as_str() {
            answer["error"] = json!(decode_error(error));
        }
        json!({ "status": status, "answer": answer })
    }

    /// Waits (boundedly) until every queue is empty.
    async fn drain(&self) {
        for _ in 0..400 {
            let pending = self.store.pending_event_counts().unwrap();
            if pending.iter().all(|(_, count)| *count == 0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the queues did not drain: {:?}", self.store.pending_event_counts());
    }

    /// Stops the server and the workers (the event in flight finishes).
    async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        for task in self.tasks.drain(..) {
            tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap();
        }
    }
}

/// A decode error without the decoder's own words, which differ: the
/// interpreter's decoder names the member path (`event.id: expected
/// String, found number 5`), the generated code's is serde's.
fn decode_error(message: &str) -> String {
    for lead in ["the body does not decode as `", "the event no longer decodes as the payload"] {
        if let Some(start) = message.find(lead)
            && let Some(colon) = message[start + lead.len()..].find(": ")
        {
            return format!("{}: <decode error>", &message[..start + lead.len() + colon]);
        }
    }
    message.to_owned()
}

/// What one back end did, once its queues drained.
#[derive(Debug, PartialEq)]
struct Outcome {
    answers: Vec<Json>,
    runs: Vec<Json>,
    states: BTreeMap<String, BTreeMap<String, String>>,
    dead_letters: Vec<Json>,
    writes: Vec<Json>,
}

fn observe(store: &dyn Store, flows: &[&str], answers: Vec<Json>, stand_ins: Option<&StandIns>) -> Outcome {
    let mut runs: Vec<(String, Timestamp, Json)> = store
        .recent_runs(None, 1000)
        .unwrap()
        .into_iter()
        .map(|run| {
            let json = json!({
                "flow": run.flow,
                "trigger": run.trigger.to_string(),
                "outcome": run.outcome.map(|outcome| outcome.as_str().to_owned()),
                "read": run.counters.read,
                "written": run.counters.written,
                "skipped": run.counters.skipped,
                "dead_letters": run.counters.dead_letters,
                "error": run.error,
            });
            (run.flow, run.started_at, json)
        })
        .collect();
    runs.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let states =
        flows.iter().map(|flow| ((*flow).to_owned(), store.load_state(flow).unwrap().into_iter().collect())).collect();
    let mut dead_letters = Vec::new();
    for summary in store.dead_letters(None).unwrap() {
        let letter = store.dead_letter(summary.id).unwrap().unwrap();
        let record = letter.record;
        let input = match record.input {
            integ_runtime::store::UnitInput::Event { headers, body } => {
                // The port of `host` differs between the two servers.
                let headers: BTreeMap<String, String> =
                    headers.into_iter().filter(|(name, _)| name != "host").collect();
                json!({ "headers": headers, "body": String::from_utf8_lossy(&body) })
            }
            integ_runtime::store::UnitInput::Json(text) => json!(text),
            integ_runtime::store::UnitInput::None => Json::Null,
        };
        dead_letters.push(json!({
            "flow": letter.flow,
            "unit": record.unit.as_str(),
            "input": input,
            "error": record.failure.error,
            "message": without_ports(&decode_error(&record.failure.message)),
            "state": record.state,
        }));
    }
    dead_letters.sort_by_key(|letter| letter.to_string());
    let writes = stand_ins
        .map(|stand_ins| {
            let mut writes: Vec<Json> = stand_ins
                .all_writes()
                .into_iter()
                .map(|write| json!({ "path": write.path, "body": String::from_utf8_lossy(&write.body) }))
                .collect();
            writes.sort_by_key(|write| write.to_string());
            writes
        })
        .unwrap_or_default();
    let runs = runs.into_iter().map(|(_, _, json)| json).collect();
    Outcome { answers, runs, states, dead_letters, writes }
}

/// An event of `counted` queued directly, as if accepted by an earlier
/// version of the program: its body no longer decodes.
fn stale_event() -> QueuedEvent {
    QueuedEvent {
        id: EventId::generate(),
        flow: "counted".into(),
        received_at: Timestamp::now(),
        headers: vec![("content-type".into(), "application/json".into()), ("x-request-id".into(), "r-9".into())],
        body: br#"{"id": 7, "kind": "old"}"#.to_vec(),
        delivery_key: Some("stale".into()),
    }
}

/// The deliveries of the `hooks` program, and what each back end answered.
async fn deliver_hooks(served: &Served) -> Vec<Json> {
    let json = [("content-type", "application/json"), ("x-request-id", "r-1")];
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let mut answers = Vec::new();
    for body in [
        r#"{"id": "a", "kind": "ok", "amount": 4}"#,
        r#"{"id": "a", "kind": "ok", "amount": 4}"#,
        r#"{"id": "b", "kind": "fail"}"#,
        r#"{"id": "c", "kind": "ok", "amount": 0}"#,
        r#"{"id": "d", "kind": "ok"}"#,
        r#"{"id": 5, "kind": "ok"}"#,
    ] {
        answers.push(served.post("/hooks/counted", &json, body.as_bytes()).await);
    }
    let large = format!(r#"{{"id": "e", "kind": "{}"}}"#, "x".repeat(3000));
    answers.push(served.post("/hooks/counted", &json, large.as_bytes()).await);
    answers.push(served.post("/hooks/counted", &[("content-type", "text/plain")], b"{}").await);
    answers.push(served.post("/hooks/commands", &form, b"user_name=ann&text=hello+there").await);
    answers.push(served.post("/hooks/commands", &form, b"user_name=ann&text=hello+there").await);
    answers.push(served.post("/hooks/commands", &form, b"user_name=bob").await);
    answers.push(served.post("/hooks/nowhere", &json, b"{}").await);
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_events_run_the_same_in_both_back_ends() {
    let flows = ["counted", "commands"];
    let interpreter = interpreter(HOOKS);

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store.enqueue_event(&stale_event()).unwrap();
    let served = Served::interpreted(interpreter, &Redirects::default(), store.clone(), true).await;
    let answers = deliver_hooks(&served).await;
    served.drain().await;
    served.stop().await;
    let by_interpreter = observe(&*store, &flows, answers, None);

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store.enqueue_event(&stale_event()).unwrap();
    let host = FlowHost::new(store.clone());
    let env = Env::from_pairs(ENVIRONMENT.iter().copied());
    let apis = hooks::Apis::configure(&env, &Redirects::default()).unwrap();
    let served = Served::generated(hooks::webhooks(&apis, &host, &env).unwrap(), &host, true).await;
    let answers = deliver_hooks(&served).await;
    served.drain().await;
    served.stop().await;
    let by_generated = observe(&*store, &flows, answers, None);

    if std::env::var_os("INTEG_SHOW_FLOWS").is_some() {
        eprintln!("{by_interpreter:#?}");
    }
    assert_eq!(by_interpreter.answers, by_generated.answers);
    assert_eq!(by_interpreter.runs, by_generated.runs);
    assert_eq!(by_interpreter.states, by_generated.states);
    assert_eq!(by_interpreter.dead_letters, by_generated.dead_letters);

    // And what they did is what § 12.3 says.
    let statuses: Vec<u64> = by_generated.answers.iter().map(|answer| answer["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [202, 200, 202, 202, 202, 400, 413, 415, 202, 200, 400, 404]);
    let counted = &by_generated.states["counted"];
    assert_eq!(counted.get("seen").map(String::as_str), Some("2"));
    assert_eq!(counted.get("last").map(String::as_str), Some(r#""d:100""#));
    assert_eq!(by_generated.states["commands"].get("commands").map(String::as_str), Some(r#"["ann: hello there"]"#));
    let errors: Vec<(&str, &str)> = by_generated
        .dead_letters
        .iter()
        .map(|letter| (letter["unit"].as_str().unwrap(), letter["error"].as_str().unwrap()))
        .collect();
    let mut errors = errors;
    errors.sort();
    assert_eq!(errors, [("event", "Decode"), ("event", "Evaluation"), ("event", "Failed")]);
    for letter in &by_generated.dead_letters {
        let headers = &letter["input"]["headers"];
        assert!(headers["x-request-id"].is_string(), "{letter}");
    }
    // One run per event: a, b, c, d, the stale one, and ann's command.
    assert_eq!(by_generated.runs.len(), 6, "{:#?}", by_generated.runs);
    assert!(by_generated.runs.iter().all(|run| run["read"] == 1 && run["trigger"] == "webhook"));
}

/// Unique scratch directories for SQLite stores.
fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let dir = std::env::temp_dir().join(format!("integ-golden-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The GitHub example's event fixtures, signed as GitHub signs deliveries.
async fn deliver_github(served: &Served) -> Vec<Json> {
    let mut answers = Vec::new();
    let fixtures = ["issue_opened.json", "issue_edited.json", "issue_closed.json", "pull_request_opened.json"];
    // The first one twice: a redelivery (same body, new delivery id) is a duplicate by the flow's `dedupe:`.
    for (delivery, fixture) in fixtures.iter().chain(&fixtures[..1]).enumerate() {
        let body = std::fs::read(repo(&format!("examples/github_to_chat/fixtures/{fixture}"))).unwrap();
        let signature =
            format!("sha256={}", sign(Algorithm::Sha256, Encoding::Hex, GITHUB_SECRET.as_bytes(), &[&body]));
        let delivery = format!("d-{delivery}");
        let headers = [
            ("content-type", "application/json"),
            ("x-github-event", "issues"),
            ("x-github-delivery", delivery.as_str()),
            ("x-hub-signature-256", signature.as_str()),
        ];
        answers.push(served.post("/hooks/github", &headers, &body).await);
    }
    // Tampered: refused, nothing queued.
    let body = br#"{"action": "opened"}"#;
    let signature = format!("sha256={}", sign(Algorithm::Sha256, Encoding::Hex, b"wrong secret", &[body]));
    answers.push(served.post("/hooks/github", &[("x-hub-signature-256", signature.as_str())], body).await);
    answers
}

async fn stand_ins(interpreter: &Interpreter) -> StandIns {
    // Messages to #security are refused with 422: their event is dead-lettered.
    let reject: integ_compiler::interp::standin::Reject =
        Arc::new(|write| String::from_utf8_lossy(&write.body).contains("#security"));
    let faults = Faults { reject: Some(reject), ..Faults::default() };
    let options =
        StandInOptions { fixtures: Some(repo("examples/github_to_chat/fixtures")), ..StandInOptions::default() }
            .endpoint("Chat.post_message", EndpointSetup { faults, ..EndpointSetup::default() });
    StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), options)
        .await
        .unwrap_or_else(|error| panic!("stand-ins: {error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_accepted_before_a_stop_run_once_after_the_restart_in_both_back_ends() {
    let interpreter = interpreter(GITHUB);
    let flows = ["issue_events"];

    // The interpreter: accepted by one server, run by the next, on one SQLite file.
    let dir = scratch("interpreted");
    let stand_ins_one = stand_ins(&interpreter).await;
    let open = |dir: &Path| -> Arc<dyn Store> { Arc::new(SqliteStore::open(dir.join("state.db")).unwrap()) };
    let served = Served::interpreted(interpreter.clone(), &stand_ins_one.redirects(), open(&dir), false).await;
    let answers = deliver_github(&served).await;
    served.stop().await;
    assert_eq!(open(&dir).pending_event_counts().unwrap(), [("issue_events".to_owned(), 4)]);
    let served = Served::interpreted(interpreter.clone(), &stand_ins_one.redirects(), open(&dir), true).await;
    served.drain().await;
    served.stop().await;
    let by_interpreter = observe(&*open(&dir), &flows, answers, Some(&stand_ins_one));
    let _ = std::fs::remove_dir_all(&dir);

    // The generated code, the same way.
    let dir = scratch("generated");
    let stand_ins_two = stand_ins(&interpreter).await;
    let env = Env::from_pairs(ENVIRONMENT.iter().copied());
    let apis = github_to_chat::Apis::configure(&env, &stand_ins_two.redirects()).unwrap();
    let host = FlowHost::open(dir.join("state.db")).unwrap();
    let served = Served::generated(github_to_chat::webhooks(&apis, &host, &env).unwrap(), &host, false).await;
    let answers = deliver_github(&served).await;
    served.stop().await;
    drop(host);
    let host = FlowHost::open(dir.join("state.db")).unwrap();
    assert_eq!(host.store().pending_event_counts().unwrap(), [("issue_events".to_owned(), 4)]);
    let served = Served::generated(github_to_chat::webhooks(&apis, &host, &env).unwrap(), &host, true).await;
    served.drain().await;
    served.stop().await;
    let by_generated = observe(&**host.store(), &flows, answers, Some(&stand_ins_two));
    drop(host);
    let _ = std::fs::remove_dir_all(&dir);

    if std::env::var_os("INTEG_SHOW_FLOWS").is_some() {
        eprintln!("{by_interpreter:#?}");
    }
    assert_eq!(by_interpreter, by_generated);
    let statuses: Vec<u64> = by_generated.answers.iter().map(|answer| answer["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [202, 202, 202, 202, 200, 401]);
    // Four events, four runs; the two relevant ones were posted or dead-lettered, each once.
    assert_eq!(by_generated.runs.len(), 4, "{:#?}", by_generated.runs);
    // The opened issue's message (to #security) was refused, the closed one's posted.
    assert_eq!((by_generated.writes.len(), by_generated.dead_letters.len()), (1, 1), "{by_generated:#?}");
    for letter in &by_generated.dead_letters {
        let headers = &letter["input"]["headers"];
        assert!(headers["x-github-delivery"].is_string(), "{letter}");
        assert!(headers.get("x-hub-signature-256").is_none(), "{letter}");
    }
}

/// `tests/webhooks/vectors.json`: deliveries signed by the schemes' own
/// reference libraries (see `tests/webhooks/make_vectors.py`).
#[derive(serde::Deserialize)]
struct Vectors {
    now: i64,
    secrets: BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    flow: String,
    path: String,
    name: String,
    headers: BTreeMap<String, String>,
    body: String,
    expect: u16,
}

/// Every vector, sent to the generated `webhook_vectors` program's router
/// with the vectors' clock, gets the answer its reference library expects
/// (valid `202`; tampered body, wrong key, stale timestamp `401`; replayed
/// delivery `200`) — the same answer as from `integ run --listen`'s router
/// (tests/webhook_signatures.rs) — and exactly the accepted ones are queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signature_vector_gets_the_answer_of_its_reference_library() {
    let vectors: Vectors =
        serde_json::from_str(&std::fs::read_to_string(repo("tests/webhooks/vectors.json")).unwrap()).unwrap();
    let host = FlowHost::in_memory();
    let env = Env::from_pairs(vectors.secrets.clone());
    let apis = integ_golden::webhook_vectors::Apis::configure(&env, &Redirects::default()).unwrap();
    let flows = integ_golden::webhook_vectors::webhook_flows(&apis, &host, &env).unwrap();
    assert_eq!(flows.len(), 7);
    let now = Timestamp::from_second(vectors.now).unwrap();
    let options = integ_runtime::webhook::Options { now: Arc::new(move || now) };
    let webhooks = integ_runtime::generated::Webhooks::new(&host, flows, options).unwrap();
    let served = Served::generated(webhooks, &host, false).await;

    let mut failures = Vec::new();
    let mut accepted: BTreeMap<String, u64> = BTreeMap::new();
    let mut outcomes: BTreeMap<(String, u64), u32> = BTreeMap::new();
    for case in &vectors.cases {
        let headers: Vec<(&str, &str)> =
            case.headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        let answer = served.post(&case.path, &headers, case.body.as_bytes()).await;
        let status = answer["status"].as_u64().unwrap();
        *outcomes.entry((case.flow.clone(), status)).or_default() += 1;
        if status != u64::from(case.expect) {
            failures.push(format!("{} / {}: expected {}, got {answer}", case.flow, case.name, case.expect));
            continue;
        }
        match status {
            202 => *accepted.entry(case.flow.clone()).or_default() += 1,
            200 => assert_eq!(answer["answer"], json!({ "status": "duplicate" })),
            401 => {
                let error = answer["answer"]["error"].as_str().unwrap();
                assert!(error.starts_with("the signature does not verify"), "{error}");
                for secret in vectors.secrets.values() {
                    assert!(!error.contains(secret.as_str()), "{error} shows a secret");
                }
            }
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
    for flow in
        ["github_hook", "stripe_hook", "standard_hook", "shopify_hook", "slack_hook", "wide_hook", "legacy_hook"]
    {
        assert!(outcomes.contains_key(&(flow.to_owned(), 202)), "{flow} accepted nothing");
        assert!(outcomes.contains_key(&(flow.to_owned(), 401)), "{flow} refused nothing");
    }
    let queued: BTreeMap<String, u64> =
        host.store().pending_event_counts().unwrap().into_iter().filter(|(_, count)| *count > 0).collect();
    assert_eq!(queued, accepted);
    served.stop().await;
}
