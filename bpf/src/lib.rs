//! The CO-RE BPF program that records exec, fork and exit in one container, its loader, and
//! its typed events.
//!
//! `src/bpf/exectrace.bpf.c` runs on the `sched_process_{exec,fork,exit}` tracepoints
//! (`tp_btf/`, or `raw_tp/` where BTF-typed tracepoints are missing), filters in the kernel by
//! a cgroup v2 id or by a map of tracked tgids, and writes one [`Event`] per exec, process
//! fork and process exit into a ring buffer without waking anyone: [`Tracer::poll`] drains it
//! on the caller's timer. Records that do not fit are counted ([`Tracer::dropped`]).
//!
//! Loading is made fast by a per-kernel minimised BTF ([`btfcache`]) where one is cached.
//!
//! What this crate deliberately does not do: build a process graph, read `/proc`, or decide
//! what a container runs. That is `entrytrace::dynamic`; this crate is the kernel side only.

pub mod btfcache;
mod event;
mod skel;
mod tracer;

pub use event::{Event, EventKind, ParseError, EVENT_HEADER_SIZE};
pub use tracer::{cgroup_scope, AttachKind, BpfError, Scope, Tracer, TracerOptions};
