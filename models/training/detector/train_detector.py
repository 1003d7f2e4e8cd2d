"""Train the project's own face-and-mask detector (net.py) on andrewmvd's TRAIN split, select on VAL.

Usage (from the repository root, /usr/bin/python3 on CPU; any python3 with torch on a GPU):
  python3 models/training/detector/train_detector.py --out DIR [--quick] [--budget-s 400] [--eval-every-s 30]
      [--packed scenes.pkl] [--size 512] [--batch 64] [--seed 20261204] [--device auto|cpu|cuda]

Training runs for a fixed wall-time budget (--budget-s; the learning-rate schedule is a cosine over that
budget), evaluates val mAP@0.5 of the EMA weights every --eval-every-s seconds (the learning curve), and
writes to DIR as it goes: curve.json, best.npz (EMA weights of the best val mAP), last.npz, meta.json
(seed, device, data hash, config, parameters). Augmentation runs on the training device (GPU when there is
one): random scale 0.6-1.5x around the letterbox scale, random placement on the square canvas, horizontal
flip, brightness/contrast/saturation jitter, 5 % grayscale. --packed reads scenes written by scenes.py
(for a machine without the shared data); otherwise the shared andrewmvd folder is read. The test split is
never read here. --quick: a tiny run (16 train / 8 val images, 320 px, 15 s) that checks the whole path,
then exports ONNX (export_detector.py) and checks it in OpenCV DNN.
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

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaldet  # noqa: E402
import scenes  # noqa: E402
from net import LABELS, STRIDES, Det, param_count, state_to_numpy  # noqa: E402

STORE = 600  # andrewmvd images are at most 600 px on the long side (most 400); stored padded to STORE x STORE


def args_parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--packed", default="")
    ap.add_argument("--budget-s", type=float, default=400.0)
    ap.add_argument("--eval-every-s", type=float, default=30.0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--neck", type=int, default=64)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--incorrect-oversample", type=float, default=3.0,
                    help="sampling weight of an image with an incorrect face, relative to 1")
    ap.add_argument("--seed", type=int, default=20261204)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    return ap


def load_scenes(args):
    if args.packed:
        with open(args.packed, "rb") as f:
            blob = pickle.load(f)
        tr, va, dh = blob["splits"]["train"], blob["splits"]["val"], blob["hash"]
    else:
        scenes.check_data()
        dh = scenes.data_hash()
        tr, va = scenes.load_split("train"), scenes.load_split("val")
    if args.quick:
        tr, va = tr[:16], va[:8]
    return tr, va, dh


def stack_train(tr, device):
    """uint8 images [N,3,STORE,STORE] (BGR, top-left, zero padded), sizes [N,2], boxes [N,G,4], labels [N,G]."""
    n, g = len(tr), max(1, max(len(s[3]) for s in tr))
    imgs = torch.zeros((n, 3, STORE, STORE), dtype=torch.uint8)
    sizes = torch.zeros((n, 2))
    boxes = torch.zeros((n, g, 4))
    labels = torch.full((n, g), -1, dtype=torch.long)
    for i, (_, jpg, b, lab) in enumerate(tr):
        img = scenes.decode(jpg)
        h, w = img.shape[:2]
        if max(h, w) > STORE:
            raise SystemExit("detector recipe: image larger than %d px: %s" % (STORE, tr[i][0]))
        imgs[i, :, :h, :w] = torch.from_numpy(img).permute(2, 0, 1)
        sizes[i] = torch.tensor([w, h], dtype=torch.float32)
        boxes[i, :len(b)] = torch.from_numpy(b)
        labels[i, :len(lab)] = torch.from_numpy(lab)
    return imgs.to(device), sizes.to(device), boxes.to(device), labels.to(device)


def augment(imgs, sizes, boxes, labels, idx, size, gen):
    """A batch of augmented network inputs [B,3,S,S] and their boxes/labels, on the data's device."""
    dev = imgs.device
    b = idx.numel()
    wh = sizes[idx]
    s0 = size / wh.max(1).values
    r = torch.exp(torch.empty(b, device=dev).uniform_(math.log(0.6), math.log(1.5), generator=gen))
    s = s0 * r
    nw, nh = wh[:, 0] * s, wh[:, 1] * s
    u = torch.rand(b, 2, device=dev, generator=gen)
    tx = torch.minimum(torch.zeros_like(nw), size - nw) + u[:, 0] * (size - nw).abs()
    ty = torch.minimum(torch.zeros_like(nh), size - nh) + u[:, 1] * (size - nh).abs()
    flip = torch.rand(b, device=dev, generator=gen) < 0.5
    pix = torch.arange(size, device=dev, dtype=torch.float32) + 0.5
    sx = (pix[None, :] - tx[:, None]) / s[:, None]  # [B,S] source x of each output column
    sx = torch.where(flip[:, None], wh[:, :1] - sx, sx)
    sy = (pix[None, :] - ty[:, None]) / s[:, None]
    grid = torch.stack([(2 * sx / STORE - 1)[:, None, :].expand(b, size, size),
                        (2 * sy / STORE - 1)[:, :, None].expand(b, size, size)], -1)
    x = F.grid_sample(imgs[idx].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    valid = (((sx >= 0) & (sx < wh[:, :1]))[:, None, :] & ((sy >= 0) & (sy < wh[:, 1:]))[:, :, None])
    x = x.flip(1) / 255.0  # BGR -> RGB, 0..1
    # colour jitter
    bright = torch.empty(b, 1, 1, 1, device=dev).uniform_(0.65, 1.35, generator=gen)
    contrast = torch.empty(b, 1, 1, 1, device=dev).uniform_(0.7, 1.3, generator=gen)
    sat = torch.empty(b, 1, 1, 1, device=dev).uniform_(0.6, 1.4, generator=gen)
    gray_p = torch.rand(b, 1, 1, 1, device=dev, generator=gen) < 0.05
    x = x * bright
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean
    gray = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = torch.where(gray_p, gray.expand_as(x), gray + (x - gray) * sat)
    x = x.clamp(0, 1) * valid[:, None].float()
    x = (x - 0.5) / 0.5
    # boxes
    bx = boxes[idx].clone()
    lab = labels[idx].clone()
    x1, y1, x2, y2 = bx.unbind(-1)
    w_img = wh[:, :1]
    fx1 = torch.where(flip[:, None], w_img - x2, x1)
    fx2 = torch.where(flip[:, None], w_img - x1, x2)
    nb = torch.stack([fx1 * s[:, None] + tx[:, None], y1 * s[:, None] + ty[:, None],
                      fx2 * s[:, None] + tx[:, None], y2 * s[:, None] + ty[:, None]], -1)
    area = (nb[..., 2] - nb[..., 0]) * (nb[..., 3] - nb[..., 1])
    cb = nb.clamp(0, size)
    carea = (cb[..., 2] - cb[..., 0]).clamp(min=0) * (cb[..., 3] - cb[..., 1]).clamp(min=0)
    ok = (lab >= 0) & (cb[..., 2] - cb[..., 0] >= 2) & (cb[..., 3] - cb[..., 1] >= 2) & (carea >= 0.45 * area)
    lab = torch.where(ok, lab, torch.full_like(lab, -1))
    return x, cb, lab


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
    """FCOS assignment. Returns class index per point [B,L] (-1 background) and ltrb targets [B,L,4]."""
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


def loss_fn(outs, cls_t, reg_t):
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
    l_box = ((1 - giou) * ctr_t).sum() / ctr_t.sum().clamp(min=1e-6)
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
    """Val scenes letterboxed with the SDK's preprocessing (scenes.letterbox), ground truth in image pixels."""

    def __init__(self, va, size):
        self.size = size
        xs, self.meta, self.gts = [], [], []
        for stem, jpg, b, lab in va:
            img = scenes.decode(jpg)
            canvas, sc = scenes.letterbox(img, size)
            xs.append(scenes.to_input(canvas))
            self.meta.append((stem, sc, img.shape[1], img.shape[0]))
            self.gts.append((b, None, lab))
        self.x = torch.from_numpy(np.concatenate(xs))

    @torch.no_grad()
    def evaluate(self, model, device, batch=32, autocast=None):
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
        return evaldet.voc_map(preds, self.gts)


def main():
    args = args_parser().parse_args()
    if args.quick:
        args.budget_s, args.eval_every_s, args.size, args.batch = 15.0, 1e9, 320, 4
    os.makedirs(args.out, exist_ok=True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    else:
        torch.backends.cudnn.benchmark = True
    dev_name = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu"
    t_load = time.time()
    tr, va, dh = load_scenes(args)
    imgs, sizes, boxes, labels = stack_train(tr, device)
    val = ValSet(va, args.size)
    print("data: %d train / %d val images, %.1f s, device %s" % (len(tr), len(va), time.time() - t_load, dev_name),
          flush=True)
    has_inc = (labels == 2).any(1).float()
    weights = 1.0 + (args.incorrect_oversample - 1.0) * has_inc
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    model = Det(args.width, args.neck).to(device)
    ema = Det(args.width, args.neck).to(device)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        ema = ema.to(memory_format=torch.channels_last)
    nparams = param_count(model)
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    pts = Points(args.size, device)

    def autocast():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    ac = autocast if device.type == "cuda" else None
    meta = {"seed": args.seed, "device": dev_name, "torch": torch.__version__, "data_hash": dh,
            "config": vars(args), "params": nparams, "train_images": len(tr), "val_images": len(va),
            "labels": list(LABELS), "strides": list(STRIDES)}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    curve, best = [], -1.0
    step, seen, warm = 0, 0, 200 if not args.quick else 2
    t0 = time.time()
    next_eval = args.eval_every_s
    last_loss = {}

    def do_eval(final=False):
        nonlocal best
        te = time.time()
        m = val.evaluate(ema, device, autocast=ac)
        entry = {"t_s": round(time.time() - t0, 1), "step": step, "epochs": round(seen / len(tr), 2),
                 "val_mAP50": round(m["mAP"], 4), **{"AP_" + k: round(m[k], 4) for k in LABELS},
                 "loss": last_loss, "eval_s": round(time.time() - te, 2)}
        curve.append(entry)
        if m["mAP"] > best:
            best = m["mAP"]
            np.savez(os.path.join(args.out, "best.npz"), **state_to_numpy(ema))
        np.savez(os.path.join(args.out, "last.npz"), **state_to_numpy(ema))
        with open(os.path.join(args.out, "curve.json"), "w") as f:
            json.dump({"meta": meta, "best_val_mAP50": round(best, 4), "curve": curve}, f, indent=1)
        print("eval", json.dumps(entry), flush=True)

    while True:
        el = time.time() - t0
        if el >= args.budget_s:
            break
        frac = el / args.budget_s
        lr = args.lr * min(1.0, (step + 1) / warm) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        idx = torch.multinomial(weights, args.batch, replacement=True, generator=gen)
        with torch.no_grad():
            x, bx, lab = augment(imgs, sizes, boxes, labels, idx, args.size, gen)
            cls_t, reg_t = targets(pts, bx, lab)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
            with autocast():
                outs = model(x)
        else:
            outs = model(x)
        loss, parts = loss_fn(outs, cls_t, reg_t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        with torch.no_grad():
            d = min(args.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.state_dict().values(), model.state_dict().values()):
                if pe.dtype.is_floating_point:
                    pe.mul_(d).add_(pm.detach(), alpha=1 - d)
                else:
                    pe.copy_(pm)
        step += 1
        seen += args.batch
        if step % 50 == 0 or args.quick:
            last_loss = {k: round(v, 4) for k, v in parts.items()}
            last_loss["total"] = round(float(loss), 4)
            if step % 200 == 0:
                print("step %d t %.0f s lr %.5f %s" % (step, time.time() - t0, lr, last_loss), flush=True)
        if time.time() - t0 >= next_eval:
            do_eval()
            next_eval += args.eval_every_s
    do_eval(final=True)
    print("done: %d steps, %.1f epochs, %.0f img/s, best val mAP@0.5 %.4f" %
          (step, seen / len(tr), seen / max(1e-9, time.time() - t0), best), flush=True)
    if args.quick:
        import export_detector
        export_detector.export(os.path.join(args.out, "best.npz"), os.path.join(args.out, "quick_detector.onnx"),
                               args.size, args.width, args.neck, check=True)


if __name__ == "__main__":
    main()
