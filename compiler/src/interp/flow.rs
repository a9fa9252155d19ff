//! Running flows (§ 12 of spec.md): statements, records and replays, over
//! the runtime's bookkeeping of a run.
//!
//! In: a [`Host`] (the interpreter, its connected apis, a state store and a
//! tokio runtime handle) and the name of a flow. Out: a [`Report`] of the
//! run, with the store holding its checkpoints, dead letters and history.
//!
//! A run is synchronous: it executes one statement at a time and blocks on
//! each HTTP call (`Handle::block_on`, or the runtime `integ test` installs
//! with [`super::drive_calls_with`]), so it must run on a thread of its own
//! (`std::thread::spawn` or `tokio::task::spawn_blocking`), never on a
//! runtime worker. Expressions are evaluated by the interpreter over the
//! flow's frame; endpoint calls nested in them go through the frame's
//! [`EndpointCalls`].
//!
//! Only evaluation is done here. The bookkeeping — commit points,
//! checkpoints every `batch`, dedupe keys, what a failure's action does to
//! its unit of work, dead letters, counters, the run's end and history — is
//! the runtime's [`Bookkeeping`], the one generated flows run on too. The
//! working state is the first `states.len()` slots of the frame: at each
//! commit point (the end of a top-level record, the end of the run) it is
//! encoded (state name → JSON text) and handed over, as generated code
//! hands over its typed locals (§ 12.8).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use integ_runtime::run::Live;
use integ_runtime::run::{
    Action as UnitAction, Bookkeeping, Control, Delivery, Failed, Letter, LogLevel as RunLogLevel, RunConfig, RunEnded,
    RunMode, Unit,
};
use integ_runtime::store::{
    Counters, DeadLetter, DeadLetterId, Failure, QueuedEvent, RunId, RunOutcome, Store, StoreError, Trigger, UnitInput,
    UnitKind,
};
use integ_runtime::{EvalError, Value, decode, encode};
use jiff::Timestamp;
use tokio::runtime::Handle;

use super::calls::{Apis, CallFailure, Item, Outcome, Stream};
use super::{EndpointCalls, Frame, Interpreter};
use crate::check::policy::OnExhausted;
use crate::ir::Expr;
use crate::ir::flow::{Action, Catch, Flow, For, Location, LogLevel, Source, Stmt, StmtKind};

/// What flows run with: shared by every run of a process.
pub struct Host {
    pub interpreter: Arc<Interpreter>,
    pub apis: Arc<Apis>,
    pub store: Arc<dyn Store>,
    /// The runtime the HTTP calls run on (a multi-thread one).
    pub handle: Handle,
}

/// How a run ended, for the operator.
#[derive(Clone, Debug)]
pub struct Report {
    pub flow: String,
    pub run: RunId,
    pub trigger: Trigger,
    pub outcome: RunOutcome,
    pub counters: Counters,
    pub retries: u64,
    pub duration: Duration,
    /// Why a failed run failed (with the flow, file and line).
    pub error: Option<String>,
    /// Stopped early by a signal (the outcome is that of what ran).
    pub interrupted: bool,
    /// The dead letters stored by this run.
    pub dead_letters: Vec<DeadLetterId>,
    pub checkpoints: u64,
    /// Time spent writing checkpoints.
    pub checkpoint_time: Duration,
}

impl Report {
    fn new(flow: &Flow, ended: RunEnded) -> Report {
        Report {
            flow: flow.name.clone(),
            run: ended.run,
            trigger: ended.trigger,
            outcome: ended.outcome,
            counters: ended.counters,
            retries: ended.retries,
            duration: ended.duration,
            error: ended.error,
            interrupted: ended.interrupted,
            dead_letters: ended.dead_letters,
            checkpoints: ended.checkpoints,
            checkpoint_time: ended.checkpoint_time,
        }
    }
}

/// Why a run could not start, or a replay could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the program has no flow `{0}`")]
    UnknownFlow(String),
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("no dead letter {0}")]
    UnknownDeadLetter(String),
    #[error("{0}")]
    Replay(String),
}

/// What a run is asked to do.
pub struct Request<'a> {
    pub flow: &'a str,
    pub trigger: Trigger,
    /// The payload of a webhook flow, and its raw body (for dead letters).
    pub payload: Option<(Value, Vec<u8>)>,
    /// The counters as the run goes, for a progress line (§ 12.10), and the
    /// retries of its calls.
    pub live: Arc<Live>,
    /// Set by a signal: no new top-level record starts; the run checkpoints and ends.
    pub stop: &'a AtomicBool,
}

/// Runs a flow once (blocking: see the module documentation).
pub fn run(host: &Host, request: Request<'_>) -> Result<Report, RunError> {
    run_in(host, request, RunMode::Run, None).map(|(report, _)| report)
}

/// Runs a webhook flow on one event of its queue (§ 12.3), blocking like
/// [`run`]. The event is the unit of work and of durability: the run's one
/// checkpoint, at its end, removes the event from the queue and records its
/// delivery key. A run that fails, or an event that no longer decodes as
/// the payload type, is moved to the dead letters with its headers and raw
/// body. Nothing interrupts an event's run: a signal is seen between events.
pub fn run_event(host: &Host, event: &QueuedEvent, live: Arc<Live>) -> Result<Report, RunError> {
    let flow = find_flow(host, &event.flow)?;
    let payload = match &flow.payload {
        Some((name, ty)) => {
            let interpreter = &host.interpreter;
            let json = integ_runtime::webhook::body::event_json(&event.headers, &event.body);
            decode::json(&json, &interpreter.desc(ty), &interpreter.schema, name)
                .map_err(|error| format!("the event no longer decodes as the payload: {error}"))
        }
        None => Err(format!("`{}` is not a webhook flow", flow.name)),
    };
    let delivery = Delivery::from(event.clone());
    let unit = EventUnit { delivery, payload };
    let never = AtomicBool::new(false);
    let request = Request { flow: &flow.name, trigger: Trigger::Webhook, payload: None, live, stop: &never };
    run_in(host, request, RunMode::Run, Some(unit)).map(|(report, _)| report)
}

/// The program's flow `name`.
fn find_flow<'h>(host: &'h Host, name: &str) -> Result<&'h Flow, RunError> {
    host.interpreter
        .program
        .flows
        .iter()
        .find(|flow| flow.name == name)
        .ok_or_else(|| RunError::UnknownFlow(name.to_owned()))
}

/// The queued event a webhook run processes.
struct EventUnit {
    delivery: Delivery,
    /// The payload, or why the body no longer decodes.
    payload: Result<Value, String>,
}

/// Runs a flow; with [`RunMode::ReplayRun`], also says why the run or event
/// unit failed again, if it did (its dead letter is not stored twice).
fn run_in(
    host: &Host,
    request: Request<'_>,
    mode: RunMode,
    event: Option<EventUnit>,
) -> Result<(Report, Option<String>), RunError> {
    let flow = find_flow(host, request.flow)?;
    let mut run = Runner::start(host, flow, request.trigger, request.live, request.stop, mode)?;
    let payload = event.map(|event| {
        // A webhook event counts as one record read (§ 12.10).
        run.book.set_event(event.delivery);
        event.payload
    });
    let result = match run.load_state() {
        Ok(()) => match payload {
            Some(Ok(value)) => {
                run.frame.set(flow.states.len() as u32, value);
                run.exec(&flow.body)
            }
            Some(Err(message)) => {
                let states = run.encode_states();
                run.book.undecodable(&flow.location.to_string(), message, states)
            }
            None => {
                if let (Some((value, body)), Some(_)) = (request.payload, &flow.payload) {
                    // An event given directly counts as one record read too (§ 12.10).
                    run.book.set_event(body);
                    run.frame.set(flow.states.len() as u32, value);
                }
                run.exec(&flow.body)
            }
        },
        Err(failed) => Err(failed),
    };
    let failed_again = run.book.failed_again().map(str::to_owned);
    Ok((run.finish(result), failed_again))
}

/// What a replay did.
#[derive(Clone, Debug)]
pub struct Replayed {
    pub report: Report,
    /// The record or run went through: the dead letter was deleted.
    pub delivered: bool,
    /// Why it did not, when it did not.
    pub error: Option<String>,
}

/// Replays a dead letter (`integ deadletters replay`): a record runs
/// through the body of its `for` again, with the names it saw from outside
/// the loop as they were; a run or event runs the flow again. Delivered, the
/// dead letter is deleted; failed again, it stays (its replay counted) and
/// no second dead letter is stored. State assignments of a replayed record
/// are not saved: the flow's cursor has moved on since.
pub fn replay(host: &Host, id: DeadLetterId, live: Arc<Live>, stop: &AtomicBool) -> Result<Replayed, RunError> {
    let letter = host.store.dead_letter(id)?.ok_or_else(|| RunError::UnknownDeadLetter(id.to_string()))?;
    let flow = find_flow(host, &letter.flow)?;
    let replayed = match letter.record.unit {
        UnitKind::Record => replay_record(host, flow, &letter, live, stop),
        UnitKind::Run | UnitKind::Event => replay_run(host, flow, &letter, live, stop),
    };
    match &replayed {
        Ok(replayed) if replayed.delivered => {
            host.store.delete_dead_letter(id)?;
        }
        Ok(_) => {
            host.store.mark_replayed(id, Timestamp::now())?;
        }
        // Not replayed (the loop is gone, the event no longer decodes): the try counts.
        Err(_) => {
            let _ = host.store.mark_replayed(id, Timestamp::now());
        }
    }
    replayed
}

fn replay_run(
    host: &Host,
    flow: &Flow,
    letter: &DeadLetter,
    live: Arc<Live>,
    stop: &AtomicBool,
) -> Result<Replayed, RunError> {
    let payload = match (&letter.record.input, &flow.payload) {
        (UnitInput::Event { headers, body }, Some((name, ty))) => {
            let json = integ_runtime::webhook::body::event_json(headers, body);
            let value = decode::json(&json, &host.interpreter.desc(ty), &host.interpreter.schema, name)
                .map_err(|error| RunError::Replay(format!("the event no longer decodes: {error}")))?;
            Some((value, body.clone()))
        }
        _ => None,
    };
    let request = Request { flow: &flow.name, trigger: Trigger::Replay, payload, live, stop };
    let (report, failed_again) = run_in(host, request, RunMode::ReplayRun, None)?;
    let delivered = report.error.is_none() && !report.interrupted && failed_again.is_none();
    let error = report.error.clone().or(failed_again);
    Ok(Replayed { report, delivered, error })
}

fn replay_record(
    host: &Host,
    flow: &Flow,
    letter: &DeadLetter,
    live: Arc<Live>,
    stop: &AtomicBool,
) -> Result<Replayed, RunError> {
    let loop_id = letter.record.loop_id.as_deref().unwrap_or_default();
    let Some(found) = find_loop(&flow.body, loop_id) else {
        return Err(RunError::Replay(format!(
            "flow `{}` no longer has the loop `{loop_id}` this record came from; the dead letter is kept",
            flow.name
        )));
    };
    let UnitInput::Json(input) = &letter.record.input else {
        return Err(RunError::Replay("the dead letter holds no record".to_owned()));
    };
    let interpreter = &host.interpreter;
    let mut run = Runner::start(host, flow, Trigger::Replay, live, stop, RunMode::ReplayRecord)?;
    let prepared = run.load_state().and_then(|()| {
        let context: serde_json::Map<String, serde_json::Value> = match letter.record.context.as_deref() {
            Some(text) => serde_json::from_str(text).map_err(|error| Failed::new(format!("its context: {error}")))?,
            None => serde_json::Map::new(),
        };
        for (name, slot, ty) in &found.context {
            let Some(json) = context.get(name) else { continue };
            let value = decode::from_json(json, &interpreter.desc(ty), &interpreter.schema, name)
                .map_err(|error| Failed::new(format!("`{name}` no longer decodes: {error}")))?;
            run.frame.set(*slot, value);
        }
        Ok(())
    });
    let result = prepared.and_then(|()| {
        let item: Item =
            match decode::json(input.as_bytes(), &interpreter.desc(&found.item), &interpreter.schema, "record") {
                Ok(value) => Ok(value),
                Err(error) => {
                    Err(super::calls::BadRecord { raw: input.clone(), error: error.to_string(), url: String::new() })
                }
            };
        let streamed = match &found.source {
            Source::Stream { api, endpoint, .. } => Some((*api, *endpoint)),
            _ => None,
        };
        let control = run.record(found, item, streamed)?;
        run.commit()?;
        Ok(control)
    });
    let delivered = matches!(result, Ok(Control::Next | Control::Skip));
    let error = match &result {
        Ok(Control::DeadLettered) => run.book.last_error().map(str::to_owned),
        Err(failed) => Some(failed.message().to_owned()),
        _ => None,
    };
    let report = run.finish(result);
    Ok(Replayed { report, delivered, error })
}

/// The `for` statement with this id, anywhere in `statements`.
fn find_loop<'f>(statements: &'f [Stmt], id: &str) -> Option<&'f For> {
    statements.iter().find_map(|statement| match &statement.kind {
        StmtKind::For(found) if found.id == id => Some(&**found),
        StmtKind::For(found) => find_loop(&found.body, id),
        StmtKind::If { then, otherwise, .. } => find_loop(then, id).or_else(|| find_loop(otherwise, id)),
        _ => None,
    })
}

/// A value, or the end of the unit of work that was computing it.
enum Step {
    Value(Value),
    Control(Control),
}

/// A record being processed: the innermost is the unit of work.
struct Record<'f> {
    of: &'f For,
    value: Option<Value>,
    /// The raw JSON of a record that did not decode.
    raw: Option<String>,
}

/// The endpoint calls of one run, direct and nested; remembers the last
/// failure of a nested one (for the runner to handle).
struct Calls {
    apis: Arc<Apis>,
    handle: Handle,
    /// The run's counters: the calls count writes and retries.
    live: Arc<Live>,
    failure: Mutex<Option<(CallFailure, u32, u32)>>,
}

impl Calls {
    fn call(
        &self,
        interpreter: &Interpreter,
        api: u32,
        endpoint: u32,
        args: Vec<Value>,
    ) -> Result<Outcome, CallFailure> {
        super::block_on(&self.handle, interpreter.call_endpoint_counted(&self.apis, api, endpoint, args, &self.live))
    }

    fn next_page(&self, interpreter: &Interpreter, stream: &mut Stream) -> Option<Result<Vec<Item>, CallFailure>> {
        super::block_on(&self.handle, stream.next_items(interpreter, &self.live))
    }

    fn take_failure(&self) -> Option<(CallFailure, u32, u32)> {
        self.failure.lock().ok().and_then(|mut failure| failure.take())
    }
}

impl EndpointCalls for Calls {
    fn call(&self, interpreter: &Interpreter, api: u32, endpoint: u32, args: Vec<Value>) -> Result<Value, EvalError> {
        match Calls::call(self, interpreter, api, endpoint, args) {
            Ok(Outcome::Value(value)) => Ok(value),
            Ok(Outcome::Done) => Ok(Value::None),
            Ok(Outcome::Stream(_)) => Err(EvalError::Other("a stream is read only by a `for` loop".to_owned())),
            Err(failure) => {
                let message = failure.to_string();
                if let Ok(mut slot) = self.failure.lock() {
                    *slot = Some((failure, api, endpoint));
                }
                Err(EvalError::Other(message))
            }
        }
    }
}

/// One run of one flow: its evaluation, over the run's bookkeeping.
struct Runner<'h> {
    host: &'h Host,
    flow: &'h Flow,
    /// Committed state, dedupe keys, dead letters, checkpoints, counters.
    book: Bookkeeping,
    frame: Frame,
    calls: Arc<Calls>,
    stop: &'h AtomicBool,
    records: Vec<Record<'h>>,
}

impl<'h> Runner<'h> {
    fn start(
        host: &'h Host,
        flow: &'h Flow,
        trigger: Trigger,
        live: Arc<Live>,
        stop: &'h AtomicBool,
        mode: RunMode,
    ) -> Result<Runner<'h>, RunError> {
        let config = RunConfig {
            flow: flow.name.clone(),
            location: flow.location.to_string(),
            batch: flow.batch,
            trigger,
            mode,
            live: live.clone(),
            counts_retries: true,
        };
        let book = Bookkeeping::start(host.store.clone(), config)?;
        let calls =
            Arc::new(Calls { apis: host.apis.clone(), handle: host.handle.clone(), live, failure: Mutex::new(None) });
        let frame = Frame::with_calls(flow.frame_size, calls.clone());
        Ok(Runner { host, flow, book, frame, calls, stop, records: Vec::new() })
    }

    fn interpreter(&self) -> &'h Interpreter {
        &self.host.interpreter
    }

    /// The states from the store, or their initial values (§ 12.4).
    fn load_state(&mut self) -> Result<(), Failed> {
        self.book.load_states()?;
        let interpreter = self.interpreter();
        for (slot, state) in self.flow.states.iter().enumerate() {
            let value = match self.book.stored_state(&state.name) {
                Some(text) => {
                    decode::json(text.as_bytes(), &interpreter.desc(&state.ty), &interpreter.schema, &state.name)
                        .map_err(|error| {
                            let ty = interpreter.program.types.display(&state.ty).to_string();
                            self.book.undecodable_state(&state.name, &ty, error)
                        })?
                }
                None => interpreter
                    .eval(&mut Frame::new(state.init_frame_size), &state.init)
                    .map_err(|error| self.book.init_failed(&state.name, error))?,
            };
            self.frame.set(slot as u32, value);
        }
        let states = self.encode_states();
        self.book.loaded(states)
    }

    /// The working state, encoded as the store keeps it (state name → JSON text).
    fn encode_states(&self) -> Result<BTreeMap<String, String>, EvalError> {
        let interpreter = self.interpreter();
        let mut encoded = BTreeMap::new();
        for (state, value) in self.flow.states.iter().zip(&self.frame.slots) {
            let text = encode::json_string(value, &interpreter.desc(&state.ty), &interpreter.schema)
                .map_err(|error| EvalError::Other(format!("`{}`: {error}", state.name)))?;
            encoded.insert(state.name.clone(), text);
        }
        Ok(encoded)
    }

    /// Ends the run: the last commit point and checkpoint (or, for a failed
    /// run, the checkpoint of what was committed), then its history.
    fn finish(self, result: Result<Control, Failed>) -> Report {
        let states = self.encode_states();
        Report::new(self.flow, self.book.finish(result, states))
    }

    /// A commit point after a top-level record; a checkpoint every `batch` of them.
    fn commit(&mut self) -> Result<(), Failed> {
        let states = self.encode_states();
        self.book.commit(states)
    }

    // ----- Statements (§ 12.5) -----

    fn exec(&mut self, statements: &'h [Stmt]) -> Result<Control, Failed> {
        for statement in statements {
            let control = self.statement(statement)?;
            if control != Control::Next {
                return Ok(control);
            }
        }
        Ok(Control::Next)
    }

    fn statement(&mut self, statement: &'h Stmt) -> Result<Control, Failed> {
        match &statement.kind {
            StmtKind::Let { slot, value, catch } => match self.call_or_eval(statement, value, catch.as_ref())? {
                Step::Value(value) => {
                    self.frame.set(*slot, value);
                    Ok(Control::Next)
                }
                Step::Control(control) => Ok(control),
            },
            StmtKind::Assign { state, value } => match self.eval(statement, value)? {
                Step::Value(value) => {
                    self.frame.set(*state, value);
                    Ok(Control::Next)
                }
                Step::Control(control) => Ok(control),
            },
            StmtKind::Call { call, catch } => match self.call_or_eval(statement, call, catch.as_ref())? {
                Step::Value(_) => Ok(Control::Next),
                Step::Control(control) => Ok(control),
            },
            StmtKind::If { condition, then, otherwise } => match self.eval(statement, condition)? {
                Step::Value(Value::Bool(true)) => self.exec(then),
                Step::Value(_) => self.exec(otherwise),
                Step::Control(control) => Ok(control),
            },
            StmtKind::Skip => Ok(Control::Skip),
            StmtKind::Fail(message) => {
                let text = match self.eval(statement, message)? {
                    Step::Value(value) => encode::text(&value, &self.interpreter().schema),
                    Step::Control(control) => return Ok(control),
                };
                Err(self.book.fail(&statement.location.to_string(), &text))
            }
            StmtKind::Log { level, message, .. } => {
                let text = match self.eval(statement, message)? {
                    Step::Value(value) => encode::text(&value, &self.interpreter().schema),
                    Step::Control(control) => return Ok(control),
                };
                self.book.log(log_level(*level), &text);
                Ok(Control::Next)
            }
            StmtKind::For(each) => self.for_loop(statement, each),
        }
    }

    /// Evaluates an expression; a nested endpoint call that failed is
    /// handled by its endpoint's `on_exhausted`, a run-time error
    /// dead-letters the unit of work (§ 12.7).
    fn eval(&mut self, statement: &Stmt, expr: &Expr) -> Result<Step, Failed> {
        let interpreter = self.interpreter();
        // A failure is only ever this evaluation's.
        let _ = self.calls.take_failure();
        match interpreter.eval(&mut self.frame, expr) {
            Ok(value) => Ok(Step::Value(value)),
            Err(error) => match self.calls.take_failure() {
                Some((failure, api, endpoint)) => self.call_failed(statement, failure, None, api, endpoint),
                None => self.evaluation_failed(statement, error),
            },
        }
    }

    /// A statement's expression: an endpoint call (its `catch` applies) or any other.
    fn call_or_eval(&mut self, statement: &Stmt, expr: &Expr, catch: Option<&Catch>) -> Result<Step, Failed> {
        let Expr::Endpoint { api, endpoint, args } = expr else {
            return self.eval(statement, expr);
        };
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            match self.eval(statement, arg)? {
                Step::Value(value) => values.push(value),
                Step::Control(control) => return Ok(Step::Control(control)),
            }
        }
        match self.calls.call(self.interpreter(), *api, *endpoint, values) {
            Ok(Outcome::Value(value)) => Ok(Step::Value(value)),
            Ok(Outcome::Done) => Ok(Step::Value(Value::None)),
            Ok(Outcome::Stream(_)) => {
                self.evaluation_failed(statement, EvalError::Other("a stream is read only by a `for` loop".to_owned()))
            }
            Err(failure) => self.call_failed(statement, failure, catch, *api, *endpoint),
        }
    }

    fn for_loop(&mut self, statement: &'h Stmt, each: &'h For) -> Result<Control, Failed> {
        let interpreter = self.interpreter();
        let mut stream: Option<(Box<Stream>, u32, u32)> = None;
        let mut items: std::vec::IntoIter<Item> = Vec::new().into_iter();
        match &each.source {
            Source::List(expr) | Source::Json(expr) => match self.eval(statement, expr)? {
                Step::Value(value) => match elements(value) {
                    Ok(list) => items = list.into_iter(),
                    Err(message) => return self.evaluation_failed_control(statement, EvalError::Other(message)),
                },
                Step::Control(control) => return Ok(control),
            },
            Source::Stream { api, endpoint, args } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    match self.eval(statement, arg)? {
                        Step::Value(value) => values.push(value),
                        Step::Control(control) => return Ok(control),
                    }
                }
                match self.calls.call(interpreter, *api, *endpoint, values) {
                    Ok(Outcome::Stream(opened)) => stream = Some((opened, *api, *endpoint)),
                    Ok(_) => {}
                    Err(failure) => return Ok(control(self.call_failed(statement, failure, None, *api, *endpoint)?)),
                }
            }
        }
        let streamed = stream.as_ref().map(|(_, api, endpoint)| (*api, *endpoint));
        loop {
            if each.top_level && self.stop.load(Ordering::Relaxed) {
                return Ok(Control::Stop);
            }
            let item = match items.next() {
                Some(item) => item,
                None => {
                    let Some((open, api, endpoint)) = stream.as_mut() else { break };
                    match self.calls.next_page(interpreter, open) {
                        None => break,
                        Some(Ok(page)) => {
                            items = page.into_iter();
                            continue;
                        }
                        Some(Err(failure)) => {
                            let (api, endpoint) = (*api, *endpoint);
                            return Ok(control(self.call_failed(statement, failure, None, api, endpoint)?));
                        }
                    }
                }
            };
            let control = self.record(each, item, streamed)?;
            if control == Control::Stop {
                return Ok(Control::Stop);
            }
            if each.top_level {
                self.commit()?;
            }
        }
        Ok(Control::Next)
    }

    /// One record of a loop: `where`, `dedupe`, the body (§ 12.5). The
    /// result is how the record ended (`Skip` and `DeadLettered` end the
    /// record only: the loop goes on).
    fn record(&mut self, each: &'h For, item: Item, streamed: Option<(u32, u32)>) -> Result<Control, Failed> {
        if streamed.is_some() {
            self.book.count_read();
        }
        let control = match item {
            Err(bad) => {
                self.records.push(Record { of: each, value: None, raw: Some(bad.raw.clone()) });
                let (api, endpoint) = streamed.unwrap_or_default();
                let result = self.undecodable(each, &bad.error, api, endpoint);
                self.records.pop();
                result?
            }
            Ok(value) => {
                self.frame.set(each.slot, value.clone());
                self.records.push(Record { of: each, value: Some(value), raw: None });
                let result = self.record_body(each);
                self.records.pop();
                result?
            }
        };
        if control == Control::Skip && streamed.is_some() {
            self.book.count_skipped();
        }
        Ok(control)
    }

    fn record_body(&mut self, each: &'h For) -> Result<Control, Failed> {
        let location = &each_location(each);
        if let Some(filter) = &each.filter {
            match self.eval_at(location, filter)? {
                Step::Value(Value::Bool(true)) => {}
                Step::Value(_) => return Ok(Control::Skip),
                Step::Control(control) => return Ok(control),
            }
        }
        let mut key = None;
        if let Some(dedupe) = &each.dedupe {
            let value = match self.eval_at(location, dedupe)? {
                Step::Value(value) => value,
                Step::Control(control) => return Ok(control),
            };
            let text = match &value {
                Value::Json(json) => json.to_string(),
                other => encode::text(other, &self.interpreter().schema),
            };
            let hash = match self.content_hash(each) {
                Ok(hash) => hash,
                Err(error) => return Ok(control(self.evaluation_failed_at(location, error)?)),
            };
            if self.book.is_duplicate(&each.id, &text, &hash)? {
                return Ok(Control::Skip);
            }
            key = Some((text, hash));
        }
        let control = self.exec(&each.body)?;
        if matches!(control, Control::Next | Control::Skip)
            && let Some((text, hash)) = key
        {
            self.book.passed(&each.id, text, hash);
        }
        Ok(control)
    }

    /// The SHA-256 of the record's canonical JSON (§ 12.9).
    fn content_hash(&self, each: &For) -> Result<String, EvalError> {
        let interpreter = self.interpreter();
        let value = self.frame.get(each.slot);
        let json = encode::json_string(&value, &interpreter.desc(&each.item), &interpreter.schema)?;
        Ok(integ_runtime::natives::hash::sha256(&json))
    }

    fn eval_at(&mut self, location: &Location, expr: &Expr) -> Result<Step, Failed> {
        let statement = Stmt { kind: StmtKind::Skip, location: location.clone() };
        self.eval(&statement, expr)
    }

    // ----- Failures (§ 12.7) -----

    /// A stream record that did not decode: the stream endpoint's `on_exhausted`, for it alone.
    fn undecodable(&mut self, each: &For, error: &str, api: u32, endpoint: u32) -> Result<Control, Failed> {
        let (api_name, endpoint_name) = self.endpoint_names(api, endpoint);
        let message = format!("{api_name}.{endpoint_name}: a record does not decode: {error}");
        let failure = Failure {
            error: "Decode".to_owned(),
            api: Some(api_name),
            endpoint: Some(endpoint_name),
            status: None,
            message,
        };
        let letter = Letter {
            failure,
            attempts: 0,
            request: None,
            response: None,
            unit: self.unit(),
            states: self.encode_states(),
        };
        let action = self.on_exhausted(api, endpoint);
        self.book.unit_failed(&each_location(each).to_string(), action, letter)
    }

    /// A call failed: the first arm of `catch` that catches it decides, else
    /// the endpoint's `on_exhausted`.
    fn call_failed(
        &mut self,
        statement: &Stmt,
        failure: CallFailure,
        catch: Option<&Catch>,
        api: u32,
        endpoint: u32,
    ) -> Result<Step, Failed> {
        let (api_name, endpoint_name) = self.endpoint_names(api, endpoint);
        let arms: Vec<(Option<&str>, UnitAction)> = catch
            .map(|catch| catch.arms.iter().map(|arm| (arm.error.as_deref(), unit_action(arm.action))).collect())
            .unwrap_or_default();
        let on_exhausted = self.on_exhausted(api, endpoint);
        let (unit, states) = (self.unit(), self.encode_states());
        let location = statement.location.to_string();
        let endpoint = (api_name.as_str(), endpoint_name.as_str());
        let control = self.book.call_failed(&location, failure, &arms, on_exhausted, endpoint, unit, states)?;
        Ok(step(control))
    }

    fn evaluation_failed(&mut self, statement: &Stmt, error: EvalError) -> Result<Step, Failed> {
        self.evaluation_failed_at(&statement.location, error)
    }

    /// A run-time error of evaluation: the unit of work is dead-lettered.
    fn evaluation_failed_at(&mut self, location: &Location, error: EvalError) -> Result<Step, Failed> {
        let (unit, states) = (self.unit(), self.encode_states());
        let control = self.book.evaluation_failed(&location.to_string(), error, unit, states)?;
        Ok(step(control))
    }

    fn evaluation_failed_control(&mut self, statement: &Stmt, error: EvalError) -> Result<Control, Failed> {
        Ok(control(self.evaluation_failed(statement, error)?))
    }

    /// The unit of work a failure belongs to, for its dead letter: the
    /// innermost record (its JSON, or the raw JSON of one that did not
    /// decode, and the names it sees from outside its loop), else the run
    /// (or the event).
    fn unit(&self) -> Unit<'h> {
        let Some(record) = self.records.last() else { return Unit::Run };
        let interpreter = self.interpreter();
        let of: &'h For = record.of;
        let input = match (&record.value, &record.raw) {
            (_, Some(raw)) => raw.clone(),
            (Some(value), None) => encode::json_string(value, &interpreter.desc(&of.item), &interpreter.schema)
                .unwrap_or_else(|_| encode::text(value, &interpreter.schema)),
            (None, None) => String::new(),
        };
        let context: Vec<(&str, String)> = of
            .context
            .iter()
            .map(|(name, slot, ty)| {
                let value = self.frame.get(*slot);
                let text = encode::json_string(&value, &interpreter.desc(ty), &interpreter.schema)
                    .unwrap_or_else(|_| "null".to_owned());
                (name.as_str(), text)
            })
            .collect();
        Unit::Record { loop_id: &of.id, input, context: integ_runtime::run::context(&context) }
    }

    fn endpoint_names(&self, api: u32, endpoint: u32) -> (String, String) {
        let program = &self.interpreter().program;
        let api = program.apis.get(api as usize);
        let endpoint = api.and_then(|api| api.endpoints.get(endpoint as usize));
        (
            api.map(|api| api.name.clone()).unwrap_or_default(),
            endpoint.map(|endpoint| endpoint.name.clone()).unwrap_or_default(),
        )
    }

    /// The `on_exhausted` of the policy that applies to a call (§ 11.8).
    fn on_exhausted(&self, api: u32, endpoint: u32) -> UnitAction {
        let program = &self.interpreter().program;
        let api = program.apis.get(api as usize);
        let policy = api
            .and_then(|api| {
                api.endpoints.get(endpoint as usize).and_then(|endpoint| endpoint.policy).or(Some(api.policy))
            })
            .and_then(|index| program.policies.get(index as usize));
        match policy.map(|policy| policy.on_exhausted) {
            Some(OnExhausted::Skip) => UnitAction::Skip,
            Some(OnExhausted::Fail) => UnitAction::Fail,
            Some(OnExhausted::DeadLetter) | None => UnitAction::DeadLetter,
        }
    }
}

/// The control a step leaves (a value where a statement expected none goes on).
fn control(step: Step) -> Control {
    match step {
        Step::Value(_) => Control::Next,
        Step::Control(control) => control,
    }
}

/// What a handled failure leaves: an ignored one is the value `none`.
fn step(control: Control) -> Step {
    match control {
        Control::Next => Step::Value(Value::None),
        control => Step::Control(control),
    }
}

/// A `catch` arm's action, as the bookkeeping applies it.
fn unit_action(action: Action) -> UnitAction {
    match action {
        Action::Skip => UnitAction::Skip,
        Action::DeadLetter => UnitAction::DeadLetter,
        Action::Fail => UnitAction::Fail,
        Action::Ignore => UnitAction::Ignore,
    }
}

fn log_level(level: LogLevel) -> RunLogLevel {
    match level {
        LogLevel::Debug => RunLogLevel::Debug,
        LogLevel::Info => RunLogLevel::Info,
        LogLevel::Warn => RunLogLevel::Warn,
        LogLevel::Error => RunLogLevel::Error,
    }
}

/// Where a loop's `where` and `dedupe` are reported: the loop itself.
fn each_location(each: &For) -> Location {
    each.location.clone()
}

/// The elements a `for` over a list or a `Json` array iterates.
fn elements(value: Value) -> Result<Vec<Item>, String> {
    match value {
        Value::List(list) => Ok(list.iter().cloned().map(Ok).collect()),
        Value::None => Ok(Vec::new()),
        // The same elements, and the same error, as generated code iterates.
        Value::Json(json) => match integ_runtime::generated::flow::json_elements(Arc::unwrap_or_clone(json)) {
            Ok(elements) => Ok(elements.into_iter().map(|element| Ok(Value::Json(Arc::new(element)))).collect()),
            Err(error) => Err(error.to_string()),
        },
        other => Err(format!("`for` over a {}", other.kind())),
    }
}

// ---------------------------------------------------------------------------
// Schedules (§ 12.2)

/// When a scheduled flow runs next: for `every D`, D after its last start
/// (now when it never ran or that time has passed: runs missed while the
/// process was down are not caught up); for `cron`, the next matching time
/// after `now` (UTC). `None` for flows that are not scheduled, or a cron
/// expression with no future time.
pub fn next_start(trigger: &crate::ir::flow::Trigger, last: Option<Timestamp>, now: Timestamp) -> Option<Timestamp> {
    match trigger {
        crate::ir::flow::Trigger::Every(millis) => {
            let period = jiff::SignedDuration::from_millis(i64::try_from(*millis).ok()?);
            match last.and_then(|last| last.checked_add(period).ok()) {
                Some(due) if due > now => Some(due),
                _ => Some(now),
            }
        }
        crate::ir::flow::Trigger::Cron(expression) => {
            let fields = expression.split_whitespace().count();
            let cron = croner::parser::CronParser::builder()
                .seconds(if fields == 6 {
                    croner::parser::Seconds::Required
                } else {
                    croner::parser::Seconds::Disallowed
                })
                .year(croner::parser::Year::Disallowed)
                .build()
                .parse(expression)
                .ok()?;
            let zoned = now.to_zoned(jiff::tz::TimeZone::UTC);
            cron.find_next_occurrence(&zoned, false).ok().map(|next| next.timestamp())
        }
        crate::ir::flow::Trigger::Webhook | crate::ir::flow::Trigger::Manual => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::flow::Trigger as FlowTrigger;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn every_runs_at_once_when_never_run_or_overdue() {
        let now = at("2024-05-01T12:00:00Z");
        assert_eq!(next_start(&FlowTrigger::Every(300_000), None, now), Some(now));
        assert_eq!(next_start(&FlowTrigger::Every(300_000), Some(at("2024-05-01T11:50:00Z")), now), Some(now));
    }

    #[test]
    fn every_waits_for_the_period_after_the_last_start() {
        let now = at("2024-05-01T12:00:00Z");
        let next = next_start(&FlowTrigger::Every(300_000), Some(at("2024-05-01T11:58:00Z")), now);
        assert_eq!(next, Some(at("2024-05-01T12:03:00Z")));
    }

    #[test]
    fn cron_finds_the_next_matching_time_in_utc() {
        let now = at("2024-05-01T12:07:30Z");
        assert_eq!(next_start(&FlowTrigger::Cron("*/15 * * * *".into()), None, now), Some(at("2024-05-01T12:15:00Z")));
        assert_eq!(next_start(&FlowTrigger::Cron("0 2 * * *".into()), None, now), Some(at("2024-05-02T02:00:00Z")));
        assert_eq!(next_start(&FlowTrigger::Cron("30 * * * * *".into()), None, now), Some(at("2024-05-01T12:08:30Z")));
    }

    #[test]
    fn manual_and_webhook_flows_are_not_scheduled() {
        let now = at("2024-05-01T12:00:00Z");
        assert_eq!(next_start(&FlowTrigger::Manual, None, now), None);
        assert_eq!(next_start(&FlowTrigger::Webhook, None, now), None);
    }
}
