//! integ-compiler: the front end and back ends of the integ language.
//!
//! Text in, values and diagnostics out. The pipeline (see `README.md`):
//! [`syntax::parse`] turns a file into an AST and never fails;
//! [`program::load`] follows imports through a [`program::Loader`] (the one
//! door to the outside world); [`check::check`] resolves names and checks
//! types, producing the checked model that the back ends consume.
//!
//! ```
//! use integ_compiler::{check_source, diagnostic::Tally};
//!
//! let analysis = check_source("main.integ", "type Order { id: Int }");
//! assert_eq!(Tally::of(analysis.diagnostics()).errors, 0);
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
// Diagnostics travel by value on cold error paths; boxing them buys nothing.
#![allow(clippy::result_large_err)]

pub mod check;
pub mod diagnostic;
pub mod fmt;
pub mod ide;
#[cfg(feature = "interpreter")]
pub mod interp;
pub mod ir;
pub mod program;
pub mod rust;
pub mod source;
pub mod stdlib;
pub mod syntax;

/// Runs `body`, first growing the stack if little of it is left. The parser,
/// the AST builder and the checker recurse once per level of nesting, which
/// the syntax bounds; this keeps that safe on small thread stacks too.
/// The version of integ, as generated code and `integ --version` show it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) fn with_stack<T>(body: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(128 * 1024, 2 * 1024 * 1024, body)
}

use check::Checked;
use diagnostic::Diagnostic;
use program::{LoadError, Loader, MemoryLoader, Program};
use source::SourceMap;

/// A program and the result of checking it.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub program: Program,
    pub checked: Checked,
}

impl Analysis {
    /// Every diagnostic of every phase, sorted by file and position.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.checked.diagnostics
    }

    pub fn sources(&self) -> &SourceMap {
        &self.program.sources
    }
}

/// Loads `root` and its imports through `loader`, then checks the program.
pub fn analyze(root: &str, loader: &mut dyn Loader) -> Result<Analysis, LoadError> {
    let program = program::load(root, loader)?;
    let checked = check::check(&program);
    Ok(Analysis { program, checked })
}

/// Checks one file given as text; it may import the standard library only.
pub fn check_source(name: &str, text: &str) -> Analysis {
    let mut loader = MemoryLoader::new();
    let program = program::load_text(name, text, &mut loader);
    let checked = check::check(&program);
    Analysis { program, checked }
}
