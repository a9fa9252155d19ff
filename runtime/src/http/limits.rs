//! The resources an api's calls share (§ 11.7, § 11.9 of spec.md): a
//! circuit breaker, a rate limiter and a concurrency limit.
//!
//! An [`ApiClient`](super::ApiClient) owns one [`Limits`] built from the api's
//! `rate_limit:` and `concurrency:` clauses and its policy; an endpoint whose
//! own policy sets a rate limit, a concurrency limit or a breaker gets its
//! own `Limits` (passed in [`EndpointOptions`](super::EndpointOptions)),
//! which applies **in addition** to the api's.
//!
//! The rate limiter is `governor`'s GCRA: requests are spaced by at least
//! period / N, and up to `burst` may go back to back after a quiet period. It
//! runs on tokio's clock (not the wall clock), so paused time works in tests
//! and the waits count toward a call's deadline like any other sleep. The
//! concurrency limit is a fair (first come, first served) tokio semaphore.
//! Every attempt — retries, page requests and the repeat after a token
//! refresh included — takes a slot of each.

use std::num::NonZeroU32;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::breaker::CircuitBreaker;
use super::errors::ConfigError;
use super::policy::{BreakerConfig, Policy, Rate};

/// governor's clock on tokio's time: nanoseconds since the limiter was made.
#[derive(Clone, Debug)]
struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.start.elapsed())
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

struct RateGate {
    rate: Rate,
    clock: TokioClock,
    limiter: Gcra,
}

/// A breaker, a rate limiter and a concurrency limit, each optional.
pub struct Limits {
    owner: String,
    breaker: Option<CircuitBreaker>,
    rate: Option<RateGate>,
    concurrency: Option<(u32, Semaphore)>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Limits")
            .field("owner", &self.owner)
            .field("breaker", &self.breaker.as_ref().map(CircuitBreaker::config))
            .field("rate", &self.rate.as_ref().map(|gate| gate.rate))
            .field("concurrency", &self.concurrency.as_ref().map(|(limit, _)| *limit))
            .finish()
    }
}

impl Limits {
    /// No limits at all.
    pub fn none(owner: impl Into<String>) -> Limits {
        Limits { owner: owner.into(), breaker: None, rate: None, concurrency: None }
    }

    /// `owner` names the api (`Shop`) or endpoint (`Shop.list_orders`) in logs.
    pub fn new(
        owner: impl Into<String>,
        breaker: Option<BreakerConfig>,
        rate: Option<Rate>,
        concurrency: Option<u32>,
    ) -> Result<Limits, ConfigError> {
        let owner = owner.into();
        let breaker = match breaker {
            Some(config) if config.failures == 0 || config.probe_after.is_zero() => {
                return Err(ConfigError::new(format!(
                    "{owner}: a circuit breaker needs at least 1 failure and a probe delay above zero"
                )));
            }
            Some(config) => Some(CircuitBreaker::new(owner.clone(), config)),
            None => None,
        };
        let rate = match rate {
            Some(rate) => Some(rate_gate(&owner, rate)?),
            None => None,
        };
        let concurrency = match concurrency {
            Some(0) => return Err(ConfigError::new(format!("{owner}: concurrency must be at least 1"))),
            Some(limit) => Some((limit, Semaphore::new(limit as usize))),
            None => None,
        };
        Ok(Limits { owner, breaker, rate, concurrency })
    }

    /// The limits an endpoint's own policy sets (§ 11.9): its breaker, rate
    /// limit and concurrency limit, in addition to the api's.
    pub fn for_endpoint_policy(owner: impl Into<String>, policy: &Policy) -> Result<Limits, ConfigError> {
        Limits::new(owner, policy.circuit_breaker, policy.rate_limit, policy.concurrency)
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    pub fn rate(&self) -> Option<Rate> {
        self.rate.as_ref().map(|gate| gate.rate)
    }

    pub fn concurrency(&self) -> Option<u32> {
        self.concurrency.as_ref().map(|(limit, _)| *limit)
    }

    /// Waits for a concurrency slot (in arrival order); `None` without a limit.
    pub(crate) async fn concurrency_slot(&self) -> Option<SemaphorePermit<'_>> {
        let (limit, semaphore) = self.concurrency.as_ref()?;
        if semaphore.available_permits() == 0 {
            tracing::debug!(limits = %self.owner, limit = *limit, "concurrency limit reached: waiting for a slot");
        }
        semaphore.acquire().await.ok()
    }

    /// Waits for a rate-limit slot.
    pub(crate) async fn rate_slot(&self) {
        let Some(gate) = &self.rate else { return };
        // Each turn either takes the slot or sleeps until the limiter says a
        // slot is free; the sleep is at least a millisecond so that a
        // rounding difference cannot spin.
        loop {
            match gate.limiter.check() {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(gate.clock.now()).max(std::time::Duration::from_millis(1));
                    tracing::debug!(
                        limits = %self.owner,
                        wait_ms = wait.as_millis() as u64,
                        "rate limit {} per {:?} (burst {}): waiting",
                        gate.rate.count,
                        gate.rate.per,
                        gate.rate.burst
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

fn rate_gate(owner: &str, rate: Rate) -> Result<RateGate, ConfigError> {
    let invalid = || ConfigError::new(format!("{owner}: invalid rate limit {} per {:?}", rate.count, rate.per));
    if rate.count == 0 {
        return Err(invalid());
    }
    let burst = NonZeroU32::new(rate.burst.max(1)).ok_or_else(invalid)?;
    let quota = Quota::with_period(rate.interval()).ok_or_else(invalid)?.allow_burst(burst);
    let clock = TokioClock { start: tokio::time::Instant::now() };
    Ok(RateGate { rate, clock: clock.clone(), limiter: RateLimiter::direct_with_clock(quota, clock) })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_slots_are_spaced() {
        let limits = Limits::new("Test", None, Some(Rate::per_second(4)), None).unwrap();
        let start = tokio::time::Instant::now();
        let mut times = Vec::new();
        for _ in 0..5 {
            limits.rate_slot().await;
            times.push(start.elapsed());
        }
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(250), "{times:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn burst_goes_back_to_back() {
        let limits =
            Limits::new("Test", None, Some(Rate::new(10, Duration::from_secs(10)).with_burst(3)), None).unwrap();
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            limits.rate_slot().await;
        }
        assert!(start.elapsed() < Duration::from_millis(5));
        limits.rate_slot().await;
        assert!(start.elapsed() >= Duration::from_millis(999));
    }

    #[test]
    fn invalid_limits_are_errors() {
        assert!(Limits::new("Test", None, Some(Rate::per_second(0)), None).is_err());
        assert!(Limits::new("Test", None, Some(Rate::new(1, Duration::ZERO)), None).is_err());
        assert!(Limits::new("Test", None, None, Some(0)).is_err());
        assert!(Limits::new("Test", Some(BreakerConfig::new(0, Duration::from_secs(1))), None, None).is_err());
    }
}
