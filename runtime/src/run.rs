//! The bookkeeping of one flow run (§ 12.5–12.10 of spec.md), shared by
//! both back ends: the interpreter's runner and the runs of generated flows
//! ([`crate::generated::flow::FlowRun`]) each hold a [`Bookkeeping`] and
//! keep only evaluation for themselves.
//!
//! In: a store and a [`RunConfig`] (the flow, the trigger, the mode, the
//! live counters), then, as the run goes, its states encoded (state name →
//! JSON text) at each commit point, the dedupe keys of its records, its
//! failures and its counts. Out: the run's history, checkpoints and dead
//! letters in the store, and a [`RunEnded`] from [`Bookkeeping::finish`].
//!
//! Entry point: [`Bookkeeping::start`]. A run then goes: [`load_states`]
//! and [`loaded`]; for each top-level record, [`is_duplicate`] and
//! [`passed`] for its dedupe key, [`unit_failed`] (or [`call_failed`],
//! [`evaluation_failed`]) for its failures, and [`commit`] at its end, which
//! writes a checkpoint every `batch` records; [`finish`] at the end.
//!
//! [`load_states`]: Bookkeeping::load_states
//! [`loaded`]: Bookkeeping::loaded
//! [`is_duplicate`]: Bookkeeping::is_duplicate
//! [`passed`]: Bookkeeping::passed
//! [`unit_failed`]: Bookkeeping::unit_failed
//! [`call_failed`]: Bookkeeping::call_failed
//! [`evaluation_failed`]: Bookkeeping::evaluation_failed
//! [`commit`]: Bookkeeping::commit
//! [`finish`]: Bookkeeping::finish

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::error::EvalError;
use crate::generated::client::CallFailure;
use crate::http::CallErrorKind;
use crate::http::errors::{RecordedRequest, RecordedResponse};
use crate::store::{
    Checkpoint, Counters, DeadLetterId, DeadLetterRecord, DedupeKey, EventId, Failure, QueuedEvent, RunEnd, RunId,
    RunOutcome, Store, StoreError, Trigger, UnitInput, UnitKind,
};

/// How often checkpoints save the run's counters (the run's end saves them exactly).
const COUNTERS_EVERY: Duration = Duration::from_secs(1);

/// The counters of a run as it goes (§ 12.10), readable from another
/// thread (a progress line), plus the retries of its calls.
#[derive(Debug, Default)]
pub struct Live {
    pub read: AtomicU64,
    /// Successful calls of endpoints whose method writes.
    pub written: AtomicU64,
    pub skipped: AtomicU64,
    /// Committed dead letters.
    pub dead_letters: AtomicU64,
    /// Attempts after the first, over every call and page request (only
    /// the interpreter's calls count them).
    pub retries: AtomicU64,
}

impl Live {
    pub fn counters(&self) -> Counters {
        Counters {
            read: self.read.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
        }
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// A call of an endpoint whose method writes succeeded.
    pub fn count_written(&self) {
        self.written.fetch_add(1, Ordering::Relaxed);
    }

    /// A call or page request ended after `attempts` attempts: those after the first are retries.
    pub fn count_attempts(&self, attempts: u32) {
        self.retries.fetch_add(u64::from(attempts.saturating_sub(1)), Ordering::Relaxed);
    }
}

/// What a run is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunMode {
    /// A run of the flow.
    #[default]
    Run,
    /// A run or event dead letter replayed (`integ deadletters replay`):
    /// the flow runs as usual, but a dead letter of the run or event itself
    /// is not stored again (see [`Bookkeeping::failed_again`]).
    ReplayRun,
    /// A record dead letter replayed: its loop's body runs for it alone;
    /// `dedupe` lets it through, state assignments are not saved, and a
    /// dead letter is not stored again.
    ReplayRecord,
}

/// What a run is started with.
#[derive(Debug)]
pub struct RunConfig {
    /// The flow's name.
    pub flow: String,
    /// Where it is declared: `sync.integ:12:1`.
    pub location: String,
    /// Committed top-level records per checkpoint (§ 12.8).
    pub batch: u32,
    pub trigger: Trigger,
    pub mode: RunMode,
    /// The counters, shared with whoever shows the run's progress (and
    /// with the interpreter's calls, which count writes and retries).
    pub live: Arc<Live>,
    /// The calls count their retries in `live`: the run's summary line
    /// tells them.
    pub counts_retries: bool,
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

/// What a failure does to its unit of work (§ 12.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Skip,
    DeadLetter,
    Fail,
    Ignore,
}

/// The run fails (§ 12.11): the message names the flow, where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failed {
    message: String,
}

impl Failed {
    pub fn new(message: impl Into<String>) -> Failed {
        Failed { message: message.into() }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The unit of work a failure belongs to, for its dead letter.
#[derive(Clone, Debug)]
pub enum Unit<'a> {
    /// The run (or, in a webhook flow, the event).
    Run,
    /// A record of the `for` statement `loop_id`: its JSON (the raw JSON of
    /// a record that did not decode), and the names it sees from outside
    /// the loop as a JSON object.
    Record { loop_id: &'a str, input: String, context: String },
}

/// A `log` statement's level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// A failure of a unit of work, and what its dead letter is made of.
#[derive(Debug)]
pub struct Letter<'a> {
    pub failure: Failure,
    pub attempts: u32,
    pub request: Option<RecordedRequest>,
    pub response: Option<RecordedResponse>,
    pub unit: Unit<'a>,
    /// The working states, encoded (a dead letter keeps them).
    pub states: Result<BTreeMap<String, String>, EvalError>,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct RunEnded {
    pub run: RunId,
    pub trigger: Trigger,
    pub outcome: RunOutcome,
    pub counters: Counters,
    pub retries: u64,
    pub duration: Duration,
    /// Why a failed run failed.
    pub error: Option<String>,
    /// Stopped early by a signal (the outcome is that of what ran).
    pub interrupted: bool,
    /// The dead letters this run stored.
    pub dead_letters: Vec<DeadLetterId>,
    pub checkpoints: u64,
    /// Time spent writing checkpoints.
    pub checkpoint_time: Duration,
}

/// Dedupe keys and dead letters waiting for a commit point or a checkpoint.
#[derive(Debug, Default)]
struct Pending {
    keys: Vec<DedupeKey>,
    dead_letters: Vec<DeadLetterRecord>,
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Store")
    }
}

/// The bookkeeping of one run: committed state, dedupe keys, dead letters,
/// checkpoints, counters and history.
#[derive(Debug)]
pub struct Bookkeeping {
    store: Arc<dyn Store>,
    flow: String,
    location: String,
    batch: u32,
    mode: RunMode,
    counts_retries: bool,
    id: RunId,
    trigger: Trigger,
    started: Instant,
    live: Arc<Live>,
    /// The state values as the store holds them (encoded): read by
    /// [`Bookkeeping::stored_state`], and compared so that checkpoints save
    /// only changes.
    saved_states: HashMap<String, String>,
    /// The committed state (§ 12.8), encoded.
    committed: BTreeMap<String, String>,
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
    /// In a replay, why the replayed unit failed again (its dead letter not stored).
    failed_again: Option<String>,
    /// The message of the last failure handled.
    last_error: Option<String>,
    checkpoints: u64,
    checkpoint_time: Duration,
    /// When the counters were last saved.
    counters_saved: Option<Instant>,
}

impl Bookkeeping {
    /// Starts a run: records it in the store.
    pub fn start(store: Arc<dyn Store>, config: RunConfig) -> Result<Bookkeeping, StoreError> {
        let RunConfig { flow, location, batch, trigger, mode, live, counts_retries } = config;
        let id = store.start_run(&flow, trigger, Timestamp::now())?;
        tracing::info!(flow = %flow, run = %id, trigger = %trigger, "{flow} started");
        Ok(Bookkeeping {
            store,
            flow,
            location,
            batch,
            mode,
            counts_retries,
            id,
            trigger,
            started: Instant::now(),
            live,
            saved_states: HashMap::new(),
            committed: BTreeMap::new(),
            pending: Pending::default(),
            unsaved: Pending::default(),
            recent_keys: HashMap::new(),
            since_checkpoint: 0,
            event: None,
            dead_letter_ids: Vec::new(),
            failed_again: None,
            last_error: None,
            checkpoints: 0,
            checkpoint_time: Duration::ZERO,
            counters_saved: None,
        })
    }

    pub fn id(&self) -> RunId {
        self.id
    }

    /// The run is for one webhook event (§ 12.3): it counts as one record
    /// read, is the unit of work and of durability (one checkpoint, at the
    /// end, which removes a queued event from its queue), and its dead
    /// letter keeps its headers and raw body.
    pub fn set_event(&mut self, event: impl Into<Delivery>) {
        self.live.read.fetch_add(1, Ordering::Relaxed);
        self.event = Some(event.into());
    }

    /// In a replay, why the replayed unit failed again, if it did: its
    /// dead letter was not stored a second time.
    pub fn failed_again(&self) -> Option<&str> {
        self.failed_again.as_deref()
    }

    /// The message of the last failure handled (whatever its action).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    // ----- States (§ 12.4) -----

    /// Reads the flow's committed state from the store.
    pub fn load_states(&mut self) -> Result<(), Failed> {
        let stored = self
            .store
            .load_state(&self.flow)
            .map_err(|error| Failed::new(format!("{}: cannot read its state: {error}", self.flow)))?;
        self.saved_states = stored;
        Ok(())
    }

    /// The stored value of state `name`, as JSON text.
    pub fn stored_state(&self, name: &str) -> Option<&str> {
        self.saved_states.get(name).map(String::as_str)
    }

    /// The stored value of state `name` no longer decodes as its type `ty`.
    pub fn undecodable_state(&self, name: &str, ty: &str, error: impl Display) -> Failed {
        Failed::new(format!(
            "{} ({}): the stored state `{name}` no longer decodes as `{ty}`: {error}; start it afresh with `integ run --reset-state {}`",
            self.flow, self.location, self.flow
        ))
    }

    /// The initial value of state `name` could not be computed.
    pub fn init_failed(&self, name: &str, error: impl Display) -> Failed {
        Failed::new(format!("{}: the initial value of `{name}`: {error}", self.flow))
    }

    /// The states once loaded: the first committed state.
    pub fn loaded(&mut self, states: Result<BTreeMap<String, String>, EvalError>) -> Result<(), Failed> {
        self.committed = self.states(states)?;
        Ok(())
    }

    fn states(&self, states: Result<BTreeMap<String, String>, EvalError>) -> Result<BTreeMap<String, String>, Failed> {
        states.map_err(|error| self.unsaved_state(error))
    }

    fn unsaved_state(&self, error: EvalError) -> Failed {
        Failed::new(format!("{}: a state cannot be saved: {error}", self.flow))
    }

    // ----- Counters (§ 12.10) -----

    /// A stream record was read.
    pub fn count_read(&mut self) {
        self.live.read.fetch_add(1, Ordering::Relaxed);
    }

    /// A stream record was skipped.
    pub fn count_skipped(&mut self) {
        self.live.skipped.fetch_add(1, Ordering::Relaxed);
    }

    /// A call of an endpoint whose method writes succeeded.
    pub fn count_written(&mut self) {
        self.live.count_written();
    }

    pub fn counters(&self) -> Counters {
        self.live.counters()
    }

    // ----- Dedupe (§ 12.9) -----

    /// Whether the record with `key` and content `hash` was committed
    /// already by the loop `loop_id` (in this run or an earlier one). A
    /// replayed record always goes through.
    pub fn is_duplicate(&self, loop_id: &str, key: &str, hash: &str) -> Result<bool, Failed> {
        if self.mode == RunMode::ReplayRecord {
            return Ok(false);
        }
        if let Some(recent) = self.recent_keys.get(&(loop_id.to_owned(), key.to_owned())) {
            return Ok(recent == hash);
        }
        let stored = self
            .store
            .committed_hash(&self.flow, loop_id, key)
            .map_err(|error| Failed::new(format!("{}: cannot read dedupe keys: {error}", self.flow)))?;
        Ok(stored.as_deref() == Some(hash))
    }

    /// A record with a dedupe key went through (or was skipped): its key
    /// commits with it.
    pub fn passed(&mut self, loop_id: &str, key: String, hash: String) {
        self.recent_keys.insert((loop_id.to_owned(), key.clone()), hash.clone());
        self.pending.keys.push(DedupeKey::new(loop_id, key, hash));
    }

    // ----- Commits and checkpoints (§ 12.8) -----

    /// A commit point: the working states (encoded), the record's keys and
    /// dead letters become committed. A replayed record's states are not.
    fn commit_point(&mut self, states: BTreeMap<String, String>) {
        // Dead letters count once committed (a failing run discards its record's).
        self.live.dead_letters.fetch_add(self.pending.dead_letters.len() as u64, Ordering::Relaxed);
        if self.mode != RunMode::ReplayRecord {
            self.committed = states;
        }
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
        if self.since_checkpoint >= self.batch && self.event.is_none() {
            self.checkpoint(false)?;
        }
        Ok(())
    }

    fn checkpoint(&mut self, final_checkpoint: bool) -> Result<(), Failed> {
        let started = Instant::now();
        let mut checkpoint = Checkpoint::new(self.id, Timestamp::now());
        if self.mode != RunMode::ReplayRecord {
            // Only the states that changed since they were last saved.
            let mut states = self.committed.clone();
            states.retain(|name, value| self.saved_states.get(name) != Some(value));
            checkpoint.state = states;
        }
        if final_checkpoint {
            checkpoint.event = self.event.as_ref().and_then(|event| event.id);
        }
        checkpoint.dedupe_keys = std::mem::take(&mut self.unsaved.keys);
        checkpoint.dead_letters = std::mem::take(&mut self.unsaved.dead_letters);
        // Counters are for the operator: saved at most once a second, and
        // exactly at the end of the run (`finish_run`).
        if self.counters_saved.is_none_or(|saved| saved.elapsed() >= COUNTERS_EVERY) || final_checkpoint {
            checkpoint.counters = Some(self.counters());
            self.counters_saved = Some(Instant::now());
        }
        if let Err(error) = self.store.checkpoint(&self.flow, &checkpoint) {
            // Nothing of it was written: its keys and dead letters wait for the next one.
            self.unsaved.keys = checkpoint.dedupe_keys;
            self.unsaved.dead_letters = checkpoint.dead_letters;
            return Err(Failed::new(format!("{}: cannot save a checkpoint: {error}", self.flow)));
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
        self.checkpoint_time += started.elapsed();
        Ok(())
    }

    /// Ends the run: with the body's result and the working states, the
    /// last commit point and checkpoint (for a failed run, the checkpoint of
    /// what was committed; a failed queued event is dead-lettered with the
    /// working states), then its history.
    pub fn finish(
        mut self,
        result: Result<Control, Failed>,
        states: Result<BTreeMap<String, String>, EvalError>,
    ) -> RunEnded {
        let mut error = None;
        let mut interrupted = false;
        let ended = match (result, states) {
            (Ok(control), Ok(states)) => Ok((control, states)),
            // The working states cannot be encoded (the dead letter keeps none).
            (Ok(_), Err(error)) => Err((self.unsaved_state(error), Ok(BTreeMap::new()))),
            (Err(failed), states) => Err((failed, states)),
        };
        match ended {
            Ok((control, states)) => {
                // A stop comes between top-level records: what ran is committed.
                interrupted = control == Control::Stop;
                self.commit_point(states);
            }
            Err((failed, states)) => {
                let message = failed.message;
                // The working state goes back to the last commit point.
                self.pending = Pending::default();
                // A failed queued event goes to the dead letters, so that it can be replayed (§ 12.3).
                if self.mode == RunMode::Run && self.event.as_ref().is_some_and(|event| event.id.is_some()) {
                    let failure = Failure {
                        error: "Failed".to_owned(),
                        api: None,
                        endpoint: None,
                        status: None,
                        message: message.clone(),
                    };
                    let letter =
                        Letter { failure, attempts: 0, request: None, response: None, unit: Unit::Run, states };
                    let record = self.dead_letter(letter);
                    tracing::warn!(flow = %self.flow, run = %self.id, "the event is dead-lettered as {}", record.id);
                    self.live.dead_letters.fetch_add(1, Ordering::Relaxed);
                    self.unsaved.dead_letters.push(record);
                }
                error = Some(message);
            }
        }
        if let Err(failed) = self.checkpoint(true) {
            error.get_or_insert(failed.message);
        }
        let counters = self.counters();
        let retries = self.live.retries();
        let outcome = match (&error, counters.dead_letters) {
            (Some(_), _) => RunOutcome::Failed,
            (None, 0) => RunOutcome::Completed,
            (None, _) => RunOutcome::CompletedWithDeadLetters,
        };
        let history_error = error.clone().or_else(|| interrupted.then(|| "stopped by a signal".to_owned()));
        let end = RunEnd { at: Timestamp::now(), outcome, counters, error: history_error };
        let (name, run) = (&self.flow, self.id);
        if let Err(store_error) = self.store.finish_run(run, &end) {
            tracing::error!(flow = %name, run = %run, "cannot record the end of the run: {store_error}");
        }
        let duration = self.started.elapsed();
        let mut summary = format!(
            "read {}, written {}, skipped {}, dead letters {}",
            counters.read, counters.written, counters.skipped, counters.dead_letters
        );
        if self.counts_retries {
            summary.push_str(&format!(", retries {retries}"));
        }
        match (&error, interrupted) {
            (Some(message), _) => tracing::error!(flow = %name, run = %run, "{name} failed: {message}; {summary}"),
            (None, true) => {
                tracing::info!(flow = %name, run = %run, "{name} stopped by a signal, state saved: {summary}")
            }
            (None, false) => tracing::info!(flow = %name, run = %run, "{name} {outcome}: {summary}"),
        }
        RunEnded {
            run,
            trigger: self.trigger,
            outcome,
            counters,
            retries,
            duration,
            error,
            interrupted,
            dead_letters: std::mem::take(&mut self.dead_letter_ids),
            checkpoints: self.checkpoints,
            checkpoint_time: self.checkpoint_time,
        }
    }

    // ----- Statements -----

    /// `log level "text"` (secrets redacted).
    pub fn log(&self, level: LogLevel, text: &str) {
        let text = crate::secret::redact(text);
        let (flow, run) = (&self.flow, self.id);
        match level {
            LogLevel::Debug => tracing::debug!(flow = %flow, run = %run, "{text}"),
            LogLevel::Info => tracing::info!(flow = %flow, run = %run, "{text}"),
            LogLevel::Warn => tracing::warn!(flow = %flow, run = %run, "{text}"),
            LogLevel::Error => tracing::error!(flow = %flow, run = %run, "{text}"),
        }
    }

    /// `fail "text"` at `location`.
    pub fn fail(&self, location: &str, text: &str) -> Failed {
        Failed::new(format!("{} ({location}): {text}", self.flow))
    }

    // ----- Failures (§ 12.7) -----

    /// A call of `api.endpoint` failed: the first arm of `catch` (error
    /// name, `None` for `_`) that catches it decides, else `on_exhausted`
    /// (the endpoint's policy). `Ok(Control::Next)` means the failure is
    /// ignored; `states` are the working states, for a dead letter.
    #[allow(clippy::too_many_arguments)]
    pub fn call_failed(
        &mut self,
        location: &str,
        failure: CallFailure,
        catch: &[(Option<&str>, Action)],
        on_exhausted: Action,
        (api, endpoint): (&str, &str),
        unit: Unit<'_>,
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
        self.unit_failed(location, action, letter)
    }

    /// The queued event does not decode as the payload type (the program
    /// changed since it was accepted): it is dead-lettered (`Decode`).
    pub fn undecodable(
        &mut self,
        location: &str,
        message: String,
        states: Result<BTreeMap<String, String>, EvalError>,
    ) -> Result<Control, Failed> {
        let failure = Failure { error: "Decode".to_owned(), api: None, endpoint: None, status: None, message };
        let letter = Letter { failure, attempts: 0, request: None, response: None, unit: Unit::Run, states };
        self.unit_failed(location, Action::DeadLetter, letter)
    }

    /// An expression failed to evaluate: the unit of work is dead-lettered.
    pub fn evaluation_failed(
        &mut self,
        location: &str,
        error: EvalError,
        unit: Unit<'_>,
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
        self.unit_failed(location, Action::DeadLetter, letter)
    }

    /// Applies `action` to the unit of work that failed at `location`
    /// (§ 12.7): ignored, skipped, the run failed, or dead-lettered (the
    /// dead letter commits with the unit). A replayed unit that fails again
    /// keeps its first dead letter only.
    pub fn unit_failed(&mut self, location: &str, action: Action, letter: Letter<'_>) -> Result<Control, Failed> {
        let message = letter.failure.message.clone();
        self.last_error = Some(message.clone());
        let unit_name = match (&letter.unit, &self.event) {
            (Unit::Record { .. }, _) => "the record",
            (Unit::Run, Some(_)) => "the event",
            (Unit::Run, None) => "the run",
        };
        let (flow, run) = (&self.flow, self.id);
        match action {
            Action::Ignore => {
                tracing::warn!(flow = %flow, run = %run, "{location}: {message} (ignored)");
                Ok(Control::Next)
            }
            Action::Skip => {
                tracing::info!(flow = %flow, run = %run, "{location}: {message}; {unit_name} skipped");
                Ok(Control::Skip)
            }
            Action::Fail => Err(Failed::new(format!("{flow} ({location}): {message}"))),
            Action::DeadLetter => {
                let replayed_unit = match self.mode {
                    RunMode::Run => false,
                    RunMode::ReplayRun => matches!(letter.unit, Unit::Run),
                    RunMode::ReplayRecord => true,
                };
                let record = self.dead_letter(letter);
                tracing::warn!(
                    flow = %self.flow, run = %self.id,
                    "{location}: {message}; {unit_name} dead-lettered as {}", record.id
                );
                if replayed_unit {
                    self.failed_again = Some(message);
                } else {
                    self.pending.dead_letters.push(record);
                }
                Ok(Control::DeadLettered)
            }
        }
    }

    fn dead_letter(&self, letter: Letter<'_>) -> DeadLetterRecord {
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

/// The names a record sees from outside its loop, as a JSON object text:
/// each name with its value's JSON text (a dead letter's context).
pub fn context(names: &[(&str, String)]) -> String {
    object(names.iter().map(|(name, text)| ((*name).to_owned(), text.as_str())))
}

/// A flow's states, state name → JSON text, as one JSON object text (a
/// dead letter's state).
fn states_object(states: BTreeMap<String, String>) -> String {
    object(states.iter().map(|(name, text)| (name.clone(), text.as_str())))
}

/// A JSON object of members given as JSON texts (one that does not parse is `null`).
fn object<'t>(members: impl Iterator<Item = (String, &'t str)>) -> String {
    let object: serde_json::Map<String, serde_json::Value> =
        members.map(|(name, text)| (name, serde_json::from_str(text).unwrap_or(serde_json::Value::Null))).collect();
    serde_json::Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn start(store: &Arc<MemoryStore>, mode: RunMode, batch: u32) -> Bookkeeping {
        let config = RunConfig {
            flow: "sync".to_owned(),
            location: "sync.integ:1:1".to_owned(),
            batch,
            trigger: Trigger::Manual,
            mode,
            live: Arc::new(Live::default()),
            counts_retries: false,
        };
        let store: Arc<dyn Store> = store.clone();
        Bookkeeping::start(store, config).unwrap()
    }

    fn states(cursor: &str) -> Result<BTreeMap<String, String>, EvalError> {
        Ok(BTreeMap::from([("cursor".to_owned(), cursor.to_owned())]))
    }

    fn record(loop_id: &str) -> Unit<'_> {
        Unit::Record { loop_id, input: "{}".to_owned(), context: "{}".to_owned() }
    }

    fn failure(message: &str) -> EvalError {
        EvalError::Other(message.to_owned())
    }

    #[test]
    fn commits_checkpoint_every_batch_and_save_only_changed_states() {
        let store = Arc::new(MemoryStore::new());
        let mut run = start(&store, RunMode::Run, 2);
        run.load_states().unwrap();
        run.loaded(states("0")).unwrap();
        run.passed("l", "a".to_owned(), "h".to_owned());
        run.commit(states("1")).unwrap();
        assert_eq!(store.load_state("sync").unwrap().get("cursor"), None, "no checkpoint before `batch` commits");
        assert!(run.is_duplicate("l", "a", "h").unwrap(), "a committed key is known before its checkpoint");
        run.commit(states("2")).unwrap();
        assert_eq!(store.load_state("sync").unwrap().get("cursor").map(String::as_str), Some("2"));
        assert!(run.is_duplicate("l", "a", "h").unwrap(), "and from the store after it");
        assert!(!run.is_duplicate("l", "a", "other").unwrap(), "a changed record is not a duplicate");
        let ended = run.finish(Ok(Control::Next), states("2"));
        assert_eq!((ended.outcome, ended.checkpoints), (RunOutcome::Completed, 2));
    }

    #[test]
    fn a_failed_run_keeps_what_was_committed_and_not_its_record_s_dead_letters() {
        let store = Arc::new(MemoryStore::new());
        let mut run = start(&store, RunMode::Run, 10);
        run.load_states().unwrap();
        run.loaded(states("0")).unwrap();
        run.commit(states("1")).unwrap();
        let control = run.evaluation_failed("sync.integ:3:5", failure("boom"), record("l"), states("2")).unwrap();
        assert_eq!(control, Control::DeadLettered);
        let ended = run.finish(Err(Failed::new("sync (sync.integ:4:5): stop")), states("3"));
        assert_eq!(ended.outcome, RunOutcome::Failed);
        assert_eq!(ended.counters.dead_letters, 0);
        assert_eq!(store.load_state("sync").unwrap().get("cursor").map(String::as_str), Some("1"));
        assert!(store.dead_letters(Some("sync")).unwrap().is_empty());
    }

    #[test]
    fn a_replayed_record_goes_through_dedupe_saves_no_state_and_is_not_dead_lettered_again() {
        let store = Arc::new(MemoryStore::new());
        let mut first = start(&store, RunMode::Run, 1);
        first.load_states().unwrap();
        first.loaded(states("0")).unwrap();
        first.passed("l", "a".to_owned(), "h".to_owned());
        first.commit(states("1")).unwrap();
        first.finish(Ok(Control::Next), states("1"));

        let mut replay = start(&store, RunMode::ReplayRecord, 1);
        replay.load_states().unwrap();
        replay.loaded(states("1")).unwrap();
        assert!(!replay.is_duplicate("l", "a", "h").unwrap());
        let control = replay.evaluation_failed("sync.integ:3:5", failure("again"), record("l"), states("9")).unwrap();
        assert_eq!(control, Control::DeadLettered);
        assert_eq!(replay.failed_again(), Some("again"));
        replay.commit(states("9")).unwrap();
        let ended = replay.finish(Ok(control), states("9"));
        assert_eq!(ended.counters.dead_letters, 0);
        assert_eq!(store.load_state("sync").unwrap().get("cursor").map(String::as_str), Some("1"));
        assert!(store.dead_letters(Some("sync")).unwrap().is_empty());
    }

    #[test]
    fn a_replayed_run_stores_the_dead_letters_of_its_records_only() {
        let store = Arc::new(MemoryStore::new());
        let mut run = start(&store, RunMode::ReplayRun, 1);
        run.load_states().unwrap();
        run.loaded(states("0")).unwrap();
        run.evaluation_failed("sync.integ:3:5", failure("a record"), record("l"), states("0")).unwrap();
        run.commit(states("0")).unwrap();
        run.evaluation_failed("sync.integ:6:3", failure("the run"), Unit::Run, states("0")).unwrap();
        assert_eq!(run.failed_again(), Some("the run"));
        let ended = run.finish(Ok(Control::DeadLettered), states("0"));
        assert_eq!(ended.dead_letters.len(), 1);
        let letters = store.dead_letters(Some("sync")).unwrap();
        assert_eq!(letters.len(), 1);
        let letter = store.dead_letter(letters[0].id).unwrap().unwrap();
        assert_eq!(letter.record.unit, UnitKind::Record);
    }

    #[test]
    fn a_failed_queued_event_is_dead_lettered_with_the_working_state() {
        let store = Arc::new(MemoryStore::new());
        let mut run = start(&store, RunMode::Run, 1);
        let event = QueuedEvent {
            id: EventId::generate(),
            flow: "sync".to_owned(),
            received_at: Timestamp::now(),
            headers: vec![("x-id".to_owned(), "7".to_owned())],
            body: b"{}".to_vec(),
            delivery_key: None,
        };
        store.enqueue_event(&event).unwrap();
        run.set_event(event);
        run.load_states().unwrap();
        run.loaded(states("0")).unwrap();
        run.commit(states("1")).unwrap();
        assert_eq!(store.load_state("sync").unwrap().get("cursor"), None, "an event checkpoints once, at its end");
        let ended = run.finish(Err(Failed::new("sync: failed")), states("2"));
        assert_eq!((ended.outcome, ended.counters.read, ended.counters.dead_letters), (RunOutcome::Failed, 1, 1));
        let letters = store.dead_letters(Some("sync")).unwrap();
        let letter = store.dead_letter(letters[0].id).unwrap().unwrap();
        assert_eq!(letter.record.unit, UnitKind::Event);
        assert_eq!(letter.record.state, r#"{"cursor":2}"#);
        assert_eq!(store.load_state("sync").unwrap().get("cursor").map(String::as_str), Some("1"));
        assert!(store.pending_events("sync", 10).unwrap().is_empty(), "the event left the queue");
    }

    #[test]
    fn catch_arms_decide_before_on_exhausted() {
        let store = Arc::new(MemoryStore::new());
        let mut run = start(&store, RunMode::Run, 1);
        let failure = || {
            CallFailure::Call(crate::http::CallError::new(
                "Crm",
                "upsert",
                CallErrorKind::Mapped { name: "NotFound".to_owned(), status: 404, body_excerpt: String::new() },
                crate::http::Method::PUT,
                "http://127.0.0.1/contacts/1",
            ))
        };
        let endpoint = ("Crm", "upsert");
        let arms = [(Some("Conflict"), Action::Fail), (Some("NotFound"), Action::Skip)];
        let skipped = run.call_failed("s:1:1", failure(), &arms, Action::Fail, endpoint, record("l"), states("0"));
        assert_eq!(skipped, Ok(Control::Skip));
        let ignored = run.call_failed(
            "s:1:1",
            failure(),
            &[(None, Action::Ignore)],
            Action::Fail,
            endpoint,
            Unit::Run,
            states("0"),
        );
        assert_eq!(ignored, Ok(Control::Next));
        let failed = run.call_failed("s:1:1", failure(), &[], Action::Fail, endpoint, Unit::Run, states("0"));
        assert!(failed.is_err_and(|failed| failed.message().starts_with("sync (s:1:1): ")));
        assert!(run.last_error().is_some());
    }
}
