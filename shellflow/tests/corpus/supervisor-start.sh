#!/bin/bash
# A container that runs two long-lived daemons in the background and waits.
set -e
: "${WORKERS:=2}"
crond -f &
php-fpm --nodaemonize --pool-workers "$WORKERS" &
wait -n
exit $?
