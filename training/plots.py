"""Precision-recall and calibration plots (PNG) of held-out scores.

Plain functions of scores and labels, used by the benchmark and by the
retraining report. matplotlib is imported here only (lazily, with the
file-only Agg backend), so the service never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve

Scores = Mapping[str, tuple[np.ndarray, np.ndarray]]  # name -> (scores, labels)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def precision_recall_png(curves: Scores, path: Path, title: str) -> Path:
    """One precision-recall curve per model, average precision in the legend."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for name, (scores, labels) in curves.items():
        precision, recall, _ = precision_recall_curve(labels, scores)
        ap = average_precision_score(labels, scores)
        ax.step(recall, precision, where="post", label=f"{name} (AP {ap:.3f})")
    ax.set(xlabel="spam recall", ylabel="precision", title=title, xlim=(0, 1.01), ylim=(0.5, 1.01))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _save(plt, fig, path)


def calibration_png(curves: Scores, path: Path, title: str, bins: int = 10) -> Path:
    """Reliability diagram (the share of spam among comments given each score),
    over a histogram of the scores: a bin of five comments says little."""
    plt = _pyplot()
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(6, 6.5), dpi=110, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    edges = np.linspace(0, 1, bins + 1)
    for name, (scores, labels) in curves.items():
        clipped = np.clip(scores, 0, 1)
        observed, predicted = calibration_curve(labels, clipped, n_bins=bins)
        ax.plot(predicted, observed, marker="o", label=name)
        hist.hist(clipped, bins=edges, histtype="step", label=name)
    ax.set(ylabel="observed share of spam", title=title, xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    hist.set(xlabel="score (predicted P(spam))", ylabel="comments", yscale="log")
    hist.grid(alpha=0.3)
    return _save(plt, fig, path)


def histogram_png(curves: Scores, path: Path, title: str, bins: int = 20) -> Path:
    """Score histograms, ham and spam apart, one panel per model."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), dpi=110, squeeze=False)
    edges = np.linspace(0, 1, bins + 1)
    for ax, (name, (scores, labels)) in zip(axes[0], curves.items(), strict=True):
        clipped = np.clip(scores, 0, 1)
        ax.hist(clipped[labels == 0], bins=edges, alpha=0.6, label="ham")
        ax.hist(clipped[labels == 1], bins=edges, alpha=0.6, label="spam")
        ax.set(title=f"{name}: {title}", xlabel="score", ylabel="comments", yscale="log")
        ax.legend()
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
