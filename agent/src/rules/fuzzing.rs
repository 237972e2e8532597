//! The fuzz targets' harness, shared with the regression tests that replay what the fuzzers
//! found (agent/fuzz/regressions/): arbitrary input in, diagnostics out, never a panic.

use super::{Engine, Priority};

const PRELUDE: &str = "- list: shells\n  items: [sh, bash, \"a b\"]\n- list: empty\n  items: []\n\
- macro: spawned\n  condition: evt.type in (execve, execveat)\n- macro: container\n  condition: container.id != host\n";

/// A rules file whose rule condition is `cond` (kept verbatim in a literal block), with a few
/// lists and macros for it to use.
pub fn condition_file(cond: &str) -> String {
    let body: String = cond.lines().map(|l| format!("    {l}\n")).collect();
    format!("{PRELUDE}- rule: fuzzed\n  desc: d\n  condition: |-\n{body}  output: \"%proc.name %fd.name\"\n  priority: WARNING\n")
}

/// Load a rules file and render its diagnostics. Returns false if the loader panicked
/// (which [`Engine::load`] reports as a diagnostic rather than crashing).
pub fn load_and_render(yaml: String) -> bool {
    let loaded = Engine::load(&[("fuzz.yaml".into(), yaml)], Priority::Debug);
    for d in &loaded.diags {
        let _ = d.render(&loaded.files);
    }
    !loaded
        .diags
        .iter()
        .any(|d| d.msg.contains("failed unexpectedly"))
}

/// Replay any bytes as a capture (JSON lines, as `rules test` reads them) through the state
/// and the default rules with every match evaluated and every alert rendered: decoding,
/// the state's tracking and field extraction must take anything, never panic.
pub fn replay_capture(data: &[u8]) {
    use std::sync::OnceLock;
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    let Some(engine) = ENGINE.get_or_init(|| {
        let mut e = super::default::load(&[], Priority::Debug).ok()?.0;
        e.matching = super::Matching::All;
        Some(e)
    }) else {
        return;
    };
    let mut state = crate::state::State::replay();
    let mut d = super::detect::Detector::new(engine.clone());
    for line in String::from_utf8_lossy(data).lines() {
        if let Ok(ev) = serde_json::from_str::<crate::event::Event>(line) {
            for a in d.step(&ev, &state) {
                let _ = (a.line(), a.to_json());
            }
            state.observe(&ev);
        }
    }
}
