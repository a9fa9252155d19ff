//! The shop-to-CRM integration, used from Rust: `build.rs` generates typed
//! structs for its records and a function for each of its maps, and this
//! program maps the shop's orders (the example's fixture, or JSON lines on
//! standard input with `-`) into CRM contacts and deals.
//!
//! ```text
//! cargo run -p integ-example-rust            # the fixture's orders
//! cargo run -p integ-example-rust -- - < orders.jsonl
//! ```

use std::io::{BufRead, Write};
use std::process::ExitCode;

/// The generated code: `Order`, `Contact`, `to_contact`, ...
pub mod shop_to_crm {
    include!(concat!(env!("OUT_DIR"), "/sync.rs"));
}

use integ_runtime::generated::serde_json;
use shop_to_crm::{Order, OrderStatus};

const FIXTURE: &str = include_str!("../../shop_to_crm/fixtures/orders.json");

fn main() -> ExitCode {
    let orders: Vec<Order> = match std::env::args().nth(1).as_deref() {
        Some("-") => {
            let mut orders = Vec::new();
            for (number, line) in std::io::stdin().lock().lines().enumerate() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str(&line) {
                    Ok(order) => orders.push(order),
                    Err(error) => {
                        eprintln!("line {}: {error}", number + 1);
                        return ExitCode::FAILURE;
                    }
                }
            }
            orders
        }
        _ => match serde_json::from_str(FIXTURE) {
            Ok(orders) => orders,
            Err(error) => {
                eprintln!("the fixture: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for order in &orders {
        match mapped(order) {
            Ok(line) => {
                let _ = writeln!(out, "{line}");
            }
            Err(error) => {
                failed = true;
                eprintln!("order {}: {error}", order.id);
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// An order as a contact, and as a deal when it was paid or refunded.
fn mapped(order: &Order) -> Result<String, integ_runtime::EvalError> {
    let contact = shop_to_crm::to_contact(order)?;
    let deal = match order.status {
        OrderStatus::Paid | OrderStatus::Refunded | OrderStatus::PartiallyRefunded => {
            Some(shop_to_crm::to_deal(order)?)
        }
        _ => None,
    };
    let json = serde_json::json!({ "contact": contact, "deal": deal });
    Ok(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_maps_to_contacts_and_deals() {
        let orders: Vec<Order> = serde_json::from_str(FIXTURE).unwrap_or_default();
        assert!(!orders.is_empty());
        for order in &orders {
            let contact = shop_to_crm::to_contact(order).unwrap_or_else(|error| panic!("{}: {error}", order.id));
            // A buyer with a customer record is keyed by its id, a guest by the email.
            let expected = match &order.customer {
                Some(customer) => format!("shop:{}", customer.id),
                None => format!("shop-guest:{}", contact.email),
            };
            assert_eq!(contact.external_id, expected);
            assert_eq!(contact.email, contact.email.trim().to_lowercase());
        }
    }
}
