//! (sim: stub, being written.)
