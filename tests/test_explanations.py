"""Explanations in a moderator's words (pure)."""

from __future__ import annotations

import math

import pytest

from training.features import meta_features
from training.model import _reason
from training.normalize import normalize


@pytest.mark.parametrize(
    ("name", "value", "code", "detail"),
    [
        ("w:check out", 0.4, "token", "check out"),
        ("m:links", math.log1p(3), "links", "3 links"),
        ("m:links", math.log1p(1), "links", "1 link"),
        ("m:length", math.log1p(250) / 8, "length", "250 characters"),
        ("m:caps_ratio", 0.8, "capitals", "80% capital letters"),
        ("m:host=bit.ly", 1.0, "link_host", "bit.ly"),
        ("m:email_domain=spam.shop", 1.0, "email_domain", "spam.shop"),
        ("m:confusables", 1.0, "obfuscation", "look-alike letters from other alphabets"),
        ("m:spaced_letters", 1.0, "obfuscation", "s p a c e d or d.o.t.t.e.d letters"),
    ],
)
def test_reason_details(name: str, value: float, code: str, detail: str) -> None:
    reason = _reason(name, 1.5, value)
    assert (reason["code"], reason["detail"], reason["weight"]) == (code, detail, 1.5)


def test_counted_details_invert_the_features() -> None:
    """The figures quoted are the comment's own, read back from its features."""
    text = "see http://a.shop and http://b.shop"
    feats = meta_features({"content": text}, normalize(text))
    assert _reason("m:links", 1.0, feats["links"])["detail"] == "2 links"
    assert _reason("m:length", 1.0, feats["length"])["detail"] == f"{len(text)} characters"
