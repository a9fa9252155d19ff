//! `integ lsp` end to end: the built binary as a process, spoken to in
//! JSON-RPC over its standard input and output, as an editor would.
//!
//! The client below frames messages with `Content-Length`, reads answers on
//! a thread and waits for each with a timeout, so a hung server fails the
//! test instead of hanging it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);

struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
    /// Notifications received while waiting for something else.
    pending: Vec<Value>,
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length: ") {
            length = value.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_integ"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("integ lsp starts");
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        let mut client = Client { child, stdin, messages, next_id: 0, pending: Vec::new() };
        let answer = client.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }));
        assert!(answer["result"]["capabilities"]["hoverProvider"].as_bool().unwrap_or(false), "{answer}");
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("the server reads its input");
        self.stdin.flush().expect("the server reads its input");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn next(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => panic!("integ lsp sent nothing for {TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("integ lsp closed its output (it died)"),
        }
    }

    /// Sends a request and waits for its response (the whole message).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.next(deadline);
            if message["id"] == json!(id) {
                return message;
            }
            self.pending.push(message);
        }
    }

    /// Waits for the diagnostics of `uri` (the next ones published after earlier waits).
    fn diagnostics(&mut self, uri: &str) -> Value {
        let is_for =
            |message: &Value| message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri;
        if let Some(index) = self.pending.iter().position(is_for) {
            return self.pending.remove(index)["params"].clone();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let message = self.next(deadline);
            if is_for(&message) {
                return message["params"].clone();
            }
            self.pending.push(message);
        }
    }

    fn open(&mut self, uri: &str, text: &str) {
        let document = json!({ "uri": uri, "languageId": "integ", "version": 1, "text": text });
        self.notify("textDocument/didOpen", json!({ "textDocument": document }));
    }

    fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    fn at(&mut self, method: &str, uri: &str, (line, character): (usize, usize), extra: Value) -> Value {
        let mut params =
            json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } });
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        self.request(method, params)
    }

    /// Shuts the server down and checks that it exits with success.
    fn shutdown(mut self) {
        let answer = self.request("shutdown", Value::Null);
        assert!(answer.get("error").is_none(), "{answer}");
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the server can be waited for") {
                assert!(status.success(), "integ lsp exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "integ lsp did not exit after `exit`");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Only this test's own server, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory for one test's files.
fn directory(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("integ-lsp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).expect("the temporary directory is writable");
    path
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The line and UTF-16 column of the `nth` occurrence of `needle` in `text`, plus `shift` characters.
fn position(text: &str, needle: &str, nth: usize, shift: usize) -> (usize, usize) {
    let offset = text.match_indices(needle).nth(nth).map(|(index, _)| index).expect("the needle is in the text");
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map(|index| index + 1).unwrap_or(0);
    (line, before[line_start..].encode_utf16().count() + shift)
}

/// JSON as the snapshots show it.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Replaces the test directory's URI so that snapshots do not depend on it.
fn redact(value: &Value, directory: &Path) -> Value {
    let text = value.to_string().replace(&uri(directory), "file://$DIR");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

const COMMON: &str = r#"/// A buyer's order.
type Order {
  id: Int
  /// Where the receipt goes.
  email: String?
  status: Status
}

enum Status { paid, refunded }
"#;

const MAIN: &str = r#"import "./common.integ"

type Contact { external_id: String, email: String }

api Shop {
  base_url: "https://shop.invalid"
  /// Orders changed since a time.
  endpoint list_orders(since: DateTime?) -> stream Order {
    GET "/orders"
    query { since: since }
  }
}

map to_contact(o: Order) -> Contact {
  external_id: "shop-{o.id}"
  email: o.email ?? "none"
}

flow sync {
  trigger: every 5m
  for order in Shop.list_orders(since: none) {
    let contact = to_contact(order)
    if order.status == Status.paid {
      log "paid {contact.email}"
    }
  }
}
"#;

/// A workspace of two files, `main.integ` open in the server.
fn workspace(name: &str) -> (Client, PathBuf, String) {
    let dir = directory(name);
    std::fs::write(dir.join("common.integ"), COMMON).expect("writable");
    std::fs::write(dir.join("main.integ"), MAIN).expect("writable");
    let main = uri(&dir.join("main.integ"));
    let mut client = Client::start();
    client.open(&main, MAIN);
    let published = client.diagnostics(&main);
    assert_eq!(published["diagnostics"], json!([]), "the workspace checks clean");
    (client, dir, main)
}

#[test]
fn diagnostics_on_open_and_after_every_change() {
    let dir = directory("diagnostics");
    let file = uri(&dir.join("broken.integ"));
    let broken = "type Order { id: Int, emial: String }\n\nfn email_of(o: Order) -> String = o.email\n\nfn bad(x: Int) -> Sting = x\n";
    let mut client = Client::start();
    client.open(&file, broken);
    let published = client.diagnostics(&file);
    assert_eq!(published["version"], 1);
    let summary: Vec<Value> = published["diagnostics"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| json!({ "code": d["code"], "range": d["range"], "message": d["message"], "related": d["relatedInformation"] }))
        .collect();
    insta::assert_snapshot!("diagnostics_broken", pretty(&redact(&json!(summary), &dir)));

    // A syntax error, then the fix: the diagnostics follow each version.
    client.change(&file, 2, "type Order { id: Int, email: String }\nfn email_of(o: Order) -> String = o.\n");
    let published = client.diagnostics(&file);
    assert_eq!(published["version"], 2);
    assert!(!published["diagnostics"].as_array().expect("a list").is_empty());
    client.change(&file, 3, "type Order { id: Int, email: String }\nfn email_of(o: Order) -> String = o.email\n");
    let published = client.diagnostics(&file);
    assert_eq!(published["version"], 3);
    assert_eq!(published["diagnostics"], json!([]));

    // Several changes at once: only the newest version is published.
    client.change(&file, 4, "type A {");
    client.change(&file, 5, "type A { x: Int }\n");
    let published = client.diagnostics(&file);
    let version = published["version"].as_i64().unwrap_or(0);
    if version == 4 {
        let published = client.diagnostics(&file);
        assert_eq!(published["version"], 5);
    }
    client.shutdown();
}

#[test]
fn an_unsaved_import_shadows_the_disk() {
    let (mut client, dir, main) = workspace("overlay");
    let common = uri(&dir.join("common.integ"));
    // Rename `email` in the open (unsaved) buffer of the imported file: main breaks.
    client.open(&common, &COMMON.replace("email: String?", "mail: String?"));
    let mut broke = false;
    for _ in 0..3 {
        let published = client.diagnostics(&main);
        if published["diagnostics"].as_array().is_some_and(|list| !list.is_empty()) {
            let codes: Vec<&str> =
                published["diagnostics"].as_array().into_iter().flatten().filter_map(|d| d["code"].as_str()).collect();
            assert!(codes.contains(&"E0203"), "{codes:?}");
            broke = true;
            break;
        }
    }
    assert!(broke, "main.integ saw the open buffer of common.integ");
    client.shutdown();
}

#[test]
fn hover_definition_references_completion_rename_and_fix() {
    let (mut client, dir, main) = workspace("queries");

    let hover_field = client.at("textDocument/hover", &main, position(MAIN, "email ??", 0, 1), json!({}));
    insta::assert_snapshot!("hover_field", pretty(&redact(&hover_field["result"], &dir)));
    let hover_endpoint =
        client.at("textDocument/hover", &main, position(MAIN, "list_orders(since: none", 0, 2), json!({}));
    insta::assert_snapshot!("hover_endpoint", pretty(&redact(&hover_endpoint["result"], &dir)));
    let hover_local = client.at("textDocument/hover", &main, position(MAIN, "contact.email", 0, 0), json!({}));
    insta::assert_snapshot!("hover_local", pretty(&redact(&hover_local["result"], &dir)));

    // Across the import: `Order` is declared in common.integ.
    let definition = client.at("textDocument/definition", &main, position(MAIN, "Order)", 0, 1), json!({}));
    insta::assert_snapshot!("definition_across_import", pretty(&redact(&definition["result"], &dir)));

    let references = client.at(
        "textDocument/references",
        &main,
        position(MAIN, "status ==", 0, 0),
        json!({ "context": { "includeDeclaration": true } }),
    );
    insta::assert_snapshot!("references_field", pretty(&redact(&references["result"], &dir)));

    // Completion right after typing `o.`: the file does not parse there.
    let typing = MAIN.replace("email: o.email ?? \"none\"", "email: o.");
    client.change(&main, 2, &typing);
    let published = client.diagnostics(&main);
    assert!(!published["diagnostics"].as_array().expect("a list").is_empty());
    let completion = client.at("textDocument/completion", &main, position(&typing, "o.\n", 0, 2), json!({}));
    let labels: Vec<Value> = completion["result"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|item| item["kind"] == 5)
        .map(|item| json!({ "label": item["label"], "detail": item["detail"] }))
        .collect();
    insta::assert_snapshot!("completion_fields_after_dot", pretty(&json!(labels)));
    let endpoints = client.at("textDocument/completion", &main, position(&typing, "Shop.", 0, 5), json!({}));
    insta::assert_snapshot!("completion_endpoints", pretty(&endpoints["result"]));
    client.change(&main, 3, MAIN);
    client.diagnostics(&main);

    let prepare = client.at("textDocument/prepareRename", &main, position(MAIN, "status ==", 0, 0), json!({}));
    assert!(prepare["result"]["start"].is_object(), "{prepare}");
    let rename = client.at(
        "textDocument/rename",
        &main,
        position(MAIN, "status ==", 0, 0),
        json!({ "newName": "payment_status" }),
    );
    // The edits by file, in a stable order (the server's map has none).
    let mut changes: Vec<(String, Value)> = rename["result"]["changes"]
        .as_object()
        .map(|changes| changes.iter().map(|(uri, edits)| (uri.clone(), edits.clone())).collect())
        .unwrap_or_default();
    changes.sort_by(|a, b| a.0.cmp(&b.0));
    insta::assert_snapshot!("rename_across_files", pretty(&redact(&json!(changes), &dir)));
    let refused =
        client.at("textDocument/rename", &main, position(MAIN, "status ==", 0, 0), json!({ "newName": "for" }));
    assert_eq!(refused["error"]["message"], "`for` is a keyword");

    // A quick fix from a diagnostic's suggestion: `?.` on a value that is never none.
    let fixable = MAIN.replace("\"shop-{o.id}\"", "\"shop-{o?.id}\"");
    client.change(&main, 4, &fixable);
    let published = client.diagnostics(&main);
    let codes: Vec<&str> =
        published["diagnostics"].as_array().into_iter().flatten().filter_map(|d| d["code"].as_str()).collect();
    assert!(!codes.is_empty());
    let (line, character) = position(&fixable, "?.id", 0, 0);
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": main },
            "range": { "start": { "line": line, "character": character }, "end": { "line": line, "character": character + 2 } },
            "context": { "diagnostics": [] }
        }),
    );
    insta::assert_snapshot!("quick_fix", pretty(&redact(&actions["result"], &dir)));

    let symbols = client.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": main } }));
    let names: Vec<Value> =
        symbols["result"].as_array().into_iter().flatten().map(|symbol| symbol["name"].clone()).collect();
    assert_eq!(names, [json!("Contact"), json!("Shop"), json!("to_contact"), json!("sync")]);
    let found = client.request("workspace/symbol", json!({ "query": "Order" }));
    let names: Vec<Value> =
        found["result"].as_array().into_iter().flatten().map(|symbol| symbol["name"].clone()).collect();
    assert!(names.contains(&json!("Order")), "{names:?}");
    client.shutdown();
}

/// A small deterministic generator (xorshift), so a failure can be replayed from its seed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        if bound == 0 { 0 } else { (self.next() % bound as u64) as usize }
    }
}

#[test]
fn random_edits_never_kill_the_server() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/shop_to_crm/sync.integ"))
        .expect("the example is readable");
    let snippets: Vec<&str> = example.lines().filter(|line| !line.trim().is_empty()).collect();
    let pieces = ["{", "}", "(", ")", ".", "?.", "\"", ":", ",", "\n", "let x = ", "o.", "é", "😀", "//", "{o.", "->"];
    let dir = directory("random");
    let file = uri(&dir.join("edited.integ"));
    let mut text = MAIN.to_owned();
    let mut client = Client::start();
    client.open(&file, &text);
    let mut random = Random(0x5eed_1234_abcd_0001);
    let methods =
        ["textDocument/hover", "textDocument/completion", "textDocument/definition", "textDocument/references"];
    for version in 2..=300 {
        let mut boundaries: Vec<usize> = text.char_indices().map(|(index, _)| index).collect();
        boundaries.push(text.len());
        let at = boundaries[random.below(boundaries.len())];
        match random.below(4) {
            0 => text.insert_str(at, pieces[random.below(pieces.len())]),
            1 => text.insert_str(at, &format!("{}\n", snippets[random.below(snippets.len())])),
            _ => {
                let end_index =
                    boundaries.iter().position(|&boundary| boundary == at).unwrap_or(0) + 1 + random.below(12);
                let end = boundaries.get(end_index).copied().unwrap_or(text.len());
                text.replace_range(at..end, "");
            }
        }
        client.change(&file, version, &text);
        if version % 5 == 0 {
            let lines: Vec<&str> = text.split('\n').collect();
            let line = random.below(lines.len());
            let character = random.below(lines[line].encode_utf16().count() + 2);
            let method = methods[random.below(methods.len())];
            let extra = json!({ "context": { "includeDeclaration": true } });
            let answer = client.at(method, &file, (line, character), extra);
            assert!(
                answer.get("result").is_some() || answer["error"]["code"] != -32603,
                "version {version}: {method} failed: {answer}"
            );
        }
    }
    let published = loop {
        let published = client.diagnostics(&file);
        if published["version"] == 300 {
            break published;
        }
    };
    assert!(published["diagnostics"].is_array());
    client.shutdown();
}

#[test]
fn formatting_replaces_the_document_with_the_formatters_layout() {
    let dir = directory("formatting");
    let file = uri(&dir.join("messy.integ"));
    let messy = "type  Order{id:Int,email:String}\n";
    let mut client = Client::start();
    client.open(&file, messy);
    client.diagnostics(&file);
    let options = json!({ "textDocument": { "uri": file }, "options": { "tabSize": 2, "insertSpaces": true } });
    let edits = client.request("textDocument/formatting", options.clone());
    let expected = integ_compiler::fmt::format(messy).expect("the file formats");
    assert_eq!(
        edits["result"],
        json!([{ "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 1, "character": 0 } }, "newText": expected }])
    );
    client.change(&file, 2, &expected);
    client.diagnostics(&file);
    assert_eq!(client.request("textDocument/formatting", options.clone())["result"], json!([]));
    // A file with syntax errors is left alone: its diagnostics say why.
    client.change(&file, 3, "type Order {");
    client.diagnostics(&file);
    assert_eq!(client.request("textDocument/formatting", options)["result"], Value::Null);
    client.shutdown();
}
