"""Hard signals: facts about a comment that decide it without the model (pure).

Each rule returns a :class:`Signal` with its verdict and a reason a human can
read. Akismet's test triggers are honoured so clients can test their wiring.
"""

from __future__ import annotations

from moderation.policy import HAM, SPAM, Signal
from moderation.schema import Comment

# Akismet's documented test triggers: this author or e-mail is always spam,
# a commenter with the administrator role is always ham.
GUARANTEED_SPAM_AUTHOR = "akismet-guaranteed-spam"
GUARANTEED_SPAM_EMAIL = "akismet-guaranteed-spam@example.com"
HAM_ROLE = "administrator"


def hard_signals(comment: Comment) -> list[Signal]:
    signals = []
    if comment.honeypot and comment.honeypot.strip():
        # Only a program fills a field no person can see: blatant, discardable.
        signals.append(
            Signal("honeypot", SPAM, "the hidden honeypot field was filled in", discard=True)
        )
    if (comment.author or "").strip().lower() == GUARANTEED_SPAM_AUTHOR:
        signals.append(Signal("test_spam", SPAM, f"author is {GUARANTEED_SPAM_AUTHOR}"))
    if (comment.author_email or "").strip().lower() == GUARANTEED_SPAM_EMAIL:
        signals.append(Signal("test_spam", SPAM, f"e-mail is {GUARANTEED_SPAM_EMAIL}"))
    if HAM_ROLE in comment.roles():
        signals.append(Signal("trusted_role", HAM, "the commenter is an administrator"))
    return signals
