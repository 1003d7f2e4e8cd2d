#!/usr/bin/env bash
# Regenerates the README pictures from media the project may ship. Input is generated from astronaut.png of
# Debian's python3-skimage (a public-domain NASA photo): the photo as it is, beside a copy with a surgical
# mask drawn over the lower face.
#  - docs/images/demo.jpg: `maskdetect run` on the pair, scaled to 768 px wide;
#  - docs/images/serve.png: the web UI in browser-camera mode, from the browser test run on the pair;
#  - docs/images/grid.png: the web UI's camera grid, from the pages browser test (two cameras looping the pair
#    and the pair with its halves swapped), scaled to 960 px wide and reduced to 256 colours (python3-pil,
#    which python3-skimage depends on).
# Usage: scripts/make_readme_demo.sh [path/to/maskdetect]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-"$root/build/release/bin/maskdetect"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work/pair.png" <<'PY'
import sys, cv2, numpy as np
img = cv2.imread('/usr/lib/python3/dist-packages/skimage/data/astronaut.png')
masked = img.copy()
mask = np.array([[181, 120], [224, 112], [267, 120], [272, 150], [250, 182], [224, 190], [198, 182], [176, 150]], np.int32)
cv2.fillPoly(masked, [mask], (235, 200, 150), cv2.LINE_AA)               # light-blue mask
for y in (128, 148, 166):                                                 # pleats
    cv2.line(masked, (186, y), (262, y), (215, 180, 130), 2, cv2.LINE_AA)
cv2.line(masked, (181, 122), (172, 108), (240, 240, 240), 3, cv2.LINE_AA)  # ear loops
cv2.line(masked, (267, 122), (278, 108), (240, 240, 240), 3, cv2.LINE_AA)
cv2.imwrite(sys.argv[1], np.hstack([img, masked]))
cv2.imwrite(sys.argv[1].replace('pair.png', 'swapped.png'), np.hstack([masked, img]))
PY
"$bin" run --source "$work/pair.png" --output "$work/out" --json "$work/out.jsonl"
mkdir -p "$root/docs/images"
/usr/bin/python3 - "$work/out/pair.png" "$root/docs/images/demo.jpg" <<'PY'
import sys, cv2
img = cv2.imread(sys.argv[1])
cv2.imwrite(sys.argv[2], cv2.resize(img, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA),
            [cv2.IMWRITE_JPEG_QUALITY, 85])
PY
cat "$work/out.jsonl"

# The web UI: the browser test (tests/browser) with the pair as the fake camera's and the server's clip.
MASKDETECT_BIN="$bin" MASKDETECT_BROWSER_IMAGES="$work" MASKDETECT_BROWSER_NAMES=pair.png \
  MASKDETECT_BROWSER_OUT="$work/browser" node "$root/tests/browser/live_view.test.mjs"
cp "$work/browser/camera.png" "$root/docs/images/serve.png"

# The camera grid: the pages test with two cameras looping the pair and the swapped pair.
MASKDETECT_BIN="$bin" MASKDETECT_BROWSER_IMAGES="$work" MASKDETECT_BROWSER_NAMES=pair.png,swapped.png \
  MASKDETECT_BROWSER_OUT="$work/browser" node "$root/tests/browser/pages.test.mjs"
/usr/bin/python3 - "$work/browser/grid-desktop.png" "$root/docs/images/grid.png" <<'PY'
import sys
from PIL import Image
img = Image.open(sys.argv[1]).convert('RGB')
img = img.resize((960, round(img.height * 960 / img.width)), Image.LANCZOS)
img.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(sys.argv[2], optimize=True)
PY
