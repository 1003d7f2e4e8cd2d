#!/usr/bin/python3
"""The per-source results tables of docs/results.md: `maskdetect eval` of each system on a split of BOTH
detection sources (andrewmvd: tight face boxes; moxa3k: head boxes, read through its label map), one
Markdown row per system and source, and the worst source.

Usage (from the repository root):
  tests/tools/results_table.py --out DIR [--split test|val] [--maskdetect build/default/bin/maskdetect]
      --system 'NAME;MODEL_DIR;ARGS' [--system ...] [--workers 2]

A system is a name, the folder given as MASKDETECT_MODEL_DIR (an empty folder: no YuNet, as on a fresh
machine without network; a folder holding YuNet's file: YuNet installed) and the global options placed
before `eval` (e.g. `--preset mask_detector`, `--config identity.yaml`). Every run's JSON is kept in DIR
(NAME_SOURCE.json) with the exact command in it. andrewmvd is judged at IoU 0.5 and moxa3k at IoU 0.3 (its
head boxes: docs/results.md, "Two sources, two box styles"); both IoUs are printed for both.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.environ.get("MASKDETECT_SHARED_DIR") or os.path.join(REPO, "..", "shared")
SOURCES = {
    "andrewmvd": (os.path.join(SHARED, "datasets", "detection", "andrewmvd_face_mask"), "andrewmvd", 0.5),
    "moxa3k": (os.path.join(SHARED, "datasets", "detection", "moxa3k"), "moxa3k", 0.3),
}


def fmt(v):
    return "n/a" if v is None else "%.3f" % v


def run(args, name, model_dir, extra, source):
    root, label_map, judge = SOURCES[source]
    out = os.path.join(args.out, "%s_%s.json" % (re.sub(r"[^A-Za-z0-9_.-]+", "_", name), source))
    cmd = [args.maskdetect] + extra + ["eval", "--dataset", root, "--split",
                                       os.path.join(REPO, "models", "splits", "%s_%s.txt" % (source, args.split)),
                                       "--label-map", os.path.join(REPO, "models", "label_maps", label_map + ".yaml"),
                                       "--workers", str(args.workers), "--json", out]
    env = dict(os.environ, MASKDETECT_MODEL_DIR=model_dir)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("results_table.py: %s failed (%d):\n%s%s" % (shlex.join(cmd), r.returncode, r.stdout, r.stderr))
    with open(out) as f:
        j = json.load(f)
    return j, judge


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--split", default="test", choices=("test", "val"))
    ap.add_argument("--maskdetect", default=os.path.join(REPO, "build", "default", "bin", "maskdetect"))
    ap.add_argument("--system", action="append", required=True, help="'NAME;MODEL_DIR;GLOBAL ARGS'")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print("| system | source (%s split) | judged mAP | mAP@0.5 | mAP@0.3 | AP mask @.5/.3 | AP no_mask @.5/.3 | "
          "AP incorrect @.5 | face AP@0.5 | face AP@0.3 | s |" % args.split)
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for spec in args.system:
        name, model_dir, extra = (spec.split(";") + ["", ""])[:3]
        worst = None
        for source in SOURCES:
            j, judge = run(args, name, model_dir, shlex.split(extra), source)
            c = j["classes"]
            judged = j["map50"] if judge == 0.5 else j["map30"]
            worst = judged if worst is None else min(worst, judged)
            print("| %s | %s | **%s** (IoU %.1f) | %s | %s | %s / %s | %s / %s | %s | %s | %s | %.1f |" % (
                name, source, fmt(judged), judge, fmt(j["map50"]), fmt(j["map30"]), fmt(c["mask"]["ap50"]),
                fmt(c["mask"]["ap30"]), fmt(c["no_mask"]["ap50"]), fmt(c["no_mask"]["ap30"]),
                fmt(c["incorrect"]["ap50"]), fmt(j["face"]["ap50"]), fmt(j["face"]["ap30"]), j["seconds"]), flush=True)
        print("| %s | **worst source** | **%s** | | | | | | | | |" % (name, fmt(worst)), flush=True)


if __name__ == "__main__":
    main()
