#!/usr/bin/python3
"""Box calibration chosen by the WORST source (docs/results.md, "Box calibration across sources").

Usage (from the repository root):
  tests/tools/box_calibration_worst.py andrewmvd=RUN_A.jsonl moxa3k=RUN_M.jsonl [--apply sx,sy,dx,dy]

Each RUN is `maskdetect run --json` output of one detector with the box calibration OFF (box_scale_x/y 1,
box_shift_x/y 0) on the images of one source's split (val, to choose; test, to check). For every
calibration on a grid (scale about the box centre sx, sy; then the centre moved by dx, dy times the box's
width, height: the SDK's detector.box_* keys) it computes the class-agnostic face AP@0.5 on each source
(VOC all-point, ranked by face_score, matching as `maskdetect eval`), and picks the calibration whose
smaller gain over no calibration (the worst source) is largest; ties go to the smaller change. It prints
no calibration, the pick, and the best calibration for each source alone (what fitting to one annotation
style would pick). With --apply it only scores the given calibration against none (the test-split check).
Face AP@0.3 is printed beside it.
"""
import argparse
import itertools
import json
import os
import sys
import xml.etree.ElementTree as ET

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("MASKDETECT_SHARED_DIR") or os.path.join(HERE, "..", "..", "..", "shared")
ROOTS = {"andrewmvd": "andrewmvd_face_mask", "moxa3k": "moxa3k"}


def truth(source, stem):
    root = ET.parse(os.path.join(SHARED, "datasets", "detection", ROOTS[source], "annotations", stem + ".xml")).getroot()
    w = float(root.find("size/width").text)
    h = float(root.find("size/height").text)
    out = []
    for obj in root.iter("object"):
        b = obj.find("bndbox")
        x0, y0, x1, y1 = (float(b.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
        x0, x1 = min(max(x0, 0), w), min(max(x1, 0), w)
        y0, y1 = min(max(y0, 0), h), min(max(y1, 0), h)
        if x1 > x0 and y1 > y0:
            out.append([x0, y0, x1, y1])
    return np.array(out, np.float64).reshape(-1, 4)


def load(source, path):
    """Per image: (ground truth x1y1x2y2 [n,4], detections xywh [m,4], face scores [m], image w, h)."""
    images = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            j = json.loads(line)
            stem = os.path.splitext(os.path.basename(j["image"]))[0]
            boxes = np.array([fc["box"] for fc in j["faces"]], np.float64).reshape(-1, 4)
            scores = np.array([fc["face_score"] for fc in j["faces"]], np.float64)
            images.append((truth(source, stem), boxes, scores, float(j["width"]), float(j["height"])))
    return images


def calibrate(b, w, h, c):
    sx, sy, dx, dy = c
    cx = b[:, 0] + b[:, 2] / 2 + dx * b[:, 2]
    cy = b[:, 1] + b[:, 3] / 2 + dy * b[:, 3]
    nw, nh = b[:, 2] * sx, b[:, 3] * sy
    x1 = np.clip(cx - nw / 2, 0, w)
    y1 = np.clip(cy - nh / 2, 0, h)
    x2 = np.clip(cx + nw / 2, 0, w)
    y2 = np.clip(cy + nh / 2, 0, h)
    return np.stack([x1, y1, x2, y2], 1)


def face_ap(images, c, thr):
    """VOC all-point face AP at IoU thr; per image, detections in descending score take the unmatched truth
    of highest IoU >= thr (maskdetect eval's rule)."""
    scores, tps, npos = [], [], 0
    for gt, boxes, sc, w, h in images:
        npos += len(gt)
        if len(boxes) == 0:
            continue
        d = calibrate(boxes, w, h, c)
        order = np.argsort(-sc, kind="stable")
        used = np.zeros(len(gt), bool)
        if len(gt):
            ix1 = np.maximum(d[:, None, 0], gt[None, :, 0])
            iy1 = np.maximum(d[:, None, 1], gt[None, :, 1])
            ix2 = np.minimum(d[:, None, 2], gt[None, :, 2])
            iy2 = np.minimum(d[:, None, 3], gt[None, :, 3])
            inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
            ad = (d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1])
            ag = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
            iou = inter / np.maximum(ad[:, None] + ag[None, :] - inter, 1e-12)
        for k in order:
            tp = 0
            if len(gt):
                cand = np.where(used, -1.0, iou[k])
                j = int(np.argmax(cand))
                if cand[j] >= thr:
                    used[j] = True
                    tp = 1
            scores.append(sc[k])
            tps.append(tp)
    if npos == 0:
        return float("nan")
    scores, tps = np.array(scores), np.array(tps)
    order = np.argsort(-scores, kind="stable")
    scores, tps = scores[order], tps[order]
    # one PR point per distinct score (ties enter together), as eval does
    last = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
    ctp = np.cumsum(tps)[last]
    n = (last + 1).astype(np.float64)
    rec = ctp / npos
    prec = ctp / n
    mrec = np.r_[0.0, rec, 1.0]
    mpre = np.r_[0.0, prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="SOURCE=RUN.jsonl (andrewmvd, moxa3k)")
    ap.add_argument("--apply", help="sx,sy,dx,dy: score this calibration against none, no search")
    ap.add_argument("--sx", type=float, nargs=2, default=[0.8, 1.2], help="range of sx (step 0.05)")
    ap.add_argument("--sy", type=float, nargs=2, default=[0.8, 1.3], help="range of sy (step 0.05)")
    ap.add_argument("--dy", type=float, nargs=2, default=[-0.15, 0.15], help="range of dy (step 0.025)")
    a = ap.parse_args()
    data = {}
    for spec in a.runs:
        source, _, path = spec.partition("=")
        if source not in ROOTS:
            sys.exit("box_calibration_worst.py: unknown source %r (andrewmvd, moxa3k)" % source)
        data[source] = load(source, path)
    ident = (1.0, 1.0, 0.0, 0.0)
    base = {s: face_ap(im, ident, 0.5) for s, im in data.items()}

    def line(name, c):
        parts = []
        for s, im in data.items():
            v = face_ap(im, c, 0.5)
            parts.append("%s face AP@.5 %.4f (%+.4f), @.3 %.4f" % (s, v, v - base[s], face_ap(im, c, 0.3)))
        return "%-22s sx %.3f sy %.3f dx %+.3f dy %+.3f | %s" % (name, *c, " | ".join(parts))

    print(line("no calibration", ident))
    if a.apply:
        print(line("given", tuple(float(v) for v in a.apply.split(","))))
        return
    grid = list(itertools.product(np.arange(a.sx[0], a.sx[1] + 1e-3, 0.05), np.arange(a.sy[0], a.sy[1] + 1e-3, 0.05),
                                  (0.0, 0.02), np.arange(a.dy[0], a.dy[1] + 1e-3, 0.025)))
    gains = []
    for c in grid:
        g = {s: face_ap(im, c, 0.5) - base[s] for s, im in data.items()}
        change = abs(c[0] - 1) + abs(c[1] - 1) + abs(c[2]) + abs(c[3])
        gains.append((c, g, change))
    worst = max(gains, key=lambda t: (round(min(t[1].values()), 6), -t[2]))
    print(line("worst source (chosen)", worst[0]))
    for s in data:
        alone = max(gains, key=lambda t: (round(t[1][s], 6), -t[2]))
        print(line("best for %s alone" % s, alone[0]))


if __name__ == "__main__":
    main()
