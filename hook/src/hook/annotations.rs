//! Per-container settings from OCI annotations (`io.entrytrace.*`), over the config file.
//!
//! `io.entrytrace.enabled=false` turns the hook off for one container (Podman's hooks.d
//! already runs it only when the annotation is `true`; a runc/crun config snippet runs it for
//! every container), `io.entrytrace.dynamic=false` skips the tracer, and
//! `io.entrytrace.window=2s` sets the observation window. A bad value is ignored with a
//! problem recorded, never fatal.

use std::collections::BTreeMap;
use std::time::Duration;

use entrytrace_config::Config;

pub const ENABLED: &str = "io.entrytrace.enabled";
pub const DYNAMIC: &str = "io.entrytrace.dynamic";
pub const WINDOW: &str = "io.entrytrace.window";

/// Shortest and longest window an annotation may ask for.
pub const WINDOW_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(30));

/// The settings in force for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    pub dynamic: bool,
    /// The window asked for by annotation; `None` = the config's.
    pub window: Option<Duration>,
    /// Annotations that were ignored, and why.
    pub problems: Vec<String>,
}

impl Settings {
    pub fn from_annotations(a: &BTreeMap<String, String>, _cfg: &Config) -> Self {
        let mut s = Settings {
            enabled: true,
            dynamic: true,
            window: None,
            problems: Vec::new(),
        };
        if let Some(v) = a.get(ENABLED) {
            match parse_bool(v) {
                Some(b) => s.enabled = b,
                None => s
                    .problems
                    .push(format!("{ENABLED}={v:?}: not true or false, ignored")),
            }
        }
        if let Some(v) = a.get(DYNAMIC) {
            match parse_bool(v) {
                Some(b) => s.dynamic = b,
                None => s
                    .problems
                    .push(format!("{DYNAMIC}={v:?}: not true or false, ignored")),
            }
        }
        if let Some(v) = a.get(WINDOW) {
            match humantime::parse_duration(v.trim()) {
                Ok(d) if d >= WINDOW_RANGE.0 && d <= WINDOW_RANGE.1 => s.window = Some(d),
                Ok(_) => s
                    .problems
                    .push(format!("{WINDOW}={v:?}: outside 100ms..30s, ignored")),
                Err(e) => s.problems.push(format!("{WINDOW}={v:?}: {e}, ignored")),
            }
        }
        s
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let a = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_annotations(&a, &Config::default())
    }

    #[test]
    fn annotations_override_defaults() {
        let s = settings(&[]);
        assert!(s.enabled && s.dynamic && s.window.is_none());
        assert!(!settings(&[(ENABLED, "false")]).enabled);
        assert!(!settings(&[(DYNAMIC, "off")]).dynamic);
        assert_eq!(
            settings(&[(WINDOW, "2s")]).window,
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            settings(&[(WINDOW, "1500ms")]).window,
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn bad_values_are_ignored_with_a_reason() {
        for (k, v) in [
            (WINDOW, "forever"),
            (WINDOW, "5min"),
            (WINDOW, "1ms"),
            (ENABLED, "maybe"),
        ] {
            let s = settings(&[(k, v)]);
            assert!(s.enabled && s.window.is_none(), "{k}={v}");
            assert_eq!(s.problems.len(), 1, "{k}={v}");
            assert!(s.problems[0].contains(k));
        }
    }
}
