//! Weights of the static confidence model: the logistic model of the static seed, §7.
//! Each feature's weight is added to the logit when the feature holds; the result is
//! `1 / (1 + e^-(bias + scale · Σ w))`.
//!
//! The seed's weights are kept; bias and scale are calibrated so that a clean native
//! terminal through init shims and droppers (f1 + f2) scores about 0.86, a script that could
//! not be followed (f10, often with f8) at most about 0.3, and a missing or non-executable
//! target (f9 alone) about 0.19.

use serde::{Deserialize, Serialize};

/// Weights of features `f1`..`f10` and the bias of the logistic model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticWeights {
    pub bias: f64,
    /// Scale applied to the sum of weights before the logistic function.
    pub scale: f64,
    /// Entrypoint already an executable (ELF/PE).
    pub f1_entry_is_executable: f64,
    /// Chain ends in a non-wrapper binary.
    pub f2_ends_in_binary: f64,
    /// VM host with a resolvable artefact.
    pub f3_vm_artefact: f64,
    /// Exposed ports align with the runtime.
    pub f4_ports_align: f64,
    /// Shebang interpreter matches the runtime family.
    pub f5_shebang_matches: f64,
    /// Language artefact validated.
    pub f6_artefact_validated: f64,
    /// Multi-branch script unresolved (`$@` taint).
    pub f8_unresolved_branches: f64,
    /// Target missing or without the execute bit.
    pub f9_target_not_executable: f64,
    /// Shell with no `exec`.
    pub f10_shell_without_exec: f64,
}

impl Default for StaticWeights {
    fn default() -> Self {
        Self {
            bias: -0.2,
            scale: 5.0,
            f1_entry_is_executable: 0.18,
            f2_ends_in_binary: 0.22,
            f3_vm_artefact: 0.20,
            f4_ports_align: 0.06,
            f5_shebang_matches: 0.05,
            f6_artefact_validated: 0.15,
            f8_unresolved_branches: -0.20,
            f9_target_not_executable: -0.25,
            f10_shell_without_exec: -0.18,
        }
    }
}
