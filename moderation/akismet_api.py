"""Akismet's REST protocol, served by us: existing Akismet clients work by changing one URL.

Routes and answers follow Akismet's own (its OpenAPI spec and its clients):
form-encoded in, plain text out, HTTP 200 with a text body for every request
error (a bad key is ``invalid`` with an ``X-akismet-debug-help`` header; a
missing field is ``Missing required field: user_ip.``). The key is the
site's key, sent as ``api_key`` (or legacy ``key``). A ``review`` verdict
answers ``true``: held back as spam until a human approves it; our headers
``X-Moderation-Verdict``, ``-Score`` and ``-Model`` tell the whole answer.

One exception to "always 200": when our storage is down we cannot check a
comment at all, and say so with 503 and ``Retry-After`` (as the native API
does), so the client keeps the comment for a later retry instead of reading
a garbled answer.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request

from moderation import api
from moderation.akismet_protocol import (
    HAM_TEXT,
    INVALID_TEXT,
    SPAM_TEXT,
    THANKS,
    Form,
    comment_from_form,
    first,
    parse_form,
)
from moderation.comments import Stored
from moderation.errors import (
    ApiError,
    AuthError,
    RateLimited,
    RedisUnavailable,
    ValidationError,
)
from moderation.policy import HAM, SPAM
from moderation.services import services
from moderation.sites import Site

bp = Blueprint("akismet", __name__)
bp.before_request(api.start_timer)
bp.before_request(api.count_address)
bp.after_request(api.observe)

DEBUG_HELP = "X-akismet-debug-help"
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class _Refused(Exception):
    """A request Akismet would answer with a text body and a debug header."""

    def __init__(self, body: str, help_text: str) -> None:
        super().__init__(body)
        self.body = body
        self.help_text = help_text


def _text(body: str, status: int = 200, help_text: str = "") -> Response:
    response = Response(body, status=status, mimetype="text/plain")
    if help_text:
        response.headers[DEBUG_HELP] = help_text
    return response


@bp.errorhandler(_Refused)
def refused(exc: _Refused) -> Response:
    return _text(exc.body, help_text=exc.help_text)


@bp.errorhandler(ValidationError)
def invalid_field(exc: ValidationError) -> Response:
    where = f"{exc.field}: " if exc.field else ""
    return _text(f"Invalid value. {where}{exc.message}", help_text=where + exc.message)


@bp.errorhandler(RedisUnavailable)
def storage_down(exc: RedisUnavailable) -> Response:
    response = _text("Storage unavailable, retry shortly.", status=503)
    response.headers["Retry-After"] = "5"
    return response


@bp.errorhandler(RateLimited)
def rate_limited(exc: RateLimited) -> Response:
    # Not Akismet's 200-with-text: a client must retry later, not read an answer.
    response = _text(f"Rate limited: {exc.message}.", status=429, help_text=exc.message)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@bp.errorhandler(ApiError)
def other_error(exc: ApiError) -> Response:
    return _text(exc.message, help_text=exc.message)


def _params() -> Form:
    """The request's parameters: the form body and the query string together."""
    form = parse_form(request.get_data(cache=False)) if request.method == "POST" else {}
    for name, values in request.args.lists():
        form.setdefault(name, []).extend(values)
    return form


def _site(form: Form) -> Site:
    key = first(form, "api_key") or first(form, "key")
    if not key:
        raise _Refused(INVALID_TEXT, 'Empty "api_key" value')
    try:
        return api.site_of_key(key)
    except AuthError as exc:
        raise _Refused(INVALID_TEXT, f"Invalid API key ({exc.message}).") from None


def _require(form: Form, *names: str) -> None:
    for name in names:
        if not first(form, name):
            raise _Refused(f"Missing required field: {name}.", f'Empty "{name}" value')


@bp.route("/1.1/verify-key", methods=["POST"])
def verify_key() -> Response:
    form = _params()
    if not first(form, "blog"):
        return _text(INVALID_TEXT, help_text='Empty "blog" value')
    try:
        _site(form)
    except _Refused as exc:
        return _text(INVALID_TEXT, help_text=exc.help_text)
    return _text("valid")


@bp.route("/1.1/comment-check", methods=["POST"])
def comment_check() -> Response:
    form = _params()
    site = _site(form)
    _require(form, "blog", "user_ip")
    return _check_answer(api.check_and_store(site, [comment_from_form(form)])[0])


def _check_answer(stored: Stored) -> Response:
    record = stored.record
    response = _text(HAM_TEXT if record["verdict"] == HAM else SPAM_TEXT)
    response.headers["X-akismet-guid"] = record["guid"]
    if record["discard"]:
        response.headers["X-akismet-pro-tip"] = "discard"
    response.headers["X-Moderation-Verdict"] = record["verdict"]
    score = record["score"]
    response.headers["X-Moderation-Score"] = "none" if score is None else f"{score:.6f}"
    response.headers["X-Moderation-Model"] = record["model_version"] or "none"
    if stored.spooled:
        response.headers[api.DEGRADED] = "storage"
    return response


@bp.route("/1.1/submit-spam", methods=["POST"])
def submit_spam() -> Response:
    return _submit(SPAM)


@bp.route("/1.1/submit-ham", methods=["POST"])
def submit_ham() -> Response:
    return _submit(HAM)


def _submit(label: str) -> Response:
    """A blog's correction: the label of the stored check it matches (by the
    guid we gave, else by its text), or a label of its own when we never saw it."""
    form = _params()
    site = _site(form)
    comment = comment_from_form(form)
    svc = services()
    comment_id = svc.comments.find(site.domain, first(form, "guid"), comment.content)
    if comment_id is not None:
        stored, changed = svc.comments.feedback(site.domain, comment_id, label)
        if changed:
            svc.campaigns.human(stored.record, label, time.time())
    elif comment.content.strip():
        svc.comments.label_unchecked(site.domain, comment.fields(), label)
    return _text(THANKS)


@bp.route("/1.2/usage-limit", methods=["GET", "POST"])
def usage_limit() -> Response:
    site = _site(_params())
    month = datetime.now(UTC).strftime("%Y-%m")
    usage = services().comments.usage(site.domain, month)
    # No plan limit here (rate limits are per minute, not per month).
    body = {"limit": "none", "usage": usage.get("calls", 0), "percentage": "0.00",
            "throttled": False}  # fmt: skip
    return Response(json.dumps(body), mimetype="application/json")


@bp.route("/1.2/key-sites", methods=["GET", "POST"])
def key_sites() -> Response:
    form = _params()
    site = _site(form)
    month = first(form, "month") or datetime.now(UTC).strftime("%Y-%m")
    if not _MONTH_RE.match(month):
        raise ValidationError("must be YYYY-MM", field="month")
    limit = _int_param(form, "limit", 500)
    offset = _int_param(form, "offset", 0)
    usage = services().comments.usage(site.domain, month)
    rows = [_site_row(site, usage)]
    wanted = first(form, "filter").lower()
    rows = [r for r in rows if wanted in r["site"]]
    page = rows[offset : offset + limit]
    if first(form, "format").lower() == "csv":
        return Response(_csv(page, month, limit, offset, len(rows)), mimetype="text/csv")
    body = {month: page, "limit": limit, "offset": offset, "total": len(rows)}
    return Response(json.dumps(body), mimetype="application/json")


def _int_param(form: Form, name: str, default: int) -> int:
    raw = first(form, name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 100_000:
        raise ValidationError("must be a whole number up to 100000", field=name)
    return int(raw)


def _site_row(site: Site, usage: dict[str, int]) -> dict[str, Any]:
    # Akismet's view: "spam" is every check answered true - a held review too.
    return {
        "site": site.domain,
        "api_calls": usage.get("calls", 0),
        "spam": usage.get("spam", 0) + usage.get("review", 0),
        "ham": usage.get("ham", 0),
        "missed_spam": usage.get("missed_spam", 0),
        "false_positives": usage.get("false_positives", 0),
        "is_revoked": site.revoked,
    }


def _csv(rows: list[dict[str, Any]], month: str, limit: int, offset: int, total: int) -> str:
    out = io.StringIO()
    # The key itself is not echoed back (Akismet's header line shows it).
    out.write(
        f"Active sites for this key during {month} (limit:{limit}, offset: {offset},"
        f" total: {total})\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["Site", "Total API Calls", "Spam", "Ham", "Missed Spam", "False Positives", "Is Revoked"]
    )
    for r in rows:
        writer.writerow(
            [r["site"], r["api_calls"], r["spam"], r["ham"], r["missed_spam"],
             r["false_positives"], str(r["is_revoked"]).lower()]
        )  # fmt: skip
    return out.getvalue()
