//! HTTP plumbing shared by connectors: retry with back-off, Retry-After, rate limiting.
