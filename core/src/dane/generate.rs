//! TLSA generation (stub).
