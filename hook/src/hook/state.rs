//! The container state a runtime hands a hook on stdin (OCI runtime-spec, "State"; hooks get
//! it for every stage), in the spellings runc, crun and Podman actually use.
//!
//! runc sends `id`, `pid`, `bundle`, `annotations`; crun adds `root` relative to the bundle
//! (`"rootfs"`); Podman gives `root` as the absolute overlay `merged` path. When `root` is
//! absent it comes from the bundle's `config.json` (`root.path`). Parsing is tolerant of
//! extra fields and strict about the ones we need; input is bounded by the caller.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Largest state document accepted on stdin.
pub const MAX_STATE_BYTES: u64 = 1 << 20;

/// What the hook needs to know about the container being created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub id: String,
    /// Host pid of the container's init (0 when the runtime gave none).
    pub pid: u32,
    /// Absolute bundle directory.
    pub bundle: PathBuf,
    pub annotations: BTreeMap<String, String>,
    /// The root filesystem, absolute, when the state says where it is.
    pub root: Option<PathBuf>,
}

/// Why the state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container state on stdin: {0}")]
    Json(#[from] serde_json::Error),
    #[error("container state on stdin: {field}: {reason}")]
    Field { field: &'static str, reason: String },
}

#[derive(Deserialize)]
struct RawState {
    #[serde(default)]
    id: String,
    #[serde(default)]
    pid: Option<i64>,
    #[serde(default)]
    bundle: String,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    root: Option<String>,
}

impl ContainerState {
    /// Parses the state JSON a runtime wrote.
    pub fn parse(bytes: &[u8]) -> Result<Self, StateError> {
        let raw: RawState = serde_json::from_slice(bytes)?;
        if raw.id.is_empty() || raw.id.contains('/') || raw.id.starts_with('.') {
            return Err(StateError::Field {
                field: "id",
                reason: format!("{:?} is not a usable container id", raw.id),
            });
        }
        let bundle = PathBuf::from(&raw.bundle);
        if !bundle.is_absolute() {
            return Err(StateError::Field {
                field: "bundle",
                reason: format!("{:?} is not an absolute path", raw.bundle),
            });
        }
        let pid = match raw.pid {
            None => 0,
            Some(p) => u32::try_from(p).map_err(|_| StateError::Field {
                field: "pid",
                reason: format!("{p} is not a process id"),
            })?,
        };
        let root = raw
            .root
            .filter(|r| !r.is_empty())
            .map(|r| absolutize(&bundle, Path::new(&r)));
        Ok(Self {
            id: raw.id,
            pid,
            bundle,
            annotations: raw.annotations.unwrap_or_default(),
            root,
        })
    }
}

/// `root` relative to the bundle, as crun and `config.json` write it.
pub fn absolutize(bundle: &Path, root: &Path) -> PathBuf {
    if root.is_absolute() {
        root.to_path_buf()
    } else {
        bundle.join(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_state_of_each_runtime() {
        let cases: &[(&str, &str, u32, Option<&str>)] = &[
            (
                r#"{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":4242,"bundle":"/b/c1","annotations":{"a":"b"}}"#,
                "c1",
                4242,
                None,
            ),
            (
                r#"{"ociVersion":"1.0.0","id":"c2","status":"created","pid":7,"bundle":"/b/c2","root":"rootfs"}"#,
                "c2",
                7,
                Some("/b/c2/rootfs"),
            ),
            (
                r#"{"ociVersion":"1.0.0","id":"c3","pid":9,"bundle":"/var/lib/x/c3/userdata","root":"/var/lib/containers/storage/overlay/abc/merged","annotations":{"io.entrytrace.enabled":"true"}}"#,
                "c3",
                9,
                Some("/var/lib/containers/storage/overlay/abc/merged"),
            ),
        ];
        for (json, id, pid, root) in cases {
            let s = ContainerState::parse(json.as_bytes()).expect(json);
            assert_eq!(s.id, *id);
            assert_eq!(s.pid, *pid);
            assert_eq!(s.root.as_deref(), root.map(Path::new));
        }
    }

    #[test]
    fn rejects_states_that_would_misdirect_writes() {
        for json in [
            r#"{"id":"../x","pid":1,"bundle":"/b"}"#,
            r#"{"id":"","pid":1,"bundle":"/b"}"#,
            r#"{"id":"a/b","pid":1,"bundle":"/b"}"#,
            r#"{"id":"c","pid":1,"bundle":"relative"}"#,
            r#"{"id":"c","pid":-3,"bundle":"/b"}"#,
            r#"not json"#,
        ] {
            assert!(ContainerState::parse(json.as_bytes()).is_err(), "{json}");
        }
    }
}
