//! A small builder of real test images: layer tars written with the `tar` crate (whiteouts,
//! opaque dirs, hard links, symlinks, devices, and deliberately malformed entries), compressed
//! with gzip, zstd or not at all, and laid out as an OCI image layout, an `oci-archive` tar or
//! a (legacy) `docker save` archive.
//!
//! It exists so tests exercise the same bytes real tools produce, without downloads. It
//! writes what it is told, including hostile input; it does not validate.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::json;
use sha2::{Digest, Sha256};

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// One entry of a layer. Paths are written as given, without a leading `/` added or removed.
#[derive(Debug, Clone)]
pub enum Entry {
    Dir {
        path: String,
        mode: u32,
    },
    File {
        path: String,
        mode: u32,
        body: Vec<u8>,
    },
    Symlink {
        path: String,
        target: String,
    },
    HardLink {
        path: String,
        target: String,
    },
    /// A character (`block` false) or block device.
    Device {
        path: String,
        block: bool,
    },
    Fifo {
        path: String,
    },
    /// Deletes `path` of lower layers (`dir/.wh.name`).
    Whiteout {
        path: String,
    },
    /// Hides the lower-layer children of `dir` (`dir/.wh..wh..opq`).
    Opaque {
        dir: String,
    },
    /// A regular-file header with raw name bytes (may hold `..` or be absolute) and a claimed
    /// size that may differ from the body actually written.
    Raw {
        name: Vec<u8>,
        claimed_size: u64,
        body: Vec<u8>,
    },
}

impl Entry {
    pub fn dir(path: &str) -> Self {
        Entry::Dir {
            path: path.into(),
            mode: 0o755,
        }
    }
    pub fn file(path: &str, mode: u32, body: &[u8]) -> Self {
        Entry::File {
            path: path.into(),
            mode,
            body: body.to_vec(),
        }
    }
    pub fn symlink(path: &str, target: &str) -> Self {
        Entry::Symlink {
            path: path.into(),
            target: target.into(),
        }
    }
    /// A copy of the host file `host` at `path` (mode 0755); `None`, after saying why through
    /// [`crate::require`], when the host has no such file.
    pub fn from_host(path: &str, host: &str) -> Option<Self> {
        if !crate::require(&format!("host file {host}"), Path::new(host).exists()) {
            return None;
        }
        let body = std::fs::read(host).ok()?;
        Some(Self::file(path, 0o755, &body))
    }

    pub fn hardlink(path: &str, target: &str) -> Self {
        Entry::HardLink {
            path: path.into(),
            target: target.into(),
        }
    }
    pub fn whiteout(path: &str) -> Self {
        Entry::Whiteout { path: path.into() }
    }
    pub fn opaque(dir: &str) -> Self {
        Entry::Opaque { dir: dir.into() }
    }
}

/// A layer: entries in tar order, and its compression.
#[derive(Debug, Clone)]
pub struct Layer {
    pub entries: Vec<Entry>,
    pub compression: Compression,
    /// Cut the stored blob to this many bytes (before its digest is taken): a truncated
    /// stream whose digest still matches.
    pub truncate_to: Option<usize>,
}

impl Layer {
    pub fn new(compression: Compression, entries: Vec<Entry>) -> Self {
        Layer {
            entries,
            compression,
            truncate_to: None,
        }
    }
}

/// An image: layers (lowest first), the config's `config` object, and a tag.
#[derive(Debug, Clone)]
pub struct Image {
    pub layers: Vec<Layer>,
    pub config: serde_json::Value,
    pub tag: String,
}

/// What a written OCI layout holds.
#[derive(Debug, Clone)]
pub struct Written {
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
}

/// The uncompressed tar of `entries`.
pub fn layer_tar(entries: &[Entry]) -> anyhow::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        append(&mut b, e)?;
    }
    Ok(b.into_inner()?)
}

/// `bytes` compressed as asked.
pub fn compress(bytes: &[u8], c: Compression) -> anyhow::Result<Vec<u8>> {
    Ok(match c {
        Compression::None => bytes.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(bytes)?;
            e.finish()?
        }
        Compression::Zstd => zstd::encode_all(bytes, 3)?,
    })
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

fn append(b: &mut tar::Builder<Vec<u8>>, e: &Entry) -> anyhow::Result<()> {
    use tar::EntryType as T;
    match e {
        Entry::Dir { path, mode } => {
            b.append_data(&mut header(T::Directory, *mode, 0), path, &[][..])?
        }
        Entry::File { path, mode, body } => b.append_data(
            &mut header(T::Regular, *mode, body.len() as u64),
            path,
            &body[..],
        )?,
        Entry::Symlink { path, target } => {
            b.append_link(&mut header(T::Symlink, 0o777, 0), path, target)?
        }
        Entry::HardLink { path, target } => {
            b.append_link(&mut header(T::Link, 0o644, 0), path, target)?
        }
        Entry::Device { path, block } => {
            let mut h = header(if *block { T::Block } else { T::Char }, 0o660, 0);
            h.set_device_major(1)?;
            h.set_device_minor(3)?;
            b.append_data(&mut h, path, &[][..])?
        }
        Entry::Fifo { path } => b.append_data(&mut header(T::Fifo, 0o644, 0), path, &[][..])?,
        Entry::Whiteout { path } => {
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
            let wh = if dir.is_empty() {
                format!(".wh.{name}")
            } else {
                format!("{dir}/.wh.{name}")
            };
            b.append_data(&mut header(T::Regular, 0o644, 0), wh, &[][..])?
        }
        Entry::Opaque { dir } => {
            let p = format!("{}/.wh..wh..opq", dir.trim_end_matches('/'));
            b.append_data(
                &mut header(T::Regular, 0o644, 0),
                p.trim_start_matches('/'),
                &[][..],
            )?
        }
        Entry::Raw {
            name,
            claimed_size,
            body,
        } => {
            let mut h = header(T::Regular, 0o644, *claimed_size);
            let gnu = h.as_gnu_mut().context("gnu header")?;
            let n = name.len().min(gnu.name.len());
            gnu.name[..n].copy_from_slice(&name[..n]);
            h.set_cksum();
            b.append(&h, &body[..])?
        }
    }
    Ok(())
}

/// A layer as (stored blob, uncompressed tar, compression).
type LayerBlob = (Vec<u8>, Vec<u8>, Compression);

impl Image {
    /// An image of `layers` with an `Entrypoint`-only config.
    pub fn new(layers: Vec<Layer>) -> Self {
        Image {
            layers,
            config: json!({"Entrypoint": ["/bin/sh"]}),
            tag: "latest".into(),
        }
    }

    /// Each layer as (stored blob, uncompressed tar, compression), and the config JSON.
    fn blobs(&self) -> anyhow::Result<(Vec<LayerBlob>, Vec<u8>)> {
        let mut layers = Vec::new();
        for l in &self.layers {
            let tar = layer_tar(&l.entries)?;
            let mut blob = compress(&tar, l.compression)?;
            if let Some(n) = l.truncate_to {
                blob.truncate(n);
            }
            layers.push((blob, tar, l.compression));
        }
        let diff_ids: Vec<String> = layers.iter().map(|(_, tar, _)| digest(tar)).collect();
        let config = json!({
            "architecture": "amd64", "os": "linux",
            "config": self.config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        Ok((layers, serde_json::to_vec(&config)?))
    }

    /// Writes an OCI image layout into `dir` (created if needed).
    pub fn write_oci(&self, dir: &Path) -> anyhow::Result<Written> {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs)?;
        let put = |bytes: &[u8]| -> anyhow::Result<String> {
            let d = digest(bytes);
            std::fs::write(blobs.join(&d[7..]), bytes)?;
            Ok(d)
        };
        let (layers, config) = self.blobs()?;
        let config_digest = put(&config)?;
        let mut descs = Vec::new();
        let mut layer_digests = Vec::new();
        for (blob, _, c) in &layers {
            let d = put(blob)?;
            let mt = match c {
                Compression::None => "application/vnd.oci.image.layer.v1.tar",
                Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
                Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            };
            descs.push(json!({"mediaType": mt, "digest": d, "size": blob.len()}));
            layer_digests.push(d);
        }
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": descs,
        }))?;
        let manifest_digest = put(&manifest)?;
        let index = json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": self.tag},
                "platform": {"os": "linux", "architecture": "amd64"},
            }],
        });
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(Written {
            manifest_digest,
            config_digest,
            layer_digests,
        })
    }

    /// Writes the image as an OCI layout in `dir/layout` and returns its `oci:` source.
    pub fn oci_source(&self, dir: &Path) -> String {
        let layout = dir.join("layout");
        self.write_oci(&layout).expect("write oci layout");
        format!("oci:{}", layout.display())
    }

    /// Writes an `oci-archive`: a tar of the OCI layout.
    pub fn write_oci_archive(&self, path: &Path) -> anyhow::Result<Written> {
        let tmp = tempfile::tempdir()?;
        let written = self.write_oci(tmp.path())?;
        let mut b = tar::Builder::new(std::fs::File::create(path)?);
        b.append_dir_all(".", tmp.path())?;
        b.into_inner()?.flush()?;
        Ok(written)
    }

    /// Writes a `docker save` archive in the form docker 25+ uses: an OCI layout plus a
    /// `manifest.json` whose `Config` and `Layers` name blobs (`blobs/sha256/<hex>`).
    pub fn write_docker_oci_archive(&self, path: &Path) -> anyhow::Result<Written> {
        let tmp = tempfile::tempdir()?;
        let written = self.write_oci(tmp.path())?;
        let blob = |d: &str| format!("blobs/sha256/{}", &d[7..]);
        let manifest = json!([{
            "Config": blob(&written.config_digest),
            "RepoTags": [format!("localhost/test:{}", self.tag)],
            "Layers": written.layer_digests.iter().map(|d| blob(d)).collect::<Vec<_>>(),
        }]);
        std::fs::write(
            tmp.path().join("manifest.json"),
            serde_json::to_vec(&manifest)?,
        )?;
        let mut b = tar::Builder::new(std::fs::File::create(path)?);
        b.append_dir_all(".", tmp.path())?;
        b.into_inner()?.flush()?;
        Ok(written)
    }

    /// Writes a legacy `docker save` archive: `<id>.json`, `<n>/layer.tar` (uncompressed, as
    /// docker writes them), `manifest.json`.
    pub fn write_docker_archive(&self, path: &Path) -> anyhow::Result<()> {
        let (layers, config) = self.blobs()?;
        let config_name = format!("{}.json", &digest(&config)[7..]);
        let mut b = tar::Builder::new(std::fs::File::create(path)?);
        let mut add = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
            let mut h = header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
            b.append_data(&mut h, name, bytes)?;
            Ok(())
        };
        add(&config_name, &config)?;
        let mut names = Vec::new();
        for (i, (_, tar, _)) in layers.iter().enumerate() {
            let name = format!("{i:03}/layer.tar");
            add(&name, tar)?;
            names.push(name);
        }
        let repo_tag = format!("localhost/test:{}", self.tag);
        let manifest = json!([{"Config": config_name, "RepoTags": [repo_tag], "Layers": names}]);
        add("manifest.json", &serde_json::to_vec(&manifest)?)?;
        b.into_inner()?.flush()?;
        Ok(())
    }
}
