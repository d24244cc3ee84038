"""Akismet as our fallback, against real HTTP servers that speak its protocol:
a fault-injecting one, and our own Akismet-compatible endpoint."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from moderation import create_app
from moderation.services import Services
from moderation.settings import Settings
from tests.akismet_server import AkismetDouble
from tests.conftest import HAM_COMMENT, SPAM_COMMENT, serving

TIMEOUT = 0.3
CHECK = "/api/v1/comments/check"


@pytest.fixture
def akismet() -> Iterator[AkismetDouble]:
    with AkismetDouble().running() as double:
        yield double


def fallback_app(settings: Settings, url: str, **changes: object) -> Flask:
    return create_app(
        settings.replace(
            akismet_api_key="ak-test-key",
            akismet_url=url,
            akismet_timeout=TIMEOUT,
            akismet_failures=3,
            akismet_cooldown=1.0,
            **changes,
        )
    )


@pytest.fixture
def app(settings: Settings, akismet: AkismetDouble) -> Flask:
    return fallback_app(settings, akismet.url)


@pytest.fixture
def uncertain(svc: Services, site_key: str) -> None:
    """Every comment of blog.example lands in the uncertain band."""
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)


def timed_check(
    client: FlaskClient, auth: dict[str, str], comment: dict[str, str]
) -> tuple[dict, float]:
    started = time.perf_counter()
    response = client.post(CHECK, json=comment, headers=auth)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json(), elapsed


@pytest.mark.usefixtures("uncertain")
@pytest.mark.parametrize(
    ("mode", "comment", "verdict", "source", "code", "discard"),
    [
        ("ham", HAM_COMMENT, "ham", "akismet", "akismet", False),
        ("spam", SPAM_COMMENT, "spam", "akismet", "akismet", False),
        ("discard", SPAM_COMMENT, "spam", "akismet", "akismet", True),
        ("spam", HAM_COMMENT, "review", "model", "akismet_disagrees", False),
        ("ham", SPAM_COMMENT, "review", "model", "akismet_disagrees", False),
    ],
)
def test_akismet_answers(
    client: FlaskClient,
    svc: Services,
    auth: dict[str, str],
    akismet: AkismetDouble,
    mode: str,
    comment: dict[str, str],
    verdict: str,
    source: str,
    code: str,
    discard: bool,
) -> None:
    akismet.mode = mode
    body, _ = timed_check(client, auth, comment)
    assert (body["verdict"], body["source"], body["discard"]) == (verdict, source, discard)
    assert body["reasons"][0]["code"] == code
    assert body["akismet"]["answer"] == mode and body["akismet"]["latency_ms"] >= 0
    (sent,) = akismet.requests
    assert sent["api_key"] == ["ak-test-key"] and sent["blog"] == ["https://blog.example/"]
    assert sent["comment_content"] == [comment["content"]]
    # Akismet's answer is kept as a weak label, flagged as such.
    (label,) = [e for _, e in svc.redis.xrange(svc.keys.labels())]
    assert (label["source"], label["weak"]) == ("akismet", "1")
    assert label["label"] == ("ham" if mode == "ham" else "spam")


@pytest.mark.usefixtures("uncertain")
@pytest.mark.parametrize("mode", ["slow", "error500", "invalid", "garbage", "blackhole", "drip"])
def test_every_failure_ends_in_review_within_the_timeout(
    client: FlaskClient, svc: Services, auth: dict[str, str], akismet: AkismetDouble, mode: str
) -> None:
    akismet.mode = mode
    body, elapsed = timed_check(client, auth, HAM_COMMENT)
    assert elapsed < TIMEOUT + 0.1, f"{mode}: {elapsed:.3f} s"
    assert (body["verdict"], body["source"]) == ("review", "model")
    assert body["reasons"][0]["code"] == "akismet_unavailable"
    assert body["akismet"]["answer"] in ("timeout", "error", "invalid", "garbage")
    assert len(akismet.requests) == 1
    assert not svc.redis.xlen(svc.keys.labels())  # no answer, no weak label


@pytest.mark.usefixtures("uncertain")
def test_unreachable_akismet(settings: Settings, site_key: str, auth: dict[str, str]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = fallback_app(settings, f"http://127.0.0.1:{port}")
    body, elapsed = timed_check(app.test_client(), auth, HAM_COMMENT)
    assert elapsed < TIMEOUT + 0.1
    assert body["verdict"] == "review" and body["akismet"]["answer"] == "error"


@pytest.mark.usefixtures("uncertain")
def test_a_batch_costs_one_timeout_not_one_each(
    client: FlaskClient, auth: dict[str, str], akismet: AkismetDouble
) -> None:
    akismet.mode = "blackhole"
    comments = [{"content": f"{HAM_COMMENT['content']} ({i})"} for i in range(3)]
    started = time.perf_counter()
    response = client.post(f"{CHECK}-batch", json={"comments": comments}, headers=auth)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed < TIMEOUT + 0.1
    assert [r["verdict"] for r in response.get_json()["results"]] == ["review"] * 3


@pytest.mark.usefixtures("uncertain")
def test_the_circuit_opens_and_closes(
    client: FlaskClient, svc: Services, auth: dict[str, str], akismet: AkismetDouble
) -> None:
    akismet.mode = "error500"
    for i in range(3):
        timed_check(client, auth, {"content": f"comment {i}"})
    assert len(akismet.requests) == 3
    assert svc.akismet.circuit().state == "open"
    body, elapsed = timed_check(client, auth, {"content": "while open"})
    assert len(akismet.requests) == 3  # not called
    assert body["verdict"] == "review" and body["akismet"]["answer"] == "circuit_open"
    assert elapsed < 0.1
    ready = client.get("/readyz").get_json()
    assert ready["akismet"]["circuit"]["state"] == "open"
    assert ready["akismet"]["circuit"]["times_opened"] == 1

    time.sleep(1.05)  # the cool-down
    akismet.mode = "ham"
    body, _ = timed_check(client, auth, HAM_COMMENT)
    assert (body["verdict"], body["source"]) == ("ham", "akismet")  # the probe
    assert svc.akismet.circuit().state == "closed"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'moderation_akismet_calls_total{answer="error"} 3.0' in metrics
    assert 'moderation_akismet_calls_total{answer="circuit_open"} 1.0' in metrics
    assert "moderation_akismet_circuit 0.0" in metrics


@pytest.mark.usefixtures("uncertain")
def test_site_switch_budget_and_repeats(
    client: FlaskClient, svc: Services, auth: dict[str, str], akismet: AkismetDouble
) -> None:
    svc.sites.set_akismet("blog.example", enabled=False)
    body, _ = timed_check(client, auth, HAM_COMMENT)
    assert body["verdict"] == "review" and "akismet" not in body
    assert akismet.requests == []

    svc.sites.set_akismet("blog.example", enabled=True, budget=2)
    for i in range(2):
        body, _ = timed_check(client, auth, {"id": f"c{i}", "content": HAM_COMMENT["content"]})
        assert body["source"] == "akismet"
    # A repeated id gets its stored answer without a second Akismet call.
    timed_check(client, auth, {"id": "c1", "content": HAM_COMMENT["content"]})
    assert len(akismet.requests) == 2
    body, _ = timed_check(client, auth, {"id": "c3", "content": HAM_COMMENT["content"]})
    assert body["akismet"]["answer"] == "budget_exhausted" and body["verdict"] == "review"
    assert len(akismet.requests) == 2


def test_only_uncertain_comments_are_sent(
    client: FlaskClient, svc: Services, auth: dict[str, str], akismet: AkismetDouble
) -> None:
    svc.sites.set_cutoffs("blog.example", ham_below=0.5, spam_above=0.51)
    timed_check(client, auth, HAM_COMMENT)
    timed_check(client, auth, SPAM_COMMENT)
    timed_check(client, auth, {**HAM_COMMENT, "honeypot": "bot"})
    assert akismet.requests == []


@pytest.mark.usefixtures("uncertain")
def test_without_a_key_nothing_is_sent(
    settings: Settings, akismet: AkismetDouble, auth: dict[str, str]
) -> None:
    app = create_app(settings.replace(akismet_url=akismet.url))
    body, _ = timed_check(app.test_client(), auth, HAM_COMMENT)
    assert body["verdict"] == "review" and akismet.requests == []


def test_our_own_endpoint_as_the_akismet(settings: Settings, site_key: str) -> None:
    """One deployment asks another through the Akismet protocol: the inner
    site decides by its model, the outer one takes that as Akismet's answer."""
    inner_app = create_app(settings)
    inner = inner_app.extensions["moderation"]
    inner_key = inner.sites.create("inner.example")
    inner.sites.set_akismet("inner.example", enabled=False)
    inner.sites.set_cutoffs("inner.example", ham_below=0.5, spam_above=0.5001)
    with serving(inner_app) as url:
        outer_app = fallback_app(settings, url)
        outer = outer_app.extensions["moderation"]
        outer.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)
        outer.sites.set_akismet("blog.example", key=inner_key, blog="https://blog.example/")
        client = outer_app.test_client()
        auth = {"Authorization": f"Bearer {site_key}"}
        ham, _ = timed_check(client, auth, HAM_COMMENT)
        spam, _ = timed_check(client, auth, SPAM_COMMENT)
    assert (ham["verdict"], ham["source"], ham["akismet"]["answer"]) == ("ham", "akismet", "ham")
    assert (spam["verdict"], spam["source"]) == ("spam", "akismet")
    month = time.strftime("%Y-%m", time.gmtime())
    assert inner.comments.usage("inner.example", month)["calls"] == 2


@pytest.mark.usefixtures("uncertain")
def test_a_site_sends_akismet_only_the_fields_it_allows(
    app: Flask, client: FlaskClient, svc: Services, auth: dict[str, str], akismet: AkismetDouble
) -> None:
    comment = {**HAM_COMMENT, "author_email": "maria@example.org", "user_ip": "203.0.113.7",
               "user_agent": "Firefox/140", "referrer": "https://search.example/"}  # fmt: skip
    timed_check(client, auth, {**comment, "id": "all"})
    (everything,) = akismet.requests
    assert everything["comment_author_email"] == ["maria@example.org"]
    assert everything["user_ip"] == ["203.0.113.7"]

    runner = app.test_cli_runner()
    result = runner.invoke(args=["sites", "akismet", "blog.example", "--fields", "content,author"])
    assert result.exit_code == 0, result.output
    assert svc.sites.get("blog.example").akismet_fields == ("content", "author")
    timed_check(client, auth, {**comment, "id": "few"})
    sent = akismet.requests[1]
    assert sent["comment_content"] == [comment["content"]] and sent["comment_author"] == ["Maria"]
    assert not {"comment_author_email", "user_agent", "referrer"} & sent.keys()
    assert sent["user_ip"] == ["127.0.0.1"]  # Akismet requires one: a placeholder, not theirs

    bad = runner.invoke(args=["sites", "akismet", "blog.example", "--fields", "author,password"])
    assert bad.exit_code == 1 and "akismet_fields" in bad.output and "password" in bad.output
    assert runner.invoke(args=["sites", "akismet", "blog.example", "--fields", ""]).exit_code == 0
    assert svc.sites.get("blog.example").akismet_fields is None  # every field again
