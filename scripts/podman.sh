# Sourced by scripts/build_image.sh and scripts/smoke_image.sh: the podman command line that works on these
# machines (Debian bookworm's podman 4.3 as root, in a VM with cgroup v2 but no systemd session): runc as
# the OCI runtime, cgroupfs as the cgroup manager, CONTAINERS_CONF without default ulimits; containers and
# builds use the host network (--network host), since there is no netavark/CNI set-up. Needs `podman`,
# `runc` and `debootstrap` (scripts/setup.sh --container installs them).
# shellcheck shell=bash
for tool in podman runc; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "$(basename "$0"): '$tool' not found: run scripts/setup.sh --container (installs podman, runc, debootstrap)" >&2
    exit 2
  }
done
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/packaging/containers.conf}"
# shellcheck disable=SC2034  # used by the scripts that source this file
podman_cmd=(podman --runtime runc --cgroup-manager cgroupfs)
