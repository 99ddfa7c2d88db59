//! The command line: clap structs (one file per subcommand) and dispatch.
//!
//! Exit status (design.md, "Command-line contract"): 0 when a result was produced, 1 when the
//! input could not be read, 2 for usage errors (clap's own exit code for bad flags).

use clap::{Parser, Subcommand};

pub mod explain;
pub mod generate;
pub mod hook;
pub mod scan;
pub mod trace;

/// Tells what a container really runs: the program left once init shims, privilege
/// droppers, shells and entrypoint scripts have done their work.
#[derive(Debug, Parser)]
#[command(name = "entrytrace", version, about, long_about = None)]
pub struct Cli {
    /// More log output on stderr (-v: debug, -vv: trace). Results go to stdout only.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Scan(scan::ScanArgs),
    Trace(trace::TraceArgs),
    Explain(explain::ExplainArgs),
    Hook(hook::HookArgs),
    Completions(generate::CompletionsArgs),
    #[command(name = "__man", hide = true)]
    Man,
    #[command(name = "__tracer", hide = true)]
    Tracer(hook::TracerCmdArgs),
    #[command(name = "__btf-cache", hide = true)]
    BtfCache(hook::BtfCacheArgs),
}

/// Output formats shared by the subcommands that print a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Text,
}

/// A CLI failure with its exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The input could not be read (exit 1).
    #[error(transparent)]
    Input(anyhow::Error),
    /// The words given do not make sense (exit 2).
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Input(_) => 1,
            CliError::Usage(_) => 2,
        }
    }
}

/// Logs go to journald when its socket exists and the command is the hook or its tracer
/// (whose stderr nobody reads), else to stderr.
pub fn install_logging(verbose: u8, to_journal: bool) {
    if to_journal && std::path::Path::new(crate::output::journal::JOURNAL_SOCKET).exists() {
        use tracing_subscriber::prelude::*;
        if let Ok(layer) = tracing_journald::layer() {
            let layer = layer.with_syslog_identifier("entrytrace".into());
            if tracing_subscriber::registry()
                .with(filter_for(verbose))
                .with(layer)
                .try_init()
                .is_ok()
            {
                return;
            }
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter_for(verbose))
        .with_writer(std::io::stderr)
        .try_init();
}

fn filter_for(verbose: u8) -> tracing_subscriber::EnvFilter {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    tracing_subscriber::EnvFilter::try_from_env("ENTRYTRACE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level))
}

/// Whether this command logs to the journal rather than stderr.
pub fn logs_to_journal(cli: &Cli) -> bool {
    matches!(cli.command, Command::Hook(_) | Command::Tracer(_))
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Hook(args) => hook::run(args),
        Command::Completions(args) => generate::completions(args),
        Command::Man => generate::man(),
        Command::Tracer(args) => hook::run_tracer(args),
        Command::BtfCache(args) => hook::run_btf_cache(args),
        Command::Trace(args) => trace::run(args),
    }
}

/// Writes `text` to `--output FILE` or stdout.
pub(crate) fn emit(text: &str, output: Option<&std::path::Path>) -> Result<(), CliError> {
    use std::io::Write;
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| CliError::Input(anyhow::anyhow!("{}: cannot write: {e}", path.display()))),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| CliError::Input(anyhow::anyhow!("stdout: {e}")))
        }
    }
}
