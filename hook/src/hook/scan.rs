//! The hook's static analysis: the bundle's `config.json` and root filesystem (where the
//! runtime's state says it is), reduced to the terminal. It never fails: an unreadable
//! bundle gives a result with no terminal and a diagnostic naming the file and the cause.

use entrytrace_config::Config;

use super::state::ContainerState;
use crate::model::{EntryTraceResult, Level, Mode, Target};
use crate::reduce::Overrides;

/// The static result for a container.
pub fn static_result(state: &ContainerState, cfg: &Config) -> EntryTraceResult {
    let target = Target {
        source: Some(format!("bundle:{}", state.bundle.display())),
        container_id: Some(state.id.clone()),
        bundle: Some(state.bundle.display().to_string()),
    };
    let loaded = crate::image::bundle::load_with_root(
        &state.bundle,
        state.root.as_deref(),
        cfg.limits.max_metadata_bytes,
    );
    match loaded {
        Ok((spec, vfs)) => crate::reduce::analyze(&spec, &vfs, &Overrides::default(), cfg, target),
        Err(e) => {
            let mut r = EntryTraceResult::new(Mode::Static, target);
            r.diagnose(Level::Error, format!("static analysis impossible: {e}"));
            r
        }
    }
}
