//! Alerts to the system log (Falco's `syslog_output`): syslog(3), facility `user`, the
//! alert's priority as the level (emergency 0 … debug 7), the alert text or JSON as the
//! message, from a [`Worker`] (a full log socket must not stall capture).

use std::ffi::CString;

use super::{
    worker::{Deliver, Worker},
    Shape,
};
use crate::rules::Priority;

pub(crate) struct Syslog;

impl Syslog {
    pub(crate) fn start(shape: Shape, queue: usize) -> std::io::Result<Worker> {
        Worker::spawn("syslog".into(), shape, queue, Syslog)
    }
}

/// The syslog level of a priority: Falco's eight priorities are syslog's eight levels.
pub(crate) fn level(p: Priority) -> libc::c_int {
    match p {
        Priority::Emergency => libc::LOG_EMERG,
        Priority::Alert => libc::LOG_ALERT,
        Priority::Critical => libc::LOG_CRIT,
        Priority::Error => libc::LOG_ERR,
        Priority::Warning => libc::LOG_WARNING,
        Priority::Notice => libc::LOG_NOTICE,
        Priority::Informational => libc::LOG_INFO,
        Priority::Debug => libc::LOG_DEBUG,
    }
}

impl Deliver for Syslog {
    fn deliver(&mut self, p: Priority, line: &str) -> Result<(), String> {
        // A NUL cannot be in an alert line (JSON escapes it); drop any, to be safe.
        let msg = CString::new(line.replace('\0', "")).map_err(|e| e.to_string())?;
        // SAFETY: the format is a literal "%s" and its one argument a valid C string that
        // lives across the call; syslog(3) is thread-safe.
        unsafe { libc::syslog(libc::LOG_USER | level(p), c"%s".as_ptr(), msg.as_ptr()) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_are_syslog_levels_in_order() {
        let all = [
            Priority::Emergency,
            Priority::Alert,
            Priority::Critical,
            Priority::Error,
            Priority::Warning,
            Priority::Notice,
            Priority::Informational,
            Priority::Debug,
        ];
        let levels: Vec<libc::c_int> = all.iter().map(|p| level(*p)).collect();
        assert_eq!(levels, (0..8).collect::<Vec<_>>());
    }
}
