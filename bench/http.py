"""Over HTTP: the scoring endpoint against a bare Flask endpoint, same gunicorn.

    python -m bench.http [--data ../shared/data/youtube-spam] [--seconds 10]
                         [--connections 1,8,32] [--gunicorn "-w 3 ..."]
    python -m bench.http --target http://node1:8000 --target http://node2:8000 --key mk_...

Starts the service as ``make run`` does (gunicorn with moderation/gunicorn_conf,
the embedded Redis, the background worker, the default model trained on the
starter corpus) and, in turn, bench/bare.py under the same gunicorn
configuration; then wrk (Debian's package) POSTs real comments from the data
to ``/api/v1/comments/check`` and the same bodies to the bare endpoint, at
each number of connections, and reports throughput, p50/p99 latency and
errors (socket errors and non-2xx answers) of both, measured in one run on
one machine - wrk shares the cores with the servers, alike for both.
Also: cold start (process start to the first answered check) and the peak
RSS of each gunicorn worker. ``--gunicorn`` passes extra gunicorn options to
both servers (GUNICORN_CMD_ARGS), for choosing the settings;
``--target`` skips the servers and loads nodes already running, one wrk per
node at once (connections split between them), with a site key of theirs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import requests

from bench.accuracy import DEFAULT_DATA, RESULTS, machine, revision, write_section
from tests.service import BIN, ROOT, free_port, gunicorn, service_env
from training import datasets

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
CHECK = "/api/v1/comments/check"
BARE = "/check"


def write_bodies(data: Path, path: Path) -> int:
    """The comments of the data as JSON request bodies, one per line."""
    records = [e.record for e in datasets.load(sorted(data.glob("*.csv")), starter=False)]
    with open(path, "w") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(records)


BENCH_RATE_LIMIT = "100000000/minute"


def bench_env(workdir: Path, port: int, gunicorn_args: str) -> dict[str, str]:
    # Limits stay on (their Redis round trips are part of the cost) but far
    # above what one load generator sends.
    env = service_env(workdir, port, RATE_LIMIT_IP=BENCH_RATE_LIMIT,
                      RATE_LIMIT_SITE=BENCH_RATE_LIMIT)  # fmt: skip
    if gunicorn_args:
        env["GUNICORN_CMD_ARGS"] = gunicorn_args
    return env


def prepare(workdir: Path, env: dict[str, str]) -> str:
    """Train and promote the default model (once); create a site; its key."""
    if not (Path(env["MODELS_DIR"]) / "CURRENT").exists():
        subprocess.run([BIN / "python", "-m", "training", "train", "--promote"],
                       env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    create = [str(BIN / "flask"), "--app", "wsgi", "sites", "create", "bench.example"]
    created = subprocess.run(create, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return str(created.stdout).strip().splitlines()[-1]


def first_answer(url: str, body: dict[str, Any], headers: dict[str, str], started: float) -> float:
    """Seconds from ``started`` until ``url`` answers 200 (polled)."""
    deadline = started + 120
    while time.monotonic() < deadline:
        try:
            if requests.post(url, json=body, headers=headers, timeout=10).status_code == 200:
                return time.monotonic() - started
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within 120 s")


def processes(master: int, var_dir: Path) -> dict[str, list[int]]:
    """The server's processes by role: gunicorn workers, the embedded Redis,
    the background worker."""
    roles: dict[str, list[int]] = {"gunicorn workers": [], "redis": [], "background worker": []}
    for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        role = ("gunicorn workers" if b"gunicorn" in cmdline
                else "redis" if b"redis-server" in cmdline else "background worker")  # fmt: skip
        roles[role].append(int(child))
    # The embedded Redis runs on its own (it outlives a worker restart), not
    # as a child: its pid file is in VAR_DIR/redis.
    pidfile = var_dir / "redis" / "redis.pid"
    if not roles["redis"] and pidfile.exists():
        roles["redis"].append(int(pidfile.read_text().split()[0]))
    return roles


def cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def redis_calls(env: dict[str, str]) -> dict[str, int]:
    """Commands the embedded Redis has run, by name ("commands" in all,
    those inside Lua scripts included); nothing for the bare app."""
    socket_path = Path(env["VAR_DIR"]) / "redis" / "redis.sock"
    if env.get("REDIS_URL") or not socket_path.exists():
        return {}
    client = redis.Redis(unix_socket_path=str(socket_path), decode_responses=True)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    return {"commands": sum(calls.values()), "evalsha": calls.get("evalsha", 0)}


def worker_rss_mb(master: int) -> list[float]:
    """Peak RSS (VmHWM) of each gunicorn worker under this master, in MB."""
    out = []
    for child in processes(master, Path("/nonexistent"))["gunicorn workers"]:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out.append(int(line.split()[1]) / 1024)
    return out


def wrk(
    urls: list[str], bodies: Path, key: str, connections: int, seconds: float
) -> dict[str, float]:
    """One wrk per URL at once, the connections split between them; totals."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: make bench-http installs it (Debian's wrk)")
    procs = []
    for i, url in enumerate(urls):
        share = connections // len(urls) + (i < connections % len(urls))
        procs.append(subprocess.Popen(
            ["wrk", "-t", str(min(share, 2)), "-c", str(share), "-d", f"{seconds:g}s",
             "--timeout", "5s", "-s", str(WRK_SCRIPT), url, "--", str(bodies), key],
            stdout=subprocess.PIPE, text=True,
        ))  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    runs = []
    for proc in procs:
        out, _ = proc.communicate()
        summary = [line for line in out.splitlines() if line.startswith('{"requests"')]
        if proc.returncode or not summary:
            raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out}")
        runs.append(json.loads(summary[-1]))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    errors = sum(r[k] for r in runs for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "wrk_cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "rps": sum(r["requests"] / (r["duration_us"] / 1e6) for r in runs),
        "p50_ms": max(r["p50_us"] for r in runs) / 1000,
        "p99_ms": max(r["p99_us"] for r in runs) / 1000,
        "errors": errors,
        "requests": sum(r["requests"] for r in runs),
    }


def _weighted(runs: list[dict[str, Any]], group: str, key: str) -> float:
    """A per-request figure over several runs, weighted by their requests."""
    total = float(sum(r[group][key] * r["requests"] for r in runs))
    return total / float(sum(r["requests"] for r in runs))


class Target:
    """One server under test: where to send, and what its processes spend."""

    def __init__(self, name: str, server: subprocess.Popen[bytes], env: dict[str, str],
                 path: str, key: str) -> None:  # fmt: skip
        self.name, self.server, self.env, self.key = name, server, env, key
        self.url = f"http://127.0.0.1:{env['PORT']}{path}"
        self.roles: dict[str, list[int]] = {}
        self.cold = 0.0
        self.runs: dict[int, list[dict[str, Any]]] = {}

    def start(self, sample: dict[str, Any], bodies: Path) -> None:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        self.cold = first_answer(self.url, sample, headers, self.started)
        wrk([self.url], bodies, self.key, 8, 3)  # warm-up: caches, every worker's first requests
        self.roles = processes(self.server.pid, Path(self.env["VAR_DIR"]))

    started = 0.0

    def run(self, bodies: Path, connections: int, seconds: float) -> None:
        cpu = {role: cpu_seconds(pids) for role, pids in self.roles.items()}
        calls = redis_calls(self.env)
        run: dict[str, Any] = dict(wrk([self.url], bodies, self.key, connections, seconds))
        n = max(run["requests"], 1)
        run["cpu_ms"] = {r: (cpu_seconds(p) - cpu[r]) * 1000 / n for r, p in self.roles.items()}
        run["cpu_ms"]["wrk"] = run.pop("wrk_cpu") * 1000 / n
        run["redis_calls"] = {
            k: (v - calls.get(k, 0)) / n for k, v in redis_calls(self.env).items()
        }
        self.runs.setdefault(connections, []).append(run)

    def level(self, connections: int) -> dict[str, Any]:
        """The rounds at one number of connections together: throughput over
        all of them, the median p50, the worst p99, every error, mean CPU."""
        runs = self.runs[connections]
        requests = sum(r["requests"] for r in runs)
        roles = runs[0]["cpu_ms"].keys()
        return {
            "rps": requests / sum(r["requests"] / r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "requests": requests,
            "cpu_ms": {k: _weighted(runs, "cpu_ms", k) for k in roles},
            "redis_calls": {k: _weighted(runs, "redis_calls", k) for k in runs[0]["redis_calls"]},
        }

    def summary(self, connections: list[int]) -> dict[str, Any]:
        levels = {c: self.level(c) for c in connections}
        print(f"{self.name}: cold start {self.cold:.2f} s, " + ", ".join(
            f"{c} conn {r['rps']:,.0f}/s p99 {r['p99_ms']:.1f} ms err {r['errors']}"
            for c, r in levels.items()), file=sys.stderr)  # fmt: skip
        return {"cold": self.cold, "levels": levels, "rss": worker_rss_mb(self.server.pid)}


def compare(
    ours_env: dict[str, str],
    key: str,
    bare_env: dict[str, str],
    args: argparse.Namespace,
    bodies: Path,
    sample: dict[str, Any],
    logs: Path,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both servers up at once, the load taking turns between them round by
    round at each number of connections (on a shared machine the noise of
    the neighbours then falls on both alike)."""
    targets = []
    with contextlib.ExitStack() as stack:
        servers = [
            ("service", "wsgi:app", CHECK, ours_env, key),
            ("bare Flask", "bench.bare:app", BARE, bare_env, ""),
        ]
        for name, app, path, env, token in servers:
            started = time.monotonic()
            log = logs / f"{name.split()[0]}.log"
            server = stack.enter_context(gunicorn(app, env, log))
            target = Target(name, server, env, path, token)
            target.started = started
            target.start(sample, bodies)  # one at a time: cold start is measured alone
            targets.append(target)
        for c in args.connections:
            for _ in range(args.rounds):
                for target in targets:
                    target.run(bodies, c, args.seconds)
        ours, bare = (t.summary(args.connections) for t in targets)
    return ours, bare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seconds", type=float, default=5, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=lambda s: [int(c) for c in s.split(",")],
                        default=[1, 8, 32])  # fmt: skip
    parser.add_argument("--gunicorn", default="", help="extra gunicorn options, both servers")
    parser.add_argument("--target", action="append", default=[], help="a running node's URL")
    parser.add_argument("--key", default="", help="site key of the --target nodes")
    parser.add_argument("--tune", action="store_true", help="compare gunicorn settings")
    parser.add_argument("--write", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bodies = workdir / "bodies.jsonl"
        n = write_bodies(args.data, bodies)
        sample = json.loads(bodies.read_text().splitlines()[0])
        if args.target:
            urls = [t.rstrip("/") + CHECK for t in args.target]
            for c in args.connections:
                r = wrk(urls, bodies, args.key, c, args.seconds)
                print(f"{len(urls)} nodes, {c} connections: {r['rps']:,.0f} checks/s,"
                      f" p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms,"
                      f" {r['errors']} errors")  # fmt: skip
            return 0
        if args.tune:
            report = tune(args, workdir, bodies, sample)
            print(report)
            write_section(args.write, "gunicorn", report)
            return 0
        ours, bare = run_both(args.gunicorn, args, workdir / "run", bodies, sample)
    report = render(ours, bare, n, args)
    print(report)
    if not args.gunicorn:
        write_section(args.write, "http", report)
    return 0


def run_both(gunicorn_args: str, args: argparse.Namespace, workdir: Path, bodies: Path,
             sample: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    env = bench_env(workdir, free_port(), gunicorn_args)
    env["MODELS_DIR"] = str(workdir.parent / "models")  # one model for every run
    key = prepare(workdir, env)
    bare_env = bench_env(workdir / "bare", free_port(), gunicorn_args)
    # The bare app needs no Redis: a URL (never connected to) keeps the
    # gunicorn configuration from starting an embedded one.
    bare_env.update(RUN_WORKER="0", REDIS_URL="redis://127.0.0.1:9/0")
    return compare(env, key, bare_env, args, bodies, sample, workdir)


# The gunicorn settings tried by --tune (the README's choice comes from this).
TUNING = [
    "-w 2 -k sync",
    "-w 3 -k sync",
    "-w 4 -k sync",
    "-w 2 -k gthread --threads 2 --keep-alive 5",
    "-w 2 -k gthread --threads 4 --keep-alive 5",
    "-w 3 -k gthread --threads 2 --keep-alive 5",
]


def tune(args: argparse.Namespace, workdir: Path, bodies: Path, sample: dict[str, Any]) -> str:
    """Each TUNING setting, both servers, at 8 connections."""
    args.connections = [8]
    rows = []
    for i, setting in enumerate(TUNING):
        ours, bare = run_both(setting, args, workdir / f"t{i}", bodies, sample)
        o, b = ours["levels"][8], bare["levels"][8]
        rows.append(
            f"| `{setting}` | {o['rps']:,.0f} | {o['p50_ms']:.1f} | {o['p99_ms']:.1f}"
            f" | {o['cpu_ms']['gunicorn workers']:.2f} | {b['rps']:,.0f} | {b['p99_ms']:.1f}"
            f" | {o['rps'] / b['rps']:.0%} |"
        )
    return "\n".join([
        "## gunicorn settings",
        "",
        f"`python -m bench.http --tune` on {datetime.now(UTC):%Y-%m-%d}, {machine()}, revision"
        f" {revision()}: the checks and the bare endpoint at 8 connections under each setting"
        f" ({args.rounds} rounds of {args.seconds:g} s each, interleaved).",
        "",
        "| gunicorn | checks/s | p50 ms | p99 ms | worker CPU ms/check | bare req/s | bare p99 ms"
        " | ours / bare |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ])  # fmt: skip


def render(ours: dict[str, Any], bare: dict[str, Any], n: int, args: argparse.Namespace) -> str:
    rows = []
    for c in args.connections:
        o, b = ours["levels"][c], bare["levels"][c]
        rows.append(
            f"| {c} | {o['rps']:,.0f} | {o['p50_ms']:.1f} | {o['p99_ms']:.1f} | {o['errors']}"
            f" | {b['rps']:,.0f} | {b['p50_ms']:.1f} | {b['p99_ms']:.1f} | {b['errors']}"
            f" | {o['rps'] / b['rps']:.0%} |"
        )
    return "\n".join([
        "## Over HTTP: checks against a bare Flask endpoint",
        "",
        f"`python -m bench.http` on {datetime.now(UTC):%Y-%m-%d}, {machine()}, revision"
        f" {revision()}: gunicorn as `make run` starts it (moderation/gunicorn_conf.py: the"
        " settings the README gives), the embedded Redis, the background worker and the default"
        f" model; wrk on the same machine, {args.seconds:g} s per row, POSTing {n} real comments"
        " in turn to `/api/v1/comments/check` (every check stored in Redis, as in production)"
        " and the same bodies to bench/bare.py (reads the JSON, answers JSON) under the same"
        " gunicorn settings. Errors: socket errors and non-2xx answers.",
        "",
        "| connections | checks/s | p50 ms | p99 ms | errors | bare Flask req/s | p50 ms | p99 ms"
        " | errors | ours / bare |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Where the CPU goes: CPU milliseconds per request, summed over the processes of each"
        " role, and Redis commands per check (those inside Lua scripts included) - the"
        " capacity model's figures:",
        "",
        "| connections | app | gunicorn workers | Redis | background worker | wrk"
        " | Redis commands | of them EVALSHA |",
        "|---|---|---|---|---|---|---|---|",
        *cpu_rows(ours, bare, args.connections),
        "",
        f"Cold start (process start to the first answered check, model loaded, Redis started):"
        f" {ours['cold']:.2f} s (bare Flask: {bare['cold']:.2f} s). Peak RSS per gunicorn"
        f" worker: {', '.join(f'{mb:.0f}' for mb in ours['rss'])} MB (bare Flask:"
        f" {', '.join(f'{mb:.0f}' for mb in bare['rss'])} MB).",
        "",
    ])  # fmt: skip


def cpu_rows(ours: dict[str, Any], bare: dict[str, Any], connections: list[int]) -> list[str]:
    rows = []
    for c in connections:
        for name, run in (("checks", ours), ("bare Flask", bare)):
            level = run["levels"][c]
            cpu, calls = level["cpu_ms"], level["redis_calls"]
            rows.append(
                f"| {c} | {name} | {cpu['gunicorn workers']:.2f} | {cpu.get('redis', 0):.2f}"
                f" | {cpu.get('background worker', 0):.2f} | {cpu['wrk']:.2f}"
                f" | {calls.get('commands', 0):.1f} | {calls.get('evalsha', 0):.1f} |"
            )
    return rows


if __name__ == "__main__":
    sys.exit(main())
