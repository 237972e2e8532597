//! A bounded on-disk queue of alert lines, in order, that survives the agent: the HTTP output
//! writes every alert here and delivers from its head, so an endpoint that is down, slow or
//! gone across a restart loses nothing that fits. Two files in its directory: `alerts.jsonl`
//! (appended) and `delivered` (how many of its bytes are through, rewritten after each
//! delivery); both are emptied once everything is through.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufRead, BufReader, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

pub(crate) struct Spool {
    dir: PathBuf,
    data: File,
    /// Bytes in `alerts.jsonl`.
    size: u64,
    /// Bytes of it delivered.
    done: u64,
    max: u64,
}

impl Spool {
    /// Open (or create) the spool in `dir`, holding at most `max` bytes of undelivered
    /// alerts; what an earlier run left is kept, in order.
    pub(crate) fn open(dir: &Path, max: u64) -> io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let data = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(dir.join("alerts.jsonl"))?;
        let size = data.metadata()?.len();
        let done = std::fs::read_to_string(dir.join("delivered"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
            .min(size);
        Ok(Spool {
            dir: dir.to_path_buf(),
            data,
            size,
            done,
            max,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.done >= self.size
    }

    /// Bytes waiting.
    pub(crate) fn pending(&self) -> u64 {
        self.size - self.done
    }

    /// Lines waiting (read from the file: for messages, not the hot path).
    pub(crate) fn pending_lines(&mut self) -> usize {
        let mut n = 0;
        let mut at = self.done;
        while let Ok(Some((_, len))) = self.line_at(at) {
            n += 1;
            at += len;
        }
        n
    }

    /// Append one alert; false when it does not fit (the caller counts it lost).
    pub(crate) fn push(&mut self, line: &str) -> io::Result<bool> {
        let len = line.len() as u64 + 1;
        if self.pending() + len > self.max {
            return Ok(false);
        }
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        self.data.write_all(&buf)?;
        self.size += len;
        Ok(true)
    }

    /// The alert at the head, if any.
    pub(crate) fn head(&mut self) -> io::Result<Option<String>> {
        Ok(self.line_at(self.done)?.map(|(l, _)| l))
    }

    fn line_at(&mut self, at: u64) -> io::Result<Option<(String, u64)>> {
        if at >= self.size {
            return Ok(None);
        }
        let mut f = &self.data;
        f.seek(SeekFrom::Start(at))?;
        let mut line = String::new();
        let n = BufReader::new(f).read_line(&mut line)? as u64;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some((line.trim_end_matches('\n').to_string(), n)))
    }

    /// The head was delivered (or given up on): move past it, on disk too.
    pub(crate) fn pop(&mut self) -> io::Result<()> {
        if let Some((_, n)) = self.line_at(self.done)? {
            self.done += n;
        }
        if self.done >= self.size {
            // Everything through: start both files over.
            self.data.set_len(0)?;
            self.size = 0;
            self.done = 0;
        }
        write_atomic(&self.dir.join("delivered"), &self.done.to_string())
    }
}

impl Spool {
    /// Everything was delivered: the spool's files and directory go.
    pub(crate) fn remove(self) {
        let _ = std::fs::remove_file(self.dir.join("alerts.jsonl"));
        let _ = std::fs::remove_file(self.dir.join("delivered"));
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Replace `path`'s contents at once (a crash leaves the old or the new value, never half).
fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_come_out_in_order_across_reopening_and_the_bound_holds() {
        let dir = std::env::temp_dir().join(format!("sysaudit-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = Spool::open(&dir, 20).unwrap();
        assert!(s.is_empty());
        assert!(s.push("one").unwrap() && s.push("two").unwrap() && s.push("three").unwrap());
        // 4 + 4 + 6 bytes held; a 7-byte line would pass the bound of 20.
        assert!(!s.push("seven!!").unwrap());
        assert_eq!(s.head().unwrap().as_deref(), Some("one"));
        s.pop().unwrap();
        drop(s);
        // A restart: what was not delivered is still there, in order.
        let mut s = Spool::open(&dir, 20).unwrap();
        assert_eq!(s.pending_lines(), 2);
        assert_eq!(s.head().unwrap().as_deref(), Some("two"));
        s.pop().unwrap();
        assert!(s.push("four").unwrap());
        assert_eq!(s.head().unwrap().as_deref(), Some("three"));
        s.pop().unwrap();
        assert_eq!(s.head().unwrap().as_deref(), Some("four"));
        s.pop().unwrap();
        assert!(s.is_empty());
        assert_eq!(
            std::fs::metadata(dir.join("alerts.jsonl")).unwrap().len(),
            0
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
