//! The runs of generated flows (§ 12 and § 17.2 of spec.md): the
//! bookkeeping a flow's generated `async fn` leaves to the runtime —
//! starting and ending runs, committed state, dedupe keys, dead letters,
//! checkpoints every `batch` records, counters — with the same rules and
//! the same store records as the interpreter's runner.
//!
//! Generated code keeps the flow's states as typed locals and hands them
//! over encoded (state name → JSON text) at each commit point; what a
//! failure does to its unit of work (§ 12.7) is decided here, from the
//! statement's `catch` and the endpoint's `on_exhausted`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::client::CallFailure;
use crate::error::EvalError;
use crate::http::CallErrorKind;
use crate::store::{
    Checkpoint, Counters, DeadLetterId, DeadLetterRecord, DedupeKey, EventId, Failure, MemoryStore, QueuedEvent,
    RunEnd, RunId, RunOutcome, SqliteStore, Store, StoreError, Trigger, UnitInput, UnitKind,
};
use crate::wire::{Format, Text};

/// How often checkpoints save the run's counters (the run's end saves them exactly).
const COUNTERS_EVERY: Duration = Duration::from_secs(1);

/// What generated flows run with: the state store, and the flag a signal
/// handler sets to stop runs between top-level records.
#[derive(Clone)]
pub struct FlowHost {
    store: Arc<dyn Store>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for FlowHost {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("FlowHost").field("stopping", &self.stop.load(Ordering::Relaxed)).finish()
    }
}

impl FlowHost {
    /// Flows keeping their state in `store`.
    pub fn new(store: Arc<dyn Store>) -> FlowHost {
        FlowHost { store, stop: Arc::new(AtomicBool::new(false)) }
    }

    /// Flows keeping their state in the SQLite file at `path` (created if
    /// missing), the store `integ run` uses: the interpreter and generated
    /// code can share one (`integ deadletters` reads its dead letters).
    pub fn open(path: impl AsRef<Path>) -> Result<FlowHost, StoreError> {
        Ok(FlowHost::new(Arc::new(SqliteStore::open(path)?)))
    }

    /// Flows keeping their state in memory (tests).
    pub fn in_memory() -> FlowHost {
        FlowHost::new(Arc::new(MemoryStore::new()))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Set it (from a signal handler) to stop runs after the record in
    /// flight: they commit what ran and end, interrupted.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Starts a run of `flow`: records it in the store and reads the flow's
    /// committed state.
    pub fn start(&self, flow: &'static FlowInfo, trigger: Trigger) -> Result<FlowRun, StoreError> {
        let id = self.store.start_run(flow.name, trigger, Timestamp::now())?;
        tracing::info!(flow = %flow.name, run = %id, trigger = %trigger, "{} started", flow.name);
        Ok(FlowRun {
            store: self.store.clone(),
            stop: self.stop.clone(),
            flow,
            id,
            trigger,
            started: Instant::now(),
            stored: None,
            committed: BTreeMap::new(),
            saved_states: HashMap::new(),
            counters: Counters::default(),
            pending: Pending::default(),
            unsaved: Pending::default(),
            recent_keys: HashMap::new(),
            since_checkpoint: 0,
            event: None,
            dead_letter_ids: Vec::new(),
            interrupted: false,
            checkpoints: 0,
            counters_saved: None,
        })
    }
}

/// The webhook event a run of a webhook flow processes.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// Its id in the flow's queue, when it came through the queue: the
    /// run's last checkpoint removes it from the queue, and a run that
    /// fails dead-letters it (to be replayed).
    pub id: Option<EventId>,
    /// The request headers kept with it (without signatures and
    /// credentials), for its dead letter.
    pub headers: Vec<(String, String)>,
    /// The raw body, byte for byte.
    pub body: Vec<u8>,
}

impl From<&[u8]> for Delivery {
    /// An event given directly (not queued): only its body.
    fn from(body: &[u8]) -> Delivery {
        Delivery { id: None, headers: Vec::new(), body: body.to_vec() }
    }
}

impl From<&Vec<u8>> for Delivery {
    fn from(body: &Vec<u8>) -> Delivery {
        Delivery::from(body.as_slice())
    }
}

impl From<Vec<u8>> for Delivery {
    fn from(body: Vec<u8>) -> Delivery {
        Delivery { id: None, headers: Vec::new(), body }
    }
}

impl From<QueuedEvent> for Delivery {
    fn from(event: QueuedEvent) -> Delivery {
        Delivery { id: Some(event.id), headers: event.headers, body: event.body }
    }
}

/// What the generated code says about a flow.
#[derive(Debug)]
pub struct FlowInfo {
    pub name: &'static str,
    /// Where it is declared: `sync.integ:12:1`.
    pub location: &'static str,
    /// Committed top-level records per checkpoint (§ 12.8).
    pub batch: u32,
}

/// How a statement, a record or a run's body ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on with the next statement.
    Next,
    /// The unit of work ends, skipped.
    Skip,
    /// The unit of work ends, dead-lettered.
    DeadLettered,
    /// A signal asked the run to stop: unwind to the end of the run.
    Stop,
}

/// What a failed call does to its unit of work (§ 12.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Skip,
    DeadLetter,
    Fail,
    Ignore,
}

/// A `catch` arm: the error name (`None` for `_`) and its action.
pub type CatchArm = (Option<&'static str>, Action);

/// The run fails (§ 12.11): the message names the flow, where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failed {
    message: String,
}

impl Failed {
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The unit of work a failure belongs to, for its dead letter.
#[derive(Clone, Debug)]
pub enum Unit {
    /// The run (or, in a webhook flow, the event).
    Run,
    /// A record of the `for` statement `loop_id`: its JSON, and the names
    /// it sees from outside the loop as a JSON object.
    Record { loop_id: &'static str, input: String, context: String },
}

/// A `log` statement's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct FlowReport {
    pub flow: &'static str,
    pub run: RunId,
    pub trigger: Trigger,
    pub outcome: RunOutcome,
    pub counters: Counters,
    pub duration: Duration,
    /// Why a failed run failed.
    pub error: Option<String>,
    /// Stopped early by the stop flag.
    pub interrupted: bool,
    /// The dead letters this run stored.
    pub dead_letters: Vec<DeadLetterId>,
    pub checkpoints: u64,
}

/// Dedupe keys and dead letters waiting for a commit point or a checkpoint.
#[derive(Debug, Default)]
struct Pending {
    keys: Vec<DedupeKey>,
    dead_letters: Vec<DeadLetterRecord>,
}

/// One run of a generated flow.
#[derive(Debug)]
pub struct FlowRun {
    store: Arc<dyn Store>,
    stop: Arc<AtomicBool>,
    flow: &'static FlowInfo,
    id: RunId,
    trigger: Trigger,
    started: Instant,
    /// The state values the store holds, read by [`FlowRun::stored_state`].
    stored: Option<HashMap<String, String>>,
    /// The committed state (§ 12.8), encoded.
    committed: BTreeMap<String, String>,
    /// The state values as the store holds them, to save only changes.
    saved_states: HashMap<String, String>,
    counters: Counters,
    /// Since the last commit point.
    pending: Pending,
    /// Committed since the last checkpoint.
    unsaved: Pending,
    /// The hashes of `unsaved.keys` and `pending.keys`, by loop and key.
    recent_keys: HashMap<(String, String), String>,
    since_checkpoint: u32,
    /// A webhook flow's event.
    event: Option<Delivery>,
    dead_letter_ids: Vec<DeadLetterId>,
    interrupted: bool,
    checkpoints: u64,
    counters_saved: Option<Instant>,
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Store")
    }
}

impl FlowRun {
    pub fn id(&self) -> RunId {
        self.id
    }

    /// The run is for one webhook event (§ 12.3): it counts as one record
    /// read, is the unit of work and of durability (one checkpoint, at the
    /// end, which removes a queued event from its queue), and its dead
    /// letter keeps its headers and raw body.
    pub fn set_event(&mut self, event: impl Into<Delivery>) {
        self.counters.read += 1;
        self.event = Some(event.into());
    }

    /// Reads the flow's committed state from the store (once).
    pub fn load_states(&mut self) -> Result<(), Failed> {
        let stored = self
            .store
            .load_state(self.flow.name)
            .map_err(|error| self.failed(format!("{}: cannot read its state: {error}", self.flow.name)))?;
        self.saved_states = stored.clone();
        self.stored = Some(stored);
        Ok(())
    }

    /// The stored value of state `name`, as JSON text.
    pub fn stored_state(&self, name: &str) -> Option<&str> {
        self.stored.as_ref().and_then(|stored| stored.get(name)).map(String::as_str)
    }

    /// Decodes the stored value of state `name` in format `F`; `ty` is its
    /// integ type, for the message when it no longer decodes.
    pub fn stored<F: Format>(&self, name: &str, ty: &str) -> Result<Option<F::Value>, Failed> {
        let Some(text) = self.stored_state(name) else { return Ok(None) };
        crate::wire::json::<F>(text.as_bytes(), name).map(Some).map_err(|error| {
            let flow = self.flow;
            Failed {
                message: format!(
                    "{} ({}): the stored state `{name}` no longer decodes as `{ty}`: {error}; start it afresh with `integ run --reset-state {}`",
                    flow.name, flow.location, flow.name
                ),
            }
        })
    }

    /// The initial value of state `name` could not be computed.
    pub fn init_failed(&self, name: &str, error: EvalError) -> Failed {
        Failed { message: format!("{}: the initial value of `{name}`: {error}", self.flow.name) }
    }

    /// The states once loaded: the first committed state.
    pub fn loaded(&mut self, states: Result<BTreeMap<String, String>, EvalError>) -> Result<(), Failed> {
        self.committed = self.states(states)?;
        Ok(())
    }

    fn states(&self, states: Result<BTreeMap<String, String>, EvalError>) -> Result<BTreeMap<String, String>, Failed> {
        states.map_err(|error| Failed { message: format!("{}: a state cannot be saved: {error}", self.flow.name) })
    }

    fn failed(&self, message: String) -> Failed {
        Failed { message }
    }

    /// Whether the stop flag is set (checked between top-level records).
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A stream record was read.
    pub fn count_read(&mut self) {
        self.counters.read += 1;
    }

    /// A stream record was skipped.
    pub fn count_skipped(&mut self) {
        self.counters.skipped += 1;
    }

    /// A call of an endpoint whose method writes succeeded.
    pub fn count_written(&mut self) {
        self.counters.written += 1;
    }

    /// A call of an endpoint whose method writes failed: it counts as
    /// written when the answer came and only its decoding failed (as the
    /// interpreter counts it).
    pub fn count_failed_write(&mut self, failure: &CallFailure) {
        if let CallFailure::Call(error) = failure
            && matches!(error.kind, CallErrorKind::Decode { .. })
        {
            self.counters.written += 1;
        }
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    // ----- Dedupe (§ 12.9) -----

    /// Whether the record with `key` and content `hash` was committed
    /// already by the loop `loop_id` (in this run or an earlier one).
    pub fn is_duplicate(&self, loop_id: &str, key: &str, hash: &str) -> Result<bool, Failed> {
        if let Some(recent) = self.recent_keys.get(&(loop_id.to_owned(), key.to_owned())) {
            return Ok(recent == hash);
        }
        let stored = self
            .store
            .committed_hash(self.flow.name, loop_id, key)
            .map_err(|error| self.failed(format!("{}: cannot read dedupe keys: {error}", self.flow.name)))?;
        Ok(stored.as_deref() == Some(hash))
    }

    /// A record with a dedupe key went through (or was skipped): its key
    /// commits with it.
    pub fn passed(&mut self, loop_id: &str, key: String, hash: String) {
        self.recent_keys.insert((loop_id.to_owned(), key.clone()), hash.clone());
        self.pending.keys.push(DedupeKey::new(loop_id, key, hash));
    }

    // ----- Commits and checkpoints (§ 12.8) -----

    fn commit_point(&mut self, states: BTreeMap<String, String>) {
        // Dead letters count once committed (a failing run discards its record's).
        self.counters.dead_letters += self.pending.dead_letters.len() as u64;
        self.committed = states;
        self.unsaved.keys.append(&mut self.pending.keys);
        self.unsaved.dead_letters.append(&mut self.pending.dead_letters);
    }

    /// A commit point after a top-level record, with the working states
    /// encoded; a checkpoint every `batch` of them.
    pub fn commit(&mut self, states: Result<BTreeMap<String, String>, EvalError>) -> Result<(), Failed> {
        let states = self.states(states)?;
        self.commit_point(states);
        self.since_checkpoint += 1;
        // In a webhook flow the event is the unit of durability: one checkpoint at its end.
        if self.since_checkpoint >= self.flow.batch && self.event.is_none() {
            self.checkpoint(false)?;
        }
        Ok(())
    }

    fn checkpoint(&mut self, final_checkpoint: bool) -> Result<(), Failed> {
        let mut checkpoint = Checkpoint::new(self.id, Timestamp::now());
        if final_checkpoint {
            checkpoint.event = self.event.as_ref().and_then(|event| event.id);
        }
        let mut states = self.committed.clone();
        states.retain(|name, value| self.saved_states.get(name) != Some(value));
        checkpoint.state = states;
        checkpoint.dedupe_keys = std::mem::take(&mut self.unsaved.keys);
        checkpoint.dead_letters = std::mem::take(&mut self.unsaved.dead_letters);
        if self.counters_saved.is_none_or(|saved| saved.elapsed() >= COUNTERS_EVERY) || final_checkpoint {
            checkpoint.counters = Some(self.counters);
            self.counters_saved = Some(Instant::now());
        }
        if let Err(error) = self.store.checkpoint(self.flow.name, &checkpoint) {
            // Nothing of it was written: its keys and dead letters wait for the next one.
            self.unsaved.keys = checkpoint.dedupe_keys;
            self.unsaved.dead_letters = checkpoint.dead_letters;
            return Err(self.failed(format!("{}: cannot save a checkpoint: {error}", self.flow.name)));
        }
        self.dead_letter_ids.extend(checkpoint.dead_letters.iter().map(|letter| letter.id));
        self.saved_states.extend(checkpoint.state);
        // Keys now in the store are looked up there; those of the record in flight stay.
        let pending = &self.pending.keys;
        self.recent_keys.retain(|(loop_id, key), _| {
            pending.iter().any(|waiting| waiting.loop_id == *loop_id && waiting.key == *key)
        });
        self.since_checkpoint = 0;
        self.checkpoints += 1;
        Ok(())
    }

    /// Ends the run: with the body's result and the working states, the
    /// last commit point and checkpoint (for a failed run, the checkpoint of
    /// what was committed), then its history.
    pub fn finish(
        mut self,
        result: Result<Control, Failed>,
        states: Result<BTreeMap<String, String>, EvalError>,
    ) -> FlowReport {
        let mut error = None;
        match result.and_then(|control| Ok((control, self.states(states)?))) {
            Ok((control, states)) => {
                // A stop comes between top-level records: what ran is committed.
                self.interrupted = control == Control::Stop;
                self.commit_point(states);
            }
            Err(failed) => {
                // The working state goes back to the last commit point.
                self.pending = Pending::default();
                // A failed queued event goes to the dead letters, so that it can be replayed (§ 12.3).
                if self.event.as_ref().is_some_and(|event| event.id.is_some()) {
                    let failure = Failure {
                        error: "Failed".to_owned(),
                        api: None,
                        endpoint: None,
                        status: None,
                        message: failed.message.clone(),
                    };
                    let states = Ok(self.committed.clone());
                    let letter =
                        Letter { failure, attempts: 0, request: None, response: None, unit: Unit::Run, states };
                    let record = self.dead_letter(letter);
                    tracing::warn!(flow = %self.flow.name, run = %self.id, "the event is dead-lettered as {}", record.id);
                    self.counters.dead_letters += 1;
                    self.unsaved.dead_letters.push(record);
                }
                error = Some(failed.message);
            }
        }
        if let Err(failed) = self.checkpoint(true) {
            error.get_or_insert(failed.message);
        }
        let counters = self.counters;
        let outcome = match (&error, counters.dead_letters) {
            (Some(_), _) => RunOutcome::Failed,
            (None, 0) => RunOutcome::Completed,
            (None, _) => RunOutcome::CompletedWithDeadLetters,
        };
        let history_error = error.clone().or_else(|| self.interrupted.then(|| "stopped by a signal".to_owned()));
        let end = RunEnd { at: Timestamp::now(), outcome, counters, error: history_error };
        let (name, run) = (self.flow.name, self.id);
        if let Err(store_error) = self.store.finish_run(run, &end) {
            tracing::error!(flow = %name, run = %run, "cannot record the end of the run: {store_error}");
        }
        let summary = format!(
            "read {}, written {}, skipped {}, dead letters {}",
            counters.read, counters.written, counters.skipped, counters.dead_letters
        );
        match (&error, self.interrupted) {
            (Some(message), _) => tracing::error!(flow = %name, run = %run, "{name} failed: {message}; {summary}"),
            (None, true) => {
                tracing::info!(flow = %name, run = %run, "{name} stopped by a signal, state saved: {summary}")
            }
            (None, false) => tracing::info!(flow = %name, run = %run, "{name} {outcome}: {summary}"),
        }
        FlowReport {
            flow: name,
            run,
            trigger: self.trigger,
            outcome,
            counters,
            duration: self.started.elapsed(),
            error,
            interrupted: self.interrupted,
            dead_letters: std::mem::take(&mut self.dead_letter_ids),
            checkpoints: self.checkpoints,
        }
    }

    // ----- Statements -----

    /// `log level "text"` (secrets redacted).
    pub fn log(&self, level: LogLevel, text: &str) {
        let text = crate::secret::redact(text);
        let (flow, run) = (self.flow.name, self.id);
        match level {
            LogLevel::Debug => tracing::debug!(flow = %flow, run = %run, "{text}"),
            LogLevel::Info => tracing::info!(flow = %flow, run = %run, "{text}"),
            LogLevel::Warn => tracing::warn!(flow = %flow, run = %run, "{text}"),
            LogLevel::Error => tracing::error!(flow = %flow, run = %run, "{text}"),
        }
    }

    /// `fail "text"` at `location`.
    pub fn fail(&self, location: &str, text: &str) -> Failed {
        self.failed(format!("{} ({location}): {text}", self.flow.name))
    }

    // ----- Failures (§ 12.7) -----

    /// A call of `api.endpoint` failed: the first arm of `catch` that
    /// catches it decides, else `on_exhausted` (the endpoint's policy).
    /// `Ok(Control::Next)` means the failure is ignored; `states` are the
    /// working states, for a dead letter.
    #[allow(clippy::too_many_arguments)]
    pub fn call_failed(
        &mut self,
        location: &str,
        failure: CallFailure,
        catch: &[CatchArm],
        on_exhausted: Action,
        (api, endpoint): (&str, &str),
        unit: Unit,
        states: Result<BTreeMap<String, String>, EvalError>,
    ) -> Result<Control, Failed> {
        let (action, failure, attempts, request, response) = match failure {
            CallFailure::Call(error) => {
                let name = error.kind.error_name().to_owned();
                let catchable = !matches!(error.kind, CallErrorKind::Pagination { .. });
                let action = catch
                    .iter()
                    .filter(|_| catchable)
                    .find(|(arm, _)| arm.is_none_or(|arm| arm == name))
                    .map_or(on_exhausted, |(_, action)| *action);
                let failure = Failure {
                    error: name,
                    api: Some(api.to_owned()),
                    endpoint: Some(endpoint.to_owned()),
                    status: error.kind.status(),
                    message: error.to_string(),
                };
                (action, failure, error.attempts, error.request.as_deref().cloned(), error.response.as_deref().cloned())
            }
            CallFailure::Eval { context, error } => {
                let failure = Failure {
                    error: "Evaluation".to_owned(),
                    api: Some(api.to_owned()),
                    endpoint: Some(endpoint.to_owned()),
                    status: None,
                    message: format!("{context}: {error}"),
                };
                (Action::DeadLetter, failure, 0, None, None)
            }
        };
        let letter = Letter { failure, attempts, request, response, unit, states };
        self.apply(location, action, letter)
    }

    /// The queued event does not decode as the payload type (the program
    /// changed since it was accepted): it is dead-lettered (`Decode`), as
    /// the interpreter does.
    pub fn undecodable(
        &mut self,
        location: &str,
        message: String,
        states: Result<BTreeMap<String, String>, EvalError>,
    ) -> Result<Control, Failed> {
        let failure = Failure { error: "Decode".to_owned(), api: None, endpoint: None, status: None, message };
        let letter = Letter { failure, attempts: 0, request: None, response: None, unit: Unit::Run, states };
        self.apply(location, Action::DeadLetter, letter)
    }

    /// An expression failed to evaluate: the unit of work is dead-lettered.
    pub fn evaluation_failed(
        &mut self,
        location: &str,
        error: EvalError,
        unit: Unit,
        states: Result<BTreeMap<String, String>, EvalError>,
    ) -> Result<Control, Failed> {
        let failure = Failure {
            error: "Evaluation".to_owned(),
            api: None,
            endpoint: None,
            status: None,
            message: error.to_string(),
        };
        let letter = Letter { failure, attempts: 0, request: None, response: None, unit, states };
        self.apply(location, Action::DeadLetter, letter)
    }

    fn apply(&mut self, location: &str, action: Action, letter: Letter) -> Result<Control, Failed> {
        let (flow, run) = (self.flow.name, self.id);
        let message = letter.failure.message.clone();
        let unit_name = match (&letter.unit, &self.event) {
            (Unit::Record { .. }, _) => "the record",
            (Unit::Run, Some(_)) => "the event",
            (Unit::Run, None) => "the run",
        };
        match action {
            Action::Ignore => {
                tracing::warn!(flow = %flow, run = %run, "{location}: {message} (ignored)");
                Ok(Control::Next)
            }
            Action::Skip => {
                tracing::info!(flow = %flow, run = %run, "{location}: {message}; {unit_name} skipped");
                Ok(Control::Skip)
            }
            Action::Fail => Err(self.failed(format!("{flow} ({location}): {message}"))),
            Action::DeadLetter => {
                let record = self.dead_letter(letter);
                tracing::warn!(flow = %flow, run = %run, "{location}: {message}; {unit_name} dead-lettered as {}", record.id);
                self.pending.dead_letters.push(record);
                Ok(Control::DeadLettered)
            }
        }
    }

    fn dead_letter(&self, letter: Letter) -> DeadLetterRecord {
        let (unit, input, loop_id, context) = match letter.unit {
            Unit::Record { loop_id, input, context } => {
                (UnitKind::Record, UnitInput::Json(input), Some(loop_id.to_owned()), Some(context))
            }
            Unit::Run => match &self.event {
                Some(event) => {
                    let input = UnitInput::Event { headers: event.headers.clone(), body: event.body.clone() };
                    (UnitKind::Event, input, None, None)
                }
                None => (UnitKind::Run, UnitInput::None, None, None),
            },
        };
        let state = match letter.states {
            Ok(states) => states_object(states),
            Err(_) => "{}".to_owned(),
        };
        DeadLetterRecord {
            id: DeadLetterId::generate(),
            at: Timestamp::now(),
            unit,
            input,
            failure: letter.failure,
            attempts: letter.attempts,
            last_request: letter.request,
            last_response: letter.response,
            state,
            loop_id,
            context,
        }
    }
}

/// What a dead letter is made of.
struct Letter {
    failure: Failure,
    attempts: u32,
    request: Option<crate::http::errors::RecordedRequest>,
    response: Option<crate::http::errors::RecordedResponse>,
    unit: Unit,
    states: Result<BTreeMap<String, String>, EvalError>,
}

// ---------------------------------------------------------------------------
// Helpers of generated flow code

/// Runs `body`: a statement's expression, whose `?`s end here.
pub fn attempt<T>(body: impl FnOnce() -> Result<T, EvalError>) -> Result<T, EvalError> {
    body()
}

/// A value as JSON text in format `F`, as the store keeps states and
/// dead-letter inputs (`null` when it cannot be encoded).
pub fn json_text<F: Format>(value: &F::Value) -> String {
    encoded::<F>(value).unwrap_or_else(|_| "null".to_owned())
}

/// A value as JSON text in format `F`.
pub fn encoded<F: Format>(value: &F::Value) -> Result<String, EvalError> {
    let mut bytes = Vec::new();
    crate::wire::to_json::<F>(value, &mut bytes)?;
    String::from_utf8(bytes).map_err(|error| EvalError::Encode(error.to_string()))
}

/// The names a record sees from outside its loop, as a JSON object text:
/// each name with its value's JSON text (a dead letter's context).
pub fn context(names: &[(&str, String)]) -> String {
    object(names.iter().map(|(name, text)| ((*name).to_owned(), text.as_str())))
}

/// A flow's states, state name → JSON text, as one JSON object text (a
/// dead letter's state).
pub fn states_object(states: BTreeMap<String, String>) -> String {
    object(states.iter().map(|(name, text)| (name.clone(), text.as_str())))
}

/// A JSON object of members given as JSON texts (one that does not parse is `null`).
fn object<'t>(members: impl Iterator<Item = (String, &'t str)>) -> String {
    let object: serde_json::Map<String, serde_json::Value> =
        members.map(|(name, text)| (name, serde_json::from_str(text).unwrap_or(serde_json::Value::Null))).collect();
    serde_json::Value::Object(object).to_string()
}

/// A `dedupe` key's text: a `Json` key as JSON, anything else in its text form.
pub fn dedupe_key<T: Text + ?Sized>(key: &T) -> String {
    crate::wire::text(key)
}

/// A `Json` `dedupe` key's text.
pub fn dedupe_json_key(key: &serde_json::Value) -> String {
    key.to_string()
}

/// The content hash of a record (§ 12.9): the SHA-256 of its JSON in format `F`.
pub fn content_hash<F: Format>(record: &F::Value) -> Result<String, EvalError> {
    Ok(crate::natives::hash::sha256(&encoded::<F>(record)?))
}

/// The elements a `for` over a `Json` value iterates: an array's elements,
/// none for `null`, an error for anything else.
pub fn json_elements(json: serde_json::Value) -> Result<Vec<serde_json::Value>, EvalError> {
    match json {
        serde_json::Value::Array(elements) => Ok(elements),
        serde_json::Value::Null => Ok(Vec::new()),
        other => Err(EvalError::Other(format!("`for` over Json that is {}, not an array", json_kind(&other)))),
    }
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
