//! The state store (§ 12 and § 16.7 of spec.md): everything that must
//! survive a process.
//!
//! - **flow state**: per flow, the committed values of its `state`
//!   variables, as JSON text (§ 12.4);
//! - **dedupe keys**: per flow and `for` statement, the content hash last
//!   committed for each key (§ 12.9);
//! - **run history**: each run's trigger, times, outcome, counters and error
//!   (§ 12.10, § 12.11);
//! - **dead letters** (§ 12.7), listed, shown, marked replayed and dropped by
//!   `integ deadletters`;
//! - **schedules**: the last start time of each flow (`every D`, § 12.2);
//! - **webhook queues** and **delivery keys** (§ 12.3);
//! - **rotated OAuth2 refresh tokens** (§ 8.6).
//!
//! The [`Store`] trait is what the interpreter and generated code use;
//! [`SqliteStore`] is the embedded database of `integ run` (by default
//! [`DEFAULT_PATH`]), [`MemoryStore`] the store of tests and `integ test`.
//! Both behave identically (one behavioural test suite runs against both).
//!
//! The store never interprets what it keeps: state values and dead-letter
//! inputs arrive encoded as JSON text (the interpreter encodes them by their
//! declared types), content hashes are computed by the caller, requests and
//! responses are redacted by the HTTP layer before they get here.
//!
//! # Checkpoints
//!
//! [`Store::checkpoint`] is the one write of a flow's progress (§ 12.8 point
//! 4): in one atomic transaction it writes the committed state values, the
//! dedupe keys committed since the previous checkpoint, the dead letters, the
//! run's counters and — for a webhook flow — removes the event from the
//! queue and records its delivery key. Either all of a [`Checkpoint`] is
//! durable or none of it is.
//!
//! # Times and ids
//!
//! The store never reads the clock: every time is given by the caller (so a
//! test clock drives it), and is kept to the microsecond. Ids ([`RunId`],
//! [`DeadLetterId`], [`EventId`]) are UUID v7 written as 26 Crockford base32
//! characters, like ULIDs: they sort by creation time, the first ten
//! characters being the millisecond timestamp.
//!
//! # Synchronous by design
//!
//! The methods are synchronous: an SQLite call takes microseconds, and a
//! checkpoint is one short transaction. The trait is object safe, `Send +
//! Sync`, its methods take `&self`, and every argument and result is plain
//! owned data (`Clone + Send + 'static`), so async code holds an
//! `Arc<dyn Store>` and either calls it directly or moves a clone into
//! `tokio::task::spawn_blocking`; an async back end (a shared server
//! database for several workers) can implement it with a blocking client, or
//! be wrapped the other way round.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};

use crate::http::errors::{RecordedRequest, RecordedResponse};
use crate::secret::Secret;

mod memory;
mod sqlite;

pub use memory::MemoryStore;
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

/// Where `integ run` keeps its store unless `--state PATH` or `INTEG_STATE`
/// says otherwise (§ 16.7), relative to the working directory.
pub const DEFAULT_PATH: &str = ".integ/state.db";

/// How long a webhook delivery key protects against replays (§ 12.3).
pub const DELIVERY_KEY_RETENTION: SignedDuration = SignedDuration::from_hours(30 * 24);

/// The store: see the [module documentation](self).
///
/// Every method is one transaction. Methods that take a time use it as
/// "now"; the store itself never reads the clock.
pub trait Store: Send + Sync {
    // ----- Flow state and dedupe keys (§ 12.4, § 12.9) -----

    /// The committed state values of `flow`: state name → JSON text. Empty
    /// for a flow that never committed (or was reset).
    fn load_state(&self, flow: &str) -> Result<HashMap<String, String>, StoreError>;

    /// The content hash last committed for `key` by the `for` statement
    /// `loop_id` of `flow`, if any.
    fn committed_hash(&self, flow: &str, loop_id: &str, key: &str) -> Result<Option<String>, StoreError>;

    /// `--reset-state FLOW`: deletes the flow's state values and dedupe keys,
    /// not its dead letters, run history, schedule, webhook queue or delivery
    /// keys.
    fn reset_state(&self, flow: &str) -> Result<(), StoreError>;

    /// Writes a checkpoint of `flow` in one atomic transaction (§ 12.8): on
    /// any error nothing of it is written.
    ///
    /// Fails with [`StoreError::NotFound`] when the run or the event is not
    /// in the store, [`StoreError::Conflict`] when the run belongs to another
    /// flow or is finished, and [`StoreError::Duplicate`] when a dead letter
    /// id is already used.
    fn checkpoint(&self, flow: &str, checkpoint: &Checkpoint) -> Result<(), StoreError>;

    // ----- Runs (§ 12.10, § 12.11) -----

    /// Records that a run of `flow` started at `at`; returns its id. Its
    /// counters start at zero and it has no outcome until
    /// [`Store::finish_run`]. (The schedule is separate:
    /// [`Store::set_last_start`].)
    fn start_run(&self, flow: &str, trigger: Trigger, at: Timestamp) -> Result<RunId, StoreError>;

    /// Records how a run ended, with its final counters. Fails with
    /// [`StoreError::NotFound`] for an unknown run and
    /// [`StoreError::Conflict`] for one already finished.
    fn finish_run(&self, run: RunId, end: &RunEnd) -> Result<(), StoreError>;

    /// One run.
    fn run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError>;

    /// The latest `limit` runs, newest first, of `flow` or of every flow.
    /// A run without an outcome is still going, or its process stopped
    /// before it finished (one process at a time uses a store, so a run
    /// without an outcome found when the store opens was interrupted).
    fn recent_runs(&self, flow: Option<&str>, limit: usize) -> Result<Vec<RunRecord>, StoreError>;

    // ----- Schedules (§ 12.2) -----

    /// When `flow` last started, as recorded by [`Store::set_last_start`].
    fn last_start(&self, flow: &str) -> Result<Option<Timestamp>, StoreError>;

    /// Records that `flow` started at `at` (the scheduler of `every D` runs
    /// it again D later).
    fn set_last_start(&self, flow: &str, at: Timestamp) -> Result<(), StoreError>;

    // ----- Dead letters (§ 12.7) -----

    /// The dead letters of `flow`, or of every flow, oldest first, without
    /// their inputs, requests, responses and states.
    fn dead_letters(&self, flow: Option<&str>) -> Result<Vec<DeadLetterSummary>, StoreError>;

    /// One dead letter, whole.
    fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError>;

    /// Records that a dead letter was replayed at `at`; returns how many
    /// times it has been. [`StoreError::NotFound`] when there is no such
    /// dead letter.
    fn mark_replayed(&self, id: DeadLetterId, at: Timestamp) -> Result<u32, StoreError>;

    /// Deletes one dead letter; false when there was none.
    fn delete_dead_letter(&self, id: DeadLetterId) -> Result<bool, StoreError>;

    /// Deletes the dead letters of `flow`, or all of them; returns how many.
    fn delete_dead_letters(&self, flow: Option<&str>) -> Result<u64, StoreError>;

    // ----- Webhook queues and delivery keys (§ 12.3) -----

    /// Stores an accepted event durably at the end of the flow's queue —
    /// before the webhook server answers `202` — unless its delivery key was
    /// accepted in the last 30 days (relative to `event.received_at`) or
    /// belongs to an event still queued, in which case nothing is stored and
    /// [`Enqueued::Duplicate`] is returned. The check and the insertion are
    /// one transaction, so two deliveries of one key racing each other
    /// queue one event.
    fn enqueue_event(&self, event: &QueuedEvent) -> Result<Enqueued, StoreError>;

    /// The first `limit` events queued for `flow`, in arrival order. An
    /// event leaves the queue in the checkpoint at the end of its run
    /// ([`Checkpoint::event`]).
    fn pending_events(&self, flow: &str, limit: usize) -> Result<Vec<QueuedEvent>, StoreError>;

    /// The flows that have queued events, with how many, by flow name (to
    /// recover the queues at start-up, § 16.1).
    fn pending_event_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// Whether `key` was accepted for `flow` in the 30 days before `now`, or
    /// belongs to an event still queued.
    fn seen(&self, flow: &str, key: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Deletes the delivery keys accepted 30 days or more before `now`;
    /// returns how many. (Checkpoints that remove an event also prune the
    /// flow's old keys.)
    fn prune_delivery_keys(&self, now: Timestamp) -> Result<u64, StoreError>;

    // ----- Rotated OAuth2 refresh tokens (§ 8.6) -----

    /// Saves the refresh token of the auth `name`, replacing any saved one.
    fn save_refresh_token(&self, name: &str, token: &SavedRefreshToken) -> Result<(), StoreError>;

    /// The refresh token saved for the auth `name`, if any.
    fn load_refresh_token(&self, name: &str) -> Result<Option<SavedRefreshToken>, StoreError>;
}

// ---------------------------------------------------------------------------
// Checkpoints

/// What one checkpoint writes for a flow, atomically (§ 12.8 point 4).
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The run being checkpointed (of the same flow, not finished).
    pub run: RunId,
    /// When the checkpoint is written (prunes old delivery keys).
    pub at: Timestamp,
    /// Committed state values: state name → JSON text. Each replaces the
    /// stored value of its name; names not given keep their stored values
    /// (a state removed from the program is ignored, § 12.4).
    pub state: BTreeMap<String, String>,
    /// Dedupe keys committed since the previous checkpoint; each replaces
    /// the hash stored for its loop and key (the last of a key wins).
    pub dedupe_keys: Vec<DedupeKey>,
    /// Dead letters stored since the previous checkpoint.
    pub dead_letters: Vec<DeadLetterRecord>,
    /// The run's counters so far (totals, not increments: they replace the
    /// counters of the run history), or `None` to leave those of an earlier
    /// checkpoint: counters are for the operator, and a runner checkpointing
    /// every record saves them only now and then (the run's end saves them
    /// exactly).
    pub counters: Option<Counters>,
    /// For a webhook flow, the event whose run ends: it leaves the queue and
    /// its delivery key, if it has one, is recorded as accepted at the time
    /// the event was received.
    pub event: Option<EventId>,
}

impl Checkpoint {
    /// An empty checkpoint of `run`: no state, keys or dead letters, zero
    /// counters.
    pub fn new(run: RunId, at: Timestamp) -> Checkpoint {
        Checkpoint {
            run,
            at,
            state: BTreeMap::new(),
            dedupe_keys: Vec::new(),
            dead_letters: Vec::new(),
            counters: None,
            event: None,
        }
    }
}

/// A committed dedupe key of a `for` statement (§ 12.9).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DedupeKey {
    /// The `for` statement, as the caller names it (`"sync_orders:12"`).
    pub loop_id: String,
    /// The key, as text.
    pub key: String,
    /// The hash of the record's canonical JSON, as the caller computes it.
    pub hash: String,
}

impl DedupeKey {
    pub fn new(loop_id: impl Into<String>, key: impl Into<String>, hash: impl Into<String>) -> DedupeKey {
        DedupeKey { loop_id: loop_id.into(), key: key.into(), hash: hash.into() }
    }
}

// ---------------------------------------------------------------------------
// Runs

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// `every D`.
    Every,
    /// `cron("...")`.
    Cron,
    /// One webhook event.
    Webhook,
    /// `manual`, or any flow run with `integ run --once`.
    Manual,
    /// A dead letter replayed.
    Replay,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Every => "every",
            Trigger::Cron => "cron",
            Trigger::Webhook => "webhook",
            Trigger::Manual => "manual",
            Trigger::Replay => "replay",
        }
    }

    pub fn parse(text: &str) -> Option<Trigger> {
        Some(match text {
            "every" => Trigger::Every,
            "cron" => Trigger::Cron,
            "webhook" => Trigger::Webhook,
            "manual" => Trigger::Manual,
            "replay" => Trigger::Replay,
            _ => return None,
        })
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// How a run ended (§ 12.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunOutcome {
    Completed,
    CompletedWithDeadLetters,
    Failed,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Completed => "completed",
            RunOutcome::CompletedWithDeadLetters => "completed with dead letters",
            RunOutcome::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<RunOutcome> {
        Some(match text {
            "completed" => RunOutcome::Completed,
            "completed with dead letters" => RunOutcome::CompletedWithDeadLetters,
            "failed" => RunOutcome::Failed,
            _ => return None,
        })
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The counters of a run (§ 12.10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    pub read: u64,
    pub written: u64,
    pub skipped: u64,
    pub dead_letters: u64,
}

/// How a run ended, for [`Store::finish_run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEnd {
    pub at: Timestamp,
    pub outcome: RunOutcome,
    /// The final counters (they replace those of the last checkpoint).
    pub counters: Counters,
    /// For a failed run, the error as logged.
    pub error: Option<String>,
}

/// One run of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    pub id: RunId,
    pub flow: String,
    pub trigger: Trigger,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// None while the run goes on (or when its process stopped first).
    pub outcome: Option<RunOutcome>,
    /// As of the last checkpoint, or final once finished.
    pub counters: Counters,
    pub error: Option<String>,
}

// ---------------------------------------------------------------------------
// Dead letters

/// The kind of unit of work a dead letter holds (§ 12.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnitKind {
    Record,
    Event,
    Run,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Record => "record",
            UnitKind::Event => "event",
            UnitKind::Run => "run",
        }
    }

    pub fn parse(text: &str) -> Option<UnitKind> {
        Some(match text {
            "record" => UnitKind::Record,
            "event" => UnitKind::Event,
            "run" => UnitKind::Run,
            _ => return None,
        })
    }
}

impl fmt::Display for UnitKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The input of a dead-lettered unit of work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitInput {
    /// A scheduled or manual run has none.
    None,
    /// A record's value as JSON, or the raw JSON of a record that could not
    /// be decoded.
    Json(String),
    /// A webhook event: its request headers and raw body, byte for byte, so
    /// that it can be replayed.
    Event { headers: Vec<(String, String)>, body: Vec<u8> },
}

/// Why a unit of work was dead-lettered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The error name: `Unavailable`, `Timeout`, `Decode`...
    pub error: String,
    pub api: Option<String>,
    pub endpoint: Option<String>,
    pub status: Option<u16>,
    pub message: String,
}

/// A dead letter as a checkpoint writes it (its flow and run are the
/// checkpoint's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterRecord {
    /// Made by the caller ([`DeadLetterId::generate`]) so that it can be
    /// logged before the checkpoint.
    pub id: DeadLetterId,
    pub at: Timestamp,
    pub unit: UnitKind,
    pub input: UnitInput,
    pub failure: Failure,
    /// Attempts of the failed call (0 when no call failed).
    pub attempts: u32,
    /// Redacted by the HTTP layer (§ 7.4).
    pub last_request: Option<RecordedRequest>,
    /// The status, headers and first 64 KiB of the body, redacted.
    pub last_response: Option<RecordedResponse>,
    /// The flow's state values at the time, as a JSON object.
    pub state: String,
    /// For a record: the `for` statement it came from (the id the caller
    /// gives dedupe keys), so that it can be replayed through that loop.
    pub loop_id: Option<String>,
    /// For a record: what it saw from outside its loop (outer loop bindings,
    /// `let`s), as a JSON object, so that a replay can restore it.
    pub context: Option<String>,
}

/// A stored dead letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub flow: String,
    pub run: RunId,
    pub record: DeadLetterRecord,
    pub replays: Replays,
}

/// How often a dead letter was replayed (`integ deadletters retry`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Replays {
    pub count: u32,
    pub last_at: Option<Timestamp>,
}

/// A dead letter as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterSummary {
    pub id: DeadLetterId,
    pub flow: String,
    pub run: RunId,
    pub at: Timestamp,
    pub unit: UnitKind,
    pub failure: Failure,
    pub attempts: u32,
    pub replays: Replays,
}

impl DeadLetter {
    pub fn summary(&self) -> DeadLetterSummary {
        DeadLetterSummary {
            id: self.record.id,
            flow: self.flow.clone(),
            run: self.run,
            at: self.record.at,
            unit: self.record.unit,
            failure: self.record.failure.clone(),
            attempts: self.record.attempts,
            replays: self.replays,
        }
    }
}

// ---------------------------------------------------------------------------
// Webhook queues

/// An accepted webhook event (§ 12.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedEvent {
    /// Made by the caller ([`EventId::generate`]); it is the `event` of the
    /// `202` answer.
    pub id: EventId,
    pub flow: String,
    pub received_at: Timestamp,
    /// The request headers the flow may need (content type, provider ids).
    pub headers: Vec<(String, String)>,
    /// The raw body, byte for byte.
    pub body: Vec<u8>,
    /// The `dedupe:` key of the flow, as text.
    pub delivery_key: Option<String>,
}

/// What [`Store::enqueue_event`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// The event is in the queue.
    Accepted,
    /// Its delivery key was accepted in the last 30 days, or is queued:
    /// nothing was stored.
    Duplicate,
}

// ---------------------------------------------------------------------------
// Refresh tokens

/// A rotated OAuth2 refresh token (§ 8.6). Its `Debug` shows `<redacted>`.
#[derive(Clone, Debug)]
pub struct SavedRefreshToken {
    pub token: Secret,
    /// A fingerprint of the environment value the token replaced (computed by
    /// the caller, a hash): the saved token is used only while the
    /// environment still holds that value.
    pub source_fingerprint: String,
    pub saved_at: Timestamp,
}

// ---------------------------------------------------------------------------
// Ids

/// Crockford's base32 alphabet (ULID's).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn encode_crockford(value: u128) -> String {
    let mut text = String::with_capacity(26);
    for index in 0..26u32 {
        let shift = 125 - 5 * index;
        let digit = ((value >> shift) & 31) as usize;
        text.push(char::from(CROCKFORD[digit]));
    }
    text
}

fn decode_crockford(text: &str) -> Option<u128> {
    if text.len() != 26 {
        return None;
    }
    let mut value: u128 = 0;
    for (index, byte) in text.bytes().enumerate() {
        let digit = match byte.to_ascii_uppercase() {
            b'O' => 0,
            b'I' | b'L' => 1,
            upper => CROCKFORD.iter().position(|&c| c == upper)? as u128,
        };
        if index == 0 && digit > 7 {
            return None;
        }
        value = (value << 5) | digit;
    }
    Some(value)
}

/// An id that is not 26 Crockford base32 characters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {what} id (26 base32 characters)")]
pub struct InvalidId {
    pub what: &'static str,
    pub text: String,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u128);

        impl $name {
            /// A new id (UUID v7: time-ordered, unique within the process
            /// and random across processes).
            pub fn generate() -> $name {
                $name(uuid::Uuid::now_v7().as_u128())
            }

            pub fn from_u128(value: u128) -> $name {
                $name(value)
            }

            pub fn as_u128(self) -> u128 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&encode_crockford(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({})", stringify!($name), encode_crockford(self.0))
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(text: &str) -> Result<$name, InvalidId> {
                decode_crockford(text).map($name).ok_or_else(|| InvalidId { what: $what, text: text.to_owned() })
            }
        }
    };
}

id_type!(
    /// The id of a run (`run=01HX3K5V2Q...` in the logs).
    RunId,
    "run"
);
id_type!(
    /// The id of a dead letter.
    DeadLetterId,
    "dead letter"
);
id_type!(
    /// The id of a webhook event.
    EventId,
    "event"
);

// ---------------------------------------------------------------------------
// Errors

/// A state store operation failed. Messages name the store's file and never
/// contain stored values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another store in this process) holds the store.
    #[error(
        "the state store {} is in use by another process: only one process at a time may use a store \
         (stop the other one, or choose another store with --state PATH)",
        path.display()
    )]
    Locked { path: PathBuf },
    /// The file or its directory cannot be created, opened or read.
    #[error("cannot open the state store {}: {message}", path.display())]
    Open { path: PathBuf, message: String },
    /// The file is not an integ state store, or is damaged.
    #[error("the state store {} is corrupted or is not an integ state store: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// The store was written by a newer version of integ.
    #[error(
        "the state store {} has schema version {found}, but this version of integ knows versions up to \
         {supported}: use a newer integ",
        path.display()
    )]
    TooNew { path: PathBuf, found: i64, supported: i64 },
    /// A run, dead letter or event the operation names is not in the store.
    #[error("{what} {id} is not in the state store")]
    NotFound { what: &'static str, id: String },
    /// An id that must be new is already used.
    #[error("{what} {id} is already in the state store")]
    Duplicate { what: &'static str, id: String },
    /// The operation contradicts what is stored (a finished run written to).
    #[error("{0}")]
    Conflict(String),
    /// A value the store cannot represent (a counter above 2^63 - 1).
    #[error("cannot store {0}")]
    Invalid(String),
    /// The database failed (an I/O error, a full disk...).
    #[error("state store {location}: {message}")]
    Backend { location: String, message: String },
}

// ---------------------------------------------------------------------------
// Helpers shared by the implementations

/// Times are kept to the microsecond.
pub(crate) fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

pub(crate) fn truncate(at: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at)
}

/// The oldest acceptance time of a delivery key still protected at `now`
/// (exclusive).
pub(crate) fn retention_cutoff(now: Timestamp) -> i64 {
    micros(now).saturating_sub(DELIVERY_KEY_RETENTION.as_micros() as i64)
}

/// Counters are stored as signed 64-bit integers.
pub(crate) fn check_counters(counters: &Counters) -> Result<[i64; 4], StoreError> {
    let convert = |name: &str, value: u64| {
        i64::try_from(value).map_err(|_| StoreError::Invalid(format!("the counter `{name}` = {value}")))
    };
    Ok([
        convert("read", counters.read)?,
        convert("written", counters.written)?,
        convert("skipped", counters.skipped)?,
        convert("dead_letters", counters.dead_letters)?,
    ])
}

/// Dead-letter ids of a checkpoint must differ from one another.
pub(crate) fn check_distinct_dead_letters(records: &[DeadLetterRecord]) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::with_capacity(records.len());
    for record in records {
        if !seen.insert(record.id) {
            return Err(StoreError::Duplicate { what: "dead letter", id: record.id.to_string() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = RunId::generate();
        let text = id.to_string();
        assert_eq!(text.len(), 26);
        assert_eq!(text.parse::<RunId>(), Ok(id));
        assert_eq!(text.to_lowercase().parse::<RunId>(), Ok(id));
        assert_eq!(RunId::from_u128(0).to_string(), "00000000000000000000000000");
        assert_eq!(RunId::from_u128(u128::MAX).to_string(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        assert_eq!("7ZZZZZZZZZZZZZZZZZZZZZZZZZ".parse::<EventId>(), Ok(EventId::from_u128(u128::MAX)));
        assert!("8ZZZZZZZZZZZZZZZZZZZZZZZZZ".parse::<EventId>().is_err());
        assert!("short".parse::<DeadLetterId>().is_err());
        assert!("0000000000000000000000000U".parse::<DeadLetterId>().is_err());
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let ids: Vec<RunId> = (0..100).map(|_| RunId::generate()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut sorted_texts = texts.clone();
        sorted_texts.sort();
        assert_eq!(texts, sorted_texts);
    }

    #[test]
    fn enums_round_trip_through_text() {
        for trigger in [Trigger::Every, Trigger::Cron, Trigger::Webhook, Trigger::Manual, Trigger::Replay] {
            assert_eq!(Trigger::parse(trigger.as_str()), Some(trigger));
        }
        for outcome in [RunOutcome::Completed, RunOutcome::CompletedWithDeadLetters, RunOutcome::Failed] {
            assert_eq!(RunOutcome::parse(outcome.as_str()), Some(outcome));
        }
        for unit in [UnitKind::Record, UnitKind::Event, UnitKind::Run] {
            assert_eq!(UnitKind::parse(unit.as_str()), Some(unit));
        }
    }

    #[test]
    fn counters_above_i64_are_rejected() {
        let counters = Counters { read: u64::MAX, ..Counters::default() };
        assert!(matches!(check_counters(&counters), Err(StoreError::Invalid(message)) if message.contains("read")));
    }

    #[test]
    fn saved_tokens_do_not_print_their_value() {
        let token = SavedRefreshToken {
            token: Secret::new("rt-very-secret-value"),
            source_fingerprint: "abc".to_owned(),
            saved_at: Timestamp::UNIX_EPOCH,
        };
        assert!(!format!("{token:?}").contains("rt-very-secret-value"));
    }
}
