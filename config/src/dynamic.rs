//! Settings of dynamic capture (`[dynamic]` in the config file): the observation window, the
//! tracer's ring-buffer and argv sizes, how many candidates to keep, and the weights of the
//! steady-state model that ranks the processes seen (dynamic seed, §2.3).
//!
//! The model is logistic like the static one: each feature adds its weight (times its value
//! for the graded ones) to the logit. Data only; `entrytrace::dynamic::select` applies it.

use serde::{Deserialize, Serialize};

/// `[dynamic]`: capture settings and steady-state weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamicConfig {
    /// How long to watch, in milliseconds (the seed's 1–3 s).
    pub window_ms: u64,
    /// Candidates kept, best first.
    pub top_k: usize,
    /// Ring-buffer size in bytes (rounded up to a power of two).
    pub ring_bytes: u32,
    /// Most argv bytes kept per exec (at most 131072).
    pub argv_max: u32,
    /// How often the ring buffer is drained, in milliseconds.
    pub poll_ms: u64,
    /// How often `/proc` is walked when BPF cannot be used, in milliseconds.
    pub proc_poll_ms: u64,
    /// Directory of the minimised BTF kept per kernel (see `entrytrace_bpf::btfcache`); the
    /// tracer loads about three times faster with it. Empty: no cache.
    pub btf_cache_dir: String,
    pub weights: SteadyStateWeights,
}

/// Weights of the steady-state features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SteadyStateWeights {
    pub bias: f64,
    /// Still running at the end of the window.
    pub alive_at_end: f64,
    /// Per second of lifetime of the final image, up to `lifetime_cap_s`.
    pub lifetime_per_s: f64,
    pub lifetime_cap_s: f64,
    /// No exec below it after it started: it is not handing work on.
    pub no_downstream_exec: f64,
    /// Owns a listening socket.
    pub listening: f64,
    /// Its image is in the wrapper catalogue (tini, gosu, sh ...).
    pub wrapper: f64,
    /// Per live child, up to `fan_out_cap`.
    pub fan_out_per_child: f64,
    pub fan_out_cap: f64,
    /// Exited within the window.
    pub exited: f64,
}

impl Default for DynamicConfig {
    fn default() -> Self {
        Self {
            window_ms: 3000,
            top_k: 3,
            ring_bytes: 1 << 20,
            argv_max: 64 * 1024,
            poll_ms: 10,
            proc_poll_ms: 5,
            btf_cache_dir: "/var/cache/entrytrace/btf".into(),
            weights: SteadyStateWeights::default(),
        }
    }
}

impl Default for SteadyStateWeights {
    fn default() -> Self {
        Self {
            bias: -1.0,
            alive_at_end: 1.5,
            lifetime_per_s: 0.4,
            lifetime_cap_s: 3.0,
            no_downstream_exec: 0.8,
            listening: 2.0,
            wrapper: -2.5,
            fan_out_per_child: 0.2,
            fan_out_cap: 5.0,
            exited: -2.0,
        }
    }
}

impl DynamicConfig {
    /// Checks ranges; returns the offending field and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let check = |ok: bool, field: &str, why: &str| {
            if ok {
                Ok(())
            } else {
                Err((format!("dynamic.{field}"), why.to_string()))
            }
        };
        check(
            (100..=600_000).contains(&self.window_ms),
            "window_ms",
            "must be 100 to 600000",
        )?;
        check((1..=64).contains(&self.top_k), "top_k", "must be 1 to 64")?;
        check(
            (4096..=1 << 30).contains(&self.ring_bytes),
            "ring_bytes",
            "must be 4096 to 1073741824",
        )?;
        check(
            (256..=131_072).contains(&self.argv_max),
            "argv_max",
            "must be 256 to 131072",
        )?;
        check(
            (1..=1000).contains(&self.poll_ms),
            "poll_ms",
            "must be 1 to 1000",
        )?;
        check(
            (1..=1000).contains(&self.proc_poll_ms),
            "proc_poll_ms",
            "must be 1 to 1000",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_keep_three_candidates() {
        let d = DynamicConfig::default();
        assert_eq!(d.validate(), Ok(()));
        assert_eq!(d.top_k, 3);
        assert!(d.ring_bytes >= 256 * 1024);
        assert!(d.argv_max >= 32 * 1024);
    }

    #[test]
    fn out_of_range_settings_name_their_field() {
        type Spoil = fn(&mut DynamicConfig);
        let rows: Vec<(Spoil, &str)> = vec![
            (|d| d.window_ms = 10, "dynamic.window_ms"),
            (|d| d.top_k = 0, "dynamic.top_k"),
            (|d| d.ring_bytes = 100, "dynamic.ring_bytes"),
            (|d| d.argv_max = 1 << 20, "dynamic.argv_max"),
            (|d| d.poll_ms = 0, "dynamic.poll_ms"),
        ];
        for (spoil, field) in rows {
            let mut d = DynamicConfig::default();
            spoil(&mut d);
            assert_eq!(d.validate().map_err(|(f, _)| f), Err(field.to_string()));
        }
    }
}
