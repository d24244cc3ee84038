"""Akismet as the second opinion on uncertain comments.

Only comments the model could not decide are sent, and only for sites that
allow it (a per-site switch: some blogs promise their readers that comments
stay on their server) and have a key (the site's own, else the service's).
Before each call: the shared circuit breaker (is Akismet failing for
everyone?) and the site's monthly budget of Akismet calls. The calls of one
request run concurrently under one deadline - ``AKISMET_TIMEOUT`` plus a
little - so a batch of uncertain comments costs one timeout, not one each.
Whatever goes wrong becomes an answer the policy turns into ``review``; it is
never an exception on the scoring path.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import redis

from moderation.akismet_client import (
    ERROR,
    SKIPPED_BUDGET,
    SKIPPED_OPEN,
    TIMEOUT,
    AkismetAnswer,
    AkismetClient,
)
from moderation.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitState
from moderation.comments import month_of
from moderation.errors import REDIS_ERRORS
from moderation.keys import Keys
from moderation.metrics import Metrics
from moderation.settings import Settings
from moderation.sites import Site

log = logging.getLogger(__name__)

# Take one call from the month's budget (0 = unlimited), atomically.
_TAKE_BUDGET = """
local used = tonumber(redis.call('HGET', KEYS[1], 'akismet_calls') or '0')
local budget = tonumber(ARGV[1])
if budget > 0 and used >= budget then return 0 end
redis.call('HINCRBY', KEYS[1], 'akismet_calls', 1)
redis.call('EXPIRE', KEYS[1], 34560000)
return 1
"""

# Concurrent Akismet calls per worker process.
MAX_CONCURRENT = 8
# The deadline's slack over the HTTP timeout: thread hand-off, not network.
DEADLINE_SLACK = 0.05
_STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


def allowed_fields(fields: Mapping[str, Any], allowed: tuple[str, ...] | None) -> Mapping[str, Any]:
    """What of a comment may go to Akismet (pure): the site's allow-list, or
    every field Akismet reads; the test flag always."""
    if allowed is None:
        return fields
    return {k: v for k, v in fields.items() if k in allowed or k == "is_test"}


class AkismetFallback:
    def __init__(self, settings: Settings, client: redis.Redis, keys: Keys, metrics: Metrics):
        self.settings = settings
        self.redis = client
        self.keys = keys
        self.metrics = metrics
        self.breaker = CircuitBreaker(
            client,
            keys.akismet_circuit(),
            failures=settings.akismet_failures,
            cooldown=settings.akismet_cooldown,
            probe_lease=2 * settings.akismet_timeout + 1,
        )
        self.http = AkismetClient(settings.akismet_url, settings.akismet_timeout)
        self._take_budget = client.register_script(_TAKE_BUDGET)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0

    def credentials(self, site: Site) -> tuple[str, str] | None:
        """The key and blog URL to ask Akismet with for this site, or None (off)."""
        if not site.akismet_enabled:
            return None
        key = site.akismet_key or self.settings.akismet_api_key
        if not key:
            return None
        blog = site.akismet_blog or self.settings.akismet_blog_url or f"https://{site.domain}/"
        return key, blog

    def ask(self, site: Site, items: Sequence[Mapping[str, Any]]) -> list[AkismetAnswer]:
        """Akismet's answer for each comment, in order. Akismet is sent only
        the fields the site allows (``sites akismet --fields``)."""
        credentials = self.credentials(site)
        if credentials is None:
            raise ValueError(f"Akismet is off for {site.domain}")
        key, blog = credentials
        answers: list[AkismetAnswer | None] = [None] * len(items)
        pending: dict[Future[AkismetAnswer], int] = {}
        for i, fields in enumerate(items):
            refused = self._admit(site)
            if refused is not None:
                answers[i] = refused
                self.metrics.akismet_calls.labels(refused.answer).inc()
            else:
                sent = allowed_fields(fields, site.akismet_fields)
                pending[self._executor().submit(self._call, sent, key, blog)] = i
        if pending:
            done, _ = wait(pending, timeout=self.settings.akismet_timeout + DEADLINE_SLACK)
            for future, i in pending.items():
                if future in done:
                    answers[i] = future.result()
                else:
                    # A call still queued behind busy threads is dropped; one in
                    # flight finishes on its own (its socket times out) and
                    # reports to the circuit breaker then. This answer cannot wait.
                    future.cancel()
                    late = AkismetAnswer(
                        TIMEOUT,
                        f"no answer within {self.settings.akismet_timeout:g} s",
                        self.settings.akismet_timeout * 1000,
                    )
                    answers[i] = late
        return [a for a in answers if a is not None]

    def circuit(self) -> CircuitState:
        return self.breaker.state()

    def _admit(self, site: Site) -> AkismetAnswer | None:
        """None when this call may go ahead; else the answer that says why not."""
        try:
            state = self.breaker.allow()
            self._observe(state)
            if state == OPEN:
                return AkismetAnswer(SKIPPED_OPEN, "Akismet is failing; circuit open, not asked")
            budget = (
                self.settings.akismet_budget if site.akismet_budget is None else site.akismet_budget
            )
            usage = self.keys.usage(site.domain, month_of(time.time()))
            if not self._take_budget(keys=[usage], args=[budget]):
                return AkismetAnswer(
                    SKIPPED_BUDGET, f"this month's {budget} Akismet calls are used up"
                )
        except REDIS_ERRORS as exc:
            return AkismetAnswer(ERROR, f"circuit state unavailable: {type(exc).__name__}")
        return None

    def _call(self, fields: Mapping[str, Any], key: str, blog: str) -> AkismetAnswer:
        answer = self.http.check(fields, key, blog)
        self.metrics.akismet_calls.labels(answer.answer).inc()
        if answer.latency_ms is not None:
            self.metrics.akismet_latency.observe(answer.latency_ms / 1000)
        try:
            self._observe(self.breaker.record(answer.ok))
        except REDIS_ERRORS as exc:
            log.warning("could not record Akismet outcome in the circuit: %s", exc)
        if not answer.ok:
            log.warning("Akismet fallback: %s (%s)", answer.answer, answer.detail)
        return answer

    def _observe(self, state: str) -> None:
        self.metrics.akismet_circuit.set(_STATE_VALUE.get(state, 0))

    def _executor(self) -> ThreadPoolExecutor:
        # Per process: a pool made before gunicorn forks has no threads in the child.
        if self._pool is None or self._pool_pid != os.getpid():
            self._pool = ThreadPoolExecutor(MAX_CONCURRENT, thread_name_prefix="akismet")
            self._pool_pid = os.getpid()
        return self._pool
