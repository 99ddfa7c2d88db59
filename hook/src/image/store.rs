//! Where an image's files live: an OCI layout directory, or a tar archive (`docker save`,
//! `oci-archive`) read in place — its members are located once (name → byte range) and read
//! by seeking, never extracted to disk.
//!
//! Blob names come from digests checked to be `sha256:<64 hex>` before they touch a path, so
//! a hostile manifest cannot name a file outside the layout. Every blob read whole is checked
//! against its digest (OCI image-spec, "Descriptors"). It deliberately does not read
//! compressed outer archives (`docker save | gzip`): decompress those first.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::ImageError;
use crate::vfs::layer_index::{LayerSource, Verify};

/// The files of an image, by name relative to the layout / archive root.
#[derive(Debug)]
pub(crate) enum Store {
    Dir(PathBuf),
    Archive {
        path: Arc<Path>,
        members: HashMap<String, (u64, u64)>,
    },
}

/// One located file: `size` bytes at `offset` of `file`.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub file: Arc<Path>,
    pub offset: u64,
    pub size: u64,
}

impl Store {
    /// Indexes the members of the tar at `path` (regular files only; the last one of a name wins).
    pub fn open_archive(path: &Path) -> Result<Store, ImageError> {
        let io_err = |source| ImageError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(io_err)?;
        if magic[..n].starts_with(&[0x1f, 0x8b])
            || magic[..n].starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        {
            return Err(ImageError::CompressedArchive {
                path: path.to_path_buf(),
            });
        }
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let tar_err = |source| ImageError::Archive {
            path: path.to_path_buf(),
            source,
        };
        let mut archive = tar::Archive::new(BufReader::new(file));
        let mut members = HashMap::new();
        for entry in archive.entries().map_err(tar_err)? {
            let entry = entry.map_err(tar_err)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let name = name
                .trim_start_matches("./")
                .trim_start_matches('/')
                .to_string();
            members.insert(name, (entry.raw_file_position(), entry.size()));
        }
        Ok(Store::Archive {
            path: Arc::from(path),
            members,
        })
    }

    /// The source's path, for messages.
    pub fn origin(&self) -> &Path {
        match self {
            Store::Dir(d) => d,
            Store::Archive { path, .. } => path,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        match self {
            Store::Dir(d) => d.join(name).is_file(),
            Store::Archive { members, .. } => members.contains_key(name),
        }
    }

    /// Locates a member by name.
    pub fn member(&self, name: &str) -> Result<Located, ImageError> {
        let missing = || ImageError::Missing {
            origin: self.origin().to_path_buf(),
            name: name.to_string(),
        };
        match self {
            Store::Dir(d) => {
                let p = d.join(name);
                let meta = std::fs::metadata(&p).map_err(|_| missing())?;
                if !meta.is_file() {
                    return Err(missing());
                }
                Ok(Located {
                    file: Arc::from(p.as_path()),
                    offset: 0,
                    size: meta.len(),
                })
            }
            Store::Archive { path, members } => {
                let (offset, size) = *members.get(name).ok_or_else(missing)?;
                Ok(Located {
                    file: Arc::clone(path),
                    offset,
                    size,
                })
            }
        }
    }

    /// Reads a whole member, refusing more than `limit` bytes.
    pub fn read_member(&self, name: &str, limit: u64) -> Result<Vec<u8>, ImageError> {
        let loc = self.member(name)?;
        let what = self.describe(name);
        if loc.size > limit {
            return Err(ImageError::TooLarge {
                file: what,
                size: loc.size,
                limit,
            });
        }
        let io_err = |source| ImageError::Io {
            path: PathBuf::from(&what),
            source,
        };
        let mut f = File::open(&loc.file).map_err(io_err)?;
        f.seek(SeekFrom::Start(loc.offset)).map_err(io_err)?;
        let mut out = Vec::with_capacity(usize::try_from(loc.size).unwrap_or(0));
        f.take(loc.size).read_to_end(&mut out).map_err(io_err)?;
        Ok(out)
    }

    /// Reads a whole blob by digest and checks it against that digest.
    pub fn read_blob(&self, digest: &str, limit: u64) -> Result<Vec<u8>, ImageError> {
        let hex = digest_hex(digest)?;
        let bytes = self.read_member(&format!("blobs/sha256/{hex}"), limit)?;
        check_digest(digest, hex, &bytes)?;
        Ok(bytes)
    }

    /// A layer blob by digest, to be checked while it is indexed.
    pub fn layer(&self, digest: &str) -> Result<LayerSource, ImageError> {
        let hex = digest_hex(digest)?;
        let loc = self.member(&format!("blobs/sha256/{hex}"))?;
        Ok(LayerSource {
            digest: digest.to_string(),
            file: loc.file,
            offset: loc.offset,
            size: loc.size,
            verify: Verify::Blob(hex.to_string()),
        })
    }

    /// `name` as a person finds it: `DIR/name` or `ARCHIVE:name`.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Store::Dir(d) => d.join(name).display().to_string(),
            Store::Archive { path, .. } => format!("{}:{name}", path.display()),
        }
    }
}

/// The hex part of a `sha256:<64 lowercase hex>` digest; anything else is refused.
pub(crate) fn digest_hex(digest: &str) -> Result<&str, ImageError> {
    let bad = || ImageError::BadDigest {
        digest: digest.to_string(),
    };
    let hex = digest.strip_prefix("sha256:").ok_or_else(bad)?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad());
    }
    Ok(hex)
}

/// Fails unless `bytes` hash to `hex`.
pub(crate) fn check_digest(blob: &str, hex: &str, bytes: &[u8]) -> Result<(), ImageError> {
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != hex {
        return Err(ImageError::DigestMismatch {
            blob: blob.to_string(),
            expected: format!("sha256:{hex}"),
            actual: format!("sha256:{actual}"),
        });
    }
    Ok(())
}
