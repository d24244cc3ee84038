"""One exception hierarchy, and the one place it becomes JSON.

::

    ModerationError
     ├── SettingsError        a bad environment variable (names it); fails at start
     ├── ArtifactError        a model artifact the loader refuses (says why)
     ├── RedisUnavailable     Redis cannot be reached: 503, never an empty answer
     └── ApiError             an HTTP error with a code, a message and maybe a field
          ├── ValidationError       400, names the field
          ├── AuthError             401
          ├── NotFound              404
          └── Conflict              409

Every HTTP error, ours or Werkzeug's (404, 405, 413), is answered as
``{"error": {"code", "message", "field"?}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ModerationError(Exception):
    """Base of every error this project raises on purpose."""


class SettingsError(ModerationError):
    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class ArtifactError(ModerationError):
    """A model artifact that must not be loaded; the message says why."""


class RedisUnavailable(ModerationError):
    """Redis did not answer; the request cannot be served correctly without it."""


# What a Redis call raises when Redis fails. redis-py's cluster client also
# raises RedisClusterException, which is not a RedisError (no node serves a
# slot mid-failover, the cluster cannot be reached at all).
REDIS_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, redis.RedisClusterException)


@contextmanager
def redis_errors() -> Iterator[None]:
    """Redis trouble inside becomes RedisUnavailable (a 503 with Retry-After)."""
    try:
        yield
    except REDIS_ERRORS as exc:
        raise RedisUnavailable(str(exc)) from exc


class ApiError(ModerationError):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class ValidationError(ApiError):
    status = 400
    code = "invalid"


class AuthError(ApiError):
    status = 401
    code = "unauthorized"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    body: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    response = jsonify(error=body)
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        response = error_response(exc.status, exc.code, exc.message, exc.field)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="moderation"'
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(RedisUnavailable)
    def redis_unavailable(exc: RedisUnavailable) -> Response:
        log.error("redis unavailable: %s", exc)
        response = error_response(503, "redis_unavailable", "storage is unavailable, retry shortly")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(status, code, exc.description or exc.name)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # A bug, not an input problem: log it whole, answer without details.
        log.exception("unhandled error")
        return error_response(500, "internal", "internal error")
