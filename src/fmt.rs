//! `integ fmt [--check] PATH...`: format files in the canonical layout.
//!
//! In: files and directories (searched like `integ check` does), or `-` for
//! standard input. Out: files rewritten in place (only those that change),
//! or with `--check` the list of files that would change. The layout itself
//! is `integ_compiler::fmt`; this module only reads, writes and reports.
//!
//! Exit codes: 0 all formatted (or, with `--check`, nothing to change);
//! 1 some file would change (`--check`) or has syntax errors (printed like
//! `integ check` prints them; the file is left untouched); 2 a file cannot be
//! read or written, or the arguments are wrong.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use integ_compiler::diagnostic::render;
use integ_compiler::fmt::{FormatError, format_file};
use integ_compiler::source::{Origin, SourceFile, SourceMap};

use crate::Colour;
use crate::files::{collect, describe};

#[derive(Args)]
pub struct FmtArgs {
    /// Files or directories (searched recursively for `*.integ`); `-` formats
    /// standard input to standard output.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write nothing: list the files that are not formatted and exit 1 if any.
    #[arg(long)]
    pub check: bool,
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Colour,
}

/// What happened to one file.
enum Outcome {
    Unchanged,
    Changed,
    /// Syntax errors (printed) or a formatter failure (reported).
    Failed,
    /// The file could not be read or written.
    Unreadable,
}

pub fn run(args: &FmtArgs) -> ExitCode {
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
        }
    };
    if args.paths.iter().any(|path| path.as_os_str() == "-") {
        if args.paths.len() > 1 {
            eprintln!("error: `-` (standard input) cannot be combined with other paths");
            return ExitCode::from(2);
        }
        return stdin(args.check, colour);
    }
    let files = match collect(&args.paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    if files.is_empty() {
        eprintln!("error: no .integ files found");
        return ExitCode::from(2);
    }
    let mut stdout = std::io::stdout().lock();
    let (mut changed, mut failed, mut unreadable) = (0usize, false, false);
    for name in &files {
        match one_file(name, args.check, colour) {
            Outcome::Unchanged => {}
            Outcome::Changed => {
                changed += 1;
                // With --check, the list of files that would change is the output.
                if args.check {
                    let _ = writeln!(stdout, "{name}");
                }
            }
            Outcome::Failed => failed = true,
            Outcome::Unreadable => unreadable = true,
        }
    }
    let verb = if args.check { "would reformat" } else { "reformatted" };
    eprintln!("{verb} {changed} of {} file{}", files.len(), if files.len() == 1 { "" } else { "s" });
    if unreadable {
        ExitCode::from(2)
    } else if failed || (args.check && changed > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn one_file(name: &str, check: bool, colour: bool) -> Outcome {
    let text = match std::fs::read(name) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                eprintln!("error: cannot read `{name}`: not UTF-8 text");
                return Outcome::Unreadable;
            }
        },
        Err(error) => {
            eprintln!("error: cannot read `{name}`: {}", describe(&error));
            return Outcome::Unreadable;
        }
    };
    let formatted = match format_text(name, &text, colour) {
        Some(formatted) => formatted,
        None => return Outcome::Failed,
    };
    if formatted == text {
        return Outcome::Unchanged;
    }
    if !check && let Err(error) = std::fs::write(name, formatted) {
        eprintln!("error: cannot write `{name}`: {}", describe(&error));
        return Outcome::Unreadable;
    }
    Outcome::Changed
}

/// Formats `text`; prints its syntax errors and returns `None` when it has some.
fn format_text(name: &str, text: &str, colour: bool) -> Option<String> {
    let mut sources = SourceMap::new();
    let file = sources.add(SourceFile::new(name, text, Origin::User));
    match format_file(file, text) {
        Ok(formatted) => Some(formatted),
        Err(FormatError::Syntax { diagnostics, .. }) => {
            let rendered = render::render(&sources, &diagnostics, colour);
            let _ = std::io::stderr().write_all(rendered.as_bytes());
            eprintln!("error: `{name}` has syntax errors; it was not formatted");
            None
        }
        Err(error @ FormatError::Internal(_)) => {
            eprintln!("error: `{name}`: {error}");
            None
        }
    }
}

fn stdin(check: bool, colour: bool) -> ExitCode {
    let mut text = String::new();
    if let Err(error) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: cannot read standard input: {}", describe(&error));
        return ExitCode::from(2);
    }
    let Some(formatted) = format_text("<stdin>", &text, colour) else {
        return ExitCode::from(1);
    };
    if check {
        if formatted == text {
            return ExitCode::SUCCESS;
        }
        println!("<stdin>");
        return ExitCode::from(1);
    }
    let _ = std::io::stdout().write_all(formatted.as_bytes());
    ExitCode::SUCCESS
}
