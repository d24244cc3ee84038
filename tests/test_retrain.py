"""The nightly job on a real Redis with real models: labels to disk exactly once,
promotion of a better challenger, refusal of a worse one, rollback, the lock."""

from __future__ import annotations

import random
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from flask import Flask

from moderation import create_app
from moderation.services import Services
from moderation.settings import Settings
from tests.conftest import serving
from training import artifact, datasets, labels, retrain

PASSWORD = "correct horse battery"
PARCEL = [
    "Your parcel {n} is waiting at the depot, confirm redelivery by paying the handling charge",
    "Delivery attempt failed for package {n}. Pay the redelivery fee today or it returns to sender",
    "We could not deliver your parcel {n}: settle the customs handling charge to book a new slot",
    "Parcel {n} on hold at our depot - a small redelivery charge is due before we can deliver",
]


@pytest.fixture
def app(settings: Settings, models_dir: Path, tmp_path: Path) -> Flask:
    own_models = tmp_path / "models"
    shutil.copytree(models_dir, own_models)  # the session's tiny model, ours to replace
    return create_app(settings.replace(models_dir=own_models, model_reload_seconds=0.0,
                                       labels_dir_setting=tmp_path / "labels"))  # fmt: skip


def add_labels(svc: Services, items: list[tuple[str, str]], site: str = "blog.example") -> None:
    """Labels as a moderator's decisions put them in the stream."""
    for content, label in items:
        record = {"id": uuid.uuid4().hex, "fields": {"content": content},
                  "model_version": None, "score": None}  # fmt: skip
        entry = svc.comments.label_entry(site, record, label, "moderator")
        entry.update(type="label", event=f"{site}:{uuid.uuid4().hex}", moderator="alice")
        svc.redis.xadd(svc.keys.labels(), entry)


def test_decisions_reach_the_dataset_exactly_once_even_after_a_crash(
    app: Flask, svc: Services, settings: Settings
) -> None:
    client = app.test_client()
    key = svc.sites.create("blog.example")
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)
    svc.moderators.create("alice", PASSWORD, sites=["blog.example"])
    token = client.post("/api/v1/auth/login", json={"username": "alice",
                        "password": PASSWORD}).get_json()["token"]  # fmt: skip
    for i in range(5):
        client.post("/api/v1/comments/check", json={"id": f"d{i}", "content": f"held one {i}"},
                    headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        client.post(f"/api/v1/review/blog.example:d{i}/decision",
                    json={"label": "spam" if i % 2 else "ham"},
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    client.post("/api/v1/review/blog.example:d4/undo", headers={"Authorization": f"Bearer {token}"})
    directory = svc.settings.labels_dir

    class Killed(Exception):
        pass

    def crash() -> None:
        raise Killed("killed between the fsync and the acknowledgement")

    with pytest.raises(Killed):
        labels.drain(svc.redis, svc.keys.labels(), directory, after_write=crash)
    assert len(list(labels.read(directory))) == 6  # on disk, not acknowledged
    assert labels.drain(svc.redis, svc.keys.labels(), directory) == 0  # re-read, not re-written
    on_disk = list(labels.read(directory))
    assert len(on_disk) == 6 and len({e["key"] for e in on_disk}) == 6
    add_labels(svc, [("one more", "spam")])
    assert labels.drain(svc.redis, svc.keys.labels(), directory) == 1
    resolved = labels.resolve(list(labels.read(directory)))
    assert resolved.retracted == 1  # d4's label was undone
    checked = {f"d{i}" for i in range(5)}  # (the added label's id is a random hex)
    assert sorted(e["comment_id"] for e in resolved.strong if e["comment_id"] in checked) == [
        "d0", "d1", "d2", "d3"]  # fmt: skip


def test_a_blind_spot_is_learned_promoted_and_served_then_rolled_back(
    app: Flask, svc: Services
) -> None:
    key = svc.sites.create("blog.example")
    rng = random.Random(4)
    spam = [(rng.choice(PARCEL).format(n=f"NL{rng.randint(10000, 99999)}"), "spam")
            for _ in range(40)]  # fmt: skip
    ham = [(e.record["content"], "ham") for e in rng.sample(
        [e for e in datasets.load([], starter=True) if e.label == 0], 20)]  # fmt: skip
    add_labels(svc, rng.sample(spam + ham, 60))
    champion = svc.model.version
    new_variant = {"content": "Your parcel NL55555 could not be delivered: pay the redelivery "
                   "handling charge to choose a new delivery day"}  # fmt: skip
    with serving(app) as url:
        headers = {"Authorization": f"Bearer {key}"}
        before = requests.post(f"{url}/api/v1/comments/check", json=new_variant,
                               headers=headers, timeout=10).json()  # fmt: skip
        outcome = retrain.run(svc.settings, say=lambda line: None)
        assert outcome.exit_code == 0 and outcome.promoted, outcome.reason
        after = requests.post(f"{url}/api/v1/comments/check", json=new_variant,
                              headers=headers, timeout=10).json()  # fmt: skip
        assert after["model_version"] == outcome.version != champion
        assert after["score"] > 0.5 > before["score"]
        report = (svc.settings.models_dir / outcome.version / "report.json").read_text()
        assert '"promoted": true' in report
        assert (svc.settings.models_dir / outcome.version / "report-pr.png").stat().st_size > 0

        # (svc.models: with a shared Redis, the rollback is published like the CLI's)
        assert retrain.rollback(svc.settings.models_dir, store=svc.models) == champion
        rolled = requests.post(f"{url}/api/v1/comments/check", json=new_variant,
                               headers=headers, timeout=10).json()  # fmt: skip
        assert rolled["model_version"] == champion


def test_a_worse_challenger_is_refused(app: Flask, svc: Services) -> None:
    first = retrain.run(svc.settings, say=lambda line: None)  # the starter model takes over
    assert first.promoted
    starter = datasets.load([], starter=True)
    rng = random.Random(9)
    texts = [e.record["content"] for e in rng.sample(starter, 400)]
    add_labels(svc, [(t, rng.choice(["spam", "ham"])) for t in texts])  # shuffled labels
    said: list[str] = []
    second = retrain.run(svc.settings, say=said.append)
    assert second.exit_code == 0 and not second.promoted, second.reason
    assert artifact.current_version(svc.settings.models_dir) == first.version
    assert any(line.startswith("kept the champion") for line in said)


def test_two_runs_at_once_never_both_train(app: Flask, svc: Services) -> None:
    outcomes: list[retrain.Outcome] = []

    def run() -> None:
        outcomes.append(retrain.run(svc.settings, say=lambda line: None))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert sorted(o.exit_code for o in outcomes) == [0, retrain.LOCKED]
    assert not svc.redis.exists(svc.keys.retrain_lock())  # released when done


def test_a_source_that_disagrees_with_everyone_is_reported_and_can_be_excluded(
    app: Flask, svc: Services
) -> None:
    assert retrain.run(svc.settings, say=lambda line: None).promoted  # a real champion first
    starter = datasets.load([], starter=True)
    rng = random.Random(5)
    honest = rng.sample(starter, 60)
    flipped = rng.sample(starter, 40)
    add_labels(svc, [(e.record["content"], "spam" if e.label else "ham") for e in honest])
    add_labels(svc, [(e.record["content"], "ham" if e.label else "spam") for e in flipped],
               site="poison.example")  # fmt: skip
    said: list[str] = []
    outcome = retrain.run(svc.settings, say=said.append)
    flagged = [s["source"] for s in outcome.summary["suspect_sources"]]
    assert "site:poison.example" in flagged and "site:blog.example" not in flagged
    assert any("suspect label source site:poison.example" in line for line in said)
    entries = list(labels.read(svc.settings.labels_dir))
    kept = labels.resolve(entries, frozenset({"site:poison.example"}))
    assert {e["site"] for e in kept.strong} == {"blog.example"}


def test_a_promotion_under_load_fails_no_request(settings: Settings) -> None:
    app = create_app(settings.replace(rate_limits=False))  # load, not abuse
    svc: Services = app.extensions["moderation"]
    key = svc.sites.create("blog.example")
    headers = {"Authorization": f"Bearer {key}"}
    versions: list[str] = []
    failures: list[int] = []
    stop = threading.Event()
    with serving(app) as url:

        def load() -> None:
            while not stop.is_set():
                response = requests.post(f"{url}/api/v1/comments/check", headers=headers,
                                         json={"content": "is this fine?"}, timeout=30)  # fmt: skip
                if response.status_code != 200:
                    failures.append(response.status_code)
                else:
                    versions.append(response.json()["model_version"])

        threads = [threading.Thread(target=load) for _ in range(3)]
        for thread in threads:
            thread.start()
        outcome = retrain.run(svc.settings, say=lambda line: None)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()
    assert outcome.promoted and not failures
    assert versions[-1] == outcome.version and versions[0] != outcome.version
