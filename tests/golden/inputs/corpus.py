#!/usr/bin/env python3
"""Writes the differential test's input corpora (inputs/<program>/<map>.jsonl)
from the examples' fixtures and a few hand-written records: each record as is,
then variants that probe the edges (each top-level member left out, null
members, empty lists, unicode strings, large and fractional numbers).
Rerun after changing a fixture: python3 tests/golden/inputs/corpus.py"""

import copy
import json
import pathlib

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent.parent.parent
FIXTURES = ROOT / "examples"


def load(path):
    data = json.loads((FIXTURES / path).read_text())
    return data if isinstance(data, list) else [data]


def variants(record):
    yield record
    if not isinstance(record, dict):
        return
    for key in list(record)[:12]:
        dropped = {k: v for k, v in record.items() if k != key}
        yield dropped
        nulled = dict(record)
        nulled[key] = None
        yield nulled
    emptied = {k: ([] if isinstance(v, list) else v) for k, v in record.items()}
    yield emptied
    unicode = {k: ("Ünïcödé — żółć 🎉 " + v + " \t\n\"\\" if isinstance(v, str) else v) for k, v in record.items()}
    yield unicode
    big = {k: (9223372036854775807 if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in record.items()}
    yield big
    fractional = {k: (v + 0.5 if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in record.items()}
    yield fractional
    floats = {k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in record.items()}
    yield floats


def write(program, name, records):
    out = HERE / program
    out.mkdir(exist_ok=True)
    lines = []
    seen = set()
    for record in records:
        for variant in variants(copy.deepcopy(record)):
            line = json.dumps(variant, ensure_ascii=False)
            if line not in seen:
                seen.add(line)
                lines.append(line)
    (out / f"{name}.jsonl").write_text("\n".join(lines) + "\n")


orders = load("shop_to_crm/fixtures/orders.json")
write("shop_to_crm", "to_contact", orders)
write("shop_to_crm", "to_deal", orders)
write("shop_to_crm", "to_crm_address", [o["shipping_address"] for o in orders if o.get("shipping_address")])
write("shop_to_crm", "customer_to_contact", load("shop_to_crm/fixtures/customers.json"))
events = [load(f"github_to_chat/fixtures/{name}.json")[0] for name in ("issue_opened", "issue_closed", "issue_edited")]
write("github_to_chat", "to_message", events)
write("stripe_to_ledger", "to_payout_batch", load("stripe_to_ledger/fixtures/payouts.json"))

natives_orders = [
    {
        "id": 7, "email": " Ann.Lee@Example.com ", "tags": ["vip", "new", ""],
        "lines": [
            {"sku": "TEE-1", "quantity": 2, "price": 12.50, "note": "gift wrap"},
            {"sku": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "quantity": 12, "price": 0.05},
        ],
        "attributes": {"colour": "blue", "size": "M"},
        "placed_at": "2024-03-01T12:30:15.250+01:00", "shipped_on": "2024-03-04",
        "wait": "PT1H30M", "priority": "high",
        "payload": {"total": "12.50", "count": 3, "nested": {"ok": True}, "list": [1, 2.5, "x"]},
        "extra": None,
    },
    {
        "id": -1, "tags": [], "lines": [], "attributes": {}, "placed_at": "1969-12-31T23:59:59Z",
        "wait": "P1D", "priority": "low", "payload": [1, 2, 3],
    },
]
# `numbers` reads the payload as a number.
numeric = [dict(natives_orders[0], payload=12, lines=[{"sku": "A", "quantity": 2, "price": 12.5}]), dict(natives_orders[1], payload=-3)]
natives_orders += numeric
for name in ("strings", "numbers", "lists", "maps", "jsons"):
    write("natives", name, natives_orders)

# The map benchmark's program, on the benchmark's own generator's first orders.
import subprocess
import sys
generated = subprocess.run(
    [sys.executable, str(ROOT / "benchmarks/map/generate.py"), "12"], capture_output=True, text=True, check=True
).stdout
write("map_orders", "to_contact", [json.loads(line) for line in generated.splitlines() if line.strip()])
