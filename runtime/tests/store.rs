//! The state store (§ 12, § 16.7): one behavioural suite run against both
//! implementations (in memory and SQLite), then what only a file can show —
//! persistence across reopening, the one-process lock across two processes,
//! and durability when the process writing checkpoints is killed with
//! `SIGKILL`.
//!
//! The cross-process tests re-execute this test binary: the test
//! `child_process` does nothing unless `INTEG_STORE_CHILD` tells it what to
//! do.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integ_runtime::http::errors::{RecordedRequest, RecordedResponse};
use integ_runtime::secret::Secret;
use integ_runtime::store::{
    Checkpoint, Counters, DeadLetterId, DeadLetterRecord, DedupeKey, Enqueued, EventId, Failure, MemoryStore,
    QueuedEvent, RunEnd, RunId, RunOutcome, SavedRefreshToken, SqliteStore, Store, StoreError, Trigger, UnitInput,
    UnitKind,
};
use jiff::{SignedDuration, Timestamp};

// ---------------------------------------------------------------------------
// Helpers

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("integ-store-test-{}-{name}-{}", std::process::id(), RunId::generate()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn db(&self) -> PathBuf {
        self.0.join(".integ").join("state.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_714_564_800 + seconds).unwrap()
}

fn state(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

fn dead_letter(label: &str, when: Timestamp) -> DeadLetterRecord {
    DeadLetterRecord {
        id: DeadLetterId::generate(),
        at: when,
        unit: UnitKind::Record,
        input: UnitInput::Json(format!(r#"{{"id":"{label}","total":12.50}}"#)),
        failure: Failure {
            error: "Unavailable".to_owned(),
            api: Some("Crm".to_owned()),
            endpoint: Some("upsert_contact".to_owned()),
            status: Some(503),
            message: "Crm.upsert_contact failed after 5 attempts: 503 Service Unavailable".to_owned(),
        },
        attempts: 5,
        last_request: Some(RecordedRequest {
            method: "PUT".to_owned(),
            url: format!("https://crm.example.com/v1/contacts/{label}"),
            headers: vec![
                ("authorization".to_owned(), "<redacted>".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-repeated".to_owned(), "one".to_owned()),
                ("x-repeated".to_owned(), "two".to_owned()),
            ],
            body: Some(r#"{"email":"ann@example.com"}"#.to_owned()),
        }),
        last_response: Some(RecordedResponse {
            status: 503,
            headers: vec![("retry-after".to_owned(), "30".to_owned())],
            body: "upstream unavailable — réessayez".to_owned(),
        }),
        state: r#"{"since":"2024-05-01T12:00:00Z"}"#.to_owned(),
        loop_id: Some("sync_orders:12".to_owned()),
        context: Some(r#"{"customer":{"id":7}}"#.to_owned()),
    }
}

fn event(flow: &str, when: Timestamp, key: Option<&str>, body: &[u8]) -> QueuedEvent {
    QueuedEvent {
        id: EventId::generate(),
        flow: flow.to_owned(),
        received_at: when,
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-github-delivery".to_owned(), "72d3162e".to_owned()),
        ],
        body: body.to_vec(),
        delivery_key: key.map(str::to_owned),
    }
}

fn hash(store: &dyn Store, flow: &str, loop_id: &str, key: &str) -> Option<String> {
    store.committed_hash(flow, loop_id, key).unwrap()
}

// ---------------------------------------------------------------------------
// The behavioural suite, written once

macro_rules! behaviour {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[test]
                fn $name() {
                    super::$name(&integ_runtime::store::MemoryStore::new());
                }
            )*
        }

        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let dir = super::TempDir::new(stringify!($name));
                    let store = integ_runtime::store::SqliteStore::open(dir.db()).unwrap();
                    super::$name(&store);
                    store.quick_check().unwrap();
                }
            )*
        }
    };
}

behaviour!(
    state_round_trips,
    dedupe_keys_round_trip_and_are_replaced,
    reset_clears_state_and_dedupe_keys_only,
    a_failing_checkpoint_writes_nothing,
    checkpoints_check_their_run_and_event,
    runs_round_trip,
    times_are_kept_to_the_microsecond,
    schedules_round_trip,
    dead_letters_round_trip,
    dead_letters_are_listed_replayed_and_deleted,
    webhook_queues_keep_arrival_order,
    checkpoints_remove_events_and_record_delivery_keys,
    delivery_keys_protect_for_thirty_days,
    refresh_tokens_round_trip,
    values_are_stored_verbatim,
);

fn state_round_trips(store: &dyn Store) {
    assert!(store.load_state("sync_orders").unwrap().is_empty());
    let run = store.start_run("sync_orders", Trigger::Every, at(0)).unwrap();
    let mut checkpoint = Checkpoint::new(run, at(1));
    checkpoint.state = state(&[("since", r#""2024-05-01T12:00:00Z""#), ("runs", "1")]);
    store.checkpoint("sync_orders", &checkpoint).unwrap();
    let loaded = store.load_state("sync_orders").unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded["since"], r#""2024-05-01T12:00:00Z""#);
    assert_eq!(loaded["runs"], "1");

    // A later checkpoint replaces the values it gives and keeps the others.
    let mut checkpoint = Checkpoint::new(run, at(2));
    checkpoint.state = state(&[("since", r#""2024-05-02T00:00:00Z""#)]);
    store.checkpoint("sync_orders", &checkpoint).unwrap();
    let loaded = store.load_state("sync_orders").unwrap();
    assert_eq!(loaded["since"], r#""2024-05-02T00:00:00Z""#);
    assert_eq!(loaded["runs"], "1");

    // Flows are separate.
    assert!(store.load_state("import_invoices").unwrap().is_empty());
}

fn dedupe_keys_round_trip_and_are_replaced(store: &dyn Store) {
    let run = store.start_run("sync_orders", Trigger::Every, at(0)).unwrap();
    let mut checkpoint = Checkpoint::new(run, at(1));
    checkpoint.dedupe_keys = vec![
        DedupeKey::new("sync_orders:12", "1001", "hash-a"),
        DedupeKey::new("sync_orders:12", "1002", "hash-b"),
        DedupeKey::new("sync_orders:20", "1001", "hash-c"),
    ];
    store.checkpoint("sync_orders", &checkpoint).unwrap();
    assert_eq!(hash(store, "sync_orders", "sync_orders:12", "1001").as_deref(), Some("hash-a"));
    assert_eq!(hash(store, "sync_orders", "sync_orders:12", "1002").as_deref(), Some("hash-b"));
    assert_eq!(hash(store, "sync_orders", "sync_orders:20", "1001").as_deref(), Some("hash-c"));
    assert_eq!(hash(store, "sync_orders", "sync_orders:12", "1003"), None);
    assert_eq!(hash(store, "other_flow", "sync_orders:12", "1001"), None);

    // Only the latest hash of a key is kept; within one checkpoint the last
    // of a key wins.
    let mut checkpoint = Checkpoint::new(run, at(2));
    checkpoint.dedupe_keys = vec![
        DedupeKey::new("sync_orders:12", "1001", "hash-a2"),
        DedupeKey::new("sync_orders:12", "1002", "hash-b2"),
        DedupeKey::new("sync_orders:12", "1002", "hash-b3"),
    ];
    store.checkpoint("sync_orders", &checkpoint).unwrap();
    assert_eq!(hash(store, "sync_orders", "sync_orders:12", "1001").as_deref(), Some("hash-a2"));
    assert_eq!(hash(store, "sync_orders", "sync_orders:12", "1002").as_deref(), Some("hash-b3"));
    assert_eq!(hash(store, "sync_orders", "sync_orders:20", "1001").as_deref(), Some("hash-c"));
}

fn reset_clears_state_and_dedupe_keys_only(store: &dyn Store) {
    let run = store.start_run("on_issue", Trigger::Webhook, at(0)).unwrap();
    let queued = event("on_issue", at(0), Some("repo#1:opened"), b"{}");
    assert_eq!(store.enqueue_event(&queued).unwrap(), Enqueued::Accepted);
    let mut checkpoint = Checkpoint::new(run, at(1));
    checkpoint.state = state(&[("count", "3")]);
    checkpoint.dedupe_keys = vec![DedupeKey::new("on_issue:5", "k", "h")];
    checkpoint.dead_letters = vec![dead_letter("a", at(1))];
    checkpoint.event = Some(queued.id);
    store.checkpoint("on_issue", &checkpoint).unwrap();
    store.set_last_start("on_issue", at(0)).unwrap();

    let mut other = Checkpoint::new(store.start_run("other", Trigger::Manual, at(0)).unwrap(), at(1));
    other.state = state(&[("count", "7")]);
    other.dedupe_keys = vec![DedupeKey::new("other:1", "k", "h")];
    store.checkpoint("other", &other).unwrap();

    store.reset_state("on_issue").unwrap();
    assert!(store.load_state("on_issue").unwrap().is_empty());
    assert_eq!(hash(store, "on_issue", "on_issue:5", "k"), None);
    // Not the dead letters, runs, schedule or delivery keys...
    assert_eq!(store.dead_letters(Some("on_issue")).unwrap().len(), 1);
    assert_eq!(store.recent_runs(Some("on_issue"), 10).unwrap().len(), 1);
    assert_eq!(store.last_start("on_issue").unwrap(), Some(at(0)));
    assert!(store.seen("on_issue", "repo#1:opened", at(2)).unwrap());
    // ...nor other flows.
    assert_eq!(store.load_state("other").unwrap()["count"], "7");
    assert_eq!(hash(store, "other", "other:1", "k").as_deref(), Some("h"));
    // Resetting a flow with nothing stored is fine.
    store.reset_state("never_ran").unwrap();
}

fn a_failing_checkpoint_writes_nothing(store: &dyn Store) {
    let run = store.start_run("on_issue", Trigger::Webhook, at(0)).unwrap();
    let first = event("on_issue", at(0), Some("key-1"), b"first");
    let second = event("on_issue", at(1), Some("key-2"), b"second");
    store.enqueue_event(&first).unwrap();
    store.enqueue_event(&second).unwrap();
    let letter = dead_letter("one", at(2));
    let mut checkpoint = Checkpoint::new(run, at(2));
    checkpoint.state = state(&[("n", "1")]);
    checkpoint.dedupe_keys = vec![DedupeKey::new("loop", "a", "1")];
    checkpoint.dead_letters = vec![letter.clone()];
    checkpoint.counters = Some(Counters { read: 1, written: 1, skipped: 0, dead_letters: 1 });
    checkpoint.event = Some(first.id);
    store.checkpoint("on_issue", &checkpoint).unwrap();

    let snapshot = |store: &dyn Store| {
        (
            store.load_state("on_issue").unwrap(),
            hash(store, "on_issue", "loop", "a"),
            hash(store, "on_issue", "loop", "b"),
            store.dead_letters(None).unwrap(),
            store.run(run).unwrap(),
            store.pending_events("on_issue", 10).unwrap(),
            store.seen("on_issue", "key-2", at(3)).unwrap(),
        )
    };
    let before = snapshot(store);

    // Everything else in it is valid, but its (second) dead letter reuses an
    // id: the dead letters are written last, so the state, keys, counters
    // and event removal before it must be rolled back.
    let mut failing = Checkpoint::new(run, at(3));
    failing.state = state(&[("n", "2"), ("extra", "true")]);
    failing.dedupe_keys = vec![DedupeKey::new("loop", "a", "2"), DedupeKey::new("loop", "b", "2")];
    failing.dead_letters = vec![dead_letter("two", at(3)), letter.clone()];
    failing.counters = Some(Counters { read: 2, written: 1, skipped: 0, dead_letters: 3 });
    failing.event = Some(second.id);
    let error = store.checkpoint("on_issue", &failing).unwrap_err();
    assert!(
        matches!(&error, StoreError::Duplicate { what: "dead letter", id } if *id == letter.id.to_string()),
        "{error:?}"
    );
    assert_eq!(snapshot(store), before);

    // Two dead letters with one id in one checkpoint.
    let twice = dead_letter("twice", at(3));
    failing.dead_letters = vec![twice.clone(), twice];
    assert!(matches!(store.checkpoint("on_issue", &failing), Err(StoreError::Duplicate { .. })));
    assert_eq!(snapshot(store), before);

    // A counter the store cannot represent.
    failing.dead_letters = Vec::new();
    failing.counters.get_or_insert_with(Counters::default).read = u64::MAX;
    assert!(matches!(store.checkpoint("on_issue", &failing), Err(StoreError::Invalid(_))));
    assert_eq!(snapshot(store), before);

    // The same checkpoint, corrected, goes through whole.
    failing.counters.get_or_insert_with(Counters::default).read = 2;
    store.checkpoint("on_issue", &failing).unwrap();
    assert_eq!(store.load_state("on_issue").unwrap()["n"], "2");
    assert_eq!(hash(store, "on_issue", "loop", "b").as_deref(), Some("2"));
    assert!(store.pending_events("on_issue", 10).unwrap().is_empty());
}

fn checkpoints_check_their_run_and_event(store: &dyn Store) {
    let run = store.start_run("sync_orders", Trigger::Every, at(0)).unwrap();
    let mut checkpoint = Checkpoint::new(run, at(1));
    checkpoint.state = state(&[("n", "1")]);

    let unknown = Checkpoint { run: RunId::generate(), ..checkpoint.clone() };
    assert!(matches!(store.checkpoint("sync_orders", &unknown), Err(StoreError::NotFound { what: "run", .. })));
    assert!(matches!(store.checkpoint("another_flow", &checkpoint), Err(StoreError::Conflict(_))));
    let missing_event = Checkpoint { event: Some(EventId::generate()), ..checkpoint.clone() };
    assert!(matches!(
        store.checkpoint("sync_orders", &missing_event),
        Err(StoreError::NotFound { what: "webhook event", .. })
    ));
    // An event of another flow is not this flow's.
    let foreign = event("on_issue", at(0), None, b"{}");
    store.enqueue_event(&foreign).unwrap();
    let foreign_event = Checkpoint { event: Some(foreign.id), ..checkpoint.clone() };
    assert!(matches!(store.checkpoint("sync_orders", &foreign_event), Err(StoreError::NotFound { .. })));
    assert_eq!(store.pending_events("on_issue", 10).unwrap().len(), 1);
    assert!(store.load_state("sync_orders").unwrap().is_empty());

    store.checkpoint("sync_orders", &checkpoint).unwrap();
    let end = RunEnd { at: at(2), outcome: RunOutcome::Completed, counters: Counters::default(), error: None };
    store.finish_run(run, &end).unwrap();
    let late = Checkpoint { state: state(&[("n", "2")]), ..checkpoint };
    assert!(matches!(store.checkpoint("sync_orders", &late), Err(StoreError::Conflict(_))));
    assert_eq!(store.load_state("sync_orders").unwrap()["n"], "1");
}

fn runs_round_trip(store: &dyn Store) {
    let first = store.start_run("sync_orders", Trigger::Every, at(0)).unwrap();
    let other = store.start_run("on_issue", Trigger::Webhook, at(1)).unwrap();
    let second = store.start_run("sync_orders", Trigger::Manual, at(2)).unwrap();
    assert_ne!(first, second);

    let started = store.run(first).unwrap().unwrap();
    assert_eq!(started.id, first);
    assert_eq!(started.flow, "sync_orders");
    assert_eq!(started.trigger, Trigger::Every);
    assert_eq!(started.started_at, at(0));
    assert_eq!(started.finished_at, None);
    assert_eq!(started.outcome, None);
    assert_eq!(started.counters, Counters::default());
    assert_eq!(started.error, None);

    // Checkpoints keep the run's counters so far (totals, not increments).
    let mut checkpoint = Checkpoint::new(first, at(3));
    checkpoint.counters = Some(Counters { read: 50, written: 48, skipped: 2, dead_letters: 0 });
    store.checkpoint("sync_orders", &checkpoint).unwrap();
    checkpoint.counters = Some(Counters { read: 100, written: 97, skipped: 2, dead_letters: 1 });
    store.checkpoint("sync_orders", &checkpoint).unwrap();
    assert_eq!(store.run(first).unwrap().unwrap().counters, checkpoint.counters.unwrap());
    // A checkpoint without counters leaves them, and still checks its run.
    let mut quiet = Checkpoint::new(first, at(3));
    quiet.state = state(&[("since", "1")]);
    store.checkpoint("sync_orders", &quiet).unwrap();
    assert_eq!(store.run(first).unwrap().unwrap().counters, checkpoint.counters.unwrap());
    assert_eq!(store.load_state("sync_orders").unwrap().get("since").map(String::as_str), Some("1"));
    assert!(matches!(store.checkpoint("other_flow", &quiet), Err(StoreError::Conflict(_))));

    let end = RunEnd {
        at: at(4),
        outcome: RunOutcome::CompletedWithDeadLetters,
        counters: Counters { read: 120, written: 117, skipped: 2, dead_letters: 1 },
        error: None,
    };
    store.finish_run(first, &end).unwrap();
    let failed = RunEnd {
        at: at(5),
        outcome: RunOutcome::Failed,
        counters: Counters::default(),
        error: Some("sync_orders (shop.integ:88:5): Crm.upsert_contact failed after 5 attempts: 503".to_owned()),
    };
    store.finish_run(second, &failed).unwrap();

    let finished = store.run(first).unwrap().unwrap();
    assert_eq!(finished.finished_at, Some(at(4)));
    assert_eq!(finished.outcome, Some(RunOutcome::CompletedWithDeadLetters));
    assert_eq!(finished.counters, end.counters);
    let finished = store.run(second).unwrap().unwrap();
    assert_eq!(finished.outcome, Some(RunOutcome::Failed));
    assert_eq!(finished.error, failed.error);

    // Newest first, per flow or all, limited.
    let ids = |runs: Vec<integ_runtime::store::RunRecord>| runs.into_iter().map(|run| run.id).collect::<Vec<_>>();
    assert_eq!(ids(store.recent_runs(Some("sync_orders"), 10).unwrap()), vec![second, first]);
    assert_eq!(ids(store.recent_runs(None, 10).unwrap()), vec![second, other, first]);
    assert_eq!(ids(store.recent_runs(None, 2).unwrap()), vec![second, other]);
    assert!(store.recent_runs(Some("nothing"), 10).unwrap().is_empty());
    assert!(store.recent_runs(None, 0).unwrap().is_empty());

    assert!(matches!(store.finish_run(first, &end), Err(StoreError::Conflict(_))));
    assert!(matches!(store.finish_run(RunId::generate(), &end), Err(StoreError::NotFound { .. })));
    assert_eq!(store.run(RunId::generate()).unwrap(), None);
    assert_eq!(store.run(other).unwrap().unwrap().outcome, None);
}

fn times_are_kept_to_the_microsecond(store: &dyn Store) {
    let precise = Timestamp::new(1_714_564_800, 123_456_789).unwrap();
    let kept = Timestamp::new(1_714_564_800, 123_456_000).unwrap();
    let run = store.start_run("sync_orders", Trigger::Every, precise).unwrap();
    assert_eq!(store.run(run).unwrap().unwrap().started_at, kept);
    store.set_last_start("sync_orders", precise).unwrap();
    assert_eq!(store.last_start("sync_orders").unwrap(), Some(kept));
    // Before the epoch too.
    let old = Timestamp::new(-86_400, 999_999_999).unwrap();
    store.set_last_start("old", old).unwrap();
    let loaded = store.last_start("old").unwrap().unwrap();
    assert!(loaded.as_nanosecond().abs_diff(old.as_nanosecond()) < 1_000, "{loaded}");
}

fn schedules_round_trip(store: &dyn Store) {
    assert_eq!(store.last_start("sync_orders").unwrap(), None);
    store.set_last_start("sync_orders", at(0)).unwrap();
    store.set_last_start("other", at(5)).unwrap();
    assert_eq!(store.last_start("sync_orders").unwrap(), Some(at(0)));
    store.set_last_start("sync_orders", at(300)).unwrap();
    assert_eq!(store.last_start("sync_orders").unwrap(), Some(at(300)));
    assert_eq!(store.last_start("other").unwrap(), Some(at(5)));
}

fn dead_letters_round_trip(store: &dyn Store) {
    let run = store.start_run("on_issue", Trigger::Webhook, at(0)).unwrap();
    let record = dead_letter("1001", at(1));
    let event_letter = DeadLetterRecord {
        id: DeadLetterId::generate(),
        unit: UnitKind::Event,
        // A raw body need not be UTF-8.
        input: UnitInput::Event {
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: vec![b'{', 0xff, 0x00, b'}'],
        },
        last_request: None,
        last_response: None,
        loop_id: None,
        context: None,
        ..dead_letter("event", at(2))
    };
    let run_letter = DeadLetterRecord {
        id: DeadLetterId::generate(),
        unit: UnitKind::Run,
        input: UnitInput::None,
        failure: Failure {
            error: "EvalError".to_owned(),
            api: None,
            endpoint: None,
            status: None,
            message: "division by zero".to_owned(),
        },
        attempts: 0,
        last_request: Some(RecordedRequest {
            method: "GET".to_owned(),
            url: "https://shop.example.com/orders".to_owned(),
            headers: Vec::new(),
            body: None,
        }),
        last_response: Some(RecordedResponse { status: 200, headers: Vec::new(), body: String::new() }),
        ..dead_letter("run", at(3))
    };
    let mut checkpoint = Checkpoint::new(run, at(3));
    checkpoint.dead_letters = vec![record.clone(), event_letter.clone(), run_letter.clone()];
    store.checkpoint("on_issue", &checkpoint).unwrap();

    for expected in [&record, &event_letter, &run_letter] {
        let stored = store.dead_letter(expected.id).unwrap().unwrap();
        assert_eq!(stored.flow, "on_issue");
        assert_eq!(stored.run, run);
        assert_eq!(&stored.record, expected);
        assert_eq!(stored.replays.count, 0);
        assert_eq!(stored.replays.last_at, None);
    }
    assert_eq!(store.dead_letter(DeadLetterId::generate()).unwrap(), None);
}

fn dead_letters_are_listed_replayed_and_deleted(store: &dyn Store) {
    let sync = store.start_run("sync_orders", Trigger::Every, at(0)).unwrap();
    let issue = store.start_run("on_issue", Trigger::Webhook, at(0)).unwrap();
    let letters: Vec<DeadLetterRecord> = (0..5).map(|index| dead_letter(&index.to_string(), at(index))).collect();
    for (index, letter) in letters.iter().enumerate() {
        let (flow, run) = if index % 2 == 0 { ("sync_orders", sync) } else { ("on_issue", issue) };
        let mut checkpoint = Checkpoint::new(run, at(10));
        checkpoint.dead_letters = vec![letter.clone()];
        store.checkpoint(flow, &checkpoint).unwrap();
    }
    let ids = |flow: Option<&str>| {
        store.dead_letters(flow).unwrap().into_iter().map(|summary| summary.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(None), letters.iter().map(|letter| letter.id).collect::<Vec<_>>());
    assert_eq!(ids(Some("sync_orders")), vec![letters[0].id, letters[2].id, letters[4].id]);
    assert_eq!(ids(Some("on_issue")), vec![letters[1].id, letters[3].id]);

    let summary = &store.dead_letters(Some("on_issue")).unwrap()[0];
    assert_eq!(summary, &store.dead_letter(letters[1].id).unwrap().unwrap().summary());
    assert_eq!(summary.failure.status, Some(503));
    assert_eq!(summary.attempts, 5);

    assert_eq!(store.mark_replayed(letters[1].id, at(20)).unwrap(), 1);
    assert_eq!(store.mark_replayed(letters[1].id, at(30)).unwrap(), 2);
    let replayed = store.dead_letter(letters[1].id).unwrap().unwrap();
    assert_eq!(replayed.replays.count, 2);
    assert_eq!(replayed.replays.last_at, Some(at(30)));
    assert_eq!(store.dead_letters(Some("on_issue")).unwrap()[0].replays.count, 2);
    assert!(matches!(
        store.mark_replayed(DeadLetterId::generate(), at(30)),
        Err(StoreError::NotFound { what: "dead letter", .. })
    ));

    assert!(store.delete_dead_letter(letters[0].id).unwrap());
    assert!(!store.delete_dead_letter(letters[0].id).unwrap());
    assert_eq!(store.dead_letter(letters[0].id).unwrap(), None);
    assert_eq!(store.delete_dead_letters(Some("sync_orders")).unwrap(), 2);
    assert_eq!(ids(None), vec![letters[1].id, letters[3].id]);
    assert_eq!(store.delete_dead_letters(Some("sync_orders")).unwrap(), 0);
    assert_eq!(store.delete_dead_letters(None).unwrap(), 2);
    assert!(ids(None).is_empty());
}

fn webhook_queues_keep_arrival_order(store: &dyn Store) {
    // Ids are generated in one order, events arrive in another: arrival
    // order is what counts.
    let mut events: Vec<QueuedEvent> = (0..6)
        .map(|index| {
            let flow = if index % 3 == 2 { "on_refund" } else { "on_issue" };
            event(flow, at(index), None, format!("body {index}").as_bytes())
        })
        .collect();
    events.reverse();
    for queued in &events {
        assert_eq!(store.enqueue_event(queued).unwrap(), Enqueued::Accepted);
    }
    let expected: Vec<&QueuedEvent> = events.iter().filter(|queued| queued.flow == "on_issue").collect();
    let pending = store.pending_events("on_issue", 100).unwrap();
    assert_eq!(pending.iter().collect::<Vec<_>>(), expected);
    assert_eq!(store.pending_events("on_issue", 2).unwrap(), pending[..2].to_vec());
    assert_eq!(store.pending_events("on_refund", 100).unwrap().len(), 2);
    assert!(store.pending_events("on_nothing", 100).unwrap().is_empty());
    assert_eq!(store.pending_event_counts().unwrap(), vec![("on_issue".to_owned(), 4), ("on_refund".to_owned(), 2)]);

    // One event at a time leaves the queue, at the end of its run.
    for queued in &pending {
        let next = &store.pending_events("on_issue", 1).unwrap()[0];
        assert_eq!(next, queued);
        let run = store.start_run("on_issue", Trigger::Webhook, at(10)).unwrap();
        let mut checkpoint = Checkpoint::new(run, at(11));
        checkpoint.counters.get_or_insert_with(Counters::default).read = 1;
        checkpoint.event = Some(next.id);
        store.checkpoint("on_issue", &checkpoint).unwrap();
        // Removed already: a second removal fails and changes nothing.
        assert!(matches!(store.checkpoint("on_issue", &checkpoint), Err(StoreError::NotFound { .. })));
    }
    assert!(store.pending_events("on_issue", 100).unwrap().is_empty());
    assert_eq!(store.pending_event_counts().unwrap(), vec![("on_refund".to_owned(), 2)]);

    // An id is accepted once.
    let queued = event("on_issue", at(20), None, b"{}");
    store.enqueue_event(&queued).unwrap();
    assert!(matches!(store.enqueue_event(&queued), Err(StoreError::Duplicate { what: "webhook event", .. })));
}

fn checkpoints_remove_events_and_record_delivery_keys(store: &dyn Store) {
    let queued = event("on_issue", at(0), Some("repo#7:opened"), br#"{"action":"opened"}"#);
    assert_eq!(store.enqueue_event(&queued).unwrap(), Enqueued::Accepted);
    // While it is queued, a second delivery of the key is a duplicate.
    assert!(store.seen("on_issue", "repo#7:opened", at(1)).unwrap());
    let again = event("on_issue", at(1), Some("repo#7:opened"), br#"{"action":"opened"}"#);
    assert_eq!(store.enqueue_event(&again).unwrap(), Enqueued::Duplicate);
    assert_eq!(store.pending_events("on_issue", 10).unwrap(), vec![queued.clone()]);
    // Keys are per flow.
    assert!(!store.seen("on_other", "repo#7:opened", at(1)).unwrap());

    let run = store.start_run("on_issue", Trigger::Webhook, at(2)).unwrap();
    let mut checkpoint = Checkpoint::new(run, at(3));
    checkpoint.counters = Some(Counters { read: 1, written: 1, skipped: 0, dead_letters: 0 });
    checkpoint.event = Some(queued.id);
    store.checkpoint("on_issue", &checkpoint).unwrap();
    assert!(store.pending_events("on_issue", 10).unwrap().is_empty());
    assert!(store.seen("on_issue", "repo#7:opened", at(4)).unwrap());
    assert_eq!(store.enqueue_event(&again).unwrap(), Enqueued::Duplicate);

    // Events without a key are never duplicates.
    let keyless = event("on_issue", at(5), None, b"{}");
    assert_eq!(store.enqueue_event(&keyless).unwrap(), Enqueued::Accepted);
    let keyless_again = event("on_issue", at(5), None, b"{}");
    assert_eq!(store.enqueue_event(&keyless_again).unwrap(), Enqueued::Accepted);
}

fn delivery_keys_protect_for_thirty_days(store: &dyn Store) {
    let day = SignedDuration::from_hours(24);
    let accept = |key: &str, when: Timestamp| {
        let queued = event("on_issue", when, Some(key), b"{}");
        let outcome = store.enqueue_event(&queued).unwrap();
        if outcome == Enqueued::Accepted {
            let run = store.start_run("on_issue", Trigger::Webhook, when).unwrap();
            let mut checkpoint = Checkpoint::new(run, when);
            checkpoint.event = Some(queued.id);
            store.checkpoint("on_issue", &checkpoint).unwrap();
        }
        outcome
    };
    let start = at(0);
    assert_eq!(accept("old", start), Enqueued::Accepted);
    assert_eq!(accept("newer", start + day * 10), Enqueued::Accepted);

    assert!(store.seen("on_issue", "old", start + day * 29).unwrap());
    assert!(!store.seen("on_issue", "old", start + day * 30).unwrap());
    assert_eq!(accept("old", start + day * 29), Enqueued::Duplicate);

    // Accepted again after 30 days, the key is protected from then on.
    assert_eq!(accept("old", start + day * 31), Enqueued::Accepted);
    assert!(store.seen("on_issue", "old", start + day * 60).unwrap());
    assert!(!store.seen("on_issue", "old", start + day * 61).unwrap());

    // Pruning removes only keys 30 days old.
    assert_eq!(store.prune_delivery_keys(start + day * 39).unwrap(), 0);
    assert_eq!(store.prune_delivery_keys(start + day * 40).unwrap(), 1);
    assert!(store.seen("on_issue", "old", start + day * 40).unwrap());
    assert_eq!(store.prune_delivery_keys(start + day * 61).unwrap(), 1);
    assert_eq!(store.prune_delivery_keys(start + day * 61).unwrap(), 0);
}

fn refresh_tokens_round_trip(store: &dyn Store) {
    assert!(store.load_refresh_token("crm_auth").unwrap().is_none());
    let saved = SavedRefreshToken {
        token: Secret::new("rt-store-test-first-value"),
        source_fingerprint: "sha256:aaaa".to_owned(),
        saved_at: at(0),
    };
    store.save_refresh_token("crm_auth", &saved).unwrap();
    let loaded = store.load_refresh_token("crm_auth").unwrap().unwrap();
    assert_eq!(loaded.token.expose(), "rt-store-test-first-value");
    assert_eq!(loaded.source_fingerprint, "sha256:aaaa");
    assert_eq!(loaded.saved_at, at(0));
    assert!(!format!("{loaded:?}").contains("rt-store-test-first-value"));

    let rotated = SavedRefreshToken {
        token: Secret::new("rt-store-test-second-value"),
        source_fingerprint: "sha256:aaaa".to_owned(),
        saved_at: at(60),
    };
    store.save_refresh_token("crm_auth", &rotated).unwrap();
    let loaded = store.load_refresh_token("crm_auth").unwrap().unwrap();
    assert_eq!(loaded.token.expose(), "rt-store-test-second-value");
    assert_eq!(loaded.saved_at, at(60));
    assert!(store.load_refresh_token("other_auth").unwrap().is_none());
}

fn values_are_stored_verbatim(store: &dyn Store) {
    // The store does not interpret values: whatever text arrives comes back.
    let odd = ["", " ", "not json", "{\"a\": [1, 2.50, null]}", "\u{0}", "naïve — ☃ \u{1F600}", "'; DROP TABLE x; --"];
    let run = store.start_run("odd", Trigger::Manual, at(0)).unwrap();
    let mut checkpoint = Checkpoint::new(run, at(1));
    for (index, value) in odd.iter().enumerate() {
        checkpoint.state.insert(format!("s{index}"), (*value).to_owned());
        checkpoint.dedupe_keys.push(DedupeKey::new(*value, *value, *value));
    }
    store.checkpoint("odd", &checkpoint).unwrap();
    let loaded = store.load_state("odd").unwrap();
    for (index, value) in odd.iter().enumerate() {
        assert_eq!(loaded[&format!("s{index}")], *value);
        assert_eq!(hash(store, "odd", value, value).as_deref(), Some(*value));
    }
}

// ---------------------------------------------------------------------------
// What only a file shows

#[test]
fn everything_survives_reopening() {
    let dir = TempDir::new("reopen");
    let letter = dead_letter("persisted", at(2));
    let queued = event("on_issue", at(3), Some("k"), &[0, 1, 2, 255]);
    let (run, written) = {
        let store = SqliteStore::open(dir.db()).unwrap();
        let run = store.start_run("sync_orders", Trigger::Every, at(0)).unwrap();
        let mut checkpoint = Checkpoint::new(run, at(1));
        checkpoint.state = state(&[("since", "\"x\"")]);
        checkpoint.dedupe_keys = vec![DedupeKey::new("l", "k", "h")];
        checkpoint.dead_letters = vec![letter.clone()];
        checkpoint.counters.get_or_insert_with(Counters::default).read = 9;
        store.checkpoint("sync_orders", &checkpoint).unwrap();
        store.set_last_start("sync_orders", at(0)).unwrap();
        store.enqueue_event(&queued).unwrap();
        store
            .save_refresh_token(
                "crm",
                &SavedRefreshToken {
                    token: Secret::new("rt-reopen"),
                    source_fingerprint: "f".to_owned(),
                    saved_at: at(4),
                },
            )
            .unwrap();
        (run, store.run(run).unwrap())
    };
    let store = SqliteStore::open(dir.db()).unwrap();
    assert_eq!(store.load_state("sync_orders").unwrap()["since"], "\"x\"");
    assert_eq!(hash(&store, "sync_orders", "l", "k").as_deref(), Some("h"));
    assert_eq!(store.dead_letter(letter.id).unwrap().unwrap().record, letter);
    assert_eq!(store.run(run).unwrap(), written);
    assert_eq!(store.last_start("sync_orders").unwrap(), Some(at(0)));
    assert_eq!(store.pending_events("on_issue", 10).unwrap(), vec![queued]);
    assert_eq!(store.load_refresh_token("crm").unwrap().unwrap().token.expose(), "rt-reopen");
}

#[test]
fn the_default_location_is_under_dot_integ() {
    assert_eq!(integ_runtime::store::DEFAULT_PATH, ".integ/state.db");
}

/// What the child process does, by `INTEG_STORE_CHILD`:
/// - `open PATH`: opens the store and prints `opened` or `error: MESSAGE`;
/// - `checkpoints PATH`: writes checkpoints of the flow `crashy` in a loop,
///   printing `committed N` after each, until killed (or 60 seconds).
#[test]
fn child_process() {
    let Ok(task) = std::env::var("INTEG_STORE_CHILD") else {
        return;
    };
    let (mode, path) = task.split_once(' ').unwrap();
    let mut stdout = std::io::stdout();
    // End the test harness's `test child_process ... ` line.
    writeln!(stdout).unwrap();
    match mode {
        "open" => match SqliteStore::open(path) {
            Ok(_) => writeln!(stdout, "opened").unwrap(),
            Err(error) => writeln!(stdout, "error: {error}").unwrap(),
        },
        "checkpoints" => write_checkpoints_until_killed(Path::new(path), &mut stdout),
        other => panic!("unknown child mode {other}"),
    }
    stdout.flush().unwrap();
}

const CRASHY: &str = "crashy";
const RECORDS_PER_CHECKPOINT: u64 = 10;

fn write_checkpoints_until_killed(path: &Path, stdout: &mut std::io::Stdout) {
    let store = SqliteStore::open(path).unwrap();
    let start: u64 = store.load_state(CRASHY).unwrap().get("n").map_or(0, |n| n.parse().unwrap());
    let run = store.start_run(CRASHY, Trigger::Manual, Timestamp::now()).unwrap();
    writeln!(stdout, "started {start}").unwrap();
    stdout.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = start;
    while Instant::now() < deadline {
        n += 1;
        let mut checkpoint = Checkpoint::new(run, Timestamp::now());
        checkpoint.state = state(&[
            ("n", &n.to_string()),
            ("copy", &n.to_string()),
            ("label", &format!("\"checkpoint {n} {}\"", "x".repeat(200))),
        ]);
        checkpoint.dedupe_keys = (0..RECORDS_PER_CHECKPOINT)
            .map(|record| DedupeKey::new("crashy:3", format!("{n}-{record}"), format!("hash-{n}")))
            .collect();
        if n.is_multiple_of(5) {
            checkpoint.dead_letters = vec![dead_letter(&n.to_string(), Timestamp::now())];
        }
        let done = n - start;
        checkpoint.counters = Some(Counters {
            read: done * RECORDS_PER_CHECKPOINT,
            written: done,
            skipped: 0,
            dead_letters: n / 5 - start / 5,
        });
        store.checkpoint(CRASHY, &checkpoint).unwrap();
        writeln!(stdout, "committed {n}").unwrap();
        stdout.flush().unwrap();
    }
}

fn child(task: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child_process", "--nocapture", "--test-threads=1"])
        .env("INTEG_STORE_CHILD", task)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    command
}

fn child_output(task: &str) -> String {
    let output = child(task).output().unwrap();
    assert!(output.status.success(), "the child failed: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_second_process_cannot_open_a_store_in_use() {
    let dir = TempDir::new("lock");
    let path = dir.db();
    let store = SqliteStore::open(&path).unwrap();
    let task = format!("open {}", path.display());

    let started = Instant::now();
    let output = child_output(&task);
    let line = output.lines().find(|line| line.starts_with("error: ") || *line == "opened").unwrap_or_default();
    assert!(line.starts_with("error: "), "{output}");
    assert!(line.contains("in use by another process"), "{line}");
    assert!(line.contains(&path.display().to_string()), "the message names the file: {line}");
    assert!(started.elapsed() < Duration::from_secs(20), "fails fast");

    // The store is still fully usable by its owner...
    store.set_last_start("flow", at(0)).unwrap();
    // ...and free once its owner closes it.
    drop(store);
    let output = child_output(&task);
    assert!(output.lines().any(|line| line == "opened"), "{output}");
    assert_eq!(SqliteStore::open(&path).unwrap().last_start("flow").unwrap(), Some(at(0)));
}

#[test]
fn a_store_survives_its_process_being_killed_mid_checkpoint() {
    let dir = TempDir::new("kill");
    let path = dir.db();
    let task = format!("checkpoints {}", path.display());
    let mut expected_dead_letters = 0;
    for (round, commits_before_kill) in [(0u64, 150u64), (1, 333), (2, 517), (3, 1)].into_iter() {
        let mut process = child(&task).spawn().unwrap();
        let stdout = process.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut start = None;
        let mut last_printed = None;
        // Read until enough checkpoints are committed, then kill the child
        // wherever it is: SIGKILL, by its PID.
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("started ") {
                start = Some(n.parse::<u64>().unwrap());
            }
            if let Some(n) = line.strip_prefix("committed ") {
                let n: u64 = n.parse().unwrap();
                last_printed = Some(n);
                if n - start.unwrap() >= commits_before_kill {
                    break;
                }
            }
        }
        // While the child holds the store, this process cannot open it.
        if round == 1 {
            let error = SqliteStore::open(&path).err().unwrap();
            assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
        }
        process.kill().unwrap();
        let status = process.wait().unwrap();
        assert!(!status.success(), "round {round}: the child was killed");
        for line in lines {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("committed ") {
                last_printed = Some(n.parse().unwrap());
            }
        }
        let start = start.unwrap();
        let last_printed = last_printed.unwrap();

        // The lock died with the process; the store opens and holds the last
        // committed checkpoint whole.
        let store = SqliteStore::open(&path).unwrap();
        store.quick_check().unwrap();
        let values = store.load_state(CRASHY).unwrap();
        let n: u64 = values["n"].parse().unwrap();
        assert!(n == last_printed || n == last_printed + 1, "round {round}: stored {n}, printed {last_printed}");
        assert_eq!(values["copy"], n.to_string());
        assert_eq!(values["label"], format!("\"checkpoint {n} {}\"", "x".repeat(200)));
        for record in 0..RECORDS_PER_CHECKPOINT {
            assert_eq!(hash(&store, CRASHY, "crashy:3", &format!("{n}-{record}")), Some(format!("hash-{n}")));
            assert_eq!(hash(&store, CRASHY, "crashy:3", &format!("{}-{record}", n + 1)), None);
        }
        expected_dead_letters = n / 5;
        assert_eq!(store.dead_letters(Some(CRASHY)).unwrap().len() as u64, expected_dead_letters);
        let runs = store.recent_runs(Some(CRASHY), 1).unwrap();
        let run = &runs[0];
        assert_eq!(run.outcome, None, "interrupted");
        let done = n - start;
        assert_eq!(
            run.counters,
            Counters {
                read: done * RECORDS_PER_CHECKPOINT,
                written: done,
                skipped: 0,
                dead_letters: n / 5 - start / 5
            }
        );
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.recent_runs(Some(CRASHY), 100).unwrap().len(), 4);
    assert_eq!(store.dead_letters(None).unwrap().len() as u64, expected_dead_letters);
}

#[test]
fn memory_stores_are_independent() {
    let first = MemoryStore::new();
    let second = MemoryStore::new();
    let run = first.start_run("flow", Trigger::Manual, at(0)).unwrap();
    let mut checkpoint = Checkpoint::new(run, at(1));
    checkpoint.state = state(&[("n", "1")]);
    first.checkpoint("flow", &checkpoint).unwrap();
    assert!(second.load_state("flow").unwrap().is_empty());
}

#[test]
fn stores_are_shared_across_threads() {
    let dir = TempDir::new("threads");
    let stores: Vec<std::sync::Arc<dyn Store>> =
        vec![std::sync::Arc::new(MemoryStore::new()), std::sync::Arc::new(SqliteStore::open(dir.db()).unwrap())];
    for store in stores {
        let handles: Vec<_> = (0..4)
            .map(|thread| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let flow = format!("flow{thread}");
                    let run = store.start_run(&flow, Trigger::Manual, at(0)).unwrap();
                    for n in 1..=50u64 {
                        let mut checkpoint = Checkpoint::new(run, at(1));
                        checkpoint.state = state(&[("n", &n.to_string())]);
                        checkpoint.counters.get_or_insert_with(Counters::default).read = n;
                        store.checkpoint(&flow, &checkpoint).unwrap();
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        for thread in 0..4 {
            assert_eq!(store.load_state(&format!("flow{thread}")).unwrap()["n"], "50");
        }
    }
}
