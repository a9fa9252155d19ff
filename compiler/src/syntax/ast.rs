//! The abstract syntax tree.
//!
//! What the parser produces: one [`Module`] per file, a list of declarations
//! whose every node carries its [`Span`]. The tree is syntactic: names are
//! not resolved, clause names and HTTP methods are not validated, and phrase
//! settings (`5 attempts, full jitter`) are kept as written. The resolver and
//! checker give them meaning.

use crate::source::{FileId, Span};

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

impl Ident {
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

/// One parsed file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Module {
    pub file: FileId,
    pub decls: Vec<Decl>,
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    pub kind: DeclKind,
    pub span: Span,
    /// The `///` lines just above the declaration, without the slashes.
    pub doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DeclKind {
    Import(Import),
    Secret(SecretDecl),
    Type(TypeDecl),
    Enum(EnumDecl),
    Api(ApiDecl),
    Auth(AuthDecl),
    Map(MapDecl),
    Fn(FnDecl),
    Policy(PolicyDecl),
    Flow(FlowDecl),
    Test(TestDecl),
}

impl Decl {
    /// The declared name, for declarations that have one (tests are named by a string).
    pub fn name(&self) -> Option<&Ident> {
        match &self.kind {
            DeclKind::Import(_) | DeclKind::Test(_) => None,
            DeclKind::Secret(decl) => Some(&decl.name),
            DeclKind::Type(decl) => Some(&decl.name),
            DeclKind::Enum(decl) => Some(&decl.name),
            DeclKind::Api(decl) => Some(&decl.name),
            DeclKind::Auth(decl) => Some(&decl.name),
            DeclKind::Map(decl) => Some(&decl.name),
            DeclKind::Fn(decl) => Some(&decl.name),
            DeclKind::Policy(decl) => Some(&decl.name),
            DeclKind::Flow(decl) => Some(&decl.name),
        }
    }

    /// What kind of thing this declares, in words, for messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            DeclKind::Import(_) => "import",
            DeclKind::Secret(_) => "secret",
            DeclKind::Type(_) => "type",
            DeclKind::Enum(_) => "enum",
            DeclKind::Api(_) => "api",
            DeclKind::Auth(_) => "auth",
            DeclKind::Map(_) => "map",
            DeclKind::Fn(decl) if decl.native => "native function",
            DeclKind::Fn(_) => "function",
            DeclKind::Policy(_) => "policy",
            DeclKind::Flow(_) => "flow",
            DeclKind::Test(_) => "test",
        }
    }
}

/// `import "std/crypto"` or `import "./shared.integ"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub path: String,
    pub path_span: Span,
}

/// `secret shop_token = env("SHOP_TOKEN")`.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretDecl {
    pub name: Ident,
    pub value: Expr,
}

/// `auth crm = oauth2_client_credentials(...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthDecl {
    pub name: Ident,
    pub value: Expr,
}

/// `type Order { id: Int, ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeDecl {
    pub name: Ident,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub ty: TypeExpr,
    pub attributes: Vec<Attribute>,
    pub doc: Option<String>,
    pub span: Span,
}

/// `@wire("createdAt")`, `@format(unix)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// `enum OrderStatus { paid, pending, refunded @wire("REFUNDED") }`.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumDecl {
    pub name: Ident,
    pub variants: Vec<Variant>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub name: Ident,
    pub attributes: Vec<Attribute>,
    pub doc: Option<String>,
    pub span: Span,
}

/// A type as written: `Int`, `[Order]`, `{String: Int}`, `Address?`, `fn(Int) -> String`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeExprKind {
    Named(Ident),
    List(Box<TypeExpr>),
    Map(Box<TypeExpr>, Box<TypeExpr>),
    Fn(Vec<TypeExpr>, Box<TypeExpr>),
    Optional(Box<TypeExpr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
    pub span: Span,
}

/// A type parameter of a native function: `T` or `T: Comparable`.
#[derive(Clone, Debug, PartialEq)]
pub struct Generic {
    pub name: Ident,
    pub bound: Option<Ident>,
}

/// `api Shop { base_url: ..., endpoint ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiDecl {
    pub name: Ident,
    pub items: Vec<ApiItem>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ApiItem {
    Clause(Clause),
    Endpoint(EndpointDecl),
}

/// `endpoint list_orders(since: DateTime?) -> stream Order { GET "/orders" ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub params_span: Span,
    pub returns: Option<ReturnType>,
    pub clauses: Vec<Clause>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReturnType {
    pub stream: bool,
    pub ty: TypeExpr,
    pub span: Span,
}

/// A clause in an api, endpoint, policy or flow: `key: value`, `key { ... }`,
/// `GET "/path"`, `records body.items`, `errors { 404 => NotFound }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub key: Ident,
    /// Whether a `:` separated the key from its value.
    pub colon: bool,
    pub value: ClauseValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClauseValue {
    /// `{ pattern => expr, ... }`.
    Arms(Vec<Arm>, Span),
    /// One or more comma-separated phrases.
    Setting(SettingValue),
}

impl ClauseValue {
    pub fn span(&self) -> Span {
        match self {
            ClauseValue::Arms(_, span) => *span,
            ClauseValue::Setting(value) => value.span,
        }
    }
}

/// `5 attempts, exponential(base: 200ms, max: 20s), full jitter`.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingValue {
    pub phrases: Vec<Phrase>,
    pub span: Span,
}

impl SettingValue {
    /// The single expression of a one-word setting (`timeout: 10s`).
    pub fn single(&self) -> Option<&Expr> {
        match self.phrases.as_slice() {
            [phrase] => match phrase.atoms.as_slice() {
                [atom] => Some(atom),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A run of expressions on one line: `open after 5 failures`.
#[derive(Clone, Debug, PartialEq)]
pub struct Phrase {
    pub atoms: Vec<Expr>,
    pub span: Span,
}

/// `pattern => expr`, in `match` and `errors`.
#[derive(Clone, Debug, PartialEq)]
pub struct Arm {
    pub pattern: Pattern,
    pub value: Expr,
    pub span: Span,
}

/// One or more alternatives separated by `|`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub alternatives: Vec<PatternAlt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PatternAlt {
    Wildcard(Span),
    None(Span),
    Bool(bool, Span),
    Int(i64, Span),
    Number(String, Span),
    /// A number with a unit, such as the status class `5xx`.
    Quantity(Quantity, Span),
    String(String, Span),
    /// `paid` or `OrderStatus.paid`.
    Variant {
        qualifier: Option<Ident>,
        name: Ident,
    },
}

impl PatternAlt {
    pub fn span(&self) -> Span {
        match self {
            PatternAlt::Wildcard(span)
            | PatternAlt::None(span)
            | PatternAlt::Bool(_, span)
            | PatternAlt::Int(_, span)
            | PatternAlt::Number(_, span)
            | PatternAlt::Quantity(_, span)
            | PatternAlt::String(_, span) => *span,
            PatternAlt::Variant { qualifier, name } => match qualifier {
                Some(qualifier) => qualifier.span.to(name.span),
                None => name.span,
            },
        }
    }
}

/// `policy standard { timeout: 10s ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDecl {
    pub name: Ident,
    pub clauses: Vec<Clause>,
}

/// `map to_contact(o: Order) -> Contact { external_id: ..., ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct MapDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub params_span: Span,
    pub target: TypeExpr,
    pub items: Vec<MapItem>,
    pub body_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MapItem {
    Let(LetStmt),
    Field(FieldInit),
}

/// `name: expr` inside a map body.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldInit {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `fn cents(x: Int) -> Decimal = decimal(x) / 100` or `native fn trim(s: String) -> String`.
#[derive(Clone, Debug, PartialEq)]
pub struct FnDecl {
    pub name: Ident,
    pub native: bool,
    pub generics: Vec<Generic>,
    pub params: Vec<Param>,
    pub params_span: Span,
    pub returns: TypeExpr,
    pub body: Option<Expr>,
}

/// `flow sync_orders { trigger: every 5m ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowDecl {
    pub name: Ident,
    pub items: Vec<FlowItem>,
}

impl FlowDecl {
    /// The statements of the body, in order (settings, `state` and `payload` left out).
    pub fn statements(&self) -> Vec<&Stmt> {
        self.items
            .iter()
            .filter_map(|item| match item {
                FlowItem::Stmt(statement) => Some(statement),
                _ => None,
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum FlowItem {
    Setting(Clause),
    State(StateDecl),
    Payload(PayloadDecl),
    Stmt(Stmt),
}

/// `state since: DateTime? = none`.
#[derive(Clone, Debug, PartialEq)]
pub struct StateDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub init: Expr,
    pub span: Span,
}

/// `payload event: IssueEvent`.
#[derive(Clone, Debug, PartialEq)]
pub struct PayloadDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

/// `test "name" { given ..., run ..., expect ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestDecl {
    pub name: String,
    pub name_span: Span,
    pub items: Vec<TestItem>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TestItem {
    /// `given Api.endpoint returns [...]`, `given Api.endpoint fails 503, then returns ok`.
    Given {
        target: Expr,
        response: SettingValue,
        span: Span,
    },
    Expect {
        condition: Expr,
        span: Span,
    },
    /// `run sync_orders` or `run notify(event: fixture("opened.json"))`.
    Run {
        flow: Ident,
        args: Vec<Arg>,
        span: Span,
    },
    Let(LetStmt),
}

/// A statement of a flow body.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    Let(LetStmt),
    For(ForStmt),
    If(IfStmt),
    Skip,
    Fail(Expr),
    Log { level: Option<Ident>, message: Expr },
    Assign { target: Ident, value: Expr },
    Expr { expr: Expr, catch: Option<Catch> },
}

/// `let name: Type = value catch { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct LetStmt {
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub value: Expr,
    pub catch: Option<Catch>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForStmt {
    pub binding: Ident,
    pub iterable: Expr,
    pub filter: Option<Expr>,
    pub dedupe: Option<Expr>,
    pub body: Block,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IfStmt {
    pub condition: Expr,
    pub then_block: Block,
    pub else_branch: Option<ElseBranch>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ElseBranch {
    If(Box<Stmt>),
    Block(Block),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

/// `catch { Crm.Conflict => skip, _ => dead_letter }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Catch {
    pub arms: Vec<CatchArm>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CatchArm {
    pub target: CatchTarget,
    pub action: Ident,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CatchTarget {
    Wildcard(Span),
    /// `Conflict` or `Crm.Conflict`.
    Error {
        api: Option<Ident>,
        name: Ident,
    },
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    /// A number with a fraction, kept as written (`12.50`): Decimal or Float by context.
    Number(String),
    /// A number with a unit glued on: `10s`, `5xx`, `1MB`.
    Quantity(Quantity),
    String(StringLit),
    Bool(bool),
    None,
    Name(Ident),
    Field {
        base: Box<Expr>,
        name: Ident,
        optional: bool,
    },
    Call {
        callee: Box<Expr>,
        args: Vec<Arg>,
        args_span: Span,
    },
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        op_span: Span,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    List(Vec<Expr>),
    /// `{ key: value }` or `Contact { key: value }`.
    Object {
        name: Option<Ident>,
        fields: Vec<ObjectField>,
    },
    Lambda {
        params: Vec<Ident>,
        body: Box<Expr>,
    },
    If {
        condition: Box<Expr>,
        then_branch: Box<Expr>,
        else_branch: Box<Expr>,
    },
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<Arm>,
    },
    Paren(Box<Expr>),
}

/// `10s`: the number as written and its unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quantity {
    pub number: String,
    pub unit: String,
    pub unit_span: Span,
}

/// A string literal: text and `{interpolations}`, escapes already decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct StringLit {
    pub parts: Vec<StringPart>,
}

impl StringLit {
    /// The text of a literal without interpolations.
    pub fn as_plain(&self) -> Option<String> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                StringPart::Text(piece, _) => text.push_str(piece),
                StringPart::Interpolation(_) => return None,
            }
        }
        Some(text)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StringPart {
    Text(String, Span),
    Interpolation(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObjectField {
    pub key: ObjectKey,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ObjectKey {
    Ident(Ident),
    String(String, Span),
}

impl ObjectKey {
    pub fn text(&self) -> &str {
        match self {
            ObjectKey::Ident(ident) => &ident.name,
            ObjectKey::String(text, _) => text,
        }
    }

    pub fn span(&self) -> Span {
        match self {
            ObjectKey::Ident(ident) => ident.span,
            ObjectKey::String(_, span) => *span,
        }
    }
}

/// A call argument, positional or `name: value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Coalesce,
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Coalesce => "??",
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

impl UnaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Not => "!",
            UnaryOp::Neg => "-",
        }
    }
}
