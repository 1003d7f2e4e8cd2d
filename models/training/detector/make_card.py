"""Write the detector's model card (models/mask_detector.yaml) from a training run and its measured metrics.

Usage: /usr/bin/python3 models/training/detector/make_card.py --run DIR --onnx det.onnx --npz det.npz
           --version 0.2.0 --metrics metrics.yaml --command "..." --out models/mask_detector.yaml

DIR is a train_detector.py output folder (meta.json: seed, config, data hashes of both sources, device;
curve.json: the learning curve and the selected evaluation). metrics.yaml holds what was measured on the
exported ONNX afterwards (val and test per source, the SDK presets, cost); it is copied into the card as it
is. The card records the sha256 of the ONNX and of the checkpoint it was exported from.
"""
import argparse
import hashlib
import json
import os
import platform
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from train import CardDumper  # noqa: E402  (the classifier card's YAML style)

LICENSE = (
    "Weights: Apache-2.0 as far as the maskdetect project's own rights go (trained by the project; no third-party "
    "pretrained weights: version 0.2.0 starts from 0.1.0, which the project trained from scratch). They were "
    "trained on data under other terms, which the project cannot relicense: the andrewmvd face-mask-detection set "
    "(CC0 1.0 upstream; no licence file in the copy used) and Moxa3K (no licence stated by its source: used here "
    "for training and evaluation only; no image is redistributed). Whether trained weights are a derivative of "
    "their training data is legally unsettled: anyone using these weights commercially, or who needs a clear "
    "licence chain, should check first or retrain with models/training/detector/ (--sources) on data they hold "
    "the rights to.")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--npz", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--command", required=True, help="the training command, as run")
    ap.add_argument("--code-revision", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(os.path.join(a.run, "meta.json")) as f:
        meta = json.load(f)
    with open(os.path.join(a.run, "curve.json")) as f:
        curve = json.load(f)
    with open(a.metrics) as f:
        metrics = yaml.safe_load(f)
    best = max(curve["curve"], key=lambda e: e["select"])
    last = curve["curve"][-1]
    cfg = meta["config"]
    size = cfg["size"]
    card = {
        "name": "maskdetect-mask-detector",
        "version": a.version,
        "status": "Used by the SDK as a face detector (detector.backend mask_detector; presets: docs/results.md), "
                  "then the classifier labels each face; docs/detector.md",
        "description": "One-stage anchor-free (FCOS-style) face-and-mask detector: depthwise-separable backbone, "
                       "light FPN, one head shared by strides 8/16/32. Trained on two detection sources with "
                       "different box styles (andrewmvd: tight faces; moxa3k: whole heads). Input: one letterboxed "
                       "frame. Output: boxes and per-class scores, decoded in the graph; the caller thresholds "
                       "and runs NMS.",
        "model": os.path.basename(a.onnx),
        "checkpoint": os.path.basename(a.npz),
        "architecture": {"width": cfg["width"], "neck": cfg["neck"], "parameters": meta["params"]},
        "labels": meta["labels"],
        "input": {
            "name": "input",
            "shape": [1, 3, size, size],
            "preprocessing": "scale the long side to %d (cv2.resize INTER_LINEAR), put it top-left on a black "
                             "%dx%d canvas, BGR -> RGB, (x / 255 - 0.5) / 0.5, NCHW float32" % (size, size, size),
        },
        "output": {
            "name": "detections",
            "shape": [1, sum((size // s) ** 2 for s in meta["strides"]), 7],
            "columns": "x1, y1, x2, y2 in input pixels (divide by the letterbox scale for frame pixels), then "
                       "per label sqrt(sigmoid(class logit) * sigmoid(centerness logit))",
            "postprocessing": "label = argmax of the 3 scores, score = its value; score threshold; class-agnostic "
                              "NMS IoU 0.45 over every candidate (cv2.dnn.NMSBoxes), then at most max_faces",
        },
        "license": LICENSE,
        "files_sha256": {os.path.basename(a.onnx): sha256(a.onnx), os.path.basename(a.npz): sha256(a.npz)},
        "training": {
            "command": a.command,
            "code_revision": a.code_revision,
            "seed": meta["seed"],
            "init": cfg["init"] or "none (from scratch)",
            "device": "CPU: %s, %d threads, torch %s (%s), shared with other jobs" % (
                metrics.get("cpu", platform.processor() or "cpu"), cfg["threads"], meta["torch"], platform.machine()),
            "sources": meta["sources"],
            "train_images": meta["train_images"],
            "val_images": meta["val_images"],
            "data_hash": meta["data_hash"],
            "config": {k: cfg[k] for k in ("size", "crop", "batch", "lr", "warmup", "weight_decay", "ema",
                                           "incorrect_oversample", "box_weight", "budget_s", "eval_every_s")},
            "trained_s": last["trained_s"],
            "steps": last["step"],
            "epochs": last["epochs"],
            "selection": meta["selection"] + " (andrewmvd at IoU 0.5, moxa3k at IoU 0.3)",
            "selected": {"step": best["step"], "epochs": best["epochs"], "trained_s": best["trained_s"],
                         "select": best["select"]},
            "curve": [{"trained_s": e["trained_s"], "epochs": e["epochs"], "select": e["select"],
                       "andrewmvd_face_AP50": e["andrewmvd"]["face_AP"], "andrewmvd_mAP50": e["andrewmvd"]["mAP"],
                       "moxa3k_face_AP30": e["moxa3k"]["face_AP"], "moxa3k_mAP30": e["moxa3k"]["mAP"]}
                      for e in curve["curve"]],
        },
        "metrics": metrics.get("metrics", {}),
    }
    with open(a.out, "w") as f:
        yaml.dump(card, f, Dumper=CardDumper, sort_keys=False, default_flow_style=False, width=1000)
    print("card: %s" % a.out)


if __name__ == "__main__":
    main()
