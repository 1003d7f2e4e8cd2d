"""Forward time of ONNX networks in OpenCV DNN on one thread, measured interleaved (round-robin), so that a
shared machine's load falls on every network alike.

Usage: /usr/bin/python3 models/training/detector/bench_forward.py NAME=PATH:SHAPE ... [--rounds 30]
  SHAPE: comma-separated input shape, e.g. det=det.onnx:1,3,512,512
         blazeface=models/npm/blazeface_back_256.onnx:1,256,256,3
Prints per network the median process CPU ms and wall ms per forward, and OpenCV's FLOP count.
"""
import argparse
import time

import cv2
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nets", nargs="+")
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    nets = []
    for spec in a.nets:
        name, rest = spec.split("=", 1)
        path, shape = rest.rsplit(":", 1)
        shape = tuple(int(v) for v in shape.split(","))
        net = cv2.dnn.readNetFromONNX(path)
        x = rng.random(shape, dtype=np.float32)
        outs = net.getUnconnectedOutLayersNames()
        for _ in range(3):
            net.setInput(x)
            net.forward(outs)
        nets.append((name, net, x, outs, net.getFLOPS(shape) / 1e6, [], []))
    for _ in range(a.rounds):
        for name, net, x, outs, _, cpu, wall in nets:
            c, w = time.process_time(), time.perf_counter()
            net.setInput(x)
            net.forward(outs)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - w)
    for name, _, x, _, mflops, cpu, wall in nets:
        print("%-14s input %-16s CPU %.2f ms  wall %.2f ms (median of %d)  OpenCV MFLOPs %.0f"
              % (name, "x".join(map(str, x.shape)), np.median(cpu) * 1e3, np.median(wall) * 1e3, a.rounds, mflops))


if __name__ == "__main__":
    main()
