//! Ring-buffer bytes → typed records. Pure and bounds-checked: a short or inconsistent record
//! is an error, never a panic or an out-of-bounds read.

use sysaudit_common::{
    flags, kind, CgroupRecord, ExecRecord, ExitRecord, FileFacts, FirstUseRecord, ForkRecord,
    Header, SyscallRecord, TASK_COMM_LEN,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum DecodeError {
    #[error("record of {0} bytes is too short for its kind")]
    Short(usize),
    #[error("unknown record kind {0}")]
    Kind(u16),
    #[error("record tail of {tail} bytes does not match its field lengths")]
    Tail { tail: usize },
}

/// A record, borrowing its variable parts from the ring buffer.
#[derive(Debug)]
pub(crate) enum Record<'a> {
    Syscall {
        rec: SyscallRecord,
        strings: [Option<&'a [u8]>; 2],
        addr: Option<&'a [u8]>,
        /// The file behind the descriptor an open returned.
        file: Option<FileFacts>,
    },
    Fork(ForkRecord),
    Exec {
        rec: ExecRecord,
        argv: Vec<&'a [u8]>,
        env: Vec<&'a [u8]>,
        filename: &'a [u8],
        /// The executable's path components, leaf first (see [`path_of`]).
        exe: Vec<&'a [u8]>,
        /// The working directory's path components, leaf first.
        cwd: Vec<&'a [u8]>,
    },
    Exit(ExitRecord),
    /// A cgroup v2 directory was made (`removed` false) or removed.
    Cgroup {
        rec: CgroupRecord,
        path: &'a [u8],
        removed: bool,
    },
    /// A profiled cgroup's first use of a syscall.
    FirstUse(FirstUseRecord),
}

fn read<T: Copy>(b: &[u8]) -> Result<T, DecodeError> {
    if b.len() < std::mem::size_of::<T>() {
        return Err(DecodeError::Short(b.len()));
    }
    // SAFETY: length checked above; T is a plain #[repr(C)] integer struct, any bit pattern
    // is valid, and read_unaligned copes with the buffer's alignment.
    Ok(unsafe { std::ptr::read_unaligned(b.as_ptr() as *const T) })
}

/// The record's header alone (`None`: too short to hold one).
pub(crate) fn peek_header(b: &[u8]) -> Option<Header> {
    read(b).ok()
}

pub(crate) fn decode(b: &[u8]) -> Result<Record<'_>, DecodeError> {
    let hdr: Header = read(b)?;
    match hdr.kind {
        kind::SYSCALL => {
            let rec: SyscallRecord = read(b)?;
            let mut tail = &b[std::mem::size_of::<SyscallRecord>()..];
            let mut strings = [None, None];
            for (i, len) in rec.str_len.iter().enumerate() {
                let len = *len as usize;
                if len > 0 {
                    let (s, rest) = split(tail, len)?;
                    strings[i] = Some(s);
                    tail = rest;
                }
            }
            let addr = if rec.addr_len > 0 {
                let (a, rest) = split(tail, rec.addr_len as usize)?;
                tail = rest;
                Some(a)
            } else {
                None
            };
            let file = if rec.hdr.flags & flags::FILE_FACTS != 0 {
                Some(read::<FileFacts>(tail).map_err(|_| DecodeError::Tail { tail: tail.len() })?)
            } else {
                None
            };
            Ok(Record::Syscall {
                rec,
                strings,
                addr,
                file,
            })
        }
        kind::FORK => Ok(Record::Fork(read(b)?)),
        kind::EXIT => Ok(Record::Exit(read(b)?)),
        kind::EXEC => {
            let rec: ExecRecord = read(b)?;
            let tail = &b[std::mem::size_of::<ExecRecord>()..];
            let (exe, rest) = split(tail, rec.exe.exe_len as usize)?;
            let (cwd, rest) = split(rest, rec.exe.cwd_len as usize)?;
            let (args, rest) = split(rest, rec.argv_len as usize)?;
            let (env, rest) = split(rest, rec.env_len as usize)?;
            let (filename, _) = split(rest, rec.filename_len as usize)?;
            Ok(Record::Exec {
                rec,
                argv: strings(args),
                env: strings(env),
                filename,
                exe: strings(exe),
                cwd: strings(cwd),
            })
        }
        kind::CGROUP_MKDIR | kind::CGROUP_RMDIR => {
            let rec: CgroupRecord = read(b)?;
            let tail = &b[std::mem::size_of::<CgroupRecord>()..];
            let (path, _) = split(tail, rec.path_len as usize)?;
            Ok(Record::Cgroup {
                rec,
                path,
                removed: hdr.kind == kind::CGROUP_RMDIR,
            })
        }
        kind::FIRST_USE => Ok(Record::FirstUse(read(b)?)),
        k => Err(DecodeError::Kind(k)),
    }
}

/// Whose state a record belongs to: what the reader needs to route it to a worker, read from
/// the fixed part only (the worker decodes the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Every worker keeps the cgroup → container map.
    All,
    /// The process `tgid`; a fork also names the new task's process.
    Task { tgid: u32, child: Option<u32> },
}

pub(crate) fn owner(b: &[u8]) -> Result<Owner, DecodeError> {
    let hdr: Header = read(b)?;
    let tgid = (hdr.pid_tgid >> 32) as u32;
    match hdr.kind {
        kind::SYSCALL | kind::EXEC | kind::EXIT | kind::FIRST_USE => {
            Ok(Owner::Task { tgid, child: None })
        }
        kind::FORK => {
            let r: ForkRecord = read(b)?;
            Ok(Owner::Task {
                tgid,
                child: Some(r.child_tgid),
            })
        }
        kind::CGROUP_MKDIR | kind::CGROUP_RMDIR => Ok(Owner::All),
        k => Err(DecodeError::Kind(k)),
    }
}

/// A path from the kernel's walk: components leaf first, the root's none.
pub(crate) fn path_of(components: &[&[u8]]) -> String {
    let mut out = String::new();
    for c in components.iter().rev() {
        out.push('/');
        out.push_str(&String::from_utf8_lossy(c));
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// NUL-terminated strings (the last one may be cut short of its NUL).
fn strings(b: &[u8]) -> Vec<&[u8]> {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    if b.is_empty() {
        Vec::new()
    } else {
        b.split(|c| *c == 0).collect()
    }
}

fn split(b: &[u8], n: usize) -> Result<(&[u8], &[u8]), DecodeError> {
    if b.len() < n {
        return Err(DecodeError::Tail { tail: b.len() });
    }
    Ok(b.split_at(n))
}

/// `comm` without its NUL padding.
pub(crate) fn comm_bytes(c: &[u8; TASK_COMM_LEN]) -> &[u8] {
    let end = c.iter().position(|b| *b == 0).unwrap_or(c.len());
    &c[..end]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sysaudit_common::{abi, flags};

    pub(crate) fn header(kind: u16) -> Header {
        let mut comm = [0u8; TASK_COMM_LEN];
        comm[..3].copy_from_slice(b"cat");
        Header {
            kind,
            abi: abi::X86_64,
            flags: 0,
            tail_len: 0,
            cpu: 1,
            ts_ns: 1000,
            pid_tgid: (42u64 << 32) | 43,
            cgroup_id: 7,
            uid_gid: (5u64 << 32) | 6,
            comm,
        }
    }

    pub(crate) fn bytes<T>(v: &T) -> Vec<u8> {
        // SAFETY: reading the bytes of a plain repr(C) value for a test fixture.
        unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
            .to_vec()
    }

    pub(crate) fn syscall_bytes(nr: u32, ret: i64, strs: &[&[u8]], addr: &[u8]) -> Vec<u8> {
        let mut rec = SyscallRecord {
            hdr: header(kind::SYSCALL),
            nr,
            has_ret: 1,
            ret,
            args: [1, 2, 3, 4, 5, 6],
            str_len: [0, 0],
            addr_len: addr.len() as u16,
            _pad: 0,
        };
        for (i, s) in strs.iter().enumerate() {
            rec.str_len[i] = s.len() as u16;
        }
        let mut b = bytes(&rec);
        for s in strs {
            b.extend_from_slice(s);
        }
        b.extend_from_slice(addr);
        b
    }

    #[test]
    fn decodes_syscall_with_two_paths_and_an_address() {
        let b = syscall_bytes(264, 0, &[b"/a", b"/bb"], &[1, 0, b'x']);
        let Record::Syscall {
            rec,
            strings,
            addr,
            file,
        } = decode(&b).unwrap()
        else {
            panic!("kind")
        };
        assert_eq!(file, None);
        assert_eq!(rec.nr, 264);
        assert_eq!(strings, [Some(&b"/a"[..]), Some(&b"/bb"[..])]);
        assert_eq!(addr, Some(&[1u8, 0, b'x'][..]));
        assert_eq!(comm_bytes(&rec.hdr.comm), b"cat");
    }

    #[test]
    fn an_open_carries_its_file_after_the_path() {
        let facts = FileFacts {
            dev: (8 << 20) | 1,
            _pad: 0,
            ino: 1234,
        };
        let mut b = syscall_bytes(257, 3, &[b"/etc/hosts"], &[]);
        b.extend_from_slice(&bytes(&facts));
        b[3] |= flags::FILE_FACTS;
        let Record::Syscall { strings, file, .. } = decode(&b).unwrap() else {
            panic!("kind")
        };
        assert_eq!((strings[0], file), (Some(&b"/etc/hosts"[..]), Some(facts)));
        // A flag without the bytes is a bad record, not a read past its end.
        b.truncate(b.len() - 4);
        assert!(matches!(decode(&b), Err(DecodeError::Tail { .. })));
    }

    #[test]
    fn rejects_short_and_inconsistent_records() {
        assert!(matches!(decode(&[1, 0, 0]), Err(DecodeError::Short(3))));
        let mut b = syscall_bytes(2, 0, &[b"/etc/passwd"], &[]);
        b.truncate(b.len() - 4);
        assert!(matches!(decode(&b), Err(DecodeError::Tail { .. })));
        let mut h = header(99);
        h.flags = flags::TRUNCATED;
        assert_eq!(decode(&bytes(&h)).unwrap_err(), DecodeError::Kind(99));
    }

    #[test]
    fn decodes_exec_argv_and_filename() {
        let argv = b"sh\0-c\0\0echo hi\0";
        let rec = ExecRecord {
            hdr: header(kind::EXEC),
            old_pid: 43,
            argc: 4,
            filename_len: 7,
            argv_len: argv.len() as u16,
            env_len: 11,
            _pad: 0,
            creds: Default::default(),
            exe: sysaudit_common::ExeFacts {
                exe_len: 11,
                cwd_len: 0,
                ..Default::default()
            },
        };
        let mut b = bytes(&rec);
        b.extend_from_slice(b"sh\0bin\0usr\0");
        b.extend_from_slice(argv);
        b.extend_from_slice(b"A=1\0HOME=/\0");
        b.extend_from_slice(b"/bin/sh");
        let Record::Exec {
            argv,
            env,
            filename,
            exe,
            cwd,
            ..
        } = decode(&b).unwrap()
        else {
            panic!("kind")
        };
        assert_eq!(path_of(&exe), "/usr/bin/sh");
        assert_eq!(path_of(&cwd), "/", "no components: the root");
        assert_eq!(argv, vec![&b"sh"[..], b"-c", b"", b"echo hi"]);
        assert_eq!(env, vec![&b"A=1"[..], b"HOME=/"]);
        assert_eq!(filename, b"/bin/sh");
    }
}
