//! The detection step every consumer of events shares (`watch`, `demo`, `rules test`): number
//! the event, evaluate the rules on it, count what fired. Which events reach it (a container
//! selection) and where alerts go stay with the caller.

use std::collections::BTreeMap;

use super::{Alert, Engine};
use crate::{event::Event, state::State};

pub(crate) struct Detector {
    pub(crate) engine: Engine,
    events: u64,
    alerts: Vec<Alert>,
    fired: BTreeMap<String, u64>,
}

impl Detector {
    pub(crate) fn new(engine: Engine) -> Detector {
        Detector {
            engine,
            events: 0,
            alerts: Vec::new(),
            fired: BTreeMap::new(),
        }
    }

    /// Evaluate one event (before the state applies it) and return its alerts; it is
    /// numbered (`evt.num`) in the order this detector sees events.
    pub(crate) fn step(&mut self, ev: &Event, st: &State) -> &[Alert] {
        self.step_numbered(ev, st, self.events + 1)
    }

    /// [`Detector::step`] for an event the stream numbered (several workers share one
    /// numbering: the record's place in the ring).
    pub(crate) fn step_numbered(&mut self, ev: &Event, st: &State, num: u64) -> &[Alert] {
        self.events += 1;
        self.alerts.clear();
        self.engine.eval(ev, st, num, &mut self.alerts);
        for al in &self.alerts {
            *self.fired.entry(al.rule.clone()).or_default() += 1;
        }
        &self.alerts
    }

    /// Events evaluated so far (the last one's `evt.num`).
    pub(crate) fn events(&self) -> u64 {
        self.events
    }

    /// Alerts per rule name.
    pub(crate) fn fired(&self) -> &BTreeMap<String, u64> {
        &self.fired
    }

    pub(crate) fn alerts(&self) -> u64 {
        self.fired.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        event::{ArgValue, SyscallEvent, Task},
        rules::Priority,
        syscalls::Abi,
    };

    /// An `openat` of /etc/passwd by pid 1 of `container`.
    fn open(container: &str) -> Event {
        Event::Syscall(SyscallEvent {
            task: Task {
                pid: 1,
                tid: 1,
                container_id: container.into(),
                ..Default::default()
            },
            syscall: "openat".into(),
            nr: 257,
            abi: Abi::X86_64,
            ret: Some(3),
            path: Some("/etc/passwd".into()),
            args: Default::default(),
            truncated: false,
            via: None,
            regs: None,
        })
    }

    #[test]
    fn the_kernel_copies_io_buffers_only_for_rules_that_read_them() {
        let with = |cond: &str, out: &str| {
            let yaml = format!(
                "- rule: r\n  desc: d\n  condition: {cond}\n  output: {out}\n  priority: WARNING\n"
            );
            let l = Engine::load(&[("t.yaml".into(), yaml)], Priority::Debug);
            l.engine
                .expect("rules load")
                .reads(crate::rules::fields::F::EvtBuffer)
        };
        assert!(with("evt.type = write and evt.buffer contains x", "o"));
        assert!(with("evt.type = write", "o %evt.buffer"));
        assert!(!with("evt.type = write", "o %fd.name"));
        let (default, _) =
            crate::rules::default::load(&[], Priority::Debug).expect("default rules");
        assert!(!default.reads(crate::rules::fields::F::EvtBuffer));
    }

    #[test]
    fn alerts_name_their_container_as_falcos_do_by_default() {
        let yaml = "- rule: any open\n  desc: d\n  condition: evt.type = openat\n  output: opened %fd.name\n  priority: WARNING\n";
        let mut engine = Engine::load(&[("t.yaml".into(), yaml.into())], Priority::Debug)
            .engine
            .expect("rules load");
        engine.decorate();
        let mut d = Detector::new(engine);
        let st = State::replay();
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let al = d.step(&open(id), &st)[0].clone();
        assert!(
            al.message
                .ends_with(" container_id=0123456789ab container_name=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            "{}",
            al.message
        );
        let keys: Vec<&str> = al.output_fields.iter().map(|(k, _)| k.as_str()).collect();
        for k in [
            "fd.name",
            "container.id",
            "container.name",
            "container.image.repository",
            "container.image.tag",
            "k8s.ns.name",
            "k8s.pod.name",
        ] {
            assert!(keys.contains(&k), "{k}: {keys:?}");
        }
        let host = d.step(&open(crate::state::HOST), &st)[0].clone();
        assert!(
            host.message
                .ends_with(" container_id=host container_name=host"),
            "{}",
            host.message
        );
    }

    #[test]
    fn modifiers_count_the_items_the_comparison_holds_for() {
        let fires = |cond: &str| {
            let yaml = format!(
                "- rule: r\n  desc: d\n  condition: evt.type = openat and {cond}\n  output: o\n  priority: WARNING\n"
            );
            let loaded = Engine::load(&[("t.yaml".into(), yaml)], Priority::Debug);
            let mut d = Detector::new(loaded.engine.expect("rules load"));
            !d.step(&open(crate::state::HOST), &State::replay())
                .is_empty()
        };
        // fd.name = /etc/passwd (libs' FILTERCHECK_MOD cases, on a path).
        for (cond, want) in [
            ("fd.name startswith oneof (/etc, /var)", true),
            ("fd.name startswith oneof (/etc, /etc/pa)", false),
            ("fd.name startswith anyof (/etc, /etc/pa)", true),
            ("fd.name startswith allof (/etc, /etc/pa)", true),
            ("fd.name startswith allof (/etc, /var)", false),
            ("fd.name == oneof (/etc/passwd, /etc/passwd)", false),
            ("fd.name == anyof (/etc/passwd, /etc/passwd)", true),
            ("fd.name != oneof (/etc/passwd, /bin/sh)", true),
            ("fd.name != oneof (/bin/sh, /bin/ls)", false),
            ("fd.name != allof (/bin/sh, /bin/ls)", true),
            ("fd.name != allof ()", false),
            ("fd.name glob anyof (/tmp/*, /etc/p*)", true),
            ("fd.name == oneof and evt.type = openat", false),
            // Multivalue transformers over the event's fields.
            ("concat(fd.directory, \"/x\") = /etc/x", true),
            ("join(\"->\", (fd.name, \"a\")) = /etc/passwd->a", true),
            ("len(join(\"-\", (fd.name, fd.directory))) = 16", true),
            (
                "toupper(concat(fd.name, fd.directory)) = /ETC/PASSWD/ETC",
                true,
            ),
            ("getopt((\"-t\", fd.name), \"t:\")[t] = /etc/passwd", true),
            (
                "getopt((\"-n\", \"-t\", fd.name), \"nt:\") intersects (n)",
                true,
            ),
            (
                "getopt((\"-n\", \"-t\", fd.name), \"nt:\") in (n, t)",
                false,
            ),
            ("getopt((\"-n\"), \"nt:\")[t] != \"\"", false),
        ] {
            assert_eq!(fires(cond), want, "{cond}");
        }
    }

    #[test]
    fn numbers_events_and_counts_alerts_per_rule() {
        let yaml = "- rule: any open\n  desc: d\n  condition: evt.type = openat\n  output: o %evt.num\n  priority: WARNING\n";
        let loaded = Engine::load(&[("t.yaml".into(), yaml.into())], Priority::Debug);
        let mut d = Detector::new(loaded.engine.expect("rules load"));
        let st = State::replay();
        let open = open(crate::state::HOST);
        assert_eq!(d.step(&open, &st).len(), 1);
        let second = d.step(&open, &st);
        assert_eq!(second[0].rule, "any open");
        assert!(second[0].message.ends_with("o 2"), "{}", second[0].message);
        assert_eq!((d.events(), d.alerts()), (2, 2));
        assert_eq!(d.fired().get("any open"), Some(&2));
    }

    /// A syscall of pid 1 on the host with arguments and registers.
    fn call(
        name: &'static str,
        ret: i64,
        args: &[(&'static str, ArgValue)],
        regs: [u64; 6],
    ) -> Event {
        let mut a = crate::syscalls::value::Args::default();
        for (k, v) in args {
            a.push(k, v.clone());
        }
        Event::Syscall(SyscallEvent {
            task: Task {
                pid: 1,
                tid: 1,
                exe: "/usr/bin/app".into(),
                container_id: crate::state::HOST.into(),
                ..Default::default()
            },
            syscall: name.into(),
            nr: 0,
            abi: Abi::X86_64,
            ret: Some(ret),
            path: None,
            args: a,
            truncated: false,
            via: None,
            regs: Some(regs),
        })
    }

    #[test]
    fn fd_types_is_a_list_and_rawarg_reads_the_registers() {
        let str_arg = |v: &str| ArgValue::Str(v.into());
        let socket = call(
            "socket",
            3,
            &[
                ("domain", str_arg("AF_INET")),
                ("type", str_arg("SOCK_STREAM")),
            ],
            [2, 1, 0, 0, 0, 0],
        );
        let openat = call(
            "openat",
            4,
            &[
                ("dirfd", str_arg("AT_FDCWD")),
                ("name", str_arg("/etc/hosts")),
                ("flags", str_arg("O_RDONLY|O_CLOEXEC")),
            ],
            [libc::AT_FDCWD as u64, 0x1000, 0x80000, 0, 0, 0],
        );
        let mut st = State::replay();
        st.observe(&socket);
        st.observe(&openat);
        let fires = |cond: &str| {
            let yaml = format!(
                "- rule: r\n  desc: d\n  condition: evt.type = openat and {cond}\n  output: o %fd.types\n  priority: WARNING\n"
            );
            let loaded = Engine::load(&[("t.yaml".into(), yaml)], Priority::Debug);
            let mut d = Detector::new(loaded.engine.expect("rules load"));
            d.step(&openat, &st).first().map(|a| a.message.clone())
        };
        for (cond, want) in [
            ("fd.types intersects (ipv4)", true),
            ("fd.types in (file, ipv4)", true),
            ("fd.types in (file)", false),
            ("fd.types exists", true),
            ("len(fd.types) = 2", true),
            ("toupper(fd.types) intersects (IPV4)", true),
            ("fd.types[3] in (ipv4)", true),
            ("fd.types[4] in (ipv4)", false),
            ("join(\",\", fd.types) = \"ipv4,file\"", true),
            ("evt.rawarg.flags = 524288", true),
            ("evt.rawarg.dirfd = -100", true),
            ("evt.rawarg.name = /etc/hosts", true),
            ("evt.count = 1 and evt.is_io = false", true),
        ] {
            assert_eq!(fires(cond).is_some(), want, "{cond}");
        }
        assert_eq!(fires("evt.count = 1").as_deref(), Some("o (ipv4,file)"));
    }
}
