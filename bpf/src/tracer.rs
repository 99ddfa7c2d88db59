//! The loader: opens the skeleton, writes the settings (`const volatile` globals) before
//! load, picks `tp_btf` or `raw_tp` entry points, attaches, and drains the ring buffer on the
//! caller's schedule.
//!
//! The ring buffer is never woken per event (the program submits with `BPF_RB_NO_WAKEUP`);
//! [`Tracer::poll`] consumes whatever is there, so the caller polls on a timer (every 10 ms
//! keeps a 256 KiB ring far from full under a burst of hundreds of parallel execs). Raising
//! RLIMIT_MEMLOCK is neither needed (BPF memory is charged to the memory cgroup since 5.11)
//! nor attempted.

use std::cell::{Cell, RefCell};
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, OpenObject, RingBuffer, RingBufferBuilder};

use crate::event::{Event, EVENT_HEADER_SIZE};
use crate::skel::{ExectraceSkel, ExectraceSkelBuilder};

/// Which processes the program reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Tasks whose cgroup v2 id is `id`; with `subtree_level`, tasks whose ancestor at that
    /// level is `id` (the cgroup and everything below it).
    Cgroup { id: u64, subtree_level: Option<u32> },
    /// `seed` and every process descended from it after the tracer starts, plus `also`
    /// (processes already running below the seed when the tracer starts).
    Descendants { seed: u32, also: Vec<u32> },
}

/// Which tracepoint flavour to attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttachKind {
    /// `tp_btf/`: BTF-typed tracepoints (kernel 5.5+ with BTF). The default.
    #[default]
    BtfTracepoint,
    /// `raw_tp/`: for kernels without BTF-typed tracepoints; CO-RE still needs BTF (the
    /// kernel's, or an external file given to libbpf).
    RawTracepoint,
}

/// How to start a [`Tracer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracerOptions {
    pub scope: Scope,
    /// Most argv bytes kept per exec (at most 128 KiB); longer ones are cut and flagged.
    pub argv_max: u32,
    /// Ring-buffer size in bytes, rounded up to a power of two (at least one page).
    pub ring_bytes: u32,
    pub attach: AttachKind,
    /// A BTF file for the CO-RE relocations instead of the kernel's (`btf_custom_path`): a
    /// minimised one from [`crate::btfcache`] makes loading several times faster.
    pub btf: Option<PathBuf>,
}

impl TracerOptions {
    /// Defaults: 64 KiB of argv, a 1 MiB ring, `tp_btf`, the kernel's BTF.
    pub fn new(scope: Scope) -> Self {
        Self {
            scope,
            argv_max: 64 * 1024,
            ring_bytes: 1 << 20,
            attach: AttachKind::BtfTracepoint,
            btf: None,
        }
    }
}

/// Why the tracer could not be started or read.
#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    #[error("opening the exectrace BPF object: {0}")]
    Open(#[source] libbpf_rs::Error),
    #[error("setting up exectrace map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: libbpf_rs::Error,
    },
    #[error("loading exectrace into the kernel (needs CAP_BPF/CAP_PERFMON or root, and BTF): {0}")]
    Load(#[source] libbpf_rs::Error),
    #[error("attaching exectrace to the sched_process tracepoints: {0}")]
    Attach(#[source] libbpf_rs::Error),
    #[error("exectrace record layout mismatch: the program writes {c} header bytes, Rust expects {rust}")]
    Layout { c: u32, rust: usize },
    #[error("{path}: not a usable cgroup v2 directory: {source}")]
    Cgroup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("argv_max {0} is larger than the program's cap of 131072 bytes")]
    ArgvMax(u32),
}

/// A loaded, attached exec tracer. Detaches when dropped.
pub struct Tracer {
    skel: ExectraceSkel<'static>,
    ring: RingBuffer<'static>,
    pending: Rc<RefCell<Vec<Event>>>,
    malformed: Rc<Cell<u64>>,
    attach: AttachKind,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("attach", &self.attach)
            .field("pending", &self.pending.borrow().len())
            .finish_non_exhaustive()
    }
}

const ARGV_CAP: u32 = 128 * 1024;

impl Tracer {
    /// Opens, configures, loads and attaches the program. Events start flowing at once.
    pub fn start(opts: &TracerOptions) -> Result<Self, BpfError> {
        if opts.argv_max > ARGV_CAP {
            return Err(BpfError::ArgvMax(opts.argv_max));
        }
        route_libbpf_logs();
        // The skeleton borrows its object storage for its whole life; the storage is one
        // pointer, leaked once per tracer so the skeleton can live inside `Tracer`.
        let storage: &'static mut MaybeUninit<OpenObject> =
            Box::leak(Box::new(MaybeUninit::uninit()));
        let mut builder = ExectraceSkelBuilder::default();
        if let Some(btf) = &opts.btf {
            builder
                .object_builder_mut()
                .btf_custom_path(btf)
                .map_err(BpfError::Open)?;
        }
        let mut open = builder.open(storage).map_err(BpfError::Open)?;
        configure(&mut open, opts)?;
        let skel = open.load().map_err(BpfError::Load)?;
        check_layout(&skel)?;
        if let Scope::Descendants { seed, also } = &opts.scope {
            for tgid in std::iter::once(seed).chain(also) {
                track(&skel, *tgid)?;
            }
        }
        let mut skel = skel;
        skel.attach().map_err(BpfError::Attach)?;
        let pending = Rc::new(RefCell::new(Vec::new()));
        let malformed = Rc::new(Cell::new(0));
        let ring = build_ring(&skel, pending.clone(), malformed.clone())?;
        Ok(Self {
            skel,
            ring,
            pending,
            malformed,
            attach: opts.attach,
        })
    }

    /// Moves every event the kernel has written so far into `out`; returns how many.
    pub fn poll(&mut self, out: &mut Vec<Event>) -> Result<usize, BpfError> {
        self.ring.consume().map_err(|source| BpfError::Map {
            map: "events",
            source,
        })?;
        let mut pending = self.pending.borrow_mut();
        let n = pending.len();
        out.append(&mut pending);
        Ok(n)
    }

    /// Records the kernel could not write because the ring buffer was full, over all CPUs.
    pub fn dropped(&self) -> Result<u64, BpfError> {
        self.stat(0)
    }

    /// Records the kernel wrote, over all CPUs.
    pub fn submitted(&self) -> Result<u64, BpfError> {
        self.stat(1)
    }

    /// Records that did not parse (a layout bug; should stay 0).
    pub fn malformed(&self) -> u64 {
        self.malformed.get()
    }

    /// The tracepoint flavour in use.
    pub fn attach_kind(&self) -> AttachKind {
        self.attach
    }

    fn stat(&self, index: u32) -> Result<u64, BpfError> {
        let err = |source| BpfError::Map {
            map: "stats",
            source,
        };
        let per_cpu = self
            .skel
            .maps
            .stats
            .lookup_percpu(&index.to_ne_bytes(), MapFlags::ANY)
            .map_err(err)?
            .unwrap_or_default();
        Ok(per_cpu
            .iter()
            .filter_map(|v| v.get(..8).and_then(|b| b.try_into().ok()))
            .map(u64::from_ne_bytes)
            .sum())
    }
}

/// The cgroup v2 directory `path` as a [`Scope`]: its id is the directory's inode number;
/// `subtree` also takes its sub-cgroups, found by their ancestor at `path`'s depth below the
/// cgroup2 mount.
pub fn cgroup_scope(path: &Path, subtree: bool) -> Result<Scope, BpfError> {
    let cg_err = |source| BpfError::Cgroup {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(cg_err)?;
    if !path.join("cgroup.procs").exists() {
        return Err(cg_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no cgroup.procs in it",
        )));
    }
    let subtree_level = if subtree {
        Some(cgroup_level(path).map_err(cg_err)?)
    } else {
        None
    };
    Ok(Scope::Cgroup {
        id: meta.ino(),
        subtree_level,
    })
}

/// Depth of `path` below the cgroup2 root: the root is level 0.
fn cgroup_level(path: &Path) -> std::io::Result<u32> {
    let path = std::fs::canonicalize(path)?;
    let mut level = 0;
    let mut dir = path.as_path();
    while let Some(parent) = dir.parent() {
        if !parent.join("cgroup.procs").exists() {
            return Ok(level);
        }
        level += 1;
        dir = parent;
    }
    Ok(level)
}

fn configure(
    open: &mut crate::skel::OpenExectraceSkel<'static>,
    opts: &TracerOptions,
) -> Result<(), BpfError> {
    let rodata = open
        .maps
        .rodata_data
        .as_deref_mut()
        .ok_or(BpfError::Layout {
            c: 0,
            rust: EVENT_HEADER_SIZE,
        })?;
    match &opts.scope {
        Scope::Cgroup { id, subtree_level } => {
            rodata.target_cgid = *id;
            rodata.subtree = subtree_level.is_some();
            rodata.target_level = subtree_level.unwrap_or(0);
        }
        Scope::Descendants { seed, .. } => rodata.seed_tgid = *seed,
    }
    rodata.argv_max = opts.argv_max;
    let cpus = libbpf_rs::num_possible_cpus().map_err(|source| BpfError::Map {
        map: "scratch",
        source,
    })?;
    let map_err = |map| move |source| BpfError::Map { map, source };
    open.maps
        .scratch
        .set_max_entries(u32::try_from(cpus).unwrap_or(u32::MAX))
        .map_err(map_err("scratch"))?;
    open.maps
        .events
        .set_max_entries(ring_size(opts.ring_bytes))
        .map_err(map_err("events"))?;
    let raw = opts.attach == AttachKind::RawTracepoint;
    let progs = &mut open.progs;
    for p in [
        &mut progs.btf_exec,
        &mut progs.btf_fork,
        &mut progs.btf_exit,
    ] {
        p.set_autoload(!raw);
    }
    for p in [
        &mut progs.raw_exec,
        &mut progs.raw_fork,
        &mut progs.raw_exit,
    ] {
        p.set_autoload(raw);
    }
    Ok(())
}

/// A power of two, at least a page.
fn ring_size(bytes: u32) -> u32 {
    bytes.clamp(4096, 1 << 30).next_power_of_two()
}

fn check_layout(skel: &ExectraceSkel<'static>) -> Result<(), BpfError> {
    let c = skel
        .maps
        .rodata_data
        .as_ref()
        .map(|r| r.et_event_size)
        .unwrap_or(0);
    if c as usize != EVENT_HEADER_SIZE {
        return Err(BpfError::Layout {
            c,
            rust: EVENT_HEADER_SIZE,
        });
    }
    Ok(())
}

fn track(skel: &ExectraceSkel<'static>, tgid: u32) -> Result<(), BpfError> {
    skel.maps
        .tracked
        .update(&tgid.to_ne_bytes(), &[1], MapFlags::ANY)
        .map_err(|source| BpfError::Map {
            map: "tracked",
            source,
        })
}

fn build_ring(
    skel: &ExectraceSkel<'static>,
    pending: Rc<RefCell<Vec<Event>>>,
    malformed: Rc<Cell<u64>>,
) -> Result<RingBuffer<'static>, BpfError> {
    let mut builder = RingBufferBuilder::new();
    let map_err = |source| BpfError::Map {
        map: "events",
        source,
    };
    builder
        .add(&skel.maps.events, move |data: &[u8]| {
            match Event::parse(data) {
                Ok(ev) => pending.borrow_mut().push(ev),
                Err(err) => {
                    malformed.set(malformed.get() + 1);
                    tracing::warn!(%err, "exectrace record skipped");
                }
            }
            0
        })
        .map_err(map_err)?;
    builder.build().map_err(map_err)
}

/// libbpf's own messages go to `tracing` at debug level (its "failed to create BPF token"
/// notice, for one, is harmless and should not reach a user's terminal).
fn route_libbpf_logs() {
    fn print(level: libbpf_rs::PrintLevel, msg: String) {
        let msg = msg.trim_end();
        match level {
            libbpf_rs::PrintLevel::Warn => tracing::debug!(target: "libbpf", "{msg}"),
            _ => tracing::trace!(target: "libbpf", "{msg}"),
        }
    }
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Debug, print)));
}
