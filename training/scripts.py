"""Writing systems of a text, and whether they fit the site's languages.

A Russian casino ad on an English cooking blog is given away by its alphabet
before any word is read. Detecting the language itself would need a language
identification model; the script (Latin, Cyrillic, Han, ...) is exact, cheap
and enough for the mismatch that matters: text a site's readers cannot read.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

# Unicode name prefixes -> script; the first word of a letter's name is its
# script for every script we care about ("CJK" and "HIRAGANA" are grouped as
# the East Asian scripts that share Han characters).
_SCRIPT_OF_PREFIX = {
    "LATIN": "latin",
    "CYRILLIC": "cyrillic",
    "GREEK": "greek",
    "ARABIC": "arabic",
    "HEBREW": "hebrew",
    "CJK": "han",
    "HIRAGANA": "kana",
    "KATAKANA": "kana",
    "HANGUL": "hangul",
    "DEVANAGARI": "devanagari",
    "BENGALI": "bengali",
    "TAMIL": "tamil",
    "THAI": "thai",
    "ARMENIAN": "armenian",
    "GEORGIAN": "georgian",
}

# Scripts a reader of each language reads (ISO 639-1 codes; others unknown).
_LATIN_LANGS = [
    "en", "de", "fr", "es", "it", "pt", "nl", "pl", "cs", "sk", "sl", "hr", "bs", "sv", "da",
    "no", "nb", "nn", "fi", "et", "lv", "lt", "hu", "ro", "tr", "id", "ms", "vi", "tl", "ca",
    "eu", "gl", "ga", "cy", "is", "sq", "af", "sw",
]  # fmt: skip
LANG_SCRIPTS: dict[str, frozenset[str]] = {
    **{lang: frozenset({"latin"}) for lang in _LATIN_LANGS},
    **{
        lang: frozenset({"cyrillic"})
        for lang in ["ru", "uk", "be", "bg", "mk", "kk", "ky", "mn", "tg"]
    },
    "sr": frozenset({"cyrillic", "latin"}),
    "el": frozenset({"greek"}),
    **{lang: frozenset({"arabic"}) for lang in ["ar", "fa", "ur", "ps"]},
    **{lang: frozenset({"hebrew"}) for lang in ["he", "yi"]},
    "zh": frozenset({"han"}),
    "ja": frozenset({"han", "kana"}),
    "ko": frozenset({"hangul", "han"}),
    **{lang: frozenset({"devanagari"}) for lang in ["hi", "mr", "ne"]},
    "bn": frozenset({"bengali"}),
    "ta": frozenset({"tamil"}),
    "th": frozenset({"thai"}),
    "hy": frozenset({"armenian"}),
    "ka": frozenset({"georgian"}),
}

# Fewer letters than this say too little about a comment's language.
MIN_LETTERS = 10


@lru_cache(maxsize=8192)
def _script_of_char(ch: str) -> str:
    prefix = unicodedata.name(ch, "").split(" ", 1)[0]
    return _SCRIPT_OF_PREFIX.get(prefix, "other")


class CharClasses(NamedTuple):
    """Letters per script, and how many characters are capitals, digits and
    symbols (neither alphanumeric nor space) - by ``str``'s own predicates."""

    scripts: Counter[str]
    upper: int
    digits: int
    symbols: int


def _ascii_set(predicate: Callable[[str], bool]) -> bytes:
    return bytes(c for c in range(128) if predicate(chr(c)))


_ASCII_LETTERS = _ascii_set(str.isalpha)
_ASCII_UPPER = _ascii_set(str.isupper)
_ASCII_DIGITS = _ascii_set(str.isdigit)
_ASCII_SPACES = _ascii_set(str.isspace)
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")


def _ascii_count(data: bytes, members: bytes) -> int:
    return len(data) - len(data.translate(None, members))


def char_classes(text: str) -> CharClasses:
    """Counted in C for the ASCII part (most comments are mostly ASCII: a
    Python loop over every character cost 20 us of a 60 us check) and one
    character at a time only for the rest."""
    data = text.encode("ascii", "ignore")
    letters = _ascii_count(data, _ASCII_LETTERS)
    upper = _ascii_count(data, _ASCII_UPPER)
    digits = _ascii_count(data, _ASCII_DIGITS)
    symbols = len(data) - letters - digits - _ascii_count(data, _ASCII_SPACES)
    scripts: Counter[str] = Counter()
    if letters:
        scripts["latin"] = letters
    if len(data) < len(text):
        for ch in _NON_ASCII_RE.findall(text):
            if ch.isalpha():
                scripts[_script_of_char(ch)] += 1
            upper += ch.isupper()
            digits += ch.isdigit()
            symbols += not (ch.isalnum() or ch.isspace())
    return CharClasses(scripts, upper, digits, symbols)


def script_counts(text: str) -> Counter[str]:
    """Letters per script (digits, punctuation and symbols are not counted)."""
    return char_classes(text).scripts


def site_scripts(lang: str) -> frozenset[str] | None:
    """Scripts the site's readers read, from ``lang`` ("en" or "en, de" or
    "pt-BR"); None when no language there is one we know."""
    scripts: set[str] = set()
    for part in lang.replace(";", ",").split(","):
        code = part.strip().lower().replace("_", "-").split("-", 1)[0]
        scripts |= LANG_SCRIPTS.get(code, frozenset())
    return frozenset(scripts) or None


def lang_mismatch(counts: Counter[str], lang: str) -> bool:
    """Whether most of the letters are in a script the site's languages don't use."""
    letters = sum(counts.values())
    expected = site_scripts(lang) if lang else None
    if expected is None or letters < MIN_LETTERS:
        return False
    readable = sum(n for script, n in counts.items() if script in expected)
    return readable * 2 < letters
