//! A new container's first records wait for its engine's answer, so that its first events are
//! evaluated with its name, image and pod rather than nulls — only that container's: the rest
//! of the stream flows past them. A container's records keep their order; its wait ends when
//! the answer comes, when the engine gives up, or after `meta::HOLD`, and is counted.

use sysaudit_common::{flags, kind};

use crate::{
    probe::decode,
    state::{containers::Containers, meta::Cell, FastMap},
};

/// The most records one container may have waiting (a storm from its first millisecond must
/// not grow without bound): beyond it the container's wait ends early.
const MAX_WAITING: usize = 1 << 16;

struct Waiting {
    cell: Cell,
    records: Vec<Box<[u8]>>,
}

/// The records kept back, by cgroup.
#[derive(Default)]
pub(crate) struct Hold {
    waiting: FastMap<u64, Waiting>,
}

impl Hold {
    /// Whether record `bytes` must wait for its container's metadata (it is kept then; see
    /// [`Hold::due`]). Cgroup records never wait: they make the containers.
    pub(crate) fn keep(&mut self, containers: &mut Containers, bytes: &[u8]) -> bool {
        let Some(h) = decode::peek_header(bytes) else {
            return false;
        };
        if h.kind == kind::CGROUP_MKDIR || h.kind == kind::CGROUP_RMDIR {
            return false;
        }
        if let Some(w) = self.waiting.get_mut(&h.cgroup_id) {
            w.records.push(bytes.into());
            return true;
        }
        let non_host = h.flags & flags::NON_HOST_PIDNS != 0;
        let Some(cell) = containers.must_wait(h.cgroup_id, (h.pid_tgid >> 32) as u32, non_host)
        else {
            return false;
        };
        self.waiting.insert(
            h.cgroup_id,
            Waiting {
                cell,
                records: vec![bytes.into()],
            },
        );
        true
    }

    /// The records whose wait is over (every one when `all`: the stream ends), each
    /// container's in their order; counted in the cache's stats.
    pub(crate) fn due(&mut self, containers: &Containers, all: bool) -> Vec<Box<[u8]>> {
        if self.waiting.is_empty() {
            return Vec::new();
        }
        let meta = containers.meta_cache();
        let over: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, w)| all || w.records.len() >= MAX_WAITING || !meta.must_wait(&w.cell))
            .map(|(cg, _)| *cg)
            .collect();
        let mut out = Vec::new();
        for cg in over {
            if let Some(w) = self.waiting.remove(&cg) {
                let n = w.records.len() as u64;
                let without = if w.cell.get().is_some() { 0 } else { n };
                meta.count_waited(n, without);
                out.extend(w.records);
            }
        }
        out
    }
}

/// What a cgroup record says, for a container table that sees no other record (the reader's,
/// when workers evaluate).
pub(crate) fn learn_cgroup(containers: &mut Containers, bytes: &[u8]) {
    let Some(h) = decode::peek_header(bytes) else {
        return;
    };
    if h.kind != kind::CGROUP_MKDIR && h.kind != kind::CGROUP_RMDIR {
        return;
    }
    if let Ok(decode::Record::Cgroup { rec, path, removed }) = decode::decode(bytes) {
        containers.cgroup_record(rec.id, path, removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        probe::decode::tests::syscall_bytes,
        state::meta::{MetaCache, Sockets},
    };
    use std::{path::PathBuf, sync::Arc, time::Duration};
    use sysaudit_common::Header;

    /// A dockerd that answers its ping at once and a container lookup after `delay` (served
    /// from a thread of its own until the test process ends).
    fn slow_engine(delay: Duration) -> PathBuf {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = std::env::temp_dir().join(format!("sysaudit-hold-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let sock = dir.join("docker.sock");
        let _ = std::fs::remove_file(&sock);
        let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::from_std(listener).expect("listener");
                while let Ok((mut c, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let n = c.read(&mut buf).await.unwrap_or(0);
                        let body = if String::from_utf8_lossy(&buf[..n]).contains("/_ping") {
                            "OK".to_string()
                        } else {
                            tokio::time::sleep(delay).await;
                            r#"[{"Names": ["/slow"], "Image": "img:1", "Mounts": []}]"#.to_string()
                        };
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = c.write_all(reply.as_bytes()).await;
                    });
                }
            });
        });
        sock
    }

    fn record_of(cgroup: u64) -> Vec<u8> {
        let mut b = syscall_bytes(257, 3, &[], &[]);
        let at = std::mem::offset_of!(Header, cgroup_id);
        b[at..at + 8].copy_from_slice(&cgroup.to_le_bytes());
        b
    }

    #[test]
    fn a_container_waiting_for_its_metadata_holds_up_only_its_own_records() {
        let sock = slow_engine(Duration::from_millis(100));
        let cache: Arc<MetaCache> = MetaCache::live(Sockets {
            docker: sock,
            ..Sockets::default()
        })
        .expect("cache");
        let mut containers = Containers::detached();
        containers.attach_meta(cache.clone());
        // Let the cache's first ping find the engine up.
        std::thread::sleep(Duration::from_millis(300));
        let id = "8c4a2d1e9f0b3a5c7d6e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c";
        containers.cgroup_created(11, &format!("/docker/{id}"));
        containers.cgroup_created(12, "/system.slice/cron.service");
        let mut hold = Hold::default();
        let (mine, other) = (record_of(11), record_of(12));
        assert!(
            hold.keep(&mut containers, &mine),
            "the new container's record waits"
        );
        assert!(!hold.keep(&mut containers, &other), "the host's goes on");
        assert!(
            hold.keep(&mut containers, &mine),
            "and so does its next, in order"
        );
        assert!(
            hold.due(&containers, false).is_empty(),
            "the answer is not there yet"
        );
        std::thread::sleep(Duration::from_millis(250));
        let released = hold.due(&containers, false);
        assert_eq!(released.len(), 2);
        assert!(released.iter().all(|r| **r == *mine));
        let summary = cache.summary().unwrap_or_default();
        assert!(
            summary.contains("2 event(s) waited for it, 0 evaluated without it"),
            "{summary}"
        );
        // Answered: its records no longer wait.
        assert!(!hold.keep(&mut containers, &mine));
    }

    #[test]
    fn the_end_of_the_stream_releases_everything() {
        let mut hold = Hold::default();
        let mut containers = Containers::detached();
        assert!(
            !hold.keep(&mut containers, &record_of(11)),
            "nobody answers: no wait"
        );
        assert!(hold.due(&containers, true).is_empty());
    }
}
