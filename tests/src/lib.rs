//! Scenario world (stub).
