"""The objects one app wires together, reachable from a request as ``services()``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from redis import Redis

from moderation import model_store, secret_key
from moderation.akismet_fallback import AkismetFallback
from moderation.campaigns import CampaignStore
from moderation.comments import CommentStore
from moderation.current_model import CurrentModel
from moderation.keys import Keys
from moderation.metrics import Metrics
from moderation.model_store import ModelStore
from moderation.moderators import ModeratorRegistry
from moderation.personal_data import PersonalData
from moderation.policy import CrowdRules
from moderation.ratelimit import RateLimits, shared_storage
from moderation.redis_server import EmbeddedRedis
from moderation.review import ReviewQueue
from moderation.scoring import Scorer
from moderation.settings import Settings
from moderation.sites import SiteRegistry
from moderation.spool import Spool
from moderation.velocity import DEFAULT_LIMITS, VelocityCounter


@dataclass
class Services:
    settings: Settings
    redis: Redis
    embedded: EmbeddedRedis | None
    keys: Keys
    sites: SiteRegistry
    comments: CommentStore
    model: CurrentModel
    models: ModelStore | None  # publishes promotions; None with the embedded Redis
    scorer: Scorer
    metrics: Metrics
    akismet: AkismetFallback
    moderators: ModeratorRegistry
    review: ReviewQueue
    spool: Spool
    campaigns: CampaignStore
    limits: RateLimits
    personal: PersonalData

    @classmethod
    def build(cls, settings: Settings, client: Redis, embedded: EmbeddedRedis | None) -> Services:
        keys = Keys(settings.redis_prefix)
        secret = secret_key.load(settings)
        # Only a shared Redis has other nodes to tell; the embedded one is this
        # machine's alone, and its models directory is the whole truth.
        models = model_store.for_deployment(settings, client)
        model = CurrentModel(settings.models_dir, settings.model_reload_seconds, models)
        comments = CommentStore(client, keys)
        metrics = Metrics(settings.metrics_dir)
        akismet = AkismetFallback(settings, client, keys, metrics)
        campaigns = CampaignStore(
            client,
            settings.redis_prefix,
            settings.campaign_window_days * 86400,
            settings.campaign_similarity,
        )
        velocity = VelocityCounter(client, settings.redis_prefix, secret)
        scorer = Scorer(
            model, comments, akismet, campaigns, velocity,
            CrowdRules(settings.campaign_growth, settings.campaign_growth_sites,
                       settings.campaign_boost),
            {**DEFAULT_LIMITS, **dict(settings.velocity_limits)},
            keep_ip_prefix=settings.ip_prefix,
        )  # fmt: skip
        spool = Spool(settings.spool_dir)
        return cls(
            settings=settings,
            redis=client,
            embedded=embedded,
            keys=keys,
            sites=SiteRegistry(client, keys, settings.site_cache_seconds),
            comments=comments,
            model=model,
            models=models,
            scorer=scorer,
            metrics=metrics,
            akismet=akismet,
            moderators=ModeratorRegistry(client, keys, settings.moderator_token_seconds),
            review=ReviewQueue(client, keys, comments, metrics, campaigns),
            spool=spool,
            campaigns=campaigns,
            limits=RateLimits(
                shared_storage(settings, client, keys.rate_limits()),
                per_ip=settings.rate_limit_ip,
                per_site=settings.rate_limit_site,
                login=settings.rate_limit_login,
                enabled=settings.rate_limits,
            ),
            personal=PersonalData(
                client,
                keys,
                velocity,
                spool,
                settings.labels_dir,
                settings.retention_days,
                settings.comment_retention_days,
            ),
        )


def services() -> Services:
    return current_app.extensions["moderation"]  # type: ignore[no-any-return]
