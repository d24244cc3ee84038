"""The OpenAPI 3 document of the JSON API under /api/v1, built from the same
tables the code uses: the blogs' API (site key) and the moderators' (token).

It is exact, and held to it: ``make fuzz`` runs schemathesis against the
served document - every documented status, header, content type and schema
of every operation, and no input it forbids accepted or input it allows
refused. The Akismet-compatible form API has Akismet's own documentation.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from moderation.api import DEGRADED
from moderation.comments import LABELS
from moderation.policy import VERDICTS
from moderation.review_api import EVENT_ID_PATTERN, MAX_LIMIT, MAX_NOTE
from moderation.schema import (
    CONTROLS,
    FIELDS,
    ID_PATTERN,
    MAX_BATCH,
    MAX_INT_ID,
    WHITESPACE,
    FieldSpec,
)

Schema = dict[str, Any]
# A queue item is "<site>:<comment id>" (a domain has no colon).
REVIEW_ID_PATTERN = r"^[^:]+:[\s\S]"
CLUSTER_ID_PATTERN = r"^[0-9a-f]{1,32}$"


# Text fields refuse NUL and control characters; content must not be blank.
TEXT_PATTERN = f"^[^\\x00{CONTROLS}]*$"
CONTENT_PATTERN = f"^[^\\x00{CONTROLS}]*[^\\x00{CONTROLS}{WHITESPACE}][^\\x00{CONTROLS}]*$"


def _field_schema(spec: FieldSpec) -> Schema:
    """A comment field; null is the same as leaving it out (but for content)."""
    if spec.kind == "boolean":
        return {"type": ["boolean", "null"], "description": spec.description}
    if spec.kind == "id":
        text = {"type": "string", "pattern": ID_PATTERN}
        number = {"type": "integer", "minimum": 0, "maximum": MAX_INT_ID}
        return {"oneOf": [text, number, {"type": "null"}], "description": spec.description}
    schema: Schema = {"type": ["string", "null"], "maxLength": spec.max_length,
                      "pattern": TEXT_PATTERN, "description": spec.description}  # fmt: skip
    if spec.kind == "ip":
        schema = {"anyOf": [{"type": "string", "format": "ipv4"},
                            {"type": "string", "format": "ipv6"}, {"type": "null"}],
                  "description": spec.description}  # fmt: skip
    if spec.kind == "datetime":
        schema["format"] = "date-time"
    if spec.name == "content":
        schema.update(type="string", minLength=1, pattern=CONTENT_PATTERN)
    return schema


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: list[str], **properties: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


def _error(description: str, headers: dict[str, str] | None = None) -> Schema:
    response: Schema = {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "required": True, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


def _ok(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _checked(schema: Schema, description: str = "OK") -> Schema:
    """A check's answer: with a header when it was made while Redis was down."""
    degraded = {
        "description": "storage: Redis was down; the check was spooled and made without"
        " campaign, velocity and Akismet state (README: Outages)",
        "required": False,
        "schema": {"type": "string", "enum": ["storage"]},
    }
    return {**_ok(schema, description), "headers": {DEGRADED: degraded}}


def _body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _error("Invalid input; error.field names the field"),
    "401": _error(
        "Missing, unknown or revoked credential",
        {"WWW-Authenticate": 'Bearer realm="moderation"'},
    ),
    "413": _error("Body larger than MAX_BODY_BYTES"),
    # gunicorn answers this itself, before the app: its page, not our JSON.
    "414": {
        "description": "Request line longer than gunicorn's limit_request_line (4094 bytes)",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    "429": _error(
        "Over a rate limit (RATE_LIMIT_IP, RATE_LIMIT_SITE; failed logins: RATE_LIMIT_LOGIN)",
        {"Retry-After": "seconds until a request is counted again"},
    ),
    "503": _error("Redis unavailable; retry after Retry-After seconds", {"Retry-After": "seconds"}),
}
_NOT_FOUND = {"404": _error("No such comment or queue item (or not one of your sites)")}
_CONFLICT = {"409": _error("Claimed by another moderator, or nothing (any more) to undo")}


def _path(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _post(summary: str, body: Schema | None, ok: Schema, *extra: dict[str, Schema]) -> Schema:
    operation: Schema = {"summary": summary, "responses": {"200": ok, **_ERRORS}}
    for responses in extra:
        operation["responses"].update(responses)
    if body is not None:
        operation["requestBody"] = _body(body)
    return operation


_COMMENT_ID = _path("comment_id", {"type": "string", "pattern": ID_PATTERN})
_REVIEW_ID = _path("review_id", {"type": "string", "pattern": REVIEW_ID_PATTERN})
_CLUSTER_ID = _path("cluster_id", {"type": "string", "pattern": CLUSTER_ID_PATTERN})
_LIMIT = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_LIMIT}
# In a query string, an empty value is the same as none.
_QUERY_LIMIT = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, {"const": ""}]}
_IDS: Schema = {"type": "array", "minItems": 1, "maxItems": MAX_LIMIT,
        "items": {"type": "string", "minLength": 1, "maxLength": 399}}  # fmt: skip
# Renewing and releasing refuse an id that is not "<site>:<comment id>";
# bulk decisions report it per item instead.
_REVIEW_IDS = {**_IDS, "items": {**_IDS["items"], "pattern": REVIEW_ID_PATTERN}}
_LABEL = {"enum": list(LABELS)}
_NOTE = {"type": ["string", "null"], "maxLength": MAX_NOTE}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}


def _schemas() -> dict[str, Schema]:
    score = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
    reason = _object(["code", "detail"], code={"type": "string"}, detail={"type": "string"},
                     weight={"type": "number"})  # fmt: skip
    akismet = {
        **_object(["answer", "detail"], answer={"type": "string"}, detail={"type": "string"},
                  latency_ms={"type": "number"}),
        "description": "Akismet's answer, when it was asked",
    }  # fmt: skip
    result = _object(
        ["id", "verdict", "score", "discard", "source", "model_version", "reasons", "status",
         "status_source", "checked_at"],
        id={"type": "string"},
        verdict={"enum": list(VERDICTS)},
        score={**score, "description": "Calibrated P(spam)"},
        discard={"type": "boolean"},
        source={"enum": ["rules", "model", "akismet"]},
        model_version=_STRING_OR_NULL,
        reasons={"type": "array", "minItems": 1, "items": _ref("Reason")},
        review_id={"type": "string"},
        status={"enum": ["ham", "spam", "pending"]},
        status_source={"enum": ["check", "feedback", "moderator"]},
        checked_at={"type": "string", "format": "date-time"},
        changed={"type": "boolean"},
        akismet=akismet,
        decided_by=_STRING_OR_NULL,
        decided_at={"type": "string", "format": "date-time"},
    )  # fmt: skip
    item = _object(
        ["review_id", "site", "id", "fields", "score", "verdict", "reasons", "akismet",
         "model_version", "checked_at", "queued_at", "status", "claimed_by", "lease_until",
         "cluster"],
        review_id={"type": "string"}, site={"type": "string"}, id={"type": "string"},
        fields={"type": "object", "description": "The comment's fields as stored"},
        score=score, verdict={"enum": list(VERDICTS)},
        reasons={"type": "array", "items": _ref("Reason")},
        akismet={"anyOf": [akismet, {"type": "null"}]},
        model_version=_STRING_OR_NULL, checked_at={"type": "string", "format": "date-time"},
        queued_at={"type": "number"}, status={"type": "string"},
        claimed_by=_STRING_OR_NULL, lease_until=_NUMBER_OR_NULL,
        cluster={"anyOf": [_object(["id", "size"], id={"type": "string"},
                                   size={"type": "integer"}), {"type": "null"}]},
    )  # fmt: skip
    event = {
        **_object(["event", "type"], event={"type": "string"},
                  type={"enum": ["decision", "undo"]}),
        "additionalProperties": {"type": "string"},
        "description": "An audit event: id, type, site, id, label, moderator, at, ...",
    }  # fmt: skip
    outcome = _object(["review_id", "ok"], review_id={"type": "string"}, ok={"type": "boolean"},
                      changed={"type": "boolean"}, error={"type": "string"},
                      message={"type": "string"})  # fmt: skip
    error = _object(["error"], error=_object(["code", "message"], code={"type": "string"},
                    message={"type": "string"}, field={"type": "string"}))  # fmt: skip
    comment = _object(["content"], **{spec.name: _field_schema(spec) for spec in FIELDS})
    comment["additionalProperties"] = True
    return {"Comment": comment, "Reason": reason, "Result": result, "QueueItem": item,
            "Event": event, "Outcome": outcome, "Error": error}  # fmt: skip


def _comment_paths() -> dict[str, Schema]:
    batch = _object(
        ["comments"],
        comments={"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _ref("Comment")},
    )
    results = _object(["results"], results={"type": "array", "items": _ref("Result")})
    feedback = _object(["label"], label=_LABEL)
    return {
        "/api/v1/comments/check": {"post": _post("Check one comment", _ref("Comment"),
                                                 _checked(_ref("Result")))},
        "/api/v1/comments/check-batch": {"post": _post(
            f"Check up to {MAX_BATCH} comments", batch,
            _checked(results, "One result per comment, in order"))},
        "/api/v1/comments/{comment_id}": {"get": {
            "summary": "Current status of a checked comment", "parameters": [_COMMENT_ID],
            "responses": {"200": _ok(_ref("Result")), **_NOT_FOUND, **_ERRORS}}},
        "/api/v1/comments/{comment_id}/feedback": {"post": {
            **_post("The blog's own verdict: becomes a training label", feedback,
                    _ok(_ref("Result")), _NOT_FOUND),
            "parameters": [_COMMENT_ID]}},
    }  # fmt: skip


def _review_paths() -> dict[str, Schema]:
    mod: list[dict[str, list[str]]] = [{"moderatorToken": []}]
    login = _object(
        ["username", "password"],
        username={"type": "string", "minLength": 1},
        password={"type": "string", "minLength": 1},
    )
    token = _object(
        ["token", "expires_in", "username", "admin", "sites"],
        token={"type": "string"},
        expires_in={"type": "integer"},
        username={"type": "string"},
        admin={"type": "boolean"},
        sites=_STRINGS,
    )
    ids = _object(["ids"], ids=_REVIEW_IDS)
    decision = _object(["label"], label=_LABEL, note=_NOTE)
    decisions = _object(["ids", "label"], ids=_IDS, label=_LABEL, note=_NOTE)
    outcomes = {"type": "array", "items": _ref("Outcome")}
    site = _query("site", {"type": "string"}, "One of your sites (default: all of them)")
    queue = _object(
        ["items", "next_cursor", "depth"],
        items={"type": "array", "items": _ref("QueueItem")},
        next_cursor=_STRING_OR_NULL,
        depth={"type": "object", "additionalProperties": {"type": "integer"}},
    )
    lease = {"type": "number"}
    paths = {
        "/api/v1/auth/login": {"post": {
            **_post("A moderator token for a name and password", login, _ok(token)),
            "security": []}},
        "/api/v1/auth/logout": {"post": _post(
            "End this token", None, _ok(_object(["ok"], ok={"const": True})))},
        "/api/v1/review": {"get": {
            "summary": "The queue's pending items, oldest first",
            "parameters": [
                _query("status", {"enum": ["pending"]}, "Only pending is listed"),
                _query("limit", _QUERY_LIMIT, "Items per page (default 50)"), site,
                _query("cursor", {"type": "string"}, "next_cursor of the page before")],
            "responses": {"200": _ok(queue), **_ERRORS}}},
        "/api/v1/review/claim": {"post": _post(
            "Lease the oldest unclaimed items", _object([], limit=_LIMIT,
                                                       site={"type": ["string", "null"]}),
            _ok(_object(["claimed", "lease_seconds"], claimed=_STRINGS,
                        lease_seconds=lease)))},
        "/api/v1/review/renew": {"post": _post(
            "Extend your leases", ids,
            _ok(_object(["renewed", "lease_seconds"], renewed=_STRINGS, lease_seconds=lease)))},
        "/api/v1/review/release": {"post": _post(
            "Give your claims back", ids, _ok(_object(["released"], released=_STRINGS)))},
        "/api/v1/review/{review_id}/decision": {"post": {
            **_post("Decide one item", decision, _ok(_object(
                ["review_id", "label", "changed"], review_id={"type": "string"}, label=_LABEL,
                changed={"type": "boolean"})), _NOT_FOUND, _CONFLICT),
            "parameters": [_REVIEW_ID]}},
        "/api/v1/review/decisions": {"post": _post(
            "Decide several items, each on its own", decisions,
            _ok(_object(["results"], results=outcomes)))},
        "/api/v1/review/clusters/{cluster_id}/decision": {"post": {
            **_post("Decide every pending member of a campaign cluster", decision,
                    _ok(_object(["cluster_id", "results"], cluster_id={"type": "string"},
                                results=outcomes))),
            "parameters": [_CLUSTER_ID]}},
        "/api/v1/review/clusters/{cluster_id}/undo": {"post": {
            **_post("Undo your last decision on a cluster", None,
                    _ok(_object(["cluster_id", "undone"], cluster_id={"type": "string"},
                                undone=_STRINGS)), _CONFLICT),
            "parameters": [_CLUSTER_ID]}},
        "/api/v1/review/{review_id}/undo": {"post": {
            **_post("Undo a decision within UNDO_SECONDS", None,
                    _ok(_object(["review_id", "undone", "event"], review_id={"type": "string"},
                                undone={"const": True}, event={"type": "string"})),
                    _NOT_FOUND, _CONFLICT),
            "parameters": [_REVIEW_ID]}},
        "/api/v1/review/history": {"get": {
            "summary": "Decisions and undos, newest first",
            "parameters": [
                _query("limit", _QUERY_LIMIT, "Events per page (default 100)"), site,
                _query("before", {"type": "string", "pattern": f"^$|{EVENT_ID_PATTERN}"},
                       "The last event id of the page before")],
            "responses": {"200": _ok(_object(["events"], events={
                "type": "array", "items": _ref("Event")})), **_ERRORS}}},
    }  # fmt: skip
    for operations in paths.values():
        for operation in operations.values():
            operation.setdefault("security", mod)
    return paths


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Comment moderation API", "version": "1"},
        "components": {
            "securitySchemes": {
                "siteKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The site's key (flask sites create)",
                },
                "moderatorToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from POST /api/v1/auth/login",
                },
            },
            "schemas": _schemas(),
        },
        "security": [{"siteKey": []}],
        "paths": {**_comment_paths(), **_review_paths()},
    }
