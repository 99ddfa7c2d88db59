//! Confidence: the logistic model of the static seed, §7.
//!
//! The reducer records, for one terminal, which features hold and the evidence for each
//! ([`Facts`]); this module turns them into `confidence = 1 / (1 + e^-(bias + scale · Σ w))`
//! with the weights of `entrytrace_config::StaticWeights`, and lists every applied feature
//! with its signed weight and evidence so a reader sees why. It decides nothing about what
//! holds; that is the reducer's job.

use entrytrace_config::StaticWeights;

use crate::model::Feature;

/// Which features hold for a terminal, each with the evidence that it does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// f1: the entrypoint's first program is already an ELF/PE executable.
    pub entry_is_executable: Option<String>,
    /// f2: the chain ends in a binary that is not a wrapper or shell.
    pub ends_in_binary: Option<String>,
    /// f3: a VM host (python, java, node ...) with an artefact found in the image.
    pub vm_artefact: Option<String>,
    /// f4: exposed ports match what the terminal is known to listen on.
    pub ports_align: Option<String>,
    /// f5: the `#!` interpreter agrees with the terminal's runtime family.
    pub shebang_matches: Option<String>,
    /// f6: the artefact is what it claims (a JAR is a zip, a script is text).
    pub artefact_validated: Option<String>,
    /// f8: a script with branches on unknown data (`$@`) was not resolved.
    pub unresolved_branches: Option<String>,
    /// f9: the target is missing or cannot be executed.
    pub target_not_executable: Option<String>,
    /// f10: the chain ends in a shell that does not exec anything known.
    pub shell_without_exec: Option<String>,
}

/// The confidence of a terminal with these facts, and the applied features.
pub fn score(facts: &Facts, w: &StaticWeights) -> (f64, Vec<Feature>) {
    let table: [(&str, f64, &Option<String>); 9] = [
        ("f1", w.f1_entry_is_executable, &facts.entry_is_executable),
        ("f2", w.f2_ends_in_binary, &facts.ends_in_binary),
        ("f3", w.f3_vm_artefact, &facts.vm_artefact),
        ("f4", w.f4_ports_align, &facts.ports_align),
        ("f5", w.f5_shebang_matches, &facts.shebang_matches),
        ("f6", w.f6_artefact_validated, &facts.artefact_validated),
        ("f8", w.f8_unresolved_branches, &facts.unresolved_branches),
        (
            "f9",
            w.f9_target_not_executable,
            &facts.target_not_executable,
        ),
        ("f10", w.f10_shell_without_exec, &facts.shell_without_exec),
    ];
    let features: Vec<Feature> = table
        .iter()
        .filter_map(|(id, weight, evidence)| {
            evidence.as_ref().map(|e| Feature {
                id: id.to_string(),
                contribution: *weight,
                evidence: e.clone(),
            })
        })
        .collect();
    let sum: f64 = features.iter().map(|f| f.contribution).sum();
    (logistic(w.bias + w.scale * sum), features)
}

/// `1 / (1 + e^-x)`, rounded to 3 decimals so results compare and diff cleanly.
pub fn logistic(x: f64) -> f64 {
    let v = 1.0 / (1.0 + (-x).exp());
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn calibration_matches_the_issue_targets() {
        let w = StaticWeights::default();
        let clean = Facts {
            entry_is_executable: s("tini is ELF"),
            ends_in_binary: s("app is ELF"),
            ..Facts::default()
        };
        let script = Facts {
            shell_without_exec: s("not followed"),
            ..Facts::default()
        };
        let tainted_script = Facts {
            unresolved_branches: s("uses $@"),
            ..script.clone()
        };
        let missing = Facts {
            target_not_executable: s("/app missing"),
            ..Facts::default()
        };
        let (c, f) = score(&clean, &w);
        assert!(c >= 0.85, "clean {c}");
        assert_eq!(
            f.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            ["f1", "f2"]
        );
        for (facts, max, name) in [
            (script, 0.4, "script"),
            (tainted_script, 0.4, "tainted"),
            (missing, 0.2, "missing"),
        ] {
            let (c, f) = score(&facts, &w);
            assert!(c <= max, "{name}: {c}");
            assert!(f.iter().all(|f| f.contribution < 0.0), "{name}: {f:?}");
        }
    }

    #[test]
    fn logistic_is_bounded_and_monotonic() {
        let xs = [-1e9, -5.0, -0.1, 0.0, 0.1, 5.0, 1e9];
        let ys: Vec<f64> = xs.iter().map(|x| logistic(*x)).collect();
        assert!(ys.windows(2).all(|p| p[0] <= p[1]), "{ys:?}");
        assert!(ys.iter().all(|y| (0.0..=1.0).contains(y)));
        assert_eq!(logistic(0.0), 0.5);
    }
}
