//! The OCI hook: `entrytrace hook` at the `createRuntime` stage (OCI runtime-spec, "Hooks").
//!
//! Reads the container state from stdin, writes the static result beside the bundle and under
//! the result directory, starts the detached tracer, and returns — always with status 0
//! unless the config says to fail closed: a broken image must never stop a container.

pub mod spawn;
pub mod state;
