"""Moderator accounts and their short-lived API tokens.

Passwords are hashed with Werkzeug's scrypt (salted, deliberately slow:
about 70 ms per check here), unlike site keys: a password is chosen by a
person and can be guessed, so each guess must cost. A login returns a token
of 256 random bits, stored as its SHA-256 with an expiry (``MODERATOR_TOKEN_SECONDS``);
disabling an account deletes its tokens and refuses it at once.

A moderator sees the sites listed on the account; an admin sees every site.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from werkzeug.security import check_password_hash, generate_password_hash

from moderation.errors import (
    REDIS_ERRORS,
    AuthError,
    Conflict,
    NotFound,
    RedisUnavailable,
    ValidationError,
    redis_errors,
)
from moderation.keys import Keys
from moderation.sites import normalize_domain

TOKEN_PREFIX = "mt_"  # noqa: S105 (a prefix, not a secret)
MIN_PASSWORD = 10
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# A hash to check against when the name is unknown, so that a wrong name and a
# wrong password take the same time.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


@dataclass(frozen=True)
class Moderator:
    name: str
    admin: bool
    sites: frozenset[str]
    created_at: float
    disabled: bool = False

    def may_see(self, domain: str) -> bool:
        return self.admin or domain in self.sites


def normalize_name(raw: str) -> str:
    name = raw.strip().lower()
    if not _NAME_RE.match(name):
        raise ValidationError("must be 1-64 of a-z 0-9 . _ - (starting with a letter or digit)",
                              field="username")  # fmt: skip
    return name


def _from_hash(name: str, data: dict[str, str]) -> Moderator:
    sites = frozenset(s for s in data.get("sites", "").split(",") if s)
    return Moderator(
        name=name,
        admin=data.get("admin") == "1",
        sites=sites,
        created_at=float(data.get("created_at", 0)),
        disabled=bool(data.get("disabled_at")),
    )


class ModeratorRegistry:
    def __init__(self, client: redis.Redis, keys: Keys, token_seconds: int) -> None:
        self.client = client
        self.keys = keys
        self.token_seconds = token_seconds

    def create(
        self, name: str, password: str, admin: bool = False, sites: Sequence[str] = ()
    ) -> Moderator:
        name = normalize_name(name)
        if len(password) < MIN_PASSWORD:
            raise ValidationError(f"must be at least {MIN_PASSWORD} characters", field="password")
        domains = sorted({normalize_domain(s) for s in sites})
        key = self.keys.moderator(name)
        fields = {
            "password": generate_password_hash(password),
            "admin": "1" if admin else "0",
            "sites": ",".join(domains),
            "created_at": time.time(),
        }
        with self.client.pipeline(transaction=True) as pipe:
            pipe.watch(key)
            if pipe.exists(key):
                raise Conflict(f"moderator {name} exists", field="username")
            pipe.multi()
            pipe.hset(key, mapping=fields)
            pipe.sadd(self.keys.moderators(), name)
            pipe.execute()
        return self.get(name)

    def get(self, name: str) -> Moderator:
        name = normalize_name(name)
        data = self.client.hgetall(self.keys.moderator(name))
        if not data:
            raise NotFound(f"no moderator {name}", field="username")
        return _from_hash(name, data)

    def list(self) -> list[Moderator]:
        names = sorted(self.client.smembers(self.keys.moderators()))
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self.keys.moderator(name))
        return [_from_hash(n, d) for n, d in zip(names, pipe.execute(), strict=True) if d]

    def set_access(self, name: str, admin: bool, sites: Sequence[str]) -> Moderator:
        moderator = self.get(name)
        domains = sorted({normalize_domain(s) for s in sites})
        access = {"admin": "1" if admin else "0", "sites": ",".join(domains)}
        self.client.hset(self.keys.moderator(moderator.name), mapping=access)
        return self.get(name)

    def enable(self, name: str) -> None:
        moderator = self.get(name)
        self.client.hdel(self.keys.moderator(moderator.name), "disabled_at")

    def disable(self, name: str) -> None:
        moderator = self.get(name)
        self.client.hset(self.keys.moderator(moderator.name), "disabled_at", time.time())
        for token_key in self.client.smembers(self.keys.moderator_tokens(moderator.name)):
            self.client.delete(token_key)
        self.client.delete(self.keys.moderator_tokens(moderator.name))

    def login(self, name: str, password: str) -> tuple[str, Moderator]:
        """A new token for a correct name and password; AuthError otherwise."""
        try:
            data = self.client.hgetall(self.keys.moderator(normalize_name(name)))
        except ValidationError:
            data = {}
        except REDIS_ERRORS as exc:
            raise RedisUnavailable(str(exc)) from exc
        stored = data.get("password") or _DUMMY_HASH
        if not check_password_hash(stored, password) or not data:
            raise AuthError("wrong username or password")
        moderator = _from_hash(normalize_name(name), data)
        if moderator.disabled:
            raise AuthError("this account is disabled")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_key = self.keys.moderator_token(_digest(token))
        tokens = self.keys.moderator_tokens(moderator.name)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(token_key, moderator.name, ex=self.token_seconds)
        pipe.sadd(tokens, token_key)
        pipe.expire(tokens, self.token_seconds)
        pipe.execute()
        return token, moderator

    def authenticate(self, token: str) -> Moderator:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise AuthError("unknown or expired token")
        with redis_errors():
            name = self.client.get(self.keys.moderator_token(_digest(token)))
            data = self.client.hgetall(self.keys.moderator(name)) if name else {}
        if not name or not data:
            raise AuthError("unknown or expired token")
        moderator = _from_hash(str(name), data)
        if moderator.disabled:
            raise AuthError("this account is disabled")
        return moderator

    def logout(self, token: str) -> None:
        self.client.delete(self.keys.moderator_token(_digest(token)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
