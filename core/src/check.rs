//! `SmtpCheck` (stub).
