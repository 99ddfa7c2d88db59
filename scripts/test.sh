#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, formatting, clippy, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# One clean build: incremental caches only cost disk here.
export CARGO_INCREMENTAL=0

# The tests start a journald of their own when none runs; stop it again afterwards.
if ! pgrep -x systemd-journal >/dev/null 2>&1; then
  trap 'bash scripts/journald.sh stop' EXIT
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins
rm -f target/debian/entrytrace_*.deb
bash packaging/build-deb.sh
cargo test --workspace --no-fail-fast 2>&1
