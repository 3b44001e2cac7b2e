#!/bin/sh
# The sentinel container: start from the last master this pod knew of (kept on the data
# volume by reconfig.sh), with every peer already known, then exec redis-sentinel.
# Sentinels that restart together (a node or a cluster reboot) thus come back with their
# last view and its epoch, and the highest epoch wins among them, whatever pod 0 holds.
. /scripts/lib.sh

mkdir -p "$STATE_DIR"
name="$REDIS_MASTER_NAME"
record="$(recorded_master)"

# The master to monitor: the recorded one, else the one the other sentinels agree on,
# else pod 0 (a new stack). Sentinel refuses a host it cannot resolve, and a pod's name
# resolves only once the pod exists: wait, falling back to the next candidate.
deadline=$(($(now) + START_WAIT_SECONDS))
while :; do
  epoch=0
  master=""
  if [ -n "$record" ]; then
    epoch="${record%% *}"
    master="${record#* }"
  fi
  if [ -z "$master" ] || ! getent hosts "$master" > /dev/null; then
    epoch=0
    master="$(agreed_master)"
  fi
  if [ -z "$master" ] && [ -z "$record" ]; then
    master="$(fqdn "$REDIS_STATEFULSET-0")"
  fi
  if [ -n "$master" ] && getent hosts "$master" > /dev/null; then
    break
  fi
  [ "$(now)" -lt "$deadline" ] || die "cannot resolve a master to monitor after $START_WAIT_SECONDS s"
  log "waiting for ${master:-the recorded master} to resolve"
  sleep 1
done
remember_master "$epoch" "$master"

# A stable id per pod: a restarted sentinel is the same voter, and its peers know it.
sentinel_id() {
  printf '%s/%s' "$REDIS_NAMESPACE" "$1" | sha1sum | cut -c 1-40
}
pass="$(secret "$REDIS_USERS_DIR/sentinel")"
worker="$(secret "$REDIS_USERS_DIR/worker")"
conf=/config/sentinel.conf
{
  listen 26379
  printf '%s\n' "dir /config" "sentinel myid $(sentinel_id "$POD_NAME")"
  # Hostnames, not pod IPs: resolve-hostnames must precede every line naming a host.
  printf '%s\n' "sentinel resolve-hostnames yes" "sentinel announce-hostnames yes"
  printf '%s\n' "sentinel announce-ip $SELF" "sentinel announce-port 26379"
  # Users of this sentinel: admin, its peers, and the workers, which may only ask.
  printf 'user default on %s ~* &* +@all\n' "$(hashed "$PASSWORD")"
  printf 'user sentinel on %s ~* &* +@all\n' "$(hashed "$pass")"
  printf 'user worker on %s -@all +ping +auth +hello +client|setname' "$(hashed "$worker")"
  printf ' +sentinel|get-master-addr-by-name +sentinel|master +sentinel|masters'
  printf ' +sentinel|sentinels +sentinel|replicas +sentinel|slaves\n'
  printf '%s\n' "sentinel sentinel-user sentinel" "sentinel sentinel-pass $(quoted "$pass")"
  printf '%s\n' "sentinel monitor $name $master 6379 $SENTINEL_QUORUM"
  printf '%s\n' "sentinel auth-user $name sentinel" "sentinel auth-pass $name $(quoted "$pass")"
  printf '%s\n' "sentinel down-after-milliseconds $name $SENTINEL_DOWN_AFTER_MILLISECONDS"
  printf '%s\n' "sentinel failover-timeout $name $SENTINEL_FAILOVER_TIMEOUT_MILLISECONDS"
  printf '%s\n' "sentinel parallel-syncs $name $SENTINEL_PARALLEL_SYNCS"
  printf '%s\n' "sentinel client-reconfig-script $name /scripts/reconfig.sh"
  printf '%s\n' "sentinel current-epoch $epoch" "sentinel config-epoch $name $epoch"
  printf '%s\n' "sentinel leader-epoch $name $epoch"
  # Peers known from the start: with the master gone, sentinels still find each other and
  # every replica to promote or repoint, this pod's own included (learning replicas from
  # the master's INFO takes up to 10 s, and a replica the leader does not know stays
  # pointed at the dead master). A pod that does not resolve yet is learned by gossip.
  i=0
  for host in $(pod_hosts); do
    if [ "$host" != "$master" ] && getent hosts "$host" > /dev/null; then
      printf '%s\n' "sentinel known-replica $name $host 6379"
    fi
    if [ "$host" != "$SELF" ] && getent hosts "$host" > /dev/null; then
      printf '%s\n' "sentinel known-sentinel $name $host 26379 $(sentinel_id "$REDIS_STATEFULSET-$i")"
    fi
    i=$((i + 1))
  done
} > "$conf"
log "monitoring $master (epoch $epoch)"
exec redis-sentinel "$conf"
