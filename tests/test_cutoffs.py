"""Cutoff choice by cost, and the evaluation metrics (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from training.cutoffs import MIN_DISCARD, NEVER, Cutoffs, band_cost, choose_cutoffs
from training.evaluation import evaluate_scores


def test_separable_scores_need_no_review() -> None:
    scores = [0.01, 0.05, 0.1, 0.9, 0.95, 0.99]
    labels = [0, 0, 0, 1, 1, 1]
    cut = choose_cutoffs(scores, labels)
    assert band_cost(np.array(scores), np.array(labels), cut.ham_below, cut.spam_above) == 0
    assert 0.1 <= cut.ham_below < cut.spam_above <= 0.9


def test_overlap_goes_to_review_rather_than_false_spam() -> None:
    # A ham at 0.7 among spam: marking it spam costs 10, review of the band 0.2 each.
    scores = [0.05, 0.1, 0.7, 0.6, 0.65, 0.95, 0.97]
    labels = [0, 0, 0, 1, 1, 1, 1]
    cut = choose_cutoffs(scores, labels)
    assert cut.spam_above > 0.7, "the ham at 0.7 is never called spam"
    assert cut.ham_below < 0.6


def test_discard_sits_above_every_ham() -> None:
    cut = choose_cutoffs([0.1, 0.995, 0.999, 1.0], [0, 0, 1, 1])
    assert cut.discard_above > 0.995
    assert choose_cutoffs([0.1, 0.9], [0, 1]).discard_above == MIN_DISCARD
    assert choose_cutoffs([0.1, 1.0, 1.0], [0, 0, 1]).discard_above == NEVER


def test_metrics() -> None:
    scores = [0.1, 0.4, 0.6, 0.9]
    labels = [0, 1, 0, 1]
    metrics = evaluate_scores(scores, labels, Cutoffs(0.2, 0.8, 0.99))
    assert metrics["accuracy"] == 0.5
    assert metrics["confusion"] == {"tn": 1, "fp": 1, "fn": 1, "tp": 1}
    assert metrics["ham_false_positive_rate"] == 0.5
    assert metrics["policy"]["auto_decided_share"] == 0.5
    assert metrics["policy"]["auto_accuracy"] == 1.0
    for name in ("precision", "recall", "f1", "mcc", "roc_auc"):
        assert name in metrics


def test_calibration_of_perfect_and_overconfident_scores() -> None:
    labels = np.array([0] * 50 + [1] * 50)
    honest = evaluate_scores(np.where(labels == 1, 0.95, 0.05), labels, Cutoffs(0.2, 0.8, 0.99))
    overconfident = evaluate_scores(
        np.r_[np.full(45, 0.0), np.full(5, 1.0), np.full(45, 1.0), np.full(5, 0.0)],
        labels,
        Cutoffs(0.2, 0.8, 0.99),
    )
    assert honest["calibration"]["ece"] == pytest.approx(0.05)
    assert overconfident["calibration"]["ece"] == pytest.approx(0.1)
    assert overconfident["calibration"]["brier"] > honest["calibration"]["brier"]
    assert sum(b["n"] for b in honest["calibration"]["bins"]) == 100
    assert honest["policy"]["cost_weights"] == {"false_spam": 10.0, "false_ham": 1.0, "review": 0.2}
