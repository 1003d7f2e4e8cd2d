#!/usr/bin/env bash
# Packaging check (CI): install a build tree into a staging prefix, build the examples out of tree against
# that prefix and run one; then build the .deb, check where its files go (multiarch library, systemd unit
# folder, copyright, man page, no second copy of the embedded web assets), install it with apt and run
# `maskdetect --version`, `man maskdetect` and `maskdetect run` from the installed paths.
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
dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\./|/|' > "$work/files.txt"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
unit_dir=$(pkg-config systemd --variable=systemdsystemunitdir 2>/dev/null || echo /lib/systemd/system)
expect() { grep -qx "$1" "$work/files.txt" || { echo "check_package: $1 missing from the .deb" >&2; exit 1; }; }
grep -qE "^/usr/lib/$multiarch/libmaskdetect\.so\.[0-9.]+$" "$work/files.txt" ||
  { echo "check_package: libmaskdetect is not in /usr/lib/$multiarch" >&2; exit 1; }
expect "/usr/lib/$multiarch/cmake/maskdetect/maskdetectConfig.cmake"
expect "/usr/lib/$multiarch/pkgconfig/maskdetect.pc"
expect "/usr${unit_dir#/usr}/maskdetect.service"
expect /usr/share/doc/maskdetect/copyright
expect /usr/share/man/man1/maskdetect.1.gz
if grep -E '^/usr/lib/libmaskdetect|^/usr/share/maskdetect/web' "$work/files.txt"; then
  echo "check_package: a library outside the multiarch folder, or the embedded web assets installed again" >&2
  exit 1
fi
# Whole streams go to files before any grep -q or head reads them: a reader that stops early would kill the
# writer with SIGPIPE, which pipefail turns into a failed check.
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/maskdetect/copyright > "$work/copyright"
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$work/copyright" ||
  { echo "check_package: /usr/share/doc/maskdetect/copyright is not machine-readable (DEP-5)" >&2; exit 1; }
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
$sudo_cmd apt-get install -y -qq "$deb"
/usr/bin/maskdetect --version
# The man page as packaged (images may exclude /usr/share/man from installs).
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/man/man1/maskdetect.1.gz | gunzip > "$work/maskdetect.1"
MANWIDTH=100 man -l "$work/maskdetect.1" > "$work/man.txt"
sed -n 1,20p "$work/man.txt"
grep -q 'real-time face-mask detection' "$work/man.txt"
grep -q 'EXIT STATUS' "$work/man.txt"
pkg-config --exists maskdetect && pkg-config --modversion maskdetect
MASKDETECT_MODEL_DIR="$work/empty" /usr/bin/maskdetect run --source "$image" --output "$work/out" --json "$work/run.jsonl"
grep -q '"faces"' "$work/run.jsonl"
ls "$work/out"
$sudo_cmd apt-get remove -y -qq maskdetect
echo "check_package: passed"
