//! Scenario catalogue (stub, filled below).
