//! The Rust back end from the outside: `integ build` on every example and
//! golden program (insta snapshots of the generated Rust, and the checked-in
//! copies in `tests/golden/src/` that the test suite compiles and lints),
//! and what `integ build` says when it cannot generate.
//!
//! Run with `INTEG_BLESS=1` to rewrite stale golden copies.

use std::path::Path;
use std::process::Command;

fn integ() -> Command {
    Command::new(env!("CARGO_BIN_EXE_integ"))
}

/// Golden programs: the name of the generated module and the root file.
const GOLDEN: &[(&str, &str)] = &[
    ("basics", "tests/golden/programs/basics.integ"),
    ("natives", "tests/golden/programs/natives.integ"),
    ("edges", "tests/golden/programs/edges.integ"),
    ("no_maps", "tests/golden/programs/no_maps.integ"),
    ("hooks", "tests/golden/programs/hooks.integ"),
    ("webhook_vectors", "tests/webhooks/vectors.integ"),
    ("shop_to_crm", "examples/shop_to_crm/sync.integ"),
    ("github_to_chat", "examples/github_to_chat/notify.integ"),
    ("stripe_to_ledger", "examples/stripe_to_ledger/export.integ"),
    ("map_orders", "benchmarks/map/orders.integ"),
];

/// `integ build ROOT` from the repository's root: the generated code names
/// the file as given (a flow's location), relative here, so that the golden
/// copies do not depend on where the repository is checked out.
fn build(root: &str) -> (bool, String, String) {
    let output = integ()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", root])
        .output()
        .unwrap_or_else(|error| panic!("integ build: {error}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn generated_rust_matches_its_snapshots_and_golden_copies() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bless = std::env::var_os("INTEG_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, root) in GOLDEN {
        let (ok, code, stderr) = build(root);
        assert!(ok, "integ build {root} failed:\n{stderr}");
        insta::assert_snapshot!(format!("rust_{name}"), code);
        let golden = here.join("tests/golden/src").join(format!("{name}.rs"));
        let current = std::fs::read_to_string(&golden).unwrap_or_default();
        if current != code {
            if bless {
                std::fs::write(&golden, &code).unwrap_or_else(|error| panic!("{}: {error}", golden.display()));
            } else {
                stale.push(golden.display().to_string());
            }
        }
    }
    assert!(stale.is_empty(), "stale generated code (rerun with INTEG_BLESS=1): {stale:?}");
}

/// Generated api clients read secrets from the environment at run time:
/// neither a secret's value nor its default is ever written into the code.
#[test]
fn generated_code_holds_no_secret_defaults() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for root in [
        "examples/shop_to_crm/sync.integ",
        "examples/github_to_chat/notify.integ",
        "examples/stripe_to_ledger/export.integ",
    ] {
        let source = std::fs::read_to_string(here.join(root)).unwrap_or_else(|error| panic!("{root}: {error}"));
        let defaults: Vec<&str> = source
            .lines()
            .filter(|line| line.trim_start().starts_with("secret "))
            .filter_map(|line| line.rsplit_once(", \"").map(|(_, rest)| rest.trim_end_matches("\")")))
            .collect();
        assert!(defaults.len() >= 3, "{root}: no secret defaults found");
        let (ok, code, stderr) = build(root);
        assert!(ok, "integ build {root} failed:\n{stderr}");
        assert!(code.contains("pub struct Apis"), "{root}: no api clients generated");
        for default in defaults {
            assert!(!code.contains(default), "{root}: the secret default `{default}` is in the generated code");
        }
    }
}

#[test]
fn build_writes_a_file_and_reports_errors_with_their_location() {
    let dir = std::env::temp_dir().join(format!("integ-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("{error}"));
    let good = dir.join("good.integ");
    std::fs::write(&good, "type Order { id: Int }\nmap same(o: Order) -> Order {\n  id: o.id + 1\n}\n")
        .unwrap_or_else(|error| panic!("{error}"));
    let out = dir.join("good.rs");
    let status = integ()
        .args(["build", &good.to_string_lossy(), "-o", &out.to_string_lossy()])
        .status()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(status.success());
    let code = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(code.contains("pub struct Order"), "{code}");
    assert!(code.contains("pub fn same(o: &Order) -> Result<Order, ::integ_runtime::EvalError>"), "{code}");

    let bad = dir.join("bad.integ");
    std::fs::write(&bad, "type Order { id: Int }\nmap same(o: Order) -> Order {\n  id: o.missing\n}\n")
        .unwrap_or_else(|error| panic!("{error}"));
    let (ok, stdout, stderr) = build(&bad.to_string_lossy());
    assert!(!ok && stdout.is_empty());
    assert!(stderr.contains("bad.integ:3:"), "{stderr}");
    assert!(stderr.contains("error[E0"), "{stderr}");
    assert!(stderr.contains("no Rust was generated"), "{stderr}");

    let (ok, _, stderr) = build(&dir.join("absent.integ").to_string_lossy());
    assert!(!ok && stderr.contains("cannot read"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A crate whose `build.rs` generates from a `.integ` file with an error:
/// `cargo build` fails, and its output shows the diagnostic with the file,
/// line, column and code. (The crate is built in its own target directory:
/// the one of the running tests is locked by cargo.)
#[test]
fn a_build_script_fails_with_the_diagnostic_in_cargos_output() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = here.join("target/build-failure-test");
    let krate = dir.join("crate");
    std::fs::create_dir_all(krate.join("src")).unwrap_or_else(|error| panic!("{error}"));
    let path = |name: &str| here.join(name).to_string_lossy().replace('\\', "/");
    let manifest = format!(
        "[package]\nname = \"integ-build-failure\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n[build-dependencies]\ninteg-compiler = {{ path = \"{}\" }}\n",
        path("compiler")
    );
    let files = [
        ("Cargo.toml", manifest),
        (
            "build.rs",
            "fn main() -> Result<(), integ_compiler::rust::BuildError> {\n    \
             integ_compiler::rust::Builder::new().file(\"api.integ\").compile()?;\n    Ok(())\n}\n"
                .to_owned(),
        ),
        ("src/lib.rs", "include!(concat!(env!(\"OUT_DIR\"), \"/api.rs\"));\n".to_owned()),
        ("api.integ", "type Order { id: Int }\n\nmap copy(o: Order) -> Order {\n  id: o.idd\n}\n".to_owned()),
    ];
    for (name, text) in files {
        std::fs::write(krate.join(name), text).unwrap_or_else(|error| panic!("{name}: {error}"));
    }
    // The workspace's lock file: the same versions, nothing to resolve.
    std::fs::copy(here.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap_or_else(|error| panic!("{error}"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["build", "--offline", "--manifest-path"])
        .arg(krate.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap_or_else(|error| panic!("cargo: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the build should fail:\n{stderr}");
    assert!(stderr.contains("api.integ:4:9"), "no file, line and column in:\n{stderr}");
    assert!(stderr.contains("error[E0"), "no code in:\n{stderr}");
    assert!(stderr.contains("idd"), "the diagnostic does not name the field:\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Diagnostics {"), "{stderr}");
}
