//! The durable queue between the router and the flows (§ 12.3 steps 6–8,
//! § 16.1), for the interpreter and generated code alike.
//!
//! In: per webhook flow, an [`Admit`] — the flow's own check of a request
//! (its body decodes as the payload type) and its delivery key. Out: a
//! [`QueueSink`] that stores each admitted event in the flow's queue in the
//! state store before the router answers `202` (a duplicate delivery key is
//! answered `200` and stored nothing), and [`work`], the loop that hands a
//! flow's queued events, one at a time and in arrival order, to the code
//! that runs them. An event leaves the queue in the last checkpoint of its
//! run, so an event whose run did not end is run again after a restart.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use super::server::{Accepted, Inbound, Refused, Sink};
use crate::store::{Enqueued, EventId, QueuedEvent, Store};

/// How long a worker waits before trying again an event whose run could not
/// be saved, or a queue it could not read (the state store is unavailable).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// A flow's check of an accepted request: its delivery key (`None` when it
/// has none), or why the event is refused (answered `400` with the text).
pub type Admit = Box<dyn Fn(&Inbound) -> Result<Option<String>, String> + Send + Sync>;

/// The header that identifies a delivery under a signature scheme, the
/// delivery key of a flow without `dedupe:` (§ 12.3): `webhook-id` for
/// `standard_webhooks`, `X-GitHub-Delivery` for `github`.
pub fn delivery_key_header(scheme: &str) -> Option<&'static str> {
    match scheme {
        "standard_webhooks" => Some("webhook-id"),
        "github" => Some("x-github-delivery"),
        _ => None,
    }
}

/// The value of header `name` among an event's headers (case-insensitive).
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(header, _)| header.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

/// One flow's queue, as the sink knows it.
struct Queue {
    admit: Admit,
    wake: Arc<Notify>,
}

/// Stores admitted events in their flow's queue (§ 12.3 steps 6–8), then
/// wakes the flow's worker.
pub struct QueueSink {
    store: Arc<dyn Store>,
    flows: HashMap<String, Queue>,
}

impl QueueSink {
    /// A sink writing to `store`, serving no flow yet.
    pub fn new(store: Arc<dyn Store>) -> QueueSink {
        QueueSink { store, flows: HashMap::new() }
    }

    /// Serves `flow`, whose requests `admit` checks; returns what wakes the
    /// flow's worker when an event is queued (for [`work`]).
    pub fn add(&mut self, flow: impl Into<String>, admit: Admit) -> Arc<Notify> {
        let wake = Arc::new(Notify::new());
        self.flows.insert(flow.into(), Queue { admit, wake: wake.clone() });
        wake
    }

    /// What wakes `flow`'s worker, when the sink serves it.
    pub fn wake(&self, flow: &str) -> Option<Arc<Notify>> {
        self.flows.get(flow).map(|queue| queue.wake.clone())
    }
}

impl Sink for QueueSink {
    fn accept(&self, event: Inbound) -> Result<Accepted, Refused> {
        let queue = self
            .flows
            .get(&event.flow)
            .ok_or_else(|| Refused::Unavailable(format!("`{}` is not served", event.flow)))?;
        let delivery_key = (queue.admit)(&event).map_err(Refused::Decode)?;
        let queued = QueuedEvent {
            id: EventId::generate(),
            flow: event.flow,
            received_at: event.received_at,
            headers: event.headers,
            body: event.body,
            delivery_key,
        };
        match self.store.enqueue_event(&queued) {
            Ok(Enqueued::Accepted) => {
                queue.wake.notify_one();
                Ok(Accepted::Queued(queued.id))
            }
            Ok(Enqueued::Duplicate) => Ok(Accepted::Duplicate),
            Err(error) => {
                tracing::error!(flow = %queued.flow, "{}: cannot store a webhook event: {error}", queued.flow);
                Err(Refused::Unavailable("the state store is unavailable; send the event again later".to_owned()))
            }
        }
    }
}

/// Runs `flow`'s queued events one at a time, in arrival order, until
/// `stop` is set (checked between events: the event in progress finishes).
/// Events left by an earlier process run first (§ 16.1); `wake` is notified
/// when an event is queued. `run` runs one event in a run of its own, whose
/// last checkpoint removes it from the queue; an `Err` (the run could not be
/// started or saved) is logged, and the event, still queued, is tried again
/// after [`RETRY_AFTER`].
pub async fn work<R, F>(store: Arc<dyn Store>, flow: String, wake: Arc<Notify>, stop: Arc<AtomicBool>, mut run: R)
where
    R: FnMut(QueuedEvent) -> F,
    F: Future<Output = Result<(), String>>,
{
    let mut previous: Option<EventId> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let reader = store.clone();
        let name = flow.clone();
        let pending = tokio::task::spawn_blocking(move || reader.pending_events(&name, 1)).await;
        let event = match pending {
            Ok(Ok(mut events)) if !events.is_empty() => events.swap_remove(0),
            Ok(Ok(_)) => {
                // Nothing queued: wait for an event, or look again now and then (a stop).
                let _ = tokio::time::timeout(Duration::from_millis(250), wake.notified()).await;
                continue;
            }
            Ok(Err(error)) => {
                tracing::error!(flow = %flow, "{flow}: cannot read the webhook queue: {error}");
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
            // The runtime is shutting down.
            Err(_) => return,
        };
        if previous == Some(event.id) {
            // Its run could not be saved: the store is failing. Wait, then try again.
            tracing::warn!(flow = %flow, "{flow}: event {} is still queued; trying again in {}s", event.id, RETRY_AFTER.as_secs());
            tokio::time::sleep(RETRY_AFTER).await;
        }
        previous = Some(event.id);
        if let Err(error) = run(event).await {
            tracing::error!(flow = %flow, "{flow}: {error}");
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::store::MemoryStore;

    fn inbound(flow: &str, body: &str) -> Inbound {
        Inbound {
            flow: flow.into(),
            received_at: Timestamp::now(),
            headers: vec![("x-delivery".into(), body.into())],
            body: body.as_bytes().to_vec(),
            json: body.as_bytes().to_vec(),
        }
    }

    fn sink(store: Arc<dyn Store>) -> (QueueSink, Arc<Notify>) {
        let mut sink = QueueSink::new(store);
        let wake = sink.add(
            "hook",
            Box::new(|event: &Inbound| match event.body.as_slice() {
                b"bad" => Err("the body does not decode as `Event`".to_owned()),
                _ => Ok(header(&event.headers, "X-Delivery").map(str::to_owned)),
            }),
        );
        (sink, wake)
    }

    #[test]
    fn admitted_events_are_queued_once_per_delivery_key() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let (sink, _) = sink(store.clone());
        let first = sink.accept(inbound("hook", "a")).unwrap();
        assert!(matches!(first, Accepted::Queued(_)));
        assert_eq!(sink.accept(inbound("hook", "a")).unwrap(), Accepted::Duplicate);
        assert!(matches!(sink.accept(inbound("hook", "b")).unwrap(), Accepted::Queued(_)));
        assert_eq!(
            sink.accept(inbound("hook", "bad")).unwrap_err(),
            Refused::Decode("the body does not decode as `Event`".into())
        );
        assert!(matches!(sink.accept(inbound("other", "a")).unwrap_err(), Refused::Unavailable(_)));
        let queued = store.pending_events("hook", 10).unwrap();
        let bodies: Vec<&[u8]> = queued.iter().map(|event| event.body.as_slice()).collect();
        assert_eq!(bodies, [b"a".as_slice(), b"b".as_slice()]);
        assert_eq!(queued[0].delivery_key.as_deref(), Some("a"));
    }

    #[tokio::test]
    async fn the_worker_runs_events_in_order_and_retries_one_still_queued() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let (sink, wake) = sink(store.clone());
        for body in ["a", "b", "c"] {
            sink.accept(inbound("hook", body)).unwrap();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (runs, flag, queue) = (seen.clone(), stop.clone(), store.clone());
        let worker = work(store.clone(), "hook".into(), wake, stop.clone(), move |event: QueuedEvent| {
            let (runs, flag, queue) = (runs.clone(), flag.clone(), queue.clone());
            async move {
                let body = String::from_utf8_lossy(&event.body).into_owned();
                let first_try = !runs.lock().unwrap().contains(&body);
                runs.lock().unwrap().push(body.clone());
                if body == "b" && first_try {
                    // Not saved: the event stays queued and is tried again.
                    return Err("cannot save a checkpoint".to_owned());
                }
                let mut checkpoint = crate::store::Checkpoint::new(
                    queue.start_run("hook", crate::store::Trigger::Webhook, Timestamp::now()).unwrap(),
                    Timestamp::now(),
                );
                checkpoint.event = Some(event.id);
                queue.checkpoint("hook", &checkpoint).unwrap();
                if body == "c" {
                    flag.store(true, Ordering::SeqCst);
                }
                Ok(())
            }
        });
        tokio::time::timeout(Duration::from_secs(10), worker).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["a", "b", "b", "c"]);
        assert!(store.pending_events("hook", 10).unwrap().is_empty());
    }
}
