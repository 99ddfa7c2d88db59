//! The result model: `EntryTraceResult`, schema `entrytrace/v1`.
//!
//! This is the JSON contract of `shared/design.md` ("Result contract"). Field names are
//! snake_case and every field listed there is present in every result; fields may be added,
//! never renamed or removed. Static, dynamic and merged results share this one shape so that
//! consumers need not care how an answer was reached. This module holds data only: building a
//! result is the job of `reduce`, `dynamic` and `merge`; rendering it is `output::text`.

use serde::{Deserialize, Serialize};

/// The schema tag every result carries.
pub const SCHEMA: &str = "entrytrace/v1";

/// What a container really runs, with the chain and evidence that led there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryTraceResult {
    pub schema: String,
    pub mode: Mode,
    pub target: Target,
    /// Ranked, best first.
    pub terminals: Vec<Terminal>,
    pub alternates: Vec<Alternate>,
    pub chain: Vec<ChainStep>,
    pub evidence: Vec<String>,
    pub exec_graph: ExecGraph,
    pub diagnostics: Vec<Diagnostic>,
}

/// How the result was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Static,
    Dynamic,
    Merged,
}

/// What was analysed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub source: Option<String>,
    pub container_id: Option<String>,
    pub bundle: Option<String>,
}

/// One program the container ends up running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terminal {
    /// The words as exec'd.
    pub argv: Vec<String>,
    /// The resolved file inside the image, when it could be resolved.
    pub path: Option<String>,
    /// A user name where one is known, else the numeric uid (as a string).
    pub user: String,
    pub workdir: String,
    pub kind: TerminalKind,
    pub runtime: Runtime,
    /// In `[0, 1]`.
    pub confidence: f64,
    pub features: Vec<Feature>,
    /// For `kind: supervisor`, the services it runs, each a terminal of its own.
    pub services: Vec<Terminal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminalKind {
    Process,
    Supervisor,
    Service,
}

/// What the terminal is written in, and why we think so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runtime {
    /// `c`, `go`, `rust`, `java`, `dotnet`, `python`, `node`, `ruby`, `php`, `shell`, `unknown` ...
    pub family: String,
    pub evidence: Vec<String>,
    /// What the terminal really runs inside its host, when a detector found it: a JAR and
    /// its `Main-Class`, a Python module, a script, a DLL, a `package.json` script, a Go main
    /// package. Added to the v1 contract; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artefact: Option<String>,
}

/// One scored feature of the logistic model, with the evidence for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// `f1` ... as in the seed's table.
    pub id: String,
    /// The feature's weight as applied (signed).
    pub contribution: f64,
    pub evidence: String,
}

/// A candidate that lost, kept so a reader can see what else could run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternate {
    pub argv: Vec<String>,
    pub confidence: f64,
    pub why: String,
}

/// One step from the image's words to the terminal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainStep {
    pub step: StepKind,
    pub argv: Vec<String>,
    pub why: String,
    /// `file:line` where a script or config file said so.
    pub location: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Compose,
    Wrapper,
    Resolve,
    Shebang,
    Shellflow,
    Exec,
    Fork,
}

/// The observed process graph (dynamic mode); empty in static results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecGraph {
    pub nodes: Vec<ExecNode>,
    pub edges: Vec<ExecEdge>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecNode {
    pub host_pid: u32,
    pub ns_pid: u32,
    pub ppid: u32,
    pub exe: String,
    pub argv: Vec<String>,
    pub start_ns: u64,
    /// How it ended within the window, as a shell reports it (the exit code, or 128 + the
    /// signal); absent while it runs or when the source could not see it (`/proc` polling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Monotonic ns of that exit (the clock of `start_ns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_ns: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecEdge {
    pub parent_host_pid: u32,
    pub child_host_pid: u32,
    pub kind: EdgeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    Clone,
    Exec,
}

/// A soft problem: the analysis went on, but a reader should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub level: Level,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl EntryTraceResult {
    /// An empty result of the given mode, to be filled by a stage.
    pub fn new(mode: Mode, target: Target) -> Self {
        Self {
            schema: SCHEMA.to_string(),
            mode,
            target,
            terminals: Vec::new(),
            alternates: Vec::new(),
            chain: Vec::new(),
            evidence: Vec::new(),
            exec_graph: ExecGraph::default(),
            diagnostics: Vec::new(),
        }
    }

    /// Adds a diagnostic.
    pub fn diagnose(&mut self, level: Level, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            level,
            message: message.into(),
        });
    }
}

impl Diagnostic {
    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            level: Level::Warning,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_result_serialises_every_contract_field() {
        let r = EntryTraceResult::new(Mode::Static, Target::default());
        let v = serde_json::to_value(&r).expect("serialise");
        for field in [
            "schema",
            "mode",
            "target",
            "terminals",
            "alternates",
            "chain",
            "evidence",
            "exec_graph",
            "diagnostics",
        ] {
            assert!(v.get(field).is_some(), "missing {field}");
        }
        assert_eq!(v["schema"], "entrytrace/v1");
        assert_eq!(v["mode"], "static");
        assert!(v["exec_graph"]["nodes"].is_array());
    }

    #[test]
    fn result_round_trips_through_json() {
        let mut r = EntryTraceResult::new(Mode::Merged, Target::default());
        r.terminals.push(Terminal {
            argv: vec!["postgres".into()],
            path: Some("/usr/lib/postgresql/17/bin/postgres".into()),
            user: "postgres".into(),
            workdir: "/".into(),
            kind: TerminalKind::Process,
            runtime: Runtime {
                family: "c".into(),
                evidence: vec!["PT_INTERP /lib64/ld-linux-x86-64.so.2".into()],
                artefact: None,
            },
            confidence: 0.87,
            features: vec![Feature {
                id: "f2".into(),
                contribution: 0.22,
                evidence: "chain ends in non-wrapper ELF".into(),
            }],
            services: vec![],
        });
        r.chain.push(ChainStep {
            step: StepKind::Shellflow,
            argv: vec!["postgres".into()],
            why: "exec \"$@\"".into(),
            location: Some("/usr/local/bin/docker-entrypoint.sh:387".into()),
        });
        let s = serde_json::to_string(&r).expect("serialise");
        let back: EntryTraceResult = serde_json::from_str(&s).expect("parse");
        assert_eq!(back, r);
    }
}
