//! Policies against in-process servers (§ 11, § 16.2–16.4 of spec.md):
//! retries and backoff, `Retry-After`, timeouts, connection failures, the
//! retry-safety of POST, the circuit breaker, rate and concurrency limits,
//! deadlines, error mapping, redirects and the assembled headers.
//!
//! Tests run on tokio's paused clock: waits take no real time and server
//! arrival times are exact.

mod http_common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use http_common::{Reply, gaps, resetting_server, serve};
use integ_runtime::http::{
    ApiClient, ApiConfig, Auth, Backoff, Body, BreakerConfig, BreakerState, CallErrorKind, EndpointOptions, ErrorArm,
    Jitter, Limits, Method, PathTemplate, Policy, Rate, Request, StatusPattern,
};
use integ_runtime::secret::Secret;
use tokio::time::Instant;

/// Exponential backoff from 100 ms, no jitter: delays 100, 200, 400 ms...
fn policy(attempts: u32) -> Policy {
    Policy {
        timeout: Duration::from_secs(5),
        attempts,
        backoff: Backoff::Exponential { base: Duration::from_millis(100), max: Duration::from_secs(3), factor: 2 },
        jitter: Jitter::None,
        ..Policy::default()
    }
}

fn client(url: String, policy: Policy) -> ApiClient {
    ApiClient::new(ApiConfig::new("Shop", url).policy(policy).seed(1)).unwrap()
}

fn get(path: &str) -> Request {
    Request::get(path).unwrap()
}

fn post(path: &str) -> integ_runtime::http::RequestBuilder {
    Request::builder(Method::POST).path(PathTemplate::literal_path(path)).body(Body::json(b"{\"a\":1}".to_vec()))
}

fn endpoint() -> EndpointOptions {
    EndpointOptions::new("list_orders")
}

/// Each gap is the expected delay, to the millisecond the timer rounds to.
fn assert_gaps(actual: Vec<u128>, expected: &[u128]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (got, want) in actual.iter().zip(expected) {
        assert!(*got >= *want && *got <= *want + 2, "gaps {actual:?}, expected {expected:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_503_then_success() {
    let server = serve(|_, index| if index < 3 { Reply::status(503) } else { Reply::ok("{}") }).await;
    let api = client(server.url(), policy(5));
    let response = api.send(get("/orders"), &endpoint()).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.attempts, 4);
    assert_gaps(gaps(&server.seen()), &[100, 200, 400]);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_when_attempts_run_out() {
    let server = serve(|_, _| Reply::status(503).body("{\"error\": \"busy\"}")).await;
    let api = client(server.url(), policy(3));
    let error = api.send(get("/orders"), &endpoint()).await.unwrap_err();
    assert_eq!(server.count(), 3);
    assert_eq!(error.attempts, 3);
    assert_eq!(error.kind, CallErrorKind::Http { status: 503, body_excerpt: "{\"error\": \"busy\"}".into() });
    assert_eq!(error.error_name(), "Http");
    assert_eq!(
        error.to_string(),
        format!(
            "Shop.list_orders failed after 3 attempts: 503 Service Unavailable (GET {}/orders): {{\"error\": \"busy\"}}",
            server.url()
        )
    );
    let response = error.response.as_ref().unwrap();
    assert_eq!(response.status, 503);
}

#[tokio::test(start_paused = true)]
async fn statuses_not_in_retry_on_are_not_retried() {
    let server = serve(|_, _| Reply::status(404)).await;
    let api = client(server.url(), policy(5));
    let error = api.send(get("/orders/9"), &endpoint()).await.unwrap_err();
    assert_eq!(server.count(), 1);
    assert_eq!(error.status(), Some(404));
    let empty = Policy { retry_on: Vec::new(), ..policy(5) };
    let server = serve(|_, _| Reply::status(503)).await;
    client(server.url(), empty).send(get("/orders"), &endpoint()).await.unwrap_err();
    assert_eq!(server.count(), 1, "an empty retry_on retries nothing");
}

#[tokio::test(start_paused = true)]
async fn jitter_is_seeded_and_bounded() {
    let server = serve(|_, index| if index < 4 { Reply::status(500) } else { Reply::ok("") }).await;
    let api = client(server.url(), Policy { jitter: Jitter::Full, ..policy(5) });
    api.send(get("/x"), &endpoint()).await.unwrap();
    let first = gaps(&server.seen());
    for (gap, nominal) in first.iter().zip([100, 200, 400, 800]) {
        assert!(*gap <= nominal + 2, "{first:?}");
    }
    // The same seed gives the same delays.
    let again = serve(|_, index| if index < 4 { Reply::status(500) } else { Reply::ok("") }).await;
    client(again.url(), Policy { jitter: Jitter::Full, ..policy(5) }).send(get("/x"), &endpoint()).await.unwrap();
    assert_eq!(gaps(&again.seen()), first);
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_is_honoured() {
    let server = serve(|_, index| match index {
        0 => Reply::status(429).header("retry-after", "2"),
        _ => Reply::ok("{}"),
    })
    .await;
    let api = client(server.url(), policy(3));
    api.send(get("/orders"), &endpoint()).await.unwrap();
    assert_gaps(gaps(&server.seen()), &[2000]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_honoured_and_capped() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let server = serve(move |_, index| match index {
        0 => Reply::status(503).header("retry-after", httpdate::fmt_http_date(now + Duration::from_secs(2))),
        1 => Reply::status(503).header("retry-after", httpdate::fmt_http_date(now + Duration::from_secs(600))),
        2 => Reply::status(503).header("retry-after", "not a date"),
        3 => Reply::status(503).header("retry-after", httpdate::fmt_http_date(now - Duration::from_secs(600))),
        _ => Reply::ok("{}"),
    })
    .await;
    let api = ApiClient::new(ApiConfig::new("Shop", server.url()).policy(policy(5)).wall_clock(move || now)).unwrap();
    api.send(get("/orders"), &endpoint()).await.unwrap();
    // 2 s; 600 s capped at the backoff's max of 3 s; unparseable: the backoff
    // (400 ms for the third retry); a date in the past: 0.
    assert_gaps(gaps(&server.seen()), &[2000, 3000, 400, 0]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_capped_at_a_constant_backoff_and_can_be_ignored() {
    let server =
        serve(|_, index| if index == 0 { Reply::status(429).header("retry-after", "60") } else { Reply::ok("") }).await;
    let constant = Policy { backoff: Backoff::Constant(Duration::from_millis(1500)), ..policy(2) };
    client(server.url(), constant).send(get("/x"), &endpoint()).await.unwrap();
    assert_gaps(gaps(&server.seen()), &[1500]);

    let server =
        serve(|_, index| if index == 0 { Reply::status(429).header("retry-after", "60") } else { Reply::ok("") }).await;
    let ignoring = Policy { honor_retry_after: false, ..policy(2) };
    client(server.url(), ignoring).send(get("/x"), &endpoint()).await.unwrap();
    assert_gaps(gaps(&server.seen()), &[100]);
}

#[tokio::test(start_paused = true)]
async fn attempts_time_out_and_are_retried() {
    let server =
        serve(
            |_, index| {
                if index < 2 { Reply::ok("{}").delay(Duration::from_secs(30)) } else { Reply::ok("{\"ok\": true}") }
            },
        )
        .await;
    let api = client(server.url(), Policy { timeout: Duration::from_secs(1), ..policy(3) });
    let started = Instant::now();
    let response = api.send(get("/slow"), &endpoint()).await.unwrap();
    assert_eq!(&response.body[..], b"{\"ok\": true}");
    assert_eq!(response.attempts, 3);
    // 1 s timeout, 100 ms, 1 s timeout, 200 ms.
    assert_gaps(gaps(&server.seen()), &[1100, 1200]);
    assert!(started.elapsed() < Duration::from_millis(2400));
}

#[tokio::test(start_paused = true)]
async fn a_call_that_always_times_out_fails_with_timeout() {
    let server = serve(|_, _| Reply::ok("").delay(Duration::from_secs(60))).await;
    let api = client(server.url(), Policy { timeout: Duration::from_millis(500), ..policy(2) });
    let error = api.send(get("/slow"), &endpoint()).await.unwrap_err();
    assert_eq!(error.kind, CallErrorKind::Timeout { timeout: Duration::from_millis(500) });
    assert_eq!(error.error_name(), "Timeout");
    assert_eq!(error.attempts, 2);
    assert!(error.to_string().contains("failed after 2 attempts: timed out after 500ms"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn connection_resets_are_connection_failures_and_retried() {
    let (addr, closed) = resetting_server(10).await;
    let api = client(format!("http://{addr}"), policy(3));
    let error = api.send(get("/orders"), &endpoint()).await.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::Connection { .. }), "{error}");
    assert_eq!(error.error_name(), "Connection");
    assert_eq!(error.attempts, 3);
    assert_eq!(closed.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn refused_connections_are_connection_failures() {
    // Bind then drop a listener: nothing listens on that port any more.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let api = client(format!("http://{addr}"), policy(2));
    let error = api.send(get("/orders"), &endpoint()).await.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::Connection { .. }), "{error}");
    assert_eq!(error.attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn a_post_without_an_idempotency_key_is_not_retried() {
    let server = serve(|_, _| Reply::status(503)).await;
    let api = client(server.url(), policy(5));
    let error = api.send(post("/charges").build().unwrap(), &endpoint()).await.unwrap_err();
    assert_eq!(server.count(), 1);
    assert_eq!(error.attempts, 1);
    let patch = Request::builder(Method::PATCH).path(PathTemplate::literal_path("/charges/1")).build().unwrap();
    api.send(patch, &endpoint()).await.unwrap_err();
    assert_eq!(server.count(), 2, "PATCH neither");
    // PUT and DELETE are idempotent by definition.
    let put = Request::builder(Method::PUT).path(PathTemplate::literal_path("/charges/1")).build().unwrap();
    api.send(put, &endpoint()).await.unwrap_err();
    assert_eq!(server.count(), 7);
}

#[tokio::test(start_paused = true)]
async fn a_post_with_an_idempotency_key_is_retried_with_the_same_key() {
    let server = serve(|_, index| if index < 2 { Reply::status(503) } else { Reply::ok("{}") }).await;
    let api = client(server.url(), policy(5));
    let request = post("/charges").idempotency_key("charge-42").build().unwrap();
    api.send(request, &endpoint()).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for request in &seen {
        assert_eq!(request.header("idempotency-key"), Some("charge-42"));
        assert_eq!(&request.body[..], b"{\"a\":1}");
    }

    let server = serve(|_, index| if index < 1 { Reply::status(503) } else { Reply::ok("{}") }).await;
    let api = client(server.url(), policy(5));
    let request = post("/charges").idempotency_key("k-7").idempotency_header("X-Request-Key").build().unwrap();
    api.send(request, &endpoint()).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|request| request.header("x-request-key") == Some("k-7")));
    assert!(seen.iter().all(|request| request.header("idempotency-key").is_none()));
}

#[tokio::test(start_paused = true)]
async fn an_idempotent_post_is_retried() {
    let server = serve(|_, index| if index < 2 { Reply::status(502) } else { Reply::ok("{}") }).await;
    let api = client(server.url(), policy(5));
    api.send(post("/customers/upsert").build().unwrap(), &endpoint().idempotent(true)).await.unwrap();
    assert_eq!(server.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_rejects_fast_probes_and_closes() {
    let server = serve(|_, index| if index < 2 { Reply::status(500) } else { Reply::ok("{}") }).await;
    let breaker = BreakerConfig::new(2, Duration::from_secs(10));
    let api = client(server.url(), Policy { circuit_breaker: Some(breaker), ..policy(1) });
    let breaker_state = || api.limits().breaker().unwrap().state();

    api.send(get("/a"), &endpoint()).await.unwrap_err();
    assert_eq!(breaker_state(), BreakerState::Closed { failures: 1 });
    api.send(get("/a"), &endpoint()).await.unwrap_err();
    assert!(matches!(breaker_state(), BreakerState::Open { .. }));

    // Open: fails at once, sends nothing.
    let started = Instant::now();
    let error = api.send(get("/a"), &endpoint()).await.unwrap_err();
    assert_eq!(error.kind, CallErrorKind::CircuitOpen);
    assert_eq!(error.error_name(), "CircuitOpen");
    assert_eq!(error.attempts, 0);
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(server.count(), 2);

    // After the probe delay one request goes through; its success closes.
    tokio::time::sleep(Duration::from_secs(10)).await;
    api.send(get("/a"), &endpoint()).await.unwrap();
    assert_eq!(breaker_state(), BreakerState::Closed { failures: 0 });
    api.send(get("/a"), &endpoint()).await.unwrap();
    assert_eq!(server.count(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_and_only_one_probe_goes_at_a_time() {
    let server = serve(|_, index| match index {
        0 => Reply::status(503),
        1 => Reply::status(504).delay(Duration::from_millis(500)),
        _ => Reply::ok("").delay(Duration::from_millis(500)),
    })
    .await;
    let breaker = BreakerConfig::new(1, Duration::from_secs(5));
    let api = client(server.url(), Policy { circuit_breaker: Some(breaker), ..policy(1) });
    api.send(get("/a"), &endpoint()).await.unwrap_err();
    tokio::time::sleep(Duration::from_secs(5)).await;
    // Two calls at once: one probe, the other fails fast.
    let options = endpoint();
    let (a, b) = tokio::join!(api.send(get("/a"), &options), api.send(get("/a"), &options));
    let kinds = [a.unwrap_err().into_details().kind, b.unwrap_err().into_details().kind];
    assert!(kinds.contains(&CallErrorKind::CircuitOpen), "{kinds:?}");
    assert!(kinds.iter().any(|kind| kind.status() == Some(504)), "{kinds:?}");
    assert_eq!(server.count(), 2);
    // The probe failed: open for another 5 s.
    assert_eq!(api.send(get("/a"), &endpoint()).await.unwrap_err().kind, CallErrorKind::CircuitOpen);
    tokio::time::sleep(Duration::from_secs(5)).await;
    api.send(get("/a"), &endpoint()).await.unwrap();
    assert_eq!(server.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_stops_a_call_between_retries_and_ignores_4xx() {
    let server = serve(|seen, _| if seen.path == "/missing" { Reply::status(404) } else { Reply::status(500) }).await;
    let breaker = BreakerConfig::new(2, Duration::from_secs(30));
    let api = client(server.url(), Policy { circuit_breaker: Some(breaker), ..policy(5) });
    // 4xx responses reset the count: the provider is answering.
    api.send(get("/missing"), &endpoint()).await.unwrap_err();
    assert_eq!(api.limits().breaker().unwrap().state(), BreakerState::Closed { failures: 0 });
    let error = api.send(get("/a"), &endpoint()).await.unwrap_err();
    assert_eq!(error.kind, CallErrorKind::CircuitOpen);
    assert_eq!(error.attempts, 2);
    assert_eq!(server.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_holds_at_the_server() {
    let server = serve(|_, _| Reply::ok("{}")).await;
    let api = ApiClient::new(ApiConfig::new("Shop", server.url()).rate_limit(Rate::per_second(5))).unwrap();
    let options = endpoint();
    let calls = (0..12).map(|_| api.send(get("/orders"), &options));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 12);
    for gap in gaps(&seen) {
        assert!(gap >= 199, "requests spaced by 200 ms: {:?}", gaps(&seen));
    }
    // No window of one second sees more than 5 requests.
    for window in seen.windows(6) {
        assert!(window[5].at - window[0].at >= Duration::from_millis(999));
    }
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_allows_a_burst_and_counts_retries() {
    let server = serve(|_, index| if index == 3 { Reply::status(503) } else { Reply::ok("{}") }).await;
    let rate = Rate::new(2, Duration::from_secs(2)).with_burst(3);
    let api = ApiClient::new(
        ApiConfig::new("Shop", server.url()).rate_limit(rate).policy(Policy { jitter: Jitter::None, ..policy(3) }),
    )
    .unwrap();
    for _ in 0..4 {
        api.send(get("/orders"), &endpoint()).await.unwrap();
    }
    // Three back to back, then one per second; the retry after the 503 at
    // index 3 waited for its own slot, not just its 100 ms backoff.
    assert_gaps(gaps(&server.seen()), &[0, 0, 1000, 1000]);
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_limit_holds() {
    let server = serve(|_, _| Reply::ok("{}").delay(Duration::from_millis(100))).await;
    let api = ApiClient::new(ApiConfig::new("Shop", server.url()).concurrency(2)).unwrap();
    let started = Instant::now();
    let options = endpoint();
    let calls = (0..8).map(|_| api.send(get("/orders"), &options));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(server.count(), 8);
    assert_eq!(server.max_in_flight(), 2);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_policy_adds_its_own_limits() {
    let server = serve(|_, _| Reply::ok("{}").delay(Duration::from_millis(50))).await;
    let api = ApiClient::new(ApiConfig::new("Shop", server.url()).concurrency(4)).unwrap();
    let own = Policy { concurrency: Some(1), ..Policy::default() };
    let limits = Arc::new(Limits::for_endpoint_policy("Shop.export", &own).unwrap());
    let export = EndpointOptions::new("export").policy(own).limits(limits);
    let calls = (0..4).map(|_| api.send(get("/export"), &export));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(server.max_in_flight(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_an_attempt() {
    let server = serve(|_, _| Reply::ok("").delay(Duration::from_secs(20))).await;
    let api = client(
        server.url(),
        Policy { timeout: Duration::from_secs(10), deadline: Some(Duration::from_secs(3)), ..policy(5) },
    );
    let started = Instant::now();
    let error = api.send(get("/slow"), &endpoint()).await.unwrap_err();
    assert_eq!(error.kind, CallErrorKind::Deadline { deadline: Duration::from_secs(3) });
    assert_eq!(error.error_name(), "Timeout");
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(server.count(), 1, "the deadline passing is not retried");
}

#[tokio::test(start_paused = true)]
async fn a_delay_past_the_deadline_fails_with_the_last_failure() {
    let server = serve(|_, _| Reply::status(503)).await;
    let api = client(
        server.url(),
        Policy {
            backoff: Backoff::Constant(Duration::from_secs(2)),
            deadline: Some(Duration::from_secs(3)),
            ..policy(10)
        },
    );
    let started = Instant::now();
    let error = api.send(get("/x"), &endpoint()).await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(error.attempts, 2);
    assert!(started.elapsed() < Duration::from_millis(2100), "{:?}", started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_rate_limit_waits() {
    let server = serve(|_, _| Reply::ok("")).await;
    let api = ApiClient::new(
        ApiConfig::new("Shop", server.url())
            .rate_limit(Rate::new(1, Duration::from_secs(60)))
            .policy(Policy { deadline: Some(Duration::from_secs(1)), ..policy(1) }),
    )
    .unwrap();
    api.send(get("/x"), &endpoint()).await.unwrap();
    let error = api.send(get("/x"), &endpoint()).await.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::Deadline { .. }), "{error}");
    assert_eq!(error.attempts, 0);
    assert_eq!(server.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn statuses_are_mapped_through_endpoint_then_api_arms() {
    let server = serve(|seen, _| {
        let status = seen.path.trim_start_matches('/').parse().unwrap_or(500);
        Reply::status(status).body(format!("status {status}"))
    })
    .await;
    let api = ApiClient::new(ApiConfig::new("Payments", server.url()).policy(policy(1)).errors(vec![
        ErrorArm::new([StatusPattern::Exact(401), StatusPattern::Exact(403)], "Forbidden"),
        ErrorArm::new([StatusPattern::Class(5)], "Unavailable"),
        ErrorArm::new([StatusPattern::Exact(404)], "NotFound"),
    ]))
    .unwrap();
    let get_charge = EndpointOptions::new("get_charge")
        .errors(vec![ErrorArm::none([StatusPattern::Exact(404)]), ErrorArm::new([StatusPattern::Exact(410)], "Gone")]);
    let send = |status: u16| api.send(get(&format!("/{status}")), &get_charge);

    let none = send(404).await.unwrap();
    assert!(none.none);
    assert_eq!(none.status, 404);
    let ok = send(200).await.unwrap();
    assert!(!ok.none);
    let gone = send(410).await.unwrap_err();
    assert_eq!(
        gone.kind,
        CallErrorKind::Mapped { name: "Gone".into(), status: 410, body_excerpt: "status 410".into() }
    );
    assert_eq!(gone.error_name(), "Gone");
    assert!(gone.to_string().contains("failed after 1 attempt: Gone (410 Gone)"), "{gone}");
    assert_eq!(send(403).await.unwrap_err().error_name(), "Forbidden");
    assert_eq!(send(502).await.unwrap_err().error_name(), "Unavailable");
    let teapot = send(418).await.unwrap_err();
    assert_eq!(teapot.error_name(), "Http");
    assert_eq!(teapot.status(), Some(418));
    // The api's arms alone: 404 is NotFound there.
    assert_eq!(api.send(get("/404"), &endpoint()).await.unwrap_err().error_name(), "NotFound");

    let catch_all = EndpointOptions::new("any").errors(vec![ErrorArm::new([StatusPattern::Any], "Failed")]);
    assert_eq!(api.send(get("/418"), &catch_all).await.unwrap_err().error_name(), "Failed");
    assert!(api.send(get("/204"), &catch_all).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn requests_carry_the_assembled_headers() {
    let server = serve(|_, _| Reply::ok("{}")).await;
    let api = ApiClient::new(
        ApiConfig::new("Shop", format!("{}/api/v2/", server.url()))
            .header("X-Shop-Version", "2024-04")
            .header("X-Tenant", "api")
            .auth(Auth::Bearer(Secret::new("bearer-in-headers-test"))),
    )
    .unwrap();
    let request = Request::builder(Method::POST)
        .path(PathTemplate::new().literal("/orders/").param("a/b c").literal("/items"))
        .query("tag", "x y")
        .query("tag", "a+b")
        .header("X-Tenant", "endpoint")
        .header("Authorization", "Token overridden-by-the-scheme")
        .body(Body::json(b"{}".to_vec()))
        .idempotency_key("order-1")
        .build()
        .unwrap();
    api.send(request, &endpoint()).await.unwrap();
    let seen = &server.seen()[0];
    assert_eq!(seen.path, "/api/v2/orders/a%2Fb%20c/items");
    assert_eq!(seen.query, "tag=x%20y&tag=a%2Bb");
    assert_eq!(seen.header("user-agent"), Some(format!("integ/{}", integ_runtime::VERSION).as_str()));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("x-shop-version"), Some("2024-04"));
    assert_eq!(seen.header("x-tenant"), Some("endpoint"));
    assert_eq!(seen.header("idempotency-key"), Some("order-1"));
    assert_eq!(seen.header("authorization"), Some("Bearer bearer-in-headers-test"));

    // A program may set its own User-Agent.
    let api = ApiClient::new(ApiConfig::new("Shop", server.url()).header("User-Agent", "shop-sync/2")).unwrap();
    api.send(get("/ping"), &endpoint()).await.unwrap();
    assert_eq!(server.seen()[1].header("user-agent"), Some("shop-sync/2"));
}

#[tokio::test(start_paused = true)]
async fn redirects_are_followed_as_the_spec_says() {
    let other = serve(|_, _| Reply::ok("elsewhere")).await;
    let other_url = other.url();
    let server = serve(move |seen, _| match seen.path.as_str() {
        "/moved" => Reply::status(302).header("location", "/here"),
        "/temporary" => Reply::status(307).header("location", "/here"),
        "/away" => Reply::status(301).header("location", format!("{other_url}/there")),
        "/loop" => Reply::status(302).header("location", "/loop"),
        _ => Reply::ok("here"),
    })
    .await;
    let api = ApiClient::new(
        ApiConfig::new("Shop", server.url()).policy(policy(1)).auth(Auth::Bearer(Secret::new("redirect-token-1"))),
    )
    .unwrap();
    let response = api.send(get("/moved"), &endpoint()).await.unwrap();
    assert_eq!(&response.body[..], b"here");
    assert_eq!(response.url.path(), "/here");
    assert_eq!(server.seen_at("/here")[0].header("authorization"), Some("Bearer redirect-token-1"));

    // A POST follows 307 (same method and body) but not 302.
    api.send(post("/temporary").build().unwrap(), &endpoint()).await.unwrap();
    let here = server.seen_at("/here");
    assert_eq!(here[1].method, "POST");
    assert_eq!(&here[1].body[..], b"{\"a\":1}");
    assert_eq!(api.send(post("/moved").build().unwrap(), &endpoint()).await.unwrap_err().status(), Some(302));

    // Another origin gets no credentials.
    let response = api.send(get("/away"), &endpoint()).await.unwrap();
    assert_eq!(&response.body[..], b"elsewhere");
    assert_eq!(other.seen()[0].header("authorization"), None);

    // At most 10 redirects in a row; the 11th is a status like any other.
    let error = api.send(get("/loop"), &endpoint()).await.unwrap_err();
    assert_eq!(error.status(), Some(302));
    assert_eq!(server.seen_at("/loop").len(), 11);
}

/// A gzip stream with one stored (uncompressed) deflate block.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1];
    let len = data.len() as u16;
    out.extend(len.to_le_bytes());
    out.extend((!len).to_le_bytes());
    out.extend(data);
    out.extend(crc32fast::hash(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

#[tokio::test(start_paused = true)]
async fn gzip_responses_are_decompressed() {
    let server = serve(|_, _| {
        Reply::ok(gzip_stored(b"{\"orders\": []}"))
            .header("content-encoding", "gzip")
            .header("content-type", "application/json")
    })
    .await;
    let response = client(server.url(), policy(1)).send(get("/orders"), &endpoint()).await.unwrap();
    assert_eq!(&response.body[..], b"{\"orders\": []}");
    let accepted = server.seen()[0].header("accept-encoding").unwrap_or("").to_owned();
    assert!(accepted.contains("gzip") && accepted.contains("br"), "{accepted}");
}

#[tokio::test(start_paused = true)]
async fn an_invalid_request_sends_nothing() {
    let server = serve(|_, _| Reply::ok("")).await;
    let mut request = get("/x");
    request.url = Some(url::Url::parse("ftp://127.0.0.1/x").unwrap());
    let error = client(server.url(), policy(3)).send(request, &endpoint()).await.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::InvalidRequest { .. }), "{error}");
    assert_eq!(error.attempts, 0);
    assert_eq!(server.count(), 0);
}
