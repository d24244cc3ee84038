"""A circuit breaker kept in Redis, so every worker on every node shares it.

When a dependency (Akismet) fails ``failures`` times in a row, the circuit
opens: nobody calls it for ``cooldown`` seconds, and requests that would
have waited for a timeout are answered at once. After the cool-down one
caller - exactly one, across all workers - gets to probe; its success closes
the circuit, its failure opens it for another cool-down.

Each operation is one Lua call on one hash (atomic, one round trip). Why not
a library: pybreaker's Redis storage spreads state over several keys read and
written in separate round trips, and lets every process probe at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

# KEYS[1] circuit hash; ARGV: now, probe lease (s). Returns the caller's state:
# closed (go), half_open (go: you are the probe), open (do not call).
_ALLOW = """
local opened_until = tonumber(redis.call('HGET', KEYS[1], 'opened_until') or '0')
if opened_until == 0 then return 'closed' end
local now = tonumber(ARGV[1])
if now < opened_until then return 'open' end
local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if now < probe_until then return 'open' end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[2]))
return 'half_open'
"""

# ARGV: ok (1/0), now, failures threshold, cooldown. Returns the new state.
_RECORD = """
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'failures', 0, 'opened_until', 0, 'probe_until', 0)
  return 'closed'
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local opened_until = tonumber(redis.call('HGET', KEYS[1], 'opened_until') or '0')
if failures >= tonumber(ARGV[3]) or opened_until > 0 then
  redis.call('HSET', KEYS[1], 'opened_until', tonumber(ARGV[2]) + tonumber(ARGV[4]),
             'probe_until', 0, 'failures', 0)
  redis.call('HINCRBY', KEYS[1], 'opened', 1)
  return 'open'
end
return 'closed'
"""


@dataclass(frozen=True)
class CircuitState:
    state: str
    failures: int
    opened_until: float
    times_opened: int

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "failures": self.failures,
            "open_until": self.opened_until or None,
            "times_opened": self.times_opened,
        }


class CircuitBreaker:
    def __init__(
        self, client: redis.Redis, key: str, failures: int, cooldown: float, probe_lease: float
    ) -> None:
        self.client = client
        self.key = key
        self.failures = failures
        self.cooldown = cooldown
        self.probe_lease = probe_lease
        self._allow = client.register_script(_ALLOW)
        self._record = client.register_script(_RECORD)

    def allow(self, now: float | None = None) -> str:
        """CLOSED or HALF_OPEN: call (a half-open caller is the one probe); OPEN: don't."""
        now = time.time() if now is None else now
        return str(self._allow(keys=[self.key], args=[now, self.probe_lease]))

    def record(self, ok: bool, now: float | None = None) -> str:
        now = time.time() if now is None else now
        return str(self._record(keys=[self.key], args=[int(ok), now, self.failures, self.cooldown]))

    def state(self, now: float | None = None) -> CircuitState:
        now = time.time() if now is None else now
        data = self.client.hgetall(self.key)
        opened_until = float(data.get("opened_until") or 0)
        if not opened_until:
            state = CLOSED
        elif now < opened_until:
            state = OPEN
        else:
            state = HALF_OPEN
        return CircuitState(
            state, int(data.get("failures") or 0), opened_until, int(data.get("opened") or 0)
        )
