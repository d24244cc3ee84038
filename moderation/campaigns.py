"""Spam campaigns: near-duplicate comments across every site the service sees.

A wave repeats one text with small changes - a reworded word, another link,
look-alike letters, an emoji - over many posts and sites. Each comment gets
a MinHash signature of its normalised text (links and symbols removed, then
character 5-grams), and locality-sensitive hashing (20 bands of 5 rows)
finds earlier comments whose signatures agree on a band: a candidate joins
that cluster when its estimated similarity to the cluster's first member is
at least ``MIN_SIMILARITY``, else it starts a cluster of its own.

In Redis, under one hash tag ``{campaign}`` (one Lua call per comment), with
a sliding window (``CAMPAIGN_WINDOW_DAYS``, default 7): band keys expire
after the window, a cluster's members, sites and marks are trimmed to it,
and a cluster nobody joined for a window expires whole. Memory is therefore
bounded by one window of traffic: about 20 band keys plus one member entry
(~1.5 KB) per comment with enough text to sign.

Marks: a member decided spam by a human (moderator or the blog's own
feedback) is ``confirmed``; decided ham by a human, ``denied``; marked spam
by the model, ``model``. The policy reads the counts.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from moderation import lua
from moderation.errors import redis_errors
from moderation.lua import Lua
from training.normalize import normalize

PERMUTATIONS = 100
BANDS, ROWS = 20, 5
SHINGLE = 5
MIN_CHARS = 25  # shorter text says too little: "nice post!" is everyone's
# Chosen by bench/campaign.py (three seeds): 0.3-0.5 catch 97-100% of each wave
# after one human decision and no ham; 0.7 splits waves (95%). 0.4: the
# middle of the safe range.
MIN_SIMILARITY = 0.4
MAX_MEMBERS = 10_000
_PRIME = (1 << 31) - 1
_rng = np.random.default_rng(20261125)
_A = _rng.integers(1, _PRIME, PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, PERMUTATIONS, dtype=np.uint64)
_SYMBOLS = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
MARKS = ("confirmed", "denied", "model")


def signable_text(content: str) -> str:
    """The text a campaign is recognised by: normalised (look-alikes folded,
    invisible characters gone), lower-cased, without links, symbols or emoji."""
    norm = normalize(content)
    text = norm.text
    for url in norm.urls:
        text = text.replace(url, " ")
    text = _SYMBOLS.sub(" ", text.lower()).replace("_", " ")
    return _SPACES.sub(" ", text).strip()


def signature(content: str) -> np.ndarray | None:
    """MinHash of the text's character 5-grams; None when too short to sign."""
    text = signable_text(content)
    if len(text) < MIN_CHARS:
        return None
    shingles = {text[i : i + SHINGLE] for i in range(len(text) - SHINGLE + 1)}
    # CRC-32 of each shingle's UTF-8, in C (map), then reduced mod the prime.
    hashed = np.fromiter(map(zlib.crc32, map(str.encode, shingles)), np.uint64, len(shingles))
    hashed %= _PRIME
    return ((np.outer(_A, hashed) + _B[:, None]) % _PRIME).min(axis=1)  # type: ignore[no-any-return]


def _cluster_id(site: str, comment_id: str) -> str:
    """The id of a cluster this comment would start: derived from the comment
    (unique per site and id), not drawn from os.urandom - a system call per
    check. 64 bits: a collision among the millions of clusters a busy week
    starts stays below one in a million."""
    return hashlib.blake2b(f"{site}:{comment_id}".encode(), digest_size=8).hexdigest()


def bands(sig: np.ndarray) -> list[str]:
    """One key per band: the band's number and a hash of its rows."""
    rows = sig.reshape(BANDS, ROWS)
    return [f"{b}:{zlib.crc32(rows[b].tobytes()):08x}" for b in range(BANDS)]


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash values."""
    return float(np.mean(a == b))


# KEYS[1]: any key of the {campaign} slot (routing). ARGV: prefix, member, site,
# now, window, min similarity, new cluster id, signature (comma-separated),
# most members kept, then the band keys. Returns the cluster and its counts.
_OBSERVE = """
local p, member, site = ARGV[1], ARGV[2], ARGV[3]
local now, window = tonumber(ARGV[4]), tonumber(ARGV[5])
local sig = {}
for v in string.gmatch(ARGV[8], '[^,]+') do sig[#sig + 1] = v end
local best, best_sim, seen = nil, -1, {}
local band_keys = {}
for i = 10, #ARGV do band_keys[#band_keys + 1] = p .. 'band:' .. ARGV[i] end
-- One MGET, not a GET per band: 19 fewer commands per comment.
local found = redis.call('MGET', unpack(band_keys))
for i = 1, #band_keys do
  local cid = found[i]
  if cid and not seen[cid] then
    seen[cid] = true
    local rep = redis.call('HGET', p .. 'cluster:' .. cid, 'sig')
    if rep then
      local same, n = 0, 0
      for v in string.gmatch(rep, '[^,]+') do
        n = n + 1
        if sig[n] == v then same = same + 1 end
      end
      local sim = same / #sig
      if sim > best_sim then best, best_sim = cid, sim end
    end
  end
end
if best == nil or best_sim < tonumber(ARGV[6]) then
  best = ARGV[7]
  redis.call('HSET', p .. 'cluster:' .. best, 'sig', ARGV[8], 'first_seen', now)
end
local c = p .. 'cluster:' .. best
for i = 1, #band_keys do redis.call('SET', band_keys[i], best, 'EX', window) end
redis.call('ZADD', c .. ':members', now, member)
redis.call('ZREMRANGEBYRANK', c .. ':members', 0, -tonumber(ARGV[9]) - 1)
redis.call('ZADD', c .. ':sites', now, site)
local counts = {}
for _, name in ipairs({'members', 'sites', 'confirmed', 'denied', 'model'}) do
  redis.call('ZREMRANGEBYSCORE', c .. ':' .. name, '-inf', now - window)
  redis.call('EXPIRE', c .. ':' .. name, window)
  counts[name] = redis.call('ZCARD', c .. ':' .. name)
end
redis.call('EXPIRE', c, window)
local recent = redis.call('ZCOUNT', c .. ':members', now - 3600, '+inf')
return {best, counts['members'], counts['sites'], recent, counts['confirmed'],
        counts['denied'], counts['model'], redis.call('HGET', c, 'first_seen')}
"""


@dataclass(frozen=True)
class Campaign:
    cluster: str
    size: int  # members in the window, this comment included
    sites: int
    last_hour: int
    confirmed: int  # members a human called spam
    denied: int  # members a human called ham
    model_spam: int
    first_seen: float

    def as_record(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "size": self.size,
            "sites": self.sites,
            "last_hour": self.last_hour,
            "confirmed_spam": self.confirmed,
            "confirmed_ham": self.denied,
            "model_spam": self.model_spam,
            "first_seen": self.first_seen,
        }


class CampaignStore:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        window_seconds: float,
        min_similarity: float = MIN_SIMILARITY,
    ) -> None:
        self.client = client
        self.prefix = f"{prefix}{{campaign}}:"
        self.window = int(window_seconds)
        self.min_similarity = min_similarity
        self._observe = Lua(client, _OBSERVE)

    def observe(
        self, items: list[tuple[str, str, np.ndarray | None]], now: float
    ) -> list[Campaign | None]:
        """Add each (site, comment id, signature) to its cluster; the clusters."""
        pipe = self.client.pipeline(transaction=False)
        self.queue(pipe, items, now)
        with redis_errors():
            return self.parse(items, lua.execute(pipe))

    def queue(
        self,
        pipe: redis.client.Pipeline,
        items: list[tuple[str, str, np.ndarray | None]],
        now: float,
    ) -> None:
        """Queue :meth:`observe`'s work on a pipeline (the scorer sends it together
        with the velocity counts: one round trip); :meth:`parse` reads the answers."""
        for site, comment_id, sig in items:
            if sig is None:
                continue
            self._observe.queue(
                pipe,
                [self.prefix + "route"],
                [self.prefix, f"{site}:{comment_id}", site, now, self.window,
                 self.min_similarity, _cluster_id(site, comment_id),
                 ",".join(map(str, sig.tolist())), MAX_MEMBERS, *bands(sig)],
            )  # fmt: skip

    def parse(
        self, items: list[tuple[str, str, np.ndarray | None]], results: list[Any]
    ) -> list[Campaign | None]:
        """The clusters, from the answers :meth:`queue` queued (in the same order)."""
        answers = iter(results)
        out: list[Campaign | None] = []
        for _, _, sig in items:
            if sig is None:
                out.append(None)
                continue
            r = next(answers)
            size, sites, last_hour, confirmed, denied, model = (int(v) for v in r[1:7])
            out.append(Campaign(str(r[0]), size, sites, last_hour, confirmed, denied, model,
                                float(r[7] or 0)))  # fmt: skip
        return out

    def signed(self, items: list[tuple[str, str, np.ndarray | None]]) -> int:
        """How many answers :meth:`queue` asks for."""
        return sum(sig is not None for _, _, sig in items)

    def mark(self, cluster: str, member: str, mark: str, on: bool, now: float) -> None:
        """Record (or, ``on=False``, withdraw) a verdict on a member of a cluster."""
        pipe = self.client.pipeline(transaction=False)
        self.queue_mark(pipe, cluster, member, mark, on, now)
        with redis_errors():
            pipe.execute()

    def queue_mark(
        self,
        pipe: redis.client.Pipeline,
        cluster: str,
        member: str,
        mark: str,
        on: bool,
        now: float,
    ) -> None:
        key = f"{self.prefix}cluster:{cluster}:{mark}"
        if on:
            pipe.zadd(key, {member: now})
            pipe.expire(key, self.window)
        else:
            pipe.zrem(key, member)

    def human(self, record: dict[str, Any], label: str | None, now: float) -> None:
        """A person's verdict on a checked comment (``None``: withdrawn by an undo)."""
        cluster = (record.get("campaign") or {}).get("cluster")
        if not cluster:
            return
        member = f"{record['site']}:{record['id']}"
        self.mark(cluster, member, "confirmed", label == "spam", now)
        self.mark(cluster, member, "denied", label == "ham", now)

    def sizes(self, clusters: list[str]) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        for cluster in clusters:
            pipe.zcard(f"{self.prefix}cluster:{cluster}:members")
        return dict(zip(clusters, (int(n) for n in pipe.execute()), strict=True))

    def members(self, cluster: str) -> list[str]:
        """``site:comment id`` of each member in the window, oldest first."""
        with redis_errors():
            return [str(m) for m in self.client.zrange(f"{self.prefix}cluster:{cluster}:members",
                                                          0, -1)]  # fmt: skip
