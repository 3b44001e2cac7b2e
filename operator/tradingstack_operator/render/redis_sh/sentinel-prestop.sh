#!/bin/sh
# preStop of the sentinel container: stay while this pod's master hands over or any
# failover this sentinel takes part in is under way; its vote and its view are needed.
. /scripts/lib.sh

deadline=$(($(now) + PRESTOP_WAIT_SECONDS))
while [ "$(now)" -lt "$deadline" ]; do
  flags="$(local_cli 26379 SENTINEL MASTER "$REDIS_MASTER_NAME" 2> /dev/null | reply_field flags)"
  busy=""
  case "$flags" in *failover_in_progress*) busy="a failover is in progress" ;; esac
  if [ -z "$busy" ] && [ "$(role)" = "master" ]; then
    master="$(agreed_master)"
    [ -n "$master" ] && [ "$master" != "$SELF" ] || busy="this pod's master is handing over"
  fi
  [ -n "$busy" ] || exit 0
  sleep 0.5
done
log "stopping after $PRESTOP_WAIT_SECONDS s: $busy"
