"""``python -m training``: train and evaluate models.

    python -m training train [--data PATH ...] [--no-starter] [--out DIR] [--promote]
                             [--if-missing]
    python -m training evaluate --data PATH ... [--models DIR] [--version V] [--json]
    python -m training retrain          the nightly job (training.retrain)
    python -m training models           versions, their metrics, which is current
    python -m training rollback [--to VERSION]

``train`` prints progress to stderr and the new version alone on the last
line of stdout. Exit status: 0 done, 1 a data or artifact error, 2 usage; ``retrain``: 75
when another run holds the lock.

With a shared Redis (``REDIS_URL``), ``--promote``, ``retrain`` and ``rollback``
also publish the version for every node (moderation.model_store), and
``--if-missing`` fetches the deployment's current model rather than train one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from moderation import model_store
from moderation.errors import REDIS_ERRORS, ModerationError
from moderation.model_store import ModelStore
from moderation.redis_server import connect
from moderation.settings import Settings
from training import artifact, datasets, retrain
from training.datasets import DatasetError
from training.evaluation import evaluate_scores, format_report
from training.train import train


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env(os.environ)
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p_train = commands.add_parser("train", help="train a model and write an artifact")
    p_train.add_argument(
        "--data",
        nargs="+",
        type=Path,
        default=[],
        help="dataset files or folders (format detected from content)",
    )
    p_train.add_argument(
        "--no-starter",
        action="store_true",
        help="leave out the starter corpus shipped in training/data",
    )
    p_train.add_argument(
        "--out",
        type=Path,
        default=settings.models_dir,
        help=f"models directory (default: MODELS_DIR, {settings.models_dir})",
    )
    p_train.add_argument("--promote", action="store_true", help="make the new version current")
    p_train.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing if the models directory already has a current model",
    )

    p_eval = commands.add_parser("evaluate", help="score labelled data with a model")
    p_eval.add_argument("--data", nargs="+", type=Path, required=True)
    p_eval.add_argument("--models", type=Path, default=settings.models_dir)
    p_eval.add_argument("--version", help="a version folder (default: the current one)")
    p_eval.add_argument("--json", action="store_true", help="print metrics as JSON")

    commands.add_parser("retrain", help="drain labels, train a challenger, promote if better")
    commands.add_parser("models", help="list model versions and their metrics")
    p_back = commands.add_parser("rollback", help="make an earlier version current")
    p_back.add_argument("--to", help="the version (default: the one before the current)")

    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            with _shared_store(settings, args.out) as store:
                return _train(args, store)
        if args.command == "retrain":
            outcome = retrain.run(settings, progress=sys.stderr.isatty())
            if outcome.version:
                print(outcome.version)
            return outcome.exit_code
        if args.command == "models":
            return _models(settings.models_dir)
        if args.command == "rollback":
            with _shared_store(settings, settings.models_dir) as store:
                print(f"current: {retrain.rollback(settings.models_dir, args.to, store)}")
            return 0
        return _evaluate(args)
    except (DatasetError, ModerationError, OSError, ValueError, *REDIS_ERRORS) as exc:  # type: ignore[misc]
        print(f"error: {exc}", file=sys.stderr)
        return 1


@contextmanager
def _shared_store(settings: Settings, models_dir: Path) -> Iterator[ModelStore | None]:
    """The model store of a shared Redis; None with the embedded server (one
    machine, its models directory is the truth), which is then not started
    just to train."""
    if settings.embedded_redis:
        yield None
        return
    client, _ = connect(settings)
    try:
        yield model_store.for_deployment(settings, client, models_dir)
    finally:
        client.close()


def _train(args: argparse.Namespace, store: ModelStore | None) -> int:
    started = time.monotonic()
    # A node joining a deployment serves the deployment's model, not one of its own.
    if args.if_missing and store is not None and (current := store.sync()):
        print(f"fetched the current model {current} from Redis; not training", file=sys.stderr)
        return 0
    if args.if_missing and artifact.current_version(args.out):
        print(f"{args.out} has a current model; not training", file=sys.stderr)
        return 0
    examples = datasets.load(args.data, starter=not args.no_starter)
    spam = sum(e.label for e in examples)
    print(
        f"training on {len(examples)} comments ({spam} spam, {len(examples) - spam} ham)",
        file=sys.stderr,
    )
    trained = train(examples)
    data = {
        "fingerprint": datasets.fingerprint(examples),
        "n": len(examples),
        "spam": spam,
        "sources": sorted({e.source for e in examples}),
    }
    version = artifact.save(
        trained.model, args.out, cutoffs=trained.cutoffs, metrics=trained.metrics, data=data
    )
    print(format_report(trained.metrics["out_of_fold"]), file=sys.stderr)
    if args.promote:
        model_store.promote(args.out, version, store)
        print(f"promoted {version}" + (" and published it to every node" if store else ""),
              file=sys.stderr)  # fmt: skip
    print(f"done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    print(version)
    return 0


def _models(models_dir: Path) -> int:
    current = artifact.current_version(models_dir)
    if not models_dir.is_dir():
        print(f"no models in {models_dir}", file=sys.stderr)
        return 0
    for path in sorted(models_dir.iterdir()):
        if not (path / artifact.MANIFEST_FILE).exists():
            continue
        manifest = artifact.read_manifest(models_dir, path.name)
        oof = manifest.get("metrics", {}).get("out_of_fold", {})
        mark = "*" if path.name == current else " "
        print(f"{mark} {path.name}  MCC {oof.get('mcc', float('nan')):.3f}"
              f"  ROC AUC {oof.get('roc_auc', float('nan')):.3f}"
              f"  n {manifest.get('data', {}).get('n', '?')}")  # fmt: skip
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    loaded = artifact.load(args.models, args.version)
    examples = datasets.load(args.data, starter=False)
    scores = loaded.model.scores([e.record for e in examples])
    metrics = evaluate_scores(scores, [e.label for e in examples], loaded.cutoffs)
    metrics["model_version"] = loaded.version
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"model {loaded.version}")
        print(format_report(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
