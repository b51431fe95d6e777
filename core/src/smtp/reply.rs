//! SMTP replies (stub: filled in by the SMTP work).
