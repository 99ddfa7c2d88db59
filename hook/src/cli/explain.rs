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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mode, Target};

    #[test]
    fn explains_a_saved_result_and_names_the_file_when_it_is_not_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("entrytrace.json");
        let result = EntryTraceResult::new(Mode::Static, Target::default());
        std::fs::write(&good, serde_json::to_vec(&result).expect("json")).expect("write");
        run(ExplainArgs { file: good }).expect("renders");

        let bad = dir.path().join("other.json");
        std::fs::write(&bad, b"{\"hello\": 1}").expect("write");
        let err = run(ExplainArgs { file: bad.clone() }).expect_err("not a result");
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains(&*bad.to_string_lossy()), "{err}");
        let missing = dir.path().join("missing.json");
        let err = run(ExplainArgs { file: missing }).expect_err("missing");
        assert!(err.to_string().contains("missing.json"), "{err}");
    }
}
