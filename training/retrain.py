"""The nightly retraining job: labels in, a better model out - or the same one.

    python -m training retrain      (make retrain)

In order: a Redis lock (one run at a time; a crashed run's lock expires);
drain the labels stream to the on-disk label dataset (training.labels),
each label's comment reduced to what training reads; purge personal data
past its retention (moderation.personal_data); train a challenger on the starter corpus, the base
datasets of ``TRAIN_DATA`` and the labels (people's weighted up, recent ones
more, Akismet's weak ones down); evaluate champion and challenger on the
same held-out set - the most recent fifth of people's labels (a time split:
the job is judged on what comes next) plus the golden set
(``training/data/golden.jsonl``, written for this project and never trained
on); promote only if the
challenger's cost (the cutoff cost: 10 x ham marked spam + 1 x spam let
through + 0.2 x review, per comment) is at most the champion's times
(1 + ``RETRAIN_MARGIN``) and its ROC AUC at most ``AUC_SLACK`` below the
champion's (cost alone rewards a vague model that sends everything to
review); write a report beside the new artifact (both
models' metrics and confusion matrices, labels used, duration; PNGs of the
precision-recall curve, calibration and score histograms); prune old
versions (``RETRAIN_KEEP``).

A label source (a site, a moderator) whose labels disagree with the
champion far more often than everyone's do is named in the summary; list it
in ``RETRAIN_EXCLUDE`` to leave it out.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import redis

from moderation import model_store, secret_key
from moderation.errors import ArtifactError
from moderation.keys import Keys
from moderation.model_store import ModelStore
from moderation.personal_data import PersonalData
from moderation.redis_server import connect
from moderation.settings import Settings
from moderation.spool import Spool
from moderation.velocity import VelocityCounter
from training import artifact, datasets, labels, plots
from training.cutoffs import Cutoffs, band_cost
from training.datasets import Example
from training.evaluation import evaluate_scores
from training.train import train

LOCKED = 75  # exit status of a run that found another one running (EX_TEMPFAIL)
LOCK_SECONDS = 4 * 3600
HELD_OUT_SHARE = 0.2
MIN_HELD_OUT = 10
# The golden set: 200 comments written for this project (100 ham, 100 spam)
# that no model is ever trained on, so champion and challenger are judged on
# the same unseen ground.
GOLDEN = Path(__file__).parent / "data" / "golden.jsonl"
AUC_SLACK = 0.005  # a challenger's ROC AUC may be this much below the champion's
POISON_MIN_LABELS = 20
POISON_GAP = 0.3  # disagreement this much above everyone's

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass
class Outcome:
    exit_code: int
    promoted: bool = False
    version: str | None = None
    reason: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


def per_comment_cost(scores: np.ndarray, y: np.ndarray, cutoffs: Cutoffs) -> float:
    if not len(y):
        return 0.0
    return band_cost(scores, y, cutoffs.ham_below, cutoffs.spam_above) / len(y)


def run(
    settings: Settings,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    progress: bool = False,
    after_write: Callable[[], None] = lambda: None,
) -> Outcome:
    started = time.monotonic()
    client, _ = connect(settings)
    keys = Keys(settings.redis_prefix)
    # A shared Redis: a promotion is published for every node to follow.
    store = model_store.for_deployment(settings, client)
    token = secrets.token_hex(8)
    if not client.set(keys.retrain_lock(), token, nx=True, ex=LOCK_SECONDS):
        say("another retrain is running (its lock expires if it crashed); not starting")
        return Outcome(LOCKED, reason="locked")
    try:
        return _run(settings, client, keys, store, say, progress, after_write, started)
    finally:
        client.eval(_RELEASE, 1, keys.retrain_lock(), token)


def _run(
    settings: Settings,
    client: redis.Redis,
    keys: Keys,
    store: ModelStore | None,
    say: Callable[[str], None],
    progress: bool,
    after_write: Callable[[], None],
    started: float,
) -> Outcome:
    bar = _bar(progress, "draining labels")
    velocity = VelocityCounter(client, settings.redis_prefix, secret_key.load(settings))
    personal = PersonalData(
        client, keys, velocity, Spool(settings.spool_dir), settings.labels_dir,
        settings.retention_days, settings.comment_retention_days,
    )  # fmt: skip
    written = labels.drain(
        client,
        keys.labels(),
        settings.labels_dir,
        progress=bar,
        after_write=after_write,
        keep=personal.minimal,
    )
    say(f"labels: {written} new written to {settings.labels_dir}")
    purged = personal.purge()
    say("privacy purge: " + ", ".join(f"{n} {what}" for what, n in purged.as_dict().items()))
    resolved = labels.resolve(
        list(labels.read(settings.labels_dir)), frozenset(settings.retrain_exclude)
    )
    labelled = labels.examples(resolved)
    people = [e for e in labelled if e.source != "labels:akismet"]
    weak = [e for e in labelled if e.source == "labels:akismet"]
    # Time split: the most recent fifth of people's labels is held out.
    ordered = sorted(people, key=lambda e: e.record.get("_at", 0))
    held_n = int(len(ordered) * HELD_OUT_SHARE) if len(ordered) >= MIN_HELD_OUT else 0
    held = ordered[len(ordered) - held_n :] if held_n else []
    held_ids = {id(e) for e in held}
    golden = datasets.load([GOLDEN], starter=False)
    base = datasets.load(settings.train_data, starter=False) if settings.train_data else []
    training = datasets.load([], starter=True) + base + weak
    training += [e for e in ordered if id(e) not in held_ids]
    say(
        f"training set: {len(training)} comments ({len(people) - len(held)} people's labels,"
        f" {len(weak)} weak); held out: {len(held)} recent labels + {len(golden)} golden"
    )
    challenger = train(training)
    evaluation = golden + held
    y = np.array([e.label for e in evaluation])
    records = [e.record for e in evaluation]
    challenger_scores = challenger.model.scores(records)
    challenger_cost = per_comment_cost(challenger_scores, y, challenger.cutoffs)
    if store is not None:
        # The champion is the deployment's current model, which this node's
        # CURRENT may not have caught up with (no web workers here, say).
        try:
            store.sync()
        except ArtifactError as exc:
            say(f"the current model in Redis is not usable here ({exc}); judging the local one")
    champion = None
    if artifact.current_version(settings.models_dir):
        champion = artifact.load(settings.models_dir)
    data = {
        "fingerprint": datasets.fingerprint(training),
        "n": len(training),
        "labels": len(people),
        "weak": len(weak),
    }
    version = artifact.save(
        challenger.model,
        settings.models_dir,
        cutoffs=challenger.cutoffs,
        metrics=challenger.metrics,
        data=data,
    )
    report: dict[str, Any] = {
        "version": version,
        "trained_on": len(training),
        "labels": {
            "written": written,
            "people": len(people),
            "weak": len(weak),
            "tests_left_out": resolved.tests,
            "retracted": resolved.retracted,
            "held_out": len(held),
            "golden": len(golden),
        },
        "challenger": {
            "cost": challenger_cost,
            "metrics": evaluate_scores(challenger_scores, y, challenger.cutoffs),
        },
    }
    curves = {"challenger": (challenger_scores, y)}
    if champion is None:
        promoted, reason = True, "no current model"
    else:
        champion_scores = champion.model.scores(records)
        champion_cost = per_comment_cost(champion_scores, y, champion.cutoffs)
        curves["champion"] = (champion_scores, y)
        report["champion"] = {
            "version": champion.version,
            "cost": champion_cost,
            "metrics": evaluate_scores(champion_scores, y, champion.cutoffs),
        }
        limit = champion_cost * (1 + settings.retrain_margin) + 1e-9
        challenger_auc = report["challenger"]["metrics"].get("roc_auc") or 0.0
        champion_auc = report["champion"]["metrics"].get("roc_auc") or 0.0
        # Cost alone would reward a vague model that sends everything to
        # review; the ranking (ROC AUC) must hold up too.
        promoted = challenger_cost <= limit and challenger_auc >= champion_auc - AUC_SLACK
        reason = (
            f"cost {challenger_cost:.4f} vs champion {champion.version} {champion_cost:.4f}"
            f" (margin {settings.retrain_margin:.0%}), ROC AUC {challenger_auc:.3f} vs"
            f" {champion_auc:.3f} (slack {AUC_SLACK})"
        )
        report["suspect_sources"] = suspects(people, champion.model.scores)
    if promoted:
        model_store.promote(settings.models_dir, version, store)
    report.update(promoted=promoted, reason=reason, seconds=round(time.monotonic() - started, 1))
    out = settings.models_dir / version
    plots.precision_recall_png(curves, out / "report-pr.png", "held-out labels and golden set")
    plots.calibration_png(curves, out / "report-calibration.png", "held-out labels and golden set")
    plots.histogram_png(curves, out / "report-scores.png", "held-out scores")
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    pruned = prune(settings.models_dir, settings.retrain_keep)
    verdict = "promoted" if promoted else "kept the champion"
    say(f"{verdict}: {version} - {reason}")
    for source in report.get("suspect_sources", []):
        say(
            f"suspect label source {source['source']}: disagrees {source['disagreement']:.0%}"
            f" vs {source['everyone']:.0%} overall ({source['n']} labels);"
            " RETRAIN_EXCLUDE can leave it out"
        )
    if pruned:
        say(f"pruned {len(pruned)} old versions")
    return Outcome(0, promoted, version, reason, report)


def suspects(
    people: list[Example], score: Callable[[list[dict[str, Any]]], np.ndarray]
) -> list[dict[str, Any]]:
    """Label sources that disagree with the model much more than everyone does."""
    if not people:
        return []
    predicted = score([e.record for e in people]) >= 0.5
    disagree = predicted != np.array([e.label == 1 for e in people])
    everyone = float(disagree.mean())
    by_source: dict[str, list[bool]] = {}
    for example, wrong in zip(people, disagree, strict=True):
        for source in example.record.get("_sources", []):
            by_source.setdefault(source, []).append(bool(wrong))
    out = []
    for source, flags in sorted(by_source.items()):
        rate = float(np.mean(flags))
        if len(flags) >= POISON_MIN_LABELS and rate > everyone + POISON_GAP:
            out.append(
                {"source": source, "n": len(flags), "disagreement": rate, "everyone": everyone}
            )
    return out


def prune(models_dir: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` versions (never the current one)."""
    current = artifact.current_version(models_dir)
    versions = sorted(p.name for p in models_dir.iterdir() if (p / artifact.MANIFEST_FILE).exists())
    old = [v for v in versions[: max(0, len(versions) - keep)] if v != current]
    for version in old:
        shutil.rmtree(models_dir / version, ignore_errors=True)
    return old


def rollback(models_dir: Path, to: str | None = None, store: ModelStore | None = None) -> str:
    """Make ``to`` (default: the version before the current one) current - on
    every node when a ``store`` (a shared Redis) is given."""
    versions = sorted(p.name for p in models_dir.iterdir() if (p / artifact.MANIFEST_FILE).exists())
    # Redis's current one when shared (not fetched: it may be the bad one).
    current = (store.current() if store else None) or artifact.current_version(models_dir)
    if to is None:
        earlier = [v for v in versions if current is None or v < current]
        if not earlier:
            raise ValueError("no earlier version to roll back to")
        to = earlier[-1]
    if to not in versions:
        raise ValueError(f"no version {to} in {models_dir}")
    model_store.promote(models_dir, to, store)
    return to


def _bar(enabled: bool, what: str) -> Callable[[int], None]:
    if not enabled:
        return lambda n: None
    from tqdm import tqdm

    bar = tqdm(desc=what, unit="label", file=sys.stderr)
    return bar.update  # type: ignore[no-any-return]
