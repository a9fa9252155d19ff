//! Webhook flows served by the real `integ run` (§ 12.3, § 18.2): the binary
//! serves `tests/webhooks/serve.integ` on a loopback port (`--listen
//! 127.0.0.1:0`, the address read from its log) with its state in a
//! temporary SQLite file; the deliveries its flows make go to a target this
//! test serves with axum on 127.0.0.1, which records every request.
//!
//! - every answer of § 12.3: 404, 405, 413, 401, 415, 400 (decode and
//!   nesting), 200 duplicate and 202; a form body; keys rotated;
//! - failures become dead letters with the raw body and the headers minus
//!   the signature; SIGTERM stops cleanly; no secret or signature in logs;
//! - the kill test: 1,000 events sent concurrently (32 in flight), the
//!   server SIGKILLed right after the last `202`, restarted: every accepted
//!   event reaches the target, none twice but for the one a kill can catch
//!   in flight (same idempotency key, same body), and the queue ends empty.

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integ_runtime::store::{SqliteStore, Store};
use integ_runtime::webhook::signature::{Algorithm, Encoding, sign};

const PROGRAM: &str = "tests/webhooks/serve.integ";
const SECRET: &str = "e2e-hook-secret-value";
const OLD_KEY: &str = "whsec_b2xkLWtleS1mb3ItdGhlLXdlYmhvb2stdGVzdHM=";
const NEW_KEY: &str = "whsec_bmV3LWtleS1mb3ItdGhlLXdlYmhvb2stdGVzdHM=";
const OLD_KEY_BYTES: &[u8] = b"old-key-for-the-webhook-tests";
const NEW_KEY_BYTES: &[u8] = b"new-key-for-the-webhook-tests";
const WRONG_KEY_BYTES: &[u8] = b"wrong-key-wrong-key";

/// A directory of its own for one test's state.
fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("integ-webhooks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// A request the target received: its idempotency key and body.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Received {
    key: String,
    body: serde_json::Value,
}

/// The target of the flows' deliveries: records them, 3 ms each; answers
/// 422 to an amount of 422.
struct Target {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

fn target(runtime: &tokio::runtime::Runtime) -> Target {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let recorded = received.clone();
    let app = axum::Router::new().route(
        "/deliveries",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let recorded = recorded.clone();
            async move {
                let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                // A target slower than acceptance, so that events queue up (the kill test needs a backlog).
                tokio::time::sleep(Duration::from_millis(3)).await;
                if body["amount"] == 422 {
                    return (axum::http::StatusCode::UNPROCESSABLE_ENTITY, "rejected".to_owned());
                }
                let key = headers.get("idempotency-key").and_then(|value| value.to_str().ok()).unwrap_or_default();
                recorded.lock().unwrap().push(Received { key: key.to_owned(), body });
                (axum::http::StatusCode::OK, "{}".to_owned())
            }
        }),
    );
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    Target { url, received }
}

/// `integ run` serving the program, and what it writes to standard error.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(target: &Target, state: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_integ"))
            .args(["run", PROGRAM, "--progress", "never", "--listen", "127.0.0.1:0", "--state"])
            .arg(state)
            .env("TARGET_URL", &target.url)
            .env("HOOK_SECRET", SECRET)
            .env("OLD_KEY", OLD_KEY)
            .env("NEW_KEY", NEW_KEY)
            .env_remove("INTEG_STATE")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log: Arc<Mutex<String>> = Arc::default();
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let written = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(at) = line.find("serving webhooks on http://") {
                    let _ = address_tx.send(line[at + "serving webhooks on http://".len()..].trim().to_owned());
                }
                written.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let address = match address_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!("integ run did not start serving:\n{}", log.lock().unwrap());
            }
        };
        Server { child, base: format!("http://{address}"), log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args(["-s", signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// SIGTERM, then the exit status (bounded wait).
    fn stop(mut self) -> (i32, String) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The log thread ends with the pipe.
                std::thread::sleep(Duration::from_millis(100));
                return (status.code().unwrap_or(-1), self.log());
            }
            assert!(Instant::now() < deadline, "integ run did not stop after SIGTERM:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn order(id: &str, amount: i64) -> String {
    format!(r#"{{"id":"{id}","amount":{amount}}}"#)
}

fn github_signature(body: &str) -> String {
    format!("sha256={}", sign(Algorithm::Sha256, Encoding::Hex, SECRET.as_bytes(), &[body.as_bytes()]))
}

/// A signed delivery of `body` to `/hooks/orders`.
fn signed(client: &reqwest::Client, base: &str, body: &str) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/hooks/orders"))
        .header("x-hub-signature-256", github_signature(body))
        .body(body.to_owned())
}

/// The status and JSON body of an answer.
fn answer(runtime: &tokio::runtime::Runtime, request: reqwest::RequestBuilder) -> (u16, serde_json::Value, String) {
    runtime.block_on(async {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let body =
            serde_json::from_slice(&response.bytes().await.unwrap_or_default()).unwrap_or(serde_json::Value::Null);
        (status, body, allow)
    })
}

/// The status of a delivery sent with `Transfer-Encoding: chunked` (no
/// declared length), written by hand over TCP.
fn chunked_status(base: &str, body: &str, signature: &str) -> u16 {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!(
        "POST /hooks/orders HTTP/1.1\r\nHost: {address}\r\nX-Hub-Signature-256: {signature}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for piece in body.as_bytes().chunks(500) {
        request.push_str(&format!("{:x}\r\n{}\r\n", piece.len(), String::from_utf8_lossy(piece)));
    }
    request.push_str("0\r\n\r\n");
    // The server may answer and close before reading everything.
    let _ = stream.write_all(request.as_bytes());
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    text.split(' ').nth(1).and_then(|status| status.parse().ok()).unwrap_or(0)
}

/// Waits (bounded) until `done` holds for what the target received.
fn wait_for(target: &Target, what: &str, server_log: impl Fn() -> String, done: impl Fn(&[Received]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done(&target.received.lock().unwrap()) {
        let count = target.received.lock().unwrap().len();
        assert!(Instant::now() < deadline, "timed out waiting for {what} ({count} received); log:\n{}", server_log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The Standard Webhooks signature under the key whose bytes are `key`
/// (`OLD_KEY` is `whsec_` and the base64 of `OLD_KEY_BYTES`).
fn standard_signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let timestamp = timestamp.to_string();
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body.as_bytes()];
    format!("v1,{}", sign(Algorithm::Sha256, Encoding::Base64, key, &parts))
}

#[test]
fn every_answer_of_the_request_steps_and_what_the_flows_do() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let target = target(&runtime);
    let directory = scratch("answers");
    let state = directory.join("state.db");
    let server = Server::start(&target, &state);
    let base = server.base.clone();
    let client = reqwest::Client::new();

    // 1. No webhook on the path: 404.
    let (status, body, _) = answer(&runtime, client.post(format!("{base}/hooks/nope")).body("{}"));
    assert_eq!((status, body["status"].as_str()), (404, Some("rejected")));
    assert_eq!(body["error"], "no webhook listens on `/hooks/nope`");
    // Paths are compared exactly: a trailing slash is another path.
    let (status, _, _) = answer(&runtime, signed(&client, &format!("{base}/"), "{}").header("x", "y"));
    assert_eq!(status, 404);
    let (status, _, _) = answer(&runtime, client.post(format!("{base}/hooks/orders/")).body("{}"));
    assert_eq!(status, 404);
    // 2. Not POST: 405 with `Allow: POST`.
    let (status, body, allow) = answer(&runtime, client.get(format!("{base}/hooks/orders")));
    assert_eq!((status, allow.as_str()), (405, "POST"));
    assert_eq!(body["error"], "`/hooks/orders` takes POST, not GET");
    // 3. Larger than max_body (2KB): 413, declared or not.
    let big = order(&"x".repeat(2_100), 1);
    let (status, body, _) = answer(&runtime, signed(&client, &base, &big));
    assert_eq!(status, 413);
    assert_eq!(body["error"], "the body is larger than the limit of 2000 bytes");
    assert_eq!(chunked_status(&base, &big, &github_signature(&big)), 413);
    // 4. A bad or missing signature: 401, nothing stored.
    let (status, body, _) = answer(
        &runtime,
        client.post(format!("{base}/hooks/orders")).header("x-hub-signature-256", "sha256=00ff").body(order("o-1", 5)),
    );
    assert_eq!(status, 401);
    assert_eq!(body["error"], "the signature does not verify: the signature does not match");
    let (status, body, _) = answer(&runtime, client.post(format!("{base}/hooks/orders")).body(order("o-1", 5)));
    assert_eq!(status, 401);
    assert_eq!(body["error"], "the signature does not verify: the `x-hub-signature-256` header is missing");
    // 5. Another content type: 415 (after the signature: a stranger learns nothing).
    let (status, body, _) =
        answer(&runtime, signed(&client, &base, &order("o-1", 5)).header("content-type", "text/xml"));
    assert_eq!(status, 415);
    assert!(body["error"].as_str().unwrap().starts_with("content type `text/xml` is not accepted"), "{body}");
    // 6. Not the payload type: 400 with the decode error; too deep: 400.
    let (status, body, _) = answer(&runtime, signed(&client, &base, r#"{"id":"o-1"}"#));
    assert_eq!(status, 400);
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("the body does not decode as `Order`") && error.contains("amount"), "{error}");
    let (status, body, _) = answer(&runtime, signed(&client, &base, "{\"id\":\"o-1\",\"amount\":1,"));
    assert_eq!(status, 400, "{body}");
    let deep = format!(r#"{{"id":"o-1","amount":1,"x":{}{}}}"#, "[".repeat(100), "]".repeat(100));
    let (status, body, _) = answer(&runtime, signed(&client, &base, &deep));
    assert_eq!(status, 400);
    assert_eq!(body["error"], "the body nests arrays and objects deeper than 64 levels");
    // 9. Accepted: 202 with the event's id; 7. the same order again: 200 duplicate.
    let (status, body, _) = answer(&runtime, signed(&client, &base, &order("o-1", 5)));
    assert_eq!((status, body["status"].as_str()), (202, Some("accepted")), "{body}");
    assert_eq!(body["event"].as_str().unwrap().len(), 26);
    let (status, body, _) = answer(&runtime, signed(&client, &base, &order("o-1", 5)));
    assert_eq!((status, body), (200, serde_json::json!({ "status": "duplicate" })));
    // A charset parameter is fine.
    let (status, _, _) = answer(
        &runtime,
        signed(&client, &base, &order("o-2", 7)).header("content-type", "application/json; charset=utf-8"),
    );
    assert_eq!(status, 202);
    wait_for(&target, "o-1 and o-2", || server.log(), |received| received.len() >= 2);

    // A form body, read as an object of strings (a repeated field is a list).
    let form = client
        .post(format!("{base}/hooks/command"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user_name=ada&text=ship+it%21&tags=a&tags=b");
    let (status, body, _) = answer(&runtime, form);
    assert_eq!(status, 202, "{body}");
    let (status, body, _) = answer(
        &runtime,
        client
            .post(format!("{base}/hooks/command"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("text=x"),
    );
    assert_eq!(status, 400, "{body}");
    wait_for(&target, "the command", || server.log(), |received| received.iter().any(|r| r.key == "ada:ship it!:2"));

    // Keys rotated: the old and the new key verify; a third does not.
    let now = jiff::Timestamp::now().as_second();
    for (index, key, expected) in [(1, NEW_KEY_BYTES, 202), (2, OLD_KEY_BYTES, 202), (3, WRONG_KEY_BYTES, 401)] {
        let body = order(&format!("r-{index}"), index);
        let id = format!("msg_{index}");
        let request = client
            .post(format!("{base}/hooks/rotated"))
            .header("webhook-id", &id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", standard_signature(key, &id, now, &body))
            .body(body);
        assert_eq!(answer(&runtime, request).0, expected, "key {index}");
    }
    // The same webhook-id again is a duplicate; a timestamp 10 minutes old is refused.
    let body = order("r-1", 1);
    let replay = client
        .post(format!("{base}/hooks/rotated"))
        .header("webhook-id", "msg_1")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", standard_signature(NEW_KEY_BYTES, "msg_1", now, &body))
        .body(body.clone());
    assert_eq!(answer(&runtime, replay).0, 200);
    let stale = client
        .post(format!("{base}/hooks/rotated"))
        .header("webhook-id", "msg_9")
        .header("webhook-timestamp", (now - 600).to_string())
        .header("webhook-signature", standard_signature(NEW_KEY_BYTES, "msg_9", now - 600, &body))
        .body(body);
    let (status, body, _) = answer(&runtime, stale);
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("older than the tolerance of 300s"), "{body}");
    wait_for(
        &target,
        "the rotated deliveries",
        || server.log(),
        |received| received.iter().filter(|r| r.key.starts_with("rotated:")).count() == 2,
    );

    // Failures: rejected by the target (a dead letter), and a failing run (the event dead-lettered).
    assert_eq!(answer(&runtime, signed(&client, &base, &order("o-422", 422))).0, 202);
    assert_eq!(answer(&runtime, signed(&client, &base, &order("o-neg", -1))).0, 202);
    assert_eq!(answer(&runtime, signed(&client, &base, &order("o-last", 9))).0, 202);
    wait_for(&target, "o-last", || server.log(), |received| received.iter().any(|r| r.key == "o-last"));

    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("on_order: webhook event") && log.contains("accepted"), "{log}");
    assert!(log.contains("on_order: webhook request refused (401)"), "{log}");
    assert!(!log.contains(SECRET) && !log.contains("sha256=") && !log.contains("v1,"), "{log}");

    // Every delivery arrived once.
    let received = target.received.lock().unwrap().clone();
    let keys: Vec<&str> = received.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.iter().filter(|key| **key == "o-1").count(), 1, "{keys:?}");
    assert!(!keys.contains(&"o-422") && !keys.contains(&"o-neg"), "{keys:?}");

    // Both failures are dead letters of unit `event`, with the raw body and without the signature.
    let store = SqliteStore::open(&state).unwrap();
    assert!(store.pending_event_counts().unwrap().iter().all(|(_, count)| *count == 0));
    let letters = store.dead_letters(Some("on_order")).unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    for summary in &letters {
        let letter = store.dead_letter(summary.id).unwrap().unwrap();
        assert_eq!(letter.record.unit, integ_runtime::store::UnitKind::Event);
        let integ_runtime::store::UnitInput::Event { headers, body } = &letter.record.input else { panic!() };
        let body = String::from_utf8(body.clone()).unwrap();
        assert!(body == order("o-422", 422) || body == order("o-neg", -1), "{body}");
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        assert!(names.contains(&"host") && names.contains(&"content-length"), "{names:?}");
        assert!(!names.iter().any(|name| name.contains("signature")), "{names:?}");
    }
    let failed = letters.iter().find(|letter| letter.failure.error == "Failed").unwrap();
    assert!(failed.failure.message.contains("order o-neg has a negative amount"), "{failed:?}");
    let rejected = letters.iter().find(|letter| letter.failure.error == "Rejected").unwrap();
    assert_eq!(rejected.failure.status, Some(422));
    drop(store);
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn a_server_killed_right_after_answering_loses_no_event() {
    const EVENTS: usize = 1_000;
    const IN_FLIGHT: usize = 32;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let target = target(&runtime);
    let directory = scratch("kill");
    let state = directory.join("state.db");
    let mut server = Server::start(&target, &state);
    let base = server.base.clone();
    let client = reqwest::Client::new();

    // 1,000 events, 32 in flight; the ids of those answered 202.
    let accepted: Vec<String> = runtime.block_on(async {
        let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut tasks = Vec::new();
        for index in 0..EVENTS {
            let permit = permits.clone().acquire_owned().await.unwrap();
            let id = format!("k-{index:04}");
            let request = signed(&client, &base, &order(&id, index as i64 * 2 + 1));
            tasks.push(tokio::spawn(async move {
                let response = request.send().await;
                drop(permit);
                match response {
                    Ok(response) if response.status() == 202 => Some(id),
                    Ok(response) => panic!("{id}: {}", response.status()),
                    Err(error) => panic!("{id}: {error}"),
                }
            }));
        }
        let mut accepted = Vec::new();
        for task in tasks {
            accepted.extend(task.await.unwrap());
        }
        accepted
    });
    // Right after the last 202: SIGKILL.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert_eq!(accepted.len(), EVENTS);
    let before = target.received.lock().unwrap().len();
    assert!(before < EVENTS, "every event was already processed before the kill: the test proves nothing");

    // Restarted: the events queued before the kill run first.
    let server = Server::start(&target, &state);
    wait_for(
        &target,
        "every accepted event",
        || server.log(),
        |received| received.iter().map(|r| r.key.as_str()).collect::<BTreeSet<_>>().len() >= EVENTS,
    );
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("queued by an earlier run; running them first"), "{log}");

    let received = target.received.lock().unwrap().clone();
    let mut by_key: BTreeMap<&str, Vec<&serde_json::Value>> = BTreeMap::new();
    for delivery in &received {
        by_key.entry(delivery.key.as_str()).or_default().push(&delivery.body);
    }
    let expected: BTreeSet<&str> = accepted.iter().map(String::as_str).collect();
    assert_eq!(by_key.keys().copied().collect::<BTreeSet<_>>(), expected, "events lost or invented");
    // One event at a time runs per flow, so a kill interrupts at most one:
    // only it may arrive twice, as the same request with the same key.
    let repeated: Vec<(&&str, &Vec<&serde_json::Value>)> =
        by_key.iter().filter(|(_, bodies)| bodies.len() > 1).collect();
    assert!(repeated.len() <= 1, "{repeated:?}");
    for (key, bodies) in &repeated {
        assert_eq!(bodies.len(), 2, "{key}");
        assert_eq!(bodies[0], bodies[1], "{key}");
    }
    for (key, bodies) in &by_key {
        assert_eq!(bodies[0]["order_id"].as_str(), Some(*key));
    }
    // The queue is empty and nothing failed.
    let store = SqliteStore::open(&state).unwrap();
    assert!(store.pending_event_counts().unwrap().iter().all(|(_, count)| *count == 0));
    assert!(store.dead_letters(None).unwrap().is_empty());
    // A redelivery of an event processed before the kill is still a duplicate.
    drop(store);
    let server = Server::start(&target, &state);
    let (status, _, _) = answer(&runtime, signed(&client, &server.base, &order("k-0000", 1)));
    assert_eq!(status, 200);
    let (code, _) = server.stop();
    assert_eq!(code, 0);
    let _ = std::fs::remove_dir_all(&directory);
}
