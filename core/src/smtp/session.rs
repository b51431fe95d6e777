//! The SMTP client session (stub: filled in by the SMTP work).
