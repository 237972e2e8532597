//! Alerts as lines (Falco's text line or Falco's JSON object) on any writer: stdout, a file
//! opened for appending. Lines are buffered until the next flush (once per drain of the
//! ring); a write that fails (a full disk) loses exactly the lines it did not write, counted.

use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
};

use super::{Output, Shape};
use crate::rules::Alert;

/// Buffered bytes past which an emit flushes at once.
const FLUSH_AT: usize = 64 * 1024;

pub(crate) struct LineOutput<W: Write> {
    out: W,
    buf: Vec<u8>,
    /// Where each alert's line ends in `buf`.
    ends: Vec<usize>,
    /// Alerts not written (the writer failed).
    lost: u64,
    /// A failed write left part of a line: the next write ends it first, so the fragment
    /// stays one bad line rather than spoiling the next alert's.
    torn: bool,
    shape: Shape,
    name: String,
}

impl<W: Write> LineOutput<W> {
    pub(crate) fn new(w: W, shape: impl Into<Shape>, name: impl Into<String>) -> LineOutput<W> {
        LineOutput {
            out: w,
            buf: Vec::new(),
            ends: Vec::new(),
            lost: 0,
            torn: false,
            shape: shape.into(),
            name: name.into(),
        }
    }

    /// The writer behind, for lines that are not alerts (kept in order with them).
    pub(crate) fn writer(&mut self) -> &mut impl Write {
        &mut self.buf
    }

    /// Write what is buffered; on an error the alerts whose line was not written whole are
    /// counted as lost and the buffer is emptied (the next lines are tried afresh).
    fn write_out(&mut self) -> io::Result<()> {
        if self.torn && !self.buf.is_empty() {
            self.buf.insert(0, b'\n');
            self.ends.iter_mut().for_each(|e| *e += 1);
        }
        let mut done = 0;
        let r = loop {
            if done == self.buf.len() {
                break self.out.flush();
            }
            match self.out.write(&self.buf[done..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if r.is_err() {
            self.lost += self.ends.iter().filter(|e| **e > done).count() as u64;
        }
        if !self.buf.is_empty() {
            self.torn = match &r {
                Ok(()) => false,
                // Stopped inside a line; or wrote nothing while a line was still open.
                Err(_) => (done > 0 && self.buf[done - 1] != b'\n') || (self.torn && done == 0),
            };
        }
        self.buf.clear();
        self.ends.clear();
        r
    }
}

impl LineOutput<io::Stdout> {
    pub(crate) fn stdout(shape: impl Into<Shape>) -> Self {
        LineOutput::new(io::stdout(), shape, "stdout")
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl<W: Write> Output for LineOutput<W> {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        self.buf
            .extend_from_slice(self.shape.render(alert).as_bytes());
        self.buf.push(b'\n');
        self.ends.push(self.buf.len());
        if self.buf.len() >= FLUSH_AT {
            // Counted as lost by the flush; the emit itself is not a second failure.
            let _ = self.write_out();
        }
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.write_out()
    }
    fn dropped(&self) -> u64 {
        self.lost
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// A file kept open and appended to (`--output`, Falco's `file_output` with `keep_alive`),
/// opened again by name on SIGHUP so that a rotated file is let go.
pub(crate) struct AppendedFile {
    line: LineOutput<File>,
    path: PathBuf,
}

impl AppendedFile {
    /// Append to `path`, creating it.
    pub(crate) fn open(path: &Path, shape: impl Into<Shape>) -> io::Result<AppendedFile> {
        Ok(AppendedFile {
            line: LineOutput::new(open(path)?, shape, format!("file {}", path.display())),
            path: path.to_path_buf(),
        })
    }
}

impl Output for AppendedFile {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        self.line.emit(alert)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.line.flush()
    }
    fn reopen(&mut self) -> io::Result<()> {
        // What is buffered goes to the file it was meant for, then the new one.
        let flushed = self.line.flush();
        self.line.out = open(&self.path)?;
        flushed
    }
    fn dropped(&self) -> u64 {
        self.line.dropped()
    }
    fn name(&self) -> String {
        self.line.name()
    }
}

/// Falco's `file_output` without `keep_alive`: the file opened and closed for every alert
/// (so a rotated file is never written after its rename).
pub(crate) struct ReopenedFile {
    path: PathBuf,
    shape: Shape,
}

impl ReopenedFile {
    /// Check now that `path` can be opened for appending.
    pub(crate) fn new(path: &Path, shape: Shape) -> io::Result<ReopenedFile> {
        open(path)?;
        Ok(ReopenedFile {
            path: path.to_path_buf(),
            shape,
        })
    }
}

impl Output for ReopenedFile {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        let mut line = self.shape.render(alert);
        line.push('\n');
        // One write of the whole line: with O_APPEND, never interleaved or half there
        // unless the disk is full (then the error counts the alert).
        open(&self.path)?.write_all(line.as_bytes())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn name(&self) -> String {
        format!("file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_lines_to_a_file_and_names_it() {
        let dir = std::env::temp_dir().join(format!("sysaudit-line-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("alerts.txt");
        std::fs::write(&path, "earlier\n").unwrap();
        let mut o = AppendedFile::open(&path, false).unwrap();
        o.line.writer().write_all(b"note\n").unwrap();
        o.flush().unwrap();
        assert_eq!(o.name(), format!("file {}", path.display()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier\nnote\n");
        // Rotated away: the reopened output writes a new file by that name.
        std::fs::rename(&path, dir.join("alerts.txt.1")).unwrap();
        o.line.writer().write_all(b"after\n").unwrap();
        o.reopen().unwrap();
        o.line.writer().write_all(b"new\n").unwrap();
        o.flush().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("alerts.txt.1")).unwrap(),
            "earlier\nnote\nafter\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Takes `room` bytes, then fails as a full disk does.
    struct Full {
        room: usize,
        got: Vec<u8>,
    }
    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            let n = b.len().min(self.room).min(7);
            self.room -= n;
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_loses_exactly_the_lines_not_written_whole() {
        let mut o = LineOutput::new(
            Full {
                room: 0,
                got: Vec::new(),
            },
            false,
            "full",
        );
        o.buf.extend_from_slice(b"aaaa\nbbbb\ncccc\n");
        o.ends = vec![5, 10, 15];
        o.out.room = 8; // the first line whole, the second cut
        assert!(o.flush().is_err());
        assert_eq!(o.dropped(), 2);
        assert_eq!(o.out.got, b"aaaa\nbbb");
        // Room again: the torn line is ended, the next lines go out whole, nothing more
        // counted.
        o.out.room = 100;
        o.buf.extend_from_slice(b"dd\n");
        o.ends = vec![3];
        o.flush().unwrap();
        assert_eq!(o.dropped(), 2);
        assert_eq!(o.out.got, b"aaaa\nbbb\ndd\n");
    }
}
