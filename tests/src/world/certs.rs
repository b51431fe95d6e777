//! Certificates (stub).
