//! `integ build FILE [-o OUT]`: typed Rust from a file (the Rust back end).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use integ_compiler::program::normalize;
use integ_compiler::rust::{BuildError, Options, builder::generate_file};

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
}

pub fn run(args: &BuildArgs) -> ExitCode {
    let path = normalize(&args.file.to_string_lossy());
    let options = Options { extra_derives: args.derives.clone() };
    let (code, warnings, _) = match generate_file(&path, &options) {
        Ok(generated) => generated,
        Err(error @ BuildError::Read { .. }) => {
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
