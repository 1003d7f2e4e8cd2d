"""Detection scenes for the detector recipe: the two sources, images, boxes, letterbox, data hashes, packing.

A scene is (stem, jpeg bytes, boxes [n, 4] float32 x1 y1 x2 y2 in image pixels, labels [n] int64). Boxes are
the VOC boxes clamped to the image, classes through the source's label map (models/label_maps/; ../data.py
voc_boxes, the classifier recipe's reader). Sources: andrewmvd (tight face boxes, 3 labels) and moxa3k
(head boxes, mask / no_mask), each with committed train/val/test splits (models/splits/<source>_<split>.txt).
"""
import hashlib
import os
import pickle
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import data  # noqa: E402  (the classifier recipe's data module: label maps, splits, VOC reader)

SPLITS = ("train", "val", "test")
SOURCES = {"andrewmvd": data.ANDREW, "moxa3k": data.MOXA}


def root_of(source):
    if source not in SOURCES:
        raise SystemExit("detector recipe: unknown source %r (known: %s)" % (source, ", ".join(SOURCES)))
    return SOURCES[source]


def check_data(source="andrewmvd"):
    """Fail loudly (naming the path) when a source's dataset is not where the recipe reads it."""
    for sub in ("images", "annotations"):
        p = os.path.join(root_of(source), sub)
        if not os.path.isdir(p):
            raise SystemExit("detector recipe: %s dataset missing: %s is not a folder (set MASKDETECT_DATA "
                             "or MASKDETECT_SHARED_DIR, or put the shared data beside the repository)" % (source, p))


def load_split(split, limit=0, source="andrewmvd"):
    """Scenes of one split of one source, read from the shared dataset folder."""
    check_data(source)
    root = root_of(source)
    stems = data.read_split("%s_%s" % (source, split))
    if limit:
        stems = stems[:limit]
    out = []
    for stem in stems:
        with open(os.path.join(root, "images", stem + ".jpg"), "rb") as f:
            jpg = f.read()
        gt = data.voc_boxes(root, stem, source)
        boxes = np.array([[x, y, x + w, y + h] for (x, y, w, h), _ in gt], np.float32).reshape(-1, 4)
        labels = np.array([lab for _, lab in gt], np.int64)
        out.append((stem, jpg, boxes, labels))
    return out


def data_hash(source="andrewmvd"):
    """sha256 of a source's three split files, and the classifier recipe's image hash over their images."""
    h = hashlib.sha256()
    for sp in SPLITS:
        with open(os.path.join(data.SPLIT_DIR, "%s_%s.txt" % (source, sp)), "rb") as f:
            h.update(f.read())
    images = ["images/%s.jpg" % s for sp in SPLITS for s in data.read_split("%s_%s" % (source, sp))]
    return {"splits_sha256": h.hexdigest(), "images": len(images),
            "images_sha256": data.data_hash(root_of(source), images)}


def pack(path, sources=("andrewmvd", "moxa3k"), splits=("train", "val")):
    """One pickle with the scenes of the given sources and splits (original JPEG bytes) and the data hashes."""
    blob = {"hash": {s: data_hash(s) for s in sources},
            "scenes": {s: {sp: load_split(sp, source=s) for sp in splits} for s in sources}}
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
    ap = argparse.ArgumentParser(description="pack train+val scenes of both sources into one file (remote run)")
    ap.add_argument("out")
    a = ap.parse_args()
    print(pack(a.out))
