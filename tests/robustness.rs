//! No input makes the front end panic, hang or overflow its stack, and every
//! input that is certainly broken gets at least one error.
//!
//! Inputs: random bytes, and mutations of the examples (deleted, duplicated
//! and swapped lines and tokens, truncations), plus inputs built to hurt:
//! deep nesting, long operator chains, huge literals, invalid UTF-8. Bounded
//! so that it runs in CI; `fuzz/` runs the same front end for longer.

use std::sync::mpsc;
use std::time::Duration;

use integ_compiler::diagnostic::{Tally, render};
use integ_compiler::program::{LoadError, Loader};
use proptest::prelude::*;

const EXAMPLES: &[&str] = &[
    include_str!("../examples/shop_to_crm/sync.integ"),
    include_str!("../examples/github_to_chat/notify.integ"),
    include_str!("../examples/stripe_to_ledger/export.integ"),
    include_str!("../examples/shared/common.integ"),
];

/// Checks `text` on a thread with a 2 MiB stack (what test and worker
/// threads get), fails the test if it panics or takes unreasonably long.
fn check(text: String) -> Tally {
    let (sender, receiver) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let analysis = integ_compiler::check_source("input.integ", &text);
            // Rendering reads every span: it must cope with all of them. (Each
            // diagnostic prints its whole source line, so thousands of them on
            // one enormous line make the output quadratic: render a sample.)
            let sample = &analysis.diagnostics()[..analysis.diagnostics().len().min(100)];
            let _ = render::render(analysis.sources(), sample, false);
            let _ = sender.send(Tally::of(analysis.diagnostics()));
        })
        .expect("a thread can be spawned");
    let tally = receiver.recv_timeout(Duration::from_secs(60)).expect("the front end finishes (no panic, no hang)");
    worker.join().expect("the front end does not panic");
    tally
}

fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    DeleteBytes(usize, usize),
    DuplicateBytes(usize, usize),
    SwapBytes(usize, usize, usize),
    Truncate(usize),
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let all = lines(text);
    let bytes = text.as_bytes();
    let at = |index: usize| index % bytes.len().max(1);
    let lossy = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    match *mutation {
        Mutation::DeleteLine(index) => {
            let index = index % all.len();
            all.iter().enumerate().filter(|(i, _)| *i != index).map(|(_, line)| *line).collect()
        }
        Mutation::DuplicateLine(index) => {
            let index = index % all.len();
            let mut copy: Vec<&str> = all.clone();
            copy.insert(index, all[index]);
            copy.concat()
        }
        Mutation::SwapLines(a, b) => {
            let mut copy = all.clone();
            let (a, b) = (a % all.len(), b % all.len());
            copy.swap(a, b);
            copy.concat()
        }
        Mutation::DeleteBytes(start, length) => {
            let start = at(start);
            let end = (start + length % 12 + 1).min(bytes.len());
            lossy(&[&bytes[..start], &bytes[end..]].concat())
        }
        Mutation::DuplicateBytes(start, length) => {
            let start = at(start);
            let end = (start + length % 12 + 1).min(bytes.len());
            lossy(&[&bytes[..end], &bytes[start..end], &bytes[end..]].concat())
        }
        Mutation::SwapBytes(a, b, length) => {
            let length = length % 8 + 1;
            let (mut a, mut b) = (at(a), at(b));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            if a + length > b || b + length > bytes.len() {
                return text.to_owned();
            }
            lossy(
                &[
                    &bytes[..a],
                    &bytes[b..b + length],
                    &bytes[a + length..b],
                    &bytes[a..a + length],
                    &bytes[b + length..],
                ]
                .concat(),
            )
        }
        Mutation::Truncate(at_byte) => lossy(&bytes[..at(at_byte)]),
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::DeleteBytes(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::DuplicateBytes(a, b)),
        (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(a, b, c)| Mutation::SwapBytes(a, b, c)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_crash(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn random_source_like_text_never_crashes(text in "[a-z{}()\\[\\]:,.?=!<>+*/%&|@\"\\\\ \n0-9_-]{0,400}") {
        check(text);
    }

    #[test]
    fn mutated_examples_never_crash(example in 0..EXAMPLES.len(), mutations in proptest::collection::vec(mutation(), 1..4)) {
        let mut text = EXAMPLES[example].to_owned();
        for mutation in &mutations {
            text = apply(&text, mutation);
        }
        check(text);
    }

    #[test]
    fn truncation_inside_a_body_is_an_error(example in 0..EXAMPLES.len(), offset in any::<usize>()) {
        // Cut somewhere after the first `{` of a declaration and before its `}`.
        let text = EXAMPLES[example];
        let opens: Vec<usize> = text.match_indices("{\n").map(|(index, _)| index + 2).collect();
        let start = opens[offset % opens.len()];
        let close = text[start..].find("\n}").map(|index| start + index).unwrap_or(text.len());
        let cut = start + offset % (close - start).max(1);
        let tally = check(text[..cut].to_owned());
        prop_assert!(tally.errors > 0, "no error for a truncation at byte {}", cut);
    }

    #[test]
    fn huge_integer_literals_are_errors(digits in "[1-9][0-9]{19,60}") {
        let tally = check(format!("fn f() -> Int = {digits}\n"));
        prop_assert!(tally.errors > 0);
    }
}

#[test]
fn the_examples_are_clean() {
    for example in EXAMPLES {
        // Relative imports are not loaded here; only check that nothing panics.
        check((*example).to_owned());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [63, 65, 200, 10_000, 200_000] {
        let expression = format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
        let tally = check(format!("fn f() -> Int = {expression}\n"));
        assert_eq!(tally.errors > 0, depth > 64, "depth {depth}");
    }
    for depth in [100, 10_000] {
        let list = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert!(check(format!("fn f() -> Json = {list}\n")).errors > 0);
        let interpolation = format!("{}x{}", "\"{".repeat(depth), "}\"".repeat(depth));
        assert!(check(format!("fn f() -> String = {interpolation}\n")).errors > 0);
    }
}

#[test]
fn long_chains_are_an_error_not_a_crash() {
    for length in [150, 250, 5_000, 100_000] {
        let sum = vec!["1"; length].join(" + ");
        let tally = check(format!("fn f() -> Int = {sum}\n"));
        assert_eq!(tally.errors > 0, length > 190, "sum of {length}");
        let negations = "-".repeat(length);
        check(format!("fn f() -> Int = {negations}1\n"));
        let nots = "!".repeat(length);
        check(format!("fn f() -> Bool = {nots}true\n"));
        let coalesce = vec!["none"; length].join(" ?? ");
        check(format!("fn f() -> Int? = {coalesce}\n"));
        let fields = format!("x{}", ".f".repeat(length));
        check(format!("fn f(x: Json) -> Json = {fields}\n"));
        let calls = format!("f{}", "()".repeat(length));
        check(format!("fn g() -> Int = {calls}\n"));
        let optionals = format!("Int{}", "?".repeat(length));
        check(format!("type A {{ x: {optionals} }}\n"));
        let lambdas = format!("{}1", "x => ".repeat(length));
        check(format!("fn f(xs: [Int]) -> [Int] = xs.map({lambdas})\n"));
    }
}

#[test]
fn huge_inputs_are_handled() {
    let long_string = format!("fn f() -> String = \"{}\"\n", "a".repeat(2_000_000));
    assert_eq!(check(long_string).errors, 0);
    let many_fields: String = (0..20_000).map(|index| format!("  f{index}: Int\n")).collect();
    assert_eq!(check(format!("type Wide {{\n{many_fields}}}\n")).errors, 0);
    let long_line = "type A { x: Int }".repeat(10_000);
    check(long_line);
    check("\n".repeat(1_000_000));
    check("{".repeat(1_000_000));
    check("}".repeat(1_000_000));
    check("\"".repeat(1_000_000));
}

struct BytesLoader(Vec<u8>);

impl Loader for BytesLoader {
    fn read(&mut self, _path: &str) -> Result<String, LoadError> {
        match String::from_utf8(self.0.clone()) {
            Ok(text) => Ok(text),
            Err(error) => Err(LoadError::NotUtf8 {
                valid_up_to: error.utf8_error().valid_up_to(),
                lossy: String::from_utf8_lossy(error.as_bytes()).into_owned(),
            }),
        }
    }
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let mut bytes = EXAMPLES[0].as_bytes().to_vec();
    bytes.insert(200, 0xFF);
    let analysis =
        integ_compiler::analyze("input.integ", &mut BytesLoader(bytes)).expect("a diagnostic, not a load error");
    let codes: Vec<&str> = analysis.diagnostics().iter().map(|diagnostic| diagnostic.code.as_str()).collect();
    assert_eq!(codes, ["E0108"]);
    let _ = render::render(analysis.sources(), analysis.diagnostics(), false);
}
