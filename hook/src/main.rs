//! The `entrytrace` binary: parse flags, install logging, run, map the error to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, not glibc's malloc: shellflow's interpreter makes many small short-lived
/// allocations (values, evidence, path states), and on the 1,000-line bench script
/// (`cargo bench -p shellflow --bench analyze`) mimalloc cuts an analysis by about a quarter
/// of its instructions. The benchmark uses the same allocator, so it measures this binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
