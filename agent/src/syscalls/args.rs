//! Syscall signatures (argument names and kinds) and the decoding of raw arguments into the
//! values events carry. Argument names follow Falco's event table so that `evt.arg.<name>`
//! means the same thing here as in Falco rules.

use std::net::{Ipv4Addr, Ipv6Addr};

use sysaudit_common::ArgSpec;

use super::{
    flags, intern, table,
    value::{ArgValue, Args},
    Abi,
};

/// How one argument is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Fd,
    /// `AT_FDCWD` (-100) or a descriptor.
    DirFd,
    Int,
    UInt,
    Hex,
    /// A NUL-terminated user path, copied by the kernel program.
    Path,
    OpenFlags,
    Mode,
    AtFlags,
    RenameFlags,
    CloneFlags,
    MountFlags,
    UmountFlags,
    MemfdFlags,
    Prot,
    Family,
    SockType,
    /// A `struct sockaddr *` whose length is the argument at the given index.
    SockAddr(u8),
    /// A `struct sockaddr *` whose length is read through the `socklen_t *` at the index.
    SockAddrOut(u8),
    PtraceRequest,
    BpfCmd,
    Signal,
    PrctlOption,
    /// A user string the kernel does not copy (e.g. mount data); shown as a pointer.
    Ptr,
    /// An I/O buffer: shown as a pointer; when the rules read `evt.buffer` the kernel copies
    /// its first bytes, which follow as the argument `data` (Falco's name).
    Buf,
    /// A string Falco's exit event carries beyond the arguments (execve's `trusted_exepath`),
    /// filled from the state; never a register.
    Text,
    /// A connection tuple Falco's exit event carries (connect's, accept's `tuple`).
    Tuple,
}

use Kind::*;

use super::sigs::{EXIT_PARAMS, SIGS};

/// The kind of the first argument or exit parameter named `name`, signatures in their order
/// (`evt.rawarg.NAME` is typed by it, as libsinsp types it by the first event of its table
/// that has such a parameter). A buffer argument's copied bytes are its `data`.
pub(crate) fn first_kind_named(name: &str) -> Option<Kind> {
    SIGS.iter().find_map(|(call, args)| {
        let arg = args.iter().find_map(|(n, k)| match k {
            Buf if name == "data" => Some(Buf),
            Buf if *n == name => Some(Ptr),
            _ => (*n == name).then_some(*k),
        });
        arg.or_else(|| exit_param(call, name))
    })
}

/// A parameter Falco's exit event of `call` carries beyond the call's arguments.
pub(crate) fn exit_param(call: &str, name: &str) -> Option<Kind> {
    EXIT_PARAMS
        .iter()
        .filter(|(c, _)| *c == call)
        .flat_map(|(_, p)| p.iter())
        .find(|(n, _)| *n == name)
        .map(|(_, k)| *k)
}

/// The signature of a syscall, if we decode it.
pub(crate) fn signature(name: &str) -> Option<&'static [(&'static str, Kind)]> {
    SIGS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// What the kernel must copy for syscall `name`: up to two paths and one socket address.
pub(crate) fn arg_spec(name: &str) -> ArgSpec {
    let mut spec = ArgSpec::EMPTY;
    let Some(sig) = signature(name) else {
        return spec;
    };
    let mut s = 0;
    for (i, (_, kind)) in sig.iter().enumerate() {
        match kind {
            Path if s < 2 => {
                spec.str_arg[s] = ArgSpec::pos(i);
                s += 1;
            }
            SockAddr(len) => {
                spec.addr_arg = ArgSpec::pos(i);
                spec.addr_len_arg = ArgSpec::pos(*len as usize);
            }
            SockAddrOut(len) => {
                spec.addr_arg = ArgSpec::pos(i);
                spec.addr_len_arg = ArgSpec::pos(*len as usize) | ArgSpec::LEN_PTR;
            }
            // The buffer takes the string slot after the paths (there are none today).
            Buf if s < 2 => spec.buf_arg = ArgSpec::pos(i),
            _ => {}
        }
    }
    spec.file = exit_param(name, "ino").is_some() as u8;
    spec
}

/// The kernel's argument-copy table for one ABI, indexed by syscall number; I/O buffers are
/// copied only with `buffers` (a loaded rule reads `evt.buffer`).
pub(crate) fn arg_specs(abi: Abi, buffers: bool) -> Vec<ArgSpec> {
    let mut v = vec![ArgSpec::EMPTY; sysaudit_common::MAX_SYSCALLS];
    for (nr, name) in table::all(abi) {
        if let Some(slot) = v.get_mut(nr as usize) {
            *slot = arg_spec(name);
            if !buffers {
                slot.buf_arg = ArgSpec::NONE;
            }
        }
    }
    v
}

/// The raw material of one syscall's arguments as the kernel delivered it.
pub(crate) struct RawArgs<'a> {
    pub regs: [u64; 6],
    pub strings: [Option<&'a [u8]>; 2],
    pub addr: Option<&'a [u8]>,
    pub file: Option<sysaudit_common::FileFacts>,
}

/// Decode the arguments of syscall `name` into named values.
pub(crate) fn decode(name: &str, raw: &RawArgs<'_>) -> Args {
    let Some(sig) = signature(name) else {
        return Args::default();
    };
    let mut out = Args::with_capacity(sig.len());
    let mut s = 0;
    for (i, (arg_name, kind)) in sig.iter().enumerate() {
        let v = raw.regs[i];
        let value = match kind {
            Fd => ArgValue::Int(v as i32 as i64),
            DirFd => {
                if v as i32 == libc::AT_FDCWD {
                    ArgValue::Str(intern::flags(*kind, v, || "AT_FDCWD".into()))
                } else {
                    ArgValue::Int(v as i32 as i64)
                }
            }
            Int => ArgValue::Int(v as i64),
            UInt => ArgValue::Int(v as i64),
            Hex | Ptr => ArgValue::Hex(v),
            // Exit parameters only: no signature has them.
            Text | Tuple => ArgValue::Null,
            Buf => {
                out.push(arg_name, ArgValue::Hex(v));
                if let Some(b) = raw.strings.get(s).copied().flatten() {
                    out.push("data", ArgValue::Bytes(b.into()));
                }
                s += 1;
                continue;
            }
            Path => {
                let p = raw.strings.get(s).copied().flatten();
                s += 1;
                match p {
                    Some(b) => ArgValue::Str(intern::text(b)),
                    None => ArgValue::Null,
                }
            }
            OpenFlags => ArgValue::Str(intern::flags(*kind, v, || flags::open_flags(v))),
            Mode => ArgValue::Str(intern::flags(*kind, v, || flags::mode(v))),
            AtFlags => ArgValue::Str(intern::flags(*kind, v, || flags::bits(v, flags::AT_FLAGS))),
            RenameFlags => ArgValue::Str(intern::flags(*kind, v, || {
                flags::bits(v, flags::RENAME_FLAGS)
            })),
            CloneFlags => ArgValue::Str(intern::flags(*kind, v, || {
                flags::bits(v, flags::CLONE_FLAGS)
            })),
            MountFlags => ArgValue::Str(intern::flags(*kind, v, || {
                flags::bits(v, flags::MOUNT_FLAGS)
            })),
            UmountFlags => ArgValue::Str(intern::flags(*kind, v, || {
                flags::bits(v, flags::UMOUNT_FLAGS)
            })),
            MemfdFlags => ArgValue::Str(intern::flags(*kind, v, || {
                flags::bits(v, flags::MEMFD_FLAGS)
            })),
            Prot => ArgValue::Str(intern::flags(*kind, v, || {
                flags::bits(v, flags::PROT_FLAGS)
            })),
            Family => ArgValue::Str(intern::flags(*kind, v, || {
                flags::enum_name(v as i64, flags::ADDRESS_FAMILIES)
            })),
            SockType => ArgValue::Str(intern::flags(*kind, v, || flags::sock_type(v))),
            SockAddr(_) | SockAddrOut(_) => match raw.addr {
                Some(b) => sockaddr(b),
                None => ArgValue::Null,
            },
            PtraceRequest => ArgValue::Str(intern::flags(*kind, v, || {
                flags::enum_name(v as i64, flags::PTRACE_REQUESTS)
            })),
            BpfCmd => ArgValue::Str(intern::flags(*kind, v, || {
                flags::enum_name(v as i64, flags::BPF_CMDS)
            })),
            Signal => ArgValue::Str(intern::flags(*kind, v, || {
                flags::enum_name(v as i64, flags::SIGNALS)
            })),
            PrctlOption => ArgValue::Str(intern::flags(*kind, v, || {
                flags::enum_name(v as i64, flags::PRCTL_OPTIONS)
            })),
        };
        out.push(arg_name, value);
    }
    // Falco's open exit parameters: the file's device (as userspace encodes a dev_t) and
    // inode.
    if let Some(f) = raw.file {
        out.push("dev", ArgValue::Int(encode_dev(f.dev) as i64));
        out.push("ino", ArgValue::Int(f.ino as i64));
    }
    out
}

/// A kernel `dev_t` (major << 20 | minor) as userspace encodes it, Falco's `fd.dev`:
/// minor's low byte, major, then minor's high bits.
pub(crate) fn encode_dev(dev: u32) -> u32 {
    let (major, minor) = (dev >> 20, dev & 0xf_ffff);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// `1.2.3.4:80`, `[::1]:443`, a unix path (`@name` when abstract), or the family name.
pub(crate) fn sockaddr(b: &[u8]) -> ArgValue {
    if b.len() < 2 {
        return ArgValue::Null;
    }
    let family = u16::from_ne_bytes([b[0], b[1]]) as i32;
    let s = match family {
        libc::AF_INET if b.len() >= 8 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            format!("{ip}:{port}")
        }
        libc::AF_INET6 if b.len() >= 24 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            format!("[{}]:{port}", Ipv6Addr::from(a))
        }
        libc::AF_UNIX => {
            let p = &b[2..];
            if p.first() == Some(&0) {
                let end = p.len();
                format!(
                    "@{}",
                    String::from_utf8_lossy(&p[1..end]).trim_end_matches('\0')
                )
            } else {
                let end = p.iter().position(|c| *c == 0).unwrap_or(p.len());
                String::from_utf8_lossy(&p[..end]).into_owned()
            }
        }
        f => flags::enum_name(f as i64, flags::ADDRESS_FAMILIES),
    };
    ArgValue::Str(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_signatures() {
        // Positions are stored plus one: 0 means "none", the value of an unset map slot.
        let s = arg_spec("openat");
        assert_eq!(s.str_arg, [2, ArgSpec::NONE]);
        let s = arg_spec("renameat2");
        assert_eq!(s.str_arg, [2, 4]);
        let s = arg_spec("connect");
        assert_eq!((s.addr_arg, s.addr_len_arg), (2, 3));
        let s = arg_spec("accept4");
        assert_eq!((s.addr_arg, s.addr_len_arg), (2, 3 | ArgSpec::LEN_PTR));
        assert_eq!(arg_spec("getppid"), ArgSpec::EMPTY);
        assert_eq!(arg_spec("close"), ArgSpec::EMPTY);
        let native = arg_specs(Abi::X86_64, false);
        assert_eq!(native[257].str_arg[0], 2); // openat
        let compat = arg_specs(Abi::Ia32, false);
        assert_eq!(compat[5].str_arg[0], 1); // ia32 open
    }

    #[test]
    fn io_buffers_are_copied_only_when_asked_and_decode_as_data() {
        let read = table::number(Abi::X86_64, "read").expect("read") as usize;
        assert_eq!(arg_specs(Abi::X86_64, true)[read].buf_arg, ArgSpec::pos(1));
        assert_eq!(arg_specs(Abi::X86_64, false)[read], ArgSpec::EMPTY);
        let raw = RawArgs {
            regs: [3, 0x7ffd_0000, 4096, 0, 0, 0],
            strings: [Some(&b"\xca\xfe\xba\xbehello"[..]), None],
            addr: None,
            file: None,
        };
        let a = decode("read", &raw);
        assert_eq!(a.get("buf"), Some(&ArgValue::Hex(0x7ffd_0000)));
        assert_eq!(
            a.get("data"),
            Some(&ArgValue::Bytes(b"\xca\xfe\xba\xbehello"[..].into()))
        );
        assert_eq!(
            a.get("data").map(ToString::to_string).as_deref(),
            Some("....hello")
        );
        assert_eq!(a.get("size"), Some(&ArgValue::Int(4096)));
        // Nothing copied: no `data`.
        let bare = decode(
            "read",
            &RawArgs {
                strings: [None, None],
                ..raw
            },
        );
        assert!(bare.get("data").is_none());
    }

    #[test]
    fn decodes_openat() {
        let raw = RawArgs {
            regs: [
                libc::AT_FDCWD as u32 as u64,
                0x1000,
                (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
                0,
                0,
                0,
            ],
            strings: [Some(b"/etc/passwd"), None],
            addr: None,
            file: Some(sysaudit_common::FileFacts {
                dev: (8 << 20) | 0x12345,
                _pad: 0,
                ino: 77,
            }),
        };
        let a = decode("openat", &raw);
        assert_eq!(a.get("dirfd"), Some(&ArgValue::Str("AT_FDCWD".into())));
        assert_eq!(a.get("name"), Some(&ArgValue::Str("/etc/passwd".into())));
        assert_eq!(
            a.get("flags"),
            Some(&ArgValue::Str("O_RDONLY|O_CLOEXEC".into()))
        );
        assert_eq!(a.get("dev"), Some(&ArgValue::Int(0x1230_0845)));
        assert_eq!(a.get("ino"), Some(&ArgValue::Int(77)));
    }

    #[test]
    fn opens_carry_dev_and_ino_as_falco_encodes_them() {
        let spec = arg_specs(Abi::X86_64, false);
        let openat = table::number(Abi::X86_64, "openat").expect("openat") as usize;
        let read = table::number(Abi::X86_64, "read").expect("read") as usize;
        assert_eq!((spec[openat].file, spec[read].file), (1, 0));
        // major 8, minor 0x12345: minor's low byte, major, minor's high bits.
        assert_eq!(encode_dev((8 << 20) | 0x12345), 0x1230_0845);
        assert_eq!(encode_dev((8 << 20) | 1), 0x801);
    }

    #[test]
    fn decodes_socket_addresses() {
        let mut v4 = vec![0u8; 16];
        v4[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        v4[2..4].copy_from_slice(&8080u16.to_be_bytes());
        v4[4..8].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(sockaddr(&v4), ArgValue::Str("127.0.0.1:8080".into()));
        let mut v6 = vec![0u8; 28];
        v6[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
        v6[2..4].copy_from_slice(&443u16.to_be_bytes());
        v6[23] = 1;
        assert_eq!(sockaddr(&v6), ArgValue::Str("[::1]:443".into()));
        let mut un = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        un.extend_from_slice(b"/run/x.sock\0\0\0");
        assert_eq!(sockaddr(&un), ArgValue::Str("/run/x.sock".into()));
        let mut abs = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        abs.extend_from_slice(b"\0hidden");
        assert_eq!(sockaddr(&abs), ArgValue::Str("@hidden".into()));
        assert_eq!(sockaddr(&[1]), ArgValue::Null);
    }

    #[test]
    fn every_signature_names_a_real_syscall() {
        for (name, args) in SIGS {
            assert!(table::is_known(name), "{name}");
            assert!(args.len() <= 6, "{name}");
        }
    }
}
