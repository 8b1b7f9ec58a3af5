#!/usr/bin/env bash
# One drill scenario end to end: lab up, drive canary writes and reads through the three
# Meridians, inject the fault, heal, check every acknowledged write against the surviving
# writer's database, lab down. Writes target/drill/SCENARIO.json and SCENARIO.svg.
#
#   drill/run.sh SCENARIO        one scenario (exit 0 when the outcome is the one expected)
#   drill/run.sh all             every scenario, then a summary table
#   drill/run.sh list            the scenarios and what each expects
#
# Environment: DRILL_RATE (50/s), DRILL_DURATION (45s), FAULT_AT (10s), HEAL_AT (30s),
# DRILL_RTO / DRILL_RPO (override the objectives), plus everything drill/lab.sh reads
# (PATRONI_TTL...). The RTO objective is the failover engine's ttl + 1 s; the RPO objective is
# the RPO guard's budget (0 in synchronous mode and for a planned switchover).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LAB="$ROOT/drill/lab.sh"
MERIDIAN=${MERIDIAN_BIN:-$ROOT/target/debug/meridian}
export MERIDIAN_BIN=$MERIDIAN
OUT=${DRILL_OUT:-$ROOT/target/drill}
read -r -a IPS <<<"${LAB_IPS:-127.0.0.21 127.0.0.22 127.0.0.23}"
RATE=${DRILL_RATE:-50/s}
DURATION=${DRILL_DURATION:-45s}
FAULT_AT=${FAULT_AT:-10s}
HEAL_AT=${HEAL_AT:-30s}
TTL=${PATRONI_TTL:-10}
RPO_BUDGET=${RPO_BUDGET:-5s}
# An answer later than this counts as a failure for RTO. 2 s: a read of a fresh write may wait
# the data tier's read_wait (500 ms) and then cross to the writer's region, and such answers
# (measured up to 1.3 s) are service, not an outage; a write held through a failover waits
# longer than this whatever the threshold, so the write RTO does not depend on it.
SLOW=${DRILL_SLOW:-2s}

# name | lab up flags | fault kind | fault region | heal | RTO objective | RPO objective | expect | what it shows
SCENARIOS=(
  "app-region-kill||app-kill|eu-west-1|heal|$((TTL + 1))s|$RPO_BUDGET|met|a replica region's app killed; its Meridian fails requests over"
  "app-writer-region-kill||app-kill|writer|heal|$((TTL + 1))s|$RPO_BUDGET|missed|the writer region's app killed: only that region's app writes to the writer, so writes wait for it"
  "app-region-freeze||app-freeze|eu-west-1|heal|$((TTL + 1))s|$RPO_BUDGET|met|a replica region's app frozen (SIGSTOP), thawed at the heal"
  "writer-db-kill||db-kill|writer|heal|$((TTL + 1))s|$RPO_BUDGET|met|the writer's Patroni and PostgreSQL killed; Patroni promotes a replica, Meridian follows"
  "writer-db-kill-sync|--sync|db-kill|writer|heal|$((TTL + 1))s|0s|met|the same in synchronous_mode: no acknowledged write may be lost"
  "region-loss||region-kill|writer|heal|$((TTL + 1))s|$RPO_BUDGET|met|the whole writer region (app, Meridian, database, etcd member) killed; driven through the two surviving front doors"
  "replication-cut-guard-on||replication-cut+db-kill|writer|heal|$((TTL + 1))s|$RPO_BUDGET|met|replication from the writer to both replicas cut, then the writer killed; the RPO guard holds writes beyond its budget"
  "replication-cut-guard-off||replication-cut+db-kill|writer|heal|$((TTL + 1))s|$RPO_BUDGET|missed|the same with the guard off (rpo_policy expose): every write since the cut is lost"
  "planned-switchover||switchover|eu-west-1|none|$((TTL + 1))s|0s|met|Patroni switchover to eu-west-1: zero errors and zero lost writes expected"
)

log() { printf '[run %s] %s\n' "$(date +%T)" "$*" >&2; }

field() { # scenario-line index
  local IFS='|' parts
  read -r -a parts <<<"$1"
  echo "${parts[$2]:-}"
}

find_scenario() {
  local s
  for s in "${SCENARIOS[@]}"; do
    [ "$(field "$s" 0)" = "$1" ] && { echo "$s"; return 0; }
  done
  return 1
}

secs() { echo "${1%s}"; }

run_one() {
  local line; line=$(find_scenario "$1") || { log "unknown scenario $1 (drill/run.sh list)"; exit 2; }
  local name flags kind region heal rto rpo expect
  name=$(field "$line" 0); flags=$(field "$line" 1); kind=$(field "$line" 2)
  region=$(field "$line" 3); heal=$(field "$line" 4); rto=$(field "$line" 5)
  rpo=$(field "$line" 6); expect=$(field "$line" 7)
  rto=${DRILL_RTO:-$rto}; rpo=${DRILL_RPO:-$rpo}
  [ -x "$MERIDIAN" ] || cargo build --quiet
  mkdir -p "$OUT"
  trap '"$LAB" down >/dev/null 2>&1 || true' EXIT
  log "$name: $(field "$line" 8)"
  # set -e does not apply inside a function called from `||` (run_one is, by `all`): every
  # step that can fail is checked.
  local setup_failed="the lab did not come up"
  # shellcheck disable=SC2086
  "$LAB" up $flags || { log "$name: $setup_failed"; "$LAB" down; return 2; }
  if [[ $name == *guard-off ]]; then
    "$LAB" guard off || { log "$name: cannot switch the guard off"; "$LAB" down; return 2; }
  fi
  # Resolve the region now: after the fault, "writer" names another one.
  if [ "$region" = writer ]; then
    region=$("$LAB" writer) || { log "$name: no writer"; "$LAB" down; return 2; }
  fi
  # A lost region takes its etcd member along; the worst case is that member leading the raft
  # group (a new leader re-grants every lease, Patroni's leader key included), so make it so.
  if [ "$kind" = region-kill ]; then
    "$LAB" etcd-lead "$region" || { log "$name: cannot move the etcd leader"; "$LAB" down; return 2; }
  fi
  local etcd_leader; etcd_leader=$("$LAB" etcd-leader || echo unknown)
  local targets=() i
  for i in 0 1 2; do
    # A lost region's clients are moved by DNS (Route 53); the drill drives the survivors.
    [ "$kind" = region-kill ] && [ "$(region_name "$i")" = "$region" ] && continue
    targets+=(--target "http://${IPS[$i]}:8080")
  done
  local fault_args=() duration=$DURATION
  case $kind in
    replication-cut+db-kill)
      # Cut the writer's links to both replicas at the usual fault second, let writes pile up
      # unreplicated for CUT_FOR (15 s, three times the guard's budget), then lose the writer;
      # the cut is healed a second later, once the old writer is dead (nothing more can flow).
      local cut_at kill_at r
      cut_at=$(secs "$FAULT_AT"); kill_at=$((cut_at + $(secs "${CUT_FOR:-15s}")))
      for r in $(replicas_of "$region"); do
        fault_args+=(--step "${cut_at}s=$LAB fault replication-cut $r")
      done
      fault_args+=(--fault-at "${kill_at}s" --fault-cmd "$LAB fault db-kill $region")
      fault_args+=(--step "$((kill_at + 1))s=$(heal_cuts "$region")")
      fault_args+=(--heal-at "$((kill_at + 20))s" --heal-cmd "$LAB heal db-kill $region")
      duration="$((kill_at + 35))s"
      ;;
    *)
      fault_args+=(--fault-at "$FAULT_AT" --fault-cmd "$LAB fault $kind $region")
      [ "$heal" = heal ] && fault_args+=(--heal-at "$HEAL_AT" --heal-cmd "$LAB heal $kind $region")
      ;;
  esac
  local code=0
  "$MERIDIAN" drill "${targets[@]}" --rate "$RATE" --duration "$duration" "${fault_args[@]}" \
    --scenario "$name" --timeout 25s --slow "$SLOW" \
    --check-database "$(check_url)" --json "$OUT/$name.json" --records "$OUT/$name.records.jsonl" --rto "$rto" --rpo "$rpo" \
    || code=$?
  { settings; echo "fault region: $region; etcd raft leader at the start: $etcd_leader"; } >"$OUT/$name.settings"
  # Keep every daemon's log for a closer look (Patroni's decisions, Meridian's JSON lines).
  rm -rf "$OUT/$name.logs"; mkdir -p "$OUT/$name.logs"
  for r in us-east-1 eu-west-1 ap-southeast-1; do
    for f in "${LAB_DIR:-/tmp/meridian-lab}/$r"/*.log; do
      [ -f "$f" ] && cp "$f" "$OUT/$name.logs/$r-$(basename "$f")"
    done
  done
  "$LAB" down || true
  trap - EXIT
  local outcome
  case $code in 0) outcome=met ;; 1) outcome=missed ;; *) log "$name: the drill could not run (exit $code)"; return 2 ;; esac
  if [ "$outcome" = "$expect" ]; then
    log "$name: objectives $outcome, as expected"
  else
    log "$name: objectives $outcome, expected $expect"
    return 1
  fi
}

region_name() { local r=(us-east-1 eu-west-1 ap-southeast-1); echo "${r[$1]}"; }

replicas_of() { local r; for r in us-east-1 eu-west-1 ap-southeast-1; do [ "$r" != "$1" ] && echo "$r"; done; }

heal_cuts() { local r cmds=(); for r in $(replicas_of "$1"); do cmds+=("$LAB heal replication-cut $r"); done; (IFS=';'; echo "${cmds[*]}"); }

check_url() {
  echo "postgresql://ledger:lab-ledger@${IPS[0]}:5432,${IPS[1]}:5432,${IPS[2]}:5432/ledger?target_session_attrs=read-write&connect_timeout=2"
}

# What the figures were measured on, stored next to them.
settings() {
  echo "date: $(date -u +%FT%TZ)"
  echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
  echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "postgresql: $("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/postgres" --version)"
  echo "patroni: $(patroni --version 2>&1)"
  echo "etcd: $(etcd --version 2>&1 | head -1)"
  echo "meridian: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "patroni settings: ttl ${PATRONI_TTL:-10}, loop_wait ${PATRONI_LOOP_WAIT:-1}, retry_timeout ${PATRONI_RETRY_TIMEOUT:-3}, maximum_lag_on_failover ${PATRONI_MAX_LAG:-1048576}"
  echo "meridian data tier: probe_interval ${DATABASE_PROBE:-250ms}, rpo_budget $RPO_BUDGET, writer_hold ${WRITE_HOLD:-15s}"
  echo "drill: rate $RATE, duration $DURATION, fault at $FAULT_AT, heal at $HEAL_AT, slow $SLOW"
}

summary() {
  /usr/bin/python3 - "$OUT" "$@" <<'PY'
import json, os, sys
out, names = sys.argv[1], sys.argv[2:]
print(f"{'scenario':<28}{'write RTO':>11}{'w err':>7}{'in flight':>10}{'lost':>6}{'RPO':>9}{'read RTO':>10}{'r err':>7}{'stale':>7}  objectives")
for n in names:
    p = os.path.join(out, n + ".json")
    if not os.path.exists(p):
        print(f"{n:<28}  (no report)")
        continue
    r = json.load(open(p))
    w, rd = r["writes"], r["reads"]
    ms = lambda v: "never" if v is None else f"{v/1000:.1f} s"
    o = r["objectives"]
    print(f"{n:<28}{ms(w['rto_ms']):>11}{w['errors']:>7}{w['in_flight_at_fault']:>10}{w['lost']:>6}"
          f"{w['rpo_ms']/1000:>8.1f}s{ms(rd['rto_ms']):>10}{rd['errors']:>7}{rd['stale']:>7}  "
          + ("met" if o["met"] else "missed: " + "; ".join(o["missed"])))
PY
}

case ${1:-} in
  list)
    for s in "${SCENARIOS[@]}"; do
      printf '%-28s expect %-7s %s\n' "$(field "$s" 0)" "$(field "$s" 7)" "$(field "$s" 8)"
    done ;;
  all)
    names=(); failed=0
    for s in "${SCENARIOS[@]}"; do
      n=$(field "$s" 0); names+=("$n")
      run_one "$n" || failed=$((failed + 1))
    done
    summary "${names[@]}"
    [ "$failed" = 0 ] ;;
  "") sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  *) rc=0; run_one "$1" || rc=$?; summary "$1"; exit "$rc" ;;
esac
