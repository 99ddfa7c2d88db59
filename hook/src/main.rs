//! The `entrytrace` binary: parse flags, install logging, run, map the error to an exit code.

use std::process::ExitCode;

use clap::Parser;

mod alloc;

/// mimalloc, through its unaligned fast path (see `alloc`), with shellflow's arena in front:
/// the allocations of a script analysis come from a bump arena used again by the next one
/// (see `shellflow::arena`).
#[global_allocator]
static ALLOCATOR: shellflow::arena::Arena<alloc::MiMalloc> =
    shellflow::arena::Arena::new(alloc::MiMalloc);

fn main() -> ExitCode {
    let cli = entrytrace::cli::Cli::parse();
    let to_journal = entrytrace::cli::logs_to_journal(&cli);
    entrytrace::cli::install_logging(cli.verbose, to_journal);
    match entrytrace::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Our error messages already carry their causes ("path: cause"); `{:#}` would
            // print each cause a second time.
            eprintln!("entrytrace: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
