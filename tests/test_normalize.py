"""Normalisation and features: pure functions, table-driven."""

from __future__ import annotations

import pytest

from training.features import meta_features
from training.normalize import host_of, normalize


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("\ufeffHello\ufeff world", "Hello world"),
        ("fr\u200bee mo\u200dney", "free money"),
        ("ｆｕｌｌ ｗｉｄｔｈ", "full width"),
        ("𝐛𝐨𝐥𝐝 math", "bold math"),
        ("<p>Hi <b>there</b></p>", "Hi there"),
        ("a &amp; b", "a & b"),
        ("spaced\n\n\t out ", "spaced out"),
        ("<script>alert(1)</script>ok", "alert(1)ok"),
    ],
)
def test_text(raw: str, text: str) -> None:
    assert normalize(raw).text == text


def test_links_in_html_and_bbcode_are_kept_as_urls() -> None:
    norm = normalize(
        'see <a href="https://www.Pills.example/buy">here</a> [url=http://x.example]x[/url]'
    )
    assert norm.had_html
    assert norm.hosts == ("pills.example", "x.example")
    assert "https://www.Pills.example/buy" in norm.text


def test_bom_is_removed_but_not_counted_as_obfuscation() -> None:
    assert normalize("\ufeffhello").invisible_chars == 0
    assert normalize("he\u200bllo").invisible_chars == 1


def test_emails_and_hosts() -> None:
    norm = normalize("write to Bob@Mail.Example or visit www.shop.example/x.")
    assert norm.email_domains == ("mail.example",)
    assert norm.hosts == ("shop.example",)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://user:pw@Www.Example.com:8080/a?b#c", "example.com"),
        ("www.example.org.", "example.org"),
        ("http://bit.ly/abc", "bit.ly"),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


def test_normalize_is_idempotent_on_text() -> None:
    for raw in ("<b>Ｈｉ</b>\u200b http://x.example", "plain", "", "&lt;tag&gt;"):
        once = normalize(raw).text
        assert normalize(once).text == normalize(normalize(once).text).text


def test_meta_features_work_without_metadata() -> None:
    feats = meta_features({"content": "just text"}, normalize("just text"))
    assert "links" not in feats and "author_url" not in feats
    assert feats["length"] > 0


def test_meta_features_use_metadata_when_present() -> None:
    record = {
        "content": "x",
        "author": "Cheap http://seo.example",
        "author_url": "https://www.seo.example/",
        "author_email": "a@Spam.Example",
        "comment_type": "Trackback",
    }
    feats = meta_features(record, normalize("go http://bit.ly/x"))
    for name in (
        "links",
        "domain=bit.ly",
        "shortener",
        "author_url",
        "author_domain=seo.example",
        "link_in_author",
        "email_domain=spam.example",
        "type=trackback",
    ):
        assert name in feats


ADVERSARIAL = [
    "a" * 65536,
    "<a " * 20000,
    "<!--" * 16000,
    "[url=" * 10000,
    "[url=x]" * 8000,
    ("b" * 60 + "@") * 1000,
    "<" * 65536,
    "&#" * 30000,
]


@pytest.mark.timeout(10)
def test_spammer_shaped_input_stays_linear() -> None:
    """Each of these once took seconds to minutes (quadratic regex or html.parser);
    the bound is generous - this guards against a blow-up, it is not a benchmark."""
    for raw in ADVERSARIAL:
        assert isinstance(normalize(raw).text, str)


@pytest.mark.parametrize(
    ("raw", "text", "trick"),
    [
        ("Вuy сheap viаgrа", "Buy cheap viagra", "confusables"),  # Cyrillic В с а
        ("αpple Νike", "apple Nike", "confusables"),  # Greek α Ν
        ("httр://rx.example", "http://rx.example", "confusables"),
        ("Get a free сору now", "Get a free copy now", "confusables"),  # all-Cyrillic word
        ("E a r n  m o n e y", "Earn money", "spaced_letters"),
        ("Great a r t i c l e, really", "Great article, really", "spaced_letters"),
        ("c.h.e.a.p r-o-l-e-x", "cheap rolex", "spaced_letters"),
        ("freeeeee!!!!!!", "free!!", "repeats"),
        ("ｆｒｅｅ", "free", None),  # full-width: NFKC, not counted as a trick
    ],
)
def test_obfuscation_is_undone_and_recorded(raw: str, text: str, trick: str | None) -> None:
    norm = normalize(raw)
    assert norm.text == text
    counts = {
        "confusables": norm.confusables,
        "spaced_letters": norm.spaced_letters,
        "repeats": norm.repeats,
    }
    assert {k for k, v in counts.items() if v} == ({trick} if trick else set())


@pytest.mark.parametrize(
    "raw",
    [
        "Купить диплом недорого",  # plain Russian stays Russian
        "Η Αθήνα είναι όμορφη",  # plain Greek too
        "Спасибо, рас OK",  # an all-look-alike word in Russian text is Russian
        "e.g. U.S.A. 1.2.3.4 I a m",  # abbreviations, IPs, short runs
        "www.example.com costs 1000 dollars",  # www and numbers survive
        "Look... really?!",
    ],
)
def test_ordinary_text_is_left_alone(raw: str) -> None:
    norm = normalize(raw)
    assert norm.text == raw
    assert norm.confusables == norm.spaced_letters == norm.repeats == 0


def test_obfuscation_becomes_a_feature() -> None:
    feats = meta_features({"content": "x"}, normalize("Вuy c.h.e.a.p pillsss now"))
    assert {"confusables", "spaced_letters", "repeats"} <= set(feats)
