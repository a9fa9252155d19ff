//! The `build.rs` API, in the style of prost-build:
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     integ_compiler::rust::Builder::new().file("api.integ").compile()?;
//!     Ok(())
//! }
//! ```
//!
//! and in the crate: `include!(concat!(env!("OUT_DIR"), "/api.rs"));`.
//!
//! Each file becomes `<module name>.rs` in the output directory (`OUT_DIR`
//! unless [`Builder::out_dir`] says otherwise). Under cargo (when
//! `CARGO_MANIFEST_DIR` is set) the builder prints `cargo:rerun-if-changed`
//! for every file read, imports included, and `cargo:warning=` for every
//! warning; an error fails the build with the rendered diagnostics (file,
//! line, column, code) as the error's text.

use std::path::{Path, PathBuf};

use super::{GenError, Options, generate};
use crate::diagnostic::{Severity, Tally};
use crate::program::{FsLoader, LoadError, normalize};
use crate::source::Origin;

/// Why a build failed. Its `Display` is the whole story, ready for cargo,
/// and so is its `Debug`: a `build.rs` whose `main` returns the error
/// (`fn main() -> Result<(), BuildError>`) prints the rendered diagnostics,
/// not a struct.
#[derive(thiserror::Error)]
pub enum BuildError {
    /// No file was given.
    #[error("integ_compiler::rust::Builder: no `.integ` file was given (call `.file(\"api.integ\")`)")]
    NoFiles,
    /// Neither `out_dir` nor the `OUT_DIR` variable says where to write.
    #[error("integ_compiler::rust::Builder: no output directory (set `.out_dir(...)` or run from build.rs)")]
    NoOutDir,
    #[error("cannot read `{path}`: {error}")]
    Read { path: String, error: LoadError },
    /// The program has errors: the rendered diagnostics.
    #[error("{rendered}\nerror: `{path}` has {errors} error(s); no Rust was generated")]
    Diagnostics { path: String, errors: usize, rendered: String },
    #[error("`{path}`: {error}")]
    Generate { path: String, error: GenError },
    #[error("cannot write `{path}`: {error}")]
    Write { path: String, error: std::io::Error },
}

impl std::fmt::Debug for BuildError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, formatter)
    }
}

/// Generates Rust from `.integ` files.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    files: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    module: Option<String>,
    options: Options,
    cargo: Option<bool>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Adds a root `.integ` file (its imports are followed).
    pub fn file(mut self, path: impl AsRef<Path>) -> Builder {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// Where to write; `OUT_DIR` by default.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Builder {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The output file's name without `.rs` (one file only); the `.integ`
    /// file's stem by default.
    pub fn module_name(mut self, name: impl Into<String>) -> Builder {
        self.module = Some(name.into());
        self
    }

    /// A derive added to every generated struct and enum (`"Hash"` cannot
    /// apply to records with Float fields; the compiler will say so).
    pub fn extra_derive(mut self, path: impl Into<String>) -> Builder {
        self.options.extra_derives.push(path.into());
        self
    }

    /// Generates runners only for the flows named (none for an empty list);
    /// every flow by default. A name that is no flow of the program fails
    /// the build.
    pub fn flows<I, S>(mut self, names: I) -> Builder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.flows = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Whether to print `cargo:` lines; by default when run by cargo.
    pub fn cargo_output(mut self, enabled: bool) -> Builder {
        self.cargo = Some(enabled);
        self
    }

    /// Generates every file; returns the paths written.
    pub fn compile(self) -> Result<Vec<PathBuf>, BuildError> {
        if self.files.is_empty() {
            return Err(BuildError::NoFiles);
        }
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or(BuildError::NoOutDir)?,
        };
        let cargo = self.cargo.unwrap_or_else(|| std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let mut written = Vec::new();
        for file in &self.files {
            let path = normalize(&file.to_string_lossy());
            let (code, warnings, inputs) = generate_file(&path, &self.options)?;
            if cargo {
                for input in &inputs {
                    println!("cargo:rerun-if-changed={input}");
                }
                for warning in warnings.lines().filter(|line| !line.trim().is_empty()) {
                    println!("cargo:warning={warning}");
                }
            }
            let stem = match (&self.module, self.files.len()) {
                (Some(module), 1) => module.clone(),
                _ => file
                    .file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "integ".to_owned()),
            };
            let target = out_dir.join(format!("{stem}.rs"));
            // Rewriting an unchanged file would make cargo rebuild the crate for nothing.
            if std::fs::read_to_string(&target).ok().as_deref() != Some(code.as_str()) {
                std::fs::write(&target, &code)
                    .map_err(|error| BuildError::Write { path: target.display().to_string(), error })?;
            }
            written.push(target);
        }
        Ok(written)
    }
}

/// Generates the Rust for one root file: the code, the rendered warnings,
/// and every file read.
pub fn generate_file(path: &str, options: &Options) -> Result<(String, String, Vec<String>), BuildError> {
    let analysis =
        crate::analyze(path, &mut FsLoader).map_err(|error| BuildError::Read { path: path.to_owned(), error })?;
    let inputs: Vec<String> = analysis
        .program
        .sources
        .files()
        .filter(|(_, source)| source.origin != Origin::Std)
        .map(|(_, source)| source.name.clone())
        .collect();
    let diagnostics = analysis.diagnostics();
    let tally = Tally::of(diagnostics);
    if tally.errors > 0 {
        let rendered = crate::diagnostic::render::render(analysis.sources(), diagnostics, false);
        return Err(BuildError::Diagnostics { path: path.to_owned(), errors: tally.errors, rendered });
    }
    let warnings: Vec<_> =
        diagnostics.iter().filter(|diagnostic| diagnostic.severity == Severity::Warning).cloned().collect();
    let warnings = crate::diagnostic::render::render(analysis.sources(), &warnings, false);
    let code = generate(&analysis, options).map_err(|error| BuildError::Generate { path: path.to_owned(), error })?;
    Ok((code, warnings, inputs))
}
