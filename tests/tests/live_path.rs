//! The live path costs the watched workload no syscall of the agent's per event: relative
//! paths, user names and process facts come from the state, not from /proc.

use sysaudit_tests::*;

#[test]
fn a_storm_costs_the_agent_less_than_one_syscall_per_thousand_events() {
    if !privileged() {
        return;
    }
    let agent = Agent::start(&["watch", "--json", "-o", "/dev/null"]);
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
