"""In-process scoring latency: one comment at a time, and batches.

    python -m bench.latency [--data ../shared/data/youtube-spam] [--n 2000]

Each filter trained on the starter corpus, then timed on the same real
comments, one at a time after a warm-up: ours as the service calls it
(``score_and_explain``: the score and its reasons) and scores alone; a plain
scikit-learn TF-IDF word+char logistic regression; SpamBayes; bogofilter
kept open in streaming bulk mode (``-b``: one process, a file name written
to its stdin, the verdict line read back - how a mail server keeps it).
Batch throughput: ours on all the comments in one call. p50 and p99 in
milliseconds, all measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import peers
from bench.accuracy import DEFAULT_DATA, RESULTS, fit_tfidf_lr, machine, revision, write_section
from training import datasets
from training.train import train


def timed(score: Callable[[dict[str, Any]], object], records: list[dict[str, Any]]) -> list[float]:
    for record in records[:50]:  # warm-up: caches, lazy imports
        score(record)
    out = []
    for record in records:
        started = time.perf_counter()
        score(record)
        out.append((time.perf_counter() - started) * 1000)
    return out


def bogofilter_kept_open(starter: list[datasets.Example], records: list[dict[str, Any]],
                         workdir: Path) -> list[float] | None:  # fmt: skip
    try:
        binary = peers.bogofilter_binary()
    except peers.PeerMissing:
        return None
    wordlists = peers.train_bogofilter(starter)
    files = []
    for i, record in enumerate(records):
        path = workdir / f"m{i:06d}"
        path.write_text(peers.message(peers.text_of(record)))
        files.append(path)
    process = subprocess.Popen([binary, "-C", "-d", str(wordlists), "-T", "-b"], text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    out = []
    for path in files[:50] + files:
        started = time.perf_counter()
        process.stdin.write(f"{path}\n")
        process.stdin.flush()
        process.stdout.readline()
        out.append((time.perf_counter() - started) * 1000)
    process.stdin.close()
    process.wait(timeout=30)
    return out[50:]


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"p50": statistics.median(ordered), "p99": ordered[int(len(ordered) * 0.99) - 1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--write", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    comments = [e.record for e in datasets.load(sorted(args.data.glob("*.csv")), starter=False)]
    records = comments[: args.n]
    starter = datasets.load([], starter=True)
    model = train(starter).model
    plain, _ = fit_tfidf_lr(starter)
    rows: dict[str, dict[str, float]] = {}
    rows["ours (score + reasons)"] = summary(timed(lambda r: model.score_and_explain([r]), records))
    rows["ours (score only)"] = summary(timed(lambda r: model.scores([r]), records))
    rows["scikit-learn TF-IDF + LR"] = summary(timed(lambda r: plain([r]), records))
    try:
        spambayes = peers.fit_spambayes(starter)
        rows["SpamBayes"] = summary(timed(lambda r: spambayes([r]), records))
    except peers.PeerMissing:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        bogo = bogofilter_kept_open(starter, records, Path(tmp))
    if bogo:
        rows["bogofilter (kept open, -b)"] = summary(bogo)
    started = time.perf_counter()
    model.scores(comments)
    batch = len(comments) / (time.perf_counter() - started)
    lines = [
        "## Latency: scoring in-process",
        "",
        f"`python -m bench.latency` on {datetime.now(UTC):%Y-%m-%d}, {machine()}, revision"
        f" {revision()}; {len(records)} YouTube comments one at a time (after 50 warm-up), every"
        " filter trained on the starter corpus.",
        "",
        "| filter | p50 ms | p99 ms |",
        "|---|---|---|",
        *[f"| {name} | {r['p50']:.3f} | {r['p99']:.3f} |" for name, r in rows.items()],
        "",
        f"Batch: ours scores {len(comments)} comments in one call at {batch:,.0f} comments/s.",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    write_section(args.write, "latency", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
