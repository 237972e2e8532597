//! Any bytes as a capture: events that parse go through the state and every default rule,
//! alerts rendered; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysaudit::rules::fuzzing::replay_capture;

fuzz_target!(|data: &[u8]| {
    if data.len() <= 1 << 16 {
        replay_capture(data);
    }
});
