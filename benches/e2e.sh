#!/usr/bin/env bash
# End-to-end comparison of Meridian with nginx and HAProxy on loopback.
#
#   benches/e2e.sh [throughput|failover|all]      (default: throughput)
#
# throughput: wrk (keep-alive, CONNS connections, 2 threads, DURATION s) against the local
#   origin directly, Meridian (also with --idle-spin, see IDLE_SPIN), nginx and HAProxy,
#   interleaved for ROUNDS rounds. Prints req/s,
#   p50, p99 and the proxy's CPU time per request (utime+stime from /proc over the run / requests),
#   each with its ratio to direct and to nginx (medians over rounds), and Meridian's RSS.
# failover: a constant RATE req/s (benches/loadgen.py) through each proxy while the local origin
#   is SIGKILLed at FAULT_AT s and restarted at RECOVER_AT s; then a second run where it is
#   SIGSTOPped (frozen: the kernel still accepts connections, nothing answers) and SIGCONTinued.
#   Prints client errors, responses slower than SLOW_MS and the time from fault to last bad one.
#
# Every proxy gets one worker thread (Meridian and the origins: TOKIO_WORKER_THREADS=1; nginx:
# worker_processes 1; HAProxy: nbthread 1), so the comparison is fair on a 2-core machine.
# Loopback only; every process started here is stopped on exit; every wait has a deadline.
# Results go to OUT_DIR (default target/e2e/<mode>-<time>).
set -euo pipefail

MODE=${1:-throughput}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
RATE=${RATE:-500}
FAULT_RUN=${FAULT_RUN:-20}
FAULT_AT=${FAULT_AT:-5}
RECOVER_AT=${RECOVER_AT:-12}
SLOW_MS=${SLOW_MS:-500}
MAX_SECONDS=${MAX_SECONDS:-1800}
# equivalent: nginx and HAProxy do the header work Meridian does on every request (generate an
# X-Request-Id when absent, pass it on and return it, set X-Forwarded-Proto and -Host, name the
# server that answered). minimal: they only append X-Forwarded-For.
PEER_HEADERS=${PEER_HEADERS:-equivalent}
# shared: the kernel places every process. pinned: the proxies and the origins on CPU 0, the load
# generator on CPU 1, the same placement for every proxy (as deployed: the proxy shares its task's
# vCPUs with the application, clients are elsewhere). Under shared placement on 2 cores, which
# processes share a core settles early in each round and moves throughput by 10-15 %; Meridian's
# core hosts a wrk thread most of the time (BENCHMARKS.md, "Placement").
PLACEMENT=${PLACEMENT:-shared}
# IDLE_SPIN (default 50us) adds a fifth target to the rounds: a second Meridian run with
# --idle-spin (a busy worker stays on its core that long before it sleeps; off by default in
# Meridian), so each round compares Meridian with and without it. IDLE_SPIN= (empty) leaves it out.
# nginx has no such option; HAProxy's busy-polling spins all the time rather than only while
# busy, so it is not the same trade and is left off.
IDLE_SPIN=${IDLE_SPIN-50us}

case "$MODE" in
throughput | failover | all) ;;
*)
    echo "usage: $0 [throughput|failover|all]" >&2
    exit 2
    ;;
esac
case "$PEER_HEADERS" in
equivalent | minimal) ;;
*)
    echo "PEER_HEADERS must be equivalent or minimal" >&2
    exit 2
    ;;
esac
SERVER_CPU=()
CLIENT_CPU=()
case "$PLACEMENT" in
shared) ;;
pinned)
    if [ "$(nproc)" -lt 2 ]; then
        echo "PLACEMENT=pinned needs two CPUs" >&2
        exit 2
    fi
    SERVER_CPU=(taskset -c 0)
    CLIENT_CPU=(taskset -c 1)
    ;;
*)
    echo "PLACEMENT must be shared or pinned" >&2
    exit 2
    ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/meridian-config.sh
source "$ROOT/benches/meridian-config.sh"
BIN=$ROOT/target/release/meridian
OUT_DIR=${OUT_DIR:-$ROOT/target/e2e/$MODE-$(date +%Y%m%d-%H%M%S)}
WORK=$(mktemp -d /tmp/meridian-e2e.XXXXXX)
mkdir -p "$OUT_DIR"
TICK=$(getconf CLK_TCK)

# --- processes -------------------------------------------------------------------------------

PIDS=()
WATCHDOG=

cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
    sleep 0.5
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    if [ -n "$WATCHDOG" ]; then
        # The watchdog's sleep holds our stdout open: end it together with its subshell.
        kill $(pgrep -P "$WATCHDOG") "$WATCHDOG" 2>/dev/null
    fi
    cp "$WORK"/*.log "$OUT_DIR/" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The whole run is bounded: the watchdog ends it after MAX_SECONDS.
(sleep "$MAX_SECONDS" && echo "e2e: over ${MAX_SECONDS}s, stopping" >&2 && kill -TERM $$) &
WATCHDOG=$!

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL [expected-status]: polls until the URL answers, 15 s at most.
wait_http() {
    local deadline=$((SECONDS + 15)) code
    while ((SECONDS < deadline)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' -m 1 -H 'Host: api.example.com' "$1" || true)
        [ "$code" = "${2:-200}" ] && return 0
        sleep 0.1
    done
    log "timed out waiting for $1"
    return 1
}

# cpu_ticks PID...: utime+stime of all the given processes, in clock ticks.
cpu_ticks() {
    local total=0 pid stat
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat")
        stat=${stat##*) } # fields after the command name (which may contain spaces)
        read -r -a f <<<"$stat"
        total=$((total + f[11] + f[12])) # fields 14 and 15 of stat(5)
    done
    echo "$total"
}

rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# --- setup -----------------------------------------------------------------------------------

install_tools() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx-light)
    command -v haproxy >/dev/null || missing+=(haproxy)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    # Debian starts the packaged services; they are not ours to stop, and we use our own ports.
}

P_ORIGIN=("$(free_port)" "$(free_port)" "$(free_port)")
REGIONS=(us-east-1 eu-west-1 ap-southeast-1)
P_MERIDIAN=$(free_port)
P_ADMIN=$(free_port)
P_NGINX=$(free_port)
P_HAPROXY=$(free_port)
P_SPIN=$(free_port)
P_SPIN_ADMIN=$(free_port)
ORIGIN_PID=()

start_origin() {
    local i=$1
    TOKIO_WORKER_THREADS=1 "${SERVER_CPU[@]}" "$BIN" origin --listen "127.0.0.1:${P_ORIGIN[$i]}" \
        --region "${REGIONS[$i]}" 2>>"$WORK/origin-$i.log" &
    ORIGIN_PID[i]=$!
    PIDS+=($!)
    wait_http "http://127.0.0.1:${P_ORIGIN[$i]}/healthz"
}

write_configs() {
    meridian_config "$P_MERIDIAN" "$P_ADMIN" 1s "${P_ORIGIN[@]}" >"$WORK/meridian.toml"
    meridian_config "$P_SPIN" "$P_SPIN_ADMIN" 1s "${P_ORIGIN[@]}" >"$WORK/meridian-spin.toml"

    # The per-request header work beyond X-Forwarded-For (see PEER_HEADERS).
    local nginx_map='' nginx_headers='' haproxy_headers=''
    if [ "$PEER_HEADERS" = equivalent ]; then
        # shellcheck disable=SC2016 # nginx variables, not the shell's
        nginx_map='map $http_x_request_id $req_id { default $http_x_request_id; "" $request_id; }'
        # shellcheck disable=SC2016
        nginx_headers='proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Request-Id $req_id;
            add_header X-Request-Id $req_id always;
            add_header X-Served-By $upstream_addr always;'
        haproxy_headers='unique-id-format %[uuid()]
    http-request set-var(txn.rid) req.hdr(x-request-id)
    http-request set-var(txn.rid) unique-id if !{ var(txn.rid) -m found }
    http-request set-header X-Request-Id %[var(txn.rid)]
    http-request set-header X-Forwarded-Proto http
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-response set-header X-Request-Id %[var(txn.rid)]
    http-response set-header X-Served-By %[srv_name]'
    fi

    mkdir -p "$WORK/nginx-tmp"
    cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx-tmp/body;
    proxy_temp_path $WORK/nginx-tmp/proxy;
    fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
    scgi_temp_path $WORK/nginx-tmp/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    $nginx_map
    upstream origins {
        server 127.0.0.1:${P_ORIGIN[0]} max_fails=1 fail_timeout=10s;
        server 127.0.0.1:${P_ORIGIN[1]} backup;
        server 127.0.0.1:${P_ORIGIN[2]} backup;
        keepalive 256;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$P_NGINX backlog=4096;
        location / {
            proxy_pass http://origins;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            $nginx_headers
            proxy_connect_timeout 250ms;
            proxy_send_timeout 2s;
            proxy_read_timeout 2s;
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 5s;
        }
    }
}
EOF

    cat >"$WORK/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8000
    log stderr format short local0 warning

defaults
    mode http
    log global
    option http-keep-alive
    option forwardfor
    timeout connect 250ms
    timeout client 30s
    timeout server 2s
    timeout http-keep-alive 60s
    timeout queue 5s
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 503 504

frontend fe
    bind 127.0.0.1:$P_HAPROXY
    $haproxy_headers
    default_backend origins

backend origins
    http-reuse always
    option httpchk
    http-check send meth GET uri /healthz
    http-check expect status 200
    default-server check inter 1s fall 2 rise 2 observe layer7 error-limit 1 on-error mark-down
    server us-east-1 127.0.0.1:${P_ORIGIN[0]}
    server eu-west-1 127.0.0.1:${P_ORIGIN[1]} backup
    server ap-southeast-1 127.0.0.1:${P_ORIGIN[2]} backup
EOF
}

MERIDIAN_PID=
SPIN_PID=
NGINX_PID=
HAPROXY_PID=

start_proxies() {
    TOKIO_WORKER_THREADS=1 "${SERVER_CPU[@]}" "$BIN" run --config "$WORK/meridian.toml" 2>>"$WORK/meridian.log" &
    MERIDIAN_PID=$!
    PIDS+=($!)
    "${SERVER_CPU[@]}" nginx -c "$WORK/nginx.conf" -g 'daemon off;' 2>>"$WORK/nginx-stderr.log" &
    NGINX_PID=$!
    PIDS+=($!)
    "${SERVER_CPU[@]}" haproxy -f "$WORK/haproxy.cfg" 2>>"$WORK/haproxy.log" &
    HAPROXY_PID=$!
    PIDS+=($!)
    if [ -n "$IDLE_SPIN" ]; then
        TOKIO_WORKER_THREADS=1 "${SERVER_CPU[@]}" "$BIN" --idle-spin "$IDLE_SPIN" run \
            --config "$WORK/meridian-spin.toml" 2>>"$WORK/meridian-spin.log" &
        SPIN_PID=$!
        PIDS+=($!)
        wait_http "http://127.0.0.1:$P_SPIN/.meridian/readyz"
    fi
    wait_http "http://127.0.0.1:$P_MERIDIAN/"
    wait_http "http://127.0.0.1:$P_MERIDIAN/.meridian/readyz"
    wait_http "http://127.0.0.1:$P_NGINX/"
    wait_http "http://127.0.0.1:$P_HAPROXY/"
}

stop_proxies() {
    local pid
    for pid in $MERIDIAN_PID $SPIN_PID $NGINX_PID $HAPROXY_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $MERIDIAN_PID $SPIN_PID $NGINX_PID $HAPROXY_PID; do
        # Meridian drains for its shutdown.drain before exiting: do not wait that long.
        timeout 2 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
}

# pids_of NAME: the processes whose CPU counts for NAME.
pids_of() {
    case $1 in
    direct) echo "${ORIGIN_PID[0]}" ;;
    meridian) echo "$MERIDIAN_PID" ;;
    meridian-spin) echo "$SPIN_PID" ;;
    nginx) echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')" ;;
    haproxy) echo "$HAPROXY_PID" ;;
    esac
}

port_of() {
    case $1 in
    direct) echo "${P_ORIGIN[0]}" ;;
    meridian) echo "$P_MERIDIAN" ;;
    meridian-spin) echo "$P_SPIN" ;;
    nginx) echo "$P_NGINX" ;;
    haproxy) echo "$P_HAPROXY" ;;
    esac
}

# --- throughput ------------------------------------------------------------------------------

cat >"$WORK/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
EOF

run_wrk() { # NAME SECONDS -> RESULT line with cpu_ticks appended
    local name=$1 secs=$2 pids before after line
    pids=$(pids_of "$name")
    # shellcheck disable=SC2086
    before=$(cpu_ticks $pids)
    line=$("${CLIENT_CPU[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --timeout 5s -s "$WORK/report.lua" \
        -H 'Host: api.example.com' "http://127.0.0.1:$(port_of "$name")/e2e" | grep '^RESULT')
    # shellcheck disable=SC2086
    after=$(cpu_ticks $pids)
    echo "$line cpu_ticks=$((after - before))"
}

throughput() {
    local csv=$OUT_DIR/throughput.csv round name line idle peak
    echo "round,target,requests,duration_us,p50_us,p99_us,errors,non2xx,cpu_ticks,clk_tck" >"$csv"
    sleep 2 # let health checks settle
    idle=$(rss_kb "$MERIDIAN_PID" VmRSS)
    local targets=(direct meridian nginx haproxy) i
    [ -z "$IDLE_SPIN" ] || targets+=(meridian-spin)
    log "warm-up"
    for name in "${targets[@]}"; do run_wrk "$name" 2 >/dev/null; done
    for round in $(seq 1 "$ROUNDS"); do
        # Each round starts one target later, so no target always follows the same one.
        for i in "${!targets[@]}"; do
            name=${targets[(i + round - 1) % ${#targets[@]}]}
            line=$(run_wrk "$name" "$DURATION")
            log "round $round $name: $line"
            echo "$round,$name,$(echo "$line" | sed -E 's/RESULT //; s/[a-z0-9_]+=//g; s/ /,/g'),$TICK" >>"$csv"
        done
    done
    peak=$(rss_kb "$MERIDIAN_PID" VmHWM)
    {
        echo "meridian_idle_rss_kb=$idle"
        echo "meridian_peak_rss_kb=$peak"
        echo "nginx_worker_peak_rss_kb=$(rss_kb "$(pgrep -P "$NGINX_PID" | head -1)" VmHWM)"
        echo "haproxy_peak_rss_kb=$(rss_kb "$HAPROXY_PID" VmHWM)"
        if [ -n "$IDLE_SPIN" ]; then
            # What the spin cost over the whole run (warm-up included).
            curl -s "http://127.0.0.1:$P_SPIN_ADMIN/metrics" |
                awk '/^meridian_idle_spin_(microseconds|windows)_total / { print $1 "=" $2 }'
        fi
    } >"$OUT_DIR/rss.txt"
    python3 - "$csv" "$OUT_DIR/rss.txt" "$OUT_DIR/throughput.json" <<'EOF' | tee "$OUT_DIR/throughput.md"
import csv, json, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rss = dict(l.strip().split("=") for l in open(sys.argv[2]) if "=" in l)
targets = list(dict.fromkeys(r["target"] for r in rows))
targets.sort(key=lambda t: ["direct", "meridian", "meridian-spin", "nginx", "haproxy"].index(t))
def rps(r):
    return int(r["requests"]) / (int(r["duration_us"]) / 1e6)
def cpu_us(r):
    return int(r["cpu_ticks"]) / int(r["clk_tck"]) * 1e6 / int(r["requests"])
def p99_us(r):
    return int(r["p99_us"])
med = {}
for t in targets:
    rs = [r for r in rows if r["target"] == t]
    def m(f):
        return statistics.median(f(r) for r in rs)
    med[t] = {
        "rps": m(rps),
        "p50": m(lambda r: int(r["p50_us"]) / 1000),
        "p99": m(p99_us) / 1000,
        "cpu": m(cpu_us),
        "err": sum(int(r["errors"]) + int(r["non2xx"]) for r in rs),
        "runs": len(rs),
    }
def ratio(a, b):
    return f"{a / b:.2f}" if b else "-"
print(f"Medians of {med['direct']['runs']} interleaved runs per target.\n")
print("| target | req/s | x direct | x nginx | p50 ms | x nginx | p99 ms | x direct | x nginx | CPU us/req | x direct | x nginx | errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for t in targets:
    d, n, x = med["direct"], med["nginx"], med[t]
    print(f"| {t} | {x['rps']:.0f} | {ratio(x['rps'], d['rps'])} | {ratio(x['rps'], n['rps'])} "
          f"| {x['p50']:.2f} | {ratio(x['p50'], n['p50'])} | {x['p99']:.2f} | {ratio(x['p99'], d['p99'])} "
          f"| {ratio(x['p99'], n['p99'])} | {x['cpu']:.1f} | {ratio(x['cpu'], d['cpu'])} "
          f"| {ratio(x['cpu'], n['cpu'])} | {x['err']} |")
print("\nCPU us/req of 'direct' is the origin's own CPU per request (the proxies' is theirs alone).")
# Paired by round: each proxy against nginx in the same round, so that load drifting between
# rounds (a shared machine) cancels out of the ratio.
def per_round(t):
    return {r["round"]: r for r in rows if r["target"] == t}
nginx_rounds = per_round("nginx")
print("\nPaired with nginx in the same round (median, range; rounds better than nginx):\n")
print("| target | rounds | req/s x nginx | better | CPU/req x nginx | better | p99 x nginx | better |")
print("|---|---|---|---|---|---|---|---|")
paired = {}
for t in [t for t in targets if t not in ("direct", "nginx")]:
    pairs = [(r, nginx_rounds[k]) for k, r in per_round(t).items() if k in nginx_rounds]
    cols = []
    paired[t] = {}
    for key, f, higher_is_better in [("rps", rps, True), ("cpu", cpu_us, False), ("p99", p99_us, False)]:
        xs = sorted(f(a) / f(b) for a, b in pairs)
        wins = sum(1 for x in xs if (x > 1) == higher_is_better and x != 1)
        paired[t][key] = round(statistics.median(xs), 3)
        cols.append(f"{statistics.median(xs):.2f} ({xs[0]:.2f}-{xs[-1]:.2f}) | {wins}/{len(xs)}")
    print(f"| {t} | {len(pairs)} | " + " | ".join(cols) + " |")
# Machine-readable: benches/compare.py reads this against benches/baseline.json.
json.dump({"medians": med, "paired_with_nginx": paired,
           "rss_kib": {k: int(v) for k, v in rss.items() if k.endswith("_kb")}},
          open(sys.argv[3], "w"), indent=1)
print(f"\nMeridian RSS: idle {int(rss['meridian_idle_rss_kb'])/1024:.1f} MiB, "
      f"peak under load {int(rss['meridian_peak_rss_kb'])/1024:.1f} MiB "
      f"(nginx worker peak {int(rss['nginx_worker_peak_rss_kb'])/1024:.1f} MiB, "
      f"HAProxy peak {int(rss['haproxy_peak_rss_kb'])/1024:.1f} MiB).")
if "meridian-spin" in targets:
    spun, windows = (float(rss.get(f"meridian_idle_spin_{k}_total", 0)) for k in ("microseconds", "windows"))
    requests = sum(int(r["requests"]) for r in rows if r["target"] == "meridian-spin")
    print(f"\nmeridian-spin: {windows:.0f} spin windows, {spun / 1e6:.2f} s spun "
          f"({spun / requests:.2f} us per request measured, warm-up included in the spin).")
EOF
}

# --- failover --------------------------------------------------------------------------------

now() { date +%s.%N; }

fault_run() { # PROXY FAULT(kill|stop)
    local proxy=$1 fault=$2 lg t_fault t_recover out=$OUT_DIR/failover-$1-$2.csv
    "${CLIENT_CPU[@]}" python3 "$ROOT/benches/loadgen.py" --target "127.0.0.1:$(port_of "$proxy")" \
        --rate "$RATE" --duration "$FAULT_RUN" --timeout 10 --out "$out" 2>>"$WORK/loadgen.log" &
    lg=$!
    PIDS+=("$lg")
    sleep "$FAULT_AT"
    t_fault=$(now)
    if [ "$fault" = kill ]; then
        kill -KILL "${ORIGIN_PID[0]}"
        wait "${ORIGIN_PID[0]}" 2>/dev/null || true
    else
        kill -STOP "${ORIGIN_PID[0]}"
    fi
    sleep "$((RECOVER_AT - FAULT_AT))"
    t_recover=$(now)
    if [ "$fault" = kill ]; then
        start_origin 0
    else
        kill -CONT "${ORIGIN_PID[0]}"
    fi
    wait "$lg"
    echo "$proxy,$fault,$t_fault,$t_recover,$out" >>"$OUT_DIR/failover-runs.csv"
    log "$proxy $fault done"
}

failover() {
    local proxy fault
    : >"$OUT_DIR/failover-runs.csv"
    for proxy in meridian ${IDLE_SPIN:+meridian-spin} nginx haproxy; do
        for fault in kill stop; do
            # Each run starts from a healthy local origin that every proxy has seen come back.
            sleep 4
            log "failover: $proxy, local origin ${fault}"
            fault_run "$proxy" "$fault"
        done
    done
    python3 - "$OUT_DIR/failover-runs.csv" "$SLOW_MS" "$OUT_DIR/failover.json" <<'EOF' | tee "$OUT_DIR/failover.md"
import csv, json, sys
slow_ms = float(sys.argv[2])
names = {"kill": "killed (SIGKILL, restarted)", "stop": "frozen (SIGSTOP, SIGCONT)"}
print(f"| proxy | fault | requests | errors | slow (>{slow_ms:.0f} ms) | fault -> last bad response | worst latency ms |")
print("|---|---|---|---|---|---|---|")
runs = []
for proxy, fault, t_fault, t_recover, path in csv.reader(open(sys.argv[1])):
    t_fault = float(t_fault)
    rows = [l for l in open(path) if not l.startswith(("#", "due"))]
    n = errors = slow = 0
    last_bad = None
    worst = 0.0
    for line in rows:
        due, ms, status, error = line.rstrip("\n").split(",", 3)
        due, ms, status = float(due), float(ms), int(status)
        n += 1
        worst = max(worst, ms)
        bad = False
        if not (200 <= status < 300):
            errors += 1
            bad = True
        elif ms > slow_ms:
            slow += 1
            bad = True
        if bad:
            end = due + ms / 1000
            last_bad = end if last_bad is None else max(last_bad, end)
    span = f"{last_bad - t_fault:.2f} s" if last_bad is not None else "none"
    print(f"| {proxy} | {names[fault]} | {n} | {errors} | {slow} | {span} | {worst:.0f} |")
    runs.append({"proxy": proxy, "fault": fault, "requests": n, "errors": errors, "slow": slow,
                 "worst_ms": round(worst)})
json.dump(runs, open(sys.argv[3], "w"), indent=1)
EOF
}

# --- main ------------------------------------------------------------------------------------

install_tools
log "building release"
# Without OUT_DIR: ring's build depends on that variable, so each run's new OUT_DIR rebuilt ring,
# rustls and Meridian (`cargo build -v`: "Dirty ring: the env variable OUT_DIR changed").
(cd "$ROOT" && env -u OUT_DIR cargo build --release --quiet)
{
    echo "date: $(date -Is)"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (dirty tree)')"
    echo "rustc: $(rustc --version)"
    echo "nginx: $(nginx -v 2>&1)"
    echo "haproxy: $(haproxy -v | head -1)"
    echo "wrk: $(wrk --version 2>&1 | head -1)"
    echo "mode=$MODE rounds=$ROUNDS duration=${DURATION}s conns=$CONNS threads=$THREADS rate=$RATE peer_headers=$PEER_HEADERS placement=$PLACEMENT idle_spin=${IDLE_SPIN:-off}"
} >"$OUT_DIR/env.txt"
write_configs
cp "$WORK/meridian.toml" "$WORK/nginx.conf" "$WORK/haproxy.cfg" "$OUT_DIR/"
for i in 0 1 2; do start_origin "$i"; done
start_proxies
log "origins ${P_ORIGIN[*]}, meridian $P_MERIDIAN, nginx $P_NGINX, haproxy $P_HAPROXY"

case "$MODE" in
throughput) throughput ;;
failover) failover ;;
all)
    throughput
    failover
    ;;
esac
stop_proxies
log "results in $OUT_DIR"
python3 "$ROOT/benches/compare.py" "$ROOT/benches/baseline.json" "$OUT_DIR" | tee "$OUT_DIR/compare.md"
