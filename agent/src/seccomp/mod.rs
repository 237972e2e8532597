//! Seccomp profiles: what the kernel recorded per cgroup → a minimal allowlist profile in the
//! OCI/Docker JSON format or as a Security Profiles Operator `SeccompProfile`, merged with
//! earlier recordings, written atomically; and a loader that enforces one on a command.
//! Independent of the rules engine; `record` reads the probe's per-cgroup maps.

pub(crate) mod args;
pub(crate) mod bpf;
pub(crate) mod complete;
pub(crate) mod drift;
pub(crate) mod enforce;
pub(crate) mod file;
pub(crate) mod notify;
pub(crate) mod phases;
pub(crate) mod policy;
pub(crate) mod posture;
pub(crate) mod profile;
pub(crate) mod provenance;
pub(crate) mod record;
pub(crate) mod runtime;
pub(crate) mod trial;

pub(crate) use profile::{DefaultAction, Format, Profile, SpoVersion};
