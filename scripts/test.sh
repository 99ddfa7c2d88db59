#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, formatting, clippy, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
rm -f target/debian/entrytrace_*.deb
bash packaging/build-deb.sh
cargo test --workspace --no-fail-fast 2>&1
