//! The `integ` command-line tool.
//!
//! In: arguments and files. Out: diagnostics, explanations and exit codes.
//! This crate is the only place (with the language server) that knows about
//! terminals, files and JSON output; the compiler library takes text and
//! returns values.

mod check;
mod explain;
mod files;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// integ: a declarative language for API integrations.
///
/// Write endpoints, auth, record mappings, error policies and flows in
/// `.integ` files; integ checks them before anything runs.
#[derive(Parser)]
#[command(
    name = "integ",
    version,
    propagate_version = true,
    after_help = "Exit codes: 0 success; 1 errors were found (or warnings, with --deny-warnings); 2 a file could not be read or the arguments are wrong.\n\n`integ explain CODE` explains any diagnostic code, such as E0509."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check .integ files (and everything they import) for errors.
    ///
    /// Exits 0 when there is no error, 1 when there is one (or a warning,
    /// with --deny-warnings), 2 when a file cannot be read or the arguments
    /// are wrong.
    Check(check::CheckArgs),
    /// Explain a diagnostic code, with a wrong and a fixed example.
    Explain {
        /// A code such as E0200 or W0001; `list` prints every code.
        code: String,
    },
}

/// Output format of diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable, like rustc.
    Text,
    /// One JSON object per line, for editors and CI (versioned).
    Json,
}

/// When to colour text output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Colour {
    /// Colour when writing to a terminal.
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Explain { code } => explain::run(&code),
    }
}
