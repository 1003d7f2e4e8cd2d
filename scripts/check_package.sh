#!/usr/bin/env bash
# Packaging check (CI): install a build tree into a staging prefix, build the examples out of tree against
# that prefix and run one; then build the .deb, install it with apt and run `maskdetect --version` and
# `maskdetect run` from the installed paths.
# Usage: scripts/check_package.sh [build-dir]   (default build/default, built by scripts/test.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${1:-build/default}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
image="$root/../shared/datasets/detection/andrewmvd_face_mask/images/maksssksksss0.jpg"
[ -f "$image" ] || image=/usr/share/doc/opencv-doc/examples/data/messi5.jpg

cmake --build "$build"

echo "check_package: staging install"
cmake --install "$build" --prefix "$work/stage"
cmake -S examples -B "$work/examples" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/stage"
cmake --build "$work/examples"
# Models must come from the staging prefix: nothing else on the search path.
MASKDETECT_MODEL_DIR="$work/empty" "$work/examples/detect_image" "$image" | tee "$work/example.json"
grep -q '"faces"' "$work/example.json"

echo "check_package: Debian package"
cpack --config "$build/CPackConfig.cmake" -B "$work/deb" -G DEB
deb=$(ls "$work"/deb/maskdetect_*.deb)
dpkg-deb --field "$deb" Depends
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get install -y -qq "$deb"
/usr/bin/maskdetect --version
MASKDETECT_MODEL_DIR="$work/empty" /usr/bin/maskdetect run --source "$image" --output "$work/out" --json "$work/run.jsonl"
grep -q '"faces"' "$work/run.jsonl"
ls "$work/out"
$sudo_cmd apt-get remove -y -qq maskdetect
echo "check_package: passed"
