//! The shop-to-CRM integration, used from Rust: `build.rs` generates typed
//! structs for its records, a function for each of its maps and a client for
//! each of its apis ([`shop_to_crm`]). [`sync`] is a hand-written sync on top
//! of them: every order of the shop becomes a CRM contact, and each paid or
//! refunded one a deal.

/// The generated code: `Order`, `Contact`, `to_contact`, `Shop`, `Crm`, `Apis`...
pub mod shop_to_crm {
    include!(concat!(env!("OUT_DIR"), "/sync.rs"));
}

use integ_runtime::generated::CallFailure;
use shop_to_crm::{Apis, Order, OrderStatus};

/// What a [`sync`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    pub orders: usize,
    pub contacts: usize,
    pub deals: usize,
}

/// Why a sync stopped.
#[derive(Debug)]
pub enum SyncError {
    Call(CallFailure),
    Map { order: i64, error: integ_runtime::EvalError },
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::Call(error) => write!(formatter, "{error}"),
            SyncError::Map { order, error } => write!(formatter, "order {order}: {error}"),
        }
    }
}

impl std::error::Error for SyncError {}

impl From<CallFailure> for SyncError {
    fn from(error: CallFailure) -> SyncError {
        SyncError::Call(error)
    }
}

impl From<integ_runtime::http::CallError> for SyncError {
    fn from(error: integ_runtime::http::CallError) -> SyncError {
        SyncError::Call(CallFailure::from(error))
    }
}

/// Reads every order of the shop (page by page, as the api's pagination
/// says), and upserts its buyer as a contact and, when it was paid or
/// refunded, a deal, through the generated clients.
pub async fn sync(apis: &Apis) -> Result<Synced, SyncError> {
    let mut synced = Synced::default();
    let mut pages = apis.shop.list_orders(&None)?;
    while let Some(page) = pages.next_page().await {
        for order in page? {
            synced.orders += 1;
            let contact = shop_to_crm::to_contact(&order).map_err(|error| SyncError::Map { order: order.id, error })?;
            apis.crm.upsert_contact(&contact.external_id, &contact).await?;
            synced.contacts += 1;
            if let Some(deal) = deal_for(&order)? {
                apis.crm.upsert_deal(&deal).await?;
                synced.deals += 1;
            }
        }
    }
    Ok(synced)
}

/// The order's deal, when it was paid or refunded.
pub fn deal_for(order: &Order) -> Result<Option<shop_to_crm::Deal>, SyncError> {
    match order.status {
        OrderStatus::Paid | OrderStatus::Refunded | OrderStatus::PartiallyRefunded => {
            shop_to_crm::to_deal(order).map(Some).map_err(|error| SyncError::Map { order: order.id, error })
        }
        _ => Ok(None),
    }
}
