"""Write a crop/inference parity fixture for the C++ SDK test.

Takes 16 deterministic face boxes from the andrewmvd TEST split (12 spread
evenly over all test boxes + the 4 whose crop square reaches furthest outside
the image, to exercise BORDER_REPLICATE), applies the crop rule (crop.py) and
runs the PyTorch checkpoint. The C++ test crops the same boxes, runs the
ONNX model with OpenCV DNN and compares the probabilities (tolerance 1e-4).

Usage:
  /usr/bin/python3 models/training/parity.py --checkpoint DIR/model.pt --out OUTDIR
Writes OUTDIR/parity.json:
  {"margin", "size", "mean", "std", "labels",
   "items": [{"image": abs path, "box": [x, y, w, h], "crop_side": s,
              "input_sum": sum of the normalised input, "probs": [...]}]}
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from crop import lround, preprocess  # noqa: E402
from model import MaskNet  # noqa: E402

N_EVEN, N_BORDER = 12, 4


def outside_extent(img_shape, box, margin):
    """How many pixels the crop square reaches outside the image (max over sides)."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    x0, y0, s = lround(x + w / 2 - side / 2), lround(y + h / 2 - side / 2), max(1, lround(side))
    ih, iw = img_shape[:2]
    return max(-x0, -y0, x0 + s - iw, y0 + s - ih)


def pick_boxes(samples, margin):
    """Deterministic choice of N_EVEN + N_BORDER test boxes."""
    even = [int(i) for i in np.linspace(0, len(samples) - 1, N_EVEN)]
    shapes = {}
    for s in samples:
        if s["path"] not in shapes:
            shapes[s["path"]] = cv2.imread(s["path"], cv2.IMREAD_COLOR).shape
    rest = [i for i in range(len(samples)) if i not in even]
    rest.sort(key=lambda i: (-outside_extent(shapes[samples[i]["path"]], samples[i]["box"], margin), i))
    return [samples[i] for i in even + rest[:N_BORDER]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True, help="model.pt written by train.py")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    ckpt = torch.load(args.checkpoint, map_location="cpu")
    cfg = ckpt["config"]
    net = MaskNet(cfg["model"]["width"], len(data.LABELS), cfg["model"]["dropout"])
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    margin, size = cfg["crop"]["margin"], cfg["input"]["size"]
    mean, std = cfg["input"]["mean"], cfg["input"]["std"]
    items = []
    for s in pick_boxes(data.andrew_samples("test"), margin):
        img = cv2.imread(s["path"], cv2.IMREAD_COLOR)
        x = preprocess(img, s["box"], margin, size, mean, std)
        with torch.no_grad():
            p = torch.softmax(net(torch.from_numpy(x)), 1)[0].tolist()
        items.append({"image": os.path.abspath(s["path"]), "box": s["box"],
                      "crop_side": max(1, lround(max(s["box"][2:]) * (1 + 2 * margin))),
                      "input_sum": float(x.astype(np.float64).sum()), "probs": p})
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "parity.json"), "w") as f:
        json.dump({"margin": margin, "size": size, "mean": mean, "std": std,
                   "labels": data.LABELS, "items": items}, f, indent=1)


if __name__ == "__main__":
    main()
