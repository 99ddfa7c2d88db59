//! An in-memory [`ImageFs`] for tests and tools: a map of absolute paths to files,
//! directories and symlinks.
//!
//! It follows symlinks (bounded to 16 hops) and creates parent directories implicitly. It
//! does not model permissions beyond the mode bits, hard links or device files.

use std::collections::BTreeMap;

use crate::api::{FileKind, FileStat, FsError, ImageFs};

#[derive(Debug, Clone)]
enum Node {
    File {
        content: Vec<u8>,
        mode: u32,
        uid: u32,
    },
    Dir,
    Link(String),
}

/// In-memory image filesystem (for tests and tools, not for real images).
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    nodes: BTreeMap<String, Node>,
}

impl MemFs {
    /// Empty filesystem with only `/`.
    pub fn new() -> Self {
        let mut fs = MemFs::default();
        fs.nodes.insert("/".into(), Node::Dir);
        fs
    }

    /// Adds a regular file owned by root (parents are created).
    pub fn file(mut self, path: &str, content: &str, mode: u32) -> Self {
        self.add_file(path, content.as_bytes(), mode, 0);
        self
    }

    /// Adds an executable (mode 0755) with a tiny placeholder body.
    pub fn exe(self, path: &str) -> Self {
        self.file(path, "#!/bin/true\n", 0o755)
    }

    /// Adds a directory (parents are created).
    pub fn dir(mut self, path: &str) -> Self {
        self.add_parents(path);
        self.nodes.insert(normalize(path), Node::Dir);
        self
    }

    /// Adds a symlink `path -> target` (target absolute or relative to the link's directory).
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.add_parents(path);
        self.nodes
            .insert(normalize(path), Node::Link(target.into()));
        self
    }

    /// Adds a regular file with explicit owner.
    pub fn add_file(&mut self, path: &str, content: &[u8], mode: u32, uid: u32) {
        self.add_parents(path);
        let node = Node::File {
            content: content.to_vec(),
            mode,
            uid,
        };
        self.nodes.insert(normalize(path), node);
    }

    fn add_parents(&mut self, path: &str) {
        let p = normalize(path);
        let mut cur = String::new();
        let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            cur.push('/');
            cur.push_str(part);
            self.nodes.entry(cur.clone()).or_insert(Node::Dir);
        }
    }

    fn resolve(&self, path: &str) -> Option<(String, &Node, bool)> {
        let mut p = normalize(path);
        let mut was_link = false;
        for _ in 0..16 {
            match self.nodes.get(&p)? {
                Node::Link(t) => {
                    was_link = true;
                    p = if t.starts_with('/') {
                        normalize(t)
                    } else {
                        normalize(&format!("{}/{}", parent(&p), t))
                    };
                }
                n => return Some((p, n, was_link)),
            }
        }
        None
    }
}

impl ImageFs for MemFs {
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FsError> {
        match self.resolve(path) {
            Some((_, Node::File { content, .. }, _)) => Ok(content.clone()),
            Some(_) => Err(FsError::NotAFile { path: path.into() }),
            None => Err(FsError::NotFound { path: path.into() }),
        }
    }

    fn stat(&self, path: &str) -> Option<FileStat> {
        let p = normalize(path);
        // Most paths name a file or directory: one lookup; a link is followed from there.
        let (is_link, node) = match self.nodes.get(&p)? {
            Node::Link(_) => (true, self.resolve(&p)?.1),
            n => (false, n),
        };
        let (kind, mode, size, uid) = match node {
            Node::File { content, mode, uid } => {
                (FileKind::File, *mode, content.len() as u64, *uid)
            }
            Node::Dir => (FileKind::Dir, 0o755, 4096, 0),
            Node::Link(_) => (FileKind::Symlink, 0o777, 0, 0),
        };
        Some(FileStat {
            kind,
            mode,
            size,
            uid,
            is_symlink: is_link,
        })
    }

    fn canonical(&self, path: &str) -> Option<String> {
        self.resolve(path).map(|(p, _, _)| p)
    }

    fn list_dir(&self, path: &str) -> Vec<String> {
        let Some((dir, Node::Dir, _)) = self.resolve(path) else {
            return Vec::new();
        };
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| {
                let rest = &k[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_string())
            })
            .collect()
    }
}

/// Lexically normalises an absolute path (`//`, `.`, `..`).
pub(crate) fn normalize(path: &str) -> String {
    // Most paths a script names are normal already: copied whole, without splitting.
    if is_normal(path) {
        return path.to_string();
    }
    // One buffer, no list of parts: this runs for every path a command names.
    let mut out = String::with_capacity(path.len() + 1);
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                let cut = out.rfind('/').unwrap_or(0);
                out.truncate(cut);
            }
            p => {
                out.push('/');
                out.push_str(p);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Whether `path` is its own normal form: absolute, with no empty, `.` or `..` component
/// and no `/` at the end (but for `/` itself).
fn is_normal(path: &str) -> bool {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        return false;
    }
    if b.len() == 1 {
        return true;
    }
    // One pass over the bytes (a `split` looks for each `/` with a call of its own).
    let mut start = 1;
    for i in 1..=b.len() {
        if i == b.len() || b[i] == b'/' {
            if matches!(&b[start..i], b"" | b"." | b"..") {
                return false;
            }
            start = i + 1;
        }
    }
    true
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memfs_follows_symlinks_and_lists_directories() {
        let fs = MemFs::new()
            .file("/usr/local/bin/entry.sh", "echo hi", 0o755)
            .symlink("/entry.sh", "usr/local/bin/entry.sh")
            .dir("/docker-entrypoint-initdb.d");
        let st = fs.stat("/entry.sh").expect("link resolves");
        assert_eq!(st.kind, FileKind::File);
        assert!(st.is_symlink);
        assert_eq!(fs.read_file("/entry.sh").expect("readable"), b"echo hi");
        assert_eq!(fs.list_dir("/usr/local/bin"), vec!["entry.sh".to_string()]);
        assert!(fs.list_dir("/docker-entrypoint-initdb.d").is_empty());
        assert!(fs.stat("/nope").is_none());
        assert_eq!(normalize("/a/./b/../c//d"), "/a/c/d");
        for (path, want) in [
            ("/", "/"),
            ("", "/"),
            ("/..", "/"),
            ("/a/..", "/"),
            ("/../../x/", "/x"),
            ("a/b/../../..", "/"),
            ("/usr//local/./bin/", "/usr/local/bin"),
        ] {
            assert_eq!(normalize(path), want, "{path}");
        }
    }

    /// The plain statement of [`normalize`]: components, `..` taking one back.
    fn normalize_spec(path: &str) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        format!("/{}", parts.join("/"))
    }

    proptest::proptest! {
        #[test]
        fn normalize_agrees_with_its_statement(path in "[/.ab]{0,12}") {
            proptest::prop_assert_eq!(normalize(&path), normalize_spec(&path));
        }
    }
}
