"""Write the seeded dataset splits to models/splits/ (run once; the files are committed).

andrewmvd: split BY IMAGE 70/15/15, stratified by the rarest class an image
contains (mask_weared_incorrect > without_mask > with_mask only), so that the
few 'incorrect' images are spread across train/val/test.
chandrikadeb7: 80/10/10 per class; images listed in
OVERLAP_classifier_vs_detection.csv are left out of every split.
maskedfacenet (synthetic): 85/15 train/val per class, no test split.
moxa3k (second detection source, own seed 20261206 so the files above never change): split BY DUPLICATE
GROUP (MANIFEST.csv `dup_group`: video-frame runs and repeated photos), so that no group crosses splits,
70/15/15 of the images, stratified by whether a group has a `nomask` box. Groups of more than 4 images
(one: 26 frames of one street video) and the groups of the 19 images that are the same photos as
chandrikadeb7 images (OVERLAP_with_classifier.csv) always go to train, so that val and test hold
independent photos the classifier never trained on.

Also writes models/splits/data_hashes.yaml: per detection split file, its image count and the sha256 over
the sorted lines "images/<stem>.jpg<TAB><sha256 of the file>" (data.data_hash, as the model cards record
it), so that a test can check the shared images are the ones the splits were made from.

Usage: /usr/bin/python3 models/training/make_splits.py [--seed 20261129] [--moxa-seed 20261206]
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


def moxa_splits(seed):
    """moxa3k train/val/test stems by duplicate group (see the module docstring)."""
    rng = random.Random(seed)
    rows = data.moxa_manifest()
    forced = data.moxa_overlap_stems()
    groups = {}
    for stem, row in rows.items():
        groups.setdefault(row["dup_group"], []).append(stem)
    parts = {"train": [], "val": [], "test": []}
    strata = {0: [], 1: []}
    for name in sorted(groups):
        stems = sorted(groups[name])
        if len(stems) > 4 or forced.intersection(stems):
            parts["train"] += stems
            continue
        strata[int(any(int(rows[s]["n_nomask"]) > 0 for s in stems))].append(name)
    for k in (1, 0):
        names = strata[k]
        rng.shuffle(names)
        total = sum(len(groups[n]) for n in names)
        done = 0
        for name in names:
            # A group goes to test until test holds 15 % of this stratum's images, then val, then train.
            part = "test" if done < 0.15 * total else "val" if done < 0.30 * total else "train"
            parts[part] += groups[name]
            done += len(groups[name])
    return parts


def write(name, items):
    with open(os.path.join(data.SPLIT_DIR, name + ".txt"), "w") as f:
        f.writelines(s + "\n" for s in sorted(items))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--moxa-seed", type=int, default=20261206)
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

    # moxa3k, by duplicate group, its own seed.
    for name, part in moxa_splits(args.moxa_seed).items():
        write("moxa3k_" + name, part)

    # Hashes of the detection splits' images.
    lines = ["# Written by models/training/make_splits.py: per split file, the number of images and the sha256 over",
             "# the sorted lines 'images/<stem>.jpg<TAB><sha256 of the image file>\\n' (models/training/data.py",
             "# data_hash). tests/eval/test_splits.cpp checks them against ../shared/datasets/detection/."]
    for source, root in (("andrewmvd", data.ANDREW), ("moxa3k", data.MOXA)):
        for split in ("train", "val", "test"):
            rels = ["images/%s.jpg" % s for s in data.read_split("%s_%s" % (source, split))]
            lines.append("%s_%s: {images: %d, sha256: %s}" % (source, split, len(rels), data.data_hash(root, rels)))
    with open(os.path.join(data.SPLIT_DIR, "data_hashes.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
