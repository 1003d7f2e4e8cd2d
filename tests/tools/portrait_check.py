#!/usr/bin/env python3
"""Portrait check across sources: the whole pipeline (a preset's detector, then the classifier) on the photos of a
classifier set, one person per photo, which no detector of the project was trained on. Prints the share of photos
where a face is found and where the top face (highest face_score) carries the folder's label.

  python3 tests/tools/portrait_check.py DATASET_DIR SPLIT_FILE PRESET OUT.jsonl [maskdetect global options...]
  (MD=path/to/maskdetect; default build/default/bin/maskdetect; PRESET "default" passes no --preset)

Folder names map to labels: with_mask, correct_mask -> mask; without_mask -> no_mask; incorrect_mask -> incorrect.
The photos are linked (not copied) into OUT.jsonl.d/ so that `maskdetect run` reads them as one folder.
"""
import json, subprocess, sys, os, collections
root, split, preset, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
names = [l.strip() for l in open(split) if l.strip()]
cls = {'with_mask': 'mask', 'correct_mask': 'mask', 'without_mask': 'no_mask', 'incorrect_mask': 'incorrect'}
lst = out + '.d'
os.makedirs(lst, exist_ok=True)
link = lambda n: n.replace('/', '__').replace(' ', '_')
for n in names:
    d = os.path.join(lst, link(n))
    if not os.path.lexists(d): os.symlink(os.path.abspath(os.path.join(root, n)), d)
args = [os.environ.get('MD', 'build/default/bin/maskdetect')] + (['--preset', preset] if preset != 'default' else []) + sys.argv[5:] + ['run', '--source', lst, '--json', out] 
r = subprocess.run(args, capture_output=True, text=True)
if r.returncode != 0: print(r.stderr); sys.exit(1)
res = {}
for line in open(out):
    j = json.loads(line); res[os.path.basename(j.get('image', ''))] = j
found = correct = 0; per = collections.Counter(); perok = collections.Counter()
for n in names:
    j = res.get(link(n)); truth = cls[n.split('/')[0]]; per[truth] += 1
    faces = (j or {}).get('faces', [])
    if faces:
        found += 1
        top = max(faces, key=lambda f: f.get('face_score', f.get('score', 0)))
        if top['label'] == truth: correct += 1; perok[truth] += 1
print(f"{preset} {' '.join(sys.argv[5:])}: n={len(names)} face found {found/len(names):.3f} top label right {correct/len(names):.3f} per class " + ' '.join(f"{k} {perok[k]}/{per[k]}" for k in sorted(per)))
