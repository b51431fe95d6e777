//! Transcripts (stub).
