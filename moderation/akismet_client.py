"""Asking Akismet about one comment: a small client on ``requests``.

One ``requests.Session`` per process (connection pooling: a warm TLS
connection saves a round trip on every call), one attempt per comment - no
retries, since a retry storm against a struggling service is how an outage
spreads - and every failure mode turned into an :class:`AkismetAnswer`
instead of an exception, so the caller's policy decides what it means.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from moderation.akismet_protocol import HAM_TEXT, INVALID_TEXT, SPAM_TEXT, form_from_fields

# Answers: what Akismet said, or why it said nothing usable.
SPAM, HAM, DISCARD = "spam", "ham", "discard"
INVALID, ERROR, TIMEOUT, GARBAGE = "invalid", "error", "timeout", "garbage"
SKIPPED_OPEN, SKIPPED_BUDGET = "circuit_open", "budget_exhausted"
VERDICT_ANSWERS = (SPAM, HAM, DISCARD)
USER_AGENT = "comment-moderation/1 | akismet-fallback"


@dataclass(frozen=True)
class AkismetAnswer:
    answer: str
    detail: str
    latency_ms: float | None = None

    @property
    def ok(self) -> bool:
        """Akismet answered the question (what the circuit breaker counts)."""
        return self.answer in VERDICT_ANSWERS

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"answer": self.answer, "detail": self.detail}
        if self.latency_ms is not None:
            record["latency_ms"] = round(self.latency_ms, 1)
        return record


class AkismetClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.url = base_url.rstrip("/") + "/1.1/comment-check"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def check(self, fields: Mapping[str, Any], key: str, blog: str) -> AkismetAnswer:
        form = form_from_fields(fields, key, blog)
        started = time.perf_counter()
        try:
            response = self.session.post(self.url, data=form, timeout=(self.timeout, self.timeout))
        except requests.Timeout:
            return AkismetAnswer(TIMEOUT, f"no answer within {self.timeout:g} s", _ms(started))
        except requests.RequestException as exc:
            return AkismetAnswer(ERROR, f"cannot reach Akismet: {type(exc).__name__}", _ms(started))
        return classify(response.status_code, response.text, response.headers, _ms(started))


def classify(
    status: int, text: str, headers: Mapping[str, str], latency_ms: float
) -> AkismetAnswer:
    """An HTTP answer from Akismet as one of our answers (pure)."""
    body = text.strip()
    help_text = headers.get("X-akismet-debug-help", "")
    if status != 200:
        return AkismetAnswer(ERROR, f"Akismet answered HTTP {status}", latency_ms)
    if body == SPAM_TEXT:
        if headers.get("X-akismet-pro-tip", "").strip().lower() == "discard":
            return AkismetAnswer(DISCARD, "Akismet says blatant spam", latency_ms)
        return AkismetAnswer(SPAM, "Akismet says spam", latency_ms)
    if body == HAM_TEXT:
        return AkismetAnswer(HAM, "Akismet says ham", latency_ms)
    if body == INVALID_TEXT:
        why = f": {help_text}" if help_text else ""
        return AkismetAnswer(INVALID, f"Akismet refused the key or blog{why}", latency_ms)
    shown = body[:60].encode("unicode_escape").decode("ascii")
    return AkismetAnswer(GARBAGE, f"unexpected Akismet answer {shown!r}", latency_ms)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
