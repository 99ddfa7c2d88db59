#!/usr/bin/env bash
# Starts (or stops) a real systemd-journald for the demo and the tests, on machines where PID 1
# is not systemd. Volatile storage; idempotent. Usage: journald.sh start|stop
set -euo pipefail
sock=/run/systemd/journal/socket
case "${1:-start}" in
start)
  if pgrep -x systemd-journal >/dev/null 2>&1 && [ -S "$sock" ]; then
    exit 0
  fi
  rm -f /run/systemd/journal/socket /run/systemd/journal/stdout /run/systemd/journal/dev-log
  mkdir -p /run/systemd/journald.conf.d /run/systemd/journal
  printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\n' > /run/systemd/journald.conf.d/entrytrace-test.conf
  setsid /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 100); do
    [ -S "$sock" ] && journalctl -n 0 >/dev/null 2>&1 && exit 0
    sleep 0.05
  done
  echo "journald.sh: systemd-journald did not create $sock" >&2
  exit 1
  ;;
stop)
  pkill -TERM -x systemd-journal 2>/dev/null || true
  for _ in $(seq 1 40); do pgrep -x systemd-journal >/dev/null || break; sleep 0.05; done
  rm -f /run/systemd/journal/socket /run/systemd/journal/stdout /run/systemd/journal/dev-log
  ;;
*) echo "usage: journald.sh start|stop" >&2; exit 2 ;;
esac
