"""The verdict policy: a pure function from evidence to ham / spam / review.

Order of precedence:

1. hard signals (rules) decide at once: any spam signal wins over a ham one,
   because a rule that says spam (a filled honeypot) is evidence about this
   comment, while a ham rule (an administrator) is about its author;
2. no usable model: review - the service never answers ham by default;
3. the model's score against the cutoffs, in DESIGN's "slice sense":
   ``score >= spam_above`` is spam (discarded when ``>= discard_above``),
   ``score <= ham_below`` is ham, anything between goes to review.

(Akismet, for the uncertain band, arrives with its own issue.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from training.cutoffs import Cutoffs

HAM, SPAM, REVIEW = "ham", "spam", "review"
VERDICTS = (HAM, SPAM, REVIEW)
RULES, MODEL = "rules", "model"


@dataclass(frozen=True, slots=True)
class Signal:
    """A hard signal: a rule that fired, the verdict it demands, and why."""

    code: str
    verdict: str
    detail: str

    def reason(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: str
    discard: bool
    source: str
    reasons: tuple[dict[str, Any], ...]


def decide(
    score: float | None,
    cutoffs: Cutoffs | None,
    signals: Sequence[Signal] = (),
    evidence: Sequence[dict[str, Any]] = (),
) -> Decision:
    """``evidence`` is the model's reasons; they are kept in every verdict it informed."""
    rule_reasons = tuple(s.reason() for s in signals)
    for wanted in (SPAM, HAM):
        if any(s.verdict == wanted for s in signals):
            return Decision(wanted, False, RULES, rule_reasons + tuple(evidence))
    if score is None or cutoffs is None:
        reason = {"code": "no_model", "detail": "no model is loaded; a human decides"}
        return Decision(REVIEW, False, RULES, (reason,))
    if score >= cutoffs.spam_above:
        return Decision(SPAM, score >= cutoffs.discard_above, MODEL, tuple(evidence))
    if score <= cutoffs.ham_below:
        return Decision(HAM, False, MODEL, tuple(evidence))
    band = {
        "code": "uncertain",
        "detail": f"score {score:.3f} between cutoffs {cutoffs.ham_below} and {cutoffs.spam_above}",
    }
    return Decision(REVIEW, False, MODEL, (band, *evidence))
