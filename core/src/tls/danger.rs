//! The handshake-only certificate verifier (stub: filled in by the TLS work).
