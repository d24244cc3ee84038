"""Normalisation of comment text: pure, total, and the first thing every path does.

Spammers write HTML, invisible characters and look-alike letters to get past
word filters; datasets carry collection artefacts (the YouTube collection's
U+FEFF marks its ham). Training and serving both see text only through
:func:`normalize`, so neither can learn or miss what the other does not see.

What it does, in order:
1. HTML (and BBCode links) to text, keeping link targets as URLs;
2. Unicode NFKC (full-width and mathematical letters to plain ones);
3. removal of zero-width characters and U+FEFF, counted as obfuscation;
4. URL and e-mail extraction (hosts lower-cased, ``www.`` dropped);
5. whitespace collapsed.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

# Zero-width and formatting characters that render as nothing. U+FEFF is the
# byte-order mark / zero-width no-break space.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"),
    None,
)
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")
_BBCODE_URL_RE = re.compile(r"\[url=([^\]]+)\](.*?)\[/url\]", re.IGNORECASE | re.DOTALL)
_BBCODE_TAG_RE = re.compile(r"\[/?(?:url|b|i|u|img|link|quote)[^\]]*\]", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")
_TRAILING_PUNCT = ".,;:!?"


@dataclass(frozen=True, slots=True)
class Normalized:
    text: str
    urls: tuple[str, ...]
    hosts: tuple[str, ...]
    email_domains: tuple[str, ...]
    had_html: bool
    invisible_chars: int


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, writing each link's target after it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        if tag in ("a", "img"):
            for name, value in attrs:
                if name in ("href", "src") and value:
                    self.parts.append(f" {value} ")
        elif tag in ("br", "p", "div", "li"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(raw: str) -> tuple[str, bool]:
    """Text of a fragment that may hold HTML or BBCode; True when markup was found."""
    had_markup = False
    if "[" in raw:
        replaced = _BBCODE_URL_RE.sub(r"\2 \1", raw)
        replaced = _BBCODE_TAG_RE.sub(" ", replaced)
        had_markup = replaced != raw
        raw = replaced
    if "<" not in raw and "&" not in raw:
        return raw, had_markup
    parser = _TextExtractor()
    parser.feed(raw)
    parser.close()
    return "".join(parser.parts), had_markup or parser.tags > 0


def host_of(url: str) -> str:
    """Lower-cased host of a URL-ish string, without ``www.``, port or credentials."""
    rest = url.split("://", 1)[-1]
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    host = host.lower().strip(_TRAILING_PUNCT)
    return host[4:] if host.startswith("www.") else host


def normalize(raw: str) -> Normalized:
    text, had_html = html_to_text(raw)
    text = html.unescape(text) if "&" in text else text
    text = unicodedata.normalize("NFKC", text)
    stripped = text.translate(_INVISIBLE)
    # U+FEFF is not counted: as a byte-order mark it is benign, and in the
    # YouTube collection its presence tracks the label (a collection artefact
    # a model must not learn).
    invisible = len(text) - len(stripped) - text.count("\ufeff")
    urls = tuple(m.group(0).rstrip(_TRAILING_PUNCT) for m in _URL_RE.finditer(stripped))
    hosts = tuple(h for h in (host_of(u) for u in urls) if h)
    emails = tuple(m.group(1).lower() for m in _EMAIL_RE.finditer(stripped))
    return Normalized(
        text=_SPACE_RE.sub(" ", stripped).strip(),
        urls=urls,
        hosts=hosts,
        email_domains=emails,
        had_html=had_html,
        invisible_chars=invisible,
    )
