"""Checking comments: rules, model and policy, into records ready to store.

One call handles a whole batch so the featurizer and the model run once,
vectorised, however many comments arrive together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from moderation.current_model import CurrentModel
from moderation.policy import decide
from moderation.rules import hard_signals
from moderation.schema import Comment
from moderation.sites import Site


class Scorer:
    def __init__(self, model: CurrentModel) -> None:
        self.model = model

    def check(self, site: Site, comments: Sequence[Comment]) -> list[dict[str, Any]]:
        loaded = self.model.get()
        fields = [c.fields() for c in comments]
        if loaded is not None and comments:
            scores, evidence = loaded.model.score_and_explain(fields)
            cutoffs = site.cutoffs(loaded.cutoffs)
        checked_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        records = []
        for i, comment in enumerate(comments):
            score = round(float(scores[i]), 6) if loaded is not None else None
            decision = decide(
                score,
                cutoffs if loaded is not None else None,
                hard_signals(comment),
                evidence[i] if loaded is not None else (),
            )
            records.append(
                {
                    "id": comment.id or uuid.uuid4().hex,
                    "guid": str(uuid.uuid4()),
                    "site": site.domain,
                    "fields": fields[i],
                    "score": score,
                    "verdict": decision.verdict,
                    "discard": decision.discard,
                    "source": decision.source,
                    "model_version": loaded.version if loaded is not None else None,
                    "reasons": list(decision.reasons),
                    "checked_at": checked_at,
                }
            )
        return records
