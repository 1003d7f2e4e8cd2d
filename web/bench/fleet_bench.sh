#!/bin/bash
# The fleet's figures on one machine (docs/fleet.md "Measured"): the same live cameras analysed by one
# `maskdetect serve` with SQLite, then by three `serve --database` workers sharing one PostgreSQL:
#   - fps per camera (each camera uncapped: as many frames as its stream sends and the CPU allows) and events per
#     second into the store, over SECONDS after a warm-up;
#   - failover: kill -9 of the worker running cam1, then the time until each of its cameras has a new frame
#     analysed by another worker, over ROUNDS rounds (the worker restarted and 2/2/2 awaited between rounds).
#
#   web/bench/fleet_bench.sh [SECONDS] [CAMERAS] [ROUNDS] [RATE]   (defaults 30 s, 6 cameras, 3 rounds, 10 fps)
#
# Run from the repository root after building (cmake --build --preset default --target maskdetect_cli). Needs
# Debian's postgresql, mosquitto, ffmpeg, curl (scripts/setup.sh); under root the database runs as the postgres user. The
# cameras are ffmpeg live streams (MPEG-TS over HTTP, one viewer at a time, restarted when the viewer goes) of a
# clip made in a temporary folder from a face of the shared classifier set (never committed): 320x240 at RATE
# fps, a face for 2 s then the background for 8 s. Detector: --preset webcam (BlazeFace front).
set -eu
RUN_SECONDS=${1:-30}
CAMERAS=${2:-6}
ROUNDS=${3:-3}
RATE=${4:-10}
BIN=${BIN:-build/default/bin/maskdetect}
SHARED=${MASKDETECT_SHARED_DIR:-../shared}
FACES=$SHARED/datasets/classifier/chandrikadeb7/without_mask
PY=/usr/bin/python3
[ -x "$BIN" ] || { echo "fleet_bench: $BIN missing: build maskdetect_cli first" >&2; exit 1; }
[ -d "$FACES" ] || { echo "fleet_bench: $FACES missing (the shared datasets)" >&2; exit 1; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
TMP=$(mktemp -d)
chmod 755 "$TMP"
PIDS=""
WORKER_PIDS=""
cleanup() {
  for p in $WORKER_PIDS $PIDS; do kill -9 -- "-$p" 2>/dev/null || kill -9 "$p" 2>/dev/null || true; done
  [ -d "$TMP/pg" ] && as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
js() { local code=$1; shift; $PY -c "import sys, json
$code" "$@"; }  # a few lines of Python over JSON on stdin
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
log() { echo "fleet_bench: $*" >&2; }

# --- the clip: the first face (sorted) that the webcam preset finds alone on the background.
mkdir -p "$TMP/candidates"
$PY - "$FACES" "$TMP/candidates" <<'PY'
import sys, os, cv2, numpy as np
faces, out = sys.argv[1], sys.argv[2]
bg = np.zeros((240, 320, 3), np.uint8)
for y in range(240):
    bg[y, :] = (90 + 60 * np.arange(320) // 320)[:, None] * [1, 0, 0] + [0, 110 + 40 * y // 240, 120]
names = sorted(n for n in os.listdir(faces) if n.lower().endswith(('.jpg', '.jpeg', '.png')))[:40]
for i, name in enumerate(names):
    img = cv2.imread(os.path.join(faces, name), cv2.IMREAD_COLOR)
    if img is None or min(img.shape[:2]) < 100: continue
    frame = bg.copy()
    frame[35:205, 75:245] = cv2.resize(img, (170, 170), interpolation=cv2.INTER_AREA)
    cv2.imwrite(os.path.join(out, '%03d.png' % i), frame)
cv2.imwrite(os.path.join(out, '..', 'background.png'), bg)
PY
FRAME=$("$BIN" --preset webcam run --source "$TMP/candidates" --json - 2>/dev/null |
  js 'for l in sys.stdin:
    d = json.loads(l)
    if len(d.get("faces", [])) == 1: print(d["image"]); break')
[ -n "$FRAME" ] || { echo "fleet_bench: no face found for the clip" >&2; exit 1; }
case "$FRAME" in /*) ;; *) FRAME="$TMP/candidates/$FRAME" ;; esac
$PY - "$FRAME" "$TMP/background.png" "$TMP/clip.avi" "$RATE" <<'PY'
import sys, cv2
face, bg, out, rate = cv2.imread(sys.argv[1]), cv2.imread(sys.argv[2]), sys.argv[3], float(sys.argv[4])
w = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*'MJPG'), rate, (320, 240))
n = int(round(rate * 10))
for i in range(n): w.write(face if i < n // 5 else bg)
w.release()
PY

# --- PostgreSQL, Mosquitto, the streams.
PG_PORT=$(free_port)
mkdir -p "$TMP/pg" && chown postgres "$TMP/pg" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$TMP/pg" -U postgres -A trust -E UTF8 --no-locale --no-sync >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$TMP/pg" \
  -l "$TMP/pg/server.log" -w start >/dev/null
DATABASE="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
MQTT_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_dest none\n' "$MQTT_PORT" > "$TMP/mosquitto.conf"
setsid /usr/sbin/mosquitto -c "$TMP/mosquitto.conf" & PIDS="$PIDS $!"
{
  echo "mqtt: {host: 127.0.0.1, port: $MQTT_PORT, stats_interval_s: 2}"
  echo "cameras:"
  for i in $(seq 1 "$CAMERAS"); do
    port=$(free_port)
    setsid sh -c "while :; do ffmpeg -nostdin -hide_banner -loglevel error -re -stream_loop -1 -i '$TMP/clip.avi' \
      -c:v mpeg2video -q:v 4 -f mpegts -listen 1 http://127.0.0.1:$port/live; sleep 0.1; done" \
      >>"$TMP/ffmpeg.log" 2>&1 & PIDS="$PIDS $!"
    echo "  - {name: cam$i, source: 'http://127.0.0.1:$port/live', fps: 0,"
    echo "     events: {labels: [mask, no_mask, incorrect], min_seen_s: 0.4, cooldown_s: 0}}"
  done
} > "$TMP/serve.yaml"

# --- helpers over the API.
api() { curl -s -H "Authorization: Bearer t" "http://127.0.0.1:$1$2"; }
frames_of() {  # frames_of PORT...: "camera frames" lines over the given workers (maskdetect_frames_total:
               # also cameras a worker ran before, so that one coming back is not counted as analysed at once)
  for p in "$@"; do
    api "$p" /metrics | sed -n 's/^maskdetect_frames_total{camera="\([^"]*\)"} \([0-9]*\)$/\1 \2/p'
  done | awk '{ n[$1] += $2 } END { for (c in n) print c, n[c] }' | sort
}
events_of() {  # events recorded (maskdetect_events_total summed) over the given workers
  for p in "$@"; do api "$p" /metrics; done | awk '/^maskdetect_events_total\{/ { s += $NF } END { print s + 0 }'
}
start_serve() {  # start_serve NAME [fleet options...]: sets PORT and PID
  local name=$1; shift
  rm -f "$TMP/$name.port"
  setsid "$BIN" --preset webcam serve --config "$TMP/serve.yaml" --listen 127.0.0.1:0 --workers 1 --token t \
    --data-dir "$TMP/data-$name" --port-file "$TMP/$name.port" "$@" 2>>"$TMP/$name.log" &
  PID=$!
  disown "$PID"  # killed on purpose below: no job-control message
  for _ in $(seq 1 300); do [ -s "$TMP/$name.port" ] && break; sleep 0.2; done
  PORT=$(cat "$TMP/$name.port")
}
wait_frames() {  # wait_frames N PORT...: until N cameras have frames
  for _ in $(seq 1 600); do
    [ "$(frames_of "$@" | awk '$2 > 0' | wc -l)" -ge "$1" ] 2>/dev/null && return 0
    sleep 0.2
  done
  log "cameras did not all start"; return 1
}
wait_even() {  # until the cameras are spread evenly over w1, w2, w3 (60 s at most)
  for _ in $(seq 1 300); do
    [ "$(spread "${WPORT[w1]}")" = "w1:$((CAMERAS / 3)) w2:$((CAMERAS / 3)) w3:$((CAMERAS / 3))" ] && return 0
    sleep 0.2
  done
  log "not spread evenly: $(spread "${WPORT[w1]}")"
}
measure() {  # measure LABEL PORT...: fps per camera and events/s over RUN_SECONDS
  local label=$1; shift
  local f0 f1 e0 e1 t0 t1
  f0=$(frames_of "$@" | sort); e0=$(events_of "$@"); t0=$(now)
  sleep "$RUN_SECONDS"
  f1=$(frames_of "$@" | sort); e1=$(events_of "$@"); t1=$(now)
  join <(echo "$f0") <(echo "$f1") | awk -v t0="$t0" -v t1="$t1" -v e0="$e0" -v e1="$e1" -v label="$label" '
    { fps = ($3 - $2) / (t1 - t0); s += fps; n++; if (n == 1 || fps < lo) lo = fps; if (fps > hi) hi = fps }
    END { printf "%-28s fps per camera: mean %.2f (min %.2f, max %.2f) over %d cameras; events/s %.2f\n",
          label, s / n, lo, hi, n, (e1 - e0) / (t1 - t0) }'
}
owner_of() {  # owner_of PORT CAMERA
  api "$1" /api/v1/cameras | js 'for c in json.load(sys.stdin)["cameras"]:
    if c["name"] == sys.argv[1]: print((c["owner"] or {}).get("worker", ""))' "$2"
}
spread() {  # spread PORT: "w1:2 w2:2 w3:2"
  api "$1" /api/v1/cameras | js 'import collections
n = collections.Counter((c["owner"] or {}).get("worker", "-") for c in json.load(sys.stdin)["cameras"])
print(" ".join("%s:%d" % (k, n[k]) for k in sorted(n)))'
}

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# --- 1. One server, SQLite.
start_serve single
wait_frames "$CAMERAS" "$PORT"
sleep 5
measure "one server (SQLite)" "$PORT"
kill "$PID"; wait "$PID" 2>/dev/null || true

# --- 2. Three fleet workers, PostgreSQL.
declare -A WPORT WPID
for w in w1 w2 w3; do
  start_serve "$w" --database "$DATABASE" --worker-id "$w"
  WPORT[$w]=$PORT; WPID[$w]=$PID; WORKER_PIDS="$WORKER_PIDS $PID"
done
wait_frames "$CAMERAS" "${WPORT[w1]}" "${WPORT[w2]}" "${WPORT[w3]}"
wait_even
log "spread: $(spread "${WPORT[w1]}")"
sleep 5
measure "3 fleet workers (PostgreSQL)" "${WPORT[w1]}" "${WPORT[w2]}" "${WPORT[w3]}"

# --- 3. Failover rounds.
for round in $(seq 1 "$ROUNDS"); do
  victim=$(owner_of "${WPORT[w1]}" cam1)
  [ -n "$victim" ] || { log "cam1 has no owner"; exit 1; }
  others=""
  for w in w1 w2 w3; do [ "$w" != "$victim" ] && others="$others ${WPORT[$w]}"; done
  moved=$(api "${WPORT[w1]}" /api/v1/cameras | js 'for c in json.load(sys.stdin)["cameras"]:
    if (c["owner"] or {}).get("worker") == sys.argv[1]: print(c["name"])' "$victim")
  before=$(frames_of $others | sort)
  kill -9 "${WPID[$victim]}"; t_kill=$(now)
  for camera in $moved; do
    b=$(echo "$before" | awk -v c="$camera" '$1 == c { print $2 }')  # summed over the survivors
    for _ in $(seq 1 600); do
      n=$(frames_of $others | awk -v c="$camera" '$1 == c { print $2 }' | head -1)
      [ -n "$n" ] && [ "$n" -gt "${b:-0}" ] && break
      sleep 0.1
    done
    echo "failover round $round: $camera of $victim analysed elsewhere after $(echo "$(now) $t_kill" | awk '{ printf "%.1f", $1 - $2 }') s"
  done
  start_serve "$victim" --database "$DATABASE" --worker-id "$victim"
  WPORT[$victim]=$PORT; WPID[$victim]=$PID; WORKER_PIDS="$WORKER_PIDS $PID"
  wait_even
done
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
