//! The fallback source: `/proc` polling of the target's processes every few milliseconds,
//! for when BPF cannot be loaded (no BTF, no CAP_BPF, old kernel) or is not wanted.
//!
//! Each round lists the target's processes (`cgroup.procs` of the cgroup and its
//! sub-cgroups, or the descendants of the traced pid), samples the new ones (confined as in
//! `proc`), notices an exec when a known process's cmdline changes, and marks vanished ones
//! as gone. Identities and times are in the boottime clock (`/proc/PID/stat` starttime).
//!
//! What it deliberately cannot do, and says so in its diagnostic: see a process that lives
//! shorter than one round, see intermediate images of a process that execs twice within one
//! round, know exit codes, or see argv that a process rewrote before the sample.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use entrytrace_config::DynamicConfig;

use super::capture::{descendants, key_from_ticks, ns_per_tick, process_from_sample, Capture};
use super::graph::{ExecGraph, Image, NodeKey};
use super::proc::{self, Confine};
use super::DynamicError;
use crate::model::Diagnostic;

/// Polls for `window`; `cgroup_dir` (when set) lists the processes, else the descendants of
/// `seed_pids[0]`.
pub fn run(
    confine: &Confine,
    cgroup_dir: Option<&Path>,
    seed_pids: &[u32],
    window: Duration,
    cfg: &DynamicConfig,
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Capture, DynamicError> {
    let mut graph = ExecGraph::new();
    let mut live: HashMap<u32, NodeKey> = HashMap::new();
    let end = Instant::now() + window;
    let mut first = true;
    loop {
        let pids = match (cgroup_dir, seed_pids.first()) {
            (Some(dir), _) => {
                proc::cgroup_pids(dir, true).map_err(|source| DynamicError::Read {
                    path: dir.join("cgroup.procs"),
                    source,
                })?
            }
            (None, Some(seed)) => descendants(*seed),
            (None, None) => Vec::new(),
        };
        round(&mut graph, &mut live, confine, &pids, first);
        first = false;
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(cfg.proc_poll_ms)));
    }
    diagnostics.push(Diagnostic::warning(format!(
        "dynamic source: /proc polling every {} ms; it misses processes shorter-lived than \
         that, intermediate images of quick successive execs, and exit codes",
        cfg.proc_poll_ms
    )));
    let mut samples = HashMap::new();
    for key in live.values() {
        if let Ok(s) = proc::sample(key.tgid, confine, Some(key.start_ns / ns_per_tick())) {
            samples.insert(*key, s);
        }
    }
    Ok(Capture {
        graph,
        samples,
        window_end_ns: boottime_ns(),
        diagnostics,
        source: "proc",
        dropped: 0,
    })
}

/// One round: new processes sampled, execs noticed, vanished ones marked gone.
fn round(
    graph: &mut ExecGraph,
    live: &mut HashMap<u32, NodeKey>,
    confine: &Confine,
    pids: &[u32],
    first: bool,
) {
    let now = boottime_ns();
    let mut seen = HashMap::new();
    for &pid in pids {
        let Ok(ticks) = proc::start_ticks(pid) else {
            continue;
        };
        let key = key_from_ticks(pid, ticks);
        seen.insert(pid, key);
        if live.get(&pid) == Some(&key) {
            note_exec(graph, key, now);
            continue;
        }
        let Ok(s) = proc::sample(pid, confine, Some(ticks)) else {
            continue;
        };
        let parent = live.get(&s.ppid).or(seen.get(&s.ppid)).copied();
        let mut p = process_from_sample(&s, key, parent);
        p.preexisting = first;
        graph.insert(p);
        live.insert(pid, key);
    }
    live.retain(|pid, key| {
        let keep = seen.get(pid) == Some(key);
        if !keep {
            graph.mark_gone(*key, now);
        }
        keep
    });
}

/// A changed cmdline on a known process is an exec we saw late.
fn note_exec(graph: &mut ExecGraph, key: NodeKey, now: u64) {
    let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", key.tgid)) else {
        return;
    };
    let argv = split_cmdline(&cmdline);
    let Some(p) = graph.get_mut(&key) else { return };
    if p.images.last().is_some_and(|i| i.argv == argv) || argv.is_empty() {
        return;
    }
    let exe = std::fs::read_link(format!("/proc/{}/exe", key.tgid))
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (uid, gid) = p.images.last().map_or((0, 0), |i| (i.uid, i.gid));
    p.images.push(Image {
        exe,
        argv,
        uid,
        gid,
        at_ns: now,
        argv_truncated: false,
    });
}

fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

/// CLOCK_BOOTTIME in ns, the clock of `/proc/PID/stat` starttime.
fn boottime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}
