//! Turning the end of a walk into a [`Terminal`]: its path, user, kind, runtime family, the
//! facts of the confidence model (static seed §7) and the score.
//!
//! Facts are decided here from what the walk saw: f2 (ends in a non-wrapper binary), f3/f6
//! (a VM host's artefact found and validated, see [`crate::probe::artefact`]), f4 (exposed
//! ports match what a well-known server listens on), f5 (the `#!` interpreter is of the
//! terminal's family), f8/f10 (a script not followed), f9 (nothing runnable). f1 and skipped
//! non-executable PATH hits come from the walk itself.

use entrytrace_config::Config;

use super::walk::{Cursor, Ending, Walker};
use crate::model::{Runtime, Terminal, TerminalKind};
use crate::probe::artefact::find_artefact;
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

/// Ports well-known servers listen on by default.
const SERVER_PORTS: &[(&str, &[u16])] = &[
    ("nginx", &[80, 443]),
    ("httpd", &[80, 443]),
    ("apache2", &[80, 443]),
    ("caddy", &[80, 443, 2019]),
    ("postgres", &[5432]),
    ("mysqld", &[3306]),
    ("mariadbd", &[3306]),
    ("redis-server", &[6379]),
    ("mongod", &[27017]),
    ("memcached", &[11211]),
    ("rabbitmq-server", &[5672]),
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
    let (path, runtime) = ending_facts(ending, argv0, &mut facts);
    if matches!(ending, Ending::Binary { .. }) {
        artefact_facts(&mut facts, vfs, &runtime.family, cur);
        facts.ports_align = ports_align(argv0, exposed_ports);
    }
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
                },
            )
        }
        Ending::Script {
            path,
            uses_positional,
            notes,
        } => {
            facts.shell_without_exec = Some(format!("{path}: no exec found (script not followed)"));
            if *uses_positional {
                facts.unresolved_branches = Some(format!(
                    "{path} depends on its arguments ($@/$1) and was not resolved"
                ));
            }
            let runtime = Runtime {
                family: "shell".into(),
                evidence: notes.clone(),
            };
            (Some(path.clone()), runtime)
        }
        Ending::Failed { path, why } => {
            facts.target_not_executable = Some(why.clone());
            let runtime = Runtime {
                family: "unknown".into(),
                evidence: vec![why.clone()],
            };
            (path.clone(), runtime)
        }
    }
}

fn artefact_facts(facts: &mut Facts, vfs: &dyn Vfs, family: &str, cur: &Cursor) {
    let Some(a) = find_artefact(vfs, family, &cur.argv, &cur.cwd) else {
        return;
    };
    if a.exists {
        facts.vm_artefact = Some(format!("{family} runs {}, present in the image", a.path));
        facts.artefact_validated = a.validated;
    }
}

fn ports_align(argv0: &str, exposed: &[String]) -> Option<String> {
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    let (_, ports) = SERVER_PORTS.iter().find(|(n, _)| *n == base)?;
    let hit = exposed.iter().find(|p| {
        let n = p.split('/').next().unwrap_or("");
        n.parse::<u16>().is_ok_and(|n| ports.contains(&n))
    })?;
    Some(format!(
        "{base} listens on {hit} by default and the image exposes it"
    ))
}
