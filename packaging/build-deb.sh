#!/usr/bin/env bash
# Builds target/debian/entrytrace_*.deb: the release binary, its man page and completions
# (generated from the CLI definition), the hooks.d file, the default config and the journal
# catalog, installed in their standard places. Needs cargo-deb (`cargo install cargo-deb`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --quiet
cargo build --release -p entrytrace --quiet
out=target/packaging
mkdir -p "$out"
bin=target/release/entrytrace
"$bin" __man > "$out/entrytrace.1"
"$bin" completions bash > "$out/entrytrace.bash"
"$bin" completions zsh > "$out/_entrytrace"
"$bin" completions fish > "$out/entrytrace.fish"
cargo deb -p entrytrace --no-build --quiet
ls target/debian/entrytrace_*.deb
