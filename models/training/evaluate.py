"""Evaluate an exported classifier with OpenCV DNN (the deployment runtime).

Test sets: andrewmvd TEST split GT face crops, moxa3k TEST split GT head crops
and the chandrikadeb7 held-out test split (whole image as the box), all through
the crop rule of crop.py. maskedfacenet has no test split (synthetic; train/val
only).

Usage:
  /usr/bin/python3 models/training/evaluate.py --card models/mask_classifier.yaml [--json OUT.json]
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cache  # noqa: E402
import data  # noqa: E402
from crop import normalize  # noqa: E402
from metrics import classification_metrics  # noqa: E402


def load_net(onnx_path):
    net = cv2.dnn.readNetFromONNX(onnx_path)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    return net


def dnn_probs(net, x, batch=8):
    """Probabilities for normalised NCHW float32 inputs, in batches."""
    out = []
    for i in range(0, len(x), batch):
        net.setInput(x[i:i + batch])
        out.append(net.forward().copy())
    return np.concatenate(out)


def evaluate_sets(predict, margin, size, mean, std):
    """Metrics on the test sets; predict(NCHW float32) -> probabilities."""
    results = {}
    for name, samples in (("andrewmvd_test", data.andrew_samples("test")),
                          ("moxa3k_test", data.moxa_samples("test")),
                          ("chandrikadeb7_test", data.chandrika_samples("test"))):
        x = normalize(cache.crops(samples, margin, size), mean, std)
        pred = predict(x).argmax(1)
        results[name] = classification_metrics([s["label"] for s in samples], pred)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--card", required=True, help="model card YAML (the ONNX path is relative to it)")
    ap.add_argument("--json", help="also write the metrics here")
    args = ap.parse_args()
    with open(args.card) as f:
        card = yaml.safe_load(f)
    net = load_net(os.path.join(os.path.dirname(os.path.abspath(args.card)), card["model"]))
    res = evaluate_sets(lambda x: dnn_probs(net, x), card["crop"]["margin"], card["input"]["size"],
                        card["input"]["mean"], card["input"]["std"])
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
