//! Checkpoint cost: one checkpoint of a flow carrying `records` committed
//! top-level records — each with a dedupe key (a new key, as in a sync that
//! moves forward), plus the flow's two state values and, now and then, the
//! run's counters — at batch sizes 1, 10 and 100 (`batch:` in a flow, § 12.8).
//!
//! - `sqlite_normal`: the default store (WAL, `synchronous = NORMAL`:
//!   durable against process crashes);
//! - `sqlite_full`: `synchronous = FULL` (an `fsync` per checkpoint: durable
//!   against power loss);
//! - `memory`: the in-memory store of `integ test`, for reference.
//!
//! Items are records: divan's `item/s` is records checkpointed per second;
//! checkpoints per second is `1 / time`. The databases live under the target
//! directory (a real disk, not a tmpfs), fresh for each benchmark.
//!
//! `cargo bench -p integ-runtime --bench store`

use std::cell::Cell;
use std::path::PathBuf;

use divan::Bencher;
use divan::counter::ItemsCount;
use integ_runtime::store::{
    Checkpoint, Counters, DedupeKey, MemoryStore, SqliteOptions, SqliteStore, Store, Synchronous, Trigger,
};
use jiff::Timestamp;

const BATCHES: [u64; 3] = [1, 10, 100];

fn main() {
    divan::main();
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "store-bench-{}-{name}-{}",
            std::process::id(),
            integ_runtime::store::RunId::generate()
        ));
        let _ = std::fs::remove_dir_all(&path);
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_checkpoints(bencher: Bencher, store: &dyn Store, records: u64) {
    let flow = "sync_orders";
    let run = store.start_run(flow, Trigger::Every, Timestamp::now()).unwrap();
    let next = Cell::new(0u64);
    let now = Timestamp::now();
    bencher
        .counter(ItemsCount::new(records))
        .with_inputs(|| {
            let first = next.get();
            next.set(first + records);
            let mut checkpoint = Checkpoint::new(run, now);
            checkpoint.state.insert("since".to_owned(), format!("\"2024-05-01T12:{:02}:00Z\"", first % 60));
            checkpoint.state.insert("count".to_owned(), (first + records).to_string());
            checkpoint.dedupe_keys = (first..first + records)
                .map(|id| {
                    DedupeKey::new(
                        "sync_orders:12",
                        id.to_string(),
                        format!("{:016x}", id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                    )
                })
                .collect();
            // The flow runner saves counters at most once a second: one
            // checkpoint in a hundred here.
            if first % 100 < records {
                checkpoint.counters =
                    Some(Counters { read: first + records, written: first + records, skipped: 0, dead_letters: 0 });
            }
            checkpoint
        })
        .bench_local_refs(|checkpoint| store.checkpoint(flow, checkpoint).unwrap());
}

fn sqlite(bencher: Bencher, records: u64, synchronous: Synchronous) {
    let scratch = Scratch::new(&format!("{synchronous:?}-{records}"));
    let options = SqliteOptions { synchronous, ..SqliteOptions::default() };
    let store = SqliteStore::open_with(scratch.0.join("state.db"), &options).unwrap();
    run_checkpoints(bencher, &store, records);
}

#[divan::bench(args = BATCHES, sample_count = 2000)]
fn sqlite_normal(bencher: Bencher, records: u64) {
    sqlite(bencher, records, Synchronous::Normal);
}

#[divan::bench(args = BATCHES, sample_count = 300)]
fn sqlite_full(bencher: Bencher, records: u64) {
    sqlite(bencher, records, Synchronous::Full);
}

#[divan::bench(args = BATCHES, sample_count = 2000)]
fn memory(bencher: Bencher, records: u64) {
    run_checkpoints(bencher, &MemoryStore::new(), records);
}
