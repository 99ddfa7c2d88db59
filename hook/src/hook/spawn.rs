//! Starting the tracer so that it outlives the hook without holding the runtime up.
//!
//! runc waits for EOF on a hook's stdout/stderr, and every runtime waits for the hook to
//! exit (shared/machine-notes.md, "Hooks"). So the tracer is started in a session of its own
//! (`setsid`), with stdout and stderr on `/dev/null`, every inherited descriptor closed
//! (`close_range`) except one: fd 3, the write end of a readiness pipe. The tracer writes
//! `ok\n` there once its probes are attached (or `err <why>\n`); the hook waits for that line
//! for a bounded time and then returns whatever happened. stdin is a pipe through which the
//! hook hands over the static result.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The descriptor on which the tracer reports readiness.
pub const READY_FD: i32 = 3;

/// A started, detached tracer.
#[derive(Debug)]
pub struct Spawned {
    pub pid: u32,
    /// Write the job here, then drop it.
    pub stdin: Option<ChildStdin>,
    ready: File,
}

/// What the tracer said within the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Failed(String),
    /// It closed the pipe (exited) without a word.
    Closed,
    TimedOut,
}

/// Starts `program args` detached, with the readiness pipe on fd 3.
pub fn spawn_detached(program: &Path, args: &[OsString]) -> io::Result<Spawned> {
    let (read_end, write_end) = pipe()?;
    let w = write_end.as_raw_fd();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // async-signal-safe functions (dup2, fcntl, setsid, close_range) on plain integers.
    unsafe {
        cmd.pre_exec(move || {
            if w == READY_FD {
                if libc::fcntl(w, libc::F_SETFD, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(w, READY_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            libc::syscall(libc::SYS_close_range, READY_FD + 1, u32::MAX, 0);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
    drop(write_end);
    Ok(Spawned {
        pid: child.id(),
        stdin: child.stdin.take(),
        ready: File::from(read_end),
    })
}

impl Spawned {
    /// Waits up to `timeout` for the tracer's readiness line.
    pub fn wait_ready(&mut self, timeout: Duration) -> Readiness {
        let deadline = Instant::now() + timeout;
        let mut line = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Readiness::TimedOut;
            }
            let mut pfd = libc::pollfd {
                fd: self.ready.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd on the stack, nfds = 1.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Readiness::Failed(format!("poll: {}", io::Error::last_os_error()));
            }
            if n == 0 {
                return Readiness::TimedOut;
            }
            let mut buf = [0u8; 256];
            match self.ready.read(&mut buf) {
                Ok(0) => return Readiness::Closed,
                Ok(k) => line.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Readiness::Failed(format!("readiness pipe: {e}")),
            }
            if let Some(end) = line.iter().position(|&b| b == b'\n') {
                return parse_line(&line[..end]);
            }
            if line.len() > 4096 {
                return Readiness::Failed("readiness line too long".into());
            }
        }
    }
}

fn parse_line(line: &[u8]) -> Readiness {
    let text = String::from_utf8_lossy(line);
    match text.strip_prefix("err ") {
        _ if text == "ok" => Readiness::Ready,
        Some(why) => Readiness::Failed(why.to_string()),
        None => Readiness::Failed(format!("unexpected readiness line {text:?}")),
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// In the tracer: reports readiness on fd 3 and closes it.
pub fn report_ready(result: Result<(), String>) {
    use std::io::Write;
    // SAFETY: fd 3 was set up by `spawn_detached`; taking ownership closes it when done.
    // When the tracer was started by hand fd 3 may be absent and the write fails harmlessly.
    let mut f = unsafe { File::from_raw_fd(READY_FD) };
    let line = match result {
        Ok(()) => "ok\n".to_string(),
        Err(why) => format!("err {}\n", why.replace('\n', " ")),
    };
    let _ = f.write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Spawned {
        spawn_detached(Path::new("/bin/sh"), &["-c".into(), OsString::from(script)]).expect("spawn")
    }

    #[test]
    fn reports_each_kind_of_readiness() {
        let cases: &[(&str, Readiness)] = &[
            ("echo ok >&3", Readiness::Ready),
            ("echo 'err no BTF' >&3", Readiness::Failed("no BTF".into())),
            ("exit 0", Readiness::Closed),
            ("sleep 3", Readiness::TimedOut),
        ];
        for (script, want) in cases {
            let t0 = Instant::now();
            let got = sh(script).wait_ready(Duration::from_millis(200));
            assert_eq!(&got, want, "{script}");
            assert!(
                t0.elapsed() < Duration::from_secs(2),
                "{script} waited too long"
            );
        }
    }

    #[test]
    fn the_tracer_runs_in_its_own_session_with_only_stdio_and_fd3() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("fds");
        let script = format!(
            "ls /proc/self/fd > {0}; ps_sid=$(cut -d' ' -f6 /proc/self/stat); echo $ps_sid >> {0}; echo ok >&3",
            out.display()
        );
        let mut s = sh(&script);
        assert_eq!(s.wait_ready(Duration::from_secs(5)), Readiness::Ready);
        let text = std::fs::read_to_string(&out).expect("child wrote its fds");
        let mut lines: Vec<&str> = text.lines().collect();
        let sid: u32 = lines
            .pop()
            .expect("sid")
            .trim()
            .parse()
            .expect("sid number");
        // `ls` itself opens one descriptor for the directory it lists.
        let fds: Vec<u32> = lines.iter().filter_map(|l| l.trim().parse().ok()).collect();
        assert!(
            fds.iter().all(|&fd| fd <= 4),
            "inherited descriptors: {fds:?}"
        );
        assert!(fds.contains(&3), "readiness fd missing: {fds:?}");
        assert_eq!(sid, s.pid, "tracer is not a session leader");
    }
}
