//! Flow runs in process (`interp::flow`): statements, commits and
//! checkpoints, catch actions and `on_exhausted`, dead letters and their
//! replay, against stand-ins on 127.0.0.1 and an in-memory state store.
//! (`tests/flows.rs` at the root runs the `integ` binary: kills, signals,
//! faults.)

#![cfg(feature = "interpreter")]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use integ_compiler::diagnostic::render;
use integ_compiler::interp::flow::{self, Host, Live, Report, Request};
use integ_compiler::interp::standin::{EndpointSetup, Faults, StandInOptions, StandIns, Write};
use integ_compiler::interp::{Interpreter, Options};
use integ_compiler::ir;
use integ_runtime::store::{Checkpoint, MemoryStore, RunOutcome, Store, Trigger, UnitInput, UnitKind};

const TYPES: &str = r#"
type Item { id: Int, name: String }
type Page { items: [Item], next_cursor: String? }

policy quick {
  timeout: 2s
  retry: 3 attempts, exponential(base: 1ms, max: 5ms)
}

api Source {
  base_url: "http://127.0.0.1:9/v1"
  policy: quick
  endpoint list_items() -> stream Item {
    GET "/items"
    response: Page
    records body.items
    paginate cursor(next: body.next_cursor, param: "cursor")
  }
}

api Target {
  base_url: "http://127.0.0.1:9/v1"
  policy: quick
  errors { 422 => Invalid }
  endpoint upsert_item(item: Item) {
    PUT "/items/{item.id}"
    body json(item)
  }
}
"#;

struct Setup {
    runtime: tokio::runtime::Runtime,
    host: Host,
    stand_ins: StandIns,
    store: Arc<MemoryStore>,
}

fn setup(flows: &str, items: usize, target: EndpointSetup, fixtures: Option<PathBuf>) -> Setup {
    setup_with(flows, items, vec![("Target.upsert_item", target)], fixtures)
}

fn setup_with(flows: &str, items: usize, endpoints: Vec<(&str, EndpointSetup)>, fixtures: Option<PathBuf>) -> Setup {
    let source = format!("{TYPES}\n{flows}");
    let analysis = integ_compiler::check_source("flows.integ", &source);
    let errors: Vec<_> = analysis.diagnostics().iter().filter(|diagnostic| diagnostic.is_error()).cloned().collect();
    assert!(errors.is_empty(), "{}", render::render(analysis.sources(), &errors, false));
    let lowered = ir::lower::lower(&analysis.program, &analysis.checked);
    let interpreter =
        Interpreter::new(lowered, Options { environment: Box::new(|_| None), ..Options::default() }).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut options = StandInOptions { page_size: 4, fixtures, ..StandInOptions::default() }
        .endpoint("Source.list_items", EndpointSetup { records: Some(items), ..EndpointSetup::default() });
    for (name, endpoint) in endpoints {
        options = options.endpoint(name, endpoint);
    }
    let stand_ins =
        runtime.block_on(StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), options)).unwrap();
    let apis = {
        let _entered = runtime.enter();
        interpreter.connect_with(&stand_ins.redirects()).unwrap()
    };
    let store = Arc::new(MemoryStore::new());
    let host = Host {
        interpreter: Arc::new(interpreter),
        apis: Arc::new(apis),
        store: store.clone(),
        handle: runtime.handle().clone(),
    };
    Setup { runtime, host, stand_ins, store }
}

fn run(setup: &Setup, flow: &str) -> Report {
    let stop = AtomicBool::new(false);
    flow::run(
        &setup.host,
        Request { flow, trigger: Trigger::Manual, payload: None, live: Arc::new(Live::default()), stop: &stop },
    )
    .unwrap()
}

fn written_ids(setup: &Setup) -> Vec<i64> {
    setup.stand_ins.writes("Target.upsert_item").iter().map(id_of).collect()
}

fn id_of(write: &Write) -> i64 {
    write.path.rsplit('/').next().unwrap().parse().unwrap()
}

fn state(setup: &Setup, flow: &str, name: &str) -> Option<String> {
    setup.store.load_state(flow).unwrap().get(name).cloned()
}

fn rejecting(ids: &'static [i64]) -> EndpointSetup {
    let reject = move |write: &Write| ids.contains(&id_of(write));
    EndpointSetup { faults: Faults { reject: Some(Arc::new(reject)), ..Faults::default() }, ..EndpointSetup::default() }
}

#[test]
fn state_is_saved_and_committed_records_are_not_processed_again() {
    let flows = r#"
flow sync {
  trigger: manual
  state count: Int = 0
  for item in Source.list_items() dedupe item.id {
    Target.upsert_item(item)
    count = count + 1
  }
}
"#;
    let setup = setup(flows, 10, EndpointSetup::default(), None);
    let first = run(&setup, "sync");
    assert_eq!(first.outcome, RunOutcome::Completed, "{:?}", first.error);
    assert_eq!((first.counters.read, first.counters.written, first.counters.skipped), (10, 10, 0));
    assert_eq!(first.checkpoints, 11, "one per record (batch 1) and one at the end");
    assert_eq!(state(&setup, "sync", "count").as_deref(), Some("10"));

    let second = run(&setup, "sync");
    assert_eq!((second.counters.read, second.counters.written, second.counters.skipped), (10, 0, 10));
    assert_eq!(state(&setup, "sync", "count").as_deref(), Some("10"));
    assert_eq!(written_ids(&setup), (1001..=1010).collect::<Vec<_>>());
    let runs = setup.store.recent_runs(Some("sync"), 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|run| run.outcome == Some(RunOutcome::Completed)));
}

#[test]
fn a_failed_run_keeps_what_was_committed_and_loses_the_rest() {
    let flows = r#"
flow sync {
  trigger: manual
  state count: Int = 0
  for item in Source.list_items() dedupe item.id {
    count = count + 1
    Target.upsert_item(item)
    if item.id == 1004 {
      fail "item {item.id} is not supported"
    }
  }
}
"#;
    let setup = setup(flows, 6, EndpointSetup::default(), None);
    let report = run(&setup, "sync");
    assert_eq!(report.outcome, RunOutcome::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("item 1004 is not supported"), "{error}");
    assert!(error.starts_with("sync (flows.integ:"), "the error names the flow and the place: {error}");
    // Three records committed; the fourth assigned `count` and is rolled back.
    assert_eq!(state(&setup, "sync", "count").as_deref(), Some("3"));
    assert_eq!(written_ids(&setup), vec![1001, 1002, 1003, 1004]);
    // The next run repeats the failed record (its key was not committed) and fails again.
    let again = run(&setup, "sync");
    assert_eq!(again.outcome, RunOutcome::Failed);
    assert_eq!(again.counters.skipped, 3);
    assert_eq!(written_ids(&setup), vec![1001, 1002, 1003, 1004, 1004]);
}

#[test]
fn catch_actions_decide_what_happens_to_the_record() {
    let cases = [
        ("skip", RunOutcome::Completed, 1, 0, vec![1001, 1003, 1004]),
        ("dead_letter", RunOutcome::CompletedWithDeadLetters, 0, 1, vec![1001, 1003, 1004]),
        ("ignore", RunOutcome::Completed, 0, 0, vec![1001, 1003, 1004]),
    ];
    for (action, outcome, skipped, dead_letters, written) in cases {
        let flows = format!(
            r#"
flow sync {{
  trigger: manual
  state after: Int = 0
  for item in Source.list_items() {{
    Target.upsert_item(item) catch {{ Target.Invalid => {action} }}
    after = after + 1
  }}
}}
"#
        );
        let setup = setup(&flows, 4, rejecting(&[1002]), None);
        let report = run(&setup, "sync");
        assert_eq!(report.outcome, outcome, "{action}: {:?}", report.error);
        assert_eq!(report.counters.skipped, skipped, "{action}");
        assert_eq!(report.counters.dead_letters, dead_letters, "{action}");
        assert_eq!(written_ids(&setup), written, "{action}");
        // `ignore` goes on with the next statement; the others end the record.
        let expected_after = if action == "ignore" { "4" } else { "3" };
        assert_eq!(state(&setup, "sync", "after").as_deref(), Some(expected_after), "{action}");
    }
    let flows = r#"
flow sync {
  trigger: manual
  for item in Source.list_items() {
    Target.upsert_item(item) catch { Invalid => fail }
  }
}
"#;
    let setup = setup(flows, 4, rejecting(&[1002]), None);
    let report = run(&setup, "sync");
    assert_eq!(report.outcome, RunOutcome::Failed);
    assert!(report.error.unwrap().contains("Invalid (422 Unprocessable Entity)"));
    assert_eq!(written_ids(&setup), vec![1001]);
}

#[test]
fn a_dead_letter_keeps_the_record_the_error_and_the_request_and_replays() {
    let flows = r#"
flow sync {
  trigger: manual
  state seen: Int = 0
  let label = "batch-7"
  for item in Source.list_items() dedupe item.id {
    seen = seen + 1
    Target.upsert_item(Item { id: item.id, name: "{label}: {item.name}" })
  }
}
"#;
    let broken = Arc::new(AtomicBool::new(true));
    let reject = {
        let broken = broken.clone();
        move |write: &Write| broken.load(Ordering::SeqCst) && id_of(write) == 1003
    };
    let target = EndpointSetup {
        faults: Faults { reject: Some(Arc::new(reject)), ..Faults::default() },
        ..EndpointSetup::default()
    };
    let setup = setup(flows, 5, target, None);
    let report = run(&setup, "sync");
    assert_eq!(report.outcome, RunOutcome::CompletedWithDeadLetters);
    assert_eq!(report.dead_letters.len(), 1);
    let letter = setup.store.dead_letter(report.dead_letters[0]).unwrap().unwrap();
    assert_eq!(letter.record.unit, UnitKind::Record);
    assert_eq!(letter.record.failure.error, "Invalid");
    assert_eq!(letter.record.failure.status, Some(422));
    assert_eq!(letter.record.attempts, 1);
    assert_eq!(letter.record.loop_id.as_deref(), Some("1:item in Source.list_items"));
    let UnitInput::Json(input) = &letter.record.input else { panic!("{:?}", letter.record.input) };
    let input: serde_json::Value = serde_json::from_str(input).unwrap();
    assert_eq!(input["id"], 1003);
    let context: serde_json::Value = serde_json::from_str(letter.record.context.as_deref().unwrap()).unwrap();
    assert_eq!(context["label"], "batch-7");
    let request = letter.record.last_request.as_ref().unwrap();
    assert_eq!(request.method, "PUT");
    assert!(request.url.ends_with("/items/1003"), "{}", request.url);
    assert!(request.body.as_deref().unwrap().contains("batch-7"));
    assert_eq!(letter.record.last_response.as_ref().unwrap().status, 422);
    assert_eq!(letter.record.state, r#"{"seen":3}"#);

    // Still broken: the replay fails, the dead letter stays (and is not stored twice).
    let stop = AtomicBool::new(false);
    let replayed = flow::replay(&setup.host, letter.record.id, Arc::new(Live::default()), &stop).unwrap();
    assert!(!replayed.delivered);
    assert!(replayed.error.unwrap().contains("422"));
    let kept = setup.store.dead_letters(None).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].replays.count, 1);

    // Fixed: the record goes through its loop again, with its context; the
    // dead letter is deleted, the dedupe key recorded, the state unchanged.
    broken.store(false, Ordering::SeqCst);
    let replayed = flow::replay(&setup.host, letter.record.id, Arc::new(Live::default()), &stop).unwrap();
    assert!(replayed.delivered, "{:?}", replayed.error);
    assert!(setup.store.dead_letters(None).unwrap().is_empty());
    let last = setup.stand_ins.writes("Target.upsert_item").pop().unwrap();
    assert_eq!(id_of(&last), 1003);
    assert!(String::from_utf8_lossy(&last.body).contains("batch-7: "), "the loop's context was restored");
    assert_eq!(state(&setup, "sync", "seen").as_deref(), Some("5"));
    let next = run(&setup, "sync");
    assert_eq!(next.counters.skipped, 5, "the replayed record is committed too");
}

#[test]
fn a_record_that_does_not_decode_is_dead_lettered_alone() {
    let directory = std::env::temp_dir().join(format!("integ-flow-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::write(
        directory.join("Source.list_items.json"),
        r#"[{"id": 1, "name": "a"}, {"id": "two", "name": "b"}, {"id": 3, "name": "c"}]"#,
    )
    .unwrap();
    let flows = r#"
flow sync {
  trigger: manual
  for item in Source.list_items() {
    Target.upsert_item(item)
  }
}
"#;
    let setup = setup(flows, 0, EndpointSetup::default(), Some(directory.clone()));
    let report = run(&setup, "sync");
    assert_eq!(report.outcome, RunOutcome::CompletedWithDeadLetters, "{:?}", report.error);
    assert_eq!(report.counters.read, 3);
    assert_eq!(written_ids(&setup), vec![1, 3]);
    let letter = setup.store.dead_letter(report.dead_letters[0]).unwrap().unwrap();
    assert_eq!(letter.record.failure.error, "Decode");
    assert!(letter.record.failure.message.contains("body.items[1].id"), "{}", letter.record.failure.message);
    assert_eq!(letter.record.input, UnitInput::Json(r#"{"id":"two","name":"b"}"#.to_owned()));
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn on_exhausted_applies_when_no_catch_arm_matches() {
    let flows = r#"
policy give_up {
  retry: none
  on_exhausted: skip
}

api Other {
  base_url: "http://127.0.0.1:9/v1"
  policy: give_up
  endpoint touch(id: Int) {
    PUT "/touch/{id}"
  }
}

flow sync {
  trigger: manual
  for item in Source.list_items() {
    Target.upsert_item(item)
  }
}
"#;
    // Target's policy (quick) dead-letters by default; Other's skips.
    let always =
        || EndpointSetup { faults: Faults { unavailable: 1.0, ..Faults::default() }, ..EndpointSetup::default() };
    let setup = setup_with(flows, 2, vec![("Target.upsert_item", always())], None);
    let report = run(&setup, "sync");
    assert_eq!(report.counters.dead_letters, 2);
    assert_eq!(report.retries, 4, "3 attempts per record");
    let letters = setup.store.dead_letters(None).unwrap();
    assert!(letters.iter().all(|letter| letter.failure.error == "Http" && letter.attempts == 3));

    let flows = flows.replace("Target.upsert_item(item)", "Other.touch(item.id)");
    let setup = setup_with(&flows, 2, vec![("Other.touch", always())], None);
    let report = run(&setup, "sync");
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!((report.counters.skipped, report.counters.dead_letters, report.retries), (2, 0, 0));
}

#[test]
fn batches_commit_several_records_per_checkpoint() {
    let flows = r#"
flow sync {
  trigger: manual
  batch: 3
  for item in Source.list_items() dedupe item.id {
    Target.upsert_item(item)
  }
}
"#;
    let setup = setup(flows, 7, EndpointSetup::default(), None);
    let report = run(&setup, "sync");
    assert_eq!(report.outcome, RunOutcome::Completed);
    assert_eq!(report.checkpoints, 3, "after 3 and 6 records, and at the end");
}

#[test]
fn a_state_that_no_longer_decodes_fails_the_run_before_it_starts() {
    let flows = r#"
flow sync {
  trigger: manual
  state since: DateTime? = none
  for item in Source.list_items() {
    Target.upsert_item(item)
  }
}
"#;
    let setup = setup(flows, 2, EndpointSetup::default(), None);
    let now = jiff::Timestamp::now();
    let earlier = setup.store.start_run("sync", Trigger::Manual, now).unwrap();
    let mut checkpoint = Checkpoint::new(earlier, now);
    checkpoint.state.insert("since".to_owned(), "42".to_owned());
    setup.store.checkpoint("sync", &checkpoint).unwrap();
    let report = run(&setup, "sync");
    assert_eq!(report.outcome, RunOutcome::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("`since` no longer decodes as `DateTime?`"), "{error}");
    assert!(error.contains("integ run --reset-state sync"), "{error}");
    assert!(written_ids(&setup).is_empty(), "nothing ran");
}

#[test]
fn nested_loops_commit_with_their_top_level_record() {
    let flows = r#"
type Group { name: String, members: [Int] }

flow sync {
  trigger: manual
  state total: Int = 0
  let groups = [Group { name: "a", members: [1, 2] }, Group { name: "b", members: [3] }]
  for group in groups {
    for member in group.members where member != 2 {
      total = total + member
    }
  }
  log "total {total}"
}
"#;
    let setup = setup(flows, 0, EndpointSetup::default(), None);
    let report = run(&setup, "sync");
    assert_eq!(report.outcome, RunOutcome::Completed, "{:?}", report.error);
    assert_eq!(report.counters.read, 0, "lists are not streams");
    assert_eq!(state(&setup, "sync", "total").as_deref(), Some("4"));
    drop(setup.runtime);
}

#[test]
fn a_run_dead_letter_replayed_and_failing_again_is_not_stored_twice() {
    let flows = r#"
flow report {
  trigger: manual
  let divisor = 0
  log "ratio {10 / divisor}"
}
"#;
    let setup = setup(flows, 0, EndpointSetup::default(), None);
    let report = run(&setup, "report");
    assert_eq!(report.outcome, RunOutcome::CompletedWithDeadLetters);
    let letters = setup.store.dead_letters(None).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].unit, UnitKind::Run);
    assert_eq!(letters[0].failure.error, "Evaluation");
    let stop = AtomicBool::new(false);
    for attempt in 1..=2 {
        let replayed = flow::replay(&setup.host, letters[0].id, Arc::new(Live::default()), &stop).unwrap();
        assert!(!replayed.delivered);
        assert!(replayed.error.unwrap().contains("division by zero"));
        let kept = setup.store.dead_letters(None).unwrap();
        assert_eq!(kept.len(), 1, "replay {attempt} stored no second dead letter");
        assert_eq!(kept[0].replays.count, attempt);
    }
}

#[test]
fn a_replayed_record_that_still_does_not_decode_stays_a_dead_letter() {
    let directory = std::env::temp_dir().join(format!("integ-flow-bare-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    // The body is the list itself (no `records`): one record of three is bad.
    std::fs::write(directory.join("Bare.list.json"), r#"[{"id": 1, "name": "a"}, {"id": 2}, {"id": 3, "name": "c"}]"#)
        .unwrap();
    let flows = r#"
api Bare {
  base_url: "http://127.0.0.1:9/v1"
  policy: quick
  endpoint list() -> stream Item {
    GET "/bare"
  }
}

flow copy {
  trigger: manual
  for item in Bare.list() {
    Target.upsert_item(item)
  }
}
"#;
    let setup = setup(flows, 0, EndpointSetup::default(), Some(directory.clone()));
    let report = run(&setup, "copy");
    assert_eq!(report.counters.read, 3);
    assert_eq!(report.counters.dead_letters, 1, "{:?}", report.error);
    assert_eq!(written_ids(&setup), vec![1, 3]);
    let letter = &setup.store.dead_letters(None).unwrap()[0];
    assert!(letter.failure.message.contains("body[1]"), "{}", letter.failure.message);
    let stop = AtomicBool::new(false);
    let replayed = flow::replay(&setup.host, letter.id, Arc::new(Live::default()), &stop).unwrap();
    assert!(!replayed.delivered, "it still does not decode");
    // The record's own endpoint is named (and its policy decides), not the program's first.
    assert!(replayed.error.unwrap().starts_with("Bare.list: a record does not decode"));
    assert_eq!(setup.store.dead_letters(None).unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn dead_letters_of_a_record_that_then_fails_are_neither_stored_nor_counted() {
    let flows = r#"
flow sync {
  trigger: manual
  for group in [[1, 0], [2]] {
    for n in group {
      log "{10 / n}"
    }
    if len(group) == 2 {
      fail "a group of {len(group)} failed"
    }
  }
}
"#;
    let setup = setup(flows, 0, EndpointSetup::default(), None);
    let report = run(&setup, "sync");
    assert_eq!(report.outcome, RunOutcome::Failed);
    assert_eq!(report.counters.dead_letters, 0);
    assert!(setup.store.dead_letters(None).unwrap().is_empty());
}
