//! sysaudit: an eBPF syscall audit agent for containers.
//!
//! Data flows one way: `probe` (kernel programs, ring buffer, decoding) → `state` (processes,
//! containers) → consumers. `event` is the typed model between them and the capture format.
#![warn(missing_docs)]

pub mod cli;
mod config;
pub mod event;
mod host;
mod inspect;
mod launch;
mod messages;
mod metrics;
mod outputs;
mod probe;
mod report;
pub mod rules;
pub mod runc;
mod seccomp;
pub mod state;
mod stream;
mod syscalls;

#[cfg(test)]
mod alloc_count;
#[cfg(test)]
#[path = "../../tests/src/reference.rs"]
mod reference;
