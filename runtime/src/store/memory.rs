//! An in-memory [`Store`], for tests and `integ test`: it behaves exactly as
//! [`super::SqliteStore`] does (the same behavioural suite runs against
//! both), and forgets everything when dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;

use super::{
    Checkpoint, Counters, DeadLetter, DeadLetterId, DeadLetterSummary, Enqueued, QueuedEvent, Replays, RunEnd, RunId,
    RunRecord, SavedRefreshToken, Store, StoreError, Trigger, check_counters, check_distinct_dead_letters, micros,
    retention_cutoff, truncate,
};

/// A [`Store`] held in memory. See the [module documentation](self).
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// flow → state name → JSON.
    state: HashMap<String, HashMap<String, String>>,
    /// (flow, loop id, key) → hash.
    dedupe: HashMap<(String, String, String), String>,
    /// In start order.
    runs: Vec<RunRecord>,
    run_index: HashMap<RunId, usize>,
    /// Insertion sequence → dead letter (sequence order is storage order).
    dead_letters: BTreeMap<u64, DeadLetter>,
    dead_letter_index: HashMap<DeadLetterId, u64>,
    schedule: HashMap<String, Timestamp>,
    /// Arrival sequence → event.
    queue: BTreeMap<u64, QueuedEvent>,
    next_sequence: u64,
    /// (flow, key) → acceptance time (microseconds).
    delivery_keys: HashMap<(String, String), i64>,
    refresh_tokens: HashMap<String, SavedRefreshToken>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every method validates before it changes anything, so a panic in
        // another thread cannot have left the data half-written.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn sequence(&mut self) -> u64 {
        self.next_sequence += 1;
        self.next_sequence
    }

    fn queued_key(&self, flow: &str, key: &str) -> bool {
        self.queue.values().any(|event| event.flow == flow && event.delivery_key.as_deref() == Some(key))
    }

    fn seen(&self, flow: &str, key: &str, now: Timestamp) -> bool {
        let accepted = self
            .delivery_keys
            .get(&(flow.to_owned(), key.to_owned()))
            .is_some_and(|&accepted_at| accepted_at > retention_cutoff(now));
        accepted || self.queued_key(flow, key)
    }

    fn prune_delivery_keys(&mut self, flow: Option<&str>, now: Timestamp) -> u64 {
        let cutoff = retention_cutoff(now);
        let before = self.delivery_keys.len();
        self.delivery_keys
            .retain(|(key_flow, _), accepted_at| *accepted_at > cutoff || flow.is_some_and(|flow| flow != key_flow));
        (before - self.delivery_keys.len()) as u64
    }

    /// The run at `run`'s index, checked writable by `flow`.
    fn writable_run(&self, run: RunId, flow: Option<&str>) -> Result<usize, StoreError> {
        let index =
            *self.run_index.get(&run).ok_or_else(|| StoreError::NotFound { what: "run", id: run.to_string() })?;
        let record = &self.runs[index];
        if let Some(flow) = flow
            && record.flow != flow
        {
            return Err(StoreError::Conflict(format!("run {run} is a run of `{}`, not of `{flow}`", record.flow)));
        }
        if record.outcome.is_some() {
            return Err(StoreError::Conflict(format!("run {run} is already finished")));
        }
        Ok(index)
    }
}

impl Store for MemoryStore {
    fn load_state(&self, flow: &str) -> Result<HashMap<String, String>, StoreError> {
        Ok(self.lock().state.get(flow).cloned().unwrap_or_default())
    }

    fn committed_hash(&self, flow: &str, loop_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().dedupe.get(&(flow.to_owned(), loop_id.to_owned(), key.to_owned())).cloned())
    }

    fn reset_state(&self, flow: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.state.remove(flow);
        inner.dedupe.retain(|(key_flow, _, _), _| key_flow != flow);
        Ok(())
    }

    fn checkpoint(&self, flow: &str, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let mut inner = self.lock();
        // Validate everything first (in the order the SQLite store finds
        // problems), then apply: a failure changes nothing.
        if let Some(counters) = &checkpoint.counters {
            check_counters(counters)?;
        }
        check_distinct_dead_letters(&checkpoint.dead_letters)?;
        let run_index = inner.writable_run(checkpoint.run, Some(flow))?;
        let event = match checkpoint.event {
            Some(id) => Some(
                inner
                    .queue
                    .iter()
                    .find(|(_, event)| event.id == id && event.flow == flow)
                    .map(|(&sequence, _)| sequence)
                    .ok_or_else(|| StoreError::NotFound { what: "webhook event", id: id.to_string() })?,
            ),
            None => None,
        };
        if let Some(taken) =
            checkpoint.dead_letters.iter().find(|record| inner.dead_letter_index.contains_key(&record.id))
        {
            return Err(StoreError::Duplicate { what: "dead letter", id: taken.id.to_string() });
        }

        let values = inner.state.entry(flow.to_owned()).or_default();
        for (name, value) in &checkpoint.state {
            values.insert(name.clone(), value.clone());
        }
        for key in &checkpoint.dedupe_keys {
            inner.dedupe.insert((flow.to_owned(), key.loop_id.clone(), key.key.clone()), key.hash.clone());
        }
        if let Some(counters) = checkpoint.counters {
            inner.runs[run_index].counters = counters;
        }
        if let Some(sequence) = event
            && let Some(event) = inner.queue.remove(&sequence)
        {
            if let Some(key) = event.delivery_key {
                let accepted_at = micros(event.received_at);
                let slot = inner.delivery_keys.entry((flow.to_owned(), key)).or_insert(accepted_at);
                *slot = (*slot).max(accepted_at);
            }
            inner.prune_delivery_keys(Some(flow), checkpoint.at);
        }
        for record in &checkpoint.dead_letters {
            let sequence = inner.sequence();
            let mut record = record.clone();
            record.at = truncate(record.at);
            let letter = DeadLetter { flow: flow.to_owned(), run: checkpoint.run, record, replays: Replays::default() };
            inner.dead_letter_index.insert(letter.record.id, sequence);
            inner.dead_letters.insert(sequence, letter);
        }
        Ok(())
    }

    fn start_run(&self, flow: &str, trigger: Trigger, at: Timestamp) -> Result<RunId, StoreError> {
        let mut inner = self.lock();
        let id = RunId::generate();
        let index = inner.runs.len();
        inner.run_index.insert(id, index);
        inner.runs.push(RunRecord {
            id,
            flow: flow.to_owned(),
            trigger,
            started_at: truncate(at),
            finished_at: None,
            outcome: None,
            counters: Counters::default(),
            error: None,
        });
        Ok(id)
    }

    fn finish_run(&self, run: RunId, end: &RunEnd) -> Result<(), StoreError> {
        let mut inner = self.lock();
        check_counters(&end.counters)?;
        let index = inner.writable_run(run, None)?;
        let record = &mut inner.runs[index];
        record.finished_at = Some(truncate(end.at));
        record.outcome = Some(end.outcome);
        record.counters = end.counters;
        record.error.clone_from(&end.error);
        Ok(())
    }

    fn run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError> {
        let inner = self.lock();
        Ok(inner.run_index.get(&run).map(|&index| inner.runs[index].clone()))
    }

    fn recent_runs(&self, flow: Option<&str>, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .runs
            .iter()
            .rev()
            .filter(|record| flow.is_none_or(|flow| record.flow == flow))
            .take(limit)
            .cloned()
            .collect())
    }

    fn last_start(&self, flow: &str) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.lock().schedule.get(flow).copied())
    }

    fn set_last_start(&self, flow: &str, at: Timestamp) -> Result<(), StoreError> {
        self.lock().schedule.insert(flow.to_owned(), truncate(at));
        Ok(())
    }

    fn dead_letters(&self, flow: Option<&str>) -> Result<Vec<DeadLetterSummary>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .dead_letters
            .values()
            .filter(|letter| flow.is_none_or(|flow| letter.flow == flow))
            .map(DeadLetter::summary)
            .collect())
    }

    fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        let inner = self.lock();
        Ok(inner.dead_letter_index.get(&id).and_then(|sequence| inner.dead_letters.get(sequence)).cloned())
    }

    fn mark_replayed(&self, id: DeadLetterId, at: Timestamp) -> Result<u32, StoreError> {
        let mut inner = self.lock();
        let sequence = *inner
            .dead_letter_index
            .get(&id)
            .ok_or_else(|| StoreError::NotFound { what: "dead letter", id: id.to_string() })?;
        let letter = inner
            .dead_letters
            .get_mut(&sequence)
            .ok_or_else(|| StoreError::NotFound { what: "dead letter", id: id.to_string() })?;
        letter.replays.count = letter.replays.count.saturating_add(1);
        letter.replays.last_at = Some(truncate(at));
        Ok(letter.replays.count)
    }

    fn delete_dead_letter(&self, id: DeadLetterId) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        match inner.dead_letter_index.remove(&id) {
            Some(sequence) => Ok(inner.dead_letters.remove(&sequence).is_some()),
            None => Ok(false),
        }
    }

    fn delete_dead_letters(&self, flow: Option<&str>) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let doomed: Vec<(u64, DeadLetterId)> = inner
            .dead_letters
            .iter()
            .filter(|(_, letter)| flow.is_none_or(|flow| letter.flow == flow))
            .map(|(&sequence, letter)| (sequence, letter.record.id))
            .collect();
        for (sequence, id) in &doomed {
            inner.dead_letters.remove(sequence);
            inner.dead_letter_index.remove(id);
        }
        Ok(doomed.len() as u64)
    }

    fn enqueue_event(&self, event: &QueuedEvent) -> Result<Enqueued, StoreError> {
        let mut inner = self.lock();
        if inner.queue.values().any(|queued| queued.id == event.id) {
            return Err(StoreError::Duplicate { what: "webhook event", id: event.id.to_string() });
        }
        if let Some(key) = &event.delivery_key
            && inner.seen(&event.flow, key, event.received_at)
        {
            return Ok(Enqueued::Duplicate);
        }
        let sequence = inner.sequence();
        let mut event = event.clone();
        event.received_at = truncate(event.received_at);
        inner.queue.insert(sequence, event);
        Ok(Enqueued::Accepted)
    }

    fn pending_events(&self, flow: &str, limit: usize) -> Result<Vec<QueuedEvent>, StoreError> {
        let inner = self.lock();
        Ok(inner.queue.values().filter(|event| event.flow == flow).take(limit).cloned().collect())
    }

    fn pending_event_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let inner = self.lock();
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for event in inner.queue.values() {
            *counts.entry(event.flow.as_str()).or_default() += 1;
        }
        Ok(counts.into_iter().map(|(flow, count)| (flow.to_owned(), count)).collect())
    }

    fn seen(&self, flow: &str, key: &str, now: Timestamp) -> Result<bool, StoreError> {
        Ok(self.lock().seen(flow, key, now))
    }

    fn prune_delivery_keys(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(self.lock().prune_delivery_keys(None, now))
    }

    fn save_refresh_token(&self, name: &str, token: &SavedRefreshToken) -> Result<(), StoreError> {
        let mut token = token.clone();
        token.saved_at = truncate(token.saved_at);
        self.lock().refresh_tokens.insert(name.to_owned(), token);
        Ok(())
    }

    fn load_refresh_token(&self, name: &str) -> Result<Option<SavedRefreshToken>, StoreError> {
        Ok(self.lock().refresh_tokens.get(name).cloned())
    }
}
