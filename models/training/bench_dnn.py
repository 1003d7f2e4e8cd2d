"""Per-crop inference time of the exported model in OpenCV DNN, single-threaded.

Usage: /usr/bin/python3 models/training/bench_dnn.py --card models/mask_classifier.yaml [--iters 200]
Prints, for batch 1 and batch 8 (cv2.setNumThreads(1), DNN_BACKEND_OPENCV,
CPU), the median wall time per forward and per crop and the process CPU time
per crop. On a loaded machine the wall time includes waiting for a core; the
CPU time does not, so it is the better figure for comparing batch sizes.
"""
import argparse
import os
import sys
import time

import cv2
import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import load_net  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--card", required=True)
    ap.add_argument("--iters", type=int, default=200)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    with open(args.card) as f:
        card = yaml.safe_load(f)
    net = load_net(os.path.join(os.path.dirname(os.path.abspath(args.card)), card["model"]))
    size = card["input"]["size"]
    rng = np.random.default_rng(0)
    for batch in (1, 8):
        x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
        for _ in range(10):  # warm-up
            net.setInput(x)
            net.forward()
        times = []
        cpu0 = time.process_time()
        for _ in range(args.iters):
            t0 = time.perf_counter()
            net.setInput(x)
            net.forward()
            times.append(time.perf_counter() - t0)
        cpu = (time.process_time() - cpu0) / args.iters * 1e3
        med = float(np.median(times)) * 1e3
        print("batch %d: wall %.3f ms per forward, %.3f ms per crop (median of %d); CPU %.3f ms per crop"
              % (batch, med, med / batch, args.iters, cpu / batch))


if __name__ == "__main__":
    main()
