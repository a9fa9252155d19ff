//! Webhook flows in the interpreter (§ 12.3 of spec.md): routes, the sink
//! that stores accepted events, and the workers that run them.
//!
//! In: a [`Host`] and the program's webhook flows. Out: the
//! [`integ_runtime::webhook::Route`]s of those flows (their signature
//! schemes built once, secrets read at start-up), a [`QueueSink`] that
//! decodes each accepted request by the flow's payload type, computes its
//! `dedupe:` key and stores it in the flow's durable queue before the
//! router answers `202`, and [`work`], the loop that runs a flow's queued
//! events one at a time, in arrival order, each in a run of its own
//! ([`flow::run_event`]).
//!
//! The entry points are [`routes`], [`QueueSink::new`] and [`work`]; the
//! CLI serves the routes with `integ_runtime::webhook::serve`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use integ_runtime::store::{Enqueued, EventId, QueuedEvent};
use integ_runtime::webhook::{
    Accepted, Algorithm, Canonical, Encoding, HmacScheme, Inbound, Key, Refused, Route, Scheme, Sink,
};
use integ_runtime::{Value, decode, encode};
use tokio::sync::Notify;

use super::flow::{self, Host, Live};
use super::{Frame, Interpreter};
use crate::ir::Expr;
use crate::ir::flow::{Flow, Signature};

/// How long a worker waits before trying an event again whose run could not
/// be saved (the state store was unavailable).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The routes of the webhook flows among `flows`, their schemes built from
/// the program's secrets. Every problem (a secret that is not set, a
/// `standard_webhooks` key that is not base64) is reported, one a line.
pub fn routes(interpreter: &Interpreter, flows: &[&Flow]) -> Result<Vec<Route>, String> {
    let mut routes = Vec::new();
    let mut problems = Vec::new();
    for flow in flows {
        let Some(webhook) = &flow.webhook else { continue };
        match scheme(interpreter, &flow.name, &webhook.signature) {
            Ok(scheme) => routes.push(Route {
                flow: flow.name.clone(),
                path: webhook.path.clone(),
                scheme,
                max_body: webhook.max_body,
            }),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() { Ok(routes) } else { Err(problems.join("\n")) }
}

/// A flow's signature scheme with its arguments evaluated.
fn scheme(interpreter: &Interpreter, flow: &str, signature: &Signature) -> Result<Scheme, String> {
    let owner = format!("the signature of `{flow}`");
    let expr = |name: &str| signature.args.iter().find(|(arg, _)| arg == name).map(|(_, expr)| expr);
    let evaluate = |name: &str| -> Result<Option<Value>, String> {
        match expr(name) {
            Some(expr) => interpreter
                .eval(&mut Frame::new(0), expr)
                .map(Some)
                .map_err(|error| format!("`{name}` of {owner}: {error}")),
            None => Ok(None),
        }
    };
    let text = |name: &str| -> Result<Option<String>, String> {
        Ok(match evaluate(name)? {
            Some(Value::None) => return Err(format!("`{name}` of {owner} is not set")),
            Some(Value::String(text)) => Some(text.to_string()),
            Some(other) => Some(encode::text(&other, &interpreter.schema)),
            None => None,
        })
    };
    let secret = |name: &str| -> Result<integ_runtime::secret::Secret, String> {
        match text(name)? {
            Some(value) if !value.is_empty() => Ok(integ_runtime::secret::Secret::new(value)),
            Some(_) => Err(format!("`{name}` of {owner} is empty")),
            None => Err(format!("{owner} has no `{name}`")),
        }
    };
    let tolerance = || -> Result<Duration, String> {
        match evaluate("tolerance")? {
            Some(Value::Duration(duration)) => Ok(Duration::from_millis(u64::try_from(duration.millis).unwrap_or(0))),
            Some(_) => Err(format!("`tolerance` of {owner} is not a duration")),
            None => Ok(integ_runtime::webhook::signature::DEFAULT_TOLERANCE),
        }
    };
    Ok(match signature.scheme.as_str() {
        "none" => Scheme::None,
        "github" => Scheme::GitHub { secret: secret("secret")? },
        "stripe" => Scheme::Stripe { secret: secret("secret")?, tolerance: tolerance()? },
        "standard_webhooks" => {
            let values = match evaluate("secrets")? {
                Some(Value::List(items)) => items.iter().cloned().collect::<Vec<_>>(),
                Some(single) => vec![single],
                None => Vec::new(),
            };
            let mut keys = Vec::new();
            for value in values {
                let text = match value {
                    Value::String(text) => text.to_string(),
                    Value::None => return Err(format!("a key of {owner} is not set")),
                    other => encode::text(&other, &interpreter.schema),
                };
                let key = Key::standard_webhooks(&integ_runtime::secret::Secret::new(text))
                    .map_err(|error| format!("{owner}: {error}"))?;
                keys.push(key);
            }
            if keys.is_empty() {
                return Err(format!("{owner} has no key in `secrets`"));
            }
            Scheme::StandardWebhooks { keys, tolerance: tolerance()? }
        }
        "hmac" => {
            let header = text("header")?.ok_or_else(|| format!("{owner} has no `header`"))?;
            let mut scheme = HmacScheme::new(secret("secret")?, header);
            if let Some(word) = text("algorithm")? {
                scheme.algorithm =
                    Algorithm::parse(&word).ok_or_else(|| format!("`algorithm` of {owner}: unknown `{word}`"))?;
            }
            if let Some(word) = text("encoding")? {
                scheme.encoding =
                    Encoding::parse(&word).ok_or_else(|| format!("`encoding` of {owner}: unknown `{word}`"))?;
            }
            scheme.prefix = text("prefix")?.unwrap_or_default();
            scheme.timestamp_header = text("timestamp_header")?;
            scheme.tolerance = tolerance()?;
            scheme.canonical = match expr("canonical") {
                Some(Expr::Literal(crate::ir::Literal::String(template))) => {
                    Canonical::parse(template).map_err(|error| format!("`canonical` of {owner}: {error}"))?
                }
                Some(_) => return Err(format!("`canonical` of {owner} is not a template")),
                None if scheme.timestamp_header.is_some() => Canonical::timestamp_dot_body(),
                None => Canonical::body(),
            };
            Scheme::Hmac(scheme)
        }
        other => return Err(format!("{owner}: unknown scheme `{other}`")),
    })
}

/// One webhook flow, as the sink needs it.
struct Entry {
    flow: Arc<Flow>,
    wake: Arc<Notify>,
}

/// Decodes accepted requests by their flow's payload type, computes their
/// `dedupe:` key and stores them in the flow's queue (§ 12.3 steps 6–8),
/// then wakes the flow's worker.
pub struct QueueSink {
    host: Arc<Host>,
    flows: HashMap<String, Entry>,
}

impl QueueSink {
    /// A sink for the webhook flows among `flows`; each flow's worker waits
    /// on the [`Notify`] that [`QueueSink::wake`] returns for it.
    pub fn new(host: Arc<Host>, flows: &[&Flow]) -> QueueSink {
        let flows = flows
            .iter()
            .filter(|flow| flow.webhook.is_some())
            .map(|flow| (flow.name.clone(), Entry { flow: Arc::new((*flow).clone()), wake: Arc::new(Notify::new()) }))
            .collect();
        QueueSink { host, flows }
    }

    /// What wakes `flow`'s worker when an event is queued.
    pub fn wake(&self, flow: &str) -> Option<Arc<Notify>> {
        self.flows.get(flow).map(|entry| entry.wake.clone())
    }

    /// The payload and delivery key of a request, or why it is refused
    /// (`400`). The key is the flow's `dedupe:`, or else the delivery id
    /// its scheme sends ([`default_key_header`]).
    fn decode(&self, flow: &Flow, json: &[u8], headers: &[(String, String)]) -> Result<Option<String>, String> {
        let Some((name, ty)) = &flow.payload else { return Err(format!("`{}` has no payload", flow.name)) };
        let interpreter = &self.host.interpreter;
        let value = decode::json(json, &interpreter.desc(ty), &interpreter.schema, name).map_err(|error| {
            format!("the body does not decode as `{}`: {error}", interpreter.program.types.display(ty))
        })?;
        let Some(webhook) = &flow.webhook else { return Ok(None) };
        let Some(key) = &webhook.dedupe else {
            let header = default_key_header(&webhook.signature);
            let sent = headers.iter().find(|(name, _)| header.is_some_and(|header| name.eq_ignore_ascii_case(header)));
            return Ok(sent.map(|(_, value)| value.clone()));
        };
        let mut frame = Frame::new(flow.frame_size);
        frame.set(flow.states.len() as u32, value);
        let key = interpreter
            .eval(&mut frame, key)
            .map_err(|error| format!("the dedupe key of the event cannot be computed: {error}"))?;
        Ok(Some(match key {
            Value::Json(json) => json.to_string(),
            other => encode::text(&other, &interpreter.schema),
        }))
    }
}

impl Sink for QueueSink {
    fn accept(&self, event: Inbound) -> Result<Accepted, Refused> {
        let entry = self
            .flows
            .get(&event.flow)
            .ok_or_else(|| Refused::Unavailable(format!("`{}` is not served", event.flow)))?;
        let delivery_key = self.decode(&entry.flow, &event.json, &event.headers).map_err(Refused::Decode)?;
        let queued = QueuedEvent {
            id: EventId::generate(),
            flow: event.flow,
            received_at: event.received_at,
            headers: event.headers,
            body: event.body,
            delivery_key,
        };
        match self.host.store.enqueue_event(&queued) {
            Ok(Enqueued::Accepted) => {
                entry.wake.notify_one();
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

/// The header that identifies a delivery under a scheme, used as the
/// delivery key of a flow without `dedupe:` (§ 12.3): `webhook-id` for
/// `standard_webhooks`, `X-GitHub-Delivery` for `github`.
pub fn default_key_header(signature: &Signature) -> Option<&'static str> {
    match signature.scheme.as_str() {
        "standard_webhooks" => Some("webhook-id"),
        "github" => Some("x-github-delivery"),
        _ => None,
    }
}

/// Runs `flow`'s queued events one at a time, in arrival order, until
/// `stop` is set (checked between events; the event in progress finishes).
/// Events left from an earlier process run first (§ 16.1). `wake` is
/// notified when an event is queued.
pub async fn work(host: Arc<Host>, flow: String, wake: Arc<Notify>, stop: Arc<AtomicBool>) {
    let mut previous: Option<EventId> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let store = host.store.clone();
        let name = flow.clone();
        let pending = tokio::task::spawn_blocking(move || store.pending_events(&name, 1)).await;
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
            Err(_) => return,
        };
        if previous == Some(event.id) {
            // Its run could not be saved: the store is failing. Wait, then try again.
            tracing::warn!(flow = %flow, "{flow}: event {} is still queued; trying again in {}s", event.id, RETRY_AFTER.as_secs());
            tokio::time::sleep(RETRY_AFTER).await;
        }
        previous = Some(event.id);
        let run_host = host.clone();
        let result =
            tokio::task::spawn_blocking(move || flow::run_event(&run_host, &event, Arc::new(Live::default()))).await;
        match result {
            Ok(Ok(_report)) => {}
            Ok(Err(error)) => {
                tracing::error!(flow = %flow, "{flow}: {error}");
                tokio::time::sleep(RETRY_AFTER).await;
            }
            Err(error) => tracing::error!(flow = %flow, "{flow}: the run stopped unexpectedly: {error}"),
        }
    }
}
