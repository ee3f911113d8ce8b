//! Fuzz target: see `rumor::fuzzing::decode` for what one input does and what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rumor::fuzzing::decode(data));
