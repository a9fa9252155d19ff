//! Policies (§ 11 of spec.md): timeouts, retries, backoff, jitter,
//! `Retry-After`, and the shared limits' settings.
//!
//! A [`Policy`] is plain data; [`Policy::default`] is the built-in default of
//! § 11.1. The delay computations are pure functions of their inputs and a
//! random source ([`DelayRng`], seedable so that tests are deterministic).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

/// A status pattern of `errors` arms and `retry_on` (§ 10.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusPattern {
    /// One status: `404`.
    Exact(u16),
    /// A class, by its first digit: `Class(5)` is `5xx`.
    Class(u8),
    /// `_`: every status outside 2xx.
    Any,
}

impl StatusPattern {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Exact(expected) => status == expected,
            StatusPattern::Class(class) => status / 100 == u16::from(class),
            StatusPattern::Any => !(200..300).contains(&status),
        }
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Exact(status) => write!(formatter, "{status}"),
            StatusPattern::Class(class) => write!(formatter, "{class}xx"),
            StatusPattern::Any => formatter.write_str("_"),
        }
    }
}

/// An entry of `retry_on` (§ 11.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryOn {
    /// A response whose status matches.
    Status(StatusPattern),
    /// An attempt aborted by the policy's `timeout`.
    Timeout,
    /// A `Connection` failure.
    Connection,
}

/// The backoff of `retry:` (§ 11.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// `exponential(base, max, factor)`: min(max, base × factorⁿ⁻¹).
    Exponential { base: Duration, max: Duration, factor: u32 },
    /// `constant(d)`.
    Constant(Duration),
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::Exponential { base: Duration::from_millis(500), max: Duration::from_secs(30), factor: 2 }
    }
}

impl Backoff {
    /// The nominal delay *dₙ* before retry `retry` (1 after the first failed
    /// attempt), in whole milliseconds.
    pub fn nominal(self, retry: u32) -> Duration {
        let millis = match self {
            Backoff::Exponential { base, max, factor } => {
                let base = base.as_millis();
                let max = max.as_millis();
                let multiplier = u128::from(factor.max(1)).checked_pow(retry.saturating_sub(1)).unwrap_or(u128::MAX);
                base.saturating_mul(multiplier).min(max)
            }
            Backoff::Constant(delay) => delay.as_millis(),
        };
        Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// The cap of a `Retry-After` delay: `max`, or the constant (§ 11.5).
    pub fn cap(self) -> Duration {
        match self {
            Backoff::Exponential { max, .. } => max,
            Backoff::Constant(delay) => delay,
        }
    }
}

/// The jitter of `retry:` (§ 11.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Jitter {
    /// Uniform in [0, dₙ].
    #[default]
    Full,
    /// dₙ/2 + uniform in [0, dₙ/2].
    Equal,
    /// dₙ.
    None,
}

/// `circuit_breaker: open after N failures, probe after D[, close after S successes]` (§ 11.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive breaker failures that open the breaker (N ≥ 1).
    pub failures: u32,
    /// How long the breaker stays open before a probe is let through.
    pub probe_after: Duration,
    /// Successful probes needed to close (default 1).
    pub successes: u32,
}

impl BreakerConfig {
    pub fn new(failures: u32, probe_after: Duration) -> BreakerConfig {
        BreakerConfig { failures, probe_after, successes: 1 }
    }
}

/// `rate_limit: N per P[, burst B]` (§ 11.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
    /// Requests that may go back to back after a quiet period (default 1).
    pub burst: u32,
}

impl Rate {
    pub fn new(count: u32, per: Duration) -> Rate {
        Rate { count, per, burst: 1 }
    }

    pub fn per_second(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(1))
    }

    pub fn with_burst(self, burst: u32) -> Rate {
        Rate { burst, ..self }
    }

    /// The spacing between requests: period / N.
    pub fn interval(self) -> Duration {
        self.per.checked_div(self.count).unwrap_or(Duration::ZERO)
    }
}

/// A policy (§ 11.1). `Default` is the built-in default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Bound of one attempt (§ 11.2). Default 30 s.
    pub timeout: Duration,
    /// Bound of a whole call (of each page request of a stream). Default none.
    pub deadline: Option<Duration>,
    /// Total attempts, the first included; `retry: none` is 1. Default 3.
    pub attempts: u32,
    pub backoff: Backoff,
    pub jitter: Jitter,
    /// Default `[429, 5xx, timeout, connection]`.
    pub retry_on: Vec<RetryOn>,
    /// `retry_after: honor` (default) or `ignore`.
    pub honor_retry_after: bool,
    pub circuit_breaker: Option<BreakerConfig>,
    pub rate_limit: Option<Rate>,
    pub concurrency: Option<u32>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            timeout: Duration::from_secs(30),
            deadline: None,
            attempts: 3,
            backoff: Backoff::default(),
            jitter: Jitter::Full,
            retry_on: vec![
                RetryOn::Status(StatusPattern::Exact(429)),
                RetryOn::Status(StatusPattern::Class(5)),
                RetryOn::Timeout,
                RetryOn::Connection,
            ],
            honor_retry_after: true,
            circuit_breaker: None,
            rate_limit: None,
            concurrency: None,
        }
    }
}

/// How an attempt ended, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Status(u16),
    Timeout,
    Connection,
}

impl Policy {
    /// `retry: none`: one attempt.
    pub fn single_attempt() -> Policy {
        Policy { attempts: 1, ..Policy::default() }
    }

    /// Whether `failure` matches `retry_on` (§ 11.4). A 2xx never does.
    pub fn retries(&self, failure: Failure) -> bool {
        self.retry_on.iter().any(|entry| match (entry, failure) {
            (RetryOn::Status(pattern), Failure::Status(status)) => {
                !(200..300).contains(&status) && pattern.matches(status)
            }
            (RetryOn::Timeout, Failure::Timeout) | (RetryOn::Connection, Failure::Connection) => true,
            _ => false,
        })
    }

    /// The delay before retry `retry` (1 after the first failed attempt):
    /// the `Retry-After` value when honoured and present (capped, no jitter),
    /// else the jittered backoff. Also says which one it was.
    pub fn retry_delay(
        &self,
        retry: u32,
        retry_after: Option<&str>,
        now: SystemTime,
        rng: &DelayRng,
    ) -> (Duration, DelaySource) {
        if self.honor_retry_after
            && let Some(delay) = retry_after.and_then(|value| parse_retry_after(value, now))
        {
            return (delay.min(self.backoff.cap()), DelaySource::RetryAfter);
        }
        (jittered(self.backoff.nominal(retry), self.jitter, rng), DelaySource::Backoff)
    }
}

/// Where a retry delay came from, for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelaySource {
    Backoff,
    RetryAfter,
}

/// The actual delay for a nominal delay under `jitter`, in whole
/// milliseconds (rounded down).
pub fn jittered(nominal: Duration, jitter: Jitter, rng: &DelayRng) -> Duration {
    let millis = u64::try_from(nominal.as_millis()).unwrap_or(u64::MAX);
    let millis = match jitter {
        Jitter::None => millis,
        Jitter::Full => rng.uniform_inclusive(millis),
        Jitter::Equal => {
            let half = millis / 2;
            half.saturating_add(rng.uniform_inclusive(half))
        }
    };
    Duration::from_millis(millis)
}

/// A `Retry-After` value (§ 11.5): delay-seconds or an HTTP-date, relative to
/// `now` (a date in the past is 0). `None` when it cannot be parsed.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|byte| byte.is_ascii_digit()) {
        // A number too large for u64 is still a (very long) delay.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The random source of jitter (and HMAC nonces): a seedable generator behind
/// a lock, shared by the calls of an api.
pub struct DelayRng {
    rng: Mutex<StdRng>,
}

impl DelayRng {
    /// A generator seeded from the operating system.
    pub fn from_entropy() -> DelayRng {
        DelayRng { rng: Mutex::new(rand::make_rng()) }
    }

    /// A deterministic generator (tests, `integ test`).
    pub fn seeded(seed: u64) -> DelayRng {
        DelayRng { rng: Mutex::new(StdRng::seed_from_u64(seed)) }
    }

    /// Uniform in `0..=max`.
    pub fn uniform_inclusive(&self, max: u64) -> u64 {
        let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        rng.random_range(0..=max)
    }

    /// 16 random bytes (a UUID v4's randomness).
    pub fn bytes16(&self) -> [u8; 16] {
        let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        rng.random()
    }
}

impl std::fmt::Debug for DelayRng {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("DelayRng")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_nominal_delays() {
        let backoff =
            Backoff::Exponential { base: Duration::from_millis(200), max: Duration::from_secs(20), factor: 2 };
        let delays: Vec<u128> = (1..=9).map(|n| backoff.nominal(n).as_millis()).collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000]);
        assert_eq!(backoff.nominal(100), Duration::from_secs(20));
        assert_eq!(Backoff::Constant(Duration::from_millis(750)).nominal(7), Duration::from_millis(750));
    }

    #[test]
    fn jitter_stays_in_range_and_is_reproducible() {
        let a = DelayRng::seeded(7);
        let b = DelayRng::seeded(7);
        for _ in 0..200 {
            let full = jittered(Duration::from_millis(1000), Jitter::Full, &a);
            assert_eq!(full, jittered(Duration::from_millis(1000), Jitter::Full, &b));
            assert!(full <= Duration::from_millis(1000));
            let equal = jittered(Duration::from_millis(1000), Jitter::Equal, &a);
            let _ = jittered(Duration::from_millis(1000), Jitter::Equal, &b);
            assert!(equal >= Duration::from_millis(500) && equal <= Duration::from_millis(1000));
        }
        assert_eq!(jittered(Duration::from_millis(1000), Jitter::None, &a), Duration::from_millis(1000));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert!(parse_retry_after("99999999999999999999999", now).is_some());
    }

    #[test]
    fn retry_after_is_capped_and_unjittered() {
        let rng = DelayRng::seeded(1);
        let now = SystemTime::UNIX_EPOCH;
        let policy = Policy {
            backoff: Backoff::Exponential { base: Duration::from_millis(100), max: Duration::from_secs(5), factor: 2 },
            ..Policy::default()
        };
        assert_eq!(policy.retry_delay(1, Some("2"), now, &rng), (Duration::from_secs(2), DelaySource::RetryAfter));
        assert_eq!(policy.retry_delay(1, Some("60"), now, &rng).0, Duration::from_secs(5));
        let constant = Policy { backoff: Backoff::Constant(Duration::from_secs(1)), ..Policy::default() };
        assert_eq!(constant.retry_delay(1, Some("60"), now, &rng).0, Duration::from_secs(1));
        let ignoring = Policy { honor_retry_after: false, jitter: Jitter::None, ..policy };
        assert_eq!(ignoring.retry_delay(1, Some("2"), now, &rng), (Duration::from_millis(100), DelaySource::Backoff));
    }

    #[test]
    fn default_retry_on() {
        let policy = Policy::default();
        assert!(policy.retries(Failure::Status(429)));
        assert!(policy.retries(Failure::Status(503)));
        assert!(!policy.retries(Failure::Status(404)));
        assert!(!policy.retries(Failure::Status(200)));
        assert!(policy.retries(Failure::Timeout));
        assert!(policy.retries(Failure::Connection));
        let any = Policy { retry_on: vec![RetryOn::Status(StatusPattern::Any)], ..Policy::default() };
        assert!(any.retries(Failure::Status(418)));
        assert!(!any.retries(Failure::Status(204)));
        assert!(!any.retries(Failure::Timeout));
    }
}
