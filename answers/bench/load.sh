#!/usr/bin/env bash
# Load benchmark of `answers serve` with wrk on 127.0.0.1: item answers of 100 candidates with
# 64-d embeddings. Paced runs (each connection waits DELAY_MS between requests) for the latency
# near 1,000 requests/s, then an unpaced run for the throughput at saturation.
# Usage: answers/bench/load.sh SESSIONS_FILE [PORT]   (needs `cargo build --release -p answers`)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/../../target/release/answers"
sessions="${1:?sessions file}"
port="${2:-18091}"
seconds="${SECONDS_PER_RUN:-20}"
command -v wrk >/dev/null || { echo "load.sh: install wrk (apt-get install -y wrk)"; exit 2; }
timeout 600 "$bin" serve --sessions "$sessions" --listen "127.0.0.1:$port" >/tmp/answers-load-server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/healthz"; echo
bytes=$(curl -s "http://127.0.0.1:$port/v1/answers/item/1" | wc -c)
echo "one answer: $bytes bytes"
run() { # connections delay_ms threads
  echo "== $1 connections, delay ${2} ms, $3 wrk threads, ${seconds} s"
  DELAY_MS="$2" timeout $((seconds + 30)) wrk -t"$3" -c"$1" -d"${seconds}s" --latency -s "$here/item.lua" "http://127.0.0.1:$port" \
    | grep -E "Latency|50%|90%|99%|Requests/sec|requests in|Non-2xx|Socket errors"
}
run 10 10 1
run 20 20 1
run 20 18 1
run 64 0 2
