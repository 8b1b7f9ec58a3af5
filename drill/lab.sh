#!/usr/bin/env bash
# The local three-region platform for `meridian drill`, on loopback:
#   region        address      etcd        Patroni REST  PostgreSQL  repl. relay  ledger  Meridian (admin)
#   us-east-1     127.0.0.21   2379/2380   8008          5432        5433         3000    8080 (9901)
#   eu-west-1     127.0.0.22   (same ports on each address)
#   ap-southeast-1 127.0.0.23
# Three etcd members (losing one region keeps the quorum), PostgreSQL managed by Patroni (Debian's
# packages, installed when missing: no home-made consensus or promotion), the ledger app, and a
# Meridian per region configured as in production: siblings reached through their own Meridian,
# data-aware routing on ([database] section).
#
#   drill/lab.sh up [--sync]           bring everything up (synchronous_mode with --sync)
#   drill/lab.sh down                  stop everything, remove the lab directory
#   drill/lab.sh status                processes, Patroni's view, the writer
#   drill/lab.sh writer                the writer region's name
#   drill/lab.sh etcd-leader           the region whose etcd member leads the raft group
#   drill/lab.sh etcd-lead REGION      move the etcd raft leadership there
#   drill/lab.sh sync on|off           switch Patroni's synchronous_mode at run time
#   drill/lab.sh guard on|off          switch Meridian's RPO guard (rpo_policy hold / expose)
#   drill/lab.sh fault KIND REGION     inject a fault; REGION may be `writer` or `replica`
#   drill/lab.sh heal KIND REGION      undo it
# KIND: app-kill, app-freeze, db-kill, region-kill, replication-cut (the link from the current
# writer to REGION), switchover (planned, REGION = the candidate).
#
# Settings (environment): LAB_DIR (/tmp/meridian-lab), LAB_IPS ("127.0.0.21 127.0.0.22
# 127.0.0.23"), MERIDIAN_BIN (target/debug/meridian), PATRONI_TTL (10), PATRONI_LOOP_WAIT (1),
# PATRONI_RETRY_TIMEOUT (3), PATRONI_MAX_LAG (1048576 bytes), RPO_BUDGET (5s),
# DATABASE_PROBE (250ms), WRITE_HOLD (15s); LAB_APPS=0 brings up only etcd and Patroni.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB_DIR=${LAB_DIR:-/tmp/meridian-lab}
read -r -a IPS <<<"${LAB_IPS:-127.0.0.21 127.0.0.22 127.0.0.23}"
REGIONS=(us-east-1 eu-west-1 ap-southeast-1)
MERIDIAN=${MERIDIAN_BIN:-$ROOT/target/debug/meridian}
TTL=${PATRONI_TTL:-10}
LOOP_WAIT=${PATRONI_LOOP_WAIT:-1}
RETRY_TIMEOUT=${PATRONI_RETRY_TIMEOUT:-3}
MAX_LAG=${PATRONI_MAX_LAG:-1048576}
RPO_BUDGET=${RPO_BUDGET:-5s}
DATABASE_PROBE=${DATABASE_PROBE:-250ms}
WRITE_HOLD=${WRITE_HOLD:-15s}
PY=/usr/bin/python3
# Lab-only credentials: every listener is on loopback and the directory is removed by `down`.
PG_SUPER_PASSWORD=lab-superuser
PG_REPL_PASSWORD=lab-replicator
LEDGER_PASSWORD=lab-ledger
MERIDIAN_PASSWORD=lab-meridian
FORWARD_SECRET=lab-forward-secret

log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# === helpers ===

region_index() { # name|writer|replica -> 0..2
  local want=$1 i
  case $want in
    writer) want=$(writer_region) || die "no writer right now" ;;
    replica)
      local w; w=$(writer_region) || die "no writer right now"
      for i in 0 1 2; do [ "${REGIONS[$i]}" != "$w" ] && { echo "$i"; return; }; done ;;
  esac
  for i in 0 1 2; do [ "${REGIONS[$i]}" = "$want" ] && { echo "$i"; return; }; done
  die "unknown region '$1' (${REGIONS[*]}, writer, replica)"
}

dir() { echo "$LAB_DIR/${REGIONS[$1]}"; }
pidfile() { echo "$(dir "$1")/$2.pid"; }
pid_of() { local f; f=$(pidfile "$1" "$2"); [ -s "$f" ] && cat "$f"; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Runs a daemon in its own session, as the postgres user when asked; records its PID.
# setpriv execs in place, so the PID is the daemon's own.
spawn() { # index name as_postgres cmd...
  local i=$1 name=$2 as_pg=$3; shift 3
  local out; out="$(dir "$i")/$name.log"
  if [ "$as_pg" = yes ]; then
    setsid setpriv --reuid=postgres --regid=postgres --init-groups "$@" >>"$out" 2>&1 </dev/null &
  else
    setsid "$@" >>"$out" 2>&1 </dev/null &
  fi
  echo $! >"$(pidfile "$i" "$name")"
}

# Sends a signal to a recorded daemon; with TERM, waits `grace` seconds then KILLs.
stop() { # index name signal [grace]
  local i=$1 name=$2 sig=$3 grace=${4:-0} pid
  pid=$(pid_of "$i" "$name") || return 0
  alive "$pid" || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  if [ "$sig" = TERM ]; then
    local n=0
    while alive "$pid" && [ "$n" -lt $((grace * 10)) ]; do sleep 0.1; n=$((n + 1)); done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
}

wait_for() { # seconds description command...
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "not within ${limit}s: $what"
    sleep 0.2
  done
}

http_ok() { [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1")" = 200 ]; }

# The region whose etcd member is the raft leader (a leader change re-grants every lease, so
# losing it with the writer adds to Patroni's switch time).
etcd_leader() {
  local i status self leader
  for i in 0 1 2; do
    status=$(curl -s -m 1 -X POST "http://${IPS[$i]}:2379/v3/maintenance/status" -d '{}') || continue
    read -r self leader < <($PY -c 'import json,sys; s=json.loads(sys.argv[1]); print(s["header"]["member_id"], s["leader"])' "$status" 2>/dev/null) || continue
    if [ "$self" = "$leader" ]; then echo "${REGIONS[$i]}"; return 0; fi
  done
  return 1
}

# Moves the etcd raft leadership to a region's member (asked of every member; the leader obeys).
etcd_lead() { # index
  local target i
  target=$(curl -s -m 1 -X POST "http://${IPS[$1]}:2379/v3/maintenance/status" -d '{}' \
    | $PY -c 'import json,sys; print(json.load(sys.stdin)["header"]["member_id"])') \
    || die "etcd ${REGIONS[$1]} does not answer"
  for i in 0 1 2; do
    curl -s -m 5 -X POST "http://${IPS[$i]}:2379/v3/maintenance/transfer-leadership" \
      -d "{\"targetID\": \"$target\"}" >/dev/null || true
  done
  wait_for 10 "etcd leadership in ${REGIONS[$1]}" etcd_leader_is "${REGIONS[$1]}"
}

etcd_leader_is() { [ "$(etcd_leader)" = "$1" ]; }

writer_region() {
  local i
  for i in 0 1 2; do
    if http_ok "http://${IPS[$i]}:8008/primary"; then echo "${REGIONS[$i]}"; return 0; fi
  done
  return 1
}

# Patroni's /cluster as "name role state lag" lines.
cluster() {
  local i
  for i in 0 1 2; do
    if curl -s -m 1 "http://${IPS[$i]}:8008/cluster" 2>/dev/null | $PY -c '
import json, sys
for m in json.load(sys.stdin)["members"]:
    print(m["name"], m["role"], m["state"], m.get("lag", 0), m.get("timeline", "-"))' 2>/dev/null; then
      return 0
    fi
  done
  return 1
}

cluster_ready() { # one leader running and two replicas with no lag
  local lines; lines=$(cluster) || return 1
  [ "$(grep -c ' leader running ' <<<"$lines")" = 1 ] || return 1
  [ "$(grep -Ec ' (replica|sync_standby) (running|streaming) 0 ' <<<"$lines")" = 2 ]
}

need_packages() {
  local missing=()
  command -v patroni >/dev/null || missing+=(patroni)
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v setpriv >/dev/null || missing+=(util-linux)
  command -v curl >/dev/null || missing+=(curl)
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
  [ "${#missing[@]}" = 0 ] && return 0
  log "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1; }

psql_writer() { # sql...: runs as the superuser on the writer
  local w; w=$(region_index writer)
  PGPASSWORD=$PG_SUPER_PASSWORD "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "${IPS[$w]}" -p 5432 -U postgres -d postgres "$@"
}

# === the parts of a region ===

etcd_cluster() {
  local i out=()
  for i in 0 1 2; do out+=("${REGIONS[$i]}=http://${IPS[$i]}:2380"); done
  (IFS=,; echo "${out[*]}")
}

start_etcd() {
  local i=$1 ip=${IPS[$1]}
  spawn "$i" etcd yes etcd --name "${REGIONS[$i]}" --data-dir "$(dir "$i")/etcd" \
    --listen-client-urls "http://$ip:2379" --advertise-client-urls "http://$ip:2379" \
    --listen-peer-urls "http://$ip:2380" --initial-advertise-peer-urls "http://$ip:2380" \
    --initial-cluster "$(etcd_cluster)" --initial-cluster-state new \
    --initial-cluster-token meridian-lab --logger zap --log-level warn
}

start_relay() {
  local i=$1 ip=${IPS[$1]}
  spawn "$i" relay yes $PY "$ROOT/drill/relay.py" --listen "$ip:5433" --upstream "$ip:5432" \
    --region "${REGIONS[$i]}" --cut-dir "$LAB_DIR/cut"
}

write_patroni_config() {
  local i=$1 ip=${IPS[$1]} d; d=$(dir "$1")
  local sync=false; [ "${LAB_SYNC:-off}" = on ] && sync=true
  cat >"$d/patroni.yml" <<EOF
scope: meridian-lab
namespace: /meridian/
name: ${REGIONS[$i]}
log:
  level: INFO
restapi:
  listen: $ip:8008
  connect_address: $ip:8008
etcd3:
  hosts: ${IPS[0]}:2379,${IPS[1]}:2379,${IPS[2]}:2379
watchdog:
  mode: off
bootstrap:
  dcs:
    # Fast and safe: the leader key lives ttl seconds; the leader renews it every loop_wait and
    # demotes itself when it cannot within retry_timeout (loop_wait + 2 x retry_timeout <= ttl).
    ttl: $TTL
    loop_wait: $LOOP_WAIT
    retry_timeout: $RETRY_TIMEOUT
    # A replica further behind than this (bytes) is not promoted automatically.
    maximum_lag_on_failover: $MAX_LAG
    synchronous_mode: $sync
    postgresql:
      use_pg_rewind: true
      # No replication slots: after a promotion the new leader creates the others' slots only
      # in a later loop (measured: the surviving replica streamed ~3 s after the promotion);
      # without them it streams at once. wal_keep_size keeps the WAL a replica may still need.
      use_slots: false
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
        wal_retrieve_retry_interval: 1s
        wal_receiver_status_interval: 1s
        max_connections: 100
  initdb:
    - encoding: UTF8
    - data-checksums
    - auth-host: scram-sha-256
    - auth-local: peer
  pg_hba:
    - local all all peer
    - host replication replicator 127.0.0.0/8 scram-sha-256
    - host all all 127.0.0.0/8 scram-sha-256
postgresql:
  listen: $ip:5432
  # Replicas stream through this region's relay, so a link can be cut (drill/relay.py).
  connect_address: $ip:5433
  data_dir: $d/pg
  bin_dir: $(pg_bin)
  pgpass: $d/pgpass
  authentication:
    superuser:
      username: postgres
      password: $PG_SUPER_PASSWORD
    replication:
      username: replicator
      password: $PG_REPL_PASSWORD
  parameters:
    unix_socket_directories: $d/sock
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
}

start_patroni() {
  spawn "$1" patroni yes patroni "$(dir "$1")/patroni.yml"
}

# The writer's postmaster PID and its children (backends, walsenders...).
kill_postgres() { # index signal
  local pm; pm=$(head -1 "$(dir "$1")/pg/postmaster.pid" 2>/dev/null) || return 0
  alive "$pm" || return 0
  local kids; kids=$(ps -o pid= --ppid "$pm" 2>/dev/null || true)
  kill "-$2" "$pm" $kids 2>/dev/null || true
}

# === up / down ===

up() {
  [ "${1:-}" = --sync ] && export LAB_SYNC=on
  [ "$(id -u)" = 0 ] || die "run as root: the lab installs packages and runs PostgreSQL, etcd and Patroni as the postgres user"
  need_packages
  [ -x "$MERIDIAN" ] || die "$MERIDIAN not built (cargo build)"
  if [ -d "$LAB_DIR" ]; then log "a lab is already in $LAB_DIR: taking it down first"; down; fi
  mkdir -p "$LAB_DIR/cut"
  local i
  for i in 0 1 2; do
    mkdir -p "$(dir "$i")/sock" "$LAB_DIR/cut/${REGIONS[$i]}"
    write_patroni_config "$i"
  done
  chown -R postgres:postgres "$LAB_DIR"
  chmod 700 "$LAB_DIR"/*/ 2>/dev/null || true
  chmod 755 "$LAB_DIR" "$LAB_DIR/cut"
  log "etcd x3"
  for i in 0 1 2; do start_etcd "$i"; done
  for i in 0 1 2; do wait_for 30 "etcd ${REGIONS[$i]} healthy" http_ok "http://${IPS[$i]}:2379/health"; done
  log "PostgreSQL + Patroni x3 (ttl $TTL, loop_wait $LOOP_WAIT, retry_timeout $RETRY_TIMEOUT, maximum_lag_on_failover $MAX_LAG, synchronous_mode ${LAB_SYNC:-off})"
  for i in 0 1 2; do start_relay "$i"; done
  # The first node bootstraps the cluster; the others clone it.
  start_patroni 0
  wait_for 60 "us-east-1 leader" http_ok "http://${IPS[0]}:8008/primary"
  start_patroni 1
  start_patroni 2
  wait_for 120 "one leader and two streaming replicas" cluster_ready
  psql_writer <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger') THEN
    CREATE ROLE ledger LOGIN PASSWORD '$LEDGER_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE ledger OWNER ledger' WHERE NOT EXISTS
  (SELECT FROM pg_database WHERE datname = 'ledger')\gexec
-- Meridian's monitoring role: reads replication state (pg_monitor) and writes its heartbeat
-- row in a database of its own; it cannot touch the ledger.
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'meridian') THEN
    CREATE ROLE meridian LOGIN PASSWORD '$MERIDIAN_PASSWORD' IN ROLE pg_monitor;
  END IF;
END \$\$;
SELECT 'CREATE DATABASE meridian OWNER meridian' WHERE NOT EXISTS
  (SELECT FROM pg_database WHERE datname = 'meridian')\gexec
REVOKE CONNECT ON DATABASE ledger FROM PUBLIC;
GRANT CONNECT ON DATABASE ledger TO ledger;
-- Reading the writer's timeline history (pg_wal/N.history, inside the data directory) tells
-- Meridian which tokens name writes lost in a failover; EXECUTE is enough for paths inside the
-- data directory (pg_read_server_files would open every file on the server).
\connect meridian
GRANT EXECUTE ON FUNCTION pg_read_file(text) TO meridian;
SQL
  start_apps_and_meridians
  log "up: writer $(writer_region); Meridians on ${IPS[0]}:8080 ${IPS[1]}:8080 ${IPS[2]}:8080"
}

start_apps_and_meridians() {
  local i
  if [ "${LAB_APPS:-1}" = 0 ]; then log "LAB_APPS=0: no ledger apps, no Meridians"; return 0; fi
  for i in 0 1 2; do start_app "$i"; done
  for i in 0 1 2; do wait_for 30 "ledger ${REGIONS[$i]}" http_ok "http://${IPS[$i]}:3000/healthz"; done
  for i in 0 1 2; do write_meridian_config "$i"; start_meridian "$i"; done
  for i in 0 1 2; do
    wait_for 30 "Meridian ${REGIONS[$i]} ready" http_ok "http://${IPS[$i]}:8080/.meridian/readyz"
  done
}

ledger_url() { # index
  echo "postgresql://ledger:$LEDGER_PASSWORD@${IPS[$1]}:5432/ledger?connect_timeout=2"
}

start_app() {
  local i=$1
  spawn "$i" app no "$MERIDIAN" ledger --listen "${IPS[$i]}:3000" --region "${REGIONS[$i]}" \
    --database "$(ledger_url "$i")"
}

write_meridian_config() {
  local i=$1 d; d=$(dir "$1")
  local policy=hold; [ -f "$LAB_DIR/guard-off" ] && policy=expose
  {
    cat <<EOF
# Region ${REGIONS[$i]} of the drill lab, as in production: the local ledger app, siblings
# through their own Meridian, data-aware routing on.
[server]
listen = "${IPS[$i]}:8080"
admin_listen = "${IPS[$i]}:9901"
local_region = "${REGIONS[$i]}"
forward_secret = "$FORWARD_SECRET"

[health]
interval = "1s"
timeout = "500ms"
rise = 2
fall = 2

[timeouts]
connect = "250ms"
per_try = "3s"
request = "20s"

EOF
    local j
    for j in 0 1 2; do
      if [ "$j" = "$i" ]; then
        printf '[[regions]]\nname = "%s"\nendpoints = ["%s:3000"]\nhealth_path = "/healthz"\n\n' \
          "${REGIONS[$j]}" "${IPS[$j]}"
      else
        printf '[[regions]]\nname = "%s"\nendpoints = ["%s:8080"]\nhealth_path = "/.meridian/readyz"\n\n' \
          "${REGIONS[$j]}" "${IPS[$j]}"
      fi
    done
    database_section "$i" "$policy"
    printf '[[routes]]\nname = "ledger"\nrpo_policy = "%s"\n' "$policy"
  } >"$d/meridian.toml"
}

# The [database] section (data-aware routing); its keys come from the data tier's config.
database_section() { # index policy
  local j
  cat <<EOF
[database]
kind = "postgres"
tls = "disable"                     # loopback
password_env = "MERIDIAN_DATABASE_PASSWORD"
probe_interval = "$DATABASE_PROBE"
rpo_budget = "$RPO_BUDGET"
writer_hold = "$WRITE_HOLD"

[database.regions]
EOF
  for j in 0 1 2; do
    printf '"%s" = "host=%s port=5432 user=meridian dbname=meridian"\n' "${REGIONS[$j]}" "${IPS[$j]}"
  done
  printf '\n'
}

start_meridian() {
  local i=$1
  spawn "$i" meridian no env MERIDIAN_DATABASE_PASSWORD="$MERIDIAN_PASSWORD" \
    "$MERIDIAN" --log-format json run --config "$(dir "$i")/meridian.toml"
}

down() {
  [ -d "$LAB_DIR" ] || { log "nothing to take down"; return 0; }
  local i n
  for i in 0 1 2; do stop "$i" meridian KILL; stop "$i" app KILL; done
  # Patroni stops its PostgreSQL cleanly (shared memory released); all three at once, 5 s at most.
  for i in 0 1 2; do stop "$i" patroni TERM 0; done
  local deadline=$((SECONDS + 5))
  for i in 0 1 2; do
    while alive "$(pid_of "$i" patroni || true)" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  done
  # The rest is thrown away: KILL (all etcd members stopped gently at once can stall ~7 s).
  for i in 0 1 2; do
    for n in patroni relay etcd; do stop "$i" "$n" KILL; done
    kill_postgres "$i" KILL
  done
  rm -rf "$LAB_DIR"
  log "down"
}

# === faults ===

fault() { # kind region
  local kind=${1:-} i
  [ -n "${2:-}" ] || die "usage: fault KIND REGION"
  i=$(region_index "$2")
  local r=${REGIONS[$i]}
  case $kind in
    app-kill) stop "$i" app KILL; log "killed the $r app" ;;
    app-freeze) stop "$i" app STOP; log "froze the $r app (SIGSTOP)" ;;
    db-kill)
      stop "$i" patroni KILL; kill_postgres "$i" KILL
      log "killed the $r database (Patroni and PostgreSQL)" ;;
    region-kill)
      stop "$i" app KILL; stop "$i" meridian KILL; stop "$i" patroni KILL
      kill_postgres "$i" KILL; stop "$i" relay KILL; stop "$i" etcd KILL
      log "killed region $r (app, Meridian, Patroni, PostgreSQL, relay, etcd)" ;;
    replication-cut)
      local w; w=$(writer_region) || die "no writer"
      [ "$w" != "$r" ] || die "$r is the writer: cut a replica's link"
      touch "$LAB_DIR/cut/$w/$r"
      log "cut replication $w -> $r" ;;
    switchover)
      local w; w=$(writer_region) || die "no writer"
      [ "$w" != "$r" ] || die "$r is already the writer"
      local wi; wi=$(region_index "$w")
      curl -sf -m 30 -X POST "http://${IPS[$wi]}:8008/switchover" \
        -d "{\"leader\": \"$w\", \"candidate\": \"$r\"}" >&2
      echo >&2
      log "switchover $w -> $r requested" ;;
    *) die "unknown fault '$kind' (app-kill app-freeze db-kill region-kill replication-cut switchover)" ;;
  esac
}

heal() { # kind region
  local kind=${1:-} i
  [ -n "${2:-}" ] || die "usage: heal KIND REGION"
  i=$(region_index "$2")
  local r=${REGIONS[$i]}
  case $kind in
    app-kill) start_app "$i"; log "restarted the $r app" ;;
    app-freeze) stop "$i" app CONT; log "thawed the $r app" ;;
    db-kill) start_patroni "$i"; log "restarted the $r database (Patroni rejoins it)" ;;
    region-kill)
      start_etcd "$i"; start_relay "$i"; start_patroni "$i"; start_app "$i"
      start_meridian "$i"; log "restarted region $r" ;;
    replication-cut) rm -f "$LAB_DIR"/cut/*/"$r"; log "restored replication to $r" ;;
    switchover) log "nothing to heal after a switchover" ;;
    *) die "unknown fault '$kind'" ;;
  esac
}

status() {
  [ -d "$LAB_DIR" ] || { echo "no lab in $LAB_DIR"; return 1; }
  local i n
  for i in 0 1 2; do
    printf '%-15s' "${REGIONS[$i]}"
    for n in etcd relay patroni app meridian; do
      if alive "$(pid_of "$i" "$n" || true)"; then printf ' %s:up' "$n"; else printf ' %s:DOWN' "$n"; fi
    done
    echo
  done
  echo "patroni (name role state lag timeline):"
  cluster | sed 's/^/  /' || echo "  no Patroni answers"
  echo "writer: $(writer_region || echo none)"
  echo "etcd leader: $(etcd_leader || echo none)"
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  writer) writer_region ;;
  etcd-leader) etcd_leader ;;
  etcd-lead) etcd_lead "$(region_index "${2:-}")"; log "etcd raft leader: $(etcd_leader)" ;;
  sync)
    case ${2:-} in on) v=true ;; off) v=false ;; *) die "usage: sync on|off" ;; esac
    w=$(region_index writer)
    curl -sf -m 5 -X PATCH "http://${IPS[$w]}:8008/config" -d "{\"synchronous_mode\": $v}" >/dev/null
    log "synchronous_mode $v" ;;
  guard)
    case ${2:-} in on) rm -f "$LAB_DIR/guard-off" ;; off) touch "$LAB_DIR/guard-off" ;;
      *) die "usage: guard on|off" ;; esac
    for i in 0 1 2; do write_meridian_config "$i"; stop "$i" meridian HUP; done
    log "RPO guard ${2} (Meridians reloaded)" ;;
  fault) shift; fault "$@" ;;
  heal) shift; heal "$@" ;;
  *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
