#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daneel_core::fuzzing::scan::run(data));
