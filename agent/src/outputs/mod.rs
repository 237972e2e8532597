//! Where alerts go: lines (text or Falco JSON) on stdout or appended to a file, an HTTP
//! endpoint, a program's standard input, syslog. Outputs know only alerts, never events or
//! state; the ones that may block deliver from a thread of their own (`worker`).

mod aggregate;
mod line;
mod program;
mod spool;
mod syslog;
mod webhook;
mod worker;

use crate::messages::message;
use std::io;

pub(crate) use aggregate::Aggregator;
pub(crate) use line::{LineOutput, ReopenedFile};
pub(crate) use program::Program;
pub(crate) use syslog::Syslog;
pub(crate) use webhook::{HttpOptions, Webhook};

use crate::rules::{output::JsonParts, Alert};

/// How an alert is written: Falco's text line or Falco's JSON object with the parts chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub json: bool,
    pub parts: JsonParts,
}

impl Shape {
    pub(crate) fn render(&self, a: &Alert) -> String {
        if self.json {
            a.to_json_as(&self.parts).to_string()
        } else {
            a.line_as(self.parts.iso8601)
        }
    }
}

impl From<bool> for Shape {
    /// JSON (true) or text, with Falco's default parts.
    fn from(json: bool) -> Shape {
        Shape {
            json,
            parts: JsonParts::default(),
        }
    }
}

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

/// Fan an alert out to every output; a failing output is reported once and counted.
pub(crate) struct Outputs {
    pub list: Vec<Box<dyn Output>>,
    failures: Vec<u64>,
    delivered: Vec<u64>,
}

impl Outputs {
    pub(crate) fn new(list: Vec<Box<dyn Output>>) -> Outputs {
        let n = list.len();
        Outputs {
            list,
            failures: vec![0; n],
            delivered: vec![0; n],
        }
    }

    pub(crate) fn emit(&mut self, alert: &Alert) {
        for ((o, f), d) in self
            .list
            .iter_mut()
            .zip(self.failures.iter_mut())
            .zip(self.delivered.iter_mut())
        {
            *d += 1;
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

    /// (output name, alerts handed to it, alerts it lost) for every output.
    pub(crate) fn counts(&self) -> Vec<(String, u64, u64)> {
        self.list
            .iter()
            .zip(&self.failures)
            .zip(&self.delivered)
            .map(|((o, f), d)| (o.name(), *d, f + o.dropped()))
            .collect()
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
