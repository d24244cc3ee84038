"""The objects one app wires together, reachable from a request as ``services()``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from redis import Redis

from moderation.akismet_fallback import AkismetFallback
from moderation.comments import CommentStore
from moderation.current_model import CurrentModel
from moderation.keys import Keys
from moderation.metrics import Metrics
from moderation.moderators import ModeratorRegistry
from moderation.redis_server import EmbeddedRedis
from moderation.review import ReviewQueue
from moderation.scoring import Scorer
from moderation.settings import Settings
from moderation.sites import SiteRegistry
from moderation.spool import Spool


@dataclass
class Services:
    settings: Settings
    redis: Redis
    embedded: EmbeddedRedis | None
    keys: Keys
    sites: SiteRegistry
    comments: CommentStore
    model: CurrentModel
    scorer: Scorer
    metrics: Metrics
    akismet: AkismetFallback
    moderators: ModeratorRegistry
    review: ReviewQueue
    spool: Spool

    @classmethod
    def build(cls, settings: Settings, client: Redis, embedded: EmbeddedRedis | None) -> Services:
        keys = Keys(settings.redis_prefix)
        model = CurrentModel(settings.models_dir, settings.model_reload_seconds)
        comments = CommentStore(client, keys)
        metrics = Metrics(settings.metrics_dir)
        akismet = AkismetFallback(settings, client, keys, metrics)
        return cls(
            settings=settings,
            redis=client,
            embedded=embedded,
            keys=keys,
            sites=SiteRegistry(client, keys),
            comments=comments,
            model=model,
            scorer=Scorer(model, comments, akismet),
            metrics=metrics,
            akismet=akismet,
            moderators=ModeratorRegistry(client, keys, settings.moderator_token_seconds),
            review=ReviewQueue(client, keys, comments, metrics),
            spool=Spool(settings.spool_dir),
        )


def services() -> Services:
    return current_app.extensions["moderation"]  # type: ignore[no-any-return]
