//! OCI image layouts (`oci:DIR[:TAG]`, `oci-archive:PATH[:TAG]`, and the OCI form of newer
//! `docker save`): `index.json` → (image index →) manifest → config and layers.
//!
//! A TAG matches the `org.opencontainers.image.ref.name` annotation (OCI image-spec, "Image
//! Layout"); image indexes and Docker manifest lists are narrowed to one platform
//! (`os/arch[/variant]`). OCI and Docker schema-2 manifests share a shape, so both parse as
//! `oci_spec` manifests; the config is converted at once into [`ImageSpec`]. It deliberately
//! does not follow descriptor `urls` (foreign layers) nor read artifacts or signatures.

use std::collections::BTreeMap;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use serde::Deserialize;

use super::store::Store;
use super::{ImageError, ImageSpec, Platform};
use crate::vfs::layer_index::LayerSource;

/// The OCI annotation naming a manifest's tag in an image layout.
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Nested indexes followed at most.
const MAX_INDEX_DEPTH: usize = 4;

/// What a layout yields before its layers are indexed.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub spec: ImageSpec,
    pub layers: Vec<LayerSource>,
}

/// Loads the image named by `tag` (or the only one) from the layout in `store`.
pub(crate) fn load(
    store: &Store,
    tag: Option<&str>,
    platform: &Platform,
    limit: u64,
) -> Result<Resolved, ImageError> {
    let index_bytes = store.read_member("index.json", limit)?;
    let index: ImageIndex = parse(store, "index.json", &index_bytes)?;
    let desc = pick_tagged(store, &index, tag, platform)?;
    let manifest = manifest_for(store, &desc, platform, limit)?;
    let config_digest = manifest.config().digest().to_string();
    let config_bytes = store.read_blob(&config_digest, limit)?;
    let spec = spec_from_config(store, &config_digest, &config_bytes)?;
    let layers = manifest
        .layers()
        .iter()
        .map(|l| store.layer(l.digest().as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Resolved { spec, layers })
}

/// Parses image-config JSON (OCI or Docker) into an [`ImageSpec`].
pub(crate) fn spec_from_config(
    store: &Store,
    name: &str,
    bytes: &[u8],
) -> Result<ImageSpec, ImageError> {
    let cfg: ImageConfiguration = parse(store, name, bytes)?;
    let extras: DockerExtras = parse(store, name, bytes)?;
    let c = cfg.config().clone().unwrap_or_default();
    let mut exposed_ports = c.exposed_ports().clone().unwrap_or_default();
    exposed_ports.sort();
    let shell = extras
        .config
        .and_then(|c| c.shell)
        .filter(|s| !s.is_empty());
    Ok(ImageSpec {
        os: cfg.os().to_string(),
        arch: cfg.architecture().to_string(),
        entrypoint: c.entrypoint().clone(),
        cmd: c.cmd().clone(),
        shell: shell.unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]),
        env: c.env().clone().unwrap_or_default(),
        user: c.user().clone().filter(|u| !u.is_empty()),
        workdir: c.working_dir().clone().filter(|w| !w.is_empty()),
        exposed_ports,
        labels: c
            .labels()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        // `docker run -e` adds to an image's env.
        env_complete: false,
        // What `docker run` gives without `--cap-add`/`--cap-drop`, as an assumption.
        capabilities: Some(shellflow::Capabilities::docker_default()),
    })
}

/// Docker-only config fields `oci_spec` does not model.
#[derive(Debug, Default, Deserialize)]
struct DockerExtras {
    #[serde(default)]
    config: Option<DockerConfigExtras>,
}

#[derive(Debug, Default, Deserialize)]
struct DockerConfigExtras {
    #[serde(rename = "Shell", default)]
    shell: Option<Vec<String>>,
}

fn parse<T: for<'de> Deserialize<'de>>(
    store: &Store,
    name: &str,
    bytes: &[u8],
) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|source| ImageError::Json {
        file: store.describe(name),
        source,
    })
}

/// The top-level descriptor: by tag, else the only one, else the one for `platform`.
fn pick_tagged(
    store: &Store,
    index: &ImageIndex,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<Descriptor, ImageError> {
    let tags: Vec<String> = index
        .manifests()
        .iter()
        .filter_map(|d| ref_name(d).map(str::to_string))
        .collect();
    let origin = store.origin().display().to_string();
    if let Some(tag) = tag {
        return index
            .manifests()
            .iter()
            .find(|d| ref_name(d) == Some(tag))
            .cloned()
            .ok_or_else(|| ImageError::NoImage {
                origin,
                why: format!("no image tagged {tag:?} (tags: {})", tags.join(", ")),
            });
    }
    match index.manifests().as_slice() {
        [] => Err(ImageError::NoImage {
            origin,
            why: "index.json lists no image".into(),
        }),
        [only] => Ok(only.clone()),
        many => {
            let matching: Vec<&Descriptor> = many
                .iter()
                .filter(|d| platform_matches(d, platform))
                .collect();
            match matching.as_slice() {
                [one] => Ok((*one).clone()),
                _ => Err(ImageError::NoImage {
                    origin,
                    why: format!(
                        "{} images in index.json; name one with :TAG (tags: {})",
                        many.len(),
                        tags.join(", ")
                    ),
                }),
            }
        }
    }
}

/// Follows image indexes / manifest lists down to one manifest for `platform`.
fn manifest_for(
    store: &Store,
    desc: &Descriptor,
    platform: &Platform,
    limit: u64,
) -> Result<ImageManifest, ImageError> {
    let mut desc = desc.clone();
    for _ in 0..=MAX_INDEX_DEPTH {
        let digest = desc.digest().to_string();
        let bytes = store.read_blob(&digest, limit)?;
        let probe: serde_json::Value = parse(store, &digest, &bytes)?;
        if probe.get("manifests").is_none() {
            return parse(store, &digest, &bytes);
        }
        let index: ImageIndex = parse(store, &digest, &bytes)?;
        let found = index
            .manifests()
            .iter()
            .find(|d| platform_matches(d, platform));
        desc = match found {
            Some(d) => d.clone(),
            None => {
                let have: Vec<String> =
                    index.manifests().iter().filter_map(platform_name).collect();
                return Err(ImageError::NoImage {
                    origin: store.describe(&digest),
                    why: format!(
                        "no manifest for platform {platform} (has: {})",
                        have.join(", ")
                    ),
                });
            }
        };
    }
    Err(ImageError::NoImage {
        origin: store.origin().display().to_string(),
        why: "image indexes nested too deep".into(),
    })
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations().as_ref()?.get(REF_NAME).map(String::as_str)
}

fn platform_name(d: &Descriptor) -> Option<String> {
    let p = d.platform().as_ref()?;
    Some(match p.variant() {
        Some(v) => format!("{}/{}/{v}", p.os(), p.architecture()),
        None => format!("{}/{}", p.os(), p.architecture()),
    })
}

fn platform_matches(d: &Descriptor, want: &Platform) -> bool {
    let Some(p) = d.platform() else { return false };
    p.os().to_string() == want.os
        && p.architecture().to_string() == want.arch
        && match want.variant.as_deref() {
            None => true,
            Some(v) => p.variant().as_deref() == Some(v),
        }
}
