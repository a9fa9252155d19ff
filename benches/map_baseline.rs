//! The hand-written baseline of the `integ map` benchmark (BENCHMARKS.md):
//! `benchmarks/map/orders.integ`'s `to_contact`, written directly in Rust
//! over typed serde structs. Reads JSON lines on stdin, writes JSON lines.
//!
//! `cargo bench --bench map_baseline` builds it; `benchmarks/map.sh` runs it
//! beside `integ map` on the same input.

use std::io::{BufRead, Write};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Customer {
    first_name: Option<String>,
    last_name: Option<String>,
    #[allow(dead_code)]
    email: String,
}

#[derive(Deserialize)]
struct LineItem {
    sku: String,
    #[allow(dead_code)]
    title: String,
    quantity: i64,
    price_cents: i64,
}

#[derive(Deserialize)]
struct Order {
    id: i64,
    email: String,
    customer: Customer,
    #[allow(dead_code)]
    status: String,
    line_items: Vec<LineItem>,
    shipping_country: Option<String>,
    total_cents: i64,
    #[allow(dead_code)]
    created_at: String,
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Serialize)]
struct Contact {
    external_id: String,
    email: String,
    full_name: String,
    country: String,
    skus: Vec<String>,
    item_count: i64,
    lifetime_value: Box<serde_json::value::RawValue>,
    big_items: i64,
}

fn to_contact(order: Order) -> Contact {
    let full_name = format!(
        "{} {}",
        order.customer.first_name.as_deref().unwrap_or(""),
        order.customer.last_name.as_deref().unwrap_or("")
    );
    let value = Decimal::from(order.total_cents) / Decimal::from(100);
    Contact {
        external_id: format!("shop-{}", order.id),
        email: order.email.trim().to_lowercase(),
        full_name: full_name.trim().to_owned(),
        country: order.shipping_country.as_deref().unwrap_or("us").to_uppercase(),
        skus: order.line_items.iter().map(|item| item.sku.clone()).collect(),
        item_count: order.line_items.iter().map(|item| item.quantity).sum(),
        lifetime_value: serde_json::value::RawValue::from_string(value.to_string()).unwrap_or_default(),
        big_items: order.line_items.iter().filter(|item| item.price_cents > 5000).count() as i64,
    }
}

fn main() {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Order>(&line) {
            Ok(order) => {
                let _ = serde_json::to_writer(&mut stdout, &to_contact(order));
                let _ = stdout.write_all(b"\n");
            }
            Err(error) => eprintln!("{error}"),
        }
    }
    let _ = stdout.flush();
}
