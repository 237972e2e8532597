//! Issue 10, outputs that do not lose what they accepted: the HTTP output spools every alert
//! on disk and delivers it in order — to an endpoint that was down when the alerts were
//! raised (also across a restart of the agent) and to one that answers 503 for a while.

use std::{
    sync::{atomic::AtomicBool, Arc},
    time::{Duration, Instant},
};

use serde_json::Value;
use sysaudit_tests::*;

/// The alerts' times, in the order given.
fn times(alerts: impl IntoIterator<Item = Value>) -> Vec<u64> {
    alerts
        .into_iter()
        .filter(|a| a["rule"] == "Sensitive file read in a container")
        .filter_map(|a| a["output_fields"]["evt.time"].as_u64())
        .collect()
}

fn received(got: &Received) -> Vec<Value> {
    got.lock()
        .expect("lock")
        .iter()
        .filter_map(|(_, b)| serde_json::from_str(b).ok())
        .collect()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn alerts_wait_in_the_spool_while_the_endpoint_is_down_and_arrive_in_order() {
    if !privileged() {
        return;
    }
    let port = free_port();
    let dir = TempDir::new("spool");
    let spool = dir.0.join("http");
    let conf = dir.0.join("falco.yaml");
    std::fs::write(
        &conf,
        format!(
            "json_output: true\nhttp_output:\n  enabled: true\n  url: http://127.0.0.1:{port}/falco\n  spool_dir: {}\n",
            spool.display()
        ),
    )
    .expect("falco.yaml");
    let watch = ["watch", "-c", conf.to_str().expect("UTF-8")];

    // 1. Nothing listens: the alerts are raised, kept, and outlive the agent.
    let agent = Agent::start(&watch);
    TestContainer::shadow_reader(3).run();
    std::thread::sleep(Duration::from_millis(800));
    let first = agent.stop();
    assert!(first.status.success(), "{}", first.stderr);
    let raised = times(first.events());
    assert_eq!(raised.len(), 3, "{}", first.stdout);
    assert!(
        first.stderr.contains("3 alert(s) left in its spool"),
        "{}",
        first.stderr
    );

    // 2. The endpoint is up and the agent starts again: those come first, in order.
    let down = Arc::new(AtomicBool::new(false));
    let (_, got) = http_receiver_at(port, down.clone());
    let agent = Agent::start(&watch);
    wait_for("the spooled alerts arrive", || received(&got).len() >= 3);
    assert_eq!(times(received(&got)), raised);

    // 3. The endpoint answers 503 for a while: nothing is lost, nothing reordered.
    down.store(true, std::sync::atomic::Ordering::Relaxed);
    TestContainer::shadow_reader(2).run();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        received(&got).len(),
        3,
        "delivered while the endpoint refused"
    );
    down.store(false, std::sync::atomic::Ordering::Relaxed);
    wait_for("the alerts raised during the outage arrive", || {
        received(&got).len() >= 5
    });
    let second = agent.stop();
    assert!(second.status.success(), "{}", second.stderr);
    assert!(
        second.stderr.contains("from an earlier run") && second.stderr.contains("delivering again"),
        "{}",
        second.stderr
    );
    let all = times(received(&got));
    let mut want = raised.clone();
    want.extend(times(second.events()));
    assert_eq!(all, want, "delivered in the order raised");
    // Everything delivered: the spool is gone.
    assert!(!spool.exists(), "{}", spool.display());
}
