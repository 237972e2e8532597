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
pub(crate) use line::{AppendedFile, LineOutput, ReopenedFile};
pub(crate) use program::Program;
pub(crate) use syslog::Syslog;
pub(crate) use webhook::{HttpOptions, Webhook};
pub(crate) use worker::QUEUE;

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
    /// Stop for a reload that replaces this output: as `close`, but what waits for a
    /// receiver may be left for the replacement (an HTTP spool).
    fn retire(&mut self) -> io::Result<()> {
        self.close()
    }
    /// Open again what was opened by name (a file after log rotation, on SIGHUP).
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Alerts this output could not deliver (counted, reported at the end).
    fn dropped(&self) -> u64 {
        0
    }
    fn name(&self) -> String;
}

/// One output in the fan-out: what the configuration calls it (`key`, to keep it across a
/// reload that does not change it) and its counts.
struct Slot {
    key: String,
    out: Box<dyn Output>,
    delivered: u64,
    failures: u64,
}

/// Starts an output (see [`Next::Deferred`]).
pub(crate) type Start = Box<dyn FnOnce() -> io::Result<Box<dyn Output>>>;

/// What a reload wants in each place of the fan-out.
pub(crate) enum Next {
    /// The output of this key, as it is.
    Keep(String),
    /// A new output, opened.
    Opened(String, Box<dyn Output>),
    /// A new output started once the outputs it replaces are retired (it takes over what
    /// they leave: an HTTP spool).
    Deferred(String, Start),
}

/// Fan an alert out to every output; a failing output is reported once and counted.
pub(crate) struct Outputs {
    list: Vec<Slot>,
    /// (name, delivered, lost) of the outputs a reload retired, for the totals.
    retired: Vec<(String, u64, u64)>,
}

impl Outputs {
    /// The outputs, each under its configuration key.
    pub(crate) fn new(list: Vec<(String, Box<dyn Output>)>) -> Outputs {
        Outputs {
            list: list
                .into_iter()
                .map(|(key, out)| Slot {
                    key,
                    out,
                    delivered: 0,
                    failures: 0,
                })
                .collect(),
            retired: Vec::new(),
        }
    }

    /// Whether an output of this key is in the fan-out.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.list.iter().any(|s| s.key == key)
    }

    /// Become `next`: kept outputs keep their counts and state, the others are retired
    /// (their totals stay in the counts), then deferred ones start. A deferred output that
    /// cannot start is said and left out; how many did not is returned.
    pub(crate) fn replace(&mut self, next: Vec<Next>) -> usize {
        let mut old: Vec<Option<Slot>> = self.list.drain(..).map(Some).collect();
        let mut placed: Vec<Result<Slot, (String, Start)>> = Vec::new();
        let fresh = |key, out| Slot {
            key,
            out,
            delivered: 0,
            failures: 0,
        };
        for n in next {
            match n {
                Next::Keep(key) => {
                    if let Some(s) = old
                        .iter_mut()
                        .find(|s| s.as_ref().is_some_and(|s| s.key == key))
                        .and_then(Option::take)
                    {
                        placed.push(Ok(s));
                    }
                }
                Next::Opened(key, out) => placed.push(Ok(fresh(key, out))),
                Next::Deferred(key, start) => placed.push(Err((key, start))),
            }
        }
        for mut s in old.into_iter().flatten() {
            let _ = s.out.retire();
            self.retired
                .push((s.out.name(), s.delivered, s.failures + s.out.dropped()));
        }
        let mut failed = 0;
        for p in placed {
            match p {
                Ok(s) => self.list.push(s),
                Err((key, start)) => match start() {
                    Ok(out) => self.list.push(fresh(key, out)),
                    Err(e) => {
                        message!("reload: an output could not start: {e}");
                        failed += 1;
                    }
                },
            }
        }
        failed
    }

    pub(crate) fn emit(&mut self, alert: &Alert) {
        for s in &mut self.list {
            s.delivered += 1;
            if let Err(e) = s.out.emit(alert) {
                if s.failures == 0 {
                    message!("output {}: {e}", s.out.name());
                }
                s.failures += 1;
            }
        }
    }

    /// Flush every output; what one could not write is counted by it, and said once.
    pub(crate) fn flush(&mut self) {
        for s in &mut self.list {
            let before = s.out.dropped();
            if let Err(e) = s.out.flush() {
                if s.failures == 0 && before == 0 {
                    message!(
                        "output {}: {e}; alerts not written are counted as lost",
                        s.out.name()
                    );
                }
            }
        }
    }

    /// Reopen what is opened by name (SIGHUP: log rotation); a failure is said and the
    /// output goes on as it was.
    pub(crate) fn reopen(&mut self) {
        for s in &mut self.list {
            if let Err(e) = s.out.reopen() {
                message!("output {}: cannot reopen: {e}", s.out.name());
            }
        }
    }

    pub(crate) fn close(&mut self) {
        for s in &mut self.list {
            let _ = s.out.close();
        }
    }

    /// (output name, alerts handed to it, alerts it lost) for every output, those a reload
    /// retired included (added to a current one of the same name).
    pub(crate) fn counts(&self) -> Vec<(String, u64, u64)> {
        let mut v: Vec<(String, u64, u64)> = Vec::new();
        let now = self
            .list
            .iter()
            .map(|s| (s.out.name(), s.delivered, s.failures + s.out.dropped()));
        for (name, d, f) in self.retired.iter().cloned().chain(now) {
            match v.iter_mut().find(|(n, _, _)| *n == name) {
                Some((_, d0, f0)) => {
                    *d0 += d;
                    *f0 += f;
                }
                None => v.push((name, d, f)),
            }
        }
        v
    }

    /// (output name, alerts not delivered) for every output that lost some.
    pub(crate) fn losses(&self) -> Vec<(String, u64)> {
        self.counts()
            .into_iter()
            .filter(|(_, _, f)| *f > 0)
            .map(|(n, _, f)| (n, f))
            .collect()
    }
}
