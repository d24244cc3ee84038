"""``make fuzz``: schemathesis against the real service, over real HTTP.

    python -m tests.fuzz [--examples 1000] [--seed N] [--keep]

Starts the service as ``make run`` does (gunicorn with moderation/gunicorn_conf,
its embedded Redis) in a temporary VAR_DIR and MODELS_DIR - never the
developer's var/ - with a real model (the tests' tiny one, trained in a
second), a site whose every uncertain comment goes to the review queue, and
an admin moderator (RATE_LIMITS=off: the fuzzer is one client sending
thousands of requests); then runs schemathesis on the served /openapi.json
with every check on (and the exceptions in tests/schemathesis.toml, each with
its reason), at least ``--examples`` generated requests on every operation
(the stateful phase's come on top), authenticated per operation
(tests/fuzz_hooks.py). Exits non-zero on any failure, and when an operation
got fewer requests than ``--examples``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

from moderation import create_app
from moderation.settings import Settings
from tests.conftest import HAM_COMMENT, SPAM_COMMENT, promote_tiny_model
from tests.service import BIN, ROOT, free_port, gunicorn, service_env

SITE = "fuzz.example"
MODERATOR = "fuzzer"


def wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}) before it was ready")
        try:
            if requests.get(url + "/readyz", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or a worker still booting
        time.sleep(0.1)
    raise SystemExit("the service was not ready within 60 s")


def credentials(env: dict[str, str], url: str) -> dict[str, str]:
    """A site (every uncertain comment queued), an admin moderator, a token;
    a few comments checked and one decided, so the queue and the history
    have something in them."""
    app = create_app(Settings.from_env(env), load_model=False)
    svc = app.extensions["moderation"]
    key = svc.sites.create(SITE)
    svc.sites.set_cutoffs(SITE, 0.0, 1.0)
    password = secrets.token_urlsafe(16)
    svc.moderators.create(MODERATOR, password, admin=True)
    svc.redis.connection_pool.disconnect()
    login = {"username": MODERATOR, "password": password}
    token = requests.post(url + "/api/v1/auth/login", json=login, timeout=10).json()["token"]
    site, moderator = {"Authorization": f"Bearer {key}"}, {"Authorization": f"Bearer {token}"}
    for i, comment in enumerate([HAM_COMMENT, SPAM_COMMENT] * 5):
        body = {**comment, "id": f"seed-{i}"}
        requests.post(url + "/api/v1/comments/check", json=body, headers=site, timeout=10)
    decided = requests.post(
        f"{url}/api/v1/review/{SITE}:seed-0/decision", json={"label": "ham"}, headers=moderator,
        timeout=10,
    )  # fmt: skip
    decided.raise_for_status()
    return {"FUZZ_URL": url, "FUZZ_SITE_KEY": key, "FUZZ_TOKEN": token,
            "FUZZ_USER": MODERATOR, "FUZZ_PASSWORD": password}  # fmt: skip


def requests_per_operation(ndjson: Path) -> Counter[str]:
    """Requests schemathesis sent, per operation, read from its event log."""
    counts: Counter[str] = Counter()
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        for name, body in event.items():
            if name == "ScenarioFinished":
                for step in (body.get("recorder") or {}).get("interactions", {}).values():
                    counts[body["recorder"]["label"]] += 1 if step else 0
    return counts


def operations(url: str) -> list[str]:
    """The served document's operations, named as schemathesis names them."""
    paths = requests.get(url + "/openapi.json", timeout=10).json()["paths"]
    return [f"{method.upper()} {path}" for path, ops in paths.items() for method in ops]


def fuzz(url: str, env: dict[str, str], work: Path, examples: int, seed: int | None) -> int:
    """schemathesis on every operation; then, for any that got fewer than
    ``examples`` requests (Hypothesis does not send a case twice, and an
    operation with little to vary runs out of new ones early), runs on those
    alone until they have them. Exit status: non-zero on any failure."""
    counts: Counter[str] = Counter()
    wanted = operations(url)
    started = time.monotonic()
    for attempt in range(4):
        short = [op for op in wanted if counts[op] < examples]
        if not short:
            break
        # A fifth more than the floor at first; then what is missing, twice.
        more = max((examples - counts[op]) * 2 for op in short) if attempt else examples * 6 // 5
        report = work / f"events-{attempt}.ndjson"
        # One worker: with two threads, Hypothesis's ast.parse hit CPython
        # 3.11's "AST constructor recursion depth mismatch" (a SystemError),
        # and one was no slower here (the server shares the two cores).
        command = [
            str(BIN / "st"), "--config-file", str(ROOT / "tests" / "schemathesis.toml"),
            "run", f"{url}/openapi.json", "--max-examples", str(more),
            "--workers", "1", "--no-color", "--suppress-health-check", "all",
            "--generation-database", "none",
            "--report", "ndjson", "--report-ndjson-path", str(report),
            *(["--seed", str(seed)] if seed is not None else []),
            *[arg for op in short if attempt for arg in ("--include-name", op)],
        ]  # fmt: skip
        print("$", " ".join(command[1:]), flush=True)
        status = subprocess.run(command, env=env, cwd=work, check=False).returncode
        counts += requests_per_operation(report)
        if status:
            return status
    print(f"schemathesis: {time.monotonic() - started:.0f} s")
    for op in wanted:
        print(f"  {counts[op]:7d} requests  {op}")
    short = [op for op in wanted if counts[op] < examples]
    if short:
        print(f"fewer than {examples} requests: {', '.join(short)}")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--examples", type=int, default=1000, help="requests per operation, at least"
    )
    parser.add_argument("--seed", type=int, help="schemathesis seed (default: random)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="moderation-fuzz-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(work, port, RUN_WORKER="0", RATE_LIMITS="off")
    promote_tiny_model(work / "models")
    try:
        with gunicorn("wsgi:app", env, work / "gunicorn.log") as server:
            wait_ready(url, server)
            env.update(credentials(env, url), SCHEMATHESIS_HOOKS="tests.fuzz_hooks")
            return fuzz(url, env, work, args.examples, args.seed)
    finally:
        log_text = (work / "gunicorn.log").read_text(errors="replace")
        if "Traceback" in log_text:
            print("the service logged errors:\n" + log_text[-5000:])
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
