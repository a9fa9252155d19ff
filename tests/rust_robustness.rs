//! The Rust back end never panics and never produces code that does not
//! parse, whatever checked program it is given.
//!
//! Inputs: every `.integ` program of the repository that checks without
//! errors (the diagnostic fixtures, spec.md's ```integ blocks, the examples,
//! the golden, flow and call programs), and small random programs built to
//! check clean (records with fields of every scalar type and their optional,
//! list and map wrappers, maps with interpolation, arithmetic, `??`, `?.`,
//! `if`, `match` and list natives with lambdas). For each, `rust::generate`
//! returns `Ok` or `GenError::Unsupported`; `GenError::Syntax` means the
//! generator wrote tokens that are not Rust.
//!
//! Set `INTEG_SHOW_UNSUPPORTED=1` to print what the back end refused, and
//! `INTEG_GENERATED_DIR=DIR` to write every generated module to `DIR` (one
//! `.rs` file per program, to compile and lint in a scratch crate).

use std::path::{Path, PathBuf};

use integ_compiler::diagnostic::{Tally, render};
use integ_compiler::program::FsLoader;
use integ_compiler::rust::{GenError, Options};
use integ_compiler::{Analysis, analyze, check_source};
use proptest::prelude::*;

mod support;

use support::spec_blocks;

/// What generating one program gave, when it is not a bug.
enum Outcome {
    Generated(String),
    /// The program had errors: not an input of the back end.
    NotClean,
    Unsupported(String),
}

/// Generates `analysis` on a thread of its own so that a panic names the
/// program; fails on a panic or a `GenError::Syntax`.
fn generate(name: &str, analysis: Analysis) -> Outcome {
    if Tally::of(analysis.diagnostics()).errors > 0 {
        return Outcome::NotClean;
    }
    let label = name.to_owned();
    let worker = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || integ_compiler::rust::generate(&analysis, &Options::default()))
        .expect("a thread can be spawned");
    match worker.join() {
        Err(_) => panic!("{label}: the Rust back end panicked"),
        Ok(Ok(code)) => Outcome::Generated(code),
        Ok(Err(GenError::Unsupported { item, message })) => Outcome::Unsupported(format!("`{item}`: {message}")),
        Ok(Err(error @ GenError::Syntax(_))) => panic!("{label}: {error}"),
        Ok(Err(error)) => panic!("{label}: unexpected {error:?}"),
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.integ` file under `dir`, sorted.
fn integ_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            integ_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "integ") {
            out.push(path);
        }
    }
}

#[derive(Default)]
struct Summary {
    generated: usize,
    out_dir: Option<PathBuf>,
    not_clean: usize,
    unsupported: Vec<(String, String)>,
}

impl Summary {
    fn add(&mut self, name: String, outcome: Outcome) {
        match outcome {
            Outcome::Generated(code) => {
                self.generated += 1;
                if let Some(dir) = &self.out_dir {
                    let module: String = name
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
                        .collect();
                    let path = dir.join(format!("{module}.rs"));
                    std::fs::write(&path, code).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                }
            }
            Outcome::NotClean => self.not_clean += 1,
            Outcome::Unsupported(message) => self.unsupported.push((name, message)),
        }
    }
}

#[test]
fn every_clean_program_of_the_repository_generates_or_is_refused_by_name() {
    let mut files = Vec::new();
    for dir in ["tests/fixtures", "examples", "tests/golden/programs", "tests/flows", "tests/calls", "benchmarks"] {
        integ_files(&root().join(dir), &mut files);
    }
    let mut summary =
        Summary { out_dir: std::env::var_os("INTEG_GENERATED_DIR").map(PathBuf::from), ..Summary::default() };
    for file in &files {
        let path = file.to_string_lossy().into_owned();
        let shown = file.strip_prefix(root()).unwrap_or(file).display().to_string();
        let Ok(analysis) = analyze(&path, &mut FsLoader) else {
            summary.not_clean += 1;
            continue;
        };
        summary.add(shown.clone(), generate(&shown, analysis));
    }
    let spec = std::fs::read_to_string(root().join("spec.md")).expect("spec.md is readable");
    for (line, block) in spec_blocks(&spec) {
        let shown = format!("spec.md:{line}");
        summary.add(shown.clone(), generate(&shown, check_source("spec.integ", &block)));
    }
    if std::env::var_os("INTEG_SHOW_UNSUPPORTED").is_some() {
        for (name, message) in &summary.unsupported {
            eprintln!("{name}: {message}");
        }
    }
    eprintln!(
        "{} programs generated, {} refused as unsupported, {} not clean",
        summary.generated,
        summary.unsupported.len(),
        summary.not_clean
    );
    // The corpus must mostly generate: a back end that refused everything
    // would pass the assertions above.
    assert!(summary.generated >= 50, "only {} programs generated", summary.generated);
}

/// Small random programs that check clean: one record with a field of every
/// scalar type, its optional, list and map wrappers, an enum and a nested
/// record; one map whose output fields are random expressions over it,
/// built by type (so that they check) from a seed.
mod random {
    /// A deterministic source of choices (xorshift), seeded by proptest.
    pub struct Choices(u64);

    impl Choices {
        pub fn new(seed: u64) -> Choices {
            Choices(seed | 1)
        }

        fn below(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % bound as u64) as usize
        }

        fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
            options[self.below(options.len())]
        }
    }

    pub const INPUT: &str = "enum Kind { alpha, beta, gamma }
type Inner { n: Int, label: String? }
type In {
  i: Int
  oi: Int?
  d: Decimal
  od: Decimal?
  f: Float
  of: Float?
  s: String
  os: String?
  b: Bool
  ob: Bool?
  t: DateTime
  ot: DateTime?
  day: Date
  wait: Duration
  j: Json
  oj: Json?
  k: Kind
  ok: Kind?
  li: [Int]
  ls: [String]
  los: [String?]
  mi: {String: Int}
  inner: Inner
  maybe: Inner?
}
";

    /// The output types and how to make a value of each.
    const OUTPUTS: &[&str] =
        &["Int", "Decimal", "Float", "String", "Bool", "Json", "[Int]", "[String]", "{String: Int}", "Int?", "String?"];

    /// An expression of type `ty` (one of [`OUTPUTS`]), nested at most `depth` deep.
    fn expr(choices: &mut Choices, ty: &str, depth: u32) -> String {
        let leaf = depth == 0 || choices.below(3) == 0;
        let sub = |choices: &mut Choices, ty: &str| expr(choices, ty, depth.saturating_sub(1));
        match ty {
            "Int" if leaf => {
                let options =
                    ["x.i", "7", "(x.oi ?? 0)", "x.inner.n", "(x.maybe?.n ?? 1)", "len(x.li)", "char_count(x.s)"];
                choices.pick(&options).to_owned()
            }
            "Int" => match choices.below(7) {
                0 => format!("({} + {})", sub(choices, "Int"), sub(choices, "Int")),
                1 => format!("({} * {} - {})", sub(choices, "Int"), sub(choices, "Int"), sub(choices, "Int")),
                2 => format!(
                    "if {} {{ {} }} else {{ {} }}",
                    sub(choices, "Bool"),
                    sub(choices, "Int"),
                    sub(choices, "Int")
                ),
                3 => format!(
                    "match x.i {{ 1 => {}, 2 | 3 => {}, _ => {} }}",
                    sub(choices, "Int"),
                    sub(choices, "Int"),
                    sub(choices, "Int")
                ),
                4 => format!("match x.k {{ alpha => {}, _ => {} }}", sub(choices, "Int"), sub(choices, "Int")),
                5 => format!(
                    "match x.oi {{ 1 => {}, none => {}, _ => {} }}",
                    sub(choices, "Int"),
                    sub(choices, "Int"),
                    sub(choices, "Int")
                ),
                _ => format!("(x.mi[{}] ?? {})", sub(choices, "String"), sub(choices, "Int")),
            },
            "Decimal" if leaf => choices.pick(&["x.d", "(x.od ?? 0)", "1.25", "sum([x.d, 2.5])"]).to_owned(),
            "Decimal" => match choices.below(3) {
                0 => format!("({} + {})", sub(choices, "Decimal"), sub(choices, "Int")),
                1 => format!("({} * {})", sub(choices, "Decimal"), sub(choices, "Decimal")),
                _ => format!(
                    "if {} {{ {} }} else {{ {} }}",
                    sub(choices, "Bool"),
                    sub(choices, "Decimal"),
                    sub(choices, "Int")
                ),
            },
            "Float" if leaf => choices.pick(&["x.f", "(x.of ?? 0)", "(x.of ?? x.f)"]).to_owned(),
            "Float" => match choices.below(2) {
                0 => format!("({} * {})", sub(choices, "Float"), sub(choices, "Int")),
                _ => format!("({} / {})", sub(choices, "Float"), sub(choices, "Float")),
            },
            "String" if leaf => {
                let options = [
                    "x.s",
                    "(x.os ?? \"none\")",
                    "\"text\"",
                    "\"{x.t}\"",
                    "\"{x.day}\"",
                    "\"{x.wait}\"",
                    "\"{x.k}\"",
                    "join(x.ls, \",\")",
                    "(x.maybe?.label ?? \"-\")",
                    "\"{x.ot ?? x.t}\"",
                ];
                choices.pick(&options).to_owned()
            }
            "String" => match choices.below(6) {
                0 => format!("upper(trim({}))", sub(choices, "String")),
                1 => format!("({} + {})", sub(choices, "String"), sub(choices, "String")),
                2 => format!(
                    "\"<{{{}}}|{{{}}}|{{{}}}|{{{}}}|{{{}}}>\"",
                    sub(choices, "Int"),
                    sub(choices, "Decimal"),
                    sub(choices, "Float"),
                    sub(choices, "Bool"),
                    sub(choices, "String")
                ),
                3 => format!("match x.s {{ \"a\" => {}, _ => {} }}", sub(choices, "String"), sub(choices, "String")),
                4 => format!(
                    "match x.os {{ \"a\" => {}, none => {}, _ => {} }}",
                    sub(choices, "String"),
                    sub(choices, "String"),
                    sub(choices, "String")
                ),
                _ => format!(
                    "if {} {{ {} }} else {{ {} }}",
                    sub(choices, "Bool"),
                    sub(choices, "String"),
                    sub(choices, "String")
                ),
            },
            "Bool" if leaf => {
                let options = [
                    "x.b",
                    "(x.ob ?? false)",
                    "(x.oi == none)",
                    "(x.j.a == none)",
                    "(x.oj?.a == none)",
                    "(x.k == Kind.beta)",
                    "(x.ok == x.k)",
                    "(x.inner == x.maybe)",
                    "(x.j == 1)",
                    "(x.i == x.d)",
                    "(x.t < x.ot ?? x.t)",
                ];
                choices.pick(&options).to_owned()
            }
            "Bool" => match choices.below(8) {
                0 => format!("({} > {})", sub(choices, "Int"), sub(choices, "Int")),
                1 => format!("({} <= {})", sub(choices, "Decimal"), sub(choices, "Int")),
                2 => format!("({} < {})", sub(choices, "Float"), sub(choices, "Int")),
                3 => format!("({} == {})", sub(choices, "String"), sub(choices, "String")),
                4 => format!("!{}", sub(choices, "Bool")),
                5 => format!("({} && {} || {})", sub(choices, "Bool"), sub(choices, "Bool"), sub(choices, "Bool")),
                6 => format!("x.li.any(v => v > {})", sub(choices, "Int")),
                _ => format!(
                    "match x.ob {{ true => {}, false => {}, none => {} }}",
                    sub(choices, "Bool"),
                    sub(choices, "Bool"),
                    sub(choices, "Bool")
                ),
            },
            "Json" if leaf => choices.pick(&["x.j", "x.j.a", "x.oj?.a", "(x.oj ?? x.j)"]).to_owned(),
            "Json" => match choices.below(3) {
                0 => format!("(x.j?.a ?? {})", sub(choices, "Int")),
                1 => format!("(x.oj?.a ?? {})", sub(choices, "String")),
                _ => format!("({} ?? x.j)", sub(choices, "Json")),
            },
            "[Int]" if leaf => choices.pick(&["x.li", "[]", "[1, 2]"]).to_owned(),
            "[Int]" => match choices.below(3) {
                0 => format!("{}.map(v => v * {})", sub(choices, "[Int]"), sub(choices, "Int")),
                1 => format!("{}.filter(v => v > {})", sub(choices, "[Int]"), sub(choices, "Int")),
                _ => format!("({} + [{}])", sub(choices, "[Int]"), sub(choices, "Int")),
            },
            "[String]" if leaf => choices.pick(&["x.ls", "x.los.compact()", "[\"a\"]"]).to_owned(),
            "[String]" => match choices.below(2) {
                0 => format!("{}.map(v => upper(v) + {})", sub(choices, "[String]"), sub(choices, "String")),
                _ => format!("x.li.map(v => \"{{v}}:\" + {})", sub(choices, "String")),
            },
            "{String: Int}" if leaf => choices.pick(&["x.mi"]).to_owned(),
            "{String: Int}" => format!("{{ \"k\": {}, \"other\": {} }}", sub(choices, "Int"), sub(choices, "Int")),
            "Int?" => match choices.below(3) {
                0 => "x.oi".to_owned(),
                1 => "x.maybe?.n".to_owned(),
                _ => format!("if {} {{ {} }} else {{ none }}", sub(choices, "Bool"), sub(choices, "Int")),
            },
            _ => match choices.below(3) {
                0 => "x.os".to_owned(),
                1 => "x.maybe?.label".to_owned(),
                _ => format!("if {} {{ none }} else {{ {} }}", sub(choices, "Bool"), sub(choices, "String")),
            },
        }
    }

    /// A program: [`INPUT`], an output record of `fields` random types and a map.
    pub fn program(seed: u64, fields: usize) -> String {
        let mut choices = Choices::new(seed);
        let types: Vec<&str> = (0..fields).map(|_| choices.pick(OUTPUTS)).collect();
        let mut text = INPUT.to_owned();
        text.push_str("type Out {\n");
        for (position, ty) in types.iter().enumerate() {
            text.push_str(&format!("  o{position}: {ty}\n"));
        }
        text.push_str("}\nmap convert(x: In) -> Out {\n");
        for (position, ty) in types.iter().enumerate() {
            let value = expr(&mut choices, ty, 3);
            text.push_str(&format!("  o{position}: {value}\n"));
        }
        text.push_str("}\n");
        text
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_clean_programs_generate_or_are_refused_by_name(seed in any::<u64>(), fields in 1usize..8) {
        let text = random::program(seed, fields);
        let analysis = check_source("random.integ", &text);
        let errors = Tally::of(analysis.diagnostics()).errors;
        if errors > 0 {
            let rendered = render::render(analysis.sources(), analysis.diagnostics(), false);
            panic!("the random program does not check (a bug in the test's generator):\n{text}\n{rendered}");
        }
        let outcome = generate("random.integ", analysis);
        if let Some(dir) = std::env::var_os("INTEG_GENERATED_DIR")
            && let Outcome::Generated(code) = &outcome
        {
            let path = PathBuf::from(dir).join(format!("random_{seed}.rs"));
            std::fs::write(&path, code).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        }
        if let Outcome::Unsupported(message) = outcome
            && std::env::var_os("INTEG_SHOW_UNSUPPORTED").is_some()
        {
            eprintln!("random program {seed}: {message}");
        }
    }
}
