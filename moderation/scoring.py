"""Checking comments: rules, model, policy and Akismet, into records ready to store.

One call handles a whole batch so the featurizer and the model run once,
vectorised, however many comments arrive together; the uncertain ones of the
batch are then asked of Akismet together, under one deadline.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from moderation.akismet_fallback import AkismetFallback
from moderation.comments import CommentStore
from moderation.current_model import CurrentModel
from moderation.errors import RedisUnavailable
from moderation.policy import Decision, decide, with_akismet
from moderation.rules import hard_signals
from moderation.schema import Comment
from moderation.sites import Site


class Scorer:
    def __init__(
        self, model: CurrentModel, comments: CommentStore, akismet: AkismetFallback
    ) -> None:
        self.model = model
        self.comments = comments
        self.akismet = akismet

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
        akismet = self._ask_akismet(site, ids, fields, score_of, decisions)
        records = []
        for i, decision in enumerate(decisions):
            record = {
                "id": ids[i],
                "guid": str(uuid.uuid4()),
                "site": site.domain,
                "fields": fields[i],
                "score": score_of[i],
                "verdict": decision.verdict,
                "discard": decision.discard,
                "source": decision.source,
                "model_version": loaded.version if loaded is not None else None,
                "reasons": list(decision.reasons),
                "checked_at": checked_at,
            }
            if i in akismet:
                record["akismet"] = akismet[i]
            records.append(record)
        return records

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
