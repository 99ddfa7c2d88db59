//! `entrytrace hook`: the OCI hook entry point, the hidden `__tracer` it starts, and the
//! hidden `__btf-cache` the package runs at install.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::CliError;

/// Run as an OCI createRuntime hook: read the container state on stdin, write
/// <bundle>/entrytrace.json and /run/entrytrace/<id>.json, start the tracer, exit 0.
///
/// Register it in config.json's hooks.createRuntime (runc, crun) or in a hooks.d file
/// (Podman, gated on the annotation io.entrytrace.enabled=true). Per container:
/// io.entrytrace.window=2s, io.entrytrace.dynamic=false, io.entrytrace.enabled=false.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// Configuration file (missing = defaults).
    #[arg(long, value_name = "FILE", env = "ENTRYTRACE_CONFIG", default_value = entrytrace_config::DEFAULT_PATH)]
    pub config: PathBuf,
}

/// Internal: the detached tracer the hook starts. Not for direct use.
#[derive(Debug, Args)]
pub struct TracerCmdArgs {
    #[arg(long)]
    pub id: String,
    #[arg(long)]
    pub pid: u32,
    #[arg(long)]
    pub bundle: PathBuf,
    #[arg(long)]
    pub root: Option<PathBuf>,
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub window_ms: Option<u64>,
}

/// Internal: fills the minimised-BTF cache for the running kernel now (the package's postinst
/// runs it, so the first traced container already loads fast). Prints the file.
#[derive(Debug, Args)]
pub struct BtfCacheArgs {
    /// Configuration file (missing = defaults); its `dynamic.btf_cache_dir` is filled.
    #[arg(long, value_name = "FILE", env = "ENTRYTRACE_CONFIG", default_value = entrytrace_config::DEFAULT_PATH)]
    pub config: PathBuf,
}

pub fn run(args: HookArgs) -> Result<(), CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Input(anyhow::anyhow!("/proc/self/exe: {e}")))?;
    let outcome = crate::hook::run(&mut std::io::stdin().lock(), &args.config, &exe);
    // The runtime shows a hook's stderr in its own log; the journal has the same lines.
    for p in &outcome.problems {
        eprintln!("entrytrace hook: {p}");
    }
    if outcome.exit_code != 0 {
        return Err(CliError::Input(anyhow::anyhow!(
            "hook failed (fail_closed is set): {}",
            outcome.problems.join("; ")
        )));
    }
    Ok(())
}

pub fn run_btf_cache(args: BtfCacheArgs) -> Result<(), CliError> {
    let cfg = entrytrace_config::Config::load(&args.config)
        .map_err(|e| CliError::Input(anyhow::anyhow!(e)))?;
    match crate::dynamic::capture::warm_btf_cache(&cfg.dynamic) {
        None => Err(CliError::Usage(format!(
            "{}: dynamic.btf_cache_dir is empty: the cache is turned off",
            args.config.display()
        ))),
        Some(Err(e)) => Err(CliError::Input(anyhow::anyhow!(e))),
        Some(Ok(path)) => super::emit(&format!("{}\n", path.display()), None),
    }
}

pub fn run_tracer(args: TracerCmdArgs) -> Result<(), CliError> {
    let targs = crate::hook::tracer::TracerArgs {
        id: args.id,
        pid: args.pid,
        bundle: args.bundle,
        root: args.root,
        config: args.config,
        window: args.window_ms.map(Duration::from_millis),
    };
    crate::hook::tracer::run(targs, crate::hook::capture::attach);
    Ok(())
}
