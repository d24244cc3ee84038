"""The comment as the API accepts it: one field table, used to validate and to document.

:func:`parse_comment` turns untrusted JSON into a :class:`Comment` or raises a
:class:`ValidationError` naming the field. ``openapi.py`` renders the same
table, so the published schema cannot drift from what the code accepts.
Unknown fields are ignored (clients may send more than we use).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any

from moderation.errors import ValidationError

MAX_BATCH = 1000
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
# An id may also be a JSON number: a whole one, in a signed 64-bit column.
MAX_INT_ID = 2**63 - 1
# C0 controls but tab, newline and carriage return; DEL; C1 controls. NUL has
# its own message. Comment text has no use for them, and terminals and logs
# interpret some. Regex text, shared with the OpenAPI document.
CONTROLS = r"\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# What str.strip() removes (str.isspace): content of only these is empty.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CONTROL_RE = re.compile(f"[{CONTROLS}]")
_ID_RE = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # "string", "id", "ip", "datetime", "boolean"
    max_length: int
    description: str


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("id", "id", 128, "The site's own comment id; repeats are idempotent"),
    FieldSpec("content", "string", 65536, "The comment text (HTML allowed); required"),
    FieldSpec("author", "string", 256, "Display name the commenter gave"),
    FieldSpec("author_email", "string", 320, "E-mail the commenter gave"),
    FieldSpec("author_url", "string", 2048, "Website the commenter gave"),
    FieldSpec("user_ip", "ip", 45, "Commenter's IP address (v4 or v6)"),
    FieldSpec("user_agent", "string", 1024, "Commenter's User-Agent header"),
    FieldSpec("referrer", "string", 2048, "Commenter's Referer header"),
    FieldSpec("permalink", "string", 2048, "URL of the post commented on"),
    FieldSpec("comment_type", "string", 32, "comment, reply, trackback, pingback, ..."),
    FieldSpec("lang", "string", 35, "Language(s) of the site, e.g. en or en, de"),
    FieldSpec("created_at", "datetime", 64, "When the comment was written (ISO 8601)"),
    FieldSpec("parent_id", "id", 128, "Id of the comment this one replies to"),
    FieldSpec("honeypot", "string", 1024, "Value of the site's hidden form field"),
    FieldSpec("is_test", "boolean", 0, "Test traffic: scored, never used as a label"),
    FieldSpec("user_role", "string", 256, "Commenter's roles on the site, comma-separated"),
    FieldSpec("post_modified_at", "datetime", 64, "When the post was last changed (ISO 8601)"),
    FieldSpec("context", "string", 1024, "Tags or categories of the post, comma-separated"),
    FieldSpec("recheck_reason", "string", 64, "Why a comment is checked again (edit, ...)"),
)
FIELD_NAMES = tuple(spec.name for spec in FIELDS)


@dataclass(frozen=True, slots=True)
class Comment:
    content: str
    id: str | None = None
    author: str | None = None
    author_email: str | None = None
    author_url: str | None = None
    user_ip: str | None = None
    user_agent: str | None = None
    referrer: str | None = None
    permalink: str | None = None
    comment_type: str | None = None
    lang: str | None = None
    created_at: str | None = None
    parent_id: str | None = None
    honeypot: str | None = None
    is_test: bool = False
    user_role: str | None = None
    post_modified_at: str | None = None
    context: str | None = None
    recheck_reason: str | None = None

    def roles(self) -> set[str]:
        return {r.strip().lower() for r in (self.user_role or "").split(",") if r.strip()}

    def fields(self) -> dict[str, Any]:
        """The fields that were given (None and False left out), for storage."""
        # Not asdict(): it deep-copies every value, 70 us a check.
        return {k: v for k in _FIELD_NAMES if (v := getattr(self, k)) not in (None, False)}


_FIELD_NAMES = tuple(f.name for f in dataclass_fields(Comment))


def parse_comment(data: Any, where: str = "", require_content: bool = True) -> Comment:
    """Validate one JSON object; ``where`` prefixes field names (``comments[3].``).

    ``require_content=False`` is for the Akismet protocol, where an empty
    comment (a pingback, say) is legal and is checked like any other."""
    if not isinstance(data, dict):
        raise ValidationError("must be a JSON object", field=where.rstrip(".") or None)
    values: dict[str, Any] = {}
    for spec in FIELDS:
        raw = data.get(spec.name)
        if raw is None:
            continue
        values[spec.name] = _parse_field(spec, raw, where + spec.name)
    if "content" not in values:
        if require_content:
            raise ValidationError("is required", field=where + "content")
        values["content"] = ""
    return Comment(**values)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                # Two values for one field: which one would we have checked?
                raise ValidationError("appears twice in one JSON object", field=key)
            seen.add(key)
    return out


def strip_controls(text: str) -> str:
    """The text without the control characters the native API refuses."""
    return _CONTROL_RE.sub("", text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """A request body as JSON, or ValidationError saying what is wrong with it:
    not UTF-8, not JSON, numbers beyond what can be read, a key twice in one
    object, nesting deep enough to exhaust the parser."""
    if not raw:
        raise ValidationError("the request body must be a JSON document")
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ValidationError("the request body must be UTF-8") from None
    except RecursionError:
        raise ValidationError("the request body is nested too deeply") from None
    except ValueError as exc:
        raise ValidationError(f"the request body is not valid JSON: {exc}") from None


def parse_comment_id(raw: str) -> str:
    """A comment id taken from a URL path."""
    if not _ID_RE.fullmatch(raw):
        raise ValidationError("must be 1-128 of A-Z a-z 0-9 . _ : -", field="id")
    return raw


def _parse_field(spec: FieldSpec, raw: Any, name: str) -> Any:
    if spec.kind == "boolean":
        if not isinstance(raw, bool):
            raise ValidationError("must be true or false", field=name)
        return raw
    if spec.kind == "id" and isinstance(raw, int | float) and not isinstance(raw, bool):
        # JSON has one number type: 7 and 7.0 are the same whole number.
        whole = isinstance(raw, int) or raw.is_integer()
        if not (whole and 0 <= raw <= MAX_INT_ID):
            raise ValidationError(f"must be a whole number from 0 to {MAX_INT_ID}", field=name)
        raw = str(int(raw))
    if not isinstance(raw, str):
        raise ValidationError("must be a string", field=name)
    if len(raw) > spec.max_length:
        raise ValidationError(f"must be at most {spec.max_length} characters", field=name)
    if "\x00" in raw:
        raise ValidationError("must not contain NUL characters", field=name)
    if _CONTROL_RE.search(raw):
        raise ValidationError(
            "must not contain control characters (tab, newline and carriage return are fine)",
            field=name,
        )
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("must be valid Unicode (no lone surrogates)", field=name) from None
    return _KIND_CHECKS[spec.kind](raw, name)


def _check_string(raw: str, name: str) -> str:
    if name.endswith("content") and not raw.strip():
        raise ValidationError("must not be empty", field=name)
    return raw


def _check_id(raw: str, name: str) -> str:
    if not _ID_RE.fullmatch(raw):
        raise ValidationError("must be 1-128 of A-Z a-z 0-9 . _ : -", field=name)
    return raw


def _check_ip(raw: str, name: str) -> str:
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        raise ValidationError("must be an IPv4 or IPv6 address", field=name) from None


def _check_datetime(raw: str, name: str) -> str:
    try:
        datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("must be an ISO 8601 date-time", field=name) from None
    return raw.strip()


_KIND_CHECKS = {
    "string": _check_string,
    "id": _check_id,
    "ip": _check_ip,
    "datetime": _check_datetime,
}
