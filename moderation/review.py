"""The review queue: what waits for a human, who holds it, and what they decided.

Per site (one hash slot, so every step below is one atomic Lua call, on a
single Redis or a cluster):

* ``pending``  - zset of the comments waiting, scored by when they were
  queued: the queue is served oldest first;
* ``claims``   - zset of claimed items -> lease expiry, ``claimers`` - hash of
  claimed items -> moderator. A claim takes unclaimed items in queue order
  and leases them (default 5 minutes, renewable); an expired lease is
  dropped by the next claim, and the item is back for anyone;
* ``events``   - stream, the audit log: every decision and undo, with who,
  when, and the model's score and verdict at the time.

A decision moves the comment out of the queue and writes the audit event in
the same step; then the label goes to the labels stream (a second step,
made safe to repeat: the comment remembers which decision its last label
was for, so a retried request re-sends a label that did not get through and
never sends one twice). An undo, within the window, restores the comment's
previous state and appends a retraction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from moderation.campaigns import CampaignStore
from moderation.comments import CommentStore, Stored, review_id
from moderation.errors import Conflict, NotFound, ValidationError, redis_errors
from moderation.keys import Keys, stream_order
from moderation.metrics import Metrics
from moderation.moderators import Moderator

# KEYS: pending, claims, claimers. ARGV: now, lease_until, moderator, limit.
_CLAIM = """
local now = tonumber(ARGV[1])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
local limit = tonumber(ARGV[4])
local got = {}
local offset = 0
while #got < limit do
  local batch = redis.call('ZRANGE', KEYS[1], offset, offset + 199)
  if #batch == 0 then break end
  for _, id in ipairs(batch) do
    if not redis.call('ZSCORE', KEYS[2], id) then
      redis.call('ZADD', KEYS[2], ARGV[2], id)
      redis.call('HSET', KEYS[3], id, ARGV[3])
      got[#got + 1] = id
      if #got >= limit then break end
    end
  end
  offset = offset + 200
end
return got
"""

# Renew (ARGV[2] > 0: the new expiry) or release (0) this moderator's claims.
# KEYS: claims, claimers. ARGV: moderator, lease_until, ids...
_RENEW = """
local changed = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[2], id) == ARGV[1] then
    if tonumber(ARGV[2]) > 0 then
      redis.call('ZADD', KEYS[1], ARGV[2], id)
    else
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
    end
    changed[#changed + 1] = id
  end
end
return changed
"""

# KEYS: comment, pending, claims, claimers, events.
# ARGV: label, moderator, now, id, note, domain.
_DECIDE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local now = tonumber(ARGV[3])
local holder = redis.call('HGET', KEYS[4], ARGV[4])
local lease = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[4]) or '0')
if holder and holder ~= ARGV[2] and lease >= now then return {'claimed', holder} end
local status = redis.call('HGET', KEYS[1], 'status')
local source = redis.call('HGET', KEYS[1], 'status_source')
if source == 'moderator' and status == ARGV[1] then
  return {'same', redis.call('HGET', KEYS[1], 'decision_event') or '',
          redis.call('HGET', KEYS[1], 'label_event') or ''}
end
local record = cjson.decode(redis.call('HGET', KEYS[1], 'record'))
local score = record['score']
if type(score) ~= 'number' then score = '' end
local version = record['model_version']
if type(version) ~= 'string' then version = '' end
local event = redis.call('XADD', KEYS[5], '*', 'type', 'decision', 'site', ARGV[6],
  'id', ARGV[4], 'label', ARGV[1], 'moderator', ARGV[2], 'note', ARGV[5], 'at', ARGV[3],
  'previous', status, 'previous_source', source, 'score', score,
  'verdict', record['verdict'], 'model_version', version,
  'queued_at', redis.call('HGET', KEYS[1], 'queued_at') or '')
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_source', 'moderator',
  'updated_at', ARGV[3], 'decided_by', ARGV[2], 'decided_at', ARGV[3],
  'decision_event', event, 'prev_status', status, 'prev_source', source, 'note', ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('HDEL', KEYS[4], ARGV[4])
return {'decided', event, ''}
"""

# KEYS: comment, pending, events. ARGV: moderator, now, window, id, admin, domain.
_UNDO = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if redis.call('HGET', KEYS[1], 'status_source') ~= 'moderator' then return {'undecided'} end
local decided_at = tonumber(redis.call('HGET', KEYS[1], 'decided_at'))
-- An undo of a second decision restores the first without its time: one
-- step back is all there is.
if not decided_at then return {'undecided'} end
if tonumber(ARGV[2]) > decided_at + tonumber(ARGV[3]) then return {'too_late'} end
local decided_by = redis.call('HGET', KEYS[1], 'decided_by')
if decided_by ~= ARGV[1] and ARGV[5] ~= '1' then return {'not_yours', decided_by} end
local label = redis.call('HGET', KEYS[1], 'status')
local retracts = redis.call('HGET', KEYS[1], 'decision_event')
local previous = redis.call('HGET', KEYS[1], 'prev_status') or 'pending'
local previous_source = redis.call('HGET', KEYS[1], 'prev_source') or 'check'
local event = redis.call('XADD', KEYS[3], '*', 'type', 'undo', 'site', ARGV[6], 'id', ARGV[4],
  'label', label, 'moderator', ARGV[1], 'retracts', retracts, 'at', ARGV[2],
  'restored', previous)
redis.call('HSET', KEYS[1], 'status', previous, 'status_source', previous_source,
  'updated_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'decided_by', 'decided_at', 'decision_event', 'note',
  'prev_status', 'prev_source')
if previous == 'pending' then
  redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[1], 'queued_at') or ARGV[2], ARGV[4])
end
return {'undone', event, retracts, label}
"""


@dataclass(frozen=True)
class Decided:
    review_id: str
    label: str
    changed: bool
    event: str


def split_review_id(raw: str) -> tuple[str, str]:
    domain, sep, comment_id = raw.partition(":")
    if not sep or not domain or not comment_id:
        raise ValidationError("must be <site>:<comment id>", field="id")
    return domain, comment_id


class ReviewQueue:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        comments: CommentStore,
        metrics: Metrics,
        campaigns: CampaignStore,
    ) -> None:
        self.client = client
        self.keys = keys
        self.comments = comments
        self.metrics = metrics
        self.campaigns = campaigns
        self._claim = client.register_script(_CLAIM)
        self._renew = client.register_script(_RENEW)
        self._decide = client.register_script(_DECIDE)
        self._undo = client.register_script(_UNDO)

    # -- reading
    def items(
        self, domains: Sequence[str], limit: int, after: tuple[float, str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Pending items of these sites, oldest first, after the cursor (queued_at, site, id)."""
        with redis_errors():
            pipe = self.client.pipeline(transaction=False)
            for domain in domains:
                low = after[0] if after else "-inf"
                pipe.zrangebyscore(self.keys.pending(domain), low, "+inf", start=0,
                                   num=limit + 50, withscores=True)  # fmt: skip
            candidates = []
            for domain, found in zip(domains, pipe.execute(), strict=True):
                for comment_id, queued_at in found:
                    position = (float(queued_at), domain, str(comment_id))
                    if after is None or position > after:
                        candidates.append(position)
            candidates.sort()
            page = candidates[:limit]
            return self._describe(page)

    def _describe(self, page: list[tuple[float, str, str]]) -> list[dict[str, Any]]:
        pipe = self.client.pipeline(transaction=False)
        for _, domain, comment_id in page:
            pipe.hgetall(self.keys.comment(domain, comment_id))
            pipe.hget(self.keys.claimers(domain), comment_id)
            pipe.zscore(self.keys.claims(domain), comment_id)
        results = pipe.execute()
        now = time.time()
        clusters = sorted(
            {c for d in results[0::3] if d for c in [_cluster_of(json.loads(d["record"]))] if c}
        )
        sizes = self.campaigns.sizes(clusters) if clusters else {}
        items = []
        for i, (queued_at, domain, comment_id) in enumerate(page):
            data, holder, lease = results[3 * i : 3 * i + 3]
            if not data:
                continue
            record = json.loads(data["record"])
            live = holder is not None and lease is not None and float(lease) >= now
            items.append(
                {
                    "review_id": review_id(domain, comment_id),
                    "site": domain,
                    "id": comment_id,
                    "fields": record["fields"],
                    "score": record["score"],
                    "verdict": record["verdict"],
                    "reasons": record["reasons"],
                    "akismet": record.get("akismet"),
                    "model_version": record["model_version"],
                    "checked_at": record["checked_at"],
                    "queued_at": queued_at,
                    "status": data["status"],
                    "claimed_by": holder if live else None,
                    "lease_until": float(lease) if live else None,
                    "cluster": _cluster_item(record, sizes),
                }
            )
        return items

    def depth(self, domains: Sequence[str]) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        for domain in domains:
            pipe.zcard(self.keys.pending(domain))
        return dict(zip(domains, pipe.execute(), strict=True))

    def history(
        self, domains: Sequence[str], limit: int, before: str | None = None
    ) -> list[dict[str, Any]]:
        """Decisions and undos, newest first (event ids order them within a site;
        across sites they are merged by time)."""
        if before is not None and stream_order(before) == (0, 0):
            return []  # nothing is before the first id (and Redis refuses "(0-0")
        pipe = self.client.pipeline(transaction=False)
        for domain in domains:
            pipe.xrevrange(self.keys.events(domain), max=f"({before}" if before else "+",
                           count=limit)  # fmt: skip
        with redis_errors():
            streams = pipe.execute()
        events = [
            {"event": event_id, **fields} for stream in streams for event_id, fields in stream
        ]
        events.sort(key=lambda e: stream_order(e["event"]), reverse=True)
        return events[:limit]

    # -- claiming
    def claim(
        self, moderator: Moderator, domains: Sequence[str], limit: int, lease: float
    ) -> list[str]:
        """Up to ``limit`` unclaimed items, site by site in the given order."""
        now = time.time()
        claimed: list[str] = []
        with redis_errors():
            for domain in domains:
                if len(claimed) >= limit:
                    break
                got = self._claim(
                    keys=[self.keys.pending(domain), self.keys.claims(domain),
                          self.keys.claimers(domain)],
                    args=[now, now + lease, moderator.name, limit - len(claimed)],
                )  # fmt: skip
                claimed.extend(review_id(domain, str(i)) for i in got)
        return claimed

    def renew(self, moderator: Moderator, ids: Sequence[str], lease: float) -> list[str]:
        return self._renew_or_release(moderator, ids, time.time() + lease)

    def release(self, moderator: Moderator, ids: Sequence[str]) -> list[str]:
        return self._renew_or_release(moderator, ids, 0)

    def _renew_or_release(
        self, moderator: Moderator, ids: Sequence[str], lease_until: float
    ) -> list[str]:
        by_site: dict[str, list[str]] = {}
        for raw in ids:
            domain, comment_id = split_review_id(raw)
            if moderator.may_see(domain):
                by_site.setdefault(domain, []).append(comment_id)
        changed: list[str] = []
        with redis_errors():
            for domain, comment_ids in by_site.items():
                done = self._renew(
                    keys=[self.keys.claims(domain), self.keys.claimers(domain)],
                    args=[moderator.name, lease_until, *comment_ids],
                )
                changed.extend(review_id(domain, str(i)) for i in done)
        return changed

    # -- deciding
    def decide(self, moderator: Moderator, raw_id: str, label: str, note: str = "") -> Decided:
        domain, comment_id = self._visible(moderator, raw_id)
        now = time.time()
        with redis_errors():
            result = self._decide(
                keys=[self.keys.comment(domain, comment_id), self.keys.pending(domain),
                      self.keys.claims(domain), self.keys.claimers(domain),
                      self.keys.events(domain)],
                args=[label, moderator.name, now, comment_id, note, domain],
            )  # fmt: skip
        outcome = result[0]
        if outcome == "missing":
            raise NotFound(f"no queue item {raw_id}", field="id")
        if outcome == "claimed":
            raise Conflict(f"claimed by {result[1]}; wait until the lease ends", field="id")
        event, label_event = str(result[1]), str(result[2])
        if outcome == "decided":
            self.metrics.decisions.labels(label).inc()
        if label_event != event:
            stored = self._send_label(domain, comment_id, label, moderator.name, event, note)
            self.campaigns.human(stored.record, label, now)
            queued_at = stored.extra.get("queued_at")
            if outcome == "decided" and queued_at:
                self.metrics.time_in_queue.observe(max(0.0, now - float(queued_at)))
        return Decided(review_id(domain, comment_id), label, outcome == "decided", event)

    def decide_each(
        self, moderator: Moderator, ids: Sequence[str], label: str, note: str = ""
    ) -> list[dict[str, Any]]:
        """Decide each item on its own: one refused (claimed by another, missing)
        does not stop the rest, and the answer says which."""
        results: list[dict[str, Any]] = []
        for item in ids:
            try:
                outcome = self.decide(moderator, item, label, note)
            except (Conflict, NotFound, ValidationError) as exc:
                results.append({"review_id": item, "ok": False, "error": exc.code,
                                "message": exc.message})  # fmt: skip
                continue
            results.append({"review_id": item, "ok": True, "changed": outcome.changed})
        return results

    def decide_cluster(
        self, moderator: Moderator, cluster: str, label: str, note: str, window: float
    ) -> list[dict[str, Any]]:
        """Decide every pending member of a campaign cluster this moderator can
        see, each with its own audit event and label; remembered for the undo."""
        members = [m.partition(":") for m in self.campaigns.members(cluster)]
        visible = [(d, c) for d, _, c in members if moderator.may_see(d)]
        pipe = self.client.pipeline(transaction=False)
        for domain, comment_id in visible:
            pipe.hget(self.keys.comment(domain, comment_id), "status")
        statuses = pipe.execute() if visible else []
        pending = [review_id(d, c) for (d, c), status in zip(visible, statuses, strict=True)
                   if status == "pending"]  # fmt: skip
        results = self.decide_each(moderator, pending, label, note)
        decided = [r["review_id"] for r in results if r["ok"]]
        if decided:
            self.client.set(self.keys.cluster_batch(moderator.name, cluster), json.dumps(decided),
                            ex=max(1, int(window)))  # fmt: skip
        return results

    def undo_cluster(self, moderator: Moderator, cluster: str, window: float) -> list[str]:
        """Undo this moderator's last decision on a cluster, member by member."""
        key = self.keys.cluster_batch(moderator.name, cluster)
        raw = self.client.get(key)
        if not raw:
            raise Conflict("no decision of yours on this cluster to undo", field="cluster_id")
        undone = []
        for item in json.loads(raw):
            try:
                self.undo(moderator, item, window)
            except (Conflict, NotFound):
                continue  # decided again since, or its window passed
            undone.append(item)
        self.client.delete(key)
        return undone

    def undo(self, moderator: Moderator, raw_id: str, window: float) -> str:
        domain, comment_id = self._visible(moderator, raw_id)
        with redis_errors():
            result = self._undo(
                keys=[self.keys.comment(domain, comment_id), self.keys.pending(domain),
                      self.keys.events(domain)],
                args=[moderator.name, time.time(), window, comment_id,
                      int(moderator.admin), domain],
            )  # fmt: skip
        outcome = result[0]
        if outcome == "missing":
            raise NotFound(f"no queue item {raw_id}", field="id")
        if outcome == "undecided":
            raise Conflict("no moderator decision to undo", field="id")
        if outcome == "too_late":
            raise Conflict(f"the undo window ({window:g} s) has passed", field="id")
        if outcome == "not_yours":
            raise Conflict(f"decided by {result[1]}; only they or an admin can undo it", field="id")
        event, retracts, label = str(result[1]), str(result[2]), str(result[3])
        stored = self.comments.get(domain, comment_id)
        self.campaigns.human(stored.record, None, time.time())
        entry = self.comments.label_entry(domain, stored.record, label, "moderator")
        entry.update(type="retract", retracts=f"{domain}:{retracts}", event=f"{domain}:{event}",
                     moderator=moderator.name)  # fmt: skip
        with redis_errors():
            self.client.xadd(self.keys.labels(), entry)
        return event

    def _send_label(
        self, domain: str, comment_id: str, label: str, moderator: str, event: str, note: str
    ) -> Stored:
        stored = self.comments.get(domain, comment_id)
        entry = self.comments.label_entry(domain, stored.record, label, "moderator")
        entry.update(type="label", event=f"{domain}:{event}", moderator=moderator, note=note)
        with redis_errors():
            self.client.xadd(self.keys.labels(), entry)
            self.client.hset(self.keys.comment(domain, comment_id), "label_event", event)
        return stored

    def _visible(self, moderator: Moderator, raw_id: str) -> tuple[str, str]:
        domain, comment_id = split_review_id(raw_id)
        if not moderator.may_see(domain):
            # Not "forbidden": an item of a site you cannot see does not exist for you.
            raise NotFound(f"no queue item {raw_id}", field="id")
        return domain, comment_id


def _cluster_of(record: dict[str, Any]) -> str | None:
    cluster = (record.get("campaign") or {}).get("cluster")
    return str(cluster) if cluster else None


def _cluster_item(record: dict[str, Any], sizes: dict[str, int]) -> dict[str, Any] | None:
    cluster = _cluster_of(record)
    if cluster is None:
        return None
    return {"id": cluster, "size": sizes.get(cluster, 0)}
