//! Running tests (§ 13 of spec.md): stand-ins, runs and expectations.
//!
//! In: a program lowered with its tests ([`crate::ir::lower::lower_with_tests`])
//! and a [`TestConfig`] (where fixtures are read). Out: one [`TestResult`]
//! per test, with every failure located in the source and, for a failed
//! expectation, the values it compared.
//!
//! Each test ([`run_test`]) is isolated (§ 13.6): a fresh interpreter, an
//! empty in-memory store, its own stand-ins and recorded calls, on a
//! current-thread tokio runtime whose clock is paused. The stand-ins serve
//! on loopback from that runtime, and the flow runs of the test drive it
//! themselves ([`super::drive_calls_with`]), so requests go through the whole
//! client (auth, policy, pagination, decoding) while every wait — a backoff,
//! a `Retry-After`, a timeout, a rate limit — passes in no real time. The
//! clock functions read a virtual clock that starts at
//! `2024-01-01T00:00:00Z` and moves with the runtime's; randomness (jitter,
//! UUIDs) is seeded from the test's description; `env("VAR", "default")` is
//! the default and `env("VAR")` is `test-VAR`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use integ_runtime::natives::Clock;
use integ_runtime::store::{Checkpoint, Counters, MemoryStore, RunEnd, RunOutcome, Trigger};
use integ_runtime::value::{DateTime, Record};
use integ_runtime::{EvalError, Value, decode, encode};

use super::flow::{Host, Live, Request};
use super::standin::{Script, Scripted, Scripts, StandInOptions, StandIns};
use super::{Frame, Interpreter, Options};
use crate::check::types::Ty;
use crate::ir::flow::Location;
use crate::ir::test::{Expectation, FailBody, Response, Test, TestItemKind};
use crate::ir::{self, Expr};
use crate::source::Span;
use crate::syntax::ast::BinaryOp;

/// Where the virtual clock of a test starts: 2024-01-01T00:00:00Z.
pub const EPOCH_SECONDS: i64 = 1_704_067_200;

/// How tests are run.
#[derive(Clone)]
pub struct TestConfig {
    /// Reads the file of `fixture("path")`, relative to the test file's directory.
    pub fixtures: super::FixtureReader,
}

/// What one test did.
#[derive(Clone, Debug)]
pub struct TestResult {
    pub name: String,
    pub location: Location,
    pub span: Span,
    pub failures: Vec<Failure>,
    /// Real time taken.
    pub duration: Duration,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Why a test failed, at one of its items.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub location: Location,
    pub span: Span,
    pub message: String,
    pub detail: Detail,
}

/// The values a failed expectation shows (§ 13.3).
#[derive(Clone, Debug, PartialEq)]
pub enum Detail {
    None,
    /// `expect a == b`: both sides as pretty-printed JSON, for a line diff.
    Diff {
        left_text: String,
        left: String,
        right_text: String,
        right: String,
    },
    /// `expect a < b` and the other comparisons: both operands.
    Operands {
        op: &'static str,
        left_text: String,
        left: String,
        right_text: String,
        right: String,
    },
    /// Any other condition: the values of the names it uses.
    Values(Vec<(String, String)>),
}

/// Runs test number `index` of `program` (see the module documentation).
pub fn run_test(program: &Arc<ir::Program>, index: usize, config: &TestConfig) -> TestResult {
    let started = Instant::now();
    let Some(test) = program.tests.get(index) else {
        return TestResult {
            name: format!("test {index}"),
            location: Location::default(),
            span: Span::default(),
            failures: Vec::new(),
            duration: started.elapsed(),
        };
    };
    let failures = match Session::start(program, test, config) {
        Ok(session) => session.run(test),
        Err(message) => {
            vec![Failure { location: test.location.clone(), span: test.span, message, detail: Detail::None }]
        }
    };
    TestResult {
        name: test.name.clone(),
        location: test.location.clone(),
        span: test.span,
        failures,
        duration: started.elapsed(),
    }
}

impl Interpreter {
    /// `fixture("path")`: the file, decoded by the type the test expects.
    pub(super) fn fixture(&self, path: &str, ty: &Ty) -> Result<Value, EvalError> {
        let Some(reader) = &self.fixtures else {
            return Err(EvalError::Other(format!("fixture(\"{path}\") is read by `integ test` only")));
        };
        let bytes = reader(path).map_err(|message| EvalError::Other(format!("fixture(\"{path}\"): {message}")))?;
        decode::json(&bytes, &self.desc(ty), &self.schema, &format!("fixture(\"{path}\")"))
            .map_err(|error| EvalError::Other(error.to_string()))
    }
}

// ====================================================================== the virtual clock

/// The clock of a test: its start plus the time the paused runtime has advanced.
struct TestClock {
    handle: tokio::runtime::Handle,
    start: tokio::time::Instant,
    random: Mutex<u64>,
}

impl TestClock {
    fn elapsed(&self) -> Duration {
        let _entered = self.handle.enter();
        tokio::time::Instant::now().saturating_duration_since(self.start)
    }

    fn system_time(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_SECONDS.unsigned_abs()) + self.elapsed()
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime {
        let elapsed = self.elapsed();
        DateTime {
            seconds: EPOCH_SECONDS.saturating_add(i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)),
            nanos: elapsed.subsec_nanos(),
            offset_seconds: 0,
        }
    }

    fn fill_random(&self, bytes: &mut [u8]) {
        let mut state = lock(&self.random);
        for chunk in bytes.chunks_mut(8) {
            let word = splitmix(&mut state).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut mixed = *state;
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    mixed ^ (mixed >> 31)
}

/// FNV-1a: the seed of a test's randomness, from its description.
fn seed_of(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ====================================================================== stand-ins and calls

/// A `given` in force: the endpoint, the arguments it matches, its script.
struct Given {
    api: u32,
    endpoint: u32,
    args: Vec<(u32, Value)>,
    script: Arc<Script>,
}

/// The arguments of one call, in parameter order.
type Arguments = Vec<Value>;

/// What the call observer shares with the test: the givens and the calls made.
struct Recorder {
    program: Arc<ir::Program>,
    scripts: Arc<Scripts>,
    givens: Mutex<Vec<Given>>,
    /// Arguments of every call, by (api, endpoint).
    calls: Mutex<HashMap<(u32, u32), Vec<Arguments>>>,
    /// Compares argument values (set once the interpreter exists).
    matcher: Mutex<Option<Arc<Interpreter>>>,
}

impl Recorder {
    fn endpoint_name(&self, api: u32, endpoint: u32) -> String {
        let api = self.program.apis.get(api as usize);
        let endpoint_name = api.and_then(|api| api.endpoints.get(endpoint as usize)).map(|e| e.name.as_str());
        format!("{}.{}", api.map(|api| api.name.as_str()).unwrap_or("?"), endpoint_name.unwrap_or("?"))
    }

    /// Records a call and activates the latest `given` whose arguments match it.
    fn observe(&self, api: u32, endpoint: u32, args: &[Value]) {
        lock(&self.calls).entry((api, endpoint)).or_default().push(args.to_vec());
        let matcher = lock(&self.matcher).clone();
        let givens = lock(&self.givens);
        let found = givens.iter().rev().find(|given| {
            given.api == api
                && given.endpoint == endpoint
                && given.args.iter().all(|(index, expected)| {
                    args.get(*index as usize).is_some_and(|actual| match &matcher {
                        Some(interpreter) => values_equal(interpreter, actual, expected),
                        None => false,
                    })
                })
        });
        self.scripts.activate(&self.endpoint_name(api, endpoint), found.map(|given| given.script.clone()));
    }
}

fn values_equal(interpreter: &Interpreter, left: &Value, right: &Value) -> bool {
    let mut frame = Frame::new(2);
    frame.set(0, left.clone());
    frame.set(1, right.clone());
    let equal = Expr::Binary { op: BinaryOp::Eq, lhs: Box::new(Expr::Local(0)), rhs: Box::new(Expr::Local(1)) };
    matches!(interpreter.eval(&mut frame, &equal), Ok(Value::Bool(true)))
}

// ====================================================================== a test session

/// Everything one test runs with.
struct Session {
    runtime: Arc<tokio::runtime::Runtime>,
    host: Host,
    recorder: Arc<Recorder>,
    _stand_ins: StandIns,
    /// Flows run so far, with their results.
    results: HashMap<String, Value>,
    /// Accepted webhook keys, by flow.
    accepted: HashMap<String, HashSet<String>>,
}

impl Session {
    fn start(program: &Arc<ir::Program>, test: &Test, config: &TestConfig) -> Result<Session, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .map_err(|error| format!("cannot start the test's runtime: {error}"))?;
        let runtime = Arc::new(runtime);
        let start = {
            let _entered = runtime.enter();
            tokio::time::Instant::now()
        };
        let seed = seed_of(&test.name);
        let clock = Arc::new(TestClock { handle: runtime.handle().clone(), start, random: Mutex::new(seed) });
        let scripts = Arc::new(Scripts::new());
        let recorder = Arc::new(Recorder {
            program: program.clone(),
            scripts: scripts.clone(),
            givens: Mutex::new(Vec::new()),
            calls: Mutex::new(HashMap::new()),
            matcher: Mutex::new(None),
        });
        let observer_recorder = recorder.clone();
        let wall_clock = clock.clone();
        let options = Options {
            environment: test_environment(program),
            clock: clock.clone(),
            read_everything: false,
            observer: Some(Arc::new(move |api, endpoint, args: &[Value]| {
                observer_recorder.observe(api, endpoint, args)
            })),
            http_seed: Some(seed),
            wall_clock: Some(Arc::new(move || wall_clock.system_time())),
            fixtures: Some(config.fixtures.clone()),
        };
        let interpreter =
            Arc::new(Interpreter::new(ir::Program::clone(program), options).map_err(|error| error.to_string())?);
        *lock(&recorder.matcher) = Some(interpreter.clone());
        let stand_in_options = StandInOptions { records: 0, scripts: Some(scripts), ..StandInOptions::default() };
        let stand_ins = runtime
            .block_on(StandIns::start(interpreter.program.clone(), interpreter.schema.clone(), stand_in_options))
            .map_err(|error| format!("the stand-ins cannot start: {error}"))?;
        let apis = {
            let _entered = runtime.enter();
            interpreter.connect_with(&stand_ins.redirects()).map_err(|error| error.to_string())?
        };
        let host = Host {
            interpreter,
            apis: Arc::new(apis),
            store: Arc::new(MemoryStore::new()),
            handle: runtime.handle().clone(),
        };
        Ok(Session {
            runtime,
            host,
            recorder,
            _stand_ins: stand_ins,
            results: HashMap::new(),
            accepted: HashMap::new(),
        })
    }

    fn interpreter(&self) -> &Interpreter {
        &self.host.interpreter
    }

    /// Runs the items in order; a failed expectation does not stop the test,
    /// a failed `let`, `given` or `run` does.
    fn run(mut self, test: &Test) -> Vec<Failure> {
        let _driver = super::drive_calls_with(self.runtime.clone());
        let mut frame = Frame::new(test.frame_size);
        let mut failures = Vec::new();
        for item in &test.items {
            let fail = |message: String, detail: Detail| Failure {
                location: item.location.clone(),
                span: item.span,
                message,
                detail,
            };
            if let Some(flow) = item.reads.iter().find(|flow| !self.results.contains_key(*flow)) {
                failures.push(fail(
                    format!("`{flow}` has not run yet in this test: its results are read after `run {flow}`"),
                    Detail::None,
                ));
                if matches!(item.kind, TestItemKind::Expect(_)) {
                    continue;
                }
                break;
            }
            self.fill_frame(test, &mut frame);
            let outcome = match &item.kind {
                TestItemKind::Let { slot, value } => match self.interpreter().eval(&mut frame, value) {
                    Ok(value) => {
                        frame.set(*slot, value);
                        Ok(())
                    }
                    Err(error) => Err(fail(error.to_string(), Detail::None)),
                },
                TestItemKind::Given { api, endpoint, args, responses } => self
                    .given(&mut frame, *api, *endpoint, args, responses)
                    .map_err(|message| fail(message, Detail::None)),
                TestItemKind::Run { flow, payload, states } => {
                    let reads_failed = test_reads_failed(test, flow);
                    self.run_flow(&mut frame, flow, payload.as_ref(), states, reads_failed)
                        .map_err(|message| fail(message, Detail::None))
                }
                TestItemKind::Expect(expectation) => {
                    if let Some((message, detail)) = self.expect(&mut frame, expectation) {
                        failures.push(fail(message, detail));
                    }
                    Ok(())
                }
            };
            if let Err(failure) = outcome {
                failures.push(failure);
                break;
            }
        }
        // Calls without a stand-in made outside a `run` (the run reports its own).
        for endpoint in dedup(self.recorder.scripts.take_unscripted()) {
            failures.push(Failure {
                location: test.location.clone(),
                span: test.span,
                message: unscripted_message(&endpoint),
                detail: Detail::None,
            });
        }
        drop(self.host);
        drop(self._stand_ins);
        failures
    }

    /// Puts the latest results of each flow and the calls of each endpoint in their slots.
    fn fill_frame(&self, test: &Test, frame: &mut Frame) {
        for flow in &test.flows {
            frame.set(flow.slot, self.results.get(&flow.flow).cloned().unwrap_or(Value::None));
        }
        let calls = lock(&self.recorder.calls);
        for slot in &test.calls {
            let records: Vec<Value> = calls
                .get(&(slot.api, slot.endpoint))
                .map(|calls| {
                    calls
                        .iter()
                        .map(|args| {
                            Value::Record(Arc::new(Record { ty: slot.record, fields: args.clone().into_boxed_slice() }))
                        })
                        .collect()
                })
                .unwrap_or_default();
            frame.set(slot.slot, Value::list(records));
        }
    }

    fn given(
        &mut self,
        frame: &mut Frame,
        api: u32,
        endpoint: u32,
        args: &[(u32, Expr, Ty)],
        responses: &[Response],
    ) -> Result<(), String> {
        let interpreter = self.host.interpreter.clone();
        let mut values = Vec::new();
        for (index, expr, _) in args {
            values.push((*index, interpreter.eval(frame, expr).map_err(|error| error.to_string())?));
        }
        let mut scripted = Vec::new();
        for response in responses {
            scripted.push(match response {
                Response::Returns { value, ty, per_page } => {
                    let value = interpreter.eval(frame, value).map_err(|error| error.to_string())?;
                    let json = encode::to_json_value(&value, &interpreter.desc(ty), &interpreter.schema)
                        .map_err(|error| error.to_string())?;
                    let per_page = per_page.map(|records| usize::try_from(records).unwrap_or(usize::MAX));
                    Scripted::Returns { value: json, per_page }
                }
                Response::ReturnsFixture { path } => Scripted::Body(self.read_fixture(path)?),
                Response::Succeeds => Scripted::Succeeds,
                Response::Fails { status, retry_after_ms, body } => Scripted::Fails {
                    status: *status,
                    retry_after_seconds: retry_after_ms.map(|millis| millis.div_ceil(1000)),
                    body: match body {
                        None => None,
                        Some(FailBody::Fixture(path)) => Some(self.read_fixture(path)?),
                        Some(FailBody::Value(expr, ty)) => {
                            let value = interpreter.eval(frame, expr).map_err(|error| error.to_string())?;
                            let mut out = Vec::new();
                            encode::json(&value, &interpreter.desc(ty), &interpreter.schema, &mut out)
                                .map_err(|error| error.to_string())?;
                            Some(out)
                        }
                    },
                },
                Response::TimesOut => Scripted::TimesOut,
                Response::Resets => Scripted::Resets,
            });
        }
        let mut givens = lock(&self.recorder.givens);
        // A later `given` for the same target replaces the earlier one.
        givens.retain(|given| {
            !(given.api == api
                && given.endpoint == endpoint
                && given.args.len() == values.len()
                && given
                    .args
                    .iter()
                    .zip(&values)
                    .all(|((index, left), (other, right))| index == other && values_equal(&interpreter, left, right)))
        });
        givens.push(Given { api, endpoint, args: values, script: Arc::new(Script::new(scripted)) });
        Ok(())
    }

    fn read_fixture(&self, path: &str) -> Result<Vec<u8>, String> {
        let Some(reader) = &self.interpreter().fixtures else {
            return Err(format!("fixture(\"{path}\") cannot be read here"));
        };
        reader(path).map_err(|message| format!("fixture(\"{path}\"): {message}"))
    }

    fn run_flow(
        &mut self,
        frame: &mut Frame,
        name: &str,
        payload: Option<&Expr>,
        states: &[(u32, Expr)],
        reads_failed: bool,
    ) -> Result<(), String> {
        let interpreter = self.host.interpreter.clone();
        let Some(flow) = interpreter.program.flows.iter().find(|flow| flow.name == name) else {
            return Err(format!("the program has no flow `{name}`"));
        };
        let payload = match (payload, &flow.payload) {
            (Some(expr), Some((_, ty))) => {
                let value = interpreter.eval(frame, expr).map_err(|error| error.to_string())?;
                let mut body = Vec::new();
                encode::json(&value, &interpreter.desc(ty), &interpreter.schema, &mut body)
                    .map_err(|error| format!("the payload: {error}"))?;
                Some((value, body))
            }
            _ => None,
        };
        // `dedupe:` of a webhook flow: a payload whose key was accepted does nothing.
        if let (Some((value, _)), Some(key)) =
            (&payload, flow.webhook.as_ref().and_then(|webhook| webhook.dedupe.as_ref()))
        {
            let mut key_frame = Frame::new(flow.frame_size);
            key_frame.set(flow.states.len() as u32, value.clone());
            let key = interpreter
                .eval(&mut key_frame, key)
                .map(|key| encode::text(&key, &interpreter.schema))
                .map_err(|error| format!("the `dedupe:` key of `{name}`: {error}"))?;
            if !self.accepted.entry(name.to_owned()).or_default().insert(key) {
                let states = self.load_states(flow)?;
                self.results.insert(name.to_owned(), self.result(flow, states, Counters::default(), false));
                return Ok(());
            }
        }
        if !states.is_empty() {
            let mut overrides = BTreeMap::new();
            for (index, expr) in states {
                let Some(state) = flow.states.get(*index as usize) else { continue };
                let value = interpreter.eval(frame, expr).map_err(|error| error.to_string())?;
                let mut text = Vec::new();
                encode::json(&value, &interpreter.desc(&state.ty), &interpreter.schema, &mut text)
                    .map_err(|error| format!("state `{}`: {error}", state.name))?;
                overrides.insert(state.name.clone(), String::from_utf8_lossy(&text).into_owned());
            }
            self.save_states(name, overrides).map_err(|error| format!("cannot set the states of `{name}`: {error}"))?;
        }
        let trigger = if flow.payload.is_some() { Trigger::Webhook } else { Trigger::Manual };
        let stop = AtomicBool::new(false);
        let request = Request { flow: name, trigger, payload, live: Arc::new(Live::default()), stop: &stop };
        let report = super::flow::run(&self.host, request).map_err(|error| error.to_string())?;
        let unscripted = dedup(self.recorder.scripts.take_unscripted());
        let states = self.load_states(flow)?;
        let failed = report.error.is_some();
        self.results.insert(name.to_owned(), self.result(flow, states, report.counters, failed));
        if let Some(endpoint) = unscripted.first() {
            return Err(unscripted_message(endpoint));
        }
        match report.error {
            Some(error) if !reads_failed => Err(format!("run of `{name}` failed: {error}")),
            _ => Ok(()),
        }
    }

    /// Writes starting values of states, as a run that only checkpoints.
    fn save_states(&self, flow: &str, state: BTreeMap<String, String>) -> Result<(), String> {
        let store = &self.host.store;
        let now = jiff::Timestamp::UNIX_EPOCH;
        let run = store.start_run(flow, Trigger::Manual, now).map_err(|error| error.to_string())?;
        let mut checkpoint = Checkpoint::new(run, now);
        checkpoint.state = state;
        store.checkpoint(flow, &checkpoint).map_err(|error| error.to_string())?;
        let end = RunEnd { at: now, outcome: RunOutcome::Completed, counters: Counters::default(), error: None };
        store.finish_run(run, &end).map_err(|error| error.to_string())
    }

    /// The committed states of `flow`, as the store holds them.
    fn load_states(&self, flow: &ir::flow::Flow) -> Result<Vec<Value>, String> {
        let interpreter = self.interpreter();
        let stored = self.host.store.load_state(&flow.name).map_err(|error| error.to_string())?;
        let mut values = Vec::new();
        for state in &flow.states {
            let value = match stored.get(&state.name) {
                Some(text) => {
                    decode::json(text.as_bytes(), &interpreter.desc(&state.ty), &interpreter.schema, &state.name)
                        .map_err(|error| error.to_string())?
                }
                None => interpreter
                    .eval(&mut Frame::new(state.init_frame_size), &state.init)
                    .map_err(|error| format!("the initial value of `{}`: {error}", state.name))?,
            };
            values.push(value);
        }
        Ok(values)
    }

    /// A flow's results record: its states, then the counters and `failed`.
    fn result(&self, flow: &ir::flow::Flow, states: Vec<Value>, counters: Counters, failed: bool) -> Value {
        let record = self
            .interpreter()
            .program
            .tests
            .iter()
            .flat_map(|test| test.flows.iter())
            .find(|slot| slot.flow == flow.name)
            .map(|slot| slot.record)
            .unwrap_or(u32::MAX);
        let count = |value: u64| Value::Int(i64::try_from(value).unwrap_or(i64::MAX));
        let mut fields = states;
        fields.extend([
            count(counters.read),
            count(counters.written),
            count(counters.skipped),
            count(counters.dead_letters),
            Value::Bool(failed),
        ]);
        Value::Record(Arc::new(Record { ty: record, fields: fields.into_boxed_slice() }))
    }

    /// `None` when the expectation holds; else the message and what to show.
    fn expect(&self, frame: &mut Frame, expectation: &Expectation) -> Option<(String, Detail)> {
        let interpreter = self.interpreter();
        match expectation {
            Expectation::Compare { op, lhs, lhs_ty, rhs, rhs_ty, slots, lhs_text, rhs_text } => {
                let left = match interpreter.eval(frame, lhs) {
                    Ok(value) => value,
                    Err(error) => return Some((format!("`{lhs_text}`: {error}"), Detail::None)),
                };
                let right = match interpreter.eval(frame, rhs) {
                    Ok(value) => value,
                    Err(error) => return Some((format!("`{rhs_text}`: {error}"), Detail::None)),
                };
                frame.set(slots.0, left.clone());
                frame.set(slots.1, right.clone());
                let comparison =
                    Expr::Binary { op: *op, lhs: Box::new(Expr::Local(slots.0)), rhs: Box::new(Expr::Local(slots.1)) };
                match interpreter.eval(frame, &comparison) {
                    Ok(Value::Bool(true)) => None,
                    Ok(_) => {
                        let left_json = self.show(&left, lhs_ty);
                        let right_json = self.show(&right, rhs_ty);
                        let message = format!("expectation failed: `{lhs_text} {} {rhs_text}`", op.as_str());
                        let detail = if *op == BinaryOp::Eq {
                            Detail::Diff {
                                left_text: lhs_text.clone(),
                                left: left_json,
                                right_text: rhs_text.clone(),
                                right: right_json,
                            }
                        } else {
                            Detail::Operands {
                                op: op.as_str(),
                                left_text: lhs_text.clone(),
                                left: left_json,
                                right_text: rhs_text.clone(),
                                right: right_json,
                            }
                        };
                        Some((message, detail))
                    }
                    Err(error) => Some((format!("`{lhs_text} {} {rhs_text}`: {error}", op.as_str()), Detail::None)),
                }
            }
            Expectation::Condition { condition, names } => match interpreter.eval(frame, condition) {
                Ok(Value::Bool(true)) => None,
                Ok(_) => {
                    let values = names
                        .iter()
                        .map(|(name, expr, ty)| {
                            let shown = match interpreter.eval(frame, expr) {
                                Ok(value) => self.show(&value, ty),
                                Err(error) => format!("<{error}>"),
                            };
                            (name.clone(), shown)
                        })
                        .collect();
                    Some(("expectation failed".to_owned(), Detail::Values(values)))
                }
                Err(error) => Some((error.to_string(), Detail::None)),
            },
        }
    }

    /// A value as pretty-printed JSON (its wire form).
    fn show(&self, value: &Value, ty: &Ty) -> String {
        let interpreter = self.interpreter();
        if matches!(value, Value::None) {
            return "none".to_owned();
        }
        match encode::to_json_value(value, &interpreter.desc(ty), &interpreter.schema) {
            Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_else(|_| json.to_string()),
            Err(_) => format!("{value:?}"),
        }
    }
}

/// Whether `test` reads `flow.failed` (a failed run is then expected, not a failure).
fn test_reads_failed(test: &Test, flow: &str) -> bool {
    test.reads_failed.iter().any(|name| name == flow)
}

fn unscripted_message(endpoint: &str) -> String {
    format!("`{endpoint}` was called without a stand-in: add `given {endpoint} returns ...`")
}

fn dedup(mut names: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    names
}

/// Under `integ test`, `env` reads no environment variable (§ 7.2): a
/// variable with a default everywhere it is read takes it; any other is `test-VAR`.
fn test_environment(program: &ir::Program) -> super::Environment {
    let mut without_default: HashSet<String> = HashSet::new();
    for secret in &program.secrets {
        if secret.default.is_none() {
            without_default.insert(secret.variable.clone());
        }
    }
    let mut visit = |expr: &Expr| {
        if let Expr::Env { variable, default: None } = expr {
            without_default.insert(variable.clone());
        }
    };
    for api in &program.apis {
        visit(&api.base_url);
        for (_, expr) in api.headers.iter().chain(api.auth.args.iter()) {
            visit(expr);
        }
        for endpoint in &api.endpoints {
            for (_, expr) in &endpoint.headers {
                visit(expr);
            }
        }
    }
    Box::new(move |variable| without_default.contains(variable).then(|| format!("test-{variable}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_depends_on_the_description() {
        assert_ne!(seed_of("a"), seed_of("b"));
        assert_eq!(seed_of("a"), seed_of("a"));
    }

    #[test]
    fn random_bytes_are_reproducible() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        let start = {
            let _entered = runtime.enter();
            tokio::time::Instant::now()
        };
        let clock = |seed| TestClock { handle: runtime.handle().clone(), start, random: Mutex::new(seed) };
        let (mut first, mut second, mut other) = ([0u8; 13], [0u8; 13], [0u8; 13]);
        clock(7).fill_random(&mut first);
        clock(7).fill_random(&mut second);
        clock(8).fill_random(&mut other);
        assert_eq!(first, second);
        assert_ne!(first, other);
    }

    #[test]
    fn the_clock_starts_in_2024_and_moves_with_the_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        let start = {
            let _entered = runtime.enter();
            tokio::time::Instant::now()
        };
        let clock = TestClock { handle: runtime.handle().clone(), start, random: Mutex::new(0) };
        assert_eq!(clock.now().seconds, EPOCH_SECONDS);
        runtime.block_on(async { tokio::time::sleep(Duration::from_secs(3600)).await });
        assert_eq!(clock.now().seconds, EPOCH_SECONDS + 3600);
    }
}
