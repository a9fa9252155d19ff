//! The context of checking one body: local names, narrowing, and what the
//! surrounding construct allows (secrets, `env`, endpoint calls, `skip`).

use crate::check::types::Ty;
use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalKind {
    Let,
    Param,
    ForBinding,
    State,
    Payload,
    /// `body`, `headers`, `status` in response expressions; hmac template names.
    Implicit,
}

#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub ty: Ty,
    pub span: Span,
    pub kind: LocalKind,
    pub used: bool,
}

/// Where secrets may go in the expression being checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrets {
    /// Auth arguments, header values, webhook signature arguments.
    Allowed,
    /// Anywhere else; the text names the place for the message ("a map").
    Forbidden(&'static str),
}

/// What kind of body is being checked, for the rules that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// Settings, api clauses, secrets: constants and configuration.
    Config,
    /// A map or a function: pure.
    Pure,
    /// A flow: endpoint calls, state, skip.
    Flow,
    /// A test block: stand-ins, fixtures, flow results.
    Test,
}

#[derive(Clone, Debug)]
pub struct Cx {
    scopes: Vec<Vec<Local>>,
    /// Paths (`o.shipping`) known not to be none here, with their narrowed type.
    narrowed: Vec<(String, Ty)>,
    pub secrets: Secrets,
    pub env_allowed: bool,
    /// In records/select/paginate expressions and fixtures: Json decodes into any type.
    pub json_decodes: bool,
    pub body: BodyKind,
    /// Depth of `for` loops around the statement being checked.
    pub loops: usize,
    /// Locals that went out of scope unused, for W0002.
    pub unused: Vec<Local>,
}

impl Cx {
    pub fn new(body: BodyKind, secrets: Secrets) -> Cx {
        Cx {
            scopes: vec![Vec::new()],
            narrowed: Vec::new(),
            secrets,
            env_allowed: false,
            json_decodes: false,
            body,
            loops: 0,
            unused: Vec::new(),
        }
    }

    pub fn push(&mut self) {
        self.scopes.push(Vec::new());
    }

    /// Leaves a scope, remembering the locals that were never used.
    pub fn pop(&mut self) {
        if let Some(scope) = self.scopes.pop() {
            self.unused.extend(scope.into_iter().filter(|local| !local.used && !local.name.starts_with('_')));
        }
    }

    /// Leaves every scope (the end of a body).
    pub fn finish(&mut self) -> Vec<Local> {
        while !self.scopes.is_empty() {
            self.pop();
        }
        self.scopes.push(Vec::new());
        std::mem::take(&mut self.unused)
    }

    pub fn declare(&mut self, name: &str, ty: Ty, span: Span, kind: LocalKind) {
        let used = kind == LocalKind::Implicit;
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(Local { name: name.to_owned(), ty, span, kind, used });
        }
    }

    /// Finds a local by name (innermost first) and marks it used.
    pub fn lookup(&mut self, name: &str) -> Option<&Local> {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(local) = scope.iter_mut().rev().find(|local| local.name == name) {
                local.used = true;
                return Some(local);
            }
        }
        None
    }

    pub fn peek(&self, name: &str) -> Option<&Local> {
        self.scopes.iter().rev().find_map(|scope| scope.iter().rev().find(|local| local.name == name))
    }

    /// Every local name in scope, for "did you mean".
    pub fn names(&self) -> Vec<String> {
        self.scopes.iter().flat_map(|scope| scope.iter().map(|local| local.name.clone())).collect()
    }

    pub fn narrow(&mut self, path: String, ty: Ty) -> usize {
        self.narrowed.push((path, ty));
        self.narrowed.len() - 1
    }

    pub fn narrowing_mark(&self) -> usize {
        self.narrowed.len()
    }

    pub fn restore_narrowing(&mut self, mark: usize) {
        self.narrowed.truncate(mark);
    }

    pub fn narrowed(&self, path: &str) -> Option<&Ty> {
        self.narrowed.iter().rev().find(|(narrowed, _)| narrowed == path).map(|(_, ty)| ty)
    }

    /// Forgets narrowing of `name` and paths under it (after an assignment).
    pub fn forget_narrowing(&mut self, name: &str) {
        let prefix = format!("{name}.");
        self.narrowed.retain(|(path, _)| path != name && !path.starts_with(&prefix));
    }
}
