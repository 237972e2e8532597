//! Any text as a rule condition (with a few lists and macros around it): parsing, list
//! substitution, macro resolution and type checking must report errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysaudit::rules::fuzzing::{condition_file, load_and_render};

fuzz_target!(|data: &[u8]| {
    let Ok(cond) = std::str::from_utf8(data) else { return };
    if cond.len() <= 4096 {
        load_and_render(condition_file(cond));
    }
});
