"""Checking comments: rules, model, policy and Akismet, into records ready to store.

One call handles a whole batch so the featurizer and the model run once,
vectorised, however many comments arrive together; the uncertain ones of the
batch are then asked of Akismet together, under one deadline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from moderation import lua
from moderation.akismet_fallback import AkismetFallback
from moderation.campaigns import Campaign, CampaignStore, signature
from moderation.comments import CommentStore
from moderation.current_model import CurrentModel
from moderation.errors import REDIS_ERRORS, RedisUnavailable
from moderation.policy import Crowd, CrowdRules, Decision, decide, with_akismet, with_crowd
from moderation.privacy import stored_fields
from moderation.rules import hard_signals
from moderation.schema import Comment
from moderation.sites import Site
from moderation.velocity import VelocityCounter, bursts, identities


class Scorer:
    def __init__(
        self,
        model: CurrentModel,
        comments: CommentStore,
        akismet: AkismetFallback,
        campaigns: CampaignStore,
        velocity: VelocityCounter,
        crowd_rules: CrowdRules,
        velocity_limits: dict[str, tuple[int, int, int]],
        keep_ip_prefix: bool = False,
    ) -> None:
        self.model = model
        self.comments = comments
        self.akismet = akismet
        self.campaigns = campaigns
        self.velocity = velocity
        self.crowd_rules = crowd_rules
        self.velocity_limits = velocity_limits
        # Keep the /24 or /48 of an IP beside its keyed hash (IP_PREFIX).
        self.keep_ip_prefix = keep_ip_prefix
        # The time campaign and velocity windows are measured in (a benchmark
        # replays a day of comments in seconds by setting its own).
        self.clock: Callable[[], float] = time.time

    def check(self, site: Site, comments: Sequence[Comment]) -> list[dict[str, Any]]:
        loaded = self.model.get()
        fields = [c.fields() for c in comments]
        if loaded is not None and comments:
            scores, evidence = loaded.model.score_and_explain(fields)
            cutoffs = site.cutoffs(loaded.cutoffs)
        checked_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        ids = [c.id or uuid.uuid4().hex for c in comments]
        score_of = [
            round(float(scores[i]), 6) if loaded is not None else None for i in range(len(comments))
        ]
        decisions = [
            decide(
                score_of[i],
                cutoffs if loaded is not None else None,
                hard_signals(comment),
                evidence[i] if loaded is not None else (),
            )
            for i, comment in enumerate(comments)
        ]
        now = self.clock()
        clusters, counts = self._crowd(site, ids, fields, now)
        for i, decision in enumerate(decisions):
            crowd = _crowd_of(clusters[i], counts[i], self.velocity_limits, now)
            decisions[i], score_of[i] = with_crowd(
                decision, score_of[i], cutoffs if loaded is not None else None, crowd,
                self.crowd_rules,
            )  # fmt: skip
        akismet = self._ask_akismet(site, ids, fields, score_of, decisions)
        records = []
        for i, decision in enumerate(decisions):
            score = score_of[i]
            record = {
                "id": ids[i],
                "guid": str(uuid.uuid4()),
                "site": site.domain,
                # What is stored of the fields: the IP only as its keyed hash.
                "fields": stored_fields(fields[i], self.velocity.hashed, self.keep_ip_prefix),
                "score": None if score is None else round(score, 6),
                "verdict": decision.verdict,
                "discard": decision.discard,
                "source": decision.source,
                "model_version": loaded.version if loaded is not None else None,
                "reasons": list(decision.reasons),
                "checked_at": checked_at,
            }
            if i in akismet:
                record["akismet"] = akismet[i]
            if clusters[i] is not None:
                record["campaign"] = clusters[i].as_record()  # type: ignore[union-attr]
            if counts[i]:
                record["velocity"] = {k: list(v) for k, v in counts[i].items()}
            records.append(record)
        self._mark_model_spam(site, records, now)
        return records

    def _crowd(
        self, site: Site, ids: list[str], fields: list[dict[str, Any]], now: float
    ) -> tuple[list[Campaign | None], list[dict[str, tuple[int, int, int]]]]:
        """Each comment's campaign cluster and velocity counts, in one Redis round
        trip (none while Redis is down)."""
        signed = [(site.domain, ids[i], signature(str(f.get("content", ""))))
                  for i, f in enumerate(fields)]  # fmt: skip
        who = [
            (f"{site.domain}:{ids[i]}", identities(f, site.domain)) for i, f in enumerate(fields)
        ]
        pipe = self.comments.client.pipeline(transaction=False)
        self.campaigns.queue(pipe, signed, now)
        self.velocity.queue(pipe, who, now)
        try:
            results = lua.execute(pipe)
        except REDIS_ERRORS:
            return [None] * len(ids), [{} for _ in ids]
        split = self.campaigns.signed(signed)
        return self.campaigns.parse(signed, results[:split]), self.velocity.parse(
            who, results[split:]
        )

    def _mark_model_spam(self, site: Site, records: list[dict[str, Any]], now: float) -> None:
        """Count the model's spam verdicts in their clusters (one round trip)."""
        pipe = self.comments.client.pipeline(transaction=False)
        for record in records:
            cluster = (record.get("campaign") or {}).get("cluster")
            if cluster and record["verdict"] == "spam" and record["source"] != "rules":
                member = f"{site.domain}:{record['id']}"
                self.campaigns.queue_mark(pipe, cluster, member, "model", True, now)
        try:
            pipe.execute()
        except REDIS_ERRORS:
            return  # a missing mark costs a count, not an answer

    def _ask_akismet(
        self,
        site: Site,
        ids: list[str],
        fields: list[dict[str, Any]],
        scores: list[float | None],
        decisions: list[Decision],
    ) -> dict[int, dict[str, Any]]:
        """Settle the uncertain decisions with Akismet (in place); its answers by index."""
        uncertain = [i for i, d in enumerate(decisions) if d.uncertain]
        if not uncertain or self.akismet.credentials(site) is None:
            return {}
        # A repeated id gets its first answer back when saved: do not spend an
        # Akismet call (and the site's budget) on it again.
        try:
            known = self.comments.existing(site.domain, [ids[i] for i in uncertain])
        except RedisUnavailable:
            return {}  # no breaker, no budget, no idempotence check: leave them to review
        uncertain = [i for i in uncertain if ids[i] not in known]
        answers = self.akismet.ask(site, [fields[i] for i in uncertain]) if uncertain else []
        for i, answer in zip(uncertain, answers, strict=True):
            decisions[i] = with_akismet(decisions[i], scores[i], answer.answer, answer.detail)
        return {i: a.as_record() for i, a in zip(uncertain, answers, strict=True)}


def _crowd_of(
    campaign: Campaign | None,
    counts: dict[str, tuple[int, int, int]],
    limits: dict[str, tuple[int, int, int]],
    now: float,
) -> Crowd:
    found = tuple(b.detail() for b in bursts(counts, limits)) if counts else ()
    if campaign is None:
        return Crowd(bursts=found)
    return Crowd(
        cluster_size=campaign.size,
        sites=campaign.sites,
        last_hour=campaign.last_hour,
        confirmed_spam=campaign.confirmed,
        confirmed_ham=campaign.denied,
        age_seconds=max(0.0, now - campaign.first_seen),
        bursts=found,
    )
