//! An exec record into an event: the new image as the kernel read it (path, inode facts,
//! credentials, working directory), completed from what the process had.

use std::{path::Path, sync::Arc};

use sysaudit_common::{exe, flags, ExecRecord, TaskCreds};

use super::{procfs, users, State};
use crate::{
    event::{Event, ExecEvent, Task},
    probe::decode,
};

impl State {
    pub(super) fn exec(
        &mut self,
        rec: &ExecRecord,
        argv: &[&[u8]],
        env: &[&[u8]],
        filename: &[u8],
        exe_path: &[&[u8]],
        cwd: &[&[u8]],
    ) -> Event {
        let filename = String::from_utf8_lossy(filename).into_owned();
        let mut task = self.task(&rec.hdr);
        // runc's init pivots into the rootfs before it execs the workload.
        self.procs.reroot(task.pid);
        let f = rec.exe;
        // The kernel read the new image's path at exec: race-free, and right for
        // fexecve and memfds, where the path given is not the file's.
        task.exe = if f.flags & exe::FOUND != 0 && !exe_path.is_empty() {
            if f.flags & exe::PSEUDO != 0 {
                Arc::from(String::from_utf8_lossy(exe_path[0]))
            } else {
                Arc::from(decode::path_of(exe_path))
            }
        } else {
            Arc::from(self.exe_path(&task, &filename))
        };
        self.pending_exec.insert(task.tid, filename.clone());
        if self.pending_exec.len() > 4096 {
            // Exec exits that were never traced (outside the interesting set).
            self.pending_exec.clear();
        }
        // Without the kernel's working directory (an unexpected VFS layout) /proc
        // fills in, while the process lives.
        let mut attrs = if f.flags & exe::CWD != 0 {
            let mut a = self.procs.inherited_attrs(task.pid, task.ppid);
            a.cwd = decode::path_of(cwd);
            a
        } else {
            self.procs.attrs_at_exec(task.pid, task.ppid)
        };
        attrs.exe_ino = f.ino;
        attrs.exe_ctime = f.ctime_ns;
        attrs.exe_mtime = f.mtime_ns;
        attrs.exe_writable = f.flags & exe::WRITABLE != 0;
        attrs.exe_upper_layer = f.flags & exe::UPPER_LAYER != 0;
        attrs.exe_lower_layer = f.flags & exe::LOWER_LAYER != 0;
        attrs.exe_from_memfd = f.flags & exe::FROM_MEMFD != 0;
        // What the kernel read at exec beats /proc (which a short process has left).
        let c = rec.creds;
        if c.vpid != 0 {
            attrs.vpid = c.vpid;
        }
        if c.valid & TaskCreds::LOGINUID != 0 {
            attrs.loginuid = if c.loginuid == u32::MAX {
                -1
            } else {
                c.loginuid as i64
            };
        }
        if c.valid & TaskCreds::CAPS != 0 {
            attrs.cap_effective = c.cap_effective;
            attrs.cap_permitted = c.cap_permitted;
            attrs.cap_inheritable = c.cap_inheritable;
        }
        attrs.tty = c.tty;
        attrs.env = env
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        if attrs.loginuid >= 0 {
            let uid = attrs.loginuid as u32;
            attrs.loginname = match self.procs.root_of(task.pid) {
                Some(r) => self.users.user(&r, task.pid, uid),
                None => users::fallback_user(uid),
            }
            .map(|u| u.name)
            .unwrap_or_default();
        }
        Event::Exec(ExecEvent {
            task,
            filename,
            argv: argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect(),
            truncated: rec.hdr.flags & (flags::TRUNCATED | flags::READ_FAULT) != 0,
            attrs,
        })
    }

    /// The executable an exec ran, as Falco's `proc.exepath` would name it: symlinks resolved
    /// in the process's root; fexecve and re-exec of `/proc/self/exe` (busybox applets, runc)
    /// named by the file behind the descriptor. Falls back to the path as given.
    fn exe_path(&mut self, task: &Task, filename: &str) -> String {
        if !self.live {
            return filename.to_string();
        }
        let via_fd = filename.starts_with("/proc/") || filename.starts_with("/dev/fd/");
        if via_fd {
            let root = self.procs.root_of(task.pid);
            if let Some(real) = procfs::exe_of(task.pid, root.as_deref().unwrap_or(Path::new("/")))
            {
                return real;
            }
            // Gone already: /proc/self/exe was the image the process ran before this exec.
            if filename == "/proc/self/exe" {
                if let Some(prev) = self
                    .procs
                    .get(task.pid)
                    .map(|p| p.exe.to_string())
                    .filter(|e| !e.is_empty())
                {
                    return prev;
                }
            }
            return filename.to_string();
        }
        if !filename.starts_with('/') {
            return filename.to_string();
        }
        [task.pid, task.ppid]
            .iter()
            .find_map(|p| procfs::resolve_in_root(*p, filename))
            .unwrap_or_else(|| filename.to_string())
    }
}
