"""Dataset importers: labelled comments from the formats we meet, detected by content.

Each importer yields :class:`Example` - a record with the API's field names
(``content`` and whatever else the format has) and a label, 1 = spam.

Formats (a folder is read file by file, in name order):

* YouTube Spam Collection CSV: ``COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS``
* CSV with ``content`` and ``label`` columns (and any comment fields)
* JSON Lines, one object per line with ``content`` and ``label``
* SMS Spam Collection TSV: ``ham<TAB>text`` / ``spam<TAB>text``
* WordPress WXR export: comments with status approved (ham) or spam
* Disqus XML export: posts flagged spam (spam), or neither spam nor deleted (ham)

Labels accepted: spam/ham, 1/0, true/false (case-insensitive).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moderation.schema import FIELD_NAMES

STARTER = Path(__file__).parent / "data" / "starter.jsonl"
_SUFFIXES = {".csv", ".tsv", ".txt", ".jsonl", ".json", ".xml", ".wxr"}
_LABELS = {"spam": 1, "1": 1, "true": 1, "ham": 0, "0": 0, "false": 0}
_WP = "{http://wordpress.org/export/1.2/}"
_DSQ = "{http://disqus.com}"


class DatasetError(ValueError):
    """A file that is not a dataset we can read; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    record: dict[str, Any]
    label: int
    source: str = ""
    weight: float = field(default=1.0, compare=False)


def parse_label(raw: object, where: str) -> int:
    label = _LABELS.get(str(raw).strip().lower())
    if label is None:
        raise DatasetError(f"{where}: label {raw!r} is not spam/ham/1/0")
    return label


def _record(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k in FIELD_NAMES and v not in (None, "")}


def read_youtube(text: str, source: str) -> Iterator[Example]:
    for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        record = {"content": row["CONTENT"], "author": row["AUTHOR"], "comment_type": "comment"}
        yield Example(_record(record), parse_label(row["CLASS"], f"{source}:{n}"), source)


def read_csv(text: str, source: str) -> Iterator[Example]:
    for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        yield Example(_record(row), parse_label(row.get("label"), f"{source}:{n}"), source)


def read_jsonl(text: str, source: str) -> Iterator[Example]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{source}:{n}: not JSON ({exc})") from exc
        if not isinstance(row, dict) or not row.get("content"):
            raise DatasetError(f"{source}:{n}: needs an object with content")
        yield Example(_record(row), parse_label(row.get("label"), f"{source}:{n}"), source)


def read_sms(text: str, source: str) -> Iterator[Example]:
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, sep, body = line.partition("\t")
        if not sep or not body.strip():
            raise DatasetError(f"{source}:{n}: expected label<TAB>text")
        yield Example({"content": body}, parse_label(label, f"{source}:{n}"), source)


def _parse_xml(text: str, source: str) -> ET.Element:
    try:
        # An operator's own export. ElementTree resolves no external entities
        # and Python's expat caps entity expansion (billion laughs).
        return ET.fromstring(text)  # noqa: S314
    except ET.ParseError as exc:
        raise DatasetError(f"{source}: not well-formed XML ({exc})") from exc


def read_wxr(text: str, source: str) -> Iterator[Example]:
    root = _parse_xml(text, source)
    for comment in root.iter(f"{_WP}comment"):
        status = (comment.findtext(f"{_WP}comment_approved") or "").strip()
        label = {"1": 0, "spam": 1}.get(status)
        if label is None:  # pending, trash: no label
            continue
        record = {
            "content": comment.findtext(f"{_WP}comment_content") or "",
            "author": comment.findtext(f"{_WP}comment_author"),
            "author_email": comment.findtext(f"{_WP}comment_author_email"),
            "author_url": comment.findtext(f"{_WP}comment_author_url"),
            "user_ip": comment.findtext(f"{_WP}comment_author_IP"),
            "comment_type": comment.findtext(f"{_WP}comment_type") or "comment",
        }
        if (record["content"] or "").strip():
            yield Example(_record(record), label, source)


def read_disqus(text: str, source: str) -> Iterator[Example]:
    root = _parse_xml(text, source)
    for post in root.iter(f"{_DSQ}post"):
        spam = (post.findtext(f"{_DSQ}isSpam") or "").strip().lower() == "true"
        deleted = (post.findtext(f"{_DSQ}isDeleted") or "").strip().lower() == "true"
        if deleted and not spam:  # removed for a reason we cannot know: no label
            continue
        record = {
            "content": post.findtext(f"{_DSQ}message") or "",
            "author": post.findtext(f"{_DSQ}author/{_DSQ}name"),
            "author_email": post.findtext(f"{_DSQ}author/{_DSQ}email"),
            "user_ip": post.findtext(f"{_DSQ}ipAddress"),
            "created_at": post.findtext(f"{_DSQ}createdAt"),
            "comment_type": "comment",
        }
        if (record["content"] or "").strip():
            yield Example(_record(record), int(spam), source)


def detect(text: str, source: str) -> Iterator[Example]:
    """Pick the reader by the file's content, not its name."""
    head = text.lstrip("\ufeff").lstrip()[:2000]
    first_line = head.split("\n", 1)[0].strip()
    columns = [c.strip().lower() for c in first_line.split(",")]
    if first_line.startswith("COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS"):
        return read_youtube(text.lstrip("\ufeff"), source)
    if head.startswith("<") and "wordpress.org/export" in head:
        return read_wxr(text, source)
    if head.startswith("<") and "<disqus" in head:
        return read_disqus(text, source)
    if head.startswith("{"):
        return read_jsonl(text, source)
    if "content" in columns and "label" in columns:
        return read_csv(text.lstrip("\ufeff"), source)
    if first_line.split("\t", 1)[0].strip().lower() in ("ham", "spam"):
        return read_sms(text, source)
    raise DatasetError(f"{source}: unknown format (see python -m training train --help)")


def dataset_files(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """Files to read, each with whether it was named explicitly (else found in a folder)."""
    files: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                (p, False)
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in _SUFFIXES
            )
        elif path.is_file():
            files.append((path, True))
        else:
            raise DatasetError(f"{path}: no such file or folder")
    return files


def load(paths: Iterable[Path], starter: bool = True) -> list[Example]:
    """Every example of the given files and folders (plus the starter corpus).

    A file named explicitly must be a dataset; a file found in a folder that
    is not one (a notes.txt beside the CSVs) is skipped with a warning."""
    files = ([(STARTER, True)] if starter else []) + dataset_files(paths)
    examples: list[Example] = []
    for path, explicit in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            examples.extend(detect(text, str(path)))
        except DatasetError as exc:
            if explicit or "unknown format" not in str(exc):
                raise
            print(f"warning: skipped {exc}", file=sys.stderr)
    if not examples:
        raise DatasetError("no labelled comments found")
    return examples


def fingerprint(examples: Iterable[Example]) -> str:
    """sha256 over the labelled contents, independent of order."""
    lines = sorted(f"{e.label}\t{json.dumps(e.record, sort_keys=True)}" for e in examples)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
