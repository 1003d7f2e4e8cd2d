"""Classification metrics with numpy: accuracy, per-class P/R/F1, macro F1, confusion."""
import numpy as np

from data import LABELS


def classification_metrics(y_true, y_pred, n=len(LABELS)):
    """Confusion rows = true class, columns = predicted class."""
    conf = np.zeros((n, n), np.int64)
    np.add.at(conf, (np.asarray(y_true), np.asarray(y_pred)), 1)
    per_class, f1s = {}, []
    for c in range(n):
        tp = conf[c, c]
        support = conf[c].sum()
        predicted = conf[:, c].sum()
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        per_class[LABELS[c]] = {"precision": round(float(p), 4), "recall": round(float(r), 4),
                                "f1": round(float(f1), 4), "support": int(support)}
        if support:
            f1s.append(f1)
    return {"n": int(conf.sum()),
            "accuracy": round(float(np.trace(conf) / max(1, conf.sum())), 4),
            "macro_f1": round(float(np.mean(f1s)), 4),
            "per_class": per_class,
            "confusion": conf.tolist()}
