//! The local stand-ins (`interp::standin`), driven by the interpreter's own
//! client: each test starts stand-ins for a program, connects the
//! interpreter to them with `StandIns::redirects`, and calls endpoints with
//! `call_endpoint`, so what is checked is that a real client walks every
//! page, authenticates, retries and decodes against them. A few requests
//! are written by hand (raw HTTP/1.1 on loopback) to see statuses and
//! headers the client would hide.

#![cfg(feature = "interpreter")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use integ_compiler::diagnostic::render;
use integ_compiler::interp::calls::{Apis, CallFailure, Outcome};
use integ_compiler::interp::standin::{EndpointSetup, Faults, Script, Scripted, Scripts, StandInOptions, StandIns};
use integ_compiler::interp::{Interpreter, Options};
use integ_compiler::ir;
use integ_compiler::program::{LoadError, Loader};
use integ_runtime::{Value, decode, encode};
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ====================================================================== harness

/// Reads source files from disk.
struct Disk;

impl Loader for Disk {
    fn read(&mut self, path: &str) -> Result<String, LoadError> {
        std::fs::read_to_string(path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => LoadError::NotFound,
            _ => LoadError::Io(error.to_string()),
        })
    }
}

fn flagship() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop_to_crm")
}

/// A checked and lowered program, from a file or from text.
fn interpreter_for(analysis: integ_compiler::Analysis) -> Interpreter {
    let errors: Vec<_> = analysis.diagnostics().iter().filter(|diagnostic| diagnostic.is_error()).cloned().collect();
    assert!(errors.is_empty(), "the program has errors:\n{}", render::render(analysis.sources(), &errors, false));
    let lowered = ir::lower::lower(&analysis.program, &analysis.checked);
    // The process environment never reaches the program: no variable is set.
    let options = Options { environment: Box::new(|_| None), ..Options::default() };
    Interpreter::new(lowered, options).unwrap_or_else(|error| panic!("start: {error}"))
}

fn from_file(path: &Path) -> Interpreter {
    let file = integ_compiler::program::normalize(&path.to_string_lossy());
    interpreter_for(integ_compiler::analyze(&file, &mut Disk).expect("the file reads"))
}

fn from_source(source: &str) -> Interpreter {
    interpreter_for(integ_compiler::check_source("standin.integ", source))
}

/// A program connected to its stand-ins.
struct Mocked {
    interpreter: Interpreter,
    stand_ins: StandIns,
    apis: Apis,
}

async fn mocked(interpreter: Interpreter, options: StandInOptions) -> Mocked {
    let stand_ins = StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), options)
        .await
        .unwrap_or_else(|error| panic!("stand-ins: {error}"));
    let apis = interpreter.connect_with(&stand_ins.redirects()).unwrap_or_else(|error| panic!("connect: {error}"));
    Mocked { interpreter, stand_ins, apis }
}

/// A finished stream: its pages (records as JSON) and the error that ended it.
#[derive(Debug)]
struct Drained {
    pages: Vec<Vec<Json>>,
    error: Option<String>,
}

impl Drained {
    fn records(&self) -> Vec<Json> {
        self.pages.iter().flatten().cloned().collect()
    }

    fn field(&self, name: &str) -> Vec<Json> {
        self.records().iter().map(|record| record[name].clone()).collect()
    }
}

impl Mocked {
    fn find(&self, name: &str) -> (u32, u32, ir::api::Endpoint) {
        let (api_name, endpoint_name) = name.split_once('.').expect("`Api.endpoint`");
        let api = self.interpreter.program.apis.iter().position(|api| api.name == api_name).expect("the api");
        let endpoints = &self.interpreter.program.apis[api].endpoints;
        let endpoint = endpoints.iter().position(|endpoint| endpoint.name == endpoint_name).expect("the endpoint");
        (api as u32, endpoint as u32, endpoints[endpoint].clone())
    }

    /// Arguments by name, as JSON decoded by each parameter's type.
    fn arguments(&self, endpoint: &ir::api::Endpoint, args: &[(&str, Json)]) -> Vec<Value> {
        let mut values = Vec::new();
        for (name, json) in args {
            let position = endpoint.params.iter().position(|(param, _)| param == name).expect("a parameter");
            if values.len() <= position {
                values.resize(position + 1, Value::None);
            }
            let desc = self.interpreter.desc(&endpoint.params[position].1);
            values[position] = decode::json(json.to_string().as_bytes(), &desc, &self.interpreter.schema, name)
                .unwrap_or_else(|error| panic!("argument {error}"));
        }
        values
    }

    fn to_json(&self, value: &Value, ty: &integ_compiler::check::types::Ty) -> Json {
        encode::to_json_value(value, &self.interpreter.desc(ty), &self.interpreter.schema).expect("encodable")
    }

    async fn call(&self, name: &str, args: &[(&str, Json)]) -> Result<Outcome, CallFailure> {
        let (api, endpoint, ir) = self.find(name);
        let values = self.arguments(&ir, args);
        self.interpreter.call_endpoint(&self.apis, api, endpoint, values).await
    }

    /// A single result as JSON, or the failure's message.
    async fn value(&self, name: &str, args: &[(&str, Json)]) -> Result<Json, String> {
        let (_, _, ir) = self.find(name);
        let ty = match &ir.result {
            ir::api::Result::Single { ty, .. } => ty.clone(),
            _ => panic!("{name} has no single result"),
        };
        match self.call(name, args).await.map_err(|error| error.to_string())? {
            Outcome::Value(value) => Ok(self.to_json(&value, &ty)),
            _ => panic!("{name}: not a value"),
        }
    }

    async fn done(&self, name: &str, args: &[(&str, Json)]) -> Result<(), String> {
        match self.call(name, args).await.map_err(|error| error.to_string())? {
            Outcome::Done => Ok(()),
            _ => panic!("{name}: a result"),
        }
    }

    /// Reads a stream to its end (at most 100 pages).
    async fn drain(&self, name: &str) -> Drained {
        let (_, _, ir) = self.find(name);
        let ir::api::Result::Stream { item, .. } = &ir.result else { panic!("{name} is not a stream") };
        let mut drained = Drained { pages: Vec::new(), error: None };
        let mut stream = match self.call(name, &[]).await {
            Ok(Outcome::Stream(stream)) => stream,
            Ok(_) => panic!("{name}: not a stream"),
            Err(error) => {
                drained.error = Some(error.to_string());
                return drained;
            }
        };
        for _ in 0..100 {
            match stream.next_page(&self.interpreter).await {
                None => return drained,
                Some(Ok(records)) => {
                    drained.pages.push(records.iter().map(|record| self.to_json(record, item)).collect())
                }
                Some(Err(error)) => {
                    drained.error = Some(error.to_string());
                    return drained;
                }
            }
        }
        panic!("{name}: more than 100 pages");
    }

    fn base_url(&self, api: &str) -> String {
        self.stand_ins.base_url(api).expect("a stand-in").to_owned()
    }
}

/// A raw HTTP/1.1 exchange: status, headers (lowercase names) and body.
async fn raw(url: &str, method: &str, headers: &[(&str, &str)], body: &str) -> (u16, Vec<(String, String)>, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = tokio::net::TcpStream::connect(authority).await.expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|line| line.split(' ').nth(1)).and_then(|code| code.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn ids(range: std::ops::RangeInclusive<i64>) -> Vec<Json> {
    range.map(Json::from).collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("integ-standin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("a temporary directory");
    directory
}

// ====================================================================== the flagship example

fn flagship_options() -> StandInOptions {
    StandInOptions { fixtures: Some(flagship().join("fixtures")), ..StandInOptions::default() }
        .endpoint("Shop.list_orders", EndpointSetup { page_size: Some(3), ..EndpointSetup::default() })
}

#[tokio::test]
async fn the_flagship_streams_walk_every_page_of_fixtures_and_fake_data() {
    let mock = mocked(from_file(&flagship().join("sync.integ")), flagship_options()).await;
    let shop = mock.base_url("Shop");
    assert!(shop.starts_with("http://127.0.0.1:"), "{shop}");
    assert!(shop.ends_with("/admin/api/2024-04"), "the declared base path is kept: {shop}");

    // The fixture's four orders, three a page: two pages, cursor pagination.
    let orders = mock.drain("Shop.list_orders").await;
    assert!(orders.error.is_none(), "{:?}", orders.error);
    assert_eq!(orders.pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 1]);
    assert_eq!(orders.field("id"), ids(1001..=1004));
    let fixture: Json =
        serde_json::from_slice(&std::fs::read(flagship().join("fixtures/Shop.list_orders.json")).unwrap()).unwrap();
    assert_eq!(orders.records()[0]["email"], fixture[0]["email"]);

    // No fixture for customers: 25 fake records, ten a page, `next_url` pagination.
    let customers = mock.drain("Shop.list_customers").await;
    assert!(customers.error.is_none(), "{:?}", customers.error);
    assert_eq!(customers.pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 5]);
    assert_eq!(customers.field("id"), ids(1001..=1025));
    let emails: Vec<Json> = customers.field("email").into_iter().filter(|email| !email.is_null()).collect();
    assert!(emails.len() >= 10, "most customers have an email: {emails:?}");
    assert!(emails.iter().all(|email| email.as_str().is_some_and(|text| text.ends_with("@example.com"))));
}

#[tokio::test]
async fn fake_data_is_the_same_on_every_start() {
    let first = mocked(from_file(&flagship().join("sync.integ")), flagship_options()).await;
    let second = mocked(from_file(&flagship().join("sync.integ")), flagship_options()).await;
    let a = first.drain("Shop.list_customers").await.records();
    let b = second.drain("Shop.list_customers").await.records();
    assert_eq!(a.len(), 25);
    assert_eq!(a, b);
}

fn contact(external_id: &str) -> Json {
    json!({
        "external_id": external_id,
        "email": "ana.lima@example.com",
        "first_name": "Ana",
        "full_name": "Ana Lima",
        "lifecycle_stage": "customer",
        "marketing_opt_in": true,
        "tags": ["vip"],
        "lifetime_orders": 3,
        "source": "shop"
    })
}

#[tokio::test]
async fn the_flagship_writes_are_stored_and_answered_from_the_request() {
    let mock = mocked(from_file(&flagship().join("sync.integ")), flagship_options()).await;
    // OAuth2: the token comes from the stand-in, and the request carries it.
    let reference = mock
        .value("Crm.upsert_contact", &[("external_id", json!("shop:501")), ("contact", contact("shop:501"))])
        .await
        .expect("the upsert succeeds");
    assert_eq!(reference["external_id"], json!("shop:501"), "echoed from the request: {reference}");
    assert!(reference["id"].as_str().is_some_and(|id| id.starts_with("contact-")), "{reference}");
    let second = mock
        .value("Crm.upsert_contact", &[("external_id", json!("shop:502")), ("contact", contact("shop:502"))])
        .await
        .unwrap();
    assert_eq!(second["external_id"], json!("shop:502"));
    assert_ne!(second["id"], reference["id"], "successive writes get new ids");

    // (`Crm.add_tags` is left out: its `body json { tags: tags }` is lowered
    // to an invalid expression today, so the interpreter cannot send it.)
    mock.done("Heartbeat.ping", &[]).await.unwrap();

    let writes = mock.stand_ins.writes("Crm.upsert_contact");
    assert_eq!(writes.len(), 2);
    assert_eq!(writes[0].method, "PUT");
    assert_eq!(writes[0].path, "/crm/v3/contacts/by-external-id/shop%3A501", "as it arrived");
    assert_eq!(writes[0].params, vec![("external_id".to_owned(), "shop:501".to_owned())]);
    assert_eq!(writes[0].json["email"], json!("ana.lima@example.com"));
    assert_eq!(writes[1].json["external_id"], json!("shop:502"));
    assert!(mock.stand_ins.writes("Heartbeat.ping").is_empty(), "a GET is not a write");
    assert_eq!(mock.stand_ins.all_writes().len(), 2);
    assert_eq!(mock.stand_ins.stats("Crm.upsert_contact").stored, 2);
}

#[tokio::test]
async fn idempotent_repeats_are_answered_the_same_and_stored_once() {
    let mock = mocked(from_file(&flagship().join("sync.integ")), flagship_options()).await;
    let deal = json!({
        "external_id": "shop-order:1001",
        "contact_external_id": "shop:501",
        "name": "Order #1001 (2 items)",
        "dealstage": "closedwon",
        "value": {"amount": 129.90, "currency": "USD"},
        "discount": {"amount": 10.00, "currency": "USD"},
        "close_date": "2024-03-01",
        "line_count": 3,
        "skus": ["TEE-BLK-M", "MUG-01"]
    });
    let first = mock.value("Crm.upsert_deal", &[("deal", deal.clone())]).await.unwrap();
    let again = mock.value("Crm.upsert_deal", &[("deal", deal.clone())]).await.unwrap();
    assert_eq!(first, again, "the same key gets the same answer");
    let mut changed = deal.clone();
    changed["line_count"] = json!(4);
    let other = mock.value("Crm.upsert_deal", &[("deal", changed)]).await.unwrap();
    assert_ne!(other["id"], first["id"], "another key is another write");

    let writes = mock.stand_ins.writes("Crm.upsert_deal");
    assert_eq!(writes.len(), 2, "the repeat was not stored");
    assert_eq!(writes[0].idempotency_key.as_deref().map(str::len), Some(64), "a sha256 key: {:?}", writes[0]);
    let stats = mock.stand_ins.stats("Crm.upsert_deal");
    assert_eq!((stats.requests, stats.stored, stats.replayed), (3, 2, 1));
}

#[tokio::test]
async fn credentials_must_be_present_and_tokens_are_served() {
    let mock = mocked(from_file(&flagship().join("sync.integ")), flagship_options()).await;
    let shop = mock.base_url("Shop");
    let (status, _, body) = raw(&format!("{shop}/orders"), "GET", &[], "").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Authorization: Bearer"), "{body}");
    let (status, _, body) = raw(&format!("{shop}/orders"), "GET", &[("Authorization", "Bearer anything")], "").await;
    assert_eq!(status, 200, "{body}");
    let page: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(page["orders"].as_array().map(Vec::len), Some(3));
    assert_eq!(page["next_cursor"], json!("cursor-3"));
    assert_eq!(mock.stand_ins.stats("Shop.list_orders").unauthorized, 1);

    // The token endpoint of the CRM's auth, where `redirects` sends it.
    let token_url = mock.stand_ins.redirects().token_urls["Crm"].clone();
    assert!(token_url.ends_with("/oauth/v1/token"), "{token_url}");
    let (status, _, body) = raw(
        &token_url,
        "POST",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Json>(&body).unwrap(),
        json!({"access_token": "mock-token", "token_type": "bearer", "expires_in": 3600})
    );

    // Unknown paths and methods say what is served.
    let (status, _, body) = raw(&format!("{shop}/nothing"), "GET", &[], "").await;
    assert_eq!(status, 404);
    assert!(body.contains("GET /orders (list_orders)"), "{body}");
    let (status, _, _) = raw(&format!("{shop}/orders"), "DELETE", &[], "").await;
    assert_eq!(status, 405);
    let (status, _, _) = raw(&mock.base_url("Heartbeat"), "GET", &[], "").await;
    assert_eq!(status, 204, "`GET /` on the base path, which has a path of its own");
}

// ====================================================================== every pagination style

const STYLES: &str = r#"
secret styles_token = env("STYLES_TOKEN", "local")

type Item { id: Int, email: String, name: String?, created_at: DateTime }
type NewItem { email: String, name: String? }

/// Every field of `Item` is read: records come back whole.
fn whole(i: Item) -> Json = i

type CursorPage { items: [Item], next: String? }
type IntCursorPage { data: [Item], next: Int, has_more: Bool }
type StripeList { data: [Item], has_more: Bool }
type PagePage { items: [Item], last: Bool }
type Wrapper { items: [Item], done: Bool }
type OffsetPage { result: Wrapper }
type UrlPage { items: [Item], next_page_url: String? }
type FixedUrlPage { items: [Item], next: String }

policy quick {
  timeout: 2s
  retry: none
}

api Styles {
  base_url: "https://styles.example.com/api/v1"
  auth: bearer(styles_token)
  policy: quick

  endpoint cursor() -> stream Item {
    GET "/cursor"
    response: CursorPage
    records body.items
    paginate cursor(next: body.next, param: "cursor")
  }

  endpoint int_cursor() -> stream Item {
    GET "/int-cursor"
    response: IntCursorPage
    records body.data
    paginate cursor(next: body.next, param: "after", has_more: body.has_more)
  }

  endpoint stripe() -> stream Item {
    GET "/stripe"
    response: StripeList
    records body.data
    paginate cursor(next: body.data.last()?.id, param: "starting_after", has_more: body.has_more)
  }

  endpoint stripe_without_has_more() -> stream Item {
    GET "/stripe-plain"
    response: StripeList
    records body.data
    paginate cursor(next: body.data.last()?.id, param: "starting_after")
  }

  endpoint json_cursor() -> stream Item {
    GET "/json-cursor"
    records body.page.items
    paginate cursor(next: body.page.next, param: "c", has_more: body.page.more)
  }

  endpoint pages() -> stream Item {
    GET "/pages"
    response: PagePage
    records body.items
    paginate page(param: "page", start: 1, size_param: "per_page", size: 7, stop: body.last)
  }

  endpoint pages_plain() -> stream Item {
    GET "/pages-plain"
    paginate page(start: 0)
  }

  endpoint offsets() -> stream Item {
    GET "/offsets"
    response: OffsetPage
    records body.result.items
    paginate offset(limit: 5, stop: body.result.done)
  }

  endpoint offsets_default() -> stream Item {
    GET "/offsets-default"
    records body.items
    paginate offset(param: "skip", limit_param: "take")
  }

  endpoint links() -> stream Item {
    GET "/links"
    paginate link_header
  }

  endpoint next_urls() -> stream Item {
    GET "/next"
    response: UrlPage
    records body.items
    paginate next_url(body.next_page_url)
  }

  endpoint fixed_next_urls() -> stream Item {
    GET "/fixed-next"
    response: FixedUrlPage
    records body.items
    paginate next_url(body.next)
  }

  endpoint everything() -> stream Item {
    GET "/everything"
    records body.items
  }

  endpoint computed_stop() -> stream Item {
    GET "/computed"
    response: OffsetPage
    records body.result.items
    paginate offset(limit: 5, stop: len(body.result.items) < 5)
  }

  endpoint get_item(id: Int) -> Item {
    GET "/items/{id}"
  }

  endpoint find(email: String) -> Item? {
    GET "/search"
    query { email: email }
    select body.results[0]
  }

  endpoint create(item: NewItem) -> Item {
    POST "/items"
    body json(item)
    idempotency_key: "create-{item.email}"
  }

  endpoint delete(id: Int) {
    DELETE "/items/{id}"
  }
}
"#;

#[tokio::test]
async fn every_pagination_style_walks_every_page() {
    let mock = mocked(from_source(STYLES), StandInOptions::default()).await;
    let expected: &[(&str, &[usize])] = &[
        ("Styles.cursor", &[10, 10, 5]),
        ("Styles.int_cursor", &[10, 10, 5]),
        ("Styles.stripe", &[10, 10, 5]),
        // Without `has_more`, the client asks after the last record and gets an empty page.
        ("Styles.stripe_without_has_more", &[10, 10, 5, 0]),
        ("Styles.json_cursor", &[10, 10, 5]),
        ("Styles.pages", &[7, 7, 7, 4]),
        // Without a size, only an empty page ends the stream.
        ("Styles.pages_plain", &[10, 10, 5, 0]),
        ("Styles.offsets", &[5, 5, 5, 5, 5]),
        // The client's limit (100 by default) is the page size.
        ("Styles.offsets_default", &[25]),
        ("Styles.links", &[10, 10, 5]),
        ("Styles.next_urls", &[10, 10, 5]),
        ("Styles.fixed_next_urls", &[10, 10, 5]),
        ("Styles.everything", &[25]),
    ];
    for (name, sizes) in expected {
        let drained = mock.drain(name).await;
        assert!(drained.error.is_none(), "{name}: {:?}", drained.error);
        assert_eq!(drained.pages.iter().map(Vec::len).collect::<Vec<_>>(), *sizes, "{name}");
        assert_eq!(drained.field("id"), ids(1001..=1025), "{name}");
        let emails = drained.field("email");
        assert_eq!(emails[0], json!("user1@example.com"), "{name}");
        assert_eq!(emails[24], json!("user25@example.com"), "{name}");
        let created = drained.field("created_at");
        assert_eq!((&created[0], &created[1]), (&json!("2024-01-01T00:00:00Z"), &json!("2024-01-01T01:00:00Z")));
    }
}

#[tokio::test]
async fn page_sizes_and_record_counts_are_configurable() {
    let options = StandInOptions { records: 7, page_size: 3, ..StandInOptions::default() }
        .endpoint("Styles.links", EndpointSetup { records: Some(40), page_size: Some(15), ..EndpointSetup::default() });
    let mock = mocked(from_source(STYLES), options).await;
    let cursor = mock.drain("Styles.cursor").await;
    assert_eq!(cursor.pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1]);
    let links = mock.drain("Styles.links").await;
    assert_eq!(links.pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![15, 15, 10]);
    assert_eq!(links.field("id"), ids(1001..=1040));
}

#[tokio::test]
async fn bodies_are_built_as_tests_build_them() {
    let mock = mocked(from_source(STYLES), StandInOptions::default()).await;
    let base = mock.base_url("Styles");
    let auth = [("Authorization", "Bearer x")];
    // `select body.results[0]` places the value in a list.
    let (status, _, body) = raw(&format!("{base}/search?email=a%40b.c"), "GET", &auth, "").await;
    assert_eq!(status, 200);
    let body: Json = serde_json::from_str(&body).unwrap();
    assert!(body["results"][0]["email"].is_string(), "{body}");
    // Other required fields of the response type are zero values.
    let (_, _, body) = raw(&format!("{base}/offsets?offset=20&limit=5"), "GET", &auth, "").await;
    let body: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(body["result"]["done"], json!(true));
    assert_eq!(body["result"]["items"].as_array().map(Vec::len), Some(5));
    // `link_header` points back at the stand-in.
    let (_, headers, _) = raw(&format!("{base}/links"), "GET", &auth, "").await;
    let link = headers.iter().find(|(name, _)| name == "link").map(|(_, value)| value.clone()).unwrap_or_default();
    assert_eq!(link, format!("<{base}/links?mock_offset=10>; rel=\"next\""));
    // A cursor it never gave out.
    let (status, _, body) = raw(&format!("{base}/cursor?cursor=bogus"), "GET", &auth, "").await;
    assert_eq!(status, 400, "{body}");

    // Single results: a path parameter named like a field is echoed.
    let item = mock.value("Styles.get_item", &[("id", json!(77))]).await.unwrap();
    assert_eq!(item["id"], json!(77));
    let found = mock.value("Styles.find", &[("email", json!("ann@example.com"))]).await.unwrap();
    assert!(found["id"].is_i64(), "{found}");
}

#[tokio::test]
async fn writes_echo_their_body_and_idempotency_keys_dedupe() {
    let mock = mocked(from_source(STYLES), StandInOptions::default()).await;
    let created = mock.value("Styles.create", &[("item", json!({"email": "ann@example.com", "name": "Ann"}))]).await;
    let created = created.unwrap();
    assert_eq!(created["email"], json!("ann@example.com"));
    assert_eq!(created["name"], json!("Ann"));
    assert!(created["id"].is_i64() && created["created_at"].is_string(), "{created}");
    let again = mock.value("Styles.create", &[("item", json!({"email": "ann@example.com", "name": "Ann"}))]).await;
    assert_eq!(again.unwrap(), created);
    mock.value("Styles.create", &[("item", json!({"email": "bob@example.com"}))]).await.unwrap();
    mock.done("Styles.delete", &[("id", json!(1001))]).await.unwrap();

    let writes = mock.stand_ins.writes("Styles.create");
    assert_eq!(
        writes.iter().map(|write| write.json["email"].clone()).collect::<Vec<_>>(),
        vec![json!("ann@example.com"), json!("bob@example.com")]
    );
    assert_eq!(writes[0].idempotency_key.as_deref(), Some("create-ann@example.com"));
    let deletes = mock.stand_ins.writes("Styles.delete");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].params, vec![("id".to_owned(), "1001".to_owned())]);
    assert!(deletes[0].body.is_empty());
    mock.stand_ins.clear();
    assert!(mock.stand_ins.all_writes().is_empty());
}

#[tokio::test]
async fn expressions_that_are_not_paths_need_a_whole_body_fixture() {
    let mock = mocked(from_source(STYLES), StandInOptions::default()).await;
    let needs = &mock.stand_ins.apis()[0].needs_fixtures;
    assert_eq!(needs.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), vec!["computed_stop"]);
    let drained = mock.drain("Styles.computed_stop").await;
    let error = drained.error.expect("a 501");
    assert!(error.contains("501"), "{error}");
    assert!(error.contains("fixtures/Styles.computed_stop.json"), "{error}");

    // With the fixture, the body is served as it is.
    let directory = temp_dir("computed");
    let body = json!({"result": {"items": [
        {"id": 1, "email": "a@example.com", "created_at": "2024-05-01T00:00:00Z"},
        {"id": 2, "email": "b@example.com", "created_at": "2024-05-01T00:00:00Z"}
    ], "done": true}});
    std::fs::write(directory.join("Styles.computed_stop.json"), body.to_string()).unwrap();
    std::fs::write(
        directory.join("Styles.cursor.json"),
        json!([{"id": 5, "email": "e@example.com", "created_at": "2024-05-01T00:00:00Z"}]).to_string(),
    )
    .unwrap();
    std::fs::write(
        directory.join("Styles.get_item.json"),
        json!({"id": 9, "email": "i@example.com", "created_at": "2024-05-01T00:00:00Z"}).to_string(),
    )
    .unwrap();
    let options = StandInOptions { fixtures: Some(directory.clone()), ..StandInOptions::default() };
    let mock = mocked(from_source(STYLES), options).await;
    assert!(mock.stand_ins.apis()[0].needs_fixtures.is_empty());
    let drained = mock.drain("Styles.computed_stop").await;
    assert!(drained.error.is_none(), "{:?}", drained.error);
    assert_eq!(drained.field("id"), ids(1..=2));
    assert_eq!(mock.drain("Styles.cursor").await.field("id"), ids(5..=5));
    assert_eq!(mock.value("Styles.get_item", &[("id", json!(1))]).await.unwrap()["id"], json!(9));

    // A stream fixture that is not a list stops the start.
    std::fs::write(directory.join("Styles.cursor.json"), "{}").unwrap();
    let interpreter = from_source(STYLES);
    let options = StandInOptions { fixtures: Some(directory.clone()), ..StandInOptions::default() };
    let error = StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), options).await.unwrap_err();
    assert!(error.to_string().contains("Styles.cursor.json"), "{error}");
    let _ = std::fs::remove_dir_all(directory);
}

/// `count` records of `Item`, with ids from 1.
fn items(count: i64) -> Json {
    Json::Array(
        (1..=count)
            .map(|id| json!({"id": id, "email": format!("user{id}@example.com"), "created_at": "2024-05-01T00:00:00Z"}))
            .collect(),
    )
}

/// Stand-ins whose every endpoint answers `returns <records> per page <per_page>`.
async fn scripted(endpoints: &[&str], records: i64, per_page: usize) -> Mocked {
    let scripts = Arc::new(Scripts::new());
    for endpoint in endpoints {
        let response = Scripted::Returns { value: items(records), per_page: Some(per_page) };
        scripts.activate(endpoint, Some(Arc::new(Script::new(vec![response]))));
    }
    let options = StandInOptions { records: 0, scripts: Some(scripts), ..StandInOptions::default() };
    mocked(from_source(STYLES), options).await
}

#[tokio::test]
async fn a_scripted_page_size_cuts_every_style() {
    let expected: &[(&str, &[usize])] = &[
        ("Styles.cursor", &[3, 3, 1]),
        ("Styles.int_cursor", &[3, 3, 1]),
        ("Styles.stripe", &[3, 3, 1]),
        ("Styles.stripe_without_has_more", &[3, 3, 1, 0]),
        ("Styles.json_cursor", &[3, 3, 1]),
        // `size: 7`: the client takes a page of 3 for the last one.
        ("Styles.pages", &[3]),
        // Without a size, only an empty page ends the stream.
        ("Styles.pages_plain", &[3, 3, 1, 0]),
        // `limit: 5`, and the default limit 100: a shorter page is the last.
        ("Styles.offsets", &[3]),
        ("Styles.offsets_default", &[3]),
        ("Styles.links", &[3, 3, 1]),
        ("Styles.next_urls", &[3, 3, 1]),
        ("Styles.fixed_next_urls", &[3, 3, 1]),
        // Without `paginate`, the one request gets one page.
        ("Styles.everything", &[3]),
    ];
    let names: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    let mock = scripted(&names, 7, 3).await;
    for (name, sizes) in expected {
        let drained = mock.drain(name).await;
        assert!(drained.error.is_none(), "{name}: {:?}", drained.error);
        assert_eq!(drained.pages.iter().map(Vec::len).collect::<Vec<_>>(), *sizes, "{name}");
        let read = sizes.iter().sum::<usize>() as i64;
        assert_eq!(drained.field("id"), ids(1..=read), "{name}");
        assert_eq!(mock.stand_ins.stats(name).requests, sizes.len() as u64, "{name}: one request a page");
    }

    // Pages longer than `size` or `limit` go on until a shorter one.
    let mock = scripted(&["Styles.pages", "Styles.offsets"], 20, 8).await;
    for name in ["Styles.pages", "Styles.offsets"] {
        let drained = mock.drain(name).await;
        assert!(drained.error.is_none(), "{name}: {:?}", drained.error);
        assert_eq!(drained.pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![8, 8, 4], "{name}");
        assert_eq!(drained.field("id"), ids(1..=20), "{name}");
    }

    // The limit a request asks for does not change the page size.
    let mock = scripted(&["Styles.offsets_default"], 7, 3).await;
    let base = mock.base_url("Styles");
    let auth = [("Authorization", "Bearer x")];
    let (status, _, body) = raw(&format!("{base}/offsets-default?skip=3&take=100"), "GET", &auth, "").await;
    assert_eq!(status, 200, "{body}");
    let body: Json = serde_json::from_str(&body).unwrap();
    let page_ids: Vec<Json> = body["items"].as_array().unwrap().iter().map(|item| item["id"].clone()).collect();
    assert_eq!(page_ids, ids(4..=6));
}

#[tokio::test]
async fn unknown_endpoints_in_the_options_are_refused() {
    let interpreter = from_source(STYLES);
    let options = StandInOptions::default().endpoint("Styles.nope", EndpointSetup::default());
    let error = StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), options).await.unwrap_err();
    assert!(error.to_string().contains("Styles.nope"), "{error}");
}

// ====================================================================== faults

const FLAKY: &str = r#"
type Item { id: Int, email: String }

policy quick {
  timeout: 300ms
  retry: none
}

policy patient {
  timeout: 2s
  retry: 8 attempts, constant(10ms)
  retry_on: [429, 5xx, timeout, connection]
  retry_after: ignore
}

api Flaky {
  base_url: "http://127.0.0.1:1/flaky"
  policy: quick

  endpoint read() -> Item {
    GET "/item"
  }

  endpoint write(item: Item) -> Item {
    POST "/items"
    body json(item)
    idempotency_key: "item-{item.id}"
  }

  endpoint patient_write(item: Item) -> Item {
    POST "/patient"
    body json(item)
    idempotency_key: "patient-{item.id}"
    policy: patient
  }
}
"#;

fn faults(setup: Faults) -> EndpointSetup {
    EndpointSetup { faults: setup, ..EndpointSetup::default() }
}

#[tokio::test]
async fn fault_rates_hold_roughly_and_are_seeded() {
    let options = StandInOptions { seed: 7, ..StandInOptions::default() }.endpoint(
        "Flaky.read",
        faults(Faults { unavailable: 0.2, rate_limited: 0.1, reset: 0.1, ..Faults::default() }),
    );
    let mock = mocked(from_source(FLAKY), options).await;
    let mut outcomes: HashMap<String, u32> = HashMap::new();
    const CALLS: u32 = 400;
    for _ in 0..CALLS {
        let kind = match mock.value("Flaky.read", &[]).await {
            Ok(_) => "ok".to_owned(),
            // Matched on the status text: the URL's random port may hold "503" or "429".
            Err(error) if error.contains(": 503 Service Unavailable") => "503".to_owned(),
            Err(error) if error.contains(": 429 Too Many Requests") => "429".to_owned(),
            Err(error) if error.to_lowercase().contains("connection") => "reset".to_owned(),
            Err(error) => error,
        };
        *outcomes.entry(kind).or_default() += 1;
    }
    let count = |kind: &str| outcomes.get(kind).copied().unwrap_or(0);
    let near = |kind: &str, rate: f64| {
        let expected = rate * f64::from(CALLS);
        (f64::from(count(kind)) - expected).abs() <= 0.35 * expected + 10.0
    };
    assert!(near("503", 0.2) && near("429", 0.1) && near("reset", 0.1) && near("ok", 0.6), "{outcomes:?}");
    assert_eq!(outcomes.len(), 4, "nothing else happened: {outcomes:?}");
    let stats = mock.stand_ins.stats("Flaky.read");
    assert_eq!(stats.requests, u64::from(CALLS));
    assert_eq!(
        (stats.unavailable, stats.rate_limited, stats.resets),
        (u64::from(count("503")), u64::from(count("429")), u64::from(count("reset")))
    );

    // The same seed, the same faults, in the same order.
    let options = StandInOptions { seed: 7, ..StandInOptions::default() }.endpoint(
        "Flaky.read",
        faults(Faults { unavailable: 0.2, rate_limited: 0.1, reset: 0.1, ..Faults::default() }),
    );
    let again = mocked(from_source(FLAKY), options).await;
    for _ in 0..CALLS {
        let _ = again.value("Flaky.read", &[]).await;
    }
    assert_eq!(again.stand_ins.stats("Flaky.read"), stats);
}

#[tokio::test]
async fn a_429_carries_retry_after_and_slow_answers_time_out() {
    let options = StandInOptions::default()
        .endpoint(
            "Flaky.read",
            faults(Faults { rate_limited: 1.0, retry_after: Duration::from_secs(7), ..Faults::default() }),
        )
        .endpoint(
            "Flaky.write",
            faults(Faults { slow: 1.0, slow_by: Duration::from_millis(900), ..Faults::default() }),
        );
    let mock = mocked(from_source(FLAKY), options).await;
    let (status, headers, _) = raw(&format!("{}/item", mock.base_url("Flaky")), "GET", &[], "").await;
    assert_eq!(status, 429);
    assert!(headers.contains(&("retry-after".to_owned(), "7".to_owned())), "{headers:?}");

    let error = mock.value("Flaky.write", &[("item", json!({"id": 1, "email": "a@example.com"}))]).await.unwrap_err();
    assert!(error.to_lowercase().contains("time"), "{error}");
    // The server still acted, as a slow server does.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(mock.stand_ins.stats("Flaky.write").slow, 1);
    assert_eq!(mock.stand_ins.writes("Flaky.write").len(), 1);
}

#[tokio::test]
async fn retried_writes_through_faults_are_stored_once_and_rejections_are_permanent() {
    let reject: integ_compiler::interp::standin::Reject = Arc::new(|write| write.json["id"] == json!(13));
    let options = StandInOptions { seed: 3, ..StandInOptions::default() }.endpoint(
        "Flaky.patient_write",
        faults(Faults { unavailable: 0.3, reset: 0.2, reject: Some(reject), ..Faults::default() }),
    );
    let mock = mocked(from_source(FLAKY), options).await;
    let mut failures = Vec::new();
    for id in 1..=20 {
        let result = mock.value("Flaky.patient_write", &[("item", json!({"id": id, "email": "a@example.com"}))]).await;
        match result {
            Ok(item) => assert_eq!(item["id"], json!(id)),
            Err(error) => failures.push((id, error)),
        }
    }
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].0, 13);
    assert!(failures[0].1.contains("422"), "{}", failures[0].1);
    let stored: Vec<Json> =
        mock.stand_ins.writes("Flaky.patient_write").iter().map(|write| write.json["id"].clone()).collect();
    let mut expected = ids(1..=20);
    expected.retain(|id| *id != json!(13));
    assert_eq!(stored, expected, "each record once, in order");
    let stats = mock.stand_ins.stats("Flaky.patient_write");
    assert!(stats.unavailable + stats.resets > 0, "{stats:?}");
    assert_eq!(stats.rejected, 1);
}
