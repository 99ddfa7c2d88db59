//! Image sources: turn a `SOURCE` string (containers-transports spelling) into the image's
//! run settings ([`ImageSpec`]) and a [`Vfs`] over its filesystem.
//!
//! Sources: `docker-archive:PATH`, `oci:DIR[:TAG]`, `oci-archive:PATH[:TAG]`, `bundle:DIR`
//! (and `docker://REF`, which needs a registry). Every blob read is checked against its
//! digest (OCI image-spec, "Descriptors"). Converting OCI types into these plain structs
//! happens here, at the boundary.

use std::collections::BTreeMap;

use crate::model::Diagnostic;
use crate::vfs::Vfs;

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
