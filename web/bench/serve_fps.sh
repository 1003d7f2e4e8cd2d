#!/bin/sh
# Inference fps of one uncapped camera of `maskdetect serve --config` with MQTT and webhooks off, on (a real
# mosquitto and a local receiver), and on with a dead webhook receiver (a closed port), plus events per second.
#
#   web/bench/serve_fps.sh [SECONDS] [ROUNDS]      (defaults 20 s per run, 2 rounds; from the repository root)
#
# The clip is made in a temporary folder from a dataset picture (never committed): 30 frames of faces then 40
# grey frames at 500 fps (OpenCV's readers report 1000 and above as unknown, then paced at 10 fps), i.e. read as fast as inference goes, so that people come and go and every track
# becomes an event (all labels, min_seen_s 0.2, cooldown 0).
set -eu
SECONDS_PER_RUN=${1:-20}
ROUNDS=${2:-2}
BIN=${BIN:-build/default/bin/maskdetect}
SHARED=${MASKDETECT_SHARED_DIR:-../shared}
PICTURE=$SHARED/datasets/detection/andrewmvd_face_mask/images/maksssksksss0.jpg
[ -f "$PICTURE" ] || { echo "missing $PICTURE" >&2; exit 1; }
TMP=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

/usr/bin/python3 - "$PICTURE" "$TMP/clip.avi" <<'PY'
import sys, cv2, numpy as np
img = cv2.resize(cv2.imread(sys.argv[1]), (640, 480))
w = cv2.VideoWriter(sys.argv[2], cv2.VideoWriter_fourcc(*'MJPG'), 500.0, (640, 480))
grey = np.full_like(img, 128)
for i in range(30): w.write(img)
for i in range(40): w.write(grey)
w.release()
PY

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MQTT_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_dest none\n' "$MQTT_PORT" > "$TMP/mosquitto.conf"
/usr/sbin/mosquitto -c "$TMP/mosquitto.conf" & PIDS="$PIDS $!"
HOOK_PORT=$(free_port)
/usr/bin/python3 - "$HOOK_PORT" <<'PY' & PIDS="$PIDS $!"
import sys, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', 0))); self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
DEAD_PORT=$(free_port)  # nothing listens there
sleep 1

camera="cameras:
  - name: door
    source: $TMP/clip.avi
    fps: 0
    events: {labels: [mask, no_mask, incorrect], min_seen_s: 0.2, cooldown_s: 0}
"
mqtt="mqtt: {host: 127.0.0.1, port: $MQTT_PORT, stats_interval_s: 1}
"
printf '%s' "$camera" > "$TMP/off.yaml"
printf '%s%swebhooks:\n  - {url: "http://127.0.0.1:%s/hook", secret: s}\n' "$camera" "$mqtt" "$HOOK_PORT" > "$TMP/on.yaml"
printf '%s%swebhooks:\n  - {url: "http://127.0.0.1:%s/hook", retries: 3, backoff_s: 1}\n' "$camera" "$mqtt" "$DEAD_PORT" > "$TMP/dead.yaml"

metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" 'index($0, m) == 1 { s += $NF } END { print s + 0 }'; }

run() {  # run NAME: prints fps and events/s over SECONDS_PER_RUN after a 5 s warm-up
  rm -rf "$TMP/data" "$TMP/port"
  "$BIN" --detector blazeface_back serve --config "$TMP/$1.yaml" --listen 127.0.0.1:0 --workers 1 \
    --data-dir "$TMP/data" --port-file "$TMP/port" 2>"$TMP/$1.log" &
  pid=$!
  while [ ! -s "$TMP/port" ]; do sleep 0.2; done
  port=$(cat "$TMP/port")
  sleep 5
  f0=$(metric "$port" 'maskdetect_frames_total{camera="door"}'); e0=$(metric "$port" 'maskdetect_events_total{')
  sleep "$SECONDS_PER_RUN"
  f1=$(metric "$port" 'maskdetect_frames_total{camera="door"}'); e1=$(metric "$port" 'maskdetect_events_total{')
  kill "$pid"; wait "$pid" || true
  echo "$1 $(echo "$f0 $f1 $e0 $e1 $SECONDS_PER_RUN" | awk '{ printf "fps %.1f events/s %.2f", ($2-$1)/$5, ($4-$3)/$5 }')"
}

i=0
while [ "$i" -lt "$ROUNDS" ]; do  # the order alternates so that a drift of the machine's load is not a trend
  if [ $((i % 2)) -eq 0 ]; then run off; run on; run dead; else run dead; run on; run off; fi
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  i=$((i + 1))
done
