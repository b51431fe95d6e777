//! smol runtime for daneel (stub).
