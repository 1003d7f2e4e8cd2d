"""Post-processing and VOC mAP for the detector recipe (the recipe's own evaluator).

postprocess() is what the C++ side does with the ONNX output: per point the best class and its score,
a score threshold, class-agnostic NMS (cv2.dnn.NMSBoxes), at most max_faces, boxes mapped back by the
letterbox scale and clipped to the image. voc_map() is VOC all-point AP per class at IoU 0.5 (a
detection carries one label; it can only match a ground-truth face of that label), averaged over the three
classes, the conventions of `maskdetect eval`.
"""
import json

import cv2
import numpy as np

from net import LABELS


def postprocess(det, scale, img_w, img_h, score_thr=0.05, nms_iou=0.45, max_faces=100, with_scores=False):
    """det [N, 7] -> (boxes [k, 4] x1 y1 x2 y2 in image pixels, scores [k], labels [k]) (+ label scores [k, 3]
    with with_scores)."""
    cls = det[:, 4:]
    labels = cls.argmax(1)
    scores = cls.max(1)
    keep = np.nonzero(scores >= score_thr)[0]
    if keep.size == 0:
        empty = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
        return empty + ((np.zeros((0, cls.shape[1]), np.float32),) if with_scores else ())
    keep = keep[np.argsort(-scores[keep], kind="stable")[:2000]]
    b = det[keep, :4] / scale
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, img_w)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, img_h)
    xywh = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)
    idx = cv2.dnn.NMSBoxes(xywh.tolist(), scores[keep].tolist(), score_thr, nms_iou)
    idx = np.array(idx, np.int64).reshape(-1)[:max_faces]
    out = (b[idx].astype(np.float32), scores[keep][idx].astype(np.float32), labels[keep][idx])
    return out + ((cls[keep][idx].astype(np.float32),) if with_scores else ())


def iou_one(box, boxes):
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    a = (box[2] - box[0]) * (box[3] - box[1])
    bb = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(a + bb - inter, 1e-9)


def voc_ap(rec, prec):
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def voc_map(preds, gts, iou_thr=0.5, labels=None):
    """preds, gts: lists per image of (boxes [n,4], scores or None, labels). Returns {mAP, AP per class}.

    The mean is over the classes with ground truth (a class absent from the set, such as `incorrect` in
    moxa3k, has no AP and is left out, as `maskdetect eval` does); `labels` restricts the classes.
    """
    out = {}
    present = []
    for c, name in enumerate(LABELS):
        if labels is not None and c not in labels:
            continue
        dets = []
        npos = 0
        gt_c = []
        for i, (gb, _, gl) in enumerate(gts):
            g = gb[gl == c]
            gt_c.append((g, np.zeros(len(g), bool)))
            npos += len(g)
        for i, (pb, ps, pl) in enumerate(preds):
            for b, s in zip(pb[pl == c], ps[pl == c]):
                dets.append((float(s), i, b))
        dets.sort(key=lambda d: -d[0])
        tp = np.zeros(len(dets))
        for k, (_, i, b) in enumerate(dets):
            g, used = gt_c[i]
            if len(g) == 0:
                continue
            ious = iou_one(b, g)
            j = int(np.argmax(ious))
            if ious[j] >= iou_thr and not used[j]:
                used[j] = True
                tp[k] = 1
        if npos == 0:
            out[name] = float("nan")
            continue
        present.append(name)
        ctp = np.cumsum(tp)
        cfp = np.cumsum(1 - tp)
        out[name] = voc_ap(ctp / npos, ctp / np.maximum(ctp + cfp, 1e-9))
    out["mAP"] = float(np.mean([out[n] for n in present])) if present else float("nan")
    return out


def face_ap(preds, gts, iou_thr=0.5):
    """Class-agnostic VOC all-point AP (every detection and every face as one class), ranked by score."""
    one = [(pb, ps, np.zeros(len(pb), np.int64)) for pb, ps, _ in preds]
    ones = [(gb, None, np.zeros(len(gb), np.int64)) for gb, _, _ in gts]
    return voc_map(one, ones, iou_thr, labels=(0,))["mAP"]


def jsonl_line(stem, w, h, boxes, scores, labels, label_probs=None):
    """One frame in the JSON Lines format `maskdetect eval --predictions` reads.

    The detector's score is the face score; the label is the detector's, with probability 1 (`score`), so
    eval ranks faces (face AP) and labelled detections (class AP) by the detector's score alike. With
    label_probs (a classifier's probability of each label), `score` is that probability.
    """
    faces = [{"box": [round(float(b[0]), 2), round(float(b[1]), 2), round(float(b[2] - b[0]), 2),
                      round(float(b[3] - b[1]), 2)],
              "label": LABELS[int(lab)], "face_score": round(float(s), 5),
              "score": 1.0 if label_probs is None else round(float(label_probs[k]), 5)}
             for k, (b, s, lab) in enumerate(zip(boxes, scores, labels))]
    return json.dumps({"image": stem + ".jpg", "width": int(w), "height": int(h), "faces": faces})
