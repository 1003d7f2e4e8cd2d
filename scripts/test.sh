#!/usr/bin/env bash
# Configures, builds and runs every test of one CMake preset (default: "default").
# Usage: scripts/test.sh [default|release|asan|fuzz]   (fuzz: the libFuzzer harnesses, clang)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
preset=${1:-default}
cd "$root"
cmake --preset "$preset"
cmake --build --preset "$preset"
ctest --preset "$preset"
