//! The hook's static analysis: the bundle's `config.json` and root filesystem, reduced to
//! the terminal.

use entrytrace_config::Config;

use super::state::ContainerState;
use crate::model::{EntryTraceResult, Level, Mode, Target};

/// The static result for a container (never fails: problems become diagnostics).
pub fn static_result(state: &ContainerState, _cfg: &Config) -> EntryTraceResult {
    let mut r = EntryTraceResult::new(
        Mode::Static,
        Target {
            source: Some(format!("bundle:{}", state.bundle.display())),
            container_id: Some(state.id.clone()),
            bundle: Some(state.bundle.display().to_string()),
        },
    );
    r.diagnose(Level::Error, "static analysis: pending integration");
    r
}
