//! Command lookup as `execvp(3)` and runc do it, inside the image.
//!
//! A word with a `/` names a file directly, relative ones against the working directory. A
//! word without one is searched along `PATH` taken from the process environment (the
//! default below when unset; an empty entry means the working directory); the first regular
//! file with an execute bit wins. A hit *without* the execute bit is skipped as `execvp`
//! does (EACCES, keep looking) but remembered: if nothing executable is found, that hit is
//! the answer, as [`Lookup::NotExecutable`]. Symlinks resolve inside the image root through
//! [`Vfs::resolve`]. This module does not read file contents.

use crate::vfs::{normalize, FileKind, Metadata, Vfs, VfsError};

/// The PATH runc and Docker use when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where a command word leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// An executable regular file.
    Found {
        /// The path as exec'd (`/usr/local/bin/app`): what a `#!` script sees as its name.
        path: String,
        /// The same after following symlinks in the image (`/bin/busybox`).
        real: String,
        meta: Metadata,
        /// Earlier PATH hits skipped for lacking the execute bit.
        skipped: Vec<String>,
    },
    /// Something is there, but it cannot be exec'd (no execute bit, or not a regular file).
    NotExecutable {
        path: String,
        real: String,
        kind: FileKind,
    },
    /// Nothing by that name; `tried` lists the paths looked at.
    NotFound { tried: Vec<String> },
}

/// Looks `word` up. `path_env` is the value of `PATH` (or `None` when unset); `search`
/// false means no PATH walk at all (a `#!` interpreter is never searched for).
pub fn lookup(
    vfs: &dyn Vfs,
    word: &str,
    path_env: Option<&str>,
    cwd: &str,
    search: bool,
) -> Result<Lookup, VfsError> {
    if word.is_empty() {
        return Ok(Lookup::NotFound { tried: Vec::new() });
    }
    if word.contains('/') || !search {
        let path = normalize(word, cwd);
        return Ok(match probe(vfs, &path)? {
            Some(hit) => hit.into_lookup(Vec::new()),
            None => Lookup::NotFound { tried: vec![path] },
        });
    }
    let mut tried = Vec::new();
    let mut first_bad: Option<Hit> = None;
    for dir in path_env.unwrap_or(DEFAULT_PATH).split(':') {
        let dir = if dir.is_empty() { cwd } else { dir };
        let path = normalize(word, &normalize(dir, cwd));
        tried.push(path.clone());
        let hit = match probe(vfs, &path) {
            Ok(Some(hit)) => hit,
            // A hostile link or a file where a directory should be: execvp skips it too.
            Ok(None) | Err(VfsError::SymlinkLoop { .. }) => continue,
            Err(e) => return Err(e),
        };
        if hit.meta.is_executable() {
            let skipped = first_bad.iter().map(|h| h.path.clone()).collect();
            return Ok(hit.into_lookup(skipped));
        }
        if first_bad.is_none() && hit.meta.kind == FileKind::File {
            first_bad = Some(hit);
        }
    }
    Ok(match first_bad {
        Some(hit) => hit.into_lookup(Vec::new()),
        None => Lookup::NotFound { tried },
    })
}

/// The value of `name` in `KEY=VALUE` words (the last assignment wins).
pub fn env_value<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

#[derive(Debug)]
struct Hit {
    path: String,
    real: String,
    meta: Metadata,
}

impl Hit {
    fn into_lookup(self, skipped: Vec<String>) -> Lookup {
        if self.meta.is_executable() {
            Lookup::Found {
                path: self.path,
                real: self.real,
                meta: self.meta,
                skipped,
            }
        } else {
            Lookup::NotExecutable {
                path: self.path,
                real: self.real,
                kind: self.meta.kind,
            }
        }
    }
}

fn probe(vfs: &dyn Vfs, path: &str) -> Result<Option<Hit>, VfsError> {
    let real = match vfs.resolve(path, "/", true) {
        Ok(r) => r,
        Err(VfsError::NotFound { .. }) | Err(VfsError::NotADirectory { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(vfs.lstat(&real)?.map(|meta| Hit {
        path: path.to_string(),
        real,
        meta,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vfs::mem::MemVfs;

    fn tree() -> MemVfs {
        let mut v = MemVfs::new();
        v.add_file("/usr/bin/app", 0o755, b"\x7fELF");
        v.add_file("/usr/local/bin/app", 0o644, b"\x7fELF");
        v.add_file("/usr/local/bin/only-noexec", 0o644, b"x");
        v.add_file("/bin/busybox", 0o755, b"\x7fELF");
        v.add_symlink("/bin/ls", "busybox");
        v.add_file("/srv/run.sh", 0o755, b"#!/bin/sh\n");
        v.add_dir("/usr/sbin/app-dir");
        v.add_symlink("/opt/loop/tool", "tool");
        v.add_file("/opt/bin/tool", 0o755, b"\x7fELF");
        v
    }

    fn found(path: &str, real: &str) -> String {
        format!("found {path} -> {real}")
    }

    fn show(l: &Lookup) -> String {
        match l {
            Lookup::Found { path, real, .. } => found(path, real),
            Lookup::NotExecutable { path, .. } => format!("not executable {path}"),
            Lookup::NotFound { .. } => "not found".into(),
        }
    }

    #[test]
    fn looks_commands_up_as_execvp_does() {
        let v = tree();
        let cases: &[(&str, Option<&str>, &str, bool, String)] = &[
            (
                "app",
                None,
                "/",
                true,
                found("/usr/bin/app", "/usr/bin/app"),
            ),
            ("ls", None, "/", true, found("/bin/ls", "/bin/busybox")),
            ("/bin/ls", None, "/", true, found("/bin/ls", "/bin/busybox")),
            (
                "./run.sh",
                None,
                "/srv",
                true,
                found("/srv/run.sh", "/srv/run.sh"),
            ),
            (
                "../srv/run.sh",
                None,
                "/usr",
                true,
                found("/srv/run.sh", "/srv/run.sh"),
            ),
            (
                "run.sh",
                Some("/usr/bin:"),
                "/srv",
                true,
                found("/srv/run.sh", "/srv/run.sh"),
            ),
            ("run.sh", None, "/srv", true, "not found".into()),
            (
                "only-noexec",
                None,
                "/",
                true,
                "not executable /usr/local/bin/only-noexec".into(),
            ),
            (
                "/usr/sbin/app-dir",
                None,
                "/",
                true,
                "not executable /usr/sbin/app-dir".into(),
            ),
            (
                "tool",
                Some("/opt/loop:/opt/bin"),
                "/",
                true,
                found("/opt/bin/tool", "/opt/bin/tool"),
            ),
            ("app", Some("/nowhere"), "/", true, "not found".into()),
            ("", None, "/", true, "not found".into()),
            (
                "app",
                None,
                "/usr/bin",
                false,
                found("/usr/bin/app", "/usr/bin/app"),
            ),
        ];
        for (word, path_env, cwd, search, want) in cases {
            let got = lookup(&v, word, *path_env, cwd, *search).expect("lookup");
            assert_eq!(&show(&got), want, "{word} in {cwd} with PATH {path_env:?}");
        }
    }

    #[test]
    fn a_non_executable_hit_is_skipped_but_remembered() {
        let v = tree();
        let got = lookup(&v, "app", Some("/usr/local/bin:/usr/bin"), "/", true).expect("lookup");
        match got {
            Lookup::Found { path, skipped, .. } => {
                assert_eq!(path, "/usr/bin/app");
                assert_eq!(skipped, ["/usr/local/bin/app"]);
            }
            other => panic!("expected found, got {other:?}"),
        }
    }

    #[test]
    fn env_value_takes_the_last_assignment() {
        let env: Vec<String> = ["PATH=/a", "X=1", "PATH=/b"].map(String::from).to_vec();
        assert_eq!(env_value(&env, "PATH"), Some("/b"));
        assert_eq!(env_value(&env, "Y"), None);
    }
}
