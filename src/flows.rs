//! `integ run` and `integ deadletters`: flows run unattended.
//!
//! In: a program, the state store, signals. Out: runs (their log lines, a
//! progress line per running flow, a summary), dead letters shown or
//! replayed, exit codes. The flows themselves run in
//! `integ_compiler::interp::flow`, one thread per run; this module opens
//! the store, starts the stand-ins of `--mock`, schedules, and stops cleanly
//! on SIGINT or SIGTERM.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Subcommand};
use integ_compiler::check::suggest;
use integ_compiler::interp::calls::Redirects;
use integ_compiler::interp::flow::{self, Host, Live, Report, Request};
use integ_compiler::interp::standin::{StandInOptions, StandIns};
use integ_compiler::interp::{Interpreter, Options};
use integ_compiler::ir::flow::Trigger as FlowTrigger;
use integ_runtime::store::{DeadLetter, DeadLetterId, RunOutcome, SqliteStore, Store, Trigger, UnitInput};
use jiff::Timestamp;

use crate::progress::{self, Progress, When};
use crate::run::checked_program;

/// How long a stop waits for the records in flight before abandoning them (§ 12.8).
const GRACE: Duration = Duration::from_secs(30);

#[derive(Args)]
pub struct StoreArgs {
    /// The state store, an SQLite file [default: `.integ/<program>.db` next
    /// to the program, `.integ/<program>.mock.db` with --mock; or $INTEG_STATE].
    #[arg(long, value_name = "PATH", global = true)]
    pub state: Option<PathBuf>,
    /// Send every api's requests to local stand-ins (as `integ mock` serves
    /// them: fixtures next to the program, else fake data), with no network
    /// and no credentials.
    #[arg(long, global = true)]
    pub mock: bool,
}

#[derive(Args)]
pub struct RunArgs {
    /// The program.
    pub file: PathBuf,
    /// The flows to run [default: every flow; with --once, every flow but webhook flows].
    pub flows: Vec<String>,
    /// A flow to run (the same as naming it after the file).
    #[arg(long = "flow", value_name = "NAME")]
    pub flow: Vec<String>,
    /// Run each selected flow once, now, and exit (manual flows run only so).
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Forget this flow's state and dedupe keys first (not its dead letters).
    #[arg(long, value_name = "FLOW")]
    pub reset_state: Vec<String>,
    /// The payload of a webhook flow run with --once: a JSON file.
    #[arg(long, value_name = "FILE")]
    pub payload: Option<PathBuf>,
    /// The live progress line: auto (on a terminal), always or never.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: When,
    /// Where webhook flows are served (port 0: any free port, logged).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
}

/// The address of the webhook server unless `--listen` says otherwise (§ 18.2).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

#[derive(Args)]
pub struct DeadLettersArgs {
    /// The program whose dead letters these are.
    pub file: PathBuf,
    #[command(subcommand)]
    pub action: DeadLettersAction,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Subcommand)]
pub enum DeadLettersAction {
    /// List the dead letters, oldest first.
    List {
        /// Only this flow's.
        #[arg(long)]
        flow: Option<String>,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter whole: its input, error, request, response and state.
    Show {
        id: String,
        /// As one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run dead letters through their flow again [default: all of them];
    /// delivered ones are deleted, the others kept.
    Replay {
        ids: Vec<String>,
        /// Only this flow's.
        #[arg(long)]
        flow: Option<String>,
    },
    /// Delete dead letters [default: all of them].
    Purge {
        ids: Vec<String>,
        /// Only this flow's.
        #[arg(long)]
        flow: Option<String>,
    },
}

/// A program ready to run flows: checked, connected, with its store open.
struct Session {
    runtime: tokio::runtime::Runtime,
    host: Arc<Host>,
    file: String,
    /// Kept running for as long as the session lasts.
    _stand_ins: Option<StandIns>,
}

/// Exit status 2: the program cannot start (§ 18).
fn cannot_start(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// `.integ/<stem>.db` (or `.mock.db`) next to the program, unless
/// `--state` or `INTEG_STATE` says otherwise.
fn store_path(file: &Path, args: &StoreArgs) -> PathBuf {
    if let Some(path) = &args.state {
        return path.clone();
    }
    if let Some(path) = std::env::var_os("INTEG_STATE").filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let stem = file.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_else(|| "state".to_owned());
    let name = if args.mock { format!("{stem}.mock.db") } else { format!("{stem}.db") };
    file.parent().unwrap_or(Path::new("")).join(".integ").join(name)
}

fn open(file: &Path, args: &StoreArgs) -> Result<Session, ExitCode> {
    let name = integ_compiler::program::normalize(&file.to_string_lossy());
    let analysis = checked_program(&name).map_err(|_| ExitCode::from(2))?;
    let lowered = integ_compiler::ir::lower::lower(&analysis.program, &analysis.checked);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("integ")
        .build()
        .map_err(|error| cannot_start(format!("cannot start the async runtime: {error}")))?;
    let mut interpreter =
        Interpreter::new(lowered.clone(), Options::default()).map_err(|error| cannot_start(error.to_string()))?;
    let mut stand_ins = None;
    let mut redirects = Redirects::default();
    if args.mock {
        // Stand-ins take any credential: secrets nobody set get a placeholder.
        let missing: Vec<String> = interpreter.missing_secrets().into_iter().map(|(_, variable)| variable).collect();
        if !missing.is_empty() {
            let options = Options {
                environment: Box::new(move |variable| {
                    std::env::var(variable).ok().filter(|value| !value.is_empty()).or_else(|| {
                        missing.iter().any(|name| name == variable).then(|| "integ-mock-credential".to_owned())
                    })
                }),
                ..Options::default()
            };
            interpreter = Interpreter::new(lowered, options).map_err(|error| cannot_start(error.to_string()))?;
        }
        let fixtures = file.parent().unwrap_or(Path::new("")).join("fixtures");
        let options = StandInOptions { fixtures: fixtures.is_dir().then_some(fixtures), ..StandInOptions::default() };
        let started = runtime
            .block_on(StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), options))
            .map_err(|error| cannot_start(format!("the stand-ins cannot start: {error}")))?;
        for api in started.apis() {
            tracing::info!("stand-in of {} at {}", api.name, api.base_url);
        }
        redirects = started.redirects();
        stand_ins = Some(started);
    }
    let missing = interpreter.missing_secrets();
    if !missing.is_empty() {
        let list: Vec<String> =
            missing.iter().map(|(name, variable)| format!("`{name}` (environment variable `{variable}`)")).collect();
        return Err(cannot_start(format!(
            "secrets are not set: {}; set them, or try the program against stand-ins with --mock",
            list.join(", ")
        )));
    }
    let apis = {
        let _entered = runtime.enter();
        interpreter.connect_with(&redirects).map_err(|error| cannot_start(error.to_string()))?
    };
    let path = store_path(file, args);
    let store = SqliteStore::open(&path).map_err(|error| cannot_start(error.to_string()))?;
    tracing::debug!("state store at {}", path.display());
    let host = Arc::new(Host {
        interpreter: Arc::new(interpreter),
        apis: Arc::new(apis),
        store: Arc::new(store),
        handle: runtime.handle().clone(),
    });
    Ok(Session { runtime, host, file: name, _stand_ins: stand_ins })
}

/// The flows `names` asks for (all of `default` when empty); an unknown name is an error.
fn select<'p>(
    flows: &'p [integ_compiler::ir::flow::Flow],
    names: &[String],
    default: impl Fn(&integ_compiler::ir::flow::Flow) -> bool,
) -> Result<Vec<&'p integ_compiler::ir::flow::Flow>, ExitCode> {
    if names.is_empty() {
        return Ok(flows.iter().filter(|flow| default(flow)).collect());
    }
    let mut selected = Vec::new();
    for name in names {
        match flows.iter().find(|flow| flow.name == *name) {
            Some(flow) if !selected.iter().any(|chosen: &&integ_compiler::ir::flow::Flow| chosen.name == flow.name) => {
                selected.push(flow)
            }
            Some(_) => {}
            None => {
                let hint = match suggest::best(name, flows.iter().map(|flow| flow.name.as_str())) {
                    Some(best) => format!("; did you mean `{best}`?"),
                    None => {
                        let names: Vec<String> = flows.iter().map(|flow| format!("`{}`", flow.name)).collect();
                        format!("; its flows are {}", names.join(", "))
                    }
                };
                return Err(cannot_start(format!("the program has no flow `{name}`{hint}")));
            }
        }
    }
    Ok(selected)
}

/// Stops the session's runs on SIGINT or SIGTERM: sets `stop` (read by the
/// runs between records) and `stopped` (awaited by schedules). Records in
/// flight get [`GRACE`] to finish; after that, or at a second signal, the
/// process exits at once (status 2) without another checkpoint, as in a
/// crash: the next run repeats them.
fn watch_signals(runtime: &tokio::runtime::Runtime, stop: Arc<AtomicBool>, stopped: tokio::sync::watch::Sender<bool>) {
    runtime.spawn(async move {
        wait_for_signal().await;
        tracing::warn!("stopping: finishing the records in flight, then saving state (again to quit at once)");
        stop.store(true, Ordering::SeqCst);
        stopped.send_replace(true);
        tokio::select! {
            _ = wait_for_signal() => {
                eprintln!("error: stopped without saving the records in flight; the next run repeats them");
            }
            _ = tokio::time::sleep(GRACE) => {
                eprintln!(
                    "error: the records in flight did not finish within {}s of the signal; abandoned (the next run repeats them)",
                    GRACE.as_secs()
                );
            }
        }
        std::process::exit(2);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn run(args: &RunArgs) -> ExitCode {
    let session = match open(&args.file, &args.store) {
        Ok(session) => session,
        Err(code) => return code,
    };
    let program = session.host.interpreter.program.clone();
    for flow in &args.reset_state {
        if !program.flows.iter().any(|known| known.name == *flow) {
            return cannot_start(format!("--reset-state: the program has no flow `{flow}`"));
        }
        if let Err(error) = session.host.store.reset_state(flow) {
            return cannot_start(error);
        }
        tracing::info!("{flow}: state and dedupe keys reset");
    }
    let names: Vec<String> = args.flows.iter().chain(&args.flow).cloned().collect();
    let payload = match &args.payload {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(error) => return cannot_start(format!("cannot read `{}`: {error}", path.display())),
        },
        None => None,
    };
    let progress = Progress::new(args.progress);
    if args.once {
        let selected = match select(&program.flows, &names, |flow| flow.trigger != FlowTrigger::Webhook) {
            Ok(selected) => selected,
            Err(code) => return code,
        };
        if selected.is_empty() {
            return cannot_start(format!("`{}` has no flow to run", session.file));
        }
        once(&session, &selected, payload, &progress)
    } else {
        if payload.is_some() {
            return cannot_start("--payload goes with --once");
        }
        let selected = match select(&program.flows, &names, |_| true) {
            Ok(selected) => selected,
            Err(code) => return code,
        };
        scheduled(&session, &selected, &progress, args.listen)
    }
}

/// `--once`: every selected flow runs now, concurrently; a summary at the end.
fn once(
    session: &Session,
    selected: &[&integ_compiler::ir::flow::Flow],
    payload: Option<Vec<u8>>,
    progress: &Progress,
) -> ExitCode {
    // Every flow's event first: nothing starts unless all can.
    let mut payloads = Vec::new();
    for flow in selected {
        payloads.push(match (&flow.payload, &payload) {
            (Some((name, ty)), Some(bytes)) => {
                let interpreter = &session.host.interpreter;
                match integ_runtime::decode::json(bytes, &interpreter.desc(ty), &interpreter.schema, name) {
                    Ok(value) => Some((value, bytes.clone())),
                    Err(error) => return cannot_start(format!("--payload of `{}`: {error}", flow.name)),
                }
            }
            (Some(_), None) => {
                return cannot_start(format!(
                    "`{}` is a webhook flow: give the event it runs on with --payload FILE",
                    flow.name
                ));
            }
            (None, _) => None,
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (stopped, _) = tokio::sync::watch::channel(false);
    watch_signals(&session.runtime, stop.clone(), stopped);
    let mut running = Vec::new();
    for (flow, decoded) in selected.iter().zip(payloads) {
        let live = Arc::new(Live::default());
        let tracker = progress.track(session.runtime.handle(), &flow.name, live.clone());
        let host = session.host.clone();
        let stop = stop.clone();
        let name = flow.name.clone();
        let handle = std::thread::Builder::new().name(format!("flow {name}")).spawn(move || {
            flow::run(&host, Request { flow: &name, trigger: Trigger::Manual, payload: decoded, live, stop: &stop })
        });
        match handle {
            Ok(handle) => running.push((flow.name.clone(), handle, tracker)),
            Err(error) => return cannot_start(format!("cannot start a thread: {error}")),
        }
    }
    // Each run's line ends when it does; the summary lists them in order.
    let mut results: Vec<Option<(String, Joined)>> = running.iter().map(|_| None).collect();
    let mut running: Vec<Option<(String, std::thread::JoinHandle<_>, progress::Tracker)>> =
        running.into_iter().map(Some).collect();
    while results.iter().any(Option::is_none) {
        for (index, slot) in running.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|(_, handle, _)| handle.is_finished())
                && let Some((name, handle, tracker)) = slot.take()
            {
                tracker.finish();
                results[index] = Some((name, handle.join()));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut reports = Vec::new();
    let mut failed_to_start = false;
    for (name, result) in results.into_iter().flatten() {
        match result {
            Ok(Ok(report)) => reports.push(report),
            Ok(Err(error)) => {
                eprintln!("error: {name}: {error}");
                failed_to_start = true;
            }
            Err(_) => {
                eprintln!("error: {name}: the run stopped unexpectedly");
                failed_to_start = true;
            }
        }
    }
    print_summary(&reports, &session.file);
    if failed_to_start || reports.iter().any(|report| report.outcome == RunOutcome::Failed) {
        ExitCode::from(2)
    } else if reports.iter().any(|report| report.outcome == RunOutcome::CompletedWithDeadLetters) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// What a run's thread gave back.
type Joined = std::thread::Result<Result<Report, flow::RunError>>;

/// The table printed after `--once`.
fn print_summary(reports: &[Report], file: &str) {
    if reports.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let width = reports.iter().map(|report| report.flow.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:<27}  {:>8}  {:>8}  {:>8}  {:>12}  {:>7}  {:>8}",
        "flow", "outcome", "read", "written", "skipped", "dead letters", "retries", "time"
    );
    for report in reports {
        let outcome =
            if report.interrupted { format!("{} (stopped)", report.outcome) } else { report.outcome.to_string() };
        let _ = writeln!(
            out,
            "{:<width$}  {:<27}  {:>8}  {:>8}  {:>8}  {:>12}  {:>7}  {:>8}",
            report.flow,
            outcome,
            progress::thousands(report.counters.read),
            progress::thousands(report.counters.written),
            progress::thousands(report.counters.skipped),
            progress::thousands(report.counters.dead_letters),
            progress::thousands(report.retries),
            progress::duration(report.duration),
        );
    }
    for report in reports {
        if let Some(error) = &report.error {
            let _ = writeln!(out, "\n{} failed: {error}", report.flow);
        }
    }
    let dead: u64 = reports.iter().map(|report| report.counters.dead_letters).sum();
    if dead > 0 {
        let _ = writeln!(
            out,
            "\n{dead} dead letter{}: `integ deadletters {file} list` shows them, `replay` retries them",
            if dead == 1 { "" } else { "s" }
        );
    }
}

/// Without `--once`: scheduled flows run on their schedules and webhook
/// flows are served on `listen`, until a signal.
fn scheduled(
    session: &Session,
    selected: &[&integ_compiler::ir::flow::Flow],
    progress: &Progress,
    listen: std::net::SocketAddr,
) -> ExitCode {
    let mut scheduled = Vec::new();
    let mut hooks = Vec::new();
    for flow in selected {
        match &flow.trigger {
            FlowTrigger::Every(_) | FlowTrigger::Cron(_) => scheduled.push(flow.name.clone()),
            FlowTrigger::Manual => {
                tracing::info!("{} is manual: `integ run {} {} --once` runs it", flow.name, session.file, flow.name)
            }
            FlowTrigger::Webhook => hooks.push(*flow),
        }
    }
    if scheduled.is_empty() && hooks.is_empty() {
        return cannot_start(format!(
            "nothing to schedule or serve in `{}`: no selected flow has an `every`, `cron` or `webhook` trigger (run manual flows with --once)",
            session.file
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (stopped, _) = tokio::sync::watch::channel(false);
    let mut loops = Vec::new();
    if !hooks.is_empty() {
        match serve_webhooks(session, &hooks, listen, stop.clone(), stopped.subscribe()) {
            Ok(tasks) => loops.extend(tasks),
            Err(code) => return code,
        }
    }
    for name in scheduled {
        let host = session.host.clone();
        let stop = stop.clone();
        let progress = progress.clone();
        loops.push(session.runtime.spawn(schedule(host, name, stop, stopped.subscribe(), progress)));
    }
    watch_signals(&session.runtime, stop, stopped);
    // The loops end once a signal stopped them and their runs finished (the
    // grace is enforced by `watch_signals`).
    session.runtime.block_on(async {
        for handle in loops {
            let _ = handle.await;
        }
    });
    tracing::info!("stopped; state saved");
    ExitCode::SUCCESS
}

/// Starts the webhook server on `listen` and one worker per webhook flow
/// (§ 12.3, § 16.1): events queued by an earlier process run first. The
/// server stops taking events at the first signal; each worker finishes
/// the event in progress.
fn serve_webhooks(
    session: &Session,
    hooks: &[&integ_compiler::ir::flow::Flow],
    listen: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, ExitCode> {
    use integ_compiler::interp::webhook;
    let host = session.host.clone();
    let routes = webhook::routes(&host.interpreter, hooks).map_err(cannot_start)?;
    let served: Vec<(String, String)> = routes.iter().map(|route| (route.path.clone(), route.flow.clone())).collect();
    let sink = Arc::new(webhook::sink(&host, hooks));
    let router = integ_runtime::webhook::router(routes, sink.clone(), integ_runtime::webhook::Options::default())
        .map_err(cannot_start)?;
    let listener = session.runtime.block_on(tokio::net::TcpListener::bind(listen)).map_err(|error| {
        cannot_start(format!(
            "cannot listen for webhooks on {listen}: {error} (choose another address with --listen ADDR)"
        ))
    })?;
    let address = listener.local_addr().unwrap_or(listen);
    match host.store.pending_event_counts() {
        Ok(counts) => {
            for (flow, count) in counts {
                if hooks.iter().any(|hook| hook.name == flow) {
                    tracing::info!(flow = %flow, "{flow}: {count} webhook event{} queued by an earlier run; running them first", if count == 1 { "" } else { "s" });
                } else {
                    tracing::warn!(flow = %flow, "{flow}: {count} queued webhook event{} wait for this flow to be served", if count == 1 { "" } else { "s" });
                }
            }
        }
        Err(error) => return Err(cannot_start(error)),
    }
    let mut tasks = Vec::new();
    for hook in hooks {
        let Some(wake) = sink.wake(&hook.name) else { continue };
        tasks.push(session.runtime.spawn(webhook::work(host.clone(), hook.name.clone(), wake, stop.clone())));
    }
    for (path, flow) in &served {
        tracing::info!(flow = %flow, "{flow}: POST http://{address}{path}");
    }
    tracing::info!("serving webhooks on http://{address}");
    let shutdown = async move {
        let _ = stopped.wait_for(|stopped| *stopped).await;
    };
    tasks.push(session.runtime.spawn(async move {
        if let Err(error) = integ_runtime::webhook::serve(listener, router, shutdown).await {
            tracing::error!("the webhook server stopped: {error}");
        }
    }));
    Ok(tasks)
}

/// One scheduled flow: waits for its next start, runs, repeats (§ 12.2).
async fn schedule(
    host: Arc<Host>,
    name: String,
    stop: Arc<AtomicBool>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    progress: Progress,
) {
    let Some(flow) = host.interpreter.program.flows.iter().find(|flow| flow.name == name).cloned() else { return };
    let trigger = match flow.trigger {
        FlowTrigger::Cron(_) => Trigger::Cron,
        _ => Trigger::Every,
    };
    let mut previous_start: Option<Timestamp> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let now = Timestamp::now();
        let last = match previous_start {
            Some(start) => Some(start),
            None => match host.store.last_start(&name) {
                Ok(last) => last,
                Err(error) => {
                    tracing::error!(flow = %name, "cannot read the schedule: {error}");
                    return;
                }
            },
        };
        let Some(mut due) = flow::next_start(&flow.trigger, last, now) else {
            tracing::error!(flow = %name, "{name}: its schedule `{}` has no next time", flow.trigger.describe());
            return;
        };
        // Runs that fell due while the previous one was going are skipped (§ 12.2).
        if let (Some(started), FlowTrigger::Cron(_)) = (previous_start, &flow.trigger)
            && flow::next_start(&flow.trigger, None, started).is_some_and(|missed| missed < now)
        {
            tracing::warn!(
                flow = %name,
                "{name}: the last run took longer than its schedule `{}` allows: the runs due meanwhile were skipped",
                flow.trigger.describe()
            );
        }
        if let (Some(started), FlowTrigger::Every(millis)) = (previous_start, &flow.trigger)
            && due <= now
        {
            let period = jiff::SignedDuration::from_millis(i64::try_from(*millis).unwrap_or(i64::MAX));
            let mut skipped = 0u64;
            due = started;
            while due <= now {
                match due.checked_add(period) {
                    Ok(next) => due = next,
                    Err(_) => break,
                }
                skipped += 1;
            }
            let skipped = skipped.saturating_sub(1);
            if skipped > 0 {
                tracing::warn!(
                    flow = %name,
                    "{name}: the last run took longer than {}: {skipped} scheduled run{} skipped",
                    flow.trigger.describe().trim_start_matches("every "),
                    if skipped == 1 { " was" } else { "s were" }
                );
            }
        }
        if due > now {
            let wait = Duration::from_millis(u64::try_from(due.duration_since(now).as_millis()).unwrap_or(0));
            tracing::info!(flow = %name, "{name}: next run at {due}");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                // Sees a stop sent before the wait began as well.
                _ = stopped.wait_for(|stopped| *stopped) => return,
            }
            if stop.load(Ordering::SeqCst) {
                return;
            }
        }
        let started = Timestamp::now();
        previous_start = Some(started);
        if let Err(error) = host.store.set_last_start(&name, started) {
            tracing::error!(flow = %name, "cannot record the start: {error}");
        }
        let live = Arc::new(Live::default());
        let tracker = progress.track(&host.handle, &name, live.clone());
        let run_host = host.clone();
        let run_stop = stop.clone();
        let flow_name = name.clone();
        let result = tokio::task::spawn_blocking(move || {
            flow::run(&run_host, Request { flow: &flow_name, trigger, payload: None, live, stop: &run_stop })
        })
        .await;
        tracker.finish();
        match result {
            Ok(Ok(_report)) => {}
            Ok(Err(error)) => tracing::error!(flow = %name, "{name}: {error}"),
            Err(error) => tracing::error!(flow = %name, "{name}: the run stopped unexpectedly: {error}"),
        }
    }
}

// ---------------------------------------------------------------------------
// integ deadletters

pub fn dead_letters(args: &DeadLettersArgs) -> ExitCode {
    match &args.action {
        DeadLettersAction::List { flow, json } => {
            let store = match open_store(&args.file, &args.store) {
                Ok(store) => store,
                Err(code) => return code,
            };
            list(&*store, flow.as_deref(), *json)
        }
        DeadLettersAction::Show { id, json } => {
            let store = match open_store(&args.file, &args.store) {
                Ok(store) => store,
                Err(code) => return code,
            };
            let id = match parse_id(id) {
                Ok(id) => id,
                Err(code) => return code,
            };
            match store.dead_letter(id) {
                Ok(Some(letter)) => {
                    show(&letter, *json);
                    ExitCode::SUCCESS
                }
                Ok(None) => cannot_start(format!("no dead letter {id}")),
                Err(error) => cannot_start(error),
            }
        }
        DeadLettersAction::Purge { ids, flow } => {
            let store = match open_store(&args.file, &args.store) {
                Ok(store) => store,
                Err(code) => return code,
            };
            purge(&*store, ids, flow.as_deref())
        }
        DeadLettersAction::Replay { ids, flow } => replay(args, ids, flow.as_deref()),
    }
}

/// The store alone (no program run): for list, show and purge.
fn open_store(file: &Path, args: &StoreArgs) -> Result<Box<dyn Store>, ExitCode> {
    let path = store_path(file, args);
    if !path.exists() {
        return Err(cannot_start(format!(
            "no state store at `{}`: nothing has run yet (or give --state PATH{})",
            path.display(),
            if args.mock { "" } else { ", or --mock for the store of mock runs" }
        )));
    }
    SqliteStore::open(&path).map(|store| Box::new(store) as Box<dyn Store>).map_err(cannot_start)
}

fn parse_id(text: &str) -> Result<DeadLetterId, ExitCode> {
    DeadLetterId::from_str(text.trim()).map_err(cannot_start)
}

fn list(store: &dyn Store, flow: Option<&str>, json: bool) -> ExitCode {
    let letters = match store.dead_letters(flow) {
        Ok(letters) => letters,
        Err(error) => return cannot_start(error),
    };
    let mut out = std::io::stdout().lock();
    if json {
        for letter in &letters {
            let object = serde_json::json!({
                "id": letter.id.to_string(),
                "flow": letter.flow,
                "run": letter.run.to_string(),
                "at": letter.at.to_string(),
                "unit": letter.unit.as_str(),
                "error": letter.failure.error,
                "api": letter.failure.api,
                "endpoint": letter.failure.endpoint,
                "status": letter.failure.status,
                "message": letter.failure.message,
                "attempts": letter.attempts,
                "replays": letter.replays.count,
            });
            let _ = writeln!(out, "{object}");
        }
        return ExitCode::SUCCESS;
    }
    if letters.is_empty() {
        let _ = writeln!(out, "no dead letters");
        return ExitCode::SUCCESS;
    }
    let _ = writeln!(out, "{:<26}  {:<20}  {:<20}  {:<6}  {:<14}  message", "id", "flow", "at", "unit", "error");
    for letter in &letters {
        let at = letter.at.strftime("%Y-%m-%d %H:%M:%S").to_string();
        let mut message: String = letter.failure.message.chars().take(100).collect();
        if letter.failure.message.chars().count() > 100 {
            message.push('…');
        }
        let _ = writeln!(
            out,
            "{:<26}  {:<20}  {:<20}  {:<6}  {:<14}  {message}",
            letter.id.to_string(),
            letter.flow,
            at,
            letter.unit.as_str(),
            letter.failure.error
        );
    }
    let _ = writeln!(out, "{} dead letter{}", letters.len(), if letters.len() == 1 { "" } else { "s" });
    ExitCode::SUCCESS
}

fn input_json(input: &UnitInput) -> serde_json::Value {
    match input {
        UnitInput::None => serde_json::Value::Null,
        UnitInput::Json(text) => serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.clone())),
        UnitInput::Event { headers, body } => serde_json::json!({
            "headers": headers.iter().map(|(name, value)| serde_json::json!([name, value])).collect::<Vec<_>>(),
            "body": String::from_utf8_lossy(body),
        }),
    }
}

fn show(letter: &DeadLetter, json: bool) {
    let record = &letter.record;
    let request = record.last_request.as_ref().map(|request| {
        serde_json::json!({
            "method": request.method,
            "url": request.url,
            "headers": request.headers.iter().map(|(name, value)| serde_json::json!([name, value])).collect::<Vec<_>>(),
            "body": request.body,
        })
    });
    let response = record.last_response.as_ref().map(|response| {
        serde_json::json!({
            "status": response.status,
            "headers": response.headers.iter().map(|(name, value)| serde_json::json!([name, value])).collect::<Vec<_>>(),
            "body": response.body,
        })
    });
    let state: serde_json::Value = serde_json::from_str(&record.state).unwrap_or(serde_json::Value::Null);
    let mut out = std::io::stdout().lock();
    if json {
        let object = serde_json::json!({
            "id": record.id.to_string(),
            "flow": letter.flow,
            "run": letter.run.to_string(),
            "at": record.at.to_string(),
            "unit": record.unit.as_str(),
            "loop": record.loop_id,
            "input": input_json(&record.input),
            "error": record.failure.error,
            "api": record.failure.api,
            "endpoint": record.failure.endpoint,
            "status": record.failure.status,
            "message": record.failure.message,
            "attempts": record.attempts,
            "request": request,
            "response": response,
            "state": state,
            "replays": letter.replays.count,
            "last_replay": letter.replays.last_at.map(|at| at.to_string()),
        });
        let _ = writeln!(out, "{object}");
        return;
    }
    let pretty = |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
    let _ = writeln!(out, "dead letter {}", record.id);
    let _ = writeln!(out, "flow:     {} (run {})", letter.flow, letter.run);
    let _ = writeln!(out, "at:       {}", record.at);
    let _ = writeln!(
        out,
        "unit:     {}{}",
        record.unit.as_str(),
        record.loop_id.as_ref().map(|id| format!(" of `for {id}`")).unwrap_or_default()
    );
    let where_ = match (&record.failure.api, &record.failure.endpoint) {
        (Some(api), Some(endpoint)) if !api.is_empty() => format!(" in {api}.{endpoint}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "error:    {}{where_}{}",
        record.failure.error,
        record.failure.status.map(|status| format!(", status {status}")).unwrap_or_default()
    );
    let _ = writeln!(out, "message:  {}", record.failure.message);
    let _ = writeln!(out, "attempts: {}", record.attempts);
    if letter.replays.count > 0 {
        let last = letter.replays.last_at.map(|at| format!(", last at {at}")).unwrap_or_default();
        let _ = writeln!(out, "replays:  {}{last}", letter.replays.count);
    }
    let _ = writeln!(out, "\ninput:\n{}", pretty(&input_json(&record.input)));
    if let Some(request) = &record.last_request {
        let _ = writeln!(out, "\nlast request:\n{} {}", request.method, request.url);
        for (name, value) in &request.headers {
            let _ = writeln!(out, "{name}: {value}");
        }
        if let Some(body) = &request.body {
            let _ = writeln!(out, "\n{body}");
        }
    }
    if let Some(response) = &record.last_response {
        let _ = writeln!(out, "\nlast response:\n{}", integ_runtime::http::errors::status_text(response.status));
        for (name, value) in &response.headers {
            let _ = writeln!(out, "{name}: {value}");
        }
        if !response.body.is_empty() {
            let _ = writeln!(out, "\n{}", response.body);
        }
    }
    let _ = writeln!(out, "\nstate:\n{}", pretty(&state));
}

fn purge(store: &dyn Store, ids: &[String], flow: Option<&str>) -> ExitCode {
    if ids.is_empty() {
        return match store.delete_dead_letters(flow) {
            Ok(count) => {
                println!("{count} dead letter{} deleted", if count == 1 { "" } else { "s" });
                ExitCode::SUCCESS
            }
            Err(error) => cannot_start(error),
        };
    }
    let mut missing = false;
    let mut deleted = 0;
    for text in ids {
        let id = match parse_id(text) {
            Ok(id) => id,
            Err(code) => return code,
        };
        match store.delete_dead_letter(id) {
            Ok(true) => deleted += 1,
            Ok(false) => {
                eprintln!("error: no dead letter {id}");
                missing = true;
            }
            Err(error) => return cannot_start(error),
        }
    }
    println!("{deleted} dead letter{} deleted", if deleted == 1 { "" } else { "s" });
    if missing { ExitCode::from(2) } else { ExitCode::SUCCESS }
}

fn replay(args: &DeadLettersArgs, ids: &[String], flow: Option<&str>) -> ExitCode {
    if !store_path(&args.file, &args.store).exists() {
        return match open_store(&args.file, &args.store) {
            Ok(_) => ExitCode::SUCCESS,
            Err(code) => code,
        };
    }
    let session = match open(&args.file, &args.store) {
        Ok(session) => session,
        Err(code) => return code,
    };
    let mut chosen = Vec::new();
    if ids.is_empty() {
        match session.host.store.dead_letters(flow) {
            Ok(letters) => chosen.extend(letters.into_iter().map(|letter| letter.id)),
            Err(error) => return cannot_start(error),
        }
    } else {
        for text in ids {
            match parse_id(text) {
                Ok(id) => chosen.push(id),
                Err(code) => return code,
            }
        }
    }
    if chosen.is_empty() {
        println!("no dead letters to replay");
        return ExitCode::SUCCESS;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (stopped, _) = tokio::sync::watch::channel(false);
    watch_signals(&session.runtime, stop.clone(), stopped);
    let mut delivered = 0;
    let mut failed = 0;
    let mut by_flow: HashMap<String, u64> = HashMap::new();
    for id in chosen {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let host = session.host.clone();
        let stop_flag = stop.clone();
        let result = std::thread::spawn(move || flow::replay(&host, id, Arc::new(Live::default()), &stop_flag)).join();
        match result {
            Ok(Ok(replayed)) if replayed.delivered => {
                delivered += 1;
                *by_flow.entry(replayed.report.flow.clone()).or_default() += 1;
                println!("{id}: delivered; dead letter deleted");
            }
            Ok(Ok(replayed)) => {
                failed += 1;
                let why = replayed.error.unwrap_or_else(|| replayed.report.outcome.to_string());
                println!("{id}: failed again, kept: {why}");
            }
            Ok(Err(error)) => {
                failed += 1;
                println!("{id}: not replayed: {error}");
            }
            Err(_) => {
                failed += 1;
                println!("{id}: the replay stopped unexpectedly");
            }
        }
    }
    println!(
        "{delivered} delivered, {failed} still failing{}",
        if stop.load(Ordering::SeqCst) { " (stopped by a signal)" } else { "" }
    );
    if failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
