//! The runs of generated flows (§ 12 and § 17.2 of spec.md): what a
//! flow's generated `async fn` calls — [`FlowHost::start`] and the
//! [`FlowRun`] it returns — over the runtime's [`Bookkeeping`] of a run
//! (starting and ending runs, committed state, dedupe keys, dead letters,
//! checkpoints every `batch` records, counters), the one the interpreter's
//! runner holds too: the same rules and the same store records.
//!
//! Generated code keeps the flow's states as typed locals and hands them
//! over encoded (state name → JSON text) at each commit point; what a
//! failure does to its unit of work (§ 12.7) is decided by the
//! bookkeeping, from the statement's `catch` and the endpoint's
//! `on_exhausted`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::client::CallFailure;
use crate::error::EvalError;
use crate::http::CallErrorKind;
pub use crate::run::{Action, Control, Delivery, Failed, LogLevel, Unit, context};
use crate::run::{Bookkeeping, Live, RunConfig, RunMode};
use crate::store::{Counters, DeadLetterId, MemoryStore, RunId, RunOutcome, SqliteStore, Store, StoreError, Trigger};
use crate::wire::{Format, Text};

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

    /// Starts a run of `flow`: records it in the store.
    pub fn start(&self, flow: &'static FlowInfo, trigger: Trigger) -> Result<FlowRun, StoreError> {
        let config = RunConfig {
            flow: flow.name.to_owned(),
            location: flow.location.to_owned(),
            batch: flow.batch,
            trigger,
            mode: RunMode::Run,
            live: Arc::new(Live::default()),
            counts_retries: false,
        };
        let book = Bookkeeping::start(self.store.clone(), config)?;
        Ok(FlowRun { book, flow, stop: self.stop.clone() })
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

/// A `catch` arm: the error name (`None` for `_`) and its action.
pub type CatchArm = (Option<&'static str>, Action);

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

/// One run of a generated flow: the run's [`Bookkeeping`], with the typed
/// states of generated code and the host's stop flag.
#[derive(Debug)]
pub struct FlowRun {
    book: Bookkeeping,
    flow: &'static FlowInfo,
    stop: Arc<AtomicBool>,
}

impl FlowRun {
    pub fn id(&self) -> RunId {
        self.book.id()
    }

    /// The run is for one webhook event (§ 12.3): it counts as one record
    /// read, is the unit of work and of durability (one checkpoint, at the
    /// end, which removes a queued event from its queue), and its dead
    /// letter keeps its headers and raw body.
    pub fn set_event(&mut self, event: impl Into<Delivery>) {
        self.book.set_event(event);
    }

    /// Reads the flow's committed state from the store (once).
    pub fn load_states(&mut self) -> Result<(), Failed> {
        self.book.load_states()
    }

    /// The stored value of state `name`, as JSON text.
    pub fn stored_state(&self, name: &str) -> Option<&str> {
        self.book.stored_state(name)
    }

    /// Decodes the stored value of state `name` in format `F`; `ty` is its
    /// integ type, for the message when it no longer decodes.
    pub fn stored<F: Format>(&self, name: &str, ty: &str) -> Result<Option<F::Value>, Failed> {
        let Some(text) = self.stored_state(name) else { return Ok(None) };
        crate::wire::json::<F>(text.as_bytes(), name)
            .map(Some)
            .map_err(|error| self.book.undecodable_state(name, ty, error))
    }

    /// The initial value of state `name` could not be computed.
    pub fn init_failed(&self, name: &str, error: EvalError) -> Failed {
        self.book.init_failed(name, error)
    }

    /// The states once loaded: the first committed state.
    pub fn loaded(&mut self, states: Result<BTreeMap<String, String>, EvalError>) -> Result<(), Failed> {
        self.book.loaded(states)
    }

    /// Whether the stop flag is set (checked between top-level records).
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A stream record was read.
    pub fn count_read(&mut self) {
        self.book.count_read();
    }

    /// A stream record was skipped.
    pub fn count_skipped(&mut self) {
        self.book.count_skipped();
    }

    /// A call of an endpoint whose method writes succeeded.
    pub fn count_written(&mut self) {
        self.book.count_written();
    }

    /// A call of an endpoint whose method writes failed: it counts as
    /// written when the answer came and only its decoding failed (as the
    /// interpreter counts it).
    pub fn count_failed_write(&mut self, failure: &CallFailure) {
        if let CallFailure::Call(error) = failure
            && matches!(error.kind, CallErrorKind::Decode { .. })
        {
            self.book.count_written();
        }
    }

    pub fn counters(&self) -> Counters {
        self.book.counters()
    }

    /// Whether the record with `key` and content `hash` was committed
    /// already by the loop `loop_id` (in this run or an earlier one).
    pub fn is_duplicate(&self, loop_id: &str, key: &str, hash: &str) -> Result<bool, Failed> {
        self.book.is_duplicate(loop_id, key, hash)
    }

    /// A record with a dedupe key went through (or was skipped): its key
    /// commits with it.
    pub fn passed(&mut self, loop_id: &str, key: String, hash: String) {
        self.book.passed(loop_id, key, hash);
    }

    /// A commit point after a top-level record, with the working states
    /// encoded; a checkpoint every `batch` of them.
    pub fn commit(&mut self, states: Result<BTreeMap<String, String>, EvalError>) -> Result<(), Failed> {
        self.book.commit(states)
    }

    /// Ends the run: with the body's result and the working states, the
    /// last commit point and checkpoint (for a failed run, the checkpoint of
    /// what was committed), then its history.
    pub fn finish(
        self,
        result: Result<Control, Failed>,
        states: Result<BTreeMap<String, String>, EvalError>,
    ) -> FlowReport {
        let ended = self.book.finish(result, states);
        FlowReport {
            flow: self.flow.name,
            run: ended.run,
            trigger: ended.trigger,
            outcome: ended.outcome,
            counters: ended.counters,
            duration: ended.duration,
            error: ended.error,
            interrupted: ended.interrupted,
            dead_letters: ended.dead_letters,
            checkpoints: ended.checkpoints,
        }
    }

    /// `log level "text"` (secrets redacted).
    pub fn log(&self, level: LogLevel, text: &str) {
        self.book.log(level, text);
    }

    /// `fail "text"` at `location`.
    pub fn fail(&self, location: &str, text: &str) -> Failed {
        self.book.fail(location, text)
    }

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
        endpoint: (&str, &str),
        unit: Unit<'_>,
        states: Result<BTreeMap<String, String>, EvalError>,
    ) -> Result<Control, Failed> {
        self.book.call_failed(location, failure, catch, on_exhausted, endpoint, unit, states)
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
        self.book.undecodable(location, message, states)
    }

    /// An expression failed to evaluate: the unit of work is dead-lettered.
    pub fn evaluation_failed(
        &mut self,
        location: &str,
        error: EvalError,
        unit: Unit<'_>,
        states: Result<BTreeMap<String, String>, EvalError>,
    ) -> Result<Control, Failed> {
        self.book.evaluation_failed(location, error, unit, states)
    }
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
