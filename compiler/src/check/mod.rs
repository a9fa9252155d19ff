//! Name resolution and type checking.
//!
//! In: a loaded [`Program`] (every file parsed). Out: [`Checked`]: the
//! diagnostics of every phase and the checked model (types, signatures) the
//! back ends start from. The phases, in order:
//!
//! 1. [`Checker::collect`]: one flat namespace of top-level declarations;
//!    duplicates, reserved names, user names shadowing the standard library.
//! 2. [`Checker::resolve_signatures`]: record fields, enum variants, and the
//!    signatures of functions, maps and endpoints.
//! 3. bodies: secrets and auth ([`config`]), policies ([`policy`]), apis and
//!    endpoints ([`api`]), maps and functions ([`decls`]), flows ([`flow`]),
//!    tests ([`tests`]); expressions in [`expr`], calls in [`calls`],
//!    patterns in [`patterns`].
//! 4. [`Checker::report_unused`]: warnings for what is never used.
//!
//! The checker does no IO and never panics on any tree the parser produced.

pub mod api;
pub mod calls;
pub mod config;
pub mod decls;
pub mod expr;
pub mod flow;
pub mod literals;
pub mod patterns;
pub mod policy;
pub mod scope;
pub mod suggest;
pub mod tests;
pub mod types;

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{Code, Diagnostic};
use crate::program::Program;
use crate::source::{FileId, Span};
use crate::syntax::ast::{self, Decl, DeclKind};
use types::{Bound, EnumId, RecordId, Ty, TypeTable};

/// The result of checking a program.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    pub diagnostics: Vec<Diagnostic>,
    pub types: TypeTable,
    pub symbols: Vec<Symbol>,
    pub functions: HashMap<String, FnSig>,
    pub apis: Vec<api::ApiInfo>,
    pub policies: Vec<policy::PolicyInfo>,
    pub flows: HashMap<String, flow::FlowInfo>,
    /// The type of every expression that was checked.
    pub expr_types: HashMap<expr::ExprKey, Ty>,
    /// (use, declaration) spans of every local name read or assigned, for the
    /// language server's definitions, references and renames.
    pub local_uses: Vec<(Span, Span)>,
}

/// What a top-level name refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum SymbolKind {
    Type(RecordId),
    Enum(EnumId),
    Secret,
    Auth,
    Map,
    Fn,
    Policy,
    Api(usize),
    Flow,
}

impl SymbolKind {
    pub fn describe(&self) -> &'static str {
        match self {
            SymbolKind::Type(_) => "type",
            SymbolKind::Enum(_) => "enum",
            SymbolKind::Secret => "secret",
            SymbolKind::Auth => "auth",
            SymbolKind::Map => "map",
            SymbolKind::Fn => "function",
            SymbolKind::Policy => "policy",
            SymbolKind::Api(_) => "api",
            SymbolKind::Flow => "flow",
        }
    }
}

/// A top-level declaration.
#[derive(Clone, Debug)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    pub span: Span,
    pub file: FileId,
    /// Index of the declaration in its file's module.
    pub decl: usize,
    pub std: bool,
    pub used: bool,
}

/// A parameter of a function, map or endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSig {
    pub name: String,
    pub ty: Ty,
    pub has_default: bool,
    pub span: Span,
}

impl ParamSig {
    /// Whether a call may leave it out.
    pub fn optional(&self) -> bool {
        self.has_default || self.ty.is_optional()
    }
}

/// The signature of a function or map.
#[derive(Clone, Debug, PartialEq)]
pub struct FnSig {
    pub name: String,
    pub generics: Vec<(String, Option<Bound>)>,
    pub params: Vec<ParamSig>,
    pub ret: Ty,
    pub span: Span,
    pub native: bool,
    pub is_map: bool,
}

/// Checks a loaded program.
pub fn check(program: &Program) -> Checked {
    let mut checker = Checker::new(program);
    checker.collect();
    checker.resolve_signatures();
    checker.check_bodies();
    checker.report_unused();
    let mut diagnostics = program.diagnostics.clone();
    diagnostics.append(&mut checker.diagnostics);
    crate::diagnostic::sort_and_dedup(&mut diagnostics);
    Checked {
        diagnostics,
        types: checker.types,
        symbols: checker.symbols,
        functions: checker.functions,
        apis: checker.apis,
        policies: checker.policies,
        flows: checker.flows,
        expr_types: checker.expr_types,
        local_uses: checker.local_uses,
    }
}

pub struct Checker<'p> {
    pub(crate) program: &'p Program,
    pub(crate) types: TypeTable,
    pub(crate) symbols: Vec<Symbol>,
    pub(crate) by_name: HashMap<String, usize>,
    pub(crate) functions: HashMap<String, FnSig>,
    pub(crate) apis: Vec<api::ApiInfo>,
    pub(crate) policies: Vec<policy::PolicyInfo>,
    pub(crate) flows: HashMap<String, flow::FlowInfo>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// (file that uses, file that declares) pairs, for unused imports.
    pub(crate) uses: HashSet<(FileId, FileId)>,
    /// The file whose declaration is being checked.
    pub(crate) current_file: FileId,
    /// The symbol whose body is being checked (self-references do not count as uses).
    pub(crate) current_symbol: Option<usize>,
    /// Webhook paths taken so far, for E0800 on a second flow at the same path.
    pub(crate) webhook_paths: HashMap<String, Span>,
    pub(crate) expr_types: HashMap<expr::ExprKey, Ty>,
    pub(crate) local_uses: Vec<(Span, Span)>,
}

impl<'p> Checker<'p> {
    fn new(program: &'p Program) -> Checker<'p> {
        Checker {
            program,
            types: TypeTable::default(),
            symbols: Vec::new(),
            by_name: HashMap::new(),
            functions: HashMap::new(),
            apis: Vec::new(),
            policies: Vec::new(),
            flows: HashMap::new(),
            diagnostics: Vec::new(),
            uses: HashSet::new(),
            current_file: FileId(0),
            current_symbol: None,
            webhook_paths: HashMap::new(),
            expr_types: HashMap::new(),
            local_uses: Vec::new(),
        }
    }

    pub(crate) fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Every declaration of the program, standard library first, with its file.
    pub(crate) fn declarations(&self) -> Vec<(FileId, usize, &'p Decl)> {
        let program = self.program;
        let mut order: Vec<&crate::program::LoadedModule> = program.modules.iter().collect();
        order.sort_by_key(|module| (!program.is_std(module.file), module.file));
        order
            .into_iter()
            .flat_map(|module| module.ast.decls.iter().enumerate().map(move |(index, decl)| (module.file, index, decl)))
            .collect()
    }

    /// Phase 1: the namespace.
    fn collect(&mut self) {
        let mut test_names: HashMap<String, Span> = HashMap::new();
        for (file, index, decl) in self.declarations() {
            let std = self.program.is_std(file);
            if let DeclKind::Test(test) = &decl.kind {
                if let Some(first) = test_names.get(&test.name) {
                    self.report(
                        Diagnostic::new(
                            Code::DuplicateDeclaration,
                            test.name_span,
                            format!("duplicate test `{}`", test.name),
                        )
                        .label("a test with this name already exists")
                        .secondary(*first, "first declared here")
                        .help("give each test a name that says what it checks"),
                    );
                } else {
                    test_names.insert(test.name.clone(), test.name_span);
                }
                continue;
            }
            let Some(name) = decl.name() else { continue };
            if types::RESERVED_TYPE_NAMES.contains(&name.name.as_str()) {
                self.report(
                    Diagnostic::new(Code::ReservedName, name.span, format!("`{}` is a built-in type", name.name))
                        .label("this name is reserved")
                        .help(format!("choose another name, such as `{}Record`", name.name)),
                );
                continue;
            }
            if !std && matches!(name.name.as_str(), "env" | "fixture" | "calls") {
                self.report(
                    Diagnostic::new(Code::ReservedName, name.span, format!("`{}` is a built-in function", name.name))
                        .label("this name is reserved")
                        .help(format!("choose another name, such as `my_{}`", name.name)),
                );
                continue;
            }
            if let DeclKind::Fn(function) = &decl.kind
                && function.native
                && !std
            {
                self.report(
                    Diagnostic::new(
                        Code::NativeOutsideStd,
                        decl.span.shrink_to_start().to(name.span),
                        format!("native function `{}` outside the standard library", name.name),
                    )
                    .label("only the standard library declares natives")
                    .note("natives are implemented inside integ's runtime; a user file cannot provide one")
                    .help(format!("write it in integ: `fn {}(...) -> T = expression`", name.name)),
                );
            }
            let kind = match &decl.kind {
                DeclKind::Type(_) => SymbolKind::Type(self.types.add_record(types::RecordDef::new(
                    name.name.clone(),
                    name.span,
                    decl.doc.clone(),
                    false,
                ))),
                DeclKind::Enum(_) => SymbolKind::Enum(self.types.add_enum(types::EnumDef {
                    name: name.name.clone(),
                    variants: Vec::new(),
                    span: name.span,
                    doc: decl.doc.clone(),
                    other: None,
                })),
                DeclKind::Secret(_) => SymbolKind::Secret,
                DeclKind::Auth(_) => SymbolKind::Auth,
                DeclKind::Map(_) => SymbolKind::Map,
                DeclKind::Fn(_) => SymbolKind::Fn,
                DeclKind::Policy(_) => SymbolKind::Policy,
                DeclKind::Api(_) => SymbolKind::Api(usize::MAX),
                DeclKind::Flow(_) => SymbolKind::Flow,
                DeclKind::Import(_) | DeclKind::Test(_) => continue,
            };
            let symbol = Symbol { name: name.name.clone(), kind, span: name.span, file, decl: index, std, used: false };
            match self.by_name.get(&name.name).copied() {
                Some(existing) if self.symbols[existing].std && !std => {
                    let previous = self.symbols[existing].clone();
                    self.report(
                        Diagnostic::new(
                            Code::ShadowsStd,
                            name.span,
                            format!(
                                "{} `{}` shadows the standard library's {}",
                                decl.kind_name(),
                                name.name,
                                previous.kind.describe()
                            ),
                        )
                        .label("this declaration hides the standard one in this program")
                        .help(format!("rename it if you meant to keep using the standard `{}`", name.name)),
                    );
                    self.symbols.push(symbol);
                    self.by_name.insert(name.name.clone(), self.symbols.len() - 1);
                }
                Some(existing) => {
                    let previous = &self.symbols[existing];
                    let message = format!("`{}` is declared more than once", name.name);
                    let first = format!("first declared here as a {}", previous.kind.describe());
                    let first_span = previous.span;
                    self.report(
                        Diagnostic::new(Code::DuplicateDeclaration, name.span, message)
                            .label(format!("{} `{}` declared again", decl.kind_name(), name.name))
                            .secondary(first_span, first)
                            .help("top-level names share one namespace across the program and its imports; rename one of them"),
                    );
                }
                None => {
                    self.symbols.push(symbol);
                    self.by_name.insert(name.name.clone(), self.symbols.len() - 1);
                }
            }
        }
    }

    /// The symbol called `name`.
    pub(crate) fn symbol(&self, name: &str) -> Option<&Symbol> {
        self.by_name.get(name).map(|&index| &self.symbols[index])
    }

    /// Marks `name` as used from the current file and returns its symbol index.
    pub(crate) fn use_symbol(&mut self, name: &str) -> Option<usize> {
        let index = *self.by_name.get(name)?;
        if self.current_symbol != Some(index) {
            self.symbols[index].used = true;
        }
        self.uses.insert((self.current_file, self.symbols[index].file));
        Some(index)
    }

    /// Names of symbols of some kinds, for "did you mean".
    pub(crate) fn names_where(&self, keep: impl Fn(&SymbolKind) -> bool) -> Vec<String> {
        self.by_name
            .iter()
            .filter(|(_, index)| keep(&self.symbols[**index].kind))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Resolves a written type.
    pub(crate) fn resolve_type(&mut self, written: &ast::TypeExpr, generics: &[(String, Option<Bound>)]) -> Ty {
        match &written.kind {
            ast::TypeExprKind::Named(name) => {
                if let Some(index) = generics.iter().position(|(generic, _)| *generic == name.name) {
                    return Ty::Var(index as u32);
                }
                if let Some((_, ty)) = types::SCALARS.iter().find(|(scalar, _)| *scalar == name.name) {
                    return ty.clone();
                }
                if name.name == "Secret" {
                    self.report(
                        Diagnostic::new(Code::InvalidType, name.span, "`Secret` cannot be written as a type")
                            .label("secrets are declared with `secret name = env(\"VAR\")`")
                            .note("a secret may flow only into auth and headers, so no field, parameter or state can hold one"),
                    );
                    return Ty::Error;
                }
                match self.use_symbol(&name.name).map(|index| self.symbols[index].kind.clone()) {
                    Some(SymbolKind::Type(id)) => Ty::Record(id),
                    Some(SymbolKind::Enum(id)) => Ty::Enum(id),
                    Some(other) => {
                        self.report(
                            Diagnostic::new(
                                Code::UnknownType,
                                name.span,
                                format!("`{}` is a {}, not a type", name.name, other.describe()),
                            )
                            .label("expected a type"),
                        );
                        Ty::Error
                    }
                    None => {
                        let mut candidates: Vec<String> =
                            self.names_where(|kind| matches!(kind, SymbolKind::Type(_) | SymbolKind::Enum(_)));
                        candidates.extend(types::SCALARS.iter().map(|(name, _)| (*name).to_owned()));
                        candidates.extend(generics.iter().map(|(name, _)| name.clone()));
                        let mut diagnostic =
                            Diagnostic::new(Code::UnknownType, name.span, format!("unknown type `{}`", name.name))
                                .label("no type of this name");
                        let lower = name.name.to_ascii_lowercase();
                        let alias = match lower.as_str() {
                            "str" | "string" | "text" => Some("String"),
                            "int" | "integer" | "i64" | "i32" | "long" => Some("Int"),
                            "bool" | "boolean" => Some("Bool"),
                            "float" | "double" | "f64" | "number" => Some("Float"),
                            "decimal" | "money" => Some("Decimal"),
                            "datetime" | "timestamp" | "instant" => Some("DateTime"),
                            "date" => Some("Date"),
                            "json" | "any" | "object" => Some("Json"),
                            _ => None,
                        };
                        if let Some(best) = alias.map(str::to_owned).or_else(|| {
                            suggest::best(&name.name, candidates.iter().map(String::as_str)).map(str::to_owned)
                        }) {
                            diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                                format!("use `{best}`"),
                                name.span,
                                best,
                            );
                        } else {
                            diagnostic = diagnostic.help(format!(
                                "declare it with `type {} {{ ... }}`, or import the file that declares it",
                                name.name
                            ));
                        }
                        self.report(diagnostic);
                        Ty::Error
                    }
                }
            }
            ast::TypeExprKind::List(element) => self.resolve_type(element, generics).list(),
            ast::TypeExprKind::Map(key, value) => {
                let key_ty = self.resolve_type(key, generics);
                if key_ty != Ty::String && !key_ty.is_error() {
                    let shown = self.types.display(&key_ty).to_string();
                    self.report(
                        Diagnostic::new(
                            Code::InvalidType,
                            key.span,
                            format!("map keys must be `String`, not `{shown}`"),
                        )
                        .label("JSON object keys are strings")
                        .fix("use `String` keys", key.span, "String"),
                    );
                }
                Ty::Map(Box::new(self.resolve_type(value, generics)))
            }
            ast::TypeExprKind::Fn(params, ret) => {
                let params = params.iter().map(|param| self.resolve_type(param, generics)).collect();
                Ty::Fn(params, Box::new(self.resolve_type(ret, generics)))
            }
            ast::TypeExprKind::Optional(inner) => self.resolve_type(inner, generics).optional(),
        }
    }

    /// Reports a type that holds functions where only data may go (fields, state, payloads).
    pub(crate) fn require_data_type(&mut self, ty: &Ty, span: Span, place: &str) {
        if contains_fn(ty) {
            self.report(
                Diagnostic::new(Code::InvalidType, span, format!("a function type cannot be used in {place}"))
                    .label("functions are not data")
                    .note("function types appear only in parameters of functions that take a lambda"),
            );
        }
    }

    /// Phase 2: fields, variants and signatures.
    fn resolve_signatures(&mut self) {
        for (file, index, decl) in self.declarations() {
            self.current_file = file;
            match &decl.kind {
                DeclKind::Type(type_decl) => self.resolve_record(type_decl),
                DeclKind::Enum(enum_decl) => self.resolve_enum(enum_decl),
                DeclKind::Fn(function) => self.resolve_fn_signature(function),
                DeclKind::Map(map) => self.resolve_map_signature(map),
                DeclKind::Api(api_decl) => self.resolve_api(file, index, api_decl),
                _ => {}
            }
        }
        self.check_recursive_records();
        for (file, _, decl) in self.declarations() {
            self.current_file = file;
            if let DeclKind::Flow(flow_decl) = &decl.kind {
                self.resolve_flow_signature(flow_decl);
            }
        }
    }

    /// A record that contains itself without a list, map or optional in between
    /// would be infinitely large.
    fn check_recursive_records(&mut self) {
        let count = self.types.records.len();
        for start in 0..count {
            // Depth-first along required record fields, looking for a way back to `start`.
            // `chain` holds the records on the way; a cycle is reported once, from its
            // lowest-numbered record, at the field of that record that starts it.
            let mut stack: Vec<(usize, Vec<usize>, Option<usize>)> = vec![(start, vec![start], None)];
            let mut seen = vec![false; count];
            while let Some((record, chain, first_field)) = stack.pop() {
                let Some(definition) = self.types.records.get(record) else { continue };
                for (index, field) in definition.fields.iter().enumerate() {
                    let Ty::Record(target) = field.ty else { continue };
                    let target = target.0 as usize;
                    let first_field = first_field.or(Some(index));
                    if target == start {
                        if chain.iter().all(|&member| member >= start) {
                            let record_def = &self.types.records[start];
                            let field_def = &record_def.fields[first_field.unwrap_or(index)];
                            let through: Vec<String> = chain
                                .iter()
                                .skip(1)
                                .map(|&member| format!("`{}`", self.types.records[member].name))
                                .collect();
                            let message = if through.is_empty() {
                                format!("`{}` contains itself through `{}`", record_def.name, field_def.name)
                            } else {
                                format!(
                                    "`{}` contains itself through `{}` and {}",
                                    record_def.name,
                                    field_def.name,
                                    decls::join_words(&through)
                                )
                            };
                            let span = field_def.span;
                            self.diagnostics.push(
                                Diagnostic::new(Code::InvalidType, span, message)
                                    .label("a value of this type would be infinitely large")
                                    .help("make a field on the way optional, or a list: `parent: Category?`, `children: [Category]`"),
                            );
                        }
                        continue;
                    }
                    if !seen[target] {
                        seen[target] = true;
                        let mut next_chain = chain.clone();
                        next_chain.push(target);
                        stack.push((target, next_chain, first_field));
                    }
                }
            }
        }
    }

    /// Phase 3: every body.
    fn check_bodies(&mut self) {
        // Policies first: endpoints read them to decide whether a POST may be retried.
        for (file, _, decl) in self.declarations() {
            if let DeclKind::Policy(policy_decl) = &decl.kind {
                self.current_file = file;
                self.check_policy(policy_decl);
            }
        }
        for (file, _, decl) in self.declarations() {
            self.current_file = file;
            self.current_symbol = decl.name().and_then(|name| {
                self.by_name.get(&name.name).copied().filter(|&index| self.symbols[index].file == file)
            });
            match &decl.kind {
                DeclKind::Import(_) => {}
                DeclKind::Secret(secret) => self.check_secret(secret),
                DeclKind::Auth(auth) => self.check_auth_decl(auth),
                DeclKind::Type(_) | DeclKind::Enum(_) => {}
                DeclKind::Policy(_) => {}
                DeclKind::Api(api_decl) => self.check_api(api_decl),
                DeclKind::Map(map) => self.check_map(map),
                DeclKind::Fn(function) => self.check_fn(function),
                DeclKind::Flow(flow_decl) => self.check_flow(flow_decl),
                DeclKind::Test(test) => self.check_test(test),
            }
            self.current_symbol = None;
        }
    }

    /// Phase 4: unused declarations and imports.
    fn report_unused(&mut self) {
        let program = self.program;
        for module in &program.modules {
            if program.is_std(module.file) {
                continue;
            }
            let is_application =
                module.ast.decls.iter().any(|decl| matches!(decl.kind, DeclKind::Flow(_) | DeclKind::Test(_)));
            if is_application {
                for symbol in self.symbols.iter().filter(|symbol| symbol.file == module.file && !symbol.used) {
                    let reportable = matches!(
                        symbol.kind,
                        SymbolKind::Type(_)
                            | SymbolKind::Enum(_)
                            | SymbolKind::Map
                            | SymbolKind::Fn
                            | SymbolKind::Policy
                            | SymbolKind::Secret
                            | SymbolKind::Auth
                    );
                    if reportable
                        && !symbol.name.starts_with('_')
                        && !(symbol.kind == SymbolKind::Policy && symbol.name == "default")
                    {
                        self.diagnostics.push(
                            Diagnostic::new(
                                Code::UnusedDeclaration,
                                symbol.span,
                                format!("{} `{}` is never used", symbol.kind.describe(), symbol.name),
                            )
                            .label("declared here, used nowhere")
                            .help("remove it, or prefix its name with `_` to keep it"),
                        );
                    }
                }
            }
            for &(imported, span) in &module.imports {
                if !self.reaches_used(module.file, imported) {
                    let name = program.sources.get(imported).map(|file| file.name.clone()).unwrap_or_default();
                    let import_span = module
                        .ast
                        .decls
                        .iter()
                        .find(|decl| matches!(&decl.kind, DeclKind::Import(import) if import.path_span == span))
                        .map(|decl| decl.span)
                        .unwrap_or(span);
                    self.diagnostics.push(
                        Diagnostic::new(Code::UnusedImport, import_span, format!("unused import `{name}`"))
                            .label("nothing this file uses comes from this import")
                            .fix("remove the import", import_span, ""),
                    );
                }
            }
        }
    }

    /// Whether `user` uses anything declared in `imported` or in what it imports.
    fn reaches_used(&self, user: FileId, imported: FileId) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![imported];
        while let Some(file) = stack.pop() {
            if !seen.insert(file) {
                continue;
            }
            if self.uses.contains(&(user, file)) {
                return true;
            }
            if let Some(module) = self.program.module(file) {
                stack.extend(module.imports.iter().map(|(target, _)| *target));
            }
        }
        false
    }

    /// Reports locals that went unused.
    pub(crate) fn report_unused_locals(&mut self, locals: Vec<scope::Local>) {
        for local in locals {
            let what = match local.kind {
                scope::LocalKind::Let => "variable",
                scope::LocalKind::Param => "parameter",
                scope::LocalKind::ForBinding => "loop variable",
                scope::LocalKind::State => "state",
                scope::LocalKind::Payload => "payload",
                scope::LocalKind::Implicit => continue,
            };
            self.diagnostics.push(
                Diagnostic::new(Code::UnusedVariable, local.span, format!("{what} `{}` is never used", local.name))
                    .label("never read")
                    .help(format!("remove it, or name it `_{}` if that is intended", local.name))
                    .maybe_fix("prefix it with `_`", local.span, format!("_{}", local.name)),
            );
        }
    }
}

fn contains_fn(ty: &Ty) -> bool {
    match ty {
        Ty::Fn(..) => true,
        Ty::Optional(inner) | Ty::List(inner) | Ty::Map(inner) | Ty::Stream(inner) => contains_fn(inner),
        _ => false,
    }
}
