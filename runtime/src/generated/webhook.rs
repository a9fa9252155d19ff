//! The webhook flows of generated code, served (§ 12.3, § 17.2): the same
//! router and durable queue as `integ run --listen`, for an application to
//! mount in its own axum app.
//!
//! In: one [`WebhookFlow`] per webhook flow, made by the generated
//! `webhooks(apis, host, env)` — its route (path, signature scheme with the
//! secrets read, body limit), its check of a request (the body decodes as
//! the payload type; the delivery key) and how to run one queued event (the
//! generated flow function). Out: [`Webhooks`], whose [`Webhooks::router`]
//! answers requests (an event is stored in the flow's queue in `host`'s
//! store before it is answered `202`) and whose [`Webhooks::work`] runs the
//! queued events, those left by an earlier process first.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Notify;

use super::flow::{FlowHost, FlowInfo, FlowReport};
use crate::store::{QueuedEvent, StoreError};
use crate::webhook::{Admit, Options, QueueSink, Route, RouteError};

/// Runs one queued event of a flow: a run of its own, whose last
/// checkpoint removes the event from the queue.
pub type RunEvent =
    Box<dyn Fn(QueuedEvent) -> Pin<Box<dyn Future<Output = Result<FlowReport, StoreError>> + Send>> + Send + Sync>;

/// One webhook flow, as generated code describes it.
pub struct WebhookFlow {
    pub flow: &'static FlowInfo,
    pub route: Route,
    /// The flow's check of an accepted request: its delivery key, or why
    /// it is refused (`400`).
    pub admit: Admit,
    pub run: RunEvent,
}

/// The webhook flows of a program, served from one axum router, with one
/// worker per flow that runs its queued events.
///
/// ```no_run
/// # async fn example(webhooks: integ_runtime::generated::Webhooks) -> std::io::Result<()> {
/// // `webhooks` is what the generated `webhooks(&apis, &host, &Env::process())` returned.
/// let app = axum::Router::new().merge(webhooks.router());
/// tokio::spawn(webhooks.work());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8787").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
pub struct Webhooks {
    host: FlowHost,
    router: axum::Router,
    workers: Vec<Worker>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flows: Vec<(&str, &str)> = self.workers.iter().map(|worker| (worker.flow, worker.path.as_str())).collect();
        formatter.debug_struct("Webhooks").field("flows", &flows).finish()
    }
}

struct Worker {
    flow: &'static str,
    path: String,
    wake: Arc<Notify>,
    run: Arc<RunEvent>,
}

impl Webhooks {
    /// Serves `flows`, queueing their events in `host`'s store; `options`
    /// sets the clock signatures' timestamps are checked against.
    pub fn new(host: &FlowHost, flows: Vec<WebhookFlow>, options: Options) -> Result<Webhooks, RouteError> {
        let mut sink = QueueSink::new(host.store().clone());
        let mut routes = Vec::new();
        let mut workers = Vec::new();
        for flow in flows {
            let wake = sink.add(flow.flow.name, flow.admit);
            workers.push(Worker { flow: flow.flow.name, path: flow.route.path.clone(), wake, run: Arc::new(flow.run) });
            routes.push(flow.route);
        }
        let router = crate::webhook::router(routes, Arc::new(sink), options)?;
        Ok(Webhooks { host: host.clone(), router, workers })
    }

    /// The router: one `POST` route per webhook flow, at its path, and no
    /// fallback (merge it into the application's router).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// The flows served, with their paths.
    pub fn paths(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.workers.iter().map(|worker| (worker.flow, worker.path.as_str()))
    }

    /// Runs the queued events of every flow — one at a time per flow, in
    /// arrival order, those left by an earlier process first — until the
    /// host's stop flag is set ([`FlowHost::stop_flag`]); the event in
    /// progress finishes first. A run that cannot be started or saved (the
    /// store is unavailable) leaves its event queued, tried again a second
    /// later.
    pub fn work(&self) -> impl Future<Output = ()> + Send + 'static {
        let store = self.host.store().clone();
        let stop = self.host.stop_flag();
        let workers: Vec<_> = self
            .workers
            .iter()
            .map(|worker| {
                let run = worker.run.clone();
                crate::webhook::work(
                    store.clone(),
                    worker.flow.to_owned(),
                    worker.wake.clone(),
                    stop.clone(),
                    move |event| {
                        let run = run.clone();
                        // A run whose last checkpoint failed left its event queued: the
                        // worker finds it again, and waits before trying it again.
                        async move {
                            run(event).await.map(|_report| ()).map_err(|error| format!("cannot run the event: {error}"))
                        }
                    },
                )
            })
            .collect();
        async move {
            futures_util::future::join_all(workers).await;
        }
    }
}
