//! Any bytes as a rules file: the YAML loader, merging, exceptions and the compiler must
//! report located errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sysaudit::rules::fuzzing::load_and_render;

fuzz_target!(|data: &[u8]| {
    load_and_render(String::from_utf8_lossy(data).into_owned());
});
