//! Seccomp profiles: what the kernel recorded per cgroup → a minimal allowlist profile in the
//! OCI/Docker JSON format or as a Security Profiles Operator `SeccompProfile`, merged with
//! earlier recordings, written atomically; and a loader that enforces one on a command.
//! Independent of the rules engine; the recorder reads the probe's maps.

pub mod enforce;
pub mod profile;
pub mod record;
pub mod runtime;

pub use profile::{DefaultAction, Format, Profile, ProfileError};
