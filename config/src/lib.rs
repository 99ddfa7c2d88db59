//! EntryTrace's configuration: the schema of `/etc/entrytrace/config.toml`, every default,
//! and validation.
//!
//! Everything tunable lives here as data — read limits, the wrapper catalogue, the weights of
//! the scoring models — so the analysis crates hold logic only. A missing file means all
//! defaults; a present file overrides field by field (`#[serde(default)]` everywhere) and is
//! validated before use. This crate does no I/O beyond reading the one file it is given.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod dynamic;
pub mod hook;
pub mod limits;
pub mod scoring;
pub mod wrappers;

pub use dynamic::{DynamicConfig, SteadyStateWeights};
pub use hook::HookConfig;
pub use limits::{Limits, ScriptLimits};
pub use scoring::StaticWeights;
pub use wrappers::{WrapperKind, WrapperRule};

/// The default location of the config file.
pub const DEFAULT_PATH: &str = "/etc/entrytrace/config.toml";

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub limits: Limits,
    pub hook: HookConfig,
    pub scoring: StaticWeights,
    /// Extra wrapper rules, added to (and overriding by name) the built-in catalogue.
    pub wrappers: Vec<WrapperRule>,
    /// Drop the built-in wrapper catalogue and use only `wrappers`.
    pub replace_builtin_wrappers: bool,
    /// Dynamic capture: window, tracer sizes, steady-state weights.
    pub dynamic: DynamicConfig,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{path}: {field}: {reason}")]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
}

impl Config {
    /// Reads and validates the file at `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Self::parse(&text, path)
    }

    /// Parses and validates TOML text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        cfg.validate()
            .map_err(|(field, reason)| ConfigError::Invalid {
                path: path.to_path_buf(),
                field,
                reason,
            })?;
        Ok(cfg)
    }

    /// Checks ranges and consistency; returns the offending field and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.limits.validate()?;
        self.hook.validate()?;
        self.dynamic.validate()?;
        for (i, w) in self.wrappers.iter().enumerate() {
            w.validate()
                .map_err(|reason| (format!("wrappers[{i}]"), reason))?;
        }
        Ok(())
    }

    /// The wrapper catalogue in effect: built-ins (unless replaced) with the file's rules
    /// overriding those of the same name.
    pub fn wrapper_catalogue(&self) -> Vec<WrapperRule> {
        let mut out = if self.replace_builtin_wrappers {
            Vec::new()
        } else {
            wrappers::builtin()
        };
        for extra in &self.wrappers {
            out.retain(|w| !w.names.iter().any(|n| extra.names.contains(n)));
            out.push(extra.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_defaults() {
        let cfg = Config::load(Path::new("/nonexistent/entrytrace.toml")).expect("defaults");
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn unknown_fields_are_rejected_with_the_path() {
        let err = Config::parse("nonsense = 1", Path::new("/etc/x.toml")).expect_err("bad");
        assert!(err.to_string().starts_with("/etc/x.toml:"), "{err}");
    }

    #[test]
    fn partial_file_overrides_one_field() {
        let cfg = Config::parse("[limits]\nmax_read_bytes = 4096\n", Path::new("c.toml"))
            .expect("parses");
        assert_eq!(cfg.limits.max_read_bytes, 4096);
        assert_eq!(cfg.limits.max_depth, Limits::default().max_depth);
    }
}

#[cfg(test)]
mod packaged {
    use super::*;

    /// `packaging/config.toml` documents every default: it must parse to exactly them.
    #[test]
    fn the_packaged_config_file_equals_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/config.toml");
        let text = std::fs::read_to_string(&path).expect("packaging/config.toml");
        let cfg = Config::parse(&text, &path).expect("parses");
        assert_eq!(cfg, Config::default());
    }
}
