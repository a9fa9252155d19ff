//! What the differential tests of `tests/golden` share.

// Each test binary uses a part of it.
#![allow(dead_code)]

/// `text` with the ports of loopback addresses replaced by `<port>`
/// (`http://127.0.0.1:<port>/...`): each back end has its own stand-ins.
pub fn without_ports(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        out.push_str("<port>");
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// The secrets and settings the examples read, for both back ends (the
/// stand-ins take any credential).
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("SHOP_TOKEN", "test-shop-token"),
    ("CRM_CLIENT_ID", "test-crm-client"),
    ("CRM_CLIENT_SECRET", "test-crm-secret"),
    ("GITHUB_CLIENT_ID", "test-github-client"),
    ("GITHUB_CLIENT_SECRET", "test-github-secret"),
    ("GITHUB_REFRESH_TOKEN", "test-github-refresh"),
    ("GITHUB_WEBHOOK_SECRET", "test-webhook-secret"),
    ("CHAT_TOKEN", "test-chat-token"),
    ("CHAT_USER_ID", "test-chat-user"),
    ("STRIPE_SECRET_KEY", "rk_test_known"),
    ("LEDGER_KEY_ID", "test-ledger-key"),
    ("LEDGER_SIGNING_SECRET", "test-ledger-signing"),
    ("RATES_ACCESS_KEY", "test-rates-key"),
];
