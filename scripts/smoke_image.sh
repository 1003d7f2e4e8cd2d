#!/usr/bin/env bash
# Smoke test of the container image made by scripts/build_image.sh, run as Kubernetes runs it: a read-only
# root file system with a tmpfs for the data folder and /tmp, the token from the environment, the image's
# non-root user, the host network (podman on these machines; scripts/podman.sh).
#   1. `maskdetect --version` in the image: the CLI and libmaskdetect load, the classifier's card and the
#      BlazeFace weights are found where the package installs them;
#   2. `maskdetect serve`: GET /healthz, GET /api/v1/info (401 without the token, 200 with it),
#      POST /api/v1/detect with a picture (faces found: the models and OpenCV work in the image), the
#      process's user is 10001 and the root file system refuses writes;
#   3. SIGTERM (what the kubelet sends): the server drains and exits with status 0 within its drain timeout.
# Usage: scripts/smoke_image.sh [IMAGE]   (default localhost/maskdetect:<project version>)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/podman.sh
source "$root/scripts/podman.sh"
version=$(sed -n 's/^project(maskdetect VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
image=${1:-${MASKDETECT_IMAGE:-localhost/maskdetect:$version}}
"${podman_cmd[@]}" image exists "$image" ||
  { echo "smoke_image: no image '$image': build it with scripts/build_image.sh" >&2; exit 2; }
picture="$root/../shared/datasets/detection/andrewmvd_face_mask/images/maksssksksss0.jpg"
[ -f "$picture" ] || picture=/usr/share/doc/opencv-doc/examples/data/messi5.jpg
[ -f "$picture" ] || { echo "smoke_image: no test picture (the shared dataset or opencv-doc's messi5.jpg)" >&2; exit 2; }

name=maskdetect-smoke-$$
work=$(mktemp -d)
cleanup() {
  "${podman_cmd[@]}" rm -f -t 0 "$name" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s.%N)
elapsed() { awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
fail() {
  echo "smoke_image: FAIL: $*" >&2
  "${podman_cmd[@]}" logs "$name" 2>&1 | tail -20 | sed 's/^/  serve: /' >&2 || true
  exit 1
}
# Same security as the Kubernetes manifests: read-only root, no new privileges, every capability dropped.
run_opts=(--network host --read-only --security-opt no-new-privileges --cap-drop ALL
  --tmpfs "/var/lib/maskdetect:rw,size=64m,mode=0700,U" --tmpfs "/tmp:rw,size=64m")

echo "smoke_image: $image"
out=$("${podman_cmd[@]}" run --rm "${run_opts[@]}" "$image" --version)
while IFS= read -r line; do echo "  $line"; done <<< "$out"
grep -q "^maskdetect $version " <<< "$out" || fail "--version does not name version $version"
grep -q '^classifier: model card not found' <<< "$out" && fail "the classifier's model card is not found in the image"
for model in blazeface_front_128.onnx blazeface_back_256.onnx; do
  grep -q "^model $model: /usr/share/maskdetect/models/" <<< "$out" || fail "$model is not installed in /usr/share/maskdetect/models"
done

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=smoke-$RANDOM$RANDOM
"${podman_cmd[@]}" run -d --name "$name" "${run_opts[@]}" -e MASKDETECT_TOKEN="$token" "$image" \
  serve --listen "127.0.0.1:$port" --data-dir /var/lib/maskdetect --drain-timeout 5 > /dev/null
url=http://127.0.0.1:$port
for _ in $(seq 1 120); do
  curl -fsS "$url/healthz" -o "$work/healthz.json" 2> /dev/null && break
  [ "$("${podman_cmd[@]}" inspect --format '{{.State.Running}}' "$name")" = true ] || fail "serve exited before answering"
  sleep 0.5
done
[ -s "$work/healthz.json" ] || fail "no answer on /healthz within 60 s"
echo "  /healthz after $(elapsed) s: $(cat "$work/healthz.json")"
grep -q '"status": *"ok"' "$work/healthz.json" || fail "/healthz is not ok"

code=$(curl -sS -o /dev/null -w '%{http_code}' "$url/api/v1/info")
[ "$code" = 401 ] || fail "/api/v1/info without the token answered $code, not 401"
curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/info" -o "$work/info.json" || fail "/api/v1/info with the token"
grep -q "\"version\": *\"$version\"" "$work/info.json" || fail "/api/v1/info: $(head -c 300 "$work/info.json")"
echo "  /api/v1/info: 401 without the token, 200 with it"
curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: image/jpeg' --data-binary "@$picture" \
  "$url/api/v1/detect" -o "$work/detect.json" || fail "POST /api/v1/detect"
faces=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["faces"]))' "$work/detect.json")
[ "$faces" -gt 0 ] || fail "POST /api/v1/detect found no face in $(basename "$picture")"
echo "  POST /api/v1/detect $(basename "$picture"): $faces faces"

uid=$("${podman_cmd[@]}" exec "$name" id -u)
[ "$uid" = 10001 ] || fail "serve runs as user $uid, not 10001"
"${podman_cmd[@]}" exec "$name" sh -c 'touch /usr/smoke' 2> /dev/null && fail "the root file system is writable"
"${podman_cmd[@]}" exec "$name" sh -c 'touch /var/lib/maskdetect/smoke && rm /var/lib/maskdetect/smoke' ||
  fail "the data folder is not writable"
echo "  runs as user $uid; root file system read-only; data folder writable"

term=$(date +%s.%N)
"${podman_cmd[@]}" kill --signal TERM "$name" > /dev/null
status=$(timeout 30 "${podman_cmd[@]}" wait "$name") || fail "serve still running 30 s after SIGTERM"
stopped=$(awk -v s="$term" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
[ "$status" = 0 ] || fail "serve exited with status $status after SIGTERM, not 0"
echo "  SIGTERM: exit status 0 after $stopped s"
echo "smoke_image: passed in $(elapsed) s"
