//! Policies: timeouts, retries, backoff, circuit breakers, rate limits.
//!
//! In: `policy` declarations (and the `rate_limit`/`concurrency` clauses of
//! apis, which share the parsers here). Out: [`PolicyInfo`] with every value
//! resolved to numbers, and diagnostics for settings that are unknown,
//! malformed or nonsensical (0 attempts, a backoff max below its base).

use std::collections::HashMap;

use super::literals::{self, StatusPattern};
use super::{Checker, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{self, Clause, ClauseValue, Expr, ExprKind, Phrase};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    Full,
    Equal,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    Exponential { base_ms: u64, max_ms: u64, factor: u32 },
    Constant { delay_ms: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnExhausted {
    DeadLetter,
    Skip,
    Fail,
}

/// `N per second` as requests per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u64,
    pub per_ms: u64,
    /// Requests that may go back to back after a quiet period.
    pub burst: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryOn {
    Status(StatusPattern),
    Timeout,
    Connection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Breaker {
    pub failures: u64,
    pub probe_after_ms: u64,
    pub successes: u64,
}

/// A policy with every setting resolved (defaults filled in).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyInfo {
    pub name: String,
    pub span: Span,
    pub timeout_ms: u64,
    pub deadline_ms: Option<u64>,
    pub attempts: u64,
    pub retry_span: Option<Span>,
    pub backoff: Backoff,
    pub jitter: Jitter,
    pub retry_on: Vec<RetryOn>,
    pub honor_retry_after: bool,
    pub circuit_breaker: Option<Breaker>,
    pub rate_limit: Option<Rate>,
    pub concurrency: Option<u64>,
    pub on_exhausted: OnExhausted,
}

impl PolicyInfo {
    /// The built-in default, used by apis that name no policy.
    pub fn builtin_default() -> PolicyInfo {
        PolicyInfo {
            name: "default".to_owned(),
            span: Span::default(),
            timeout_ms: 30_000,
            deadline_ms: None,
            attempts: 3,
            retry_span: None,
            backoff: Backoff::Exponential { base_ms: 500, max_ms: 30_000, factor: 2 },
            jitter: Jitter::Full,
            retry_on: vec![
                RetryOn::Status(StatusPattern::Code(429)),
                RetryOn::Status(StatusPattern::Class(5)),
                RetryOn::Timeout,
                RetryOn::Connection,
            ],
            honor_retry_after: true,
            circuit_breaker: None,
            rate_limit: None,
            concurrency: None,
            on_exhausted: OnExhausted::DeadLetter,
        }
    }

    /// Whether a failed request may be sent again.
    pub fn retries(&self) -> bool {
        self.attempts > 1 && !self.retry_on.is_empty()
    }
}

pub const POLICY_SETTINGS: &[&str] = &[
    "timeout",
    "deadline",
    "retry",
    "retry_on",
    "retry_after",
    "circuit_breaker",
    "rate_limit",
    "concurrency",
    "on_exhausted",
];

impl Checker<'_> {
    pub(crate) fn check_policy(&mut self, decl: &ast::PolicyDecl) {
        if self.symbol_kind_here(&decl.name) != Some(super::SymbolKind::Policy) {
            return;
        }
        let mut info = PolicyInfo::builtin_default();
        info.name = decl.name.name.clone();
        info.span = decl.name.span;
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut timeout_span = None;
        let mut deadline_span = None;
        for clause in &decl.clauses {
            if self.duplicate_clause(&mut seen, clause) {
                continue;
            }
            let Some(value) = self.setting_of(clause) else {
                continue;
            };
            match clause.key.name.as_str() {
                "timeout" => {
                    if let Some(ms) = self.positive_duration(value, "timeout") {
                        info.timeout_ms = ms;
                        timeout_span = Some(clause.span);
                    }
                }
                "deadline" => {
                    if let Some(ms) = self.positive_duration(value, "deadline") {
                        info.deadline_ms = Some(ms);
                        deadline_span = Some(clause.span);
                    }
                }
                "retry" => {
                    info.retry_span = Some(clause.span);
                    self.retry(value, &mut info);
                }
                "retry_on" => {
                    if let Some(list) = self.retry_on(value) {
                        info.retry_on = list;
                    }
                }
                "retry_after" => {
                    if let Some(word) = self.word(value, &["honor", "ignore"], "retry_after") {
                        info.honor_retry_after = word == "honor";
                    }
                }
                "circuit_breaker" => info.circuit_breaker = self.circuit_breaker(value),
                "rate_limit" => info.rate_limit = self.rate(value),
                "concurrency" => info.concurrency = self.positive_int(value, "concurrency"),
                "on_exhausted" => {
                    if let Some(word) = self.word(value, &["dead_letter", "skip", "fail"], "on_exhausted") {
                        info.on_exhausted = match word.as_str() {
                            "skip" => OnExhausted::Skip,
                            "fail" => OnExhausted::Fail,
                            _ => OnExhausted::DeadLetter,
                        };
                    }
                }
                other => self.unknown_clause(&clause.key, other, POLICY_SETTINGS, "policy setting", None),
            }
        }
        if let (Some(deadline), Some(span)) = (info.deadline_ms, timeout_span)
            && info.timeout_ms > deadline
        {
            let mut diagnostic = Diagnostic::new(
                Code::TimeoutExceedsDeadline,
                span,
                format!("timeout {} is longer than the deadline {}", show_ms(info.timeout_ms), show_ms(deadline)),
            )
            .label("an attempt can never use all of this");
            if let Some(deadline_span) = deadline_span {
                diagnostic = diagnostic.secondary(deadline_span, "the whole call, retries included, ends here");
            }
            self.report(diagnostic.help("make the timeout shorter than the deadline"));
        }
        if let Some(existing) = self.policies.iter_mut().find(|policy| policy.name == info.name) {
            *existing = info;
        } else {
            self.policies.push(info);
        }
    }

    /// Reports a repeated clause key (E0209); true if this one is a repeat.
    pub(crate) fn duplicate_clause(&mut self, seen: &mut HashMap<String, Span>, clause: &Clause) -> bool {
        if let Some(first) = seen.get(&clause.key.name) {
            let first = *first;
            self.report(
                Diagnostic::new(Code::DuplicateMember, clause.key.span, format!("`{}` is set twice", clause.key.name))
                    .label("set again here")
                    .secondary(first, "first set here")
                    .fix("remove this one", clause.span, ""),
            );
            return true;
        }
        seen.insert(clause.key.name.clone(), clause.key.span);
        false
    }

    /// The phrases of a `key: value` clause (arms are not a setting).
    pub(crate) fn setting_of<'c>(&mut self, clause: &'c Clause) -> Option<&'c ast::SettingValue> {
        match &clause.value {
            ClauseValue::Setting(value) => Some(value),
            ClauseValue::Arms(_, span) => {
                self.report(
                    Diagnostic::new(
                        Code::InvalidSettingValue,
                        *span,
                        format!("`{}` does not take `pattern => value` arms", clause.key.name),
                    )
                    .label("unexpected arms"),
                );
                None
            }
        }
    }

    pub(crate) fn unknown_clause(
        &mut self,
        key: &ast::Ident,
        written: &str,
        known: &[&str],
        what: &str,
        note: Option<&str>,
    ) {
        let mut diagnostic = Diagnostic::new(Code::UnknownSetting, key.span, format!("unknown {what} `{written}`"))
            .label(format!("not a {what}"));
        if let Some(best) = suggest::best(written, known.iter().copied()) {
            diagnostic =
                diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(format!("use `{best}`"), key.span, best);
        } else {
            let shown: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
            diagnostic = diagnostic.note(format!("the {what}s are {}", super::decls::join_words(&shown)));
        }
        if let Some(note) = note {
            diagnostic = diagnostic.note(note);
        }
        self.report(diagnostic);
    }

    fn malformed(&mut self, span: Span, message: String, expected: &str) {
        self.report(Diagnostic::new(Code::InvalidSettingValue, span, message).label(format!("expected {expected}")));
    }

    /// A single duration greater than zero.
    pub(crate) fn positive_duration(&mut self, value: &ast::SettingValue, what: &str) -> Option<u64> {
        let Some(expr) = value.single() else {
            self.malformed(value.span, format!("`{what}` takes one duration"), "a duration such as `10s`");
            return None;
        };
        let ms = self.duration_value(expr)?;
        if ms == 0 {
            self.report(
                Diagnostic::new(Code::InvalidDuration, expr.span, format!("`{what}` of zero"))
                    .label("nothing can finish in no time")
                    .help("give a duration greater than zero, such as `10s`"),
            );
            return None;
        }
        Some(ms)
    }

    /// A duration literal's milliseconds.
    pub(crate) fn duration_value(&mut self, expr: &Expr) -> Option<u64> {
        match &expr.kind {
            ExprKind::Quantity(quantity) => match literals::duration_ms(quantity, expr) {
                Ok(ms) => Some(ms),
                Err(diagnostic) => {
                    self.report(diagnostic);
                    None
                }
            },
            ExprKind::Int(value) => {
                self.report(
                    Diagnostic::new(Code::InvalidDuration, expr.span, "a duration needs a unit")
                        .label("no unit")
                        .help("write `10s`, `500ms`, `5m`...")
                        .maybe_fix("in seconds", expr.span.shrink_to_end(), "s"),
                );
                let _ = value;
                None
            }
            _ => {
                self.report(
                    Diagnostic::new(Code::InvalidDuration, expr.span, "expected a duration")
                        .label("not a duration")
                        .help("write `10s`, `500ms`, `5m`, `2h` or `1d`"),
                );
                None
            }
        }
    }

    pub(crate) fn positive_int(&mut self, value: &ast::SettingValue, what: &str) -> Option<u64> {
        match value.single().map(|expr| (int_literal(expr), expr.span)) {
            Some((Some(number), _)) if number >= 1 => Some(number as u64),
            Some((Some(_), span)) => {
                self.report(
                    Diagnostic::new(Code::InvalidSettingValue, span, format!("`{what}` must be at least 1"))
                        .label("zero or negative"),
                );
                None
            }
            _ => {
                self.malformed(value.span, format!("`{what}` takes a whole number"), "a number such as `4`");
                None
            }
        }
    }

    /// One of `words`, as a bare word.
    pub(crate) fn word(&mut self, value: &ast::SettingValue, words: &[&str], what: &str) -> Option<String> {
        let shown: Vec<String> = words.iter().map(|word| format!("`{word}`")).collect();
        let expected = super::decls::join_words(&shown).replace(" and ", " or ");
        match value.single().map(|expr| &expr.kind) {
            Some(ExprKind::Name(name)) if words.contains(&name.name.as_str()) => Some(name.name.clone()),
            Some(ExprKind::Name(name)) => {
                let mut diagnostic =
                    Diagnostic::new(Code::InvalidSettingValue, name.span, format!("invalid `{what}`: `{}`", name.name))
                        .label(format!("expected {expected}"));
                if let Some(best) = suggest::best(&name.name, words.iter().copied()) {
                    diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), name.span, best);
                }
                self.report(diagnostic);
                None
            }
            _ => {
                self.malformed(value.span, format!("invalid `{what}`"), &expected);
                None
            }
        }
    }

    fn retry(&mut self, value: &ast::SettingValue, info: &mut PolicyInfo) {
        let mut phrases = value.phrases.iter();
        let Some(first) = phrases.next() else { return };
        match first.atoms.as_slice() {
            [Expr { kind: ExprKind::Name(name), .. }] if name.name == "none" => {
                info.attempts = 1;
            }
            [Expr { kind: ExprKind::None, .. }] => info.attempts = 1,
            [count, Expr { kind: ExprKind::Name(unit), .. }] => match int_literal(count) {
                Some(0) => {
                    self.report(
                        Diagnostic::new(Code::InvalidRetryCount, count.span, "retry with 0 attempts")
                            .label("no request would ever be sent")
                            .help("attempts count the first try: `1 attempt` sends once, `3 attempts` retries twice; write `retry: none` for no retries")
                            .fix("send once", first.span, "1 attempt"),
                    );
                }
                Some(number) if number < 0 => {
                    self.report(
                        Diagnostic::new(Code::InvalidRetryCount, count.span, "negative retry attempts")
                            .label("must be at least 1")
                            .help("`1 attempt` sends once; `3 attempts` retries twice"),
                    );
                }
                Some(number) => {
                    if !matches!(unit.name.as_str(), "attempts" | "attempt") {
                        let mut diagnostic = Diagnostic::new(
                            Code::InvalidSettingValue,
                            unit.span,
                            format!("expected `attempts`, found `{}`", unit.name),
                        )
                        .label("write `N attempts`");
                        if suggest::best(&unit.name, ["attempts"]).is_some()
                            || unit.name == "retries"
                            || unit.name == "times"
                        {
                            diagnostic = diagnostic.maybe_fix("use `attempts`", unit.span, "attempts");
                        }
                        if unit.name == "retries" {
                            diagnostic = diagnostic
                                .note("the count includes the first try: `3 attempts` is one try and two retries");
                        }
                        self.report(diagnostic);
                    }
                    if number > 100 {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidRetryCount,
                                count.span,
                                format!("{number} attempts is more than 100"),
                            )
                            .label("retrying this often hammers a failing provider")
                            .help("use a deadline and a circuit breaker instead of unbounded retries"),
                        );
                    }
                    info.attempts = number as u64;
                }
                _ => self.malformed(first.span, "malformed `retry`".to_owned(), "`N attempts`, such as `5 attempts`"),
            },
            _ => self.malformed(
                first.span,
                "malformed `retry`".to_owned(),
                "`N attempts`, such as `5 attempts`, or `none`",
            ),
        }
        for phrase in phrases {
            self.retry_phrase(phrase, info);
        }
    }

    fn retry_phrase(&mut self, phrase: &Phrase, info: &mut PolicyInfo) {
        match phrase.atoms.as_slice() {
            [Expr { kind: ExprKind::Name(kind), .. }, Expr { kind: ExprKind::Name(jitter), .. }]
                if jitter.name == "jitter" =>
            {
                info.jitter = match kind.name.as_str() {
                    "full" => Jitter::Full,
                    "equal" => Jitter::Equal,
                    "no" => Jitter::None,
                    other => {
                        let mut diagnostic =
                            Diagnostic::new(Code::InvalidSettingValue, kind.span, format!("unknown jitter `{other}`"))
                                .label("expected `full`, `equal` or `no`");
                        if let Some(best) = suggest::best(other, ["full", "equal", "no"]) {
                            diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), kind.span, best);
                        }
                        self.report(diagnostic);
                        return;
                    }
                };
            }
            [call @ Expr { kind: ExprKind::Call { callee, args, args_span }, .. }] => {
                let ExprKind::Name(name) = &callee.kind else {
                    self.malformed(call.span, "malformed backoff".to_owned(), "`exponential(...)` or `constant(...)`");
                    return;
                };
                match name.name.as_str() {
                    "exponential" => {
                        let mut base = None;
                        let mut max = None;
                        let mut factor = 2u32;
                        for arg in args {
                            match arg.name.as_ref().map(|name| name.name.as_str()) {
                                Some("base") => base = self.duration_value(&arg.value).map(|ms| (ms, arg.value.span)),
                                Some("max") => max = self.duration_value(&arg.value).map(|ms| (ms, arg.value.span)),
                                Some("factor") => match arg.value.kind {
                                    ExprKind::Int(value @ 2..=10) => factor = value as u32,
                                    _ => self.malformed(
                                        arg.value.span,
                                        "`factor` must be a whole number from 2 to 10".to_owned(),
                                        "a factor such as `2`",
                                    ),
                                },
                                Some(other) => {
                                    let key = arg.name.clone().unwrap_or_else(|| name.clone());
                                    self.unknown_argument(&key, other, &["base", "max", "factor"], "exponential");
                                }
                                None => self.malformed(
                                    arg.span,
                                    "`exponential` takes named arguments".to_owned(),
                                    "`exponential(base: 200ms, max: 20s)`",
                                ),
                            }
                        }
                        match (base, max) {
                            (Some((base_ms, base_span)), Some((max_ms, max_span))) => {
                                if base_ms == 0 {
                                    self.report(
                                        Diagnostic::new(Code::InvalidDuration, base_span, "backoff base of zero")
                                            .label("every retry would be sent at once")
                                            .help("start from a small delay such as `100ms`"),
                                    );
                                }
                                if max_ms < base_ms {
                                    self.report(
                                        Diagnostic::new(
                                            Code::BackoffMaxBelowBase,
                                            max_span,
                                            format!(
                                                "backoff max {} is below its base {}",
                                                show_ms(max_ms),
                                                show_ms(base_ms)
                                            ),
                                        )
                                        .label("the maximum delay")
                                        .secondary(base_span, "is smaller than the first delay")
                                        .help("the max caps a growing delay, so it must be at least the base"),
                                    );
                                }
                                info.backoff = Backoff::Exponential { base_ms, max_ms, factor };
                            }
                            _ => {
                                let missing = if base.is_none() { "base" } else { "max" };
                                if args.iter().all(|arg| arg.name.as_ref().is_none_or(|name| name.name != missing)) {
                                    self.report(
                                        Diagnostic::new(
                                            Code::WrongArgumentCount,
                                            *args_span,
                                            format!("`exponential` is missing `{missing}`"),
                                        )
                                        .label("write `exponential(base: 200ms, max: 20s)`"),
                                    );
                                }
                            }
                        }
                    }
                    "constant" => match args.as_slice() {
                        [arg] => {
                            if let Some(delay_ms) = self.duration_value(&arg.value) {
                                info.backoff = Backoff::Constant { delay_ms };
                            }
                        }
                        _ => self.malformed(*args_span, "`constant` takes one duration".to_owned(), "`constant(1s)`"),
                    },
                    other => {
                        let mut diagnostic =
                            Diagnostic::new(Code::InvalidSettingValue, name.span, format!("unknown backoff `{other}`"))
                                .label("expected `exponential` or `constant`");
                        if let Some(best) = suggest::best(other, ["exponential", "constant"]) {
                            diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), name.span, best);
                        }
                        self.report(diagnostic);
                    }
                }
            }
            _ => self.malformed(
                phrase.span,
                "malformed `retry`".to_owned(),
                "a backoff such as `exponential(base: 200ms, max: 20s)` or a jitter such as `full jitter`",
            ),
        }
    }

    pub(crate) fn unknown_argument(&mut self, key: &ast::Ident, written: &str, known: &[&str], function: &str) {
        let mut diagnostic =
            Diagnostic::new(Code::UnknownArgument, key.span, format!("`{function}` has no parameter `{written}`"))
                .label("unknown parameter");
        if let Some(best) = suggest::best(written, known.iter().copied()) {
            diagnostic =
                diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(format!("use `{best}`"), key.span, best);
        } else {
            let shown: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
            diagnostic = diagnostic.note(format!("its parameters are {}", super::decls::join_words(&shown)));
        }
        self.report(diagnostic);
    }

    fn retry_on(&mut self, value: &ast::SettingValue) -> Option<Vec<RetryOn>> {
        let Some(Expr { kind: ExprKind::List(items), .. }) = value.single() else {
            self.malformed(
                value.span,
                "`retry_on` takes a list".to_owned(),
                "a list such as `[429, 5xx, timeout, connection]`",
            );
            return None;
        };
        let mut list = Vec::new();
        for item in items {
            match &item.kind {
                ExprKind::Name(name) if name.name == "timeout" => list.push(RetryOn::Timeout),
                ExprKind::Name(name) if name.name == "connection" => list.push(RetryOn::Connection),
                ExprKind::Name(name) => {
                    let mut diagnostic = Diagnostic::new(
                        Code::InvalidSettingValue,
                        name.span,
                        format!("cannot retry on `{}`", name.name),
                    )
                    .label("expected a status, a status class, `timeout` or `connection`");
                    if let Some(best) = suggest::best(&name.name, ["timeout", "connection"]) {
                        diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), name.span, best);
                    }
                    self.report(diagnostic);
                }
                _ => match literals::status_pattern(item) {
                    Ok(pattern) => {
                        if let StatusPattern::Code(code) = pattern
                            && (200..400).contains(&code)
                        {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidStatusPattern,
                                    item.span,
                                    format!("`{code}` is not a failure"),
                                )
                                .label("only 4xx and 5xx responses fail a call")
                                .fix("remove it", item.span, ""),
                            );
                            continue;
                        }
                        if let StatusPattern::Class(class) = pattern
                            && class < 4
                        {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidStatusPattern,
                                    item.span,
                                    format!("`{class}xx` responses are not failures"),
                                )
                                .label("only 4xx and 5xx responses fail a call"),
                            );
                            continue;
                        }
                        list.push(RetryOn::Status(pattern));
                    }
                    Err(diagnostic) => self.report(diagnostic),
                },
            }
        }
        Some(list)
    }

    fn circuit_breaker(&mut self, value: &ast::SettingValue) -> Option<Breaker> {
        let errors_before = self.diagnostics.len();
        let mut failures = None;
        let mut probe = None;
        let mut successes = 1;
        let expected = "`open after 5 failures, probe after 30s`";
        for phrase in &value.phrases {
            let words: Vec<&Expr> = phrase.atoms.iter().collect();
            match words.as_slice() {
                [verb, after, count, noun]
                    if is_word(verb, "open") && is_word(after, "after") && is_word(noun, "failures") =>
                {
                    match int_literal(count) {
                        Some(n) if n >= 1 => failures = Some(n as u64),
                        _ => self.malformed(
                            count.span,
                            "the failure count must be at least 1".to_owned(),
                            "a number such as `5`",
                        ),
                    }
                }
                [verb, after, delay] if is_word(verb, "probe") && is_word(after, "after") => {
                    if let Some(ms) = self.duration_value(delay) {
                        if ms == 0 {
                            self.malformed(delay.span, "probe delay of zero".to_owned(), "a duration such as `30s`");
                        } else {
                            probe = Some(ms);
                        }
                    }
                }
                [verb, after, count, noun]
                    if is_word(verb, "close")
                        && is_word(after, "after")
                        && (is_word(noun, "successes") || is_word(noun, "success")) =>
                {
                    match int_literal(count) {
                        Some(n) if n >= 1 => successes = n as u64,
                        _ => self.malformed(
                            count.span,
                            "the success count must be at least 1".to_owned(),
                            "a number such as `1`",
                        ),
                    }
                }
                _ => self.malformed(phrase.span, "malformed `circuit_breaker`".to_owned(), expected),
            }
        }
        if self.diagnostics.len() > errors_before {
            return None;
        }
        match (failures, probe) {
            (Some(failures), Some(probe_after_ms)) => Some(Breaker { failures, probe_after_ms, successes }),
            (None, _) if value.phrases.len() >= 2 => {
                self.malformed(value.span, "`circuit_breaker` needs `open after N failures`".to_owned(), expected);
                None
            }
            (_, None) if value.phrases.len() >= 2 => {
                self.malformed(value.span, "`circuit_breaker` needs `probe after DURATION`".to_owned(), expected);
                None
            }
            _ => {
                if value.phrases.len() < 2 {
                    self.malformed(value.span, "incomplete `circuit_breaker`".to_owned(), expected);
                }
                None
            }
        }
    }

    /// `N per second|minute|hour` or `N per 10s`.
    pub(crate) fn rate(&mut self, value: &ast::SettingValue) -> Option<Rate> {
        let (phrase, burst) = match value.phrases.as_slice() {
            [phrase] => (phrase, 1),
            [phrase, burst] => match burst.atoms.as_slice() {
                [word, count] if is_word(word, "burst") => match int_literal(count) {
                    Some(n) if n >= 1 => (phrase, n as u64),
                    _ => {
                        self.report(
                            Diagnostic::new(Code::InvalidRate, count.span, "a burst is at least 1")
                                .label("expected a whole number such as `10`"),
                        );
                        return None;
                    }
                },
                _ => {
                    self.report(
                        Diagnostic::new(Code::InvalidRate, burst.span, "malformed rate")
                            .label("after the rate, only `burst N` may follow"),
                    );
                    return None;
                }
            },
            _ => {
                self.report(
                    Diagnostic::new(Code::InvalidRate, value.span, "malformed rate")
                        .label("expected `N per second`, `N per minute`, `N per hour` or `N per 10s`"),
                );
                return None;
            }
        };
        match phrase.atoms.as_slice() {
            [count, per, unit] if is_word(per, "per") => {
                let count_value = match int_literal(count) {
                    Some(n) if n >= 1 => n as u64,
                    Some(_) => {
                        self.report(
                            Diagnostic::new(Code::InvalidRate, count.span, "a rate of zero requests")
                                .label("no request could ever be sent")
                                .help("allow at least 1 request per period"),
                        );
                        return None;
                    }
                    _ => {
                        self.report(
                            Diagnostic::new(Code::InvalidRate, count.span, "the count of a rate is a whole number")
                                .label("expected a number"),
                        );
                        return None;
                    }
                };
                let per_ms = match &unit.kind {
                    ExprKind::Name(name) => match name.name.as_str() {
                        "second" => 1_000,
                        "minute" => 60_000,
                        "hour" => 3_600_000,
                        "day" => 86_400_000,
                        other => {
                            let mut diagnostic =
                                Diagnostic::new(Code::InvalidRate, name.span, format!("unknown rate period `{other}`"))
                                    .label("expected `second`, `minute`, `hour`, `day` or a duration such as `10s`");
                            let singular = other.trim_end_matches('s');
                            let alias = match singular {
                                "sec" | "s" => Some("second"),
                                "min" | "m" => Some("minute"),
                                "hr" | "h" => Some("hour"),
                                "d" => Some("day"),
                                _ => None,
                            };
                            if let Some(best) = alias
                                .or_else(|| suggest::best(singular, ["second", "minute", "hour", "day"]))
                                .or(["second", "minute", "hour", "day"].into_iter().find(|unit| *unit == singular))
                            {
                                diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), name.span, best);
                            }
                            self.report(diagnostic);
                            return None;
                        }
                    },
                    ExprKind::Quantity(_) => {
                        let ms = self.duration_value(unit)?;
                        if ms == 0 {
                            self.report(
                                Diagnostic::new(Code::InvalidRate, unit.span, "a rate period of zero")
                                    .label("the period must be longer than 0"),
                            );
                            return None;
                        }
                        ms
                    }
                    _ => {
                        self.report(
                            Diagnostic::new(Code::InvalidRate, unit.span, "malformed rate period")
                                .label("expected `second`, `minute`, `hour` or a duration such as `10s`"),
                        );
                        return None;
                    }
                };
                Some(Rate { count: count_value, per_ms, burst })
            }
            _ => {
                let mut diagnostic = Diagnostic::new(Code::InvalidRate, phrase.span, "malformed rate")
                    .label("expected `N per second`, `N per minute`, `N per hour` or `N per 10s`");
                if let [Expr { kind: ExprKind::Int(count), .. }, Expr { kind: ExprKind::Name(slash), .. }] =
                    phrase.atoms.as_slice()
                {
                    let _ = slash;
                    diagnostic = diagnostic.help(format!("write `{count} per second`"));
                }
                self.report(diagnostic);
                None
            }
        }
    }
}

/// An integer literal, negative ones included (`-3` is a negation of `3`).
pub(crate) fn int_literal(expr: &Expr) -> Option<i64> {
    match &expr.kind {
        ExprKind::Int(value) => Some(*value),
        ExprKind::Unary { op: ast::UnaryOp::Neg, operand, .. } => int_literal(operand).map(|value| -value),
        ExprKind::Paren(inner) => int_literal(inner),
        _ => None,
    }
}

fn is_word(expr: &Expr, word: &str) -> bool {
    matches!(&expr.kind, ExprKind::Name(name) if name.name == word)
}

/// `1500` → `1.5s`, `200` → `200ms`.
pub(crate) fn show_ms(ms: u64) -> String {
    if ms.is_multiple_of(86_400_000) && ms > 0 {
        format!("{}d", ms / 86_400_000)
    } else if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1_000) && ms > 0 {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}
