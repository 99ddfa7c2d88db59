#!/usr/bin/env bash
# Builds the built-in example: an OCI runtime bundle whose entrypoint goes
#   tini -> /docker-entrypoint.sh (a shell script) -> gosu www-data -> busybox httpd (port 8080)
# from host binaries that are static (busybox-static, tini-static, gosu), so the rootfs needs no
# libraries. Usage: make-demo-bundle.sh DIR [ARGS...]   (ARGS replace the default "httpd").
set -euo pipefail
dir=${1:?usage: make-demo-bundle.sh DIR [ARGS...]}
shift
args=("$@")
((${#args[@]})) || args=(httpd)

rm -rf "$dir"
root="$dir/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/local/bin,etc,tmp,var/www,proc,sys,dev,run}
install -m 0755 /bin/busybox "$root/bin/busybox"
for applet in sh ls cat echo id sleep httpd env true false mkdir chown; do
  ln -sf busybox "$root/bin/$applet"
done
install -m 0755 /usr/bin/tini-static "$root/usr/bin/tini"
install -m 0755 /usr/sbin/gosu "$root/usr/local/bin/gosu"
cat > "$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > "$root/etc/group" <<'GR'
root:x:0:
www-data:x:33:
nogroup:x:65534:
GR
echo '<h1>entrytrace demo</h1>' > "$root/var/www/index.html"
cat > "$root/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -e
# A first argument that is a flag means "flags for httpd".
if [ "${1#-}" != "$1" ]; then
	set -- httpd "$@"
fi
if [ "$1" = 'httpd' ] && [ "$(id -u)" = '0' ]; then
	mkdir -p /var/www
	chown -R www-data /var/www
	shift
	exec gosu www-data busybox httpd -f -p 8080 -h /var/www "$@"
fi
exec "$@"
SH
chmod 0755 "$root/docker-entrypoint.sh"

json_args=$(printf '"%s",' /usr/bin/tini -- /docker-entrypoint.sh "${args[@]}")
cat > "$dir/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": [${json_args%,}],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_SETGID","CAP_SETUID","CAP_NET_BIND_SERVICE","CAP_KILL"],
      "effective": ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_SETGID","CAP_SETUID","CAP_NET_BIND_SERVICE","CAP_KILL"],
      "permitted": ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_SETGID","CAP_SETUID","CAP_NET_BIND_SERVICE","CAP_KILL"]
    },
    "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
    "noNewPrivileges": false
  },
  "root": { "path": "rootfs", "readonly": false },
  "hostname": "entrytrace-demo",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"] },
    { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","nodev"] }
  ],
  "linux": {
    "namespaces": [ {"type":"pid"}, {"type":"network"}, {"type":"ipc"}, {"type":"uts"}, {"type":"mount"} ],
    "maskedPaths": ["/proc/kcore","/proc/keys","/proc/timer_list","/sys/firmware"],
    "readonlyPaths": ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]
  }
}
JSON
echo "$dir"
