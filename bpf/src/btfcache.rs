//! A per-kernel cache of minimised BTF for exectrace's CO-RE relocations.
//!
//! Loading exectrace spends most of its time in libbpf, not in the kernel: parsing the
//! kernel's BTF (5 MB here) and searching all of it for every type the program relocates —
//! about two thirds of a 20 ms load on these machines. `bpftool gen min_core_btf` writes a BTF
//! holding only the types this object uses (about 1 KiB); handed to libbpf as
//! `btf_custom_path` together with the `raw_tp` entry points (which need no kernel BTF to
//! attach), the load takes about a third of the time.
//!
//! Such a file is only right for one kernel build and one object, so its name is a hash of
//! both (`/proc/version`, the size of `/sys/kernel/btf/vmlinux`, the object bytes). It is made
//! once per kernel, off the critical path (after a tracer's window), by `bpftool` when it is
//! installed: no crate does `min_core_btf`, and a BTF minimiser of our own would duplicate
//! bpftool's btfgen, several hundred lines of subtle C. Without bpftool nothing is cached and
//! the kernel's BTF is used, as before.
//!
//! Trust: a cached file is used only when it and its directory are owned by us (root), are
//! not symlinks, and are writable by nobody else. A wrong file could at worst make the
//! program read wrong fields (the verifier still keeps the kernel safe), and the loader falls
//! back to the kernel's BTF when loading with it fails.

use std::fs::{DirBuilder, Metadata};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The compiled exectrace object, as embedded in the skeleton.
pub const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/exectrace.bpf.o"));

/// Where `bpftool` is looked for (the hook runs with an empty environment: no `PATH`).
const BPFTOOL: &[&str] = &[
    "/usr/sbin/bpftool",
    "/usr/bin/bpftool",
    "/sbin/bpftool",
    "/usr/local/sbin/bpftool",
    "/usr/local/bin/bpftool",
];
/// Largest minimised BTF accepted (the real one is about 1 KiB).
const MAX_BTF_BYTES: u64 = 1 << 20;
/// BTF's magic number, little-endian.
const BTF_MAGIC: [u8; 2] = [0x9f, 0xeb];

/// Why the cache could not be filled.
#[derive(Debug, thiserror::Error)]
pub enum BtfCacheError {
    #[error("bpftool not found (looked in {})", BPFTOOL.join(", "))]
    NoBpftool,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not trusted for the BTF cache: {why}")]
    Untrusted { path: PathBuf, why: String },
    #[error("bpftool gen min_core_btf failed: {0}")]
    Bpftool(String),
}

/// The minimised-BTF cache in one directory (`dynamic.btf_cache_dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfCache {
    dir: PathBuf,
}

impl BtfCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file that holds, or would hold, the BTF for the running kernel and this object.
    pub fn path(&self) -> Result<PathBuf, BtfCacheError> {
        Ok(self.dir.join(format!("exectrace-{}.btf", kernel_key()?)))
    }

    /// The cached BTF for the running kernel, if present and trusted.
    pub fn lookup(&self) -> Option<PathBuf> {
        self.lookup_at(self.path().ok()?)
    }

    fn lookup_at(&self, path: PathBuf) -> Option<PathBuf> {
        trusted(&self.dir, true).ok()?;
        trusted(&path, false).ok()?;
        Some(path)
    }

    /// Makes the cached BTF for the running kernel unless it is there; `timeout` bounds the
    /// `bpftool` run. Returns the file.
    pub fn populate(&self, timeout: Duration) -> Result<PathBuf, BtfCacheError> {
        let path = self.path()?;
        if let Some(p) = self.lookup_at(path.clone()) {
            return Ok(p);
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BtfCacheError::Io { path, source }
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io(&self.dir))?;
        trusted(&self.dir, true)?;
        remove_stale_temporaries(&self.dir);
        let bpftool = BPFTOOL
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .ok_or(BtfCacheError::NoBpftool)?;
        let temp = |suffix: &str| {
            tempfile::Builder::new()
                .prefix(".exectrace-")
                .suffix(suffix)
                .tempfile_in(&self.dir)
                .map_err(io(&self.dir))
        };
        let mut obj = temp(".o")?;
        obj.write_all(OBJECT).map_err(io(obj.path()))?;
        let out = temp(".btf")?;
        run_bpftool(bpftool, obj.path(), out.path(), timeout)?;
        check_btf(out.path())?;
        out.persist(&path).map_err(|e| BtfCacheError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(path)
    }
}

/// Removes temporaries a killed run left behind (older than a minute: a live run's are new).
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten().take(1000) {
        let stale = e.file_name().to_string_lossy().starts_with(".exectrace-")
            && e.metadata().is_ok_and(|m| {
                m.is_file()
                    && m.modified()
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(60))
            });
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Hash of the running kernel's build and of the object: the cache key.
fn kernel_key() -> Result<String, BtfCacheError> {
    static OBJECT_HASH: OnceLock<[u8; 32]> = OnceLock::new();
    let read = |p: &str| {
        std::fs::read(p).map_err(|source| BtfCacheError::Io {
            path: p.into(),
            source,
        })
    };
    let version = read("/proc/version")?;
    let vmlinux = Path::new("/sys/kernel/btf/vmlinux");
    let btf_len = std::fs::metadata(vmlinux)
        .map_err(|source| BtfCacheError::Io {
            path: vmlinux.into(),
            source,
        })?
        .len();
    let object = OBJECT_HASH.get_or_init(|| Sha256::digest(OBJECT).into());
    let mut h = Sha256::new();
    h.update(b"exectrace-btf-v1\0");
    h.update(&version);
    h.update(btf_len.to_le_bytes());
    h.update(object);
    Ok(h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Whether `path` is ours alone: owned by this user, not a symlink, not writable by others.
fn trusted(path: &Path, dir: bool) -> Result<Metadata, BtfCacheError> {
    let md = std::fs::symlink_metadata(path).map_err(|source| BtfCacheError::Io {
        path: path.into(),
        source,
    })?;
    let untrusted = |why: &str| BtfCacheError::Untrusted {
        path: path.into(),
        why: why.into(),
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if dir && !md.is_dir() || !dir && !md.is_file() {
        return Err(untrusted(if dir {
            "not a directory"
        } else {
            "not a regular file"
        }));
    }
    if md.uid() != me {
        return Err(untrusted("owned by another user"));
    }
    if md.mode() & 0o022 != 0 {
        return Err(untrusted("writable by group or others"));
    }
    if !dir && md.len() > MAX_BTF_BYTES {
        return Err(untrusted("too large for a minimised BTF"));
    }
    Ok(md)
}

/// Runs `bpftool gen min_core_btf` with an empty environment, killed after `timeout`.
fn run_bpftool(
    bpftool: &Path,
    obj: &Path,
    out: &Path,
    timeout: Duration,
) -> Result<(), BtfCacheError> {
    let mut child = Command::new(bpftool)
        .args(["gen", "min_core_btf", "/sys/kernel/btf/vmlinux"])
        .arg(out)
        .arg(obj)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BtfCacheError::Io {
            path: bpftool.into(),
            source,
        })?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BtfCacheError::Bpftool(format!(
                    "still running after {timeout:?}; killed"
                )));
            }
            Err(e) => return Err(BtfCacheError::Bpftool(e.to_string())),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(s) = child.stderr.take() {
        let _ = s.take(4096).read_to_string(&mut err);
    }
    let first = err
        .lines()
        .next()
        .unwrap_or("no message")
        .trim()
        .to_string();
    Err(BtfCacheError::Bpftool(format!("{status}: {first}")))
}

/// Checks that bpftool wrote something that starts like BTF and is small.
fn check_btf(path: &Path) -> Result<(), BtfCacheError> {
    let md = trusted(path, false)?;
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|source| BtfCacheError::Io {
            path: path.into(),
            source,
        })?;
    if head != BTF_MAGIC || md.len() < 24 {
        return Err(BtfCacheError::Bpftool(format!(
            "{}: not a BTF file",
            path.display()
        )));
    }
    Ok(())
}
