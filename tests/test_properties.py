"""Properties that must hold for any input a spammer can write (hypothesis).

Normalisation is total and idempotent; the compiled model agrees with the scikit-learn
Pipeline on any comment, however strange; the verdict policy is monotone in
the score and lets the crowd only make a verdict stricter.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation.policy import HAM, REVIEW, SPAM, Crowd, CrowdRules, decide, with_crowd
from tests.conftest import tiny_examples
from training.cutoffs import Cutoffs
from training.features import meta_features
from training.model import SpamModel
from training.normalize import normalize

# Any code point, surrogates and controls included: the functions are total
# even where the API refuses the input.
ANY_TEXT = st.text(alphabet=st.characters(codec=None), max_size=300)
# Text with the material normalisation and the features work on.
PIECES = st.sampled_from([
    "free", "cheap pills", "http://x.shop/a", "www.bit.ly/z", "buy.example.net/p", "<a href=",
    "</b>", "&amp;", "f r e e", "c.a.s.h", "!!!!", "aaaa", "Вuy", "ѕех", "\u200b", "\ufeff",
    "１２３", "𝐟𝐫𝐞𝐞", "😀", "日本語", "Привет", "me@mail.example", " ", "\n", ".", "[url=x]",
    "&lt;b&gt;", "&amp;lt;i&amp;gt;", "＜b＞", "&#65308;s&#65310;", "f\nr\ne\ne", "c\ta\ts\th",
    "&quot;", "&#x26;", "сору", "Ьuу", "<", "&", "[b]", "[/url]",
])  # fmt: skip
TEXTY = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=25).map("".join)
RECORD = st.fixed_dictionaries(
    {"content": st.one_of(TEXTY, ANY_TEXT)},
    optional={
        "author": st.one_of(TEXTY, st.text(max_size=40)),
        "author_email": st.sampled_from(["a@b.example", "x@mail.example.co.uk", "@", "nope"]),
        "author_url": st.sampled_from(["http://seo.shop", "https://www.me.example/", "ftp:"]),
        "comment_type": st.sampled_from(["comment", "trackback", "pingback", ""]),
        "lang": st.sampled_from(["en", "ru", "ja, en", "xx", ""]),
    },
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def model() -> SpamModel:
    examples = tiny_examples()
    return SpamModel.fit([e.record for e in examples], [e.label for e in examples], folds=3)


@FAST
@given(st.one_of(TEXTY, ANY_TEXT))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once


@FAST
@given(ANY_TEXT)
def test_normalize_is_total(text: str) -> None:
    norm = normalize(text)
    assert isinstance(norm.text, str)
    assert norm.text == norm.text.strip()
    assert "  " not in norm.text
    assert all(host == host.lower() for host in norm.hosts)


@FAST
@given(RECORD)
def test_meta_features_are_finite(record: dict[str, Any]) -> None:
    for name, value in meta_features(record, normalize(record["content"])).items():
        assert value == value and abs(value) < 1e6, name  # no NaN, no overflow


@FAST
@given(st.lists(RECORD, min_size=1, max_size=8))
def test_compiled_model_equals_the_pipeline(
    model: SpamModel, records: list[dict[str, Any]]
) -> None:
    reference = model.reference_scores(records)
    assert abs(model.scores(records) - reference).max() <= 1e-9
    for record, expected in zip(records, reference, strict=True):
        score, reasons = model.compiled.explain(record)
        assert abs(score - expected) <= 1e-9
        sign = 1 if score >= 0.5 else -1
        assert len(reasons) <= 5 and all(sign * r["weight"] >= 0 for r in reasons)


CUTOFFS = (
    st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
    .map(sorted)
    .map(lambda c: Cutoffs(ham_below=c[0], spam_above=c[1], discard_above=c[2]))
)
ORDER = {HAM: 0, REVIEW: 1, SPAM: 2}


@FAST
@given(st.floats(0, 1), st.floats(0, 1), CUTOFFS)
def test_verdicts_are_monotone_in_the_score(a: float, b: float, cutoffs: Cutoffs) -> None:
    low, high = sorted((a, b))
    assert ORDER[decide(low, cutoffs).verdict] <= ORDER[decide(high, cutoffs).verdict]


@FAST
@given(
    st.floats(0, 1),
    CUTOFFS,
    st.builds(
        Crowd,
        cluster_size=st.integers(0, 100),
        sites=st.integers(0, 10),
        last_hour=st.integers(0, 100),
        confirmed_spam=st.integers(0, 3),
        confirmed_ham=st.integers(0, 3),
        age_seconds=st.floats(0, 1e6),
        bursts=st.lists(st.sampled_from(["ip: 9 in a minute"]), max_size=1).map(tuple),
    ),
)
def test_the_crowd_only_makes_a_verdict_stricter(
    score: float, cutoffs: Cutoffs, crowd: Crowd
) -> None:
    before = decide(score, cutoffs)
    after, new_score = with_crowd(before, score, cutoffs, crowd, CrowdRules())
    assert ORDER[after.verdict] >= ORDER[before.verdict]
    assert new_score is not None and new_score >= score
