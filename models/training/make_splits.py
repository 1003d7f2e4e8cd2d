"""Write the seeded dataset splits to models/splits/ (run once; the files are committed).

andrewmvd: split BY IMAGE 70/15/15, stratified by the rarest class an image
contains (mask_weared_incorrect > without_mask > with_mask only), so that the
few 'incorrect' images are spread across train/val/test.
chandrikadeb7: 80/10/10 per class; images listed in
OVERLAP_classifier_vs_detection.csv are left out of every split.
maskedfacenet (synthetic): 85/15 train/val per class, no test split.

Usage: /usr/bin/python3 models/training/make_splits.py [--seed 20261129]
"""
import argparse
import os
import random

import data


def split_list(items, fractions, rng):
    """Shuffle a sorted list and cut it into len(fractions) parts."""
    items = sorted(items)
    rng.shuffle(items)
    cuts, acc = [], 0.0
    for f in fractions[:-1]:
        acc += f
        cuts.append(int(round(acc * len(items))))
    bounds = [0] + cuts + [len(items)]
    return [items[bounds[i]:bounds[i + 1]] for i in range(len(fractions))]


def write(name, items):
    with open(os.path.join(data.SPLIT_DIR, name + ".txt"), "w") as f:
        f.writelines(s + "\n" for s in sorted(items))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(data.SPLIT_DIR, exist_ok=True)

    # andrewmvd, stratified by image.
    strata = {0: [], 1: [], 2: []}
    for rel in data.list_images(os.path.join(data.ANDREW, "images")):
        stem = os.path.splitext(rel)[0]
        labels = {lab for _, lab in data.andrew_boxes(stem)}
        strata[max(labels) if labels else 0].append(stem)
    parts = {"train": [], "val": [], "test": []}
    for k in (2, 1, 0):
        for name, part in zip(parts, split_list(strata[k], (0.70, 0.15, 0.15), rng)):
            parts[name] += part
    for name, part in parts.items():
        write("andrewmvd_" + name, part)

    # chandrikadeb7, per class, overlap with andrewmvd removed.
    drop = data.overlap_files()
    parts = {"train": [], "val": [], "test": []}
    for cls in ("with_mask", "without_mask"):
        rels = [r for r in data.list_images(data.CHANDRIKA) if r.startswith(cls + "/") and r not in drop]
        for name, part in zip(parts, split_list(rels, (0.80, 0.10, 0.10), rng)):
            parts[name] += part
    for name, part in parts.items():
        write("chandrikadeb7_" + name, part)

    # maskedfacenet, per class, train/val only.
    parts = {"train": [], "val": []}
    for cls in ("correct_mask", "incorrect_mask"):
        rels = [r for r in data.list_images(data.MFN) if r.startswith(cls + "/")]
        for name, part in zip(parts, split_list(rels, (0.85, 0.15), rng)):
            parts[name] += part
    for name, part in parts.items():
        write("maskedfacenet_" + name, part)


if __name__ == "__main__":
    main()
