//! Call overhead: 10,000 calls through [`ApiClient::send`] to a local server,
//! against a plain reqwest loop making the same calls at the same
//! concurrency.
//!
//! `cargo bench -p integ-runtime --bench calls` (`-- --rounds N` for more
//! rounds; without `--bench`, as under `cargo test --all-targets`, it makes a
//! few hundred calls once, as a smoke test).
//!
//! **The workload.** An in-process axum server on `127.0.0.1:0` answers
//! `POST /contacts`: it checks the bearer token, reads and parses the JSON
//! request body (129 bytes) and answers a 300-byte JSON record. Both sides
//! use the same reqwest (the runtime's own dependency: 0.13, `default-tls`,
//! gzip and brotli, pooled, HTTP/1.1 to the plain-http server) and send the
//! same request: method, path, body and the headers `user-agent`, `accept`,
//! `content-type`, `authorization` (checked at start-up: the server records
//! one request of each side and the two header lists must be equal), then
//! read the whole body and check the status.
//!
//! - **runtime**: one [`ApiClient`] with bearer auth and the default policy
//!   (30 s timeout, 3 attempts — the endpoint is `idempotent`, so the retry
//!   path is live but never taken), no rate or concurrency limit; each call
//!   builds its [`Request`] with the builder and awaits `send`.
//! - **reqwest**: one `reqwest::Client`; each call is
//!   `client.post(url).header(..).bearer_auth(..).body(..).send()`, then
//!   `bytes()`.
//!
//! **Concurrency** 1 and 16 in flight: that many tokio tasks share a counter
//! of the 10,000 calls, each making its calls one after another.
//!
//! **Why not divan.** divan times one closure per iteration, one benchmark
//! after another. This workload is 10,000 concurrent calls whose cost also
//! depends on the server and the connection pool warmed before it, and on a
//! small, noisy machine the comparison is only meaningful when the two sides
//! are measured interleaved in the same process. So this is a plain `main`:
//! a warm-up, then `--rounds` rounds (default 7) in which every
//! configuration runs once, the order of the two sides alternating from round
//! to round; it prints the median of each.
//!
//! **What is reported.** Wall time of the 10,000 calls, calls per second,
//! the runtime's overhead (its median wall time over the baseline's, and the
//! difference per call), and the CPU time the client side used per call. The
//! server shares the machine, so wall time includes its work; the CPU time
//! is the sum of the client runtime's threads' run time (read from
//! `/proc/self/task/*/schedstat`; Linux only, `-` elsewhere), which isolates
//! what the client side costs. Client and server run on separate tokio
//! runtimes of two worker threads each.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as AxumResponse};
use bytes::Bytes;
use integ_runtime::http::{ApiClient, ApiConfig, Auth, Body, EndpointOptions, Method, PathTemplate, Policy, Request};
use integ_runtime::secret::Secret;

const CALLS: usize = 10_000;
const SMOKE_CALLS: usize = 300;
const CONCURRENCY: [usize; 2] = [1, 16];
const DEFAULT_ROUNDS: usize = 7;
const TOKEN: &str = "bench-7f3c9a21e4b05d68";
const PATH: &str = "/contacts";
const CLIENT_THREADS: &str = "bench-client";
const SERVER_THREADS: &str = "bench-server";

/// The request body: a contact, as a sync would upsert it (129 bytes).
const REQUEST_BODY: &[u8] = br#"{"external_id":"shop-10245","email":"ann.lee@example.com","first_name":"Ann","last_name":"Lee","country":"US","stage":"customer"}"#;

/// The response: the stored contact (300 bytes).
const RESPONSE_BODY: &[u8] = br#"{"id":"c_01J9ZK4T8W6Q2M5XH3","external_id":"shop-10245","email":"ann.lee@example.com","first_name":"Ann","last_name":"Lee","country":"US","stage":"customer","owner_id":77810,"tags":["shop","vip"],"created_at":"2026-11-02T09:14:03Z","updated_at":"2026-11-21T16:40:12Z","version":1234,"archived":false}"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|arg| arg == "--bench");
    let rounds = args
        .iter()
        .position(|arg| arg == "--rounds")
        .and_then(|index| args.get(index + 1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let (calls, rounds) = if bench { (CALLS, rounds.max(1)) } else { (SMOKE_CALLS, 1) };

    let server = Server::start();
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CLIENT_THREADS)
        .enable_all()
        .build()
        .expect("the client runtime");
    client_runtime.block_on(run(&server, calls, rounds));
}

async fn run(server: &Server, calls: usize, rounds: usize) {
    let base_url = format!("http://{}", server.addr);
    let sides = [Side::runtime(&base_url), Side::reqwest(&base_url)];
    check_same_requests(server, &sides).await;

    // Warm up: open the pools' connections and let the allocator settle.
    for side in &sides {
        side.clone().drive(calls.min(2_000), 16).await;
    }

    let configs: Vec<(usize, usize)> =
        CONCURRENCY.iter().flat_map(|&in_flight| (0..sides.len()).map(move |side| (in_flight, side))).collect();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); configs.len()];
    for round in 0..rounds {
        for &in_flight in &CONCURRENCY {
            let mut order: Vec<usize> = (0..sides.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for side in order {
                let sample = sides[side].clone().measure(calls, in_flight).await;
                let index = configs.iter().position(|&config| config == (in_flight, side)).unwrap_or(0);
                samples[index].push(sample);
            }
        }
    }

    println!(
        "{calls} calls per run, {rounds} round(s), POST {PATH}: {} request bytes, {} response bytes",
        REQUEST_BODY.len(),
        RESPONSE_BODY.len()
    );
    println!();
    println!("| in flight | side | median wall | calls/s | overhead | per call | client CPU/call |");
    println!("|---|---|---|---|---|---|---|");
    for &in_flight in &CONCURRENCY {
        let median_of = |side: usize| {
            let index = configs.iter().position(|&config| config == (in_flight, side)).unwrap_or(0);
            Sample::median(&samples[index])
        };
        let baseline = median_of(1);
        for (side, name) in [(1, "reqwest"), (0, "runtime")] {
            let sample = median_of(side);
            let wall = sample.wall.as_secs_f64();
            let (overhead, per_call) = if side == 1 {
                ("—".to_owned(), "—".to_owned())
            } else {
                let ratio = wall / baseline.wall.as_secs_f64() - 1.0;
                let extra = (wall - baseline.wall.as_secs_f64()) / calls as f64 * 1e6;
                (format!("{:+.1}%", ratio * 100.0), format!("{extra:+.1} µs"))
            };
            let cpu = sample.cpu.map_or_else(
                || "-".to_owned(),
                |cpu| format!("{:.1} µs", cpu.as_secs_f64() / calls as f64 * 1e6),
            );
            println!(
                "| {in_flight} | {name} | {:.1} ms | {:.0} | {overhead} | {per_call} | {cpu} |",
                wall * 1e3,
                calls as f64 / wall,
            );
        }
    }
    println!();
    for (index, &(in_flight, side)) in configs.iter().enumerate() {
        let walls: Vec<String> =
            samples[index].iter().map(|sample| format!("{:.0}", sample.wall.as_secs_f64() * 1e3)).collect();
        let name = if side == 0 { "runtime" } else { "reqwest" };
        println!("all runs, {in_flight} in flight, {name}: {} ms", walls.join(", "));
    }
    println!("server requests: {}", server.state.requests.load(Ordering::Relaxed));
}

/// One side of the comparison.
#[derive(Clone)]
enum Side {
    Runtime { client: ApiClient, endpoint: Arc<EndpointOptions> },
    Reqwest { client: reqwest::Client, url: Arc<str> },
}

impl Side {
    fn runtime(base_url: &str) -> Side {
        let client = ApiClient::new(
            ApiConfig::new("Crm", base_url).auth(Auth::Bearer(Secret::new(TOKEN))).policy(Policy::default()),
        )
        .expect("the api client");
        let endpoint = Arc::new(EndpointOptions::new("upsert_contact").idempotent(true));
        Side::Runtime { client, endpoint }
    }

    fn reqwest(base_url: &str) -> Side {
        let client = reqwest::Client::builder().gzip(true).brotli(true).build().expect("the reqwest client");
        Side::Reqwest { client, url: format!("{base_url}{PATH}").into() }
    }

    /// One call; the response body's length.
    async fn call(&self) -> usize {
        match self {
            Side::Runtime { client, endpoint } => {
                let request = Request::builder(Method::POST)
                    .path(PathTemplate::literal_path(PATH))
                    .body(Body::json(Bytes::from_static(REQUEST_BODY)))
                    .build()
                    .expect("the request");
                let response = client.send(request, endpoint).await.expect("the call");
                assert_eq!(response.status, 200);
                response.body.len()
            }
            Side::Reqwest { client, url } => {
                let response = client
                    .post(&**url)
                    .header(header::USER_AGENT, concat!("integ/", env!("CARGO_PKG_VERSION")))
                    .header(header::ACCEPT, "application/json")
                    .header(header::CONTENT_TYPE, "application/json")
                    .bearer_auth(TOKEN)
                    .body(Bytes::from_static(REQUEST_BODY))
                    .send()
                    .await
                    .expect("the request");
                assert_eq!(response.status(), reqwest::StatusCode::OK);
                response.bytes().await.expect("the body").len()
            }
        }
    }

    /// `calls` calls, `in_flight` at a time.
    async fn drive(self, calls: usize, in_flight: usize) {
        let next = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..in_flight)
            .map(|_| {
                let side = self.clone();
                let next = next.clone();
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < calls {
                        assert_eq!(black_box(side.call().await), RESPONSE_BODY.len());
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a call task");
        }
    }

    async fn measure(self, calls: usize, in_flight: usize) -> Sample {
        let cpu_before = thread_cpu(CLIENT_THREADS);
        let started = Instant::now();
        self.drive(calls, in_flight).await;
        let wall = started.elapsed();
        let cpu = cpu_before.zip(thread_cpu(CLIENT_THREADS)).map(|(before, after)| after.saturating_sub(before));
        Sample { wall, cpu }
    }
}

/// Sends one request from each side and checks that the server saw the same
/// method, path, headers and body.
async fn check_same_requests(server: &Server, sides: &[Side]) {
    let mut seen = Vec::new();
    for side in sides {
        server.state.capture.store(true, Ordering::SeqCst);
        side.call().await;
        let captured = server.state.captured.lock().expect("the capture").take().expect("a captured request");
        seen.push(captured);
    }
    if let [first, rest @ ..] = seen.as_slice() {
        for other in rest {
            assert_eq!(first, other, "the two sides must send the same request");
        }
        eprintln!("both sides send: {}", first.join(", "));
    }
}

#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Option<Duration>,
}

impl Sample {
    /// The sample of median wall time.
    fn median(samples: &[Sample]) -> Sample {
        let mut sorted = samples.to_vec();
        sorted.sort_by_key(|sample| sample.wall);
        sorted.get(sorted.len() / 2).copied().unwrap_or(Sample { wall: Duration::ZERO, cpu: None })
    }
}

/// The run time of this process's threads named `name`, from
/// `/proc/self/task/*/schedstat` (nanoseconds on CPU); `None` off Linux.
fn thread_cpu(name: &str) -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else { continue };
        // `comm` is cut to 15 bytes.
        if !name.starts_with(comm.trim_end()) {
            continue;
        }
        let Ok(schedstat) = std::fs::read_to_string(path.join("schedstat")) else { continue };
        total += schedstat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()).unwrap_or(0);
    }
    Some(Duration::from_nanos(total))
}

#[derive(Default)]
struct ServerState {
    requests: AtomicUsize,
    capture: AtomicBool,
    /// `method path`, the headers (`name: value`, sorted) and the body.
    captured: Mutex<Option<Vec<String>>>,
}

struct Server {
    addr: std::net::SocketAddr,
    state: Arc<ServerState>,
}

impl Server {
    /// Starts the server on its own runtime and threads.
    fn start() -> Server {
        let state = Arc::new(ServerState::default());
        let (sender, receiver) = mpsc::channel();
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name(SERVER_THREADS)
                .enable_all()
                .build()
                .expect("the server runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
                sender.send(listener.local_addr().expect("the address")).expect("the address sent");
                let app = axum::Router::new().route(PATH, axum::routing::post(upsert)).with_state(shared);
                axum::serve(listener, app).await.expect("the server");
            });
        });
        let addr = receiver.recv().expect("the server's address");
        Server { addr, state }
    }
}

async fn upsert(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    axum::Json(contact): axum::Json<serde_json::Value>,
) -> AxumResponse {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let authorized = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes().strip_prefix(b"Bearer ") == Some(TOKEN.as_bytes()));
    if !authorized || contact.get("email").is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if state.capture.swap(false, Ordering::SeqCst) {
        let mut seen: Vec<String> = headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
            .collect();
        seen.sort();
        seen.insert(0, format!("POST {PATH}"));
        seen.push(contact.to_string());
        *state.captured.lock().expect("the capture") = Some(seen);
    }
    ([(header::CONTENT_TYPE, "application/json")], Bytes::from_static(RESPONSE_BODY)).into_response()
}
