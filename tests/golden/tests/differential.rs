//! The differential test of the two back ends' maps: every map of one input
//! in each golden program runs through the interpreter and through the
//! generated Rust on the same JSON inputs (`inputs/<program>/<map>.jsonl`,
//! edge cases included: missing optionals, empty lists, unicode, large
//! numbers, decimals), and the outputs must be the same bytes, or both
//! back ends must refuse the input. Any difference is a bug in one of them;
//! its input stays in the corpus as a regression case.
//!
//! `inputs/<program>/<map>.known-differences.jsonl`, when there is one,
//! lists inputs on which the back ends are known to disagree, and the test
//! checks that they still do (so that a fix moves them to the corpus). There
//! is none today: the last ones (a member the program never reads, of the
//! wrong type, given twice or missing) went when the decoder began to check
//! such members.

use std::path::Path;

use integ_compiler::interp::{Interpreter, Options};
use integ_compiler::ir::{self, Callee};
use integ_compiler::program::FsLoader;
use integ_runtime::{decode, encode};

type Generated = fn(&str, &[u8]) -> Option<Result<Vec<u8>, integ_runtime::EvalError>>;

/// The golden programs: name, root file, the generated `map_json`.
fn programs() -> Vec<(&'static str, &'static str, Generated)> {
    vec![
        ("basics", "programs/basics.integ", integ_golden::basics::map_json),
        ("natives", "programs/natives.integ", integ_golden::natives::map_json),
        ("edges", "programs/edges.integ", integ_golden::edges::map_json),
        ("shop_to_crm", "../../examples/shop_to_crm/sync.integ", integ_golden::shop_to_crm::map_json),
        ("github_to_chat", "../../examples/github_to_chat/notify.integ", integ_golden::github_to_chat::map_json),
        ("stripe_to_ledger", "../../examples/stripe_to_ledger/export.integ", integ_golden::stripe_to_ledger::map_json),
        ("map_orders", "../../benchmarks/map/orders.integ", integ_golden::map_orders::map_json),
    ]
}

/// Maps whose output depends on the clock or on randomness: not compared.
const NONDETERMINISTIC: &[&str] = &["natives.dates"];

struct Interpreted {
    interpreter: Interpreter,
    maps: Vec<(String, integ_runtime::TypeDesc, integ_runtime::TypeDesc)>,
}

fn interpreted(root: &str) -> Interpreted {
    let analysis = integ_compiler::analyze(root, &mut FsLoader).unwrap_or_else(|error| panic!("{root}: {error}"));
    let lowered = ir::lower::lower(&analysis.program, &analysis.checked);
    let maps: Vec<ir::Function> = lowered
        .functions
        .iter()
        .filter(|function| function.is_map && function.params.len() == 1)
        .filter(|function| matches!(lowered.by_name.get(&function.name), Some(Callee::User(_))))
        .cloned()
        .collect();
    let interpreter = Interpreter::new(lowered, Options::default()).unwrap_or_else(|error| panic!("{root}: {error}"));
    let maps = maps
        .into_iter()
        .map(|map| (map.name.clone(), interpreter.desc(&map.params[0].1), interpreter.desc(&map.result)))
        .collect();
    Interpreted { interpreter, maps }
}

#[test]
fn interpreter_and_generated_maps_agree_byte_for_byte() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut compared = 0;
    let mut mapped = 0;
    let mut unmapped = Vec::new();
    let mut differences = Vec::new();
    for (program, root, generated) in programs() {
        let root = here.join(root);
        let Interpreted { interpreter, maps } = interpreted(&root.to_string_lossy());
        assert!(!maps.is_empty(), "{program} has no map of one input");
        for (map, input, output) in &maps {
            let mapped_before = mapped;
            if NONDETERMINISTIC.contains(&format!("{program}.{map}").as_str()) {
                continue;
            }
            let corpus = here.join("inputs").join(program).join(format!("{map}.jsonl"));
            let text = std::fs::read_to_string(&corpus)
                .unwrap_or_else(|error| panic!("{}: {error} (every map needs a corpus)", corpus.display()));
            let known = here.join("inputs").join(program).join(format!("{map}.known-differences.jsonl"));
            let known = std::fs::read_to_string(&known).unwrap_or_default();
            let cases = text.lines().map(|line| (line, false)).chain(known.lines().map(|line| (line, true)));
            for (number, (line, known)) in cases.enumerate().filter(|(_, (line, _))| !line.trim().is_empty()) {
                let expected = decode::json(line.as_bytes(), input, &interpreter.schema, "input")
                    .map_err(integ_runtime::EvalError::from)
                    .and_then(|record| interpreter.call(map, vec![record]))
                    .and_then(|mapped| {
                        let mut buffer = Vec::new();
                        encode::json(&mapped, output, &interpreter.schema, &mut buffer).map(|()| buffer)
                    });
                let actual =
                    generated(map, line.as_bytes()).unwrap_or_else(|| panic!("{program}: no generated map `{map}`"));
                compared += 1;
                let agree = match (&expected, &actual) {
                    (Ok(a), Ok(b)) => {
                        mapped += 1;
                        a == b
                    }
                    (Err(_), Err(_)) => true,
                    _ => false,
                };
                if known {
                    assert!(!agree, "{program}.{map}: a known difference is gone, move it to the corpus: {line}");
                    continue;
                }
                if !agree {
                    let show = |result: &Result<Vec<u8>, integ_runtime::EvalError>| match result {
                        Ok(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                        Err(error) => format!("error: {error}"),
                    };
                    differences.push(format!(
                        "{program}.{map}, {}:{}\n  input:       {line}\n  interpreter: {}\n  generated:   {}",
                        corpus.display(),
                        number + 1,
                        show(&expected),
                        show(&actual)
                    ));
                }
            }
            if mapped == mapped_before {
                unmapped.push(format!("{program}.{map}"));
            }
        }
    }
    assert!(differences.is_empty(), "{} of {compared} cases differ:\n{}", differences.len(), differences.join("\n"));
    // Many cases must map (a corpus of refused inputs would prove little);
    // the variants that leave out or null a required member are refused.
    eprintln!("{compared} cases compared, {mapped} mapped by both back ends");
    assert!(mapped * 3 >= compared, "only {mapped} of {compared} cases mapped");
    assert!(unmapped.is_empty(), "maps that mapped no case: {unmapped:?}");
}
