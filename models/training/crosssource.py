"""Cross-source evaluation: train without one source, test on every GT crop of that source.

For each lever (a list of --override values on top of config.yaml) and each held-out source
(andrewmvd: all 3 splits, 4,072 boxes with all three classes; maskedfacenet: train+val, 500
images of mask/incorrect, no no_mask; moxa3k: all 3 splits less the 19 photos that are also
chandrikadeb7 images, head crops of mask/no_mask), train.py is run with data.holdout=SOURCE,
short schedule, --no-test. The checkpoint is chosen on the remaining validation sets (the levers
of issue 10: andrewmvd val when andrewmvd is trained on, else all remaining val crops pooled;
the issue-18 recipe: the worst remaining val set); the held-out source is never used to choose
anything. Prints Markdown tables (sweep + confusion matrices) for
docs/classifier.md and writes OUT/summary.json.

Usage: /usr/bin/python3 models/training/crosssource.py --out models/training/out/cross
           [--epochs 8] [--samples 4000] [--only baseline synth ...] [--holdout andrewmvd maskedfacenet moxa3k]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# baseline = the recipe of model 1.0.0, shipped before issue 10 (config.yaml with every new lever off;
# the schedule is the short one of --epochs/--samples and calibrate=true, which does not change argmax).
# The issue-10 levers train on the three sources of that time, choose on andrewmvd val and add no bias.
OFF = ["synth.share=0.0", "synth.p_real=0.0", "train.loss=ce", "train.loss_class_weight=0.0", "train.class_balance=0.7",
       "data.sources=[andrewmvd, chandrikadeb7, maskedfacenet]", "select=andrewmvd_val", "calibrate_incorrect=false"]
LEVERS = [
    ("baseline", OFF),
    ("synth", OFF + ["synth.share=0.3"]),
    ("synth+focal+cw", OFF + ["synth.share=0.3", "train.loss=focal", "train.loss_class_weight=0.5"]),
    ("synth real masks", OFF + ["synth.share=0.3", "synth.p_real=0.7"]),
    ("synth real masks, share 0.5", OFF + ["synth.share=0.5", "synth.p_real=1.0"]),
    # issue 18: config.yaml as it is (the 1.2.0 recipe): moxa3k head crops as a fourth source, the epoch chosen
    # by the worst val set, the `incorrect` bias chosen by the worst val set.
    ("moxa3k, worst-source choice, incorrect bias", []),
]


def run_dir(out, name, source):
    return os.path.join(out, name.replace(" ", "_").replace(",", "").replace("+", "_"), source)


def row(name, source, m, wall, val):
    pc = m["per_class"]
    rec = lambda c: "%.3f" % pc[c]["recall"] if pc[c]["support"] else "-"  # noqa: E731
    return "| %s | %s | %.3f | %.3f | %s | %s | %s | %.3f | %.3f -> %.3f | %.0f |" % (
        name, source, val, m["macro_f1"], rec("mask"), rec("no_mask"), rec("incorrect"),
        m["flip_tta"]["macro_f1"], m["ece"]["before"], m["ece"]["after"], wall)


def val_f1(out, name, source):
    """Macro F1 of the run's selected epoch on its selection val set (not the held-out source)."""
    with open(os.path.join(run_dir(out, name, source), "metrics.json")) as f:
        m = json.load(f)
    return m["val"][m["selection"]]["macro_f1"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--samples", type=int, default=4000, help="training samples per epoch")
    ap.add_argument("--only", nargs="*", help="lever names to run (default: all)")
    ap.add_argument("--holdout", nargs="*", default=["andrewmvd", "maskedfacenet", "moxa3k"])
    args = ap.parse_args()
    summary_path = os.path.join(args.out, "summary.json")
    summary = {}
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
    for name, overrides in LEVERS:
        if args.only and name not in args.only:
            continue
        for source in args.holdout:
            out = run_dir(args.out, name, source)
            cmd = [sys.executable, os.path.join(HERE, "train.py"), "--config", os.path.join(HERE, "config.yaml"),
                   "--out", out, "--no-test", "--override", "data.holdout=" + source,
                   "--override", "train.epochs=%d" % args.epochs,
                   "--override", "train.samples_per_epoch=%d" % args.samples, "--override", "calibrate=true"]
            for o in overrides:
                cmd += ["--override", o]
            t0 = time.time()
            os.makedirs(out, exist_ok=True)
            with open(out + ".log", "w") as log:
                subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
            with open(os.path.join(out, "metrics.json")) as f:
                m = json.load(f)
            summary["%s|%s" % (name, source)] = {"overrides": overrides, "wall_s": round(time.time() - t0),
                                                 "heldout": m["heldout"], "selection": m["selection"],
                                                 "selected_epoch": m["selected_epoch"],
                                                 "calibration": m["calibration"]}
            with open(summary_path, "w") as f:
                json.dump(summary, f, indent=1)
            print(row(name, source, m["heldout"], time.time() - t0, val_f1(args.out, name, source)), flush=True)
    print("\n| lever | held-out source | val macro F1 (selection set) | held-out macro F1 | recall mask "
          "| recall no_mask | recall incorrect | macro F1 flip TTA | ECE before -> after T | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, v in summary.items():
        name, source = key.split("|")
        print(row(name, source, v["heldout"], v["wall_s"], val_f1(args.out, name, source)))
    print("\nConfusion (rows true mask/no_mask/incorrect, columns predicted):")
    for key, v in summary.items():
        print("- %s: `%s` (T = %.3f, selected epoch %d on %s)" % (
            key.replace("|", ", held out "), v["heldout"]["confusion"], v["calibration"]["temperature"],
            v["selected_epoch"], v["selection"]))


if __name__ == "__main__":
    main()
