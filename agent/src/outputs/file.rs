//! Alerts appended to a file, one per line (text or JSON).

use std::{
    fs::{File, OpenOptions},
    io::{self, BufWriter, Write},
    path::{Path, PathBuf},
};

use super::{render, Output};
use crate::rules::Alert;

pub(crate) struct FileOutput {
    path: PathBuf,
    out: BufWriter<File>,
    json: bool,
}

impl FileOutput {
    pub(crate) fn open(path: &Path, json: bool) -> io::Result<FileOutput> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(FileOutput {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
            json,
        })
    }
}

impl Output for FileOutput {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        writeln!(self.out, "{}", render(alert, self.json))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn name(&self) -> String {
        format!("file {}", self.path.display())
    }
}
