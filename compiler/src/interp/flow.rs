//! Running flows (§ 12 of spec.md): statements, records, commits,
//! checkpoints, dead letters and replays.
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
//! The working state is the first `states.len()` slots of the frame. At a
//! commit point (the end of a top-level record, the end of the run) it is
//! copied to the committed state, and the dedupe keys and dead letters of
//! the record join those waiting for the next checkpoint; every `batch`
//! commits, and at the end of every run, one [`Checkpoint`] writes them in
//! one transaction (§ 12.8).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integ_runtime::http::CallErrorKind;
use integ_runtime::store::{
    Checkpoint, Counters, DeadLetter, DeadLetterId, DeadLetterRecord, DedupeKey, EventId, Failure, QueuedEvent, RunEnd,
    RunId, RunOutcome, Store, StoreError, Trigger, UnitInput, UnitKind,
};
use integ_runtime::{EvalError, Value, decode, encode};
use jiff::Timestamp;
use tokio::runtime::Handle;

use super::calls::{Apis, CallFailure, CallStats, Item, Outcome, Stream};
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

/// The counters of a run as it goes, for a progress line (§ 12.10), plus
/// the retries its calls made.
#[derive(Debug, Default)]
pub struct Live {
    pub read: AtomicU64,
    pub skipped: AtomicU64,
    pub dead_letters: AtomicU64,
    /// `written` and `retries`, counted by the calls.
    pub calls: CallStats,
}

impl Live {
    pub fn counters(&self) -> Counters {
        Counters {
            read: self.read.load(Ordering::Relaxed),
            written: self.calls.written.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
        }
    }

    pub fn retries(&self) -> u64 {
        self.calls.retries.load(Ordering::Relaxed)
    }
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
    pub live: Arc<Live>,
    /// Set by a signal: no new top-level record starts; the run checkpoints and ends.
    pub stop: &'a AtomicBool,
}

/// Runs a flow once (blocking: see the module documentation).
pub fn run(host: &Host, request: Request<'_>) -> Result<Report, RunError> {
    run_in(host, request, Mode::Run, None).map(|(report, _)| report)
}

/// Runs a webhook flow on one event of its queue (§ 12.3), blocking like
/// [`run`]. The event is the unit of work and of durability: the run's one
/// checkpoint, at its end, removes the event from the queue and records its
/// delivery key. A run that fails, or an event that no longer decodes as
/// the payload type, is moved to the dead letters with its headers and raw
/// body. Nothing interrupts an event's run: a signal is seen between events.
pub fn run_event(host: &Host, event: &QueuedEvent, live: Arc<Live>) -> Result<Report, RunError> {
    let flow = host
        .interpreter
        .program
        .flows
        .iter()
        .find(|flow| flow.name == event.flow)
        .ok_or_else(|| RunError::UnknownFlow(event.flow.clone()))?;
    let payload = match &flow.payload {
        Some((name, ty)) => {
            let interpreter = &host.interpreter;
            let json = integ_runtime::webhook::body::event_json(&event.headers, &event.body);
            decode::json(&json, &interpreter.desc(ty), &interpreter.schema, name)
                .map_err(|error| format!("the event no longer decodes as the payload: {error}"))
        }
        None => Err(format!("`{}` is not a webhook flow", flow.name)),
    };
    let unit = EventUnit { id: event.id, headers: event.headers.clone(), body: event.body.clone(), payload };
    let never = AtomicBool::new(false);
    let request = Request { flow: &flow.name, trigger: Trigger::Webhook, payload: None, live, stop: &never };
    run_in(host, request, Mode::Run, Some(unit)).map(|(report, _)| report)
}

/// The event a webhook run processes.
struct EventUnit {
    id: EventId,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The payload, or why the body no longer decodes.
    payload: Result<Value, String>,
}

/// Runs a flow; with [`Mode::ReplayRun`], also says why the run or event
/// unit failed again, if it did (its dead letter is not stored twice).
fn run_in(
    host: &Host,
    request: Request<'_>,
    mode: Mode,
    event: Option<EventUnit>,
) -> Result<(Report, Option<String>), RunError> {
    let flow = host
        .interpreter
        .program
        .flows
        .iter()
        .find(|flow| flow.name == request.flow)
        .ok_or_else(|| RunError::UnknownFlow(request.flow.to_owned()))?;
    let mut run = Runner::start(host, flow, request.trigger, request.live, request.stop, mode)?;
    if let Some(event) = &event {
        // A webhook event counts as one record read (§ 12.10).
        run.live.read.fetch_add(1, Ordering::Relaxed);
        run.event = Some(event.id);
        run.event_headers = event.headers.clone();
        run.event_body = Some(event.body.clone());
    }
    let result = match run.load_state() {
        Ok(()) => match event.map(|event| event.payload) {
            Some(Ok(value)) => {
                run.frame.set(flow.states.len() as u32, value);
                run.exec(&flow.body)
            }
            Some(Err(message)) => {
                let location = flow.location.clone();
                let failure = Failure { error: "Decode".to_owned(), api: None, endpoint: None, status: None, message };
                let info = FailureInfo { failure, attempts: 0, request: None, response: None };
                run.apply(&location, Action::DeadLetter, info).map(control)
            }
            None => {
                if let (Some((value, body)), Some(_)) = (request.payload, &flow.payload) {
                    // An event given directly counts as one record read too (§ 12.10).
                    run.live.read.fetch_add(1, Ordering::Relaxed);
                    run.frame.set(flow.states.len() as u32, value);
                    run.event_body = Some(body);
                }
                run.exec(&flow.body)
            }
        },
        Err(failed) => Err(failed),
    };
    let failed_again = run.failed_again.take();
    Ok((run.finish(result), failed_again))
}

/// What a run is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Run,
    /// A run or event dead letter replayed: the flow runs as usual, but a
    /// dead letter of the run or event itself is not stored again.
    ReplayRun,
    /// A record dead letter replayed: its loop's body runs for it alone;
    /// `dedupe` lets it through, state assignments are not saved, and a
    /// dead letter is not stored again.
    ReplayRecord,
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
    let flow = host
        .interpreter
        .program
        .flows
        .iter()
        .find(|flow| flow.name == letter.flow)
        .ok_or_else(|| RunError::UnknownFlow(letter.flow.clone()))?;
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
    let (report, failed_again) = run_in(host, request, Mode::ReplayRun, None)?;
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
    let mut run = Runner::start(host, flow, Trigger::Replay, live, stop, Mode::ReplayRecord)?;
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
        Ok(Control::DeadLettered) => run.last_error.clone(),
        Err(failed) => Some(failed.message.clone()),
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

/// How a statement (or a record, or the body) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Control {
    /// Go on with the next statement.
    Next,
    /// The unit of work ends, skipped.
    Skip,
    /// The unit of work ends, dead-lettered.
    DeadLettered,
    /// A signal asked the run to stop: unwind to the end of the run.
    Stop,
}

/// The run fails (§ 12.11): the message names where and why.
#[derive(Debug)]
struct Failed {
    message: String,
}

impl Failed {
    fn new(message: impl Into<String>) -> Failed {
        Failed { message: message.into() }
    }
}

/// A value, or the end of the unit of work that was computing it.
enum Step {
    Value(Value),
    Control(Control),
}

/// Dedupe keys and dead letters waiting for a commit point or a checkpoint.
#[derive(Default)]
struct Pending {
    keys: Vec<DedupeKey>,
    dead_letters: Vec<DeadLetterRecord>,
}

/// A record being processed: the innermost is the unit of work.
struct Unit<'f> {
    of: &'f For,
    value: Option<Value>,
    /// The raw JSON of a record that did not decode.
    raw: Option<String>,
}

/// What a failed call or evaluation tells a dead letter.
struct FailureInfo {
    failure: Failure,
    attempts: u32,
    request: Option<integ_runtime::http::errors::RecordedRequest>,
    response: Option<integ_runtime::http::errors::RecordedResponse>,
}

/// The endpoint calls of one run, direct and nested; remembers the last
/// failure of a nested one (for the runner to handle).
struct Calls {
    apis: Arc<Apis>,
    handle: Handle,
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
        super::block_on(
            &self.handle,
            interpreter.call_endpoint_counted(&self.apis, api, endpoint, args, &self.live.calls),
        )
    }

    fn next_page(&self, interpreter: &Interpreter, stream: &mut Stream) -> Option<Result<Vec<Item>, CallFailure>> {
        super::block_on(&self.handle, stream.next_items(interpreter, &self.live.calls))
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

/// One run of one flow.
struct Runner<'h> {
    host: &'h Host,
    flow: &'h Flow,
    id: RunId,
    trigger: Trigger,
    started: Instant,
    frame: Frame,
    calls: Arc<Calls>,
    live: Arc<Live>,
    stop: &'h AtomicBool,
    mode: Mode,
    /// In a replay, why the replayed unit failed again (its dead letter not stored).
    failed_again: Option<String>,
    /// The committed state (§ 12.8).
    committed: Vec<Value>,
    /// Since the last commit point.
    pending: Pending,
    /// Committed since the last checkpoint.
    unsaved: Pending,
    /// The hashes of `unsaved.keys` and `pending.keys`, by loop and key.
    recent_keys: HashMap<(String, String), String>,
    since_checkpoint: u32,
    records: Vec<Unit<'h>>,
    event_body: Option<Vec<u8>>,
    /// The queued event a webhook run processes: it leaves the queue in the last checkpoint.
    event: Option<EventId>,
    /// Its headers (without signatures and credentials), for its dead letter.
    event_headers: Vec<(String, String)>,
    dead_letter_ids: Vec<DeadLetterId>,
    last_error: Option<String>,
    interrupted: bool,
    checkpoints: u64,
    checkpoint_time: Duration,
    /// The state values as the store holds them (encoded), to save only changes.
    saved_states: HashMap<String, String>,
    /// When the counters were last saved.
    counters_saved: Option<Instant>,
}

/// How often checkpoints save the run's counters.
const COUNTERS_EVERY: Duration = Duration::from_secs(1);

impl<'h> Runner<'h> {
    fn start(
        host: &'h Host,
        flow: &'h Flow,
        trigger: Trigger,
        live: Arc<Live>,
        stop: &'h AtomicBool,
        mode: Mode,
    ) -> Result<Runner<'h>, RunError> {
        let id = host.store.start_run(&flow.name, trigger, Timestamp::now())?;
        let calls = Arc::new(Calls {
            apis: host.apis.clone(),
            handle: host.handle.clone(),
            live: live.clone(),
            failure: Mutex::new(None),
        });
        let frame = Frame::with_calls(flow.frame_size, calls.clone());
        tracing::info!(flow = %flow.name, run = %id, trigger = %trigger, "{} started", flow.name);
        Ok(Runner {
            host,
            flow,
            id,
            trigger,
            started: Instant::now(),
            frame,
            calls,
            live,
            stop,
            mode,
            failed_again: None,
            committed: Vec::new(),
            pending: Pending::default(),
            unsaved: Pending::default(),
            recent_keys: HashMap::new(),
            since_checkpoint: 0,
            records: Vec::new(),
            event_body: None,
            event: None,
            event_headers: Vec::new(),
            dead_letter_ids: Vec::new(),
            last_error: None,
            interrupted: false,
            checkpoints: 0,
            checkpoint_time: Duration::ZERO,
            saved_states: HashMap::new(),
            counters_saved: None,
        })
    }

    fn interpreter(&self) -> &'h Interpreter {
        &self.host.interpreter
    }

    /// The states from the store, or their initial values (§ 12.4).
    fn load_state(&mut self) -> Result<(), Failed> {
        let stored = self
            .host
            .store
            .load_state(&self.flow.name)
            .map_err(|error| Failed::new(format!("{}: cannot read its state: {error}", self.flow.name)))?;
        let interpreter = self.interpreter();
        self.saved_states = stored.clone();
        for (slot, state) in self.flow.states.iter().enumerate() {
            let value = match stored.get(&state.name) {
                Some(text) => decode::json(text.as_bytes(), &interpreter.desc(&state.ty), &interpreter.schema, &state.name)
                    .map_err(|error| {
                        Failed::new(format!(
                            "{} ({}): the stored state `{}` no longer decodes as `{}`: {error}; start it afresh with `integ run --reset-state {}`",
                            self.flow.name,
                            self.flow.location,
                            state.name,
                            interpreter.program.types.display(&state.ty),
                            self.flow.name
                        ))
                    })?,
                None => interpreter
                    .eval(&mut Frame::new(state.init_frame_size), &state.init)
                    .map_err(|error| Failed::new(format!("{}: the initial value of `{}`: {error}", self.flow.name, state.name)))?,
            };
            self.frame.set(slot as u32, value);
        }
        self.committed = self.working_state();
        Ok(())
    }

    fn working_state(&self) -> Vec<Value> {
        self.frame.slots.iter().take(self.flow.states.len()).cloned().collect()
    }

    /// Ends the run: the last commit point and checkpoint (or, for a failed
    /// run, the checkpoint of what was committed), then its history.
    fn finish(mut self, result: Result<Control, Failed>) -> Report {
        let mut error = None;
        match result {
            Ok(control) => {
                // A stop comes between top-level records: what ran is committed.
                self.interrupted = control == Control::Stop;
                self.commit_point();
            }
            Err(failed) => {
                // The working state goes back to the last commit point.
                self.pending = Pending::default();
                // A failed event goes to the dead letters, so that it can be replayed (§ 12.3).
                if self.event.is_some() && self.mode == Mode::Run {
                    let failure = Failure {
                        error: "Failed".to_owned(),
                        api: None,
                        endpoint: None,
                        status: None,
                        message: failed.message.clone(),
                    };
                    self.records.clear();
                    let record = self.dead_letter(FailureInfo { failure, attempts: 0, request: None, response: None });
                    tracing::warn!(
                        flow = %self.flow.name, run = %self.id,
                        "the event is dead-lettered as {}", record.id
                    );
                    self.live.dead_letters.fetch_add(1, Ordering::Relaxed);
                    self.unsaved.dead_letters.push(record);
                }
                error = Some(failed.message);
            }
        }
        if let Err(failed) = self.checkpoint(true) {
            error.get_or_insert(failed.message);
        }
        let counters = self.counters();
        let outcome = match (&error, counters.dead_letters) {
            (Some(_), _) => RunOutcome::Failed,
            (None, 0) => RunOutcome::Completed,
            (None, _) => RunOutcome::CompletedWithDeadLetters,
        };
        let history_error = error.clone().or_else(|| self.interrupted.then(|| "stopped by a signal".to_owned()));
        let end = RunEnd { at: Timestamp::now(), outcome, counters, error: history_error };
        if let Err(store_error) = self.host.store.finish_run(self.id, &end) {
            tracing::error!(flow = %self.flow.name, run = %self.id, "cannot record the end of the run: {store_error}");
        }
        let duration = self.started.elapsed();
        let summary = format!(
            "read {}, written {}, skipped {}, dead letters {}, retries {}",
            counters.read,
            counters.written,
            counters.skipped,
            counters.dead_letters,
            self.live.retries()
        );
        match (&error, self.interrupted) {
            (Some(message), _) => {
                tracing::error!(flow = %self.flow.name, run = %self.id, "{} failed: {message}; {summary}", self.flow.name)
            }
            (None, true) => tracing::info!(
                flow = %self.flow.name, run = %self.id,
                "{} stopped by a signal, state saved: {summary}", self.flow.name
            ),
            (None, false) => tracing::info!(
                flow = %self.flow.name, run = %self.id,
                "{} {}: {summary}", self.flow.name, outcome
            ),
        }
        Report {
            flow: self.flow.name.clone(),
            run: self.id,
            trigger: self.trigger,
            outcome,
            counters,
            retries: self.live.retries(),
            duration,
            error,
            interrupted: self.interrupted,
            dead_letters: std::mem::take(&mut self.dead_letter_ids),
            checkpoints: self.checkpoints,
            checkpoint_time: self.checkpoint_time,
        }
    }

    fn counters(&self) -> Counters {
        self.live.counters()
    }

    // ----- Commits and checkpoints (§ 12.8) -----

    /// A commit point: the working state, the record's keys and dead letters become committed.
    fn commit_point(&mut self) {
        // Dead letters count once committed (a failing run discards its record's).
        self.live.dead_letters.fetch_add(self.pending.dead_letters.len() as u64, Ordering::Relaxed);
        if self.mode != Mode::ReplayRecord {
            self.committed = self.working_state();
        }
        self.unsaved.keys.append(&mut self.pending.keys);
        self.unsaved.dead_letters.append(&mut self.pending.dead_letters);
    }

    /// A commit point after a top-level record; a checkpoint every `batch` of them.
    fn commit(&mut self) -> Result<(), Failed> {
        self.commit_point();
        self.since_checkpoint += 1;
        // In a webhook flow the event is the unit of durability: one checkpoint at its end.
        if self.since_checkpoint >= self.flow.batch && self.event_body.is_none() {
            self.checkpoint(false)?;
        }
        Ok(())
    }

    fn checkpoint(&mut self, final_checkpoint: bool) -> Result<(), Failed> {
        let started = Instant::now();
        let mut checkpoint = Checkpoint::new(self.id, Timestamp::now());
        if self.mode != Mode::ReplayRecord {
            // Only the states that changed since they were last saved.
            let mut encoded = self.encode_states(&self.committed)?;
            encoded.retain(|name, value| self.saved_states.get(name) != Some(value));
            checkpoint.state = encoded;
        }
        if final_checkpoint {
            checkpoint.event = self.event;
        }
        checkpoint.dedupe_keys = std::mem::take(&mut self.unsaved.keys);
        checkpoint.dead_letters = std::mem::take(&mut self.unsaved.dead_letters);
        // Counters are for the operator: saved at most once a second, and
        // exactly at the end of the run (`finish_run`).
        if self.counters_saved.is_none_or(|saved| saved.elapsed() >= COUNTERS_EVERY) || final_checkpoint {
            checkpoint.counters = Some(self.counters());
            self.counters_saved = Some(Instant::now());
        }
        if let Err(error) = self.host.store.checkpoint(&self.flow.name, &checkpoint) {
            // Nothing of it was written: its keys and dead letters wait for the next one.
            self.unsaved.keys = checkpoint.dedupe_keys;
            self.unsaved.dead_letters = checkpoint.dead_letters;
            return Err(Failed::new(format!("{}: cannot save a checkpoint: {error}", self.flow.name)));
        }
        self.dead_letter_ids.extend(checkpoint.dead_letters.iter().map(|letter| letter.id));
        self.saved_states.extend(checkpoint.state);
        // Keys now in the store are looked up there; those of the record in flight stay.
        self.recent_keys.retain(|(loop_id, key), _| {
            self.pending.keys.iter().any(|pending| pending.loop_id == *loop_id && pending.key == *key)
        });
        self.since_checkpoint = 0;
        self.checkpoints += 1;
        self.checkpoint_time += started.elapsed();
        Ok(())
    }

    fn encode_states(&self, values: &[Value]) -> Result<BTreeMap<String, String>, Failed> {
        let interpreter = self.interpreter();
        let mut encoded = BTreeMap::new();
        for (state, value) in self.flow.states.iter().zip(values) {
            let text =
                encode::json_string(value, &interpreter.desc(&state.ty), &interpreter.schema).map_err(|error| {
                    Failed::new(format!("{}: state `{}` cannot be saved: {error}", self.flow.name, state.name))
                })?;
            encoded.insert(state.name.clone(), text);
        }
        Ok(encoded)
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
                Err(Failed::new(format!("{} ({}): {text}", self.flow.name, statement.location)))
            }
            StmtKind::Log { level, message, .. } => {
                let text = match self.eval(statement, message)? {
                    Step::Value(value) => encode::text(&value, &self.interpreter().schema),
                    Step::Control(control) => return Ok(control),
                };
                let text = integ_runtime::secret::redact(&text);
                let (flow, run) = (&self.flow.name, self.id);
                match level {
                    LogLevel::Debug => tracing::debug!(flow = %flow, run = %run, "{text}"),
                    LogLevel::Info => tracing::info!(flow = %flow, run = %run, "{text}"),
                    LogLevel::Warn => tracing::warn!(flow = %flow, run = %run, "{text}"),
                    LogLevel::Error => tracing::error!(flow = %flow, run = %run, "{text}"),
                }
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
            self.live.read.fetch_add(1, Ordering::Relaxed);
        }
        let control = match item {
            Err(bad) => {
                self.records.push(Unit { of: each, value: None, raw: Some(bad.raw.clone()) });
                let (api, endpoint) = streamed.unwrap_or_default();
                let result = self.undecodable(each, &bad.error, api, endpoint);
                self.records.pop();
                result?
            }
            Ok(value) => {
                self.frame.set(each.slot, value.clone());
                self.records.push(Unit { of: each, value: Some(value), raw: None });
                let result = self.record_body(each);
                self.records.pop();
                result?
            }
        };
        if control == Control::Skip && streamed.is_some() {
            self.live.skipped.fetch_add(1, Ordering::Relaxed);
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
            if self.mode != Mode::ReplayRecord && self.is_duplicate(&each.id, &text, &hash)? {
                return Ok(Control::Skip);
            }
            key = Some(DedupeKey::new(each.id.clone(), text, hash));
        }
        let control = self.exec(&each.body)?;
        if matches!(control, Control::Next | Control::Skip)
            && let Some(key) = key
        {
            self.recent_keys.insert((key.loop_id.clone(), key.key.clone()), key.hash.clone());
            self.pending.keys.push(key);
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

    fn is_duplicate(&self, loop_id: &str, key: &str, hash: &str) -> Result<bool, Failed> {
        if let Some(recent) = self.recent_keys.get(&(loop_id.to_owned(), key.to_owned())) {
            return Ok(recent == hash);
        }
        let stored = self
            .host
            .store
            .committed_hash(&self.flow.name, loop_id, key)
            .map_err(|error| Failed::new(format!("{}: cannot read dedupe keys: {error}", self.flow.name)))?;
        Ok(stored.as_deref() == Some(hash))
    }

    fn eval_at(&mut self, location: &Location, expr: &Expr) -> Result<Step, Failed> {
        let statement = Stmt { kind: StmtKind::Skip, location: location.clone() };
        self.eval(&statement, expr)
    }

    // ----- Failures (§ 12.7) -----

    /// A stream record that did not decode: the stream endpoint's `on_exhausted`, for it alone.
    fn undecodable(&mut self, each: &For, error: &str, api: u32, endpoint: u32) -> Result<Control, Failed> {
        let (api_name, endpoint_name) = self.endpoint_names(api, endpoint);
        let location = each_location(each);
        let message = format!("{api_name}.{endpoint_name}: a record does not decode: {error}");
        let info = FailureInfo {
            failure: Failure {
                error: "Decode".to_owned(),
                api: Some(api_name),
                endpoint: Some(endpoint_name),
                status: None,
                message: message.clone(),
            },
            attempts: 0,
            request: None,
            response: None,
        };
        let action = self.on_exhausted(api, endpoint);
        Ok(control(self.apply(&location, action, info)?))
    }

    fn call_failed(
        &mut self,
        statement: &Stmt,
        failure: CallFailure,
        catch: Option<&Catch>,
        api: u32,
        endpoint: u32,
    ) -> Result<Step, Failed> {
        let (api_name, endpoint_name) = self.endpoint_names(api, endpoint);
        let (action, info) = match failure {
            CallFailure::Call(error) => {
                let name = error.kind.error_name().to_owned();
                let catchable = !matches!(error.kind, CallErrorKind::Pagination { .. });
                let action = catch
                    .filter(|_| catchable)
                    .and_then(|catch| catch.action_for(&name))
                    .unwrap_or_else(|| self.on_exhausted(api, endpoint));
                let info = FailureInfo {
                    failure: Failure {
                        error: name,
                        api: Some(api_name),
                        endpoint: Some(endpoint_name),
                        status: error.kind.status(),
                        message: error.to_string(),
                    },
                    attempts: error.attempts,
                    request: error.request.as_deref().cloned(),
                    response: error.response.as_deref().cloned(),
                };
                (action, info)
            }
            CallFailure::Eval { context, error } => {
                let info = FailureInfo {
                    failure: Failure {
                        error: "Evaluation".to_owned(),
                        api: Some(api_name),
                        endpoint: Some(endpoint_name),
                        status: None,
                        message: format!("{context}: {error}"),
                    },
                    attempts: 0,
                    request: None,
                    response: None,
                };
                (Action::DeadLetter, info)
            }
        };
        self.apply(&statement.location, action, info)
    }

    fn evaluation_failed(&mut self, statement: &Stmt, error: EvalError) -> Result<Step, Failed> {
        self.evaluation_failed_at(&statement.location.clone(), error)
    }

    fn evaluation_failed_at(&mut self, location: &Location, error: EvalError) -> Result<Step, Failed> {
        let info = FailureInfo {
            failure: Failure {
                error: "Evaluation".to_owned(),
                api: None,
                endpoint: None,
                status: None,
                message: error.to_string(),
            },
            attempts: 0,
            request: None,
            response: None,
        };
        self.apply(location, Action::DeadLetter, info)
    }

    fn evaluation_failed_control(&mut self, statement: &Stmt, error: EvalError) -> Result<Control, Failed> {
        Ok(control(self.evaluation_failed(statement, error)?))
    }

    /// Applies an action to the unit of work (§ 12.7).
    fn apply(&mut self, location: &Location, action: Action, info: FailureInfo) -> Result<Step, Failed> {
        let (flow, run) = (&self.flow.name, self.id);
        let message = info.failure.message.clone();
        self.last_error = Some(message.clone());
        match action {
            Action::Ignore => {
                tracing::warn!(flow = %flow, run = %run, "{location}: {message} (ignored)");
                Ok(Step::Value(Value::None))
            }
            Action::Skip => {
                tracing::info!(flow = %flow, run = %run, "{location}: {message}; {} skipped", self.unit_name());
                Ok(Step::Control(Control::Skip))
            }
            Action::Fail => Err(Failed::new(format!("{flow} ({location}): {message}"))),
            Action::DeadLetter => {
                let record = self.dead_letter(info);
                tracing::warn!(
                    flow = %flow, run = %run,
                    "{location}: {message}; {} dead-lettered as {}", self.unit_name(), record.id
                );
                // A replayed unit that fails again keeps its first dead letter only.
                let replayed_unit = match self.mode {
                    Mode::Run => false,
                    Mode::ReplayRun => self.records.is_empty(),
                    Mode::ReplayRecord => true,
                };
                if replayed_unit {
                    self.failed_again = Some(message.clone());
                } else {
                    self.pending.dead_letters.push(record);
                }
                Ok(Step::Control(Control::DeadLettered))
            }
        }
    }

    fn unit_name(&self) -> &'static str {
        match (self.records.last(), &self.event_body) {
            (Some(_), _) => "the record",
            (None, Some(_)) => "the event",
            (None, None) => "the run",
        }
    }

    fn dead_letter(&self, info: FailureInfo) -> DeadLetterRecord {
        let interpreter = self.interpreter();
        let (unit, input, loop_id, context) = match self.records.last() {
            Some(unit) => {
                let input = match (&unit.value, &unit.raw) {
                    (_, Some(raw)) => raw.clone(),
                    (Some(value), None) => {
                        encode::json_string(value, &interpreter.desc(&unit.of.item), &interpreter.schema)
                            .unwrap_or_else(|_| encode::text(value, &interpreter.schema))
                    }
                    (None, None) => String::new(),
                };
                let context: Vec<(&str, String)> = unit
                    .of
                    .context
                    .iter()
                    .map(|(name, slot, ty)| {
                        let value = self.frame.get(*slot);
                        let text = encode::json_string(&value, &interpreter.desc(ty), &interpreter.schema)
                            .unwrap_or_else(|_| "null".to_owned());
                        (name.as_str(), text)
                    })
                    .collect();
                (
                    UnitKind::Record,
                    UnitInput::Json(input),
                    Some(unit.of.id.clone()),
                    Some(integ_runtime::generated::flow::context(&context)),
                )
            }
            None => match &self.event_body {
                Some(body) => (
                    UnitKind::Event,
                    UnitInput::Event { headers: self.event_headers.clone(), body: body.clone() },
                    None,
                    None,
                ),
                None => (UnitKind::Run, UnitInput::None, None, None),
            },
        };
        let state = match self.encode_states(&self.working_state()) {
            Ok(states) => integ_runtime::generated::flow::states_object(states),
            Err(_) => "{}".to_owned(),
        };
        DeadLetterRecord {
            id: DeadLetterId::generate(),
            at: Timestamp::now(),
            unit,
            input,
            failure: info.failure,
            attempts: info.attempts,
            last_request: info.request,
            last_response: info.response,
            state,
            loop_id,
            context,
        }
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
    fn on_exhausted(&self, api: u32, endpoint: u32) -> Action {
        let program = &self.interpreter().program;
        let api = program.apis.get(api as usize);
        let policy = api
            .and_then(|api| {
                api.endpoints.get(endpoint as usize).and_then(|endpoint| endpoint.policy).or(Some(api.policy))
            })
            .and_then(|index| program.policies.get(index as usize));
        match policy.map(|policy| policy.on_exhausted) {
            Some(OnExhausted::Skip) => Action::Skip,
            Some(OnExhausted::Fail) => Action::Fail,
            Some(OnExhausted::DeadLetter) | None => Action::DeadLetter,
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
