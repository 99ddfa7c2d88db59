//! OCI runtime bundles (`bundle:DIR`): `config.json` plus the directory named by `root.path`
//! (OCI runtime-spec, "Filesystem Bundle").
//!
//! How the runtime process maps onto [`ImageSpec`]: `process.args` becomes the `entrypoint`
//! and `cmd` stays `None` — a bundle's argv is final, like an ENTRYPOINT-only image, so
//! `--entrypoint` replaces it and `-- ARGS` appends, as docker does for such an image.
//! `process.env` → `env`, `process.cwd` → `workdir`, `process.user` → `user` as `uid:gid`
//! (or `username` when set). A bundle has no os/arch: the host's are reported. Annotations are
//! not labels and are not copied. The rootfs is opened confined ([`RootfsVfs`]); nothing here
//! reads the tree itself.

use std::path::Path;

use oci_spec::runtime::Spec;

use super::{host_arch, ImageError, ImageSpec};
use crate::vfs::rootfs::RootfsVfs;

/// Reads `DIR/config.json` and opens the bundle's root filesystem.
pub(crate) fn load(dir: &Path, limit: u64) -> Result<(ImageSpec, RootfsVfs), ImageError> {
    load_with_root(dir, None, limit)
}

/// As [`load`], with the root filesystem at `root` when the runtime says where it is (Podman
/// gives the overlay `merged` path in the container state) instead of `root.path`.
pub fn load_with_root(
    dir: &Path,
    root_override: Option<&Path>,
    limit: u64,
) -> Result<(ImageSpec, RootfsVfs), ImageError> {
    let config_path = dir.join("config.json");
    let io_err = |source| ImageError::Io {
        path: config_path.clone(),
        source,
    };
    let meta = std::fs::metadata(&config_path).map_err(io_err)?;
    if meta.len() > limit {
        return Err(ImageError::TooLarge {
            file: config_path.display().to_string(),
            size: meta.len(),
            limit,
        });
    }
    let bytes = std::fs::read(&config_path).map_err(io_err)?;
    let spec: Spec = serde_json::from_slice(&bytes).map_err(|source| ImageError::Json {
        file: config_path.display().to_string(),
        source,
    })?;
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .ok_or_else(|| ImageError::NoImage {
            origin: config_path.display().to_string(),
            why: "no root.path".into(),
        })?;
    let root = match root_override {
        Some(r) => r.to_path_buf(),
        None if root.is_absolute() => root,
        None => dir.join(root),
    };
    let vfs = RootfsVfs::open(&root)?;
    Ok((spec_of(&spec), vfs))
}

fn spec_of(spec: &Spec) -> ImageSpec {
    let mut out = ImageSpec {
        os: "linux".into(),
        arch: host_arch().into(),
        shell: vec!["/bin/sh".into(), "-c".into()],
        ..ImageSpec::default()
    };
    if let Some(p) = spec.process() {
        out.entrypoint = p.args().clone();
        out.env = p.env().clone().unwrap_or_default();
        out.env_complete = true;
        out.capabilities = p
            .capabilities()
            .as_ref()
            .and_then(|c| c.bounding().as_ref())
            .map(|set| {
                let names: Vec<String> = set.iter().map(ToString::to_string).collect();
                shellflow::Capabilities::from_names(&names, None)
            });
        out.workdir = Some(p.cwd().display().to_string());
        let u = p.user();
        out.user = Some(match u.username() {
            Some(name) if !name.is_empty() => name.clone(),
            _ => format!("{}:{}", u.uid(), u.gid()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(process: &str) -> ImageSpec {
        let json = format!(r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}}{process}}}"#);
        spec_of(&serde_json::from_str::<Spec>(&json).expect("a valid config"))
    }

    /// The bounding set is the bundle's own (no assumption); a config that gives none
    /// leaves it unknown rather than assuming Docker's.
    #[test]
    fn the_bounding_set_comes_from_the_config() {
        let s = spec(
            r#","process":{"cwd":"/","args":["/start.sh"],"user":{"uid":0,"gid":0},
                "capabilities":{"bounding":["CAP_SETUID","CAP_CHOWN","CAP_SETGID"]}}"#,
        );
        let caps = s.capabilities.expect("a set");
        assert_eq!(caps.bounding, ["chown", "setgid", "setuid"]);
        assert_eq!(caps.assumed, None);
        let none = spec(r#","process":{"cwd":"/","args":["/start.sh"],"user":{"uid":0,"gid":0}}"#);
        assert_eq!(none.capabilities, None);
    }
}
