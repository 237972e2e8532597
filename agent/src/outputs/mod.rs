//! Where alerts go: stdout (text or Falco JSON), a file, an HTTP webhook. Outputs know only
//! alerts, never events or state.

mod file;
mod webhook;

use crate::messages::message;
use std::io::{self, Write};

pub(crate) use file::FileOutput;
pub(crate) use webhook::Webhook;

use crate::rules::Alert;

/// One alert sink.
pub(crate) trait Output {
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
pub(crate) struct Stdout {
    out: io::BufWriter<io::Stdout>,
    json: bool,
}

impl Stdout {
    pub(crate) fn new(json: bool) -> Stdout {
        Stdout {
            out: io::BufWriter::new(io::stdout()),
            json,
        }
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
pub(crate) struct Outputs {
    pub list: Vec<Box<dyn Output>>,
    failures: Vec<u64>,
}

impl Outputs {
    pub(crate) fn new(list: Vec<Box<dyn Output>>) -> Outputs {
        let n = list.len();
        Outputs {
            list,
            failures: vec![0; n],
        }
    }

    pub(crate) fn emit(&mut self, alert: &Alert) {
        for (o, f) in self.list.iter_mut().zip(self.failures.iter_mut()) {
            if let Err(e) = o.emit(alert) {
                if *f == 0 {
                    message!("output {}: {e}", o.name());
                }
                *f += 1;
            }
        }
    }

    pub(crate) fn flush(&mut self) {
        for o in &mut self.list {
            let _ = o.flush();
        }
    }

    pub(crate) fn close(&mut self) {
        for o in &mut self.list {
            let _ = o.close();
        }
    }

    /// (output name, alerts not delivered) for every output that lost some.
    pub(crate) fn losses(&self) -> Vec<(String, u64)> {
        self.list
            .iter()
            .zip(&self.failures)
            .map(|(o, f)| (o.name(), f + o.dropped()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}
