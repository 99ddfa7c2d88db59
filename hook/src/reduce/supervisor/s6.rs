//! s6 and s6-overlay: service directories and s6-rc source definitions.
//!
//! `s6-svscan [DIR]` supervises every `DIR/*/run` (default: its working directory).
//! s6-overlay's `/init` starts the services of two layouts: the v3 s6-rc source directory
//! `/etc/s6-overlay/s6-rc.d/` — the `user` (and `user2`) bundle's `contents.d/` (or
//! `contents` file), bundles expanded `limits.max_include_depth` deep, each `type` file
//! saying `longrun` (a service, its `run` file) or `oneshot` (runs once at start: not a
//! service) — and the legacy `/etc/services.d/*/run`. A `run` file becomes an argv through
//! [`super::run_script`] (execline read here, shell scripts left to the walk). It does not
//! follow s6-rc dependencies (`dependencies.d`), `finish` scripts or loggers (`log/`).

use std::collections::BTreeSet;

use super::{run_script, Reader};
use crate::vfs::normalize;

/// The s6-rc source directory of s6-overlay v3.
const RC_DIR: &str = "/etc/s6-overlay/s6-rc.d";
/// The classic service directory s6-overlay (v2, and v3 for compatibility) starts.
const SERVICES_D: &str = "/etc/services.d";

/// `s6-svscan [opts] [DIR]`: the run scripts of the scan directory.
pub(crate) fn discover_scandir(rd: &mut Reader<'_>, args: &[String], cwd: &str) {
    let mut it = args.iter();
    let mut dir = None;
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" | "-L" | "-t" | "-d" | "-X" => {
                it.next();
            }
            a if a.starts_with('-') => {}
            a => dir = Some(a.to_string()),
        }
    }
    let dir = normalize(dir.as_deref().unwrap_or("."), cwd);
    rd.found.evidence.push(format!("s6-svscan scans {dir}"));
    service_dirs(rd, &dir);
}

/// s6-overlay's `/init`: the s6-rc user bundle's longruns, then `/etc/services.d`.
pub(crate) fn discover_overlay(rd: &mut Reader<'_>) {
    rd.found
        .evidence
        .push("/init is s6-overlay's: it starts s6-rc's user bundle and /etc/services.d".into());
    if rd.is_dir(RC_DIR) {
        let mut visited = BTreeSet::new();
        for bundle in ["user", "user2"] {
            member(rd, bundle, 0, &mut visited);
        }
    }
    service_dirs(rd, SERVICES_D);
}

/// Every `DIR/NAME/run` (names starting with `.` are skipped, as s6-svscan does).
pub(crate) fn service_dirs(rd: &mut Reader<'_>, dir: &str) {
    for name in rd.entries(dir) {
        if name.starts_with('.') {
            continue;
        }
        let svc = normalize(&name, dir);
        if !rd.is_dir(&svc) {
            continue;
        }
        let short = format!("{}/{name}", dir.rsplit('/').next().unwrap_or(dir));
        let down = matches!(rd.vfs.stat(&normalize("down", &svc)), Ok(Some(_)));
        run_script(rd, &short, &normalize("run", &svc), !down);
        if rd.found.services.len() >= rd.limits.max_services as usize {
            return;
        }
    }
}

/// One s6-rc definition: a bundle's members, a longrun's `run`, a oneshot noted.
fn member(rd: &mut Reader<'_>, name: &str, depth: u32, visited: &mut BTreeSet<String>) {
    if name.contains('/') || name.starts_with('.') || !visited.insert(name.to_string()) {
        return;
    }
    let dir = normalize(name, RC_DIR);
    let Some(kind) = rd.read_if_present(&normalize("type", &dir)) else {
        if name != "user2" {
            rd.warn(format!(
                "s6-rc: {dir}/type is missing: {name} is not a definition"
            ));
        }
        return;
    };
    match kind.trim() {
        "longrun" => run_script(
            rd,
            &format!("s6-rc.d/{name}"),
            &normalize("run", &dir),
            true,
        ),
        "oneshot" => rd.found.evidence.push(format!(
            "s6-rc: {name} is a oneshot (runs once at start, {dir}/up): not a service"
        )),
        "bundle" => {
            if depth >= rd.limits.max_include_depth {
                let max = rd.limits.max_include_depth;
                rd.warn(format!(
                    "s6-rc: bundle {name} is nested deeper than limits.max_include_depth = {max}: not followed"
                ));
                return;
            }
            for m in bundle_members(rd, &dir) {
                member(rd, &m, depth + 1, visited);
            }
        }
        other => rd.warn(format!(
            "s6-rc: {dir}/type says {other:?}, not longrun, oneshot or bundle"
        )),
    }
}

/// A bundle's members: the names in `contents.d/`, else the lines of `contents`.
fn bundle_members(rd: &mut Reader<'_>, dir: &str) -> Vec<String> {
    let d = normalize("contents.d", dir);
    if rd.is_dir(&d) {
        return rd.entries(&d);
    }
    rd.read_if_present(&normalize("contents", dir))
        .map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}
