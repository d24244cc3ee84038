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

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from moderation.errors import NotFound, RedisUnavailable
from moderation.keys import Keys
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
if ARGV[2] == 'pending' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
return {1, ARGV[1], ARGV[2], 'check'}
"""

# Feedback: the blog's own moderator overrides our verdict. Leaves the
# pending set (a human has decided), keeps the original record.
_SET_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_source', ARGV[2], 'updated_at', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[4])
return 1
"""


@dataclass(frozen=True)
class Stored:
    record: dict[str, Any]
    status: str
    status_source: str

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
            body["review_id"] = r["guid"]
        return body


def status_for(verdict: str) -> str:
    return PENDING if verdict == REVIEW else verdict


class CommentStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._save = client.register_script(_SAVE)
        self._set_status = client.register_script(_SET_STATUS)

    def save_many(self, domain: str, records: Sequence[dict[str, Any]]) -> list[Stored]:
        """Store each record unless its id exists; one round trip for the lot."""
        now = time.time()
        pipe = self.client.pipeline(transaction=False)
        for record in records:
            self._save(
                keys=[self.keys.comment(domain, record["id"]), self.keys.pending(domain)],
                args=[json.dumps(record), status_for(record["verdict"]), now, record["id"]],
                client=pipe,
            )
        try:
            results = pipe.execute()
        except redis.RedisError as exc:
            raise RedisUnavailable(str(exc)) from exc
        # Each result is [created?, record, status, source]; a repeat of an id
        # gets the first record back, so "created" needs no separate handling.
        return [Stored(json.loads(raw), status, source) for _, raw, status, source in results]

    def get(self, domain: str, comment_id: str) -> Stored:
        try:
            data = self.client.hgetall(self.keys.comment(domain, comment_id))
        except redis.RedisError as exc:
            raise RedisUnavailable(str(exc)) from exc
        if not data:
            raise NotFound(f"no comment {comment_id} for this site", field="id")
        return Stored(json.loads(data["record"]), data["status"], data["status_source"])

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
        entry = {
            "site": domain,
            "comment_id": comment_id,
            "label": label,
            "source": "feedback",
            "at": time.time(),
            "is_test": int(bool(record["fields"].get("is_test"))),
            "fields": json.dumps(record["fields"]),
            "model_version": record["model_version"] or "",
            "score": "" if record["score"] is None else record["score"],
        }
        try:
            self.client.xadd(self.keys.labels(), entry)
            self._set_status(
                keys=[self.keys.comment(domain, comment_id), self.keys.pending(domain)],
                args=[label, "feedback", entry["at"], comment_id],
            )
        except redis.RedisError as exc:
            raise RedisUnavailable(str(exc)) from exc
        return Stored(record, label, "feedback"), True
