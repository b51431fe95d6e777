//! The RFC 7672 planner (stub).
