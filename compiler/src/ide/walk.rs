//! Every name in a syntax tree, with the role it plays.
//!
//! In: a parsed [`ast::Module`]. Out: a call of the visitor for each
//! [`Occurrence`]: declarations and their members, names read as values or
//! called, type names, field accesses and keys of object literals and map
//! bodies. The language server's definitions, references, renames and hovers
//! start from here; the walk is syntactic, and [`super::resolve`] gives each
//! occurrence its meaning from the checker's results.

use crate::syntax::ast::{
    self, ApiItem, Arg, Clause, ClauseValue, Decl, DeclKind, ElseBranch, Expr, ExprKind, FlowItem, Ident, MapItem,
    ObjectKey, Pattern, PatternAlt, SettingValue, Stmt, StmtKind, StringPart, TestItem, TypeExpr, TypeExprKind,
};

/// What kind of member a name declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberKind {
    Field,
    Variant,
    Endpoint,
    Param,
    Let,
    ForBinding,
    State,
    Payload,
    LambdaParam,
}

/// One name in the tree.
#[derive(Clone, Copy, Debug)]
pub enum Occurrence<'a> {
    /// The name of a top-level declaration.
    Decl { ident: &'a Ident, decl: &'a Decl },
    /// A name declared inside a declaration.
    Member { ident: &'a Ident, kind: MemberKind },
    /// A name read as a value, called, or naming an api, enum, flow, policy or auth.
    Name(&'a Ident),
    /// A name in a type position.
    TypeName(&'a Ident),
    /// `base.name`; `whole` is the field expression.
    Field { base: &'a Expr, name: &'a Ident, whole: &'a Expr },
    /// A key of an object literal `T { key: value }`.
    ObjectKey { ident: &'a Ident, object: &'a Expr },
    /// A field set by a map body: `external_id: ...` in `map to_contact(...) -> Contact`.
    MapKey { ident: &'a Ident, map: &'a ast::MapDecl },
}

impl<'a> Occurrence<'a> {
    pub fn ident(&self) -> &'a Ident {
        match *self {
            Occurrence::Decl { ident, .. }
            | Occurrence::Member { ident, .. }
            | Occurrence::Name(ident)
            | Occurrence::TypeName(ident)
            | Occurrence::ObjectKey { ident, .. }
            | Occurrence::MapKey { ident, .. } => ident,
            Occurrence::Field { name, .. } => name,
        }
    }
}

/// Calls `visit` for every name of `module`, in source order per declaration.
pub fn walk_module<'a>(module: &'a ast::Module, visit: &mut dyn FnMut(Occurrence<'a>)) {
    for decl in &module.decls {
        walk_decl(decl, visit);
    }
}

/// Calls `visit` for every name of one declaration.
pub fn walk_decl<'a>(decl: &'a Decl, visit: &mut dyn FnMut(Occurrence<'a>)) {
    let mut walker = Walker { visit };
    crate::with_stack(|| walker.decl(decl));
}

struct Walker<'v, 'a> {
    visit: &'v mut dyn FnMut(Occurrence<'a>),
}

impl<'a> Walker<'_, 'a> {
    fn emit(&mut self, occurrence: Occurrence<'a>) {
        (self.visit)(occurrence);
    }

    fn member(&mut self, ident: &'a Ident, kind: MemberKind) {
        self.emit(Occurrence::Member { ident, kind });
    }

    fn decl(&mut self, decl: &'a Decl) {
        if let Some(ident) = decl.name() {
            self.emit(Occurrence::Decl { ident, decl });
        }
        match &decl.kind {
            DeclKind::Import(_) => {}
            DeclKind::Secret(secret) => self.expr(&secret.value),
            DeclKind::Auth(auth) => self.expr(&auth.value),
            DeclKind::Type(record) => {
                for field in &record.fields {
                    self.member(&field.name, MemberKind::Field);
                    self.type_expr(&field.ty);
                    self.attributes(&field.attributes);
                }
            }
            DeclKind::Enum(enumeration) => {
                for variant in &enumeration.variants {
                    self.member(&variant.name, MemberKind::Variant);
                    self.attributes(&variant.attributes);
                }
            }
            DeclKind::Api(api) => {
                for item in &api.items {
                    match item {
                        ApiItem::Clause(clause) => self.clause(clause),
                        ApiItem::Endpoint(endpoint) => {
                            self.member(&endpoint.name, MemberKind::Endpoint);
                            self.params(&endpoint.params);
                            if let Some(returns) = &endpoint.returns {
                                self.type_expr(&returns.ty);
                            }
                            for clause in &endpoint.clauses {
                                self.clause(clause);
                            }
                        }
                    }
                }
            }
            DeclKind::Map(map) => {
                self.params(&map.params);
                self.type_expr(&map.target);
                for item in &map.items {
                    match item {
                        MapItem::Let(statement) => self.let_statement(statement),
                        MapItem::Field(field) => {
                            self.emit(Occurrence::MapKey { ident: &field.name, map });
                            self.expr(&field.value);
                        }
                    }
                }
            }
            DeclKind::Fn(function) => {
                self.params(&function.params);
                self.type_expr(&function.returns);
                if let Some(body) = &function.body {
                    self.expr(body);
                }
            }
            DeclKind::Policy(policy) => {
                for clause in &policy.clauses {
                    self.clause(clause);
                }
            }
            DeclKind::Flow(flow) => {
                for item in &flow.items {
                    match item {
                        FlowItem::Setting(clause) => self.clause(clause),
                        FlowItem::State(state) => {
                            self.member(&state.name, MemberKind::State);
                            self.type_expr(&state.ty);
                            self.expr(&state.init);
                        }
                        FlowItem::Payload(payload) => {
                            self.member(&payload.name, MemberKind::Payload);
                            self.type_expr(&payload.ty);
                        }
                        FlowItem::Stmt(statement) => self.statement(statement),
                    }
                }
            }
            DeclKind::Test(test) => {
                for item in &test.items {
                    match item {
                        TestItem::Given { target, response, .. } => {
                            self.expr(target);
                            self.setting(response);
                        }
                        TestItem::Expect { condition, .. } => self.expr(condition),
                        TestItem::Run { flow, args, .. } => {
                            self.emit(Occurrence::Name(flow));
                            self.args(args);
                        }
                        TestItem::Let(statement) => self.let_statement(statement),
                    }
                }
            }
        }
    }

    fn attributes(&mut self, attributes: &'a [ast::Attribute]) {
        for attribute in attributes {
            self.args(&attribute.args);
        }
    }

    fn params(&mut self, params: &'a [ast::Param]) {
        for param in params {
            self.member(&param.name, MemberKind::Param);
            self.type_expr(&param.ty);
            if let Some(default) = &param.default {
                self.expr(default);
            }
        }
    }

    fn type_expr(&mut self, written: &'a TypeExpr) {
        match &written.kind {
            TypeExprKind::Named(name) => self.emit(Occurrence::TypeName(name)),
            TypeExprKind::List(inner) | TypeExprKind::Optional(inner) => self.type_expr(inner),
            TypeExprKind::Map(key, value) => {
                self.type_expr(key);
                self.type_expr(value);
            }
            TypeExprKind::Fn(params, ret) => {
                for param in params {
                    self.type_expr(param);
                }
                self.type_expr(ret);
            }
        }
    }

    fn clause(&mut self, clause: &'a Clause) {
        match &clause.value {
            ClauseValue::Arms(arms, _) => {
                for arm in arms {
                    self.pattern(&arm.pattern);
                    self.expr(&arm.value);
                }
            }
            ClauseValue::Setting(setting) => self.setting(setting),
        }
    }

    fn setting(&mut self, setting: &'a SettingValue) {
        for phrase in &setting.phrases {
            for atom in &phrase.atoms {
                self.expr(atom);
            }
        }
    }

    fn pattern(&mut self, pattern: &'a Pattern) {
        for alternative in &pattern.alternatives {
            if let PatternAlt::Variant { qualifier: Some(qualifier), .. } = alternative {
                self.emit(Occurrence::Name(qualifier));
            }
        }
    }

    fn let_statement(&mut self, statement: &'a ast::LetStmt) {
        if let Some(ty) = &statement.ty {
            self.type_expr(ty);
        }
        self.expr(&statement.value);
        self.catch(statement.catch.as_ref());
        // Declared after its value: `let x = x + 1` reads an outer `x`.
        self.member(&statement.name, MemberKind::Let);
    }

    fn catch(&mut self, catch: Option<&'a ast::Catch>) {
        let Some(catch) = catch else { return };
        for arm in &catch.arms {
            if let ast::CatchTarget::Error { api: Some(api), .. } = &arm.target {
                self.emit(Occurrence::Name(api));
            }
        }
    }

    fn block(&mut self, block: &'a ast::Block) {
        for statement in &block.stmts {
            self.statement(statement);
        }
    }

    fn statement(&mut self, statement: &'a Stmt) {
        match &statement.kind {
            StmtKind::Let(statement) => self.let_statement(statement),
            StmtKind::For(for_statement) => {
                self.expr(&for_statement.iterable);
                self.member(&for_statement.binding, MemberKind::ForBinding);
                if let Some(filter) = &for_statement.filter {
                    self.expr(filter);
                }
                if let Some(dedupe) = &for_statement.dedupe {
                    self.expr(dedupe);
                }
                self.block(&for_statement.body);
            }
            StmtKind::If(if_statement) => self.if_statement(if_statement),
            StmtKind::Skip => {}
            StmtKind::Fail(value) => self.expr(value),
            StmtKind::Log { message, .. } => self.expr(message),
            StmtKind::Assign { target, value } => {
                self.emit(Occurrence::Name(target));
                self.expr(value);
            }
            StmtKind::Expr { expr, catch } => {
                self.expr(expr);
                self.catch(catch.as_ref());
            }
        }
    }

    fn if_statement(&mut self, if_statement: &'a ast::IfStmt) {
        self.expr(&if_statement.condition);
        self.block(&if_statement.then_block);
        match &if_statement.else_branch {
            Some(ElseBranch::If(statement)) => self.statement(statement),
            Some(ElseBranch::Block(block)) => self.block(block),
            None => {}
        }
    }

    fn args(&mut self, args: &'a [Arg]) {
        for arg in args {
            self.expr(&arg.value);
        }
    }

    fn expr(&mut self, expr: &'a Expr) {
        crate::with_stack(|| self.expr_inner(expr));
    }

    fn expr_inner(&mut self, expr: &'a Expr) {
        match &expr.kind {
            ExprKind::Int(_) | ExprKind::Number(_) | ExprKind::Quantity(_) | ExprKind::Bool(_) | ExprKind::None => {}
            ExprKind::String(literal) => {
                for part in &literal.parts {
                    if let StringPart::Interpolation(inner) = part {
                        self.expr(inner);
                    }
                }
            }
            ExprKind::Name(name) => self.emit(Occurrence::Name(name)),
            ExprKind::Field { base, name, .. } => {
                self.expr(base);
                self.emit(Occurrence::Field { base, name, whole: expr });
            }
            ExprKind::Call { callee, args, .. } => {
                self.expr(callee);
                self.args(args);
            }
            ExprKind::Index { base, index } => {
                self.expr(base);
                self.expr(index);
            }
            ExprKind::Unary { operand, .. } => self.expr(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::List(items) => {
                for item in items {
                    self.expr(item);
                }
            }
            ExprKind::Object { name, fields } => {
                if let Some(name) = name {
                    self.emit(Occurrence::TypeName(name));
                }
                for field in fields {
                    if let ObjectKey::Ident(ident) = &field.key {
                        self.emit(Occurrence::ObjectKey { ident, object: expr });
                    }
                    self.expr(&field.value);
                }
            }
            ExprKind::Lambda { params, body } => {
                for param in params {
                    self.member(param, MemberKind::LambdaParam);
                }
                self.expr(body);
            }
            ExprKind::If { condition, then_branch, else_branch } => {
                self.expr(condition);
                self.expr(then_branch);
                self.expr(else_branch);
            }
            ExprKind::Match { scrutinee, arms } => {
                self.expr(scrutinee);
                for arm in arms {
                    self.pattern(&arm.pattern);
                    self.expr(&arm.value);
                }
            }
            ExprKind::Paren(inner) => self.expr(inner),
        }
    }
}
