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
//! a warm-up, then `--rounds` rounds (default 15) in which every
//! configuration runs once, the two sides back to back, their order
//! alternating from round to round.
//!
//! **What is reported**, per side and concurrency: the median wall time of
//! the 10,000 calls and the calls per second; the median CPU time per call of
//! the client's threads and of the server's (the sum of the threads' run time
//! from `/proc/self/task/*/schedstat`; Linux only, `-` elsewhere); and the
//! runtime's overhead, as the median over the rounds of the ratio of its run
//! to the reqwest run of the same round, in wall time and in client CPU time.
//! The server shares the machine, so wall time includes its work and
//! whatever else the machine runs; the client CPU time isolates what the
//! client side costs. Client and server run on separate tokio runtimes of two
//! worker threads each.

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
const DEFAULT_ROUNDS: usize = 15;
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

    // samples[c][side][round], side 0 the runtime, 1 reqwest.
    let mut samples: Vec<[Vec<Sample>; 2]> = CONCURRENCY.iter().map(|_| [Vec::new(), Vec::new()]).collect();
    for round in 0..rounds {
        for (c, &in_flight) in CONCURRENCY.iter().enumerate() {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for side in order {
                let sample = sides[side].clone().measure(calls, in_flight).await;
                samples[c][side].push(sample);
            }
        }
    }

    println!(
        "{calls} calls per run, {rounds} round(s), POST {PATH}: {} request bytes, {} response bytes",
        REQUEST_BODY.len(),
        RESPONSE_BODY.len()
    );
    println!();
    println!(
        "| in flight | side | median wall | calls/s | client CPU/call | server CPU/call | overhead: wall | overhead: client CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let per_call = |duration: Option<Duration>| {
        duration.map_or_else(|| "-".to_owned(), |cpu| format!("{:.1} µs", cpu.as_secs_f64() / calls as f64 * 1e6))
    };
    for (c, &in_flight) in CONCURRENCY.iter().enumerate() {
        let [runtime, baseline] = &samples[c];
        // Each round's two runs ran back to back: their ratio is the least
        // disturbed by what else the machine does.
        let wall_ratio = median(runtime.iter().zip(baseline).map(|(r, b)| r.wall.as_secs_f64() / b.wall.as_secs_f64()));
        let cpu_ratio = median(
            runtime
                .iter()
                .zip(baseline)
                .filter_map(|(r, b)| Some(r.client_cpu?.as_secs_f64() / b.client_cpu?.as_secs_f64())),
        );
        for (side, name) in [(1, "reqwest"), (0, "runtime")] {
            let runs = &samples[c][side];
            let wall = median(runs.iter().map(|sample| sample.wall.as_secs_f64()));
            let client = runs.iter().map(|sample| sample.client_cpu).collect::<Option<Vec<_>>>();
            let server = runs.iter().map(|sample| sample.server_cpu).collect::<Option<Vec<_>>>();
            let client = client.map(|cpu| Duration::from_secs_f64(median(cpu.iter().map(Duration::as_secs_f64))));
            let server = server.map(|cpu| Duration::from_secs_f64(median(cpu.iter().map(Duration::as_secs_f64))));
            let (wall_overhead, cpu_overhead) = if side == 1 {
                ("—".to_owned(), "—".to_owned())
            } else {
                (format!("{:+.1}%", (wall_ratio - 1.0) * 100.0), format!("{:+.1}%", (cpu_ratio - 1.0) * 100.0))
            };
            println!(
                "| {in_flight} | {name} | {:.1} ms | {:.0} | {} | {} | {wall_overhead} | {cpu_overhead} |",
                wall * 1e3,
                calls as f64 / wall,
                per_call(client),
                per_call(server),
            );
        }
    }
    println!();
    for (c, &in_flight) in CONCURRENCY.iter().enumerate() {
        for (side, name) in [(1, "reqwest"), (0, "runtime")] {
            let walls: Vec<String> =
                samples[c][side].iter().map(|sample| format!("{:.0}", sample.wall.as_secs_f64() * 1e3)).collect();
            println!("runs, {in_flight} in flight, {name}: {} ms", walls.join(", "));
        }
    }
    println!("server requests: {}", server.state.requests.load(Ordering::Relaxed));
}

/// The median (the upper one of an even count); NaN when empty.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
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
        let client_before = thread_cpu(CLIENT_THREADS);
        let server_before = thread_cpu(SERVER_THREADS);
        let started = Instant::now();
        self.drive(calls, in_flight).await;
        let wall = started.elapsed();
        let since = |before: Option<Duration>, name| before.zip(thread_cpu(name)).map(|(b, a)| a.saturating_sub(b));
        Sample {
            wall,
            client_cpu: since(client_before, CLIENT_THREADS),
            server_cpu: since(server_before, SERVER_THREADS),
        }
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

/// One run: its wall time and the CPU time of the client's and the
/// server's threads.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    client_cpu: Option<Duration>,
    server_cpu: Option<Duration>,
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
