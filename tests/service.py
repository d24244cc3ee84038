"""The service as ``make run`` starts it, for the runs that drive it from
outside over HTTP: ``make fuzz``, ``make test-wordpress``, ``make
test-cluster`` and the benchmarks; and the helpers those runs share.

Each run gets its own VAR_DIR (and so its own embedded Redis) and MODELS_DIR
under a folder of its own - never the developer's ``var/`` - and none of the
developer's settings that would point it elsewhere.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# A shell's settings that would send a run to another Redis, another
# gunicorn configuration or the real Akismet.
_OUTSIDE = (
    "REDIS_URL",
    "REDIS_CLUSTER",
    "REDIS_SENTINEL",
    "GUNICORN_CMD_ARGS",
    "AKISMET_API_KEY",
    "AKISMET_BLOG_URL",
    "AKISMET_URL",
)


def free_port() -> int:
    """A loopback port nothing listens on (until someone binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(workdir: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of a service in ``workdir`` on ``port``, with ``settings`` on top."""
    env = {k: v for k, v in os.environ.items() if k not in _OUTSIDE}
    env.update(
        VAR_DIR=str(workdir / "var"),
        MODELS_DIR=str(workdir / "models"),
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        **settings,
    )
    return env


@contextmanager
def gunicorn(app: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn with our configuration serving ``app``; stopped (TERM, then KILL) on exit."""
    with open(log, "ab") as out:
        server = subprocess.Popen(
            [BIN / "gunicorn", "-c", "python:moderation.gunicorn_conf", app],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


T = TypeVar("T")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 60, every: float = 0.2
) -> T:
    """Poll ``probe`` until it returns something other than None (or False);
    a connection refused or timing out (HTTP or Redis) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = probe()
        except (requests.ConnectionError, requests.Timeout, OSError, redis.RedisError):
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@contextmanager
def process(args: list[str], log_file: Path, **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in a process group of its own, the whole group stopped
    (TERM, then KILL) when the block ends: ``php -S``'s workers do not die
    with their parent, and gunicorn has its workers, its background worker
    and the embedded Redis."""
    with open(log_file, "ab") as out:
        child = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
        )
    try:
        yield child
    finally:
        _signal_group(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        time.sleep(0.2)
        _signal_group(child.pid, signal.SIGKILL)  # stragglers


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 10) -> None:
    """TERM each, then KILL the ones still running after ``timeout``."""
    for child in processes:
        if child.poll() is None:
            child.terminate()
    for child in processes:
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
