//! A client-side token bucket: at most N requests per period, with a small burst.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// N requests per period. `burst` is how many may go at once after a quiet spell; keeping
/// it well below `requests` leaves the server's own bucket (usually `requests` deep) a
/// margin, so network jitter never makes it answer 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
    pub burst: u32,
}

impl RateLimit {
    /// `requests` per `per`, with a burst of a tenth of that (at least 1).
    pub fn new(requests: u32, per: Duration) -> Self {
        RateLimit { requests: requests.max(1), per, burst: (requests / 10).max(1) }
    }

    pub fn per_minute(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(60))
    }

    fn rate_per_sec(&self) -> f64 {
        f64::from(self.requests) / self.per.as_secs_f64().max(1e-6)
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
    paused_until: Option<Instant>,
}

/// A first-come first-served async token bucket. Waiters queue on the lock, so requests
/// leave in the order they asked.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    bucket: Mutex<Bucket>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        let bucket = Bucket { tokens: f64::from(limit.burst), last: Instant::now(), paused_until: None };
        RateLimiter { limit, bucket: Mutex::new(bucket) }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Waits until a request may be sent, and takes its token.
    pub async fn acquire(&self) {
        let mut b = self.bucket.lock().await;
        loop {
            let now = Instant::now();
            if let Some(until) = b.paused_until {
                if until > now {
                    tokio::time::sleep_until(until).await;
                    continue;
                }
                b.paused_until = None;
            }
            let rate = self.limit.rate_per_sec();
            let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens = (b.tokens + elapsed * rate).min(f64::from(self.limit.burst));
            b.last = now;
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                return;
            }
            let wait = Duration::from_secs_f64((1.0 - b.tokens) / rate);
            // Sleep holding the lock: later callers queue behind this one (FIFO).
            tokio::time::sleep(wait).await;
        }
    }

    /// The server said "too many requests": nobody sends for `pause`, and the bucket
    /// restarts empty.
    pub async fn pause(&self, pause: Duration) {
        let mut b = self.bucket.lock().await;
        let until = Instant::now() + pause;
        b.paused_until = Some(b.paused_until.map_or(until, |u| u.max(until)));
        b.tokens = 0.0;
        b.last = until;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn never_exceeds_the_rate() {
        // 50 per second with a burst of 5: 30 requests need at least (30 - 5) / 50 s.
        let rl = RateLimiter::new(RateLimit::new(50, Duration::from_secs(1)));
        let start = Instant::now();
        for _ in 0..30 {
            rl.acquire().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(480), "30 requests at 50/s with burst 5 must take ≥ 0.5 s, took {took:?}");
        assert!(took <= Duration::from_millis(900), "the limiter must not be much slower than the rate, took {took:?}");
    }
}
