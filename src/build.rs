//! `integ build FILE [-o OUT]`: typed Rust from a file (the Rust back end).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use integ_compiler::program::normalize;
use integ_compiler::rust::{BuildError, GenError, Options, builder::generate_file};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The root `.integ` file; its imports are followed.
    pub file: PathBuf,
    /// Where to write the Rust (standard output when absent).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// A derive added to every generated struct and enum (repeatable).
    #[arg(long = "derive", value_name = "PATH")]
    pub derives: Vec<String>,
    /// Generate the runner of this flow only (repeatable); every flow's by default.
    #[arg(long = "flow", value_name = "NAME", conflicts_with = "no_flows")]
    pub flows: Vec<String>,
    /// Generate no flow runners.
    #[arg(long)]
    pub no_flows: bool,
}

pub fn run(args: &BuildArgs) -> ExitCode {
    let path = normalize(&args.file.to_string_lossy());
    let flows = match (args.no_flows, args.flows.is_empty()) {
        (true, _) => Some(Vec::new()),
        (false, true) => None,
        (false, false) => Some(args.flows.clone()),
    };
    let options = Options { extra_derives: args.derives.clone(), flows };
    let (code, warnings, _) = match generate_file(&path, &options) {
        Ok(generated) => generated,
        Err(error @ (BuildError::Read { .. } | BuildError::Generate { error: GenError::UnknownFlow { .. }, .. })) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(1);
        }
    };
    if !warnings.trim().is_empty() {
        eprint!("{warnings}");
    }
    match &args.output {
        Some(output) => {
            if let Err(error) = std::fs::write(output, code) {
                eprintln!("error: cannot write `{}`: {}", output.display(), crate::files::describe(&error));
                return ExitCode::from(2);
            }
        }
        None => print!("{code}"),
    }
    ExitCode::SUCCESS
}
