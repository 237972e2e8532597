//! The Falco-compatible rules engine: loader (YAML with positions), list substitution,
//! condition parser, field registry, compiler with event-type index, evaluator, output
//! formatter. It evaluates [`crate::event::Event`]s against [`crate::state::State`] and never
//! touches the probe, so captures replay through exactly the code live detection runs.

pub mod ast;
pub mod compile;
pub mod diag;
pub mod engine;
pub mod evttype;
pub mod extract;
pub mod fields;
pub mod fuzzing;
pub mod lists;
pub mod loader;
pub mod output;
pub mod parser;
pub mod value;

pub use engine::{Engine, Loaded, Matching};
pub use loader::Priority;
pub use output::Alert;
