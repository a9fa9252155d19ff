//! `integ eval`, `integ map` and `integ call`: running parts of a program.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use integ_compiler::check::suggest;
use integ_compiler::diagnostic::render;
use integ_compiler::interp::{self, Interpreter, Options};
use integ_compiler::ir;
use integ_runtime::{decode, encode};

use crate::files::FsLoader;

#[derive(Args)]
pub struct EvalArgs {
    /// The file whose declarations the expression may use.
    pub file: PathBuf,
    /// A pure expression, such as `to_contact(fixture).email` or `trim("  a ")`.
    pub expression: String,
}

#[derive(Args)]
pub struct CallArgs {
    /// The file that declares the api.
    pub file: PathBuf,
    /// The endpoint, as `Api.endpoint`.
    pub endpoint: String,
    /// Arguments as `name=value`: JSON of the parameter's type, or plain text
    /// for strings, dates and times (`since=2024-05-01T00:00:00Z`).
    pub args: Vec<String>,
}

#[derive(Args)]
pub struct MapArgs {
    /// The file that declares the map.
    pub file: PathBuf,
    /// The map (or function of one record) to apply to each JSON line of stdin.
    pub map: String,
}

/// Loads and checks `file`, printing diagnostics; `None` when it has errors.
pub fn checked_program(file: &str) -> Result<integ_compiler::Analysis, ExitCode> {
    let analysis = match integ_compiler::analyze(file, &mut FsLoader) {
        Ok(analysis) => analysis,
        Err(error) => {
            eprintln!("error: cannot read `{file}`: {error}");
            return Err(ExitCode::from(2));
        }
    };
    let errors: Vec<_> = analysis.diagnostics().iter().filter(|diagnostic| diagnostic.is_error()).cloned().collect();
    if !errors.is_empty() {
        eprint!("{}", render::render(analysis.sources(), &errors, std::io::stderr().is_terminal()));
        eprintln!(
            "error: `{file}` has {} error{}; fix them first (`integ check {file}`)",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        return Err(ExitCode::from(1));
    }
    Ok(analysis)
}

pub fn eval(args: &EvalArgs) -> ExitCode {
    let file = integ_compiler::program::normalize(&args.file.to_string_lossy());
    if let Err(code) = checked_program(&file) {
        return code;
    }
    let evaluation = match interp::evaluate(Some(&file), &[], &args.expression, &mut FsLoader, Options::default()) {
        Ok(evaluation) => evaluation,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    match evaluation.value {
        None => {
            eprint!(
                "{}",
                render::render(
                    evaluation.analysis.sources(),
                    evaluation.analysis.diagnostics(),
                    std::io::stderr().is_terminal()
                )
            );
            ExitCode::from(1)
        }
        Some(Ok(integ_runtime::Value::Json(json))) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Some(Ok(other)) => {
            println!("{other:?}");
            ExitCode::SUCCESS
        }
        Some(Err(error)) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

pub fn map(args: &MapArgs) -> ExitCode {
    let file = integ_compiler::program::normalize(&args.file.to_string_lossy());
    let analysis = match checked_program(&file) {
        Ok(analysis) => analysis,
        Err(code) => return code,
    };
    let lowered = ir::lower::lower(&analysis.program, &analysis.checked);
    let Some(ir::Callee::User(index)) = lowered.by_name.get(&args.map).cloned() else {
        let names: Vec<&str> = lowered
            .functions
            .iter()
            .filter(|function| function.is_map)
            .map(|function| function.name.as_str())
            .collect();
        eprintln!("error: `{file}` has no map `{}`", args.map);
        match suggest::best(&args.map, names.iter().copied()) {
            Some(best) => eprintln!("help: did you mean `{best}`?"),
            None if !names.is_empty() => eprintln!("help: its maps are {}", names.join(", ")),
            None => {}
        }
        return ExitCode::from(2);
    };
    let function = lowered.functions[index as usize].clone();
    let required = function.params.iter().enumerate().filter(|(position, (_, ty))| {
        !ty.is_optional() && function.defaults.get(*position).is_none_or(Option::is_none)
    });
    if required.count() != 1 || function.params.is_empty() {
        eprintln!("error: `{}` does not take exactly one record, so it cannot map JSON lines", args.map);
        return ExitCode::from(2);
    }
    let interpreter = match Interpreter::new(lowered, Options::default()) {
        Ok(interpreter) => interpreter,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let input = interpreter.desc(&function.params[0].1);
    let output = interpreter.desc(&function.result);
    let schema = interpreter.schema.clone();
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut buffer = Vec::with_capacity(1024);
    let mut failures = 0u64;
    for (number, line) in stdin.split(b'\n').enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                eprintln!("error: reading standard input: {error}");
                return ExitCode::from(2);
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let result = decode::json(&line, &input, &schema, "input")
            .map_err(integ_runtime::EvalError::from)
            .and_then(|record| interpreter.call(&args.map, vec![record]))
            .and_then(|mapped| {
                buffer.clear();
                encode::json(&mapped, &output, &schema, &mut buffer)
            });
        match result {
            Ok(()) => {
                buffer.push(b'\n');
                if stdout.write_all(&buffer).is_err() {
                    // The reader went away (a closed pipe): stop quietly.
                    return ExitCode::SUCCESS;
                }
            }
            Err(error) => {
                failures += 1;
                eprintln!("line {}: {error}", number + 1);
            }
        }
    }
    let _ = stdout.flush();
    if failures > 0 {
        eprintln!("error: {failures} record{} could not be mapped", if failures == 1 { "" } else { "s" });
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

pub fn call(args: &CallArgs) -> ExitCode {
    let file = integ_compiler::program::normalize(&args.file.to_string_lossy());
    let analysis = match checked_program(&file) {
        Ok(analysis) => analysis,
        Err(code) => return code,
    };
    let lowered = ir::lower::lower(&analysis.program, &analysis.checked);
    let Some((api_name, endpoint_name)) = args.endpoint.split_once('.') else {
        eprintln!("error: name the endpoint as `Api.endpoint`, not `{}`", args.endpoint);
        return ExitCode::from(2);
    };
    let Some(api) = lowered.apis.iter().position(|api| api.name == api_name) else {
        eprintln!("error: `{file}` has no api `{api_name}`");
        if let Some(best) = suggest::best(api_name, lowered.apis.iter().map(|api| api.name.as_str())) {
            eprintln!("help: did you mean `{best}`?");
        }
        return ExitCode::from(2);
    };
    let Some(endpoint) = lowered.apis[api].endpoints.iter().position(|endpoint| endpoint.name == endpoint_name) else {
        eprintln!("error: api `{api_name}` has no endpoint `{endpoint_name}`");
        if let Some(best) =
            suggest::best(endpoint_name, lowered.apis[api].endpoints.iter().map(|endpoint| endpoint.name.as_str()))
        {
            eprintln!("help: did you mean `{best}`?");
        }
        return ExitCode::from(2);
    };
    let endpoint_ir = lowered.apis[api].endpoints[endpoint].clone();
    // The result is printed whole: every field is decoded.
    let interpreter = match Interpreter::new(lowered, Options { read_everything: true, ..Options::default() }) {
        Ok(interpreter) => interpreter,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    // Arguments by name, decoded by the parameter's type.
    let mut values = vec![integ_runtime::Value::None; endpoint_ir.params.len()];
    let mut given = vec![false; endpoint_ir.params.len()];
    for arg in &args.args {
        let Some((name, text)) = arg.split_once('=') else {
            eprintln!("error: write arguments as `name=value`, not `{arg}`");
            return ExitCode::from(2);
        };
        let Some(position) = endpoint_ir.params.iter().position(|(param, _)| param == name) else {
            eprintln!("error: `{}` has no parameter `{name}`", args.endpoint);
            let names: Vec<&str> = endpoint_ir.params.iter().map(|(param, _)| param.as_str()).collect();
            match suggest::best(name, names.iter().copied()) {
                Some(best) => eprintln!("help: did you mean `{best}`?"),
                None => eprintln!("help: its parameters are {}", names.join(", ")),
            }
            return ExitCode::from(2);
        };
        let desc = interpreter.desc(&endpoint_ir.params[position].1);
        let decoded = decode::json(text.as_bytes(), &desc, &interpreter.schema, name).or_else(|first| {
            let quoted = serde_json::to_vec(text).unwrap_or_default();
            decode::json(&quoted, &desc, &interpreter.schema, name).map_err(|_| first)
        });
        match decoded {
            Ok(value) => {
                values[position] = value;
                given[position] = true;
            }
            Err(error) => {
                eprintln!("error: argument {error}");
                return ExitCode::from(2);
            }
        }
    }
    let missing: Vec<&str> = endpoint_ir
        .params
        .iter()
        .enumerate()
        .filter(|(position, (_, ty))| {
            !given[*position] && !ty.is_optional() && endpoint_ir.defaults.get(*position).is_none_or(Option::is_none)
        })
        .map(|(_, (name, _))| name.as_str())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "error: `{}` needs {}",
            args.endpoint,
            missing.iter().map(|name| format!("`{name}=...`")).collect::<Vec<_>>().join(", ")
        );
        return ExitCode::from(2);
    }
    // Omitted parameters with defaults: trim trailing ones so the defaults apply.
    while values.len() > 1
        && !given[values.len() - 1]
        && endpoint_ir.defaults.get(values.len() - 1).is_some_and(Option::is_some)
    {
        values.pop();
    }
    let missing_secrets = interpreter.missing_secrets();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let apis = match interpreter.connect() {
        Ok(apis) => apis,
        Err(error) => {
            eprintln!("error: {error}");
            for (secret, variable) in missing_secrets {
                eprintln!("note: secret `{secret}` reads the environment variable `{variable}`, which is not set");
            }
            return ExitCode::from(2);
        }
    };
    let result_desc = match &endpoint_ir.result {
        ir::api::Result::Stream { item, .. } => interpreter.desc(item),
        ir::api::Result::Single { ty, .. } => interpreter.desc(ty),
        ir::api::Result::Unit => integ_runtime::TypeDesc::Json,
    };
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let outcome = runtime.block_on(async {
        match interpreter.call_endpoint(&apis, api as u32, endpoint as u32, values).await? {
            interp::calls::Outcome::Done => Ok(0u64),
            interp::calls::Outcome::Value(value) => {
                print_json(&mut stdout, &value, &result_desc, &interpreter);
                Ok(1)
            }
            interp::calls::Outcome::Stream(mut stream) => {
                let mut count = 0;
                while let Some(page) = stream.next_page(&interpreter).await {
                    for record in page? {
                        print_json(&mut stdout, &record, &result_desc, &interpreter);
                        count += 1;
                    }
                }
                Ok::<u64, interp::calls::CallFailure>(count)
            }
        }
    });
    let _ = stdout.flush();
    match outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", integ_runtime::secret::redact(&error.to_string()));
            ExitCode::from(1)
        }
    }
}

fn print_json(
    out: &mut impl Write,
    value: &integ_runtime::Value,
    desc: &integ_runtime::TypeDesc,
    interpreter: &Interpreter,
) {
    let mut buffer = Vec::new();
    match encode::json(value, desc, &interpreter.schema, &mut buffer) {
        Ok(()) => {
            buffer.push(b'\n');
            let _ = out.write_all(&buffer);
        }
        Err(error) => eprintln!("error: cannot print a result: {error}"),
    }
}
