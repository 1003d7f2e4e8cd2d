"""Evaluate an exported detector ONNX with OpenCV DNN on a split of a detection source, as the C++ side runs it.

Usage: /usr/bin/python3 models/training/detector/eval_detector.py --onnx det.onnx --size 512 --split val|test
           [--source andrewmvd|moxa3k] [--iou 0.5] [--jsonl preds.jsonl] [--bench 50]
           [--classifier models/mask_classifier.yaml [--fuse W]]

Per image: scenes.letterbox (INTER_LINEAR, top-left on black), blobFromImage (RGB, (x/255-0.5)/0.5), one
forward, evaldet.postprocess (best class per point, score >= 0.05, NMS IoU 0.45, at most 100 faces).
Prints VOC mAP and AP per class at the source's judged IoU (andrewmvd 0.5, moxa3k 0.3; --iou to change;
evaldet.voc_map, the recipe's evaluator) and face AP, and, with --jsonl, writes the detections in the JSON
Lines format `maskdetect eval --predictions` scores. --classifier relabels each detection with the crop
classifier (two-stage); --fuse W mixes the detector's own label scores (normalised to sum 1) into the
classifier's probabilities with weight W. --bench N: CPU ms per frame
on one thread (cv2.setNumThreads(1)), median over N frames of the split, split into preprocessing, forward
and post-processing (process CPU time and wall time).
"""
import argparse
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaldet  # noqa: E402
import scenes  # noqa: E402
from net import LABELS  # noqa: E402


def make_relabel(card_path):
    """A function (image, boxes x1y1x2y2) -> class probabilities [n, 3] from the crop classifier of a card."""
    import yaml
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from crop import preprocess
    from evaluate import dnn_probs, load_net
    with open(card_path) as f:
        card = yaml.safe_load(f)
    net = load_net(os.path.join(os.path.dirname(os.path.abspath(card_path)), card["model"]))
    inp, margin = card["input"], card["crop"]["margin"]

    def relabel(img, boxes):
        if len(boxes) == 0:
            return np.zeros((0, len(LABELS)), np.float32)
        x = np.concatenate([preprocess(img, [b[0], b[1], b[2] - b[0], b[3] - b[1]], margin, inp["size"],
                                       inp["mean"], inp["std"]) for b in boxes])
        return dnn_probs(net, x)
    return relabel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--split", default="val", choices=("train", "val", "test"))
    ap.add_argument("--source", default="andrewmvd", choices=tuple(scenes.SOURCES))
    ap.add_argument("--iou", type=float, default=0.0, help="IoU of the AP (0: the source's judged IoU)")
    ap.add_argument("--fuse", type=float, default=0.0, help="weight of the detector's own labels (with --classifier)")
    ap.add_argument("--jsonl", default="")
    ap.add_argument("--bench", type=int, default=0)
    ap.add_argument("--score", type=float, default=0.05)
    ap.add_argument("--classifier", default="",
                    help="a classifier card (models/mask_classifier.yaml): relabel every detection with it "
                         "(two-stage: this network as the face detector, the face score kept)")
    a = ap.parse_args()
    relabel = make_relabel(a.classifier) if a.classifier else None
    net = cv2.dnn.readNetFromONNX(a.onnx)
    import train_detector
    iou = a.iou or train_detector.JUDGE_IOU[a.source]
    sc = scenes.load_split(a.split, source=a.source)
    preds, gts, lines = [], [], []
    for stem, jpg, b, lab in sc:
        img = scenes.decode(jpg)
        canvas, s = scenes.letterbox(img, a.size)
        net.setInput(scenes.to_input(canvas))
        det = net.forward()[0]
        p = evaldet.postprocess(det, s, img.shape[1], img.shape[0], score_thr=a.score, with_scores=a.fuse > 0)
        own = None
        if a.fuse > 0:
            p, own = p[:3], p[3]
        if relabel is None:
            lines.append(evaldet.jsonl_line(stem, img.shape[1], img.shape[0], *p))
        else:
            probs = relabel(img, p[0])
            if own is not None and len(own):
                probs = (1 - a.fuse) * probs + a.fuse * own / np.maximum(own.sum(1, keepdims=True), 1e-9)
            lines.append(evaldet.jsonl_line(stem, img.shape[1], img.shape[0], p[0], p[1], probs.argmax(1),
                                            probs.max(1)))
            p = (p[0], p[1] * probs.max(1), probs.argmax(1))
        preds.append(p)
        gts.append((b, None, lab))
    m = evaldet.voc_map(preds, gts, iou)
    print("%s %s split (%d images): mAP@%.1f %.4f | %s | face AP@%.1f %.4f, @0.5 %.4f" % (
        a.source, a.split, len(sc), iou, m["mAP"], " ".join("%s %.4f" % (k, m[k]) for k in LABELS), iou,
        evaldet.face_ap(preds, gts, iou), evaldet.face_ap(preds, gts, 0.5)))
    if a.jsonl:
        with open(a.jsonl, "w") as f:
            f.write("\n".join(lines) + "\n")
    if a.bench:
        cv2.setNumThreads(1)
        imgs = [scenes.decode(s[1]) for s in sc[:a.bench]]
        for img in imgs[:5]:
            net.setInput(scenes.to_input(scenes.letterbox(img, a.size)[0]))
            net.forward()
        rows = []
        for img in imgs:
            c0, w0 = time.process_time(), time.perf_counter()
            canvas, s = scenes.letterbox(img, a.size)
            x = scenes.to_input(canvas)
            c1 = time.process_time()
            net.setInput(x)
            det = net.forward()[0]
            c2 = time.process_time()
            evaldet.postprocess(det, s, img.shape[1], img.shape[0], score_thr=0.5)
            c3, w3 = time.process_time(), time.perf_counter()
            rows.append((c1 - c0, c2 - c1, c3 - c2, c3 - c0, w3 - w0))
        r = np.median(np.array(rows), 0) * 1e3
        print("bench (1 thread, %d frames, median ms): CPU pre %.2f forward %.2f post %.2f total %.2f | wall %.2f"
              % (len(imgs), *r))


if __name__ == "__main__":
    main()
