"""Retraining benchmark: the nightly job on 100,000 labelled comments.

    python -m bench.retrain [--data ../shared/data/youtube-spam] [--n 100000]

The shared data resampled with variations (a random word dropped or doubled,
a number appended, letters in other case) until there are ``--n`` labels,
written to the labels stream of a fresh embedded Redis as moderator
decisions; then ``training.retrain.run`` - drain to disk, train the
challenger on the starter corpus plus the labels, evaluate, promote, report -
timed, with the process's peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.accuracy import DEFAULT_DATA, RESULTS, machine, revision, write_section
from moderation.keys import Keys
from moderation.redis_server import EmbeddedRedis, connect
from moderation.settings import Settings
from training import datasets, retrain


def vary(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) > 3 and rng.random() < 0.5:
        i = rng.randrange(len(words))
        words.insert(i, words[i]) if rng.random() < 0.5 else words.pop(i)
    text = " ".join(words)
    if rng.random() < 0.3:
        text = text.upper() if rng.random() < 0.2 else text.lower()
    return f"{text} {rng.randint(1, 999)}" if rng.random() < 0.5 else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--write", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    source = datasets.load(sorted(args.data.glob("*.csv")), starter=False)
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="retrain-bench-") as tmp:
        settings = Settings(var_dir=Path(tmp) / "var", models_dir=Path(tmp) / "models")
        client, _ = connect(settings)
        keys = Keys(settings.redis_prefix)
        started = time.monotonic()
        pipe = client.pipeline(transaction=False)
        for i in range(args.n):
            example = rng.choice(source)
            fields = {"content": vary(str(example.record["content"]), rng)}
            pipe.xadd(keys.labels(), {
                "site": f"site{i % 20}.example", "comment_id": uuid.uuid4().hex,
                "label": "spam" if example.label else "ham", "source": "moderator",
                "weak": 0, "at": time.time(), "is_test": 0, "fields": json.dumps(fields),
                "model_version": "", "score": "", "type": "label",
                "event": f"site{i % 20}.example:{uuid.uuid4().hex}", "moderator": "bench",
            })  # fmt: skip
            if i % 5000 == 4999:
                pipe.execute()
        pipe.execute()
        loaded = time.monotonic() - started
        started = time.monotonic()
        outcome = retrain.run(settings, say=lambda line: print(line, file=sys.stderr))
        seconds = time.monotonic() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        EmbeddedRedis(settings.redis_dir).stop(only_if_unused=False)
    labels = outcome.summary.get("labels", {})
    report = "\n".join([
        "## Retraining: the nightly job on many labels",
        "",
        f"`python -m bench.retrain --n {args.n}` on {datetime.now(UTC):%Y-%m-%d}, {machine()},"
        f" revision {revision()}; {args.n:,} labels (the YouTube collection resampled with"
        f" variations) put in the stream in {loaded:.0f} s, then one run of the job.",
        "",
        "| labels drained | trained on | held out | wall time | peak memory (max RSS) | promoted |",
        "|---|---|---|---|---|---|",
        f"| {labels.get('written', 0):,} | {outcome.summary.get('trained_on', 0):,} |"
        f" {labels.get('held_out', 0):,} + {labels.get('golden', 0)} golden | {seconds:.0f} s |"
        f" {peak_mb:,.0f} MB | {outcome.promoted} |",
        "",
    ])  # fmt: skip
    print(report)
    write_section(args.write, "retrain", report)
    return 0 if outcome.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
