#!/usr/bin/env bash
# The main job on the built-in example: start a real container under runc with the EntryTrace
# hook, then show what the hook found (the merged result and its journal entry).
# Idempotent: installs what is missing, replaces any previous demo container.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --release --quiet -p entrytrace
bin=$PWD/target/release/entrytrace
bash scripts/journald.sh start

bundle=/var/tmp/entrytrace-demo
id=entrytrace-demo
runc delete -f "$id" >/dev/null 2>&1 || true
bash scripts/make-demo-bundle.sh "$bundle" >/dev/null
# Register the hook for this container (what packaging/runc/config-hooks.json shows).
tmp=$(mktemp)
jq --arg bin "$bin" '.hooks.createRuntime = [{path: $bin, args: ["entrytrace", "hook"], timeout: 5}]' \
  "$bundle/config.json" > "$tmp" && mv "$tmp" "$bundle/config.json"

echo "== runc run -d $id   (entrypoint: tini -- /docker-entrypoint.sh httpd)"
(cd "$bundle" && runc run -d "$id" </dev/null >/dev/null)
echo "== the static result is in $bundle/entrytrace.json at once; waiting for the tracer's window"
for _ in $(seq 1 100); do
  jq -e '.mode == "merged"' "$bundle/entrytrace.json" >/dev/null 2>&1 && break
  sleep 0.1
done
"$bin" explain "$bundle/entrytrace.json"
echo
echo "== journalctl MESSAGE_ID=5f1c3a0e8d2b4c7f9a6e1d0b3c8f2a47 ENTRYTRACE_CONTAINER_ID=$id"
journalctl --no-pager -o verbose MESSAGE_ID=5f1c3a0e8d2b4c7f9a6e1d0b3c8f2a47 ENTRYTRACE_CONTAINER_ID="$id" -n 1 \
  | grep -E '^\s+(MESSAGE|ENTRYTRACE_[A-Z_]+)=' || echo "(no journal entry)"
runc delete -f "$id" >/dev/null 2>&1 || true
