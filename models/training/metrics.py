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


def ece(probs, y_true, bins=15):
    """Expected calibration error of the top-class probability (equal-width bins over [0, 1])."""
    probs = np.asarray(probs, np.float64)
    conf, pred = probs.max(1), probs.argmax(1)
    correct = (pred == np.asarray(y_true)).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += sel.mean() * abs(conf[sel].mean() - correct[sel].mean())
    return round(float(total), 4)


def fit_temperature(logits, y_true):
    """Temperature T minimising the NLL of softmax(logits / T) (grid search over 0.25..8, log-spaced)."""
    logits = np.asarray(logits, np.float64)
    y = np.asarray(y_true)
    best = None
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 400)):
        z = logits / t
        z = z - z.max(1, keepdims=True)
        nll = float((np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]).mean())
        if best is None or nll < best[1]:
            best = (float(t), nll)
    return round(best[0], 4)
