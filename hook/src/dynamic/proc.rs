//! `/proc` samples of the processes still alive at the end of the window, read from the host
//! side and confined to the target: before anything is read, the process's cgroup v2 path
//! (its `0::` line in `/proc/PID/cgroup`) must be the target's (or below it) and its start
//! time must match the process the graph knows; both are checked again after the read, so a
//! pid reused meanwhile is never reported.
//!
//! A sample holds the `exe` link target, `cmdline`, `cwd`, the `status` ids (NStgid, uids),
//! the open fds, and the sockets it listens on, matched by socket inode against the tables of
//! that process's own network namespace (`/proc/PID/net/{tcp,tcp6,udp,udp6,unix}`).
//!
//! Deliberately not here: following any path inside the container (`exe` and `cwd` are link
//! targets as the kernel prints them, never opened), and reading a process outside the target.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use procfs::process::{FDTarget, Process as ProcProcess};

/// What scopes a sample: a process is read only when it passes this check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confine {
    /// The process's cgroup v2 path (relative to the cgroup2 root, e.g. `/runc-abc`) is this
    /// one, or with `subtree` one below it.
    Cgroup { rel_path: String, subtree: bool },
    /// The process is one the tracer followed: only its start time is checked.
    Tracked,
}

/// One process, as `/proc` shows it at the end of the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcSample {
    pub pid: u32,
    pub exe: Option<String>,
    pub cmdline: Vec<String>,
    pub cwd: Option<String>,
    /// NStgid, outermost first (the last one is the pid inside the container).
    pub nstgid: Vec<u32>,
    pub ppid: u32,
    pub ruid: u32,
    pub euid: u32,
    pub egid: u32,
    /// `/proc/PID/stat` starttime, in clock ticks since boot.
    pub start_ticks: u64,
    pub fd_count: usize,
    /// `0.0.0.0:8080`, `[::]:53/udp`, `unix:/run/app.sock`.
    pub listening: Vec<String>,
}

/// Why a process was not sampled.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("/proc/{pid}: {source}")]
    Read {
        pid: u32,
        #[source]
        source: procfs::ProcError,
    },
    #[error("/proc/{pid}/cgroup: {source}")]
    Cgroup {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("/proc/{pid}: outside the target (cgroup {found:?})")]
    OutsideTarget { pid: u32, found: Option<String> },
    #[error(
        "/proc/{pid}: pid now names another process (start {found} ticks, expected {expected})"
    )]
    Reused { pid: u32, found: u64, expected: u64 },
}

impl ProcSample {
    /// The pid inside the process's own pid namespace.
    pub fn ns_pid(&self) -> u32 {
        self.nstgid.last().copied().unwrap_or(self.pid)
    }
}

/// The cgroup v2 path of `pid` (its `0::` line), relative to the cgroup2 root.
pub fn cgroup_of(pid: u32) -> Result<Option<String>, ProcError> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|source| ProcError::Cgroup { pid, source })?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string))
}

/// The pids listed in `cgroup_dir/cgroup.procs` (and, with `subtree`, its sub-cgroups').
pub fn cgroup_pids(cgroup_dir: &Path, subtree: bool) -> std::io::Result<Vec<u32>> {
    let mut out = Vec::new();
    let text = std::fs::read_to_string(cgroup_dir.join("cgroup.procs"))?;
    out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    if subtree {
        for entry in std::fs::read_dir(cgroup_dir)?.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(cgroup_pids(&entry.path(), true).unwrap_or_default());
            }
        }
    }
    Ok(out)
}

/// `/proc/PID/stat` starttime of `pid`, in clock ticks since boot.
pub fn start_ticks(pid: u32) -> Result<u64, ProcError> {
    let p = open(pid)?;
    Ok(p.stat()
        .map_err(|source| ProcError::Read { pid, source })?
        .starttime)
}

/// Samples `pid` if it passes `confine` and (when given) started at `expect_ticks`.
pub fn sample(
    pid: u32,
    confine: &Confine,
    expect_ticks: Option<u64>,
) -> Result<ProcSample, ProcError> {
    let ticks = check(pid, confine, expect_ticks)?;
    let p = open(pid)?;
    let read_err = |source| ProcError::Read { pid, source };
    let status = p.status().map_err(read_err)?;
    let sockets: HashSet<u64> = p
        .fd()
        .map(|fds| {
            fds.flatten()
                .filter_map(|fd| match fd.target {
                    FDTarget::Socket(inode) => Some(inode),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut s = ProcSample {
        pid,
        exe: p.exe().ok().map(display),
        cmdline: p.cmdline().unwrap_or_default(),
        cwd: p.cwd().ok().map(display),
        nstgid: status
            .nstgid
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| u32::try_from(n).ok())
            .collect(),
        ppid: u32::try_from(status.ppid).unwrap_or(0),
        ruid: status.ruid,
        euid: status.euid,
        egid: status.egid,
        start_ticks: ticks,
        fd_count: p.fd_count().unwrap_or(0),
        listening: Vec::new(),
    };
    s.listening = listening(&p, &sockets);
    // Read again: if the pid was reused while we read, none of this is the target's.
    check(pid, confine, Some(ticks))?;
    Ok(s)
}

fn open(pid: u32) -> Result<ProcProcess, ProcError> {
    let id = i32::try_from(pid).map_err(|_| ProcError::OutsideTarget { pid, found: None })?;
    ProcProcess::new(id).map_err(|source| ProcError::Read { pid, source })
}

/// Checks scope and identity; returns the start time in ticks.
fn check(pid: u32, confine: &Confine, expect_ticks: Option<u64>) -> Result<u64, ProcError> {
    if let Confine::Cgroup { rel_path, subtree } = confine {
        let found = cgroup_of(pid)?;
        let inside = found.as_deref().is_some_and(|f| {
            f == rel_path
                || (*subtree
                    && f.strip_prefix(rel_path.as_str())
                        .is_some_and(|r| r.starts_with('/')))
        });
        if !inside {
            return Err(ProcError::OutsideTarget { pid, found });
        }
    }
    let found = start_ticks(pid)?;
    match expect_ticks {
        Some(expected) if expected != found => Err(ProcError::Reused {
            pid,
            found,
            expected,
        }),
        _ => Ok(found),
    }
}

fn display(p: PathBuf) -> String {
    p.to_string_lossy().into_owned()
}

/// The sockets among `inodes` that listen, from the process's own network namespace.
fn listening(p: &ProcProcess, inodes: &HashSet<u64>) -> Vec<String> {
    let mut out = Vec::new();
    if inodes.is_empty() {
        return out;
    }
    for table in [p.tcp(), p.tcp6()].into_iter().flatten() {
        out.extend(
            table
                .into_iter()
                .filter(|e| e.state == procfs::net::TcpState::Listen && inodes.contains(&e.inode))
                .map(|e| e.local_address.to_string()),
        );
    }
    for table in [p.udp(), p.udp6()].into_iter().flatten() {
        out.extend(
            table
                .into_iter()
                .filter(|e| e.state == procfs::net::UdpState::Close && inodes.contains(&e.inode))
                .map(|e| format!("{}/udp", e.local_address)),
        );
    }
    if let Ok(table) = p.unix() {
        out.extend(
            table
                .into_iter()
                .filter(|e| {
                    e.state == procfs::net::UnixState::UNCONNECTED
                        && e.socket_type != libc::SOCK_DGRAM as u16
                        && inodes.contains(&e.inode)
                })
                .filter_map(|e| e.path.map(|p| format!("unix:{}", p.display()))),
        );
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_outside_the_target_cgroup_is_never_read() {
        let me = std::process::id();
        let confine = Confine::Cgroup {
            rel_path: "/entrytrace-no-such-cgroup".into(),
            subtree: true,
        };
        match sample(me, &confine, None) {
            Err(ProcError::OutsideTarget { pid, .. }) => assert_eq!(pid, me),
            other => panic!("expected OutsideTarget, got {other:?}"),
        }
    }

    #[test]
    fn a_stale_start_time_is_refused_as_reuse() {
        let me = std::process::id();
        let ticks = start_ticks(me).expect("own stat");
        let err = sample(me, &Confine::Tracked, Some(ticks + 1)).expect_err("reused");
        assert!(matches!(err, ProcError::Reused { .. }), "{err}");
        let own = sample(me, &Confine::Tracked, Some(ticks)).expect("own sample");
        assert_eq!(own.pid, me);
        assert!(!own.cmdline.is_empty());
    }

    #[test]
    fn a_listening_tcp_socket_is_found_through_the_process_fds() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let own = sample(std::process::id(), &Confine::Tracked, None).expect("sample");
        let want = format!("127.0.0.1:{port}");
        assert!(
            own.listening.contains(&want),
            "{:?} lacks {want}",
            own.listening
        );
    }
}
