"""Operator endpoints: liveness, readiness, metrics, and the API document."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from moderation import openapi, redis_server
from moderation.services import services

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Alive: the process answers. Says nothing about Redis or the model."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """Ready to score correctly: Redis answers and a model is loaded (503 otherwise)."""
    svc = services()
    redis_info: dict[str, object] = {"using": redis_server.describe(svc.settings)}
    try:
        svc.redis.ping()
        redis_info["ok"] = True
    except Exception as exc:  # any failure means not ready; report it, do not raise
        redis_info.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    loaded = svc.model.get()
    model_info = {"ok": loaded is not None, "version": svc.model.version, "error": svc.model.error}
    ready = bool(redis_info["ok"]) and loaded is not None
    # Akismet is reported, not required: without it uncertain comments go to review.
    akismet_info: dict[str, object] = {"configured": bool(svc.settings.akismet_api_key)}
    try:
        akismet_info["circuit"] = svc.akismet.circuit().as_dict()
    except Exception as exc:  # Redis trouble is already reported above
        akismet_info["circuit"] = {"error": f"{type(exc).__name__}: {exc}"}
    response = jsonify(
        status="ready" if ready else "not_ready",
        redis=redis_info,
        model=model_info,
        akismet=akismet_info,
        spool={"records": svc.spool.size()},
    )
    response.status_code = 200 if ready else 503
    return response


@bp.get("/metrics")
def metrics() -> Response:
    svc = services()
    svc.metrics.serving(svc.model.version)
    svc.metrics.spool_size.set(svc.spool.size())
    try:
        domains = [s.domain for s in svc.sites.list()]
        for domain, depth in svc.review.depth(domains).items():
            svc.metrics.queue_depth.labels(domain).set(depth)
    except Exception as exc:  # Redis down: the other metrics are still worth serving
        log.warning("queue depth unavailable for /metrics: %s", exc)
    return Response(svc.metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document())
