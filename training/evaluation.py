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
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from training.cutoffs import Cutoffs, band_cost


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
        "policy": {
            "cutoffs": cutoffs.as_dict(),
            "auto_decided_share": float(np.mean(decided)) if len(y) else 0.0,
            "review_share": float(np.mean(~decided)) if len(y) else 0.0,
            "auto_accuracy": float(auto_correct / max(int(np.sum(decided)), 1)),
            "auto_ham_false_positive_rate": float(np.sum(spam_verdict & (y == 0)) / hams),
            "cost": band_cost(s, y, cutoffs.ham_below, cutoffs.spam_above),
        },
    }


def format_report(metrics: dict[str, Any]) -> str:
    """A short human-readable table of :func:`evaluate_scores` output."""
    policy = metrics["policy"]
    cut = policy["cutoffs"]
    auc = metrics["roc_auc"]
    lines = [
        f"comments           {metrics['n']} ({metrics['spam']} spam, {metrics['ham']} ham)",
        f"accuracy           {metrics['accuracy']:.4f}",
        f"precision          {metrics['precision']:.4f}",
        f"recall             {metrics['recall']:.4f}",
        f"F1                 {metrics['f1']:.4f}",
        f"MCC                {metrics['mcc']:.4f}",
        f"ROC AUC            {'n/a' if auc is None else f'{auc:.4f}'}",
        f"ham FP rate @0.5   {metrics['ham_false_positive_rate']:.4f}",
        f"cutoffs            ham <= {cut['ham_below']}, spam >= {cut['spam_above']},"
        f" discard >= {cut['discard_above']}",
        f"auto-decided       {policy['auto_decided_share']:.1%}"
        f" (accuracy {policy['auto_accuracy']:.4f},"
        f" ham FP rate {policy['auto_ham_false_positive_rate']:.4f})",
        f"sent to review     {policy['review_share']:.1%}",
    ]
    return "\n".join(lines)
