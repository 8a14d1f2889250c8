#!/usr/bin/env bash
# render.sh reproduces deploy/grafana/screenshot.png end to end: it starts a
# redis-server, notify-wss and Prometheus (scraping /metrics every 2 s) on
# free ports, drives about three minutes of bench load (WebSocket clients
# from bench/cmd/loadgen: idle, fanout, churn, slow; long-polling clients
# and wrongly signed tokens from clients.js), then renders the dashboard's
# own panels and queries from Prometheus with the previewer (main.go) and
# screenshots the page with headless Chromium. The window ends while the
# idle and polling clients are still connected, so the stat panels show a
# live server.
#
# Needs: go, redis-server, prometheus, chromium, node (make deps-node).
# Usage: deploy/grafana/preview/render.sh [OUT.png]   (from anywhere)
# Keeps its work directory (logs, loadgen results, the HTML) when KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
OUT=${1:-deploy/grafana/screenshot.png}
case $OUT in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
SCRAPE=2s
SECRET=bench-secret
WORK=$(mktemp -d /tmp/dashboard-preview.XXXXXX)
PIDS=()

cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

for cmd in go redis-server prometheus chromium node; do
	command -v "$cmd" >/dev/null || { echo "render.sh: $cmd is missing (apt-get install redis-server prometheus chromium nodejs)"; exit 1; }
done

# free_port prints a TCP port nothing listens on.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
}

# wait_http waits until URL answers 200.
wait_http() {
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	echo "render.sh: $1 did not come up"; exit 1
}

echo "== build"
make --no-print-directory build deps-node
go build -o "$WORK/loadgen" ./bench/cmd/loadgen
go build -o "$WORK/preview" ./deploy/grafana/preview

REDIS_PORT=$(free_port)
PORT=$(free_port)
PROM_PORT=$(free_port)

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
NODE_ENV=production REDIS_URL="redis://127.0.0.1:$REDIS_PORT" JWT_SECRET=$SECRET HOST=127.0.0.1 PORT=$PORT \
	EMITTER=on MAX_OUTBOUND=262144 LOG_LEVEL=warn DRAIN_DURATION=0 ./bin/notify-wss >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_http "http://127.0.0.1:$PORT/ready"

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: $SCRAPE
  scrape_timeout: 2s
scrape_configs:
  - job_name: notify-wss
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PROM_PORT/-/ready"

FROM=$(date +%s)
sleep 6 # a few scrapes of the empty server first
LG=("-target" "127.0.0.1:$PORT" "-redis" "127.0.0.1:$REDIS_PORT" "-secret" "$SECRET" "-server-pid" "$SERVER_PID")

echo "== load: 600 idle WebSocket clients, 40 polling clients, bad tokens at 60-90 s, 2 notifications/s"
NODE_PATH=internal/sioclient/node_modules node deploy/grafana/preview/clients.js \
	"http://127.0.0.1:$PORT" "$SECRET" 40 600 60 90 1 2>"$WORK/clients.log" &
PIDS+=($!)
"$WORK/loadgen" idle "${LG[@]}" -n 600 -hold 600s -source-base 2 >"$WORK/idle.json" 2>"$WORK/idle.log" &
PIDS+=($!)
# A trickle for the whole run: one global and one user notification a
# second (the user rooms of the polling clients).
(
	i=0
	while :; do
		redis-cli -p "$REDIS_PORT" PUBLISH notifications:all '{"type":"TRICKLE"}' >/dev/null
		redis-cli -p "$REDIS_PORT" PUBLISH "user:notifications:poll-$((i % 40))" '{"type":"TRICKLE"}' >/dev/null
		i=$((i + 1))
		sleep 1
	done
) &
PIDS+=($!)
sleep 15

echo "== load: fanout to 800 more clients, PUBLISH: 1000 messages back to back, then 120 at 8/s"
"$WORK/loadgen" fanout "${LG[@]}" -n 800 -m 1000 -paced-m 120 -paced-rate 8 -source-base 20 >"$WORK/fanout.json" 2>"$WORK/fanout.log"
sleep 5
echo "== load: the same through the @socket.io/redis-emitter format (-publish emitter)"
"$WORK/loadgen" fanout "${LG[@]}" -n 800 -m 1000 -paced-m 120 -paced-rate 8 -source-base 30 -publish emitter >"$WORK/emitter.json" 2>"$WORK/emitter.log"
sleep 5
echo "== load: churn, 30 connects/s for 30 s over 200 clients"
"$WORK/loadgen" churn "${LG[@]}" -n 200 -churn-rate 30 -churn-hold 2s -d 30s -source-base 40 >"$WORK/churn.json" 2>"$WORK/churn.log"
echo "== load: slow, 1 in 5 of 300 clients stops reading 4 KB messages at 20/s (MAX_OUTBOUND 256 KiB)"
"$WORK/loadgen" slow "${LG[@]}" -n 300 -slow-every 5 -m 400 -slow-rate 20 -pad 4000 -source-base 60 >"$WORK/slow.json" 2>"$WORK/slow.log" || true
sleep 10 # the idle and polling clients and the trickle are still on: the stats show them
TO=$(date +%s)

echo "== render"
NOTE="load (render.sh): 600 idle + 40 polling clients throughout; fanout to 800 more by PUBLISH, then by the emitter format; churn; slow readers with MAX_OUTBOUND=256KiB; wrongly signed tokens"
"$WORK/preview" -prometheus "http://127.0.0.1:$PROM_PORT" -scrape "$SCRAPE" -from "$FROM" -to "$TO" \
	-note "$NOTE" -out "$WORK/dashboard.html"
HEIGHT=$("$WORK/preview" -print-height)
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
	--no-first-run --hide-scrollbars --force-device-scale-factor=1 --user-data-dir="$WORK/chromium" \
	--screenshot="$OUT" --window-size="1600,$HEIGHT" "file://$WORK/dashboard.html" 2>"$WORK/chromium.log"
for f in fanout emitter churn slow; do echo "$f: $(head -c 300 "$WORK/$f.json")"; done
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)"
