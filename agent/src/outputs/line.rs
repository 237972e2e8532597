//! Alerts as lines (Falco's text line or Falco's JSON object) on any writer: stdout, a file
//! opened for appending.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufWriter, Write},
    path::Path,
};

use super::{Output, Shape};
use crate::rules::Alert;

pub(crate) struct LineOutput<W: Write> {
    out: BufWriter<W>,
    shape: Shape,
    name: String,
}

impl<W: Write> LineOutput<W> {
    pub(crate) fn new(w: W, shape: impl Into<Shape>, name: impl Into<String>) -> LineOutput<W> {
        LineOutput {
            out: BufWriter::new(w),
            shape: shape.into(),
            name: name.into(),
        }
    }

    /// The writer behind, for lines that are not alerts (kept in order with them).
    pub(crate) fn writer(&mut self) -> &mut impl Write {
        &mut self.out
    }
}

impl LineOutput<io::Stdout> {
    pub(crate) fn stdout(shape: impl Into<Shape>) -> Self {
        LineOutput::new(io::stdout(), shape, "stdout")
    }
}

impl LineOutput<File> {
    /// Append to `path`, creating it.
    pub(crate) fn append(path: &Path, shape: impl Into<Shape>) -> io::Result<Self> {
        let f = open(path)?;
        Ok(LineOutput::new(
            f,
            shape,
            format!("file {}", path.display()),
        ))
    }
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl<W: Write> Output for LineOutput<W> {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        writeln!(self.out, "{}", self.shape.render(alert))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn name(&self) -> String {
        self.name.clone()
    }
}

/// Falco's `file_output` without `keep_alive`: the file opened and closed for every alert
/// (so a rotated file is never written after its rename).
pub(crate) struct ReopenedFile {
    path: std::path::PathBuf,
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
        let mut f = open(&self.path)?;
        writeln!(f, "{}", self.shape.render(alert))
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
        let mut o = LineOutput::append(&path, false).unwrap();
        o.writer().write_all(b"note\n").unwrap();
        o.flush().unwrap();
        assert_eq!(o.name(), format!("file {}", path.display()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier\nnote\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
