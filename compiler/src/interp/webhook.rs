//! Webhook flows in the interpreter (§ 12.3 of spec.md): routes, the sink
//! that stores accepted events, and the workers that run them.
//!
//! In: a [`Host`] and the program's webhook flows. Out: the
//! [`integ_runtime::webhook::Route`]s of those flows (their signature
//! schemes built once, secrets read at start-up), the runtime's
//! [`QueueSink`] with each flow's check of a request (it decodes by the
//! payload type; its `dedupe:` key) so that it stores accepted events in
//! the flow's durable queue before the router answers `202`, and [`work`],
//! the loop that runs a flow's queued events one at a time, in arrival
//! order, each in a run of its own ([`flow::run_event`]).
//!
//! The entry points are [`routes`], [`sink`] and [`work`]; the
//! CLI serves the routes with `integ_runtime::webhook::serve`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use integ_runtime::webhook::{
    Algorithm, Canonical, Encoding, HmacScheme, Inbound, Key, QueueSink, Route, Scheme, delivery_key_header, queue,
};
use integ_runtime::{Value, decode, encode};
use tokio::sync::Notify;

use super::flow::{self, Host, Live};
use super::{Frame, Interpreter};
use crate::ir::Expr;
use crate::ir::flow::{Flow, Signature};

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

/// The sink of the webhook flows among `flows`: each request is decoded by
/// its flow's payload type and given its delivery key ([`admit`]) before it
/// is queued; [`QueueSink::wake`] gives what wakes a flow's worker.
pub fn sink(host: &Arc<Host>, flows: &[&Flow]) -> QueueSink {
    let mut sink = QueueSink::new(host.store.clone());
    for flow in flows.iter().filter(|flow| flow.webhook.is_some()) {
        let (host, flow) = (host.clone(), Arc::new((*flow).clone()));
        let name = flow.name.clone();
        sink.add(name, Box::new(move |event: &Inbound| admit(&host, &flow, &event.json, &event.headers)));
    }
    sink
}

/// The delivery key of a request, or why it is refused (`400`): its body
/// must decode as the flow's payload type. The key is the flow's `dedupe:`,
/// or else the delivery id its scheme sends
/// ([`integ_runtime::webhook::delivery_key_header`]).
fn admit(host: &Host, flow: &Flow, json: &[u8], headers: &[(String, String)]) -> Result<Option<String>, String> {
    let Some((name, ty)) = &flow.payload else { return Err(format!("`{}` has no payload", flow.name)) };
    let interpreter = &host.interpreter;
    let value = decode::json(json, &interpreter.desc(ty), &interpreter.schema, name)
        .map_err(|error| format!("the body does not decode as `{}`: {error}", interpreter.program.types.display(ty)))?;
    let Some(webhook) = &flow.webhook else { return Ok(None) };
    let Some(key) = &webhook.dedupe else {
        let header = delivery_key_header(&webhook.signature.scheme);
        return Ok(header.and_then(|header| queue::header(headers, header)).map(str::to_owned));
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

/// Runs `flow`'s queued events one at a time, in arrival order, until
/// `stop` is set, each in a run of its own ([`flow::run_event`], on a
/// blocking thread); see [`integ_runtime::webhook::work`].
pub async fn work(host: Arc<Host>, flow: String, wake: Arc<Notify>, stop: Arc<AtomicBool>) {
    let store = host.store.clone();
    integ_runtime::webhook::work(store, flow, wake, stop, move |event| {
        let host = host.clone();
        async move {
            match tokio::task::spawn_blocking(move || flow::run_event(&host, &event, Arc::new(Live::default()))).await {
                Ok(Ok(_report)) => Ok(()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(error) => Err(format!("the run stopped unexpectedly: {error}")),
            }
        }
    })
    .await;
}
