//! The `integ` command-line tool.
//!
//! In: arguments and files. Out: diagnostics, explanations and exit codes.
//! This crate is the only place (with the language server) that knows about
//! terminals, files and JSON output; the compiler library takes text and
//! returns values.

mod build;
mod check;
mod explain;
mod files;
mod flows;
mod fmt;
mod lsp;
mod mock;
mod progress;
mod run;
mod test;

use std::io::IsTerminal;
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
    after_help = "Exit codes: 0 success; 1 something was found wrong (errors in checked files, a failed call, dead-lettered records); 2 a file could not be read, the arguments are wrong, or a program could not start or a flow failed. Each command's --help says more.\n\n`integ explain CODE` explains any diagnostic code, such as E0509."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines on standard error as text or as JSON objects.
    #[arg(long, alias = "log", global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// The least severe log level shown: error, warn, info, debug or trace.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs go to standard error; the runtime redacts secrets before they get here.
fn init_logging(format: LogFormat, level: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| progress::LogWriter)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
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
    /// Evaluate an expression with a file's declarations in scope; print it as JSON.
    Eval(run::EvalArgs),
    /// Apply a map to every JSON line of standard input; print one JSON line per record.
    ///
    /// Records that cannot be decoded or mapped are reported on standard error
    /// with their line number; the others are still mapped. Exits 1 if any
    /// record failed.
    Map(run::MapArgs),
    /// Call one endpoint and print its result as JSON (a stream: one record a line).
    ///
    /// Secrets and base URLs are read from the environment as the file says.
    /// Exits 1 when the call fails (after the endpoint's policy gave up).
    Call(run::CallArgs),
    /// Serve every api of a program on loopback, from its types and fixtures, until Ctrl-C.
    ///
    /// Prints one line per api: its name, its URL, and the environment
    /// variables that point the program at it (`SHOP_URL=...`).
    Mock(mock::MockArgs),
    /// Run flows: schedules and webhooks until stopped (Ctrl-C), or each once with --once.
    ///
    /// State, dead letters and run history are kept in an SQLite file (see
    /// --state). Ctrl-C or SIGTERM finishes the records in flight, saves
    /// state and exits 0; the next run resumes from there.
    ///
    /// Exit codes with --once: 0 every run completed; 1 some records were
    /// dead-lettered; 2 a flow failed, or the program could not start (errors
    /// in the file, missing secrets, a store in use).
    Run(flows::RunArgs),
    /// Inspect, replay or delete the dead letters of a program's flows.
    ///
    /// `replay` runs each record through its flow again (after the target or
    /// the program was fixed): delivered ones are deleted. Exits 1 when some
    /// are still failing.
    #[command(name = "deadletters", alias = "dead-letters")]
    DeadLetters(flows::DeadLettersArgs),
    /// Generate typed Rust from a file: structs and enums for its types, functions for its maps, clients for its apis, runners for its flows.
    ///
    /// The same code a `build.rs` gets from `integ_compiler::rust::Builder`,
    /// for those who check generated code in, with an `async fn` per flow
    /// (see --flow). It depends on the integ-runtime crate only. Exits 1
    /// when the file has errors or uses something the Rust back end does not
    /// translate, 2 when a file cannot be read or written or --flow names no
    /// flow of the program.
    Build(build::BuildArgs),
    /// Format .integ files in the canonical layout, in place.
    ///
    /// Keeps comments and blank-line groups; formatting twice changes
    /// nothing. With --check nothing is written: the files that would change
    /// are listed. `-` formats standard input to standard output. Exits 0
    /// when done (or nothing would change), 1 when --check found files to
    /// change or a file has syntax errors (printed; the file is left
    /// untouched), 2 when a file cannot be read or written.
    Fmt(fmt::FmtArgs),
    /// Start the language server on standard input and output (for editors).
    ///
    /// Speaks the Language Server Protocol: diagnostics on every change,
    /// hover, go to definition, references, completion, document and
    /// workspace symbols, rename and quick fixes. Point the editor's LSP
    /// client at `integ lsp` for `*.integ` files.
    Lsp,
    /// Run the `test` blocks of .integ files: stand-ins, runs of flows and expectations.
    ///
    /// Every request goes to local stand-ins declared with `given`; the
    /// clock is virtual, so retries and Retry-After waits take no real time.
    /// Directories are searched like `integ check`. The flows' log lines
    /// are hidden unless --log-level is given.
    /// Exits 0 when every test passed, 1 when a test failed or a file has
    /// errors, 2 for bad arguments or unreadable files.
    Test(test::TestArgs),
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
    // The log lines of flows under test are hidden unless a level is asked for.
    let level = match cli.command {
        Command::Test(_) if cli.log_level == "info" => "off",
        _ => cli.log_level.as_str(),
    };
    init_logging(cli.log_format, level);
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Explain { code } => explain::run(&code),
        Command::Eval(args) => run::eval(&args),
        Command::Map(args) => run::map(&args),
        Command::Call(args) => run::call(&args),
        Command::Mock(args) => mock::run(&args),
        Command::Run(args) => flows::run(&args),
        Command::DeadLetters(args) => flows::dead_letters(&args),
        Command::Build(args) => build::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Lsp => lsp::run(),
        Command::Test(args) => test::run(&args),
    }
}
