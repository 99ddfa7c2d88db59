//! `entrytrace scan SOURCE`: the static analysis of an image or bundle at rest.

use std::path::PathBuf;

use clap::Args;

use super::{CliError, Format};

/// Resolve what an image or bundle runs, without running it.
///
/// SOURCE is written as skopeo and podman write it: docker-archive:PATH, oci:DIR[:TAG],
/// oci-archive:PATH[:TAG], bundle:DIR, docker://REF.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The image or bundle to analyse.
    pub source: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Write the result to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the image's ENTRYPOINT (and clear its CMD), as `docker run --entrypoint` does.
    #[arg(long, value_name = "WORD")]
    pub entrypoint: Option<String>,
    /// Add or override an environment variable, as `docker run -e` does.
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Run as USER (name, uid, or uid:gid) instead of the image's user.
    #[arg(long, short = 'u', value_name = "USER")]
    pub user: Option<String>,
    /// Platform to pick from a multi-platform index.
    #[arg(long, value_name = "OS/ARCH", default_value = "linux/amd64")]
    pub platform: String,
    /// Configuration file.
    #[arg(long, value_name = "FILE", default_value = entrytrace_config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Replace the image's CMD with these words, as `docker run IMAGE ARGS...` does.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

pub fn run(args: ScanArgs) -> Result<(), CliError> {
    Err(CliError::Usage(format!(
        "scan {}: not implemented yet",
        args.source
    )))
}
