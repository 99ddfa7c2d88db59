//! Steady-state selection (dynamic seed, §2.3): which processes of the window are the
//! workload. Each live process gets features — still running at the end, lifetime of its
//! final image, no exec below it, listening sockets, wrapper-catalogue hit, fan-out — scored
//! by the logistic weights of `[dynamic.weights]`; the top K are kept with their evidence.
//!
//! Wrappers with children collapse into what they started ("wrapper tini collapsed into
//! /usr/local/bin/python"); forks that never exec'd are workers of their parent, counted in its
//! evidence; several long-lived non-wrapper children that exec'd images of their own make
//! their parent a supervisor with those children as `services`.
//!
//! The seam to the static pipeline is [`to_terminals`]: it takes a `classify` hook that turns
//! a candidate's exec node into a fully reduced and classified terminal (the static reducer),
//! or returns `None` when that is not available, in which case a plain terminal is built.

use std::collections::{HashMap, HashSet};

use entrytrace_config::{DynamicConfig, SteadyStateWeights, WrapperRule};

use super::graph::{ExecGraph, Image, NodeKey, Origin};
use super::proc::ProcSample;
use crate::model::{ExecNode, Feature, Runtime, Terminal, TerminalKind};

/// A process ranked as (part of) the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub node: NodeKey,
    pub ns_pid: u32,
    pub ppid: u32,
    /// The image it runs at the end of the window.
    pub image: Image,
    pub sample: Option<ProcSample>,
    pub features: Vec<Feature>,
    pub evidence: Vec<String>,
    /// In `[0, 1]`.
    pub confidence: f64,
    pub kind: TerminalKind,
    pub services: Vec<Candidate>,
}

/// What selection needs besides the graph.
#[derive(Debug, Clone, Copy)]
pub struct SelectInput<'a> {
    pub graph: &'a ExecGraph,
    pub samples: &'a HashMap<NodeKey, ProcSample>,
    /// Monotonic ns at the end of the window.
    pub window_end_ns: u64,
    pub catalogue: &'a [WrapperRule],
    pub config: &'a DynamicConfig,
}

/// The ranked candidates, best first, at most `config.top_k`.
pub fn select(input: &SelectInput<'_>) -> Vec<Candidate> {
    let wrappers: HashSet<&str> = input
        .catalogue
        .iter()
        .flat_map(|r| r.names.iter().map(String::as_str))
        .collect();
    let g = input.graph;
    let mut all: Vec<Candidate> = g
        .processes()
        .filter(|p| {
            eligible(g, p.key, &wrappers) || service_children(g, p.key, &wrappers).len() >= 2
        })
        .filter_map(|p| score(input, p.key, &wrappers))
        .collect();
    // The steady state is what still runs; processes that exited rank only when none does.
    let alive = |c: &Candidate| input.graph.get(&c.node).is_some_and(|p| p.alive());
    if all.iter().any(alive) {
        all.retain(alive);
    }
    fold_supervisors(input, &mut all, &wrappers);
    all.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.node.start_ns.cmp(&b.node.start_ns))
    });
    all.truncate(input.config.top_k);
    all
}

/// The candidates as terminals: `classify` (the static reducer, when merged in) decides path
/// and runtime; the dynamic features, evidence, confidence and kind are kept either way.
pub fn to_terminals(candidates: &[Candidate], classify: &Classify<'_>) -> Vec<Terminal> {
    candidates
        .iter()
        .map(|c| to_terminal(c, classify))
        .collect()
}

/// How a caller turns an observed process (its final image and effective uid) into a
/// terminal: the static reducer run on what was exec'd. `None` = not available.
pub type Classify<'a> = dyn Fn(&ExecNode, u32) -> Option<Terminal> + 'a;

/// The contract's exec node of a candidate's final image.
pub fn exec_node(c: &Candidate) -> ExecNode {
    ExecNode {
        host_pid: c.node.tgid,
        ns_pid: c.ns_pid,
        ppid: c.ppid,
        exe: display_exe(c),
        argv: c.image.argv.clone(),
        start_ns: c.node.start_ns,
        exit_code: None,
        exit_ns: None,
    }
}

fn to_terminal(c: &Candidate, classify: &Classify<'_>) -> Terminal {
    let node = exec_node(c);
    let services = c
        .services
        .iter()
        .map(|s| to_terminal(s, classify))
        .collect();
    let uid = c.sample.as_ref().map_or(c.image.uid, |s| s.euid);
    let mut t = classify(&node, uid).unwrap_or_else(|| Terminal {
        argv: node.argv.clone(),
        path: c.sample.as_ref().and_then(|s| s.exe.clone()),
        user: uid.to_string(),
        workdir: c
            .sample
            .as_ref()
            .and_then(|s| s.cwd.clone())
            .unwrap_or_else(|| "/".into()),
        kind: c.kind,
        runtime: Runtime {
            family: "unknown".into(),
            evidence: Vec::new(),
            artefact: None,
        },
        confidence: c.confidence,
        features: Vec::new(),
        services: Vec::new(),
    });
    t.kind = c.kind;
    t.confidence = c.confidence;
    t.features.extend(c.features.iter().cloned());
    t.services = services;
    t
}

/// The path to show for a candidate: the resolved `/proc/PID/exe`, else what was exec'd.
pub fn display_exe(c: &Candidate) -> String {
    c.sample
        .as_ref()
        .and_then(|s| s.exe.clone())
        .unwrap_or_else(|| c.image.exe.clone())
}

/// The program name the wrapper catalogue is matched against (argv[0]'s basename, then the
/// exec'd path's).
fn program_name(image: &Image) -> Vec<&str> {
    let mut names = Vec::new();
    if let Some(a0) = image.argv.first() {
        names.push(a0.rsplit('/').next().unwrap_or(a0));
    }
    names.push(image.exe.rsplit('/').next().unwrap_or(&image.exe));
    names
}

fn is_wrapper(image: &Image, wrappers: &HashSet<&str>) -> Option<String> {
    program_name(image)
        .into_iter()
        .find(|n| wrappers.contains(n))
        .map(str::to_string)
}

/// Live, and not a worker fork of a live parent running the same image, and not a wrapper
/// that has handed on to a child.
fn eligible(g: &ExecGraph, key: NodeKey, wrappers: &HashSet<&str>) -> bool {
    let Some(p) = g.get(&key) else { return false };
    let Some(image) = g.final_image(&key) else {
        return false;
    };
    if p.origin() == Origin::Fork {
        let parent_same = p
            .parent
            .and_then(|k| g.final_image(&k))
            .is_some_and(|pi| pi.argv == image.argv);
        if parent_same {
            return false;
        }
    }
    is_wrapper(&image, wrappers).is_none() || g.children(&key).is_empty()
}

fn score(input: &SelectInput<'_>, key: NodeKey, wrappers: &HashSet<&str>) -> Option<Candidate> {
    let g = input.graph;
    let w = &input.config.weights;
    let p = g.get(&key)?;
    let image = g.final_image(&key)?;
    let sample = input.samples.get(&key).cloned();
    let shown = sample
        .as_ref()
        .and_then(|s| s.exe.clone())
        .unwrap_or_else(|| image.exe.clone());
    let mut f = Features::new(w);
    let end = p.exit.map_or(input.window_end_ns, |e| e.at_ns);
    let secs = end.saturating_sub(image.at_ns.max(key.start_ns)) as f64 / 1e9;
    match p.exit {
        None => f.add(
            "d1",
            w.alive_at_end,
            format!("pid {} still running at window end", p.ns_pid),
        ),
        Some(e) => f.add(
            "d7",
            w.exited,
            match e.shell_code() {
                Some(code) => format!("pid {} exited with status {code}", p.ns_pid),
                None => format!("pid {} exited", p.ns_pid),
            },
        ),
    }
    f.add(
        "d2",
        w.lifetime_per_s * secs.min(w.lifetime_cap_s),
        format!("{shown} ran {secs:.2}s"),
    );
    let downstream = downstream_execs(g, key, image.at_ns);
    if downstream == 0 {
        f.add(
            "d3",
            w.no_downstream_exec,
            format!("no exec below pid {}", p.ns_pid),
        );
    }
    for addr in sample.iter().flat_map(|s| s.listening.iter()) {
        f.add(
            "d4",
            w.listening,
            format!("pid {} listening on {addr}", p.ns_pid),
        );
    }
    if let Some(name) = is_wrapper(&image, wrappers) {
        f.add(
            "d5",
            w.wrapper,
            format!("{name} is in the wrapper catalogue"),
        );
    }
    let children = g.children(&key);
    let live = children.iter().filter(|c| c.alive()).count();
    if live > 0 {
        let n = (live as f64).min(w.fan_out_cap);
        let workers = children
            .iter()
            .filter(|c| c.alive() && c.origin() == Origin::Fork)
            .count();
        f.add(
            "d6",
            w.fan_out_per_child * n,
            format!("{live} live children ({workers} forked workers)"),
        );
    }
    let mut evidence: Vec<String> = f
        .features
        .iter()
        .filter(|x| x.id == "d4")
        .map(|x| x.evidence.clone())
        .collect();
    evidence.extend(collapsed(g, key, &shown, wrappers));
    Some(Candidate {
        node: key,
        ns_pid: p.ns_pid,
        ppid: p.ppid,
        image,
        sample,
        confidence: f.confidence(),
        features: f.features,
        evidence,
        kind: TerminalKind::Process,
        services: Vec::new(),
    })
}

/// Execs in `key`'s descendants after `since`.
fn downstream_execs(g: &ExecGraph, key: NodeKey, since: u64) -> usize {
    let mut n = 0;
    let mut stack = vec![key];
    let mut seen = HashSet::new();
    while let Some(k) = stack.pop() {
        if !seen.insert(k) {
            continue;
        }
        for c in g.children(&k) {
            n += c.images.iter().filter(|i| i.at_ns >= since).count();
            stack.push(c.key);
        }
    }
    n
}

/// "wrapper X collapsed into Y" for the wrappers this process ran before, and its ancestors'.
fn collapsed(g: &ExecGraph, key: NodeKey, shown: &str, wrappers: &HashSet<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = Some(key);
    let mut depth = 0;
    while let (Some(k), true) = (cur, depth < 64) {
        let Some(p) = g.get(&k) else { break };
        let mut names: Vec<String> = p
            .images
            .iter()
            .filter_map(|i| is_wrapper(i, wrappers))
            .collect();
        if k == key {
            names.retain(|n| !shown.ends_with(&format!("/{n}")) && shown != n);
        }
        names.dedup();
        for name in names.into_iter().rev() {
            out.push(format!("wrapper {name} collapsed into {shown}"));
        }
        cur = p.parent;
        depth += 1;
    }
    out
}

/// A candidate with two or more live children that exec'd non-wrapper images of their own
/// becomes a supervisor, and those children its services (removed from the top level).
fn fold_supervisors(input: &SelectInput<'_>, all: &mut Vec<Candidate>, wrappers: &HashSet<&str>) {
    let g = input.graph;
    let mut taken = HashSet::new();
    for i in 0..all.len() {
        let services = service_children(g, all[i].node, wrappers);
        if services.len() < 2 {
            continue;
        }
        let mut svc: Vec<Candidate> = all
            .iter()
            .filter(|c| services.contains(&c.node))
            .cloned()
            .collect();
        for s in &mut svc {
            s.kind = TerminalKind::Service;
        }
        let sup = &mut all[i];
        sup.kind = TerminalKind::Supervisor;
        sup.evidence.push(format!(
            "pid {} supervises {} services",
            sup.ns_pid,
            svc.len()
        ));
        sup.confidence = sup
            .confidence
            .max(svc.iter().map(|s| s.confidence).fold(0.0, f64::max));
        sup.services = svc;
        taken.extend(services);
    }
    all.retain(|c| !taken.contains(&c.node) || c.kind == TerminalKind::Supervisor);
}

/// Live children of `key` that exec'd a non-wrapper image of their own.
fn service_children(g: &ExecGraph, key: NodeKey, wrappers: &HashSet<&str>) -> Vec<NodeKey> {
    if !g.get(&key).is_some_and(|p| p.alive()) {
        return Vec::new();
    }
    g.children(&key)
        .into_iter()
        .filter(|c| c.alive() && c.origin() != Origin::Fork)
        .filter(|c| {
            g.final_image(&c.key)
                .is_some_and(|img| is_wrapper(&img, wrappers).is_none())
        })
        .map(|c| c.key)
        .collect()
}

struct Features<'w> {
    w: &'w SteadyStateWeights,
    features: Vec<Feature>,
}

impl<'w> Features<'w> {
    fn new(w: &'w SteadyStateWeights) -> Self {
        Self {
            w,
            features: Vec::new(),
        }
    }

    fn add(&mut self, id: &str, contribution: f64, evidence: String) {
        self.features.push(Feature {
            id: id.into(),
            contribution,
            evidence,
        });
    }

    fn confidence(&self) -> f64 {
        let logit = self.w.bias + self.features.iter().map(|f| f.contribution).sum::<f64>();
        1.0 / (1.0 + (-logit).exp())
    }
}

#[cfg(test)]
mod tests {
    use entrytrace_bpf::{Event, EventKind};

    use super::*;

    fn ev(kind: EventKind, tgid: u32, ppid: u32, t: u64, argv: &[&str]) -> Event {
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
            start_ns: u64::from(tgid) * 10,
            start_boot_ns: 0,
            parent_start_ns: u64::from(ppid) * 10,
            cgroup_id: 1,
            ktime_ns: t,
            comm: String::new(),
            filename: argv.first().map_or(String::new(), |s| s.to_string()),
            filename_truncated: false,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            argv_truncated: false,
            argv_unreadable: false,
        }
    }

    fn exec(tgid: u32, ppid: u32, t: u64, argv: &[&str]) -> Event {
        ev(EventKind::Exec, tgid, ppid, t, argv)
    }

    fn fork(tgid: u32, ppid: u32, t: u64) -> Event {
        ev(EventKind::Fork, tgid, ppid, t, &[])
    }

    fn exit(tgid: u32, ppid: u32, t: u64) -> Event {
        ev(EventKind::Exit, tgid, ppid, t, &[])
    }

    fn run(events: &[Event], listening: &[(u32, &str)]) -> Vec<Candidate> {
        let mut g = ExecGraph::new();
        for e in events {
            g.apply(e);
        }
        let samples: HashMap<NodeKey, ProcSample> = listening
            .iter()
            .map(|(pid, addr)| {
                let key = NodeKey {
                    tgid: *pid,
                    start_ns: u64::from(*pid) * 10,
                };
                let s = ProcSample {
                    pid: *pid,
                    listening: vec![addr.to_string()],
                    ..Default::default()
                };
                (key, s)
            })
            .collect();
        let config = DynamicConfig::default();
        let catalogue = entrytrace_config::wrappers::builtin();
        select(&SelectInput {
            graph: &g,
            samples: &samples,
            window_end_ns: 3_000_000_000,
            catalogue: &catalogue,
            config: &config,
        })
    }

    #[test]
    fn steady_state_picks_the_workload_in_each_shape() {
        // (shape, events, listening sockets, expected top argv[0], expected kind, evidence part)
        type Row = (
            &'static str,
            Vec<Event>,
            Vec<(u32, &'static str)>,
            &'static str,
            TerminalKind,
            &'static str,
        );
        let rows: Vec<Row> = vec![
            (
                "tini, sh -c without exec, server with two workers",
                vec![
                    exec(
                        10,
                        1,
                        100,
                        &["tini", "--", "sh", "-c", "python app.py; true"],
                    ),
                    fork(11, 10, 110),
                    exec(11, 10, 120, &["sh", "-c", "python app.py; true"]),
                    fork(12, 11, 130),
                    exec(12, 11, 140, &["/usr/bin/python", "app.py"]),
                    fork(13, 12, 150),
                    fork(14, 12, 160),
                ],
                vec![
                    (12, "0.0.0.0:8080"),
                    (13, "0.0.0.0:8080"),
                    (14, "0.0.0.0:8080"),
                ],
                "/usr/bin/python",
                TerminalKind::Process,
                "wrapper tini collapsed into /usr/bin/python",
            ),
            (
                "gosu execs the program in place",
                vec![
                    exec(20, 1, 100, &["gosu", "app", "/srv/app"]),
                    exec(20, 1, 200, &["/srv/app"]),
                    fork(21, 20, 300),
                    exec(21, 20, 310, &["/bin/true"]),
                    exit(21, 20, 320),
                ],
                vec![],
                "/srv/app",
                TerminalKind::Process,
                "wrapper gosu collapsed into /srv/app",
            ),
            (
                "a shell running two services and waiting",
                vec![
                    exec(30, 1, 100, &["sh", "-c", "a & b & wait"]),
                    fork(31, 30, 110),
                    exec(31, 30, 120, &["/usr/bin/a"]),
                    fork(32, 30, 130),
                    exec(32, 30, 140, &["/usr/bin/b"]),
                ],
                vec![],
                "sh",
                TerminalKind::Supervisor,
                "supervises 2 services",
            ),
        ];
        for (shape, events, listening, top, kind, evidence) in rows {
            let got = run(&events, &listening);
            let first = got
                .first()
                .unwrap_or_else(|| panic!("{shape}: no candidate"));
            assert_eq!(
                first.image.argv.first().map(String::as_str),
                Some(top),
                "{shape}: {got:#?}"
            );
            assert_eq!(first.kind, kind, "{shape}");
            assert!(
                first.evidence.iter().any(|e| e.contains(evidence)),
                "{shape}: {:?}",
                first.evidence
            );
            assert!(got.len() <= 3, "{shape}: top_k");
        }
    }

    #[test]
    fn the_listening_socket_is_evidence_and_workers_are_not_candidates() {
        let events = [
            exec(12, 1, 140, &["/usr/bin/python", "app.py"]),
            fork(13, 12, 150),
            fork(14, 12, 160),
        ];
        let got = run(&events, &[(12, "127.0.0.1:9000"), (13, "127.0.0.1:9000")]);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(got[0]
            .evidence
            .contains(&"pid 12 listening on 127.0.0.1:9000".to_string()));
        let node = exec_node(&got[0]);
        let terminals = to_terminals(&got, &|n, _| {
            (n.host_pid == 12).then(|| Terminal {
                argv: n.argv.clone(),
                path: Some("/usr/bin/python3.11".into()),
                user: "app".into(),
                workdir: "/srv".into(),
                kind: TerminalKind::Process,
                runtime: Runtime {
                    family: "python".into(),
                    evidence: vec![],
                    artefact: None,
                },
                confidence: 0.1,
                features: vec![],
                services: vec![],
            })
        });
        assert_eq!(node.argv, ["/usr/bin/python", "app.py"]);
        assert_eq!(
            terminals[0].runtime.family, "python",
            "classify hook decides the runtime"
        );
        assert_eq!(
            terminals[0].confidence, got[0].confidence,
            "dynamic confidence kept"
        );
        let unclassified = to_terminals(&got, &|_, _| None);
        assert_eq!(unclassified[0].runtime.family, "unknown");
    }
}
