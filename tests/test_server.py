"""End to end: the real gunicorn config, two workers, the embedded Redis, real HTTP.

What only a real server shows: the master starts the embedded Redis once for
all workers; a CLI command run beside the service shares it (and leaves it
running); metrics add up across workers; the first start prints a key once;
stopping the service stops its Redis.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from moderation.redis_server import EmbeddedRedis
from moderation.webhooks import SIGNATURE_HEADER, verify
from tests.conftest import HAM_COMMENT, SPAM_COMMENT
from tests.service import free_port

ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.e2e


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    var_dir: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def server(tmp_path: Path, models_dir: Path) -> Iterator[Server]:
    port = free_port()
    var_dir = tmp_path / "var"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "REDIS_CLUSTER", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update(
        PORT=str(port),
        VAR_DIR=str(var_dir),
        MODELS_DIR=str(models_dir),
        WEB_CONCURRENCY="2",
        REDIS_PREFIX="e2e:",
    )
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:moderation.gunicorn_conf", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    srv = Server(url, env, process, log, var_dir)
    try:
        _wait_ready(srv)
        yield srv
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 60
    while True:
        # Ready when /readyz says so and both workers have loaded the app.
        booted = server.log_text().count("serving model") >= 2
        try:
            if booted and requests.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or workers still booting
        if server.process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"server did not become ready:\n{server.log_text()}")
        time.sleep(0.1)


def _first_start_key(server: Server) -> str:
    """The key the first start wrote to VAR_DIR/first-start.txt - and not to
    the log."""
    deadline = time.monotonic() + 10
    path = server.var_dir / "first-start.txt"
    while time.monotonic() < deadline:
        if path.exists() and "key: mk_" in path.read_text():
            assert path.stat().st_mode & 0o777 == 0o600
            found = re.findall(r"key: (mk_\S+)", path.read_text())
            assert len(found) == 1
            created = re.findall(r"created site 'localhost'", server.log_text())
            assert len(created) == 1, "exactly one worker creates the first site"
            assert found[0] not in server.log_text(), "a site key in the log"
            passwords = re.findall(r"password: (\S+)", path.read_text())
            assert passwords and passwords[0] not in server.log_text(), "a password in the log"
            return found[0]
        time.sleep(0.1)
    pytest.fail(f"no first-start key in {path}")


def _metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


def test_scoring_over_http_with_two_workers(server: Server) -> None:
    key = _first_start_key(server)
    headers = {"Authorization": f"Bearer {key}"}
    n = 48

    def check(i: int) -> tuple[int, float]:
        body = {**(SPAM_COMMENT if i % 2 else HAM_COMMENT), "id": str(i)}
        response = requests.post(
            f"{server.url}/api/v1/comments/check", json=body, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        return i % 2, response.json()["score"]

    # Eight at once: a sync worker serves one request at a time, so both
    # workers take a share (each writes its own metrics file).
    with ThreadPoolExecutor(max_workers=8) as pool:
        scores = dict(pool.map(check, range(n)))
    assert scores[1] > scores[0]

    metric_files = list((server.var_dir / "metrics").glob("counter_*.db"))
    assert len(metric_files) >= 2, "both workers counted checks"
    with ThreadPoolExecutor(max_workers=4) as pool:
        scrapes = list(
            pool.map(lambda _: requests.get(f"{server.url}/metrics", timeout=10).text, range(8))
        )
    for text in scrapes:  # whichever worker answers the scrape, the totals agree
        assert _metric(text, "moderation_checks_total") == n
        assert _metric(text, "moderation_request_seconds_count") == n


def test_cli_beside_the_service_shares_its_redis(server: Server) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "sites", "create", "blog.example"],
        cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    key = result.stdout.strip().splitlines()[-1]
    response = requests.post(
        f"{server.url}/api/v1/comments/check", json=HAM_COMMENT,
        headers={"Authorization": f"Bearer {key}"}, timeout=10,
    )  # fmt: skip
    assert response.status_code == 200
    assert EmbeddedRedis(server.var_dir / "redis").is_running(), "the CLI left it running"


def test_stopping_the_service_stops_its_redis(server: Server) -> None:
    embedded = EmbeddedRedis(server.var_dir / "redis")
    assert embedded.is_running()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=30)
    assert not embedded.is_running()
    assert (server.var_dir / "redis" / "appendonly.aof").exists(), "data persisted on disk"


def test_decision_to_webhook_through_the_running_service(server: Server) -> None:
    """make run's whole path: CLI setup, HTTP check, moderator login and decision,
    and the background worker (started by gunicorn's master) signing the webhook."""
    from tests.test_webhooks import Receiver

    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()

    def flask(*args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=server.env,
            input=stdin, capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip

    try:
        key = flask("sites", "create", "blog.example").strip().splitlines()[-1]
        secret = flask("sites", "update", "blog.example", "--ham-below", "0", "--spam-above",
                       "1", "--webhook", receiver.url).strip().splitlines()[-1]  # fmt: skip
        flask("moderators", "create", "alice", "--sites", "blog.example", "--password-stdin",
              stdin="correct horse battery\n")  # fmt: skip
        check = requests.post(
            f"{server.url}/api/v1/comments/check",
            json={"id": "42", **HAM_COMMENT},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        ).json()
        assert check["verdict"] == "review" and check["review_id"] == "blog.example:42"
        token = requests.post(
            f"{server.url}/api/v1/auth/login",
            json={"username": "alice", "password": "correct horse battery"},
            timeout=10,
        ).json()["token"]
        decided = requests.post(
            f"{server.url}/api/v1/review/blog.example:42/decision",
            json={"label": "ham"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert decided.status_code == 200
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.1)
        ((headers, body),) = receiver.received
        assert json.loads(body)["verdict"] == "ham"
        assert verify(secret, body, headers[SIGNATURE_HEADER], now=time.time())
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    (worker_pid,) = re.findall(r"background worker started \(pid (\d+)\)", server.log_text())
    os.kill(int(worker_pid), 0)  # running beside the web workers
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=30)
    with pytest.raises(ProcessLookupError):  # and stopped with them
        os.kill(int(worker_pid), 0)
