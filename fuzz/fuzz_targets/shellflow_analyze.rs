//! Fuzz target for shellflow's parser and interpreter: any bytes as an entrypoint script.
//! The setup and the invariants live in `shellflow::fuzzing::check_one`, shared with the test
//! that replays the inputs found here (`shellflow/tests/robustness.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

/// The analyses run in shellflow's arena, as in the `entrytrace` binary.
#[global_allocator]
static ARENA: shellflow::arena::Arena<std::alloc::System> =
    shellflow::arena::Arena::new(std::alloc::System);

fuzz_target!(|data: &[u8]| {
    if let Err(e) = shellflow::fuzzing::check_one(data) {
        panic!("{e}");
    }
});
