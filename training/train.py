"""Training a model from examples: out-of-fold scores, cutoffs, the final fit.

The cutoffs and the metrics stored in the manifest come from out-of-fold
scores (each comment scored by a model that did not see it), so they
describe comments the model has not met - not its own training set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from training.cutoffs import Cutoffs, choose_cutoffs
from training.datasets import DatasetError, Example
from training.evaluation import evaluate_scores
from training.model import SpamModel, build_pipeline

FOLDS = 5
SEED = 20261125


@dataclass(frozen=True)
class Trained:
    model: SpamModel
    cutoffs: Cutoffs
    metrics: dict[str, Any]


def train(examples: Sequence[Example], folds: int = FOLDS) -> Trained:
    records = [e.record for e in examples]
    labels = np.array([e.label for e in examples])
    smallest_class = int(min(np.sum(labels == 0), np.sum(labels == 1)))
    if smallest_class < 2:
        raise DatasetError("need at least two spam and two ham examples")
    folds = min(folds, smallest_class)
    # Inner calibration folds must fit inside an outer training fold too.
    inner = max(2, min(folds, smallest_class - smallest_class // folds - 1))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    weights = np.array([e.weight for e in examples], dtype=float)
    # Weights (people's labels count more than the starter corpus) only when
    # they differ: an unweighted fit stays exactly what it was.
    params = {"classifier__sample_weight": weights} if np.ptp(weights) > 0 else {}
    held_out = cross_val_predict(
        build_pipeline(folds=inner), records, labels, cv=splitter, method="predict_proba",
        params=params,
    )[:, 1]  # fmt: skip
    cutoffs = choose_cutoffs(held_out, labels)
    metrics = {"out_of_fold": evaluate_scores(held_out, labels, cutoffs)}
    model = SpamModel.fit(records, labels, folds=inner, weights=weights if params else None)
    return Trained(model, cutoffs, metrics)
