//! Webhook acceptance of the real `integ run` (§ 12.3): events per second
//! accepted — signature check (GitHub-style HMAC-SHA-256) and the durable
//! write to the state store before the `202` — and the latency of one
//! delivery at a fixed offered load.
//!
//! The binary serves `benches/webhook_accept.integ`-like program written to
//! a temporary directory, on a loopback port; this process is the load
//! generator (reqwest, keep-alive connections):
//!
//! 1. **throughput**: `EVENTS` deliveries with at most `CONCURRENCY` in
//!    flight (closed loop); events per second accepted;
//! 2. **latency**: deliveries sent at a fixed `RATE` per second for
//!    `SECONDS` seconds (open loop, at most 256 in flight); p50, p90, p99
//!    and max of the time from sending to the `202`.
//!
//! The flow's worker runs the accepted events meanwhile (one run each, on
//! the same two cores). Run with `cargo bench --bench webhook_accept`;
//! `WEBHOOK_BENCH_RATE`, `WEBHOOK_BENCH_EVENTS` and
//! `WEBHOOK_BENCH_CONCURRENCY` override the defaults.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integ_runtime::webhook::signature::{Algorithm, Encoding, sign};

const SECRET: &str = "bench-webhook-secret";

const PROGRAM: &str = r#"
secret hook_secret = env("BENCH_HOOK_SECRET")

type Event { id: String, kind: String, amount: Int }

flow on_event {
  trigger: webhook(path: "/hooks/bench", signature: github(secret: hook_secret))
  payload event: Event
  dedupe: event.id
  log debug "event {event.id}"
}
"#;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

fn main() {
    let events = setting("WEBHOOK_BENCH_EVENTS", 5_000);
    let concurrency = setting("WEBHOOK_BENCH_CONCURRENCY", 32) as usize;
    let rate = setting("WEBHOOK_BENCH_RATE", 500);
    let seconds = setting("WEBHOOK_BENCH_SECONDS", 10);

    let directory = std::env::temp_dir().join(format!("integ-webhook-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("a temporary directory");
    let program = directory.join("bench.integ");
    std::fs::write(&program, PROGRAM).expect("the program");
    let mut child = Command::new(env!("CARGO_BIN_EXE_integ"))
        .args(["run", "--progress", "never", "--listen", "127.0.0.1:0", "--state"])
        .arg(directory.join("state.db"))
        .arg(&program)
        .env("BENCH_HOOK_SECRET", SECRET)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("integ run starts");
    // The address is in the log line "serving webhooks on http://ADDR".
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut address = None;
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(at) = line.find("serving webhooks on http://") {
            address = Some(line[at + "serving webhooks on http://".len()..].trim().to_owned());
            break;
        }
        line.clear();
    }
    let address = address.expect("the server's address in its log");
    // Keep draining stderr (info lines for every event) so that the server never blocks on it.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stderr.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    let url = format!("http://{address}/hooks/bench");

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let client = reqwest::Client::builder().pool_max_idle_per_host(512).build().expect("a client");

    // Warm-up: connections and the store.
    runtime.block_on(send_many(&client, &url, "warm", 200, concurrency));

    let started = Instant::now();
    let accepted = runtime.block_on(send_many(&client, &url, "throughput", events, concurrency));
    let elapsed = started.elapsed();
    println!(
        "throughput: {accepted} of {events} events accepted in {:.2}s with {concurrency} in flight: {:.0} events/s",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64()
    );

    // Let the worker drain what was accepted before measuring latency.
    std::thread::sleep(Duration::from_secs(2));
    let latencies = runtime.block_on(fixed_rate(&client, &url, rate, seconds));
    let mut sorted = latencies.clone();
    sorted.sort();
    let percentile = |p: f64| {
        let index = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1).min(sorted.len().saturating_sub(1));
        sorted.get(index).copied().unwrap_or_default()
    };
    println!(
        "latency at {rate} events/s offered for {seconds}s ({} accepted): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        sorted.len(),
        percentile(0.50).as_secs_f64() * 1e3,
        percentile(0.90).as_secs_f64() * 1e3,
        percentile(0.99).as_secs_f64() * 1e3,
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );

    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&directory);
}

/// One signed delivery; the body is unique per `id`.
fn delivery(client: &reqwest::Client, url: &str, id: &str) -> reqwest::RequestBuilder {
    let body = format!(r#"{{"id":"{id}","kind":"order.created","amount":4200}}"#);
    let signature = sign(Algorithm::Sha256, Encoding::Hex, SECRET.as_bytes(), &[body.as_bytes()]);
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", format!("sha256={signature}"))
        .body(body)
}

/// `count` deliveries, at most `concurrency` in flight; how many got `202`.
async fn send_many(client: &reqwest::Client, url: &str, prefix: &str, count: u64, concurrency: usize) -> u64 {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(count as usize);
    for index in 0..count {
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let request = delivery(client, url, &format!("{prefix}-{index}"));
        tasks.push(tokio::spawn(async move {
            let accepted = matches!(request.send().await, Ok(response) if response.status() == 202);
            drop(permit);
            accepted
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        if task.await.unwrap_or(false) {
            accepted += 1;
        }
    }
    accepted
}

/// Deliveries at `rate` per second for `seconds`: the latency of each accepted one.
async fn fixed_rate(client: &reqwest::Client, url: &str, rate: u64, seconds: u64) -> Vec<Duration> {
    let permits = Arc::new(tokio::sync::Semaphore::new(256));
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for index in 0..rate * seconds {
        ticker.tick().await;
        let Ok(permit) = permits.clone().try_acquire_owned() else { continue };
        let request = delivery(client, url, &format!("rate-{index}"));
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let result = request.send().await;
            drop(permit);
            match result {
                Ok(response) if response.status() == 202 => Some(sent.elapsed()),
                _ => None,
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        if let Ok(Some(latency)) = task.await {
            latencies.push(latency);
        }
    }
    latencies
}
