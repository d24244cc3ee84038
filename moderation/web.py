"""The moderators' web pages under ``/moderate``: server-rendered, keyboard-first.

Jinja templates (autoescaped) and one small script, no build step. Login is
a session cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` whenever the
request came over TLS) over the same accounts as the JSON API; every POST -
forms and the script's requests alike - carries a CSRF token (Flask-WTF's
``CSRFProtect``; the token-authenticated APIs are exempt: no cookie, no
CSRF). Failed logins are limited per address and per name.

The queue page talks to ``/moderate/api/...``: the same queue operations as
the moderator JSON API, authenticated by the session. Every response gets a
Content-Security-Policy without inline script, and friends.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from moderation import charts
from moderation.comments import LABELS
from moderation.errors import (
    ApiError,
    AuthError,
    Conflict,
    NotFound,
    RateLimited,
    ValidationError,
)
from moderation.moderators import Moderator
from moderation.review_api import sites_of
from moderation.schema import parse_json
from moderation.services import services

bp = Blueprint("web", __name__, url_prefix="/moderate")
log = logging.getLogger(__name__)
csrf = CSRFProtect()
F = TypeVar("F", bound=Callable[..., Any])

CLAIM_BATCH = 20
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class _SessionInterface(SecureCookieSessionInterface):
    """``Secure`` on the cookie whenever the request itself was secure (TLS at
    a trusted proxy included), so plain-HTTP development still works."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # No cookie, nothing to verify: the API's requests (key or token, never
        # a cookie) skip building the signing serializer, 10% of a check.
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class() if app.secret_key else None
        return super().open_session(app, request)


def init_app(app: Flask, exempt: Iterable[Blueprint]) -> None:
    app.session_interface = _SessionInterface()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="moderation_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    csrf.init_app(app)
    for blueprint in exempt:
        csrf.exempt(blueprint)
    app.register_blueprint(bp)
    from moderation import admin_web

    app.register_blueprint(admin_web.bp)

    @app.after_request
    def security_headers(response: Response) -> Response:
        # One pass over the headers, not setdefault per header (a scan and a
        # KeyError each): this runs on every API answer.
        present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118 (pairs)
        response.headers.extend(
            [(k, v) for k, v in SECURITY_HEADERS.items() if k.lower() not in present]
        )
        return response


def _json_body() -> Any:
    """The request's JSON body, or None when there is none or it is not JSON
    we read (the forms that post these views fall back to form fields)."""
    if not request.is_json:
        return None
    try:
        return parse_json(request.get_data())
    except ValidationError:
        return None


def current() -> Moderator | None:
    name = session.get("moderator")
    if not name:
        return None
    try:
        moderator = services().moderators.get(name)
    except (NotFound, ValidationError):
        return None
    return None if moderator.disabled else moderator


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.moderator = current()  # read once per request; me() returns it
        if g.moderator is None:
            if request.path.startswith("/moderate/api/"):
                return jsonify(error={"code": "unauthorized", "message": "log in again"}), 401
            return redirect(url_for("web.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def me() -> Moderator:
    moderator: Moderator | None = g.get("moderator")
    if moderator is None:
        abort(401)
    return moderator


@bp.errorhandler(ApiError)
def page_api_error(exc: ApiError) -> tuple[Response, int]:
    """Errors of the page's own API calls, as JSON for its script."""
    body = {"code": exc.code, "message": exc.message, "field": exc.field}
    return jsonify(error=body), exc.status


# -- login


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        limits = services().limits
        try:
            limits.check_login(request.remote_addr, username)
        except RateLimited as exc:
            page = render_template("moderate/login.html", error="Too many attempts; wait a while.")
            return Response(page, status=429, headers={"Retry-After": str(exc.retry_after)})
        try:
            _, moderator = services().moderators.login(username, password)
        except (AuthError, ValidationError):
            limits.login_failed(request.remote_addr, username)
            error = "Wrong username or password."
        else:
            session.clear()
            session["moderator"] = moderator.name
            session.permanent = True
            target = request.args.get("next") or ""
            return redirect(target if target.startswith("/moderate") else url_for("web.queue"))
    status = 401 if error else 200
    return Response(render_template("moderate/login.html", error=error), status=status)


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("web.login"))


# -- pages


@bp.get("/")
@login_required
def queue() -> str:
    moderator = me()
    svc = services()
    sites = sites_of(moderator)
    return render_template(
        "moderate/queue.html",
        moderator=moderator,
        depth=svc.review.depth(sites),
        undo_seconds=svc.settings.undo_seconds,
        lease_seconds=svc.settings.review_lease_seconds,
    )


@bp.get("/history")
@login_required
def history() -> str:
    moderator = me()
    svc = services()
    site = request.args.get("site") or None
    who = request.args.get("moderator") or None
    sites = [site] if site and moderator.may_see(site) else sites_of(moderator)
    events = svc.review.history(sites, 500)
    if who:
        events = [e for e in events if e.get("moderator") == who]
    now = time.time()
    undone = {e.get("retracts") for e in events if e.get("type") == "undo"}
    for event in events:
        event["when"] = _when(event.get("at"))
        event["undoable"] = (
            event.get("type") == "decision"
            and event["event"] not in undone
            and now - float(event.get("at") or 0) <= svc.settings.undo_seconds
            and (event.get("moderator") == moderator.name or moderator.admin)
        )
    moderators = sorted({e.get("moderator", "") for e in events if e.get("moderator")})
    return render_template(
        "moderate/history.html",
        moderator=moderator,
        events=events[:200],
        sites=sites_of(moderator),
        site=site,
        who=who,
        moderators=moderators,
    )


@bp.post("/history/undo")
@login_required
def history_undo() -> Any:
    moderator = me()
    item = request.form.get("review_id") or ""
    # If it cannot be undone (any more), the page shows the item as it is now.
    with contextlib.suppress(Conflict, NotFound, ValidationError):
        services().review.undo(moderator, item, services().settings.undo_seconds)
    return redirect(url_for("web.history"))


@bp.get("/dashboard")
@login_required
def dashboard() -> str:
    moderator = me()
    svc = services()
    sites = sites_of(moderator)
    depth = svc.review.depth(sites)
    days = [(datetime.now(UTC) - timedelta(days=d)).strftime("%Y-%m-%d") for d in range(13, -1, -1)]
    daily = svc.comments.daily(sites, days)
    events = svc.review.history(sites, 2000)
    decisions = [e for e in events if e.get("type") == "decision"]
    waits = [float(e["at"]) - float(e["queued_at"]) for e in decisions if e.get("queued_at")]
    leaning = [e for e in decisions if e.get("score") not in (None, "")]
    agree = sum((float(e["score"]) >= 0.5) == (e["label"] == "spam") for e in leaning)
    checks = sum(
        sum(v for k, v in d.items() if k in ("ham", "spam", "review")) for d in daily.values()
    )
    akismet_calls = sum(d.get("akismet_calls", 0) for d in daily.values())
    by_source = {
        day: {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("source:")}
        for day, counts in daily.items()
    }
    for event in decisions:  # people decide too: the queue's decisions by day
        day = _when(event.get("at"))[:10]
        if day in by_source:
            by_source[day]["human"] = by_source[day].get("human", 0) + 1
    in_minutes = bool(waits) and (_median(waits) or 0) >= 60
    return render_template(
        "moderate/dashboard.html",
        moderator=moderator,
        depth_chart=charts.bars(list(depth.items()), "comments waiting"),
        verdict_chart=charts.stacked(days, daily, ("ham", "spam", "review"), "checks per day"),
        source_chart=charts.stacked(
            days, by_source, ("model", "akismet", "rules", "human"), "decided by"
        ),
        wait_chart=charts.histogram(
            waits,
            "time in queue (" + ("minutes" if in_minutes else "seconds") + ")",
            scale=60 if in_minutes else 1,
        ),
        decisions=len(decisions),
        agreement=(agree / len(leaning)) if leaning else None,
        checks=checks,
        akismet_saved=max(0, checks - akismet_calls),
        median_wait=_median(waits),
        models=model_versions(),
    )


# -- the queue page's API (session + CSRF header)


@bp.post("/api/claim")
@login_required
def api_claim() -> Response:
    moderator = me()
    svc = services()
    body = _json_body() or {}
    site = body.get("site") or None
    sites = [site] if site and moderator.may_see(site) else sites_of(moderator)
    svc.review.claim(moderator, sites, CLAIM_BATCH, svc.settings.review_lease_seconds)
    items = [i for i in svc.review.items(sites, 500) if i["claimed_by"] == moderator.name]
    for item in items:
        # Moderators see a keyed hash of the IP (enough to spot repeats), and
        # its network when the deployment keeps it (IP_PREFIX), never the IP.
        fields = item["fields"]
        ip = fields.pop("user_ip", None)  # stored by a version that kept it
        hashed = fields.pop("user_ip_hash", None) or (
            svc.scorer.velocity.hashed(ip) if ip else None
        )
        item["ip_hash"] = hashed[:12] if hashed else None
        item["ip_prefix"] = fields.pop("user_ip_prefix", None)
    return jsonify(items=items, depth=svc.review.depth(sites_of(moderator)))


@bp.post("/api/renew")
@login_required
def api_renew() -> Response:
    svc = services()
    ids = _ids(_json_body() or {})
    return jsonify(renewed=svc.review.renew(me(), ids, svc.settings.review_lease_seconds))


@bp.post("/api/release")
@login_required
def api_release() -> Response:
    body = _json_body() or {"ids": request.form.getlist("ids")}
    return jsonify(released=services().review.release(me(), _ids(body)))


@bp.post("/api/decide")
@login_required
def api_decide() -> Response:
    body = _json_body() or {}
    label = body.get("label")
    if label not in LABELS:
        raise ValidationError("must be ham or spam", field="label")
    return jsonify(results=services().review.decide_each(me(), _ids(body), str(label)))


@bp.post("/api/decide-cluster")
@login_required
def api_decide_cluster() -> Response:
    body = _json_body() or {}
    label, cluster = body.get("label"), str(body.get("cluster") or "")
    if label not in LABELS:
        raise ValidationError("must be ham or spam", field="label")
    svc = services()
    results = svc.review.decide_cluster(me(), cluster, str(label), "", svc.settings.undo_seconds)
    return jsonify(results=results)


@bp.post("/api/undo")
@login_required
def api_undo() -> Response:
    svc = services()
    undone = []
    for item in _ids(_json_body() or {}):
        try:
            svc.review.undo(me(), item, svc.settings.undo_seconds)
            undone.append(item)
        except (Conflict, NotFound, ValidationError):
            continue
    return jsonify(undone=undone)


def _ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ValidationError("must be a list of review ids", field="ids")
    return ids[:500]


def _when(at: Any) -> str:
    try:
        return datetime.fromtimestamp(float(at), UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return ""


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def model_versions() -> list[dict[str, Any]]:
    """The newest model versions with their out-of-fold metrics, newest first."""
    from training import artifact

    svc = services()
    root = svc.settings.models_dir
    current_version = svc.model.version
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for path in sorted(root.iterdir(), reverse=True)[:20]:
        try:
            manifest = artifact.read_manifest(root, path.name)
        except Exception as exc:  # not a model directory, or an unreadable one
            log.debug("dashboard: skipped %s: %s", path.name, exc)
            continue
        metrics = manifest.get("metrics", {}).get("out_of_fold", {})
        out.append({"version": path.name, "current": path.name == current_version,
                    "mcc": metrics.get("mcc"), "roc_auc": metrics.get("roc_auc"),
                    "created": manifest.get("created_at", "")})  # fmt: skip
    return out
