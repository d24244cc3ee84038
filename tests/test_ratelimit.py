"""Rate limits: per address before the key, per site after it, per account and
address on logins - 429 with Retry-After, counted in the real Redis, and
still counted (in memory) while Redis is down."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from moderation import create_app
from moderation.errors import SettingsError
from moderation.redis_server import EmbeddedRedis
from moderation.services import Services
from moderation.settings import Settings
from tests.conftest import HAM_COMMENT

PASSWORD = "correct horse battery staple"


def _from(address: str) -> dict[str, dict[str, str]]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _check(client: FlaskClient, key: str, address: str = "192.0.2.1") -> int:
    headers = {"Authorization": f"Bearer {key}"}
    response = client.post("/api/v1/comments/check", json=HAM_COMMENT, headers=headers,
                           **_from(address))  # fmt: skip
    return response.status_code


def _assert_limited(response: object) -> None:
    assert response.status_code == 429  # type: ignore[attr-defined]
    retry_after = int(response.headers["Retry-After"])  # type: ignore[attr-defined]
    assert 1 <= retry_after <= 60


def test_a_site_is_limited_by_its_own_limit_and_only_itself(
    client: FlaskClient, svc: Services
) -> None:
    busy, quiet = svc.sites.create("busy.example"), svc.sites.create("quiet.example")
    svc.sites.set_rate_limit("busy.example", "3/minute")
    assert [_check(client, busy) for _ in range(3)] == [200, 200, 200]
    over = client.post("/api/v1/comments/check", json=HAM_COMMENT,
                       headers={"Authorization": f"Bearer {busy}"})  # fmt: skip
    _assert_limited(over)
    assert over.get_json()["error"]["code"] == "rate_limited"
    # Every route of the site counts, and the other site is not affected.
    assert (
        client.get("/api/v1/comments/x", headers={"Authorization": f"Bearer {busy}"}).status_code
        == 429
    )
    assert _check(client, quiet) == 200
    # Back to the service's limit (RATE_LIMIT_SITE, 1200/minute by default).
    assert svc.sites.set_rate_limit("busy.example", "").rate_limit is None
    assert _check(client, busy) == 200


def test_an_address_is_counted_before_its_key_is_looked_at(settings: Settings) -> None:
    app = create_app(settings.replace(rate_limit_ip="4/minute"))
    svc: Services = app.extensions["moderation"]
    key = svc.sites.create("blog.example")
    client = app.test_client()
    guesses = [_check(client, f"mk_guess{i}", "198.51.100.7") for i in range(4)]
    assert guesses == [401, 401, 401, 401]
    _assert_limited(client.post("/api/v1/comments/check", json=HAM_COMMENT,
                                headers={"Authorization": f"Bearer {key}"},
                                **_from("198.51.100.7")))  # fmt: skip
    # The Akismet protocol's routes count against the same address.
    akismet = client.post("/1.1/comment-check", data={"api_key": key, "blog": "https://blog.example/",
                          "user_ip": "203.0.113.9", "comment_content": "hello"},
                          **_from("198.51.100.7"))  # fmt: skip
    _assert_limited(akismet)
    assert akismet.mimetype == "text/plain"
    assert _check(client, key, "198.51.100.8") == 200  # another address


def test_akismet_clients_are_limited_per_site_too(client: FlaskClient, svc: Services) -> None:
    key = svc.sites.create("blog.example")
    svc.sites.set_rate_limit("blog.example", "2/minute")
    form = {"api_key": key, "blog": "https://blog.example/", "user_ip": "203.0.113.9",
            "comment_content": "a fine post"}  # fmt: skip
    answers = [client.post("/1.1/comment-check", data=form) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].get_data(as_text=True) in ("true", "false")
    assert int(answers[2].headers["Retry-After"]) >= 1


@pytest.fixture
def login_app(settings: Settings) -> Flask:
    app = create_app(settings.replace(rate_limit_login="3/minute"))
    svc: Services = app.extensions["moderation"]
    svc.moderators.create("alice", PASSWORD, admin=True)
    svc.moderators.create("bob", PASSWORD, admin=True)
    return app


def test_failed_logins_are_limited_per_account_and_per_address(login_app: Flask) -> None:
    client = login_app.test_client()

    def api_login(name: str, password: str, address: str) -> int:
        body = {"username": name, "password": password}
        return client.post("/api/v1/auth/login", json=body, **_from(address)).status_code

    # Three wrong passwords for alice, from three addresses: alice is locked.
    assert [api_login("alice", "wrong", f"192.0.2.{i}") for i in (1, 2, 3)] == [401, 401, 401]
    locked = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD},
                         **_from("192.0.2.50"))  # fmt: skip
    _assert_limited(locked)  # even with the right password: no oracle for guessing
    assert "token" not in locked.get_json()
    # Successful logins do not count: bob logs in again and again.
    assert [api_login("bob", PASSWORD, "192.0.2.60") for _ in range(5)] == [200] * 5
    # The web form counts the same way: an address that failed three times is stopped.
    form = client.get("/moderate/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]

    def web_login(name: str, password: str) -> TestResponse:
        data = {"username": name, "password": password, "csrf_token": csrf}
        return client.post("/moderate/login", data=data, **_from("192.0.2.99"))

    assert [web_login(name, "x").status_code for name in ("carol", "dave", "erin")] == [401] * 3
    refused = web_login("bob", PASSWORD)
    _assert_limited(refused)
    assert "Too many attempts" in refused.get_data(as_text=True)


def test_limits_go_on_in_memory_while_redis_is_down(settings: Settings, tmp_path: Path) -> None:
    own = settings.replace(redis_url=None, var_dir=tmp_path / "var", redis_timeout=0.2)
    app = create_app(own)
    svc: Services = app.extensions["moderation"]
    key = svc.sites.create("blog.example")
    svc.sites.set_rate_limit("blog.example", "3/minute")
    client = app.test_client()
    assert _check(client, key) == 200  # the key is now known to this process
    EmbeddedRedis(own.redis_dir).stop(only_if_unused=False)
    try:
        # Answered (spooled) while the limit is counted here; then limited.
        assert [_check(client, key) for _ in range(4)] == [200, 200, 200, 429]
    finally:
        EmbeddedRedis(own.redis_dir).ensure_running()
    svc.redis.close()


def test_rate_limit_settings_are_checked(settings: Settings) -> None:
    base = {"VAR_DIR": str(settings.var_dir), "DEV_MODE": "1"}
    assert Settings.from_env({**base, "RATE_LIMIT_SITE": "20/second;600/minute"}).rate_limit_site
    assert not Settings.from_env({**base, "RATE_LIMITS": "off"}).rate_limits
    with pytest.raises(SettingsError, match="RATE_LIMIT_IP"):
        Settings.from_env({**base, "RATE_LIMIT_IP": "lots"})


def test_limits_off_switches_them_all_off(settings: Settings) -> None:
    app = create_app(settings.replace(rate_limits=False, rate_limit_site="1/minute"))
    svc: Services = app.extensions["moderation"]
    key = svc.sites.create("blog.example")
    client = app.test_client()
    assert [_check(client, key) for _ in range(3)] == [200, 200, 200]


def test_a_sites_limit_is_set_and_checked_from_the_cli(app: Flask, svc: Services) -> None:
    svc.sites.create("blog.example")
    runner = app.test_cli_runner()
    result: Result = runner.invoke(
        args=["sites", "update", "blog.example", "--rate-limit", "5/second"]
    )
    assert result.exit_code == 0, result.output
    assert svc.sites.get("blog.example").rate_limit == "5/second"
    bad = runner.invoke(args=["sites", "update", "blog.example", "--rate-limit", "many"])
    assert bad.exit_code != 0
    assert "rate_limit" in bad.output
    assert svc.sites.get("blog.example").rate_limit == "5/second"
