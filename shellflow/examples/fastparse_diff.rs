//! Holds the fast parse path to brush-parser over files and directories given on the command
//! line (real entrypoints, the fuzz corpus): for each script, whether the fast path took it,
//! and, when it did, that brush-parser accepts it too and builds the same program.
//!
//! `cargo run --release -p shellflow --example fastparse_diff -- [--fuzz] PATH…`; with
//! `--fuzz` each file is a fuzz input (the script is the text before the first NUL, as
//! `shellflow::fuzzing` reads it). Prints the declined files with `-v`. Exits 1 on any
//! mismatch.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use shellflow::parse::{parse_brush, parse_fast};

fn main() {
    let mut fuzz = false;
    let mut verbose = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--fuzz" => fuzz = true,
            "-v" => verbose = true,
            _ => collect(Path::new(&arg), &mut files),
        }
    }
    files.sort();
    let (mut taken, mut equal, mut mismatched, mut brush_ok) = (0, 0, 0, 0);
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let script = if fuzz {
            text.split('\0').next().unwrap_or("").to_string()
        } else {
            text.into_owned()
        };
        let brush = brush_with_timeout(&script);
        if brush.as_ref().is_some_and(Result::is_ok) {
            brush_ok += 1;
        }
        let Some(fast) = parse_fast(&script) else {
            if verbose && brush.as_ref().is_some_and(Result::is_ok) {
                println!("declined: {}", f.display());
            }
            continue;
        };
        taken += 1;
        match brush {
            Some(Ok(b)) if format!("{b:?}") == format!("{fast:?}") => equal += 1,
            other => {
                mismatched += 1;
                println!(
                    "MISMATCH {}: brush {:?}",
                    f.display(),
                    other.map(|r| r.is_ok())
                );
            }
        }
    }
    println!(
        "{} scripts, brush accepts {brush_ok}, fast path takes {taken}, equal {equal}, \
         mismatched {mismatched}",
        files.len()
    );
    if mismatched > 0 {
        std::process::exit(1);
    }
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let Ok(entries) = std::fs::read_dir(p) else {
            return;
        };
        for e in entries.flatten() {
            collect(&e.path(), out);
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

/// brush-parser's result, or `None` if it takes over five seconds (its PEG backtracks
/// exponentially on some unparsable text; the thread is left behind).
fn brush_with_timeout(
    script: &str,
) -> Option<Result<shellflow::parse::ast::Program, shellflow::parse::ParseError>> {
    let (tx, rx) = mpsc::channel();
    let owned = script.to_string();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let _ = tx.send(parse_brush("<diff>", &owned));
        })
        .ok()?;
    rx.recv_timeout(Duration::from_secs(5)).ok()
}
