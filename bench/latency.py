"""In-process scoring latency: one comment at a time, and batches.

    python -m bench.latency [--data ../shared/data/youtube-spam] [--n 1500] [--rounds 3]

Every filter is trained on the starter corpus, then timed on the same real
comments, one at a time: ours as the service calls it (the compiled model's
``explain``: score and reasons) and its score alone; ours through the
scikit-learn Pipeline it is compiled from (what serving ran before); a plain
scikit-learn TF-IDF word+char logistic regression; SpamBayes; bogofilter
kept open in streaming bulk mode (``-b``: one process, a file name written to
its stdin, the verdict line read back - how a mail server keeps it). The
filters take turns, ``--rounds`` times over the comments, so that a noisy
neighbour on a shared machine slows them all alike; warm-up runs on other
comments than the ones timed (half the collection times, half warms up), and
before every round our per-word cache is emptied and warmed on those only.
Then batch throughput (the compiled batch path, whole collection per call),
and a profile of the one-comment path before and after compiling
(pyinstrument), whose top lines go into
``bench/RESULTS.md`` with the numbers.
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
from training.model import SpamModel
from training.train import train

Record = dict[str, Any]
Filter = Callable[[Record], object]
PROFILES = Path(__file__).resolve().parent / "profiles"
BOGOFILTER = "bogofilter (kept open, -b)"
OURS = "ours: score"
OURS_EXPLAINED = "ours: score + reasons (the service's call)"
PIPELINE = "ours through the scikit-learn Pipeline (before)"


class KeptOpenBogofilter:
    """bogofilter's bulk mode: the message files are written beforehand, each
    call writes one path and reads bogofilter's verdict line."""

    def __init__(self, starter: list[datasets.Example], records: list[Record], workdir: Path):
        self.paths: dict[int, str] = {}
        for i, record in enumerate(records):
            path = workdir / f"m{i:06d}"
            path.write_text(peers.message(peers.text_of(record)))
            self.paths[id(record)] = str(path)
        wordlists = str(peers.train_bogofilter(starter))
        self.process = subprocess.Popen(
            [peers.bogofilter_binary(), "-C", "-d", wordlists, "-T", "-b"],
            text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout

    def __call__(self, record: Record) -> str:
        self.stdin.write(self.paths[id(record)] + "\n")
        self.stdin.flush()
        return self.stdout.readline()

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=30)


def take_turns(
    filters: dict[str, Filter],
    records: list[Record],
    rounds: int,
    before: Callable[[str], object] = lambda name: None,
) -> dict[str, list[float]]:
    """Milliseconds per call of each filter, filters interleaved round by round
    (``before`` called with a filter's name before each of its passes)."""
    samples: dict[str, list[float]] = {name: [] for name in filters}
    clock = time.perf_counter
    for _ in range(rounds):
        for name, score in filters.items():
            before(name)
            out = samples[name]
            for record in records:
                started = clock()
                score(record)
                out.append((clock() - started) * 1000)
    return samples


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"p50": statistics.median(ordered), "p99": ordered[int(len(ordered) * 0.99) - 1]}


def batch_throughput(model: SpamModel, comments: list[Record], repeats: int = 5) -> float:
    """Comments per second of the batch path, the median of ``repeats`` calls
    over the whole collection (the first call warms the word cache)."""
    model.scores(comments)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.scores(comments)
        rates.append(len(comments) / (time.perf_counter() - started))
    return statistics.median(rates)


def profile_top(score: Filter, records: list[Record], name: str, lines: int = 12) -> str:
    """pyinstrument's profile of ``score`` over the records: the call tree
    written whole to bench/profiles/<name>.txt, the top of the flat list
    (time spent in each function itself) returned."""
    from pyinstrument import Profiler  # bench/requirements.txt

    profiler = Profiler(interval=0.0001)
    profiler.start()
    for record in records:
        score(record)
    profiler.stop()
    PROFILES.mkdir(exist_ok=True)
    (PROFILES / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False))
    flat = profiler.output_text(unicode=False, color=False, flat=True)
    rows = [line for line in flat.splitlines() if line[:1].isdigit()]
    return "\n".join(rows[:lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=1000, help="at most this many comments timed")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    comments = [e.record for e in datasets.load(sorted(args.data.glob("*.csv")), starter=False)]
    # Every other comment timed, the rest for warming up: both from every video.
    timed, warm = comments[::2][: args.n], comments[1::2]
    starter = datasets.load([], starter=True)
    model = train(starter).model
    plain, _ = fit_tfidf_lr(starter)
    filters: dict[str, Filter] = {
        OURS_EXPLAINED: model.compiled.explain,
        OURS: model.compiled.score,
        PIPELINE: lambda r: model.reference_scores([r]),
        "scikit-learn TF-IDF + LR": lambda r: plain([r]),
    }
    try:
        spambayes = peers.fit_spambayes(starter)
        filters["SpamBayes"] = lambda r: spambayes([r])
    except peers.PeerMissing as missing:
        print(f"SpamBayes skipped: {missing}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        bogofilter = None
        try:
            bogofilter = KeptOpenBogofilter(starter, timed + warm, Path(tmp))
            filters[BOGOFILTER] = bogofilter
        except peers.PeerMissing as missing:
            print(f"bogofilter skipped: {missing}", file=sys.stderr)
        take_turns(filters, warm, 1)

        def warm_words(name: str) -> None:
            # Before each pass of ours, our per-word cache knows the warm-up
            # comments' words and none of the timed ones' yet (as a worker that
            # has served other comments): a word first seen costs ~12 us more.
            if name in (OURS, OURS_EXPLAINED):
                model.compiled.forget_words()
                for record in warm:
                    model.compiled.explain(record)

        samples = take_turns(filters, timed, args.rounds, warm_words)
        rows = {name: summary(ms) for name, ms in samples.items()}
        if bogofilter is not None:
            bogofilter.close()
    batch = batch_throughput(model, comments)
    before = profile_top(filters[PIPELINE], timed, "before")
    after = profile_top(model.compiled.explain, timed * 5, "after")
    report = render(rows, batch, len(timed), len(comments), args.rounds, before, after)
    print(report)
    write_section(args.write, "latency", report)
    return 0


def render(rows: dict[str, dict[str, float]], batch: float, n: int, total: int, rounds: int,
           before: str, after: str) -> str:  # fmt: skip
    lines = [
        "## Latency: scoring in-process",
        "",
        f"`python -m bench.latency` on {datetime.now(UTC):%Y-%m-%d}, {machine()}, revision"
        f" {revision()}; {n} YouTube comments one at a time, {rounds} rounds with the filters"
        " taking turns (warm-up on other comments), every filter trained on the starter corpus.",
        "",
        "| filter | p50 ms | p99 ms |",
        "|---|---|---|",
        *[f"| {name} | {r['p50']:.3f} | {r['p99']:.3f} |" for name, r in rows.items()],
        "",
    ]
    if BOGOFILTER in rows:
        bogo = rows[BOGOFILTER]["p50"]
        lines += [
            "p50 against bogofilter's in the same run:"
            f" ours (score) {rows[OURS]['p50'] / bogo:.2f}x,"
            f" ours (score + reasons) {rows[OURS_EXPLAINED]['p50'] / bogo:.2f}x"
            " (below 1 is faster).",
            "",
        ]
    lines += [
        f"Batch: the compiled batch path scores the whole collection ({total} comments) per call"
        f" at {batch:,.0f} comments/s (median of 5 calls, after one warm-up call).",
        "",
        "Profile of one comment at a time, before (through the Pipeline): the top of"
        " pyinstrument's flat list, seconds spent in each function itself over the timed"
        " comments (whole call trees in bench/profiles/):",
        "",
        "```",
        before,
        "```",
        "",
        "After (the compiled `explain`, the timed comments five times over):",
        "",
        "```",
        after,
        "```",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
