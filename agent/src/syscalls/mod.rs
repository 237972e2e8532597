//! Syscall knowledge: names and numbers per ABI, argument signatures and their decoding.

pub(crate) mod args;
pub(crate) mod flags;
pub(crate) mod intern;
pub(crate) mod names;
mod sigs;
pub(crate) mod table;
pub(crate) mod value;

pub(crate) use table::Abi;
