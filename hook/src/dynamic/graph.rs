//! The observed exec graph: processes keyed by `(tgid, start time)` — never by pid alone,
//! since pids are reused — each with the images it exec'd, joined by `clone` and `exec` edges.
//!
//! Events arrive out of order: the kernel reports a fork from the parent *after* waking the
//! child, so a child's exec (or exit) can come before its fork. Every event therefore merges
//! into whatever is known (get-or-create, never overwrite an image with nothing), and a
//! process seen only through a fork gets its parent's image at the time of the fork when the
//! graph is read. Threads never appear: the tracer reports thread-group leaders only.
//!
//! Deliberately not here: deciding which process matters (`select`) or reading `/proc`
//! (`proc`); samples only enrich nodes through [`ExecGraph::seed`].

use std::collections::BTreeMap;

use entrytrace_bpf::{Event, EventKind};

use crate::model;

/// A process identity: host tgid and `task->start_time` of its leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeKey {
    pub tgid: u32,
    pub start_ns: u64,
}

/// One program a process ran (after one exec), or the image it inherited at fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The path given to execve, or the `/proc/PID/exe` target for sampled processes.
    pub exe: String,
    pub argv: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    /// Monotonic ns of the exec (the fork time for an inherited image).
    pub at_ns: u64,
    pub argv_truncated: bool,
}

/// How the process's first image is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Seen exec'ing during the window.
    Exec,
    /// Seen only forking from its parent: it runs the parent's image.
    Fork,
    /// Already running when the capture started (from a `/proc` sample).
    Preexisting,
}

/// One process (thread group) seen in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub key: NodeKey,
    /// The parent, when known (it may be outside the target and never seen).
    pub parent: Option<NodeKey>,
    pub ppid: u32,
    pub ns_pid: u32,
    pub pidns_ino: u32,
    /// `task->start_boottime` (what `/proc/PID/stat` counts), 0 when unknown.
    pub start_boot_ns: u64,
    pub comm: String,
    /// Exec'd images, oldest first.
    pub images: Vec<Image>,
    pub forked_at: Option<u64>,
    /// How and when it ended, once it has.
    pub exit: Option<Exit>,
    pub preexisting: bool,
}

/// The end of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Raw wait status; `None` when the source could not see it (the `/proc` poller).
    pub status: Option<u32>,
    /// Monotonic ns of the exit (or of the poll that found it gone).
    pub at_ns: u64,
}

impl Exit {
    /// The status as a shell reports it: the exit code, or 128 + the signal number.
    pub fn shell_code(&self) -> Option<i32> {
        let s = self.status?;
        let sig = (s & 0x7f) as i32;
        Some(if sig == 0 {
            ((s >> 8) & 0xff) as i32
        } else {
            128 + sig
        })
    }
}

/// Processes by identity, built from events in any order.
#[derive(Debug, Clone, Default)]
pub struct ExecGraph {
    procs: BTreeMap<NodeKey, Process>,
}

impl Process {
    fn new(key: NodeKey) -> Self {
        Self {
            key,
            parent: None,
            ppid: 0,
            ns_pid: 0,
            pidns_ino: 0,
            start_boot_ns: 0,
            comm: String::new(),
            images: Vec::new(),
            forked_at: None,
            exit: None,
            preexisting: false,
        }
    }

    /// How the first image is known.
    pub fn origin(&self) -> Origin {
        match (self.preexisting, self.images.is_empty()) {
            (true, _) => Origin::Preexisting,
            (false, false) => Origin::Exec,
            (false, true) => Origin::Fork,
        }
    }

    /// Still running when the graph was last updated.
    pub fn alive(&self) -> bool {
        self.exit.is_none()
    }
}

impl ExecGraph {
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges one event.
    pub fn apply(&mut self, ev: &Event) {
        let key = NodeKey {
            tgid: ev.tgid,
            start_ns: ev.start_ns,
        };
        let parent = (ev.ppid != 0).then_some(NodeKey {
            tgid: ev.ppid,
            start_ns: ev.parent_start_ns,
        });
        let p = self.procs.entry(key).or_insert_with(|| Process::new(key));
        p.ns_pid = ev.ns_tgid;
        p.pidns_ino = ev.pidns_ino;
        p.start_boot_ns = ev.start_boot_ns;
        match ev.kind {
            EventKind::Fork => {
                // The forking process is the parent, even if real_parent later changes.
                p.parent = parent;
                p.ppid = ev.ppid;
                p.forked_at = Some(ev.ktime_ns);
                if p.comm.is_empty() {
                    p.comm.clone_from(&ev.comm);
                }
            }
            EventKind::Exec => {
                if p.parent.is_none() {
                    p.parent = parent;
                    p.ppid = ev.ppid;
                }
                p.comm.clone_from(&ev.comm);
                let image = Image {
                    exe: ev.filename.clone(),
                    argv: ev.argv.clone(),
                    uid: ev.uid,
                    gid: ev.gid,
                    at_ns: ev.ktime_ns,
                    argv_truncated: ev.argv_truncated,
                };
                let at = p.images.partition_point(|i| i.at_ns <= image.at_ns);
                p.images.insert(at, image);
            }
            EventKind::Exit => {
                if p.parent.is_none() {
                    p.parent = parent;
                    p.ppid = ev.ppid;
                }
                p.exit = Some(Exit {
                    status: Some(ev.exit_code),
                    at_ns: ev.ktime_ns,
                });
            }
        }
    }

    /// Adds a process that was already running (from a `/proc` sample), unless known.
    pub fn seed(&mut self, mut proc_: Process) {
        proc_.preexisting = true;
        self.procs.entry(proc_.key).or_insert(proc_);
    }

    /// Adds (or replaces) a process observed by other means (the /proc poller).
    pub fn insert(&mut self, proc_: Process) {
        self.procs.insert(proc_.key, proc_);
    }

    /// Moves the process `old` to the identity `new` (a `/proc`-seeded process once the
    /// kernel names it), merging with what is already known under `new`.
    pub fn rekey(&mut self, old: NodeKey, new: NodeKey) {
        if old == new {
            return;
        }
        let Some(mut moved) = self.procs.remove(&old) else {
            return;
        };
        moved.key = new;
        let merged = match self.procs.remove(&new) {
            None => moved,
            Some(mut known) => {
                if known.images.is_empty()
                    || moved.images.iter().all(|i| i.at_ns < known.images[0].at_ns)
                {
                    let mut images = moved.images;
                    images.append(&mut known.images);
                    known.images = images;
                }
                known.preexisting = true;
                known.parent = known.parent.or(moved.parent);
                known
            }
        };
        self.procs.insert(new, merged);
        for p in self.procs.values_mut() {
            if p.parent == Some(old) {
                p.parent = Some(new);
            }
        }
    }

    /// Marks `key` as exited at `at_ns` when nothing said so (used by the /proc poller).
    pub fn mark_gone(&mut self, key: NodeKey, at_ns: u64) {
        if let Some(p) = self.procs.get_mut(&key) {
            p.exit.get_or_insert(Exit {
                status: None,
                at_ns,
            });
        }
    }

    pub fn get(&self, key: &NodeKey) -> Option<&Process> {
        self.procs.get(key)
    }

    pub fn get_mut(&mut self, key: &NodeKey) -> Option<&mut Process> {
        self.procs.get_mut(key)
    }

    /// All processes, oldest first (by start time, then tgid).
    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        let mut v: Vec<&Process> = self.procs.values().collect();
        v.sort_by_key(|p| (p.key.start_ns, p.key.tgid));
        v.into_iter()
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// Children of `key` (processes whose parent it is).
    pub fn children(&self, key: &NodeKey) -> Vec<&Process> {
        self.processes()
            .filter(|p| p.parent.as_ref() == Some(key))
            .collect()
    }

    /// The image `key` runs at the end: its last exec, else what it inherited at fork.
    pub fn final_image(&self, key: &NodeKey) -> Option<Image> {
        self.image_at(key, u64::MAX, 0)
    }

    /// The image `key` ran at `at_ns`: its last exec before then, else its parent's image at
    /// the time of the fork (bounded walk: a malformed parent loop stops at 64 steps).
    fn image_at(&self, key: &NodeKey, at_ns: u64, depth: u32) -> Option<Image> {
        let p = self.procs.get(key)?;
        let before = p.images.iter().rev().find(|i| i.at_ns <= at_ns);
        if let Some(i) = before.or(p.images.first()) {
            return Some(i.clone());
        }
        if depth >= 64 {
            return None;
        }
        let fork_at = p.forked_at.unwrap_or(p.key.start_ns);
        let mut inherited = self.image_at(p.parent.as_ref()?, fork_at, depth + 1)?;
        inherited.at_ns = fork_at;
        Some(inherited)
    }

    /// The contract's `exec_graph`: one node per image (a fork-only process gets one node
    /// with the inherited image), `clone` edges from parent to child, `exec` edges between a
    /// process's successive images.
    pub fn to_model(&self) -> model::ExecGraph {
        let mut out = model::ExecGraph::default();
        for p in self.processes() {
            let images = if p.images.is_empty() {
                self.final_image(&p.key).into_iter().collect()
            } else {
                p.images.clone()
            };
            for (i, img) in images.iter().enumerate() {
                out.nodes.push(model::ExecNode {
                    host_pid: p.key.tgid,
                    ns_pid: p.ns_pid,
                    ppid: p.ppid,
                    exe: if img.exe.is_empty() {
                        p.comm.clone()
                    } else {
                        img.exe.clone()
                    },
                    argv: img.argv.clone(),
                    start_ns: p.key.start_ns,
                    // The exit belongs to the last image only.
                    exit_code: p
                        .exit
                        .filter(|_| i + 1 == images.len())
                        .and_then(|e| e.shell_code()),
                    exit_ns: p.exit.filter(|_| i + 1 == images.len()).map(|e| e.at_ns),
                });
                if i > 0 {
                    out.edges.push(model::ExecEdge {
                        parent_host_pid: p.key.tgid,
                        child_host_pid: p.key.tgid,
                        kind: model::EdgeKind::Exec,
                    });
                }
            }
            if let Some(parent) = p.parent.filter(|k| self.procs.contains_key(k)) {
                out.edges.push(model::ExecEdge {
                    parent_host_pid: parent.tgid,
                    child_host_pid: p.key.tgid,
                    kind: model::EdgeKind::Clone,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, tgid: u32, start: u64, ppid: u32, pstart: u64, t: u64) -> Event {
        Event {
            kind,
            pid: tgid,
            tgid,
            ppid,
            ns_pid: tgid,
            ns_tgid: tgid,
            pidns_ino: 1,
            uid: 0,
            gid: 0,
            exit_code: 0,
            start_ns: start,
            start_boot_ns: start,
            parent_start_ns: pstart,
            cgroup_id: 1,
            ktime_ns: t,
            comm: "x".into(),
            filename: String::new(),
            filename_truncated: false,
            argv: Vec::new(),
            argv_truncated: false,
            argv_unreadable: false,
        }
    }

    fn exec(tgid: u32, start: u64, ppid: u32, pstart: u64, t: u64, argv: &[&str]) -> Event {
        let mut e = ev(EventKind::Exec, tgid, start, ppid, pstart, t);
        e.filename = argv[0].to_string();
        e.argv = argv.iter().map(|s| s.to_string()).collect();
        e
    }

    /// tini (10) forks sh (11) which execs python; python forks a worker (12) that never execs.
    fn events() -> Vec<Event> {
        vec![
            exec(
                10,
                100,
                1,
                1,
                110,
                &["/sbin/tini", "--", "sh", "-c", "python"],
            ),
            ev(EventKind::Fork, 11, 200, 10, 100, 201),
            exec(11, 200, 10, 100, 210, &["sh", "-c", "python"]),
            exec(11, 200, 10, 100, 220, &["/usr/bin/python"]),
            ev(EventKind::Fork, 12, 300, 11, 200, 301),
        ]
    }

    fn edges(g: &model::ExecGraph) -> Vec<(u32, u32, model::EdgeKind)> {
        let mut v: Vec<_> = g
            .edges
            .iter()
            .map(|e| (e.parent_host_pid, e.child_host_pid, e.kind))
            .collect();
        v.sort_by_key(|e| (e.0, e.1));
        v
    }

    #[test]
    fn any_event_order_gives_the_same_graph() {
        let base = events();
        let orders: Vec<Vec<usize>> = vec![
            vec![0, 1, 2, 3, 4],
            vec![0, 2, 1, 3, 4], // exec before its own fork (the kernel's real order)
            vec![4, 3, 2, 1, 0],
            vec![3, 0, 4, 2, 1],
        ];
        let mut first: Option<model::ExecGraph> = None;
        for order in orders {
            let mut g = ExecGraph::new();
            for i in &order {
                g.apply(&base[*i]);
            }
            let m = g.to_model();
            match &first {
                None => first = Some(m),
                Some(f) => assert_eq!(&m, f, "order {order:?}"),
            }
        }
        let m = first.expect("graph");
        use model::EdgeKind::*;
        assert_eq!(
            edges(&m),
            vec![(10, 11, Clone), (11, 11, Exec), (11, 12, Clone)]
        );
    }

    #[test]
    fn fork_without_exec_inherits_the_image_current_at_fork() {
        let mut g = ExecGraph::new();
        for e in events() {
            g.apply(&e);
        }
        let worker = NodeKey {
            tgid: 12,
            start_ns: 300,
        };
        let img = g.final_image(&worker).expect("inherited");
        assert_eq!(img.argv, ["/usr/bin/python"]);
        assert_eq!(g.get(&worker).map(Process::origin), Some(Origin::Fork));
    }

    #[test]
    fn a_reused_pid_is_a_different_process() {
        let mut g = ExecGraph::new();
        g.apply(&exec(50, 1000, 1, 1, 1001, &["/bin/a"]));
        let mut exit = ev(EventKind::Exit, 50, 1000, 1, 1, 1002);
        exit.exit_code = 0x500;
        g.apply(&exit);
        g.apply(&exec(50, 9000, 1, 1, 9001, &["/bin/b"]));
        assert_eq!(g.len(), 2);
        let old = g
            .get(&NodeKey {
                tgid: 50,
                start_ns: 1000,
            })
            .expect("old");
        assert_eq!(
            (old.exit, old.images[0].exe.as_str()),
            (
                Some(Exit {
                    status: Some(0x500),
                    at_ns: 1002
                }),
                "/bin/a"
            )
        );
        let new = g
            .get(&NodeKey {
                tgid: 50,
                start_ns: 9000,
            })
            .expect("new");
        assert!(new.alive());
    }
}
