#!/usr/bin/env bash
# Load benchmark of `maskdetect serve` (not a test; loopback only). Needs wrk (apt-get install wrk) and node.
#   web/bench/load.sh [-b build/default/bin/maskdetect] [-d seconds] [-i image.jpg] [-w workers] [-c "1 4 16"]
# Starts a server on an ephemeral port, runs wrk POSTing a JPEG to /api/v1/detect at each connection count,
# then counts WebSocket frames per second on /api/v1/ws (1 and 4 sessions), and prints a summary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$root/build/default/bin/maskdetect"
duration=10
image="$root/../shared/datasets/detection/andrewmvd_face_mask/images/maksssksksss0.jpg"
workers=$(( $(nproc) > 4 ? 4 : $(nproc) ))
connections="1 4 16"
while getopts "b:d:i:w:c:" opt; do
  case $opt in
    b) bin=$OPTARG ;;
    d) duration=$OPTARG ;;
    i) image=$OPTARG ;;
    w) workers=$OPTARG ;;
    c) connections=$OPTARG ;;
    *) sed -n 2,5p "$0"; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "load.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }
[ -x "$bin" ] || { echo "load.sh: $bin not built" >&2; exit 2; }
[ -f "$image" ] || { echo "load.sh: image $image missing" >&2; exit 2; }

tmp=$(mktemp -d)
"$bin" serve --listen 127.0.0.1:0 --port-file "$tmp/port" --workers "$workers" --max-fps 0 --max-sessions 1024 \
  --io-threads 2 2>"$tmp/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 300); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
url="http://127.0.0.1:$port"
echo "server: $url, $workers inference worker(s), image $(basename "$image") ($(stat -c %s "$image") bytes), ${duration}s per run"
curl -sf -H "Content-Type: image/jpeg" --data-binary "@$image" "$url/api/v1/detect" >/dev/null  # warm up

printf "%-12s %12s %12s %12s %12s\n" connections "req/s" "p50" "p99" "non-2xx"
for c in $connections; do
  threads=$(( c < 4 ? c : 4 ))
  out=$(IMAGE="$image" wrk -t "$threads" -c "$c" -d "${duration}s" --latency -s "$here/post_image.lua" "$url/api/v1/detect")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf "%-12s %12s %12s %12s %12s\n" "$c" "$rps" "$p50" "$p99" "${bad:-0}"
done

for s in 1 4; do
  node --experimental-websocket --no-warnings "$here/ws_fps.mjs" "ws://127.0.0.1:$port/api/v1/ws" "$image" "$duration" "$s"
done
