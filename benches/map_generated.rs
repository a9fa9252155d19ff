//! The generated side of the `integ map` benchmark (BENCHMARKS.md):
//! `benchmarks/map/orders.integ`'s `to_contact` as `integ build` generates it
//! (`integ_golden::map_orders`, checked in under `tests/golden/src/`), driven
//! as the generated `map_json` drives it: each line decoded into `Order` by
//! `wire::json`, mapped, encoded by `wire::to_json`. Reads JSON lines on
//! stdin, writes JSON lines, as `benches/map_baseline.rs` does.
//!
//! `cargo bench --bench map_generated` builds it; `benchmarks/map.sh` runs it
//! beside the baseline and `integ map` on the same input.

use std::io::{BufRead, Write};

use integ_golden::map_orders::{Contact, Order, to_contact};
use integ_runtime::wire::{self, Plain};

fn main() {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut json = Vec::new();
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let mapped = wire::json::<Plain<Order>>(line.as_bytes(), "input")
            .map_err(integ_runtime::EvalError::from)
            .and_then(|order| to_contact(&order));
        json.clear();
        match mapped.and_then(|contact| wire::to_json::<Plain<Contact>>(&contact, &mut json)) {
            Ok(()) => {
                json.push(b'\n');
                let _ = stdout.write_all(&json);
            }
            Err(error) => eprintln!("{error}"),
        }
    }
    let _ = stdout.flush();
}
