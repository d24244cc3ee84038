"""The compiled model against its definition, the scikit-learn Pipeline.

One featurizer, two execution paths (and a third for batches): every score
must agree with ``Pipeline.predict_proba`` to 1e-9 on thousands of comments
that exercise every feature - HTML, links, look-alike letters, spaced and
repeated letters, other scripts, author fields, repeated words.
"""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from training import datasets
from training.model import SpamModel

DATA = Path(__file__).resolve().parent.parent / "training" / "data"


def _variants(i: int, text: str) -> list[dict[str, Any]]:
    """A comment and versions of it that reach the other features."""
    word = text.split()[0] if text.split() else "x"
    return [
        {"content": text},
        {"content": f"<p>{text}</p> <a href='http://x{i % 7}.pills.shop/p'>here</a>"},
        {"content": text.upper() + "!!!!", "comment_type": "comment"},
        {"content": f"f r e e {text} c.h.e.a.p", "author": "Best Cheap Replica Watches Online"},
        {"content": f"{word.replace('a', 'а').replace('o', 'о')} {text}", "lang": "ru"},
        {
            "content": f"{text} {text} visit bit.ly/abc{i} or mail me@example.org",
            "author_email": f"a{i}@mail.example.net",
            "author_url": f"https://www.site{i % 5}.example.co.uk/me",
            "lang": "en",
        },
    ]


def _corpus() -> list[dict[str, Any]]:
    texts = [e.record["content"] for e in datasets.load([], starter=True)]
    for path in [DATA / "golden.jsonl", *sorted((DATA / "drafts").glob("*.jsonl"))]:
        texts += [json.loads(line)["content"] for line in path.read_text().splitlines() if line]
    records = [v for i, t in enumerate(texts) for v in _variants(i, t)]
    records += [{"content": ""}, {"content": "😀😀😀"}, {"content": "<b></b>"}, {"content": "a"}]
    return records


@pytest.fixture(scope="module")
def model() -> SpamModel:
    examples = datasets.load([], starter=True)
    return SpamModel.fit([e.record for e in examples], [e.label for e in examples], folds=3)


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    return _corpus()


def test_both_paths_equal_the_pipeline(model: SpamModel, corpus: list[dict[str, Any]]) -> None:
    assert len(corpus) > 5000
    reference = model.reference_scores(corpus)
    batch = model.scores(corpus)
    single = np.array([model.compiled.score(r) for r in corpus])
    assert np.abs(batch - reference).max() <= 1e-9
    assert np.abs(single - reference).max() <= 1e-9
    # Not a vacuous agreement: the corpus spans the whole range of scores.
    assert reference.min() < 0.01 and reference.max() > 0.99


def test_batch_path_keeps_order_with_empty_and_repeated_comments(model: SpamModel) -> None:
    records = [{"content": ""}, {"content": "buy cheap pills http://x.shop"}, {"content": ""}]
    records += [records[1]]
    scores = model.scores(records)
    assert np.allclose(scores, model.reference_scores(records), atol=1e-9, rtol=0)
    assert scores[0] == scores[2] and scores[1] == scores[3]


def _reference_contributions(model: SpamModel, record: dict[str, Any]) -> dict[str, float]:
    """w * (x - mean) of each feature present, from the Pipeline's own matrix."""
    featurizer = model.pipeline.named_steps["features"]
    row = sp.csr_matrix(featurizer.transform([record]))
    names = featurizer.get_feature_names_out()
    coef = model.pipeline.named_steps["classifier"].calibrated_classifiers_[0].estimator.coef_[0]
    return {
        str(names[j]): float(coef[j] * (x - model._means[j]))
        for j, x in zip(row.indices, row.data, strict=True)
    }


def test_reasons_are_the_strongest_contributions(
    model: SpamModel, corpus: list[dict[str, Any]]
) -> None:
    """Each word and metadata reason carries its feature's exact contribution,
    the character reason the n-grams' net one, and no feature pushing harder
    the same way was left out."""
    for record in corpus[::17]:
        score, reasons = model.compiled.explain(record, top=5)
        sign = 1.0 if score >= 0.5 else -1.0
        reference = _reference_contributions(model, record)
        chars = sum(v for name, v in reference.items() if name.startswith("c:"))
        items = {n: v for n, v in reference.items() if not n.startswith("c:")}
        items["chars"] = chars
        toward = sorted((sign * v for v in items.values() if sign * v > 0), reverse=True)
        assert [sign * r["weight"] for r in reasons] == pytest.approx(
            [round(v, 3) for v in toward[:5]], abs=1.5e-3
        )
        tokens = {f"w:{r['detail']}": r["weight"] for r in reasons if r["code"] == "token"}
        for name, weight in tokens.items():
            assert weight == pytest.approx(reference[name], abs=1e-3)
        for r in reasons:
            if r["code"] == "chars":
                assert r["weight"] == pytest.approx(chars, abs=1e-3)


def test_pickled_model_is_compiled_again(model: SpamModel, corpus: list[dict[str, Any]]) -> None:
    again = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own object, the artifact's path
    assert "compiled" not in model.__getstate__()
    sample = corpus[:200]
    assert np.array_equal(again.scores(sample), model.scores(sample))


def test_refuses_a_featurizer_it_would_compute_differently(model: SpamModel) -> None:
    changed = copy.deepcopy(model)
    changed.pipeline.named_steps["features"].words_.set_params(sublinear_tf=False)
    with pytest.raises(ValueError, match="sublinear_tf"):
        changed._compile()
