//! Where alerts go: stdout (text or Falco JSON), a file, an HTTP webhook. Outputs know only
//! alerts, never events or state.

mod file;
mod webhook;

use std::io::{self, Write};

pub use file::FileOutput;
pub use webhook::Webhook;

use crate::rules::Alert;

/// One alert sink.
pub trait Output {
    fn emit(&mut self, alert: &Alert) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()>;
    /// Deliver everything still pending (called once, at the end).
    fn close(&mut self) -> io::Result<()> {
        self.flush()
    }
    /// Alerts this output could not deliver (counted, reported at the end).
    fn dropped(&self) -> u64 {
        0
    }
    fn name(&self) -> String;
}

/// Text or JSON on stdout.
pub struct Stdout {
    out: io::BufWriter<io::Stdout>,
    json: bool,
}

impl Stdout {
    pub fn new(json: bool) -> Stdout {
        Stdout {
            out: io::BufWriter::new(io::stdout()),
            json,
        }
    }
}

/// One alert as a line: Falco's text line or Falco's JSON object.
pub fn render(alert: &Alert, json: bool) -> String {
    if json {
        alert.to_json().to_string()
    } else {
        alert.line()
    }
}

impl Output for Stdout {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        writeln!(self.out, "{}", render(alert, self.json))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn name(&self) -> String {
        "stdout".into()
    }
}

/// Fan an alert out to every output; a failing output is reported once and counted.
pub struct Outputs {
    pub list: Vec<Box<dyn Output>>,
    failures: Vec<u64>,
}

impl Outputs {
    pub fn new(list: Vec<Box<dyn Output>>) -> Outputs {
        let n = list.len();
        Outputs {
            list,
            failures: vec![0; n],
        }
    }

    pub fn emit(&mut self, alert: &Alert) {
        for (o, f) in self.list.iter_mut().zip(self.failures.iter_mut()) {
            if let Err(e) = o.emit(alert) {
                if *f == 0 {
                    eprintln!("sysaudit: output {}: {e}", o.name());
                }
                *f += 1;
            }
        }
    }

    pub fn flush(&mut self) {
        for o in &mut self.list {
            let _ = o.flush();
        }
    }

    pub fn close(&mut self) {
        for o in &mut self.list {
            let _ = o.close();
        }
    }

    /// (output name, alerts not delivered) for every output that lost some.
    pub fn losses(&self) -> Vec<(String, u64)> {
        self.list
            .iter()
            .zip(&self.failures)
            .map(|(o, f)| (o.name(), f + o.dropped()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}
