//! The differential test of the two back ends' flows: every flow of the
//! three examples is run twice (the second run resumes from the first's
//! state and dedupe keys) by the interpreter's runner and by the generated
//! `async fn`, each against its own fresh stand-ins of the example's apis
//! (the same fake data and fixtures, the same writes rejected with `422`),
//! each with its own in-memory store. What they did must be the same: the
//! writes the stand-ins stored (method, path, query, body, idempotency key),
//! each run's outcome, counters and error, the committed states, and the
//! dead letters (unit, input, error, loop, context and state).
//!
//! Times the flows read from the clock (`now()`) differ between the two
//! runs: values within a day of now are replaced by `<now>` before
//! comparing.

mod support;

use support::{ENVIRONMENT, without_ports};

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use integ_compiler::interp::standin::{EndpointSetup, Faults, StandInOptions, StandIns};
use integ_compiler::interp::{Interpreter, Options, flow};
use integ_compiler::program::FsLoader;
use integ_golden::{github_to_chat, shop_to_crm, stripe_to_ledger};
use integ_runtime::generated::{Env, FlowHost, FlowReport};
use integ_runtime::store::{MemoryStore, Store, StoreError, Trigger};
use serde_json::Value as Json;

/// A generated flow, run once on a host.
type Generated<A> =
    for<'a> fn(&'a A, &'a FlowHost) -> Pin<Box<dyn Future<Output = Result<FlowReport, StoreError>> + 'a>>;

/// What one back end did in one scenario.
#[derive(Debug, PartialEq)]
struct Outcome {
    runs: Vec<Json>,
    writes: Vec<Json>,
    states: BTreeMap<String, String>,
    dead_letters: Vec<Json>,
}

struct Example {
    root: &'static str,
    fixtures: &'static str,
}

const SHOP: Example = Example { root: "examples/shop_to_crm/sync.integ", fixtures: "examples/shop_to_crm/fixtures" };
const GITHUB: Example =
    Example { root: "examples/github_to_chat/notify.integ", fixtures: "examples/github_to_chat/fixtures" };
const STRIPE: Example =
    Example { root: "examples/stripe_to_ledger/export.integ", fixtures: "examples/stripe_to_ledger/fixtures" };

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path).to_string_lossy().into_owned()
}

fn interpreter(example: &Example) -> Arc<Interpreter> {
    // The generated code names the file as the test programs are generated: relative to the repository.
    let analysis = std::env::set_current_dir(repo("."))
        .ok()
        .and_then(|()| integ_compiler::analyze(example.root, &mut FsLoader).ok())
        .unwrap_or_else(|| panic!("{} does not load", example.root));
    let program = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    let options = Options {
        environment: Box::new(|name| {
            ENVIRONMENT.iter().find(|(variable, _)| *variable == name).map(|(_, value)| (*value).to_owned())
        }),
        ..Options::default()
    };
    Arc::new(Interpreter::new(program, options).unwrap_or_else(|error| panic!("{}: {error}", example.root)))
}

/// Fresh stand-ins of the example's apis: 5 records a page, and `reject`
/// answering `422` to the writes it picks.
async fn stand_ins(interpreter: &Interpreter, example: &Example, rejected: &[&str]) -> StandIns {
    let mut options = StandInOptions {
        fixtures: Some(repo(example.fixtures).into()),
        page_size: 5,
        records: 12,
        ..StandInOptions::default()
    };
    for endpoint in rejected {
        // Every third write (by the bytes of its body) is refused.
        let reject: integ_compiler::interp::standin::Reject =
            Arc::new(|write| write.body.iter().map(|byte| u32::from(*byte)).sum::<u32>() % 3 == 0);
        let faults = Faults { reject: Some(reject), ..Faults::default() };
        options = options.endpoint(endpoint, EndpointSetup { faults, ..EndpointSetup::default() });
    }
    StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), options)
        .await
        .unwrap_or_else(|error| panic!("stand-ins: {error}"))
}

/// Replaces times within a day of now (RFC 3339 texts and Unix seconds) by `<now>`.
fn normalize(json: Json) -> Json {
    let now = jiff::Timestamp::now().as_second();
    let near = |seconds: i64| (seconds - now).abs() < 86_400;
    match json {
        Json::String(text) => {
            // Each back end has stand-ins of its own, on ports of their own.
            let text = without_ports(&text);
            if let Ok(time) = text.parse::<jiff::Timestamp>()
                && near(time.as_second())
            {
                return Json::String("<now>".to_owned());
            }
            if let Some(replaced) = normalize_text(&text, near) {
                return Json::String(replaced);
            }
            Json::String(text)
        }
        Json::Number(number) => match number.as_i64() {
            Some(seconds) if near(seconds) => Json::String("<now>".to_owned()),
            _ => Json::Number(number),
        },
        Json::Array(items) => Json::Array(items.into_iter().map(normalize).collect()),
        Json::Object(members) => {
            Json::Object(members.into_iter().map(|(key, value)| (key, normalize(value))).collect())
        }
        other => other,
    }
}

/// A text holding Unix seconds near now (`arrival_gte=1700000000`), with them replaced.
fn normalize_text(text: &str, near: impl Fn(i64) -> bool) -> Option<String> {
    let mut out = String::new();
    let mut changed = false;
    let mut digits = String::new();
    for character in text.chars().chain(std::iter::once('\u{0}')) {
        if character.is_ascii_digit() {
            digits.push(character);
            continue;
        }
        if digits.len() == 10 && digits.parse::<i64>().is_ok_and(&near) {
            out.push_str("<now>");
            changed = true;
        } else {
            out.push_str(&digits);
        }
        digits.clear();
        if character != '\u{0}' {
            out.push(character);
        }
    }
    changed.then_some(out)
}

async fn observe(store: &dyn Store, stand_ins: &StandIns, flow: &str, reports: Vec<Json>) -> Outcome {
    let writes = stand_ins
        .all_writes()
        .into_iter()
        .map(|write| {
            let body = serde_json::from_slice::<Json>(&write.body)
                .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&write.body).into_owned()));
            normalize(serde_json::json!({
                "endpoint": format!("{}.{}", write.api, write.endpoint),
                "method": write.method,
                "path": write.path,
                "query": write.query,
                "body": body,
                "idempotency_key": write.idempotency_key,
            }))
        })
        .collect();
    let states = store
        .load_state(flow)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, text)| {
            let json = serde_json::from_str::<Json>(&text).map(normalize).unwrap_or(Json::String(text));
            (name, json.to_string())
        })
        .collect();
    let mut dead_letters = Vec::new();
    for summary in store.dead_letters(Some(flow)).unwrap_or_default() {
        let Ok(Some(letter)) = store.dead_letter(summary.id) else { continue };
        let record = letter.record;
        let input = match record.input {
            integ_runtime::store::UnitInput::Json(text) => serde_json::from_str(&text).unwrap_or(Json::String(text)),
            integ_runtime::store::UnitInput::Event { body, .. } => Json::String(String::from_utf8_lossy(&body).into()),
            integ_runtime::store::UnitInput::None => Json::Null,
        };
        let parse = |text: Option<String>| {
            text.map(|text| serde_json::from_str::<Json>(&text).unwrap_or(Json::String(text))).unwrap_or(Json::Null)
        };
        dead_letters.push(normalize(serde_json::json!({
            "unit": record.unit.as_str(),
            "input": input,
            "error": record.failure.error,
            "api": record.failure.api,
            "endpoint": record.failure.endpoint,
            "status": record.failure.status,
            "message": record.failure.message,
            "attempts": record.attempts,
            "loop": record.loop_id,
            "context": parse(record.context),
            "state": parse(Some(record.state)),
            "request": record.last_request.map(|request| format!("{} {}", request.method, request.url)),
        })));
    }
    Outcome { runs: reports, writes, states, dead_letters }
}

fn report_json(
    outcome: &str,
    counters: integ_runtime::store::Counters,
    error: Option<String>,
    interrupted: bool,
) -> Json {
    serde_json::json!({
        "outcome": outcome,
        "read": counters.read,
        "written": counters.written,
        "skipped": counters.skipped,
        "dead_letters": counters.dead_letters,
        "error": error,
        "interrupted": interrupted,
    })
}

/// Runs `flow_name` twice through the interpreter.
async fn interpreted(example: &Example, flow_name: &str, rejected: &[&str]) -> Outcome {
    let interpreter = interpreter(example);
    let stand_ins = stand_ins(&interpreter, example, rejected).await;
    let apis = Arc::new(interpreter.connect_with(&stand_ins.redirects()).unwrap_or_else(|error| panic!("{error}")));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let host = Arc::new(flow::Host {
        interpreter: interpreter.clone(),
        apis,
        store: store.clone(),
        handle: tokio::runtime::Handle::current(),
    });
    let mut reports = Vec::new();
    for _ in 0..2 {
        let host = host.clone();
        let name = flow_name.to_owned();
        let report = tokio::task::spawn_blocking(move || {
            let stop = AtomicBool::new(false);
            let request = flow::Request {
                flow: &name,
                trigger: Trigger::Manual,
                payload: None,
                live: Arc::new(flow::Live::default()),
                stop: &stop,
            };
            flow::run(&host, request)
        })
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .unwrap_or_else(|error| panic!("{flow_name}: {error}"));
        reports.push(report_json(report.outcome.as_str(), report.counters, report.error, report.interrupted));
    }
    observe(&*store, &stand_ins, flow_name, reports).await
}

/// Runs the generated `flow` twice.
async fn generated<A>(
    example: &Example,
    flow_name: &str,
    rejected: &[&str],
    configure: fn(&Env, &integ_runtime::generated::Redirects) -> A,
    flow: Generated<A>,
) -> Outcome {
    let interpreter = interpreter(example);
    let stand_ins = stand_ins(&interpreter, example, rejected).await;
    let env = Env::from_pairs(ENVIRONMENT.iter().copied());
    let apis = configure(&env, &stand_ins.redirects());
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let host = FlowHost::new(store.clone());
    let mut reports = Vec::new();
    for _ in 0..2 {
        let report = flow(&apis, &host).await.unwrap_or_else(|error| panic!("{flow_name}: {error}"));
        reports.push(report_json(report.outcome.as_str(), report.counters, report.error, report.interrupted));
    }
    observe(&*store, &stand_ins, flow_name, reports).await
}

async fn compare<A>(
    example: &Example,
    flow_name: &str,
    rejected: &[&str],
    configure: fn(&Env, &integ_runtime::generated::Redirects) -> A,
    flow: Generated<A>,
) -> Outcome {
    let by_interpreter = interpreted(example, flow_name, rejected).await;
    let by_generated = generated(example, flow_name, rejected, configure, flow).await;
    if std::env::var_os("INTEG_SHOW_FLOWS").is_some() {
        eprintln!("{flow_name}: {by_interpreter:#?}");
    }
    assert!(!by_interpreter.runs.is_empty());
    assert_eq!(by_interpreter.runs, by_generated.runs, "{flow_name}: the runs differ");
    assert_eq!(by_interpreter.writes, by_generated.writes, "{flow_name}: the writes differ");
    assert_eq!(by_interpreter.states, by_generated.states, "{flow_name}: the states differ");
    assert_eq!(by_interpreter.dead_letters, by_generated.dead_letters, "{flow_name}: the dead letters differ");
    by_interpreter
}

fn shop(env: &Env, redirects: &integ_runtime::generated::Redirects) -> shop_to_crm::Apis {
    shop_to_crm::Apis::configure(env, redirects).unwrap_or_else(|error| panic!("{error}"))
}

fn github(env: &Env, redirects: &integ_runtime::generated::Redirects) -> github_to_chat::Apis {
    github_to_chat::Apis::configure(env, redirects).unwrap_or_else(|error| panic!("{error}"))
}

fn stripe(env: &Env, redirects: &integ_runtime::generated::Redirects) -> stripe_to_ledger::Apis {
    stripe_to_ledger::Apis::configure(env, redirects).unwrap_or_else(|error| panic!("{error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_orders_does_the_same_in_both_back_ends() {
    compare(&SHOP, "sync_orders", &[], shop, |apis, host| Box::pin(shop_to_crm::sync_orders(apis, host))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_orders_with_rejected_writes_dead_letters_and_skips_the_same_records() {
    let rejected = ["Crm.upsert_contact", "Crm.upsert_deal"];
    let outcome =
        compare(&SHOP, "sync_orders", &rejected, shop, |apis, host| Box::pin(shop_to_crm::sync_orders(apis, host)))
            .await;
    // `Crm.Invalid => skip`: rejected contacts are skipped, and skipped again on the next run.
    assert!(outcome.runs.iter().all(|run| run["skipped"].as_u64() > Some(0)), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_customers_does_the_same_in_both_back_ends() {
    let rejected = ["Crm.upsert_contact"];
    compare(&SHOP, "backfill_customers", &rejected, shop, |apis, host| {
        Box::pin(shop_to_crm::backfill_customers(apis, host))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_flows_do_the_same_in_both_back_ends() {
    compare(&GITHUB, "backfill", &[], github, |apis, host| Box::pin(github_to_chat::backfill(apis, host))).await;
    let rejected = compare(&GITHUB, "backfill", &["Chat.post_message"], github, |apis, host| {
        Box::pin(github_to_chat::backfill(apis, host))
    })
    .await;
    assert!(!rejected.dead_letters.is_empty(), "rejected messages are dead-lettered: {rejected:?}");
    compare(&GITHUB, "show_channels", &[], github, |apis, host| Box::pin(github_to_chat::show_channels(apis, host)))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_flows_do_the_same_in_both_back_ends() {
    for rejected in [&[][..], &["Ledger.post_entry", "Ledger.import_payout"][..]] {
        compare(&STRIPE, "export_transactions", rejected, stripe, |apis, host| {
            Box::pin(stripe_to_ledger::export_transactions(apis, host))
        })
        .await;
        let payouts = compare(&STRIPE, "export_payouts", rejected, stripe, |apis, host| {
            Box::pin(stripe_to_ledger::export_payouts(apis, host))
        })
        .await;
        assert_eq!(payouts.dead_letters.is_empty(), rejected.is_empty(), "{payouts:?}");
    }
    compare(&STRIPE, "check_accounts", &[], stripe, |apis, host| {
        Box::pin(stripe_to_ledger::check_accounts(apis, host))
    })
    .await;
}

/// The webhook flow of the GitHub example, on each event fixture: the
/// payload decoded by each back end, the same calls and dead letters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_flow_does_the_same_in_both_back_ends() {
    for event in ["issue_opened.json", "issue_edited.json", "issue_closed.json", "pull_request_opened.json"] {
        for rejected in [&[][..], &["Chat.post_message"][..]] {
            let body = std::fs::read(repo(&format!("{}/{event}", GITHUB.fixtures)))
                .unwrap_or_else(|error| panic!("{event}: {error}"));

            let interpreter = interpreter(&GITHUB);
            let stand_ins_one = stand_ins(&interpreter, &GITHUB, rejected).await;
            let apis = Arc::new(interpreter.connect_with(&stand_ins_one.redirects()).unwrap_or_else(|e| panic!("{e}")));
            let store_one: Arc<dyn Store> = Arc::new(MemoryStore::new());
            let flow_ir = interpreter.program.flows.iter().find(|flow| flow.name == "issue_events").cloned();
            let (name, ty) =
                flow_ir.and_then(|flow| flow.payload).unwrap_or_else(|| panic!("issue_events has a payload"));
            let payload = integ_runtime::decode::json(&body, &interpreter.desc(&ty), &interpreter.schema, &name)
                .unwrap_or_else(|error| panic!("{event}: {error}"));
            let host = flow::Host {
                interpreter: interpreter.clone(),
                apis,
                store: store_one.clone(),
                handle: tokio::runtime::Handle::current(),
            };
            let raw = body.clone();
            let report = tokio::task::spawn_blocking(move || {
                let stop = AtomicBool::new(false);
                let request = flow::Request {
                    flow: "issue_events",
                    trigger: Trigger::Webhook,
                    payload: Some((payload, raw)),
                    live: Arc::new(flow::Live::default()),
                    stop: &stop,
                };
                flow::run(&host, request)
            })
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .unwrap_or_else(|error| panic!("{error}"));
            let reports = vec![report_json(report.outcome.as_str(), report.counters, report.error, report.interrupted)];
            let by_interpreter = observe(&*store_one, &stand_ins_one, "issue_events", reports).await;

            let stand_ins_two = stand_ins(&interpreter, &GITHUB, rejected).await;
            let env = Env::from_pairs(ENVIRONMENT.iter().copied());
            let apis = github(&env, &stand_ins_two.redirects());
            let store_two: Arc<dyn Store> = Arc::new(MemoryStore::new());
            let event_value: github_to_chat::IssueEvent =
                integ_runtime::wire::json::<integ_runtime::wire::Plain<github_to_chat::IssueEvent>>(&body, "event")
                    .unwrap_or_else(|error| panic!("{event}: {error}"));
            let report = github_to_chat::issue_events(&apis, &FlowHost::new(store_two.clone()), event_value, &body)
                .await
                .unwrap_or_else(|error| panic!("{error}"));
            let reports = vec![report_json(report.outcome.as_str(), report.counters, report.error, report.interrupted)];
            let by_generated = observe(&*store_two, &stand_ins_two, "issue_events", reports).await;

            assert_eq!(by_interpreter, by_generated, "{event}, rejecting {rejected:?}");
        }
    }
}
