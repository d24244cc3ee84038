"""Akismet's wire format both ways, and how its answers are read (pure)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from moderation.akismet_client import (
    DISCARD,
    ERROR,
    GARBAGE,
    HAM,
    INVALID,
    SPAM,
    classify,
)
from moderation.akismet_protocol import (
    FIELD_MAP,
    comment_from_form,
    form_from_fields,
    parse_form,
)
from moderation.errors import ValidationError


def form(**fields: str | list[str]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in fields.items()}


@pytest.mark.parametrize(
    ("theirs", "value", "ours", "expected"),
    [
        ("comment_content", "  Nice post  ", "content", "  Nice post  "),
        ("comment_author", "Ann", "author", "Ann"),
        ("comment_author_email", "ann@mail.net", "author_email", "ann@mail.net"),
        ("comment_author_url", "https://ann.net", "author_url", "https://ann.net"),
        ("user_ip", "203.0.113.9", "user_ip", "203.0.113.9"),
        ("user_agent", "Mozilla/5.0", "user_agent", "Mozilla/5.0"),
        ("referrer", "https://blog.net/a", "referrer", "https://blog.net/a"),
        ("permalink", "https://blog.net/post", "permalink", "https://blog.net/post"),
        ("comment_type", "reply", "comment_type", "reply"),
        ("blog_lang", "en_US, de_DE", "lang", "en_US, de_DE"),
        ("comment_date_gmt", "2026-11-25 10:00:00", "created_at", "2026-11-25T10:00:00+00:00"),
        ("comment_date_gmt", "2026-11-25T11:00:00+01:00", "created_at",
         "2026-11-25T11:00:00+01:00"),
        ("comment_post_modified_gmt", "2026-01-02 03:04:05", "post_modified_at",
         "2026-01-02T03:04:05+00:00"),
        ("comment_parent", "41", "parent_id", "41"),
        ("user_role", "subscriber,editor", "user_role", "subscriber,editor"),
        ("recheck_reason", "edit", "recheck_reason", "edit"),
    ],
)  # fmt: skip
def test_each_akismet_field_maps_onto_ours(
    theirs: str, value: str, ours: str, expected: str
) -> None:
    comment = comment_from_form(form(**{"comment_content": "x", theirs: value}))
    assert getattr(comment, ours) == expected


def test_flags_honeypot_context_and_what_is_ignored() -> None:
    comment = comment_from_form(
        form(
            comment_content="hello",
            is_test="true",
            honeypot_field_name="hp_email",
            hp_email="bot@spam.net",
            **{"comment_context[]": ["cooking", "baking"]},
            comment_author_url="",  # empty: absent, as WordPress sends it
            POST_comment="hello",  # WordPress's own fields: ignored
            HTTP_HOST="blog.net",
        )
    )
    assert comment.is_test is True
    assert comment.honeypot == "bot@spam.net"
    assert comment.context == "cooking, baking"
    assert comment.author_url is None
    assert comment.roles() == set()


def test_honeypot_field_name_alone_is_no_honeypot() -> None:
    comment = comment_from_form(form(comment_content="hi", honeypot_field_name="hp", hp=""))
    assert comment.honeypot is None


def test_an_empty_comment_is_legal_in_akismet() -> None:
    assert comment_from_form(form(comment_type="pingback")).content == ""


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"user_ip": "not-an-ip"}, "user_ip"),
        ({"comment_date_gmt": "yesterday"}, "comment_date_gmt"),
        ({"comment_author": "x" * 300}, "comment_author"),
        ({"comment_parent": "a b"}, "comment_parent"),
    ],
)
def test_bad_values_name_the_akismet_field(fields: dict[str, str], named: str) -> None:
    with pytest.raises(ValidationError) as caught:
        comment_from_form(form(**{"comment_content": "x", **fields}))
    assert caught.value.field == named


def test_forms_are_read_in_the_blogs_charset() -> None:
    body = urlencode(
        {"blog_charset": "ISO-8859-1", "comment_content": "Très bien, merci"}, encoding="latin-1"
    ).encode("ascii")
    assert parse_form(body)["comment_content"] == ["Très bien, merci"]
    utf8 = urlencode({"comment_content": "Très bien"}).encode("ascii")
    assert parse_form(utf8)["comment_content"] == ["Très bien"]
    unknown = urlencode({"blog_charset": "klingon", "comment_content": "ok"}).encode("ascii")
    assert parse_form(unknown)["comment_content"] == ["ok"]


def test_outgoing_form_is_the_inverse_mapping() -> None:
    fields = {"content": "hi", "author": "Ann", "lang": "en", "is_test": True, "id": "7"}
    sent = form_from_fields(fields, key="k", blog="https://blog.net/")
    assert sent == {
        "api_key": "k",
        "blog": "https://blog.net/",
        "comment_content": "hi",
        "comment_author": "Ann",
        "blog_lang": "en",
        "is_test": "1",
        "user_ip": "127.0.0.1",  # Akismet requires one
    }
    back = comment_from_form({k: [v] for k, v in sent.items()})
    assert (back.content, back.author, back.lang, back.is_test) == ("hi", "Ann", "en", True)


def test_every_mapped_field_exists_in_our_schema() -> None:
    from moderation.schema import FIELD_NAMES

    assert set(FIELD_MAP.values()) <= set(FIELD_NAMES)


@pytest.mark.parametrize(
    ("status", "text", "headers", "answer"),
    [
        (200, "true", {}, SPAM),
        (200, "true", {"X-akismet-pro-tip": "discard"}, DISCARD),
        (200, "false", {}, HAM),
        (200, "invalid", {"X-akismet-debug-help": "bad key"}, INVALID),
        (200, "<html>oops</html>", {}, GARBAGE),
        (200, "", {}, GARBAGE),
        (500, "true", {}, ERROR),  # a 500 is an error whatever its body says
        (503, "", {}, ERROR),
    ],
)
def test_akismet_answers_are_classified(
    status: int, text: str, headers: dict[str, str], answer: str
) -> None:
    result = classify(status, text, headers, 12.0)
    assert result.answer == answer
    assert result.ok is (answer in (SPAM, HAM, DISCARD))
