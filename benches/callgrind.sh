#!/usr/bin/env bash
# Instructions executed by Meridian per proxied request, deterministically (callgrind).
#
# Starts three `meridian origin`s and one Meridian (one worker each, health probes hourly so none
# land in the window) with Meridian under valgrind's callgrind, sends 200 warm-up requests, zeroes
# the counters, sends N sequential keep-alive GETs from one Python http.client connection, dumps,
# and prints total instructions / N. Usage: benches/callgrind.sh [N] (default 2000).
# DATABASE=1 adds a [database] section (probes every minute, so none land in the window): the same
# GET then also passes the data tier's read path (no token: served locally).
# TELEMETRY=off (default) | tracing (every request traced, exported over OTLP/HTTP to a local
# sink) | tracing-unsampled (tracing on, sample ratio 0: spans started, propagated, not exported)
# | access-log (one JSON line per request, stdout to /dev/null) measures what each one costs.
# Needs valgrind (installed from Debian when missing) and python3. Output: target/callgrind/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/meridian-config.sh
source benches/meridian-config.sh
N=${1:-2000}
TELEMETRY=${TELEMETRY:-off}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release --quiet
BIN=target/release/meridian
OUT=target/callgrind; rm -rf "$OUT"; mkdir -p "$OUT"
read -r P_M P_A P0 P1 P2 P_C < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])')
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for pair in "$P0:us-east-1" "$P1:eu-west-1" "$P2:ap-southeast-1"; do
  MERIDIAN_WORKERS=1 "$BIN" origin --listen "127.0.0.1:${pair%%:*}" --region "${pair##*:}" 2>/dev/null &
  pids+=($!)
done
# The e2e benchmark's config, with health probes hourly so none land in the measured window.
meridian_config "$P_M" "$P_A" 1h "$P0" "$P1" "$P2" >"$OUT/meridian.toml"
if [ "${DATABASE:-0}" = 1 ]; then
  printf '\n[database]\ntls = "disable"\nprobe_interval = "60s"\nrpo_budget = "60s"\n[database.regions]\n"us-east-1" = "host=127.0.0.1 port=1 user=m"\n' >>"$OUT/meridian.toml"
fi
collector() {
  # An OTLP/HTTP sink: 200 to every POST, the body read and discarded.
  python3 - "$P_C" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
  pids+=($!)
}
case "$TELEMETRY" in
  off) ;;
  tracing|tracing-unsampled)
    collector
    ratio=1.0; [ "$TELEMETRY" = tracing-unsampled ] && ratio=0.0
    printf '\n[tracing]\nenabled = true\nendpoint = "http://127.0.0.1:%s/v1/traces"\nsample_ratio = %s\n' \
      "$P_C" "$ratio" >>"$OUT/meridian.toml" ;;
  access-log) printf '\n[access_log]\nenabled = true\n' >>"$OUT/meridian.toml" ;;
  *) echo "TELEMETRY must be off, tracing, tracing-unsampled or access-log" >&2; exit 2 ;;
esac
MERIDIAN_WORKERS=1 valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" \
  "$BIN" run --config "$OUT/meridian.toml" 2>"$OUT/valgrind.log" >/dev/null &
VP=$!; pids+=($VP)
client() {
  python3 - "$1" "$P_M" <<'PY'
import http.client, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", "/e2e", headers={"Host": "api"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
}
for _ in $(seq 1 100); do client 1 2>/dev/null && break; sleep 0.3; done
client 200
callgrind_control -z "$VP" >/dev/null
client "$N"
callgrind_control -d "$VP" >/dev/null
sleep 0.5
total=$(callgrind_annotate "$OUT/callgrind.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1; exit}')
echo "instructions ($TELEMETRY): $total over $N requests = $((total / N)) per request"
echo "profile: $OUT/callgrind.out.1 (callgrind_annotate --inclusive=yes $OUT/callgrind.out.1)"
