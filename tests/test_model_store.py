"""Models shared through Redis: node A publishes, node B (its own empty disk)
follows - and refuses what was not signed with the deployment's secret."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from redis.backoff import NoBackoff
from redis.retry import Retry

from moderation import create_app
from moderation.current_model import CurrentModel
from moderation.errors import ArtifactError
from moderation.keys import Keys
from moderation.model_store import ModelStore
from moderation.redis_server import EmbeddedRedis, connect
from moderation.settings import Settings
from tests.conftest import tiny_examples
from training import artifact, retrain
from training.__main__ import main
from training.artifact import MANIFEST_FILE, MODEL_FILE

SECRET = b"s" * 32
PASSWORD = "correct horse battery"


@pytest.fixture
def rc(settings: Settings) -> Iterator[redis.Redis]:
    """A client of the tests' Redis; keys go under the test's prefix (cleaned up)."""
    client, _ = connect(settings)
    yield client
    client.close()


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.redis_prefix)


@pytest.fixture
def node_a(models_dir: Path, tmp_path: Path) -> Path:
    """A node's models directory: the session's tiny model, current."""
    out = tmp_path / "a"
    shutil.copytree(models_dir, out)
    return out


@pytest.fixture
def node_b(tmp_path: Path) -> Path:
    """A new node: nothing on its disk."""
    return tmp_path / "b"


def store(
    client: redis.Redis, keys: Keys, models: Path, secret: bytes = SECRET, keep: int = 5
) -> ModelStore:
    return ModelStore(client, keys, models, secret, keep)


def new_version(models: Path, suffix: str) -> str:
    """Another version on disk (a copy of the current one under a later name)."""
    first = str(artifact.current_version(models))
    version = f"{first}-{suffix}"
    shutil.copytree(models / first, models / version)
    path = models / version / MANIFEST_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), "version": version}))
    return version


def test_a_promotion_on_one_node_is_served_by_another(
    rc: redis.Redis, keys: Keys, node_a: Path, node_b: Path, settings: Settings
) -> None:
    a, b = store(rc, keys, node_a), store(rc, keys, node_b)
    first = str(artifact.current_version(node_a))
    assert b.sync() is None and not node_b.exists()  # nothing published yet
    a.publish(first)
    assert b.sync() == first
    assert artifact.current_version(node_b) == first
    assert artifact.sha256_file(node_b / first / MODEL_FILE) == artifact.sha256_file(
        node_a / first / MODEL_FILE
    )
    assert artifact.load(node_b).version == first
    assert [p.name for p in node_b.iterdir() if p.name.startswith(".")] == []  # no staging left
    # Every key in one hash slot: the publication is one MULTI, on a cluster too.
    assert all("{models}" in k for k in rc.scan_iter(match=f"{settings.redis_prefix}*"))

    serving = CurrentModel(node_b, reload_seconds=0.0, store=b)
    assert serving.get() is not None and serving.version == first
    second = new_version(node_a, "b")
    a.promote(second)
    assert artifact.current_version(node_a) == second
    assert serving.get() is not None and serving.version == second  # hot-swapped
    assert serving.error is None and artifact.current_version(node_b) == second


def _swap_model(client: redis.Redis, key: str, fix_manifest: bool) -> None:
    model = bytearray(base64.b64decode(client.hget(key, "model")))
    model[-1] ^= 0xFF
    client.hset(key, "model", base64.b64encode(bytes(model)).decode())
    if fix_manifest:  # what an attacker would do: make the sha256 match
        manifest = json.loads(client.hget(key, "manifest"))
        manifest["sha256"] = hashlib.sha256(bytes(model)).hexdigest()
        client.hset(key, "manifest", json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("model bytes", "sha256 does not match"),
        ("model bytes and manifest", "signature"),
        ("signed with another secret", "signature"),
        ("no signature", "signature"),
    ],
)
def test_a_tampered_version_is_refused_and_the_node_keeps_serving(
    rc: redis.Redis, keys: Keys, node_a: Path, node_b: Path, tamper: str, message: str
) -> None:
    fetched: list[str] = []

    class Counting(ModelStore):
        def fetch(self, version: str) -> None:
            fetched.append(version)
            super().fetch(version)

    a, b = store(rc, keys, node_a), Counting(rc, keys, node_b, SECRET)
    first = str(artifact.current_version(node_a))
    a.publish(first)
    serving = CurrentModel(node_b, reload_seconds=0.0, store=b)
    loaded = serving.get()
    assert loaded is not None and loaded.version == first

    second = new_version(node_a, "evil")
    if tamper == "signed with another secret":
        store(rc, keys, node_a, secret=b"o" * 32).publish(second)
    else:
        a.publish(second)
    key = keys.model_artifact(second)
    if tamper.startswith("model bytes"):
        _swap_model(rc, key, fix_manifest=tamper == "model bytes and manifest")
    elif tamper == "no signature":
        rc.hdel(key, "signature")
    with pytest.raises(ArtifactError, match=message):
        store(rc, keys, node_b).fetch(second)

    for _ in range(3):
        assert serving.get() is loaded  # still the first model
    assert serving.error is not None and f"refused model {second} from Redis" in serving.error
    assert message in serving.error
    assert fetched == [first, second], "a refused version is not fetched at every check"
    assert not (node_b / second).exists() and artifact.current_version(node_b) == first

    third = new_version(node_a, "good")
    a.promote(third)  # a good promotion clears the refusal
    assert serving.get() is not None and serving.version == third and serving.error is None


def test_a_signed_version_this_node_cannot_load_leaves_its_current_alone(
    rc: redis.Redis, keys: Keys, node_a: Path, node_b: Path, tmp_path: Path
) -> None:
    first = str(artifact.current_version(node_a))
    store(rc, keys, node_a).publish(first)
    serving = CurrentModel(node_b, reload_seconds=0.0, store=store(rc, keys, node_b))
    assert serving.get() is not None and serving.version == first
    # Trained elsewhere with another scikit-learn: genuine, signed, not loadable here.
    other = tmp_path / "other"
    shutil.copytree(node_a, other)
    second = new_version(other, "newer-sklearn")
    path = other / second / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["runtime"]["scikit-learn"] = "99.0"
    path.write_text(json.dumps(manifest))
    model = base64.b64encode((other / second / MODEL_FILE).read_bytes()).decode()
    signature = store(rc, keys, other).sign(path.read_bytes())
    fields = {"manifest": path.read_text(), "model": model, "signature": signature}
    rc.hset(keys.model_artifact(second), mapping=fields)
    rc.set(keys.model_current(), second)
    assert serving.get() is not None and serving.version == first
    assert serving.error is not None and "scikit-learn" in serving.error
    # The local CURRENT still names the first: a restarted worker serves it too.
    assert artifact.current_version(node_b) == first
    restarted = CurrentModel(node_b, reload_seconds=0.0, store=store(rc, keys, node_b))
    assert restarted.get() is not None and restarted.version == first


def test_without_redis_the_local_current_is_served(
    rc: redis.Redis, keys: Keys, node_a: Path
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = redis.Redis(port=port, socket_timeout=0.2, socket_connect_timeout=0.2,
                       decode_responses=True, retry=Retry(NoBackoff(), 0))  # fmt: skip
    first = str(artifact.current_version(node_a))
    serving = CurrentModel(node_a, reload_seconds=0.0, store=store(dead, keys, node_a))
    assert serving.get() is not None and serving.version == first
    assert serving.error is not None and "cannot ask Redis" in serving.error
    # Redis answers again but names no version yet: the local CURRENT, no error.
    serving.store = store(rc, keys, node_a)
    assert serving.get() is not None and serving.version == first and serving.error is None


def test_pruning_keeps_the_newest_and_never_the_current(
    rc: redis.Redis, keys: Keys, node_a: Path
) -> None:
    a = store(rc, keys, node_a, keep=2)
    v1 = str(artifact.current_version(node_a))
    v2, v3 = new_version(node_a, "2"), new_version(node_a, "3")
    for version in (v1, v2, v3):
        a.publish(version)
    assert rc.zrange(keys.model_versions(), 0, -1) == [v2, v3]
    assert not rc.exists(keys.model_artifact(v1))
    a.publish(v1)  # a roll back to v1: republished, and now the newest
    assert rc.zrange(keys.model_versions(), 0, -1) == [v3, v1]
    assert rc.exists(keys.model_artifact(v1)) and not rc.exists(keys.model_artifact(v2))
    assert a.current() == v1


def test_rollback_publishes(rc: redis.Redis, keys: Keys, node_a: Path, node_b: Path) -> None:
    a = store(rc, keys, node_a)
    first = str(artifact.current_version(node_a))
    a.publish(first)
    second = new_version(node_a, "b")
    a.promote(second)
    assert retrain.rollback(node_a, store=a) == first
    assert a.current() == first and artifact.current_version(node_a) == first
    assert store(rc, keys, node_b).sync() == first


@pytest.fixture
def shared(settings: Settings, node_a: Path) -> Settings:
    """Settings of a node on a shared Redis: REDIS_URL names the test server."""
    url = settings.redis_url or f"unix://{EmbeddedRedis(settings.redis_dir).socket}"
    return settings.replace(redis_url=url, secret_key=SECRET.decode(), models_dir=node_a)


def test_the_cli_publishes_and_a_new_node_fetches_instead_of_training(
    shared: Settings, rc: redis.Redis, keys: Keys, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.delenv("REDIS_SENTINEL", raising=False)
    monkeypatch.setenv("REDIS_CLUSTER", "1" if shared.redis_cluster else "0")
    monkeypatch.setenv("REDIS_URL", str(shared.redis_url))
    monkeypatch.setenv("REDIS_PREFIX", shared.redis_prefix)
    monkeypatch.setenv("SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps({**e.record, "label": "spam" if e.label else "ham"}) + "\n"
                            for e in tiny_examples()))  # fmt: skip
    trainer = tmp_path / "trainer"
    args = ["train", "--data", str(data), "--no-starter", "--out", str(trainer), "--promote"]
    assert main(args) == 0
    version = capsys.readouterr().out.strip().splitlines()[-1]
    assert store(rc, keys, trainer).current() == version

    joining = tmp_path / "joining"
    assert main(["train", "--out", str(joining), "--promote", "--if-missing"]) == 0
    assert "fetched the current model" in capsys.readouterr().err
    assert artifact.current_version(joining) == version
    assert [p.name for p in joining.iterdir() if p.is_dir()] == [version]  # none trained


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _admin_client(app: Flask) -> FlaskClient:
    web = app.test_client()
    token = _csrf(web.get("/moderate/login").get_data(as_text=True))
    web.post("/moderate/login", data={"username": "root", "password": PASSWORD,
                                      "csrf_token": token})  # fmt: skip
    return web


def test_the_admin_page_publishes_and_readyz_reports_a_refusal(
    shared: Settings, rc: redis.Redis, keys: Keys, node_a: Path, node_b: Path, tmp_path: Path
) -> None:
    app = create_app(shared)
    svc = app.extensions["moderation"]
    assert svc.models is not None  # a shared Redis: promotions are published
    svc.moderators.create("root", PASSWORD, admin=True)
    web = _admin_client(app)
    first = str(artifact.current_version(node_a))
    second = new_version(node_a, "b")
    token = _csrf(web.get("/moderate/admin/models").get_data(as_text=True))
    answer = web.post("/moderate/admin/models", data={"version": second, "csrf_token": token})
    assert answer.status_code == 302
    assert svc.models.current() == second and svc.model.version == second
    assert store(rc, keys, node_b).sync() == second

    # A version signed with another secret is published: refused, reported, not served.
    forger = tmp_path / "forger"
    shutil.copytree(node_a, forger)
    third = new_version(forger, "c")
    store(rc, keys, forger, secret=b"o" * 32).publish(third)
    ready = app.test_client().get("/readyz").get_json()
    assert ready["model"]["ok"] and ready["model"]["version"] == second
    assert f"refused model {third} from Redis" in ready["model"]["error"]
    assert artifact.current_version(node_a) == second != first


def test_retrain_judges_the_deployments_model_and_publishes_its_promotion(
    shared: Settings, rc: redis.Redis, keys: Keys, node_a: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"  # promoted on another node, not on this disk
    shutil.copytree(node_a, elsewhere)
    champion = new_version(elsewhere, "elsewhere")
    store(rc, keys, elsewhere).publish(champion)
    outcome = retrain.run(shared.replace(labels_dir_setting=tmp_path / "labels"), say=print)
    assert outcome.exit_code == 0 and outcome.summary["champion"]["version"] == champion
    assert (node_a / champion).is_dir()  # fetched to be judged
    published = store(rc, keys, node_a).current()
    assert published == (outcome.version if outcome.promoted else champion)
