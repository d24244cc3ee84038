"""``make test-cluster``: the service on a real Redis Cluster, on two nodes,
with a Redis primary killed mid-run.

1. A Redis Cluster of six redis-server processes - three primaries, three
   replicas - on loopback ports (tests/redis_cluster.py).
2. The test suite (but the browser tests) against it: every multi-key step
   must keep to one hash slot (``REDIS_URL=<nodes> REDIS_CLUSTER=1``).
3. Two service nodes as ``make run`` starts them (gunicorn and a background
   worker each), each with its own VAR_DIR and MODELS_DIR - no shared files.
   Node A trains the default model and publishes it to Redis; node B, joining
   later, fetches it from there instead of training its own.
4. check -> review -> decision -> webhook, spread over both nodes: every
   decision is delivered once, though both nodes' workers read the events.
5. The primary holding the site's queue and the labels stream is SIGKILLed
   while checks and decisions go on over both nodes. After the failover,
   every check that was answered is stored (queued, or spooled by its node
   and replayed by its worker), every decision that was answered is in the
   comment's status, in the labels stream and delivered by webhook.
6. The nightly job (on node A) drains the labels, trains a challenger that
   learned what the moderators taught it, promotes it, and both nodes serve it.

Not a pytest module: ``python -m tests.cluster [--quick] [--keep]``; --quick
runs only the queue's contract tests in step 2 (CI), the rest in full. Every
process it starts is stopped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from redis.crc import key_slot

from moderation import create_app
from moderation.keys import Keys
from moderation.services import Services
from moderation.settings import Settings
from tests.redis_cluster import LocalCluster
from tests.service import BIN, ROOT, free_port, log, process, service_env, wait_for
from training import datasets

PREFIX = "modr:"
SECRET = "cluster-test-" + secrets.token_hex(16)  # the same on every node
MODERATOR, PASSWORD = "mod", "moderator-" + secrets.token_hex(8)
# The blind spot of the starter model (it scores these ~0.01): what the
# moderators teach it here, and what the retrained model must then know.
PARCEL = [
    "Your parcel {n} is waiting at the depot, confirm redelivery by paying the handling charge",
    "Delivery attempt failed for package {n}. Pay the redelivery fee today or it returns to sender",
    "We could not deliver your parcel {n}: settle the customs handling charge to book a new slot",
    "Parcel {n} on hold at our depot - a small redelivery charge is due before we can deliver",
]
PROBE = {"content": "Your parcel NL55555 could not be delivered: pay the redelivery handling "
         "charge to choose a new delivery day"}  # fmt: skip
QUICK_SUITE = ["tests/test_review.py", "tests/test_webhooks.py", "tests/test_campaigns.py",
               "tests/test_ratelimit.py", "tests/test_circuit.py", "tests/test_lua.py"]  # fmt: skip


def comments(rng: random.Random, spam: int, ham: int, tag: str) -> list[dict[str, Any]]:
    starter = [e.record["content"] for e in datasets.load([], starter=True) if e.label == 0]
    items = [{"content": rng.choice(PARCEL).format(n=f"NL{rng.randint(10000, 99999)}"),
              "label": "spam"} for _ in range(spam)]  # fmt: skip
    items += [{"content": text, "label": "ham"} for text in rng.sample(starter, ham)]
    rng.shuffle(items)
    for i, item in enumerate(items):
        item["id"] = f"{tag}{i}"
    return items


class Receiver:
    """A site's webhook endpoint: records every delivery."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        lock = threading.Lock()
        events = self.events

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    events.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def decisions(self) -> Counter[str]:
        """Deliveries per comment id."""
        return Counter(e["id"] for e in list(self.events) if e["type"] == "decision")


class Node:
    """One service node over HTTP."""

    def __init__(self, name: str, url: str, key: str, token: str) -> None:
        self.name, self.url = name, url
        self.site = {"Authorization": f"Bearer {key}"}
        self.moderator = {"Authorization": f"Bearer {token}"}

    def check(self, comment: dict[str, Any]) -> requests.Response:
        body = {k: v for k, v in comment.items() if k != "label"}
        return requests.post(f"{self.url}/api/v1/comments/check", json=body,
                             headers=self.site, timeout=10)  # fmt: skip

    def decide(self, domain: str, comment_id: str, label: str) -> requests.Response:
        return requests.post(f"{self.url}/api/v1/review/{domain}:{comment_id}/decision",
                             json={"label": label}, headers=self.moderator, timeout=10)  # fmt: skip

    def status(self, comment_id: str) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/api/v1/comments/{comment_id}", headers=self.site,
                              timeout=10)  # fmt: skip
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]


REFUSED: Counter[int] = Counter()  # answers until_ok sent again, by status


def until_ok(send: Any, what: str, retry: tuple[int, ...] = (503,)) -> requests.Response:
    """Send until answered 2xx. While a primary fails over the service answers
    503 (Redis unavailable) - never a 500 - and a client tries again; a check
    spooled meanwhile is not in the queue (404) until its node's worker has
    replayed it."""
    deadline = time.monotonic() + 60
    while True:
        answer: requests.Response = send()
        if answer.ok:
            return answer
        assert answer.status_code in retry, f"{what}: HTTP {answer.status_code} {answer.text}"
        REFUSED[answer.status_code] += 1
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {answer.status_code} after 60 s")
        time.sleep(0.2)


def run_suite(cluster: LocalCluster, quick: bool) -> None:
    which = QUICK_SUITE if quick else ["tests", "--ignore=tests/browser"]
    log(f"the test suite against the cluster: {' '.join(which)}")
    env = {**os.environ, "REDIS_URL": cluster.url, "REDIS_CLUSTER": "1"}
    subprocess.run([BIN / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *which],
                   env=env, cwd=ROOT, check=True)  # fmt: skip


def node_env(tmp: Path, name: str, cluster: LocalCluster, port: int) -> dict[str, str]:
    return service_env(
        tmp / name, port, REDIS_URL=cluster.url, REDIS_CLUSTER="1", REDIS_PREFIX=PREFIX,
        SECRET_KEY=SECRET, MODEL_RELOAD_SECONDS="1", WEBHOOK_BACKOFF_SECONDS="0.5",
        REDIS_TIMEOUT="0.5", WEB_CONCURRENCY="2",
    )  # fmt: skip


def training(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([BIN / "python", "-m", "training", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"training {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout.strip()


@contextmanager
def serving(env: dict[str, str], log_file: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{env['PORT']}"
    with process([str(BIN / "gunicorn"), "-c", "python:moderation.gunicorn_conf", "wsgi:app"],
                 log_file, env=env, cwd=ROOT):  # fmt: skip
        wait_for(f"{url}/readyz", lambda: requests.get(f"{url}/readyz", timeout=2).ok)
        yield url


def pick_domain(cluster: LocalCluster) -> str:
    """A site whose queue lives on the same primary as the labels stream, so
    one kill hits both."""
    keys = Keys(PREFIX)
    owner = cluster.owner(key_slot(keys.labels().encode()))
    for i in range(1000):
        domain = f"blog{i}.example"
        if cluster.owner(key_slot(keys.pending(domain).encode())) == owner:
            return domain
    raise AssertionError("no domain on the labels stream's primary")


def setup(svc: Services, domain: str, hook: str) -> str:
    key = svc.sites.create(domain)
    # Every comment to the moderators: this run is about what happens to them.
    svc.sites.set_cutoffs(domain, ham_below=0.0, spam_above=1.0)
    svc.sites.set_webhook(domain, hook)
    svc.moderators.create(MODERATOR, PASSWORD, sites=[domain])
    return key


def login(url: str) -> str:
    body = {"username": MODERATOR, "password": PASSWORD}
    answer = requests.post(f"{url}/api/v1/auth/login", json=body, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["token"])


def served_version(node: Node) -> str | None:
    answer = node.check({**PROBE, "id": f"probe-{secrets.token_hex(4)}"})
    return str(answer.json()["model_version"]) if answer.ok else None


def first_round(nodes: list[Node], domain: str, receiver: Receiver, rng: random.Random) -> int:
    """Check on both nodes, decide on both nodes: one webhook per decision."""
    batch = comments(rng, spam=30, ham=15, tag="a")
    for i, comment in enumerate(batch):
        answer = nodes[i % 2].check(comment)
        assert answer.ok and answer.json()["verdict"] == "review", answer.text
    for i, comment in enumerate(batch):
        answer = nodes[(i + 1) % 2].decide(domain, comment["id"], comment["label"])
        assert answer.ok, answer.text
    wait_for("a webhook per decision", lambda: len(receiver.decisions()) == len(batch), 60)
    time.sleep(3)  # time for a second delivery, were there one
    twice = [c for c, n in receiver.decisions().items() if n > 1]
    assert not twice, f"delivered more than once: {twice}"
    log(f"{len(batch)} checked and decided over two nodes; each webhook delivered once")
    return len(batch)


def failover_round(
    nodes: list[Node], domain: str, cluster: LocalCluster, rng: random.Random
) -> dict[str, str]:
    """Checks and decisions on both nodes while a primary dies; returns the
    decisions answered (comment id -> label)."""
    batch = comments(rng, spam=20, ham=20, tag="b")
    checked: dict[str, dict[str, Any]] = {}
    decided: dict[str, str] = {}
    spooled = 0
    victim = cluster.owner(key_slot(Keys(PREFIX).pending(domain).encode()))

    def traffic() -> None:
        nonlocal spooled
        for i, comment in enumerate(batch):
            answer = nodes[i % 2].check(comment)
            assert answer.status_code == 200, f"check {comment['id']}: {answer.status_code}"
            spooled += answer.headers.get("X-Moderation-Degraded") == "storage"
            checked[comment["id"]] = answer.json()
            time.sleep(0.15)

    sender = threading.Thread(target=traffic)
    sender.start()
    time.sleep(1.5)
    log(f"killing the primary on port {victim} (the site's queue and the labels stream)")
    cluster.kill(victim)
    labels = {c["id"]: c["label"] for c in batch}
    while sender.is_alive() or len(decided) < len(checked):
        for comment_id in [c for c in list(checked) if c not in decided]:
            if checked[comment_id]["verdict"] != "review":
                decided[comment_id] = ""  # the crowd rule decided it; nothing to do
                continue
            node = nodes[len(decided) % 2]
            until_ok(lambda n=node, c=comment_id: n.decide(domain, c, labels[c]),  # type: ignore[misc]
                     f"decide {comment_id}", retry=(503, 404))  # fmt: skip
            decided[comment_id] = labels[comment_id]
        time.sleep(0.1)
    sender.join()
    promoted = cluster.wait_failover(victim)
    log(f"failover: port {promoted} took over; {len(checked)} checks answered 200"
        f" ({spooled} spooled while Redis refused), {sum(map(bool, decided.values()))} decided"
        f" (sent again after {dict(REFUSED)})")  # fmt: skip
    # Every answered check is stored: spooled ones once their node's worker
    # has replayed them (a 404 or a 503 meanwhile: wait_for asks again).
    for comment_id, answer in checked.items():
        stored = wait_for(
            f"comment {comment_id} stored", lambda c=comment_id: nodes[0].status(c), 60
        )  # type: ignore[misc]
        assert stored["verdict"] == answer["verdict"], (comment_id, stored, answer)
    return {c: label for c, label in decided.items() if label}


def nothing_lost(
    nodes: list[Node], domain: str, decided: dict[str, str], receiver: Receiver, svc: Services
) -> None:
    """Every decision answered is in its comment, in the labels stream, and delivered."""
    for comment_id, label in decided.items():
        stored = nodes[1].status(comment_id)
        assert (stored["status"], stored["status_source"]) == (label, "moderator"), stored
    streamed = {e["comment_id"] for _, e in svc.redis.xrange(svc.keys.labels())
                if e.get("type") == "label" and e.get("site") == domain}  # fmt: skip
    missing = set(decided) - streamed
    assert not missing, f"decisions without a label: {sorted(missing)}"
    wait_for("every decision delivered",
             lambda: set(decided) <= set(receiver.decisions()), 90)  # fmt: skip
    log(f"all {len(decided)} decisions made around the failover: stored, labelled, delivered")


def retrain_and_serve(nodes: list[Node], env: dict[str, str]) -> None:
    before = [served_version(node) for node in nodes]
    assert before[0] == before[1], f"the nodes serve different models: {before}"
    log(f"both nodes serve {before[0]}; the nightly job on node A")
    new = training(env, "retrain").splitlines()[-1]
    assert new and new != before[0], f"retrain did not promote: {new!r}"

    def serving_new() -> bool:
        return all(served_version(node) == new for node in nodes)

    wait_for(f"both nodes serving {new}", serving_new, 60)
    scores = [node.check({**PROBE, "id": "probe-final"}).json()["score"] for node in nodes]
    assert min(scores) > 0.5, f"the new model has not learned the parcel scam: {scores}"
    log(f"retrained, promoted on node A, served by both nodes: {new} (probe {scores[0]:.2f})")


def run(quick: bool, keep: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="moderation-cluster-"))
    rng = random.Random(12)
    with ExitStack() as stack:
        cluster = LocalCluster(tmp / "redis").start()
        stack.callback(cluster.stop)
        log(f"Redis Cluster up: primaries {cluster.primaries()}")
        run_suite(cluster, quick)

        env_a = node_env(tmp, "node-a", cluster, free_port())
        env_b = node_env(tmp, "node-b", cluster, free_port())
        settings = Settings.from_env({**env_a, "VAR_DIR": str(tmp / "admin")})
        svc: Services = create_app(settings, load_model=False).extensions["moderation"]
        domain = pick_domain(cluster)
        receiver = Receiver()
        stack.callback(receiver.server.shutdown)
        key = setup(svc, domain, receiver.url)

        log("node A trains the default model and publishes it")
        version = training(env_a, "train", "--promote", "--if-missing").splitlines()[-1]
        url_a = stack.enter_context(serving(env_a, tmp / "node-a.log"))
        training(env_b, "train", "--promote", "--if-missing")  # fetches, trains nothing
        assert not any((tmp / "node-b" / "models").glob("*/report.json"))
        url_b = stack.enter_context(serving(env_b, tmp / "node-b.log"))
        nodes = [Node("A", url_a, key, login(url_a)), Node("B", url_b, key, login(url_b))]
        assert [served_version(n) for n in nodes] == [version, version]
        log(f"two nodes up, no shared files, both serving {version}")

        first_round(nodes, domain, receiver, rng)
        decided = failover_round(nodes, domain, cluster, rng)
        nothing_lost(nodes, domain, decided, receiver, svc)
        retrain_and_serve(nodes, env_a)
    if keep:
        log(f"kept {tmp}")
    else:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    log("cluster run passed")


def main() -> None:
    # make's TERM (or a CI timeout) unwinds like an error: every process stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the queue's contract tests")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    run(args.quick, args.keep)


if __name__ == "__main__":
    main()
