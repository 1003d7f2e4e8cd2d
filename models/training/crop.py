"""The face-crop rule shared by training, evaluation and the C++ SDK.

This is the single Python implementation of the crop rule. The C++ SDK
implements the same rule; `parity.py` produces a fixture so a C++ test can
check that both give the same network outputs.

Rule, for a face box (x, y, w, h) in float pixels of the original BGR image:

    cx = x + w/2;  cy = y + h/2
    side = max(w, h) * (1 + 2*margin)
    x0 = lround(cx - side/2);  y0 = lround(cy - side/2);  s = max(1, lround(side))
    crop = the s x s region starting at (x0, y0); pixels outside the image are
           filled with cv2.BORDER_REPLICATE (copyMakeBorder of the part that
           intersects the image)
    resize to (S, S): cv2.INTER_AREA if s > S else cv2.INTER_LINEAR
    BGR -> RGB, float32, /255, (x - mean[c]) / std[c] per RGB channel, NCHW.

`lround` rounds half away from zero, like std::lround. If the square does
not intersect the image at all (impossible for a box inside the image), the
nearest image pixel is replicated.
Images are read with cv2.IMREAD_COLOR (alpha dropped, as in C++).
"""
import math

import cv2
import numpy as np


def lround(v):
    """std::lround: round half away from zero."""
    return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))


def crop_square(img, box, margin, size):
    """Apply the crop rule to a BGR uint8 image; return a (size, size, 3) BGR uint8 crop."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2.0, y + h / 2.0
    side = max(w, h) * (1.0 + 2.0 * margin)
    x0, y0 = lround(cx - side / 2.0), lround(cy - side / 2.0)
    s = max(1, lround(side))
    ih, iw = img.shape[:2]
    # Intersection of the s x s square with the image.
    ix0, iy0 = max(0, x0), max(0, y0)
    ix1, iy1 = min(iw, x0 + s), min(ih, y0 + s)
    if ix1 <= ix0 or iy1 <= iy0:
        # Square entirely outside the image: replicate the nearest pixel.
        ix0 = min(max(x0, 0), iw - 1)
        iy0 = min(max(y0, 0), ih - 1)
        ix1, iy1 = ix0 + 1, iy0 + 1
    region = img[iy0:iy1, ix0:ix1]
    top, left = iy0 - y0, ix0 - x0
    bottom, right = s - top - (iy1 - iy0), s - left - (ix1 - ix0)
    if top or left or bottom or right:
        region = cv2.copyMakeBorder(region, top, bottom, left, right, cv2.BORDER_REPLICATE)
    interp = cv2.INTER_AREA if s > size else cv2.INTER_LINEAR
    return cv2.resize(region, (size, size), interpolation=interp)


def normalize(crops_bgr, mean, std):
    """BGR uint8 crops (N, S, S, 3) -> normalised RGB float32 NCHW tensor data."""
    x = crops_bgr[..., ::-1].astype(np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def preprocess(img, box, margin, size, mean, std):
    """Full rule for one box: returns a (1, 3, size, size) float32 array."""
    return normalize(crop_square(img, box, margin, size)[None], mean, std)
