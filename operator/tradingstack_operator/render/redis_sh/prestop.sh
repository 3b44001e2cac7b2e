#!/bin/sh
# preStop of the redis container: a stopping master hands over before it goes, losing no
# acknowledged write and starting no second failover.
#   1. pause writes (clients wait; nothing new is acknowledged here),
#   2. let every replica catch up, so whichever Sentinel promotes holds every write,
#   3. ask one sentinel to fail over, stopping at its first clear answer,
#   4. wait until the sentinels agree on another master.
. /scripts/lib.sh

[ "$(role)" = "master" ] || exit 0
deadline=$(($(now) + PRESTOP_WAIT_SECONDS))
local_cli 6379 CLIENT PAUSE $((PRESTOP_WAIT_SECONDS * 1000)) WRITE > /dev/null
log "writes paused for the handover"

# True when every online replica has processed the master's whole replication stream.
replicas_caught_up() {
  local_cli 6379 INFO replication | tr -d '\r' | awk -F '[:,=]' '
    /^master_repl_offset:/ { master = $2 + 0 }
    /^slave[0-9]+:/ {
      state = ""
      offset = 0
      for (i = 2; i < NF; i += 2) {
        if ($i == "state") state = $(i + 1)
        if ($i == "offset") offset = $(i + 1) + 0
      }
      if (state == "online") {
        if (online == 0 || offset < lowest) lowest = offset
        online++
      }
    }
    END { exit !(online > 0 && lowest >= master) }'
}
until replicas_caught_up; do
  [ "$(now)" -lt "$deadline" ] || break
  sleep 0.1
done

# Any sentinel may run the failover; this pod's own is asked first (its preStop keeps it
# up until the failover ends). Only a connection failure moves on to the next one: INPROG
# means a failover is already under way, and asking elsewhere would start a second one.
answer=""
for host in "$SELF" $(pod_hosts); do
  answer="$(cli "$host" 26379 SENTINEL FAILOVER "$REDIS_MASTER_NAME" 2>&1 | head -n 1)" || true
  case "$answer" in
    OK | INPROG* | NOGOODSLAVE* | *"No such master"*) break ;;
  esac
done
case "$answer" in
  OK | INPROG*) log "failover: $answer" ;;
  *)
    log "no failover (${answer:-no sentinel answered}): stopping as master"
    local_cli 6379 CLIENT UNPAUSE > /dev/null || true
    exit 0
    ;;
esac

while [ "$(now)" -lt "$deadline" ]; do
  master="$(agreed_master)"
  if [ -n "$master" ] && [ "$master" != "$SELF" ]; then
    log "handed over to $master"
    exit 0
  fi
  sleep 0.5
done
log "the sentinels still name this pod after $PRESTOP_WAIT_SECONDS s: stopping anyway"
