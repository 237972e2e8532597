//! Alerts as lines (Falco's text line or Falco's JSON object) on any writer: stdout, a file
//! opened for appending.

use std::{
    fs::{File, OpenOptions},
    io::{self, BufWriter, Write},
    path::Path,
};

use super::Output;
use crate::rules::Alert;

pub(crate) struct LineOutput<W: Write> {
    out: BufWriter<W>,
    json: bool,
    name: String,
}

impl<W: Write> LineOutput<W> {
    pub(crate) fn new(w: W, json: bool, name: impl Into<String>) -> LineOutput<W> {
        LineOutput {
            out: BufWriter::new(w),
            json,
            name: name.into(),
        }
    }

    /// The writer behind, for lines that are not alerts (kept in order with them).
    pub(crate) fn writer(&mut self) -> &mut impl Write {
        &mut self.out
    }
}

impl LineOutput<io::Stdout> {
    pub(crate) fn stdout(json: bool) -> Self {
        LineOutput::new(io::stdout(), json, "stdout")
    }
}

impl LineOutput<File> {
    /// Append to `path`, creating it.
    pub(crate) fn append(path: &Path, json: bool) -> io::Result<Self> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LineOutput::new(f, json, format!("file {}", path.display())))
    }
}

/// One alert as a line: Falco's text line or Falco's JSON object.
pub(crate) fn render(alert: &Alert, json: bool) -> String {
    if json {
        alert.to_json().to_string()
    } else {
        alert.line()
    }
}

impl<W: Write> Output for LineOutput<W> {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        writeln!(self.out, "{}", render(alert, self.json))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn name(&self) -> String {
        self.name.clone()
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
