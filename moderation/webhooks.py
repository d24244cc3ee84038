"""Webhooks: each final verdict of a held comment, POSTed to the site, signed.

The source is the site's audit log (``{site:<d>}:events``), which a decision
or an undo appends to in the same atomic step that changes the comment - so
no decision can be made without its event. A Redis Streams consumer group
(``webhooks``) hands each new event to one worker; a delivery that fails is
acknowledged in the group and moved to the site's retry set with its next
attempt time (exponential backoff: ``WEBHOOK_BACKOFF_SECONDS`` doubling, at
most an hour apart), until it is delivered or ``WEBHOOK_RETRY_SECONDS``
(default 25 hours) have passed. Delivery is at least once: receivers dedupe
by the ``event`` field.

Order per comment: while an event of a comment waits for a retry, later
events of the same comment wait behind it (the site's ``webhook_block``
hash names the event in the way), so a blog never sees "ham" after the
"spam" that undid it.

Signature: ``X-Moderation-Signature: t=<unix time>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 with the site's webhook secret over ``"<t>." + body``; receivers
check it and refuse a ``t`` older than a few minutes (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
import requests

from moderation import lua
from moderation.keys import Keys, stream_order
from moderation.lua import Lua
from moderation.metrics import Metrics
from moderation.redis_server import is_cluster
from moderation.settings import Settings
from moderation.sites import WEBHOOK_GROUP, Site, SiteRegistry

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Moderation-Signature"
MAX_BACKOFF = 3600.0
# A crashed worker's unacknowledged events are taken over after this long.
STALE_MS = 60_000

# Take the due retries of a site (score <= now), leasing them so that two
# workers never retry the same event at once. KEYS: retry set. ARGV: now, lease.
_TAKE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
local until_ = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], until_, id) end
return due
"""

# May this event of this comment go now? Yes when no other event of the
# comment is in the way (then this one holds the place until delivered).
# KEYS: block hash. ARGV: comment id, event id.
_ACQUIRE = """
local holder = redis.call('HGET', KEYS[1], ARGV[1])
if holder and holder ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, body: bytes, header: str, now: float, tolerance: float = 300) -> bool:
    """The receiver's check (also what the README shows): signature and freshness."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    fresh = abs(now - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


def payload(
    domain: str, event_id: str, fields: dict[str, str], guid: str | None = None
) -> dict[str, Any]:
    """The JSON a site receives for one event of its audit log; ``guid`` is the
    check's (``X-akismet-guid``), how an Akismet client finds its comment."""
    at = datetime.fromtimestamp(float(fields.get("at") or 0), UTC)
    undo = fields.get("type") == "undo"
    return {
        "event": f"{domain}:{event_id}",
        "type": fields.get("type", "decision"),
        "site": domain,
        "id": fields.get("id"),
        "guid": guid,
        # After an undo the comment is back where it was (usually: held).
        "verdict": _restored_verdict(fields) if undo else fields.get("label"),
        "decided_by": fields.get("moderator"),
        "decided_at": at.isoformat(timespec="milliseconds"),
    }


def _restored_verdict(fields: dict[str, str]) -> str:
    restored = fields.get("restored") or "pending"
    return "review" if restored == "pending" else restored


@dataclass
class Delivery:
    ok: bool
    detail: str


class WebhookSender:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        keys: Keys,
        sites: SiteRegistry,
        metrics: Metrics,
        consumer: str,
    ) -> None:
        self.settings = settings
        self.client = client
        self.keys = keys
        self.sites = sites
        self.metrics = metrics
        self.consumer = consumer
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "comment-moderation-webhooks/1"
        self._take_due = client.register_script(_TAKE_DUE)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = Lua(client, _RELEASE)

    def hooked_sites(self) -> list[Site]:
        return [s for s in self.sites.list() if s.webhook_url and not s.revoked]

    def deliver_new(self, block_ms: int = 0) -> int:
        """Read new events of every site with a webhook (waiting up to
        ``block_ms`` for one) and deliver them; returns how many were handled."""
        sites = {self.keys.events(s.domain): s for s in self.hooked_sites()}
        if not sites:
            return 0
        for stream in sites:
            self._ensure_group(stream)
        handled = 0
        # Events a crashed worker read but never finished.
        for stream, site in sites.items():
            # [next id, entries] on Redis 6.2; Redis 7 adds the deleted ids.
            stale = self.client.xautoclaim(
                stream, WEBHOOK_GROUP, self.consumer, min_idle_time=STALE_MS, count=100
            )[1]
            for event_id, fields in stale:
                if fields:
                    self.handle(site, event_id, fields)
                    handled += 1
        for stream, entries in self._read_new(list(sites), block_ms):
            for event_id, fields in entries:
                self.handle(sites[stream], event_id, fields)
                handled += 1
        return handled

    def _read_new(self, streams: list[str], block_ms: int) -> list[Any]:
        """New events of ``streams`` for this consumer, waiting up to block_ms."""
        if not is_cluster(self.client) or len(streams) == 1:
            read = self.client.xreadgroup(
                WEBHOOK_GROUP, self.consumer, dict.fromkeys(streams, ">"), count=100,
                block=block_ms or None,
            )  # fmt: skip
            return list(read or [])
        # On a cluster each site's stream has a slot of its own and one read
        # may not span slots: read each without blocking (one pipeline, one
        # round trip per node) and wait out block_ms when all were empty.
        pipe = self.client.pipeline(transaction=False)
        for stream in streams:
            pipe.xreadgroup(WEBHOOK_GROUP, self.consumer, {stream: ">"}, count=100)
        read = [entry for result in pipe.execute() for entry in result or []]
        if not read and block_ms:
            time.sleep(block_ms / 1000)
        return read

    def deliver_due(self) -> int:
        """Retry the events whose next attempt has come, in event order."""
        handled = 0
        lease = self.settings.webhook_timeout * 2 + 5
        for site in self.hooked_sites():
            retry = self.keys.webhook_retry(site.domain)
            due = sorted(self._take_due(keys=[retry], args=[time.time(), lease]), key=stream_order)
            stream = self.keys.events(site.domain)
            for event_id in due:
                found = self.client.xrange(stream, event_id, event_id)
                if not found:
                    self.client.zrem(retry, event_id)  # trimmed away: nothing to send
                    continue
                self.handle(site, event_id, found[0][1], retrying=True)
                handled += 1
        return handled

    def handle(
        self, site: Site, event_id: str, fields: dict[str, str], retrying: bool = False
    ) -> None:
        domain = site.domain
        block = self.keys.webhook_block(domain)
        comment_id = fields.get("id", "")
        if self._acquire(keys=[block], args=[comment_id, event_id]):
            delivery = self.post(site, event_id, fields)
        else:
            delivery = Delivery(False, "waiting behind an earlier event of this comment")
        pipe = self.client.pipeline(transaction=False)
        if delivery.ok:
            self._release.queue(pipe, [block], [comment_id, event_id])
            pipe.zrem(self.keys.webhook_retry(domain), event_id)
            pipe.hdel(self.keys.webhook_tries(domain), event_id)
            self.metrics.webhooks.labels("delivered").inc()
        else:
            tries = int(self.client.hincrby(self.keys.webhook_tries(domain), event_id, 1))
            age = time.time() - stream_order(event_id)[0] / 1000
            if age > self.settings.webhook_retry_seconds:
                log.error("webhook for %s:%s given up after %d attempts: %s",
                          domain, event_id, tries, delivery.detail)  # fmt: skip
                self._release.queue(pipe, [block], [comment_id, event_id])
                pipe.zrem(self.keys.webhook_retry(domain), event_id)
                pipe.hdel(self.keys.webhook_tries(domain), event_id)
                self.metrics.webhooks.labels("given_up").inc()
            else:
                delay = min(self.settings.webhook_backoff_seconds * 2 ** (tries - 1), MAX_BACKOFF)
                pipe.zadd(self.keys.webhook_retry(domain), {event_id: time.time() + delay})
                self.metrics.webhooks.labels("failed").inc()
                log.warning("webhook for %s:%s failed (attempt %d, next in %.0f s): %s",
                            domain, event_id, tries, delay, delivery.detail)  # fmt: skip
        if not retrying:
            pipe.xack(self.keys.events(domain), WEBHOOK_GROUP, event_id)
        lua.execute(pipe)

    def post(self, site: Site, event_id: str, fields: dict[str, str]) -> Delivery:
        secret = self.sites.webhook_secret(site.domain)
        if not site.webhook_url or not secret:
            return Delivery(False, "no webhook configured")
        body = json.dumps(payload(site.domain, event_id, fields, self._guid(site, fields))).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body, int(time.time())),
            "X-Moderation-Event": f"{site.domain}:{event_id}",
        }
        try:
            response = self.http.post(
                site.webhook_url, data=body, headers=headers, timeout=self.settings.webhook_timeout
            )
        except requests.RequestException as exc:
            return Delivery(False, f"{type(exc).__name__}")
        if 200 <= response.status_code < 300:
            return Delivery(True, str(response.status_code))
        return Delivery(False, f"HTTP {response.status_code}")

    def _guid(self, site: Site, fields: dict[str, str]) -> str | None:
        """The guid of the event's comment (gone once the comment is erased)."""
        raw = self.client.hget(self.keys.comment(site.domain, fields.get("id", "")), "record")
        return json.loads(raw).get("guid") if raw else None

    def pending(self) -> int:
        """Events waiting for a retry, over all sites."""
        pipe = self.client.pipeline(transaction=False)
        for site in self.hooked_sites():
            pipe.zcard(self.keys.webhook_retry(site.domain))
        return int(sum(pipe.execute()))

    def _ensure_group(self, stream: str) -> None:
        try:
            self.client.xgroup_create(stream, WEBHOOK_GROUP, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
