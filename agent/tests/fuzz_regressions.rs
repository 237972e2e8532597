//! Inputs the fuzzers once crashed on (agent/fuzz/regressions/<target>/, each file named after
//! the bug it pins), run through the fuzz targets' own harness: they must produce diagnostics,
//! not panics. So far one bug: the condition lexer's keyword check sliced a UTF-8 character.

use std::{fs, path::PathBuf};

use sysaudit::rules::fuzzing::{condition_file, load_and_render, replay_capture};

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut v: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| (e.path(), fs::read(e.path()).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|(_, d)| d).collect()
}

#[test]
fn condition_regressions() {
    let v = inputs("condition");
    assert!(!v.is_empty());
    for data in v {
        if let Ok(cond) = std::str::from_utf8(&data) {
            assert!(load_and_render(condition_file(cond)), "{cond:?}");
        }
    }
}

#[test]
fn loader_regressions() {
    let v = inputs("loader");
    assert!(!v.is_empty());
    for data in v {
        assert!(load_and_render(String::from_utf8_lossy(&data).into_owned()));
    }
}

#[test]
fn replay_regressions() {
    // What the replay fuzzer found, then the real captures the ruleset is tested on (its
    // seeds): every one replays through the state and the rules without a panic.
    let mut v = inputs("replay");
    let caps = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/tests");
    for e in fs::read_dir(&caps).expect("rules/tests").flatten() {
        if e.path().extension().is_some_and(|x| x == "jsonl") {
            v.push(fs::read(e.path()).expect("capture"));
        }
    }
    assert!(v.len() > 10, "{} inputs", v.len());
    for data in v {
        replay_capture(&data);
    }
}
