//! (world: stub, being written.)
