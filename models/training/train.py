"""Train the 3-class face-mask crop classifier, export ONNX, write the model card.

Usage:
  /usr/bin/python3 models/training/train.py --config models/training/config.yaml --out DIR
      [--quick] [--override key=value ...]

Writes to DIR: model.pt (checkpoint: weights + resolved config), mask_classifier.onnx
(softmax inside, dynamic batch), mask_classifier.yaml (model card),
metrics.json and train_log.json. The checkpoint is selected by macro F1 on
andrewmvd VAL GT crops; test splits are only used for the final report.
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
from augment import augment  # noqa: E402
from crop import normalize  # noqa: E402
from evaluate import dnn_probs, evaluate_sets, load_net  # noqa: E402
from metrics import classification_metrics  # noqa: E402
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


def build_data(cfg, quick, rng):
    """Training samples + cached context patches, and validation sets as normalised inputs."""
    q = cfg["quick"]
    train = []
    for samples in (data.andrew_samples("train"), data.chandrika_samples("train"), data.mfn_samples("train")):
        if quick:
            samples = [samples[i] for i in sorted(rng.choice(len(samples), q["per_source"], replace=False))]
        train += samples
    c = cfg["crop"]
    patches = cache.crops(train, cache.context_margin(c["margin"], c["context"]), c["context_size"])
    val = {"andrewmvd_val": data.andrew_samples("val"),
           "chandrikadeb7_val": data.chandrika_samples("val"),
           "maskedfacenet_val": data.mfn_samples("val")}
    if quick:
        val = {"andrewmvd_val": [val["andrewmvd_val"][i] for i in
                                 sorted(rng.choice(len(val["andrewmvd_val"]), q["val"], replace=False))]}
    inp = cfg["input"]
    val_x = {k: (normalize(cache.crops(v, c["margin"], inp["size"]), inp["mean"], inp["std"]),
                 np.array([s["label"] for s in v])) for k, v in val.items()}
    return train, patches, val_x


def sample_weights(train, cfg):
    """Per-sample sampling weight: class_count**-class_balance x source weight."""
    t = cfg["train"]
    labels = np.array([s["label"] for s in train])
    counts = np.bincount(labels, minlength=len(data.LABELS)).astype(np.float64)
    w = counts[labels] ** -t["class_balance"]
    w *= np.array([t["source_weight"][s["source"]] for s in train])
    return w / w.sum()


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


def write_card(path, cfg, training, metrics):
    card = {
        "name": "maskdetect-mask-classifier",
        "version": "1.0.0",
        "description": "Face-mask crop classifier (small plain CNN, trained from scratch). "
                       "Input: one face crop made with the crop rule below. Output: class probabilities.",
        "model": "mask_classifier.onnx",
        "labels": list(data.LABELS),
        "output": "probabilities",
        "input": {"size": cfg["input"]["size"], "mean": cfg["input"]["mean"], "std": cfg["input"]["std"]},
        "crop": {"margin": cfg["crop"]["margin"], "rule": CROP_RULE},
        "license": ("Weights trained by the maskdetect project from scratch (no pretrained weights). "
                    "Training data licences: chandrikadeb7/Face-Mask-Detection MIT; andrewmvd face-mask-detection "
                    "CC0 1.0 upstream (no licence file in the copy used); MaskedFace-Net subset CC BY-NC-SA 4.0 "
                    "upstream (non-commercial, share-alike) - the weights are derived in part from this "
                    "non-commercial data, so check before any commercial use."),
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

    train, patches, val_x = build_data(cfg, args.quick, rng)
    probs = sample_weights(train, cfg)
    labels = np.array([s["label"] for s in train])
    whole = np.array([s["box"] is None for s in train])
    print("train samples %d (per class %s), data ready in %.1fs"
          % (len(train), np.bincount(labels).tolist(), time.time() - t_start), flush=True)

    net = MaskNet(cfg["model"]["width"], len(data.LABELS), cfg["model"]["dropout"])
    opt = torch.optim.AdamW(net.parameters(), lr=t_cfg["lr"], weight_decay=t_cfg["weight_decay"])
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=t_cfg["label_smoothing"])
    steps_per_epoch = t_cfg["samples_per_epoch"] // t_cfg["batch"]
    total, warm = steps_per_epoch * t_cfg["epochs"], steps_per_epoch * t_cfg["warmup_epochs"]

    def lr_at(step):
        if step < warm:
            return t_cfg["lr"] * (step + 1) / warm
        return t_cfg["lr"] * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

    log, best, step, train_time, seen = [], None, 0, 0.0, 0
    for epoch in range(t_cfg["epochs"]):
        t0 = time.time()
        net.train()
        idx = rng.choice(len(train), steps_per_epoch * t_cfg["batch"], p=probs)
        run_loss = 0.0
        for b in range(steps_per_epoch):
            bi = idx[b * t_cfg["batch"]:(b + 1) * t_cfg["batch"]]
            crops = np.stack([augment(patches[i], cfg["crop"]["context"], whole[i], labels[i],
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
                           "f1": [m["per_class"][c]["f1"] for c in data.LABELS]}
        log.append(entry)
        print(json.dumps(entry), "%.1fs" % (time.time() - t0), flush=True)
        if best is None or entry["andrewmvd_val"]["macro_f1"] > best[0]["andrewmvd_val"]["macro_f1"]:
            best = (entry, copy.deepcopy(net.state_dict()))

    net.load_state_dict(best[1])
    net.eval()
    torch.save({"state_dict": net.state_dict(), "config": cfg, "epoch": best[0]["epoch"]},
               os.path.join(args.out, "model.pt"))
    onnx_path = os.path.join(args.out, "mask_classifier.onnx")
    export_onnx(net, inp["size"], onnx_path)
    check = verify_onnx(net, onnx_path, val_x["andrewmvd_val"][0])
    print("onnx check", check, flush=True)
    if max(check.values()) > 1e-4:
        raise SystemExit("ONNX / torch mismatch: %s" % check)

    metrics = {"selected_epoch": best[0]["epoch"], "val": {k: v for k, v in best[0].items() if k.endswith("_val")}}
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
        "selection": "best macro F1 on andrewmvd val GT crops",
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
