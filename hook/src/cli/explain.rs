//! `entrytrace explain FILE`: render a saved result as a readable tree.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::model::EntryTraceResult;

/// Render an entrytrace.json result as a readable tree: terminals, chain with locations,
/// features with their contributions, diagnostics.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A result file written by `scan`, `trace` or the hook (`-` for stdin).
    pub file: PathBuf,
}

pub fn run(args: ExplainArgs) -> Result<(), CliError> {
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::Input(anyhow::anyhow!("stdin: {e}")))?
    } else {
        std::fs::read_to_string(&args.file)
            .map_err(|e| CliError::Input(anyhow::anyhow!("{}: {e}", args.file.display())))?
    };
    let result: EntryTraceResult = serde_json::from_str(&text).map_err(|e| {
        CliError::Input(anyhow::anyhow!(
            "{}: not an entrytrace result: {e}",
            args.file.display()
        ))
    })?;
    super::emit(&crate::output::text::render(&result), None)
}
