//! Settings of the OCI hook and its detached tracer: where results go, how long the hook may
//! hold up the runtime, and whether it may ever fail closed.

use serde::{Deserialize, Serialize};

/// The `[hook]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HookConfig {
    /// Directory for the stable copy `<dir>/<container-id>.json` (created `0700`).
    pub result_dir: String,
    /// Also write `<bundle>/entrytrace.json`.
    pub bundle_file: bool,
    /// Send one journal entry per container.
    pub journal: bool,
    /// journald's native socket.
    pub journal_socket: String,
    /// Start the detached tracer (dynamic capture) after the static scan.
    pub dynamic: bool,
    /// Longest the hook waits for the tracer to report its probes attached, in ms.
    pub attach_timeout_ms: u64,
    /// Longest the tracer waits for the container's first exec before giving up, in ms.
    pub start_timeout_ms: u64,
    /// Exit non-zero on internal failure (stops the container). Off: the hook fails open.
    pub fail_closed: bool,
    /// Event source of the tracer: `auto` (BPF, else `/proc` polling), `bpf` or `proc`.
    pub capture: CaptureSource,
}

/// Where the tracer's events come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureSource {
    #[default]
    Auto,
    Bpf,
    Proc,
}

impl Default for HookConfig {
    fn default() -> Self {
        Self {
            result_dir: "/run/entrytrace".into(),
            bundle_file: true,
            journal: true,
            journal_socket: "/run/systemd/journal/socket".into(),
            dynamic: true,
            attach_timeout_ms: 300,
            start_timeout_ms: 30_000,
            fail_closed: false,
            capture: CaptureSource::Auto,
        }
    }
}

impl HookConfig {
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !self.result_dir.starts_with('/') {
            return Err(("hook.result_dir".into(), "must be an absolute path".into()));
        }
        if !self.journal_socket.starts_with('/') {
            return Err((
                "hook.journal_socket".into(),
                "must be an absolute path".into(),
            ));
        }
        if !(10..=5_000).contains(&self.attach_timeout_ms) {
            return Err(("hook.attach_timeout_ms".into(), "must be 10 to 5000".into()));
        }
        if !(100..=600_000).contains(&self.start_timeout_ms) {
            return Err((
                "hook.start_timeout_ms".into(),
                "must be 100 to 600000".into(),
            ));
        }
        Ok(())
    }
}
