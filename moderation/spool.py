"""The spool: checked comments that Redis could not take, kept on disk until it can.

When Redis is unreachable at the moment a checked comment must be stored
(and, for a ``review``, queued), the blog still gets its answer, and the
record goes here: JSON lines appended to ``VAR_DIR/spool/spool-<pid>.jsonl``,
flushed and fsynced before the answer is sent. The background worker
replays the spool once Redis answers again, through the same idempotent save
as a live check: a record whose id is already stored is not stored twice,
so a replay interrupted half-way can simply run again.

Writers lock their file (``flock``) while appending; a replay first renames
the file (new writes go to a new file from then on), then takes the same
lock, so it never reads a half-written line of a writer that had the file
open before the rename; and a writer, once it holds the lock, checks that its
file still has its name - if a replay took it meanwhile, the writer appends
to a new file instead of to one about to be deleted.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from moderation.errors import RedisUnavailable

log = logging.getLogger(__name__)

# (site, records) -> stored; raises RedisUnavailable while Redis is down.
Saver = Callable[[str, list[dict[str, Any]]], None]


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def append(self, domain: str, records: Sequence[dict[str, Any]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps({"site": domain, "record": r}, separators=(",", ":")) + "\n" for r in records
        )
        path = self.directory / f"spool-{os.getpid()}.jsonl"
        while True:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if _still_named(fd, path):
                    os.write(fd, lines.encode("utf-8"))
                    os.fsync(fd)
                    return
            finally:
                os.close(fd)  # closing releases the lock

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.startswith("spool-"))

    def size(self) -> int:
        """Records waiting (lines in the spool files)."""
        total = 0
        for path in self.files():
            try:
                with open(path, "rb") as f:
                    total += sum(1 for _ in f)
            except FileNotFoundError:
                continue  # replayed meanwhile
        return total

    def replay(self, save: Saver) -> int:
        """Hand every spooled record to ``save``; returns how many. Stops (and
        keeps what is left) at the first RedisUnavailable."""
        replayed = 0
        for path in self.files():
            taken = path
            if path.suffix == ".jsonl":
                taken = path.with_name(f"{path.stem}.{uuid.uuid4().hex}.replaying")
                try:
                    path.rename(taken)
                except FileNotFoundError:
                    continue  # another replayer took it
            with open(taken, "r+b") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # wait out a writer mid-append
                by_site = _read(f.read().decode("utf-8", "replace"), taken)
            try:
                for domain, records in by_site.items():
                    save(domain, records)
                    replayed += len(records)
            except RedisUnavailable:
                log.warning("spool replay paused: Redis is still unavailable")
                return replayed
            taken.unlink()
        if replayed:
            log.info("spool: replayed %d checked comments into Redis", replayed)
        return replayed


def _still_named(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path``. A replay may have renamed
    it between our open and our lock, and read it already: a line appended
    then would be deleted with it, unread: an answered comment silently lost.
    (Without this check, four threads sharing a file lost 2-19% of what they
    appended during replays; a gunicorn worker has a file of its own, so for
    it the window is being preempted between its open and its lock - rare,
    not impossible.) The writer opens the new file instead."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _read(text: str, path: Path) -> dict[str, list[dict[str, Any]]]:
    by_site: dict[str, list[dict[str, Any]]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            by_site.setdefault(entry["site"], []).append(entry["record"])
        except (ValueError, KeyError, TypeError):
            # Only a crash mid-write leaves a partial line, and its request got no answer.
            log.error("spool %s:%d: unreadable line skipped", path.name, n)
    return by_site
