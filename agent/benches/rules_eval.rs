//! Rules evaluation throughput: Falco's upstream default ruleset (and ours) on the event mix
//! live detection sees — every capture of rules/tests/ (real busybox containers, recorded with
//! the detection syscall set), replayed in order.

#[path = "../../tests/src/reference.rs"]
mod reference;

use std::{fs, path::PathBuf};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sysaudit::{
    event::Event,
    rules::{Engine, Priority},
    rules::{DEFAULT_RULES, DEFAULT_RULES_NAME},
    state::State,
};

fn events() -> Vec<Event> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules/tests");
    let mut names: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("rules/tests")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for p in names {
        for l in fs::read_to_string(&p)
            .expect("capture")
            .lines()
            .filter(|l| !l.is_empty())
        {
            out.push(serde_json::from_str(l).expect("event"));
        }
    }
    out
}

fn engine(name: &str, text: String) -> Engine {
    let l = Engine::load(&[(name.to_string(), text)], Priority::Debug);
    l.engine.expect("rules load")
}

/// Falco's default file from the reference data (the case is skipped, loudly, without it).
fn upstream() -> Option<Engine> {
    let (name, text) = reference::falco_text("falco_rules.yaml")?;
    Some(engine(&name, text))
}

/// State as it is after the replay, so that every event finds its process.
fn state(evs: &[Event]) -> State {
    let mut st = State::replay();
    for e in evs {
        st.observe(e);
    }
    st
}

fn bench(c: &mut Criterion) {
    let evs = events();
    let st = state(&evs);
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(evs.len() as u64));
    let cases = [
        ("falco_rules.yaml", upstream()),
        (
            "sysaudit_rules.yaml",
            Some(engine(DEFAULT_RULES_NAME, DEFAULT_RULES.into())),
        ),
    ];
    for (name, e) in cases.into_iter().filter_map(|(n, e)| Some((n, e?))) {
        g.bench_function(format!("eval/{name}"), |b| {
            let mut alerts = Vec::new();
            b.iter(|| {
                for (i, ev) in evs.iter().enumerate() {
                    alerts.clear();
                    e.eval(ev, &st, i as u64 + 1, &mut alerts);
                }
            })
        });
        g.bench_function(format!("replay/{name}"), |b| {
            b.iter_batched(
                State::replay,
                |mut st| {
                    let mut alerts = Vec::new();
                    for (i, ev) in evs.iter().enumerate() {
                        alerts.clear();
                        e.eval(ev, &st, i as u64 + 1, &mut alerts);
                        st.observe(ev);
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
