#!/usr/bin/env bash
# The `integ map` benchmark: the interpreter and the Rust that `integ build`
# generates, against a hand-written Rust baseline over typed serde structs,
# on the same 1,000,000 JSON-lines orders, in one run. Each round runs the
# three programs one after the other, writing to /dev/null (best of three
# rounds); then each runs once more, untimed, to check that all three write
# the same bytes. Prints wall-clock seconds, records per second and the
# ratios.
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
cargo bench -q --bench map_generated --no-run 2>/dev/null
baseline=$(ls -t target/release/deps/map_baseline-* | grep -v '\.d$' | head -1)
generated=$(ls -t target/release/deps/map_generated-* | grep -v '\.d$' | head -1)

python3 - "$data" "$baseline" "$generated" <<'PY'
import subprocess, sys, time
data, baseline, generated = sys.argv[1:4]
BASELINE = "hand-written Rust (serde, typed structs)"
GENERATED = "generated Rust (integ build)"
INTERPRETER = "integ map (interpreter)"
runs = {
    BASELINE: [baseline],
    GENERATED: [generated],
    INTERPRETER: ["target/release/integ", "map", "benchmarks/map/orders.integ", "to_contact"],
}
# Timed with the output thrown away: reading it through a pipe would add
# the reader's time, about the same for each program, to every figure.
times = {}
for _ in range(3):
    for name, command in runs.items():
        with open(data, "rb") as stdin:
            start = time.perf_counter()
            subprocess.run(command, stdin=stdin, stdout=subprocess.DEVNULL, check=True)
            elapsed = time.perf_counter() - start
        times[name] = min(times.get(name, elapsed), elapsed)
outputs = {}
for name, command in runs.items():
    with open(data, "rb") as stdin:
        outputs[name] = subprocess.run(command, stdin=stdin, stdout=subprocess.PIPE, check=True).stdout
lines = sum(1 for _ in open(data, "rb"))
base = times[BASELINE]
for name, seconds in times.items():
    print(f"{name:45s} {seconds:7.2f} s  {lines / seconds:10,.0f} records/s  {seconds / base:5.2f}x")
print(f"generated / baseline: {times[GENERATED] / base:.2f}x, "
      f"interpreter / generated: {times[INTERPRETER] / times[GENERATED]:.2f}x")
print("generated output identical to the interpreter's:", outputs[GENERATED] == outputs[INTERPRETER])
print("baseline output identical to the interpreter's: ", outputs[BASELINE] == outputs[INTERPRETER])
PY
