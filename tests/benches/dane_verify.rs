//! Benchmark (stub).
fn main() {}
