//! The live path costs the watched workload no syscall of the agent's per event: relative
//! paths, user names and process facts come from the state, not from /proc.

use sysaudit_tests::*;

#[test]
fn a_storm_costs_the_agent_less_than_one_syscall_per_thousand_events() {
    if !privileged() {
        return;
    }
    let agent = Agent::start(&["watch", "--json", "--output", "/dev/null"]);
    let out = storm_container(1_500_000).run();
    let res = agent.stop();
    let stats = res.stats();
    let k = &stats["kernel"];
    let records = stats["records"].as_u64().unwrap_or(0);
    let own = k["filtered_self"].as_u64().unwrap_or(u64::MAX);
    eprintln!(
        "storm: {} | records {records}, agent's own syscalls {own}, lost {}",
        String::from_utf8_lossy(&out.stdout).trim(),
        stats["lost"]
    );
    // Every open and close of the storm is in the interesting set (the state follows them).
    assert!(records >= 1_000_000, "{stats}");
    assert!(
        own * 1000 < records,
        "the agent made {own} syscalls for {records} events: {stats}"
    );
    // A quiet run: no kernel anomaly met (each would be logged and counted).
    for a in ["paths_cut", "too_big", "no_scratch"] {
        assert_eq!(k[a], 0, "{a}: {stats}");
    }
}

#[test]
fn relative_opens_are_resolved_against_the_tracked_working_directory() {
    if !privileged() {
        return;
    }
    let agent = Agent::start(&["trace", "--json"]);
    let ctr = storm_container(500);
    ctr.run();
    let res = agent.stop();
    let events = res.events();
    let opens: Vec<_> = syscalls_of(&events, ctr.id())
        .into_iter()
        .filter(|e| {
            e["args"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("storm"))
        })
        .collect();
    assert!(opens.len() > 500, "{} storm opens", opens.len());
    for e in &opens {
        assert_eq!(e["path"], "/tmp/storm", "{e}");
    }
    assert!(
        opens.iter().any(|e| e["args"]["name"] == "storm"),
        "half the opens are relative"
    );
}

/// Issue 13, overload: storms beyond what a small ring and a printing consumer can take. The
/// agent keeps running, every record the kernel wrote is read or counted lost at its stage,
/// and once the load falls a quiet container is seen whole.
#[test]
fn overload_is_counted_exactly_and_the_agent_recovers() {
    if !privileged() {
        return;
    }
    let agent = Agent::start(&["trace", "--json", "--ring-size", "64K"]);
    let storms: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(|| storm_container(150_000).run()))
        .collect();
    for s in storms {
        s.join().expect("storm container");
    }
    let quiet = TestContainer::new(&["cat", "/etc/hostname"]);
    quiet.run();
    let res = agent.stop();
    let stats = res.stats();
    let k = &stats["kernel"];
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let lost = n(&stats["lost"]);
    assert!(lost > 0, "the storms must overload a 64 KiB ring: {stats}");
    // Every record the kernel wrote was received...
    assert_eq!(
        n(&stats["records"]),
        n(&k["emitted"]) + n(&k["lifecycle_emitted"]),
        "{stats}"
    );
    // ...and every one it could not write is counted at its stage.
    assert_eq!(
        lost,
        n(&k["ring_full"])
            + n(&k["too_big"])
            + n(&k["lifecycle_lost"])
            + n(&k["no_scratch"])
            + n(&stats["decode_errors"]),
        "{stats}"
    );
    // Recovered: the quiet container after the storms is seen whole.
    let events = res.events();
    let opened = syscalls_of(&events, quiet.id())
        .into_iter()
        .any(|e| e["syscall"] == "openat" && e["path"] == "/etc/hostname");
    assert!(
        opened,
        "the quiet container's open is missing after the storms"
    );
    assert_eq!(res.status.code(), Some(3), "a lossy run exits 3");
}
