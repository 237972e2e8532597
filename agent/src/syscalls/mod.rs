//! Syscall knowledge: names and numbers per ABI, argument signatures and their decoding.

pub mod args;
pub mod flags;
pub mod table;

pub use table::Abi;
