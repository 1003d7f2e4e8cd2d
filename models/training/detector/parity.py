"""Parity fixture for the C++ test of the shipped detector: the recipe's own detections, in PyTorch.

Usage: /usr/bin/python3 models/training/detector/parity.py --weights models/mask_detector.npz --out FIXTURE.json
           [--card models/mask_detector.yaml] [--per-source 8] [--score 0.3]

For the first --per-source images of the andrewmvd and moxa3k TEST splits, the checkpoint (net.Det in
PyTorch, not the ONNX) runs on the SDK's letterbox (scenes.letterbox, scenes.to_input) and its output is
decoded as the exported graph decodes it (train_detector.decode_batch) and post-processed as the SDK does
(evaldet.postprocess: best label per point, score threshold, boxes to image pixels and clipped,
class-agnostic NMS IoU 0.45, at most 100). The C++ test (tests/training/test_parity.cpp) runs the
shipped ONNX through the SDK's mask_detector back end on the same images and must find the same faces:
so the export, OpenCV DNN and the SDK's pre- and post-processing agree with the recipe.

Fixture: {"weights", "sha256", "size", "score_threshold", "nms_threshold", "items": [{"image": absolute
path, "width", "height", "faces": [{"box": [x, y, w, h], "score"}]}]}.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaldet  # noqa: E402
import scenes  # noqa: E402
from net import Det, load_numpy_state  # noqa: E402
from train_detector import decode_batch  # noqa: E402

import data  # noqa: E402  (scenes puts ../ on the path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--card", default="", help="model card (width, neck, input size); default: beside --weights")
    ap.add_argument("--per-source", type=int, default=8)
    ap.add_argument("--score", type=float, default=0.3)
    a = ap.parse_args()
    card_path = a.card or os.path.splitext(a.weights)[0] + ".yaml"
    with open(card_path) as f:
        card = yaml.safe_load(f)
    arch = card.get("architecture", {})
    size = int(card["input"]["shape"][2])
    torch.set_num_threads(2)
    model = load_numpy_state(Det(arch.get("width", 1.0), arch.get("neck", 64)), np.load(a.weights)).eval()
    items = []
    for source, root in scenes.SOURCES.items():
        scenes.check_data(source)
        for stem in data.read_split("%s_test" % source)[:a.per_source]:
            path = os.path.join(root, "images", stem + ".jpg")
            with open(path, "rb") as f:
                img = scenes.decode(f.read())
            canvas, s = scenes.letterbox(img, size)
            with torch.no_grad():
                det = decode_batch(model(torch.from_numpy(scenes.to_input(canvas))), size)[0].numpy()
            boxes, scores, _ = evaldet.postprocess(det, s, img.shape[1], img.shape[0], score_thr=a.score)
            items.append({"image": os.path.abspath(path), "width": img.shape[1], "height": img.shape[0],
                          "faces": [{"box": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                                     "score": float(sc)} for b, sc in zip(boxes, scores)]})
    with open(a.weights, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    out = {"weights": os.path.abspath(a.weights), "sha256": digest, "size": size, "score_threshold": a.score,
           "nms_threshold": 0.45, "items": items}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print("parity fixture: %d images, %d faces -> %s" % (len(items), sum(len(i["faces"]) for i in items), a.out))


if __name__ == "__main__":
    main()
