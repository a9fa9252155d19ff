//! `integ run` and `integ deadletters` end to end: the `integ` binary runs
//! `tests/flows/sync.integ` against stand-ins served by this test process
//! on 127.0.0.1 (so that they outlive the runs the tests kill), with its
//! state in a temporary SQLite file.
//!
//! - a sync killed (SIGKILL) at several points and restarted delivers every
//!   record, repeating only the record in flight at each kill;
//! - a target failing 30% of writes (503, 429 with Retry-After, resets,
//!   timeouts) and rejecting some (422): good records arrive, rejected ones
//!   are dead letters with their error, and a replay against the fixed
//!   target delivers them;
//! - SIGINT stops a run cleanly, saving state; the next run resumes;
//! - secrets appear in no output, log line, summary, dead letter or store.

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integ_compiler::interp::standin::{EndpointSetup, Faults, StandInOptions, StandIns, Write};
use integ_compiler::interp::{Interpreter, Options};

const PROGRAM: &str = "tests/flows/sync.integ";
const SOURCE: &str = "Source.list_items";
const TARGET: &str = "Target.upsert_item";

/// A directory of its own for one test's state.
fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("integ-flows-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

struct Disk;

impl integ_compiler::program::Loader for Disk {
    fn read(&mut self, path: &str) -> Result<String, integ_compiler::program::LoadError> {
        std::fs::read_to_string(path).map_err(|error| integ_compiler::program::LoadError::Io(error.to_string()))
    }
}

fn interpreter() -> Interpreter {
    let analysis = integ_compiler::analyze(PROGRAM, &mut Disk).unwrap();
    assert!(!analysis.diagnostics().iter().any(|diagnostic| diagnostic.is_error()), "{PROGRAM} does not check");
    let lowered = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    Interpreter::new(lowered, Options::default()).unwrap()
}

/// Stand-ins of the program's apis, served by `runtime`.
fn stand_ins(runtime: &tokio::runtime::Runtime, items: usize, target: EndpointSetup) -> StandIns {
    let interpreter = interpreter();
    let options = StandInOptions { page_size: 100, ..StandInOptions::default() }
        .endpoint(SOURCE, EndpointSetup { records: Some(items), ..EndpointSetup::default() })
        .endpoint(TARGET, target);
    runtime.block_on(StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), options)).unwrap()
}

fn integ(stand_ins: &StandIns, state: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_integ"));
    command
        .env("SOURCE_URL", stand_ins.base_url("Source").unwrap())
        .env("TARGET_URL", stand_ins.base_url("Target").unwrap())
        .env_remove("INTEG_STATE")
        .env("NO_COLOR", "1");
    let _ = state;
    command
}

fn run_once(stand_ins: &StandIns, state: &Path) -> Command {
    let mut command = integ(stand_ins, state);
    command.args(["--log-level", "warn", "run", PROGRAM, "--once", "--progress", "never", "--state"]).arg(state);
    command
}

fn spawn(mut command: Command) -> Child {
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The item id of a write (the path's last segment).
fn id_of(write: &Write) -> i64 {
    write.path.rsplit('/').next().and_then(|id| id.parse().ok()).unwrap()
}

/// Waits (at most 60 s) until the target stored `count` writes.
fn wait_for_writes(stand_ins: &StandIns, count: usize, child: &mut Child) {
    let started = Instant::now();
    while stand_ins.writes(TARGET).len() < count {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("integ exited ({status}) before {count} writes");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no {count} writes after a minute");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_killed_sync_restarts_and_loses_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let directory = scratch("kill");
    let state = directory.join("state.db");
    let items = 5_000;
    let stand_ins = stand_ins(&runtime, items, EndpointSetup::default());
    let kill_points = [400, 1_900, 3_300, 4_600];
    for point in kill_points {
        let mut child = spawn(run_once(&stand_ins, &state));
        wait_for_writes(&stand_ins, point, &mut child);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let output = run_once(&stand_ins, &state).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));

    let writes = stand_ins.writes(TARGET);
    let mut by_id: BTreeMap<i64, Vec<&Write>> = BTreeMap::new();
    for write in &writes {
        by_id.entry(id_of(write)).or_default().push(write);
    }
    assert_eq!(by_id.len(), items, "every record reaches the target");
    let repeated: Vec<(&i64, &Vec<&Write>)> = by_id.iter().filter(|(_, writes)| writes.len() > 1).collect();
    assert!(
        repeated.len() <= kill_points.len(),
        "only the record in flight at each kill may repeat: {} repeated",
        repeated.len()
    );
    for (id, writes) in repeated {
        assert_eq!(writes.len(), 2, "item {id} written {} times", writes.len());
        assert_eq!(writes[0].body, writes[1].body, "item {id}: the repeat is the same upsert");
        assert_eq!(writes[0].method, "PUT");
    }
    // The last run found every earlier record committed.
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("completed"), "{summary}");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn faults_are_retried_rejections_are_dead_letters_and_replay_delivers_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let directory = scratch("faults");
    let state = directory.join("state.db");
    let items = 400;
    let rejected = |write: &Write| id_of(write) % 37 == 0;
    let faults = Faults {
        unavailable: 0.12,
        rate_limited: 0.08,
        retry_after: Duration::from_secs(1),
        reset: 0.08,
        slow: 0.02,
        slow_by: Duration::from_secs(1),
        reject: Some(Arc::new(rejected)),
    };
    let stand_ins = stand_ins(&runtime, items, EndpointSetup { faults, ..EndpointSetup::default() });
    let output = run_once(&stand_ins, &state).output().unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "dead letters exit 1: {all}");

    let stats = stand_ins.stats(TARGET);
    assert!(stats.unavailable > 0 && stats.rate_limited > 0 && stats.resets > 0, "faults were injected: {stats:?}");
    let delivered: BTreeSet<i64> = stand_ins.writes(TARGET).iter().map(id_of).collect();
    let source_ids: BTreeSet<i64> = (1001..1001 + items as i64).collect();
    let expected_rejects: BTreeSet<i64> = source_ids.iter().copied().filter(|id| id % 37 == 0).collect();
    let good: BTreeSet<i64> = source_ids.difference(&expected_rejects).copied().collect();
    assert_eq!(delivered, good, "every good record arrives, no rejected one does");

    // The rejected records are dead letters, with their error.
    let list = integ(&stand_ins, &state)
        .args(["deadletters", PROGRAM, "list", "--json", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", text(&list));
    let letters: Vec<serde_json::Value> =
        String::from_utf8_lossy(&list.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(letters.len(), expected_rejects.len(), "{}", text(&list));
    for letter in &letters {
        assert_eq!(letter["error"], "Invalid");
        assert_eq!(letter["status"], 422);
        assert_eq!(letter["endpoint"], "upsert_item");
        assert_eq!(letter["flow"], "sync_items");
    }
    let first = letters[0]["id"].as_str().unwrap();
    let show = integ(&stand_ins, &state)
        .args(["deadletters", PROGRAM, "show", first, "--json", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let input_id = shown["input"]["id"].as_i64().unwrap();
    assert!(expected_rejects.contains(&input_id), "{shown}");
    assert_eq!(shown["request"]["method"], "PUT");
    assert_eq!(shown["response"]["status"], 422);
    assert_eq!(shown["attempts"], 1, "a 422 is not retried");

    // The target is fixed (a new one without faults); replay delivers them.
    let fixed = self::stand_ins(&runtime, items, EndpointSetup::default());
    let replay =
        integ(&fixed, &state).args(["deadletters", PROGRAM, "replay", "--state"]).arg(&state).output().unwrap();
    assert!(replay.status.success(), "{}", text(&replay));
    let replayed: BTreeSet<i64> = fixed.writes(TARGET).iter().map(id_of).collect();
    assert_eq!(replayed, expected_rejects, "{}", text(&replay));
    let after =
        integ(&fixed, &state).args(["deadletters", PROGRAM, "list", "--json", "--state"]).arg(&state).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&after.stdout).trim(), "", "delivered dead letters are deleted");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn sigint_saves_state_and_the_next_run_resumes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let directory = scratch("sigint");
    let state = directory.join("state.db");
    let items = 3_000;
    let stand_ins = stand_ins(&runtime, items, EndpointSetup::default());
    let mut child = spawn(run_once(&stand_ins, &state));
    wait_for_writes(&stand_ins, 800, &mut child);
    let signal = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(signal.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "a clean stop exits 0: {}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("(stopped)"), "{}", text(&output));
    let written = stand_ins.writes(TARGET).len();
    assert!(written < items, "the run stopped early ({written} writes)");

    let output = run_once(&stand_ins, &state).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let writes = stand_ins.writes(TARGET);
    let distinct: BTreeSet<i64> = writes.iter().map(id_of).collect();
    assert_eq!(distinct.len(), items, "every record arrives");
    assert_eq!(writes.len(), items, "a clean stop repeats nothing");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn secrets_appear_in_no_output_log_dead_letter_or_store() {
    const TOKEN: &str = "tk-9f8e7d6c5b4a-never-print-me";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let directory = scratch("secrets");
    let state = directory.join("state.db");
    // A target that rejects some items and echoes the credential it got in
    // its error body and headers, as careless servers do.
    let target = runtime.block_on(echoing_target());
    let stand_ins = stand_ins(&runtime, 60, EndpointSetup::default());
    let mut command = integ(&stand_ins, &state);
    command
        .env("TARGET_URL", &target)
        .env("TARGET_TOKEN", TOKEN)
        .args([
            "--log-level",
            "debug",
            "--log-format",
            "json",
            "run",
            PROGRAM,
            "--once",
            "--progress",
            "always",
            "--state",
        ])
        .arg(&state);
    let output = command.output().unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("sync_items"), "the run logged: {all}");
    assert!(!all.contains(TOKEN), "the token leaked into the output");

    let list = integ(&stand_ins, &state)
        .env("TARGET_TOKEN", TOKEN)
        .args(["deadletters", PROGRAM, "list", "--json", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let listed = text(&list);
    assert!(!listed.contains(TOKEN));
    let ids: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!ids.is_empty());
    for id in &ids {
        for format in [None, Some("--json")] {
            let mut show = integ(&stand_ins, &state);
            show.env("TARGET_TOKEN", TOKEN)
                .args(["deadletters", PROGRAM, "show", id])
                .args(format)
                .arg("--state")
                .arg(&state);
            let shown = text(&show.output().unwrap());
            assert!(!shown.contains(TOKEN), "a dead letter shows the token: {shown}");
            assert!(shown.contains("<redacted>"), "the credential is marked redacted: {shown}");
        }
    }
    // Nor is it anywhere in the store's files.
    for entry in std::fs::read_dir(&directory).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(TOKEN.len()).any(|window| window == TOKEN.as_bytes()), "the store holds the token");
    }
    let _ = std::fs::remove_dir_all(&directory);
}

/// `PUT /v1/items/{id}`: 422 for every fifth id, with the request's
/// `Authorization` in the body and a header; 204 otherwise.
async fn echoing_target() -> String {
    use axum::extract::Path as UrlPath;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    async fn upsert(UrlPath(id): UrlPath<i64>, headers: HeaderMap) -> axum::response::Response {
        let credential = headers.get("authorization").and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
        if id % 5 == 0 {
            let body = format!("{{\"error\":\"rejected\",\"you sent\":\"{credential}\"}}");
            (StatusCode::UNPROCESSABLE_ENTITY, [("x-echo", credential)], body).into_response()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    }
    let app = axum::Router::new().route("/v1/items/{id}", axum::routing::put(upsert));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}/v1")
}

#[test]
fn scheduled_flows_run_on_their_schedule_until_a_signal() {
    const EVERY: &str = "tests/flows/every.integ";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let directory = scratch("every");
    let state = directory.join("state.db");
    let analysis = integ_compiler::analyze(EVERY, &mut Disk).unwrap();
    let lowered = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    let interpreter = Interpreter::new(lowered, Options::default()).unwrap();
    let stand_ins = runtime
        .block_on(StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), StandInOptions::default()))
        .unwrap();
    let beats = |stand_ins: &StandIns| -> Vec<String> {
        stand_ins.writes("Target.ping").iter().map(|write| write.path.rsplit('/').next().unwrap().to_owned()).collect()
    };
    let start = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_integ"));
        command
            .env("TARGET_URL", stand_ins.base_url("Target").unwrap())
            .env("NO_COLOR", "1")
            .args(["run", EVERY, "--progress", "never", "--state"])
            .arg(&state);
        spawn(command)
    };
    let wait_for = |count: usize, child: &mut Child| {
        let started = Instant::now();
        while beats(&stand_ins).len() < count {
            assert!(child.try_wait().unwrap().is_none(), "integ run exited");
            assert!(started.elapsed() < Duration::from_secs(20), "no {count} beats: {:?}", beats(&stand_ins));
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let stop = |child: Child| {
        let signal = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(signal.success());
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        text(&output)
    };
    let mut child = start();
    wait_for(3, &mut child);
    let log = stop(child);
    assert!(log.contains("heartbeat completed"), "{log}");
    assert!(log.contains("stopped; state saved"), "{log}");
    let first = beats(&stand_ins);
    assert_eq!(first[..3], ["1", "2", "3"], "one run a second, state carried over: {first:?}");

    // A restart picks the count up where it was.
    let mut child = start();
    wait_for(first.len() + 1, &mut child);
    stop(child);
    let all = beats(&stand_ins);
    assert_eq!(all[first.len()], (first.len() + 1).to_string(), "{all:?}");
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn once_checks_every_payload_before_anything_runs_and_runs_a_webhook_flow_on_one() {
    const HOOK: &str = "tests/flows/hook.integ";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let directory = scratch("hook");
    let state = directory.join("state.db");
    let analysis = integ_compiler::analyze(HOOK, &mut Disk).unwrap();
    let lowered = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    let interpreter = Interpreter::new(lowered, Options::default()).unwrap();
    let stand_ins = runtime
        .block_on(StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), StandInOptions::default()))
        .unwrap();
    let once = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_integ"))
            .env("TARGET_URL", stand_ins.base_url("Target").unwrap())
            .args(["run", HOOK, "--once", "--progress", "never", "--state"])
            .arg(&state)
            .args(args)
            .output()
            .unwrap()
    };
    let pings = || -> Vec<String> {
        stand_ins.writes("Target.ping").iter().map(|write| write.path.rsplit('/').next().unwrap().to_owned()).collect()
    };
    // The webhook flow has no event: nothing runs, not even the manual flow named first.
    let output = once(&["a_first", "b_hook"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("`b_hook` is a webhook flow: give the event it runs on with --payload FILE"));
    let event = directory.join("event.json");
    std::fs::write(&event, r#"{"id": "seven"}"#).unwrap();
    let output = once(&["a_first", "b_hook", "--payload", event.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("--payload of `b_hook`: event.id: expected Int"), "{}", text(&output));
    assert!(pings().is_empty(), "nothing ran: {:?}", pings());

    std::fs::write(&event, r#"{"id": 7}"#).unwrap();
    let output = once(&["a_first", "b_hook", "--payload", event.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    let mut sent = pings();
    sent.sort();
    assert_eq!(sent, ["1", "7"]);
    // Without names, --once runs every flow but webhook flows.
    let output = once(&[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(pings().len(), 3);
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn on_a_terminal_each_running_flow_has_a_progress_line() {
    // A pseudo-terminal from Python's `pty` (Python 3 is on every machine CI runs on).
    let directory = scratch("terminal");
    let state = directory.join("state.db");
    let output = Command::new("python3")
        .args(["-c", "import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)"])
        .arg(env!("CARGO_BIN_EXE_integ"))
        .args(["--log-level", "warn", "run", "examples/shop_to_crm/sync.integ", "sync_orders", "--once", "--mock"])
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    // The live line (redrawn in place), then the summary.
    assert!(shown.contains("sync_orders"), "{shown}");
    assert!(shown.contains(" · written "), "no progress line: {shown}");
    assert!(shown.contains(" records/s · 0:0"), "no progress line: {shown}");
    assert!(shown.contains("completed"), "{shown}");
    let _ = std::fs::remove_dir_all(&directory);
}
