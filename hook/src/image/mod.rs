//! Image sources: turn a `SOURCE` string (containers-transports spelling) into the image's
//! run settings ([`ImageSpec`]) and a [`Vfs`] over its filesystem.
//!
//! Sources: `docker-archive:PATH`, `oci:DIR[:TAG]`, `oci-archive:PATH[:TAG]`, `bundle:DIR`
//! (and `docker://REF`, which needs a registry). Every blob read is checked against its
//! digest (OCI image-spec, "Descriptors"). Converting OCI types into these plain structs
//! happens here, at the boundary. Layers are indexed by [`crate::vfs::layered`] (bodies are
//! read lazily), a bundle's rootfs is opened by [`crate::vfs::rootfs`]. Registries are not
//! contacted: `docker://` is refused with the `skopeo copy` line that makes a local layout.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use entrytrace_config::Limits;

use crate::model::Diagnostic;
use crate::vfs::layered::{LayeredError, LayeredVfs};
use crate::vfs::{Vfs, VfsError};

pub mod bundle;
mod docker;
mod oci;
mod store;

use store::Store;

/// The run settings of an image (or bundle), as the runtime will apply them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSpec {
    pub os: String,
    pub arch: String,
    /// `None` when the config has no Entrypoint; `Some([])` when it is explicitly empty.
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// The shell for shell-form commands (`["/bin/sh", "-c"]` when unset).
    pub shell: Vec<String>,
    /// `KEY=VALUE` words, in order.
    pub env: Vec<String>,
    /// As written in the config (`name`, `uid`, `uid:gid`, `name:group`); `None` = root.
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// `env` is the process's whole environment (an OCI bundle's `process.env`, which the
    /// runtime passes as it is), not an image's defaults that `docker run -e` may add to: a
    /// variable missing from it is unset for certain.
    pub env_complete: bool,
    /// The capability bounding set the process gets: a bundle's
    /// `process.capabilities.bounding`, or Docker's default set (an assumption) for an
    /// image; `None` when unknown (a bundle that sets none).
    pub capabilities: Option<shellflow::Capabilities>,
}

/// An opened source: its settings, its filesystem, and what went wrong on the way.
#[derive(Debug)]
pub struct LoadedImage {
    /// The source string as given.
    pub source: String,
    pub spec: ImageSpec,
    pub vfs: Box<dyn Vfs>,
    /// Soft problems met while opening (an unreadable layer, an ignored entry ...).
    pub diagnostics: Vec<Diagnostic>,
}

/// How to open a source.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// `os/arch[/variant]` picked from multi-platform images (default `linux/amd64`).
    pub platform: String,
    pub limits: Limits,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            platform: "linux/amd64".into(),
            limits: Limits::default(),
        }
    }
}

/// Why a source could not be opened. Each message names the file or blob and the cause.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{source_str}: unknown source; use docker-archive:PATH, oci:DIR[:TAG], oci-archive:PATH[:TAG] or bundle:DIR")]
    UnknownSource { source_str: String },
    #[error("docker://{reference}: registry sources are not supported yet; run `skopeo copy docker://{reference} oci:DIR:tag` and scan oci:DIR:tag")]
    Registry { reference: String },
    #[error("{platform:?}: platform must be os/arch[/variant]")]
    BadPlatform { platform: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a readable tar archive: {source}", path.display())]
    Archive {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: compressed archive; decompress it first (gunzip / unzstd)", path.display())]
    CompressedArchive { path: PathBuf },
    #[error("{}: no file {name}", origin.display())]
    Missing { origin: PathBuf, name: String },
    #[error("{file}: invalid JSON: {source}")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file}: {size} bytes is over the metadata limit of {limit} bytes")]
    TooLarge { file: String, size: u64, limit: u64 },
    #[error("{digest}: not a sha256:<64 hex> digest")]
    BadDigest { digest: String },
    #[error("{blob}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        blob: String,
        expected: String,
        actual: String,
    },
    #[error("{origin}: {why}")]
    NoImage { origin: String, why: String },
    #[error(transparent)]
    Layers(#[from] LayeredError),
    #[error(transparent)]
    Rootfs(#[from] VfsError),
}

/// A wanted platform, `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

impl Platform {
    fn parse(s: &str) -> Result<Self, ImageError> {
        let bad = || ImageError::BadPlatform {
            platform: s.to_string(),
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform {
                os: (*os).into(),
                arch: (*arch).into(),
                variant: None,
            }),
            [os, arch, v] => Ok(Platform {
                os: (*os).into(),
                arch: (*arch).into(),
                variant: Some((*v).into()),
            }),
            _ => Err(bad()),
        }
    }
}

/// Opens `source` (containers-transports spelling) into its run settings and filesystem.
pub fn open(source: &str, opts: &OpenOptions) -> Result<LoadedImage, ImageError> {
    let platform = Platform::parse(&opts.platform)?;
    let limit = opts.limits.max_metadata_bytes;
    let (transport, rest) = source
        .split_once(':')
        .ok_or_else(|| ImageError::UnknownSource {
            source_str: source.to_string(),
        })?;
    let resolved = match transport {
        "docker" => {
            let reference = rest.trim_start_matches("//").to_string();
            return Err(ImageError::Registry { reference });
        }
        "bundle" => {
            let (spec, vfs) = bundle::load(Path::new(rest), limit)?;
            return Ok(LoadedImage {
                source: source.into(),
                spec,
                vfs: Box::new(vfs),
                diagnostics: Vec::new(),
            });
        }
        "oci" => {
            let (dir, tag) = split_reference(rest);
            oci::load(&Store::Dir(dir.into()), tag, &platform, limit)?
        }
        "oci-archive" => {
            let (path, tag) = split_reference(rest);
            oci::load(
                &Store::open_archive(Path::new(path))?,
                tag,
                &platform,
                limit,
            )?
        }
        "docker-archive" => {
            let (path, reference) = split_reference(rest);
            docker::load(
                &Store::open_archive(Path::new(path))?,
                reference,
                &platform,
                limit,
            )?
        }
        _ => {
            return Err(ImageError::UnknownSource {
                source_str: source.to_string(),
            })
        }
    };
    let (vfs, messages) = LayeredVfs::build(resolved.layers, opts.limits.max_entries)?;
    Ok(LoadedImage {
        source: source.into(),
        spec: resolved.spec,
        vfs: Box::new(vfs),
        diagnostics: messages.into_iter().map(Diagnostic::warning).collect(),
    })
}

/// `PATH[:REF]`: the shortest prefix before a `:` that exists on disk is the path and the
/// rest the reference (which may itself hold `:`, as `localhost/x:tag` does); when no prefix
/// exists, the split is at the last `:` followed by no `/`.
fn split_reference(rest: &str) -> (&str, Option<&str>) {
    if Path::new(rest).exists() {
        return (rest, None);
    }
    for (i, _) in rest.match_indices(':') {
        let (path, reference) = (&rest[..i], &rest[i + 1..]);
        if !reference.is_empty() && Path::new(path).exists() {
            return (path, Some(reference));
        }
    }
    match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.is_empty() && !tag.contains('/') => (path, Some(tag)),
        _ => (rest, None),
    }
}

/// The host architecture in OCI (GOARCH) spelling.
pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_path_from_its_reference() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().display().to_string();
        for (rest, want_path, want_ref) in [
            (dir.clone(), dir.as_str(), None),
            (format!("{dir}:v1"), dir.as_str(), Some("v1")),
            (
                format!("{dir}:localhost/x:t"),
                dir.as_str(),
                Some("localhost/x:t"),
            ),
            ("/no/such:tag".to_string(), "/no/such", Some("tag")),
            ("/no/such:a/b".to_string(), "/no/such:a/b", None),
        ] {
            assert_eq!(split_reference(&rest), (want_path, want_ref), "{rest}");
        }
    }

    #[test]
    fn parses_platforms_and_refuses_malformed_ones() {
        let p = Platform::parse("linux/arm64/v8").expect("valid");
        assert_eq!(
            (p.os.as_str(), p.arch.as_str(), p.variant.as_deref()),
            ("linux", "arm64", Some("v8"))
        );
        assert_eq!(
            Platform::parse("linux/amd64").expect("valid").to_string(),
            "linux/amd64"
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", ""] {
            assert!(
                matches!(Platform::parse(bad), Err(ImageError::BadPlatform { .. })),
                "{bad}"
            );
        }
    }
}
