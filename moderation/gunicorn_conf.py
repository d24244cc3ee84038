"""gunicorn configuration: ``gunicorn -c python:moderation.gunicorn_conf wsgi:app``.

The master (not the workers) prepares what all workers share, before any of
them boots: the embedded Redis server (so workers never race to start it)
and an empty multi-process metrics directory; once ready, it starts the
background worker (``python -m moderation worker``). Worker count:
WEB_CONCURRENCY (default 2); any other gunicorn option through GUNICORN_CMD_ARGS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

from moderation.redis_server import EmbeddedRedis
from moderation.settings import Settings

_settings = Settings.from_env(os.environ)
_metrics_dir = _settings.metrics_dir or (_settings.var_dir / "metrics").resolve()
# prometheus_client reads this in each worker at import; workers inherit it.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
# gunicorn's control socket, per deployment (its default is one path per
# user: two services on a machine would fight over it).
control_socket = str((_settings.var_dir / "gunicorn.ctl").resolve())
accesslog = "-" if _settings.access_log else None
errorlog = "-"
loglevel = _settings.log_level.lower()
_embedded = EmbeddedRedis(_settings.redis_dir) if _settings.embedded_redis else None
_worker: subprocess.Popen[bytes] | None = None


def on_starting(server: Any) -> None:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    _metrics_dir.mkdir(parents=True)
    if _embedded is not None:
        _embedded.ensure_running()
        server.log.info("embedded redis at %s", _embedded.socket)


def when_ready(server: Any) -> None:
    """Start the background worker (spool replay, webhooks) beside the web
    workers, unless RUN_WORKER=0 (it then runs elsewhere: python -m moderation worker)."""
    global _worker
    if _settings.run_worker:
        _worker = subprocess.Popen([sys.executable, "-m", "moderation", "worker"])
        server.log.info("background worker started (pid %s)", _worker.pid)


def child_exit(server: Any, worker: Any) -> None:
    # Imported here, not at the top: prometheus_client picks its value store
    # when first imported, and must see PROMETHEUS_MULTIPROC_DIR by then.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(_metrics_dir))  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if _worker is not None and _worker.poll() is None:
        _worker.terminate()
        try:
            _worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _worker.kill()
    if _embedded is not None and _embedded.started_here:
        _embedded.stop()
