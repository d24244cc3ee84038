"""The native JSON API for blogs: check comments, read their status, send feedback.

Every route authenticates the site by ``Authorization: Bearer <site key>``
and sees only that site's comments. Contract: DESIGN.md and /openapi.json.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from moderation.comments import LABELS, Stored, status_for
from moderation.errors import AuthError, RedisUnavailable, ValidationError
from moderation.schema import MAX_BATCH, Comment, parse_comment, parse_comment_id, parse_json
from moderation.services import services
from moderation.sites import Site

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)


@bp.before_request
def start_timer() -> None:
    g.started = time.perf_counter()


def count_address() -> None:
    """Every API request counts against its client address's rate limit,
    before its key is looked at: guessing keys costs attempts."""
    services().limits.hit_ip(request.remote_addr)


bp.before_request(count_address)


@bp.after_request
def observe(response: Response) -> Response:
    endpoint = request.endpoint or "unknown"
    metrics = services().metrics
    metrics.latency.labels(endpoint).observe(time.perf_counter() - g.started)
    metrics.responses.labels(endpoint, str(response.status_code)).inc()
    return response


def bearer_token(missing: str) -> str:
    """The credential of ``Authorization: Bearer <it>``; AuthError(missing) without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(missing)
    return token.strip()


def authenticated_site() -> Site:
    return site_of_key(bearer_token("send the site key as Authorization: Bearer <key>"))


def site_of_key(key: str) -> Site:
    """The site a key belongs to (AuthError if none), counted against its rate limit."""
    svc = services()
    site = svc.sites.authenticate(key)
    svc.limits.hit_site(site.domain, site.rate_limit)
    return site


def json_body() -> Any:
    return parse_json(request.get_data(cache=False))


# On an answer given while Redis was down (README: Outages).
DEGRADED = "X-Moderation-Degraded"


def _check(site: Site, items: list[Any], where: str) -> Response:
    comments = [
        parse_comment(item, f"{where}[{i}]." if where else "") for i, item in enumerate(items)
    ]
    stored = check_and_store(site, comments)
    answers = [item.answer() for item in stored]
    response = jsonify(results=answers) if where else jsonify(answers[0])
    if any(item.spooled for item in stored):
        response.headers[DEGRADED] = "storage"
    return response


def check_and_store(site: Site, comments: list[Comment]) -> list[Stored]:
    """Check comments, store them (or spool them), count them: what every
    checking route does, native or Akismet's."""
    svc = services()
    stored = save_or_spool(site.domain, svc.scorer.check(site, comments))
    svc.metrics.serving(svc.model.version)
    for item in stored:
        svc.metrics.checks.labels(item.record["verdict"], item.record["source"]).inc()
    return stored


def save_or_spool(domain: str, records: list[dict[str, Any]]) -> list[Stored]:
    """Store checked comments; while Redis is down, spool them to disk instead
    (the worker replays them) and answer as if stored - the answer is the same."""
    svc = services()
    try:
        stored = svc.comments.save_many(domain, records)
    except RedisUnavailable as exc:
        svc.spool.append(domain, records)
        svc.metrics.spooled.inc(len(records))
        log.warning("Redis unavailable (%s): %d checked comments spooled", exc, len(records))
        return [
            Stored(r, status_for(r["verdict"]), "check", created=True, spooled=True)
            for r in records
        ]
    try:
        svc.comments.weak_labels(domain, stored)
    except RedisUnavailable as exc:  # stored, answered; only Akismet's weak labels are lost
        log.warning("weak labels not recorded: %s", exc)
    return stored


@bp.post("/comments/check")
def check() -> Response:
    site = authenticated_site()
    return _check(site, [json_body()], "")


@bp.post("/comments/check-batch")
def check_batch() -> Response:
    site = authenticated_site()
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("comments"), list):
        raise ValidationError("must be a list of comment objects", field="comments")
    items = body["comments"]
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValidationError(f"must hold 1 to {MAX_BATCH} comments", field="comments")
    return _check(site, items, "comments")


@bp.get("/comments/<comment_id>")
def get_comment(comment_id: str) -> Response:
    site = authenticated_site()
    stored = services().comments.get(site.domain, parse_comment_id(comment_id))
    return jsonify(stored.answer())


@bp.post("/comments/<comment_id>/feedback")
def feedback(comment_id: str) -> Response:
    site = authenticated_site()
    comment_id = parse_comment_id(comment_id)
    body = json_body()
    label = body.get("label") if isinstance(body, dict) else None
    if label not in LABELS:
        raise ValidationError("must be spam or ham", field="label")
    svc = services()
    stored, changed = svc.comments.feedback(site.domain, comment_id, label)
    if changed:
        svc.campaigns.human(stored.record, label, time.time())
    return jsonify({**stored.answer(), "changed": changed})
