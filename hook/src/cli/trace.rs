//! `entrytrace trace (--pid PID | --cgroup PATH)`: watch a running process tree for a window
//! and print what it really runs (`mode: dynamic`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{CliError, Format};
use crate::dynamic::{SourceChoice, TraceTarget};

/// Watch a running container (by a process or its cgroup v2 directory) and print its
/// steady-state processes.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["pid", "cgroup"])))]
pub struct TraceArgs {
    /// Host pid of the container's init (its cgroup2 directory is used when it has one).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// A cgroup v2 directory (e.g. /sys/fs/cgroup/unified/<id>); sub-cgroups included.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
    /// How long to watch: `3s`, `1500ms`, `2` (seconds). Defaults to the config's window.
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Event source: BPF tracepoints, /proc polling, or BPF with /proc as fallback.
    #[arg(long, value_enum, default_value = "auto")]
    pub source: Source,
    /// Write the result to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Configuration file.
    #[arg(long, value_name = "FILE", default_value = entrytrace_config::DEFAULT_PATH)]
    pub config: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    Bpf,
    Proc,
    Auto,
}

pub fn run(args: TraceArgs) -> Result<(), CliError> {
    let config = entrytrace_config::Config::load(&args.config)
        .map_err(|e| CliError::Input(anyhow::anyhow!(e)))?;
    let window = match &args.window {
        Some(w) => parse_duration(w).ok_or_else(|| {
            CliError::Usage(format!(
                "--window {w}: expected a duration like 3s or 500ms"
            ))
        })?,
        None => Duration::from_millis(config.dynamic.window_ms),
    };
    let target = match (args.pid, &args.cgroup) {
        (Some(pid), _) => {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return Err(CliError::Input(anyhow::anyhow!(
                    "/proc/{pid}: no such process"
                )));
            }
            TraceTarget::Pid(pid)
        }
        (None, Some(dir)) => {
            if !dir.join("cgroup.procs").exists() {
                return Err(CliError::Input(anyhow::anyhow!(
                    "{}: not a cgroup v2 directory (no cgroup.procs)",
                    dir.display()
                )));
            }
            TraceTarget::Cgroup(dir.clone())
        }
        (None, None) => return Err(CliError::Usage("give --pid or --cgroup".into())),
    };
    let source = match args.source {
        Source::Bpf => SourceChoice::Bpf,
        Source::Proc => SourceChoice::Proc,
        Source::Auto => SourceChoice::Auto,
    };
    let classify = crate::dynamic::classify::by_reducer(None, &config);
    let result = crate::dynamic::trace(&target, window, source, &config, &classify);
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&result)
            .map(|s| s + "\n")
            .map_err(|e| CliError::Input(anyhow::anyhow!("serialising the result: {e}")))?,
        Format::Text => crate::output::text::render(&result),
    };
    super::emit(&text, args.output.as_deref())?;
    if source != SourceChoice::Proc {
        crate::dynamic::capture::log_btf_warmup(&config.dynamic);
    }
    Ok(())
}

/// `3s`, `1500ms`, `2.5s`, `2` (seconds).
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let secs = num.trim().parse::<f64>().ok()? * scale;
    (secs.is_finite() && secs > 0.0 && secs <= 3600.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_the_usual_spellings() {
        let rows = [
            ("3s", Some(3000)),
            ("1500ms", Some(1500)),
            ("2", Some(2000)),
            ("0.5s", Some(500)),
            ("1m", Some(60_000)),
            ("0s", None),
            ("-1s", None),
            ("soon", None),
        ];
        for (text, want) in rows {
            let got = parse_duration(text).map(|d| d.as_millis() as u64);
            assert_eq!(got, want, "{text}");
        }
    }
}
