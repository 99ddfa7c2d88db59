//! Runtime facts of a terminal (static seed §6 step 5, §7): runs the detectors of
//! [`crate::probe::detect`] on the binary a walk ended at and turns their findings into the
//! terminal's runtime (family, evidence, artefact) and the scorer's facts — f3 (a VM host's
//! artefact resolves), f4 (configured or default ports match `EXPOSE`), f6 (the artefact is
//! validated) and f9 for an artefact the host was told to run but the image lacks (the
//! container would fail at start: `Unable to access jarfile`, `can't open file`). It does not
//! decide the family of plain binaries (that is `probe::runtime`).

use entrytrace_config::Limits;

use super::walk::{Cursor, Ending};
use crate::model::Runtime;
use crate::probe::detect::{detect, Detection, Subject};
use crate::score::Facts;
use crate::vfs::Vfs;

/// Adds what the detectors find about the binary `ending` names to `runtime` and `facts`.
pub(crate) fn apply(
    facts: &mut Facts,
    runtime: &mut Runtime,
    ending: &Ending,
    cur: &Cursor,
    vfs: &dyn Vfs,
    limits: &Limits,
    exposed: &[String],
) {
    let Ending::Binary { path, probe, .. } = ending else {
        return;
    };
    let d = detect(&Subject {
        vfs,
        argv: &cur.argv,
        env: &cur.env,
        cwd: &cur.cwd,
        path,
        probe,
        family: &runtime.family,
        limits,
    });
    if let Some(f) = d.family {
        runtime.family = f.to_string();
    }
    facts.ports_align = ports_align(&d, cur, exposed);
    let Detection {
        evidence,
        artefact,
        resolved,
        validated,
        missing,
        ..
    } = d;
    runtime.evidence.extend(evidence);
    runtime.artefact = artefact;
    facts.vm_artefact = resolved;
    facts.artefact_validated = validated;
    if facts.target_not_executable.is_none() {
        facts.target_not_executable = missing;
    }
}

/// f4: a port the program listens on is one the image exposes.
fn ports_align(d: &Detection, cur: &Cursor, exposed: &[String]) -> Option<String> {
    let (ports, from) = d.listens.as_ref()?;
    let name = cur.argv.first().map(String::as_str).unwrap_or("");
    let name = name.rsplit('/').next().unwrap_or(name);
    let hit = exposed.iter().find(|p| {
        let n = p.split('/').next().unwrap_or("");
        n.parse::<u16>().is_ok_and(|n| ports.contains(&n))
    })?;
    Some(format!(
        "{name} listens on {} ({from}) and the image exposes {hit}",
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
