"""Akismet's wire format, both ways: its form fields to our comment, and back.

One table maps Akismet's parameter names to our field names; the endpoint
that speaks Akismet (``akismet_api``) reads a form with it, and the client
that asks Akismet (``akismet_client``) writes one with it, so the two cannot
disagree on what a field means.

Akismet's rules followed here: form-encoded in, plain text out; empty values
count as absent (WordPress sends every field, filled or not); unknown fields
are ignored; ``comment_date_gmt`` may be ISO 8601 or ``YYYY-MM-DD HH:MM:SS``;
``is_test`` is ``1`` or ``true``; ``honeypot_field_name`` names another field
whose value is the honeypot; ``comment_context[]`` repeats.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from moderation.errors import ValidationError
from moderation.schema import Comment, parse_comment, strip_controls

THANKS = "Thanks for making the web a better place."
SPAM_TEXT, HAM_TEXT, INVALID_TEXT = "true", "false", "invalid"

# Akismet parameter -> our field (the comment's own fields; keys and flags apart).
FIELD_MAP: dict[str, str] = {
    "comment_content": "content",
    "comment_author": "author",
    "comment_author_email": "author_email",
    "comment_author_url": "author_url",
    "user_ip": "user_ip",
    "user_agent": "user_agent",
    "referrer": "referrer",
    "permalink": "permalink",
    "comment_type": "comment_type",
    "blog_lang": "lang",
    "comment_date_gmt": "created_at",
    "comment_post_modified_gmt": "post_modified_at",
    "comment_parent": "parent_id",
    "user_role": "user_role",
    "recheck_reason": "recheck_reason",
}
AKISMET_NAME = {ours: theirs for theirs, ours in FIELD_MAP.items()}
_DATES = ("comment_date_gmt", "comment_post_modified_gmt")
_TRUE = ("1", "true", "yes", "on")
MAX_FIELDS = 500  # WordPress sends its headers and form too; more is not a comment

Form = dict[str, list[str]]


def parse_form(raw: bytes) -> Form:
    """A form body as lists of values, decoded in the blog's own charset.

    The body is split on ``&``/``=`` as bytes first (those are ASCII in every
    charset a blog uses), then decoded with ``blog_charset`` when it names a
    codec Python knows - a Latin-1 blog's comment arrives intact - else UTF-8,
    with undecodable bytes replaced rather than refused."""
    # Latin-1 maps each byte to one character, so nothing is lost before the
    # real charset is known.
    text = raw.decode("latin-1")
    pairs = parse_qsl(text, keep_blank_values=True, encoding="latin-1", max_num_fields=MAX_FIELDS)
    charset = "utf-8"
    for key, value in pairs:
        if key == "blog_charset":
            charset = _codec(value) or charset
    form: Form = {}
    for key, value in pairs:
        name = key.encode("latin-1").decode(charset, "replace")
        form.setdefault(name, []).append(value.encode("latin-1").decode(charset, "replace"))
    return form


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        return None


def first(form: Mapping[str, list[str]], name: str) -> str:
    """The first value of a field, stripped; "" when absent."""
    values = form.get(name) or [""]
    return values[0].strip()


def comment_from_form(form: Mapping[str, list[str]]) -> Comment:
    """Our comment from an Akismet form; a bad value raises ValidationError
    naming the Akismet field."""
    data: dict[str, Any] = {}
    for theirs, ours in FIELD_MAP.items():
        value = first(form, theirs)
        if not value:
            continue
        if theirs == "comment_content":
            value = (form.get(theirs) or [""])[0]  # content keeps its whitespace
        if theirs in _DATES:
            value = parse_gmt(value, theirs)
        data[ours] = value
    if first(form, "is_test").lower() in _TRUE:
        data["is_test"] = True
    honeypot_field = first(form, "honeypot_field_name")
    if honeypot_field and first(form, honeypot_field):
        data["honeypot"] = first(form, honeypot_field)
    context = [
        v.strip() for v in form.get("comment_context[]", []) + form.get("comment_context", [])
    ]
    if any(context):
        data["context"] = ", ".join(v for v in context if v)
    # An Akismet client cannot be asked to fix its input (Akismet takes
    # anything): control characters are dropped here, where the native API
    # answers 400.
    data = {k: strip_controls(v) if isinstance(v, str) else v for k, v in data.items()}
    try:
        return parse_comment(data, require_content=False)
    except ValidationError as exc:
        name = AKISMET_NAME.get(exc.field or "", exc.field)
        raise ValidationError(exc.message, field=name) from None


def parse_gmt(raw: str, name: str) -> str:
    """``2026-11-25 10:00:00`` or ISO 8601 (GMT when no offset) -> ISO 8601 with offset."""
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("must be ISO 8601 or YYYY-MM-DD HH:MM:SS (GMT)", field=name) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.isoformat()


def form_from_fields(fields: Mapping[str, Any], key: str, blog: str) -> dict[str, str]:
    """The Akismet form for one of our stored comments (the fallback's request)."""
    form = {"api_key": key, "blog": blog}
    for ours, value in fields.items():
        theirs = AKISMET_NAME.get(ours)
        if theirs is not None and value not in (None, ""):
            form[theirs] = str(value)
    if fields.get("is_test"):
        form["is_test"] = "1"
    # Akismet requires user_ip; a site that did not send one gets a neutral
    # placeholder rather than no check at all.
    form.setdefault("user_ip", "127.0.0.1")
    return form
