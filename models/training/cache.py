"""Decoded crops held in memory as uint8, with an on-disk cache (cache/, git-ignored).

The cache directory can be moved with the MASKDETECT_CACHE_DIR environment variable.

* eval crops: the exact crop rule (crop.py) at the network input size; used
  for validation and test, so the figures match deployment.
* context crops: the same rule with the crop side enlarged by `context`
  (e.g. 1.6), resized to a larger square; training augmentation jitters the
  face box inside this patch and then re-applies the crop rule (augment.py).
  In a context patch of size C the un-jittered face crop is the centred
  square of side C / context.
"""
import hashlib
import json
import os
from multiprocessing import Pool

import cv2
import numpy as np

from crop import crop_square

CACHE_DIR = os.environ.get("MASKDETECT_CACHE_DIR",
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache"))


def _whole_box(img):
    h, w = img.shape[:2]
    return [0.0, 0.0, float(w), float(h)]


def _crop_one(job):
    sample, margin, size = job
    cv2.setNumThreads(1)
    img = cv2.imread(sample["path"], cv2.IMREAD_COLOR)
    if img is None:
        raise IOError("cannot read " + sample["path"])
    box = sample["box"] or _whole_box(img)
    return crop_square(img, box, margin, size)


def crops(samples, margin, size, workers=2):
    """(N, size, size, 3) uint8 BGR crops of the samples with the crop rule at `margin`."""
    key = hashlib.sha256(json.dumps([[s["path"], s["box"]] for s in samples] + [margin, size]).encode())
    path = os.path.join(CACHE_DIR, key.hexdigest()[:20] + ".npy")
    if os.path.exists(path):
        return np.load(path)
    with Pool(workers) as pool:
        out = np.stack(pool.map(_crop_one, [(s, margin, size) for s in samples], chunksize=32))
    os.makedirs(CACHE_DIR, exist_ok=True)
    np.save(path + ".tmp.npy", out)
    os.replace(path + ".tmp.npy", path)
    return out


def context_margin(margin, context):
    """Margin whose crop side is `context` times the side of the crop at `margin`."""
    return ((1.0 + 2.0 * margin) * context - 1.0) / 2.0
