//! Enforcing a profile on a command with libseccomp (the library runc uses): the filter is
//! loaded with no_new_privs, then the command is exec'd, so the first syscall under the filter
//! is the command's own `execve` — exactly where `profile -- COMMAND` starts recording.

use crate::messages::message;
use std::{
    ffi::CString,
    io::{self, Read as _, Seek as _},
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::{ffi::OsStrExt, process::CommandExt},
    },
    path::{Path, PathBuf},
    process::{Child, Command},
    time::Duration,
};

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};

use crate::syscalls::Abi;

use super::{
    file::ArgCmp,
    notify::{self, Answer, Denial, Listener, Supervisor},
    profile::{DefaultAction, Profile},
};

#[derive(Debug, thiserror::Error)]
pub(crate) enum EnforceError {
    #[error("libseccomp: {0}")]
    Seccomp(#[from] libseccomp::error::SeccompError),
    #[error("{0}")]
    Command(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn action(a: DefaultAction) -> ScmpAction {
    match a {
        DefaultAction::Errno => ScmpAction::Errno(libc::EPERM),
        DefaultAction::Kill => ScmpAction::KillProcess,
        DefaultAction::Log => ScmpAction::Log,
        DefaultAction::Trap => ScmpAction::Trap,
    }
}

/// Build the filter; names this libseccomp does not know are returned (and left out, as runc
/// does).
pub(crate) fn filter(p: &Profile) -> Result<(ScmpFilterContext, Vec<String>), EnforceError> {
    filter_with(p, action(p.default_action))
}

fn filter_with(
    p: &Profile,
    default: ScmpAction,
) -> Result<(ScmpFilterContext, Vec<String>), EnforceError> {
    let mut ctx = ScmpFilterContext::new(default)?;
    for abi in &p.abis {
        ctx.add_arch(abi.scmp())?;
    }
    let mut unknown = Vec::new();
    for r in p.rules() {
        let action = match r.errno_ret {
            Some(e) => ScmpAction::Errno(e as i32),
            None => ScmpAction::Allow,
        };
        // libseccomp refuses a rule that only repeats the default (runc skips them too).
        if action == default {
            continue;
        }
        let cmps: Vec<ScmpArgCompare> = r.args.iter().filter_map(compare).collect();
        for n in &r.names {
            match ScmpSyscall::from_name(n) {
                Ok(sc) => {
                    ctx.add_rule_conditional(action, sc, &cmps)?;
                }
                Err(_) => unknown.push(n.clone()),
            }
        }
    }
    Ok((ctx, unknown))
}

/// libseccomp's form of an OCI comparison (MASKED_EQ: `value` is the mask).
fn compare(c: &ArgCmp) -> Option<ScmpArgCompare> {
    let op = match c.op.as_str() {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        "SCMP_CMP_MASKED_EQ" => {
            return Some(ScmpArgCompare::new(
                c.index,
                ScmpCompareOp::MaskedEqual(c.value),
                c.value_two,
            ))
        }
        _ => return None,
    };
    Some(ScmpArgCompare::new(c.index, op, c.value))
}

/// Resolve a program name on PATH before any filter is loaded: a search would make syscalls
/// the profile may not allow.
pub(crate) fn program(prog: &str) -> Result<PathBuf, EnforceError> {
    if prog.contains('/') {
        return Ok(Path::new(prog).to_path_buf());
    }
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(prog))
                .find(|c| c.is_file())
        })
        .ok_or_else(|| EnforceError::Command(format!("{prog}: command not found")))
}

/// How a launched command is filtered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// No filter (the reference run); no_new_privs still set, as under the filter.
    Plain,
    /// The profile as written.
    Enforce,
    /// The profile with its default action handed to a listener that lets everything run.
    Listen,
}

/// The longest classic BPF program the kernel loads.
const BPF_MAXINSNS: usize = 4096;

/// A classic BPF program as the kernel takes it.
fn bpf(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, EnforceError> {
    // SAFETY: memfd_create with a static name; the fd is owned below.
    let fd = unsafe { libc::memfd_create(c"sysaudit-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error().into());
    }
    // SAFETY: memfd_create returned a new fd.
    let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(&f)?;
    f.rewind()?;
    let mut raw = Vec::new();
    f.read_to_end(&mut raw)?;
    Ok(raw
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// The filter of `p` as the kernel would hold it (for the interpreter's tests).
#[cfg(test)]
pub(crate) fn compiled(p: &Profile) -> Result<Vec<super::bpf::Insn>, EnforceError> {
    Ok(bpf(&filter(p)?.0)?
        .into_iter()
        .map(|f| super::bpf::Insn {
            code: f.code,
            jt: f.jt,
            jf: f.jf,
            k: f.k,
        })
        .collect())
}

/// The listener's thread of a command launched in [`Mode::Listen`] (none otherwise).
pub(crate) struct Listening(Option<Supervisor>);

impl Listening {
    /// After the child ended: what the listener saw (empty without one).
    pub(crate) fn denials(self) -> Result<Vec<Denial>, EnforceError> {
        match self.0 {
            Some(s) => Ok(s.finish()?),
            None => Ok(Vec::new()),
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are new fds.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// In the child, just before exec: only async-signal-safe calls. With a listener, the fd
/// the kernel will give it (the lowest free one) and our pid are sent first, and the child
/// waits until the parent has taken the listener: after exec it would be closed.
fn install(
    prog: &mut [libc::sock_filter],
    listen: Option<(RawFd, RawFd, RawFd)>,
) -> io::Result<()> {
    let last = io::Error::last_os_error;
    // SAFETY: raw syscalls on fds and memory this closure owns.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
            return Err(last());
        }
        if prog.is_empty() {
            return Ok(());
        }
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_mut_ptr(),
        };
        let Some((ready, ack, ack_w)) = listen else {
            let r = libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &fprog);
            return if r < 0 { Err(last()) } else { Ok(()) };
        };
        // Our copy of the write end would keep the wait below from ever ending if the
        // supervisor gives up; closed before the fd number is predicted.
        libc::close(ack_w);
        let next = libc::fcntl(ready, libc::F_DUPFD, 0);
        if next < 0 {
            return Err(last());
        }
        libc::close(next);
        let msg: [i32; 2] = [libc::getpid(), next];
        if libc::write(ready, msg.as_ptr().cast(), 8) != 8 {
            return Err(last());
        }
        let fd = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &fprog,
        );
        if fd < 0 {
            return Err(last());
        }
        let mut b = 0u8;
        if libc::read(ack, (&mut b as *mut u8).cast(), 1) != 1 {
            // The supervisor could not take the listener: no workload without it.
            return Err(io::Error::from_raw_os_error(libc::ECHILD));
        }
    }
    Ok(())
}

/// Spawn `cmd` (its program resolved already) under `p` in `mode`.
pub(crate) fn launch(
    p: &Profile,
    mut cmd: Command,
    mode: Mode,
) -> Result<(Child, Listening), EnforceError> {
    let mut prog = match mode {
        Mode::Plain => Vec::new(),
        Mode::Enforce => bpf(&filter(p)?.0)?,
        Mode::Listen => {
            let prog = bpf(&filter_with(p, ScmpAction::Notify)?.0)?;
            return supervised(cmd, prog, |_, _, _, _| Answer::Record);
        }
    };
    if prog.len() > BPF_MAXINSNS {
        return Err(EnforceError::Command(format!(
            "the filter has {} instructions; the kernel takes {BPF_MAXINSNS}",
            prog.len()
        )));
    }
    // SAFETY: `install` makes only async-signal-safe calls.
    unsafe { cmd.pre_exec(move || install(&mut prog, None)) };
    Ok((cmd.spawn()?, Listening(None)))
}

/// A serving-phase filter: `serving`'s rules allow; what only `full` allows, and the
/// `markers` (the calls that say serving began), go to the supervisor.
pub(crate) fn phased_filter(
    full: &Profile,
    serving: &Profile,
    markers: &[String],
) -> Result<Vec<libc::sock_filter>, EnforceError> {
    let mut allowed = serving.clone();
    for m in markers {
        allowed.names.remove(m);
        allowed.conditions.remove(m);
    }
    // Start-up's ABIs too: a start-up-only ia32 call must reach the supervisor, not the
    // bad-arch action.
    allowed.abis.extend(full.abis.iter().copied());
    let (mut ctx, _) = filter_with(&allowed, action(full.default_action))?;
    let notify = full
        .names
        .iter()
        .chain(full.conditions.keys())
        .filter(|n| !allowed.names.contains(*n) && !allowed.conditions.contains_key(*n))
        .chain(markers.iter());
    let mut done = std::collections::BTreeSet::new();
    for n in notify {
        if done.insert(n.clone()) {
            if let Ok(sc) = ScmpSyscall::from_name(n) {
                ctx.add_rule(ScmpAction::Notify, sc)?;
            }
        }
    }
    bpf(&ctx)
}

/// Spawn `cmd` under `prog`, its notifications answered by `decide` on a supervisor thread.
pub(crate) fn supervised(
    mut cmd: Command,
    mut prog: Vec<libc::sock_filter>,
    mut decide: impl FnMut(u32, Abi, &str, &[u64; 6]) -> Answer + Send + 'static,
) -> Result<(Child, Listening), EnforceError> {
    let (ready_r, ready_w) = pipe()?;
    let (ack_r, ack_w) = pipe()?;
    let (ready_raw, ack_raw, ack_w_raw) =
        (ready_w.as_raw_fd(), ack_r.as_raw_fd(), ack_w.as_raw_fd());
    if prog.len() > BPF_MAXINSNS {
        return Err(EnforceError::Command(format!(
            "the filter has {} instructions; the kernel takes {BPF_MAXINSNS}",
            prog.len()
        )));
    }
    // spawn() returns only once the child has exec'd, which it does only after the listener
    // is taken: the taking happens on this thread.
    let sup = Supervisor::spawn(move |stop| {
        let mut msg = [0u8; 8];
        std::fs::File::from(ready_r).read_exact(&mut msg)?;
        let pid = i32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
        let target = i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]);
        let fd = notify::take_from(pid, target, Duration::from_secs(5))?;
        // SAFETY: one byte to our own pipe.
        unsafe { libc::write(ack_w.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        let mut l = Listener::new(fd);
        // The launcher's own wait for that byte is not the workload's.
        let mut own_read = true;
        l.serve(stop, |who, abi, name, args| {
            let own = own_read && who as i32 == pid && name == "read" && args[0] == ack_raw as u64;
            own_read &= !own;
            if own {
                Answer::Pass
            } else {
                decide(who, abi, name, args)
            }
        })?;
        Ok(l.denials())
    })?;
    // SAFETY: `install` makes only async-signal-safe calls.
    unsafe { cmd.pre_exec(move || install(&mut prog, Some((ready_raw, ack_raw, ack_w_raw)))) };
    let child = cmd.spawn();
    // The child's copies went with its exec; ours would keep the thread's read waiting.
    drop(ready_w);
    drop(ack_r);
    match child {
        Ok(child) => Ok((child, Listening(Some(sup)))),
        Err(e) => {
            sup.stop();
            Err(e.into())
        }
    }
}

/// Load the profile and exec `argv` in this process. Returns only on failure.
pub(crate) fn exec_under(p: &Profile, argv: &[String]) -> EnforceError {
    let (ctx, unknown) = match filter(p) {
        Ok(x) => x,
        Err(e) => return e,
    };
    if !unknown.is_empty() {
        message!(
            "this libseccomp does not know {}; left out of the filter",
            unknown.join(", ")
        );
    }
    let Some(prog) = argv.first() else {
        return EnforceError::Command("no command".into());
    };
    let path = match program(prog) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let cpath = match CString::new(path.as_os_str().as_bytes()) {
        Ok(c) => c,
        Err(_) => return EnforceError::Command("program path holds a NUL byte".into()),
    };
    let cargs: Vec<CString> = match argv.iter().map(|a| CString::new(a.as_bytes())).collect() {
        Ok(v) => v,
        Err(_) => return EnforceError::Command("an argument holds a NUL byte".into()),
    };
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    if let Err(e) = ctx.load() {
        return e.into();
    }
    // SAFETY: cpath and ptrs are NUL-terminated and outlive the call; execv only returns on
    // failure.
    unsafe { libc::execv(cpath.as_ptr(), ptrs.as_ptr()) };
    EnforceError::Command(format!(
        "{}: {}",
        path.display(),
        std::io::Error::last_os_error()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::Abi;
    use libseccomp::ScmpArch;

    #[test]
    fn builds_a_multi_arch_filter() {
        let mut p = Profile::new(DefaultAction::Errno);
        p.allow(Abi::X86_64, "read");
        p.allow(Abi::Ia32, "socketcall");
        let (ctx, unknown) = filter(&p).unwrap();
        assert!(unknown.is_empty());
        assert!(ctx.is_arch_present(ScmpArch::X86).unwrap());
        p.names.insert("not_a_syscall".into());
        let (_, unknown) = filter(&p).unwrap();
        assert_eq!(unknown, vec!["not_a_syscall"]);
    }
}
