//! The circuit breaker (§ 11.6 of spec.md).
//!
//! | State | Behaviour | Transition |
//! |---|---|---|
//! | closed | attempts are sent; consecutive breaker failures are counted | after N → open |
//! | open | attempts fail at once with `CircuitOpen` | after `probe_after` → half-open |
//! | half-open | one attempt at a time is sent as a probe; others fail with `CircuitOpen` | a probe fails → open again; `successes` probes succeed → closed |
//!
//! A *breaker failure* is an attempt that ended with a timeout, a connection
//! failure or a 5xx status; any other response resets the count. An attempt
//! takes a [`BreakerPermit`] before it is sent and reports its outcome on it;
//! a permit dropped without a report (the attempt was abandoned: the deadline
//! passed, no credentials could be had) changes nothing, except that a probe
//! slot is freed for the next attempt. Time is tokio's clock, so paused time
//! works in tests.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::policy::BreakerConfig;

const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The state of a breaker, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed { failures: u32 },
    Open { remaining: Duration },
    HalfOpen { successes: u32, probing: bool },
}

#[derive(Clone, Copy, Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { successes: u32, probing: bool },
}

/// A circuit breaker, shared by every call of an api (or of an endpoint with
/// its own breaker).
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    /// For logs: the api (or `Api.endpoint`) this breaker protects.
    owner: String,
    state: Mutex<State>,
}

/// The breaker refused the attempt: no request may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerOpen {
    /// How long until a probe is let through (zero while a probe is in flight).
    pub retry_in: Duration,
}

impl CircuitBreaker {
    pub fn new(owner: impl Into<String>, config: BreakerConfig) -> CircuitBreaker {
        CircuitBreaker { config, owner: owner.into(), state: Mutex::new(State::Closed { failures: 0 }) }
    }

    pub fn config(&self) -> BreakerConfig {
        self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { failures } => BreakerState::Closed { failures },
            State::Open { until } => BreakerState::Open { remaining: until.saturating_duration_since(Instant::now()) },
            State::HalfOpen { successes, probing } => BreakerState::HalfOpen { successes, probing },
        }
    }

    /// Asks to send an attempt.
    pub fn try_acquire(&self) -> Result<BreakerPermit<'_>, BreakerOpen> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(BreakerPermit { breaker: self, probe: false, reported: false }),
            State::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(BreakerOpen { retry_in: until - now });
                }
                *state = State::HalfOpen { successes: 0, probing: true };
                tracing::debug!(breaker = %self.owner, "circuit breaker half-open: sending a probe");
                Ok(BreakerPermit { breaker: self, probe: true, reported: false })
            }
            State::HalfOpen { successes, probing } => {
                if probing {
                    return Err(BreakerOpen { retry_in: Duration::ZERO });
                }
                *state = State::HalfOpen { successes, probing: true };
                tracing::debug!(breaker = %self.owner, "circuit breaker half-open: sending a probe");
                Ok(BreakerPermit { breaker: self, probe: true, reported: false })
            }
        }
    }

    fn open(&self, state: &mut State, why: &str) {
        let now = Instant::now();
        // A probe delay too long to represent keeps the breaker open for a century.
        let until = now.checked_add(self.config.probe_after).or_else(|| now.checked_add(CENTURY)).unwrap_or(now);
        *state = State::Open { until };
        tracing::debug!(
            breaker = %self.owner,
            probe_after_ms = self.config.probe_after.as_millis() as u64,
            "circuit breaker opened: {why}"
        );
    }

    fn report(&self, probe: bool, failure: bool) {
        let mut state = self.lock();
        match (*state, probe) {
            (State::HalfOpen { successes, .. }, true) => {
                if failure {
                    self.open(&mut state, "the probe failed");
                } else if successes.saturating_add(1) >= self.config.successes.max(1) {
                    *state = State::Closed { failures: 0 };
                    tracing::debug!(breaker = %self.owner, "circuit breaker closed: the probe succeeded");
                } else {
                    *state = State::HalfOpen { successes: successes.saturating_add(1), probing: false };
                    tracing::debug!(
                        breaker = %self.owner,
                        successes = successes.saturating_add(1),
                        needed = self.config.successes,
                        "circuit breaker probe succeeded; still half-open"
                    );
                }
            }
            (State::Closed { failures }, _) => {
                if !failure {
                    *state = State::Closed { failures: 0 };
                } else if failures.saturating_add(1) >= self.config.failures.max(1) {
                    let why = format!("{} consecutive failures", failures.saturating_add(1));
                    self.open(&mut state, &why);
                } else {
                    *state = State::Closed { failures: failures.saturating_add(1) };
                }
            }
            // An attempt let through before the breaker opened (or a
            // non-probe during half-open) does not move it: the probe decides.
            _ => {}
        }
    }

    fn abandon(&self, probe: bool) {
        if !probe {
            return;
        }
        let mut state = self.lock();
        if let State::HalfOpen { successes, probing: true } = *state {
            *state = State::HalfOpen { successes, probing: false };
        }
    }
}

/// Leave to send one attempt; report how it ended with [`BreakerPermit::record`].
#[derive(Debug)]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    probe: bool,
    reported: bool,
}

impl BreakerPermit<'_> {
    /// Whether this attempt is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Reports the attempt's outcome: `failure` for a timeout, a connection
    /// failure or a 5xx; otherwise the provider answered.
    pub fn record(mut self, failure: bool) {
        self.reported = true;
        self.breaker.report(self.probe, failure);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.abandon(self.probe);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_probes_and_closes() {
        let breaker = CircuitBreaker::new("Test", BreakerConfig::new(2, Duration::from_secs(10)));
        breaker.try_acquire().map(|permit| permit.record(true)).ok();
        assert_eq!(breaker.state(), BreakerState::Closed { failures: 1 });
        breaker.try_acquire().map(|permit| permit.record(true)).ok();
        assert!(matches!(breaker.state(), BreakerState::Open { .. }));
        assert!(breaker.try_acquire().is_err());
        tokio::time::advance(Duration::from_secs(10)).await;
        let probe = breaker.try_acquire();
        assert!(probe.as_ref().is_ok_and(|permit| permit.is_probe()));
        assert!(breaker.try_acquire().is_err(), "one probe at a time");
        drop(probe);
        let probe = breaker.try_acquire();
        assert!(probe.is_ok(), "an abandoned probe frees the slot");
        probe.map(|permit| permit.record(true)).ok();
        assert!(matches!(breaker.state(), BreakerState::Open { .. }));
        tokio::time::advance(Duration::from_secs(10)).await;
        breaker.try_acquire().map(|permit| permit.record(false)).ok();
        assert_eq!(breaker.state(), BreakerState::Closed { failures: 0 });
    }

    #[tokio::test(start_paused = true)]
    async fn needs_several_successes_when_configured() {
        let config = BreakerConfig { failures: 1, probe_after: Duration::from_secs(1), successes: 2 };
        let breaker = CircuitBreaker::new("Test", config);
        breaker.try_acquire().map(|permit| permit.record(true)).ok();
        tokio::time::advance(Duration::from_secs(1)).await;
        breaker.try_acquire().map(|permit| permit.record(false)).ok();
        assert_eq!(breaker.state(), BreakerState::HalfOpen { successes: 1, probing: false });
        breaker.try_acquire().map(|permit| permit.record(false)).ok();
        assert_eq!(breaker.state(), BreakerState::Closed { failures: 0 });
    }
}
