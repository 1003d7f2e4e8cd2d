"""Training-time augmentation with cv2/numpy (no extra dependencies).

`augment(patch, ...)` takes a context patch (see cache.py) and returns a
network-size BGR uint8 crop. All ranges and probabilities are taken from the
`aug` section of the config and scaled by `aug.strength` (0 = no
augmentation except the plain crop; 1 = the configured values).

Steps, in order:
1. small rotation of the context patch (border replicate);
2. scale/shift jitter of the face box, then the crop rule (crop.py) on the
   jittered box: detector boxes are not GT boxes. Whole-image samples use
   their own (tighter) scale range so the box stays mostly inside the image;
3. horizontal flip;
4. synthetic occluders: a skin-coloured ellipse ("hand") over the mouth of
   no_mask faces (a hand is NOT a mask: the label stays no_mask), and a
   small random-coloured "cloth" rectangle anywhere on any face (cutout-like,
   too small to cover the whole lower face; the label is unchanged);
5. colour jitter (brightness, contrast, saturation, hue);
6. Gaussian blur;
7. JPEG re-encode at a random quality.
"""
import cv2
import numpy as np

from crop import crop_square

NO_MASK = 1


def _hand(img, rng):
    """Skin-coloured ellipse over the mouth region."""
    s = img.shape[0]
    hsv = np.uint8([[[rng.uniform(3, 20), rng.uniform(40, 150), rng.uniform(90, 240)]]])
    colour = tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
    centre = (int(s * rng.uniform(0.4, 0.6)), int(s * rng.uniform(0.62, 0.78)))
    axes = (int(s * rng.uniform(0.14, 0.26)), int(s * rng.uniform(0.07, 0.14)))
    cv2.ellipse(img, centre, axes, rng.uniform(-30, 30), 0, 360, colour, -1, cv2.LINE_AA)


def _cloth(img, rng):
    """Random-coloured rectangle of at most 0.3 x 0.3 of the crop."""
    s = img.shape[0]
    w, h = (int(s * rng.uniform(0.1, 0.3)) for _ in range(2))
    x, y = int(rng.uniform(0, s - w)), int(rng.uniform(0, s - h))
    img[y:y + h, x:x + w] = rng.integers(0, 256, 3, dtype=np.uint8)


def _colour(img, a, k, rng):
    """Brightness/contrast/saturation/hue jitter; a = aug config, k = strength."""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-1, 1) * a["hue"] * k * 180) % 180
    hsv[..., 1] *= 1 + rng.uniform(-1, 1) * a["saturation"] * k
    img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    img *= 1 + rng.uniform(-1, 1) * a["brightness"] * k
    mean = img.mean()
    img = (img - mean) * (1 + rng.uniform(-1, 1) * a["contrast"] * k) + mean
    return np.clip(img, 0, 255).astype(np.uint8)


def augment(patch, context, whole, label, size, a, rng):
    """Augment one context patch into a (size, size, 3) uint8 BGR crop."""
    k = a["strength"]
    c = patch.shape[0]
    if k > 0 and rng.random() < a["p_rotate"] * k:
        m = cv2.getRotationMatrix2D((c / 2.0, c / 2.0), rng.uniform(-1, 1) * a["rotate_deg"] * k, 1.0)
        patch = cv2.warpAffine(patch, m, (c, c), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lo, hi = a["whole_scale"] if whole else a["box_scale"]
    scale = 1 + (rng.uniform(lo, hi) - 1) * k
    shift = a["box_shift"] * k
    side = c / context * scale
    cx = c / 2.0 + rng.uniform(-shift, shift) * side
    cy = c / 2.0 + rng.uniform(-shift, shift) * side
    img = crop_square(patch, (cx - side / 2, cy - side / 2, side, side), 0.0, size)
    if rng.random() < 0.5:
        img = img[:, ::-1].copy()
    if label == NO_MASK and rng.random() < a["p_hand"] * k:
        _hand(img, rng)
    if rng.random() < a["p_cloth"] * k:
        _cloth(img, rng)
    if k > 0:
        img = _colour(img, a, k, rng)
    if rng.random() < a["p_blur"] * k:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.3))
    if rng.random() < a["p_jpeg"] * k:
        q = int(rng.uniform(30, 95))
        img = cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_COLOR)
    return img
