"""Personal data over its life: retention, and a commenter's export and erasure.

What is kept where, and for how long, is the README's data inventory; the
rules themselves are pure functions in :mod:`moderation.privacy`. Here they
are applied to every store that holds a commenter's fields: the comments in
Redis, the labels stream, the label dataset on disk and the spool.

``purge`` is run by the nightly job (``python -m training retrain``) and by
``flask --app wsgi privacy purge``: comments lose their author's fields after
``RETENTION_DAYS`` and are deleted after ``COMMENT_RETENTION_DAYS``, with
their indexes and the audit events of that age; labels already on disk leave
the stream. ``export``/``erase`` find a commenter by e-mail address: in clear
where it is still kept, by its keyed hash in the label dataset.

Comments are found by one SCAN over the deployment's comment keys, in
batches: these are an operator's nightly or occasional commands, and an
index by e-mail would put a write on every check for them.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from moderation.comments import content_digest, timestamp_of
from moderation.errors import ValidationError, redis_errors
from moderation.keys import Keys
from moderation.privacy import (
    PERSONAL_FIELDS,
    email_of,
    is_about,
    label_is_about,
    minimal_label,
    without_personal,
)
from moderation.spool import Spool
from moderation.velocity import VelocityCounter
from training import labels

BATCH = 500
DAY = 86400.0


@dataclass
class Purged:
    anonymised: int = 0  # comments whose author's fields were removed
    deleted: int = 0  # comments deleted whole
    events: int = 0  # audit events trimmed
    labels_trimmed: int = 0  # stream entries already on disk
    labels_minimised: int = 0  # dataset lines reduced to what training reads

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Found:
    """Everything stored about one commenter (``export``), or what went (``erase``)."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    labels_stream: list[dict[str, Any]] = field(default_factory=list)
    label_dataset: list[dict[str, Any]] = field(default_factory=list)
    spool: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(items) for name, items in self.__dict__.items()}


class PersonalData:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        velocity: VelocityCounter,
        spool: Spool,
        labels_dir: Path,
        retention_days: float,
        comment_retention_days: float,
    ) -> None:
        self.client = client
        self.keys = keys
        self.velocity = velocity
        self.spool = spool
        self.labels_dir = labels_dir
        self.retention = retention_days * DAY
        self.comment_retention = comment_retention_days * DAY

    # -- retention

    def purge(self, now: float | None = None) -> Purged:
        now = time.time() if now is None else now
        out = Purged()
        anonymise_before, delete_before = now - self.retention, now - self.comment_retention
        with redis_errors():
            for batch in self._comments():
                pipe = self.client.pipeline(transaction=False)
                for domain, comment_id, key, record in batch:
                    checked = _checked_at(record)
                    if checked < delete_before:
                        self._queue_delete(pipe, domain, comment_id, record)
                        out.deleted += 1
                    elif checked < anonymise_before and _has_personal(record):
                        record["fields"] = without_personal(record["fields"])
                        record["personal_removed_at"] = now
                        pipe.hset(key, "record", json.dumps(record))
                        out.anonymised += 1
                pipe.execute()
            min_id = f"{int(delete_before * 1000)}-0"
            for domain in self.client.smembers(self.keys.sites()):
                out.events += int(self.client.xtrim(self.keys.events(domain), minid=min_id))
            out.labels_trimmed = labels.trim_drained(self.client, self.keys.labels())
        out.labels_minimised = labels.rewrite(self.labels_dir, self.minimal)
        return out

    def minimal(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A label reduced to what training reads (what the dataset keeps)."""
        return minimal_label(entry, self.velocity.hashed)

    # -- a commenter's requests

    def export(self, email: str) -> Found:
        """Everything stored about the commenter with this address."""
        address, hashed = self._address(email)
        found = Found()
        with redis_errors():
            for batch in self._comments():
                for domain, comment_id, key, record in batch:
                    if is_about(record.get("fields") or {}, address, hashed):
                        data = self.client.hgetall(key)
                        data["record"] = record
                        found.comments.append({"site": domain, "id": comment_id, **data})
            found.labels_stream = [{"key": k, **v} for k, v in self._stream_labels(address, hashed)]
        found.label_dataset = [
            e for e in labels.read(self.labels_dir) if label_is_about(e, address, hashed)
        ]
        found.spool = list(self._spooled(address, hashed, remove=False))
        return found

    def erase(self, email: str) -> Found:
        """Remove the commenter's comments and labels from Redis, the label
        dataset and the spool; forget the velocity counts of the address.
        Returns what went."""
        address, hashed = self._address(email)
        gone = Found()
        with redis_errors():
            for batch in self._comments():
                pipe = self.client.pipeline(transaction=False)
                for domain, comment_id, _, record in batch:
                    if is_about(record.get("fields") or {}, address, hashed):
                        self._queue_delete(pipe, domain, comment_id, record)
                        gone.comments.append({"site": domain, "id": comment_id})
                pipe.execute()
            entries = list(self._stream_labels(address, hashed))
            if entries:
                self.client.xdel(self.keys.labels(), *[k for k, _ in entries])
            gone.labels_stream = [{"key": k} for k, _ in entries]
            self.velocity.forget("email", address)

        def drop(entry: dict[str, Any]) -> dict[str, Any] | None:
            if label_is_about(entry, address, hashed):
                gone.label_dataset.append({"key": entry.get("key")})
                return None
            return entry

        labels.rewrite(self.labels_dir, drop)
        gone.spool = [
            {"site": s["site"], "id": s["record"].get("id")}
            for s in self._spooled(address, hashed, remove=True)
        ]
        return gone

    # -- the stores

    def _address(self, email: str) -> tuple[str, str]:
        address = email_of(email)
        if "@" not in address or len(address) > 320:
            raise ValidationError("must be an e-mail address", field="email")
        return address, self.velocity.hashed(address)

    def _comments(self) -> Iterator[list[tuple[str, str, str, dict[str, Any]]]]:
        """Every stored comment, in batches: (site, id, key, record)."""
        pattern = self.keys.comment("*", "*")
        batch: list[str] = []
        for key in self.client.scan_iter(match=pattern, count=BATCH):
            batch.append(str(key))
            if len(batch) >= BATCH:
                yield self._records(batch)
                batch = []
        if batch:
            yield self._records(batch)

    def _records(self, keys: list[str]) -> list[tuple[str, str, str, dict[str, Any]]]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "record")
        out = []
        for key, raw in zip(keys, pipe.execute(), strict=True):
            parsed = self.keys.parse_comment(key)
            if raw and parsed:
                out.append((*parsed, key, json.loads(raw)))
        return out

    def _queue_delete(
        self, pipe: redis.client.Pipeline, domain: str, comment_id: str, record: dict[str, Any]
    ) -> None:
        """The comment and its indexes. The text index is dropped only if it
        still names this comment (a later one with the same text keeps it)."""
        content_key = self.keys.content(
            domain, content_digest(str(record.get("fields", {}).get("content", "")))
        )
        pipe.delete(self.keys.comment(domain, comment_id))
        if record.get("guid"):
            pipe.delete(self.keys.guid(domain, str(record["guid"])))
        pipe.execute_command("EVAL", _DELETE_IF, 1, content_key, comment_id)  # routed by its key
        pipe.zrem(self.keys.pending(domain), comment_id)
        pipe.zrem(self.keys.claims(domain), comment_id)
        pipe.hdel(self.keys.claimers(domain), comment_id)

    def _stream_labels(self, address: str, hashed: str) -> Iterator[tuple[str, dict[str, Any]]]:
        last = "-"
        while True:
            entries = self.client.xrange(self.keys.labels(), min=last, count=BATCH)
            if last != "-":
                entries = entries[1:]  # the first is the last of the previous page
            if not entries:
                return
            for key, entry in entries:
                if label_is_about(entry, address, hashed):
                    yield str(key), entry
            last = str(entries[-1][0])

    def _spooled(self, address: str, hashed: str, remove: bool) -> Iterator[dict[str, Any]]:
        """Spooled checks of the commenter; with ``remove``, taken out of the
        spool files (under the lock writers and the replay take)."""
        for path in self.spool.files():
            try:
                f = open(path, "r+b")  # noqa: SIM115 - held across the lock
            except FileNotFoundError:
                continue  # replayed meanwhile
            with f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                kept, matched = [], []
                for line in f.read().decode("utf-8", "replace").splitlines(keepends=True):
                    item = _spool_item(line)
                    if item and is_about(item["record"].get("fields") or {}, address, hashed):
                        matched.append(item)
                    else:
                        kept.append(line)
                if remove and matched:
                    f.seek(0)
                    f.truncate()
                    f.write("".join(kept).encode("utf-8"))
                    f.flush()
                    os.fsync(f.fileno())
                yield from matched


# Delete a key only if it holds this value (the text index of a comment).
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _checked_at(record: dict[str, Any]) -> float:
    # Unknown age: kept, never purged by mistake.
    return timestamp_of(record.get("checked_at"), time.time())


def _has_personal(record: dict[str, Any]) -> bool:
    return any(name in (record.get("fields") or {}) for name in PERSONAL_FIELDS)


def _spool_item(line: str) -> dict[str, Any] | None:
    try:
        item = json.loads(line)
    except ValueError:
        return None
    return item if isinstance(item, dict) and isinstance(item.get("record"), dict) else None
