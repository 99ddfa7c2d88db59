//! One observation window over one target: BPF when it can be loaded, `/proc` polling when
//! it cannot (or when asked), with a diagnostic saying which source ran and what it can miss.
//!
//! The window starts when [`capture`] is called. Processes already running then are sampled
//! from `/proc` and seeded into the graph; BPF events for them later re-key them to the
//! kernel's identity. At the end, every process still alive is sampled (`proc::sample`,
//! confined to the target).
//!
//! Deliberately not here: ranking (`select`) and output; this only observes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use entrytrace_bpf::btfcache::{BtfCache, BtfCacheError};
use entrytrace_bpf::{cgroup_scope, AttachKind, Event, Scope, Tracer, TracerOptions};
use entrytrace_config::DynamicConfig;

use super::graph::{ExecGraph, Image, NodeKey, Process};
use super::proc::{self, Confine, ProcSample};
use super::DynamicError;
use crate::model::{Diagnostic, Level};

/// How long `bpftool gen min_core_btf` may take.
const BTF_GEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Which processes to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceTarget {
    /// A cgroup v2 directory (absolute path under the cgroup2 mount) and its sub-cgroups.
    Cgroup(PathBuf),
    /// One process and its descendants, by host pid.
    Pid(u32),
}

/// Where events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceChoice {
    Bpf,
    Proc,
    #[default]
    Auto,
}

/// What one window saw.
#[derive(Debug, Clone)]
pub struct Capture {
    pub graph: ExecGraph,
    pub samples: HashMap<NodeKey, ProcSample>,
    /// Monotonic ns at the end of the window.
    pub window_end_ns: u64,
    pub diagnostics: Vec<Diagnostic>,
    /// `"bpf"` or `"proc"`.
    pub source: &'static str,
    /// Ring-buffer records the kernel dropped (BPF only).
    pub dropped: u64,
}

/// How the target was scoped once resolved.
#[derive(Debug, Clone)]
struct Resolved {
    confine: Confine,
    cgroup_dir: Option<PathBuf>,
    scope: Scope,
    seed_pids: Vec<u32>,
}

/// Watches `target` for `window` and returns what was seen.
pub fn capture(
    target: &TraceTarget,
    window: Duration,
    source: SourceChoice,
    cfg: &DynamicConfig,
) -> Result<Capture, DynamicError> {
    let resolved = resolve(target)?;
    let mut diagnostics = Vec::new();
    if source != SourceChoice::Proc {
        match start_bpf(&resolved, cfg, &mut diagnostics) {
            Ok(tracer) => return run_bpf(tracer, &resolved, window, cfg, diagnostics),
            Err(err) if source == SourceChoice::Bpf => return Err(DynamicError::Bpf(err)),
            Err(err) => diagnostics.push(Diagnostic::warning(format!(
                "bpf tracer unavailable ({err}); falling back to /proc polling"
            ))),
        }
    }
    super::poll::run(
        &resolved.confine,
        resolved.cgroup_dir.as_deref(),
        &resolved.seed_pids,
        window,
        cfg,
        diagnostics,
    )
}

fn start_bpf(
    r: &Resolved,
    cfg: &DynamicConfig,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Tracer, entrytrace_bpf::BpfError> {
    let mut opts = TracerOptions::new(r.scope.clone());
    opts.argv_max = cfg.argv_max;
    opts.ring_bytes = cfg.ring_bytes;
    if let Some(btf) = btf_cache(cfg).and_then(|c| c.lookup()) {
        let fast = TracerOptions {
            attach: AttachKind::RawTracepoint,
            btf: Some(btf.clone()),
            ..opts.clone()
        };
        match Tracer::start(&fast) {
            Ok(t) => {
                diagnostics.push(Diagnostic {
                    level: Level::Info,
                    message: format!(
                        "bpf: raw_tp, CO-RE relocated against the cached minimised BTF {}",
                        btf.display()
                    ),
                });
                return Ok(t);
            }
            Err(e) => diagnostics.push(Diagnostic::warning(format!(
                "bpf: the cached BTF {} did not load ({e}); used the kernel's BTF",
                btf.display()
            ))),
        }
    }
    Tracer::start(&opts)
}

/// The minimised-BTF cache the config names, if any.
fn btf_cache(cfg: &DynamicConfig) -> Option<BtfCache> {
    (!cfg.btf_cache_dir.is_empty()).then(|| BtfCache::new(&cfg.btf_cache_dir))
}

/// Fills the minimised-BTF cache for the running kernel if it is empty, so the next tracer
/// loads faster (see `entrytrace_bpf::btfcache`). Meant for after a window, off any
/// container's critical path; `None` when the config turns the cache off.
pub fn warm_btf_cache(cfg: &DynamicConfig) -> Option<Result<PathBuf, BtfCacheError>> {
    Some(btf_cache(cfg)?.populate(BTF_GEN_TIMEOUT))
}

/// [`warm_btf_cache`], with the outcome in the log.
pub fn log_btf_warmup(cfg: &DynamicConfig) {
    match warm_btf_cache(cfg) {
        None => {}
        Some(Ok(path)) => tracing::debug!(path = %path.display(), "minimised BTF cached"),
        Some(Err(e)) => {
            tracing::info!(error = %e, "no minimised BTF cached; BPF loads use the kernel's BTF")
        }
    }
}

fn run_bpf(
    tracer: Tracer,
    r: &Resolved,
    window: Duration,
    cfg: &DynamicConfig,
    diagnostics: Vec<Diagnostic>,
) -> Result<Capture, DynamicError> {
    let mut session = BpfSession::with_tracer(tracer, r.clone(), diagnostics);
    let end = Instant::now() + window;
    loop {
        session.poll()?;
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(cfg.poll_ms)));
    }
    session.finish()
}

/// A BPF capture split in time: attached by [`BpfSession::start`], drained by
/// [`BpfSession::poll`] as often as the caller likes, ended by [`BpfSession::finish`]. The
/// hook's tracer uses it to attach before the container's first exec and to decide itself
/// when the window ends (after the first exec, or early when the container's init exits).
pub struct BpfSession {
    tracer: Tracer,
    resolved: Resolved,
    graph: ExecGraph,
    seeded: HashMap<u32, (u64, NodeKey)>,
    events: Vec<Event>,
    diagnostics: Vec<Diagnostic>,
    execs: usize,
}

impl std::fmt::Debug for BpfSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpfSession")
            .field("processes", &self.graph.len())
            .field("execs", &self.execs)
            .finish()
    }
}

impl BpfSession {
    /// Resolves `target`, loads and attaches the BPF program, seeds what already runs.
    pub fn start(target: &TraceTarget, cfg: &DynamicConfig) -> Result<Self, DynamicError> {
        let resolved = resolve(target)?;
        let mut diagnostics = Vec::new();
        let tracer = start_bpf(&resolved, cfg, &mut diagnostics).map_err(DynamicError::Bpf)?;
        Ok(Self::with_tracer(tracer, resolved, diagnostics))
    }

    fn with_tracer(tracer: Tracer, resolved: Resolved, diagnostics: Vec<Diagnostic>) -> Self {
        let mut graph = ExecGraph::new();
        let seeded = seed_running(&mut graph, &resolved.confine, &resolved.seed_pids);
        Self {
            tracer,
            resolved,
            graph,
            seeded,
            events: Vec::new(),
            diagnostics,
            execs: 0,
        }
    }

    /// Drains the ring buffer into the graph.
    pub fn poll(&mut self) -> Result<(), DynamicError> {
        self.tracer
            .poll(&mut self.events)
            .map_err(DynamicError::Bpf)?;
        for ev in self.events.drain(..) {
            if ev.kind == entrytrace_bpf::EventKind::Exec {
                self.execs += 1;
            }
            rekey_seeded(&mut self.graph, &mut self.seeded, &ev);
            self.graph.apply(&ev);
        }
        Ok(())
    }

    /// Execs seen in the target so far.
    pub fn execs(&self) -> usize {
        self.execs
    }

    /// Ends the window: samples what is still alive and returns the capture.
    pub fn finish(mut self) -> Result<Capture, DynamicError> {
        self.poll()?;
        let window_end_ns = monotonic_ns();
        let dropped = self.tracer.dropped().map_err(DynamicError::Bpf)?;
        if dropped > 0 {
            self.diagnostics.push(Diagnostic::warning(format!(
                "bpf ring buffer dropped {dropped} events; raise dynamic.ring_bytes"
            )));
        }
        self.diagnostics.push(Diagnostic {
            level: crate::model::Level::Info,
            message: format!(
                "dynamic source: bpf ({:?} tracepoints)",
                self.tracer.attach_kind()
            ),
        });
        let samples = sample_alive(&self.graph, &self.resolved.confine);
        Ok(Capture {
            graph: self.graph,
            samples,
            window_end_ns,
            diagnostics: self.diagnostics,
            source: "bpf",
            dropped,
        })
    }
}

/// The target as a BPF scope and a `/proc` confinement. `--pid` uses the process's own
/// cgroup v2 directory when it has one (not the root, not ours); otherwise its descendants.
fn resolve(target: &TraceTarget) -> Result<Resolved, DynamicError> {
    match target {
        TraceTarget::Cgroup(dir) => cgroup_target(dir),
        TraceTarget::Pid(pid) => {
            let theirs = proc::cgroup_of(*pid).map_err(DynamicError::Proc)?;
            let ours = proc::cgroup_of(std::process::id()).ok().flatten();
            let own = theirs.filter(|c| c != "/" && Some(c) != ours.as_ref());
            if let Some(dir) = own.map(|c| cgroup2_root().join(c.trim_start_matches('/'))) {
                if dir.join("cgroup.procs").exists() {
                    return cgroup_target(&dir);
                }
            }
            let seed_pids = descendants(*pid);
            let also = seed_pids.iter().copied().filter(|p| p != pid).collect();
            Ok(Resolved {
                confine: Confine::Tracked,
                cgroup_dir: None,
                scope: Scope::Descendants { seed: *pid, also },
                seed_pids,
            })
        }
    }
}

fn cgroup_target(dir: &Path) -> Result<Resolved, DynamicError> {
    let root = cgroup2_root();
    let rel = dir
        .strip_prefix(&root)
        .map_err(|_| DynamicError::NotCgroup2 {
            path: dir.to_path_buf(),
            root: root.clone(),
        })?;
    let scope = cgroup_scope(dir, true).map_err(DynamicError::Bpf)?;
    let seed_pids = proc::cgroup_pids(dir, true).map_err(|source| DynamicError::Read {
        path: dir.join("cgroup.procs"),
        source,
    })?;
    Ok(Resolved {
        confine: Confine::Cgroup {
            rel_path: format!("/{}", rel.display()),
            subtree: true,
        },
        cgroup_dir: Some(dir.to_path_buf()),
        scope,
        seed_pids,
    })
}

/// Where cgroup v2 is mounted (`/sys/fs/cgroup/unified` on hybrid hosts).
pub fn cgroup2_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mounts
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| left.split(' ').nth(4).map(PathBuf::from))?
        })
        .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"))
}

/// `pid` and every process below it, from the ppid fields of `/proc/*/stat`.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(all) = procfs::process::all_processes() {
        for p in all.flatten() {
            if let (Ok(stat), Ok(child)) = (p.stat(), u32::try_from(p.pid)) {
                parents
                    .entry(u32::try_from(stat.ppid).unwrap_or(0))
                    .or_default()
                    .push(child);
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() && out.len() < 65_536 {
        out.extend(parents.get(&out[i]).into_iter().flatten().copied());
        i += 1;
    }
    out
}

/// Seeds the graph with the target's running processes; returns tgid → (ticks, seeded key).
fn seed_running(
    graph: &mut ExecGraph,
    confine: &Confine,
    pids: &[u32],
) -> HashMap<u32, (u64, NodeKey)> {
    let mut seeded = HashMap::new();
    let samples: Vec<ProcSample> = pids
        .iter()
        .filter_map(|p| proc::sample(*p, confine, None).ok())
        .collect();
    let keys: HashMap<u32, NodeKey> = samples
        .iter()
        .map(|s| (s.pid, key_from_ticks(s.pid, s.start_ticks)))
        .collect();
    for s in samples {
        let key = keys[&s.pid];
        graph.seed(process_from_sample(&s, key, keys.get(&s.ppid).copied()));
        seeded.insert(s.pid, (s.start_ticks, key));
    }
    seeded
}

/// A graph process for a `/proc` sample, keyed in the boottime domain.
pub(crate) fn process_from_sample(
    s: &ProcSample,
    key: NodeKey,
    parent: Option<NodeKey>,
) -> Process {
    let mut p = Process {
        key,
        parent,
        ppid: s.ppid,
        ns_pid: s.ns_pid(),
        pidns_ino: 0,
        start_boot_ns: s.start_ticks.saturating_mul(ns_per_tick()),
        comm: String::new(),
        images: Vec::new(),
        forked_at: None,
        exit: None,
        preexisting: true,
    };
    p.images.push(Image {
        exe: s.exe.clone().unwrap_or_default(),
        argv: s.cmdline.clone(),
        uid: s.euid,
        gid: s.egid,
        at_ns: key.start_ns,
        argv_truncated: false,
    });
    p
}

pub(crate) fn key_from_ticks(pid: u32, ticks: u64) -> NodeKey {
    NodeKey {
        tgid: pid,
        start_ns: ticks.saturating_mul(ns_per_tick()),
    }
}

pub(crate) fn ns_per_tick() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    1_000_000_000 / u64::try_from(hz).ok().filter(|h| *h > 0).unwrap_or(100)
}

/// A BPF event about a process seeded from `/proc` moves it to the kernel's identity.
fn rekey_seeded(graph: &mut ExecGraph, seeded: &mut HashMap<u32, (u64, NodeKey)>, ev: &Event) {
    let Some(&(ticks, old)) = seeded.get(&ev.tgid) else {
        return;
    };
    if ev.start_boot_ns / ns_per_tick() == ticks {
        graph.rekey(
            old,
            NodeKey {
                tgid: ev.tgid,
                start_ns: ev.start_ns,
            },
        );
        seeded.remove(&ev.tgid);
    }
}

/// `/proc` samples of every process alive in the graph, each checked against the target.
fn sample_alive(graph: &ExecGraph, confine: &Confine) -> HashMap<NodeKey, ProcSample> {
    let mut out = HashMap::new();
    for p in graph.processes().filter(|p| p.alive()) {
        let expect = boot_ticks_of(p);
        if let Ok(s) = proc::sample(p.key.tgid, confine, expect) {
            out.insert(p.key, s);
        }
    }
    out
}

fn boot_ticks_of(p: &Process) -> Option<u64> {
    (p.start_boot_ns != 0).then(|| p.start_boot_ns / ns_per_tick())
}

/// CLOCK_MONOTONIC in ns, the clock of `task->start_time` and `bpf_ktime_get_ns`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}
