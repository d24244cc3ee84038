"""Explanations in a moderator's words (pure)."""

from __future__ import annotations

import math

import pytest

from tests.conftest import tiny_examples
from training.features import meta_features
from training.normalize import normalize
from training.reasons import reason as _reason
from training.train import train


@pytest.mark.parametrize(
    ("name", "value", "code", "detail"),
    [
        ("w:check out", 0.4, "token", "check out"),
        ("m:links", math.log1p(3), "links", "3 links"),
        ("m:links", math.log1p(1), "links", "1 link"),
        ("m:length", math.log1p(250) / 8, "length", "250 characters"),
        ("m:caps_ratio", 0.8, "capitals", "80% capital letters"),
        ("m:host=x1.pills.shop", 1.0, "link_host", "x1.pills.shop"),
        ("m:domain=pills.shop", 1.0, "link_domain", "pills.shop"),
        ("m:shortener", 1.0, "shortener", "link through a URL shortener"),
        ("m:bare_link", 1.0, "bare_link", "link written without http"),
        ("m:ip_link", 1.0, "ip_link", "link to a bare IP address"),
        ("m:author_domain=seo.shop", 1.0, "author_domain", "seo.shop"),
        ("m:author_words", 5 / 8, "author_name", "5 words in the author name"),
        ("m:author_words", 1.0, "author_name", "8+ words in the author name"),
        ("m:script=cyrillic", 1.0, "script", "cyrillic"),
        ("m:script_mix", 0.3, "script_mix", "letters from several alphabets"),
        (
            "m:lang_mismatch",
            1.0,
            "lang_mismatch",
            "written in another alphabet than the site's language",
        ),
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


def test_model_reasons_quote_the_comment_not_the_scaled_column() -> None:
    """Metadata columns are multiplied by a weight inside the model; the
    reasons must still say "3 links", not the scaled value's inverse."""
    model = train(tiny_examples(), folds=3).model
    text = "cheap pills http://a.shop http://b.shop http://c.shop buy now"
    _, reasons = model.score_and_explain([{"content": text}], top=50)
    details = {r["detail"] for r in reasons[0]}
    assert "3 links" in details
