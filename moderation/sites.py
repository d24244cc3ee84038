"""Sites (tenants) and their API keys.

A site key is 256 random bits, shown once when made and stored only as its
SHA-256. A fast hash is right here (unlike passwords): a key cannot be
guessed, so the hash only has to make a leaked database useless, and it
keeps authentication to one Redis round trip with no CPU cost. The lookup is
by hash; the stored hash is compared again in constant time.

A revoked site's key stops working at once; ``rotate`` issues a new key
(the old one stops working) and re-activates a revoked site.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis

from moderation.akismet_protocol import AKISMET_NAME
from moderation.errors import (
    REDIS_ERRORS,
    AuthError,
    Conflict,
    NotFound,
    RedisUnavailable,
    ValidationError,
)
from moderation.keys import Keys
from moderation.ratelimit import parse_limits
from training.cutoffs import Cutoffs

T = TypeVar("T")

KEY_PREFIX = "mk_"
WEBHOOK_GROUP = "webhooks"  # the consumer group that delivers a site's events
_DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)

# One round trip: key hash -> domain -> the site's hash (same hash slot).
_AUTHENTICATE = """
local domain = redis.call('GET', KEYS[1])
if not domain then return nil end
return {domain, redis.call('HGETALL', ARGV[1] .. domain)}
"""


@dataclass(frozen=True)
class Site:
    domain: str
    created_at: float
    revoked: bool = False
    ham_below: float | None = None
    spam_above: float | None = None
    # The Akismet fallback: on unless switched off; the site's own key, blog
    # URL and monthly budget override the service's.
    akismet_enabled: bool = True
    akismet_key: str | None = None
    akismet_blog: str | None = None
    akismet_budget: int | None = None
    # The fields Akismet may be sent (None: every field it reads).
    akismet_fields: tuple[str, ...] | None = None
    # Where final verdicts of held comments are POSTed (signed), if anywhere.
    webhook_url: str | None = None
    # The site's own API rate limit ("50/second;2000/minute"), over RATE_LIMIT_SITE.
    rate_limit: str | None = None

    def cutoffs(self, model: Cutoffs) -> Cutoffs:
        """The model's cutoffs with this site's overrides applied."""
        ham = model.ham_below if self.ham_below is None else self.ham_below
        spam = model.spam_above if self.spam_above is None else self.spam_above
        return Cutoffs(ham, spam, max(model.discard_above, spam))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def normalize_domain(raw: str) -> str:
    domain = raw.strip().lower().rstrip(".")
    if not _DOMAIN_RE.match(domain):
        raise ValidationError(f"{raw!r} is not a domain name", field="domain")
    return domain


def _site_from_hash(domain: str, data: dict[str, str]) -> Site:
    return Site(
        domain=domain,
        created_at=float(data.get("created_at", 0)),
        revoked=bool(data.get("revoked_at")),
        ham_below=float(data["ham_below"]) if data.get("ham_below") else None,
        spam_above=float(data["spam_above"]) if data.get("spam_above") else None,
        akismet_enabled=data.get("akismet", "on") != "off",
        akismet_key=data.get("akismet_key") or None,
        akismet_blog=data.get("akismet_blog") or None,
        akismet_budget=int(data["akismet_budget"]) if data.get("akismet_budget") else None,
        akismet_fields=tuple(data["akismet_fields"].split(","))
        if data.get("akismet_fields")
        else None,
        webhook_url=data.get("webhook_url") or None,
        rate_limit=data.get("rate_limit") or None,
    )


# While Redis is unreachable, a key seen within this long still authenticates
# (from this process's memory), so checks can go on into the spool.
OUTAGE_CACHE_SECONDS = 3600.0
_CACHE_SIZE = 10_000


def _forgets_sites(method: Callable[..., T]) -> Callable[..., T]:
    """A registry method that changes a site: this process's remembered keys
    are forgotten once it has (another process's, within ``fresh_seconds``)."""

    @functools.wraps(method)
    def wrapper(self: SiteRegistry, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        finally:
            self._recent.clear()

    return wrapper


class SiteRegistry:
    """Sites and their keys. Keys that authenticated are remembered per process:
    for ``fresh_seconds`` they need no Redis round trip (one of three a check
    made), and during an outage for :data:`OUTAGE_CACHE_SECONDS`. Changes made
    through this registry forget them at once; changes made in other
    processes apply within ``fresh_seconds``."""

    def __init__(self, client: redis.Redis, keys: Keys, fresh_seconds: float = 1.0) -> None:
        self.client = client
        self.keys = keys
        self.fresh_seconds = fresh_seconds
        self._authenticate = client.register_script(_AUTHENTICATE)
        self._recent: dict[str, tuple[Site, float]] = {}

    def authenticate(self, key: str) -> Site:
        """The active site this key belongs to, or AuthError."""
        if not key.startswith(KEY_PREFIX) or len(key) > 128:
            raise AuthError("unknown site key")
        key_hash = hash_key(key)
        recent = self._recent.get(key_hash)
        if recent is not None and time.monotonic() - recent[1] < self.fresh_seconds:
            return recent[0]
        try:
            found = self._authenticate(
                keys=[self.keys.site_key(key_hash)], args=[self.keys.site("")]
            )
        except REDIS_ERRORS as exc:
            if recent is not None and time.monotonic() - recent[1] < OUTAGE_CACHE_SECONDS:
                return recent[0]
            raise RedisUnavailable(str(exc)) from exc
        if not found:
            raise AuthError("unknown site key")
        domain, flat = found[0], found[1]
        data = dict(zip(flat[::2], flat[1::2], strict=True))
        if not hmac.compare_digest(data.get("key_hash", ""), key_hash):
            raise AuthError("unknown site key")
        site = _site_from_hash(domain, data)
        if site.revoked:
            raise AuthError("site key revoked")
        if len(self._recent) >= _CACHE_SIZE:
            self._recent.clear()
        self._recent[key_hash] = (site, time.monotonic())
        return site

    def get(self, domain: str) -> Site:
        domain = normalize_domain(domain)
        data = self.client.hgetall(self.keys.site(domain))
        if not data:
            raise NotFound(f"no site {domain}", field="domain")
        return _site_from_hash(domain, data)

    def list(self) -> list[Site]:
        domains = sorted(self.client.smembers(self.keys.sites()))
        pipe = self.client.pipeline(transaction=False)
        for domain in domains:
            pipe.hgetall(self.keys.site(domain))
        return [_site_from_hash(d, h) for d, h in zip(domains, pipe.execute(), strict=True) if h]

    def create(self, domain: str) -> str:
        """Make a site; returns its key (the only time it exists in clear)."""
        domain = normalize_domain(domain)
        key = _new_key()
        key_hash = hash_key(key)
        site_key = self.keys.site(domain)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.watch(site_key)
            if pipe.exists(site_key):
                raise Conflict(f"site {domain} exists (use rotate for a new key)", field="domain")
            pipe.multi()
            pipe.hset(site_key, mapping={"key_hash": key_hash, "created_at": time.time()})
            pipe.set(self.keys.site_key(key_hash), domain)
            pipe.sadd(self.keys.sites(), domain)
            pipe.execute()
        return key

    def rotate(self, domain: str) -> str:
        """Issue a new key for a site; the old key stops working. Re-activates it."""
        return self._change_key(domain, _new_key())

    def revoke(self, domain: str) -> None:
        self._change_key(domain, None)

    @_forgets_sites
    def _change_key(self, domain: str, new_key: str | None) -> str:
        domain = normalize_domain(domain)
        site_key = self.keys.site(domain)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.watch(site_key)
            old_hash = pipe.hget(site_key, "key_hash")
            if old_hash is None:
                raise NotFound(f"no site {domain}", field="domain")
            pipe.multi()
            pipe.delete(self.keys.site_key(old_hash))
            if new_key is None:
                pipe.hset(site_key, mapping={"revoked_at": time.time(), "key_hash": ""})
            else:
                new_hash = hash_key(new_key)
                pipe.hset(site_key, mapping={"key_hash": new_hash, "rotated_at": time.time()})
                pipe.hdel(site_key, "revoked_at")
                pipe.set(self.keys.site_key(new_hash), domain)
            pipe.execute()
        return new_key or ""

    @_forgets_sites
    def set_cutoffs(
        self, domain: str, ham_below: float | None, spam_above: float | None, reset: bool = False
    ) -> Site:
        """Override the model's cutoffs for one site (``reset`` clears overrides)."""
        site = self.get(domain)
        site_key = self.keys.site(site.domain)
        if reset:
            self.client.hdel(site_key, "ham_below", "spam_above")
            return self.get(domain)
        ham = site.ham_below if ham_below is None else ham_below
        spam = site.spam_above if spam_above is None else spam_above
        for name, value in (("ham_below", ham), ("spam_above", spam)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValidationError("must be between 0 and 1", field=name)
        if ham is not None and spam is not None and ham >= spam:
            raise ValidationError("must be below spam_above", field="ham_below")
        changes = {k: v for k, v in (("ham_below", ham), ("spam_above", spam)) if v is not None}
        if changes:
            self.client.hset(site_key, mapping=changes)
        return self.get(domain)

    @_forgets_sites
    def set_rate_limit(self, domain: str, limit: str) -> Site:
        """The site's own API rate limit (``""`` goes back to RATE_LIMIT_SITE)."""
        site = self.get(domain)
        if limit.strip():
            parse_limits(limit, "rate_limit")
            self.client.hset(self.keys.site(site.domain), "rate_limit", limit.strip())
        else:
            self.client.hdel(self.keys.site(site.domain), "rate_limit")
        return self.get(domain)

    @_forgets_sites
    def set_akismet(
        self,
        domain: str,
        enabled: bool | None = None,
        key: str | None = None,
        blog: str | None = None,
        budget: int | None = None,
        fields: str | None = None,
    ) -> Site:
        """The site's Akismet settings (``key=""``/``blog=""`` go back to the
        service's; ``fields=""`` to every field Akismet reads)."""
        site = self.get(domain)
        changes: dict[str, str | int] = {}
        if enabled is not None:
            changes["akismet"] = "on" if enabled else "off"
        if blog and not blog.startswith(("http://", "https://")):
            raise ValidationError("must start with http:// or https://", field="akismet_blog")
        if budget is not None and budget < 0:
            raise ValidationError("must be 0 (unlimited) or more", field="akismet_budget")
        for name, value in (("akismet_key", key), ("akismet_blog", blog)):
            if value is not None:
                changes[name] = value.strip()
        if budget is not None:
            changes["akismet_budget"] = budget
        if fields is not None:
            changes["akismet_fields"] = ",".join(akismet_field_list(fields))
        if changes:
            self.client.hset(self.keys.site(site.domain), mapping=changes)
        return self.get(domain)

    @_forgets_sites
    def set_webhook(self, domain: str, url: str, new_secret: bool = False) -> str | None:
        """Set (or with ``url=""`` remove) the site's webhook. Returns the signing
        secret when one is made - on first setting, or on request - and only then.

        The events stream's consumer group is created here, at the current end
        of the stream: the webhook receives decisions made from now on."""
        site = self.get(domain)
        site_key = self.keys.site(site.domain)
        if not url:
            self.client.hdel(site_key, "webhook_url")
            return None
        if not url.startswith(("http://", "https://")) or len(url) > 2048:
            raise ValidationError("must be an http:// or https:// URL", field="webhook")
        secret = None
        if new_secret or not self.client.hget(site_key, "webhook_secret"):
            secret = "whsec_" + secrets.token_urlsafe(32)
            self.client.hset(site_key, "webhook_secret", secret)
        self.client.hset(site_key, "webhook_url", url)
        try:
            self.client.xgroup_create(
                self.keys.events(site.domain), WEBHOOK_GROUP, id="$", mkstream=True
            )
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        return secret

    def webhook_secret(self, domain: str) -> str | None:
        secret = self.client.hget(self.keys.site(domain), "webhook_secret")
        return str(secret) if secret else None

    def bootstrap(self, domain: str = "localhost") -> str | None:
        """On the very first start (no site yet), make one; its key, or None.

        Guarded by SET NX so that of several workers starting at once exactly
        one creates it - and only ever once per deployment."""
        if self.client.scard(self.keys.sites()):
            return None
        if not self.client.set(self.keys.bootstrap(), time.time(), nx=True):
            return None
        return self.create(domain)


def akismet_field_list(raw: str) -> list[str]:
    """``content,author,user_ip`` checked against what Akismet reads; "" is all."""
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in AKISMET_NAME]
    if unknown:
        raise ValidationError(f"{', '.join(unknown)}: not a field Akismet reads (one of "
                              f"{', '.join(AKISMET_NAME)})", field="akismet_fields")  # fmt: skip
    if names and "content" not in names:
        raise ValidationError("must include content (or switch Akismet off)",
                              field="akismet_fields")  # fmt: skip
    return names


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)
