//! (live: stub, being written.)
