"""Webhooks to a local HTTP receiver: signed, retried, in order per comment."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask
from flask.testing import FlaskClient

from moderation import create_app
from moderation.services import Services
from moderation.settings import Settings
from moderation.webhooks import SIGNATURE_HEADER, sign, verify
from moderation.worker import Worker

PASSWORD = "correct horse battery"


class Receiver:
    """A blog's webhook endpoint: records what arrives; fails while ``failing`` > 0."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failing = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failing > 0:
                    receiver.failing -= 1
                    self.send_response(500)
                else:
                    receiver.received.append((dict(self.headers), body))
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/moderation"

    def bodies(self) -> list[dict[str, str]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()
    thread.join()


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings.replace(webhook_backoff_seconds=0.05, webhook_retry_seconds=30))


@pytest.fixture
def setup(client: FlaskClient, svc: Services, receiver: Receiver) -> tuple[dict, dict, str]:
    key = svc.sites.create("blog.example")
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)
    secret = svc.sites.set_webhook("blog.example", receiver.url)
    assert secret and secret.startswith("whsec_")
    svc.moderators.create("alice", PASSWORD, sites=["blog.example"])
    token = client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}
    ).get_json()["token"]
    return {"Authorization": f"Bearer {key}"}, {"Authorization": f"Bearer {token}"}, secret


def hold(client: FlaskClient, blog: dict, *ids: str) -> None:
    for comment_id in ids:
        body = client.post(
            "/api/v1/comments/check",
            json={"id": comment_id, "content": f"held comment {comment_id}"},
            headers=blog,
        ).get_json()
        assert body["verdict"] == "review"


def decide(client: FlaskClient, mod: dict, comment_id: str, label: str) -> None:
    response = client.post(f"/api/v1/review/blog.example:{comment_id}/decision",
                           json={"label": label}, headers=mod)  # fmt: skip
    assert response.status_code == 200


def drain(worker: Worker, rounds: int = 40) -> None:
    for _ in range(rounds):
        worker.run_once()
        if not worker.webhooks.pending():
            return
        time.sleep(0.05)


def test_a_decision_is_delivered_signed(
    client: FlaskClient, svc: Services, receiver: Receiver, setup: tuple
) -> None:
    blog, mod, secret = setup
    hold(client, blog, "w1")
    decide(client, mod, "w1", "ham")
    assert Worker(svc).run_once() == 1
    ((headers, body),) = receiver.received
    payload = json.loads(body)
    assert payload["id"] == "w1" and payload["verdict"] == "ham"
    # The check's guid (X-akismet-guid): how an Akismet client finds its comment.
    assert payload["guid"] == svc.comments.get("blog.example", "w1").record["guid"]
    assert payload["decided_by"] == "alice" and payload["site"] == "blog.example"
    assert payload["type"] == "decision" and payload["decided_at"].endswith("+00:00")
    assert headers["X-Moderation-Event"] == payload["event"]
    assert verify(secret, body, headers[SIGNATURE_HEADER], now=time.time())
    assert not verify("whsec_other", body, headers[SIGNATURE_HEADER], now=time.time())
    assert not verify(secret, body + b" ", headers[SIGNATURE_HEADER], now=time.time())
    assert not verify(secret, body, headers[SIGNATURE_HEADER], now=time.time() + 3600)  # replay
    assert Worker(svc).run_once() == 0  # delivered once


def test_failures_are_retried_and_order_per_comment_holds(
    client: FlaskClient, svc: Services, receiver: Receiver, setup: tuple
) -> None:
    blog, mod, _ = setup
    hold(client, blog, "r1", "r2")
    receiver.failing = 3
    decide(client, mod, "r1", "spam")
    client.post("/api/v1/review/blog.example:r1/undo", headers=mod)
    decide(client, mod, "r1", "ham")
    decide(client, mod, "r2", "spam")
    worker = Worker(svc)
    worker.run_once()
    assert worker.webhooks.pending() >= 1
    drain(worker)
    assert worker.webhooks.pending() == 0
    r1 = [(b["type"], b["verdict"]) for b in receiver.bodies() if b["id"] == "r1"]
    assert r1 == [("decision", "spam"), ("undo", "review"), ("decision", "ham")]
    assert [b["verdict"] for b in receiver.bodies() if b["id"] == "r2"] == ["spam"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'moderation_webhook_deliveries_total{outcome="delivered"} 4.0' in metrics
    assert 'moderation_webhook_deliveries_total{outcome="failed"}' in metrics


def test_undeliverable_events_are_given_up_after_the_window(
    settings: Settings, receiver: Receiver
) -> None:
    app = create_app(settings.replace(webhook_backoff_seconds=0.05, webhook_retry_seconds=0.3))
    svc: Services = app.extensions["moderation"]
    client = app.test_client()
    key = svc.sites.create("blog.example")
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)
    svc.sites.set_webhook("blog.example", receiver.url)
    svc.moderators.create("alice", PASSWORD, sites=["blog.example"])
    token = client.post("/api/v1/auth/login", json={"username": "alice",
                        "password": PASSWORD}).get_json()["token"]  # fmt: skip
    hold(client, {"Authorization": f"Bearer {key}"}, "g1")
    decide(client, {"Authorization": f"Bearer {token}"}, "g1", "spam")
    receiver.failing = 10_000
    worker = Worker(svc)
    drain(worker, rounds=30)
    assert worker.webhooks.pending() == 0 and receiver.received == []
    assert 'outcome="given_up"} 1.0' in client.get("/metrics").get_data(as_text=True)


def test_signature_format() -> None:
    assert sign("s", b"{}", 1700000000) == (
        "t=1700000000,v1=" + __import__("hmac").new(b"s", b"1700000000.{}", "sha256").hexdigest()
    )
    assert not verify("s", b"{}", "garbage", now=1700000000)


def test_the_worker_waits_for_events_without_timing_out(
    svc: Services, setup: tuple[dict, dict, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Its blocking read stays under the socket timeout (it once equalled it:
    'Timeout reading', a warning and a pause before the next delivery)."""
    worker = Worker(svc)
    assert worker.block_ms < svc.settings.redis_timeout * 1000
    thread = threading.Thread(target=worker.run_forever)
    with caplog.at_level(logging.WARNING, logger="moderation.worker"):
        thread.start()
        time.sleep(3 * svc.settings.redis_timeout)
        worker.stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert not [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
