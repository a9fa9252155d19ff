#!/usr/bin/env python3
"""Writes N realistic orders as JSON lines (deterministic): python3 generate.py 1000000 > orders.jsonl"""
import json, random, sys

count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
rng = random.Random(7)
first = ["Ana", "Bo", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustav", "Hana", None]
last = ["Lima", "Ng", "Müller", "O'Brien", "Kowalski", "Dubois", None]
countries = ["us", "de", "fr", "gb", "jp", None]
words = ["mug", "tee", "poster", "sticker", "hoodie", "cap", "socks", "notebook"]
out = sys.stdout
for index in range(count):
    items = []
    for _ in range(rng.randint(1, 5)):
        word = rng.choice(words)
        items.append({
            "sku": f"{word.upper()}-{rng.randint(1, 999):03d}",
            "title": f"{word.title()} {rng.choice(['black', 'white', 'red', 'blue'])}",
            "quantity": rng.randint(1, 4),
            "price_cents": rng.randint(300, 12000),
            "vendor": "Acme Supply Co.",
        })
    order = {
        "id": 100000 + index,
        "email": f"  Customer.{index}@Example.COM ",
        "customer": {"first_name": rng.choice(first), "last_name": rng.choice(last), "email": f"customer.{index}@example.com", "accepts_marketing": rng.random() < 0.3},
        "status": rng.choice(["paid", "pending", "refunded"]),
        "line_items": items,
        "shipping_country": rng.choice(countries),
        "total_cents": sum(item["quantity"] * item["price_cents"] for item in items),
        "created_at": f"2024-0{rng.randint(1, 9)}-{rng.randint(10, 28)}T{rng.randint(10, 23)}:{rng.randint(10, 59)}:00Z",
        "note": rng.choice([None, "gift wrap please", "leave at the door"]),
        "tags": ["web", "newsletter"],
    }
    out.write(json.dumps(order, ensure_ascii=False, separators=(",", ":")))
    out.write("\n")
