"""Dataset indexing: label map, split files, sample lists and data hashes.

A *sample* is a dict {"path": abs path, "rel": path relative to its dataset
folder, "box": [x, y, w, h] or None (= whole image), "label": int,
"source": dataset name}. Images are never copied; they are read from the
shared dataset folder.
"""
import csv
import hashlib
import os
import xml.etree.ElementTree as ET

LABELS = ["mask", "no_mask", "incorrect"]
LABEL_MAP = {
    "with_mask": 0, "correct_mask": 0,
    "without_mask": 1,
    "mask_weared_incorrect": 2, "incorrect_mask": 2,
}
_REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# The shared datasets: $MASKDETECT_DATA, else $MASKDETECT_SHARED_DIR/datasets, else ../shared/datasets beside
# the repository (the same place the C++ tests look).
DATA_ROOT = os.environ.get("MASKDETECT_DATA") or os.path.join(
    os.environ.get("MASKDETECT_SHARED_DIR") or os.path.join(_REPO, "..", "shared"), "datasets")
SPLIT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "splits")
LABEL_MAP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "label_maps")
ANDREW = os.path.join(DATA_ROOT, "detection", "andrewmvd_face_mask")
MOXA = os.path.join(DATA_ROOT, "detection", "moxa3k")
CHANDRIKA = os.path.join(DATA_ROOT, "classifier", "chandrikadeb7")
MFN = os.path.join(DATA_ROOT, "classifier", "maskedfacenet_subset")
IMAGE_EXT = (".jpg", ".jpeg", ".png")


def read_split(name):
    """Lines of models/splits/<name>.txt."""
    with open(os.path.join(SPLIT_DIR, name + ".txt")) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def overlap_files():
    """chandrikadeb7 files (relative) that duplicate andrewmvd images."""
    with open(os.path.join(DATA_ROOT, "OVERLAP_classifier_vs_detection.csv")) as f:
        return {row[0] for row in list(csv.reader(f))[1:] if row}


def read_label_map(name):
    """models/label_maps/<name>.yaml (VOC class name -> maskdetect label), as {lower-case name: label index}.

    The same files `maskdetect eval --label-map` reads. A line is `name: label`; '#' starts a comment.
    """
    path = os.path.join(LABEL_MAP_DIR, name + ".yaml")
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = line.partition(":")
            if not sep or value.strip() not in LABELS:
                raise ValueError("%s:%d: expected 'name: mask|no_mask|incorrect', got %r" % (path, n, line))
            out[key.strip().lower()] = LABELS.index(value.strip())
    return out


_LABEL_MAPS = {}


def voc_boxes(root_dir, stem, label_map):
    """GT boxes of one VOC image: list of ([x, y, w, h], label), clamped to the image; classes through the
    label map (models/label_maps/<label_map>.yaml). An unknown class is an error naming the file."""
    if label_map not in _LABEL_MAPS:
        _LABEL_MAPS[label_map] = read_label_map(label_map)
    names = _LABEL_MAPS[label_map]
    path = os.path.join(root_dir, "annotations", stem + ".xml")
    root = ET.parse(path).getroot()
    iw = float(root.find("size/width").text)
    ih = float(root.find("size/height").text)
    out = []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        x0 = min(max(float(bb.find("xmin").text), 0.0), iw)
        y0 = min(max(float(bb.find("ymin").text), 0.0), ih)
        x1 = min(max(float(bb.find("xmax").text), 0.0), iw)
        y1 = min(max(float(bb.find("ymax").text), 0.0), ih)
        name = obj.find("name").text.strip().lower()
        if name not in names:
            raise ValueError("%s: class %r is not in label map %s" % (path, name, label_map))
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            out.append(([x0, y0, x1 - x0, y1 - y0], names[name]))
    return out


def andrew_boxes(stem):
    """GT boxes of one andrewmvd image: list of ([x, y, w, h], label), clamped to the image."""
    return voc_boxes(ANDREW, stem, "andrewmvd")


def moxa_boxes(stem):
    """GT boxes of one moxa3k image (head-style boxes; labels mask / no_mask only)."""
    return voc_boxes(MOXA, stem, "moxa3k")


def moxa_manifest():
    """moxa3k MANIFEST.csv rows by stem (dup_group, sha256, moxa_split, ...)."""
    with open(os.path.join(MOXA, "MANIFEST.csv")) as f:
        return {row["stem"]: row for row in csv.DictReader(f)}


def moxa_overlap_stems():
    """moxa3k stems that are the same photos as chandrikadeb7 images (OVERLAP_with_classifier.csv)."""
    with open(os.path.join(MOXA, "OVERLAP_with_classifier.csv")) as f:
        return {os.path.splitext(os.path.basename(row[1]))[0] for row in list(csv.reader(f))[1:] if row}


def andrew_samples(split):
    """GT face crops of one andrewmvd split ('train', 'val' or 'test')."""
    samples = []
    for stem in read_split("andrewmvd_" + split):
        for box, label in andrew_boxes(stem):
            samples.append({"path": os.path.join(ANDREW, "images", stem + ".jpg"),
                            "rel": "images/%s.jpg" % stem, "box": box,
                            "label": label, "source": "andrewmvd"})
    return samples


def moxa_samples(split):
    """GT head crops of one moxa3k split ('train', 'val' or 'test')."""
    samples = []
    for stem in read_split("moxa3k_" + split):
        for box, label in moxa_boxes(stem):
            samples.append({"path": os.path.join(MOXA, "images", stem + ".jpg"),
                            "rel": "images/%s.jpg" % stem, "box": box,
                            "label": label, "source": "moxa3k"})
    return samples


def folder_samples(root, source, rels):
    """Whole-image samples; the class is the first path component."""
    return [{"path": os.path.join(root, rel), "rel": rel, "box": None,
             "label": LABEL_MAP[rel.split("/")[0]], "source": source} for rel in rels]


def chandrika_samples(split):
    return folder_samples(CHANDRIKA, "chandrikadeb7", read_split("chandrikadeb7_" + split))


def mfn_samples(split):
    return folder_samples(MFN, "maskedfacenet", read_split("maskedfacenet_" + split))


def list_images(root):
    """All image files under root, relative, sorted."""
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.lower().endswith(IMAGE_EXT):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_hash(root, rels):
    """SHA-256 over the sorted list of 'relative path<TAB>file sha256' lines."""
    h = hashlib.sha256()
    for rel in sorted(set(rels)):
        h.update(("%s\t%s\n" % (rel, file_sha256(os.path.join(root, rel)))).encode())
    return h.hexdigest()


def data_hashes():
    """Data hash per dataset, over every image listed in the split files."""
    splits = ("train", "val", "test")
    andrew = ["images/%s.jpg" % s for sp in splits for s in read_split("andrewmvd_" + sp)]
    moxa = ["images/%s.jpg" % s for sp in splits for s in read_split("moxa3k_" + sp)]
    chand = [r for sp in splits for r in read_split("chandrikadeb7_" + sp)]
    mfn = [r for sp in ("train", "val") for r in read_split("maskedfacenet_" + sp)]
    return {
        "andrewmvd": {"images": len(andrew), "sha256": data_hash(ANDREW, andrew)},
        "chandrikadeb7": {"images": len(chand), "sha256": data_hash(CHANDRIKA, chand)},
        "maskedfacenet": {"images": len(mfn), "sha256": data_hash(MFN, mfn)},
        "moxa3k": {"images": len(moxa), "sha256": data_hash(MOXA, moxa)},
    }
