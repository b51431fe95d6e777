//! tokio runtime for daneel (stub).
