"""Admin pages under ``/moderate/admin``: sites, moderators, models.

Only for admin moderators (403 otherwise). Every change is a POST form with
its CSRF token. A new site key or webhook secret is shown once, on the page
that made it, and never again (only its hash, or nothing, stays with us).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from moderation import model_store
from moderation.errors import ApiError, redis_errors
from moderation.moderators import Moderator
from moderation.services import services
from moderation.web import login_required, me

bp = Blueprint("admin", __name__, url_prefix="/moderate/admin")


def admin() -> Moderator:
    moderator = me()
    if not moderator.admin:
        abort(403)
    return moderator


def _render(template: str, **context: Any) -> str:
    return render_template(template, moderator=admin(), **context)


@bp.get("/sites")
@login_required
def sites() -> str:
    return _render("moderate/admin_sites.html", sites=services().sites.list())


@bp.post("/sites")
@login_required
def site_action() -> str | Response:
    admin()
    svc = services()
    action = request.form.get("action", "")
    domain = request.form.get("domain", "")
    shown: dict[str, str] = {}
    error = None
    try:
        if action == "create":
            shown = {"what": f"key of {domain}", "value": svc.sites.create(domain)}
        elif action == "rotate":
            shown = {"what": f"new key of {domain}", "value": svc.sites.rotate(domain)}
        elif action == "revoke":
            svc.sites.revoke(domain)
        elif action == "cutoffs":
            svc.sites.set_cutoffs(domain, _float("ham_below"), _float("spam_above"),
                                  reset=bool(request.form.get("reset")))  # fmt: skip
        elif action == "webhook":
            secret = svc.sites.set_webhook(domain, request.form.get("webhook", "").strip())
            if secret:
                shown = {"what": f"webhook secret of {domain}", "value": secret}
        elif action == "akismet":
            svc.sites.set_akismet(domain, enabled=request.form.get("enabled") == "on")
        else:
            abort(400)
    except ApiError as exc:
        error = f"{exc.field}: {exc.message}" if exc.field else exc.message
    if not shown and not error:
        return redirect(url_for("admin.sites"))
    return _render("moderate/admin_sites.html", sites=svc.sites.list(), shown=shown, error=error)


@bp.get("/moderators")
@login_required
def moderators() -> str:
    svc = services()
    return _render("moderate/admin_moderators.html", moderators=svc.moderators.list(),
                   sites=[s.domain for s in svc.sites.list()])  # fmt: skip


@bp.post("/moderators")
@login_required
def moderator_action() -> str | Response:
    me = admin()
    svc = services()
    action = request.form.get("action", "")
    name = request.form.get("username", "")
    sites = request.form.getlist("sites")
    is_admin = request.form.get("admin") == "on"
    error = None
    try:
        if action == "create":
            svc.moderators.create(name, request.form.get("password", ""), admin=is_admin,
                                  sites=sites)  # fmt: skip
        elif action == "access":
            svc.moderators.set_access(name, is_admin, sites)
        elif action == "disable":
            if name == me.name:
                raise ApiError("you cannot disable yourself", field="username")
            svc.moderators.disable(name)
        elif action == "enable":
            svc.moderators.enable(name)
        else:
            abort(400)
    except ApiError as exc:
        error = f"{exc.field}: {exc.message}" if exc.field else exc.message
    if not error:
        return redirect(url_for("admin.moderators"))
    return _render("moderate/admin_moderators.html", moderators=svc.moderators.list(),
                   sites=[s.domain for s in svc.sites.list()], error=error)  # fmt: skip


@bp.get("/models")
@login_required
def models() -> str:
    return _render("moderate/admin_models.html", models=_versions())


@bp.post("/models")
@login_required
def promote() -> Response:
    admin()
    svc = services()
    version = request.form.get("version", "")
    if version not in {m["version"] for m in _versions()}:
        abort(400)
    with redis_errors():  # a shared Redis: every node follows
        model_store.promote(svc.settings.models_dir, version, svc.models)
    svc.model.refresh()
    return redirect(url_for("admin.models"))


def _versions() -> list[dict[str, Any]]:
    from moderation.web import model_versions

    return model_versions()


def _float(name: str) -> float | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ApiError("must be a number between 0 and 1", field=name) from None
