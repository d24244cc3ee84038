"""Rate limits: per client address and per site key on the API, per address
and per account on logins.

Counting is the ``limits`` library's (the engine behind Flask-Limiter), with
its sliding-window counter in our Redis, so every worker and node shares one
count. We call it directly rather than through Flask-Limiter's decorators
because the order matters here: an address is counted *before* its key is
looked at (guessing keys costs attempts), a site is counted after, against
its own limit, and a login counts only its failures.

A limit is never a reason to refuse service when Redis is down: the count
falls back to this process's memory (still a limit, per worker) and the
trouble is logged, not turned into a 429 or a 500.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

import redis
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisClusterStorage, RedisStorage, Storage
from limits.strategies import SlidingWindowCounterRateLimiter

from moderation.errors import REDIS_ERRORS, RateLimited, ValidationError
from moderation.redis_server import is_cluster
from moderation.settings import Settings, redis_nodes

log = logging.getLogger(__name__)


def parse_limits(text: str, field: str) -> tuple[RateLimitItem, ...]:
    """``"20/second;600/minute"`` -> limits; ``off``/empty -> none."""
    if text.strip().lower() in ("", "off", "none"):
        return ()
    try:
        return tuple(parse_many(text))
    except ValueError as exc:
        raise ValidationError(f"{text!r} is not a rate limit like 20/second;600/minute",
                              field=field) from exc  # fmt: skip


def shared_storage(settings: Settings, client: redis.Redis, key_prefix: str) -> Storage:
    """The counters in our Redis. ``limits`` wraps each key in a hash tag of
    its own, so a window's keys share a slot on a Redis Cluster."""
    if is_cluster(client):
        # limits' cluster storage makes its own cluster client (it cannot take
        # ours) from the same nodes and credentials.
        nodes = redis_nodes(str(settings.redis_url), 6379)
        hosts = ",".join(f"{host}:{port}" for host, port in nodes.hosts)
        options: dict[str, float | str | bool] = {
            "ssl": nodes.tls,
            "socket_timeout": settings.redis_timeout,
            "socket_connect_timeout": settings.redis_timeout,
        }
        options.update((k, v) for k, v in (("username", nodes.username),
                                           ("password", nodes.password)) if v)  # fmt: skip
        return RedisClusterStorage(
            f"redis+cluster://{hosts}", key_prefix=key_prefix, wrap_exceptions=False, **options
        )
    return RedisStorage("redis://", connection_pool=client.connection_pool, key_prefix=key_prefix)


class RateLimits:
    def __init__(
        self,
        storage: Storage,
        *,
        per_ip: str,
        per_site: str,
        login: str,
        enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self.per_ip = parse_limits(per_ip, "RATE_LIMIT_IP")
        self.per_site = parse_limits(per_site, "RATE_LIMIT_SITE")
        self.login = parse_limits(login, "RATE_LIMIT_LOGIN")
        self._shared = SlidingWindowCounterRateLimiter(storage)
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._warned = 0.0
        self._site_limits: dict[str, tuple[RateLimitItem, ...]] = {}

    def hit_ip(self, address: str | None) -> None:
        """Count one API request of a client address; RateLimited over the limit."""
        self._hit(self.per_ip, "ip", address or "-")

    def hit_site(self, domain: str, own: str | None) -> None:
        """Count one API request of a site, against its own limit if it has one."""
        self._hit(self._site(own), "site", domain)

    def check_login(self, address: str | None, account: str) -> None:
        """RateLimited if the address or the account has failed too often."""
        for item, who in self._logins(address, account):
            if not self._call("test", item, "login", who):
                wait = self._retry_after(item, "login", who)
                raise RateLimited(f"too many failed logins; retry in {wait} s", wait)

    def login_failed(self, address: str | None, account: str) -> None:
        for item, who in self._logins(address, account):
            self._call("hit", item, "login", who)

    def _logins(self, address: str | None, account: str) -> list[tuple[RateLimitItem, str]]:
        """The login limits to count, each for the address and for the account."""
        if not self.enabled:
            return []
        whom = (f"ip:{address or '-'}", f"user:{account.lower()}")
        return [(item, who) for who in whom for item in self.login]

    def _site(self, own: str | None) -> tuple[RateLimitItem, ...]:
        if not own:
            return self.per_site
        if own not in self._site_limits:  # parsed once per worker
            self._site_limits[own] = parse_limits(own, "rate_limit")
        return self._site_limits[own]

    def _hit(self, items: Sequence[RateLimitItem], *identifiers: str) -> None:
        if not self.enabled:
            return
        for item in items:
            if not self._call("hit", item, *identifiers):
                wait = self._retry_after(item, *identifiers)
                raise RateLimited(f"rate limit of {item} reached; retry in {wait} s", wait)

    def _call(self, method: str, item: RateLimitItem, *identifiers: str) -> bool:
        try:
            return bool(getattr(self._shared, method)(item, *identifiers))
        except REDIS_ERRORS as exc:
            now = time.monotonic()
            if now - self._warned > 60:  # once a minute, not once per request
                self._warned = now
                log.warning("rate limits counted in this process only: Redis %s", exc)
            return bool(getattr(self._local, method)(item, *identifiers))

    def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        try:
            reset = self._shared.get_window_stats(item, *identifiers).reset_time
        except REDIS_ERRORS:
            reset = self._local.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))
