//! `profile --phases` end to end: a server recorded through its start-up and its serving
//! phase gives two profiles; the serving one, applied after start-up by `run --serving`, keeps
//! the server answering while the start-up-only `mkdir` is denied.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::Value;
use sysaudit_tests::*;

fn ask(port: u16, what: &str) -> String {
    let mut reply = String::new();
    eventually(&format!("the server on {port} answers {what}"), || {
        let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(50));
            return false;
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
        if c.write_all(what.as_bytes()).is_err() {
            return false;
        }
        reply.clear();
        let _ = c.read_to_string(&mut reply);
        true
    });
    reply
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn a_serving_profile_applied_after_start_up_keeps_serving_and_denies_start_up_calls() {
    if !privileged() {
        return;
    }
    let dir = TempDir::new("phases");
    let server = dir.0.join("server");
    compile_fixture("phased_server", &server, false);
    let full = dir.0.join("web.json");
    let port = free_port();
    let work = dir.0.join("rec");
    std::fs::create_dir_all(&work).unwrap();
    let agent = Agent::start(&[
        "profile",
        "--phases",
        "-o",
        full.to_str().unwrap(),
        "--",
        server.to_str().unwrap(),
        &port.to_string(),
        work.to_str().unwrap(),
    ]);
    for _ in 0..3 {
        assert_eq!(ask(port, "ping"), "pong\n");
    }
    let _ = ask(port, "quit");
    let res = agent.wait();
    assert!(res.status.success(), "{}", res.stderr);
    assert!(res.stderr.contains("serving from"), "{}", res.stderr);
    let whole = read(&full);
    let serving = read(&dir.0.join("web.serving.json"));
    let (w, s) = (profile_names(&whole), profile_names(&serving));
    for n in ["mkdir", "bind", "listen", "accept4", "read", "write"] {
        assert!(w.contains(&n.to_string()), "the whole run has {n}: {w:?}");
    }
    for n in ["mkdir", "bind", "listen"] {
        assert!(!s.contains(&n.to_string()), "{n} is start-up only: {s:?}");
    }
    for n in ["accept4", "read", "write", "close"] {
        assert!(s.contains(&n.to_string()), "serving needs {n}: {s:?}");
    }
    let ph = &whole["sysaudit"]["phases"];
    assert_eq!(ph["marker"], "accept4");
    assert!(ph["startup_only"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("mkdir")));

    // Applied: the server starts (its mkdir allowed in start-up), serves, and is denied mkdir
    // once serving.
    let port = free_port();
    let work = dir.0.join("run");
    std::fs::create_dir_all(&work).unwrap();
    let mut run = Command::new(bin())
        .args(["run", "--seccomp", full.to_str().unwrap(), "--serving"])
        .arg(dir.0.join("web.serving.json"))
        .arg("--")
        .arg(&server)
        .arg(port.to_string())
        .arg(&work)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(ask(port, "ping"), "pong\n");
    assert!(work.join("started").is_dir(), "start-up ran its mkdir");
    assert_eq!(
        ask(port, "mkdir"),
        "mkdir: denied (Operation not permitted)\n"
    );
    assert_eq!(ask(port, "ping"), "pong\n", "still serving");
    let _ = ask(port, "quit");
    let st = run.wait().unwrap();
    assert!(st.success(), "{st}");
    assert!(!work.join("again").exists());
}
