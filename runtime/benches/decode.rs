//! Decoding throughput: a page of 100k realistic order records (about 1.8 KB
//! of JSON each, of which the program reads a handful of fields), decoded as
//! a typed page, element by element as a stream page, as `Json`, and — for
//! reference — as a generic `serde_json::Value` tree; then the same orders
//! with only the members read (about 330 bytes each), decoded and encoded.
//!
//! `cargo bench -p integ-runtime --bench decode`

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use integ_runtime::decode;
use integ_runtime::types::{
    DateTimeFormat, EnumDesc, FieldDesc, NumberFormat, RecordDesc, Schema, TypeDesc, VariantDesc,
};

const RECORDS: usize = 100_000;

fn main() {
    divan::main();
}

fn field(name: &str, wire: &str, ty: TypeDesc) -> FieldDesc {
    FieldDesc { name: name.to_owned(), wire: wire.to_owned(), ty, read: true }
}

const LINE_ITEM: u32 = 0;
const ADDRESS: u32 = 1;
const ORDER: u32 = 2;
const PAGE: u32 = 3;

fn schema() -> Schema {
    let variants = ["pending", "paid", "refunded", "voided"]
        .iter()
        .map(|name| VariantDesc { name: (*name).to_owned(), wire: (*name).to_owned() })
        .collect();
    let optional = |ty: TypeDesc| TypeDesc::Optional(Box::new(ty));
    Schema {
        enums: vec![EnumDesc { name: "OrderStatus".to_owned(), variants, other: None }],
        records: vec![
            RecordDesc::new(
                "LineItem",
                vec![
                    field("sku", "sku", TypeDesc::String),
                    field("quantity", "quantity", TypeDesc::Int(NumberFormat::Number)),
                    field("price", "price", TypeDesc::Decimal(NumberFormat::String)),
                ],
                false,
            ),
            RecordDesc::new(
                "Address",
                vec![field("country_code", "country_code", TypeDesc::String), field("city", "city", TypeDesc::String)],
                false,
            ),
            RecordDesc::new(
                "Order",
                vec![
                    field("id", "id", TypeDesc::Int(NumberFormat::Number)),
                    field("email", "email", optional(TypeDesc::String)),
                    field("status", "financial_status", TypeDesc::Enum(0)),
                    field("total_cents", "total_price_cents", TypeDesc::Int(NumberFormat::Number)),
                    field("shipping", "shipping_address", optional(TypeDesc::Record(ADDRESS))),
                    field("updated_at", "updated_at", TypeDesc::DateTime(DateTimeFormat::Rfc3339)),
                    field("items", "line_items", TypeDesc::List(Box::new(TypeDesc::Record(LINE_ITEM)))),
                ],
                false,
            ),
            RecordDesc::new(
                "OrderPage",
                vec![
                    field("orders", "orders", TypeDesc::List(Box::new(TypeDesc::Record(ORDER)))),
                    field("next_cursor", "next_cursor", optional(TypeDesc::String)),
                ],
                false,
            ),
        ],
    }
}

/// One order as a shop API sends it: the fields the program reads among many
/// it does not.
fn order(index: usize) -> String {
    let status = ["pending", "paid", "refunded", "voided"][index % 4];
    let email = if index.is_multiple_of(7) { "null".to_owned() } else { format!("\"customer{index}@example.com\"") };
    format!(
        r##"{{"id":{id},"admin_graphql_api_id":"gid://shop/Order/{id}","app_id":580111,"browser_ip":"203.0.113.{ip}","buyer_accepts_marketing":false,"cancel_reason":null,"cancelled_at":null,"cart_token":"c1-{index:08x}","checkout_id":{checkout},"confirmed":true,"contact_email":{email},"created_at":"2024-05-01T10:{minute:02}:00+02:00","currency":"EUR","current_subtotal_price":"{total}.00","email":{email},"financial_status":"{status}","fulfillment_status":null,"landing_site":"/products/widget?utm_source=news","name":"#{number}","note":null,"note_attributes":[],"number":{number},"order_number":{order_number},"processed_at":"2024-05-01T10:{minute:02}:00+02:00","source_name":"web","tags":"wholesale, vip","taxes_included":true,"test":false,"total_discounts":"0.00","total_price":"{total}.00","total_price_cents":{cents},"total_tax":"{tax}.17","total_weight":1200,"updated_at":"2024-05-0{day}T12:{minute:02}:{second:02}.{millis:03}Z","customer":{{"id":{customer},"email":{email},"first_name":"Ada","last_name":"Lovelace","orders_count":{orders},"state":"enabled","verified_email":true,"tags":""}},"shipping_address":{{"first_name":"Ada","last_name":"Lovelace","address1":"{street} Rue de Rivoli","city":"Paris","zip":"75001","province":null,"country":"France","country_code":"FR","phone":"+33 1 23 45 67 89","latitude":48.8566,"longitude":2.3522}},"line_items":[{{"id":{item1},"sku":"WIDGET-{sku1}","title":"Widget \"Pro\"","quantity":{quantity},"price":"12.50","grams":600,"taxable":true,"vendor":"Acme","product_id":7513594,"variant_id":4264112,"properties":[]}},{{"id":{item2},"sku":"GADGET-{sku2}","title":"Gadget","quantity":1,"price":"{total}.00","grams":600,"taxable":true,"vendor":"Acme","product_id":7513595,"variant_id":4264113,"properties":[{{"name":"gift","value":"yes"}}]}}],"discount_codes":[],"shipping_lines":[{{"code":"Standard","price":"4.90","source":"shop"}}]}}"##,
        id = 4_500_000_000u64 + index as u64,
        ip = index % 250,
        checkout = 900_000 + index,
        minute = index % 60,
        second = (index / 60) % 60,
        millis = index % 1000,
        day = 1 + index % 9,
        total = 10 + index % 500,
        cents = (10 + index % 500) * 100 + 1250,
        tax = index % 90,
        number = 1000 + index,
        order_number = 2000 + index,
        customer = 600_000 + index % 5000,
        orders = index % 40,
        street = 1 + index % 200,
        item1 = 10_000_000 + 2 * index,
        item2 = 10_000_001 + 2 * index,
        sku1 = index % 97,
        sku2 = index % 89,
        quantity = 1 + index % 5,
    )
}

fn page() -> Vec<u8> {
    let orders: Vec<String> = (0..RECORDS).map(order).collect();
    let page = format!(r#"{{"orders":[{}],"next_cursor":"eyJsYXN0X2lkIjo0NTAwMDk5OTk5fQ"}}"#, orders.join(","));
    // The benchmarks measure successful decoding: check it once.
    let schema = schema();
    if let Err(error) = decode::json(page.as_bytes(), &TypeDesc::Record(PAGE), &schema, "body") {
        panic!("the benchmark page does not decode: {error}");
    }
    page.into_bytes()
}

/// The same orders with only the members the program reads (about 330
/// bytes each): the cost of decoding itself, without skipping.
fn dense_page() -> Vec<u8> {
    let schema = schema();
    let page = page();
    let Ok(decoded) = decode::json(&page, &TypeDesc::Record(PAGE), &schema, "body") else {
        panic!("the benchmark page does not decode");
    };
    match integ_runtime::encode::json_string(&decoded, &TypeDesc::Record(PAGE), &schema) {
        Ok(text) => text.into_bytes(),
        Err(error) => panic!("the benchmark page does not encode: {error}"),
    }
}

#[divan::bench(sample_count = 10)]
fn typed_page_dense(bencher: Bencher) {
    let schema = schema();
    let bytes = dense_page();
    let ty = TypeDesc::Record(PAGE);
    bencher.counter(BytesCount::new(bytes.len())).counter(ItemsCount::new(RECORDS)).bench(|| {
        decode::json(divan::black_box(&bytes), &ty, &schema, "body").map(|_| ()).map_err(|error| error.to_string())
    });
}

#[divan::bench(sample_count = 10)]
fn encode_page_dense(bencher: Bencher) {
    let schema = schema();
    let bytes = dense_page();
    let ty = TypeDesc::Record(PAGE);
    let Ok(value) = decode::json(&bytes, &ty, &schema, "body") else {
        panic!("the benchmark page does not decode");
    };
    bencher.counter(BytesCount::new(bytes.len())).counter(ItemsCount::new(RECORDS)).bench(|| {
        let mut out = Vec::with_capacity(bytes.len());
        integ_runtime::encode::json(divan::black_box(&value), &ty, &schema, &mut out).map(|()| out.len())
    });
}

#[divan::bench(sample_count = 10)]
fn typed_page(bencher: Bencher) {
    let schema = schema();
    let bytes = page();
    let ty = TypeDesc::Record(PAGE);
    bencher.counter(BytesCount::new(bytes.len())).counter(ItemsCount::new(RECORDS)).bench(|| {
        decode::json(divan::black_box(&bytes), &ty, &schema, "body").map(|_| ()).map_err(|error| error.to_string())
    });
}

#[divan::bench(sample_count = 10)]
fn stream_records(bencher: Bencher) {
    let schema = schema();
    let bytes = page();
    let ty = TypeDesc::Record(ORDER);
    bencher.counter(BytesCount::new(bytes.len())).counter(ItemsCount::new(RECORDS)).bench(|| {
        decode::json_records(divan::black_box(&bytes), &["orders"], &ty, &schema, "body").map(|records| records.len())
    });
}

#[divan::bench(sample_count = 10)]
fn serde_json_value_for_reference(bencher: Bencher) {
    let bytes = page();
    bencher.counter(BytesCount::new(bytes.len())).counter(ItemsCount::new(RECORDS)).bench(|| {
        serde_json::from_slice::<serde_json::Value>(divan::black_box(&bytes))
            .map(|_| ())
            .map_err(|error| error.to_string())
    });
}

#[divan::bench(sample_count = 10)]
fn json_value(bencher: Bencher) {
    let schema = schema();
    let bytes = page();
    bencher.counter(BytesCount::new(bytes.len())).counter(ItemsCount::new(RECORDS)).bench(|| {
        decode::json(divan::black_box(&bytes), &TypeDesc::Json, &schema, "body")
            .map(|_| ())
            .map_err(|error| error.to_string())
    });
}
