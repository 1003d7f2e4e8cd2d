#!/usr/bin/env bash
# Builds the maskdetect container image with Debian's podman, with no image registry:
#   1. the base image localhost/maskdetect-base:bookworm: a Debian bookworm root file system made by
#      debootstrap (minbase) from Debian's archive, imported with `podman import`. Made once per machine and
#      kept (--rebuild-base makes it again);
#   2. the project's Debian package, by cpack from a build tree: the same .deb users install and
#      scripts/check_package.sh checks;
#   3. packaging/Containerfile on that base: apt installs the .deb with its runtime dependencies from
#      Debian's archive, a non-root user 10001 runs `maskdetect`.
# Then scripts/smoke_image.sh runs it (--version, serve, SIGTERM, read-only root file system).
#
# Usage: scripts/build_image.sh [--rebuild-base] [--base-only] [BUILD_DIR]
#   --base-only: make (or keep) the base image and stop. --rebuild-base: make the base again.
#   BUILD_DIR: a configured build tree to package (default build/image: a Release build of the library, CLI
#   and server without tests or examples, configured and built here when missing).
# Environment: MASKDETECT_IMAGE (default localhost/maskdetect:<project version>), DEBIAN_MIRROR (default
# http://deb.debian.org/debian). Needs root (debootstrap, podman) and scripts/setup.sh --container.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

rebuild_base=0
base_only=0
build=""
for arg in "$@"; do
  case "$arg" in
    --rebuild-base) rebuild_base=1 ;;
    --base-only) base_only=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build_image: unknown option '$arg' (expected --rebuild-base, --base-only, --help)" >&2; exit 2 ;;
    *) [ -z "$build" ] || { echo "build_image: one build folder at most ('$build', '$arg')" >&2; exit 2; }; build=$arg ;;
  esac
done
# shellcheck source=scripts/podman.sh
source "$root/scripts/podman.sh"
[ "$(id -u)" -eq 0 ] || { echo "build_image: run as root (debootstrap and podman's root storage)" >&2; exit 2; }
command -v debootstrap >/dev/null 2>&1 ||
  { echo "build_image: 'debootstrap' not found: run scripts/setup.sh --container" >&2; exit 2; }

version=$(sed -n 's/^project(maskdetect VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
image=${MASKDETECT_IMAGE:-localhost/maskdetect:$version}
base=localhost/maskdetect-base:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
start=$(date +%s)
step() { echo "build_image: [$(( $(date +%s) - start )) s] $*"; }

# 1. The base image.
if [ "$rebuild_base" = 1 ] || ! "${podman_cmd[@]}" image exists "$base"; then
  step "making $base with debootstrap from $mirror"
  rootfs=$(mktemp -d /var/tmp/maskdetect-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$rootfs.log" 2>&1 ||
    { tail -20 "$rootfs.log" >&2; echo "build_image: debootstrap failed (log: $rootfs.log)" >&2; exit 5; }
  rm -f "$rootfs.log"
  # As Debian's own images: the point releases and security updates, no package lists or caches kept.
  cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" --numeric-owner -c . |
    "${podman_cmd[@]}" import --quiet --change 'CMD ["/bin/bash"]' --message "debootstrap --variant=minbase bookworm" - "$base" > /dev/null
  rm -rf "$rootfs"
  trap - EXIT
  step "base image $base made"
else
  step "base image $base exists (--rebuild-base makes it again)"
fi

[ "$base_only" = 0 ] || exit 0

# 2. The Debian package.
if [ -z "$build" ]; then
  build=build/image
  if [ ! -f "$build/CMakeCache.txt" ]; then
    step "configuring $build (Release, no tests or examples)"
    cmake --preset release -B "$build" -DMASKDETECT_BUILD_TESTS=OFF -DMASKDETECT_BUILD_EXAMPLES=OFF > /dev/null
  fi
fi
[ -f "$build/CPackConfig.cmake" ] ||
  { echo "build_image: '$build' is not a configured build folder (no CPackConfig.cmake)" >&2; exit 2; }
step "building $build"
cmake --build "$build"
context=$(mktemp -d /var/tmp/maskdetect-image.XXXXXX)
trap 'rm -rf "$context"' EXIT
step "packaging the .deb (cpack)"
cpack --config "$build/CPackConfig.cmake" -B "$context/deb" -G DEB > "$context/cpack.log" 2>&1 ||
  { cat "$context/cpack.log" >&2; exit 1; }
deb=$(ls "$context"/deb/maskdetect_*.deb)
cp "$deb" "$context/"
cp packaging/Containerfile "$context/Containerfile"

# 3. The image.
step "building $image from $(basename "$deb")"
"${podman_cmd[@]}" build --network host --build-arg "BASE=$base" --tag "$image" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --file "$context/Containerfile" "$context"
step "built $image ($("${podman_cmd[@]}" image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}'))"
