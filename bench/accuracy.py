"""Accuracy benchmark: leave-one-video-out on the YouTube Spam Collection.

    python -m bench.accuracy [--data ../shared/data/youtube-spam] [--write bench/RESULTS.md]

For each video: train on the other three (without the starter corpus, so
every model sees the same data), score the held-out video, and report per
model the mean over the four rotations of accuracy, spam recall, ham
false-positive rate, F1, MCC (each filter at its own spam threshold: 0.5 for
the probabilistic models, the shipped cutoff for SpamBayes and bogofilter),
ROC AUC (threshold-free), and for our model
the share auto-decided at its own cutoffs and the error rate among those.
Also: the default model (starter corpus only, what ``make run`` trains)
scored on the whole collection - how far the shipped corpus generalises.

Models: ours (``training.train``); the plain baseline every text
classifier is measured against - TF-IDF word 1-2 + char 2-5 grams and a
logistic regression on the raw text (U+FEFF removed, as the data's README
requires); and the classic local filters SpamBayes and bogofilter
(``bench/peers.py``). A peer that is not installed is reported as missing;
``make bench-accuracy`` installs them.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, matthews_corrcoef, roc_auc_score
from sklearn.pipeline import make_pipeline, make_union

from bench import peers
from bench.obfuscate import obfuscate
from training import datasets, plots
from training.cutoffs import Cutoffs
from training.datasets import Example
from training.evaluation import calibration
from training.features import Record
from training.train import train

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "youtube-spam"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

# A model: fit on examples, return a scorer of records (and its cutoffs, if any).
Scorer = Callable[[Sequence[Record]], np.ndarray]
Fitter = Callable[[Sequence[Example]], tuple[Scorer, Cutoffs | None]]


def fit_ours(examples: Sequence[Example]) -> tuple[Scorer, Cutoffs | None]:
    trained = train(examples)
    return trained.model.scores, trained.cutoffs


def fit_ours_videos_only(examples: Sequence[Example]) -> tuple[Scorer, Cutoffs | None]:
    """Ours without the starter corpus: what the videos alone teach it."""
    return fit_ours([e for e in examples if Path(e.source) != datasets.STARTER])


def fit_tfidf_lr(examples: Sequence[Example]) -> tuple[Scorer, Cutoffs | None]:
    texts = [e.record["content"].replace("\ufeff", "") for e in examples]
    pipeline = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ),
        LogisticRegression(max_iter=5000, C=10.0),
    )
    pipeline.fit(texts, [e.label for e in examples])

    def score(records: Sequence[Record]) -> np.ndarray:
        raw = [str(r["content"]).replace("\ufeff", "") for r in records]
        return np.asarray(pipeline.predict_proba(raw)[:, 1])

    return score, None


def _peer(fit: Callable[[Sequence[Example]], Scorer]) -> Fitter:
    return lambda examples: (fit(examples), None)


MODELS: dict[str, Fitter] = {
    "ours": fit_ours,
    "ours (videos only)": fit_ours_videos_only,
    "tfidf+lr": fit_tfidf_lr,
    "spambayes": _peer(peers.fit_spambayes),
    "bogofilter": _peer(peers.fit_bogofilter),
}


# The score at which each filter calls spam as shipped: SpamBayes' spam_cutoff
# (its "unsure" band is delivered, so it counts as not spam here) and
# bogofilter's default spam_cutoff. At 0.5 both flag over half the ham.
SPAM_THRESHOLD = {"spambayes": 0.90, "bogofilter": 0.99}


def metrics(
    scores: np.ndarray, labels: np.ndarray, cutoffs: Cutoffs | None, threshold: float = 0.5
) -> dict[str, float]:
    predicted = (scores >= threshold).astype(int)
    hams = labels == 0
    row = {
        "accuracy": float(np.mean(predicted == labels)),
        "spam_recall": float(np.mean(predicted[labels == 1] == 1)),
        "ham_fp_rate": float(np.mean(predicted[hams] == 1)),
        "f1": float(f1_score(labels, predicted)),
        "mcc": float(matthews_corrcoef(labels, predicted)),
        "roc_auc": float(roc_auc_score(labels, scores)),
    }
    if cutoffs is not None:
        spam = scores >= cutoffs.spam_above
        ham = (scores <= cutoffs.ham_below) & ~spam
        decided = spam | ham
        wrong = (spam & hams) | (ham & ~hams)
        row["auto_share"] = float(np.mean(decided))
        row["auto_error"] = float(wrong.sum() / max(int(decided.sum()), 1))
    return row


@dataclass
class Outcome:
    """One model's results: per-rotation metrics, plain and obfuscated, and the
    pooled held-out scores (for the plots)."""

    rows: list[dict[str, float]] = field(default_factory=list)
    obfuscated: list[dict[str, float]] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)

    def pooled(self) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate(self.scores), np.concatenate(self.labels)


def obfuscated_copy(test: Sequence[Example]) -> list[Record]:
    """The test comments with every spam rewritten by the spammer's tricks;
    ham is left as people write it."""
    return [
        {**e.record, "content": obfuscate(str(e.record["content"]))} if e.label else e.record
        for e in test
    ]


def leave_one_video_out(files: list[Path], missing: dict[str, str]) -> dict[str, Outcome]:
    per_video = {f: datasets.load([f], starter=False) for f in files}
    starter = datasets.load([], starter=True)
    outcomes = {name: Outcome() for name in MODELS}
    for held_out in files:
        training_set = starter + [e for f in files if f != held_out for e in per_video[f]]
        test = per_video[held_out]
        labels = np.array([e.label for e in test])
        disguised = obfuscated_copy(test)
        for name, fit in MODELS.items():
            if name in missing:
                continue
            started = time.monotonic()
            try:
                score, cutoffs = fit(training_set)
            except peers.PeerMissing as exc:
                missing[name] = str(exc)
                print(f"{name}: not installed ({exc})", file=sys.stderr)
                continue
            threshold = SPAM_THRESHOLD.get(name, 0.5)
            scores = score([e.record for e in test])
            row = metrics(scores, labels, cutoffs, threshold)
            outcome = outcomes[name]
            outcome.rows.append(row)
            outcome.obfuscated.append(metrics(score(disguised), labels, cutoffs, threshold))
            outcome.scores.append(scores)
            outcome.labels.append(labels)
            print(
                f"{held_out.stem:24} {name:18} MCC {row['mcc']:.3f}  AUC {row['roc_auc']:.3f}"
                f"  ({time.monotonic() - started:.1f}s)",
                file=sys.stderr,
            )
    return outcomes


def mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def table(results: dict[str, dict[str, float]]) -> str:
    columns = ["accuracy", "spam_recall", "ham_fp_rate", "f1", "mcc", "roc_auc",
               "auto_share", "auto_error"]  # fmt: skip
    lines = [
        "| model | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, row in results.items():
        cells = [f"{row[c]:.3f}" if c in row else "-" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    return f"{cpu}, {cores} cores, Python {platform.python_version()}"


def revision() -> str:
    """The commit measured, ``-dirty`` when code differs from it (the results
    files this benchmark rewrites do not count)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":!bench/RESULTS.md", ":!bench/plots"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if changed else "")


def write_section(path: Path, name: str, body: str) -> None:
    """Replace this benchmark's section of RESULTS.md, leaving the others alone."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="folder of YouTube Spam Collection CSVs (one per video)",
    )
    parser.add_argument("--write", type=Path, default=RESULTS,
                        help="Markdown file to write the results into")  # fmt: skip
    args = parser.parse_args(argv)
    files = sorted(args.data.glob("*.csv"))
    if len(files) < 2:
        parser.error(f"{args.data}: need at least two video CSVs")

    started = time.monotonic()
    missing: dict[str, str] = {}
    outcomes = leave_one_video_out(files, missing)
    means = {name: mean_rows(o.rows) for name, o in outcomes.items() if o.rows}
    disguised = {name: mean_rows(o.obfuscated) for name, o in outcomes.items() if o.rows}

    everything = datasets.load(files, starter=False)
    default = fit_ours(datasets.load([], starter=True))
    default_row = metrics(
        default[0]([e.record for e in everything]),
        np.array([e.label for e in everything]),
        default[1],
    )

    figures = args.write.parent / "plots"
    pooled = {name: o.pooled() for name, o in outcomes.items() if o.rows}
    calibrated: dict[str, tuple[np.ndarray, np.ndarray]] = {
        n: pooled[n] for n in ("ours", "tfidf+lr") if n in pooled
    }
    title = "leave-one-video-out, pooled held-out scores"
    pr_png = plots.precision_recall_png(pooled, figures / "accuracy-pr.png", title)
    cal_png = plots.calibration_png(calibrated, figures / "accuracy-calibration.png", title)

    report = "\n".join([
        "## Accuracy: leave-one-video-out, YouTube Spam Collection",
        "",
        f"`python -m bench.accuracy` on {datetime.now(UTC):%Y-%m-%d}, {machine()},"
        f" revision {revision()}; {len(files)} videos, {len(everything)} comments;"
        f" {time.monotonic() - started:.0f} s.",
        "",
        "Mean over the rotations. Every model trains on what `python -m training train"
        " --data` trains on - the starter corpus plus the other videos - and is tested on"
        " the held-out video; `ours (videos only)` leaves the starter corpus out. Spam at"
        " P >= 0.5, SpamBayes at its spam_cutoff 0.90, bogofilter at its 0.99; auto_share"
        " and auto_error at our model's own three-way cutoffs (the rest goes to review):",
        "",
        table(means),
        "",
        *[f"Not measured: {name} is not installed ({how})." for name, how in missing.items()],
        "",
        targets(means),
        "",
        "Our hyperparameters (C, the metadata weight, word trigrams) were chosen on these"
        " rotations, so our row is somewhat optimistic; the peers run with their defaults"
        " (TF-IDF+LR with our C). Each choice and its measured neighbours are in the code"
        " comments where it is set.",
        "",
        calibration_line(calibrated),
        "",
        "### Obfuscated spam",
        "",
        "The same rotations with every held-out spam comment rewritten by"
        " `bench/obfuscate.py` (look-alike Cyrillic letters, zero-width characters and soft"
        " hyphens, full-width and mathematical letters, one word s p a c e d or d.o.t.t.e.d;"
        " links left working); ham as written. Same models, same thresholds:",
        "",
        obfuscation_table(means, disguised),
        "",
        "Ham was not rewritten, so a model that counts the tricks as evidence (ours: the"
        " `obfuscation` features) can gain recall here; `ours (videos only)` never saw an"
        " obfuscated comment in training and shows what normalisation alone recovers. What"
        " it misses is mostly a spaced word glued to a one-letter word beside it (`a p u b l"
        " i s h i n g` reads `apublishing`).",
        "",
        "### The default model",
        "",
        "The default model (starter corpus only, what `make run` trains) on the whole collection:",
        "",
        table({"default (starter)": default_row}),
        "",
        f"Plots (pooled held-out scores of all rotations): [precision-recall]"
        f"(plots/{pr_png.name}), [calibration](plots/{cal_png.name}).",
        "",
    ])  # fmt: skip
    print(report)
    write_section(args.write, "accuracy", report)
    print(f"written to {args.write} and {figures}/", file=sys.stderr)
    return 0


def obfuscation_table(
    plain: dict[str, dict[str, float]], disguised: dict[str, dict[str, float]]
) -> str:
    lines = [
        "| model | spam_recall | obfuscated | drop (points) | roc_auc | obfuscated |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in plain.items():
        other = disguised[name]
        drop = 100 * (row["spam_recall"] - other["spam_recall"])
        lines.append(
            f"| {name} | {row['spam_recall']:.3f} | {other['spam_recall']:.3f} | {drop:+.1f}"
            f" | {row['roc_auc']:.3f} | {other['roc_auc']:.3f} |"
        )
    return "\n".join(lines)


def calibration_line(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    parts = []
    for name, (scores, labels) in curves.items():
        stats = calibration(np.clip(scores, 0, 1), labels)
        parts.append(f"{name} Brier {stats['brier']:.4f}, ECE {stats['ece']:.4f}")
    return "Calibration of the pooled held-out scores: " + "; ".join(parts) + "."


def targets(means: dict[str, dict[str, float]]) -> str:
    """The goals of the model issue, checked against this run's numbers."""
    if "ours" not in means:
        return ""
    ours = means["ours"]
    peers_ = {n: r for n, r in means.items() if not n.startswith("ours")}
    checks = [
        ("ahead of every peer on MCC", all(ours["mcc"] > r["mcc"] for r in peers_.values())),
        ("ahead of every peer on ROC AUC",
         all(ours["roc_auc"] > r["roc_auc"] for r in peers_.values())),
        (f"MCC {ours['mcc']:.3f} >= 0.92", ours["mcc"] >= 0.92),
        (f"ROC AUC {ours['roc_auc']:.3f} >= 0.99", ours["roc_auc"] >= 0.99),
        (f"ham FP rate {ours['ham_fp_rate']:.1%} <= 2%", ours["ham_fp_rate"] <= 0.02),
    ]  # fmt: skip
    return (
        "Targets: " + "; ".join(f"{what} {'met' if ok else 'MISSED'}" for what, ok in checks) + "."
    )


if __name__ == "__main__":
    sys.exit(main())
