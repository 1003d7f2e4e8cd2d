"""Synthesised masks drawn on unmasked faces, placed with YuNet's 5 facial landmarks.

Our own code (no MaskedFace-Net code or masks): for a `no_mask` face we find the
landmarks once (YuNet 2022mar, OpenCV's cv2.FaceDetectorYN) on its cached
context patch (cache.py) and, at training time, draw a mask-shaped region on
the patch before augmentation:

* `correct`: top edge on the nose bridge, bottom under the chin -> label mask
  (drawn too, so that "a drawn mask" is not by itself a cue for `incorrect`);
* `nose`: nose exposed, top edge between nose tip and upper lip -> incorrect;
* `mouth`: nose and part of the mouth exposed, top edge through the mouth -> incorrect;
* `chin`: chin only, top edge under the lower lip -> incorrect.
A mask that would cover less than 6 % of the network's crop is not drawn (draw_mask returns None)
and the caller falls back to `nose`, so an `incorrect` label never sits on a face that looks unmasked.

Geometry in the face frame: E = eye centre, M = mouth centre, u = |M - E|,
d = (M - E) / u (down), p = perpendicular (right). The chin is taken at
M + 0.85 u d. The mask is the part of an ellipse (centre between the top and
bottom edges, half-width ~1.05 x eye distance) below its top edge, slightly
arched, alpha-feathered edges. Its pixels are either a real mask (`donor`: a
`mask`-labelled training face whose region under the nose bridge is warped by
a similarity transform of the two face frames so that it lands at the
variant's top edge) or a drawn one (palette colour: surgical blue / white /
black / grey / random cloth, shaded by the face's own luminance, optional
pleats and ear loops).

YuNet model: $MASKDETECT_YUNET or ../shared/models/yunet_2022mar/face_detection_yunet_2022mar.onnx.
"""
import hashlib
import json
import os

import cv2
import numpy as np

import cache
import data

YUNET = os.environ.get("MASKDETECT_YUNET") or os.path.join(
    os.path.dirname(data.DATA_ROOT), "models", "yunet_2022mar", "face_detection_yunet_2022mar.onnx")
VARIANTS = ("correct", "nose", "mouth", "chin")
MASK, INCORRECT = 0, 2


def landmarks(patches, samples_key):
    """(N, 5, 2) float32 landmarks in patch pixels (NaN where YuNet finds no face near the centre).

    Order: right eye, left eye, nose tip, right mouth corner, left mouth corner (YuNet's).
    Cached in the crop cache directory under a key of the samples and the patch size.
    """
    key = hashlib.sha256(json.dumps([samples_key, list(patches.shape), "yunet_2022mar"]).encode())
    path = os.path.join(cache.CACHE_DIR, "lm_" + key.hexdigest()[:20] + ".npy")
    if os.path.exists(path):
        return np.load(path)
    if not os.path.exists(YUNET):
        raise FileNotFoundError("YuNet model not found: %s (set MASKDETECT_YUNET)" % YUNET)
    n, c = len(patches), patches.shape[1]
    det = cv2.FaceDetectorYN.create(YUNET, "", (c, c), 0.5, 0.3, 20)
    out = np.full((n, 5, 2), np.nan, np.float32)
    for i in range(n):
        _, faces = det.detect(patches[i])
        if faces is None:
            continue
        centre = np.array([c / 2.0, c / 2.0])
        # the face of the sample is centred in its context patch: nearest box centre wins
        dist = [np.linalg.norm(f[:2] + f[2:4] / 2 - centre) for f in faces]
        f = faces[int(np.argmin(dist))]
        if min(dist) < c * 0.2:
            out[i] = f[4:14].reshape(5, 2)
    os.makedirs(cache.CACHE_DIR, exist_ok=True)
    np.save(path + ".tmp.npy", out)
    os.replace(path + ".tmp.npy", path)
    return out


def _palette(rng):
    r = rng.random()
    if r < 0.35:  # surgical blue/green
        return np.array([rng.uniform(190, 240), rng.uniform(170, 220), rng.uniform(110, 170)])
    if r < 0.55:  # white
        v = rng.uniform(200, 250)
        return np.array([v, v, v]) + rng.uniform(-8, 8, 3)
    if r < 0.75:  # black / dark grey
        v = rng.uniform(15, 70)
        return np.array([v, v, v]) + rng.uniform(-5, 5, 3)
    return rng.uniform(20, 240, 3)  # cloth, any colour


def _frame(lm):
    """Face frame from landmarks: eye centre, unit down vector d, right vector p, u = |mouth - eyes|, eye distance."""
    eyes = (lm[0] + lm[1]) / 2
    mouth = (lm[3] + lm[4]) / 2
    u = float(np.linalg.norm(mouth - eyes))
    d = (mouth - eyes) / max(u, 1e-6)
    ed = max(float(np.linalg.norm(lm[1] - lm[0])), 0.6 * u)
    return eyes, d, np.array([-d[1], d[0]]), u, ed


def _donor_layer(target_lm, donor, top, shape):
    """A real mask: the donor (a masked face's patch and landmarks) warped so that its mask's top edge
    (nose bridge, 0.30 u under its eyes) lands at `top` (in u) in the target face frame."""
    dpatch, dlm = donor
    te, td, tp, tu, ted = _frame(target_lm)
    de, dd, dp, du, ded = _frame(dlm)
    shift = top - 0.30
    src = np.float32([de + dd * (-shift) * du, de + dp * ded + dd * (-shift) * du, de + dd * (1 - shift) * du])
    dst = np.float32([te, te + tp * ted, te + td * tu])
    m = cv2.getAffineTransform(src, dst)
    return cv2.warpAffine(dpatch, m, (shape[1], shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE).astype(np.float32)


def draw_mask(patch, lm, variant, rng, donor=None):
    """Draw a `variant` mask on a copy of a BGR uint8 patch using landmarks lm (5, 2).

    With `donor` = (patch, landmarks) of a face wearing a mask, the mask's pixels are the donor's
    (real texture, moved to the variant's position); otherwise a drawn mask (palette colour).

    Returns None when the mask would be (almost) outside the network's crop or the landmarks are
    degenerate; the caller then draws another variant.
    """
    img = patch.copy()
    eye_r, eye_l, nose = lm[0], lm[1], lm[2]
    eyes = (eye_r + eye_l) / 2
    mouth = (lm[3] + lm[4]) / 2
    u = float(np.linalg.norm(mouth - eyes))
    if not u > 2:
        return None
    d = (mouth - eyes) / u
    p = np.array([-d[1], d[0]])
    ed = max(float(np.linalg.norm(eye_l - eye_r)), 0.6 * u)
    j = lambda s: rng.uniform(-s, s)  # noqa: E731  (jitter, fractions of u)
    nose_t = float(np.dot(nose - eyes, d)) / u  # ~0.6
    chin_t = 1.85
    if variant == "correct":
        top = min(0.30 + j(0.08), nose_t - 0.2)
        bottom = chin_t + 0.15 + j(0.08)
    elif variant == "nose":
        top = (nose_t + 1.0) / 2 + j(0.06)
        bottom = chin_t + 0.15 + j(0.08)
    elif variant == "mouth":  # mouth (and nose) partly exposed: top edge through the mouth
        top = 0.95 + j(0.06)
        bottom = chin_t + 0.25 + j(0.1)
    else:  # chin only: top edge under the lower lip
        top = 1.2 + j(0.06)
        bottom = chin_t + 0.3 + j(0.1)
    # mask frame: origin eyes, x along p (pixels), y along d (in units of u)
    half_w = ed * (1.05 + j(0.12))
    centre_x = float(np.dot((nose + mouth) / 2 - eyes, p)) + j(0.05) * u
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    rel_x = (xs - eyes[0]) * p[0] + (ys - eyes[1]) * p[1] - centre_x
    rel_y = ((xs - eyes[0]) * d[0] + (ys - eyes[1]) * d[1]) / u
    arch = 0.12 * (rel_x / half_w) ** 2  # top edge dips towards the cheeks
    mid = (top + bottom) / 2
    half_h = (bottom - top) / 2 * 1.25
    inside = ((rel_x / half_w) ** 2 + ((rel_y - mid) / half_h) ** 2 <= 1.0) & (rel_y >= top + arch)
    alpha = inside.astype(np.float32)
    c0, c1 = int(h * 0.1875), int(h * 0.8125)  # the network's crop inside a context 1.6 patch (+- jitter)
    if inside[c0:c1, c0:c1].sum() < 0.06 * (c1 - c0) ** 2:
        return None  # (almost) outside the crop: the face would look unmasked
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.6, 0.02 * u))[..., None]
    if donor is not None:
        layer = _donor_layer(lm, donor, top, img.shape)
        out = img.astype(np.float32) * (1 - alpha) + layer * alpha
        return np.clip(out, 0, 255).astype(np.uint8)
    colour = _palette(rng)
    lum = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    lum = cv2.GaussianBlur(lum, (0, 0), 0.15 * u)
    mean_lum = float(lum[inside].mean()) if inside.any() else 128.0
    shade = np.clip(0.55 + 0.45 * lum / max(mean_lum, 1.0), 0.4, 1.4)
    shade *= 1.0 - 0.15 * np.clip((rel_y - top) / max(bottom - top, 1e-3), 0, 1)  # darker towards the bottom
    layer = colour[None, None, :] * shade[..., None]
    if rng.random() < 0.5:  # pleats
        for k in range(1, 4):
            yk = top + (bottom - top) * k / 4
            band = np.exp(-((rel_y - yk) * u / max(0.8, 0.03 * u)) ** 2)
            layer *= (1 - 0.25 * band)[..., None]
    layer += rng.normal(0, rng.uniform(1, 8), layer.shape)  # fabric noise
    out = img.astype(np.float32) * (1 - alpha) + layer * alpha
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:  # ear loops from the upper sides outwards, towards the ears
        col = tuple(float(v) for v in np.clip(colour * 0.9, 0, 255))
        for side in (-1, 1):
            a = eyes + d * (top + 0.15) * u + p * (centre_x + side * 0.9 * half_w)
            b = eyes + d * (0.5 * u) + p * (centre_x + side * 1.25 * half_w)
            cv2.line(out, tuple(int(round(v)) for v in a), tuple(int(round(v)) for v in b), col,
                     max(1, int(round(0.04 * u))), cv2.LINE_AA)
    return out


def pick_incorrect(cfg, rng):
    """One of the incorrect variants, with the synth config's weights."""
    names = [n for n in ("nose", "mouth", "chin") if cfg["variants"].get(n, 0) > 0]
    w = np.array([cfg["variants"][n] for n in names], np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]
