"""Normalisation of comment text: pure, total, and the first thing every path does.

Spammers write HTML, invisible characters and look-alike letters to get past
word filters; datasets carry collection artefacts (the YouTube collection's
U+FEFF marks its ham). Training and serving both see text only through
:func:`normalize`, so neither can learn or miss what the other does not see.

What it does, in order, counting each trick it undoes (so that "obfuscated
text" can be a feature and a reason):
1. HTML (and BBCode links) to text, keeping link targets as URLs;
2. Unicode NFKC (full-width and mathematical letters to plain ones);
3. removal of zero-width characters and U+FEFF;
4. Cyrillic and Greek look-alikes folded to Latin inside words that mix
   them with Latin letters (``Вuy`` -> ``Buy``), and in words made only of
   look-alikes inside mostly Latin text (plain Russian is untouched);
5. s p a c e d and d.o.t.t.e.d letters joined (four or more letters);
6. URL and e-mail extraction (hosts lower-cased, ``www.`` dropped), including
   bare domains written without ``http`` or ``www.`` (``cheap-pills.net``,
   ``gofundme.com/abc``), checked against the public suffix list;
7. runs of three or more of one letter or of ``!?$*`` squashed to two;
8. whitespace collapsed.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from training.domains import BARE_DOMAIN_RE, is_bare_domain

# Zero-width and formatting characters that render as nothing. U+FEFF is the
# byte-order mark / zero-width no-break space.
_INVISIBLE_RE = re.compile(
    "[\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e]"
)
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
# The lookbehind lets a match start only at the beginning of a run of name
# characters, and the bounded local part keeps the scan linear: the unbounded
# "[\w.+-]+@" retried at every position of a long word (12 s for 64 KiB of "a").
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@([\w-]+(?:\.[\w-]+)+)")
_BBCODE_URL_RE = re.compile(r"\[(?:url|link)=([^\[\]]{1,2048})\]", re.IGNORECASE)
_BBCODE_TAG_RE = re.compile(
    r"\[/?(?:url|link|b|i|u|s|img|quote|color|size)(?:=[^\[\]]{0,64})?\]", re.IGNORECASE
)
_TAG_RE = re.compile(r"</?([A-Za-z][A-Za-z0-9]{0,15})\b[^<>]{0,4096}>")
# Comment markers only: matching whole comments is quadratic when they never close.
_HTML_COMMENT_RE = re.compile(r"<!--|-->")
_LINK_ATTR_RE = re.compile(r"""\b(?:href|src)\s*=\s*["']?([^"'\s<>]{1,2048})""", re.IGNORECASE)
_BLOCK_TAG_RE = re.compile(
    r"(?:br|p|div|li|ul|ol|t[rdh]|table|h[1-6]|blockquote|pre|hr|section|article)"
)
# Cyrillic and Greek letters drawn like Latin ones (a subset of Unicode's
# confusables list: the ones spammers use to dodge word filters).
_CONFUSABLES = str.maketrans(
    "аеорсухіјѕԁһԛԝАВЕКМНОРСТХУІЈЅαονρυικΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdhqwABEKMHOPCTXYIJSaovpuikABEZHIKMNOPTYX",
)
_CONFUSABLE_CHARS = frozenset("аеорсухіјѕԁһԛԝАВЕКМНОРСТХУІЈЅαονρυικΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")
_WORD_RE = re.compile(r"\w+")
_LATIN_RE = re.compile(r"[A-Za-z]")
# Four or more single letters split by single spaces, or by dots/dashes/stars.
_SPACED_RE = re.compile(r"(?<!\S)(?:[^\W\d_] ){3,}[^\W\d_](?=[\s.,;:!?)]|$)")
# The same split by any whitespace (newlines, tabs, several spaces): tried
# after the above, which keeps "E a r n  m o n e y" two words.
_LOOSE_SPACED_RE = re.compile(r"(?<!\S)(?:[^\W\d_]\s+){3,}[^\W\d_](?=[\s.,;:!?)]|$)")
# (ASCII text: what str.split() splits on besides one space.)
_OTHER_WHITESPACE = ("  ", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")
_DOTTED_RE = re.compile(r"(?<![\w.*-])(?:[^\W\d_][.*-]){3,}[^\W\d_](?![\w*-])")
# Letters other than w (``www`` must survive) and emphatic punctuation (not
# dots: an ellipsis is ordinary writing).
_REPEAT_RE = re.compile(r"([^\W\d_w]|[!?$*])\1{2,}")
# Necessary conditions for the three patterns above, found in a fraction of
# their time (the category tests are what is slow: 5 us for a 75-character
# comment against 0.75 us for "(.)\1\1"); most comments need none of them.
# Four spaced letters hold " b c " (the middle two), four dotted ones ".b.".
_SPACED_HINT = re.compile(r" [^\W\d_] [^\W\d_] ")
_DOTTED_HINT = re.compile(r"[.*-][^\W\d_][.*-]")
_REPEAT_HINT = re.compile(r"(.)\1\1", re.DOTALL)
# A bare domain has a dot between a letter or digit and a letter (a full
# stop is followed by a space); the dot first, so the scan is a fast search
# for "." (same flag: IGNORECASE lets [a-z] match "ı" and "İ" too).
_BARE_DOMAIN_HINT = re.compile(r"\.(?<=[a-z0-9]\.)[a-z]", re.IGNORECASE)
_TRAILING_PUNCT = ".,;:!?"


class Normalized(NamedTuple):
    """A named tuple rather than a frozen dataclass: built for every comment,
    and a frozen dataclass's ``__init__`` goes through ``object.__setattr__``."""

    text: str
    urls: tuple[str, ...]
    hosts: tuple[str, ...]
    email_domains: tuple[str, ...]
    had_html: bool
    invisible_chars: int
    confusables: int = 0
    spaced_letters: int = 0
    repeats: int = 0
    bare_links: int = 0


def _replace_tag(match: re.Match[str]) -> str:
    name = match.group(1).lower()
    link = _LINK_ATTR_RE.search(match.group(0))
    if link:
        return f" {link.group(1)} "
    return " " if _BLOCK_TAG_RE.fullmatch(name) else ""


def html_to_text(raw: str) -> tuple[str, bool]:
    """Text of a fragment that may hold HTML or BBCode; True when markup was found.

    Regular expressions with bounded repetition, not html.parser: spammers
    control this input, and the stdlib parser is quadratic on unclosed tags
    (39 s for 60 KB of "<a "). Inline tags vanish (``fr<b>ee</b>`` is "free"),
    block tags become spaces, links leave their target behind."""
    text = raw
    if "[" in text:
        text = _BBCODE_URL_RE.sub(r" \1 ", text)
        text = _BBCODE_TAG_RE.sub(" ", text)
    if "<" in text:
        text = _HTML_COMMENT_RE.sub(" ", text)
        text = _TAG_RE.sub(_replace_tag, text)
    return text, text != raw


def host_of(url: str) -> str:
    """Lower-cased host of a URL-ish string, without ``www.``, port or credentials."""
    rest = url.split("://", 1)[-1]
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    host = host.lower().strip(_TRAILING_PUNCT)
    return host[4:] if host.startswith("www.") else host


def fold_confusables(text: str) -> tuple[str, int]:
    """Latin look-alikes folded; and how many letters were.

    A word is folded when it mixes them with Latin letters (``Вuy``), or when
    it is made of nothing but look-alikes (``сору``) in a text that is mostly
    Latin - in Russian or Greek text such a word is simply Russian or Greek."""
    if text.isascii() or _CONFUSABLE_CHARS.isdisjoint(text):
        return text, 0
    folded = 0
    latin = len(_LATIN_RE.findall(text))
    mostly_latin = latin * 2 > sum(ch.isalpha() for ch in text)

    def fold(match: re.Match[str]) -> str:
        nonlocal folded
        word = match.group(0)
        if _CONFUSABLE_CHARS.isdisjoint(word):
            return word
        if not _LATIN_RE.search(word) and not (mostly_latin and _CONFUSABLE_CHARS.issuperset(word)):
            return word
        plain = word.translate(_CONFUSABLES)
        folded += sum(a != b for a, b in zip(word, plain, strict=True))
        return plain

    return _WORD_RE.sub(fold, text), folded


def join_spaced(text: str) -> tuple[str, int]:
    """``f r e e`` and ``f.r.e.e`` as ``free``; and how many such runs there were."""
    spaced = dotted = 0
    if _SPACED_HINT.search(text):
        text, spaced = _SPACED_RE.subn(lambda m: m.group(0).replace(" ", ""), text)
    if (not text.isascii() or any(w in text for w in _OTHER_WHITESPACE)) and _SPACED_HINT.search(
        " ".join(text.split())
    ):
        # Whitespace is collapsed later: letters it would leave single-spaced
        # join now, or the next normalisation would join them (idempotence).
        # (The hint on the collapsed text first: the pattern's letter classes
        # are slow, and most texts with a newline hold no such run.)
        text, loose = _LOOSE_SPACED_RE.subn(lambda m: "".join(m.group(0).split()), text)
        spaced += loose
    if _DOTTED_HINT.search(text):
        text, dotted = _DOTTED_RE.subn(lambda m: re.sub(r"[.*-]", "", m.group(0)), text)
    return text, spaced + dotted


def bare_domains(text: str) -> tuple[str, ...]:
    """Links written without a scheme or ``www.`` (``example.net/page``)."""
    if not _BARE_DOMAIN_HINT.search(text):
        return ()
    return tuple(
        m.group(0).rstrip(_TRAILING_PUNCT)
        for m in BARE_DOMAIN_RE.finditer(text)
        if is_bare_domain(m.group(1), m.group(2), bool(m.group(3)))
    )


# A checked comment is normalised twice on the scoring path - by the
# featurizer and by the campaign signature - so the last few are remembered.
@lru_cache(maxsize=256)
def normalize(raw: str) -> Normalized:
    """One comment's text normalised - idempotent: ``normalize(n.text).text ==
    n.text``. A round can reveal work for another: escaped markup
    (``&lt;b&gt;``) becomes markup, full-width ``＜`` becomes ``<``, folding
    look-alikes can make a text mostly Latin. Such a text gets more rounds
    (each strictly shorter or the last), counting what they undo; links are
    those the first round found. Plain text stops after one."""
    norm = _round(raw)
    for _ in range(MAX_ROUNDS):
        if not (norm.confusables or _MORE_RE.search(norm.text)):
            break
        again = _round(norm.text)
        if again.text == norm.text:
            break
        norm = norm._replace(
            text=again.text,
            had_html=norm.had_html or again.had_html,
            invisible_chars=norm.invisible_chars + again.invisible_chars,
            confusables=norm.confusables + again.confusables,
            spaced_letters=norm.spaced_letters + again.spaced_letters,
            repeats=norm.repeats + again.repeats,
        )
    return norm


_AMP_CHAIN_RE = re.compile(r"&(?:amp;?|#0*38;?|#x0*26;?)+(?=[#\w])", re.IGNORECASE)
# What a further round could change: markup, entities, BBCode.
_MORE_RE = re.compile(r"[<&\[]")
# Escaping nested deeper than this is not text anyone writes to be read.
MAX_ROUNDS = 4


def _round(raw: str) -> Normalized:
    text, had_html = html_to_text(raw)
    if "&" in text:
        # An escaped ampersand starting another entity, escaped any number of
        # times (&amp;amp;lt;), is undone in one linear pass, not one round each.
        text = html.unescape(_AMP_CHAIN_RE.sub("&", text))
    text = unicodedata.normalize("NFKC", text)
    # U+FEFF is not counted: as a byte-order mark it is benign, and in the
    # YouTube collection its presence tracks the label (a collection artefact
    # a model must not learn). (All of these characters are outside ASCII, and
    # so is every look-alike letter: most comments skip both steps.)
    if text.isascii():
        stripped, invisible, confusables = text, 0, 0
    else:
        stripped, removed = _INVISIBLE_RE.subn("", text)
        invisible = removed - text.count("\ufeff")
        stripped, confusables = fold_confusables(stripped)
    stripped, spaced = join_spaced(stripped)
    urls = tuple(m.group(0).rstrip(_TRAILING_PUNCT) for m in _URL_RE.finditer(stripped))
    bare = bare_domains(_URL_RE.sub(" ", stripped) if urls else stripped)
    urls += bare
    hosts = tuple(h for h in (host_of(u) for u in urls) if h)
    emails = (
        tuple(m.group(1).lower() for m in _EMAIL_RE.finditer(stripped)) if "@" in stripped else ()
    )
    repeats = 0
    if _REPEAT_HINT.search(stripped):
        stripped, repeats = _REPEAT_RE.subn(r"\1\1", stripped)
    return Normalized(
        text=" ".join(stripped.split()),  # str.split() splits where re matches \s
        urls=urls,
        hosts=hosts,
        email_domains=emails,
        had_html=had_html,
        invisible_chars=invisible,
        confusables=confusables,
        spaced_letters=spaced,
        repeats=repeats,
        bare_links=len(bare),
    )
