"""Metrics of a model on labelled comments: classifier quality and policy outcome.

Two views, both reported:

* the classifier at P(spam) >= 0.5 - accuracy, precision, recall, F1, MCC -
  and ROC AUC over the scores (threshold-free);
* the three-way policy at the model's cutoffs - the share auto-decided and
  sent to review, and the ham false-positive rate and accuracy among the
  auto-decided (what a blog actually experiences).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from training.cutoffs import COST_FALSE_HAM, COST_FALSE_SPAM, COST_REVIEW, Cutoffs, band_cost


def evaluate_scores(scores: ArrayLike, labels: ArrayLike, cutoffs: Cutoffs) -> dict[str, Any]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    predicted = (s >= 0.5).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    spam_verdict = s >= cutoffs.spam_above
    ham_verdict = (s <= cutoffs.ham_below) & ~spam_verdict
    decided = spam_verdict | ham_verdict
    hams = max(int(np.sum(y == 0)), 1)
    auto_correct = np.sum(spam_verdict & (y == 1)) + np.sum(ham_verdict & (y == 0))
    return {
        "n": len(y),
        "spam": int(np.sum(y == 1)),
        "ham": int(np.sum(y == 0)),
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "mcc": float(matthews_corrcoef(y, predicted)),
        "roc_auc": float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else None,
        "ham_false_positive_rate": float(fp / hams),
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        "calibration": calibration(s, y),
        "policy": {
            "cutoffs": cutoffs.as_dict(),
            "auto_decided_share": float(np.mean(decided)) if len(y) else 0.0,
            "review_share": float(np.mean(~decided)) if len(y) else 0.0,
            "auto_accuracy": float(auto_correct / max(int(np.sum(decided)), 1)),
            "auto_ham_false_positive_rate": float(np.sum(spam_verdict & (y == 0)) / hams),
            "cost": band_cost(s, y, cutoffs.ham_below, cutoffs.spam_above),
            "cost_weights": {
                "false_spam": COST_FALSE_SPAM,
                "false_ham": COST_FALSE_HAM,
                "review": COST_REVIEW,
            },
        },
    }


def calibration(scores: np.ndarray, labels: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Is P(spam) a probability? Brier score, expected calibration error (the
    share-weighted gap between predicted and observed spam rates per bin), and
    the reliability table itself."""
    if len(set(labels.tolist())) < 2:
        return {"brier": float(brier_score_loss(labels, scores, pos_label=1)), "ece": None}
    observed, predicted = calibration_curve(labels, scores, n_bins=bins, strategy="uniform")
    counts = np.histogram(scores, bins=np.linspace(0, 1, bins + 1))[0]
    counts = counts[counts > 0]  # calibration_curve drops empty bins too
    ece = float(np.sum(counts / counts.sum() * np.abs(observed - predicted)))
    return {
        "brier": float(brier_score_loss(labels, scores)),
        "ece": ece,
        "bins": [
            {"predicted": round(float(p), 4), "observed": round(float(o), 4), "n": int(n)}
            for p, o, n in zip(predicted, observed, counts, strict=True)
        ],
    }


def format_report(metrics: dict[str, Any]) -> str:
    """A short human-readable table of :func:`evaluate_scores` output."""
    policy = metrics["policy"]
    cut = policy["cutoffs"]
    auc = metrics["roc_auc"]

    def _maybe(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    lines = [
        f"comments           {metrics['n']} ({metrics['spam']} spam, {metrics['ham']} ham)",
        f"accuracy           {metrics['accuracy']:.4f}",
        f"precision          {metrics['precision']:.4f}",
        f"recall             {metrics['recall']:.4f}",
        f"F1                 {metrics['f1']:.4f}",
        f"MCC                {metrics['mcc']:.4f}",
        f"ROC AUC            {'n/a' if auc is None else f'{auc:.4f}'}",
        f"ham FP rate @0.5   {metrics['ham_false_positive_rate']:.4f}",
        f"calibration        Brier {metrics['calibration']['brier']:.4f},"
        f" ECE {_maybe(metrics['calibration']['ece'])}",
        f"cutoffs            ham <= {cut['ham_below']}, spam >= {cut['spam_above']},"
        f" discard >= {cut['discard_above']}",
        f"auto-decided       {policy['auto_decided_share']:.1%}"
        f" (accuracy {policy['auto_accuracy']:.4f},"
        f" ham FP rate {policy['auto_ham_false_positive_rate']:.4f})",
        f"sent to review     {policy['review_share']:.1%}",
    ]
    return "\n".join(lines)
