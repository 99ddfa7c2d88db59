//! A [`Vfs`] over an on-disk directory (a bundle's rootfs, later `/proc/<pid>/root`) opened so
//! that nothing resolves outside it.
//!
//! The root is held as an `O_PATH` directory fd; every primitive goes through `openat2(2)`
//! with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS` (the primitives never
//! follow links; [`Vfs::resolve`] does, inside the root). Files are opened `O_PATH` first and
//! checked with `fstat` to be regular before they are re-opened for reading through
//! `/proc/self/fd` — so a fifo or device in a hostile tree is never opened, let alone read.
//! The hook runs as root over a tree the container's author wrote: no symlink, `..` or
//! mount trick in it may reach the host. Needs Linux 5.6 (openat2); it deliberately has no
//! fallback to plain `openat`, which cannot give the same guarantee.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{FileKind, Metadata, Vfs, VfsError};

/// An on-disk tree, confined to its root.
#[derive(Debug)]
pub struct RootfsVfs {
    root: OwnedFd,
    /// The host path, for messages only.
    host: PathBuf,
    /// `lstat` answers already given: the resolver walks the same directories for every PATH
    /// probe, and each uncached answer costs an `openat2`, an `fstatat` and a `close`.
    /// Bounded; one scan sees the tree as it was when first asked.
    lstat_cache: Mutex<HashMap<String, Option<Metadata>>>,
}

/// Most `lstat` answers kept; past it the cache starts over.
const LSTAT_CACHE_MAX: usize = 4096;

impl RootfsVfs {
    /// Opens `dir` (following symlinks in the host path itself: it is the operator's input).
    pub fn open(dir: &Path) -> Result<Self, VfsError> {
        let io_err = |source| VfsError::Io {
            path: dir.display().to_string(),
            source,
        };
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io_err(io::Error::from_raw_os_error(libc::EINVAL)))?;
        // SAFETY: `c` is a valid NUL-terminated string; the returned fd is checked below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io_err(io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
        let root = unsafe { OwnedFd::from_raw_fd(fd) };
        let vfs = RootfsVfs {
            root,
            host: dir.to_path_buf(),
            lstat_cache: Mutex::new(HashMap::new()),
        };
        // Probe openat2 once so a kernel without it fails here, clearly.
        vfs.openat2(".", libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| {
                io_err(io::Error::new(
                    e.kind(),
                    format!("openat2 unavailable: {e}"),
                ))
            })?;
        Ok(vfs)
    }

    /// The host directory this tree was opened from.
    pub fn host_path(&self) -> &Path {
        &self.host
    }

    /// `(st_dev, st_ino)` of the entry at `path` (not following a final symlink): lets a
    /// caller check that what it read is the inode it expected.
    pub fn file_id(&self, path: &str) -> Result<Option<(u64, u64)>, VfsError> {
        match self.openat2(rel(path), libc::O_PATH | libc::O_NOFOLLOW) {
            Ok(fd) => fstat(&fd)
                .map(|st| Some((st.st_dev, st.st_ino)))
                .map_err(|e| self.err(path, e)),
            Err(e) if absent(&e) => Ok(None),
            Err(e) => Err(self.err(path, e)),
        }
    }

    /// `openat2(root, rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)`.
    fn openat2(&self, rel: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
        let c = CString::new(rel).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: open_how is plain old data; all-zero is a valid value we then fill in.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (flags | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64;
        how.resolve =
            libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_SYMLINKS;
        // SAFETY: the pointers are valid for the call: `c` is NUL-terminated, `how` is an
        // initialised open_how of the size passed; the root fd is open for self's lifetime.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.root.as_raw_fd(),
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = RawFd::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: openat2 returned a new fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The parent directory of `path` as an fd, and the final name.
    fn parent<'p>(&self, path: &'p str) -> io::Result<(OwnedFd, &'p str)> {
        let r = rel(path);
        let (dir, name) = r.rsplit_once('/').unwrap_or((".", r));
        let fd = self.openat2(
            if dir.is_empty() { "." } else { dir },
            libc::O_PATH | libc::O_DIRECTORY,
        )?;
        Ok((fd, name))
    }

    /// Opens the regular file at `path` for reading, never opening anything else.
    fn open_regular(&self, path: &str) -> Result<(File, libc::stat), VfsError> {
        let opath = self
            .openat2(rel(path), libc::O_PATH)
            .map_err(|e| self.err(path, e))?;
        let st = fstat(&opath).map_err(|e| self.err(path, e))?;
        let kind = kind_of(st.st_mode);
        if kind != FileKind::File {
            return Err(VfsError::NotRegular {
                path: path.to_string(),
                kind,
            });
        }
        // Re-open the very inode checked above; /proc/self/fd/N is our own fd's link.
        let proc_path = format!("/proc/self/fd/{}\0", opath.as_raw_fd());
        let c = CStr::from_bytes_with_nul(proc_path.as_bytes())
            .map_err(|_| self.err(path, io::Error::from_raw_os_error(libc::EINVAL)))?;
        // SAFETY: `c` is NUL-terminated; the result is checked.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(self.err(path, io::Error::last_os_error()));
        }
        // SAFETY: open(2) returned a new fd that nothing else owns.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let again = fstat(&file).map_err(|e| self.err(path, e))?;
        if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino)
            || kind_of(again.st_mode) != FileKind::File
        {
            return Err(self.err(path, io::Error::other("file changed while being opened")));
        }
        Ok((file, again))
    }

    fn err(&self, path: &str, source: io::Error) -> VfsError {
        match source.raw_os_error() {
            Some(libc::ENOENT) => VfsError::NotFound {
                path: path.to_string(),
            },
            Some(libc::ENOTDIR) => VfsError::NotADirectory {
                path: path.to_string(),
            },
            _ => VfsError::Io {
                path: format!("{path} (in {})", self.host.display()),
                source,
            },
        }
    }
}

impl Vfs for RootfsVfs {
    fn lstat(&self, path: &str) -> Result<Option<Metadata>, VfsError> {
        if let Some(hit) = self
            .lstat_cache
            .lock()
            .ok()
            .and_then(|c| c.get(path).copied())
        {
            return Ok(hit);
        }
        let answer = self.lstat_uncached(path)?;
        if let Ok(mut cache) = self.lstat_cache.lock() {
            if cache.len() >= LSTAT_CACHE_MAX {
                cache.clear();
            }
            cache.insert(path.to_string(), answer);
        }
        Ok(answer)
    }

    fn read_link(&self, path: &str) -> Result<String, VfsError> {
        self.read_link_uncached(path)
    }

    fn read_range(&self, path: &str, offset: u64, max_len: usize) -> Result<Vec<u8>, VfsError> {
        self.read_range_uncached(path, offset, max_len)
    }

    fn read_dir(&self, path: &str) -> Result<Vec<String>, VfsError> {
        self.read_dir_uncached(path)
    }
}

impl RootfsVfs {
    fn lstat_uncached(&self, path: &str) -> Result<Option<Metadata>, VfsError> {
        if rel(path) == "." {
            let st = fstat(&self.root).map_err(|e| self.err(path, e))?;
            return Ok(Some(metadata(&st)));
        }
        let (dir, name) = match self.parent(path) {
            Ok(p) => p,
            Err(e) if absent(&e) => return Ok(None),
            Err(e) => return Err(self.err(path, e)),
        };
        let c = CString::new(name)
            .map_err(|_| self.err(path, io::Error::from_raw_os_error(libc::EINVAL)))?;
        // SAFETY: zeroed stat is a valid out-buffer for fstatat.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `dir` is an open fd, `c` NUL-terminated, `st` a valid out-pointer; the name
        // has no '/', so only one entry of `dir` is looked at, never followed.
        let ret = unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if ret < 0 {
            let e = io::Error::last_os_error();
            return if absent(&e) {
                Ok(None)
            } else {
                Err(self.err(path, e))
            };
        }
        Ok(Some(metadata(&st)))
    }

    fn read_link_uncached(&self, path: &str) -> Result<String, VfsError> {
        let (dir, name) = self.parent(path).map_err(|e| self.err(path, e))?;
        let c = CString::new(name)
            .map_err(|_| self.err(path, io::Error::from_raw_os_error(libc::EINVAL)))?;
        let mut buf = vec![0u8; libc::PATH_MAX as usize];
        // SAFETY: `dir` is open, `c` NUL-terminated, `buf` writable for `buf.len()` bytes.
        let n = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                c.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(self.err(path, io::Error::last_os_error()));
        }
        buf.truncate(usize::try_from(n).unwrap_or(0));
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn read_range_uncached(
        &self,
        path: &str,
        offset: u64,
        max_len: usize,
    ) -> Result<Vec<u8>, VfsError> {
        let (file, st) = self.open_regular(path)?;
        let size = u64::try_from(st.st_size).unwrap_or(0);
        let want = size.saturating_sub(offset).min(max_len as u64);
        let mut out = vec![0u8; usize::try_from(want.min(1 << 20)).unwrap_or(0)];
        let mut got = 0usize;
        while (got as u64) < want {
            if got == out.len() {
                let grow = usize::try_from((want - got as u64).min(1 << 20)).unwrap_or(0);
                out.resize(got + grow, 0);
            }
            match file.read_at(&mut out[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.err(path, e)),
            }
        }
        out.truncate(got);
        Ok(out)
    }

    fn read_dir_uncached(&self, path: &str) -> Result<Vec<String>, VfsError> {
        let fd = self
            .openat2(rel(path), libc::O_RDONLY | libc::O_DIRECTORY)
            .map_err(|e| self.err(path, e))?;
        let mut names = read_dir_fd(fd).map_err(|e| self.err(path, e))?;
        names.sort();
        Ok(names)
    }
}

/// The path relative to the root (`.` for the root itself).
fn rel(path: &str) -> &str {
    let r = path.trim_start_matches('/');
    if r.is_empty() {
        "."
    } else {
        r
    }
}

fn absent(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

fn fstat(fd: &impl AsRawFd) -> io::Result<libc::stat> {
    // SAFETY: zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: the fd is open for the duration of the call; `st` is a valid out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

fn kind_of(mode: libc::mode_t) -> FileKind {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileKind::Dir,
        libc::S_IFLNK => FileKind::Symlink,
        libc::S_IFCHR => FileKind::CharDevice,
        libc::S_IFBLK => FileKind::BlockDevice,
        libc::S_IFIFO => FileKind::Fifo,
        libc::S_IFSOCK => FileKind::Socket,
        _ => FileKind::File,
    }
}

fn metadata(st: &libc::stat) -> Metadata {
    Metadata {
        kind: kind_of(st.st_mode),
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: u64::try_from(st.st_size).unwrap_or(0),
    }
}

/// Lists a directory fd's entries (without `.` and `..`); takes ownership of the fd.
fn read_dir_fd(fd: OwnedFd) -> io::Result<Vec<String>> {
    let raw = fd.as_raw_fd();
    // SAFETY: `raw` is an open directory fd; on success fdopendir owns it (hence the forget).
    let dir = unsafe { libc::fdopendir(raw) };
    if dir.is_null() {
        return Err(io::Error::last_os_error());
    }
    std::mem::forget(fd);
    let mut names = Vec::new();
    loop {
        // SAFETY: `dir` is a valid DIR* until closedir below.
        let ent = unsafe { libc::readdir(dir) };
        if ent.is_null() {
            break;
        }
        // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) };
        let bytes = name.to_bytes();
        if bytes != b"." && bytes != b".." {
            names.push(String::from_utf8_lossy(bytes).into_owned());
        }
    }
    // SAFETY: `dir` came from fdopendir and is closed exactly once.
    unsafe { libc::closedir(dir) };
    Ok(names)
}
