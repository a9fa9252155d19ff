//! `integ mock` through the built binary: it prints one line per api with
//! the URL and the environment variables to set, serves until it is killed,
//! and `integ call` in another process reaches it with those variables.
//! Every child started here is killed by its PID when the test ends, pass or
//! fail.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `integ mock`, killed (by PID) when dropped.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts `integ mock ARGS...` and reads its first `count` lines of standard output.
    fn start(args: &[&str], count: usize) -> (Running, Vec<String>) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_integ"))
            .arg("mock")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("integ mock starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let running = Running { child, lines };
        let printed = (0..count)
            .map(|_| running.lines.recv_timeout(Duration::from_secs(60)).expect("a line from integ mock"))
            .collect();
        (running, printed)
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `NAME=value` words of the printed lines.
fn assignments(lines: &[String]) -> HashMap<String, String> {
    lines
        .iter()
        .flat_map(|line| line.split_whitespace())
        .filter_map(|word| word.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// `integ call FILE ENDPOINT ARGS...` with only `env` set of the program's variables.
fn call(file: &Path, endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_integ"));
    command.arg("call").arg(file).arg(endpoint).args(args);
    for variable in ["SHOP_URL", "SHOP_TOKEN", "CRM_URL", "CRM_TOKEN_URL", "CRM_CLIENT_ID", "CRM_CLIENT_SECRET"] {
        command.env_remove(variable);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("integ call runs")
}

/// A raw `GET` on loopback: the status and the body.
fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(authority).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

#[test]
fn integ_mock_prints_its_apis_and_serves_them_to_integ_call() {
    let file = root().join("examples/shop_to_crm/sync.integ");
    let (_mock, lines) = Running::start(&[file.to_str().unwrap()], 3);
    let names: Vec<&str> = lines.iter().filter_map(|line| line.split_whitespace().next()).collect();
    assert_eq!(names, vec!["Shop", "Crm", "Heartbeat"], "{lines:#?}");
    let env = assignments(&lines);
    let shop = env.get("SHOP_URL").unwrap_or_else(|| panic!("SHOP_URL in {lines:#?}")).clone();
    assert!(shop.starts_with("http://127.0.0.1:") && shop.ends_with("/admin/api/2024-04"), "{shop}");
    assert!(lines[0].contains(&format!("  {shop}  SHOP_URL={shop}")), "{}", lines[0]);
    let crm = env.get("CRM_URL").expect("CRM_URL").clone();
    let token = env.get("CRM_TOKEN_URL").expect("CRM_TOKEN_URL").clone();
    assert!(token.ends_with("/oauth/v1/token"), "{token}");
    assert!(env.contains_key("HEARTBEAT_URL"), "{lines:#?}");

    // It serves: credentials are required, the fixture is paged.
    assert_eq!(get(&format!("{shop}/orders"), &[]).0, 401);
    let (status, body) = get(&format!("{shop}/orders"), &[("Authorization", "Bearer local")]);
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("{\"orders\":[{\"id\":1001,"), "{body}");

    // `integ call` in another process, pointed at it by the printed variables.
    let output = call(&file, "Shop.list_orders", &[], &[("SHOP_URL", &shop)]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let ids: Vec<&str> = stdout.lines().filter_map(|line| line.split(',').next()).collect();
    assert_eq!(ids, vec!["{\"id\":1001", "{\"id\":1002", "{\"id\":1003", "{\"id\":1004"], "{stdout}");

    let contact = r#"{"external_id":"shop:7","email":"a@example.com","full_name":"A","lifecycle_stage":"lead","marketing_opt_in":false,"tags":[],"lifetime_orders":0,"source":"shop"}"#;
    let output = call(
        &file,
        "Crm.upsert_contact",
        &["external_id=shop:7", &format!("contact={contact}")],
        &[("CRM_URL", &crm), ("CRM_TOKEN_URL", &token)],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("\"external_id\":\"shop:7\""), "{stdout}");
}

#[test]
fn integ_mock_serves_apis_without_loopback_urls_on_free_ports() {
    let directory = std::env::temp_dir().join(format!("integ-mock-cli-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join("remote.integ");
    std::fs::write(
        &file,
        r#"
type Item { id: Int, email: String }

api Remote {
  base_url: "https://remote.example.com/v2"

  endpoint list() -> stream Item {
    GET "/items"
  }
}
"#,
    )
    .unwrap();
    let (_mock, lines) = Running::start(&[file.to_str().unwrap(), "--records", "3"], 1);
    let words: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(words.len(), 2, "no variable to set: {lines:?}");
    assert_eq!(words[0], "Remote");
    assert!(words[1].starts_with("http://127.0.0.1:") && words[1].ends_with("/v2"), "{lines:?}");
    let (status, body) = get(&format!("{}/items", words[1]), &[]);
    assert_eq!(status, 200);
    assert_eq!(body.matches("@example.com").count(), 3, "{body}");
    let _ = std::fs::remove_dir_all(directory);
}

#[test]
fn integ_mock_refuses_a_program_without_apis() {
    let directory = std::env::temp_dir().join(format!("integ-mock-none-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join("none.integ");
    std::fs::write(&file, "type Item { id: Int }\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_integ")).arg("mock").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("declares no api"));
    let _ = std::fs::remove_dir_all(directory);
}
