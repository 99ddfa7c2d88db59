//! The read-only view of an image's filesystem that every later stage reads through.
//!
//! One trait, [`Vfs`], with a few primitives that never follow symlinks, and one resolver,
//! [`Vfs::resolve`], written once over those primitives, that walks a path component by
//! component and follows symlinks *inside the image root only*: absolute targets and `..` are
//! resolved against the image root (as `openat2(RESOLVE_IN_ROOT)` does), never the host's,
//! and more than [`MAX_SYMLINKS`] links (the kernel's `MAXSYMLINKS`) is an error.
//!
//! Implementations: `layered` (image layers with whiteouts, indexed once, bodies decompressed
//! on read), `rootfs` (an unpacked directory opened so nothing resolves outside it) and `mem`
//! (an in-memory tree for tests and synthetic inputs). This module does no I/O of its own.

use std::fmt;

pub mod layer_index;
pub mod layered;
pub mod mem;
pub mod rootfs;

/// The kernel's limit on symlinks followed in one resolution (`MAXSYMLINKS`, 40).
pub const MAX_SYMLINKS: usize = 40;

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            FileKind::File => "regular file",
            FileKind::Dir => "directory",
            FileKind::Symlink => "symbolic link",
            FileKind::CharDevice => "character device",
            FileKind::BlockDevice => "block device",
            FileKind::Fifo => "fifo",
            FileKind::Socket => "socket",
        };
        f.write_str(s)
    }
}

/// `lstat`-like metadata of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    pub kind: FileKind,
    /// Permission bits (`0o7777`), without the file type.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The size the image claims (for a layer entry: the tar header's size).
    pub size: u64,
}

impl Metadata {
    /// Any execute bit set on a regular file.
    pub fn is_executable(&self) -> bool {
        self.kind == FileKind::File && self.mode & 0o111 != 0
    }
}

/// Why a filesystem operation failed. Each variant names the image path.
#[derive(Debug, thiserror::Error)]
pub enum VfsError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: not a directory")]
    NotADirectory { path: String },
    #[error("{path}: too many levels of symbolic links (more than {limit})")]
    SymlinkLoop { path: String, limit: usize },
    #[error("{path}: not a regular file but a {kind}")]
    NotRegular { path: String, kind: FileKind },
    #[error("{path}: {size} bytes is over the read limit of {limit} bytes")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: layer {layer}: {reason}")]
    Layer {
        path: String,
        layer: String,
        reason: String,
    },
}

/// A read-only filesystem tree rooted at the image root.
///
/// The primitives take an absolute, lexically normal path (`/a/b`, no `.`/`..`/`//`) whose
/// parent components are real directories, as [`Vfs::resolve`] returns; they never follow a
/// symlink themselves.
pub trait Vfs: fmt::Debug + Send + Sync {
    /// Metadata of `path` itself (a symlink is reported as one); `None` when absent.
    fn lstat(&self, path: &str) -> Result<Option<Metadata>, VfsError>;
    /// The target of the symlink at `path`, as stored.
    fn read_link(&self, path: &str) -> Result<String, VfsError>;
    /// Up to `max_len` bytes of the regular file at `path` from `offset`.
    fn read_range(&self, path: &str, offset: u64, max_len: usize) -> Result<Vec<u8>, VfsError>;
    /// Names of the entries of the directory at `path`, sorted.
    fn read_dir(&self, path: &str) -> Result<Vec<String>, VfsError>;

    /// Resolves `path` (relative ones against `cwd`) to a path whose every component is real,
    /// following symlinks inside the root; with `follow_final` false the last component is
    /// returned as is (it may be a symlink). The result may name an absent final entry only
    /// when its parent exists; callers `lstat` it.
    fn resolve(&self, path: &str, cwd: &str, follow_final: bool) -> Result<String, VfsError> {
        resolve(self, path, cwd, follow_final)
    }

    /// `stat`: metadata after following symlinks; `None` when the path does not exist.
    fn stat(&self, path: &str) -> Result<Option<Metadata>, VfsError> {
        match self.resolve(path, "/", true) {
            Ok(p) => self.lstat(&p),
            Err(VfsError::NotFound { .. }) | Err(VfsError::NotADirectory { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads the whole regular file at `path` (following symlinks in the root), refusing files
    /// larger than `limit` bytes.
    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, VfsError> {
        let real = self.resolve(path, "/", true)?;
        let meta = self
            .lstat(&real)?
            .ok_or_else(|| VfsError::NotFound { path: real.clone() })?;
        if meta.kind != FileKind::File {
            return Err(VfsError::NotRegular {
                path: real,
                kind: meta.kind,
            });
        }
        if meta.size > limit {
            return Err(VfsError::TooLarge {
                path: real,
                size: meta.size,
                limit,
            });
        }
        let cap = usize::try_from(limit).unwrap_or(usize::MAX);
        self.read_range(&real, 0, cap)
    }
}

/// Joins `path` to `cwd` and normalises it lexically, clamping `..` at the root.
pub fn normalize(path: &str, cwd: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let joined_cwd = if path.starts_with('/') { "" } else { cwd };
    for comp in joined_cwd.split('/').chain(path.split('/')) {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn resolve<V: Vfs + ?Sized>(
    vfs: &V,
    path: &str,
    cwd: &str,
    follow_final: bool,
) -> Result<String, VfsError> {
    // Pending components, last first, so a symlink's target can be pushed in front.
    let start = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{}", normalize(cwd, "/"), path)
    };
    let mut pending: Vec<String> = start
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .rev()
        .map(str::to_string)
        .collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0usize;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            done.pop();
            continue;
        }
        let here = join(&done, &comp);
        let is_last = pending.is_empty();
        match vfs.lstat(&here)? {
            None if is_last => {
                done.push(comp);
            }
            None => return Err(VfsError::NotFound { path: here }),
            Some(m) if m.kind == FileKind::Symlink && (!is_last || follow_final) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(VfsError::SymlinkLoop {
                        path: normalize(path, cwd),
                        limit: MAX_SYMLINKS,
                    });
                }
                let target = vfs.read_link(&here)?;
                if target.starts_with('/') {
                    done.clear();
                }
                pending.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty() && *c != ".")
                        .rev()
                        .map(str::to_string),
                );
            }
            Some(m) if !is_last && m.kind != FileKind::Dir => {
                return Err(VfsError::NotADirectory { path: here });
            }
            Some(_) => done.push(comp),
        }
    }
    Ok(join(&done, ""))
}

fn join(done: &[String], last: &str) -> String {
    let mut out = String::new();
    for c in done.iter().map(String::as_str).chain(Some(last)) {
        if c.is_empty() {
            continue;
        }
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mem::MemVfs;
    use super::*;

    fn tree() -> MemVfs {
        let mut v = MemVfs::new();
        v.add_file("/usr/bin/python3.11", 0o755, b"\x7fELF");
        v.add_symlink("/usr/bin/python3", "python3.11");
        v.add_symlink("/bin", "usr/bin");
        v.add_symlink("/etc/shadow-link", "/etc/shadow");
        v.add_file("/etc/shadow", 0o600, b"image shadow");
        v.add_symlink("/escape", "../../../../../etc/shadow");
        v.add_symlink("/loop/a", "b");
        v.add_symlink("/loop/b", "a");
        v.add_file("/file", 0o644, b"x");
        v
    }

    #[test]
    fn normalizes_paths_lexically_and_clamps_at_root() {
        for (path, cwd, want) in [
            ("a/b", "/srv", "/srv/a/b"),
            ("/a/./b//c/", "/", "/a/b/c"),
            ("../../..", "/a", "/"),
            ("..", "/", "/"),
            ("", "/x", "/x"),
        ] {
            assert_eq!(normalize(path, cwd), want, "{path} in {cwd}");
        }
    }

    #[test]
    fn follows_relative_and_parent_symlinks_inside_the_root() {
        let v = tree();
        assert_eq!(
            v.resolve("/bin/python3", "/", true).expect("resolves"),
            "/usr/bin/python3.11"
        );
        assert_eq!(
            v.resolve("/bin/python3", "/", false).expect("resolves"),
            "/usr/bin/python3"
        );
        assert_eq!(
            v.resolve("python3", "/bin", true).expect("resolves"),
            "/usr/bin/python3.11"
        );
    }

    #[test]
    fn absolute_and_dotdot_targets_stay_in_the_image() {
        let v = tree();
        assert_eq!(v.resolve("/escape", "/", true).expect("ok"), "/etc/shadow");
        assert_eq!(
            v.read("/etc/shadow-link", 1024).expect("read"),
            b"image shadow"
        );
    }

    #[test]
    fn symlink_loops_stop_at_the_kernel_limit() {
        let v = tree();
        let err = v.resolve("/loop/a", "/", true).expect_err("loop");
        assert!(
            matches!(err, VfsError::SymlinkLoop { limit: 40, .. }),
            "{err}"
        );
    }

    #[test]
    fn file_as_directory_is_not_a_directory() {
        let v = tree();
        let err = v.resolve("/file/x/y", "/", true).expect_err("enotdir");
        assert!(matches!(err, VfsError::NotADirectory { .. }), "{err}");
    }

    #[test]
    fn reads_are_bounded() {
        let v = tree();
        let err = v.read("/usr/bin/python3", 2).expect_err("too large");
        assert!(matches!(err, VfsError::TooLarge { size: 4, .. }), "{err}");
    }
}
