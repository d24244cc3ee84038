"""The moderators' JSON API: log in, list the queue, claim, decide, undo, read the log.

Authentication: ``POST /api/v1/auth/login`` gives a token (``mt_...``), sent
as ``Authorization: Bearer <token>`` on every other route here. A moderator
sees only their sites (an admin, all of them); an item of another site does
not exist for them (404).

Queue items are addressed as ``<site>:<comment id>`` (the check answer's
``review_id``). The queue is listed oldest first.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from moderation.api import bearer_token, count_address, json_body, observe, start_timer
from moderation.comments import LABELS
from moderation.errors import AuthError, ValidationError
from moderation.moderators import Moderator
from moderation.services import services

bp = Blueprint("review", __name__, url_prefix="/api/v1")
bp.before_request(start_timer)
bp.before_request(count_address)
bp.after_request(observe)

MAX_LIMIT = 500
MAX_NOTE = 1000
# A stream entry id; up to 19 digits a part always fits Redis's unsigned 64 bits.
EVENT_ID_PATTERN = r"^[0-9]{1,19}(-[0-9]{1,19})?$"
EVENT_ID_RE = re.compile(EVENT_ID_PATTERN)


_LOG_IN = "log in at /api/v1/auth/login and send Authorization: Bearer <token>"


def moderator() -> Moderator:
    return services().moderators.authenticate(bearer_token(_LOG_IN))


def _object() -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    return body


def _limit(raw: Any, default: int) -> int:
    """A page size from a JSON body: a whole number, or null for ``default``."""
    if raw is None:
        return default
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # JSON has one number type: 7.0 is 7
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_LIMIT:
        raise ValidationError(f"must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    return raw


def _query_limit(default: int) -> int:
    """A page size from the query string; absent or empty, ``default``."""
    raw = request.args.get("limit") or None
    if raw is not None and raw.isascii() and raw.isdigit() and len(raw) <= 9:
        return _limit(int(raw), default)
    return _limit(raw, default)


def sites_of(mod: Moderator, wanted: str | None = None) -> list[str]:
    """The sites this request covers: the one asked for, or all the moderator may see."""
    svc = services()
    if wanted:
        if not mod.may_see(wanted):
            raise ValidationError("is not one of your sites", field="site")
        return [wanted]
    if mod.admin:
        return [s.domain for s in svc.sites.list()]
    return sorted(mod.sites)


def _label(body: dict[str, Any]) -> str:
    label = body.get("label")
    if label not in LABELS:
        raise ValidationError("must be ham or spam", field="label")
    return str(label)


def _note(body: dict[str, Any]) -> str:
    note = body.get("note")
    if note is None:
        return ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ValidationError(f"must be text of at most {MAX_NOTE} characters", field="note")
    return note


def _ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("ids")
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= MAX_LIMIT
        or not all(isinstance(i, str) and 0 < len(i) < 400 for i in ids)
    ):
        raise ValidationError(f"must be a list of 1 to {MAX_LIMIT} review ids", field="ids")
    return ids


@bp.post("/auth/login")
def login() -> Response:
    body = _object()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username:
        raise ValidationError("is required", field="username")
    if not isinstance(password, str) or not password:
        raise ValidationError("is required", field="password")
    svc = services()
    svc.limits.check_login(request.remote_addr, username)
    try:
        token, mod = svc.moderators.login(username, password)
    except AuthError:
        svc.limits.login_failed(request.remote_addr, username)
        raise
    return jsonify(
        token=token,
        expires_in=svc.settings.moderator_token_seconds,
        username=mod.name,
        admin=mod.admin,
        sites=sorted(mod.sites),
    )


@bp.post("/auth/logout")
def logout() -> Response:
    moderator()
    services().moderators.logout(bearer_token(_LOG_IN))
    return jsonify(ok=True)


@bp.get("/review")
def list_queue() -> Response:
    mod = moderator()
    status = request.args.get("status", "pending")
    if status != "pending":
        raise ValidationError("only pending is listed (the history has the rest)", field="status")
    limit = _query_limit(50)
    sites = sites_of(mod, request.args.get("site"))
    after = _cursor(request.args.get("cursor"))
    svc = services()
    items = svc.review.items(sites, limit, after)
    cursor = None
    if len(items) == limit:
        last = items[-1]
        cursor = _encode_cursor(last["queued_at"], last["site"], last["id"])
    return jsonify(items=items, next_cursor=cursor, depth=svc.review.depth(sites))


@bp.post("/review/claim")
def claim() -> Response:
    mod = moderator()
    body = _object()
    limit = _limit(body.get("limit"), 10)
    site = body.get("site")
    if site is not None and not isinstance(site, str):
        raise ValidationError("must be a site domain", field="site")
    svc = services()
    lease = svc.settings.review_lease_seconds
    ids = svc.review.claim(mod, sites_of(mod, site), limit, lease)
    svc.metrics.claims.inc(len(ids))
    return jsonify(claimed=ids, lease_seconds=lease)


@bp.post("/review/renew")
def renew() -> Response:
    mod = moderator()
    svc = services()
    lease = svc.settings.review_lease_seconds
    return jsonify(renewed=svc.review.renew(mod, _ids(_object()), lease), lease_seconds=lease)


@bp.post("/review/release")
def release() -> Response:
    mod = moderator()
    return jsonify(released=services().review.release(mod, _ids(_object())))


@bp.post("/review/<path:item>/decision")
def decide(item: str) -> Response:
    mod = moderator()
    body = _object()
    decided = services().review.decide(mod, item, _label(body), _note(body))
    return jsonify(review_id=decided.review_id, label=decided.label, changed=decided.changed)


@bp.post("/review/decisions")
def decide_many() -> Response:
    """Bulk: each item is decided on its own; one refused (claimed by another,
    missing) does not stop the rest, and the answer says which."""
    mod = moderator()
    body = _object()
    results = services().review.decide_each(mod, _ids(body), _label(body), _note(body))
    return jsonify(results=results)


@bp.post("/review/clusters/<cluster_id>/decision")
def decide_cluster(cluster_id: str) -> Response:
    """Every pending member of a campaign cluster, in one action."""
    mod = moderator()
    _check_cluster_id(cluster_id)
    body = _object()
    svc = services()
    results = svc.review.decide_cluster(
        mod, cluster_id, _label(body), _note(body), svc.settings.undo_seconds
    )
    return jsonify(cluster_id=cluster_id, results=results)


@bp.post("/review/clusters/<cluster_id>/undo")
def undo_cluster(cluster_id: str) -> Response:
    mod = moderator()
    _check_cluster_id(cluster_id)
    svc = services()
    undone = svc.review.undo_cluster(mod, cluster_id, svc.settings.undo_seconds)
    svc.metrics.undos.inc(len(undone))
    return jsonify(cluster_id=cluster_id, undone=undone)


def _check_cluster_id(raw: str) -> None:
    if not (0 < len(raw) <= 32 and all(c in "0123456789abcdef" for c in raw)):
        raise ValidationError("is not a cluster id", field="cluster_id")


@bp.post("/review/<path:item>/undo")
def undo(item: str) -> Response:
    mod = moderator()
    svc = services()
    event = svc.review.undo(mod, item, svc.settings.undo_seconds)
    svc.metrics.undos.inc()
    return jsonify(review_id=item, undone=True, event=event)


@bp.get("/review/history")
def history() -> Response:
    mod = moderator()
    limit = _query_limit(100)
    before = request.args.get("before") or None
    if before is not None and not _is_event_id(before):
        raise ValidationError("must be an event id from an earlier page", field="before")
    events = services().review.history(sites_of(mod, request.args.get("site")), limit, before)
    return jsonify(events=events)


def _encode_cursor(queued_at: float, site: str, comment_id: str) -> str:
    raw = json.dumps([queued_at, site, comment_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(raw: str | None) -> tuple[float, str, str] | None:
    if not raw:
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        queued_at, site, comment_id = json.loads(base64.urlsafe_b64decode(padded))
        return float(queued_at), str(site), str(comment_id)
    except (ValueError, TypeError):
        raise ValidationError("is not a cursor from an earlier page", field="cursor") from None


def _is_event_id(raw: str) -> bool:
    """``<ms>`` or ``<ms>-<seq>``, each part fitting Redis's 64 bits."""
    return EVENT_ID_RE.fullmatch(raw) is not None
