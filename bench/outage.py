"""Outages under load: Redis stopped and restarted, Akismet blackholed and failing.

    python -m bench.outage [--data ../shared/data/youtube-spam] [--seconds 30]
                           [--clients 8] [--stop-after 8] [--down 10] [--kill]
                           [--akismet-seconds 12] [--akismet-clients 2]
                           [--only redis|akismet]

Starts the service as ``make run`` does (gunicorn with moderation/gunicorn_conf,
its embedded Redis in a temporary VAR_DIR, the background worker, the default
model trained on the starter corpus), makes two sites through the Python API,
and loads them with threads, each with its own ``requests`` session, POSTing
real comments of the data (each with a new ``id``) to ``/api/v1/comments/check``.

1. Redis: ``--clients`` clients for ``--seconds``; after ``--stop-after`` s the
   embedded Redis is shut down (``--kill``: SIGKILL), ``--down`` s later it is
   started again. Every request must be answered 200; after the restart the
   worker replays the spool (waited for, with a deadline); then every comment
   answered must be stored once with the answer it got, every ``review`` be in
   the queue once, and the month's usage counters (one count per comment
   stored) must match - a comment saved twice would be counted twice.
2. Akismet: the service's fallback aimed at a local Akismet double (the
   test suite's, tests/akismet_server.py) that (a) reads each request and never
   answers, (b) answers HTTP 500. A site whose cutoffs put every comment in
   the uncertain band, ``--akismet-clients`` clients: every answer within
   AKISMET_TIMEOUT + 100 ms, no errors, the circuit (watched in Redis) open
   after AKISMET_FAILURES calls (the double counts them), and then answers
   without an Akismet call, one probe per cool-down at most.

Prints PASS/FAIL per requirement, writes the numbers into bench/RESULTS.md and
exits 1 on any FAIL. The service has no "degraded" flag in its answers: a
check while Redis is down gets the answer it would get when stored (the API's
contract); ``moderation_spooled_total`` from /metrics counts them server-side.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.accuracy import DEFAULT_DATA, RESULTS, machine, revision, write_section
from bench.http import CHECK, bench_env
from moderation import create_app
from moderation.comments import month_of
from moderation.redis_server import EmbeddedRedis
from moderation.services import Services
from moderation.settings import Settings
from moderation.spool import Spool
from tests.akismet_server import AkismetDouble
from tests.service import BIN, ROOT, free_port, gunicorn
from training import datasets

REDIS_SITE, AKISMET_SITE = "outage.example", "akismet.example"
# Model cutoffs for the Redis site: a quarter to a third of the checks go to review.
REVIEW_BAND = (0.2, 0.8)
REQUEST_TIMEOUT = 10.0  # s: a client that waits this long counts a timeout
DRAIN_DEADLINE = 60.0  # s after the restart for the worker to empty the spool
# The bench sends hundreds of comments a second to one site: far over the
# site's velocity limit, which would send every ham to review. Raised, so
# the verdicts are the model's.
VELOCITY = "site=10000000/100000000/1000000000"


@dataclass
class Answer:
    sent: float  # monotonic
    ms: float
    status: int  # 0: no HTTP answer (timeout, connection error)
    id: str
    body: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class Load:
    """``clients`` threads checking comments as fast as the service answers."""

    def __init__(self, url: str, key: str, comments: list[dict[str, Any]], tag: str) -> None:
        self.url, self.comments, self.tag = url, comments, tag
        self.headers = {"Authorization": f"Bearer {key}"}
        self.answers: list[Answer] = []
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, clients: int) -> None:
        for _ in range(clients):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> list[Answer]:
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT + 5)
        return sorted(self.answers, key=lambda a: a.sent)

    def _client(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            with self._lock:
                n = next(self._next)
            comment_id = f"{self.tag}-{n}"
            body = {**self.comments[n % len(self.comments)], "id": comment_id}
            sent = time.monotonic()
            try:
                response = session.post(self.url, json=body, headers=self.headers,
                                        timeout=REQUEST_TIMEOUT)  # fmt: skip
                ms = (time.monotonic() - sent) * 1000
                parsed = response.json() if response.status_code == 200 else {}
                error = "" if response.status_code == 200 else response.text[:200]
                answer = Answer(sent, ms, response.status_code, comment_id, parsed, error)
            except (requests.RequestException, ValueError) as exc:
                ms = (time.monotonic() - sent) * 1000
                answer = Answer(sent, ms, 0, comment_id, error=type(exc).__name__)
            with self._lock:
                self.answers.append(answer)


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p99, max (0 for none)."""
    if not values:
        return 0.0, 0.0, 0.0
    ordered = sorted(values)
    return (statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            ordered[-1])  # fmt: skip


def spooled_total(base: str) -> float:
    """``moderation_spooled_total`` from /metrics: checks the service spooled."""
    text = requests.get(f"{base}/metrics", timeout=10).text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("moderation_spooled_total"))  # fmt: skip


class Verdicts:
    """PASS/FAIL lines, printed as they are decided."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, str]] = []

    def check(self, requirement: str, ok: bool, detail: str) -> None:
        self.rows.append((requirement, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'}  {requirement}: {detail}", file=sys.stderr)

    @property
    def failed(self) -> bool:
        return not all(ok for _, ok, _ in self.rows)


def redis_outage(svc: Services, base: str, key: str, comments: list[dict[str, Any]],
                 args: argparse.Namespace, verdicts: Verdicts) -> dict[str, Any]:  # fmt: skip
    """Scenario 1; its numbers."""
    server = EmbeddedRedis(svc.settings.redis_dir)
    spool = Spool(svc.settings.spool_dir)
    spooled_before = spooled_total(base)
    load = Load(base + CHECK, key, comments, "r")
    started = time.monotonic()
    months = {month_of(time.time())}
    counted_before = usage_counts(svc, REDIS_SITE, months)  # the warm-up's
    load.start(args.clients)
    time.sleep(args.stop_after)
    svc.redis.connection_pool.disconnect()
    down_at = time.monotonic()
    if args.kill:
        os.kill(int(server.pidfile.read_text().split()[0]), signal.SIGKILL)
        while server.is_running():
            time.sleep(0.01)
    else:
        server.stop(only_if_unused=False)
    time.sleep(args.down)
    server.ensure_running()
    up_at = time.monotonic()
    drained_at = None
    while time.monotonic() < started + args.seconds or drained_at is None:
        if drained_at is None and spool.size() == 0 and not spool.files():
            drained_at = time.monotonic()
        if time.monotonic() > up_at + DRAIN_DEADLINE:
            break
        time.sleep(0.05)
    answers = load.stop()
    months.add(month_of(time.time()))
    # In-flight spooling at the end of the load: wait until the spool is empty again.
    deadline = up_at + DRAIN_DEADLINE
    while (spool.size() or spool.files()) and time.monotonic() < deadline:
        time.sleep(0.1)
    drained = not spool.files()
    degraded = spooled_total(base) - spooled_before

    ok = [a for a in answers if a.status == 200]
    errors = [a for a in answers if a.status != 200]
    by_phase = {
        "before": [a for a in answers if a.sent < down_at],
        "during": [a for a in answers if down_at <= a.sent < up_at],
        "after": [a for a in answers if a.sent >= up_at],
    }
    phases = {
        name: {"requests": len(group), "answered": sum(1 for a in group if a.status == 200),
               "latency": percentiles([a.ms for a in group])}
        for name, group in by_phase.items()
    }  # fmt: skip
    during = by_phase["during"]
    found = stored(svc, REDIS_SITE, [a.id for a in ok])
    mismatched = [a.id for a in ok if not same_answer(found.get(a.id), a.body)]
    review = {a.id for a in ok if a.body.get("verdict") == "review"}
    queue = set(svc.redis.zrange(svc.keys.pending(REDIS_SITE), 0, -1))
    queued_ours = {m for m in queue if m.startswith("r-")}
    usage = usage_counts(svc, REDIS_SITE, months)
    usage = {k: v - counted_before.get(k, 0) for k, v in usage.items()}
    result: dict[str, Any] = {
        "requests": len(answers),
        "answered": len(ok),
        "errors": len(errors),
        "error_kinds": sorted({f"{a.status} {a.error[:60]}" for a in errors})[:5],
        "during": len(during),
        "degraded": degraded,
        "phases": phases,
        "review_expected": len(review),
        "review_found": len(review & queued_ours),
        "review_missing": len(review - queued_ours),
        "review_unexpected": len(queued_ours - review),
        "review_counted": usage.get("review", 0),
        "stored_missing": sum(1 for a in ok if a.id not in found),
        "stored_mismatched": len(mismatched),
        "stored_counted": usage.get("calls", 0),
        "drain_s": None if drained_at is None or not drained else drained_at - up_at,
        "down_s": up_at - down_at,
        "verdict_share": {
            v: sum(1 for a in ok if a.body.get("verdict") == v) / max(len(ok), 1)
            for v in ("ham", "spam", "review")
        },
    }
    r = result
    verdicts.check("redis: every request answered 200", not errors and r["requests"] > 0,
                   f"{r['answered']}/{r['requests']} answered, {r['errors']} errors"
                   + (f" {r['error_kinds']}" if errors else ""))  # fmt: skip
    verdicts.check("redis: answered while down (spooled)",
                   r["during"] > 0 and all(a.status == 200 for a in during) and degraded > 0,
                   f"{r['during']} sent while down, all 200: "
                   f"{all(a.status == 200 for a in during)}, {degraded:.0f} spooled")  # fmt: skip
    verdicts.check("redis: spool replayed after the restart", r["drain_s"] is not None,
                   "not drained" if r["drain_s"] is None
                   else f"drained {r['drain_s']:.1f} s after the restart")  # fmt: skip
    queue_ok = (r["review_missing"] == 0 and r["review_unexpected"] == 0
                and r["review_counted"] == r["review_expected"])  # fmt: skip
    verdicts.check("redis: every review queued exactly once", queue_ok,
                   f"expected {r['review_expected']}, found {r['review_found']}, missing"
                   f" {r['review_missing']}, unexpected {r['review_unexpected']}, counted"
                   f" {r['review_counted']}")  # fmt: skip
    stored_ok = (r["stored_missing"] == 0 and r["stored_mismatched"] == 0
                 and r["stored_counted"] == r["answered"])  # fmt: skip
    verdicts.check("redis: every answered comment stored exactly once", stored_ok,
                   f"missing {r['stored_missing']}, stored with another answer"
                   f" {r['stored_mismatched']}, counted {r['stored_counted']} for"
                   f" {r['answered']} answered")  # fmt: skip
    return result


def stored(svc: Services, domain: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored record of each id that has one."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        pipe = svc.redis.pipeline(transaction=False)
        for comment_id in chunk:
            pipe.hget(svc.keys.comment(domain, comment_id), "record")
        for comment_id, raw in zip(chunk, pipe.execute(), strict=True):
            if raw:
                found[comment_id] = json.loads(raw)
    return found


def same_answer(record: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    """The record is the one the blog was answered with (not a second scoring)."""
    return record is not None and all(
        record[k] == body[k] for k in ("verdict", "score", "source", "checked_at")
    )


def usage_counts(svc: Services, domain: str, months: set[str]) -> dict[str, int]:
    """The site's usage counters (one count per comment stored) over ``months``."""
    total: dict[str, int] = {}
    for month in months:
        for name, value in svc.redis.hgetall(svc.keys.usage(domain, month)).items():
            total[name] = total.get(name, 0) + int(value)
    return total


class CountingDouble(AkismetDouble):
    """The test suite's Akismet double, with the time of each request it got."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    def answer(self, handler: Any, form: dict[str, list[str]]) -> None:
        self.arrivals.append(time.monotonic())
        super().answer(handler, form)


def akismet_failing(svc: Services, base: str, key: str, comments: list[dict[str, Any]],
                    double: CountingDouble, mode: str, clients: int, args: argparse.Namespace,
                    verdicts: Verdicts | None) -> dict[str, Any]:  # fmt: skip
    """Scenario 2 with the double in ``mode`` (blackhole or error500); with
    ``verdicts`` None the numbers are reported, not judged."""
    settings = svc.settings
    svc.redis.delete(svc.keys.akismet_circuit())  # closed, no failures counted
    double.mode = mode
    calls_before = len(double.arrivals)
    load = Load(base + CHECK, key, comments, f"a-{mode}-{clients}")
    started = time.monotonic()
    load.start(clients)
    opened_at = None
    while time.monotonic() < started + args.akismet_seconds:
        if opened_at is None and int(svc.redis.hget(svc.keys.akismet_circuit(), "opened") or 0):
            opened_at = time.monotonic()
        time.sleep(0.005)
    answers = load.stop()
    ended = time.monotonic()
    time.sleep(settings.akismet_timeout + 0.5)  # calls in flight finish, the double counts them
    arrivals = double.arrivals[calls_before:]
    ok = [a for a in answers if a.status == 200]
    errors = len(answers) - len(ok)
    kinds = [(a.body.get("akismet") or {}).get("answer") for a in ok]
    asked = [a for a, k in zip(ok, kinds, strict=True) if k not in (None, "circuit_open")]
    skipped = [a for a, k in zip(ok, kinds, strict=True) if k == "circuit_open"]
    limit_ms = (settings.akismet_timeout + 0.1) * 1000
    lat = percentiles([a.ms for a in answers])
    before = sum(1 for t in arrivals if opened_at is None or t < opened_at)
    after = len(arrivals) - before
    probes_allowed = (
        0 if opened_at is None else int((ended - opened_at) // settings.akismet_cooldown)
    )
    skipped_lat = percentiles([a.ms for a in skipped])
    result: dict[str, Any] = {
        "mode": mode,
        "clients": clients,
        "requests": len(answers),
        "slow": sum(1 for a in answers if a.ms > (settings.akismet_timeout + 0.1) * 1000),
        "errors": errors,
        "latency": lat,
        "asked": len(asked),
        "asked_latency": percentiles([a.ms for a in asked]),
        "skipped": len(skipped),
        "skipped_latency": skipped_lat,
        "opened_s": None if opened_at is None else opened_at - started,
        "calls_before_open": before,
        "calls_after_open": after,
        "probes_allowed": probes_allowed,
        "reviewed": sum(1 for a in ok if a.body.get("verdict") == "review") / max(len(ok), 1),
    }
    if verdicts is None:
        return result
    name = {"blackhole": "akismet blackholed", "error500": "akismet HTTP 500"}[mode]
    verdicts.check(f"{name}: no errors", errors == 0 and len(answers) > 0,
                   f"{len(ok)}/{len(answers)} answered 200")  # fmt: skip
    verdicts.check(f"{name}: every answer within AKISMET_TIMEOUT + 100 ms", lat[2] <= limit_ms,
                   f"p50 {lat[0]:.1f} ms, p99 {lat[1]:.1f} ms, max {lat[2]:.1f} ms"
                   f" (limit {limit_ms:.0f} ms)")  # fmt: skip
    in_flight = clients - 1  # calls already on their way when it opened
    most = settings.akismet_failures + in_flight
    opened_ok = opened_at is not None and settings.akismet_failures <= before <= most
    verdicts.check(f"{name}: circuit opens after AKISMET_FAILURES={settings.akismet_failures}",
                   opened_ok,
                   "never opened" if opened_at is None else
                   f"opened {opened_at - started:.2f} s in, after {before} calls reached the"
                   f" double (at most {most}: {in_flight} in flight)")  # fmt: skip
    fast_ok = bool(skipped) and skipped_lat[1] <= 100 and after <= probes_allowed
    verdicts.check(f"{name}: afterwards fast, no Akismet call but a probe per cool-down",
                   fast_ok,
                   f"{len(skipped)} answered without a call, p99 {skipped_lat[1]:.1f} ms;"
                   f" {after} calls after opening ({probes_allowed} probes allowed)")  # fmt: skip
    return result


def start_service(
    workdir: Path, args: argparse.Namespace, double: CountingDouble
) -> dict[str, str]:
    env = bench_env(workdir, free_port(), "")
    env.update(
        AKISMET_API_KEY="bench-akismet-key",
        AKISMET_URL=double.url,
        AKISMET_TIMEOUT=f"{args.akismet_timeout:g}",
        AKISMET_FAILURES=str(args.akismet_failures),
        AKISMET_COOLDOWN=f"{args.akismet_cooldown:g}",
        VELOCITY_LIMITS=VELOCITY,
    )
    return env


def wait_ready(base: str, server: Any) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}); see its log")
        try:
            if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base}/readyz not ready within 120 s")


def warm(base: str, key: str, comments: list[dict[str, Any]], tag: str) -> None:
    """Every worker answers a few checks (and learns the site key)."""
    load = Load(base + CHECK, key, comments, tag)
    load.start(4)
    time.sleep(2)
    load.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seconds", type=float, default=30, help="Redis scenario, in all")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--stop-after", type=float, default=8)
    parser.add_argument("--down", type=float, default=10)
    parser.add_argument("--kill", action="store_true", help="SIGKILL Redis, not SHUTDOWN")
    parser.add_argument("--akismet-seconds", type=float, default=12, help="each Akismet scenario")
    parser.add_argument("--akismet-clients", type=int, default=2)
    parser.add_argument("--akismet-timeout", type=float, default=1.0)
    parser.add_argument("--akismet-failures", type=int, default=5)
    parser.add_argument("--akismet-cooldown", type=float, default=5.0)
    parser.add_argument("--only", choices=("redis", "akismet"))
    parser.add_argument("--models", type=Path, help="MODELS_DIR to use (trained if empty)")
    parser.add_argument("--write", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    comments = [e.record for e in datasets.load(sorted(args.data.glob("*.csv")), starter=False)]
    verdicts = Verdicts()
    results: dict[str, Any] = {"akismet": []}
    began = time.monotonic()
    double = CountingDouble()
    with tempfile.TemporaryDirectory() as tmp, double.running():
        workdir = Path(tmp)
        env = start_service(workdir, args, double)
        if args.models:
            env["MODELS_DIR"] = str(args.models.resolve())
        subprocess.run([BIN / "python", "-m", "training", "train", "--promote", "--if-missing"],
                       env=env,
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        base = f"http://127.0.0.1:{env['PORT']}"
        redis_dir = Settings.from_env(env).redis_dir
        try:
            with gunicorn("wsgi:app", env, workdir / "gunicorn.log") as server:
                wait_ready(base, server)
                svc: Services = create_app(Settings.from_env(env), load_model=False).extensions[
                    "moderation"
                ]
                keys = {domain: svc.sites.create(domain) for domain in (REDIS_SITE, AKISMET_SITE)}
                svc.sites.set_akismet(REDIS_SITE, enabled=False)
                svc.sites.set_cutoffs(REDIS_SITE, *REVIEW_BAND)
                svc.sites.set_cutoffs(AKISMET_SITE, ham_below=0.0, spam_above=1.0)
                warm(base, keys[REDIS_SITE], comments, "w")
                if args.only != "akismet":
                    results["redis"] = redis_outage(svc, base, keys[REDIS_SITE], comments, args,
                                                    verdicts)  # fmt: skip
                if args.only != "redis":
                    runs = [("blackhole", args.akismet_clients, verdicts),
                            ("error500", args.akismet_clients, verdicts),
                            ("blackhole", args.clients, None)]  # fmt: skip
                    for mode, clients, judged in runs:
                        results["akismet"].append(akismet_failing(
                            svc, base, keys[AKISMET_SITE], comments, double, mode, clients, args,
                            judged,
                        ))  # fmt: skip
                svc.redis.connection_pool.disconnect()
        finally:
            leftover = EmbeddedRedis(redis_dir)  # restarted by us: the master may not stop it
            if leftover.is_running():
                leftover.stop(only_if_unused=False)
    report = render(results, args, len(comments), verdicts, time.monotonic() - began)
    print(report)
    if args.only is None:
        write_section(args.write, "outage", report)
    return 1 if verdicts.failed else 0


def _ms(triple: tuple[float, float, float]) -> str:
    return f"{triple[0]:.1f} / {triple[1]:.1f} / {triple[2]:.0f}"


def render(results: dict[str, Any], args: argparse.Namespace, n: int, verdicts: Verdicts,
           took: float) -> str:  # fmt: skip
    command = " ".join(["python -m bench.outage", *args.argv])
    lines = [
        "## Outages under load: Redis and Akismet",
        "",
        f"`{command}` on {datetime.now(UTC):%Y-%m-%d}, {machine()}, revision"
        f" {revision()}; {took:.0f} s. The service as `make run` starts it (gunicorn, 2 sync"
        f" workers, the embedded Redis, the background worker, the default model), checked over"
        f" HTTP with {n} real comments of the YouTube Spam Collection, each sent with a new id,"
        " by threads with their own `requests` session, on the same 2 cores.",
        "",
    ]
    r = results.get("redis")
    if r:
        share = ", ".join(f"{v} {s:.0%}" for v, s in r["verdict_share"].items())
        lines += [
            f"**Redis stopped under load.** {args.clients} clients for {args.seconds:g} s; Redis"
            f" {'killed (SIGKILL)' if args.kill else 'shut down'} after {args.stop_after:g} s,"
            f" started again {r['down_s']:.1f} s later. Cutoffs {REVIEW_BAND[0]}/{REVIEW_BAND[1]}"
            f" (verdicts: {share}); the site's Akismet is off, so the uncertain go to review.",
            "",
            "| | requests | answered 200 | errors | p50 / p99 / max ms |",
            "|---|---|---|---|---|",
        ]
        for phase, label in (("before", "before the outage"), ("during", "Redis down"),
                             ("after", "after the restart")):  # fmt: skip
            p = r["phases"][phase]
            lines.append(f"| {label} | {p['requests']} | {p['answered']}"
                         f" | {p['requests'] - p['answered']} | {_ms(p['latency'])} |")  # fmt: skip
        drain = "-" if r["drain_s"] is None else f"{r['drain_s']:.1f}"
        lines += [
            f"| all | {r['requests']} | {r['answered']} | {r['errors']} | |",
            "",
            "An answer given while Redis is down carries no flag: it is the answer the comment"
            " gets when stored (the API's contract); the service counts them in"
            f" `moderation_spooled_total`: {r['degraded']:.0f} here. Spool drained"
            f" {drain} s after the restart. Review queue: {r['review_expected']} answered"
            f" `review`, {r['review_found']} found in the queue, {r['review_missing']} missing,"
            f" {r['review_unexpected']} not expected, usage counter {r['review_counted']}."
            f" Stored: {r['answered']} answered, {r['stored_missing']} missing,"
            f" {r['stored_mismatched']} stored with another answer, usage counter"
            f" {r['stored_counted']} (a comment saved twice counts twice).",
            "",
        ]
    if results["akismet"]:
        lines += [
            f"**Akismet failing.** AKISMET_TIMEOUT={args.akismet_timeout:g} s,"
            f" AKISMET_FAILURES={args.akismet_failures}, AKISMET_COOLDOWN="
            f"{args.akismet_cooldown:g} s; {args.akismet_clients} clients for"
            f" {args.akismet_seconds:g} s per row on a site whose cutoffs make every comment"
            " uncertain; the double (tests/akismet_server.py) either reads the request and never"
            " answers (blackhole) or answers HTTP 500.",
            "",
            "| Akismet | clients | requests | errors | p50 / p99 / max ms | over the limit"
            " | asked: p99 ms | circuit open after | calls before open | calls after (probes)"
            " | not asked: p99 ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for a in results["akismet"]:
            opened = "never" if a["opened_s"] is None else f"{a['opened_s']:.2f} s"
            lines.append(
                f"| {a['mode']} | {a['clients']} | {a['requests']} | {a['errors']}"
                f" | {_ms(a['latency'])} | {a['slow']} | {a['asked_latency'][1]:.1f} | {opened}"
                f" | {a['calls_before_open']}"
                f" | {a['calls_after_open']} | {a['skipped_latency'][1]:.1f} |"
            )
        lines += [
            "",
            f"The requirements are judged at {args.akismet_clients} clients, one per gunicorn"
            " worker: the time the service takes to answer. The last row puts"
            f" {args.clients} clients on the same 2 sync workers: until the circuit opens, each"
            " worker is held by a call for up to AKISMET_TIMEOUT, and the requests queued behind"
            " it wait for it too (`over the limit`: answers slower than AKISMET_TIMEOUT + 100 ms"
            " at the client) - a capacity matter, bounded by AKISMET_FAILURES x AKISMET_TIMEOUT"
            " / workers, not judged here.",
            "",
        ]
    lines += ["| requirement | result | measured |", "|---|---|---|"]
    lines += [f"| {req} | {'PASS' if ok else 'FAIL'} | {detail} |"
              for req, ok, detail in verdicts.rows]  # fmt: skip
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
