"""Where a check's time goes: the request path profiled in-process.

    python -m bench.request [--data ../shared/data/youtube-spam] [--n 1000]

The service's WSGI app (``create_app``, the embedded Redis in a temporary
folder, the default model trained on the starter corpus) called directly with
real comments as ``POST /api/v1/comments/check`` - no HTTP, no gunicorn - so
that what is measured is our code and its Redis round trips: CPU and wall
time per check, then pyinstrument's flat profile (time in each function
itself), whose top lines go into ``bench/RESULTS.md`` and the whole tree into
bench/profiles/request.txt.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.accuracy import DEFAULT_DATA, RESULTS, machine, revision, write_section
from bench.http import BENCH_RATE_LIMIT
from bench.latency import PROFILES
from training import datasets

CHECK = "/api/v1/comments/check"


def caller(app: Any, key: str) -> Callable[[bytes], None]:
    """A function that sends one body to the app as a check, as a WSGI server would."""

    def call(body: bytes) -> None:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": CHECK, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {key}",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }  # fmt: skip
        status: list[str] = []
        b"".join(app(environ, lambda s, headers, exc=None: status.append(s)))
        if not status[0].startswith("200"):
            raise RuntimeError(f"check answered {status[0]}")

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--write", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    records = [e.record for e in datasets.load(sorted(args.data.glob("*.csv")), starter=False)]
    bodies = [json.dumps(r).encode() for r in records]
    with tempfile.TemporaryDirectory() as tmp:
        limits = {"RATE_LIMIT_IP": BENCH_RATE_LIMIT, "RATE_LIMIT_SITE": BENCH_RATE_LIMIT}
        os.environ.update(VAR_DIR=f"{tmp}/var", MODELS_DIR=f"{tmp}/models", LOG_LEVEL="WARNING",
                          **limits)  # fmt: skip
        os.environ.pop("REDIS_URL", None)
        subprocess.run([sys.executable, "-m", "training", "train", "--promote"],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        from moderation import create_app
        from moderation.services import services

        app = create_app()
        with app.app_context():
            key = services().sites.create("bench.example")
        call = caller(app, key)
        warm, timed = bodies[1::2], bodies[::2][: args.n]
        for body in warm:  # the per-word cache and the connections, as a worker that has run
            call(body)
        wall, cpu = time.perf_counter(), time.process_time()
        for body in timed:
            call(body)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        from pyinstrument import Profiler  # bench/requirements.txt

        profiler = Profiler(interval=0.0001)
        profiler.start()
        for body in timed:
            call(body)
        profiler.stop()
        svc = app.extensions["moderation"]
        svc.redis.connection_pool.disconnect()  # then the embedded Redis is ours to stop
        if svc.embedded is not None:
            svc.embedded.stop()
    PROFILES.mkdir(exist_ok=True)
    (PROFILES / "request.txt").write_text(profiler.output_text(unicode=False, color=False))
    flat = profiler.output_text(unicode=False, color=False, flat=True)
    top = [line for line in flat.splitlines() if line[:1].isdigit()][:20]
    report = "\n".join([
        "## Request path profile",
        "",
        f"`python -m bench.request` on {datetime.now(UTC):%Y-%m-%d}, {machine()}, revision"
        f" {revision()}: the service's WSGI app called in-process (no HTTP) with {len(timed)} real"
        " comments as checks, after as many others; the embedded Redis, the default model.",
        "",
        f"Per check: {cpu / len(timed) * 1000:.2f} ms of CPU, {wall / len(timed) * 1000:.2f} ms"
        " of wall time (the difference: waiting for Redis).",
        "",
        "The top of pyinstrument's flat profile, seconds in each function itself over the"
        " checks (the whole tree in bench/profiles/request.txt):",
        "",
        "```",
        *top,
        "```",
        "",
    ])  # fmt: skip
    print(report)
    write_section(args.write, "request", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
