//! A sync of 100,000 records between two local stand-ins: records per
//! second, and the share of the run spent writing checkpoints (§ 12.8).
//!
//! `cargo bench --bench flow_sync [-- RECORDS]` runs `tests/flows/sync.integ`
//! in process (the interpreter's flow runner, as `integ run --once` does):
//! a stand-in of `Source` serves the records (cursor pagination, 100 a
//! page), a stand-in of `Target` stores every `PUT`. Each record is read,
//! checked against the committed dedupe keys, upserted and committed. It
//! runs, in one process and one after the other:
//!
//! - the SQLite store (a temporary file) at the default `batch: 1`, a
//!   checkpoint after every record: the configuration the target is about;
//! - the SQLite store at `batch: 100`;
//! - the in-memory store at `batch: 1` (no disk at all).
//!
//! The checkpoint share is measured directly (the time inside
//! `Store::checkpoint` over the run's time) and, as a cross-check, as the
//! throughput lost against `batch: 100`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use integ_compiler::interp::flow::{self, Host, Live, Report, Request};
use integ_compiler::interp::standin::{EndpointSetup, StandInOptions, StandIns};
use integ_compiler::interp::{Interpreter, Options};
use integ_runtime::store::{MemoryStore, SqliteStore, Store, Trigger};

const PROGRAM: &str = include_str!("../tests/flows/sync.integ");

fn interpreter(batch: u32) -> Interpreter {
    let source = PROGRAM.replace("  trigger: manual\n", &format!("  trigger: manual\n  batch: {batch}\n"));
    let analysis = integ_compiler::check_source("sync.integ", &source);
    assert!(!analysis.diagnostics().iter().any(|diagnostic| diagnostic.is_error()), "the program does not check");
    let lowered = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    Interpreter::new(lowered, Options { environment: Box::new(|_| None), ..Options::default() }).unwrap()
}

struct Measured {
    name: &'static str,
    report: Report,
    seconds: f64,
}

fn sync(name: &'static str, records: usize, batch: u32, store: Arc<dyn Store>) -> Measured {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let interpreter = interpreter(batch);
    let options = StandInOptions { page_size: 100, ..StandInOptions::default() }
        .endpoint("Source.list_items", EndpointSetup { records: Some(records), ..EndpointSetup::default() });
    let stand_ins =
        runtime.block_on(StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), options)).unwrap();
    let apis = {
        let _entered = runtime.enter();
        interpreter.connect_with(&stand_ins.redirects()).unwrap()
    };
    let host =
        Host { interpreter: Arc::new(interpreter), apis: Arc::new(apis), store, handle: runtime.handle().clone() };
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let report = flow::run(
        &host,
        Request {
            flow: "sync_items",
            trigger: Trigger::Manual,
            payload: None,
            live: Arc::new(Live::default()),
            stop: &stop,
        },
    )
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(report.counters.written as usize, records, "{:?}", report.error);
    assert_eq!(stand_ins.writes("Target.upsert_item").len(), records);
    Measured { name, report, seconds }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut numbers = std::env::args().skip(1).filter_map(|arg| arg.parse::<usize>().ok());
    let records = numbers.next().unwrap_or(100_000);
    let rounds = numbers.next().unwrap_or(3).max(1);
    let directory = std::env::temp_dir().join(format!("integ-bench-flow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    let sqlite = |name: String| -> Arc<dyn Store> { Arc::new(SqliteStore::open(directory.join(name)).unwrap()) };
    // A short warm-up (connections, allocator, page cache).
    sync("warm-up", records.min(2_000), 1, sqlite("warm-up.db".into()));
    // Rounds run every configuration once, in alternating order, so that
    // the machine's drift hits them alike; medians over rounds.
    let names = ["SQLite, batch 1 (default)", "SQLite, batch 100", "memory, batch 1"];
    let mut measured: Vec<Vec<Measured>> = names.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let mut order = vec![0, 1, 2];
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let store = match index {
                0 => sqlite(format!("batch1-{round}.db")),
                1 => sqlite(format!("batch100-{round}.db")),
                _ => Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            };
            let batch = if index == 1 { 100 } else { 1 };
            measured[index].push(sync(names[index], records, batch, store));
        }
    }
    println!("{records} records, Source → Target stand-ins on 127.0.0.1, median of {rounds} rounds\n");
    println!("| store | records/s | run | checkpoints | time in checkpoints | share of the run |");
    println!("|---|---|---|---|---|---|");
    for runs in &measured {
        let seconds = median(runs.iter().map(|run| run.seconds).collect());
        let checkpoint = median(runs.iter().map(|run| run.report.checkpoint_time.as_secs_f64()).collect());
        let share = median(runs.iter().map(|run| run.report.checkpoint_time.as_secs_f64() / run.seconds).collect());
        println!(
            "| {} | {:.0} | {:.2} s | {} | {:.3} s | {:.1}% |",
            runs[0].name,
            records as f64 / seconds,
            seconds,
            runs[0].report.checkpoints,
            checkpoint,
            100.0 * share
        );
    }
    let lost = median(
        measured[0].iter().zip(&measured[1]).map(|(one, hundred)| 1.0 - hundred.seconds / one.seconds).collect(),
    );
    println!("\nthroughput lost at batch 1 against batch 100 (median of the rounds' ratios): {:.1}%", 100.0 * lost);
    let _ = std::fs::remove_dir_all(&directory);
}
