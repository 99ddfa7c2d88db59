//! `entrytrace completions SHELL` and the hidden `entrytrace __man`: shell completions and the
//! man page, generated from the same clap definitions the binary parses with, so they cannot
//! drift from the real flags. Packaging runs them (`packaging/build-deb.sh`).

use clap::{Args, CommandFactory};

use super::{Cli, CliError};

/// Print shell completions for SHELL (bash, zsh, fish, elvish, powershell).
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn completions(args: CompletionsArgs) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "entrytrace", &mut out);
    super::emit(&String::from_utf8_lossy(&out), None)
}

/// Prints the man page (roff) on stdout.
pub fn man() -> Result<(), CliError> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| CliError::Input(anyhow::anyhow!("man page: {e}")))?;
    for sub in Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
    {
        let name = sub.get_name().to_string();
        out.extend_from_slice(format!(".SH \"ENTRYTRACE {}\"\n", name.to_uppercase()).as_bytes());
        let mut sub_out = Vec::new();
        clap_mangen::Man::new(sub.clone())
            .render_options_section(&mut sub_out)
            .map_err(|e| CliError::Input(anyhow::anyhow!("man page: {e}")))?;
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            out.extend_from_slice(format!("{about}\n").as_bytes());
        }
        out.extend_from_slice(&sub_out);
    }
    super::emit(&String::from_utf8_lossy(&out), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn man_page_names_every_public_subcommand() {
        let mut out = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .expect("render");
        let text = String::from_utf8_lossy(&out);
        for sub in ["scan", "explain", "hook", "completions"] {
            assert!(text.contains(sub), "man page lacks {sub}");
        }
        assert!(
            !text.contains("__tracer"),
            "hidden command leaked into the man page"
        );
    }
}
