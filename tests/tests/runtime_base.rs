//! `profile base`: the runtime's own syscalls after it loads a container's filter, measured on
//! the runc and crun installed here rather than assumed. runc's share holds what the fixed
//! Go-runtime list lacks (its exec fifo and fd sweep); crun's holds none of Go's scheduler
//! calls. A container profile built on crun's measured base, without the Go list, verifies
//! under crun.

use std::path::Path;

use serde_json::Value;
use sysaudit_tests::*;

fn base(runtime: &str, out: &Path) -> Value {
    let r = sysaudit(&[
        "profile",
        "base",
        "--runtime",
        runtime,
        "--runs",
        "3",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", r.stderr);
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

#[test]
fn runc_and_crun_shares_are_measured_and_a_crun_profile_needs_no_go_list() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("rtbase");
    let runc = base("runc", &dir.0.join("runc.json"));
    assert!(
        runc["sysaudit"]["runtime"]
            .as_str()
            .unwrap()
            .starts_with("runc version"),
        "{runc}"
    );
    let rn = profile_names(&runc);
    for n in ["execve", "write", "openat", "close"] {
        assert!(
            rn.contains(&n.to_string()),
            "runc's share lacks {n}: {rn:?}"
        );
    }
    let crun_rt = crun_hybrid(&dir.0);
    let crun = base(crun_rt.to_str().unwrap(), &dir.0.join("crun.json"));
    assert!(
        crun["sysaudit"]["runtime"]
            .as_str()
            .unwrap()
            .starts_with("crun version"),
        "{crun}"
    );
    let cn = profile_names(&crun);
    assert!(cn.contains(&"execve".to_string()), "{cn:?}");
    for go in ["sigaltstack", "tgkill", "sched_yield"] {
        assert!(
            !cn.contains(&go.to_string()),
            "crun is no Go program: {cn:?}"
        );
    }

    // A container's profile on crun's base: no Go list, crun's version named, and it runs.
    let script = "rm -rf /tmp/x; mkdir /tmp/x && echo made";
    let c = TestContainer::new(&["sh", "-c", script]);
    let file = dir.0.join("ctr.json");
    let base = dir.0.join("crun.json");
    let (_, p) = record_container(&c, &file, &["--runtime-base", base.to_str().unwrap()]);
    assert!(
        p["sysaudit"]["runtime"]
            .as_str()
            .unwrap()
            .starts_with("crun version"),
        "{p}"
    );
    assert!(
        !profile_names(&p).contains(&"sigaltstack".to_string()),
        "{p}"
    );
    let again = TestContainer::new(&["sh", "-c", script]);
    let v = sysaudit(&[
        "profile",
        "verify",
        file.to_str().unwrap(),
        "--bundle",
        again.bundle.dir.to_str().unwrap(),
        "--runtime",
        crun_rt.to_str().unwrap(),
    ]);
    assert_eq!(v.status.code(), Some(0), "{}", v.stderr);
}
