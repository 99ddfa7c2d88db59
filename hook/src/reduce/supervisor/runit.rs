//! runit: `runsvdir [-P] DIR`, `runsv DIR`, and `runit` as PID 1.
//!
//! `runsvdir` starts one `runsv` per subdirectory of DIR (names starting with `.` are
//! skipped), each running the directory's `./run`; `runsv DIR` is that for one directory;
//! `runit` as init reaches `runsvdir` through its stage-2 script, whose usual directory,
//! `/etc/service`, is taken here. Run scripts are shell scripts as a rule (`exec chpst -u
//! app prog`), left to the walk: the `chpst` dropper is in the wrapper catalogue. A `down`
//! file means the service is not started at boot. It does not read `log/` services or
//! `check`/`finish` scripts.

use super::{run_script, s6, Reader};
use crate::vfs::normalize;

/// The service directory `runit`'s stage 2 usually hands to `runsvdir`.
const DEFAULT_DIR: &str = "/etc/service";

pub(crate) fn discover(rd: &mut Reader<'_>, name: &str, args: &[String], cwd: &str) {
    let dir = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(|d| normalize(d, cwd));
    match name {
        "runsv" => {
            let Some(dir) = dir else {
                rd.warn("runsv without a service directory".into());
                return;
            };
            rd.found.evidence.push(format!("runsv supervises {dir}"));
            let short = dir.rsplit('/').next().unwrap_or(&dir).to_string();
            run_script(rd, &short, &normalize("run", &dir), true);
        }
        _ => {
            let dir = match (name, dir) {
                ("runsvdir", Some(d)) => d,
                _ => DEFAULT_DIR.to_string(),
            };
            rd.found.evidence.push(format!("{name} supervises {dir}/*"));
            s6::service_dirs(rd, &dir);
        }
    }
}
