//! HTTP plumbing shared by connectors: one [`HttpClient`] per connection with a base URL,
//! a timeout and the `crosswalk/<version>` user agent; a [`RetryPolicy`] (429, 5xx,
//! time-outs and connection errors → exponential back-off with jitter, honouring
//! `Retry-After` as seconds or an HTTP-date, clamped); a client-side [`RateLimiter`]
//! (token bucket, N requests per period); and [`map_status`], which turns an HTTP failure
//! into a [`crosswalk_core::ConnectorError`].
//!
//! Invariants: a secret (the bearer token) goes into the `Authorization` header and nowhere
//! else — never into an error message or a log line. A request that is not idempotent
//! (POST) is retried only when the server cannot have acted on it (429, 503, or the
//! connection was never made), so a retry never creates a duplicate.

mod client;
mod errors;
mod rate;
mod retry;

pub use client::{ErrorMapper, HttpClient, HttpClientBuilder, HttpRequest, USER_AGENT};
pub use errors::{map_status, server_message};
pub use rate::{RateLimit, RateLimiter};
pub use retry::{parse_retry_after, RetryPolicy};
