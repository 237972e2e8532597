//! Enforcing a profile on a command with libseccomp (the library runc uses): the filter is
//! loaded with no_new_privs, then the command is exec'd, so the first syscall under the filter
//! is the command's own `execve` — exactly where `profile -- COMMAND` starts recording.

use crate::messages::message;
use std::{ffi::CString, os::unix::ffi::OsStrExt, path::Path};

use libseccomp::{ScmpAction, ScmpFilterContext, ScmpSyscall};

use super::profile::{DefaultAction, Profile};

#[derive(Debug, thiserror::Error)]
pub(crate) enum EnforceError {
    #[error("libseccomp: {0}")]
    Seccomp(#[from] libseccomp::error::SeccompError),
    #[error("{0}")]
    Command(String),
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
    let mut ctx = ScmpFilterContext::new(action(p.default_action))?;
    for abi in &p.abis {
        ctx.add_arch(abi.scmp())?;
    }
    let mut unknown = Vec::new();
    for n in &p.names {
        match ScmpSyscall::from_name(n) {
            Ok(sc) => {
                ctx.add_rule(ScmpAction::Allow, sc)?;
            }
            Err(_) => unknown.push(n.clone()),
        }
    }
    Ok((ctx, unknown))
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
    // Resolve the program before the filter is loaded: a PATH search would make syscalls the
    // profile may not allow.
    let path = if prog.contains('/') {
        Path::new(prog).to_path_buf()
    } else {
        match std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(prog))
                .find(|c| c.is_file())
        }) {
            Some(p) => p,
            None => return EnforceError::Command(format!("{prog}: command not found")),
        }
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
