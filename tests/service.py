"""The service as ``make run`` starts it, for the runs that drive it from
outside over HTTP: ``make fuzz``, ``make test-wordpress`` and the benchmarks.

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# A shell's settings that would send a run to another Redis, another
# gunicorn configuration or the real Akismet.
_OUTSIDE = ("REDIS_URL", "GUNICORN_CMD_ARGS", "AKISMET_API_KEY", "AKISMET_BLOG_URL", "AKISMET_URL")


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
