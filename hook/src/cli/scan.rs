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
    /// Add a capability (NET_ADMIN, CAP_SYS_NICE, or ALL) to the bounding set, as `docker
    /// run --cap-add` does. Scripts that test capabilities (`setpriv -d | grep`) follow
    /// it. Without capability flags an image is assumed to get Docker's default set, which
    /// the result lists as an assumption; a bundle's own set is used as it is.
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability (or ALL) from the bounding set, as `docker run --cap-drop` does.
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
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
    for kv in &args.env {
        if !kv.contains('=') || kv.starts_with('=') {
            return Err(CliError::Usage(format!("--env {kv:?}: expected KEY=VALUE")));
        }
    }
    let overrides = crate::reduce::Overrides {
        entrypoint: args.entrypoint.clone(),
        env: args.env.clone(),
        user: args.user.clone(),
        args: args.args.clone(),
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
    };
    // Capability names are checked before the source is opened.
    crate::reduce::capabilities(None, &overrides).map_err(CliError::Usage)?;
    let cfg = entrytrace_config::Config::load(&args.config)
        .map_err(|e| CliError::Input(anyhow::anyhow!(e)))?;
    let opts = crate::image::OpenOptions {
        platform: args.platform.clone(),
        limits: cfg.limits.clone(),
    };
    let loaded = crate::image::open(&args.source, &opts).map_err(|e| match e {
        crate::image::ImageError::UnknownSource { .. }
        | crate::image::ImageError::BadPlatform { .. } => CliError::Usage(e.to_string()),
        other => CliError::Input(anyhow::anyhow!(other)),
    })?;
    let target = crate::model::Target {
        source: Some(loaded.source.clone()),
        container_id: None,
        bundle: args.source.strip_prefix("bundle:").map(str::to_string),
    };
    let mut result = crate::reduce::analyze(&loaded.spec, &*loaded.vfs, &overrides, &cfg, target);
    let mut diags = loaded.diagnostics;
    diags.append(&mut result.diagnostics);
    result.diagnostics = diags;
    let text = match args.format {
        Format::Json => {
            let mut j = serde_json::to_string_pretty(&result)
                .map_err(|e| CliError::Input(anyhow::anyhow!("result: {e}")))?;
            j.push('\n');
            j
        }
        Format::Text => crate::output::text::render(&result),
    };
    super::emit(&text, args.output.as_deref())
}
