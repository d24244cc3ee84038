"""The verdict policy: a pure function from evidence to ham / spam / review.

Order of precedence:

1. hard signals (rules) decide at once: any spam signal wins over a ham one,
   because a rule that says spam (a filled honeypot) is evidence about this
   comment, while a ham rule (an administrator) is about its author;
2. no usable model: review - the service never answers ham by default;
3. the model's score against the cutoffs, in DESIGN's "slice sense":
   ``score >= spam_above`` is spam (discarded when ``>= discard_above``),
   ``score <= ham_below`` is ham, anything between goes to review.

Then the crowd - other comments like this one (:func:`with_crowd`): a
campaign cluster with a member a human called spam makes this one spam; a
cluster growing fast across sites adds log-odds to the score; a velocity
burst turns a ham into a review.

What is left uncertain (the band, or no model) may be asked of Akismet;
:func:`with_akismet` settles it: when Akismet agrees with the side the
model leans to (or there is no model to lean), its verdict stands with
``source: akismet``; when it disagrees, or gave no usable answer, the
comment goes to review, with Akismet's answer among the reasons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from training.cutoffs import Cutoffs

HAM, SPAM, REVIEW = "ham", "spam", "review"
VERDICTS = (HAM, SPAM, REVIEW)
RULES, MODEL, AKISMET = "rules", "model", "akismet"
# Akismet's own answers (``akismet_client``); anything else means "no answer".
AKISMET_SPAM, AKISMET_HAM, AKISMET_DISCARD = "spam", "ham", "discard"


@dataclass(frozen=True, slots=True)
class Signal:
    """A hard signal: a rule that fired, the verdict it demands, and why."""

    code: str
    verdict: str
    detail: str
    discard: bool = False  # blatant: the blog may drop it unseen

    def reason(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: str
    discard: bool
    source: str
    reasons: tuple[dict[str, Any], ...]
    uncertain: bool = False  # review because nothing was sure, not because a rule said so


def decide(
    score: float | None,
    cutoffs: Cutoffs | None,
    signals: Sequence[Signal] = (),
    evidence: Sequence[dict[str, Any]] = (),
) -> Decision:
    """``evidence`` is the model's reasons; they are kept in every verdict it informed."""
    rule_reasons = tuple(s.reason() for s in signals)
    for wanted in (SPAM, HAM):
        fired = [s for s in signals if s.verdict == wanted]
        if fired:
            discard = any(s.discard for s in fired)
            return Decision(wanted, discard, RULES, rule_reasons + tuple(evidence))
    if score is None or cutoffs is None:
        reason = {"code": "no_model", "detail": "no model is loaded; a human decides"}
        return Decision(REVIEW, False, RULES, (reason,), uncertain=True)
    if score >= cutoffs.spam_above:
        return Decision(SPAM, score >= cutoffs.discard_above, MODEL, tuple(evidence))
    if score <= cutoffs.ham_below:
        return Decision(HAM, False, MODEL, tuple(evidence))
    band = {
        "code": "uncertain",
        "detail": f"score {score:.3f} between cutoffs {cutoffs.ham_below} and {cutoffs.spam_above}",
    }
    return Decision(REVIEW, False, MODEL, (band, *evidence), uncertain=True)


def with_akismet(decision: Decision, score: float | None, answer: str, detail: str) -> Decision:
    """An uncertain decision settled with Akismet's ``answer`` (pure)."""
    said = {AKISMET_SPAM: SPAM, AKISMET_DISCARD: SPAM, AKISMET_HAM: HAM}.get(answer)
    evidence = tuple(r for r in decision.reasons if r["code"] not in ("uncertain", "no_model"))
    if said is None:
        reason = {"code": "akismet_unavailable", "detail": detail}
        return Decision(REVIEW, False, decision.source, (reason, *decision.reasons), True)
    leaning = None if score is None else (SPAM if score >= 0.5 else HAM)
    if leaning is not None and leaning != said:
        reason = {"code": "akismet_disagrees", "detail": f"{detail}; the model leans {leaning}"}
        return Decision(REVIEW, False, decision.source, (reason, *decision.reasons), True)
    reason = {"code": "akismet", "detail": detail}
    return Decision(said, answer == AKISMET_DISCARD, AKISMET, (reason, *evidence))


@dataclass(frozen=True)
class Crowd:
    """What other comments say about this one: its campaign cluster (counts in
    the sliding window, this comment included) and any velocity bursts."""

    cluster_size: int = 0
    sites: int = 0
    last_hour: int = 0
    confirmed_spam: int = 0
    confirmed_ham: int = 0
    age_seconds: float = 0.0
    bursts: tuple[str, ...] = ()


@dataclass(frozen=True)
class CrowdRules:
    growth: int = 5  # members in the last hour ...
    growth_sites: int = 2  # ... on at least this many sites: a growing campaign
    boost: float = 2.0  # log-odds added to a growing campaign's members


def with_crowd(
    decision: Decision,
    score: float | None,
    cutoffs: Cutoffs | None,
    crowd: Crowd,
    rules: CrowdRules,
) -> tuple[Decision, float | None]:
    """The decision (and score) after the crowd's evidence (pure)."""
    if decision.source == RULES and not decision.uncertain:
        return decision, score  # a hard rule has spoken
    if crowd.confirmed_spam and not crowd.confirmed_ham:
        reason = {"code": "campaign", "detail": campaign_detail(crowd)}
        evidence = tuple(r for r in decision.reasons if r["code"] not in ("uncertain", "no_model"))
        return Decision(SPAM, False, RULES, (reason, *evidence)), score
    growing = crowd.last_hour >= rules.growth and crowd.sites >= rules.growth_sites
    if growing and rules.boost > 0 and score is not None and cutoffs is not None:
        score = _boost(score, rules.boost)
        evidence = tuple(r for r in decision.reasons if r["code"] != "uncertain")
        decision = decide(score, cutoffs, (), evidence)
        reason = {
            "code": "campaign_growth",
            "detail": f"{campaign_detail(crowd)}; score raised to {score:.3f}",
        }
        decision = replace(decision, reasons=(reason, *decision.reasons))
    if crowd.bursts and decision.verdict == HAM:
        reason = {"code": "velocity", "detail": "; ".join(crowd.bursts)}
        decision = Decision(REVIEW, False, decision.source, (reason, *decision.reasons))
    return decision, score


def campaign_detail(crowd: Crowd) -> str:
    """'same text as 37 comments on 5 sites in 2 hours, 12 already marked spam'"""
    others = crowd.cluster_size - 1
    sites = "1 site" if crowd.sites == 1 else f"{crowd.sites} sites"
    comments = f"{others} comment{'s' * (others != 1)}"
    text = f"same text as {comments} on {sites} in {_span(crowd.age_seconds)}"
    if crowd.confirmed_spam:
        text += f", {crowd.confirmed_spam} already marked spam"
    return text


def _span(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            return f"{n} {unit}{'s' * (n != 1)}"
    return "under a minute"


def _boost(score: float, log_odds: float) -> float:
    """``score`` moved up by ``log_odds``, never down: neither the clamping
    that keeps the logit finite nor rounding may lower it (hypothesis found a
    boost that rounded 2e-16 to 0 and turned a review into ham)."""
    clamped = min(max(score, 1e-9), 1 - 1e-9)
    boosted = 1 / (1 + math.exp(-(math.log(clamped / (1 - clamped)) + log_odds)))
    return max(score, boosted)
