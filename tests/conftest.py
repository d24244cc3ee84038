"""Fixtures: a real Redis, settings with a random key prefix, a tiny real model, the app.

Redis is the embedded server (started once per session in a temporary
folder), or the server named by ``REDIS_URL`` when it is set. Every test gets
its own key prefix and its keys are deleted afterwards, so tests can share a
server with each other and with anything else on it.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from moderation import create_app, redis_server
from moderation.keys import Keys
from moderation.redis_server import EmbeddedRedis
from moderation.services import Services
from moderation.settings import Settings
from training import artifact, datasets
from training.train import train

TINY_PER_LABEL = 60


@pytest.fixture(scope="session")
def redis_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str | None, Path]]:
    """(REDIS_URL or None, var dir whose redis/ holds a running embedded server)."""
    var_dir = tmp_path_factory.mktemp("var")
    url = os.environ.get("REDIS_URL") or None
    if url is not None:
        yield url, var_dir
        return
    server = EmbeddedRedis(var_dir / "redis")
    server.ensure_running()
    yield None, var_dir
    server.stop(only_if_unused=False)


def tiny_examples() -> list[datasets.Example]:
    """A balanced sample of the starter corpus: enough for a real model, fast to fit."""
    examples = datasets.load([], starter=True)
    rng = random.Random(7)
    rng.shuffle(examples)
    spam = [e for e in examples if e.label == 1][:TINY_PER_LABEL]
    ham = [e for e in examples if e.label == 0][:TINY_PER_LABEL]
    return spam + ham


def promote_tiny_model(models: Path) -> None:
    """Train the tiny model (a second) and make it current in ``models``."""
    examples = tiny_examples()
    trained = train(examples, folds=3)
    data = {"fingerprint": datasets.fingerprint(examples), "n": len(examples)}
    version = artifact.save(
        trained.model, models, cutoffs=trained.cutoffs, metrics=trained.metrics, data=data
    )
    artifact.promote(models, version)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory with one trained, promoted tiny model."""
    out = tmp_path_factory.mktemp("models")
    promote_tiny_model(out)
    return out


@pytest.fixture
def settings(redis_base: tuple[str | None, Path], models_dir: Path) -> Iterator[Settings]:
    url, var_dir = redis_base
    settings = Settings(
        redis_url=url,
        # The suite against a Redis Cluster: REDIS_URL=<nodes> REDIS_CLUSTER=1.
        redis_cluster=url is not None and os.environ.get("REDIS_CLUSTER") == "1",
        redis_prefix=f"test{secrets.token_hex(4)}:",
        var_dir=var_dir,
        models_dir=models_dir,
        model_reload_seconds=0.0,
        max_body_bytes=256 * 1024,
    )
    yield settings
    client = redis_server.connect(settings)[0]
    keys = list(client.scan_iter(match=Keys(settings.redis_prefix).pattern(), count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def svc(app: Flask) -> Services:
    return app.extensions["moderation"]  # type: ignore[no-any-return]


@pytest.fixture
def site_key(svc: Services) -> str:
    return svc.sites.create("blog.example")


@pytest.fixture
def auth(site_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {site_key}"}


SPAM_COMMENT = {
    "content": (
        'Cheap viagra and cialis online, no prescription! <a href="http://rx-pills.example/buy">'
        "BUY NOW</a> best prices http://bit.ly/cheap-rx"
    ),
    "author": "Cheap Pills Online",
    "author_url": "http://rx-pills.example",
}
HAM_COMMENT = {
    "content": (
        "Thanks for writing this up. I tried the second approach on my own blog and it "
        "worked, although I had to update the theme first. Did you test it with older "
        "versions of WordPress?"
    ),
    "author": "Maria",
}


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app behind a real threaded WSGI server on a free loopback port; its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url
