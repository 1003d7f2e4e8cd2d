"""Train the 3-class face-mask crop classifier, export ONNX, write the model card.

Usage:
  /usr/bin/python3 models/training/train.py --config models/training/config.yaml --out DIR
      [--quick] [--override key=value ...]

Writes to DIR: model.pt (checkpoint: weights + resolved config), mask_classifier.onnx
(softmax inside, dynamic batch), mask_classifier.yaml (model card),
metrics.json and train_log.json. The checkpoint is selected on the VAL crops of
every source trained on, by the WORST source's macro F1 (config `select: worst`;
docs/results.md, "Choosing by the worst source"); test splits are only used for
the final report.
"""
import os

# Passive OpenMP waiting: with spinning threads, torch on 2 threads runs ~4x
# slower than on 1 when the 2 cores are shared with other jobs (measured).
# Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import copy
import json
import math
import random
import subprocess
import sys
import time

import cv2
import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cache  # noqa: E402
import data  # noqa: E402
import synth  # noqa: E402
from augment import augment  # noqa: E402
from crop import normalize  # noqa: E402
from evaluate import dnn_probs, evaluate_sets, load_net  # noqa: E402
from metrics import classification_metrics, ece, fit_temperature  # noqa: E402
from model import ExportModel, MaskNet  # noqa: E402

CROP_RULE = ("square around box centre, side=max(w,h)*(1+2*margin), border replicate, "
             "INTER_AREA down / INTER_LINEAR up")


def load_config(path, overrides):
    """YAML config with dotted key=value overrides (values parsed as YAML)."""
    with open(path) as f:
        cfg = yaml.safe_load(f)
    for item in overrides:
        key, value = item.split("=", 1)
        node, parts = cfg, key.split(".")
        for p in parts[:-1]:
            node = node[p]
        if parts[-1] not in node:
            raise KeyError("unknown config key " + key)
        node[parts[-1]] = yaml.safe_load(value)
    return cfg


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


SOURCES = {"andrewmvd": data.andrew_samples, "chandrikadeb7": data.chandrika_samples,
           "maskedfacenet": data.mfn_samples, "moxa3k": data.moxa_samples}


def active_sources(cfg):
    """The sources trained on: data.sources (default all), less data.holdout."""
    names = cfg["data"].get("sources") or list(SOURCES)
    for n in names:
        if n not in SOURCES:
            raise KeyError("data.sources: unknown source %r (known: %s)" % (n, ", ".join(SOURCES)))
    return [n for n in names if n != cfg["data"]["holdout"]]


def holdout_samples(source):
    """Every GT crop of a held-out source: all andrewmvd/chandrikadeb7/moxa3k splits, maskedfacenet train+val.

    moxa3k: less the 19 images that are the same photos as chandrikadeb7 images (trained on when moxa3k is
    held out)."""
    splits = ("train", "val") if source == "maskedfacenet" else ("train", "val", "test")
    out = [s for sp in splits for s in SOURCES[source](sp)]
    if source == "moxa3k":
        drop = {"images/%s.jpg" % stem for stem in data.moxa_overlap_stems()}
        out = [s for s in out if s["rel"] not in drop]
    return out


def build_data(cfg, quick, rng):
    """Training samples + cached context patches, and validation sets as normalised inputs.

    data.holdout names a source left out of training, validation and synthesis (cross-source runs).
    Synthesised entries (synth.py) are extra training entries that point at the patch of a no_mask face
    (`patch` index) and carry a `synth` label; their patch is drawn on at augmentation time.
    """
    q = cfg["quick"]
    sources = active_sources(cfg)
    train = []
    for name in sources:
        samples = SOURCES[name]("train")
        if quick:
            samples = [samples[i] for i in sorted(rng.choice(len(samples), q["per_source"], replace=False))]
        train += samples
    c = cfg["crop"]
    patches = cache.crops(train, cache.context_margin(c["margin"], c["context"]), c["context_size"])
    for i, s in enumerate(train):
        s["patch"], s["synth"] = i, None
    sy = cfg["synth"]
    lm, donors = None, []
    if sy["share"] > 0:  # landmarks of every training patch: no_mask faces get masks, mask faces lend theirs
        lm = synth.landmarks(patches, [[s["path"], s["box"]] for s in train])
        check = np.random.default_rng(0)  # faces whose landmarks give a visible mask (not degenerate)
        faces = [s for s in train if s["label"] == 1 and not np.isnan(lm[s["patch"]]).any()
                 and synth.draw_mask(patches[s["patch"]], lm[s["patch"]], "nose", check) is not None]
        donors = [s["patch"] for s in train if s["label"] == 0 and s["source"] in sy["donor_sources"]
                  and not np.isnan(lm[s["patch"]]).any()]
        for kind, label in (("incorrect", synth.INCORRECT), ("correct", synth.MASK)):
            train += [dict(s, label=label, source="synth", synth=kind) for s in faces]
        print("synth: landmarks on %d of %d no_mask faces; %d real-mask donors"
              % (len(faces), sum(s["label"] == 1 for s in train if s["synth"] is None), len(donors)), flush=True)
    val = {k + "_val": SOURCES[k]("val") for k in sources}
    if quick:
        first = next(iter(val))
        val = {first: [val[first][i] for i in sorted(rng.choice(len(val[first]), q["val"], replace=False))]}
    inp = cfg["input"]
    val_x = {k: (normalize(cache.crops(v, c["margin"], inp["size"]), inp["mean"], inp["std"]),
                 np.array([s["label"] for s in v])) for k, v in val.items()}
    # All val crops pooled: the temperature is fitted there (and, by the old rule, the epoch chosen when
    # andrewmvd is held out).
    val_x["pooled_val"] = (np.concatenate([v[0] for v in val_x.values()]),
                           np.concatenate([v[1] for v in val_x.values()]))
    return train, patches, lm, donors, val_x


def selection_set(cfg, val_x):
    """`worst` (the min over the val sets of their macro F1), or a val set's name (the old rule:
    andrewmvd_val when it is trained on, else pooled_val)."""
    if cfg.get("select", "andrewmvd_val") == "worst":
        return "worst"
    return "andrewmvd_val" if "andrewmvd_val" in val_x else "pooled_val"


def per_source_val(val_x):
    return [k for k in val_x if k != "pooled_val"]


def incorrect_bias(logits_by_set, labels_by_set, grid=np.arange(-4.0, 2.01, 0.1)):
    """The bias added to the `incorrect` logit (after the temperature) that maximises the WORST val set's
    macro F1; ties go to the smallest |bias|. Returns (bias, {set: macro F1 at that bias}, table)."""
    best, table = None, []
    for b in grid:
        f1 = {}
        for k, lo in logits_by_set.items():
            z = lo.copy()
            z[:, 2] += b
            f1[k] = classification_metrics(labels_by_set[k], z.argmax(1))["macro_f1"]
        worst = min(f1.values())
        table.append((round(float(b), 2), round(worst, 4)))
        if best is None or worst > best[1] + 1e-9 or (abs(worst - best[1]) <= 1e-9 and abs(b) < abs(best[0])):
            best = (float(b), worst, f1)
    return round(best[0], 2), best[2], table


def sample_weights(train, cfg):
    """Per-sample sampling probability.

    Real samples: class_count**-class_balance x source weight; synthesised entries get synth.share of
    the total, synth.p_correct of it for drawn correct masks (label mask), the rest for incorrect ones.
    """
    t = cfg["train"]
    real = np.array([s["synth"] is None for s in train])
    labels = np.array([s["label"] for s in train])
    counts = np.bincount(labels[real], minlength=len(data.LABELS)).astype(np.float64)
    w = np.zeros(len(train))
    w[real] = counts[labels[real]] ** -t["class_balance"]
    w[real] *= np.array([t["source_weight"][s["source"]] for s in train if s["synth"] is None])
    w[real] /= w[real].sum()
    if (~real).any():
        sy = cfg["synth"]
        corr = np.array([s["synth"] == "correct" for s in train])
        inc = ~real & ~corr
        w *= 1 - sy["share"]
        w[corr] = sy["share"] * sy["p_correct"] / corr.sum()
        w[inc] = sy["share"] * (1 - sy["p_correct"]) / inc.sum()
    return w / w.sum()


def make_loss(cfg, probs, labels):
    """Cross-entropy (label smoothing) or focal loss, optionally weighted by the inverse sampled class share."""
    t = cfg["train"]
    n = len(data.LABELS)
    weight = None
    if t["loss_class_weight"] > 0:
        share = np.array([probs[labels == c].sum() for c in range(n)])
        wc = (share / share.mean()) ** -t["loss_class_weight"]
        weight = torch.tensor(wc / wc.mean(), dtype=torch.float32)
    if t["loss"] == "ce":
        return torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=t["label_smoothing"])
    if t["loss"] != "focal":
        raise ValueError("train.loss must be ce or focal, not %r" % t["loss"])
    gamma, eps = t["focal_gamma"], t["label_smoothing"]

    def focal(logits, y):
        logp = torch.log_softmax(logits, 1)
        target = torch.full_like(logp, eps / n).scatter_(1, y[:, None], 1 - eps + eps / n)
        pt = logp.exp().gather(1, y[:, None]).squeeze(1)
        loss = -(target * logp).sum(1) * (1 - pt) ** gamma
        if weight is not None:
            loss = loss * weight[y]
        return loss.mean()
    return focal


def predict_logits(net, x, batch=256, flip=False):
    net.eval()
    with torch.no_grad():
        out = []
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i:i + batch])
            lo = net(xb)
            if flip:
                lo = torch.log((torch.softmax(lo, 1) + torch.softmax(net(torch.flip(xb, [3])), 1)) / 2)
            out.append(lo.numpy())
        return np.concatenate(out)


def softmax_np(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def heldout_report(net, cfg, x, y, temperature, bias=0.0):
    """Held-out metrics: argmax of the shipped logits (temperature and `incorrect` bias applied), without the
    bias, with flip TTA, and ECE before/after temperature scaling."""
    lo = predict_logits(net, x)
    shipped = lo / temperature
    shipped[:, 2] += bias
    m = classification_metrics(y, shipped.argmax(1))
    m["without_incorrect_bias"] = {k: v for k, v in classification_metrics(y, lo.argmax(1)).items()
                                   if k in ("macro_f1", "accuracy", "per_class", "confusion")}
    m["flip_tta"] = classification_metrics(y, predict_logits(net, x, flip=True).argmax(1))
    m["flip_tta"] = {k: m["flip_tta"][k] for k in ("macro_f1", "accuracy", "per_class")}
    m["ece"] = {"before": ece(softmax_np(lo), y), "after": ece(softmax_np(lo / temperature), y)}
    return m


def predict_torch(net, x, batch=256):
    net.eval()
    with torch.no_grad():
        return np.concatenate([torch.softmax(net(torch.from_numpy(x[i:i + batch])), 1).numpy()
                               for i in range(0, len(x), batch)])


def export_onnx(net, size, path):
    """Export with softmax and a dynamic batch dimension (opset 11; BN folded in eval mode)."""
    model = ExportModel(net).eval()
    tmp = path + ".tmp"
    torch.onnx.export(model, torch.zeros(1, 3, size, size), tmp, opset_version=11,
                      input_names=["input"], output_names=["probabilities"],
                      dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}},
                      do_constant_folding=True)
    os.replace(tmp, path)


def verify_onnx(net, path, x):
    """Check the ONNX loads in cv2.dnn and matches torch for batch 1 and batch 8."""
    dnn = load_net(path)
    ref = predict_torch(net, x[:8])
    b1 = np.concatenate([dnn_probs(dnn, x[i:i + 1], 1) for i in range(8)])
    b8 = dnn_probs(dnn, x[:8], 8)
    return {"max_abs_diff_batch1": float(np.abs(b1 - ref).max()),
            "max_abs_diff_batch8": float(np.abs(b8 - ref).max())}


def git_rev():
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], stderr=subprocess.DEVNULL,
                                       cwd=os.path.dirname(os.path.abspath(__file__))).decode().strip()
    except (subprocess.CalledProcessError, OSError):
        return "uncommitted"


class CardDumper(yaml.SafeDumper):
    """Block mappings, flow-style lists of scalars (labels: [a, b]), no anchors/aliases."""

    def ignore_aliases(self, _data):
        return True

    def represent_list(self, items):
        flow = all(not isinstance(i, (list, dict)) for i in items)
        return self.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


CardDumper.add_representer(list, CardDumper.represent_list)


LICENSE_TEXT = (
    "Weights: Apache-2.0 as far as the maskdetect project's own rights go (trained by the project from scratch, "
    "no pretrained weights). They were trained on data under other terms, which the project cannot relicense: "
    "chandrikadeb7/Face-Mask-Detection (MIT); andrewmvd face-mask-detection (CC0 1.0 upstream, no licence file "
    "in the copy used); a MaskedFace-Net subset (CC BY-NC-SA 4.0: non-commercial, share-alike); Moxa3K (no "
    "licence stated by its source: used here for training and evaluation only; no image is redistributed). "
    "Whether trained weights are a derivative of their training data is legally unsettled: anyone using these "
    "weights commercially, or who needs a clear licence chain, should check these terms first or retrain with "
    "models/training/ on data they hold the rights to (data.sources and the training splits choose the data).")


def write_card(path, cfg, training, metrics):
    card = {
        "name": "maskdetect-mask-classifier",
        "version": "1.2.0",
        "description": "Face-mask crop classifier (small plain CNN, trained from scratch on face and head crops "
                       "of four sources; synthesised incorrectly-worn masks; temperature-calibrated "
                       "probabilities, `incorrect` bias chosen by the worst val source). "
                       "Input: one face crop made with the crop rule below. Output: class probabilities.",
        "model": "mask_classifier.onnx",
        "labels": list(data.LABELS),
        "output": "probabilities",
        "input": {"size": cfg["input"]["size"], "mean": cfg["input"]["mean"], "std": cfg["input"]["std"]},
        "crop": {"margin": cfg["crop"]["margin"], "rule": CROP_RULE},
        "license": LICENSE_TEXT,
        "training": training,
        "metrics": metrics,
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        yaml.dump(card, f, Dumper=CardDumper, sort_keys=False, default_flow_style=False, width=1000)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="tiny end-to-end run (CI)")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--no-test", action="store_true", help="skip the test-set evaluation (sweeps)")
    ap.add_argument("--cross-source", metavar="SUMMARY.json",
                    help="crosssource.py summary to copy into the card's metrics (with --cross-lever)")
    ap.add_argument("--cross-lever", metavar="NAME", help="lever of the summary that matches this recipe")
    args = ap.parse_args()
    cfg = load_config(args.config, args.override)
    t_cfg, a_cfg, inp = cfg["train"], cfg["aug"], cfg["input"]
    if args.quick:
        t_cfg["epochs"] = cfg["quick"]["epochs"]
        t_cfg["samples_per_epoch"] = cfg["quick"]["samples_per_epoch"]
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    cv2.setNumThreads(1)
    seed_everything(cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    t_start = time.time()

    train, patches, lm, donors, val_x = build_data(cfg, args.quick, rng)
    sel = selection_set(cfg, val_x)
    probs = sample_weights(train, cfg)
    labels = np.array([s["label"] for s in train])
    whole = np.array([s["box"] is None for s in train])
    pidx = np.array([s["patch"] for s in train])
    kinds = [s["synth"] for s in train]
    print("train samples %d (per class %s, %d synthesised), data ready in %.1fs"
          % (len(train), np.bincount(labels).tolist(), sum(k is not None for k in kinds), time.time() - t_start),
          flush=True)
    print("sampled class shares %s" % [round(float(probs[labels == c].sum()), 3) for c in range(3)], flush=True)

    net = MaskNet(cfg["model"]["width"], len(data.LABELS), cfg["model"]["dropout"])
    opt = torch.optim.AdamW(net.parameters(), lr=t_cfg["lr"], weight_decay=t_cfg["weight_decay"])
    loss_fn = make_loss(cfg, probs, labels)
    steps_per_epoch = t_cfg["samples_per_epoch"] // t_cfg["batch"]
    total, warm = steps_per_epoch * t_cfg["epochs"], steps_per_epoch * t_cfg["warmup_epochs"]

    def lr_at(step):
        if step < warm:
            return t_cfg["lr"] * (step + 1) / warm
        return t_cfg["lr"] * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    def patch_of(i):
        if kinds[i] is None:
            return patches[pidx[i]]
        variant = "correct" if kinds[i] == "correct" else synth.pick_incorrect(cfg["synth"], rng)
        donor = None
        if donors and rng.random() < cfg["synth"]["p_real"]:
            k = donors[int(rng.integers(len(donors)))]
            donor = (patches[k], lm[k])
        out = synth.draw_mask(patches[pidx[i]], lm[pidx[i]], variant, rng, donor)
        if out is None:  # mask outside the crop: fall back to the most visible variant
            out = synth.draw_mask(patches[pidx[i]], lm[pidx[i]], "correct" if variant == "correct" else "nose", rng,
                                  donor)
        return patches[pidx[i]] if out is None else out

    log, best, step, train_time, seen = [], None, 0, 0.0, 0
    for epoch in range(t_cfg["epochs"]):
        t0 = time.time()
        net.train()
        idx = rng.choice(len(train), steps_per_epoch * t_cfg["batch"], p=probs)
        run_loss = 0.0
        for b in range(steps_per_epoch):
            bi = idx[b * t_cfg["batch"]:(b + 1) * t_cfg["batch"]]
            crops = np.stack([augment(patch_of(i), cfg["crop"]["context"], whole[i], labels[i],
                                      inp["size"], a_cfg, rng) for i in bi])
            x = torch.from_numpy(normalize(crops, inp["mean"], inp["std"]))
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            opt.zero_grad()
            loss = loss_fn(net(x), torch.from_numpy(labels[bi]))
            loss.backward()
            opt.step()
            run_loss += loss.item()
            step += 1
        train_time += time.time() - t0
        seen += steps_per_epoch * t_cfg["batch"]
        entry = {"epoch": epoch + 1, "loss": round(run_loss / steps_per_epoch, 4)}
        for name, (x, y) in val_x.items():
            m = classification_metrics(y, predict_torch(net, x).argmax(1))
            entry[name] = {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"],
                           "f1": [m["per_class"][c]["f1"] for c in data.LABELS],
                           "recall": [m["per_class"][c]["recall"] for c in data.LABELS]}
        entry["worst"] = {"macro_f1": min(entry[k]["macro_f1"] for k in per_source_val(val_x)),
                          "set": min(per_source_val(val_x), key=lambda k: entry[k]["macro_f1"])}
        log.append(entry)
        print(json.dumps(entry), "%.1fs" % (time.time() - t0), flush=True)
        if best is None or entry[sel]["macro_f1"] > best[0][sel]["macro_f1"]:  # sel: a set, or "worst"
            best = (entry, copy.deepcopy(net.state_dict()))

    net.load_state_dict(best[1])
    net.eval()
    # Temperature scaling, fitted on the selection validation set (the pooled val crops when selecting by the
    # worst source; never on a test set).
    t_set = "pooled_val" if sel == "worst" else sel
    vx, vy = val_x[t_set]
    v_logits = predict_logits(net, vx)
    temperature = fit_temperature(v_logits, vy) if cfg["calibrate"] else 1.0
    calib = {"temperature": temperature, "fitted_on": t_set, "folded_into_onnx": bool(cfg["calibrate"]),
             "val_ece_before": ece(softmax_np(v_logits), vy),
             "val_ece_after": ece(softmax_np(v_logits / temperature), vy)}
    # `incorrect` bias: chosen on the val sets by the worst one's macro F1 (a bare face must not be called
    # incorrect because synthesised masks made the class too likely; docs/classifier.md).
    bias = 0.0
    if cfg.get("calibrate_incorrect"):
        names = per_source_val(val_x)
        bias, f1_at, table = incorrect_bias({k: predict_logits(net, val_x[k][0]) / temperature for k in names},
                                            {k: val_x[k][1] for k in names})
        calib["incorrect_bias"] = bias
        calib["incorrect_bias_rule"] = "max over bias of the min over val sets of macro F1"
        calib["incorrect_bias_val_macro_f1"] = {k: round(v, 4) for k, v in f1_at.items()}
        calib["incorrect_bias_worst_at_0"] = dict(table)[0.0]
    print("calibration", calib, flush=True)
    heldout = None
    if cfg["data"]["holdout"] and cfg["data"]["holdout"] != "none":
        hs = holdout_samples(cfg["data"]["holdout"])
        hx = normalize(cache.crops(hs, cfg["crop"]["margin"], inp["size"]), inp["mean"], inp["std"])
        heldout = heldout_report(net, cfg, hx, np.array([s["label"] for s in hs]), temperature, bias)
        heldout["source"] = cfg["data"]["holdout"]
        print("held-out", cfg["data"]["holdout"], json.dumps(heldout), flush=True)
    elif not args.quick and not args.no_test:
        ts = data.andrew_samples("test")
        tx = normalize(cache.crops(ts, cfg["crop"]["margin"], inp["size"]), inp["mean"], inp["std"])
        tr = heldout_report(net, cfg, tx, np.array([s["label"] for s in ts]), temperature, bias)
        calib["andrewmvd_test_ece_before"], calib["andrewmvd_test_ece_after"] = tr["ece"]["before"], tr["ece"]["after"]
        calib["andrewmvd_test_flip_tta_macro_f1"] = tr["flip_tta"]["macro_f1"]
    with torch.no_grad():  # fold 1/T (and the incorrect bias) into the last layer: softmax(Wx/T + b/T + c)
        net.fc.weight /= temperature
        net.fc.bias /= temperature
        net.fc.bias[2] += bias
    torch.save({"state_dict": net.state_dict(), "config": cfg, "epoch": best[0]["epoch"],
                "temperature": temperature}, os.path.join(args.out, "model.pt"))
    onnx_path = os.path.join(args.out, "mask_classifier.onnx")
    export_onnx(net, inp["size"], onnx_path)
    check = verify_onnx(net, onnx_path, vx)
    print("onnx check", check, flush=True)
    if max(check.values()) > 1e-4:
        raise SystemExit("ONNX / torch mismatch: %s" % check)

    metrics = {"selected_epoch": best[0]["epoch"], "selection": sel,
               "val": {k: v for k, v in best[0].items() if k.endswith("_val") or k == "worst"}, "calibration": calib}
    if heldout:
        metrics["heldout"] = heldout
    if args.cross_source:
        with open(args.cross_source) as f:
            summary = json.load(f)
        metrics["cross_source"] = {
            "protocol": "recipe retrained without the source (short schedule, see docs/classifier.md), "
                        "tested on every GT crop of that source; chosen on the other sources' val crops",
            "lever": args.cross_lever}
        for key, v in summary.items():
            name, source = key.split("|")
            if name != args.cross_lever:
                continue
            h = v["heldout"]
            metrics["cross_source"][source] = {
                "n": h["n"], "macro_f1": h["macro_f1"],
                "recall": {c: h["per_class"][c]["recall"] for c in data.LABELS if h["per_class"][c]["support"]},
                "confusion": h["confusion"], "overrides": v["overrides"]}
    if not args.no_test:
        dnn = load_net(onnx_path)
        metrics.update(evaluate_sets(lambda x: dnn_probs(dnn, x), cfg["crop"]["margin"], inp["size"],
                                     inp["mean"], inp["std"]))
    wall = time.time() - t_start
    training = {
        "seed": cfg["seed"],
        "command": "/usr/bin/python3 models/training/train.py --config models/training/config.yaml --out DIR"
                   + (" --quick" if args.quick else "") + "".join(" --override " + o for o in args.override),
        "code_revision": git_rev(),
        "config": cfg,
        "data_sha256": data.data_hashes(),
        "train_samples": len(train),
        "epochs": t_cfg["epochs"],
        "selected_epoch": best[0]["epoch"],
        "selection": "best macro F1 on %s GT crops" % sel,
        "pretraining": "none (from scratch)",
        "wall_time_s": round(wall, 1),
        "train_images_per_s": round(seen / max(train_time, 1e-9), 1),
        "threads": 2,
        "torch_version": str(torch.__version__),
        "opencv_version": cv2.__version__,
        "onnx_opset": 11,
        "onnx_check": check,
    }
    write_card(os.path.join(args.out, "mask_classifier.yaml"), cfg, training, metrics)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print("done in %.1fs, %.1f img/s" % (wall, training["train_images_per_s"]), flush=True)


if __name__ == "__main__":
    main()
