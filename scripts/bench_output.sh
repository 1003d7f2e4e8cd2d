#!/usr/bin/env bash
# Frames per second of `maskdetect run --output out.mp4`, detecting every frame and every third, per x264 preset
# (docs/performance.md, "Encoding the output video"). Each run is timed with /usr/bin/time; fps = frames / wall s.
#
#   scripts/bench_output.sh CLIP [PRESET ...]      # presets default: superfast
#   MASKDETECT=build/release/bin/maskdetect REPEAT=3 scripts/bench_output.sh ../shared/datasets/video/studio_kf94_donning.mp4 ultrafast superfast veryfast
#
# Prints one line per run: preset, N, frames, wall s, fps, CPU s (user + sys), CPU ms per frame, output MB and the
# summary's mean ms per stage. Global flags (e.g. "--threads 1") go in GLOBAL_FLAGS, extra `run` flags in RUN_FLAGS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${MASKDETECT:-$root/build/default/bin/maskdetect}
repeat=${REPEAT:-1}
[ $# -ge 1 ] || { echo "usage: $0 CLIP [PRESET ...]" >&2; exit 2; }
clip=$1
shift
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(superfast)
[ -f "$clip" ] || { echo "error: clip '$clip' not found" >&2; exit 4; }
[ -x "$bin" ] || { echo "error: maskdetect binary '$bin' not found (set MASKDETECT)" >&2; exit 4; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%-10s %2s %6s %7s %6s %7s %8s %7s  %s\n' preset N frames wall_s fps cpu_s cpu_ms/f out_MB "mean ms per frame (summary)"
for ((r = 0; r < repeat; ++r)); do
  for preset in "${presets[@]}"; do
    for n in 1 3; do
      preset_flag=(--output-preset "$preset")
      [ "$preset" = opencv ] && preset_flag=()  # a binary from before --output-preset (OpenCV's writer, medium)
      # shellcheck disable=SC2086
      /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$bin" ${GLOBAL_FLAGS:-} run --source "$clip" --output "$tmp/out.mp4" --force \
        --detect-every "$n" "${preset_flag[@]}" --json "$tmp/out.jsonl" ${RUN_FLAGS:-} 2>"$tmp/err" || {
        cat "$tmp/err" >&2
        exit 1
      }
      read -r wall user sys <"$tmp/time"
      frames=$(sed -n 's/^summary: frames \([0-9]*\).*/\1/p' "$tmp/err")
      stages=$(sed -n 's/^summary: mean ms per frame: //p' "$tmp/err")
      size=$(stat -c %s "$tmp/out.mp4")
      awk -v p="$preset" -v n="$n" -v f="$frames" -v w="$wall" -v u="$user" -v s="$sys" -v b="$size" -v st="$stages" \
        'BEGIN { printf "%-10s %2d %6d %7.2f %6.1f %7.2f %8.1f %7.2f  %s\n", p, n, f, w, f / w, u + s, 1000 * (u + s) / f, b / 1e6, st }'
    done
  done
done
