"""Checked comments in Redis: stored once per site + id, with their current status.

A comment hash holds ``record`` (JSON: the fields the site sent and our
answer - score, verdict, source, model version, reasons, guid, times) and
the mutable ``status`` (``ham``, ``spam`` or ``pending`` for review),
``status_source`` (``check``, ``feedback``, later ``moderator``) and
``updated_at``. Review verdicts are also in the site's pending set, which the
review queue builds on.

Saving is one Lua call: if the site already sent this id, the first answer
is returned unchanged (idempotent; a retry never re-scores or re-queues).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from moderation import lua
from moderation.errors import NotFound, redis_errors
from moderation.keys import Keys
from moderation.lua import Lua
from moderation.policy import HAM, REVIEW, SPAM

PENDING = "pending"
LABELS = (HAM, SPAM)

_SAVE = """
local existing = redis.call('HGET', KEYS[1], 'record')
if existing then
  return {0, existing, redis.call('HGET', KEYS[1], 'status'),
          redis.call('HGET', KEYS[1], 'status_source')}
end
redis.call('HSET', KEYS[1], 'record', ARGV[1], 'status', ARGV[2],
           'status_source', 'check', 'updated_at', ARGV[3])
if ARGV[2] == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[8], ARGV[4])
  redis.call('HSET', KEYS[1], 'queued_at', ARGV[8])
end
redis.call('SET', KEYS[3], ARGV[4])
redis.call('SET', KEYS[4], ARGV[4])
redis.call('HINCRBY', KEYS[5], 'calls', 1)
redis.call('HINCRBY', KEYS[5], ARGV[5], 1)
redis.call('EXPIRE', KEYS[5], 34560000)
redis.call('HINCRBY', KEYS[6], ARGV[5], 1)
redis.call('HINCRBY', KEYS[6], 'source:' .. ARGV[6], 1)
if ARGV[7] == '1' then redis.call('HINCRBY', KEYS[6], 'akismet_calls', 1) end
redis.call('EXPIRE', KEYS[6], 34560000)
return {1, false, ARGV[2], 'check'}
"""

# Feedback: the blog's own moderator overrides our verdict. Leaves the
# pending set (a human has decided), keeps the original record, and counts a
# correction of ours (missed spam, false positive) in the month's usage.
_SET_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_source', ARGV[2], 'updated_at', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
  redis.call('EXPIRE', KEYS[3], 34560000)
end
return 1
"""


def content_digest(content: str) -> str:
    """What submit-spam/ham without a guid is matched by: the comment's text."""
    return hashlib.sha256(content.strip().encode("utf-8")).hexdigest()


def timestamp_of(iso: Any, default: float) -> float:
    """Seconds since the epoch of an ISO 8601 time; ``default`` if it is not one."""
    try:
        return datetime.fromisoformat(str(iso)).timestamp()
    except ValueError:
        return default


def day_of(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def month_of(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m")


def correction(verdict: str, label: str) -> str:
    """The usage counter a blog's label bumps: Akismet's missed spam and false
    positives (a review was held back as spam, so ham there is a false positive)."""
    if label == SPAM and verdict == HAM:
        return "missed_spam"
    if label == HAM and verdict in (SPAM, REVIEW):
        return "false_positives"
    return ""


@dataclass(frozen=True)
class Stored:
    record: dict[str, Any]
    status: str
    status_source: str
    created: bool = False  # this call stored it (not a repeat of a known id)
    # Redis was down: spooled to disk for the worker to store, and checked
    # without what Redis knows (campaigns, velocity, Akismet's breaker).
    spooled: bool = False
    extra: dict[str, str] = field(default_factory=dict)  # the hash's other fields

    def answer(self) -> dict[str, Any]:
        """The API's view of the comment (check answer plus current status)."""
        r = self.record
        body = {
            "id": r["id"],
            "verdict": r["verdict"],
            "score": r["score"],
            "discard": r["discard"],
            "source": r["source"],
            "model_version": r["model_version"],
            "reasons": r["reasons"],
            "status": self.status,
            "status_source": self.status_source,
            "checked_at": r["checked_at"],
        }
        if r["verdict"] == REVIEW:
            body["review_id"] = review_id(r["site"], r["id"])
        if r.get("akismet"):
            body["akismet"] = r["akismet"]
        if self.status_source == "moderator":
            body["decided_by"] = self.extra.get("decided_by")
            decided_at = self.extra.get("decided_at")
            if decided_at:
                body["decided_at"] = datetime.fromtimestamp(float(decided_at), UTC).isoformat(
                    timespec="milliseconds"
                )
        return body


def review_id(domain: str, comment_id: str) -> str:
    """A queue item's id: ``<domain>:<comment id>`` (a domain has no colon, so
    it splits at the first one)."""
    return f"{domain}:{comment_id}"


def status_for(verdict: str) -> str:
    return PENDING if verdict == REVIEW else verdict


class CommentStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._save = Lua(client, _SAVE)
        self._set_status = client.register_script(_SET_STATUS)

    def save_many(self, domain: str, records: Sequence[dict[str, Any]]) -> list[Stored]:
        """Store each record unless its id exists; one round trip for the lot.

        A new record is also indexed by its guid and its text (for Akismet's
        submit-spam/ham) and counted in the month's usage."""
        now = time.time()
        usage = self.keys.usage(domain, month_of(now))
        daily = self.keys.daily(domain, day_of(now))
        pipe = self.client.pipeline(transaction=False)
        for record in records:
            content = str(record["fields"].get("content", ""))
            self._save.queue(
                pipe,
                [
                    self.keys.comment(domain, record["id"]),
                    self.keys.pending(domain),
                    self.keys.guid(domain, record["guid"]),
                    self.keys.content(domain, content_digest(content)),
                    usage,
                    daily,
                ],
                [
                    json.dumps(record),
                    status_for(record["verdict"]),
                    now,
                    record["id"],
                    record["verdict"],
                    record["source"],
                    int(bool(record.get("akismet", {}).get("latency_ms") is not None)),
                    # Queued as of the check: a comment replayed from the spool
                    # after an outage keeps its place in the queue.
                    min(now, timestamp_of(record.get("checked_at"), now)),
                ],
            )
        with redis_errors():
            results = lua.execute(pipe)
        # Each result is [created?, record, status, source]: a repeat of an id
        # gets the first record back; a new one, nothing (it is ours already).
        return [
            Stored(json.loads(raw) if raw else record, status, source, created=bool(created))
            for record, (created, raw, status, source) in zip(records, results, strict=True)
        ]

    def existing(self, domain: str, ids: Sequence[str]) -> set[str]:
        """Which of these comment ids this site has sent before."""
        pipe = self.client.pipeline(transaction=False)
        for comment_id in ids:
            pipe.exists(self.keys.comment(domain, comment_id))
        with redis_errors():
            found = pipe.execute()
        return {comment_id for comment_id, hit in zip(ids, found, strict=True) if hit}

    def find(self, domain: str, guid: str = "", content: str = "") -> str | None:
        """The id of a checked comment, by its guid or else by its text."""
        with redis_errors():
            if guid:
                found = self.client.get(self.keys.guid(domain, guid))
                if found:
                    return str(found)
            if content.strip():
                found = self.client.get(self.keys.content(domain, content_digest(content)))
                return str(found) if found else None
        return None

    def daily(self, domains: Sequence[str], days: Sequence[str]) -> dict[str, dict[str, int]]:
        """Checks per day (all these sites together): by verdict, ``source:<source>``,
        and ``akismet_calls``."""
        pipe = self.client.pipeline(transaction=False)
        for day in days:
            for domain in domains:
                pipe.hgetall(self.keys.daily(domain, day))
        found = iter(pipe.execute())
        out: dict[str, dict[str, int]] = {}
        for day in days:
            totals: dict[str, int] = {}
            for _ in domains:
                for k, v in next(found).items():
                    totals[k] = totals.get(k, 0) + int(v)
            out[day] = totals
        return out

    def usage(self, domain: str, month: str) -> dict[str, int]:
        with redis_errors():
            data = self.client.hgetall(self.keys.usage(domain, month))
        return {k: int(v) for k, v in data.items()}

    def label_unchecked(self, domain: str, fields: dict[str, Any], label: str) -> None:
        """A label for a comment we never checked (submit-spam/ham of an old one)."""
        self._append_label(domain, "", fields, label, "submit", "", None)

    def weak_labels(self, domain: str, stored: Sequence[Stored]) -> None:
        """Akismet's answers on newly checked comments, as weak labels: flagged
        so training can weigh them below a human's."""
        pipe = self.client.pipeline(transaction=False)
        for item in stored:
            answer = (item.record.get("akismet") or {}).get("answer")
            if item.created and answer in ("spam", "ham", "discard"):
                label = HAM if answer == "ham" else SPAM
                pipe.xadd(
                    self.keys.labels(), self.label_entry(domain, item.record, label, "akismet")
                )
        with redis_errors():
            pipe.execute()

    def label_entry(
        self, domain: str, record: dict[str, Any], label: str, source: str
    ) -> dict[str, Any]:
        return {
            "site": domain,
            "comment_id": record["id"],
            "label": label,
            "source": source,
            "weak": int(source == "akismet"),
            "at": time.time(),
            "is_test": int(bool(record["fields"].get("is_test"))),
            "fields": json.dumps(record["fields"]),
            "model_version": record["model_version"] or "",
            "score": "" if record["score"] is None else record["score"],
        }

    def _append_label(
        self,
        domain: str,
        comment_id: str,
        fields: dict[str, Any],
        label: str,
        source: str,
        model_version: str,
        score: float | None,
    ) -> None:
        record = {"id": comment_id, "fields": fields, "model_version": model_version,
                  "score": score}  # fmt: skip
        with redis_errors():
            self.client.xadd(self.keys.labels(), self.label_entry(domain, record, label, source))

    def get(self, domain: str, comment_id: str) -> Stored:
        with redis_errors():
            data = self.client.hgetall(self.keys.comment(domain, comment_id))
        if not data:
            raise NotFound(f"no comment {comment_id} for this site", field="id")
        extra = {k: v for k, v in data.items() if k not in ("record", "status", "status_source")}
        return Stored(json.loads(data["record"]), data["status"], data["status_source"],
                      extra=extra)  # fmt: skip

    def feedback(self, domain: str, comment_id: str, label: str) -> tuple[Stored, bool]:
        """Record the blog's own verdict: a label for training, and the new status.

        Idempotent: the same label again changes nothing. The label is
        appended before the status changes, so a crash in between leaves at
        worst a label whose retry appends it again (retraining keeps the
        latest label per comment) - never a status without its label."""
        current = self.get(domain, comment_id)
        if current.status_source == "feedback" and current.status == label:
            return current, False
        record = current.record
        entry = self.label_entry(domain, record, label, "feedback")
        counter = correction(record["verdict"], label) if current.status_source == "check" else ""
        with redis_errors():
            self.client.xadd(self.keys.labels(), entry)
            self._set_status(
                keys=[
                    self.keys.comment(domain, comment_id),
                    self.keys.pending(domain),
                    self.keys.usage(domain, month_of(entry["at"])),
                ],
                args=[label, "feedback", entry["at"], comment_id, counter],
            )
        return Stored(record, label, "feedback"), True
