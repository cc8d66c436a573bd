//! Integration tests of the workbook connector: fidelity of write-back, crash safety,
//! the watcher, bad input, value types.

mod bad_input;
mod crash;
mod fidelity;
mod flows;
mod support;
mod types;
mod watcher;
