//! The embedded SQLite [`Store`] of `integ run` (§ 16.7).
//!
//! # Durability
//!
//! The database is one file (by default [`super::DEFAULT_PATH`]; its
//! directory is created) in WAL journal mode. Each operation is one
//! transaction; a checkpoint is one transaction (§ 12.8).
//!
//! With [`Synchronous::Normal`] (the default), a committed transaction has
//! been written to the write-ahead log by the time the call returns, but not
//! flushed to the disk: it survives the process crashing or being killed
//! (`SIGKILL`, an abort, the OOM killer) — the operating system still
//! writes it — but a power loss or an operating-system crash may lose the
//! last transactions (never half of one: the database stays consistent and
//! the store reopens at an earlier checkpoint, so at most a few more records
//! are processed again, as after any crash, § 12.8). [`Synchronous::Full`]
//! flushes the log at every commit, which survives power loss too, for the
//! price of an `fsync` per checkpoint (and per accepted webhook event).
//!
//! # One process at a time
//!
//! The connection runs in SQLite's `EXCLUSIVE` locking mode and writes when
//! it opens, so it holds an exclusive lock on the file for as long as the
//! store is open: another process (or another [`SqliteStore`] in this
//! process) opening the same file waits at most
//! [`SqliteOptions::busy_timeout`] and fails with [`StoreError::Locked`],
//! which names the file. The lock is the operating system's, released when
//! the process ends however it ends. (Without shared memory, no `-shm` file
//! is made; the `-wal` file next to the database belongs to it.)
//!
//! # Schema
//!
//! The schema version is SQLite's `user_version`; opening a store applies
//! the migrations from its version up to [`SqliteStore::SCHEMA_VERSION`] in
//! one transaction, and refuses a store of a newer version
//! ([`StoreError::TooNew`]). The `application_id` marks the file as an integ
//! store, so that another program's SQLite database is refused rather than
//! written to. A file that is not a database, or a damaged one, is
//! [`StoreError::Corrupt`]; [`SqliteStore::quick_check`] checks a whole
//! file.
//!
//! On Unix a new database file is created readable by its owner only: it
//! holds refresh tokens.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::{
    Checkpoint, Counters, DeadLetter, DeadLetterId, DeadLetterRecord, DeadLetterSummary, Enqueued, Failure,
    QueuedEvent, Replays, RunEnd, RunId, RunOutcome, RunRecord, SavedRefreshToken, Store, StoreError, Trigger,
    UnitInput, UnitKind, check_counters, check_distinct_dead_letters, micros, retention_cutoff,
};
use crate::http::errors::{RecordedRequest, RecordedResponse};
use crate::secret::Secret;

/// When a commit is flushed to the disk; see the [module documentation](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Durable against process crashes; a power loss may lose the last
    /// transactions (`PRAGMA synchronous = NORMAL`).
    #[default]
    Normal,
    /// Durable against power loss too: one `fsync` per transaction
    /// (`PRAGMA synchronous = FULL`).
    Full,
}

/// How [`SqliteStore::open_with`] opens a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    /// How long opening waits for a lock held by another process before it
    /// fails with [`StoreError::Locked`]: short, so that a second process
    /// fails fast, but long enough to cover a previous process that is just
    /// exiting.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions { synchronous: Synchronous::Normal, busy_timeout: Duration::from_millis(200) }
    }
}

/// An SQLite [`Store`]: see the [module documentation](self).
pub struct SqliteStore {
    path: PathBuf,
    connection: Mutex<Connection>,
    /// The numbers of `dedupe_loops`, by flow and loop id (rows never deleted).
    loops: Mutex<HashMap<(String, String), i64>>,
}

/// `'intg'`: marks the file as an integ state store.
const APPLICATION_ID: i64 = 0x696E_7467;

/// Migration `n` (from 0) brings the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE flow_state (
        flow TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (flow, name)
    ) WITHOUT ROWID;

    -- A checkpoint per record inserts a key per record: keys refer to their
    -- loop by number, so that their rows (and the pages a checkpoint writes)
    -- stay small. Loops are never deleted (reset_state deletes their keys).
    CREATE TABLE dedupe_loops (
        id INTEGER PRIMARY KEY,
        flow TEXT NOT NULL,
        loop_id TEXT NOT NULL,
        UNIQUE (flow, loop_id)
    );

    CREATE TABLE dedupe_keys (
        loop INTEGER NOT NULL REFERENCES dedupe_loops (id),
        key TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (loop, key)
    ) WITHOUT ROWID;

    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        flow TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        outcome TEXT,
        read INTEGER NOT NULL DEFAULT 0,
        written INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        dead_letters INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE INDEX runs_by_flow ON runs (flow, seq);

    CREATE TABLE dead_letters (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        flow TEXT NOT NULL,
        run_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        unit TEXT NOT NULL,
        input_kind TEXT NOT NULL CHECK (input_kind IN ('none', 'json', 'event')),
        input_json TEXT,
        input_headers TEXT,
        input_body BLOB,
        error TEXT NOT NULL,
        api TEXT,
        endpoint TEXT,
        status INTEGER,
        message TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        request_method TEXT,
        request_url TEXT,
        request_headers TEXT,
        request_body TEXT,
        response_status INTEGER,
        response_headers TEXT,
        response_body TEXT,
        state TEXT NOT NULL,
        loop_id TEXT,
        context TEXT,
        replays INTEGER NOT NULL DEFAULT 0,
        last_replayed_at INTEGER
    );
    CREATE INDEX dead_letters_by_flow ON dead_letters (flow, seq);

    CREATE TABLE schedules (
        flow TEXT PRIMARY KEY,
        last_start INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE webhook_queue (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        flow TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        headers TEXT NOT NULL,
        body BLOB NOT NULL,
        delivery_key TEXT
    );
    CREATE INDEX webhook_queue_by_flow ON webhook_queue (flow, seq);
    CREATE INDEX webhook_queue_by_key ON webhook_queue (flow, delivery_key) WHERE delivery_key IS NOT NULL;

    CREATE TABLE delivery_keys (
        flow TEXT NOT NULL,
        key TEXT NOT NULL,
        accepted_at INTEGER NOT NULL,
        PRIMARY KEY (flow, key)
    ) WITHOUT ROWID;
    CREATE INDEX delivery_keys_by_time ON delivery_keys (flow, accepted_at);

    CREATE TABLE refresh_tokens (
        name TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        source_fingerprint TEXT NOT NULL,
        saved_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
];

impl SqliteStore {
    /// The schema version this code writes.
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// Opens (creating it if needed) the store at `path` with the default
    /// options.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, &SqliteOptions::default())
    }

    /// Opens (creating it if needed) the store at `path`, takes its lock
    /// and migrates its schema.
    pub fn open_with(path: impl AsRef<Path>, options: &SqliteOptions) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_error = |message: String| StoreError::Open { path: path.clone(), message };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|error| open_error(format!("cannot create the directory {}: {error}", parent.display())))?;
        }
        if path.is_dir() {
            return Err(open_error("it is a directory".to_owned()));
        }
        create_private(&path).map_err(|error| open_error(error.to_string()))?;

        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&path, flags).map_err(|error| db_error(&path, error))?;
        let store = SqliteStore { path, connection: Mutex::new(connection), loops: Mutex::new(HashMap::new()) };
        store.configure(options)?;
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs SQLite's `quick_check` over the whole file (it reads all of it):
    /// [`StoreError::Corrupt`] when the file is damaged.
    pub fn quick_check(&self) -> Result<(), StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare("PRAGMA quick_check").map_err(|error| self.error(error))?;
        let problems: Vec<String> = statement
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<_, _>>())
            .map_err(|error| self.error(error))?;
        if problems.len() == 1 && problems[0] == "ok" { Ok(()) } else { Err(self.corrupt(problems.join("; "))) }
    }

    fn configure(&self, options: &SqliteOptions) -> Result<(), StoreError> {
        let connection = self.lock();
        connection.busy_timeout(options.busy_timeout).map_err(|error| self.error(error))?;
        // Before WAL mode is entered: no shared-memory index, and the lock on
        // the file is exclusive and kept.
        let mode: String = connection
            .query_row("PRAGMA locking_mode = EXCLUSIVE", [], |row| row.get(0))
            .map_err(|error| self.error(error))?;
        if !mode.eq_ignore_ascii_case("exclusive") {
            return Err(self.backend(format!("cannot use the exclusive locking mode (got `{mode}`)")));
        }
        // Small pages for a new file: a checkpoint rewrites a few rows, and
        // every page it touches is written whole to the WAL (no effect on an
        // existing file).
        connection.pragma_update(None, "page_size", 1024).map_err(|error| self.error(error))?;
        let journal: String = connection
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|error| self.error(error))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(self.backend(format!("cannot use the WAL journal mode (got `{journal}`)")));
        }
        let synchronous = match options.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        connection.pragma_update(None, "synchronous", synchronous).map_err(|error| self.error(error))?;
        // A checkpoint per record is many small transactions: the WAL is
        // copied back into the database (with an fsync) every 8,192 pages
        // rather than every 1,000, and trimmed back to 64 MiB afterwards.
        connection.pragma_update(None, "wal_autocheckpoint", 8192).map_err(|error| self.error(error))?;
        connection.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024).map_err(|error| self.error(error))?;
        connection.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction =
            connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|error| self.error(error))?;
        let pragma = |name: &str| -> Result<i64, StoreError> {
            transaction.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0)).map_err(|error| self.error(error))
        };
        let version = pragma("user_version")?;
        let application_id = pragma("application_id")?;
        if application_id != 0 && application_id != APPLICATION_ID {
            return Err(self
                .corrupt(format!("it is an SQLite database of another program (application id {application_id:#x})")));
        }
        if version == 0 {
            let tables: i64 = transaction
                .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
                .map_err(|error| self.error(error))?;
            if tables > 0 {
                return Err(self.corrupt("it is an SQLite database of another program".to_owned()));
            }
        } else if application_id != APPLICATION_ID {
            return Err(self.corrupt("it is an SQLite database of another program".to_owned()));
        }
        if !(0..=SqliteStore::SCHEMA_VERSION).contains(&version) {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                supported: SqliteStore::SCHEMA_VERSION,
            });
        }
        for migration in MIGRATIONS.iter().skip(version as usize) {
            transaction.execute_batch(migration).map_err(|error| self.error(error))?;
        }
        transaction
            .execute_batch(&format!(
                "PRAGMA user_version = {}; PRAGMA application_id = {APPLICATION_ID};",
                SqliteStore::SCHEMA_VERSION
            ))
            .map_err(|error| self.error(error))?;
        // A write, so that the exclusive lock is taken now and kept.
        transaction
            .execute(
                "INSERT INTO meta (key, value) VALUES ('opened_by_pid', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [std::process::id().to_string()],
            )
            .map_err(|error| self.error(error))?;
        transaction.commit().map_err(|error| self.error(error))
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A transaction that a panic interrupted was rolled back when it was
        // dropped: the connection is consistent.
        self.connection.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn error(&self, error: rusqlite::Error) -> StoreError {
        db_error(&self.path, error)
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt { path: self.path.clone(), message }
    }

    fn backend(&self, message: String) -> StoreError {
        StoreError::Backend { location: self.path.display().to_string(), message }
    }

    /// Runs `work` in one immediate transaction, committed when it succeeds.
    fn write<T>(&self, work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut connection = self.lock();
        let transaction =
            connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|error| self.error(error))?;
        let value = work(&transaction)?;
        transaction.commit().map_err(|error| self.error(error))?;
        Ok(value)
    }

    /// The number of the loop `loop_id` of `flow` in `dedupe_loops`, made
    /// when new, in a transaction of its own (a loop row is harmless if the
    /// checkpoint that needed it fails, and is never deleted, so a cached
    /// number stays right).
    fn loop_number(&self, flow: &str, loop_id: &str) -> Result<i64, StoreError> {
        let key = (flow.to_owned(), loop_id.to_owned());
        if let Some(number) = self.loops.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(*number);
        }
        let number = self.write(|transaction| {
            transaction
                .prepare_cached("INSERT INTO dedupe_loops (flow, loop_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
                .and_then(|mut statement| statement.execute([flow, loop_id]))
                .map_err(|error| self.error(error))?;
            transaction
                .prepare_cached("SELECT id FROM dedupe_loops WHERE flow = ?1 AND loop_id = ?2")
                .and_then(|mut statement| statement.query_row([flow, loop_id], |row| row.get::<_, i64>(0)))
                .map_err(|error| self.error(error))
        })?;
        self.loops.lock().unwrap_or_else(PoisonError::into_inner).insert(key, number);
        Ok(number)
    }

    /// Why `run` cannot be written to by `flow` (called when an update found
    /// no writable row).
    fn run_problem(&self, transaction: &Transaction<'_>, run: RunId, flow: Option<&str>) -> StoreError {
        let found = transaction.prepare_cached("SELECT flow, outcome IS NOT NULL FROM runs WHERE id = ?1").and_then(
            |mut statement| {
                statement
                    .query_row([run.to_string()], |row| Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?)))
                    .optional()
            },
        );
        match found {
            Err(error) => self.error(error),
            Ok(None) => StoreError::NotFound { what: "run", id: run.to_string() },
            Ok(Some((run_flow, _))) if flow.is_some_and(|flow| flow != run_flow) => StoreError::Conflict(format!(
                "run {run} is a run of `{run_flow}`, not of `{}`",
                flow.unwrap_or_default()
            )),
            Ok(Some(_)) => StoreError::Conflict(format!("run {run} is already finished")),
        }
    }

    fn decode_run(&self, raw: RawRun) -> Result<RunRecord, StoreError> {
        Ok(RunRecord {
            id: self.id(&raw.id)?,
            flow: raw.flow,
            trigger: Trigger::parse(&raw.trigger)
                .ok_or_else(|| self.corrupt(format!("unknown run trigger `{}`", raw.trigger)))?,
            started_at: self.time(raw.started_at)?,
            finished_at: raw.finished_at.map(|at| self.time(at)).transpose()?,
            outcome: raw
                .outcome
                .map(|outcome| {
                    RunOutcome::parse(&outcome).ok_or_else(|| self.corrupt(format!("unknown run outcome `{outcome}`")))
                })
                .transpose()?,
            counters: Counters {
                read: self.count(raw.counters[0])?,
                written: self.count(raw.counters[1])?,
                skipped: self.count(raw.counters[2])?,
                dead_letters: self.count(raw.counters[3])?,
            },
            error: raw.error,
        })
    }

    fn decode_summary(&self, raw: RawSummary) -> Result<DeadLetterSummary, StoreError> {
        Ok(DeadLetterSummary {
            id: self.id(&raw.id)?,
            flow: raw.flow,
            run: self.id(&raw.run)?,
            at: self.time(raw.at)?,
            unit: UnitKind::parse(&raw.unit)
                .ok_or_else(|| self.corrupt(format!("unknown unit kind `{}`", raw.unit)))?,
            failure: Failure {
                error: raw.error,
                api: raw.api,
                endpoint: raw.endpoint,
                status: raw.status.map(|status| self.status(status)).transpose()?,
                message: raw.message,
            },
            attempts: u32::try_from(raw.attempts)
                .map_err(|_| self.corrupt(format!("invalid attempts {}", raw.attempts)))?,
            replays: Replays {
                count: u32::try_from(raw.replays)
                    .map_err(|_| self.corrupt(format!("invalid replays {}", raw.replays)))?,
                last_at: raw.last_replayed_at.map(|at| self.time(at)).transpose()?,
            },
        })
    }

    fn decode_dead_letter(&self, raw: RawDeadLetter) -> Result<DeadLetter, StoreError> {
        let summary = self.decode_summary(raw.summary)?;
        let input = match raw.input_kind.as_str() {
            "none" => UnitInput::None,
            "json" => UnitInput::Json(raw.input_json.unwrap_or_default()),
            "event" => UnitInput::Event {
                headers: self.headers(raw.input_headers.as_deref())?,
                body: raw.input_body.unwrap_or_default(),
            },
            other => return Err(self.corrupt(format!("unknown dead-letter input kind `{other}`"))),
        };
        let last_request = match raw.request_method {
            Some(method) => Some(RecordedRequest {
                method,
                url: raw.request_url.unwrap_or_default(),
                headers: self.headers(raw.request_headers.as_deref())?,
                body: raw.request_body,
            }),
            None => None,
        };
        let last_response = match raw.response_status {
            Some(status) => Some(RecordedResponse {
                status: self.status(status)?,
                headers: self.headers(raw.response_headers.as_deref())?,
                body: raw.response_body.unwrap_or_default(),
            }),
            None => None,
        };
        Ok(DeadLetter {
            flow: summary.flow,
            run: summary.run,
            record: DeadLetterRecord {
                id: summary.id,
                at: summary.at,
                unit: summary.unit,
                input,
                failure: summary.failure,
                attempts: summary.attempts,
                last_request,
                last_response,
                state: raw.state,
                loop_id: raw.loop_id,
                context: raw.context,
            },
            replays: summary.replays,
        })
    }

    fn decode_event(&self, raw: RawEvent) -> Result<QueuedEvent, StoreError> {
        Ok(QueuedEvent {
            id: self.id(&raw.id)?,
            flow: raw.flow,
            received_at: self.time(raw.received_at)?,
            headers: self.headers(Some(&raw.headers))?,
            body: raw.body,
            delivery_key: raw.delivery_key,
        })
    }

    fn id<T: FromStr>(&self, text: &str) -> Result<T, StoreError> {
        text.parse().map_err(|_| self.corrupt(format!("invalid id `{text}`")))
    }

    fn time(&self, microseconds: i64) -> Result<Timestamp, StoreError> {
        Timestamp::from_microsecond(microseconds).map_err(|_| self.corrupt(format!("invalid time {microseconds}")))
    }

    fn count(&self, value: i64) -> Result<u64, StoreError> {
        u64::try_from(value).map_err(|_| self.corrupt(format!("invalid counter {value}")))
    }

    fn status(&self, value: i64) -> Result<u16, StoreError> {
        u16::try_from(value).map_err(|_| self.corrupt(format!("invalid status {value}")))
    }

    fn headers(&self, json: Option<&str>) -> Result<Vec<(String, String)>, StoreError> {
        match json {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(json).map_err(|error| self.corrupt(format!("invalid headers: {error}"))),
        }
    }
}

/// Creates `path`, if it does not exist, readable and writable by its owner
/// only (on Unix).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

fn db_error(path: &Path, error: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked { path },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt { path, message: error.to_string() }
        }
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
            StoreError::Open { path, message: error.to_string() }
        }
        _ => StoreError::Backend { location: path.display().to_string(), message: error.to_string() },
    }
}

fn is_constraint(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

fn headers_json(headers: &[(String, String)]) -> String {
    // A list of pairs of strings always serializes.
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".to_owned())
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

struct RawRun {
    id: String,
    flow: String,
    trigger: String,
    started_at: i64,
    finished_at: Option<i64>,
    outcome: Option<String>,
    counters: [i64; 4],
    error: Option<String>,
}

const RUN_COLUMNS: &str =
    "id, flow, trigger, started_at, finished_at, outcome, read, written, skipped, dead_letters, error";

fn raw_run(row: &Row<'_>) -> rusqlite::Result<RawRun> {
    Ok(RawRun {
        id: row.get(0)?,
        flow: row.get(1)?,
        trigger: row.get(2)?,
        started_at: row.get(3)?,
        finished_at: row.get(4)?,
        outcome: row.get(5)?,
        counters: [row.get(6)?, row.get(7)?, row.get(8)?, row.get(9)?],
        error: row.get(10)?,
    })
}

struct RawSummary {
    id: String,
    flow: String,
    run: String,
    at: i64,
    unit: String,
    error: String,
    api: Option<String>,
    endpoint: Option<String>,
    status: Option<i64>,
    message: String,
    attempts: i64,
    replays: i64,
    last_replayed_at: Option<i64>,
}

const SUMMARY_COLUMNS: &str =
    "id, flow, run_id, at, unit, error, api, endpoint, status, message, attempts, replays, last_replayed_at";

fn raw_summary(row: &Row<'_>) -> rusqlite::Result<RawSummary> {
    Ok(RawSummary {
        id: row.get(0)?,
        flow: row.get(1)?,
        run: row.get(2)?,
        at: row.get(3)?,
        unit: row.get(4)?,
        error: row.get(5)?,
        api: row.get(6)?,
        endpoint: row.get(7)?,
        status: row.get(8)?,
        message: row.get(9)?,
        attempts: row.get(10)?,
        replays: row.get(11)?,
        last_replayed_at: row.get(12)?,
    })
}

struct RawDeadLetter {
    summary: RawSummary,
    input_kind: String,
    input_json: Option<String>,
    input_headers: Option<String>,
    input_body: Option<Vec<u8>>,
    request_method: Option<String>,
    request_url: Option<String>,
    request_headers: Option<String>,
    request_body: Option<String>,
    response_status: Option<i64>,
    response_headers: Option<String>,
    response_body: Option<String>,
    state: String,
    loop_id: Option<String>,
    context: Option<String>,
}

/// After [`SUMMARY_COLUMNS`].
const DEAD_LETTER_COLUMNS: &str = "input_kind, input_json, input_headers, input_body, request_method, request_url, \
     request_headers, request_body, response_status, response_headers, response_body, state, loop_id, context";

fn raw_dead_letter(row: &Row<'_>) -> rusqlite::Result<RawDeadLetter> {
    Ok(RawDeadLetter {
        summary: raw_summary(row)?,
        input_kind: row.get(13)?,
        input_json: row.get(14)?,
        input_headers: row.get(15)?,
        input_body: row.get(16)?,
        request_method: row.get(17)?,
        request_url: row.get(18)?,
        request_headers: row.get(19)?,
        request_body: row.get(20)?,
        response_status: row.get(21)?,
        response_headers: row.get(22)?,
        response_body: row.get(23)?,
        state: row.get(24)?,
        loop_id: row.get(25)?,
        context: row.get(26)?,
    })
}

struct RawEvent {
    id: String,
    flow: String,
    received_at: i64,
    headers: String,
    body: Vec<u8>,
    delivery_key: Option<String>,
}

fn raw_event(row: &Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok(RawEvent {
        id: row.get(0)?,
        flow: row.get(1)?,
        received_at: row.get(2)?,
        headers: row.get(3)?,
        body: row.get(4)?,
        delivery_key: row.get(5)?,
    })
}

fn insert_dead_letter(
    transaction: &Transaction<'_>,
    flow: &str,
    run: RunId,
    record: &DeadLetterRecord,
) -> rusqlite::Result<usize> {
    let mut statement = transaction.prepare_cached(
        "INSERT INTO dead_letters (id, flow, run_id, at, unit, input_kind, input_json, input_headers, input_body,
             error, api, endpoint, status, message, attempts, request_method, request_url, request_headers,
             request_body, response_status, response_headers, response_body, state, loop_id, context)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
             ?22, ?23, ?24, ?25)",
    )?;
    let (input_kind, input_json, input_headers, input_body) = match &record.input {
        UnitInput::None => ("none", None, None, None),
        UnitInput::Json(json) => ("json", Some(json.as_str()), None, None),
        UnitInput::Event { headers, body } => ("event", None, Some(headers_json(headers)), Some(body.as_slice())),
    };
    let request = record.last_request.as_ref();
    let response = record.last_response.as_ref();
    statement.execute(params![
        record.id.to_string(),
        flow,
        run.to_string(),
        micros(record.at),
        record.unit.as_str(),
        input_kind,
        input_json,
        input_headers,
        input_body,
        record.failure.error,
        record.failure.api,
        record.failure.endpoint,
        record.failure.status,
        record.failure.message,
        record.attempts,
        request.map(|request| request.method.as_str()),
        request.map(|request| request.url.as_str()),
        request.map(|request| headers_json(&request.headers)),
        request.and_then(|request| request.body.as_deref()),
        response.map(|response| response.status),
        response.map(|response| headers_json(&response.headers)),
        response.map(|response| response.body.as_str()),
        record.state,
        record.loop_id,
        record.context,
    ])
}

impl Store for SqliteStore {
    fn load_state(&self, flow: &str) -> Result<HashMap<String, String>, StoreError> {
        let connection = self.lock();
        let result = connection.prepare_cached("SELECT name, value FROM flow_state WHERE flow = ?1").and_then(
            |mut statement| {
                statement
                    .query_map([flow], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?
                    .collect::<rusqlite::Result<HashMap<_, _>>>()
            },
        );
        result.map_err(|error| self.error(error))
    }

    fn committed_hash(&self, flow: &str, loop_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        let cached = self
            .loops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(flow.to_owned(), loop_id.to_owned()))
            .copied();
        let connection = self.lock();
        let number = match cached {
            Some(number) => number,
            None => {
                let found: Option<i64> = connection
                    .prepare_cached("SELECT id FROM dedupe_loops WHERE flow = ?1 AND loop_id = ?2")
                    .and_then(|mut statement| statement.query_row([flow, loop_id], |row| row.get(0)).optional())
                    .map_err(|error| self.error(error))?;
                // A loop that never committed a key has none.
                let Some(number) = found else { return Ok(None) };
                self.loops
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert((flow.to_owned(), loop_id.to_owned()), number);
                number
            }
        };
        let result = connection
            .prepare_cached("SELECT hash FROM dedupe_keys WHERE loop = ?1 AND key = ?2")
            .and_then(|mut statement| statement.query_row(params![number, key], |row| row.get(0)).optional());
        result.map_err(|error| self.error(error))
    }

    fn reset_state(&self, flow: &str) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute("DELETE FROM flow_state WHERE flow = ?1", [flow]).map_err(|error| self.error(error))?;
            transaction
                .execute("DELETE FROM dedupe_keys WHERE loop IN (SELECT id FROM dedupe_loops WHERE flow = ?1)", [flow])
                .map_err(|error| self.error(error))?;
            Ok(())
        })
    }

    fn checkpoint(&self, flow: &str, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let counters = checkpoint.counters.as_ref().map(check_counters).transpose()?;
        check_distinct_dead_letters(&checkpoint.dead_letters)?;
        let loop_numbers = checkpoint
            .dedupe_keys
            .iter()
            .map(|key| self.loop_number(flow, &key.loop_id))
            .collect::<Result<Vec<i64>, StoreError>>()?;
        self.write(|transaction| {
            let sql = |error| self.error(error);
            let run = checkpoint.run.to_string();
            let updated = match counters {
                Some(counters) => transaction
                    .prepare_cached(
                        "UPDATE runs SET read = ?1, written = ?2, skipped = ?3, dead_letters = ?4
                         WHERE id = ?5 AND flow = ?6 AND outcome IS NULL",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![counters[0], counters[1], counters[2], counters[3], run, flow])
                    })
                    .map_err(sql)?,
                // No page written: the run is only looked at.
                None => transaction
                    .prepare_cached("SELECT count(*) FROM runs WHERE id = ?1 AND flow = ?2 AND outcome IS NULL")
                    .and_then(|mut statement| statement.query_row(params![run, flow], |row| row.get::<_, i64>(0)))
                    .map_err(sql)?
                    .unsigned_abs() as usize,
            };
            if updated == 0 {
                return Err(self.run_problem(transaction, checkpoint.run, Some(flow)));
            }

            if let Some(event) = checkpoint.event {
                let removed: Option<(Option<String>, i64)> = transaction
                    .prepare_cached(
                        "DELETE FROM webhook_queue WHERE id = ?1 AND flow = ?2 RETURNING delivery_key, received_at",
                    )
                    .and_then(|mut statement| {
                        statement.query_row(params![event.to_string(), flow], |row| Ok((row.get(0)?, row.get(1)?))).optional()
                    })
                    .map_err(sql)?;
                let Some((key, received_at)) = removed else {
                    return Err(StoreError::NotFound { what: "webhook event", id: event.to_string() });
                };
                if let Some(key) = key {
                    transaction
                        .prepare_cached(
                            "INSERT INTO delivery_keys (flow, key, accepted_at) VALUES (?1, ?2, ?3)
                             ON CONFLICT (flow, key) DO UPDATE SET accepted_at = max(accepted_at, excluded.accepted_at)",
                        )
                        .and_then(|mut statement| statement.execute(params![flow, key, received_at]))
                        .map_err(sql)?;
                }
                transaction
                    .prepare_cached("DELETE FROM delivery_keys WHERE flow = ?1 AND accepted_at <= ?2")
                    .and_then(|mut statement| statement.execute(params![flow, retention_cutoff(checkpoint.at)]))
                    .map_err(sql)?;
            }

            {
                let mut statement = transaction
                    .prepare_cached(
                        "INSERT INTO flow_state (flow, name, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (flow, name) DO UPDATE SET value = excluded.value",
                    )
                    .map_err(sql)?;
                for (name, value) in &checkpoint.state {
                    statement.execute(params![flow, name, value]).map_err(sql)?;
                }
            }
            {
                let mut statement = transaction
                    .prepare_cached(
                        "INSERT INTO dedupe_keys (loop, key, hash) VALUES (?1, ?2, ?3)
                         ON CONFLICT (loop, key) DO UPDATE SET hash = excluded.hash",
                    )
                    .map_err(sql)?;
                for (key, number) in checkpoint.dedupe_keys.iter().zip(&loop_numbers) {
                    statement.execute(params![number, key.key, key.hash]).map_err(sql)?;
                }
            }
            for record in &checkpoint.dead_letters {
                match insert_dead_letter(transaction, flow, checkpoint.run, record) {
                    Ok(_) => {}
                    Err(error) if is_constraint(&error) => {
                        return Err(StoreError::Duplicate { what: "dead letter", id: record.id.to_string() });
                    }
                    Err(error) => return Err(self.error(error)),
                }
            }
            Ok(())
        })
    }

    fn start_run(&self, flow: &str, trigger: Trigger, at: Timestamp) -> Result<RunId, StoreError> {
        let id = RunId::generate();
        self.write(|transaction| {
            transaction
                .prepare_cached("INSERT INTO runs (id, flow, trigger, started_at) VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut statement| {
                    statement.execute(params![id.to_string(), flow, trigger.as_str(), micros(at)])
                })
                .map_err(|error| self.error(error))?;
            Ok(id)
        })
    }

    fn finish_run(&self, run: RunId, end: &RunEnd) -> Result<(), StoreError> {
        let counters = check_counters(&end.counters)?;
        self.write(|transaction| {
            let updated = transaction
                .prepare_cached(
                    "UPDATE runs SET finished_at = ?1, outcome = ?2, read = ?3, written = ?4, skipped = ?5,
                         dead_letters = ?6, error = ?7
                     WHERE id = ?8 AND outcome IS NULL",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        micros(end.at),
                        end.outcome.as_str(),
                        counters[0],
                        counters[1],
                        counters[2],
                        counters[3],
                        end.error,
                        run.to_string(),
                    ])
                })
                .map_err(|error| self.error(error))?;
            if updated == 0 {
                return Err(self.run_problem(transaction, run, None));
            }
            Ok(())
        })
    }

    fn run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError> {
        let raw = {
            let connection = self.lock();
            connection
                .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
                .and_then(|mut statement| statement.query_row([run.to_string()], raw_run).optional())
                .map_err(|error| self.error(error))?
        };
        raw.map(|raw| self.decode_run(raw)).transpose()
    }

    fn recent_runs(&self, flow: Option<&str>, count: usize) -> Result<Vec<RunRecord>, StoreError> {
        let raws = {
            let connection = self.lock();
            connection
                .prepare_cached(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE ?1 IS NULL OR flow = ?1 ORDER BY seq DESC LIMIT ?2"
                ))
                .and_then(|mut statement| {
                    statement.query_map(params![flow, limit(count)], raw_run)?.collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(|error| self.error(error))?
        };
        raws.into_iter().map(|raw| self.decode_run(raw)).collect()
    }

    fn last_start(&self, flow: &str) -> Result<Option<Timestamp>, StoreError> {
        let at: Option<i64> = {
            let connection = self.lock();
            connection
                .prepare_cached("SELECT last_start FROM schedules WHERE flow = ?1")
                .and_then(|mut statement| statement.query_row([flow], |row| row.get(0)).optional())
                .map_err(|error| self.error(error))?
        };
        at.map(|at| self.time(at)).transpose()
    }

    fn set_last_start(&self, flow: &str, at: Timestamp) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction
                .prepare_cached(
                    "INSERT INTO schedules (flow, last_start) VALUES (?1, ?2)
                     ON CONFLICT (flow) DO UPDATE SET last_start = excluded.last_start",
                )
                .and_then(|mut statement| statement.execute(params![flow, micros(at)]))
                .map_err(|error| self.error(error))?;
            Ok(())
        })
    }

    fn dead_letters(&self, flow: Option<&str>) -> Result<Vec<DeadLetterSummary>, StoreError> {
        let raws = {
            let connection = self.lock();
            connection
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS} FROM dead_letters WHERE ?1 IS NULL OR flow = ?1 ORDER BY seq"
                ))
                .and_then(|mut statement| {
                    statement.query_map([flow], raw_summary)?.collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(|error| self.error(error))?
        };
        raws.into_iter().map(|raw| self.decode_summary(raw)).collect()
    }

    fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        let raw = {
            let connection = self.lock();
            connection
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS}, {DEAD_LETTER_COLUMNS} FROM dead_letters WHERE id = ?1"
                ))
                .and_then(|mut statement| statement.query_row([id.to_string()], raw_dead_letter).optional())
                .map_err(|error| self.error(error))?
        };
        raw.map(|raw| self.decode_dead_letter(raw)).transpose()
    }

    fn mark_replayed(&self, id: DeadLetterId, at: Timestamp) -> Result<u32, StoreError> {
        self.write(|transaction| {
            let replays: Option<i64> = transaction
                .prepare_cached(
                    "UPDATE dead_letters SET replays = min(replays + 1, 4294967295), last_replayed_at = ?1
                     WHERE id = ?2 RETURNING replays",
                )
                .and_then(|mut statement| {
                    statement.query_row(params![micros(at), id.to_string()], |row| row.get(0)).optional()
                })
                .map_err(|error| self.error(error))?;
            let replays = replays.ok_or_else(|| StoreError::NotFound { what: "dead letter", id: id.to_string() })?;
            u32::try_from(replays).map_err(|_| self.corrupt(format!("invalid replays {replays}")))
        })
    }

    fn delete_dead_letter(&self, id: DeadLetterId) -> Result<bool, StoreError> {
        self.write(|transaction| {
            let deleted = transaction
                .execute("DELETE FROM dead_letters WHERE id = ?1", [id.to_string()])
                .map_err(|error| self.error(error))?;
            Ok(deleted > 0)
        })
    }

    fn delete_dead_letters(&self, flow: Option<&str>) -> Result<u64, StoreError> {
        self.write(|transaction| {
            let deleted = transaction
                .execute("DELETE FROM dead_letters WHERE ?1 IS NULL OR flow = ?1", [flow])
                .map_err(|error| self.error(error))?;
            Ok(deleted as u64)
        })
    }

    fn enqueue_event(&self, event: &QueuedEvent) -> Result<Enqueued, StoreError> {
        self.write(|transaction| {
            let sql = |error| self.error(error);
            let id = event.id.to_string();
            let taken: bool = transaction
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM webhook_queue WHERE id = ?1)")
                .and_then(|mut statement| statement.query_row([&id], |row| row.get(0)))
                .map_err(sql)?;
            if taken {
                return Err(StoreError::Duplicate { what: "webhook event", id });
            }
            if let Some(key) = &event.delivery_key
                && seen(transaction, &event.flow, key, event.received_at).map_err(sql)?
            {
                return Ok(Enqueued::Duplicate);
            }
            transaction
                .prepare_cached(
                    "INSERT INTO webhook_queue (id, flow, received_at, headers, body, delivery_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        id,
                        event.flow,
                        micros(event.received_at),
                        headers_json(&event.headers),
                        event.body,
                        event.delivery_key,
                    ])
                })
                .map_err(sql)?;
            Ok(Enqueued::Accepted)
        })
    }

    fn pending_events(&self, flow: &str, count: usize) -> Result<Vec<QueuedEvent>, StoreError> {
        let raws = {
            let connection = self.lock();
            connection
                .prepare_cached(
                    "SELECT id, flow, received_at, headers, body, delivery_key FROM webhook_queue
                     WHERE flow = ?1 ORDER BY seq LIMIT ?2",
                )
                .and_then(|mut statement| {
                    statement.query_map(params![flow, limit(count)], raw_event)?.collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(|error| self.error(error))?
        };
        raws.into_iter().map(|raw| self.decode_event(raw)).collect()
    }

    fn pending_event_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = {
            let connection = self.lock();
            connection
                .prepare_cached("SELECT flow, count(*) FROM webhook_queue GROUP BY flow ORDER BY flow")
                .and_then(|mut statement| {
                    statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(|error| self.error(error))?
        };
        rows.into_iter().map(|(flow, count)| Ok((flow, self.count(count)?))).collect()
    }

    fn seen(&self, flow: &str, key: &str, now: Timestamp) -> Result<bool, StoreError> {
        let connection = self.lock();
        seen(&connection, flow, key, now).map_err(|error| self.error(error))
    }

    fn prune_delivery_keys(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.write(|transaction| {
            let deleted = transaction
                .execute("DELETE FROM delivery_keys WHERE accepted_at <= ?1", [retention_cutoff(now)])
                .map_err(|error| self.error(error))?;
            Ok(deleted as u64)
        })
    }

    fn save_refresh_token(&self, name: &str, token: &SavedRefreshToken) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction
                .prepare_cached(
                    "INSERT INTO refresh_tokens (name, token, source_fingerprint, saved_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (name) DO UPDATE SET token = excluded.token,
                         source_fingerprint = excluded.source_fingerprint, saved_at = excluded.saved_at",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        name,
                        token.token.expose(),
                        token.source_fingerprint,
                        micros(token.saved_at)
                    ])
                })
                .map_err(|error| self.error(error))?;
            Ok(())
        })
    }

    fn load_refresh_token(&self, name: &str) -> Result<Option<SavedRefreshToken>, StoreError> {
        let row: Option<(String, String, i64)> = {
            let connection = self.lock();
            connection
                .prepare_cached("SELECT token, source_fingerprint, saved_at FROM refresh_tokens WHERE name = ?1")
                .and_then(|mut statement| {
                    statement.query_row([name], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).optional()
                })
                .map_err(|error| self.error(error))?
        };
        row.map(|(token, source_fingerprint, saved_at)| {
            Ok(SavedRefreshToken { token: Secret::new(token), source_fingerprint, saved_at: self.time(saved_at)? })
        })
        .transpose()
    }
}

/// Whether `key` was accepted for `flow` within the retention before `now`,
/// or is queued.
fn seen(connection: &Connection, flow: &str, key: &str, now: Timestamp) -> rusqlite::Result<bool> {
    connection
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM delivery_keys WHERE flow = ?1 AND key = ?2 AND accepted_at > ?3)
                 OR EXISTS (SELECT 1 FROM webhook_queue WHERE flow = ?1 AND delivery_key = ?2)",
        )?
        .query_row(params![flow, key, retention_cutoff(now)], |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let unique = format!("integ-store-{}-{}-{name}", std::process::id(), RunId::generate());
        std::env::temp_dir().join(unique).join("state.db")
    }

    fn cleanup(path: &Path) {
        if let Some(parent) = path.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }

    #[test]
    fn opening_creates_the_directory_and_the_schema() {
        let path = temp_path("create");
        let store = SqliteStore::open(&path).unwrap();
        assert!(path.exists());
        let connection = store.lock();
        let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, SqliteStore::SCHEMA_VERSION);
        let journal: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
        assert_eq!(journal, "wal");
        let synchronous: i64 = connection.query_row("PRAGMA synchronous", [], |row| row.get(0)).unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        drop(connection);
        store.set_last_start("sync", Timestamp::UNIX_EPOCH).unwrap();
        let mut shm = path.clone().into_os_string();
        shm.push("-shm");
        assert!(!Path::new(&shm).exists(), "no shared-memory index in exclusive mode");
        drop(store);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the file is private: {mode:o}");
        }
        cleanup(&path);
    }

    #[test]
    fn full_synchronous_mode_is_an_option() {
        let path = temp_path("full");
        let options = SqliteOptions { synchronous: Synchronous::Full, ..SqliteOptions::default() };
        let store = SqliteStore::open_with(&path, &options).unwrap();
        let synchronous: i64 = store.lock().query_row("PRAGMA synchronous", [], |row| row.get(0)).unwrap();
        assert_eq!(synchronous, 2, "FULL");
        drop(store);
        cleanup(&path);
    }

    #[test]
    fn reopening_keeps_the_data_and_the_version() {
        let path = temp_path("reopen");
        let store = SqliteStore::open(&path).unwrap();
        store.set_last_start("sync", Timestamp::from_second(1_700_000_000).unwrap()).unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.last_start("sync").unwrap(), Some(Timestamp::from_second(1_700_000_000).unwrap()));
        drop(store);
        cleanup(&path);
    }

    #[test]
    fn a_second_store_on_the_same_file_is_refused() {
        let path = temp_path("twice");
        let store = SqliteStore::open(&path).unwrap();
        let options = SqliteOptions { busy_timeout: Duration::from_millis(10), ..SqliteOptions::default() };
        let error = SqliteStore::open_with(&path, &options).err().unwrap();
        assert!(matches!(&error, StoreError::Locked { path: locked } if *locked == path), "{error:?}");
        assert!(error.to_string().contains(&path.display().to_string()), "{error}");
        drop(store);
        let again = SqliteStore::open_with(&path, &options).unwrap();
        drop(again);
        cleanup(&path);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_corrupt() {
        let path = temp_path("garbage");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "this is not an SQLite database, just text\n".repeat(200)).unwrap();
        let error = SqliteStore::open(&path).err().unwrap();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
        assert!(error.to_string().contains(&path.display().to_string()), "{error}");
        cleanup(&path);
    }

    #[test]
    fn another_programs_database_is_refused() {
        let path = temp_path("foreign");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)").unwrap();
        drop(connection);
        let error = SqliteStore::open(&path).err().unwrap();
        assert!(
            matches!(&error, StoreError::Corrupt { message, .. } if message.contains("another program")),
            "{error:?}"
        );
        // Untouched.
        let connection = Connection::open(&path).unwrap();
        let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, 0);
        drop(connection);
        cleanup(&path);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let path = temp_path("newer");
        let store = SqliteStore::open(&path).unwrap();
        store.lock().execute_batch("PRAGMA user_version = 99").unwrap();
        drop(store);
        let error = SqliteStore::open(&path).err().unwrap();
        assert!(matches!(error, StoreError::TooNew { found: 99, .. }), "{error:?}");
        cleanup(&path);
    }

    #[test]
    fn a_directory_is_not_a_store() {
        let path = temp_path("directory");
        std::fs::create_dir_all(&path).unwrap();
        let error = SqliteStore::open(&path).err().unwrap();
        assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
        cleanup(&path);
    }

    #[test]
    fn quick_check_passes_on_a_sound_store() {
        let path = temp_path("check");
        let store = SqliteStore::open(&path).unwrap();
        store.quick_check().unwrap();
        drop(store);
        cleanup(&path);
    }

    #[test]
    fn a_transaction_cut_off_by_closing_the_connection_is_rolled_back() {
        let path = temp_path("cut");
        let store = SqliteStore::open(&path).unwrap();
        let run = store.start_run("sync", Trigger::Manual, Timestamp::UNIX_EPOCH).unwrap();
        let mut checkpoint = Checkpoint::new(run, Timestamp::UNIX_EPOCH);
        checkpoint.state.insert("since".to_owned(), "\"a\"".to_owned());
        store.checkpoint("sync", &checkpoint).unwrap();
        // Write half of a checkpoint by hand, then close the connection
        // without committing.
        let SqliteStore { connection, .. } = store;
        let connection = connection.into_inner().unwrap();
        connection.execute_batch("BEGIN IMMEDIATE").unwrap();
        connection.execute("UPDATE flow_state SET value = '\"b\"' WHERE flow = 'sync'", []).unwrap();
        connection.execute("INSERT INTO dedupe_loops (id, flow, loop_id) VALUES (7, 'sync', 'l')", []).unwrap();
        connection.execute("INSERT INTO dedupe_keys (loop, key, hash) VALUES (7, 'k', 'h')", []).unwrap();
        drop(connection);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.load_state("sync").unwrap().get("since").map(String::as_str), Some("\"a\""));
        assert_eq!(store.committed_hash("sync", "l", "k").unwrap(), None);
        drop(store);
        cleanup(&path);
    }

    #[test]
    fn a_corrupted_row_is_a_clear_error() {
        let path = temp_path("row");
        let store = SqliteStore::open(&path).unwrap();
        let run = store.start_run("sync", Trigger::Manual, Timestamp::UNIX_EPOCH).unwrap();
        store.lock().execute("UPDATE runs SET trigger = 'sometimes'", []).unwrap();
        let error = store.run(run).err().unwrap();
        assert!(matches!(&error, StoreError::Corrupt { message, .. } if message.contains("sometimes")), "{error:?}");
        drop(store);
        cleanup(&path);
    }
}
