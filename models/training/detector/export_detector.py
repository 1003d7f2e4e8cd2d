"""Export detector weights (best.npz from train_detector.py) to ONNX for OpenCV 4.6 DNN, and check it.

Usage: /usr/bin/python3 models/training/detector/export_detector.py --weights best.npz --out det.onnx
           [--size 512] [--width 1.0] [--neck 64]

Opset 11, fixed input `input` [1, 3, S, S] (RGB, (x / 255 - 0.5) / 0.5, letterboxed top-left on black),
output `detections` [1, N, 7] (net.ExportDet). Identity nodes that the exporter writes for weights shared
by the three levels (OpenCV 4.6 cannot read them) are replaced by copies of the weights. The check loads
the file with cv2.dnn.readNetFromONNX and compares with PyTorch on a real letterboxed val image and on
noise; it fails (non-zero exit) above 1e-2 px for boxes (coordinates up to S; float32)
or 1e-4 for scores.
"""
import argparse
import os
import sys

import cv2
import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from net import Det, ExportDet, load_numpy_state  # noqa: E402


def export(weights, out, size, width=1.0, neck=64, check=True):
    det = load_numpy_state(Det(width, neck), np.load(weights)).eval()
    model = ExportDet(det, size).eval()
    x = torch.randn(1, 3, size, size)
    kw = {"dynamo": False} if int(torch.__version__.split(".")[0]) >= 2 else {}
    torch.onnx.export(model, x, out, opset_version=11, input_names=["input"], output_names=["detections"], **kw)
    g = onnx.load(out)
    inits = {i.name: i for i in g.graph.initializer}
    keep = []
    for n in g.graph.node:
        if n.op_type == "Identity" and n.input[0] in inits:
            g.graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(inits[n.input[0]]), n.output[0]))
        else:
            keep.append(n)
    del g.graph.node[:]
    g.graph.node.extend(keep)
    onnx.checker.check_model(g)
    onnx.save(g, out)
    if not check:
        return None
    net = cv2.dnn.readNetFromONNX(out)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((1, 3, size, size)).astype(np.float32)]
    import scenes
    import data
    stem = data.read_split("andrewmvd_val")[0]
    img = cv2.imread(os.path.join(data.ANDREW, "images", stem + ".jpg"))
    if img is not None:
        inputs.append(scenes.to_input(scenes.letterbox(img, size)[0]))
    diff_box, diff_score = 0.0, 0.0
    for xi in inputs:
        with torch.no_grad():
            ref = model(torch.from_numpy(xi)).numpy()
        net.setInput(xi)
        got = net.forward()
        if got.shape != ref.shape:
            raise SystemExit("export check: OpenCV output shape %s != torch %s" % (got.shape, ref.shape))
        diff_box = max(diff_box, float(np.abs(got[..., :4] - ref[..., :4]).max()))
        diff_score = max(diff_score, float(np.abs(got[..., 4:] - ref[..., 4:]).max()))
    print("onnx check: %s loads in OpenCV %s, max abs diff vs torch: boxes %.2e px, scores %.2e over %d inputs (%s)"
          % (out, cv2.__version__, diff_box, diff_score, len(inputs),
             "real val image + noise" if len(inputs) > 1 else "noise"))
    if diff_box > 1e-2 or diff_score > 1e-4:
        raise SystemExit("export check failed: OpenCV and torch differ by %.3g px (boxes), %.3g (scores)"
                         % (diff_box, diff_score))
    return diff_box, diff_score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--neck", type=int, default=64)
    a = ap.parse_args()
    export(a.weights, a.out, a.size, a.width, a.neck)


if __name__ == "__main__":
    main()
