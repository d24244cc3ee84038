"""The verdict policy, table-driven at its boundaries (pure, no I/O)."""

from __future__ import annotations

import pytest

from moderation.policy import HAM, REVIEW, SPAM, Signal, decide, with_akismet
from training.cutoffs import Cutoffs

CUT = Cutoffs(ham_below=0.2, spam_above=0.8, discard_above=0.97)
EVIDENCE = ({"code": "token", "detail": "x", "weight": 1.0},)


@pytest.mark.parametrize(
    ("score", "verdict", "discard"),
    [
        (0.0, HAM, False),
        (0.2, HAM, False),  # ham at the cutoff itself
        (0.200001, REVIEW, False),
        (0.5, REVIEW, False),
        (0.799999, REVIEW, False),
        (0.8, SPAM, False),  # spam at the cutoff itself
        (0.969999, SPAM, False),
        (0.97, SPAM, True),
        (1.0, SPAM, True),
    ],
)
def test_score_bands(score: float, verdict: str, discard: bool) -> None:
    decision = decide(score, CUT, (), EVIDENCE)
    assert (decision.verdict, decision.discard, decision.source) == (verdict, discard, "model")
    assert decision.reasons, "never without reasons"


def test_review_says_why() -> None:
    decision = decide(0.5, CUT, (), EVIDENCE)
    assert decision.reasons[0]["code"] == "uncertain"
    assert decision.reasons[1:] == EVIDENCE


@pytest.mark.parametrize("score", [0.0, 0.5, 1.0, None])
def test_spam_signal_wins_over_everything(score: float | None) -> None:
    signals = [Signal("admin", HAM, "administrator"), Signal("honeypot", SPAM, "filled")]
    decision = decide(score, CUT, signals, EVIDENCE)
    assert (decision.verdict, decision.source, decision.discard) == (SPAM, "rules", False)
    assert [r["code"] for r in decision.reasons[:2]] == ["admin", "honeypot"]


def test_ham_signal_decides_ham() -> None:
    decision = decide(0.99, CUT, [Signal("admin", HAM, "administrator")])
    assert (decision.verdict, decision.source) == (HAM, "rules")


@pytest.mark.parametrize("cutoffs", [None, CUT])
def test_no_model_is_review_never_ham(cutoffs: Cutoffs | None) -> None:
    decision = decide(None, cutoffs, ())
    assert (decision.verdict, decision.source) == (REVIEW, "rules")
    assert decision.reasons[0]["code"] == "no_model"


@pytest.mark.parametrize(
    ("score", "answer", "verdict", "discard", "source", "first_code"),
    [
        (0.7, "spam", SPAM, False, "akismet", "akismet"),  # agrees with the leaning
        (0.7, "discard", SPAM, True, "akismet", "akismet"),
        (0.3, "ham", HAM, False, "akismet", "akismet"),
        (0.5, "spam", SPAM, False, "akismet", "akismet"),  # 0.5 leans spam
        (0.3, "spam", REVIEW, False, "model", "akismet_disagrees"),
        (0.7, "ham", REVIEW, False, "model", "akismet_disagrees"),
        (None, "ham", HAM, False, "akismet", "akismet"),  # no model: Akismet decides
        (None, "spam", SPAM, False, "akismet", "akismet"),
        (0.7, "timeout", REVIEW, False, "model", "akismet_unavailable"),
        (0.3, "invalid", REVIEW, False, "model", "akismet_unavailable"),
        (0.3, "circuit_open", REVIEW, False, "model", "akismet_unavailable"),
        (None, "error", REVIEW, False, "rules", "akismet_unavailable"),
    ],
)
def test_akismet_settles_the_uncertain(
    score: float | None, answer: str, verdict: str, discard: bool, source: str, first_code: str
) -> None:
    uncertain = decide(score, CUT if score is not None else None, (), EVIDENCE)
    assert uncertain.uncertain and uncertain.verdict == REVIEW
    settled = with_akismet(uncertain, score, answer, "what Akismet said")
    assert (settled.verdict, settled.discard, settled.source) == (verdict, discard, source)
    assert settled.reasons[0]["code"] == first_code
    if verdict != REVIEW:
        assert "uncertain" not in [r["code"] for r in settled.reasons]
        assert not settled.uncertain


def test_decided_comments_are_not_uncertain() -> None:
    assert not decide(0.9, CUT, (), EVIDENCE).uncertain
    assert not decide(0.1, CUT, (), EVIDENCE).uncertain
    assert not decide(0.5, CUT, (Signal("honeypot", SPAM, "filled"),), EVIDENCE).uncertain
