#!/usr/bin/env bash
# Ingest benchmark: builds the aggregator in release, starts it on 127.0.0.1 with a fresh SQLite
# folder and 4,096-dim updates, drives it with wrk (distinct nonces per request), and prints
# accepted updates/s and the server's memory. Needs `wrk` (Debian: apt-get install -y wrk).
# Usage: aggregator/bench/ingest.sh [SECONDS] [CONNECTIONS] [DIMENSION]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN="${1:-10}"
CONNECTIONS="${2:-128}"
DIMENSION="${3:-4096}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

cargo build --release -p aggregator --bin aggregator --example bench_body >&2
WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BODY_FILE="$WORK/body.bin"
target/release/examples/bench_body "$BODY_FILE" "$DIMENSION" >&2

target/release/aggregator --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --dimension "$DIMENSION" \
  --min-updates-per-round 1000000000 --rate-limit-per-minute 0 >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
RSS_BEFORE=$(rss_kb)
CPU_BEFORE=$(cpu_ticks)
TIMEFORMAT='%U %S'
{ time BODY_FILE="$BODY_FILE" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TO_RUN}s" --latency \
  -s aggregator/bench/post_updates.lua "http://127.0.0.1:$PORT" >"$WORK/wrk.txt" ; } 2>"$WORK/wrk_cpu.txt"
cat "$WORK/wrk.txt" >&2
CPU_AFTER=$(cpu_ticks)
WRK_CPU=$(awk '{print $1 + $2}' "$WORK/wrk_cpu.txt")
TICK=$(getconf CLK_TCK)
LOAD=$(cut -d' ' -f1 /proc/loadavg)
RSS_AFTER=$(rss_kb)
PEAK=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER/status")
ACCEPTED=$(curl -fsS "http://127.0.0.1:$PORT/v1/rounds/current" | python3 -c 'import json,sys; print(json.load(sys.stdin)["updatesReceived"])')
NON2XX=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt")
DB_BYTES=$(du -sb "$WORK/data" | cut -f1)
python3 - "$ACCEPTED" "$SECONDS_TO_RUN" <<PY
import sys
accepted, seconds = int(sys.argv[1]), float(sys.argv[2])
server_cpu = ($CPU_AFTER - $CPU_BEFORE) / $TICK
wrk_cpu = $WRK_CPU
print(f"dimension {$DIMENSION}, body {$(stat -c %s "$BODY_FILE")} bytes, {$CONNECTIONS} connections, {seconds:.0f} s, $(nproc) cores")
print(f"accepted updates: {accepted} -> {accepted / seconds:,.0f} updates/s (durable, group-committed to SQLite)")
print(f"non-2xx responses: ${NON2XX:-0}; load average at the end: $LOAD (other processes share these cores)")
if accepted and server_cpu > 0:
    per_update = server_cpu / accepted * 1e6
    print(f"server CPU: {server_cpu:.2f} s = {per_update:.1f} us per update -> {1e6 / per_update:,.0f} updates/s per core")
    print(f"server + wrk CPU: {(server_cpu + wrk_cpu) / accepted * 1e6:.1f} us per update -> "
          f"{2 * accepted / (server_cpu + wrk_cpu):,.0f} updates/s if both had the 2 cores to themselves")
print(f"server RSS: {$RSS_BEFORE/1024:.1f} MiB idle, {$RSS_AFTER/1024:.1f} MiB after, peak {$PEAK/1024:.1f} MiB")
print(f"data folder: {$DB_BYTES/1e6:.1f} MB (running sum + 16-byte nonces; no update is stored)")
PY
