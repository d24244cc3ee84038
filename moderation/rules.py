"""Hard signals: facts about a comment that decide it without the model (pure).

Each rule returns a :class:`Signal` with its verdict and a reason a human can
read. Akismet's test triggers are honoured so clients can test their wiring.
"""

from __future__ import annotations

from moderation.policy import SPAM, Signal
from moderation.schema import Comment

# Akismet's documented test author: always spam.
GUARANTEED_SPAM_AUTHOR = "akismet-guaranteed-spam"


def hard_signals(comment: Comment) -> list[Signal]:
    signals = []
    if comment.honeypot and comment.honeypot.strip():
        signals.append(Signal("honeypot", SPAM, "the hidden honeypot field was filled in"))
    if (comment.author or "").strip().lower() == GUARANTEED_SPAM_AUTHOR:
        signals.append(Signal("test_spam", SPAM, f"author is {GUARANTEED_SPAM_AUTHOR}"))
    return signals
