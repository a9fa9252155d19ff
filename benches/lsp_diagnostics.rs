//! The language server's latency: from `didChange` to `publishDiagnostics`
//! on a 5,000-line file (target: under 50 ms).
//!
//! `cargo bench --bench lsp_diagnostics [-- EDITS]` builds the file from
//! the example `examples/shop_to_crm/sync.integ` and the shared module it
//! imports: copies of their declarations, every top-level name suffixed with
//! the copy's number, until the file has 5,000 lines. It starts the built
//! `integ lsp` as a process, opens the file, then sends EDITS (default 40)
//! full-text changes one at a time (each adds or removes a comment, so the
//! program stays the same size) and times each from writing `didChange`
//! to reading the `publishDiagnostics` of that version. For comparison, it
//! also times the analysis alone in process (load, parse, check).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integ_compiler::syntax::{self, ast};
use serde_json::{Value, json};

const EXAMPLE: &str = include_str!("../examples/shop_to_crm/sync.integ");
const SHARED: &str = include_str!("../examples/shared/common.integ");
const TARGET_LINES: usize = 5_000;

/// Replaces whole words found in `names` by `name_{copy}` (outside comments).
fn rename_words(text: &str, names: &[String], copy: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 10);
    for line in text.lines() {
        if line.trim_start().starts_with("//") {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut word = String::new();
        for character in line.chars().chain(std::iter::once('\n')) {
            if character.is_ascii_alphanumeric() || character == '_' {
                word.push(character);
                continue;
            }
            if !word.is_empty() {
                if names.contains(&word) {
                    out.push_str(&format!("{word}_{copy}"));
                } else {
                    out.push_str(&word);
                }
                word.clear();
            }
            out.push(character);
        }
    }
    out
}

/// The 5,000-line program: the example and its shared module, renamed per copy.
fn program() -> String {
    let body: String = format!("{SHARED}\n{EXAMPLE}")
        .lines()
        .filter(|line| !line.starts_with("import \"../"))
        .map(|line| format!("{line}\n"))
        .collect();
    let (module, _) = syntax::parse(integ_compiler::source::FileId(0), &body);
    let mut names: Vec<String> =
        module.decls.iter().filter_map(|decl| decl.name().map(|name| name.name.clone())).collect();
    // Tests are named by strings; rename them too so that no two share a name.
    let tests: Vec<String> = module
        .decls
        .iter()
        .filter_map(|decl| match &decl.kind {
            ast::DeclKind::Test(test) => Some(test.name.clone()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    let mut text = String::new();
    let mut copy = 0;
    while text.lines().count() < TARGET_LINES {
        let mut renamed = rename_words(&body, &names, copy);
        for test in &tests {
            renamed = renamed.replace(&format!("test \"{test}\""), &format!("test \"{test} ({copy})\""));
        }
        if copy > 0 {
            renamed =
                renamed.lines().filter(|line| !line.starts_with("import ")).map(|line| format!("{line}\n")).collect();
        }
        text.push_str(&renamed);
        copy += 1;
    }
    text
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

fn send(stdin: &mut impl Write, message: &Value) {
    let body = message.to_string();
    write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("the server reads");
    stdin.flush().expect("the server reads");
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<40} n={:<3} min {:>7.2} ms  median {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms",
        times.len(),
        times[0].as_secs_f64() * 1e3,
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
}

fn main() {
    let edits: usize = std::env::args().skip(1).find_map(|argument| argument.parse().ok()).unwrap_or(40);
    let text = program();
    let analysis = integ_compiler::check_source("/bench/big.integ", &text);
    let errors = analysis.diagnostics().iter().filter(|diagnostic| diagnostic.is_error()).count();
    println!(
        "file: {} lines, {} bytes, {} declarations; {} diagnostics ({errors} errors)",
        text.lines().count(),
        text.len(),
        analysis.program.module(analysis.program.root).map(|module| module.ast.decls.len()).unwrap_or(0),
        analysis.diagnostics().len(),
    );

    let mut in_process = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let analysis = integ_compiler::check_source("/bench/big.integ", &text);
        std::hint::black_box(&analysis);
        in_process.push(started.elapsed());
    }
    report("analysis in process (load + check)", in_process);

    let mut child = Command::new(env!("CARGO_BIN_EXE_integ"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("integ lsp starts");
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let uri = "file:///bench-integ-lsp/big.integ";
    send(&mut stdin, &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}));
    while read_message(&mut stdout).is_some_and(|message| message["id"] != 1) {}
    send(&mut stdin, &json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    let wait_for = |stdout: &mut BufReader<_>, version: i64| loop {
        let message = read_message(stdout).expect("integ lsp answers");
        if message["method"] == "textDocument/publishDiagnostics" && message["params"]["version"] == version {
            return message;
        }
    };
    let started = Instant::now();
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "integ", "version": 1, "text": text }}}),
    );
    wait_for(&mut stdout, 1);
    report("didOpen → publishDiagnostics", vec![started.elapsed()]);

    let mut times = Vec::new();
    for version in 2..(2 + edits as i64) {
        // Add or remove a comment at the end of the first line: same program, new text.
        let edited = if version % 2 == 0 { text.replacen('\n', " // edited\n", 1) } else { text.clone() };
        let message = json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": edited}]}});
        let started = Instant::now();
        send(&mut stdin, &message);
        wait_for(&mut stdout, version);
        times.push(started.elapsed());
    }
    report("didChange → publishDiagnostics", times);

    send(&mut stdin, &json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null}));
    while read_message(&mut stdout).is_some_and(|message| message["id"] != 2) {}
    send(&mut stdin, &json!({"jsonrpc": "2.0", "method": "exit", "params": null}));
    let _ = child.wait();
}
