"""Face precision, recall and F1 per face threshold on both detection sources' splits, each at its judged IoU.

Usage (repository root, maskdetect built):
  /usr/bin/python3 tests/tools/operating_point.py --model-dir DIR [--split val] [--work /tmp/op] -- [maskdetect options]
  e.g. --model-dir /tmp/none -- --preset mask_detector

Runs `maskdetect [options] --face-threshold 0.2 run --json -` on the split's images of andrewmvd (judged at IoU
0.5) and moxa3k (head boxes, judged at IoU 0.3), matches each image's faces to its boxes greedily by score,
and prints P / R / F1 at each threshold from 0.3 to 0.7 and the worst source's F1. docs/results.md, "Operating
point of the own detector", is this tool's output on the val splits. Nothing is written under the repository:
the split's images are symlinked into --work.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models", "training"))
import data  # noqa: E402  (split files, VOC boxes and the datasets' location)

SOURCES = {"andrewmvd": (data.ANDREW, data.andrew_boxes, 0.5), "moxa3k": (data.MOXA, data.moxa_boxes, 0.3)}
THRESHOLDS = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]


def iou(a, b):
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", required=True, help="MASKDETECT_MODEL_DIR for the runs")
    ap.add_argument("--split", default="val")
    ap.add_argument("--work", default="/tmp/maskdetect_operating_point")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "default", "bin", "maskdetect"))
    ap.add_argument("options", nargs="*", help="maskdetect options before the subcommand")
    a = ap.parse_args()
    f1_by_source = {}
    for source, (root, boxes_of, judge_iou) in SOURCES.items():
        stems = data.read_split("%s_%s" % (source, a.split))
        folder = os.path.join(a.work, "%s_%s" % (source, a.split))
        os.makedirs(folder, exist_ok=True)
        by_stem = {os.path.splitext(f)[0]: f for f in os.listdir(os.path.join(root, "images"))}
        for stem in stems:
            link = os.path.join(folder, by_stem[stem])
            if not os.path.lexists(link):
                os.symlink(os.path.join(root, "images", by_stem[stem]), link)
        run = subprocess.run([a.bin] + a.options + ["--face-threshold", "0.2", "run", "--source", folder, "--json", "-"],
                             env=dict(os.environ, MASKDETECT_MODEL_DIR=a.model_dir), capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit("operating_point: maskdetect failed on %s:\n%s" % (folder, run.stderr))
        faces = {}
        for line in run.stdout.splitlines():
            j = json.loads(line)
            faces[os.path.splitext(j["image"])[0]] = [(f["face_score"], f["box"]) for f in j["faces"]]
        truths, scored = 0, []
        for stem in stems:
            gt = [b for b, _ in boxes_of(stem)]
            truths += len(gt)
            used = [False] * len(gt)
            for score, box in sorted(faces.get(stem, []), key=lambda x: -x[0]):
                best, match = judge_iou, -1
                for k, g in enumerate(gt):
                    if not used[k] and iou(box, g) >= best:
                        best, match = iou(box, g), k
                if match >= 0:
                    used[match] = True
                scored.append((score, match >= 0))
        for t in THRESHOLDS:
            kept = [hit for score, hit in scored if score >= t]
            tp = sum(kept)
            p = tp / len(kept) if kept else 0.0
            r = tp / truths if truths else 0.0
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            f1_by_source.setdefault(t, {})[source] = f1
            print("%s %s (IoU %.1f) threshold %.2f: %d detections, %d truths, P %.3f R %.3f F1 %.3f"
                  % (source, a.split, judge_iou, t, len(kept), truths, p, r, f1), flush=True)
    for t in THRESHOLDS:
        print("threshold %.2f: worst-source F1 %.3f" % (t, min(f1_by_source[t].values())))


if __name__ == "__main__":
    main()
