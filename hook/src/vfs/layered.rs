//! The merged, read-only view of an image's layers: a [`Vfs`] over an index, with bodies
//! decompressed only when read.
//!
//! Building it indexes every layer once, in parallel (layers are independent), then applies
//! them in order as OCI image-spec "Representing Changes" says: a layer's whiteouts
//! (`.wh.<name>`) and opaque markers (`.wh..wh..opq`) hide lower-layer content, then its
//! entries are added; an entry replacing a directory with a non-directory hides the
//! directory's children; a hard link takes the body of the file it names. A layer that cannot
//! be read (truncated, corrupt) is dropped with a diagnostic naming its digest; a digest
//! mismatch or too many entries is an error. Reads re-open the layer blob and stream to the
//! entry's offset, so memory is bounded by the index, never by layer size. Symlinks are stored
//! as written; resolution (confined to the root) is [`Vfs::resolve`]'s job. It deliberately
//! does not model overlayfs's `trusted.overlay.*` xattrs nor read sparse-file bodies.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use super::layer_index::{
    self, Compression, LayerFailure, LayerIndex, LayerSource, RawEntry, RawKind,
};
use super::{FileKind, Metadata, Vfs, VfsError};

/// Why no merged view could be built.
#[derive(Debug, thiserror::Error)]
pub enum LayeredError {
    #[error("layer {layer}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        layer: String,
        expected: String,
        actual: String,
    },
    #[error("layer {layer}: more than {limit} entries in the image (limits.max_entries)")]
    TooManyEntries { layer: String, limit: u64 },
    #[error("no usable layer: {reasons}")]
    NoUsableLayer { reasons: String },
}

/// A merged image filesystem.
#[derive(Debug)]
pub struct LayeredVfs {
    layers: Vec<(LayerSource, Compression)>,
    nodes: BTreeMap<Box<str>, Node>,
}

#[derive(Debug, Clone)]
struct Node {
    kind: FileKind,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    None,
    /// Body at `offset` in the decompressed stream of layer `layer`.
    Data {
        layer: usize,
        offset: u64,
    },
    Symlink(Box<str>),
    /// A GNU sparse file of layer `layer`: listed, never read.
    Sparse {
        layer: usize,
    },
}

impl LayeredVfs {
    /// Indexes `layers` (lowest first) and merges them. Soft problems come back as messages.
    pub fn build(
        layers: Vec<LayerSource>,
        max_entries: u64,
    ) -> Result<(Self, Vec<String>), LayeredError> {
        let results = index_all(&layers, max_entries);
        let mut vfs = LayeredVfs {
            layers: Vec::new(),
            nodes: BTreeMap::new(),
        };
        vfs.nodes.insert("/".into(), Node::implicit_dir());
        let mut diags = Vec::new();
        let mut failures = Vec::new();
        for (src, result) in layers.into_iter().zip(results) {
            match result {
                Ok(index) => {
                    diags.extend(
                        index
                            .diagnostics
                            .iter()
                            .map(|d| format!("layer {}: {d}", src.digest)),
                    );
                    let slot = vfs.layers.len();
                    vfs.layers.push((src, index.compression));
                    vfs.apply(slot, index.entries, &mut diags);
                }
                Err(LayerFailure::Corrupt(why)) => {
                    tracing::warn!(layer = %src.digest, %why, "layer skipped");
                    diags.push(format!("layer {} skipped: {why}", src.digest));
                    failures.push(format!("layer {}: {why}", src.digest));
                }
                Err(LayerFailure::Digest { expected, actual }) => {
                    return Err(LayeredError::DigestMismatch {
                        layer: src.digest,
                        expected,
                        actual,
                    });
                }
                Err(LayerFailure::TooManyEntries) => {
                    return Err(LayeredError::TooManyEntries {
                        layer: src.digest,
                        limit: max_entries,
                    });
                }
            }
        }
        if vfs.layers.is_empty() && !failures.is_empty() {
            return Err(LayeredError::NoUsableLayer {
                reasons: failures.join("; "),
            });
        }
        Ok((vfs, diags))
    }

    /// Number of entries in the merged view (the root included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when only the root exists.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    /// Every path in the merged view, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(|k| &**k)
    }

    fn apply(&mut self, slot: usize, entries: Vec<RawEntry>, diags: &mut Vec<String>) {
        // Whiteouts apply to lower layers only, so before this layer's own entries.
        for e in &entries {
            match e.kind {
                RawKind::Whiteout => self.remove_tree(&e.path, true),
                RawKind::Opaque => self.remove_tree(&e.path, false),
                _ => {}
            }
        }
        for e in entries {
            let body = match e.kind {
                RawKind::Whiteout | RawKind::Opaque => continue,
                RawKind::HardLink(target) => {
                    match self.nodes.get(&*target) {
                        Some(n) if n.kind != FileKind::Dir => {
                            let n = n.clone();
                            self.put(&e.path, n);
                            continue;
                        }
                        _ => {
                            let layer = &self.layers[slot].0.digest;
                            diags.push(format!("layer {layer}: hard link {} skipped: target {target} is not a file", e.path));
                            continue;
                        }
                    }
                }
                RawKind::Node(FileKind::File) => Body::Data {
                    layer: slot,
                    offset: e.offset,
                },
                RawKind::Node(_) => Body::None,
                RawKind::Sparse => Body::Sparse { layer: slot },
                RawKind::Symlink(ref t) => Body::Symlink(t.as_str().into()),
            };
            let kind = match e.kind {
                RawKind::Node(k) => k,
                RawKind::Symlink(_) => FileKind::Symlink,
                _ => FileKind::File,
            };
            let node = Node {
                kind,
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
                size: e.size,
                body,
            };
            self.put(&e.path, node);
        }
    }

    /// Inserts `node` at `path`, creating missing parents; a directory over a directory keeps
    /// its children, anything else replaces the old entry and everything under it.
    fn put(&mut self, path: &str, node: Node) {
        if path == "/" {
            if node.kind == FileKind::Dir {
                self.nodes.insert("/".into(), node);
            }
            return;
        }
        self.ensure_parents(path);
        let keep_children = node.kind == FileKind::Dir
            && self
                .nodes
                .get(path)
                .is_some_and(|n| n.kind == FileKind::Dir);
        if !keep_children {
            self.remove_tree(path, true);
        }
        self.nodes.insert(path.into(), node);
    }

    fn ensure_parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(i) = path[end + 1..].find('/') {
            end += 1 + i;
            let dir = &path[..end];
            match self.nodes.get(dir) {
                Some(n) if n.kind == FileKind::Dir => {}
                Some(_) => {
                    self.remove_tree(dir, true);
                    self.nodes.insert(dir.into(), Node::implicit_dir());
                }
                None => {
                    self.nodes.insert(dir.into(), Node::implicit_dir());
                }
            }
        }
    }

    /// Removes everything under `path`, and `path` itself when `itself` (never the root).
    fn remove_tree(&mut self, path: &str, itself: bool) {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        let doomed: Vec<Box<str>> = self
            .nodes
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
        if itself && path != "/" {
            self.nodes.remove(path);
        }
    }

    fn node(&self, path: &str) -> Result<&Node, VfsError> {
        self.nodes.get(path).ok_or_else(|| VfsError::NotFound {
            path: path.to_string(),
        })
    }

    fn read_body(
        &self,
        path: &str,
        layer: usize,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>, VfsError> {
        let (src, compression) = &self.layers[layer];
        let fail = |e: io::Error| VfsError::Layer {
            path: path.to_string(),
            layer: src.digest.clone(),
            reason: e.to_string(),
        };
        let mut stream: Box<dyn Read> = if *compression == Compression::None {
            let mut f = layer_index::open_blob(src).map_err(fail)?;
            f.get_mut()
                .seek(SeekFrom::Current(i64::try_from(start).unwrap_or(i64::MAX)))
                .map_err(fail)?;
            let left = src.size.saturating_sub(start);
            f.set_limit(left);
            Box::new(f)
        } else {
            let mut s = layer_index::open_stream(src, *compression).map_err(fail)?;
            let skipped = io::copy(&mut (&mut s).take(start), &mut io::sink()).map_err(fail)?;
            if skipped < start {
                return Err(fail(io::ErrorKind::UnexpectedEof.into()));
            }
            s
        };
        let mut out = Vec::with_capacity(usize::try_from(len.min(1 << 20)).unwrap_or(0));
        (&mut stream)
            .take(len)
            .read_to_end(&mut out)
            .map_err(fail)?;
        if (out.len() as u64) < len {
            return Err(fail(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "layer ends inside the file",
            )));
        }
        Ok(out)
    }
}

impl Node {
    fn implicit_dir() -> Self {
        Node {
            kind: FileKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            body: Body::None,
        }
    }
}

impl Vfs for LayeredVfs {
    fn lstat(&self, path: &str) -> Result<Option<Metadata>, VfsError> {
        Ok(self.nodes.get(path).map(|n| Metadata {
            kind: n.kind,
            mode: n.mode,
            uid: n.uid,
            gid: n.gid,
            size: n.size,
        }))
    }

    fn read_link(&self, path: &str) -> Result<String, VfsError> {
        match &self.node(path)?.body {
            Body::Symlink(t) => Ok(t.to_string()),
            _ => Err(VfsError::Io {
                path: path.to_string(),
                source: io::Error::from_raw_os_error(libc::EINVAL),
            }),
        }
    }

    fn read_range(&self, path: &str, offset: u64, max_len: usize) -> Result<Vec<u8>, VfsError> {
        let node = self.node(path)?;
        match node.body {
            Body::Data { layer, offset: at } => {
                let start = offset.min(node.size);
                let len = (node.size - start).min(max_len as u64);
                if len == 0 {
                    return Ok(Vec::new());
                }
                self.read_body(path, layer, at + start, len)
            }
            Body::Sparse { layer } => Err(VfsError::Layer {
                path: path.to_string(),
                layer: self.layers[layer].0.digest.clone(),
                reason: "sparse file bodies are not read".into(),
            }),
            _ => Err(VfsError::NotRegular {
                path: path.to_string(),
                kind: node.kind,
            }),
        }
    }

    fn read_dir(&self, path: &str) -> Result<Vec<String>, VfsError> {
        if self.node(path)?.kind != FileKind::Dir {
            return Err(VfsError::NotADirectory {
                path: path.to_string(),
            });
        }
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        let mut names = Vec::new();
        let mut from = prefix.clone();
        // Jump over each child's subtree: after `prefix/name`, continue at `prefix/name0`
        // ('0' is the byte after '/').
        while let Some((k, _)) = self
            .nodes
            .range::<str, _>((Bound::Included(from.as_str()), Bound::Unbounded))
            .next()
        {
            let Some(rest) = k.strip_prefix(prefix.as_str()) else {
                break;
            };
            let name = rest.split('/').next().unwrap_or(rest);
            if !name.is_empty() {
                names.push(name.to_string());
            }
            from = format!("{prefix}{name}0");
        }
        Ok(names)
    }
}

/// Indexes every layer, `available_parallelism` at a time.
fn index_all(layers: &[LayerSource], max_entries: u64) -> Vec<Result<LayerIndex, LayerFailure>> {
    let workers = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, layers.len().max(1));
    let next = AtomicUsize::new(0);
    let counter = AtomicU64::new(0);
    let slots: Vec<Mutex<Option<Result<LayerIndex, LayerFailure>>>> =
        layers.iter().map(|_| Mutex::new(None)).collect();
    thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(src) = layers.get(i) else { break };
                let r = layer_index::index_layer(src, &counter, max_entries);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(LayerFailure::Corrupt("indexing did not finish".into())))
        })
        .collect()
}
