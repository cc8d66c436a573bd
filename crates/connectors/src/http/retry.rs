//! When and how long to wait before trying a request again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// How a client retries failed requests.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The first back-off; each further retry doubles it.
    pub base_delay: Duration,
    /// The back-off never grows past this.
    pub max_delay: Duration,
    /// A server's `Retry-After` is honoured up to this long.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (tests of error messages).
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// The wait before retry number `retry` (1 = first retry): the server's `Retry-After`
    /// when given (clamped, plus a little jitter so clients don't return in lock-step),
    /// else exponential back-off with "equal jitter" (half fixed, half random).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let mut rng = rand::thread_rng();
        if let Some(ra) = retry_after {
            let ra = ra.min(self.max_retry_after);
            return ra + Duration::from_millis(rng.gen_range(0..=100));
        }
        let exp = self.base_delay.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let d = exp.min(self.max_delay);
        let half = d / 2;
        let jitter_ms = rng.gen_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter_ms)
    }
}

/// Parses a `Retry-After` header: delay-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, taken relative to `now`; a date in the past is zero).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 0).unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)), "delay-seconds form");
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(60)), "HTTP-date form is relative to now");
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO), "a past date means retry now");
        assert_eq!(parse_retry_after("soon", now), None, "garbage is ignored, back-off applies");
    }

    #[test]
    fn backoff_grows_is_clamped_and_honours_retry_after() {
        let p = RetryPolicy { base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1), ..RetryPolicy::default() };
        let d1 = p.delay(1, None);
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100), "first retry is within [base/2, base]: {d1:?}");
        let d10 = p.delay(10, None);
        assert!(d10 <= Duration::from_secs(1), "back-off is clamped to max_delay: {d10:?}");
        let ra = p.delay(1, Some(Duration::from_secs(3600)));
        assert!(ra <= Duration::from_secs(121), "a huge Retry-After is clamped: {ra:?}");
        assert!(p.delay(1, Some(Duration::from_secs(2))) >= Duration::from_secs(2), "Retry-After is waited for in full");
    }
}
