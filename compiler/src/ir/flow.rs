//! Flows, lowered: statements over the slots of one frame (§ 12 of spec.md).
//!
//! A flow's frame holds its states first (state `i` is slot `i`), then its
//! payload, then every `let`, loop binding and lambda parameter of its body.
//! The working state of a run (§ 12.8) is therefore the first
//! `states.len()` slots of the frame; a commit copies them.
//!
//! Endpoint calls appear in three places: as the whole expression of a
//! `let` or call statement (where a `catch` may handle their failure), as
//! the source of a `for` over a stream, and nested in any other expression
//! of the body (as [`super::Expr::Endpoint`]), where a failure is handled by
//! the endpoint's `on_exhausted`.

use super::Expr;
use crate::check::types::Ty;

/// When a flow runs (§ 12.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `every D`, D in milliseconds.
    Every(u64),
    /// `cron("...")`, the expression as written.
    Cron(String),
    /// `webhook(...)`: once per accepted event.
    Webhook,
    /// `manual`: only when asked for.
    Manual,
}

impl Trigger {
    /// `every 5m`, `cron("0 2 * * *")`, `webhook`, `manual`.
    pub fn describe(&self) -> String {
        match self {
            Trigger::Every(millis) => format!("every {}", duration_text(*millis)),
            Trigger::Cron(expression) => format!("cron(\"{expression}\")"),
            Trigger::Webhook => "webhook".to_owned(),
            Trigger::Manual => "manual".to_owned(),
        }
    }
}

/// `1h30m`, `5m`, `10s`, `250ms`.
pub fn duration_text(millis: u64) -> String {
    if !millis.is_multiple_of(1000) {
        return format!("{millis}ms");
    }
    let seconds = millis / 1000;
    let mut text = String::new();
    let (days, hours, minutes, secs) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60, seconds % 60);
    for (count, unit) in [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")] {
        if count > 0 {
            text.push_str(&format!("{count}{unit}"));
        }
    }
    if text.is_empty() { "0s".to_owned() } else { text }
}

/// Where a statement is written: `sync.integ:88:5`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    /// 1-based.
    pub line: u32,
    /// 1-based, in Unicode scalar values.
    pub column: u32,
}

impl std::fmt::Display for Location {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A lowered flow.
#[derive(Clone, Debug)]
pub struct Flow {
    pub name: String,
    pub location: Location,
    pub trigger: Trigger,
    /// Committed top-level records per checkpoint (§ 12.8).
    pub batch: u32,
    /// State `i` lives in slot `i`.
    pub states: Vec<State>,
    /// The payload of a webhook flow, in slot `states.len()`.
    pub payload: Option<(String, Ty)>,
    /// What a webhook flow's trigger says (§ 12.3); `None` for other flows.
    pub webhook: Option<Webhook>,
    pub frame_size: u32,
    /// The name each slot was declared with (the last one, for a slot
    /// reused by several scopes), for generated code.
    pub locals: Vec<String>,
    pub body: Vec<Stmt>,
}

/// `trigger: webhook(path: ..., signature: ..., max_body: ...)` and the
/// flow's `dedupe:` setting (§ 12.3).
#[derive(Clone, Debug)]
pub struct Webhook {
    /// As written: `/hooks/github`.
    pub path: String,
    pub signature: Signature,
    /// In bytes (`1MB` by default).
    pub max_body: u64,
    /// The `dedupe:` key over the payload, evaluated in the flow's frame
    /// with the payload in its slot (states not loaded).
    pub dedupe: Option<Expr>,
}

/// The default `max_body` of a webhook: 1MB.
pub const DEFAULT_MAX_BODY: u64 = 1_000_000;

/// A signature scheme (§ 12.3): `none`, `hmac`, `github`, `stripe` or
/// `standard_webhooks`, with its arguments by name (positional ones named
/// after the scheme's parameters). Bare words (`sha256`, `base64`) are
/// string literals; `canonical` is its template with the placeholders kept
/// as text (`"{timestamp}.{body}"`); the others are expressions evaluated
/// once at start-up (secrets, `env`, literals).
#[derive(Clone, Debug)]
pub struct Signature {
    pub scheme: String,
    pub args: Vec<(String, Expr)>,
}

impl Signature {
    /// `signature: none`.
    pub fn none() -> Signature {
        Signature { scheme: "none".to_owned(), args: Vec::new() }
    }
}

/// `state since: DateTime? = none`.
#[derive(Clone, Debug)]
pub struct State {
    pub name: String,
    pub ty: Ty,
    /// Evaluated in a frame of `init_frame_size` slots when the store holds no value.
    pub init: Expr,
    pub init_frame_size: u32,
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub location: Location,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    /// `let name = value catch { ... }`: the catch only when `value` is an endpoint call.
    Let {
        slot: u32,
        value: Expr,
        catch: Option<Catch>,
    },
    /// `state = value`.
    Assign {
        state: u32,
        value: Expr,
    },
    /// An endpoint call as a statement, its result unused.
    Call {
        call: Expr,
        catch: Option<Catch>,
    },
    For(Box<For>),
    If {
        condition: Expr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
    Skip,
    Fail(Expr),
    Log {
        level: LogLevel,
        message: Expr,
        ty: Ty,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// `for x in source where filter dedupe key { body }`.
#[derive(Clone, Debug)]
pub struct For {
    /// Names the statement in the state store (dedupe keys, dead letters):
    /// its place among the flow's loops and what it iterates, such as
    /// `1:o in Shop.list_orders`, stable when other parts of the file change.
    pub id: String,
    /// Where the `for` is written.
    pub location: Location,
    pub slot: u32,
    /// The binding's name and type (the element type).
    pub binding: String,
    pub item: Ty,
    pub source: Source,
    pub filter: Option<Expr>,
    pub dedupe: Option<Expr>,
    pub body: Vec<Stmt>,
    /// Not inside another `for`: its records are the units that commit (§ 12.8).
    pub top_level: bool,
    /// The names declared outside the loop that it can see (earlier `let`s,
    /// enclosing loop bindings, the payload), by slot and type: a dead
    /// letter keeps their values, so that a replay runs the record in the
    /// same context.
    pub context: Vec<(String, u32, Ty)>,
}

#[derive(Clone, Debug)]
pub enum Source {
    /// A stream endpoint's records, page by page.
    Stream { api: u32, endpoint: u32, args: Vec<Expr> },
    /// A list's elements.
    List(Expr),
    /// A `Json` array's elements (anything else is a run-time error).
    Json(Expr),
}

/// `catch { Api.Error => action, _ => action }`.
#[derive(Clone, Debug, Default)]
pub struct Catch {
    pub arms: Vec<CatchArm>,
}

#[derive(Clone, Debug)]
pub struct CatchArm {
    /// The error name, `None` for `_`.
    pub error: Option<String>,
    pub action: Action,
}

impl Catch {
    /// The action of the first arm that catches `error`.
    pub fn action_for(&self, error: &str) -> Option<Action> {
        self.arms.iter().find(|arm| arm.error.as_deref().is_none_or(|name| name == error)).map(|arm| arm.action)
    }
}

/// What happens to the unit of work when a call fails (§ 12.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Skip,
    DeadLetter,
    Fail,
    Ignore,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Skip => "skip",
            Action::DeadLetter => "dead_letter",
            Action::Fail => "fail",
            Action::Ignore => "ignore",
        }
    }
}
