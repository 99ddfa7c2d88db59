//! The OCI hook: `entrytrace hook` at the `createRuntime` stage (OCI runtime-spec, "Hooks").
//!
//! The runtime has created the container's init, which has not exec'd the entrypoint yet.
//! The hook reads the state from stdin, starts the detached tracer (so its probes are attached
//! before the first exec), runs the static analysis on the bundle, writes the result beside
//! the bundle and under the result directory, hands the result to the tracer and waits a
//! bounded time for its probes to be attached. It always exits 0 unless the config says to
//! fail closed: a broken image, a missing kernel feature or a full disk must never stop a
//! container from starting. The tracer (`tracer.rs`) does the rest after the hook returned.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use entrytrace_config::Config;
use tracing::{info, warn};

use crate::model::{EntryTraceResult, Level};

pub mod annotations;
pub mod capture;
pub mod scan;
pub mod spawn;
pub mod state;
pub mod tracer;

use state::ContainerState;

/// Name of the result file in the bundle.
pub const BUNDLE_FILE: &str = "entrytrace.json";

/// How the hook ended: the exit status to return and what it wrote.
#[derive(Debug)]
pub struct HookOutcome {
    pub exit_code: u8,
    pub written: Vec<PathBuf>,
    pub problems: Vec<String>,
}

/// Runs the hook on the state read from `input`, with the config at `config_path`.
pub fn run(input: &mut dyn Read, config_path: &Path, self_exe: &Path) -> HookOutcome {
    let started = Instant::now();
    let mut outcome = HookOutcome {
        exit_code: 0,
        written: Vec::new(),
        problems: Vec::new(),
    };
    let (cfg, cfg_problem) = match Config::load(config_path) {
        Ok(c) => (c, None),
        Err(e) => (
            Config::default(),
            Some(format!("config ignored, defaults used: {e:#}")),
        ),
    };
    let fail = |outcome: &mut HookOutcome, why: String| {
        warn!(error = %why, "entrytrace hook");
        outcome.problems.push(why);
        if cfg.hook.fail_closed {
            outcome.exit_code = 1;
        }
    };
    let state = match read_state(input) {
        Ok(s) => s,
        Err(why) => {
            fail(&mut outcome, why);
            return outcome;
        }
    };
    let settings = annotations::Settings::from_annotations(&state.annotations, &cfg);
    if !settings.enabled {
        info!(container = %state.id, "disabled by annotation");
        return outcome;
    }
    let mut tracer = if cfg.hook.dynamic && settings.dynamic {
        match tracer::start(self_exe, config_path, &state, &settings) {
            Ok(t) => Some(t),
            Err(e) => {
                outcome.problems.push(format!(
                    "dynamic capture unavailable: cannot start the tracer: {e}"
                ));
                None
            }
        }
    } else {
        None
    };
    let mut result = scan::static_result(&state, &cfg);
    if let Some(p) = cfg_problem {
        result.diagnose(Level::Warning, p);
    }
    for p in &outcome.problems {
        result.diagnose(Level::Warning, p.clone());
    }
    if !cfg.hook.dynamic || !settings.dynamic {
        result.diagnose(Level::Info, "dynamic capture disabled by configuration");
    }
    let (written, problems) = write_result(&result, &state, &cfg);
    outcome.written = written;
    for p in problems {
        fail(&mut outcome, p);
    }
    match tracer.as_mut() {
        Some(t) => {
            let budget =
                Duration::from_millis(cfg.hook.attach_timeout_ms).saturating_sub(started.elapsed());
            if let Err(why) = t.hand_over(&result, budget) {
                warn!(container = %state.id, %why, "tracer not ready; it goes on on its own");
            }
        }
        None => {
            let path = outcome.written.last().cloned();
            if let Err(e) =
                crate::output::journal::send_result(&result, &state.id, path.as_deref(), &cfg)
            {
                warn!(container = %state.id, error = %e, "no journal entry");
            }
        }
    }
    info!(container = %state.id, ms = started.elapsed().as_millis() as u64, "hook done");
    outcome
}

/// Reads and parses the state, bounded in size.
fn read_state(input: &mut dyn Read) -> Result<ContainerState, String> {
    let mut buf = Vec::new();
    input
        .take(state::MAX_STATE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("container state on stdin: {e}"))?;
    if buf.len() as u64 > state::MAX_STATE_BYTES {
        return Err(format!(
            "container state on stdin: larger than {} bytes",
            state::MAX_STATE_BYTES
        ));
    }
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Err("container state on stdin: empty (is this run by a runtime?)".into());
    }
    ContainerState::parse(&buf).map_err(|e| e.to_string())
}

/// Writes `<bundle>/entrytrace.json` and `<result_dir>/<id>.json`; returns the paths written
/// (the stable copy last) and the problems met.
pub fn write_result(
    result: &EntryTraceResult,
    state: &ContainerState,
    cfg: &Config,
) -> (Vec<PathBuf>, Vec<String>) {
    let mut written = Vec::new();
    let mut problems = Vec::new();
    let json = match serde_json::to_vec_pretty(result) {
        Ok(j) => j,
        Err(e) => return (written, vec![format!("cannot serialise the result: {e}")]),
    };
    if cfg.hook.bundle_file {
        match crate::output::file::write_atomic(&state.bundle, BUNDLE_FILE, &json) {
            Ok(p) => written.push(p),
            Err(e) => problems.push(format!("result not written beside the bundle: {e}")),
        }
    }
    let dir = Path::new(&cfg.hook.result_dir);
    let stable = crate::output::file::ensure_private_dir(dir).and_then(|()| {
        crate::output::file::write_atomic(dir, &format!("{}.json", state.id), &json)
    });
    match stable {
        Ok(p) => written.push(p),
        Err(e) => problems.push(format!("result not written to {}: {e}", dir.display())),
    }
    (written, problems)
}
