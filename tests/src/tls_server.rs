//! (tls_server: stub, being written.)
