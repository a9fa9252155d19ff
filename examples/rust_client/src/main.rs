//! `cargo run -p integ-example-rust` maps the example's fixture orders into
//! CRM contacts and deals and prints them (JSON lines);
//! `cargo run -p integ-example-rust -- sync` runs the typed sync against the
//! apis the environment names (`SHOP_URL`, `CRM_URL`, `CRM_TOKEN_URL`, and
//! the secrets `SHOP_TOKEN`, `CRM_CLIENT_ID`, `CRM_CLIENT_SECRET`): start
//! `integ mock examples/shop_to_crm/sync.integ` and export what it prints;
//! `cargo run -p integ-example-rust -- flow [STATE]` runs the generated
//! runner of the `sync_orders` flow against the same apis, once, with its
//! state in the SQLite file STATE (default `.integ/rust_client.db`; `integ
//! deadletters` reads it too), and prints how the run ended.

use std::io::Write;
use std::process::ExitCode;

use integ_example_rust::shop_to_crm::{self, Apis, Order};
use integ_example_rust::{deal_for, sync};
use integ_runtime::generated::{FlowHost, serde_json};

const FIXTURE: &str = include_str!("../../shop_to_crm/fixtures/orders.json");

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("sync") => return run_sync(),
        Some("flow") => return run_flow(std::env::args().nth(2).unwrap_or_else(|| ".integ/rust_client.db".to_owned())),
        _ => {}
    }
    let orders: Vec<Order> = match serde_json::from_str(FIXTURE) {
        Ok(orders) => orders,
        Err(error) => {
            eprintln!("the fixture: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    for order in &orders {
        let mapped = shop_to_crm::to_contact(order)
            .map_err(|error| error.to_string())
            .and_then(|contact| Ok((contact, deal_for(order).map_err(|error| error.to_string())?)));
        match mapped {
            Ok((contact, deal)) => {
                let _ = writeln!(out, "{}", serde_json::json!({ "contact": contact, "deal": deal }));
            }
            Err(error) => {
                eprintln!("order {}: {error}", order.id);
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn run_sync() -> ExitCode {
    let apis = match Apis::from_env() {
        Ok(apis) => apis,
        Err(error) => {
            eprintln!("error: {}", error.message());
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(sync(&apis)) {
        Ok(synced) => {
            println!("{} orders: {} contacts and {} deals upserted", synced.orders, synced.contacts, synced.deals);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_flow(state: String) -> ExitCode {
    let apis = match Apis::from_env() {
        Ok(apis) => apis,
        Err(error) => {
            eprintln!("error: {}", error.message());
            return ExitCode::from(2);
        }
    };
    if let Some(parent) = std::path::Path::new(&state).parent()
        && let Err(error) = std::fs::create_dir_all(parent)
    {
        eprintln!("error: cannot create `{}`: {error}", parent.display());
        return ExitCode::from(2);
    }
    let host = match FlowHost::open(&state) {
        Ok(host) => host,
        Err(error) => {
            eprintln!("error: the state store `{state}`: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(shop_to_crm::sync_orders(&apis, &host)) {
        Ok(report) => {
            let counters = report.counters;
            println!(
                "{} {}: read {}, written {}, skipped {}, dead letters {}",
                report.flow, report.outcome, counters.read, counters.written, counters.skipped, counters.dead_letters
            );
            match (&report.error, counters.dead_letters) {
                (Some(error), _) => {
                    eprintln!("error: {error}");
                    ExitCode::from(2)
                }
                (None, 0) => ExitCode::SUCCESS,
                (None, _) => ExitCode::FAILURE,
            }
        }
        Err(error) => {
            eprintln!("error: the state store: {error}");
            ExitCode::from(2)
        }
    }
}
