"""No secret reaches a log: site keys, webhook secrets, Akismet keys,
moderator passwords and tokens - through every path that logs on trouble."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from moderation import create_app
from moderation.services import services
from moderation.settings import Settings
from moderation.worker import Worker
from tests.conftest import HAM_COMMENT
from tests.service import free_port

AKISMET_KEY = "ak-secret-0123456789abcdef"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(settings: Settings) -> Flask:
    port = free_port()
    return create_app(
        settings.replace(
            akismet_api_key=AKISMET_KEY,
            akismet_url=f"http://127.0.0.1:{port}",
            akismet_timeout=0.2,
        )
    )


def test_secrets_never_logged(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's request lines included
    client = app.test_client()
    with app.app_context():
        svc = services()
        key = svc.sites.create("blog.example")
        svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)  # asks Akismet
        hook_secret = svc.sites.set_webhook("blog.example", f"http://127.0.0.1:{free_port()}/")
        svc.moderators.create("alice", PASSWORD, admin=True)
    auth = {"Authorization": f"Bearer {key}"}
    # Akismet unreachable: the fallback logs its failure.
    checked = client.post("/api/v1/comments/check", json=HAM_COMMENT, headers=auth)
    assert checked.status_code == 200
    assert checked.get_json()["akismet"]["answer"] == "error"
    # A wrong key, a wrong password, a right one, and a token used.
    unknown = {"Authorization": "Bearer mk_" + "x" * 43}
    assert (
        client.post("/api/v1/comments/check", json=HAM_COMMENT, headers=unknown).status_code == 401
    )
    wrong = client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope"})
    assert wrong.status_code == 401
    login = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    token = login.get_json()["token"]
    moderator = {"Authorization": f"Bearer {token}"}
    claimed = client.post("/api/v1/review/claim", json={}, headers=moderator).get_json()["claimed"]
    assert claimed
    decided = client.post(f"/api/v1/review/{claimed[0]}/decision", json={"label": "ham"},
                          headers=moderator)  # fmt: skip
    assert decided.status_code == 200
    # The decision's webhook fails (nothing listens) and its failure is logged.
    with app.app_context():
        Worker(services()).run_once()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Akismet fallback" in text and "webhook for blog.example" in text  # trouble logged
    for secret in (key, hook_secret, AKISMET_KEY, PASSWORD, token):
        assert secret and secret not in text  # and no secret with it
