"""Domains of links: the registrable domain, shorteners, bare domains in text.

A spammer rotates subdomains (``x1.cheap-pills.net``, ``x2.cheap-pills.net``)
but pays for the registrable domain, so that is what the model learns; the
split needs the Public Suffix List (``example.co.uk``, not ``co.uk``;
``someone.blogspot.com`` is someone's own). We use the copy bundled with the
``publicsuffixlist`` package: it works offline, and updating it is a pin bump.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

_PSL = PublicSuffixList()
_ICANN = PublicSuffixList(only_icann=True, accept_unknown=False)

# Link shorteners hide where a link goes - the reason spammers use them.
SHORTENERS = frozenset({
    "bit.ly", "bitly.com", "buff.ly", "cutt.ly", "goo.gl", "is.gd", "ow.ly", "rb.gy",
    "rebrand.ly", "s.id", "shorturl.at", "t.co", "t.ly", "tiny.cc", "tinyurl.com", "v.gd",
    "bl.ink", "lnkd.in", "short.io", "adf.ly", "shorte.st", "bc.vc", "ouo.io", "soo.gd",
    "qr.ae", "x.co", "clck.ru", "u.to",
})  # fmt: skip

# Top-level domains that are also file extensions or everyday words: a bare
# ``main.py`` or ``README.md`` in a comment is a file name, not a link, unless
# a path follows (``youtu.be/abc``).
_AMBIGUOUS_TLDS = frozenset({
    "py", "md", "sh", "pl", "rs", "js", "ts", "go", "so", "in", "it", "is", "me", "at", "be",
    "to", "no", "us", "do", "am", "as", "by", "of", "on", "or", "id", "ms", "zip", "mov",
})  # fmt: skip

# Without a path, a bare name counts as a domain only under a country code or
# one of the generic TLDs spammers and everyone else actually use: the newer
# word-like TLDs (.love, .best, .world) turn "great.Love it" into a link.
_COMMON_GTLDS = frozenset({
    "com", "net", "org", "info", "biz", "edu", "gov", "xyz", "top", "online", "site", "club",
    "shop", "store", "live", "app", "dev", "icu", "vip", "win", "bet", "casino", "loan", "work",
    "pro", "mobi", "name",
})  # fmt: skip

# A bare domain in running text (no scheme, no www): labels of letters, digits
# and hyphens, a last label of letters, and an optional path. Bounded, so the
# scan stays linear on adversarial input.
BARE_DOMAIN_RE = re.compile(
    r"(?<![\w@./-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,4}([a-z]{2,24}))"
    r"(/[^\s<>\"'()\[\]{}]{0,2048})?(?![\w@-])",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """``shop.example.co.uk`` -> ``example.co.uk``; an IP or a bare suffix as given."""
    host = host.lower().rstrip(".")
    if not host or _is_ip(host):
        return host
    return _PSL.privatesuffix(host) or host


def is_ip(host: str) -> bool:
    return _is_ip(host)


def is_shortener(domain: str) -> bool:
    return domain in SHORTENERS


def is_bare_domain(name: str, tld: str, has_path: bool) -> bool:
    """Whether ``name`` (seen without scheme or ``www.``) is a real domain.

    Its last label must be a public top-level domain in the ICANN section of
    the list; a TLD that doubles as a file extension or a word, or a newer
    generic one, needs a path."""
    if not (tld.islower() or tld.isupper()):
        return False  # "song.Best": a missing space, not a domain
    tld = tld.lower()
    if not has_path and (tld in _AMBIGUOUS_TLDS or (len(tld) > 2 and tld not in _COMMON_GTLDS)):
        return False
    return _is_public_tld(tld)


@lru_cache(maxsize=4096)
def _is_public_tld(tld: str) -> bool:
    # Cached: the list's lookup prepares the name on every call, and the same
    # few top-level domains come up again and again.
    return bool(_ICANN.is_public(tld))
