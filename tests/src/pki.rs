//! (pki: stub, being written.)
