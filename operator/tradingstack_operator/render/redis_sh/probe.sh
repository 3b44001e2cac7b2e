#!/bin/sh
# probe.sh redis|sentinel startup|alive|ready -- the containers' probes.
#   alive: the server answers; a server loading its data or without its master is alive
#          (restarting it would only make things worse).
#   ready: redis: a replica is ready once its link to the master is up and its sync done;
#          a master once the sentinels agree it is the master. Sentinel: it answers.
# A ready redis also records its replication offset on the data volume (see redis.sh).
. /scripts/lib.sh

fail() {
  printf '%s\n' "$*"
  exit 1
}

ping_port() {
  reply="$(local_cli "$1" PING 2>&1)" || true
  case "$2:$reply" in
    *:PONG | alive:LOADING* | alive:MASTERDOWN* | startup:LOADING* | startup:MASTERDOWN*) return 0 ;;
    # The server answered, refusing a password that is not its own yet: during a password
    # rollover the kubelet may mount the new Secret before the operator has given it to
    # the running server. Restarting the server then would lose the old password that
    # the workers not yet rolled still use.
    alive:*WRONGPASS* | alive:*NOAUTH*) return 0 ;;
  esac
  fail "${reply:-no answer}"
}

redis_ready() {
  info="$(local_cli 6379 INFO replication 2>&1)" || fail "$info"
  case "$(printf '%s\n' "$info" | info_field role)" in
    master)
      if [ "$REDIS_SENTINEL" = "true" ]; then
        master="$(agreed_master)"
        [ "$master" = "$SELF" ] || fail "role master, but the sentinels name ${master:-no master}"
      fi
      remember_offset "$(printf '%s\n' "$info" | info_field master_repl_offset)"
      ;;
    slave)
      link="$(printf '%s\n' "$info" | info_field master_link_status)"
      [ "$link" = "up" ] || fail "link to $(printf '%s\n' "$info" | info_field master_host) is $link"
      [ "$(printf '%s\n' "$info" | info_field master_sync_in_progress)" = "0" ] || fail "sync in progress"
      touch "$STATE_DIR/initialized"
      remember_offset "$(printf '%s\n' "$info" | info_field slave_repl_offset)"
      priority="$(local_cli 6379 CONFIG GET replica-priority | sed -n 2p | tr -d '\r')"
      if [ "$priority" != "100" ]; then
        local_cli 6379 CONFIG SET replica-priority 100 > /dev/null
      fi
      ;;
    *) fail "$info" ;;
  esac
}

case "$1:$2" in
  redis:ready) redis_ready ;;
  redis:*) ping_port 6379 "$2" ;;
  sentinel:*) ping_port 26379 "$2" ;;
  *) fail "usage: probe.sh redis|sentinel startup|alive|ready" ;;
esac
