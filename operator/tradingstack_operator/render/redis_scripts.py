"""Shell scripts of the Redis pods, shipped in a ConfigMap (POSIX sh, coreutils, redis-cli).

They follow the Bitnami chart's Sentinel mode: every address is a stable pod hostname,
never a pod IP; the master is whatever the sentinels say, pod 0 only on first boot.
The password is read from the mounted Secret and never passed on a command line.
"""

from __future__ import annotations

SCRIPTS_DIR = "/scripts"
CONFIG_DIR = "/config"

LIB = r"""# Sourced by the other scripts. printf, not echo: dash's echo eats backslashes.
set -eu
PASSWORD="$(cat "$REDIS_PASSWORD_FILE")"
export REDISCLI_AUTH="$PASSWORD"

fqdn() {
  printf '%s\n' "$1.$REDIS_HEADLESS.$REDIS_NAMESPACE.svc.$CLUSTER_DOMAIN"
}
SELF="$(fqdn "$POD_NAME")"

# A value in Redis config syntax: double-quoted, with backslash and quote escaped.
quoted() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# Run "$@" against the sentinel of every other pod, printing the first clean answer.
# This pod's own sentinel is skipped: it is starting or stopping with this pod.
ask_other_sentinels() {
  i=0
  while [ "$i" -lt "$REDIS_REPLICAS" ]; do
    host="$(fqdn "$REDIS_STATEFULSET-$i")"
    i=$((i + 1))
    [ "$host" = "$SELF" ] && continue
    if reply="$(timeout 5 redis-cli --raw -h "$host" -p 26379 "$@" 2>/dev/null)"; then
      first="$(printf '%s\n' "$reply" | head -n 1)"
      case "$first" in
        "" | *" "*) ;;
        *) printf '%s\n' "$first"; return 0 ;;
      esac
    fi
  done
  return 0
}

# The current master's hostname; pod 0 when no sentinel answers (first boot).
current_master() {
  master="$(ask_other_sentinels SENTINEL get-master-addr-by-name "$REDIS_MASTER_NAME")"
  if [ -z "$master" ]; then
    master="$(fqdn "$REDIS_STATEFULSET-0")"
  fi
  printf '%s\n' "$master"
}

role() {
  timeout 3 redis-cli --raw -h 127.0.0.1 -p 6379 ROLE 2>/dev/null | head -n 1
}
"""

REDIS = r"""#!/bin/sh
. /scripts/lib.sh
conf=/config/redis.conf
{
  printf '%s\n' "port 6379"
  printf '%s\n' "dir /data"
  printf '%s\n' "appendonly yes"
  printf '%s\n' "protected-mode no"
  printf '%s\n' "requirepass $(quoted "$PASSWORD")"
  printf '%s\n' "masterauth $(quoted "$PASSWORD")"
} > "$conf"
if [ "$REDIS_SENTINEL" = "true" ]; then
  master="$(current_master)"
else
  # Without Sentinel pod 0 is the master for good; any other pod replicates it.
  master="$(fqdn "$REDIS_STATEFULSET-0")"
fi
{
  # Replicas are reported by hostname, which survives a pod's IP changing.
  printf '%s\n' "replica-announce-ip $SELF"
  printf '%s\n' "replica-announce-port 6379"
  if [ "$master" != "$SELF" ]; then
    printf '%s\n' "replicaof $master 6379"
  fi
} >> "$conf"
exec redis-server "$conf"
"""

SENTINEL = r"""#!/bin/sh
. /scripts/lib.sh
master="$(current_master)"
# Sentinel refuses a monitor target it cannot resolve; a new pod's name takes a moment.
tries=0
until getent hosts "$master" > /dev/null || [ "$tries" -ge 60 ]; do
  tries=$((tries + 1))
  sleep 1
done
# A stable id per pod: a restarted sentinel is the same sentinel, not a new voter.
myid="$(printf '%s/%s' "$REDIS_NAMESPACE" "$POD_NAME" | sha1sum | cut -c 1-40)"
pass="$(quoted "$PASSWORD")"
name="$REDIS_MASTER_NAME"
cat > /config/sentinel.conf <<EOF
port 26379
dir /config
sentinel myid $myid
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $SELF
sentinel announce-port 26379
requirepass $pass
sentinel sentinel-pass $pass
sentinel monitor $name $master 6379 $SENTINEL_QUORUM
sentinel auth-pass $name $pass
sentinel down-after-milliseconds $name $SENTINEL_DOWN_AFTER_MILLISECONDS
sentinel failover-timeout $name $SENTINEL_FAILOVER_TIMEOUT_MILLISECONDS
sentinel parallel-syncs $name $SENTINEL_PARALLEL_SYNCS
EOF
exec redis-sentinel /config/sentinel.conf
"""

PRESTOP = r"""#!/bin/sh
# A stopping master hands over first, so clients see a master throughout a rollout.
. /scripts/lib.sh
[ "$(role)" = "master" ] || exit 0
answer="$(ask_other_sentinels SENTINEL FAILOVER "$REDIS_MASTER_NAME")"
[ "$answer" = "OK" ] || exit 0
waited=0
while [ "$(role)" = "master" ] && [ "$waited" -lt "$PRESTOP_WAIT_SECONDS" ]; do
  sleep 1
  waited=$((waited + 1))
done
"""

PING = r"""#!/bin/sh
# ping.sh PORT ready|alive -- alive also accepts a server that is loading its data or has
# lost its master: restarting it then would only make things worse.
. /scripts/lib.sh
reply="$(timeout 3 redis-cli --raw -h 127.0.0.1 -p "$1" PING 2>&1)" || true
case "$2:$reply" in
  *:PONG | alive:LOADING* | alive:MASTERDOWN*) exit 0 ;;
esac
printf '%s\n' "$reply"
exit 1
"""

#: ConfigMap data: file name -> content.
SCRIPTS: dict[str, str] = {
    "lib.sh": LIB,
    "redis.sh": REDIS,
    "sentinel.sh": SENTINEL,
    "prestop.sh": PRESTOP,
    "ping.sh": PING,
}
