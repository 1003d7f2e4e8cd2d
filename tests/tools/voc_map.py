#!/usr/bin/python3
"""An independent PASCAL VOC mAP evaluator, to check `maskdetect eval` against.

Reads VOC annotation files (any XML the standard library's parser accepts: attributes such as LabelImg's
<annotation verified="yes">, comments, entities, any element order) and a JSON Lines file of detections in
maskdetect's shape (what `maskdetect run --json` writes and `maskdetect eval --predictions` reads: one
object per image with "image" and "faces", each face with "box" [x, y, w, h], "label" and a confidence).

Written from the PASCAL VOC 2010+ definition, not from cli/eval:
- Detections of a class are ranked by confidence (descending; ties keep file order). Each one is compared
  with every ground-truth box of its image and class; the box of highest IoU is its candidate. If that IoU
  is above the threshold and the box is not yet claimed, the detection is a true positive and claims it;
  otherwise (IoU too low, or the best box already claimed) it is a false positive (the VOC devkit rule).
  Objects marked <difficult>1</difficult> are neither counted nor penalised.
- AP is the area under the precision envelope (all-point interpolation, VOC 2010+): recall and precision
  are padded with (0, 0) and (1, 0), precision is made monotone from the right, and the areas of the steps
  where recall changes are summed. mAP is the mean over the classes that have ground truth.
- Boxes are continuous coordinates: width = xmax - xmin (no VOC "+1" pixel), clipped to the image size
  given in <size>.
- Confidence: the face's "confidence" if present, else face_score x score, else score.

Usage: voc_map.py --dataset DIR [--split FILE] --predictions FILE [--iou 0.5 ...] [--json OUT]
DIR holds annotations/*.xml (or is the annotations folder). Prints one line per IoU threshold.
"""

import argparse
import json
import math
import os
import sys
import xml.etree.ElementTree as ET

CLASSES = ("mask", "no_mask", "incorrect")
# The class names of the face-mask sets this project reads, to the three labels.
CLASS_NAMES = {
    "with_mask": "mask", "mask": "mask", "correct_mask": "mask",
    "without_mask": "no_mask", "no_mask": "no_mask", "nomask": "no_mask",  # nomask: Moxa3K
    "mask_weared_incorrect": "incorrect", "with_incorrect_mask": "incorrect", "incorrect_mask": "incorrect",
    "incorrect": "incorrect",
}


def fail(message):
    print(f"voc_map.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def text_of(element, tag, origin):
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        fail(f"{origin}: <{tag}> missing or empty")
    return child.text.strip()


def read_annotation(path):
    """[(label, [x0, y0, x1, y1], difficult)] of one VOC file."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(f"{path}: not well-formed XML: {e}")
    if root.tag != "annotation":
        fail(f"{path}: the root element is <{root.tag}>, not <annotation>")
    width = height = math.inf
    size = root.find("size")
    if size is not None and size.find("width") is not None and size.find("height") is not None:
        w, h = float(text_of(size, "width", path)), float(text_of(size, "height", path))
        if w >= 1 and h >= 1:
            width, height = w, h
    objects = []
    for obj in root.iter("object"):
        name = text_of(obj, "name", path).lower()
        if name not in CLASS_NAMES:
            continue
        box = obj.find("bndbox")
        if box is None:
            fail(f"{path}: an <object> has no <bndbox>")
        x0, y0, x1, y1 = (float(text_of(box, k, path)) for k in ("xmin", "ymin", "xmax", "ymax"))
        x0, x1 = max(0.0, min(x0, width)), max(0.0, min(x1, width))
        y0, y1 = max(0.0, min(y0, height)), max(0.0, min(y1, height))
        difficult = obj.find("difficult") is not None and (obj.find("difficult").text or "0").strip() == "1"
        objects.append((CLASS_NAMES[name], [x0, y0, x1, y1], difficult))
    return objects


def read_ground_truth(dataset, split):
    folder = os.path.join(dataset, "annotations")
    if not os.path.isdir(folder):
        folder = dataset
    stems = sorted(os.path.splitext(f)[0] for f in os.listdir(folder) if f.endswith(".xml"))
    if split:
        with open(split) as f:
            wanted = {os.path.splitext(os.path.basename(line.strip()))[0] for line in f if line.strip()}
        missing = wanted - set(stems)
        if missing:
            fail(f"{split}: {len(missing)} name(s) have no annotation in {folder}, e.g. {sorted(missing)[0]}")
        stems = [s for s in stems if s in wanted]
    if not stems:
        fail(f"{folder}: no annotation files")
    return {stem: read_annotation(os.path.join(folder, stem + ".xml")) for stem in stems}


def read_predictions(path, truth):
    """[(stem, label, confidence, [x0, y0, x1, y1])] in file order, for the images of `truth`."""
    detections = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                fail(f"{path}:{number}: not JSON: {e}")
            if "image" not in record:
                fail(f"{path}:{number}: no \"image\"")
            stem = os.path.splitext(os.path.basename(record["image"]))[0]
            if stem not in truth:
                continue
            for face in record.get("faces", []):
                x, y, w, h = face["box"]
                if "confidence" in face:
                    confidence = face["confidence"]
                elif "face_score" in face:
                    confidence = face["face_score"] * face["score"]
                else:
                    confidence = face["score"]
                detections.append((stem, face["label"], float(confidence), [x, y, x + w, y + h]))
    return detections


def overlap(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def class_ap(truth, detections, label, threshold):
    """(AP, counted ground truths) of one class; AP is None when the class has no ground truth."""
    gt = {stem: [(box, difficult) for name, box, difficult in objects if name == label]
          for stem, objects in truth.items()}
    positives = sum(1 for boxes in gt.values() for _, difficult in boxes if not difficult)
    if positives == 0:
        return None, 0
    claimed = {stem: [False] * len(boxes) for stem, boxes in gt.items()}
    ranked = sorted((d for d in detections if d[1] == label), key=lambda d: -d[2])  # stable: ties keep file order
    tp, fp = [], []
    for stem, _, _, box in ranked:
        best, best_iou = -1, 0.0
        for i, (g, _) in enumerate(gt[stem]):
            o = overlap(box, g)
            if o > best_iou:
                best, best_iou = i, o
        if best >= 0 and best_iou > threshold:
            if gt[stem][best][1]:  # difficult: ignored
                tp.append(0)
                fp.append(0)
            elif not claimed[stem][best]:
                claimed[stem][best] = True
                tp.append(1)
                fp.append(0)
            else:
                tp.append(0)
                fp.append(1)
        else:
            tp.append(0)
            fp.append(1)
    recall, precision = [], []
    cum_tp = cum_fp = 0
    for t, f in zip(tp, fp):
        cum_tp += t
        cum_fp += f
        recall.append(cum_tp / positives)
        precision.append(cum_tp / max(cum_tp + cum_fp, 1))
    mrec = [0.0] + recall + [1.0]
    mpre = [0.0] + precision + [0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    ap = sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])
    return ap, positives


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="VOC folder (annotations/*.xml) or the annotations folder")
    parser.add_argument("--split", help="evaluate only the images named in this file (one name or stem a line)")
    parser.add_argument("--predictions", required=True, help="JSON Lines in maskdetect's shape")
    parser.add_argument("--iou", type=float, nargs="+", default=[0.5], help="IoU threshold(s), default 0.5")
    parser.add_argument("--json", help="write the figures as JSON to this file")
    args = parser.parse_args()
    for path in (args.dataset, args.predictions) + ((args.split,) if args.split else ()):
        if not os.path.exists(path):
            fail(f"{path}: does not exist")
    truth = read_ground_truth(args.dataset, args.split)
    detections = read_predictions(args.predictions, truth)
    result = {"images": len(truth), "detections": len(detections), "by_iou": {}}
    for threshold in args.iou:
        per_class = {}
        counts = {}
        for label in CLASSES:
            per_class[label], counts[label] = class_ap(truth, detections, label, threshold)
        scored = [v for v in per_class.values() if v is not None]
        mean = sum(scored) / len(scored) if scored else None
        result["by_iou"][f"{threshold:g}"] = {"map": mean, "ap": per_class, "truths": counts}
        parts = " ".join(f"{c} {'n/a' if per_class[c] is None else f'{per_class[c]:.3f}'}" for c in CLASSES)
        print(f"IoU {threshold:g}: mAP {'n/a' if mean is None else f'{mean:.4f}'} ({parts}) "
              f"on {len(truth)} images, {sum(counts.values())} faces, {len(detections)} detections")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
