//! Values the record does not spell out: raw argument words, the parameters Falco's exit
//! events carry beyond a call's arguments (filled from the state), the process's descriptor
//! types, whether a call is I/O.

use std::borrow::Cow;

use super::{nonempty, nonzero, owned, s, Ctx};
use crate::{
    event::{ArgValue, SyscallEvent},
    rules::{fields::Arg, value::Val},
    syscalls::args::{exit_param, signature, Kind},
};

/// Falco's `evt.is_io`: the calls its event table marks as reading from or writing to a
/// descriptor (`pread`/`pwrite` are Falco's names of the 64-bit calls).
pub(super) fn is_io(syscall: &str) -> bool {
    matches!(
        syscall,
        "read"
            | "write"
            | "pread"
            | "pread64"
            | "pwrite"
            | "pwrite64"
            | "readv"
            | "writev"
            | "preadv"
            | "pwritev"
            | "recv"
            | "recvfrom"
            | "recvmsg"
            | "recvmmsg"
            | "send"
            | "sendto"
            | "sendmsg"
            | "sendmmsg"
            | "copy_file_range"
            | "finit_module"
    )
}

/// `evt.rawarg.NAME` of argument `v`: numbers as numbers, a decoded flag word or descriptor
/// as the register the kernel saw, paths and addresses as text.
pub(super) fn raw_arg<'e>(e: &'e SyscallEvent, name: &str, v: &'e ArgValue) -> Option<Val<'e>> {
    match v {
        ArgValue::Int(i) => Some(Val::Int(*i)),
        ArgValue::Hex(h) => Some(Val::Int(*h as i64)),
        ArgValue::Bytes(b) => Some(Val::Bytes(Cow::Borrowed(b))),
        ArgValue::Null => None,
        ArgValue::Str(x) => {
            let sig = signature(&e.syscall).unwrap_or_default();
            match sig
                .iter()
                .position(|(n, _)| *n == name)
                .map(|p| (p, sig[p].1))
            {
                Some((_, Kind::Path | Kind::SockAddr(_) | Kind::SockAddrOut(_))) | None => s(x),
                Some((p, kind)) => {
                    let r = e.regs?[p];
                    Some(Val::Int(match kind {
                        Kind::Fd | Kind::DirFd | Kind::Int | Kind::Signal => r as i32 as i64,
                        _ => r as i64,
                    }))
                }
            }
        }
    }
}

impl<'a> Ctx<'a> {
    /// A parameter of Falco's exit event that is not an argument of the call: the process
    /// after an exec, a connection's tuple.
    pub(super) fn exit_param(&self, e: &SyscallEvent, name: &str, raw: bool) -> Option<Val<'_>> {
        let kind = exit_param(&e.syscall, name)?;
        if kind == Kind::Tuple {
            let f = self.fd()?;
            return f
                .info
                .kind
                .is_net()
                .then(|| owned(f.info.tuple()))
                .flatten();
        }
        let t = self.ev.task();
        let p = self.proc()?;
        let a = &p.attrs;
        let num = |v: i64| Some(Val::Int(v));
        let caps = |v: u64| {
            if raw {
                Some(Val::Int(v as i64))
            } else {
                owned(format!("{v:#x}"))
            }
        };
        match name {
            "exe" => s(p.args.first().map_or(&*p.comm, String::as_str)),
            "args" => owned(p.args.iter().skip(1).cloned().collect::<Vec<_>>().join(" ")),
            "tid" => num(t.tid as i64),
            "pid" => num(t.pid as i64),
            "ptid" => num(p.ppid as i64),
            "cwd" => nonempty(&a.cwd),
            "comm" => s(&t.comm),
            "env" => owned(a.env.join(" ")),
            "tty" => num(a.tty as i64),
            "pgid" => num(a.vpgid as i64),
            "loginuid" => num(a.loginuid),
            "cap_inheritable" => caps(a.cap_inheritable),
            "cap_permitted" => caps(a.cap_permitted),
            "cap_effective" => caps(a.cap_effective),
            "exe_ino" => nonzero(a.exe_ino),
            "exe_ino_ctime" => nonzero(a.exe_ctime),
            "exe_ino_mtime" => nonzero(a.exe_mtime),
            "uid" => num(t.uid as i64),
            "gid" => num(t.gid as i64),
            "trusted_exepath" => nonempty(&p.exe),
            _ => None,
        }
    }

    /// `fd.types`: the types of the process's descriptors in descriptor order, each once;
    /// with an index, that descriptor's alone. `None` for a process the state lacks.
    pub(super) fn fd_types(&self, arg: &Arg) -> Option<Vec<&'static str>> {
        let pid = self.ev.task().pid;
        self.proc()?;
        let mut out: Vec<&'static str> = Vec::new();
        match arg {
            Arg::Index(fd) => {
                if let Some(i) = self.st.fds.get(pid, *fd as i64) {
                    out.push(i.kind.name());
                }
            }
            _ => {
                for k in self.st.fds.kinds(pid) {
                    if !out.contains(&k.name()) {
                        out.push(k.name());
                    }
                }
            }
        }
        Some(out)
    }
}
