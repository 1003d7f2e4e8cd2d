"""Small one-factor-at-a-time sweep around config.yaml with short runs.

Each run is train.py with --override values and --no-test (the test splits
are not used for tuning); the table reports andrewmvd VAL figures of the
selected epoch and is printed as Markdown (copied to docs/classifier.md).

Usage: /usr/bin/python3 models/training/sweep.py --out models/training/out/sweep [--epochs 8] [--samples 4000]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = [
    ("baseline", []),
    ("lr 0.001", ["train.lr=0.001"]),
    ("lr 0.004", ["train.lr=0.004"]),
    ("size 48", ["input.size=48", "crop.context_size=96"]),
    ("size 96", ["input.size=96", "crop.context_size=192"]),
    ("width 16", ["model.width=16"]),
    ("width 32", ["model.width=32"]),
    ("aug 0.5", ["aug.strength=0.5"]),
    ("aug 1.5", ["aug.strength=1.5"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--samples", type=int, default=4000, help="training samples per epoch")
    ap.add_argument("--only", nargs="*", help="run names to run (default: all)")
    args = ap.parse_args()
    rows = []
    for name, overrides in RUNS:
        if args.only and name not in args.only:
            continue
        out = os.path.join(args.out, name.replace(" ", "_"))
        cmd = [sys.executable, os.path.join(HERE, "train.py"), "--config", os.path.join(HERE, "config.yaml"),
               "--out", out, "--no-test", "--override", "train.epochs=%d" % args.epochs,
               "--override", "train.samples_per_epoch=%d" % args.samples]
        for o in overrides:
            cmd += ["--override", o]
        t0 = time.time()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "metrics.json")) as f:
            val = json.load(f)["val"]["andrewmvd_val"]
        rows.append("| %s | %.4f | %.4f | %.4f | %.4f | %.4f | %.0f |" % (
            name, val["macro_f1"], val["accuracy"], *val["f1"], time.time() - t0))
        print(rows[-1], flush=True)
    print("| run | val macro F1 | val acc | F1 mask | F1 no_mask | F1 incorrect | wall s |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
