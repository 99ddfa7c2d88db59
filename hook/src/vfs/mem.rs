//! An in-memory [`Vfs`]: for tests, and for synthetic inputs that have no filesystem.
//!
//! Parent directories are created implicitly. It exists so that probes, reduction and
//! shellflow bridging can be tested without building tarballs; it is not used for images.

use std::collections::BTreeMap;

use super::{normalize, FileKind, Metadata, Vfs, VfsError};

#[derive(Debug, Clone)]
enum Node {
    Dir,
    File { mode: u32, body: Vec<u8> },
    Symlink(String),
    Special(FileKind),
}

/// An in-memory tree; every path is stored normalised.
#[derive(Debug, Clone, Default)]
pub struct MemVfs {
    nodes: BTreeMap<String, (Node, u32, u32)>,
}

impl MemVfs {
    pub fn new() -> Self {
        let mut v = Self::default();
        v.nodes.insert("/".into(), (Node::Dir, 0, 0));
        v
    }

    /// Adds a regular file (owned by root) with the given permission bits.
    pub fn add_file(&mut self, path: &str, mode: u32, body: &[u8]) -> &mut Self {
        self.insert(
            path,
            Node::File {
                mode,
                body: body.to_vec(),
            },
        )
    }

    /// Adds a copy of the host file at `host` as a regular file at `path` with permission bits
    /// `mode`: tests use it to probe real binaries (`/bin/true`, `/bin/busybox`).
    pub fn add_host_file(
        &mut self,
        path: &str,
        host: &std::path::Path,
        mode: u32,
    ) -> std::io::Result<&mut Self> {
        let body = std::fs::read(host)?;
        Ok(self.add_file(path, mode, &body))
    }

    /// Adds a minimal, valid ELF64 x86-64 executable: static when `interp` is `None`, else
    /// with a `PT_INTERP` naming `interp` (`/lib/ld-musl-x86_64.so.1`). Deterministic test
    /// data for probes and reduction, independent of the host's binaries.
    pub fn add_tiny_elf(&mut self, path: &str, mode: u32, interp: Option<&str>) -> &mut Self {
        let phnum: u16 = if interp.is_some() { 1 } else { 0 };
        let mut b = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        b.resize(16, 0);
        b.extend(2u16.to_le_bytes()); // e_type: EXEC
        b.extend(0x3eu16.to_le_bytes()); // e_machine: x86-64
        b.extend(1u32.to_le_bytes()); // e_version
        b.extend(0x40_1000u64.to_le_bytes()); // e_entry
        b.extend(64u64.to_le_bytes()); // e_phoff
        b.extend(0u64.to_le_bytes()); // e_shoff
        b.extend(0u32.to_le_bytes()); // e_flags
        for h in [64u16, 56, phnum, 64, 0, 0] {
            b.extend(h.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
        }
        if let Some(interp) = interp {
            let off = 64 + 56;
            let len = interp.len() as u64 + 1;
            b.extend(3u32.to_le_bytes()); // PT_INTERP
            b.extend(4u32.to_le_bytes()); // PF_R
            for v in [off, 0x40_0000 + off, 0x40_0000 + off, len, len, 1] {
                b.extend(v.to_le_bytes());
            }
            b.extend(interp.as_bytes());
            b.push(0);
        }
        self.add_file(path, mode, &b)
    }

    /// Adds a symlink whose target is stored as given.
    pub fn add_symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.insert(path, Node::Symlink(target.to_string()))
    }

    pub fn add_dir(&mut self, path: &str) -> &mut Self {
        self.insert(path, Node::Dir)
    }

    /// Adds a device node, fifo or socket.
    pub fn add_special(&mut self, path: &str, kind: FileKind) -> &mut Self {
        self.insert(path, Node::Special(kind))
    }

    /// Sets the owner of an existing entry.
    pub fn chown(&mut self, path: &str, uid: u32, gid: u32) -> &mut Self {
        if let Some(e) = self.nodes.get_mut(&normalize(path, "/")) {
            e.1 = uid;
            e.2 = gid;
        }
        self
    }

    fn insert(&mut self, path: &str, node: Node) -> &mut Self {
        let p = normalize(path, "/");
        let mut parent = String::new();
        for comp in p.split('/').filter(|c| !c.is_empty()) {
            let dir = if parent.is_empty() {
                "/".to_string()
            } else {
                parent.clone()
            };
            self.nodes.entry(dir).or_insert((Node::Dir, 0, 0));
            parent.push('/');
            parent.push_str(comp);
        }
        self.nodes.insert(p, (node, 0, 0));
        self
    }

    fn get(&self, path: &str) -> Result<&(Node, u32, u32), VfsError> {
        self.nodes.get(path).ok_or_else(|| VfsError::NotFound {
            path: path.to_string(),
        })
    }
}

impl Vfs for MemVfs {
    fn lstat(&self, path: &str) -> Result<Option<Metadata>, VfsError> {
        let Some((node, uid, gid)) = self.nodes.get(path) else {
            return Ok(None);
        };
        let (kind, mode, size) = match node {
            Node::Dir => (FileKind::Dir, 0o755, 0),
            Node::File { mode, body } => (FileKind::File, *mode, body.len() as u64),
            Node::Symlink(t) => (FileKind::Symlink, 0o777, t.len() as u64),
            Node::Special(k) => (*k, 0o644, 0),
        };
        Ok(Some(Metadata {
            kind,
            mode,
            uid: *uid,
            gid: *gid,
            size,
        }))
    }

    fn read_link(&self, path: &str) -> Result<String, VfsError> {
        match &self.get(path)?.0 {
            Node::Symlink(t) => Ok(t.clone()),
            _ => Err(VfsError::NotFound {
                path: path.to_string(),
            }),
        }
    }

    fn read_range(&self, path: &str, offset: u64, max_len: usize) -> Result<Vec<u8>, VfsError> {
        match &self.get(path)?.0 {
            Node::File { body, .. } => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(body.len());
                let end = start.saturating_add(max_len).min(body.len());
                Ok(body[start..end].to_vec())
            }
            Node::Dir => Err(VfsError::NotRegular {
                path: path.to_string(),
                kind: FileKind::Dir,
            }),
            Node::Symlink(_) => Err(VfsError::NotRegular {
                path: path.to_string(),
                kind: FileKind::Symlink,
            }),
            Node::Special(k) => Err(VfsError::NotRegular {
                path: path.to_string(),
                kind: *k,
            }),
        }
    }

    fn read_dir(&self, path: &str) -> Result<Vec<String>, VfsError> {
        match &self.get(path)?.0 {
            Node::Dir => {}
            _ => {
                return Err(VfsError::NotADirectory {
                    path: path.to_string(),
                })
            }
        }
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        Ok(self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| {
                let rest = &k[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_string())
            })
            .collect())
    }
}
