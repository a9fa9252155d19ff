//! The interpreter: runs the lowered program on integ-runtime.
//!
//! In: an [`ir::Program`]. Out: values, and (through [`calls`]) HTTP calls.
//! Expressions are evaluated synchronously over a frame of slots — every name
//! was resolved to a slot, field index or function before the first record,
//! so evaluation never looks a name up or hashes a field name. Natives come
//! from `integ_runtime::natives`; lambdas passed to them run in the frame of
//! the function that wrote them.
//!
//! This module exists with the `interpreter` feature only: a `build.rs` that
//! uses the front end or the Rust generator does not pull in the runtime.

pub mod calls;
mod eval;
pub mod flow;
pub mod schema;
pub mod standin;
pub mod test;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

use integ_runtime::natives::{self, Clock, NativeFn};
use integ_runtime::{EvalError, Schema, TypeDesc, Value};

use crate::check::types::Ty;
use crate::ir::{self, Callee};

/// How deep user functions and maps may call each other.
pub const MAX_CALL_DEPTH: u32 = 256;

/// Why the interpreter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the standard library has no implementation of native `{0}`")]
    MissingNative(String),
    #[error("{0}")]
    Config(String),
}

/// Reads an environment variable (tests pass a map instead of the process's).
pub type Environment = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Told of every endpoint call before its request is built: the api and
/// endpoint indexes and the arguments in parameter order, defaults filled
/// in (`integ test` records them for `calls(...)` and picks stand-ins by them).
pub type CallObserver = Arc<dyn Fn(u32, u32, &[Value]) + Send + Sync>;

/// Reads the file a test's `fixture("path")` names (relative to the test's
/// file), or says why it cannot.
pub type FixtureReader = Arc<dyn Fn(&str) -> Result<Vec<u8>, String> + Send + Sync>;

/// Settings of an interpreter.
pub struct Options {
    /// Reads `env(...)` and secrets; tests pass a map.
    pub environment: Environment,
    pub clock: Arc<dyn Clock + Send + Sync>,
    /// Decode every field of every record, not only those the program reads
    /// (`integ call` prints whole results).
    pub read_everything: bool,
    /// See [`CallObserver`].
    pub observer: Option<CallObserver>,
    /// Seeds the retry jitter of every api (random when `None`).
    pub http_seed: Option<u64>,
    /// The wall clock of the HTTP layer (`Retry-After` dates, HMAC timestamps); the system's when `None`.
    pub wall_clock: Option<integ_runtime::http::WallClock>,
    /// Where `fixture(...)` reads (`integ test`); without it a fixture is an error.
    pub fixtures: Option<FixtureReader>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            environment: Box::new(|name| std::env::var(name).ok().filter(|value| !value.is_empty())),
            clock: Arc::new(natives::SystemClock),
            read_everything: false,
            observer: None,
            http_seed: None,
            wall_clock: None,
            fixtures: None,
        }
    }
}

/// A program ready to run.
pub struct Interpreter {
    pub program: Arc<ir::Program>,
    pub schema: Arc<Schema>,
    natives: Vec<NativeFn>,
    native_index: HashMap<String, u32>,
    secrets: Vec<Option<String>>,
    environment: Environment,
    clock: Arc<dyn Clock + Send + Sync>,
    observer: Option<CallObserver>,
    http_seed: Option<u64>,
    wall_clock: Option<integ_runtime::http::WallClock>,
    fixtures: Option<FixtureReader>,
}

/// Makes the endpoint calls nested in a flow's expressions (§ 12.5): the
/// flow runner gives its frame one (functions and maps cannot call
/// endpoints, so no other frame needs it).
pub trait EndpointCalls: Send + Sync {
    /// Calls `api.endpoint`; a failure is kept by the implementation (for
    /// the flow's `on_exhausted`) and reported here as an [`EvalError`].
    fn call(&self, interpreter: &Interpreter, api: u32, endpoint: u32, args: Vec<Value>) -> Result<Value, EvalError>;
}

thread_local! {
    /// The runtime that drives the HTTP calls of flow runs on this thread,
    /// when one is installed ([`drive_calls_with`]).
    static DRIVER: std::cell::RefCell<Option<Arc<tokio::runtime::Runtime>>> = const { std::cell::RefCell::new(None) };
}

/// Makes the flow runs of this thread drive `runtime` themselves
/// (`Runtime::block_on`) instead of blocking on their host's handle, until
/// the guard is dropped. `integ test` installs a current-thread runtime on
/// paused time: its stand-ins run on the same thread as the calls, so the
/// clock jumps over every wait (a backoff, a `Retry-After`, a timeout) as
/// soon as nothing else can happen, and a test of retries takes no real time.
pub fn drive_calls_with(runtime: Arc<tokio::runtime::Runtime>) -> DriverGuard {
    DRIVER.with(|driver| *driver.borrow_mut() = Some(runtime));
    DriverGuard(())
}

/// Uninstalls the runtime of [`drive_calls_with`] when dropped.
pub struct DriverGuard(());

impl Drop for DriverGuard {
    fn drop(&mut self) {
        DRIVER.with(|driver| driver.borrow_mut().take());
    }
}

/// Runs `future` to completion: on this thread's runtime when
/// [`drive_calls_with`] installed one, else on `handle`.
pub(crate) fn block_on<F: std::future::Future>(handle: &tokio::runtime::Handle, future: F) -> F::Output {
    match DRIVER.with(|driver| driver.borrow().clone()) {
        Some(runtime) => runtime.block_on(future),
        None => handle.block_on(future),
    }
}

/// The slots of one function call, and how deep the call is.
pub struct Frame {
    pub slots: Vec<Value>,
    depth: u32,
    /// Set in a flow's frame only.
    calls: Option<Arc<dyn EndpointCalls>>,
}

impl Frame {
    pub fn new(size: u32) -> Frame {
        Frame { slots: vec![Value::None; size as usize], depth: 0, calls: None }
    }

    /// A flow's frame: endpoint calls nested in its expressions go to `calls`.
    pub fn with_calls(size: u32, calls: Arc<dyn EndpointCalls>) -> Frame {
        Frame { slots: vec![Value::None; size as usize], depth: 0, calls: Some(calls) }
    }

    pub fn set(&mut self, slot: u32, value: Value) {
        let index = slot as usize;
        if index >= self.slots.len() {
            self.slots.resize(index + 1, Value::None);
        }
        self.slots[index] = value;
    }

    pub fn get(&self, slot: u32) -> Value {
        self.slots.get(slot as usize).cloned().unwrap_or_default()
    }
}

/// Function values (`Value::Function`) carry what they call in their number:
/// the top two bits say lambda, user function or native; the rest is the index.
const LAMBDA: u32 = 0;
const USER: u32 = 1 << 30;
const NATIVE: u32 = 2 << 30;
const INDEX: u32 = (1 << 30) - 1;

impl Interpreter {
    pub fn new(program: ir::Program, options: Options) -> Result<Interpreter, StartError> {
        let everything = options.read_everything;
        let schema = schema::schema(&program.types, |record, field| everything || program.is_read(record, field));
        let mut natives = Vec::new();
        let mut native_index = HashMap::new();
        let mut names: Vec<&String> = program.natives.keys().collect();
        names.sort();
        for name in names {
            let implementation = natives::lookup(name).ok_or_else(|| StartError::MissingNative(name.clone()))?;
            native_index.insert(name.clone(), natives.len() as u32);
            natives.push(implementation);
        }
        let secrets = program
            .secrets
            .iter()
            .map(|secret| (options.environment)(&secret.variable).or_else(|| secret.default.clone()))
            .collect();
        Ok(Interpreter {
            program: Arc::new(program),
            schema: Arc::new(schema),
            natives,
            native_index,
            secrets,
            environment: options.environment,
            clock: options.clock,
            observer: options.observer,
            http_seed: options.http_seed,
            wall_clock: options.wall_clock,
            fixtures: options.fixtures,
        })
    }

    /// The runtime description of a checked type.
    pub fn desc(&self, ty: &Ty) -> TypeDesc {
        schema::desc(ty)
    }

    /// The values of secrets that are set, for redaction.
    pub fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().flatten().map(String::as_str)
    }

    /// Secrets the program declares that have neither a value nor a default.
    pub fn missing_secrets(&self) -> Vec<(String, String)> {
        self.program
            .secrets
            .iter()
            .zip(&self.secrets)
            .filter(|(_, value)| value.is_none())
            .map(|(secret, _)| (secret.name.clone(), secret.variable.clone()))
            .collect()
    }

    /// Calls a function or map by name with arguments in parameter order
    /// (omitted trailing ones take their defaults).
    pub fn call(&self, name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
        match self.program.by_name.get(name) {
            Some(Callee::User(index)) => self.call_user(*index, args, 0),
            Some(Callee::Native(native)) => self.call_native(native, &mut Frame::new(0), &args),
            None => Err(EvalError::Other(format!("no function or map `{name}`"))),
        }
    }

    fn call_user(&self, index: u32, mut args: Vec<Value>, depth: u32) -> Result<Value, EvalError> {
        let function = self
            .program
            .functions
            .get(index as usize)
            .ok_or_else(|| EvalError::Other(format!("no function number {index}")))?;
        if depth >= MAX_CALL_DEPTH {
            return Err(EvalError::Other(format!(
                "`{}`: functions called each other more than {MAX_CALL_DEPTH} levels deep",
                function.name
            )));
        }
        // Omitted arguments take their defaults, evaluated in the callee's frame.
        let mut frame =
            Frame { slots: Vec::with_capacity(function.frame_size as usize), depth: depth + 1, calls: None };
        for position in args.len()..function.params.len() {
            let value = match function.defaults.get(position).cloned().flatten() {
                Some(default) => self.eval(&mut Frame::new(0), &default)?,
                None => Value::None,
            };
            args.push(value);
        }
        frame.slots.extend(args);
        frame.slots.resize(function.frame_size.max(function.params.len() as u32) as usize, Value::None);
        self.eval(&mut frame, &function.body)
    }

    fn call_native(&self, name: &str, frame: &mut Frame, args: &[Value]) -> Result<Value, EvalError> {
        let index = *self.native_index.get(name).ok_or_else(|| EvalError::Other(format!("no native `{name}`")))?;
        self.call_native_index(index, frame, args)
    }

    fn call_native_index(&self, index: u32, frame: &mut Frame, args: &[Value]) -> Result<Value, EvalError> {
        let implementation =
            *self.natives.get(index as usize).ok_or_else(|| EvalError::Other(format!("no native {index}")))?;
        let mut call = |function: &Value, args: &[Value]| self.call_value(frame, function, args);
        let mut context = natives::Context { schema: &self.schema, clock: &*self.clock, call: &mut call };
        implementation(&mut context, args)
    }

    /// Calls a function value: a lambda (in the current frame), a function or a native.
    fn call_value(&self, frame: &mut Frame, function: &Value, args: &[Value]) -> Result<Value, EvalError> {
        let Value::Function(code) = function else {
            return Err(EvalError::Other(format!("a {} is not a function", function.kind())));
        };
        let index = code & INDEX;
        match code & !INDEX {
            LAMBDA => {
                let lambda = self
                    .program
                    .lambdas
                    .get(index as usize)
                    .ok_or_else(|| EvalError::Other(format!("no lambda number {index}")))?;
                for (slot, value) in lambda.params.iter().zip(args) {
                    frame.set(*slot, value.clone());
                }
                self.eval(frame, &lambda.body)
            }
            USER => self.call_user(index, args.to_vec(), frame.depth),
            _ => self.call_native_index(index, frame, args),
        }
    }

    fn function_value(&self, callee: &Callee) -> Result<Value, EvalError> {
        match callee {
            Callee::User(index) => Ok(Value::Function(USER | index)),
            Callee::Native(name) => match self.native_index.get(name) {
                Some(index) => Ok(Value::Function(NATIVE | index)),
                None => Err(EvalError::Other(format!("no native `{name}`"))),
            },
        }
    }

    fn secret(&self, index: u32) -> Result<Value, EvalError> {
        match self.secrets.get(index as usize) {
            Some(Some(value)) => Ok(Value::string(value.as_str())),
            _ => {
                let variable =
                    self.program.secrets.get(index as usize).map(|secret| secret.variable.clone()).unwrap_or_default();
                Err(EvalError::Other(format!("secret not set: the environment variable `{variable}` is empty")))
            }
        }
    }

    fn env(&self, variable: &str, default: Option<&str>) -> Result<Value, EvalError> {
        match (self.environment)(variable).or_else(|| default.map(str::to_owned)) {
            Some(value) => Ok(Value::string(value)),
            None => Err(EvalError::Other(format!("the environment variable `{variable}` is not set"))),
        }
    }

    pub fn clock(&self) -> &(dyn Clock + Send + Sync) {
        &*self.clock
    }
}

/// The result of evaluating one expression in the context of a program.
pub struct Evaluation {
    pub analysis: crate::Analysis,
    /// `None` when the expression did not check (see the analysis' diagnostics).
    pub value: Option<Result<Value, EvalError>>,
}

/// The name given to the expression's synthetic file in diagnostics.
pub const EXPRESSION_FILE: &str = "<expression>";

/// Evaluates `expression` (a pure expression: no endpoint calls) with the
/// declarations of `context` (a file path, read through `loader`) and of the
/// standard library modules `imports` (such as `std/hash`) in scope. The
/// value comes back as `Json`.
pub fn evaluate(
    context: Option<&str>,
    imports: &[&str],
    expression: &str,
    loader: &mut dyn crate::program::Loader,
    options: Options,
) -> Result<Evaluation, StartError> {
    let directory = context.and_then(|path| path.rfind('/').map(|slash| &path[..slash])).unwrap_or(".");
    let mut source = String::new();
    if let Some(path) = context {
        let file = path.rsplit('/').next().unwrap_or(path);
        source.push_str(&format!("import \"./{file}\"\n"));
    }
    for module in imports {
        source.push_str(&format!("import \"{module}\"\n"));
    }
    // The expression on its own line, so diagnostics show it alone.
    source.push_str("fn __integ_eval__() -> Json = (\n");
    source.push_str(expression);
    source.push_str("\n)\n");
    let root = format!("{directory}/{EXPRESSION_FILE}");
    let program = crate::program::load_text(&root, &source, loader);
    let mut checked = crate::check::check(&program);
    // Warnings about the synthetic file (an import the expression does not use) are noise here.
    checked.diagnostics.retain(|diagnostic| diagnostic.is_error());
    let analysis = crate::Analysis { program, checked };
    if analysis.diagnostics().iter().any(|diagnostic| diagnostic.is_error()) {
        return Ok(Evaluation { analysis, value: None });
    }
    let lowered = crate::ir::lower::lower(&analysis.program, &analysis.checked);
    let interpreter = Interpreter::new(lowered, options)?;
    let value = interpreter.call("__integ_eval__", Vec::new());
    Ok(Evaluation { analysis, value: Some(value) })
}
