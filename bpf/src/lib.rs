//! The CO-RE BPF program that records exec, fork and exit in one container.
//!
//! (Being built: see issue 4.)
