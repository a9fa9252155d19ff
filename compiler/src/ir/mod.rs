//! The lowered program: what the back ends execute or generate from.
//!
//! In: a checked program (the AST, the checker's tables and the type of
//! every expression). Out: [`Program`]: functions and maps with their bodies
//! as [`Expr`] trees in which every name is resolved to a slot, a field
//! index, a variant index or a function, every literal has its final type,
//! and every implicit conversion (a typed value into `Json`, `Json` decoded
//! into a declared type) is explicit. Nothing here is evaluated; the IR is
//! plain data, shared by the interpreter and the Rust generator.
//!
//! The entry point is [`lower::lower`].

pub mod flow;
pub mod lower;
pub mod test;

use std::collections::{HashMap, HashSet};

use crate::check::policy::PolicyInfo;
use crate::check::types::{Ty, TypeTable};
use crate::syntax::ast::{BinaryOp, UnaryOp};

/// A function or map of the program, or a native of the standard library.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Callee {
    /// Index into [`Program::functions`].
    User(u32),
    /// A native, by name.
    Native(String),
}

/// A lowered function or map.
#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    pub is_map: bool,
    pub params: Vec<(String, Ty)>,
    /// Default values of parameters a call may leave out, by parameter index.
    pub defaults: Vec<Option<Expr>>,
    pub result: Ty,
    /// Slots in a frame: the parameters first, then every `let` and lambda parameter.
    pub frame_size: u32,
    /// The name each slot was declared with (empty for unnamed slots), for
    /// generated code.
    pub locals: Vec<String>,
    pub body: Expr,
}

/// A native's signature, for filling in omitted arguments.
#[derive(Clone, Debug)]
pub struct Native {
    pub name: String,
    pub params: Vec<(String, Ty)>,
    pub defaults: Vec<Option<Expr>>,
    pub result: Ty,
}

/// A constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A decimal as written (`12.50`, scale kept): `mantissa` × 10^-`scale`
    /// (`1250`, `2`), precomputed so evaluation does not parse text.
    Decimal {
        text: String,
        mantissa: i128,
        scale: u32,
    },
    String(String),
    Duration {
        millis: i64,
    },
}

/// A piece of an interpolated string.
#[derive(Clone, Debug)]
pub enum Part {
    Text(String),
    /// A value shown in its text form; its type chooses the form.
    Value(Expr, Ty),
}

/// One alternative of a `match` arm's pattern.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    Wildcard,
    None,
    Literal(Literal),
    Variant { ty: u32, variant: u32 },
}

#[derive(Clone, Debug)]
pub struct Arm {
    pub patterns: Vec<Pattern>,
    pub value: Expr,
}

/// An expression with every name resolved.
#[derive(Clone, Debug)]
pub enum Expr {
    Literal(Literal),
    /// A slot of the current frame: a parameter, a `let`, a lambda parameter.
    Local(u32),
    /// A secret, by index into [`Program::secrets`].
    Secret(u32),
    /// `env("VAR", "default")`.
    Env {
        variable: String,
        default: Option<String>,
    },
    Variant {
        ty: u32,
        variant: u32,
    },
    /// Field `index` of a value of record type `record`.
    Field {
        base: Box<Expr>,
        record: u32,
        index: u32,
    },
    /// A member of a `Json` value (`none`/null when absent).
    JsonField {
        base: Box<Expr>,
        name: String,
    },
    /// `xs[i]`, `m["k"]`, `json[...]`: none when absent.
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `base?. ...`: `none` when `base` is none, else `then` with `base` in `slot`.
    Chain {
        base: Box<Expr>,
        slot: u32,
        then: Box<Expr>,
    },
    Call {
        callee: Callee,
        args: Vec<Expr>,
    },
    /// A function or map passed by name, as a value.
    FunctionValue(Callee),
    /// `x => body`, by index into [`Program::lambdas`].
    Lambda(u32),
    /// `Api.endpoint(args)`, by index into [`Program::apis`] and the api's endpoints.
    Endpoint {
        api: u32,
        endpoint: u32,
        args: Vec<Expr>,
    },
    Record {
        ty: u32,
        fields: Vec<Expr>,
    },
    List(Vec<Expr>),
    Map(Vec<(String, Expr)>),
    Interpolate(Vec<Part>),
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `a && b`, `a || b`: the right side only when needed.
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `a ?? b`: `b` only when `a` is none.
    Coalesce(Box<Expr>, Box<Expr>),
    If {
        condition: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// The scrutinee is evaluated once into `slot`.
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<Arm>,
    },
    /// `let`s, in order, then a result.
    Block {
        lets: Vec<(u32, Expr)>,
        result: Box<Expr>,
    },
    /// A typed value used where `Json` is expected.
    ToJson {
        value: Box<Expr>,
        ty: Ty,
    },
    /// A `Json` value decoded into a declared type (records, select, paginate).
    FromJson {
        value: Box<Expr>,
        ty: Ty,
        /// What decode errors name the value: the expression as written
        /// (`body.orders[0]`), or `value`.
        root: String,
    },
    /// Reading a test fixture (tests only).
    Fixture {
        path: String,
        ty: Ty,
    },
    /// Something the checker rejected; evaluating it is an error.
    Invalid,
}

/// A secret: read from the environment when the program starts.
#[derive(Clone, Debug)]
pub struct Secret {
    pub name: String,
    pub variable: String,
    pub default: Option<String>,
}

/// A lambda: its parameters are slots of the enclosing frame, which it
/// shares (lambdas run only inside the native they are passed to).
#[derive(Clone, Debug)]
pub struct Lambda {
    pub params: Vec<u32>,
    pub body: Expr,
}

/// The lowered program.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub types: TypeTable,
    pub functions: Vec<Function>,
    pub lambdas: Vec<Lambda>,
    pub natives: HashMap<String, Native>,
    /// Functions and maps by name.
    pub by_name: HashMap<String, Callee>,
    pub secrets: Vec<Secret>,
    pub policies: Vec<PolicyInfo>,
    pub apis: Vec<api::Api>,
    pub flows: Vec<flow::Flow>,
    /// The tests of the root file ([`lower::lower_with_tests`] only).
    pub tests: Vec<test::Test>,
    /// Records some value of which is used whole (encoded, compared, stored):
    /// decoding must read every field.
    pub whole_records: HashSet<u32>,
    /// `(record, field)` pairs the program reads by field access. A field of a
    /// record not in `whole_records` and not here is never read: decoding
    /// checks it but does not keep it.
    pub read_fields: HashSet<(u32, u32)>,
}

impl Program {
    /// Whether decoding must read field `field` of record `record`.
    pub fn is_read(&self, record: u32, field: u32) -> bool {
        self.whole_records.contains(&record) || self.read_fields.contains(&(record, field))
    }
}

impl Program {
    pub fn function(&self, name: &str) -> Option<&Function> {
        match self.by_name.get(name)? {
            Callee::User(index) => self.functions.get(*index as usize),
            Callee::Native(_) => None,
        }
    }
}

pub mod api {
    //! Apis and endpoints, lowered: what a call sends and how it reads the answer.

    use super::Expr;
    use crate::check::literals::StatusPattern;
    use crate::check::types::Ty;

    /// A configuration value: a literal, an `env` read, a secret, an interpolation of those.
    pub type ConfigExpr = Expr;

    #[derive(Clone, Debug)]
    pub struct ErrorArm {
        pub patterns: Vec<StatusPattern>,
        /// `None` for `=> none`.
        pub name: Option<String>,
    }

    #[derive(Clone, Debug)]
    pub struct Auth {
        /// `none`, `bearer`, `basic`, `api_key`, `oauth2_client_credentials`, `oauth2_refresh_token`, `hmac`.
        pub scheme: String,
        /// Arguments by name; bare words (`header`, `sha256`) as string literals.
        pub args: Vec<(String, ConfigExpr)>,
        /// The `auth name = ...` declaration the api names, if it names one:
        /// apis naming the same one share its tokens (§ 8.1).
        pub declaration: Option<String>,
    }

    impl Auth {
        pub fn none() -> Auth {
            Auth { scheme: "none".to_owned(), args: Vec::new(), declaration: None }
        }
    }

    #[derive(Clone, Debug)]
    pub enum Body {
        Json(Expr, Ty),
        Form(Expr, Ty),
        Xml(Expr, Ty, String),
    }

    #[derive(Clone, Debug)]
    pub enum PathPart {
        Text(String),
        /// One path segment: the value is percent-encoded.
        Value(Expr, Ty),
    }

    #[derive(Clone, Debug)]
    pub enum Pagination {
        Cursor { next: Expr, param: String, has_more: Option<Expr> },
        Page { param: String, start: i64, size_param: Option<String>, size: Option<i64>, stop: Option<Expr> },
        Offset { param: String, limit_param: Option<String>, limit: Option<i64>, stop: Option<Expr> },
        LinkHeader { rel: String },
        NextUrl { url: Expr },
    }

    #[derive(Clone, Debug)]
    pub enum Result {
        /// No content is read.
        Unit,
        /// One value, selected from the body.
        Single { ty: Ty, select: Option<Expr> },
        /// Records page by page.
        Stream { item: Ty, records: Option<Expr>, pagination: Option<Pagination>, max_pages: u64 },
    }

    #[derive(Clone, Debug)]
    pub struct Endpoint {
        pub name: String,
        pub method: String,
        pub params: Vec<(String, Ty)>,
        pub defaults: Vec<Option<Expr>>,
        pub path: Vec<PathPart>,
        pub query: Vec<(String, Expr, Ty)>,
        pub headers: Vec<(String, Expr)>,
        pub body: Option<Body>,
        /// The declared type of the body (`response:`), else Json.
        pub response: Ty,
        pub result: Result,
        pub errors: Vec<ErrorArm>,
        pub idempotency_key: Option<Expr>,
        pub idempotency_header: Option<String>,
        pub idempotent: bool,
        /// Index into [`super::Program::policies`], when the endpoint names one.
        pub policy: Option<u32>,
        /// Slots: parameters, then `body`, `headers`, `status`, then lambda parameters.
        pub frame_size: u32,
        pub body_slot: u32,
        pub headers_slot: u32,
        pub status_slot: u32,
    }

    #[derive(Clone, Debug)]
    pub struct Api {
        pub name: String,
        pub base_url: ConfigExpr,
        pub auth: Auth,
        /// Index into [`super::Program::policies`]: the api's, the program's `default`, or the built-in one.
        pub policy: u32,
        pub rate_limit: Option<crate::check::policy::Rate>,
        pub concurrency: Option<u64>,
        pub headers: Vec<(String, ConfigExpr)>,
        pub errors: Vec<ErrorArm>,
        pub endpoints: Vec<Endpoint>,
    }
}
