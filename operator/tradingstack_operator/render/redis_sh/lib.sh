# Sourced by the other scripts of a Redis pod (POSIX sh: dash in the redis image).
# printf, never echo: dash's echo eats backslashes. Every address is a stable pod hostname.
set -eu

NL='
'
CR="$(printf '\r')"
#: Kept on the data volume: what a cold start of every pod needs to know.
STATE_DIR=/data/tradingstack

log() {
  printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${0##*/}" "$*" >&2
}

die() {
  log "$*"
  exit 1
}

now() {
  date +%s
}

# The password rule, the same in every reader (tradingstack_workers.password): one trailing
# newline is dropped (kubectl create secret --from-file adds it); an empty value, NUL, any
# other line break, leading or trailing blanks, or bytes that are not UTF-8 are refused.
secret() {
  [ -r "$1" ] || die "cannot read $1"
  LC_ALL=C tr -d '\000' < "$1" | cmp -s - "$1" || die "$1 holds a NUL byte"
  iconv -f UTF-8 -t UTF-8 "$1" > /dev/null 2>&1 || die "$1 is not UTF-8 text"
  value="$(cat "$1"; printf x)"
  value="${value%x}"
  value="${value%"$NL"}"
  case "$value" in
    "") die "$1 is empty" ;;
    *"$NL"* | *"$CR"*) die "$1 holds a line break inside the password" ;;
    " "* | *" " | "	"* | *"	") die "$1 starts or ends with a blank" ;;
  esac
  printf '%s' "$value"
}

PASSWORD="$(secret "$REDIS_PASSWORD_FILE")"
# redis-cli reads the password from here: it never appears on a command line.
export REDISCLI_AUTH="$PASSWORD"

fqdn() {
  printf '%s\n' "$1.$REDIS_HEADLESS.$REDIS_NAMESPACE.svc.$CLUSTER_DOMAIN"
}
SELF="$(fqdn "$POD_NAME")"

# A value in Redis config syntax: double-quoted, with backslash and quote escaped.
quoted() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# An ACL password as its sha256: the ACL lines then need no quoting at all.
hashed() {
  printf '#%s' "$(printf '%s' "$1" | sha256sum | cut -c 1-64)"
}

if [ "${REDIS_TLS:-false}" = "true" ]; then
  TLS_ARGS="--tls --cacert $REDIS_TLS_DIR/ca.crt"
  # Inside the pod, on loopback, the certificate's names do not include 127.0.0.1.
  LOCAL_TLS_ARGS="--tls --insecure"
else
  TLS_ARGS=""
  LOCAL_TLS_ARGS=""
fi

# Config lines to listen on PORT, over TLS when the stack has it (replication too).
listen() {
  if [ "${REDIS_TLS:-false}" = "true" ]; then
    printf '%s\n' "port 0" "tls-port $1" "tls-replication yes" "tls-auth-clients optional"
    printf '%s\n' "tls-cert-file $REDIS_TLS_DIR/tls.crt" "tls-key-file $REDIS_TLS_DIR/tls.key"
    printf '%s\n' "tls-ca-cert-file $REDIS_TLS_DIR/ca.crt"
  else
    printf '%s\n' "port $1"
  fi
}

# redis-cli against a peer: cli HOST PORT COMMAND...
cli() {
  host="$1"
  port="$2"
  shift 2
  # shellcheck disable=SC2086 # TLS_ARGS is a list of words
  timeout "${CLI_TIMEOUT:-3}" redis-cli $TLS_ARGS --no-auth-warning --raw -h "$host" -p "$port" "$@"
}

# redis-cli against this pod's own server or sentinel: local_cli PORT COMMAND...
local_cli() {
  port="$1"
  shift
  # shellcheck disable=SC2086
  timeout "${CLI_TIMEOUT:-3}" redis-cli $LOCAL_TLS_ARGS --no-auth-warning --raw -h 127.0.0.1 -p "$port" "$@"
}

# The value of one field in INFO output or in a SENTINEL MASTER reply on stdin.
info_field() {
  tr -d '\r' | sed -n "s/^$1://p" | head -n 1
}

reply_field() {
  tr -d '\r' | awk -v key="$1" 'previous == key { print; exit } { previous = $0 }'
}

role() {
  local_cli 6379 ROLE 2>/dev/null | head -n 1 || true
}

# Every pod's hostname, this one included, one a line.
pod_hosts() {
  i=0
  while [ "$i" -lt "$REDIS_REPLICAS" ]; do
    fqdn "$REDIS_STATEFULSET-$i"
    i=$((i + 1))
  done
}

# "COUNT HOST" lines, most named first: which master each answering sentinel names.
# All sentinels are asked at once, so an unreachable one costs one timeout, not one each.
sentinel_votes() {
  answers="$(mktemp -d)"
  n=0
  for host in $(pod_hosts); do
    n=$((n + 1))
    (cli "$host" 26379 SENTINEL get-master-addr-by-name "$REDIS_MASTER_NAME" \
      > "$answers/$n" 2> /dev/null || : > "$answers/$n") &
  done
  wait
  for answer in "$answers"/*; do
    host="$(sed -n 1p "$answer" | tr -d '\r')"
    port="$(sed -n 2p "$answer" | tr -d '\r')"
    case "$port" in "" | *[!0-9]*) continue ;; esac
    case "$host" in "" | *" "*) continue ;; esac
    printf '%s\n' "$host"
  done | sort | uniq -c | sort -rn
  rm -rf "$answers"
}

# The master that at least SENTINEL_QUORUM sentinels name, and more of them than name any
# other host; nothing when they do not agree. A lone sentinel is never trusted: it may be
# a pod that came back alone with an old view (the same rule as the workers' client and
# the operator's probe).
agreed_master() {
  votes="$(sentinel_votes)"
  [ -n "$votes" ] || return 0
  top_count="$(printf '%s\n' "$votes" | awk 'NR == 1 { print $1 }')"
  top_host="$(printf '%s\n' "$votes" | awk 'NR == 1 { print $2 }')"
  runner_up="$(printf '%s\n' "$votes" | awk 'NR == 2 { print $1 }')"
  if [ "$top_count" -ge "$SENTINEL_QUORUM" ] && [ "${runner_up:-0}" -lt "$top_count" ]; then
    printf '%s\n' "$top_host"
  fi
}

# "EPOCH HOST" of the last master this pod knew of, or nothing (a new volume).
recorded_master() {
  cat "$STATE_DIR/master" 2> /dev/null || true
}

# Keep "EPOCH HOST" unless the record already holds a later epoch. Written atomically.
remember_master() {
  mkdir -p "$STATE_DIR"
  known="$(recorded_master)"
  if [ -n "$known" ] && [ "${known%% *}" -gt "$1" ]; then
    return 0
  fi
  printf '%s %s\n' "$1" "$2" > "$STATE_DIR/master.tmp"
  mv "$STATE_DIR/master.tmp" "$STATE_DIR/master"
}

remember_offset() {
  mkdir -p "$STATE_DIR"
  printf '%s\n' "$1" > "$STATE_DIR/offset.tmp"
  mv "$STATE_DIR/offset.tmp" "$STATE_DIR/offset"
}
