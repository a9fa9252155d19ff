//! The example's typed sync against local stand-ins of the shop and the CRM
//! (the same stand-ins as `integ mock`): the generated clients walk every
//! page of the shop's orders, and the CRM stores one contact per order (and
//! a deal per paid or refunded one) whose JSON is what the generated maps
//! computed.

use std::path::Path;
use std::sync::Arc;

use integ_compiler::interp::standin::{StandInOptions, StandIns};
use integ_compiler::interp::{Interpreter, Options};
use integ_compiler::program::FsLoader;
use integ_example_rust::shop_to_crm::{self, Apis, Order};
use integ_example_rust::{deal_for, sync};
use integ_runtime::generated::{Env, FlowHost, serde_json};
use integ_runtime::store::RunOutcome;

#[tokio::test]
async fn the_typed_sync_upserts_every_order_into_the_crm_stand_in() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shop_to_crm/sync.integ");
    let analysis =
        integ_compiler::analyze(&root.to_string_lossy(), &mut FsLoader).unwrap_or_else(|error| panic!("{error}"));
    let lowered = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    let interpreter = Interpreter::new(lowered, Options::default()).unwrap_or_else(|error| panic!("{error}"));
    // Pages of 2 orders: the client walks several pages.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shop_to_crm/fixtures");
    let options = StandInOptions { page_size: 2, fixtures: Some(fixtures), ..StandInOptions::default() };
    let stand_ins = StandIns::start(Arc::clone(&interpreter.program), Arc::clone(&interpreter.schema), options)
        .await
        .unwrap_or_else(|error| panic!("stand-ins: {error}"));
    let redirects = stand_ins.redirects();
    // Stand-ins take any credential.
    let env = Env::from_pairs([("SHOP_TOKEN", "t"), ("CRM_CLIENT_ID", "id"), ("CRM_CLIENT_SECRET", "secret")]);
    let apis = Apis::configure(&env, &redirects).unwrap_or_else(|error| panic!("{}", error.message()));

    let synced = sync(&apis).await.unwrap_or_else(|error| panic!("sync: {error}"));

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shop_to_crm/fixtures/Shop.list_orders.json");
    let text = std::fs::read_to_string(&fixture).unwrap_or_else(|error| panic!("{error}"));
    let orders: Vec<Order> = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"));
    assert!(orders.len() > 2, "the fixture has several pages of orders");
    assert_eq!(synced.orders, orders.len());
    assert_eq!(stand_ins.stats("Shop.list_orders").requests, orders.len().div_ceil(2) as u64);
    let contacts = stand_ins.writes("Crm.upsert_contact");
    assert_eq!(contacts.len(), orders.len());
    for (order, write) in orders.iter().zip(&contacts) {
        let expected = integ_example_rust::shop_to_crm::to_contact(order).unwrap_or_else(|error| panic!("{error}"));
        let stored: serde_json::Value = serde_json::from_slice(&write.body).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(stored, serde_json::to_value(&expected).unwrap_or_default());
    }
    let deals = orders.iter().filter_map(|order| deal_for(order).ok().flatten()).count();
    assert_eq!((synced.deals, stand_ins.writes("Crm.upsert_deal").len()), (deals, deals));
}

/// The generated runner of `sync_orders`: the same stand-ins, a store in
/// memory. The first run reads every order and writes contacts and deals;
/// the second resumes from the saved cursor and dedupe keys and writes
/// nothing new.
#[tokio::test]
async fn the_generated_flow_syncs_once_and_then_finds_nothing_new() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shop_to_crm/sync.integ");
    let analysis =
        integ_compiler::analyze(&root.to_string_lossy(), &mut FsLoader).unwrap_or_else(|error| panic!("{error}"));
    let lowered = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    let interpreter = Interpreter::new(lowered, Options::default()).unwrap_or_else(|error| panic!("{error}"));
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shop_to_crm/fixtures");
    let options = StandInOptions { page_size: 2, fixtures: Some(fixtures), ..StandInOptions::default() };
    let stand_ins = StandIns::start(Arc::clone(&interpreter.program), Arc::clone(&interpreter.schema), options)
        .await
        .unwrap_or_else(|error| panic!("stand-ins: {error}"));
    let env = Env::from_pairs([("SHOP_TOKEN", "t"), ("CRM_CLIENT_ID", "id"), ("CRM_CLIENT_SECRET", "secret")]);
    let apis = Apis::configure(&env, &stand_ins.redirects()).unwrap_or_else(|error| panic!("{}", error.message()));
    let host = FlowHost::in_memory();

    let first = shop_to_crm::sync_orders(&apis, &host).await.unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(first.error, None);
    assert_eq!(first.outcome, RunOutcome::Completed);
    assert!(first.counters.read > 2, "{first:?}");
    let contacts = stand_ins.writes("Crm.upsert_contact").len() as u64;
    let deals = stand_ins.writes("Crm.upsert_deal").len() as u64;
    assert!(contacts > 0, "{first:?}");
    // Contacts, deals and tags all count as written.
    assert!(first.counters.written >= contacts + deals, "{first:?}");
    let cursor = host.store().load_state("sync_orders").unwrap_or_else(|error| panic!("{error}"));
    assert!(cursor.get("since").is_some_and(|since| since.starts_with('"')), "the cursor is saved: {cursor:?}");

    let second = shop_to_crm::sync_orders(&apis, &host).await.unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(second.outcome, RunOutcome::Completed);
    assert_eq!(stand_ins.writes("Crm.upsert_contact").len() as u64, contacts, "nothing new: {second:?}");
    assert_eq!((second.counters.written, second.counters.skipped), (0, second.counters.read), "{second:?}");
    assert_eq!(host.store().recent_runs(Some("sync_orders"), 10).map(|runs| runs.len()).ok(), Some(2));
}
