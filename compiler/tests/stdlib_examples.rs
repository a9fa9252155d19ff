//! Every `/// example:` line of the standard library is a Bool expression
//! that the interpreter must evaluate to `true`: the examples that document
//! the natives double as their tests.

#![cfg(feature = "interpreter")]

use integ_compiler::diagnostic::render;
use integ_compiler::interp::{self, Options};
use integ_compiler::program::MemoryLoader;
use integ_compiler::stdlib::MODULES;
use integ_runtime::Value;
use integ_runtime::natives::FixedClock;
use integ_runtime::value::DateTime;

/// The clock the examples see: 2024-03-01T12:00:00Z.
fn clock() -> FixedClock {
    FixedClock(DateTime { seconds: 1_709_294_400, nanos: 0, offset_seconds: 0 })
}

#[test]
fn every_example_of_the_standard_library_holds() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (module, text) in MODULES {
        for (number, line) in text.lines().enumerate() {
            let Some(example) = line.trim().strip_prefix("/// example:") else { continue };
            count += 1;
            let imports: Vec<&str> = if *module == "std/prelude" { Vec::new() } else { vec![*module] };
            let options = Options { clock: std::sync::Arc::new(clock()), ..Options::default() };
            let evaluation = match interp::evaluate(None, &imports, example.trim(), &mut MemoryLoader::new(), options) {
                Ok(evaluation) => evaluation,
                Err(error) => {
                    failures.push(format!("{module}:{}: {example}\n  cannot start: {error}", number + 1));
                    continue;
                }
            };
            match evaluation.value {
                Some(Ok(Value::Json(json))) if *json == serde_json::Value::Bool(true) => {}
                Some(Ok(other)) => failures.push(format!("{module}:{}: {example}\n  gives {other:?}", number + 1)),
                Some(Err(error)) => failures.push(format!("{module}:{}: {example}\n  fails: {error}", number + 1)),
                None => failures.push(format!(
                    "{module}:{}: {example}\n  does not check:\n{}",
                    number + 1,
                    render::render(evaluation.analysis.sources(), evaluation.analysis.diagnostics(), false)
                )),
            }
        }
    }
    assert!(count > 100, "only {count} examples found");
    assert!(failures.is_empty(), "{} of {count} examples fail:\n{}", failures.len(), failures.join("\n"));
}
