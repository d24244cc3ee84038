"""The shared circuit breaker, on a real Redis, with two workers' views of it."""

from __future__ import annotations

from moderation.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from moderation.services import Services


def breakers(svc: Services) -> tuple[CircuitBreaker, CircuitBreaker]:
    """Two breakers on one key: two gunicorn workers sharing the state."""
    key = svc.keys.akismet_circuit()
    return (
        CircuitBreaker(svc.redis, key, failures=3, cooldown=10, probe_lease=2),
        CircuitBreaker(svc.redis, key, failures=3, cooldown=10, probe_lease=2),
    )


def test_opens_after_consecutive_failures_for_everyone(svc: Services) -> None:
    a, b = breakers(svc)
    assert a.allow(now=100) == CLOSED
    a.record(False, now=100)
    b.record(False, now=101)
    a.record(True, now=101)  # a success resets the count
    for t in (102, 103):
        b.record(False, now=t)
    assert a.allow(now=103) == CLOSED
    assert b.record(False, now=104) == OPEN
    assert a.allow(now=105) == OPEN and b.allow(now=113.9) == OPEN
    state = a.state(now=105)
    assert (state.state, state.opened_until, state.times_opened) == (OPEN, 114, 1)


def test_after_the_cooldown_exactly_one_caller_probes(svc: Services) -> None:
    a, b = breakers(svc)
    for t in range(3):
        a.record(False, now=t)
    assert a.allow(now=11.9) == OPEN  # opened at t=2 for 10 s
    assert a.allow(now=12) == HALF_OPEN  # the probe
    assert b.allow(now=12.5) == OPEN  # everyone else waits for it
    assert a.state(now=12.5).state == HALF_OPEN
    assert b.record(True, now=14) == CLOSED  # the probe's success closes it
    assert a.allow(now=14) == CLOSED and b.allow(now=14) == CLOSED


def test_a_failed_probe_reopens_at_once(svc: Services) -> None:
    a, b = breakers(svc)
    for t in range(3):
        a.record(False, now=t)
    assert a.allow(now=20) == HALF_OPEN
    assert a.record(False, now=20) == OPEN  # one failure is enough in half-open
    assert b.allow(now=29.9) == OPEN
    assert b.allow(now=30) == HALF_OPEN
    assert a.state(now=30).times_opened == 2


def test_a_probe_that_never_reports_lets_another_probe(svc: Services) -> None:
    a, b = breakers(svc)
    for t in range(3):
        a.record(False, now=t)
    assert a.allow(now=20) == HALF_OPEN  # ... and that worker died
    assert b.allow(now=21.9) == OPEN
    assert b.allow(now=22) == HALF_OPEN  # its probe lease (2 s) ran out
