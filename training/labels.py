"""The label dataset on disk: every label the service ever recorded, safely.

Redis may run without persistence; this is the source of truth for
training. :func:`drain` moves the labels stream (``{labels}:stream``) into
append-only JSON-lines files under ``LABELS_DIR`` (one file per day) through
a consumer group: a batch is written, flushed and fsynced, and only then
acknowledged. A crash before the acknowledgement re-delivers the batch next
time; each line carries its stream id, and ids already on disk are skipped,
so nothing is lost and nothing is written twice.

:func:`resolve` turns the log into training examples: per comment, the last
word wins (a later decision over an earlier one; an undo's retraction
removes the label it names); ``is_test`` traffic is left out; Akismet's weak
labels count only where no person labelled the comment, and weigh less.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from moderation.keys import stream_order
from training.datasets import Example

log = logging.getLogger(__name__)

GROUP = "retrain"
CONSUMER = "retrain"
BATCH = 1000

# Weights: a person's label over a starter example (1.0); recent ones more.
HUMAN_WEIGHT = 3.0
RECENT_DAYS = 30
RECENT_BONUS = 1.0
WEAK_WEIGHT = 0.3


def label_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("labels-*.jsonl")) if directory.is_dir() else []


def read(directory: Path) -> Iterator[dict[str, Any]]:
    """Every label line on disk, in file order; a torn last line is skipped."""
    for path in label_files(directory):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    log.warning("%s:%d: unreadable label line skipped", path.name, n)


def drain(
    client: redis.Redis,
    stream: str,
    directory: Path,
    progress: Callable[[int], None] = lambda n: None,
    after_write: Callable[[], None] = lambda: None,
    keep: Callable[[dict[str, Any]], dict[str, Any]] = lambda entry: entry,
) -> int:
    """Move the stream's new entries to disk; returns how many were written.

    ``keep`` is what of an entry goes to disk (the service passes
    :func:`moderation.privacy.minimal_label`). ``after_write`` runs between
    the fsync and the acknowledgement (a test makes it crash there)."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    on_disk = {entry.get("key") for entry in read(directory)}
    written = 0
    # First what an interrupted run read but never acknowledged, then the new.
    for start in ("0", ">"):
        while True:
            found = client.xreadgroup(GROUP, CONSUMER, {stream: start}, count=BATCH)
            entries = found[0][1] if found else []
            if not entries:
                break
            fresh = [(k, keep(fields)) for k, fields in entries if fields and k not in on_disk]
            if fresh:
                _append(directory, fresh)
                on_disk.update(key for key, _ in fresh)
                written += len(fresh)
            after_write()
            client.xack(stream, GROUP, *[key for key, _ in entries])
            progress(len(entries))
            if start == "0" and len(entries) < BATCH:
                break
    return written


def trim_drained(client: redis.Redis, stream: str) -> int:
    """Delete the entries every drain has written and acknowledged: the
    stream is a queue to the dataset on disk, not a second copy of it."""
    try:
        groups = {g["name"]: g for g in client.xinfo_groups(stream)}
    except redis.ResponseError:  # no stream yet
        return 0
    group = groups.get(GROUP)
    if group is None:
        return 0
    below = str(group["last-delivered-id"])
    pending = client.xpending(stream, GROUP)
    if pending["pending"]:
        below = min(below, str(pending["min"]), key=stream_order)
    else:  # everything up to and including the last delivered one is on disk
        ms, seq = stream_order(below)
        below = f"{ms}-{seq + 1}"
    return int(client.xtrim(stream, minid=below, approximate=False))


def rewrite(directory: Path, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> int:
    """Rewrite the dataset line by line (``change`` returns the new entry, or
    None to drop it); a file is replaced atomically, only if it changed.
    Returns how many lines changed or went. For erasure and minimisation."""
    changed = 0
    for path in label_files(directory):
        out, touched = [], 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    out.append(line)  # a torn line: not ours to judge
                    continue
                new = change(entry)
                if new != entry:
                    touched += 1
                if new is not None:
                    out.append(json.dumps(new, ensure_ascii=False, separators=(",", ":")) + "\n")
        if touched:
            _replace(path, "".join(out))
            changed += touched
    return changed


def _replace(path: Path, text: str) -> None:
    temp = path.with_name(path.name + ".tmp")
    _write(temp, text, os.O_TRUNC)
    os.replace(temp, path)


def _write(path: Path, text: str, mode: int) -> None:
    """Write and fsync (``mode``: O_APPEND or O_TRUNC); owner-only, like all labels."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _append(directory: Path, entries: list[tuple[str, dict[str, Any]]]) -> None:
    path = directory / f"labels-{datetime.now(UTC):%Y-%m-%d}.jsonl"
    lines = "".join(
        json.dumps({"key": key, **fields}, ensure_ascii=False, separators=(",", ":")) + "\n"
        for key, fields in entries
    )
    _write(path, lines, os.O_APPEND)


@dataclass(frozen=True)
class Resolved:
    strong: list[dict[str, Any]]  # a person's last word per comment
    weak: list[dict[str, Any]]  # Akismet's answer, where no person spoke
    tests: int  # is_test labels left out
    retracted: int


def resolve(entries: list[dict[str, Any]], exclude: frozenset[str] = frozenset()) -> Resolved:
    """The current label of each comment (pure). ``exclude`` holds sources to
    leave out, as ``site:<domain>`` or ``moderator:<name>``."""
    strong: dict[tuple[str, str], dict[str, Any]] = {}
    weak: dict[tuple[str, str], dict[str, Any]] = {}
    tests = retracted = 0
    for entry in sorted(entries, key=lambda e: stream_order(e.get("key", "0-0"))):
        if str(entry.get("is_test")) == "1":
            tests += 1
            continue
        if f"site:{entry.get('site')}" in exclude or (
            entry.get("moderator") and f"moderator:{entry['moderator']}" in exclude
        ):
            continue
        comment = (str(entry.get("site")), str(entry.get("comment_id") or entry.get("key")))
        if entry.get("type") == "retract":
            current = strong.get(comment)
            if current is not None and current.get("event") == entry.get("retracts"):
                del strong[comment]
                retracted += 1
            continue
        if str(entry.get("weak")) == "1":
            weak[comment] = entry
        else:
            strong[comment] = entry
    weak_only = [e for c, e in weak.items() if c not in strong]
    return Resolved(list(strong.values()), weak_only, tests, retracted)


def examples(resolved: Resolved, now: float | None = None) -> list[Example]:
    """Training examples from resolved labels, weighted."""
    now = time.time() if now is None else now
    out = []
    for entry, weak in [(e, False) for e in resolved.strong] + [(e, True) for e in resolved.weak]:
        try:
            fields = json.loads(entry["fields"])
        except (KeyError, ValueError):
            continue
        if not str(fields.get("content") or "").strip():
            continue
        age_days = (now - float(entry.get("at") or now)) / 86400
        weight = (
            WEAK_WEIGHT if weak else HUMAN_WEIGHT + (RECENT_BONUS if age_days <= RECENT_DAYS else 0)
        )
        label = 1 if entry.get("label") == "spam" else 0
        # Who said so and when, for the time split and the poisoning check (the
        # featurizer reads only comment fields).
        fields["_at"] = float(entry.get("at") or 0)
        fields["_sources"] = [f"site:{entry.get('site')}"] + (
            [f"moderator:{entry['moderator']}"] if entry.get("moderator") else []
        )
        out.append(Example(fields, label, source=f"labels:{entry.get('source')}", weight=weight))
    return out
