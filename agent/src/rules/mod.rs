//! The Falco-compatible rules engine: loader (YAML with positions), list substitution,
//! condition parser, field registry, compiler with event-type index, evaluator, output
//! formatter. It evaluates [`crate::event::Event`]s against [`crate::state::State`] and never
//! touches the probe, so captures replay through exactly the code live detection runs.

pub(crate) mod ast;
pub(crate) mod compile;
pub(crate) mod configure;
pub(crate) mod default;
pub(crate) mod detect;
pub(crate) mod diag;
pub(crate) mod engine;
pub(crate) mod evttype;
pub(crate) mod exceptions;
pub(crate) mod extract;
pub(crate) mod fields;
pub mod fuzzing;
pub(crate) mod ir;
pub(crate) mod items;
pub(crate) mod lint;
pub(crate) mod lists;
pub(crate) mod loader;
pub(crate) mod merge;
pub(crate) mod multi;
pub(crate) mod output;
pub(crate) mod parser;
pub(crate) mod prefilter;
pub(crate) mod priority;
pub(crate) mod scan;
pub(crate) mod sources;
pub(crate) mod value;
pub(crate) mod yaml;

pub use compile::Rule;
pub use default::{DEFAULT_RULES, DEFAULT_RULES_NAME};
pub use diag::Diag;
pub(crate) use engine::hostname;
pub use engine::{Engine, Loaded, Matching};
pub use evttype::Set as EventTypes;
pub use output::Alert;
pub use priority::Priority;
