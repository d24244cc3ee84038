"""Velocity: how fast comments arrive from one IP, e-mail, domain or site.

Each comment is counted under its identities - IP, e-mail, e-mail domain,
author URL domain, site - in sliding windows of a minute, an hour and a day:
one sorted set per identity (check time per comment), trimmed to a day and
capped, so memory is bounded by one day of traffic. Identities are stored as
keyed hashes (HMAC-SHA256 with the deployment's secret): an IP address or an
e-mail address never reaches Redis in clear, yet the same one always counts
together.

The big free-mail providers are left out of the e-mail-domain count: a
thousand readers on gmail.com are not a campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis

from moderation import lua
from moderation.errors import redis_errors
from moderation.lua import Lua
from moderation.privacy import email_of, keyed_hash
from training.domains import registrable_domain
from training.normalize import host_of

WINDOWS = (("minute", 60), ("hour", 3600), ("day", 86400))
KINDS = ("ip", "email", "email_domain", "url_domain", "site")
MAX_PER_IDENTITY = 50_000
FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "outlook.com", "hotmail.com", "live.com",
    "msn.com", "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.de",
    "gmx.net", "web.de", "mail.ru", "yandex.ru", "qq.com", "163.com", "126.com", "naver.com",
})  # fmt: skip

# Limits per kind: most comments per minute, hour, day before it is a burst.
DEFAULT_LIMITS: dict[str, tuple[int, int, int]] = {
    "ip": (5, 30, 200),
    "email": (5, 30, 200),
    "email_domain": (30, 300, 3000),
    "url_domain": (20, 200, 2000),
    "site": (120, 2000, 20000),
}
_LABELS = {
    "ip": "this IP address",
    "email": "this e-mail address",
    "email_domain": "this e-mail domain",
    "url_domain": "this website",
    "site": "all commenters on this site",
}

# KEYS[1]: one identity's sorted set. ARGV: now, member, cap. Returns the
# minute, hour and day counts.
_COUNT = """
local key, now, member, cap = KEYS[1], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
redis.call('ZADD', key, now, member)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 86400)
redis.call('ZREMRANGEBYRANK', key, 0, -cap - 1)
redis.call('EXPIRE', key, 86400)
return {redis.call('ZCOUNT', key, now - 60, '+inf'), redis.call('ZCOUNT', key, now - 3600, '+inf'),
        redis.call('ZCARD', key)}
"""


def identities(fields: Mapping[str, Any], site: str) -> dict[str, str]:
    """The comment's identities in clear (hashed before they are stored)."""
    found = {"site": site}
    if fields.get("user_ip"):
        found["ip"] = str(fields["user_ip"])
    email = email_of(fields.get("author_email"))
    if "@" in email:
        found["email"] = email
        domain = registrable_domain(email.rsplit("@", 1)[1])
        if domain and domain not in FREE_MAIL:
            found["email_domain"] = domain
    url = str(fields.get("author_url") or "").strip()
    if url:
        host = host_of(url)
        if host:
            found["url_domain"] = registrable_domain(host)
    return found


@dataclass(frozen=True)
class Burst:
    kind: str
    window: str
    count: int

    def detail(self) -> str:
        return f"{self.count} comments from {_LABELS[self.kind]} in the last {self.window}"


def bursts(
    counts: Mapping[str, tuple[int, int, int]], limits: Mapping[str, tuple[int, int, int]]
) -> list[Burst]:
    """Which counts are over their limits (pure)."""
    found = []
    for kind, values in counts.items():
        for (window, _), count, limit in zip(WINDOWS, values, limits[kind], strict=True):
            if count > limit:
                found.append(Burst(kind, window, count))
                break
    return found


class VelocityCounter:
    def __init__(self, client: redis.Redis, prefix: str, secret: bytes) -> None:
        self.client = client
        self.prefix = prefix
        self.secret = secret
        self._count = Lua(client, _COUNT)
        # A check hashes its IP twice (counted here, stored as user_ip_hash),
        # and the same senders come back: the HMAC is computed once.
        self.hashed: Callable[[str], str] = lru_cache(maxsize=4096)(self._hashed)

    def _hashed(self, value: str) -> str:
        return keyed_hash(self.secret, value)

    def key(self, kind: str, value: str) -> str:
        """The sorted set of one identity. A hash tag of its own: on a Redis
        Cluster the identities spread over the shards (one tag for all made
        one shard count every check of every site)."""
        return f"{self.prefix}{{velocity:{kind}:{self.hashed(value)}}}"

    def forget(self, kind: str, value: str) -> None:
        """Drop the recent comments counted under one identity (privacy erase)."""
        self.client.delete(self.key(kind, value))

    def count(
        self, items: list[tuple[str, dict[str, str]]], now: float
    ) -> list[dict[str, tuple[int, int, int]]]:
        """Count each (check id, identities); per item, the counts per kind."""
        pipe = self.client.pipeline(transaction=False)
        self.queue(pipe, items, now)
        with redis_errors():
            return self.parse(items, lua.execute(pipe))

    def queue(
        self, pipe: redis.client.Pipeline, items: list[tuple[str, dict[str, str]]], now: float
    ) -> None:
        """Queue :meth:`count`'s work on a pipeline: one call per identity of each item."""
        for member, found in items:
            for kind, value in found.items():
                self._count.queue(pipe, [self.key(kind, value)], [now, member, MAX_PER_IDENTITY])

    def parse(
        self, items: list[tuple[str, dict[str, str]]], results: list[Any]
    ) -> list[dict[str, tuple[int, int, int]]]:
        answers = iter(results)
        out = []
        for _, found in items:
            counts = {}
            for kind in found:
                minute, hour, day = (int(v) for v in next(answers))
                counts[kind] = (minute, hour, day)
            out.append(counts)
        return out
