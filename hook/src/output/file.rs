//! Writing a result file so that a planted symlink cannot redirect it and a reader never sees
//! half a file.
//!
//! The bundle directory is trusted (the runtime made it), but a name inside it may already be
//! a symlink someone put there. So the bytes go to a fresh temporary name opened with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` (which never follows or reuses anything), then `rename(2)`
//! puts it in place: rename replaces a symlink at the destination rather than following it.
//! The result directory we own (`/run/entrytrace`) is created `0700` and refused if it is a
//! symlink or not a directory.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Writes `bytes` to `dir/name` atomically without following symlinks at `name`.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a plain file name"),
        ));
    }
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let dest = dir.join(name);
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.flush()?;
        fs::rename(&tmp, &dest)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io::Error::new(e.kind(), format!("{}: {e}", dest.display())));
    }
    Ok(dest)
}

/// Makes sure `dir` is a real directory (created `0700` when absent), never a symlink.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{}: exists and is not a directory", dir.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_a_planted_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me").expect("write victim");
        std::os::unix::fs::symlink(&victim, dir.path().join("entrytrace.json")).expect("symlink");
        let out = write_atomic(dir.path(), "entrytrace.json", b"{}").expect("write");
        assert_eq!(fs::read_to_string(&victim).expect("read"), "keep me");
        assert!(fs::symlink_metadata(&out)
            .expect("meta")
            .file_type()
            .is_file());
        assert_eq!(fs::read(&out).expect("read"), b"{}");
    }

    #[test]
    fn leaves_no_temporary_files_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_atomic(dir.path(), "a.json", b"1").expect("first");
        write_atomic(dir.path(), "a.json", b"22").expect("second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
    }

    #[test]
    fn refuses_names_that_are_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["", "..", "a/b", "."] {
            assert!(write_atomic(dir.path(), name, b"x").is_err(), "{name}");
        }
    }

    #[test]
    fn private_dir_refuses_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let link = dir.path().join("run");
        std::os::unix::fs::symlink("/etc", &link).expect("symlink");
        assert!(ensure_private_dir(&link).is_err());
        let real = dir.path().join("real/deeper");
        ensure_private_dir(&real).expect("create");
        assert!(real.is_dir());
    }
}
