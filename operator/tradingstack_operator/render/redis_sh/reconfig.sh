#!/bin/sh
# Sentinel's client-reconfig-script, run by every sentinel whose master changes: by the
# failover's leader once the promoted replica answers as master, by every other sentinel
# when it learns the new master. It keeps the new master and its epoch on the data
# volume, where a restart of every pod at once finds them (sentinel.sh).
# Arguments: <master-name> <role> <state> <from-host> <from-port> <to-host> <to-port>; the
# leader runs it before its own view switches, so the new master comes from <to-host>.
. /scripts/lib.sh

host="${6:-}"
view="$(local_cli 26379 SENTINEL MASTER "$REDIS_MASTER_NAME")" || exit 0
epoch="$(printf '%s\n' "$view" | reply_field config-epoch)"
[ -n "$host" ] || host="$(printf '%s\n' "$view" | reply_field ip)"
case "$epoch" in "" | *[!0-9]*) exit 0 ;; esac
[ -n "$host" ] || exit 0
remember_master "$epoch" "$host"
log "${2:-?}: master is now $host (epoch $epoch)"
