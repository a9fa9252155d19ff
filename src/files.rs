//! Finding and reading `.integ` files on disk.

use std::path::{Path, PathBuf};

use integ_compiler::program::normalize;

pub use integ_compiler::program::FsLoader;

/// Expands files and directories (recursively) into `.integ` files, sorted.
/// Hidden directories and `target` are skipped.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|error| format!("cannot read `{}`: {}", path.display(), describe(&error)))?;
        if metadata.is_dir() {
            walk(path, &mut found).map_err(|error| format!("cannot read directory `{}`: {error}", path.display()))?;
        } else {
            found.push(path.clone());
        }
    }
    let mut names: Vec<String> = found.iter().map(|path| normalize(&path.to_string_lossy())).collect();
    names.sort();
    names.dedup();
    // The same file spelt two ways (`a.integ`, `./dir/../a.integ`, an absolute path) is checked once.
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| seen.insert(std::fs::canonicalize(name).unwrap_or_else(|_| PathBuf::from(name))));
    Ok(names)
}

pub use integ_compiler::program::describe_io as describe;

fn walk(directory: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(directory)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if !name.starts_with('.') && name != "target" {
                walk(&path, found)?;
            }
        } else if name.ends_with(".integ") {
            found.push(path);
        }
    }
    Ok(())
}
