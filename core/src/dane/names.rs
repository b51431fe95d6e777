//! RFC 6125 names (stub).
