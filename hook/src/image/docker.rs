//! `docker save` archives (`docker-archive:PATH[:REF]`): `manifest.json` names the config and
//! the layer tars of each image.
//!
//! Two forms exist: the legacy one (`<id>.json`, `<id>/layer.tar` uncompressed, each layer
//! checked against the config's `rootfs.diff_ids`) and the one newer docker and podman write,
//! whose `manifest.json` points into an OCI layout (`blobs/sha256/<hex>`, checked against that
//! digest). An archive with only `index.json` is read as an OCI layout. It deliberately does
//! not read the legacy per-layer `json`/`VERSION` files: the config has everything needed.

use serde::Deserialize;

use super::oci::{self, Resolved};
use super::store::{check_digest, digest_hex, Store};
use super::{ImageError, Platform};
use crate::vfs::layer_index::{LayerSource, Verify};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveImage {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Loads the image named `reference` (a RepoTag; or the only one) from a docker archive.
pub(crate) fn load(
    store: &Store,
    reference: Option<&str>,
    platform: &Platform,
    limit: u64,
) -> Result<Resolved, ImageError> {
    if !store.has("manifest.json") && store.has("index.json") {
        return oci::load(store, reference, platform, limit);
    }
    let bytes = store.read_member("manifest.json", limit)?;
    let images: Vec<ArchiveImage> =
        serde_json::from_slice(&bytes).map_err(|source| ImageError::Json {
            file: store.describe("manifest.json"),
            source,
        })?;
    let image = pick(store, &images, reference)?;
    let config = store.read_member(&image.config, limit)?;
    let config_digest = match hex_of_name(&image.config) {
        Some(hex) => {
            check_digest(&store.describe(&image.config), hex, &config)?;
            format!("sha256:{hex}")
        }
        None => {
            return Err(ImageError::BadDigest {
                digest: store.describe(&image.config),
            })
        }
    };
    let spec = oci::spec_from_config(store, &image.config, &config)?;
    let diff_ids = diff_ids(store, &image.config, &config)?;
    if diff_ids.len() != image.layers.len() {
        return Err(ImageError::NoImage {
            origin: store.describe(&image.config),
            why: format!(
                "{} layers but {} diff_ids in config {config_digest}",
                image.layers.len(),
                diff_ids.len()
            ),
        });
    }
    let layers = image
        .layers
        .iter()
        .zip(&diff_ids)
        .map(|(name, diff_id)| layer(store, name, diff_id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Resolved { spec, layers })
}

fn pick<'a>(
    store: &Store,
    images: &'a [ArchiveImage],
    reference: Option<&str>,
) -> Result<&'a ArchiveImage, ImageError> {
    let origin = store.origin().display().to_string();
    let tags = || {
        images
            .iter()
            .flat_map(|i| i.repo_tags.iter().flatten().cloned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (reference, images) {
        (_, []) => Err(ImageError::NoImage {
            origin,
            why: "manifest.json lists no image".into(),
        }),
        (None, [only]) => Ok(only),
        (None, _) => Err(ImageError::NoImage {
            origin,
            why: format!("several images; name one with :REF (tags: {})", tags()),
        }),
        (Some(r), _) => images
            .iter()
            .find(|i| {
                i.repo_tags
                    .iter()
                    .flatten()
                    .any(|t| t == r || t.strip_prefix("localhost/") == Some(r))
            })
            .ok_or_else(|| ImageError::NoImage {
                origin,
                why: format!("no image tagged {r:?} (tags: {})", tags()),
            }),
    }
}

/// A layer member: checked against its blob digest when its name is one, else against the
/// config's diff_id (the sha256 of the uncompressed tar).
fn layer(store: &Store, name: &str, diff_id: &str) -> Result<LayerSource, ImageError> {
    let loc = store.member(name)?;
    let verify = match name.strip_prefix("blobs/sha256/") {
        Some(hex) => Verify::Blob(digest_hex(&format!("sha256:{hex}"))?.to_string()),
        None => Verify::Uncompressed(digest_hex(diff_id)?.to_string()),
    };
    let digest = match &verify {
        Verify::Blob(hex) => format!("sha256:{hex}"),
        Verify::Uncompressed(_) => format!("{diff_id} ({name})"),
    };
    Ok(LayerSource {
        digest,
        file: loc.file,
        offset: loc.offset,
        size: loc.size,
        verify,
    })
}

fn diff_ids(store: &Store, name: &str, config: &[u8]) -> Result<Vec<String>, ImageError> {
    #[derive(Deserialize)]
    struct Config {
        rootfs: RootFs,
    }
    #[derive(Deserialize)]
    struct RootFs {
        #[serde(default)]
        diff_ids: Vec<String>,
    }
    let c: Config = serde_json::from_slice(config).map_err(|source| ImageError::Json {
        file: store.describe(name),
        source,
    })?;
    Ok(c.rootfs.diff_ids)
}

/// `<hex>.json` or `blobs/sha256/<hex>` → hex.
fn hex_of_name(name: &str) -> Option<&str> {
    let base = name.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    digest_hex(&format!("sha256:{hex}")).ok().map(|_| hex)
}
