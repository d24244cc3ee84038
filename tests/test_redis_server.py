"""The embedded Redis: one server per var dir, shared, persistent, stopped only when unused."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moderation import create_app
from moderation.errors import SettingsError
from moderation.redis_server import EmbeddedRedis, connect, describe
from moderation.settings import Settings


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis")
    yield server
    server.stop(only_if_unused=False)


def test_started_once_then_found(embedded: EmbeddedRedis) -> None:
    assert embedded.ensure_running() is True
    other = EmbeddedRedis(embedded.directory)
    assert other.ensure_running() is False, "a second process finds the running server"
    assert other.client().ping()


def test_not_stopped_while_others_use_it(embedded: EmbeddedRedis) -> None:
    embedded.ensure_running()
    user = embedded.client()
    user.ping()
    assert embedded.stop() is False
    assert embedded.is_running()
    user.close()
    assert embedded.stop() is True
    assert not embedded.is_running()


def test_data_survives_a_restart(embedded: EmbeddedRedis) -> None:
    embedded.ensure_running()
    embedded.client().set("kept", "yes")
    embedded.stop(only_if_unused=False)
    embedded.ensure_running()
    assert embedded.client().get("kept") == "yes"


def test_connect_uses_the_embedded_server_without_a_url(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    client, server = connect(settings)
    try:
        assert server is not None and server.started_here
        assert client.ping()
        assert describe(settings).startswith("embedded (")
    finally:
        client.close()
        assert server is not None
        server.stop(only_if_unused=False)


def test_describe_hides_credentials() -> None:
    settings = Settings(redis_url="redis://user:secret@db.internal:6379/0")
    assert describe(settings) == "redis://db.internal:6379/0"
    cluster = settings.replace(redis_url="redis://:secret@a:7000,b:7001", redis_cluster=True)
    assert describe(cluster) == "redis://a:7000,b:7001 (cluster)"


def test_an_unreachable_cluster_is_a_clear_error_at_start(settings: Settings) -> None:
    nowhere = settings.replace(redis_url="redis://127.0.0.1:1", redis_cluster=True)
    with pytest.raises(SettingsError, match="no Redis Cluster node answers"):
        create_app(nowhere)


def test_too_long_socket_path_names_the_variable(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    with pytest.raises(SettingsError, match="VAR_DIR"):
        EmbeddedRedis(deep).ensure_running()


def test_stops_even_when_the_final_save_fails(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    server.ensure_running()
    pid = int(server.pidfile.read_text())
    elsewhere = tmp_path / "gone"
    elsewhere.mkdir()
    client = server.client()
    client.config_set("dir", str(elsewhere))
    client.close()
    shutil.rmtree(elsewhere)  # as good as a full disk: the snapshot cannot be written
    assert server.stop(only_if_unused=False) is True
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
