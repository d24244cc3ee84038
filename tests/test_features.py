"""Link domains, scripts and the metadata features built on them."""

from __future__ import annotations

import pytest

from training.domains import registrable_domain
from training.features import meta_features
from training.normalize import normalize
from training.scripts import lang_mismatch, script_counts, site_scripts


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("shop.example.co.uk", "example.co.uk"),  # two-label public suffix
        ("x1.cheap-pills.net", "cheap-pills.net"),
        ("someone.blogspot.com", "someone.blogspot.com"),  # private suffix: own site
        ("bit.ly", "bit.ly"),
        ("WWW.Example.COM.", "example.com"),  # case and trailing dot
        ("192.0.2.7", "192.0.2.7"),  # an IP stays whole
        ("co.uk", "co.uk"),  # a bare suffix as given
    ],
)
def test_registrable_domain(host: str, domain: str) -> None:
    assert registrable_domain(host) == domain


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("donate at gofundme.com/grwmps", ("gofundme.com/grwmps",)),
        ("Incmedia.org where the truth meets you.", ("Incmedia.org",)),
        ("Go to cheap-pills.NET now", ("cheap-pills.NET",)),
        ("youtu.be/9bZkp7q19f0", ("youtu.be/9bZkp7q19f0",)),  # ambiguous TLD, has a path
        ("see main.py and README.md", ()),  # file names, not links
        ("great.Love it", ()),  # a missing space before a word-like TLD
        ("i love it.thanks, e.g. this, i.e. that, U.S.A.", ()),
        ("mail a.b@gmail.com", ()),  # an e-mail address is not a link
        ("version 1.2.3 of node.js", ()),
    ],
)
def test_bare_domains_are_links(text: str, links: tuple[str, ...]) -> None:
    norm = normalize(text)
    assert norm.urls == links
    assert norm.bare_links == len(links)


def test_links_with_a_scheme_are_not_counted_twice() -> None:
    norm = normalize("visit http://www.foo.com/x and www.bar.net")
    assert norm.urls == ("http://www.foo.com/x", "www.bar.net")
    assert norm.bare_links == 0


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("Hello", {"latin": 5}),
        ("Привет мир", {"cyrillic": 9}),
        ("日本語のテキスト", {"han": 3, "kana": 5}),
        ("Buy 100% now!!", {"latin": 6}),  # digits and symbols are not letters
        ("café Ωmega", {"latin": 8, "greek": 1}),
    ],
)
def test_script_counts(text: str, counts: dict[str, int]) -> None:
    assert dict(script_counts(text)) == counts


@pytest.mark.parametrize(
    ("text", "lang", "mismatch"),
    [
        ("Купить диплом недорого с доставкой", "en", True),
        ("Купить диплом недорого с доставкой", "ru", False),
        ("Купить диплом недорого с доставкой", "en, ru", False),
        ("Great article, thanks for writing it", "de", False),  # Latin reads as Latin
        ("Great article, thanks for writing it", "ja", True),
        ("Great article, thanks for writing it", "", False),  # unknown site language
        ("Great article, thanks for writing it", "tlh", False),  # a language we don't map
        ("Да", "en", False),  # too short to tell
        ("这篇文章写得很好，谢谢分享经验", "pt-BR", True),
    ],
)
def test_lang_mismatch(text: str, lang: str, mismatch: bool) -> None:
    assert lang_mismatch(script_counts(text), lang) is mismatch


def test_site_scripts_reads_lists_and_regions() -> None:
    assert site_scripts("en, ru") == {"latin", "cyrillic"}
    assert site_scripts("pt_BR") == {"latin"}
    assert site_scripts("xx") is None


@pytest.mark.parametrize(
    ("record", "present", "absent"),
    [
        ({"content": "get it at http://bit.ly/x"}, {"shortener", "domain=bit.ly"}, {"bare_link"}),
        ({"content": "buy at x1.pills-shop.net/buy"}, {"bare_link", "domain=pills-shop.net",
                                                     "host=x1.pills-shop.net"}, {"shortener"}),
        ({"content": "see http://192.0.2.7/a"}, {"ip_link", "domain=192.0.2.7"}, set()),
        ({"content": "nice", "author": "Best Cheap Replica Watches Online"}, {"author_words"},
         set()),
        ({"content": "nice", "author": "Anna K."}, set(), {"author_words"}),
        ({"content": "nice", "author_email": "a@mail.shop.example.co.uk"},
         {"email_domain=example.co.uk"}, set()),
        ({"content": "Купить диплом недорого", "lang": "en"},
         {"lang_mismatch", "script=cyrillic"}, {"script_mix"}),
        ({"content": "Купить диплом недорого", "lang": "ru"}, {"script=cyrillic"},
         {"lang_mismatch"}),
        ({"content": "hello мир"}, {"script_mix"}, {"script=latin"}),  # Latin is the default
        ({"content": "мир hi"}, {"script=cyrillic", "script_mix"}, set()),
        ({"content": "12345 !!!"}, {"digit_ratio"}, {"caps_ratio", "lang_mismatch"}),
    ],
)  # fmt: skip
def test_meta_features(record: dict[str, str], present: set[str], absent: set[str]) -> None:
    feats = meta_features(record, normalize(record["content"]))
    assert present <= feats.keys()
    assert not absent & feats.keys()
