"""Operator endpoints, degraded dependencies, and the OpenAPI document against the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from moderation import create_app, openapi
from moderation.schema import FIELDS, strip_controls
from moderation.settings import Settings
from tests.conftest import HAM_COMMENT

CHECK = "/api/v1/comments/check"


def test_healthz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_when_ready(client: FlaskClient, settings: Settings) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["redis"]["ok"] is True and body["model"]["ok"] is True
    expected = "embedded" if settings.redis_url is None else settings.redis_url.split("://")[0]
    assert body["redis"]["using"].startswith(expected)


def test_without_a_model_everything_goes_to_review(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings.replace(models_dir=tmp_path))
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "no model" in ready.get_json()["model"]["error"]
    key = app.extensions["moderation"].sites.create("blog.example")
    body = client.post(
        CHECK, json=HAM_COMMENT, headers={"Authorization": f"Bearer {key}"}
    ).get_json()
    assert (body["verdict"], body["score"], body["reasons"][0]["code"]) == (
        "review",
        None,
        "no_model",
    )


def test_redis_down_is_503_not_500(settings: Settings) -> None:
    down = settings.replace(
        redis_url="redis://127.0.0.1:1/0", redis_cluster=False, redis_timeout=0.2
    )
    client = create_app(down).test_client()
    response = client.post(CHECK, json=HAM_COMMENT, headers={"Authorization": "Bearer mk_x"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "redis_unavailable"
    assert response.headers["Retry-After"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["redis"]["ok"] is False
    assert client.get("/healthz").status_code == 200


def test_metrics_count_checks_by_verdict_and_source(client: FlaskClient, auth: dict) -> None:
    for _ in range(3):
        client.post(CHECK, json=HAM_COMMENT, headers=auth)
    client.post(CHECK, json={**HAM_COMMENT, "honeypot": "filled"}, headers=auth)
    client.post(CHECK, json={}, headers=auth)
    text = client.get("/metrics").get_data(as_text=True)
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    model_checks = sum(
        float(v) for k, v in lines.items() if k.startswith('moderation_checks_total{source="model"')
    )
    assert model_checks == 3
    assert float(lines['moderation_checks_total{source="rules",verdict="spam"}']) == 1
    assert float(lines['moderation_responses_total{endpoint="api.check",status="400"}']) == 1
    assert 'moderation_request_seconds_bucket{endpoint="api.check"' in text
    assert any(
        k.startswith("moderation_model_info{version=") and v == "1.0" for k, v in lines.items()
    )


def test_openapi_describes_every_field_and_route(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    properties = doc["components"]["schemas"]["Comment"]["properties"]
    assert set(properties) == {spec.name for spec in FIELDS}
    # Every route under /api/v1, in Flask's spelling of its path.
    routes = {
        str(rule).replace("<path:", "<").replace("<item>", "<review_id>")
        for rule in client.application.url_map.iter_rules()
        if str(rule).startswith("/api/v1/")
    }
    assert {p.replace("{", "<").replace("}", ">") for p in doc["paths"]} == routes


@pytest.mark.parametrize(
    "name",
    [n for n in ("content", "author", "author_email", "author_url", "user_agent", "referrer",
                 "permalink", "comment_type", "lang", "honeypot")],
)  # fmt: skip
def test_openapi_length_limits_are_the_ones_enforced(
    client: FlaskClient, auth: dict, name: str
) -> None:
    """Taken from the published document, checked against what the code accepts."""
    doc = client.get("/openapi.json").get_json()
    limit = doc["components"]["schemas"]["Comment"]["properties"][name]["maxLength"]
    base = {"content": "a reply"}
    at_limit = client.post(CHECK, json={**base, name: "a" * limit}, headers=auth)
    over = client.post(CHECK, json={**base, name: "a" * (limit + 1)}, headers=auth)
    assert at_limit.status_code == 200
    assert over.status_code == 400 and over.get_json()["error"]["field"] == name


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("7", True), (7, True), (7.0, True), (2**63 - 1, True), (2**63, False), (-1, False),
     (7.5, False), (1e400, False), (10**400, False), ("7\n", False)],
)  # fmt: skip
def test_comment_ids_the_document_allows_are_the_ones_accepted(
    client: FlaskClient, auth: dict, value: object, accepted: bool
) -> None:
    """Found by make fuzz: 7.0 is a JSON integer, and a trailing newline got
    past the id pattern's $ (Python's $ matches before one)."""
    body = json.dumps({"content": "a reply", "id": value}).replace("Infinity", "1e400")
    answer = client.post(CHECK, data=body, headers={**auth, "Content-Type": "application/json"})
    assert (answer.status_code == 200) is accepted, answer.get_json()
    if accepted:
        assert answer.get_json()["id"] == "7" or value == 2**63 - 1


def test_openapi_text_pattern_is_the_control_check() -> None:
    """The document's patterns refuse exactly what the parser refuses."""
    text, content = re.compile(openapi.TEXT_PATTERN), re.compile(openapi.CONTENT_PATTERN)
    for code in range(0x3100):
        char = chr(code)
        refused = "\x00" in char or strip_controls(char) != char
        assert (text.fullmatch(char) is None) is refused, hex(code)
        assert (content.fullmatch(char) is None) is (refused or not char.strip()), hex(code)
