//! Joins a static result (what the image says will run) with a dynamic one (what was seen
//! running) into one `mode: merged` result.
//!
//! What was observed wins on facts (argv as exec'd, user, pid graph); the static side keeps
//! the explanation (the chain through scripts, with file:line). Agreement raises confidence
//! (noisy-or of the two, capped); a dynamic terminal the static side did not predict keeps
//! its place but loses confidence, and the static prediction becomes an alternate saying it
//! was not seen. Evidence and diagnostics of both sides are kept. This module decides no
//! candidates of its own: selection belongs to `reduce` and `dynamic`.

use crate::model::{Alternate, EntryTraceResult, Feature, Level, Mode, Terminal, TerminalKind};

/// Highest confidence a merged terminal may reach.
const MAX_CONFIDENCE: f64 = 0.99;
/// Factor applied to a dynamic terminal the static analysis did not predict.
const DISAGREEMENT_FACTOR: f64 = 0.8;

/// Merges `dynamic` into `static_result`. With no dynamic result the static one is returned
/// as is (its diagnostics should already say why capture was unavailable).
pub fn merge(
    static_result: EntryTraceResult,
    dynamic: Option<EntryTraceResult>,
) -> EntryTraceResult {
    let Some(dynamic) = dynamic else {
        return static_result;
    };
    let mut out = EntryTraceResult::new(Mode::Merged, static_result.target.clone());
    if out.target.container_id.is_none() {
        out.target.container_id = dynamic.target.container_id.clone();
    }
    out.chain = static_result.chain.clone();
    out.chain.extend(dynamic.chain.iter().cloned());
    out.exec_graph = dynamic.exec_graph.clone();
    out.diagnostics = static_result.diagnostics.clone();
    out.diagnostics.extend(dynamic.diagnostics.iter().cloned());
    for e in static_result.evidence.iter().chain(&dynamic.evidence) {
        if !out.evidence.contains(e) {
            out.evidence.push(e.clone());
        }
    }
    if dynamic.terminals.is_empty() {
        out.terminals = static_result.terminals.clone();
        out.alternates = static_result.alternates.clone();
        out.diagnose(
            Level::Info,
            "dynamic capture saw no steady-state process: the static answer stands unconfirmed",
        );
        return out;
    }
    let mut unmatched_static: Vec<&Terminal> = static_result.terminals.iter().collect();
    for d in &dynamic.terminals {
        let pos = unmatched_static.iter().position(|s| same_program(s, d));
        let merged = match pos {
            Some(i) => agree(unmatched_static.remove(i), d),
            None => disagree(d, static_result.terminals.first()),
        };
        out.terminals.push(merged);
    }
    out.terminals
        .sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    for s in unmatched_static {
        out.alternates.push(Alternate {
            argv: s.argv.clone(),
            confidence: s.confidence,
            why: format!(
                "predicted by static analysis (confidence {:.2}) but not seen running in the window",
                s.confidence
            ),
        });
    }
    for a in static_result.alternates.iter().chain(&dynamic.alternates) {
        if !out.alternates.iter().any(|x| x.argv == a.argv) {
            out.alternates.push(a.clone());
        }
    }
    out
}

/// Whether two terminals name the same program: the same resolved file, or the same
/// program name; a supervisor also matches any of its services.
fn same_program(s: &Terminal, d: &Terminal) -> bool {
    let name = |t: &Terminal| {
        t.path
            .as_deref()
            .or(t.argv.first().map(String::as_str))
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
    };
    let paths_equal = matches!((&s.path, &d.path), (Some(a), Some(b)) if a == b);
    paths_equal
        || (name(s).is_some() && name(s) == name(d))
        || d.services.iter().any(|svc| same_program(s, svc))
        || s.services.iter().any(|svc| same_program(svc, d))
}

fn agree(s: &Terminal, d: &Terminal) -> Terminal {
    let before = s.confidence.max(d.confidence);
    let joined = (1.0 - (1.0 - s.confidence) * (1.0 - d.confidence)).min(MAX_CONFIDENCE);
    let mut t = d.clone();
    if t.path.is_none() {
        t.path = s.path.clone();
    }
    if t.runtime.family.is_empty() || t.runtime.family == "unknown" {
        t.runtime = s.runtime.clone();
    } else {
        for e in &s.runtime.evidence {
            if !t.runtime.evidence.contains(e) {
                t.runtime.evidence.push(e.clone());
            }
        }
    }
    if t.kind == TerminalKind::Process && s.kind == TerminalKind::Supervisor {
        t.kind = TerminalKind::Supervisor;
        t.services = s.services.clone();
    }
    t.features = s.features.clone();
    for f in &d.features {
        // The static side's own features win; the observed side adds its d* and m* ones.
        if !t.features.iter().any(|x| x.id == f.id) {
            t.features.push(f.clone());
        }
    }
    let mut why = format!(
        "static analysis ({:.2}) and dynamic capture ({:.2}) agree on {}",
        s.confidence,
        d.confidence,
        t.path
            .as_deref()
            .unwrap_or_else(|| t.argv.first().map(String::as_str).unwrap_or("?"))
    );
    if s.user != d.user {
        why.push_str(&format!(
            "; user predicted {} but observed {}",
            s.user, d.user
        ));
    }
    t.features.push(Feature {
        id: "m1".into(),
        contribution: joined - before,
        evidence: why,
    });
    t.confidence = joined;
    t
}

fn disagree(d: &Terminal, predicted: Option<&Terminal>) -> Terminal {
    let mut t = d.clone();
    let lowered = d.confidence * DISAGREEMENT_FACTOR;
    let evidence = match predicted {
        Some(p) => format!("static analysis predicted {} instead", p.argv.join(" ")),
        None => "static analysis predicted no terminal".to_string(),
    };
    t.features.push(Feature {
        id: "m2".into(),
        contribution: lowered - d.confidence,
        evidence,
    });
    t.confidence = lowered;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Runtime, Target};

    fn term(argv: &[&str], path: &str, user: &str, confidence: f64) -> Terminal {
        Terminal {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            path: Some(path.into()),
            user: user.into(),
            workdir: "/".into(),
            kind: TerminalKind::Process,
            runtime: Runtime {
                family: "c".into(),
                evidence: vec![],
                artefact: None,
            },
            confidence,
            features: vec![],
            services: vec![],
        }
    }

    fn result(mode: Mode, terminals: Vec<Terminal>) -> EntryTraceResult {
        let mut r = EntryTraceResult::new(mode, Target::default());
        r.terminals = terminals;
        r
    }

    #[test]
    fn agreement_raises_confidence_and_keeps_the_observed_argv() {
        let s = result(
            Mode::Static,
            vec![term(&["httpd"], "/bin/busybox", "www-data", 0.7)],
        );
        let d = result(
            Mode::Dynamic,
            vec![term(
                &["busybox", "httpd", "-f"],
                "/bin/busybox",
                "www-data",
                0.8,
            )],
        );
        let m = merge(s, Some(d));
        assert_eq!(m.mode, Mode::Merged);
        let t = &m.terminals[0];
        assert_eq!(t.argv, vec!["busybox", "httpd", "-f"]);
        assert!((t.confidence - 0.94).abs() < 1e-9, "{}", t.confidence);
        assert!(t
            .features
            .iter()
            .any(|f| f.id == "m1" && f.contribution > 0.0));
        assert!(m.alternates.is_empty());
    }

    #[test]
    fn disagreement_lowers_confidence_and_keeps_the_prediction_as_alternate() {
        let s = result(
            Mode::Static,
            vec![term(&["nginx"], "/usr/sbin/nginx", "root", 0.9)],
        );
        let d = result(
            Mode::Dynamic,
            vec![term(
                &["redis-server"],
                "/usr/bin/redis-server",
                "redis",
                0.8,
            )],
        );
        let m = merge(s, Some(d));
        let t = &m.terminals[0];
        assert_eq!(t.argv, vec!["redis-server"]);
        assert!((t.confidence - 0.64).abs() < 1e-9);
        assert!(t
            .features
            .iter()
            .any(|f| f.id == "m2" && f.evidence.contains("nginx")));
        assert_eq!(m.alternates[0].argv, vec!["nginx"]);
        assert!(m.alternates[0].why.contains("not seen running"));
    }

    #[test]
    fn no_dynamic_result_returns_the_static_one_untouched() {
        let s = result(Mode::Static, vec![term(&["app"], "/app", "root", 0.5)]);
        assert_eq!(merge(s.clone(), None), s);
    }

    #[test]
    fn empty_dynamic_capture_keeps_static_terminals_and_says_so() {
        let s = result(Mode::Static, vec![term(&["app"], "/app", "root", 0.5)]);
        let m = merge(s, Some(result(Mode::Dynamic, vec![])));
        assert_eq!(m.mode, Mode::Merged);
        assert_eq!(m.terminals[0].argv, vec!["app"]);
        assert!(m
            .diagnostics
            .iter()
            .any(|d| d.message.contains("unconfirmed")));
    }

    #[test]
    fn a_static_service_matches_an_observed_supervisor() {
        let mut sup = term(&["supervisord"], "/usr/bin/supervisord", "root", 0.6);
        sup.kind = TerminalKind::Supervisor;
        sup.services = vec![term(&["nginx"], "/usr/sbin/nginx", "root", 0.6)];
        let s = result(Mode::Static, vec![sup]);
        let d = result(
            Mode::Dynamic,
            vec![term(
                &["nginx", "-g", "daemon off;"],
                "/usr/sbin/nginx",
                "root",
                0.7,
            )],
        );
        let m = merge(s, Some(d));
        assert_eq!(m.terminals[0].kind, TerminalKind::Supervisor);
        assert!(m.terminals[0].confidence > 0.7);
    }
}
