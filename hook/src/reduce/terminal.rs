//! Turning the end of a walk into a [`Terminal`]: its path, user, kind, runtime family, the
//! facts of the confidence model (static seed §7) and the score.
//!
//! Facts are decided here from what the walk saw: f2 (ends in a non-wrapper binary),
//! f3/f4/f6 and the artefact from the runtime detectors (see [`super::runtime`]), f5 (the
//! `#!` interpreter is of the terminal's family), f8/f10 (a script not followed), f9
//! (nothing runnable, or an artefact the image lacks). f1 and skipped non-executable PATH
//! hits come from the walk itself.

use entrytrace_config::Config;

use super::walk::{Cursor, Ending, Walker};
use crate::model::{Runtime, Terminal, TerminalKind};
use crate::probe::runtime::{family, family_by_name};
use crate::score::{score, Facts};
use crate::vfs::Vfs;

/// Programs that supervise services rather than being the workload (their services are
/// read by `super::supervisor`, which also knows s6-overlay's `/init` by its content).
const SUPERVISORS: &[&str] = &[
    "supervisord",
    "s6-svscan",
    "runsvdir",
    "runsv",
    "runit",
    "s6-rc-init",
    "pm2-runtime",
    "pm2-docker",
    "forego",
    "foreman",
    "overmind",
    "honcho",
];

/// Builds the terminal the walk ended at.
pub(crate) fn build(
    cur: &Cursor,
    ending: &Ending,
    walker: &Walker<'_>,
    vfs: &dyn Vfs,
    cfg: &Config,
    exposed_ports: &[String],
) -> Terminal {
    let mut facts = walker.facts.clone();
    let argv0 = cur.argv.first().map(String::as_str).unwrap_or("");
    let (path, mut runtime) = ending_facts(ending, argv0, &mut facts);
    if !walker.services.is_empty() {
        if let (Ending::Script { path, .. }, Some(f)) = (ending, facts.shell_without_exec.as_mut())
        {
            *f = format!(
                "{path}: followed; it keeps several commands running instead of exec'ing one"
            );
        }
    }
    let (limits, ports) = (&cfg.limits, exposed_ports);
    super::runtime::apply(&mut facts, &mut runtime, ending, cur, vfs, limits, ports);
    if let Some(interp) = &walker.shebang_interpreter {
        // A shell script ending in a shell says nothing: only language hosts count.
        let family = runtime.family.as_str();
        if family != "shell" && family_by_name(interp) == Some(family) {
            facts.shebang_matches = Some(format!(
                "#! interpreter {interp} matches runtime {}",
                runtime.family
            ));
        }
    }
    let (confidence, features) = score(&facts, &cfg.scoring);
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    Terminal {
        argv: cur.argv.clone(),
        path,
        user: walker.users.display(cur.user.as_deref()),
        workdir: cur.cwd.clone(),
        kind: if SUPERVISORS.contains(&base) {
            TerminalKind::Supervisor
        } else {
            TerminalKind::Process
        },
        runtime,
        confidence,
        features,
        services: Vec::new(),
    }
}

/// The terminal's path and runtime for how the walk ended, recording f2/f8/f9/f10.
fn ending_facts(ending: &Ending, argv0: &str, facts: &mut Facts) -> (Option<String>, Runtime) {
    match ending {
        Ending::Binary { path, probe, shell } => {
            let (fam, mut ev) = family(probe, argv0);
            ev.extend(probe.evidence.iter().cloned());
            if !shell {
                facts.ends_in_binary = Some(format!("{path} is a binary, not a wrapper or shell"));
            }
            (
                Some(path.clone()),
                Runtime {
                    family: fam,
                    evidence: ev,
                    artefact: None,
                },
            )
        }
        Ending::Script {
            path,
            uses_positional,
            notes,
        } => {
            facts.shell_without_exec = Some(format!(
                "{path}: no exec found (the chain ends at the script)"
            ));
            if *uses_positional {
                facts.unresolved_branches = Some(format!(
                    "{path} depends on its arguments ($@/$1) and was not resolved"
                ));
            }
            let runtime = Runtime {
                family: "shell".into(),
                evidence: notes.clone(),
                artefact: None,
            };
            (Some(path.clone()), runtime)
        }
        Ending::Failed { path, why } => {
            facts.target_not_executable = Some(why.clone());
            let runtime = Runtime {
                family: "unknown".into(),
                evidence: vec![why.clone()],
                artefact: None,
            };
            (path.clone(), runtime)
        }
    }
}
