"""Choosing the cutoffs: the three-way verdict bands, by a stated cost.

A ham marked spam hides a real reader's words (the worst outcome); a spam
let through is published junk a moderator removes later; a trip to review
costs a minute of a human. With SpamBayes' weights:

    cost = 10 * false_spam + 1 * false_ham + 0.2 * review

minimised over every pair ``ham_below <= spam_above`` on out-of-fold scores
(scores the model gave comments it had not been trained on). A comment is
ham when ``score <= ham_below`` and spam when ``score >= spam_above``.

The discard cutoff marks spam so blatant a blog may drop it unseen; it is set
above every ham the held-out scores saw, and never below 0.99.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike

COST_FALSE_SPAM = 10.0
COST_FALSE_HAM = 1.0
COST_REVIEW = 0.2
MIN_DISCARD = 0.99
NEVER = 1.01  # a cutoff no score reaches

_GRID = np.round(np.linspace(0.0, 1.0, 201), 3)


@dataclass(frozen=True)
class Cutoffs:
    ham_below: float
    spam_above: float
    discard_above: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def band_cost(scores: np.ndarray, labels: np.ndarray, ham_below: float, spam_above: float) -> float:
    spam_verdict = scores >= spam_above
    ham_verdict = (scores <= ham_below) & ~spam_verdict
    review = ~(spam_verdict | ham_verdict)
    false_spam = np.sum(spam_verdict & (labels == 0))
    false_ham = np.sum(ham_verdict & (labels == 1))
    return float(
        COST_FALSE_SPAM * false_spam + COST_FALSE_HAM * false_ham + COST_REVIEW * np.sum(review)
    )


def choose_cutoffs(scores: ArrayLike, labels: ArrayLike) -> Cutoffs:
    """The cost-minimising bands on held-out scores (ties: the narrowest review band)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    # Cumulative counts per grid point make the O(grid^2) search cheap:
    # ham_at[i] = hams with score <= grid[i], spam_from[j] = spams with score >= grid[j].
    ham_le = np.array([np.sum((s <= g) & (y == 0)) for g in _GRID])
    spam_le = np.array([np.sum((s <= g) & (y == 1)) for g in _GRID])
    ham_ge = np.array([np.sum((s >= g) & (y == 0)) for g in _GRID])
    spam_ge = np.array([np.sum((s >= g) & (y == 1)) for g in _GRID])
    total = len(s)
    best: tuple[float, float, int, int] | None = None
    for i in range(len(_GRID)):
        for j in range(i + 1, len(_GRID)):
            decided = ham_le[i] + spam_le[i] + ham_ge[j] + spam_ge[j]
            cost = (
                COST_FALSE_SPAM * ham_ge[j]
                + COST_FALSE_HAM * spam_le[i]
                + COST_REVIEW * (total - decided)
            )
            key = (cost, _GRID[j] - _GRID[i])
            if best is None or key < best[:2]:
                best = (cost, float(_GRID[j] - _GRID[i]), i, j)
    assert best is not None
    ham_below, spam_above = float(_GRID[best[2]]), float(_GRID[best[3]])
    hams = s[y == 0]
    highest_ham = float(hams.max()) if hams.size else 0.0
    discard = max(MIN_DISCARD, spam_above, round(highest_ham + 0.001, 3))
    return Cutoffs(ham_below, spam_above, discard if discard <= 1.0 else NEVER)
