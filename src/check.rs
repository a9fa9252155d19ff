//! `integ check PATH...`: check files and directories, print diagnostics.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use integ_compiler::diagnostic::{Diagnostic, Tally, json, render};
use integ_compiler::program::LoadError;
use integ_compiler::source::{Origin, SourceMap};

use crate::files::{FsLoader, collect};
use crate::{Colour, Format};

#[derive(Args)]
pub struct CheckArgs {
    /// Files or directories (searched recursively for `*.integ`).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// When to colour text output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Colour,
}

pub fn run(args: &CheckArgs) -> ExitCode {
    let roots = match collect(&args.paths) {
        Ok(roots) => roots,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    if roots.is_empty() {
        eprintln!("error: no .integ files found in {}", show_paths(&args.paths));
        return ExitCode::from(2);
    }
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        // NO_COLOR set to anything but the empty string turns colour off.
        Colour::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
        }
    };
    let mut stdout = std::io::stdout().lock();
    let mut printed: HashSet<(String, u32, u32, &'static str, String)> = HashSet::new();
    let mut checked_files: HashSet<String> = HashSet::new();
    let mut tally = Tally::default();
    let mut unreadable = false;
    for root in &roots {
        let (sources, diagnostics) = match analyze(root) {
            Ok(result) => result,
            Err(message) => {
                eprintln!("error: {message}");
                unreadable = true;
                continue;
            }
        };
        for (_, file) in sources.files() {
            if file.origin == Origin::User {
                checked_files.insert(file.name.clone());
            }
        }
        let fresh: Vec<Diagnostic> = diagnostics
            .into_iter()
            .filter(|diagnostic| {
                let span = diagnostic.primary_span();
                let file = sources.get(span.file).map(|file| file.name.clone()).unwrap_or_default();
                printed.insert((file, span.start, span.end, diagnostic.code.as_str(), diagnostic.message.clone()))
            })
            .collect();
        let counts = Tally::of(&fresh);
        tally.errors += counts.errors;
        tally.warnings += counts.warnings;
        let output = match args.format {
            Format::Text => render::render(&sources, &fresh, colour),
            Format::Json => json::to_json_lines(&sources, &fresh),
        };
        let _ = stdout.write_all(output.as_bytes());
    }
    let summary = format!(
        "checked {} file{}: {} error{}, {} warning{}",
        checked_files.len(),
        plural(checked_files.len()),
        tally.errors,
        plural(tally.errors),
        tally.warnings,
        plural(tally.warnings)
    );
    match args.format {
        Format::Text => {
            let _ = writeln!(stdout, "{summary}");
        }
        Format::Json => eprintln!("{summary}"),
    }
    if unreadable {
        ExitCode::from(2)
    } else if tally.errors > 0 || (args.deny_warnings && tally.warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Loads and checks one root; an unreadable root is an error message.
fn analyze(root: &str) -> Result<(SourceMap, Vec<Diagnostic>), String> {
    match integ_compiler::analyze(root, &mut FsLoader) {
        Ok(analysis) => Ok((analysis.program.sources, analysis.checked.diagnostics)),
        Err(LoadError::NotFound) => Err(format!("cannot read `{root}`: no such file or directory")),
        Err(error) => Err(format!("cannot read `{root}`: {error}")),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn show_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|path| format!("`{}`", path.display())).collect::<Vec<_>>().join(", ")
}
