"""Explanations in a moderator's words: a linear model's evidence as reasons.

A feature's contribution to the log-odds is ``w_j * (x_j - mean_j)`` (see
training/model.py); these pure functions turn the contributions of one comment
into the short list of reasons the API and the moderator page show. Feature
names carry their block: ``w:`` word n-grams, ``c:`` character n-grams,
``m:`` metadata (``m:<name>[=<value>]``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

TOP_REASONS = 5
# Character n-grams overlap heavily ("che", "chea", "cheap"); they become one
# reason that quotes the strongest few.
CHAR_GRAMS_QUOTED = 3

# Readable codes and details for metadata features.
_META_REASONS = {
    "links": ("links", "contains links"),
    "author_url": ("author_url", "author gave a website"),
    "link_in_author": ("link_in_author", "link in the author name"),
    "markup": ("markup", "HTML or BBCode markup"),
    "invisible": ("obfuscation", "invisible characters in the text"),
    "confusables": ("obfuscation", "look-alike letters from other alphabets"),
    "spaced_letters": ("obfuscation", "s p a c e d or d.o.t.t.e.d letters"),
    "repeats": ("repeats", "repeated characters"),
    "length": ("length", "length of the comment"),
    "caps_ratio": ("capitals", "share of capital letters"),
    "digit_ratio": ("digits", "share of digits"),
    "symbol_ratio": ("symbols", "share of symbols"),
    "shortener": ("shortener", "link through a URL shortener"),
    "author_words": ("author_name", None),
    "ip_link": ("ip_link", "link to a bare IP address"),
    "bare_link": ("bare_link", "link written without http"),
    "script_mix": ("script_mix", "letters from several alphabets"),
    "host": ("link_host", None),
    "domain": ("link_domain", None),
    "author_domain": ("author_domain", None),
    "email_domain": ("email_domain", None),
    "type": ("comment_type", None),
    "script": ("script", None),
    "lang_mismatch": ("lang_mismatch", "written in another alphabet than the site's language"),
}


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# Details that quote the comment's own figure (inverting features.meta_features).
_COUNTED_DETAILS: dict[str, Callable[[float], str]] = {
    "links": lambda v: _plural(round(math.expm1(v)), "link"),
    "length": lambda v: _plural(round(math.expm1(v * 8)), "character"),
    "caps_ratio": lambda v: f"{v:.0%} capital letters",
    "digit_ratio": lambda v: f"{v:.0%} digits",
    "symbol_ratio": lambda v: f"{v:.0%} symbols",
    "author_words": lambda v: f"{round(v * 8)}{'+' if v >= 1 else ''} words in the author name",
}


def reason(name: str, weight: float, value: float) -> dict[str, Any]:
    """A feature as a moderator reads it; ``value`` is the feature's own value
    (before the model's column scaling)."""
    kind, body = name[:2], name[2:]
    if kind == "w:":
        return {"code": "token", "detail": body, "weight": weight}
    key, _, category = body.partition("=")
    code, detail = _META_REASONS.get(key, (key, None))
    counted = _COUNTED_DETAILS.get(key)
    if counted is not None:
        detail = counted(value)
    return {"code": code, "detail": detail or category, "weight": weight}


def top_reasons(
    features: Sequence[tuple[str, float, float]],
    char_total: float,
    char_grams: Sequence[str],
    spammy: bool,
    top: int = TOP_REASONS,
) -> list[dict[str, Any]]:
    """The ``top`` reasons pushing hardest toward the side the score leans to.

    ``features``: (name, contribution, value) of the word and metadata
    features present; ``char_total``: the character n-grams' net
    contribution, and ``char_grams`` the ones to quote. Contributions are
    log-odds, positive toward spam."""
    sign = 1.0 if spammy else -1.0
    toward = [f for f in features if sign * f[1] > 0]
    toward.sort(key=itemgetter(1), reverse=spammy)
    reasons = [reason(name, weight, value) for name, weight, value in toward[:top]]
    if char_grams and sign * char_total > 0:
        grams = ", ".join(repr(gram) for gram in char_grams)
        reasons.append({"code": "chars", "detail": f"spelling like {grams}", "weight": char_total})
    reasons.sort(key=itemgetter("weight"), reverse=spammy)
    for r in reasons[:top]:
        r["weight"] = round(r["weight"], 3)
    return reasons[:top]
