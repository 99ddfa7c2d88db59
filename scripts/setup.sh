#!/usr/bin/env bash
# Installs and prepares what EntryTrace's demo and tests need on a Debian 12 machine, as root.
# Idempotent: packages are installed only when missing; mounts are made only when absent.
set -euo pipefail

PACKAGES=(
  # runtimes and image tools
  runc crun busybox-static podman catatonit slirp4netns fuse-overlayfs uidmap
  containernetworking-plugins umoci skopeo
  # BPF build
  clang llvm libelf-dev zlib1g-dev pkg-config make gcc bpftool
  # wrappers and shells the tests run for real
  gosu tini dumb-init dash
  # probe tests compile a tiny static C program with musl-gcc
  musl-tools
  # the dynamic tests' server
  python3
  # the runtime-detector tests compile a tiny Main.java into a real jar
  openjdk-17-jdk-headless
  # journald, tools used by tests and benchmarks
  systemd hyperfine zstd gzip jq zip procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# crun refuses hybrid cgroups while cgroup2 holds a controller (here: hugetlb); mounting that
# controller as a v1 hierarchy moves it off cgroup2 (see shared/machine-notes.md).
if grep -q . /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
  mkdir -p /sys/fs/cgroup/hugetlb
  mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || echo "setup: could not mount hugetlb v1 (crun may refuse to start)" >&2
fi

# tracefs is where the kernel's tracepoints live; BPF needs it only for classic tracepoints.
if [ -d /sys/kernel/tracing ] && ! mountpoint -q /sys/kernel/tracing; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
