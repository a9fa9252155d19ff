//! Loading a program: a root file and everything it imports.
//!
//! In: the name of a root file and a [`Loader`], the one door to the outside
//! world (the CLI reads the disk; tests and the language server serve text
//! from memory). Out: a [`Program`]: every file parsed, import edges
//! resolved, and the diagnostics of parsing and loading (missing modules,
//! import cycles, files that are not UTF-8). The standard library is embedded
//! ([`crate::stdlib`]) and `std/prelude` is always loaded.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Origin, SourceFile, SourceMap, Span};
use crate::stdlib;
use crate::syntax::{self, ast};

/// Why a file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("no such file")]
    NotFound,
    /// The text up to the first invalid byte is valid; `lossy` is the whole
    /// file with invalid bytes replaced, for showing where the problem is.
    #[error("the file is not valid UTF-8 (first invalid byte at offset {valid_up_to})")]
    NotUtf8 { valid_up_to: usize, lossy: String },
    #[error("{0}")]
    Io(String),
}

/// Reads source files by path. Paths are what [`resolve_import`] produced.
pub trait Loader {
    fn read(&mut self, path: &str) -> Result<String, LoadError>;
}

/// A loader over an in-memory map of path → text (tests, language server).
#[derive(Clone, Debug, Default)]
pub struct MemoryLoader {
    pub files: HashMap<String, String>,
}

impl MemoryLoader {
    pub fn new() -> MemoryLoader {
        MemoryLoader::default()
    }

    pub fn with(mut self, path: &str, text: &str) -> MemoryLoader {
        self.files.insert(normalize(path), text.to_owned());
        self
    }
}

impl Loader for MemoryLoader {
    fn read(&mut self, path: &str) -> Result<String, LoadError> {
        self.files.get(&normalize(path)).cloned().ok_or(LoadError::NotFound)
    }
}

/// Reads source files from the file system (the CLI, `build.rs`).
#[derive(Clone, Copy, Debug, Default)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&mut self, path: &str) -> Result<String, LoadError> {
        read_source(std::path::Path::new(path))
    }
}

/// Reads a file as UTF-8.
pub fn read_source(path: &std::path::Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound,
        _ => LoadError::Io(describe_io(&error)),
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(error) => {
            let valid_up_to = error.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(error.as_bytes()).into_owned();
            Err(LoadError::NotUtf8 { valid_up_to, lossy })
        }
    }
}

/// An IO error in words, the same way for every path.
pub fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => error.to_string(),
    }
}

/// One parsed file of a program.
#[derive(Clone, Debug)]
pub struct LoadedModule {
    pub file: FileId,
    pub ast: ast::Module,
    /// The files this one imports, with the span of each import's path.
    pub imports: Vec<(FileId, Span)>,
}

/// A root file and everything it imports, parsed.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub sources: SourceMap,
    /// Indexed by `FileId`.
    pub modules: Vec<LoadedModule>,
    pub root: FileId,
    /// Diagnostics of parsing and loading.
    pub diagnostics: Vec<Diagnostic>,
}

impl Program {
    pub fn module(&self, file: FileId) -> Option<&LoadedModule> {
        self.modules.get(file.0 as usize)
    }

    pub fn is_std(&self, file: FileId) -> bool {
        self.sources.get(file).is_some_and(|source| source.origin == Origin::Std)
    }
}

/// Loads `root` (read through `loader`) and its imports.
pub fn load(root: &str, loader: &mut dyn Loader) -> Result<Program, LoadError> {
    match loader.read(root) {
        Ok(text) => Ok(load_text(root, &text, loader)),
        Err(LoadError::NotUtf8 { valid_up_to, lossy }) => {
            let mut program = Program::default();
            let file = program.sources.add(SourceFile::new(normalize(root), lossy, Origin::User));
            program.root = file;
            program.modules.push(LoadedModule {
                file,
                ast: ast::Module { file, decls: Vec::new() },
                imports: Vec::new(),
            });
            program.diagnostics.push(not_utf8(file, valid_up_to, root));
            Ok(program)
        }
        Err(error) => Err(error),
    }
}

fn not_utf8(file: FileId, valid_up_to: usize, name: &str) -> Diagnostic {
    // Byte offsets are those of the file on disk: the one invalid byte.
    Diagnostic::new(
        Code::InvalidUtf8,
        Span::new(file, valid_up_to, valid_up_to + 1),
        format!("`{name}` is not valid UTF-8"),
    )
    .label("the first invalid byte is here")
    .note("integ reads source files as UTF-8; nothing after this point was checked")
    .help("save the file as UTF-8")
}

/// Loads a root whose text is already at hand (the language server's open buffer).
pub fn load_text(root: &str, text: &str, loader: &mut dyn Loader) -> Program {
    let mut state = LoadState { program: Program::default(), by_path: HashMap::new(), std_loaded: Vec::new(), loader };
    // The standard library modules take the first file ids, in `stdlib::MODULES`
    // order, so that their parsed trees can be shared between programs.
    for (name, text) in stdlib::MODULES {
        let id = state.program.sources.add(SourceFile::new(*name, *text, Origin::Std));
        state.program.modules.push(LoadedModule {
            file: id,
            ast: ast::Module { file: id, decls: Vec::new() },
            imports: Vec::new(),
        });
        state.by_path.insert((*name).to_owned(), id);
        state.std_loaded.push(false);
    }
    state.add_std(stdlib::PRELUDE);
    let root_id = state.add_file(normalize(root), text.to_owned(), Origin::User);
    state.program.root = root_id;
    let mut stack = vec![root_id];
    state.follow_imports(root_id, &mut stack);
    state.program
}

/// The standard library parsed once per process, module `k` with `FileId(k)`.
fn parsed_std() -> &'static [(ast::Module, Vec<Diagnostic>)] {
    static PARSED: OnceLock<Vec<(ast::Module, Vec<Diagnostic>)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        stdlib::MODULES.iter().enumerate().map(|(index, (_, text))| syntax::parse(FileId(index as u32), text)).collect()
    })
}

struct LoadState<'l> {
    program: Program,
    by_path: HashMap<String, FileId>,
    /// Which standard library modules have been brought into the program.
    std_loaded: Vec<bool>,
    loader: &'l mut dyn Loader,
}

impl LoadState<'_> {
    /// Brings standard library module `name` (and what it imports) into the program.
    fn add_std(&mut self, name: &str) -> Option<FileId> {
        let index = stdlib::MODULES.iter().position(|(module, _)| *module == name)?;
        let id = FileId(index as u32);
        if self.std_loaded.get(index).copied().unwrap_or(true) {
            return Some(id);
        }
        self.std_loaded[index] = true;
        let (module, diagnostics) = parsed_std().get(index)?.clone();
        self.program.diagnostics.extend(diagnostics);
        if let Some(slot) = self.program.modules.get_mut(index) {
            slot.ast = module;
        }
        let mut stack = vec![id];
        self.follow_imports(id, &mut stack);
        Some(id)
    }

    fn add_file(&mut self, path: String, text: String, origin: Origin) -> FileId {
        let id = self.program.sources.add(SourceFile::new(path.clone(), text, origin));
        self.by_path.insert(path, id);
        let text = self.program.sources.get(id).map(|file| file.text.clone()).unwrap_or_default();
        let (ast, diagnostics) = syntax::parse(id, &text);
        self.program.diagnostics.extend(diagnostics);
        self.program.modules.push(LoadedModule { file: id, ast, imports: Vec::new() });
        id
    }

    fn follow_imports(&mut self, file: FileId, stack: &mut Vec<FileId>) {
        let imports: Vec<(String, Span)> = match self.program.module(file) {
            Some(module) => module
                .ast
                .decls
                .iter()
                .filter_map(|decl| match &decl.kind {
                    ast::DeclKind::Import(import) => Some((import.path.clone(), import.path_span)),
                    _ => None,
                })
                .collect(),
            None => return,
        };
        let importer = self.program.sources.get(file).map(|source| source.name.clone()).unwrap_or_default();
        for (path, span) in imports {
            let Some(target) = self.resolve(&importer, &path, span) else {
                continue;
            };
            if let Some(position) = stack.iter().position(|&open| open == target) {
                // Report the cycle the same way whichever file it was entered from
                // (several roots of one `integ check` may meet it): start it at the
                // file with the smallest name, and label the import that returns there.
                let members: Vec<FileId> = stack[position..].to_vec();
                let name =
                    |id: FileId| self.program.sources.get(id).map(|source| source.name.clone()).unwrap_or_default();
                let start = (0..members.len()).min_by_key(|&index| name(members[index])).unwrap_or(0);
                let rotated: Vec<FileId> = members[start..].iter().chain(&members[..start]).copied().collect();
                let closing_importer = rotated[rotated.len() - 1];
                let closing_target = rotated[0];
                let closing_span = if closing_importer == file && closing_target == target {
                    Some(span)
                } else {
                    self.program.module(closing_importer).and_then(|module| {
                        module.imports.iter().find(|(imported, _)| *imported == closing_target).map(|(_, span)| *span)
                    })
                };
                let cycle: Vec<String> = rotated
                    .iter()
                    .chain(std::iter::once(&closing_target))
                    .map(|id| format!("`{}`", name(*id)))
                    .collect();
                let label_span = closing_span.unwrap_or(span);
                self.program.diagnostics.push(
                    Diagnostic::new(Code::ImportCycle, label_span, format!("import cycle: {}", cycle.join(" → ")))
                        .label("this import closes the cycle")
                        .help("move the declarations both files need into a third file that imports neither"),
                );
                continue;
            }
            if let Some(module) = self.program.modules.get_mut(file.0 as usize) {
                module.imports.push((target, span));
            }
            let already_followed =
                self.program.module(target).is_some_and(|module| !module.imports.is_empty()) || stack.contains(&target);
            if !already_followed {
                stack.push(target);
                self.follow_imports(target, stack);
                stack.pop();
            }
        }
    }

    /// Resolves and loads the file that `path` (written in `importer`) names.
    fn resolve(&mut self, importer: &str, path: &str, span: Span) -> Option<FileId> {
        if let Some(module) = path.strip_prefix("std/") {
            let name = format!("std/{module}");
            if stdlib::source(&name).is_some() {
                return self.add_std(&name);
            }
            let mut diagnostic =
                Diagnostic::new(Code::ModuleNotFound, span, format!("no standard library module `{path}`"))
                    .label("not a module of the standard library");
            let names: Vec<&str> = stdlib::MODULES.iter().map(|(name, _)| *name).collect();
            if let Some(best) = crate::check::suggest::best(&name, names.iter().copied()) {
                diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                    format!("import `{best}`"),
                    span,
                    format!("\"{best}\""),
                );
            } else {
                diagnostic = diagnostic.help(format!("the modules are {}", names.join(", ")));
            }
            self.program.diagnostics.push(diagnostic);
            return None;
        }
        if !(path.starts_with("./") || path.starts_with("../")) {
            self.program.diagnostics.push(
                Diagnostic::new(Code::ModuleNotFound, span, format!("cannot import `{path}`"))
                    .label("imports are `std/...` modules or paths starting with `./` or `../`")
                    .maybe_fix("import it as a relative path", span, format!("\"./{path}\"")),
            );
            return None;
        }
        let resolved = resolve_import(importer, path);
        if let Some(&id) = self.by_path.get(&resolved) {
            return Some(id);
        }
        match self.loader.read(&resolved) {
            Ok(text) => Some(self.add_file(resolved, text, Origin::User)),
            Err(LoadError::NotUtf8 { valid_up_to, lossy }) => {
                let id = self.program.sources.add(SourceFile::new(resolved.clone(), lossy, Origin::User));
                self.by_path.insert(resolved.clone(), id);
                self.program.modules.push(LoadedModule {
                    file: id,
                    ast: ast::Module { file: id, decls: Vec::new() },
                    imports: Vec::new(),
                });
                self.program.diagnostics.push(not_utf8(id, valid_up_to, &resolved).secondary(span, "imported here"));
                None
            }
            Err(error) => {
                let message = match error {
                    LoadError::NotFound => format!("cannot find `{path}`"),
                    _ => format!("cannot read `{path}`"),
                };
                let code = Code::ModuleNotFound;
                self.program.diagnostics.push(
                    Diagnostic::new(code, span, message)
                        .label(format!("looked for `{resolved}`"))
                        .note(format!("{error}"))
                        .help("paths are relative to the file that imports them"),
                );
                None
            }
        }
    }
}

/// The path of `import "path"` written in the file `importer`.
pub fn resolve_import(importer: &str, path: &str) -> String {
    let directory = match importer.rfind('/') {
        Some(slash) => &importer[..slash],
        None => "",
    };
    if directory.is_empty() { normalize(path) } else { normalize(&format!("{directory}/{path}")) }
}

/// Lexical normalization: removes `.` segments and folds `..` where it can.
pub fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if absolute { format!("/{joined}") } else { joined }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize("./a/./b/../c.integ"), "a/c.integ");
        assert_eq!(normalize("../x.integ"), "../x.integ");
        assert_eq!(normalize("/r/a/../b"), "/r/b");
        assert_eq!(
            resolve_import("examples/shop/sync.integ", "../shared/common.integ"),
            "examples/shared/common.integ"
        );
        assert_eq!(resolve_import("main.integ", "./a.integ"), "a.integ");
    }

    #[test]
    fn reports_missing_modules_and_cycles() {
        let mut loader = MemoryLoader::new()
            .with("main.integ", "import \"./a.integ\"\nimport \"std/hsah\"\nimport \"./missing.integ\"\n")
            .with("a.integ", "import \"./main.integ\"\n");
        let program = load("main.integ", &mut loader).unwrap();
        let codes: Vec<&str> = program.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["E0211", "E0210", "E0210"]);
        assert!(program.diagnostics[1].help.as_deref().unwrap_or("").contains("std/hash"));
    }
}
