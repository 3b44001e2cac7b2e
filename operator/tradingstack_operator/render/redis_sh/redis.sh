#!/bin/sh
# The redis container: write the config, choose master or replica, exec redis-server.
. /scripts/lib.sh

conf=/config/redis.conf
mkdir -p "$STATE_DIR"

# One ACL user per component; every password is stored hashed. Workers get their keys
# and no admin or dangerous command (FLUSHALL, CONFIG, KEYS, DEBUG, SHUTDOWN, ...).
{
  printf 'user default on %s ~* &* +@all\n' "$(hashed "$PASSWORD")"
  printf 'user replication on %s +psync +replconf +ping\n' \
    "$(hashed "$(secret "$REDIS_USERS_DIR/replication")")"
  printf 'user sentinel on %s allchannels +multi +slaveof +ping +exec +subscribe' \
    "$(hashed "$(secret "$REDIS_USERS_DIR/sentinel")")"
  printf ' +config|rewrite +role +publish +info +client|setname +client|kill +script|kill\n'
  printf 'user worker on %s ~%s:* &%s:* +@all -@admin -@dangerous\n' \
    "$(hashed "$(secret "$REDIS_USERS_DIR/worker")")" "$REDIS_KEY_PREFIX" "$REDIS_KEY_PREFIX"
  printf 'user exporter on %s -@all +ping +info +config|get +client|setname +client|info' \
    "$(hashed "$(secret "$REDIS_USERS_DIR/exporter")")"
  printf ' +cluster|info +slowlog|get +slowlog|len +latency|latest +latency|histogram'
  printf ' +memory|stats +select +dbsize\n'
} > /config/users.acl

{
  listen 6379
  # always (the default): written and synced before the reply, on replicas before their
  # acknowledgement too; everysec may hold a write back for up to two seconds.
  printf '%s\n' "dir /data" "appendonly yes" "appendfsync $REDIS_APPENDFSYNC" 'save ""'
  printf '%s\n' "protected-mode no" "aclfile /config/users.acl"
  printf '%s\n' "masteruser replication"
  printf 'masterauth %s\n' "$(quoted "$(secret "$REDIS_USERS_DIR/replication")")"
  # A ledger must never lose keys to eviction: past maxmemory, writes fail loudly.
  printf '%s\n' "maxmemory $REDIS_MAXMEMORY" "maxmemory-policy noeviction"
  # Replicas are reported by hostname, which survives a pod's IP changing.
  printf '%s\n' "replica-announce-ip $SELF" "replica-announce-port 6379"
} > "$conf"

if [ "$REDIS_SENTINEL" != "true" ]; then
  # Without Sentinel there is one pod: the master for good.
  exec redis-server "$conf"
fi

# A master cut off from every replica refuses writes once they lag this long, so what a
# partitioned old master accepts is never acknowledged (and never silently merged).
printf '%s\n' "min-replicas-to-write 1" "min-replicas-max-lag $REDIS_MIN_REPLICAS_MAX_LAG" >> "$conf"

# The sentinels decide. A pod they name master starts as master only when its volume
# holds the set's data (it was initialised as part of it) or no peer holds any data (a
# new stack); a new, empty volume never becomes master over a peer's data: it waits for
# the sentinels to fail over to a replica that has it.
peers_hold_no_data() {
  for host in $(pod_hosts); do
    [ "$host" = "$SELF" ] && continue
    keys="$(cli "$host" 6379 DBSIZE 2> /dev/null)" || return 1
    case "$keys" in "" | *[!0-9]*) return 1 ;; esac
    [ "$keys" -eq 0 ] || return 1
  done
  return 0
}

deadline=$(($(now) + START_WAIT_SECONDS))
while :; do
  master="$(agreed_master)"
  if [ -n "$master" ] && [ "$master" != "$SELF" ]; then
    break
  fi
  if [ "$master" = "$SELF" ]; then
    if [ -e "$STATE_DIR/initialized" ]; then
      break
    fi
    if peers_hold_no_data; then
      touch "$STATE_DIR/initialized"
      break
    fi
    log "the sentinels name this pod master, but its volume is new and a peer may hold data: waiting for a failover, or for every peer to answer empty"
  else
    log "fewer than $SENTINEL_QUORUM sentinels agree on a master: waiting"
  fi
  [ "$(now)" -lt "$deadline" ] || die "no usable master after $START_WAIT_SECONDS s"
  sleep 0.5
done

if [ "$master" = "$SELF" ]; then
  log "starting as master"
else
  # Until its first sync a restarted replica holds only its own, older data. Sentinel
  # prefers the lowest replica-priority: rank such a replica by the replication offset
  # it last recorded, so a cold start whose master is gone promotes the most advanced
  # dataset; every such rank is behind the synced replicas' default of 100. The readiness
  # probe restores 100 once the replica is in sync.
  offset="$(cat "$STATE_DIR/offset" 2> /dev/null || printf 0)"
  case "$offset" in "" | *[!0-9]*) offset=0 ;; esac
  priority="$(awk -v o="$offset" 'BEGIN {
    p = 2147483647 - int(log(o + 1) / log(2) * 33554432)
    if (p < 101) p = 101
    printf "%d\n", p
  }')"
  log "starting as a replica of $master (replica-priority $priority until in sync)"
  printf '%s\n' "replicaof $master 6379" "replica-priority $priority" >> "$conf"
fi
exec redis-server "$conf"
