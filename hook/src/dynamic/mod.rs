//! Dynamic analysis: watch a running container's first seconds and say which of its
//! processes are the workload (`shared/seeds/entrypoint-dynamic-analysis.md`).
//!
//! Stages: [`capture`] observes one window (BPF via `entrytrace-bpf`, or `/proc` polling as
//! the fallback in [`poll`]), building the [`graph`] of processes keyed by (tgid, start time)
//! and taking [`proc`] samples of those alive at the end; [`select`] ranks steady-state
//! candidates; [`trace`] turns all of it into an `EntryTraceResult` with `mode: dynamic`.
//!
//! Deliberately not here: static reduction of the candidates (the `classify` hook of
//! [`select::to_terminals`] is where the static reducer plugs in) and the hook's lifecycle.

use std::path::PathBuf;
use std::time::Duration;

use entrytrace_config::Config;

use crate::model::{ChainStep, EntryTraceResult, Level, Mode, StepKind, Target};

pub mod capture;
pub mod classify;
pub mod graph;
pub mod poll;
pub mod proc;
pub mod select;

pub use capture::{capture, Capture, SourceChoice, TraceTarget};
pub use select::{select, to_terminals, Candidate, SelectInput};

/// Why dynamic capture could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    #[error(transparent)]
    Bpf(entrytrace_bpf::BpfError),
    #[error(transparent)]
    Proc(proc::ProcError),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not below the cgroup v2 mount {root}")]
    NotCgroup2 { path: PathBuf, root: PathBuf },
}

/// Watches `target` for `window` and returns the dynamic result. Capture failures are not
/// errors: the result then carries `dynamic capture unavailable: <why>` and no terminals.
pub fn trace(
    target: &TraceTarget,
    window: Duration,
    source: SourceChoice,
    config: &Config,
    classify: &select::Classify<'_>,
) -> EntryTraceResult {
    let mut result = EntryTraceResult::new(Mode::Dynamic, describe(target));
    match capture(target, window, source, &config.dynamic) {
        Ok(cap) => fill_result(&mut result, cap, config, classify),
        Err(err) => result.diagnose(
            Level::Warning,
            format!("dynamic capture unavailable: {err}"),
        ),
    }
    result
}

/// Fills `result` from what one window saw: steady-state terminals (classified by
/// `classify`), the lineage of the top one as the chain, the exec graph, diagnostics.
pub fn fill_result(
    result: &mut EntryTraceResult,
    cap: Capture,
    config: &Config,
    classify: &select::Classify<'_>,
) {
    let catalogue = config.wrapper_catalogue();
    let candidates = select(&SelectInput {
        graph: &cap.graph,
        samples: &cap.samples,
        window_end_ns: cap.window_end_ns,
        catalogue: &catalogue,
        config: &config.dynamic,
    });
    result.terminals = to_terminals(&candidates, classify);
    if let Some(top) = candidates.first() {
        result.evidence.extend(top.evidence.iter().cloned());
        result.chain = lineage(&cap.graph, top);
    }
    result.exec_graph = cap.graph.to_model();
    result.diagnostics.extend(cap.diagnostics);
    if cap.graph.is_empty() {
        result.diagnose(
            Level::Warning,
            "no process of the target was seen in the window",
        );
    }
}

fn describe(target: &TraceTarget) -> Target {
    Target {
        source: Some(match target {
            TraceTarget::Cgroup(p) => format!("cgroup:{}", p.display()),
            TraceTarget::Pid(pid) => format!("pid:{pid}"),
        }),
        container_id: None,
        bundle: None,
    }
}

/// The chain to the top candidate: each ancestor's images, oldest first, forks between.
fn lineage(g: &graph::ExecGraph, top: &Candidate) -> Vec<ChainStep> {
    let mut line = Vec::new();
    let mut cur = Some(top.node);
    while let Some(k) = cur.filter(|_| line.len() < 64) {
        let Some(p) = g.get(&k) else { break };
        line.push(p);
        cur = p.parent;
    }
    let mut steps = Vec::new();
    for (i, p) in line.iter().rev().enumerate() {
        if i > 0 {
            steps.push(ChainStep {
                step: StepKind::Fork,
                argv: Vec::new(),
                why: format!("pid {} forked pid {}", p.ppid, p.key.tgid),
                location: None,
            });
        }
        for img in &p.images {
            steps.push(ChainStep {
                step: StepKind::Exec,
                argv: img.argv.clone(),
                why: format!(
                    "pid {} (ns pid {}) exec'd {}",
                    p.key.tgid, p.ns_pid, img.exe
                ),
                location: None,
            });
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_no_source_can_watch_gives_capture_unavailable_and_no_terminals() {
        let dir = std::env::temp_dir();
        let rows = [
            (TraceTarget::Cgroup(dir.clone()), SourceChoice::Auto),
            (TraceTarget::Cgroup(dir), SourceChoice::Proc),
            (TraceTarget::Pid(u32::MAX), SourceChoice::Bpf),
        ];
        for (target, source) in rows {
            let r = trace(
                &target,
                Duration::from_millis(100),
                source,
                &Config::default(),
                &|_, _| None,
            );
            assert_eq!(r.mode, Mode::Dynamic);
            assert!(r.terminals.is_empty(), "{target:?}");
            let msg = &r.diagnostics.first().expect("diagnostic").message;
            assert!(
                msg.starts_with("dynamic capture unavailable: "),
                "{target:?}: {msg}"
            );
        }
    }
}
