"""andrewmvd scenes for the detector recipe: images, boxes, letterbox, data hash, packing.

A scene is (stem, jpeg bytes, boxes [n, 4] float32 x1 y1 x2 y2 in image pixels, labels [n] int64). Boxes are
the VOC boxes clamped to the image (../data.py andrew_boxes, the classifier recipe's reader).
"""
import hashlib
import os
import pickle
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import data  # noqa: E402  (the classifier recipe's data module: label map, splits, VOC reader)

SPLITS = ("train", "val", "test")


def check_data():
    """Fail loudly (naming the path) when the andrewmvd dataset is not where the recipe reads it."""
    for sub in ("images", "annotations"):
        p = os.path.join(data.ANDREW, sub)
        if not os.path.isdir(p):
            raise SystemExit("detector recipe: andrewmvd dataset missing: %s is not a folder (set MASKDETECT_DATA "
                             "or MASKDETECT_SHARED_DIR, or put the shared data beside the repository)" % p)


def load_split(split, limit=0):
    """Scenes of one andrewmvd split, read from the shared dataset folder."""
    check_data()
    stems = data.read_split("andrewmvd_" + split)
    if limit:
        stems = stems[:limit]
    out = []
    for stem in stems:
        with open(os.path.join(data.ANDREW, "images", stem + ".jpg"), "rb") as f:
            jpg = f.read()
        gt = data.andrew_boxes(stem)
        boxes = np.array([[x, y, x + w, y + h] for (x, y, w, h), _ in gt], np.float32).reshape(-1, 4)
        labels = np.array([lab for _, lab in gt], np.int64)
        out.append((stem, jpg, boxes, labels))
    return out


def data_hash():
    """sha256 of the three andrewmvd split files, and the classifier recipe's image hash over their images."""
    h = hashlib.sha256()
    for sp in SPLITS:
        with open(os.path.join(data.SPLIT_DIR, "andrewmvd_%s.txt" % sp), "rb") as f:
            h.update(f.read())
    images = ["images/%s.jpg" % s for sp in SPLITS for s in data.read_split("andrewmvd_" + sp)]
    return {"splits_sha256": h.hexdigest(), "images": len(images), "images_sha256": data.data_hash(data.ANDREW, images)}


def pack(path, splits=("train", "val")):
    """One pickle with the scenes of the given splits (original JPEG bytes) and the data hash."""
    blob = {"hash": data_hash(), "splits": {sp: load_split(sp) for sp in splits}}
    with open(path, "wb") as f:
        pickle.dump(blob, f, protocol=4)
    return blob["hash"]


def decode(jpg):
    img = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("cannot decode image")
    return img


def letterbox(img, size):
    """The SDK's preprocessing: scale the long side to size (INTER_LINEAR), top-left on a black square canvas.

    Returns (uint8 BGR canvas, scale). The network input is RGB, (x / 255 - 0.5) / 0.5, NCHW.
    """
    h, w = img.shape[:2]
    s = size / max(h, w)
    nw, nh = max(1, int(round(w * s))), max(1, int(round(h * s)))
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, s


def to_input(canvas):
    """uint8 BGR canvas(es) -> float32 NCHW RGB normalised like the network expects."""
    return cv2.dnn.blobFromImage(canvas, 1.0 / 127.5, None, (127.5, 127.5, 127.5), swapRB=True)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="pack andrewmvd train+val scenes into one file (for a remote run)")
    ap.add_argument("out")
    a = ap.parse_args()
    print(pack(a.out))
