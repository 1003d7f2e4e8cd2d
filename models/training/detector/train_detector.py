"""Train the project's own face-and-mask detector (net.py) on the TRAIN splits of both detection sources.

Usage (from the repository root, /usr/bin/python3 on CPU; any python3 with torch on a GPU):
  python3 models/training/detector/train_detector.py --out DIR [--quick] [--budget-s 14400]
      [--eval-every-s 1800] [--sources andrewmvd,moxa3k] [--init models/mask_detector.npz] [--crop 320]
      [--size 512] [--batch 8] [--seed 20261206] [--device auto|cpu|cuda] [--packed scenes.pkl] [--resume]

Sources: andrewmvd (tight face boxes) and moxa3k (head boxes), train splits for training, val splits for
selection; the test splits are never read here. Every val evaluation scores each source where its box
style is judged (andrewmvd at IoU 0.5, moxa3k at IoU 0.3) and the run keeps the EMA weights whose WORST
source is best (selection = min over sources of face AP at that source's IoU; docs/results.md, "Choosing by
the worst source").

Training runs for a budget of training seconds (--budget-s, eval time excluded; the learning-rate schedule
is a cosine over it) and writes to DIR as it goes: curve.json, best.npz (EMA weights of the best
selection score), last.npz, meta.json, and ckpt.pt (model, EMA, optimizer, step, random states) at every
evaluation, so that --resume continues a run that was stopped (the CPU is shared; runs are time-boxed).
--init starts from a checkpoint of the same architecture (the shipped 0.1.0 weights: CPU time is too short
to train from scratch).

Augmentation (per image, OpenCV, on the CPU): random scale 0.6-1.5x around the SDK's letterbox scale (long
side to --size), a random --crop x --crop window of it (black outside the image, as the letterbox pads),
horizontal flip, brightness/contrast/saturation jitter, 5 % grayscale. The network is fully convolutional,
so it trains on crops and runs on the whole --size canvas (the exported graph). A box is dropped when less
than 45 % of it stays in the crop or it ends up under 2 px. Images with an `incorrect` face are drawn 3x as
often. --quick: a tiny run (16 train / 8 val images per source, 15 s) that checks the whole path, then
exports ONNX (export_detector.py) and checks it in OpenCV DNN.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
import pickle
import platform
import random
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaldet  # noqa: E402
import scenes  # noqa: E402
from net import LABELS, STRIDES, Det, load_numpy_state, param_count, state_to_numpy  # noqa: E402

# The IoU at which each source's box style is judged (docs/results.md): andrewmvd's tight face boxes at the
# usual 0.5; moxa3k's head boxes at 0.3, where a face box and a head box of the same person match.
JUDGE_IOU = {"andrewmvd": 0.5, "moxa3k": 0.3}


def args_parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out from its ckpt.pt")
    ap.add_argument("--packed", default="")
    ap.add_argument("--sources", default="andrewmvd,moxa3k")
    ap.add_argument("--init", default="", help="start from these weights (.npz of the same architecture)")
    ap.add_argument("--budget-s", type=float, default=14400.0)
    ap.add_argument("--eval-every-s", type=float, default=1800.0)
    ap.add_argument("--size", type=int, default=512, help="the exported input (letterbox long side)")
    ap.add_argument("--crop", type=int, default=320, help="training window (0 = --size)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--neck", type=int, default=64)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--incorrect-oversample", type=float, default=3.0,
                    help="sampling weight of an image with an incorrect face, relative to 1")
    ap.add_argument("--box-weight", default="",
                    help="per-source weight of the box loss, e.g. moxa3k=0.5 (default 1 for every source)")
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    return ap


def load_scenes(args, sources):
    """{source: (train scenes, val scenes)} and {source: data hash}."""
    out, hashes = {}, {}
    if args.packed:
        with open(args.packed, "rb") as f:
            blob = pickle.load(f)
        for s in sources:
            out[s] = (blob["scenes"][s]["train"], blob["scenes"][s]["val"])
            hashes[s] = blob["hash"][s]
    else:
        for s in sources:
            scenes.check_data(s)
            hashes[s] = scenes.data_hash(s) if not args.quick else {"quick": True}
            out[s] = (scenes.load_split("train", source=s), scenes.load_split("val", source=s))
    if args.quick:
        out = {s: (tr[:16], va[:8]) for s, (tr, va) in out.items()}
    return out, hashes


class TrainSet:
    """Decoded training images (BGR uint8) with boxes, labels, source index and sampling weights."""

    def __init__(self, per_source, sources, incorrect_oversample):
        self.imgs, self.boxes, self.labels, self.source = [], [], [], []
        for si, s in enumerate(sources):
            for stem, jpg, b, lab in per_source[s]:
                self.imgs.append(scenes.decode(jpg))
                self.boxes.append(b.astype(np.float32))
                self.labels.append(lab.astype(np.int64))
                self.source.append(si)
        has_inc = np.array([float((lab == 2).any()) for lab in self.labels])
        self.weights = 1.0 + (incorrect_oversample - 1.0) * has_inc
        self.p = self.weights / self.weights.sum()

    def __len__(self):
        return len(self.imgs)


def augment_one(img, boxes, labels, size, crop, rng):
    """One training window: (float32 HWC RGB in [-1, 1], boxes [n, 4] in window pixels, labels [n])."""
    h, w = img.shape[:2]
    s = size / max(h, w) * math.exp(rng.uniform(math.log(0.6), math.log(1.5)))
    nw, nh = w * s, h * s
    tx = min(0.0, crop - nw) + rng.random() * abs(crop - nw)
    ty = min(0.0, crop - nh) + rng.random() * abs(crop - nh)
    flip = rng.random() < 0.5
    m = np.array([[-s if flip else s, 0.0, tx + (nw if flip else 0.0)], [0.0, s, ty]], np.float32)
    x = cv2.warpAffine(img, m, (crop, crop), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=(0, 0, 0))
    valid = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (crop, crop), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    x = x[..., ::-1].astype(np.float32) / 255.0
    x *= rng.uniform(0.65, 1.35)
    mean = x.mean()
    x = (x - mean) * rng.uniform(0.7, 1.3) + mean
    gray = (0.299 * x[..., :1] + 0.587 * x[..., 1:2] + 0.114 * x[..., 2:3])
    if rng.random() < 0.05:
        x = np.repeat(gray, 3, axis=2)
    else:
        x = gray + (x - gray) * rng.uniform(0.6, 1.4)
    x = np.clip(x, 0, 1) * valid[..., None]
    x = (x - 0.5) / 0.5
    b = boxes.copy()
    if flip:
        b[:, [0, 2]] = w - b[:, [2, 0]]
    b = b * s + np.array([tx, ty, tx, ty], np.float32)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    cb = b.clip(0, crop)
    cw, ch = cb[:, 2] - cb[:, 0], cb[:, 3] - cb[:, 1]
    ok = (cw >= 2) & (ch >= 2) & (cw.clip(0) * ch.clip(0) >= 0.45 * area)
    return x, cb[ok], labels[ok]


def make_batch(ts, idx, size, crop, rng, box_weights):
    xs, bs, ls, ws = [], [], [], []
    for i in idx:
        x, b, lab = augment_one(ts.imgs[i], ts.boxes[i], ts.labels[i], size, crop, rng)
        xs.append(x)
        bs.append(b)
        ls.append(lab)
        ws.append(box_weights[ts.source[i]])
    g = max(1, max(len(b) for b in bs))
    boxes = torch.zeros((len(idx), g, 4))
    labels = torch.full((len(idx), g), -1, dtype=torch.long)
    for k, (b, lab) in enumerate(zip(bs, ls)):
        boxes[k, :len(b)] = torch.from_numpy(b)
        labels[k, :len(lab)] = torch.from_numpy(lab)
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous()
    return x, boxes, labels, torch.tensor(ws, dtype=torch.float32)


class Points:
    """Point centres, strides and FCOS size ranges of all levels, concatenated (stride 8 first)."""

    def __init__(self, size, device):
        pts, st, lo, hi = [], [], [], []
        ranges = [(0, 64), (64, 128), (128, 1e8)]
        for s, (a, bnd) in zip(STRIDES, ranges):
            n = size // s
            v = (torch.arange(n, dtype=torch.float32) + 0.5) * s
            ys, xs = torch.meshgrid(v, v, indexing="ij")
            pts.append(torch.stack([xs.reshape(-1), ys.reshape(-1)], 1))
            st.append(torch.full((n * n,), float(s)))
            lo.append(torch.full((n * n,), float(a)))
            hi.append(torch.full((n * n,), float(bnd)))
        self.xy = torch.cat(pts).to(device)
        self.stride = torch.cat(st).to(device)
        self.lo = torch.cat(lo).to(device)
        self.hi = torch.cat(hi).to(device)


def targets(pts, boxes, labels, radius=1.5):
    """FCOS assignment. Returns class index per point [B,L] (-1 background), ltrb targets [B,L,4]."""
    px = pts.xy[None, :, None, 0]
    py = pts.xy[None, :, None, 1]
    x1, y1, x2, y2 = [boxes[:, None, :, k] for k in range(4)]  # [B,1,G]
    left, top, right, bottom = px - x1, py - y1, x2 - px, y2 - py  # [B,L,G]
    ltrb = torch.stack([left, top, right, bottom], -1)
    in_box = ltrb.min(-1).values > 0
    rad = (pts.stride * radius)[None, :, None]
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    in_ctr = ((px - cx).abs() < rad) & ((py - cy).abs() < rad)
    m = ltrb.max(-1).values
    in_rng = (m >= pts.lo[None, :, None]) & (m <= pts.hi[None, :, None])
    area = ((x2 - x1) * (y2 - y1)).expand_as(left)
    ok = in_box & in_ctr & in_rng & (labels[:, None, :] >= 0)
    cost = torch.where(ok, area, torch.full_like(area, float("inf")))
    best, gi = cost.min(-1)  # [B,L]
    pos = torch.isfinite(best)
    cls = torch.where(pos, labels.gather(1, gi), torch.full_like(gi, -1))
    t = ltrb.gather(2, gi[..., None, None].expand(-1, -1, 1, 4)).squeeze(2)
    return cls, t


def flatten(outs):
    cls = torch.cat([c.flatten(2) for c, _, _ in outs], 2).transpose(1, 2)  # [B,L,3]
    reg = torch.cat([r.flatten(2) for _, r, _ in outs], 2).transpose(1, 2)  # [B,L,4]
    ctr = torch.cat([z.flatten(2) for _, _, z in outs], 2).transpose(1, 2)[..., 0]  # [B,L]
    return cls, reg, ctr


def loss_fn(outs, cls_t, reg_t, box_w=None):
    """Focal loss on classes, GIoU (weighted by centerness and the image's source box weight), BCE centerness."""
    cls, reg, ctr = flatten(outs)
    cls, reg, ctr = cls.float(), reg.float(), ctr.float()
    pos = cls_t >= 0
    npos = max(1.0, float(pos.sum()))
    onehot = F.one_hot(cls_t.clamp(min=0), len(LABELS)).float() * pos[..., None].float()
    p = torch.sigmoid(cls)
    ce = F.binary_cross_entropy_with_logits(cls, onehot, reduction="none")
    pt = p * onehot + (1 - p) * (1 - onehot)
    alpha = 0.25 * onehot + 0.75 * (1 - onehot)
    l_cls = (alpha * (1 - pt) ** 2 * ce).sum() / npos
    if not pos.any():
        return l_cls, {"cls": float(l_cls.detach()), "box": 0.0, "ctr": 0.0}
    rp, rt = reg[pos], reg_t[pos]
    lr_ = torch.stack([rt[:, 0], rt[:, 2]], 1)
    tb_ = torch.stack([rt[:, 1], rt[:, 3]], 1)
    ctr_t = torch.sqrt((lr_.min(1).values / lr_.max(1).values) * (tb_.min(1).values / tb_.max(1).values))
    area_p = (rp[:, 0] + rp[:, 2]) * (rp[:, 1] + rp[:, 3])
    area_t = (rt[:, 0] + rt[:, 2]) * (rt[:, 1] + rt[:, 3])
    iw = torch.min(rp[:, 0], rt[:, 0]) + torch.min(rp[:, 2], rt[:, 2])
    ih = torch.min(rp[:, 1], rt[:, 1]) + torch.min(rp[:, 3], rt[:, 3])
    inter = iw * ih
    union = area_p + area_t - inter + 1e-6
    iou = inter / union
    ew = torch.max(rp[:, 0], rt[:, 0]) + torch.max(rp[:, 2], rt[:, 2])
    eh = torch.max(rp[:, 1], rt[:, 1]) + torch.max(rp[:, 3], rt[:, 3])
    encl = ew * eh + 1e-6
    giou = iou - (encl - union) / encl
    wgt = ctr_t if box_w is None else ctr_t * box_w[:, None].expand_as(pos)[pos]
    l_box = ((1 - giou) * wgt).sum() / ctr_t.sum().clamp(min=1e-6)
    l_ctr = F.binary_cross_entropy_with_logits(ctr[pos], ctr_t, reduction="mean")
    total = l_cls + 2.0 * l_box + l_ctr
    return total, {"cls": float(l_cls.detach()), "box": float(l_box.detach()), "ctr": float(l_ctr.detach())}


def decode_batch(outs, size):
    """[B, N, 7] detections as the ONNX graph computes them (net.ExportDet), for evaluation in torch."""
    res = []
    for (cls, reg, ctr), s in zip(outs, STRIDES):
        n = size // s
        v = (torch.arange(n, device=reg.device, dtype=torch.float32) + 0.5) * s
        ys, xs = torch.meshgrid(v, v, indexing="ij")
        p = torch.stack([xs, ys, xs, ys])[None]
        sign = torch.tensor([-1.0, -1.0, 1.0, 1.0], device=reg.device).view(1, 4, 1, 1)
        box = reg.float() * sign + p
        score = torch.sqrt(torch.sigmoid(cls.float()) * torch.sigmoid(ctr.float()))
        res.append(torch.cat([box, score], 1).flatten(2))
    return torch.cat(res, 2).transpose(1, 2)


class ValSet:
    """Val scenes of one source letterboxed with the SDK's preprocessing, ground truth in image pixels."""

    def __init__(self, va, size, iou):
        self.size, self.iou = size, iou
        xs, self.meta, self.gts = [], [], []
        for stem, jpg, b, lab in va:
            img = scenes.decode(jpg)
            canvas, sc = scenes.letterbox(img, size)
            xs.append(scenes.to_input(canvas))
            self.meta.append((stem, sc, img.shape[1], img.shape[0]))
            self.gts.append((b, None, lab))
        self.x = torch.from_numpy(np.concatenate(xs))

    @torch.no_grad()
    def evaluate(self, model, device, batch=16, autocast=None):
        model.eval()
        preds = []
        for i in range(0, len(self.x), batch):
            xb = self.x[i:i + batch].to(device)
            if autocast is not None:
                with autocast():
                    outs = model(xb)
            else:
                outs = model(xb)
            det = decode_batch(outs, self.size).cpu().numpy()
            for k in range(det.shape[0]):
                _, sc, w, h = self.meta[i + k]
                preds.append(evaldet.postprocess(det[k], sc, w, h))
        m = evaldet.voc_map(preds, self.gts, self.iou)
        return {"mAP": m["mAP"], **{k: m[k] for k in LABELS}, "face_AP": evaldet.face_ap(preds, self.gts, self.iou),
                "face_AP50": evaldet.face_ap(preds, self.gts, 0.5)}


def parse_box_weights(text, sources):
    w = {s: 1.0 for s in sources}
    for part in filter(None, text.split(",")):
        name, _, value = part.partition("=")
        if name not in w:
            raise SystemExit("--box-weight: unknown source %r (training sources: %s)" % (name, ", ".join(sources)))
        w[name] = float(value)
    return [w[s] for s in sources]


def main():
    args = args_parser().parse_args()
    if args.quick:
        args.budget_s, args.eval_every_s, args.batch, args.crop, args.size = 15.0, 1e9, 4, 256, 320
    sources = [s for s in args.sources.split(",") if s]
    for s in sources:
        scenes.root_of(s)
    crop = args.crop or args.size
    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "ckpt.pt")
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    nrng = np.random.default_rng(args.seed)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    else:
        torch.backends.cudnn.benchmark = True
    dev_name = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu"
    t_load = time.time()
    per_source, hashes = load_scenes(args, sources)
    ts = TrainSet({s: per_source[s][0] for s in sources}, sources, args.incorrect_oversample)
    vals = {s: ValSet(per_source[s][1], args.size, JUDGE_IOU.get(s, 0.5)) for s in sources}
    box_weights = parse_box_weights(args.box_weight, sources)
    print("data: %s train / %s val images, %.1f s, device %s" % (
        "+".join(str(len(per_source[s][0])) for s in sources), "+".join(str(len(per_source[s][1])) for s in sources),
        time.time() - t_load, dev_name), flush=True)
    model = Det(args.width, args.neck).to(device)
    if args.init:
        load_numpy_state(model, np.load(args.init))
    ema = Det(args.width, args.neck).to(device)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    nparams = param_count(model)
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    pts = Points(crop, device)

    def autocast():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    ac = autocast if device.type == "cuda" else None
    meta = {"seed": args.seed, "device": dev_name, "torch": torch.__version__, "data_hash": hashes,
            "config": vars(args), "params": nparams, "sources": sources, "judge_iou": JUDGE_IOU,
            "train_images": {s: len(per_source[s][0]) for s in sources},
            "val_images": {s: len(per_source[s][1]) for s in sources},
            "labels": list(LABELS), "strides": list(STRIDES),
            "selection": "max over evaluations of min over sources of val face AP at the source's IoU"}
    state = {"step": 0, "seen": 0, "trained_s": 0.0, "best": -1.0, "curve": [], "sessions": []}
    if args.resume:
        if not os.path.exists(ckpt_path):
            raise SystemExit("--resume: no checkpoint %s" % ckpt_path)
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        rng.setstate(ck["rng"])
        nrng.bit_generator.state = ck["nrng"]
        torch.set_rng_state(ck["torch_rng"])
        print("resumed at step %d, %.0f s trained" % (state["step"], state["trained_s"]), flush=True)
    state["sessions"].append({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "step": state["step"],
                              "load_avg": os.getloadavg()[0]})
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    last_loss = {}

    def do_eval():
        te = time.time()
        res = {s: v.evaluate(ema, device, autocast=ac) for s, v in vals.items()}
        score = min(r["face_AP"] for r in res.values())
        entry = {"trained_s": round(state["trained_s"], 1), "step": state["step"],
                 "epochs": round(state["seen"] / len(ts), 2), "select": round(score, 4),
                 **{s: {k: round(v, 4) for k, v in r.items()} for s, r in res.items()},
                 "loss": last_loss, "eval_s": round(time.time() - te, 1)}
        state["curve"].append(entry)
        if score > state["best"]:
            state["best"] = score
            np.savez(os.path.join(args.out, "best.npz"), **state_to_numpy(ema))
        np.savez(os.path.join(args.out, "last.npz"), **state_to_numpy(ema))
        with open(os.path.join(args.out, "curve.json"), "w") as f:
            json.dump({"meta": meta, "best_select": round(state["best"], 4), "curve": state["curve"]}, f, indent=1)
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "state": state,
                    "rng": rng.getstate(), "nrng": nrng.bit_generator.state, "torch_rng": torch.get_rng_state()},
                   ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
        print("eval", json.dumps(entry), flush=True)

    if not state["curve"]:
        do_eval()  # the starting point (the --init weights) is a candidate too
    next_eval = (math.floor(state["trained_s"] / args.eval_every_s) + 1) * args.eval_every_s
    t_session = time.time()
    while state["trained_s"] < args.budget_s:
        t_step = time.time()
        frac = state["trained_s"] / args.budget_s
        lr = args.lr * min(1.0, (state["step"] + 1) / args.warmup) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        idx = nrng.choice(len(ts), args.batch, replace=True, p=ts.p)
        x, bx, lab, bw = make_batch(ts, idx, args.size, crop, rng, box_weights)
        x, bx, lab, bw = x.to(device), bx.to(device), lab.to(device), bw.to(device)
        with torch.no_grad():
            cls_t, reg_t = targets(pts, bx, lab)
        if ac is not None:
            with ac():
                outs = model(x)
        else:
            outs = model(x)
        loss, parts = loss_fn(outs, cls_t, reg_t, bw)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        with torch.no_grad():
            d = min(args.ema, (1 + state["step"]) / (10 + state["step"])) if not args.init else args.ema
            for pe, pm in zip(ema.state_dict().values(), model.state_dict().values()):
                if pe.dtype.is_floating_point:
                    pe.mul_(d).add_(pm.detach(), alpha=1 - d)
                else:
                    pe.copy_(pm)
        state["step"] += 1
        state["seen"] += args.batch
        state["trained_s"] += time.time() - t_step
        if state["step"] % 25 == 0 or args.quick:
            last_loss = {k: round(v, 4) for k, v in parts.items()}
            last_loss["total"] = round(float(loss), 4)
            if state["step"] % 100 == 0:
                print("step %d trained %.0f s (%.2f img/s) lr %.5f %s" % (
                    state["step"], state["trained_s"], state["seen"] / max(1e-9, state["trained_s"]), lr, last_loss),
                    flush=True)
        if state["trained_s"] >= next_eval:
            do_eval()
            next_eval += args.eval_every_s
    if not state["curve"] or state["curve"][-1]["step"] != state["step"]:
        do_eval()
    print("done: %d steps, %.1f epochs, %.2f img/s over the trained time, best selection score %.4f, "
          "session wall %.0f s" % (state["step"], state["seen"] / len(ts), state["seen"] / max(1e-9, state["trained_s"]),
                                   state["best"], time.time() - t_session), flush=True)
    if args.quick:
        import export_detector
        export_detector.export(os.path.join(args.out, "best.npz"), os.path.join(args.out, "quick_detector.onnx"),
                               args.size, args.width, args.neck, check=True)


if __name__ == "__main__":
    main()
