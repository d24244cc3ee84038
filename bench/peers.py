"""The classic local filters, driven the way their users run them, for bench/accuracy.py.

* SpamBayes: the chi-squared combining classifier and tokenizer from
  SpamBayes, as packaged on PyPI (``sbclassifier``), default parameters.
* bogofilter (Debian's package): trained with ``-s``/``-n`` on an mbox of
  each class, scored in bulk mode (``-B``, one file per comment, ``-T``
  terse output) - one process for all comments, as a mail server uses it.

Both see the raw comment text with U+FEFF removed (the data's README: it is
a collection artefact). Each fitter returns a scorer of records -> P(spam),
like the other models of the benchmark; a peer that is not installed raises
PeerMissing with the command that installs it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from training.datasets import Example
from training.features import Record

Scorer = Callable[[Sequence[Record]], np.ndarray]


class PeerMissing(RuntimeError):
    pass


def text_of(record: Record) -> str:
    return str(record.get("content") or "").replace("\ufeff", "")


def fit_spambayes(examples: Sequence[Example]) -> Scorer:
    try:
        from sbclassifier.classifier import Classifier, ClassifierDb
        from sbclassifier.tokenizer import tokenize_text
    except ImportError as exc:
        raise PeerMissing("pip install -r bench/requirements.txt") from exc
    classifier = Classifier(ClassifierDb())
    for example in examples:
        classifier.learn(list(tokenize_text(text_of(example.record))), bool(example.label))

    def score(records: Sequence[Record]) -> np.ndarray:
        return np.array([classifier.spamprob(list(tokenize_text(text_of(r)))) for r in records])

    return score


def message(text: str) -> str:
    # mbox "From " lines inside a body are escaped, as mail tools do.
    body = "\n".join(">" + line if line.startswith("From ") else line for line in text.splitlines())
    return (
        "From bench@localhost Thu Jan  1 00:00:00 2026\n"
        "Subject: comment\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n\n"
    )


def bogofilter_binary() -> str:
    binary = shutil.which("bogofilter")
    if binary is None:
        raise PeerMissing("apt-get install bogofilter (make bench-accuracy does it)")
    return binary


def train_bogofilter(examples: Sequence[Example]) -> Path:
    """bogofilter's word lists trained on the examples; the folder they are in."""
    binary = bogofilter_binary()
    workdir = Path(tempfile.mkdtemp(prefix="bogofilter-"))
    for label, flag in ((1, "-s"), (0, "-n")):
        mbox = workdir / f"train-{label}.mbox"
        mbox.write_text("".join(message(text_of(e.record)) for e in examples if e.label == label))
        subprocess.run([binary, "-C", "-d", str(workdir), "-M", flag, "-I", str(mbox)], check=True)
    return workdir


def fit_bogofilter(examples: Sequence[Example]) -> Scorer:
    binary = bogofilter_binary()
    workdir = train_bogofilter(examples)

    def score(records: Sequence[Record]) -> np.ndarray:
        with tempfile.TemporaryDirectory(dir=workdir) as messages:
            paths = []
            for i, record in enumerate(records):
                path = Path(messages) / f"{i:06d}"
                path.write_text(message(text_of(record)))
                paths.append(str(path))
            out = subprocess.run(
                [binary, "-C", "-d", str(workdir), "-T", "-B", *paths],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
        # Lines: "<path> <S|H|U> <spamicity>"; exit status 0/1/2 = spam/ham/unsure.
        by_path = {}
        for line in out.stdout.splitlines():
            name, _, value = line.rsplit(" ", 2)
            by_path[name] = float(value)
        if len(by_path) != len(paths):
            raise RuntimeError(f"bogofilter scored {len(by_path)} of {len(paths)}: {out.stderr}")
        return np.array([by_path[p] for p in paths])

    return score
