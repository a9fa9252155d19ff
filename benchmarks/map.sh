#!/usr/bin/env bash
# The `integ map` benchmark: the interpreter against a hand-written Rust
# baseline over typed serde structs, on the same 1,000,000 JSON-lines orders,
# in one run. Prints wall-clock seconds, records per second and the ratio.
#   benchmarks/map.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-1000000}"
data="target/bench-data/orders-${records}.jsonl"
mkdir -p target/bench-data
if [ ! -s "$data" ]; then
  python3 benchmarks/map/generate.py "$records" > "$data"
fi
cargo build --release -q --bin integ
cargo bench -q --bench map_baseline --no-run 2>/dev/null
baseline=$(ls -t target/release/deps/map_baseline-* | grep -v '\.d$' | head -1)

python3 - "$data" "$baseline" <<'PY'
import subprocess, sys, time
data, baseline = sys.argv[1], sys.argv[2]
runs = {
    "hand-written Rust (serde, typed structs)": [baseline],
    "integ map (interpreter)": ["target/release/integ", "map", "benchmarks/map/orders.integ", "to_contact"],
}
outputs, times = {}, {}
for name, command in runs.items():
    best = None
    for _ in range(3):
        with open(data, "rb") as stdin:
            start = time.perf_counter()
            result = subprocess.run(command, stdin=stdin, stdout=subprocess.PIPE, check=True)
            elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
        outputs[name] = result.stdout
    times[name] = best
lines = sum(1 for _ in open(data, "rb"))
base = times["hand-written Rust (serde, typed structs)"]
for name, seconds in times.items():
    print(f"{name:45s} {seconds:7.2f} s  {lines / seconds:10,.0f} records/s  {seconds / base:5.2f}x")
same = outputs["hand-written Rust (serde, typed structs)"] == outputs["integ map (interpreter)"]
print("outputs identical:", same)
PY
