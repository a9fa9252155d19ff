//! The front end's speed: parsing alone, and parsing with resolution and type
//! checking, over a large generated program (50,000+ lines of realistic
//! declarations) and over the examples.
//!
//! Run with `cargo bench -p integ-compiler --bench frontend`; the figures are
//! recorded in BENCHMARKS.md.

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use integ_compiler::program::MemoryLoader;
use integ_compiler::source::FileId;

fn main() {
    divan::main();
}

/// One unit of realistic declarations (about 120 lines), with names suffixed by `n`.
fn unit(n: usize) -> String {
    format!(
        r#"/// Where an order is in its payment lifecycle.
enum OrderStatus{n} {{
  pending
  paid
  refunded
  cancelled @wire("voided")
}}

type Address{n} {{
  line1: String @wire("address1")
  line2: String? @wire("address2")
  city: String
  postal_code: String? @wire("zip")
  country_code: String
}}

type LineItem{n} {{
  sku: String?
  title: String
  quantity: Int
  unit_price_cents: Int @wire("price_cents")
}}

/// An order of the shop.
type Order{n} {{
  id: Int
  email: String?
  status: OrderStatus{n} @wire("financial_status")
  currency: String
  total_cents: Int @wire("total_price_cents")
  items: [LineItem{n}] @wire("line_items")
  shipping: Address{n}? @wire("shipping_address")
  note: String?
  created_at: DateTime
  updated_at: DateTime
}}

type OrderPage{n} {{
  orders: [Order{n}]
  next_cursor: String?
}}

type Contact{n} {{
  external_id: String
  email: String
  full_name: String
  country: String
  lifetime_value: Decimal
  tags: [String]
  stage: String
}}

secret token{n} = env("SHOP_TOKEN_{n}")

policy standard{n} {{
  timeout: 10s
  retry: 5 attempts, exponential(base: 200ms, max: 20s), full jitter
  retry_on: [429, 5xx, timeout, connection]
  circuit_breaker: open after 5 failures, probe after 30s
  on_exhausted: dead_letter
}}

api Shop{n} {{
  base_url: env("SHOP_URL_{n}", "https://shop{n}.example.com/api")
  auth: bearer(token{n})
  policy: standard{n}
  rate_limit: 20 per second
  errors {{ 404 => NotFound, 422 => Invalid, 5xx => Unavailable }}

  endpoint list_orders(updated_since: DateTime?) -> stream Order{n} {{
    GET "/orders"
    query {{ updated_at_min: updated_since, limit: 100 }}
    response: OrderPage{n}
    records body.orders
    paginate cursor(next: body.next_cursor, param: "cursor")
  }}

  endpoint get_order(id: Int) -> Order{n} {{
    GET "/orders/{{id}}"
    select body.order
  }}

  endpoint upsert_contact(contact: Contact{n}) {{
    POST "/contacts"
    body json(contact)
    idempotency_key: "contact-{{contact.external_id}}"
  }}
}}

map to_contact{n}(o: Order{n}) -> Contact{n} {{
  let email = lower(trim(o.email ?? ""))
  external_id: "shop-{{o.id}}"
  email: email
  full_name: if o.note != none {{ o.note }} else {{ email }}
  country: o.shipping?.country_code ?? "US"
  lifetime_value: decimal(o.total_cents) / 100
  tags: o.items.filter_map(i => i.sku).unique()
  stage: match o.status {{
    paid => "customer"
    refunded | cancelled => "lost"
    pending => "lead"
  }}
}}

flow sync{n} {{
  trigger: every 5m
  state since: DateTime? = none
  for o in Shop{n}.list_orders(updated_since: since) where o.email != none dedupe o.id {{
    since = max(since, o.updated_at)
    Shop{n}.upsert_contact(to_contact{n}(o)) catch {{ Shop{n}.Invalid => skip }}
  }}
}}

"#
    )
}

fn large_program() -> String {
    let mut text = String::new();
    let mut n = 0;
    while text.lines().count() < 50_000 {
        text.push_str(&unit(n));
        n += 1;
    }
    text
}

const EXAMPLES: &[&str] = &[
    include_str!("../../examples/shop_to_crm/sync.integ"),
    include_str!("../../examples/github_to_chat/notify.integ"),
    include_str!("../../examples/stripe_to_ledger/export.integ"),
];

#[divan::bench]
fn parse_large(bencher: Bencher) {
    let text = large_program();
    bencher.counter(BytesCount::new(text.len())).bench(|| integ_compiler::syntax::parse(FileId(0), black_box(&text)));
}

#[divan::bench]
fn parse_and_check_large(bencher: Bencher) {
    let text = large_program();
    bencher.counter(BytesCount::new(text.len())).bench(|| {
        let analysis = integ_compiler::check_source("large.integ", black_box(&text));
        assert!(analysis.diagnostics().is_empty(), "the generated program checks clean");
        analysis
    });
}

#[divan::bench]
fn parse_examples(bencher: Bencher) {
    let total: usize = EXAMPLES.iter().map(|text| text.len()).sum();
    bencher.counter(BytesCount::new(total)).bench(|| {
        for text in EXAMPLES {
            black_box(integ_compiler::syntax::parse(FileId(0), black_box(text)));
        }
    });
}

#[divan::bench]
fn parse_and_check_examples(bencher: Bencher) {
    let common = include_str!("../../examples/shared/common.integ");
    let total: usize = EXAMPLES.iter().map(|text| text.len()).sum();
    bencher.counter(BytesCount::new(total)).bench(|| {
        for (index, text) in EXAMPLES.iter().enumerate() {
            let name =
                ["shop_to_crm/sync.integ", "github_to_chat/notify.integ", "stripe_to_ledger/export.integ"][index];
            let mut loader = MemoryLoader::new().with(name, text).with("shared/common.integ", common);
            black_box(integ_compiler::analyze(name, &mut loader).ok());
        }
    });
}
