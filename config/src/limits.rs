//! Bounds on every read and every loop of the static analysis. The hook reads a filesystem an
//! untrusted image author wrote: nothing may be read or followed without a cap.

use serde::{Deserialize, Serialize};

/// Caps on reads and on reduction depth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest file read whole (scripts, configs, manifests), in bytes.
    pub max_read_bytes: u64,
    /// Largest prefix read of a binary for probing (ELF/PE headers, notes), in bytes.
    pub max_probe_bytes: u64,
    /// Largest image config / manifest / index blob, in bytes.
    pub max_metadata_bytes: u64,
    /// Most reduction steps (wrapper collapses, script hand-offs) from compose to terminal.
    pub max_depth: u32,
    /// Most tar entries indexed over all layers.
    pub max_entries: u64,
    /// Most services read from one supervisor's configuration (supervisord programs, s6 and
    /// runit service directories, pm2 apps, Procfile lines); the rest are dropped with a
    /// diagnostic.
    pub max_services: u32,
    /// Deepest nesting of configuration includes (supervisord `[include]`, s6-rc bundles
    /// inside bundles); deeper ones, and cycles, are not followed.
    pub max_include_depth: u32,
    /// Bounds on following one shell script (`[limits.shellflow]`).
    pub shellflow: ScriptLimits,
}

/// Bounds on the abstract interpretation of one shell script (shellflow). Hitting one is a
/// diagnostic in the result and lowers the confidence; it never stops the scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptLimits {
    /// Most paths through the script followed at once; further forks are dropped.
    pub max_paths: u32,
    /// Forking iterations of one loop followed before it is summarised (iterations whose
    /// outcome is known do not count).
    pub max_unroll: u32,
    /// Deepest nesting of `source`, `eval` and re-execution.
    pub max_source_depth: u32,
    /// Deepest nesting of function calls.
    pub max_call_depth: u32,
    /// Most commands evaluated over all paths.
    pub max_steps: u32,
    /// Longest one parse may take, in milliseconds (a hostile script can make the parser
    /// backtrack for years).
    pub max_parse_ms: u32,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self {
            max_paths: 64,
            max_unroll: 8,
            max_source_depth: 8,
            max_call_depth: 32,
            max_steps: 50_000,
            max_parse_ms: 1000,
        }
    }
}

impl ScriptLimits {
    /// Checks ranges; returns the offending field (`limits.shellflow.*`) and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let ranges: [(u32, std::ops::RangeInclusive<u32>, &str); 6] = [
            (self.max_paths, 1..=4096, "max_paths"),
            (self.max_unroll, 1..=1024, "max_unroll"),
            (self.max_source_depth, 1..=64, "max_source_depth"),
            (self.max_call_depth, 1..=1024, "max_call_depth"),
            (self.max_steps, 100..=10_000_000, "max_steps"),
            (self.max_parse_ms, 10..=60_000, "max_parse_ms"),
        ];
        for (value, range, field) in ranges {
            if !range.contains(&value) {
                return Err((
                    format!("limits.shellflow.{field}"),
                    format!("must be {} to {}", range.start(), range.end()),
                ));
            }
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_read_bytes: 4 << 20,
            max_probe_bytes: 32 << 20,
            max_metadata_bytes: 4 << 20,
            max_depth: 16,
            max_entries: 2_000_000,
            max_services: 64,
            max_include_depth: 8,
            shellflow: ScriptLimits::default(),
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<(), (String, String)> {
        let check = |ok: bool, field: &str, why: &str| {
            if ok {
                Ok(())
            } else {
                Err((format!("limits.{field}"), why.to_string()))
            }
        };
        check(
            self.max_read_bytes >= 1024,
            "max_read_bytes",
            "must be at least 1024",
        )?;
        check(
            self.max_probe_bytes >= 4096,
            "max_probe_bytes",
            "must be at least 4096",
        )?;
        check(
            self.max_metadata_bytes >= 4096,
            "max_metadata_bytes",
            "must be at least 4096",
        )?;
        check(
            (1..=256).contains(&self.max_depth),
            "max_depth",
            "must be 1 to 256",
        )?;
        check(self.max_entries >= 1, "max_entries", "must be at least 1")?;
        check(
            (1..=4096).contains(&self.max_services),
            "max_services",
            "must be 1 to 4096",
        )?;
        check(
            (1..=64).contains(&self.max_include_depth),
            "max_include_depth",
            "must be 1 to 64",
        )?;
        self.shellflow.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(shellflow: ScriptLimits) -> Limits {
        Limits {
            shellflow,
            ..Limits::default()
        }
    }

    #[test]
    fn out_of_range_supervisor_and_script_caps_are_rejected_by_name() {
        #[rustfmt::skip]
        let cases: &[(Limits, Option<&str>)] = &[
            (Limits::default(), None),
            (Limits { max_services: 0, ..Limits::default() }, Some("limits.max_services")),
            (Limits { max_services: 5000, ..Limits::default() }, Some("limits.max_services")),
            (Limits { max_include_depth: 0, ..Limits::default() }, Some("limits.max_include_depth")),
            (Limits { max_include_depth: 65, ..Limits::default() }, Some("limits.max_include_depth")),
            (Limits { max_services: 1, max_include_depth: 1, ..Limits::default() }, None),
            (script(ScriptLimits { max_paths: 0, ..ScriptLimits::default() }), Some("limits.shellflow.max_paths")),
            (script(ScriptLimits { max_steps: 99, ..ScriptLimits::default() }), Some("limits.shellflow.max_steps")),
            (script(ScriptLimits { max_parse_ms: 60_001, ..ScriptLimits::default() }), Some("limits.shellflow.max_parse_ms")),
            (script(ScriptLimits { max_unroll: 1, max_source_depth: 64, ..ScriptLimits::default() }), None),
        ];
        for (l, want) in cases {
            let got = l.validate().err().map(|(field, _)| field);
            assert_eq!(got.as_deref(), *want, "{l:?}");
        }
    }
}
