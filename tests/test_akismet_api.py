"""Our Akismet-compatible endpoints, through the app: answers, headers, labels, counters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from moderation import create_app
from moderation.services import Services
from moderation.settings import Settings
from tests.conftest import HAM_COMMENT, SPAM_COMMENT

BLOG = "https://blog.example/"


def check(client: FlaskClient, key: str, **fields: str):  # type: ignore[no-untyped-def]
    data = {"api_key": key, "blog": BLOG, "user_ip": "203.0.113.7", **fields}
    return client.post("/1.1/comment-check", data=data)


def labels(svc: Services) -> list[dict[str, str]]:
    return [entry for _, entry in svc.redis.xrange(svc.keys.labels())]


@pytest.mark.parametrize(
    ("data", "body", "help_text"),
    [
        ({"key": "{key}", "blog": BLOG}, "valid", None),  # legacy name
        ({"api_key": "{key}", "blog": BLOG}, "valid", None),
        ({"api_key": "mk_wrong", "blog": BLOG}, "invalid", "Invalid API key"),
        ({"api_key": "{key}"}, "invalid", 'Empty "blog" value'),
        ({"blog": BLOG}, "invalid", 'Empty "api_key" value'),
    ],
)
def test_verify_key(
    client: FlaskClient, site_key: str, data: dict[str, str], body: str, help_text: str | None
) -> None:
    sent = {k: v.replace("{key}", site_key) for k, v in data.items()}
    response = client.post("/1.1/verify-key", data=sent)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.text == body
    if help_text:
        assert help_text in response.headers["X-akismet-debug-help"]


def test_control_characters_are_dropped_not_refused(
    client: FlaskClient, svc: Services, site_key: str
) -> None:
    """An Akismet client cannot fix its input: what the native API refuses
    (control characters) is dropped from the form instead."""
    response = check(
        client, site_key, comment_content="hello\x07 there\x1b", comment_author="A\x9bB"
    )
    assert response.status_code == 200 and response.text in ("true", "false")
    comment_id = svc.comments.find("blog.example", guid=response.headers["X-akismet-guid"])
    assert comment_id is not None
    stored = svc.comments.get("blog.example", comment_id)
    assert stored.record["fields"]["content"] == "hello there"
    assert stored.record["fields"]["author"] == "AB"


def test_revoked_key_is_invalid(client: FlaskClient, svc: Services, site_key: str) -> None:
    svc.sites.revoke("blog.example")
    assert client.post("/1.1/verify-key", data={"key": site_key, "blog": BLOG}).text == "invalid"
    response = check(client, site_key, comment_content="hello")
    assert response.text == "invalid" and response.headers["X-akismet-debug-help"]


@pytest.mark.parametrize(
    ("fields", "body", "verdict", "code"),
    [
        ({"comment_author": "akismet-guaranteed-spam"}, "true", "spam", "test_spam"),
        ({"comment_author_email": "akismet-guaranteed-spam@example.com"}, "true", "spam",
         "test_spam"),
        ({"user_role": "subscriber, Administrator"}, "false", "ham", "trusted_role"),
        ({"honeypot_field_name": "hp", "hp": "filled by a bot"}, "true", "spam", "honeypot"),
    ],
)  # fmt: skip
def test_test_triggers_and_rules(
    client: FlaskClient,
    svc: Services,
    site_key: str,
    fields: dict[str, str],
    body: str,
    verdict: str,
    code: str,
) -> None:
    response = check(client, site_key, comment_content="An ordinary comment.", **fields)
    assert response.status_code == 200
    assert response.text == body
    assert response.headers["X-Moderation-Verdict"] == verdict
    guid = response.headers["X-akismet-guid"]
    stored_id = svc.comments.find("blog.example", guid=guid)
    stored = svc.comments.get("blog.example", str(stored_id))
    assert stored.record["reasons"][0]["code"] == code


def test_check_headers_and_bands(client: FlaskClient, svc: Services, site_key: str) -> None:
    spam = check(client, site_key, comment_content=SPAM_COMMENT["content"],
                 comment_author=SPAM_COMMENT["author"])  # fmt: skip
    assert spam.text == "true"
    assert spam.headers["X-Moderation-Verdict"] == "spam"
    assert 0.5 < float(spam.headers["X-Moderation-Score"]) <= 1
    assert spam.headers["X-Moderation-Model"] == svc.model.version
    ham = check(client, site_key, comment_content=HAM_COMMENT["content"])
    assert (ham.text, ham.headers["X-Moderation-Verdict"]) == ("false", "ham")
    assert "X-akismet-pro-tip" not in ham.headers
    assert spam.headers["X-akismet-guid"] != ham.headers["X-akismet-guid"]

    # A review is held back as spam: "true", and our header says why.
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)
    review = check(client, site_key, comment_content=HAM_COMMENT["content"] + " Really.")
    assert (review.text, review.headers["X-Moderation-Verdict"]) == ("true", "review")

    # Blatant spam carries Akismet's pro tip.
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=0.01)
    svc.redis.hset(svc.keys.site("blog.example"), "spam_above", 0.001)
    blatant = check(client, site_key, comment_content=SPAM_COMMENT["content"])
    record = svc.comments.get(
        "blog.example", str(svc.comments.find("blog.example", blatant.headers["X-akismet-guid"]))
    ).record
    assert blatant.text == "true"
    assert (blatant.headers.get("X-akismet-pro-tip") == "discard") is record["discard"]


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        ({"user_ip": ""}, "Missing required field: user_ip."),
        ({"blog": ""}, "Missing required field: blog."),
        ({"api_key": "mk_nope"}, "invalid"),
        ({"user_ip": "300.1.1.1"}, "Invalid value. user_ip: must be an IPv4 or IPv6 address"),
        ({"comment_date_gmt": "last tuesday"}, "Invalid value. comment_date_gmt: must be ISO"),
    ],
)
def test_request_errors_are_200_text_with_debug_help(
    client: FlaskClient, site_key: str, fields: dict[str, str], body: str
) -> None:
    data = {"api_key": site_key, "blog": BLOG, "user_ip": "203.0.113.7",
            "comment_content": "hi", **fields}  # fmt: skip
    response = client.post("/1.1/comment-check", data=data)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.text.startswith(body)
    assert response.headers["X-akismet-debug-help"]


def test_unknown_fields_and_empty_content_are_fine(client: FlaskClient, site_key: str) -> None:
    response = check(client, site_key, comment_content="", comment_type="pingback",
                     POST_comment="x", HTTP_ACCEPT="text/html", comment_post_ID="12")  # fmt: skip
    assert response.text in ("true", "false")


def test_latin1_blog(client: FlaskClient, svc: Services, site_key: str) -> None:
    body = urlencode(
        {"api_key": site_key, "blog": BLOG, "user_ip": "203.0.113.7",
         "blog_charset": "ISO-8859-1", "comment_content": "Très bien écrit, merci"},
        encoding="latin-1",
    )  # fmt: skip
    response = client.post(
        "/1.1/comment-check", data=body, content_type="application/x-www-form-urlencoded"
    )
    found = svc.comments.find("blog.example", response.headers["X-akismet-guid"])
    stored = svc.comments.get("blog.example", str(found))
    assert stored.record["fields"]["content"] == "Très bien écrit, merci"


def test_submit_by_guid_corrects_the_check_and_labels_it(
    client: FlaskClient, svc: Services, site_key: str
) -> None:
    checked = check(client, site_key, comment_content=HAM_COMMENT["content"])
    assert checked.text == "false"
    guid = checked.headers["X-akismet-guid"]
    response = client.post(
        "/1.1/submit-spam",
        data={"api_key": site_key, "blog": BLOG, "user_ip": "203.0.113.7", "guid": guid,
              "comment_content": "whatever the blog sends"},
    )  # fmt: skip
    assert (response.status_code, response.text) == (
        200,
        "Thanks for making the web a better place.",
    )
    stored = svc.comments.get("blog.example", str(svc.comments.find("blog.example", guid)))
    assert (stored.status, stored.status_source) == ("spam", "feedback")
    (entry,) = labels(svc)
    assert (entry["label"], entry["source"], entry["weak"]) == ("spam", "feedback", "0")
    month = datetime.now(UTC).strftime("%Y-%m")
    assert svc.comments.usage("blog.example", month)["missed_spam"] == 1


def test_submit_by_content_and_for_comments_we_never_saw(
    client: FlaskClient, svc: Services, site_key: str
) -> None:
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)  # all to review
    check(client, site_key, comment_content="Is this held?")
    base = {"api_key": site_key, "blog": BLOG, "user_ip": "203.0.113.7"}
    ham = client.post("/1.1/submit-ham", data={**base, "comment_content": "Is this held?"})
    assert ham.text == "Thanks for making the web a better place."
    month = datetime.now(UTC).strftime("%Y-%m")
    assert svc.comments.usage("blog.example", month)["false_positives"] == 1  # held as spam
    client.post("/1.1/submit-spam", data={**base, "comment_content": "old spam", "is_test": "1"})
    first, second = labels(svc)
    assert (first["label"], first["source"]) == ("ham", "feedback")
    assert (second["label"], second["source"], second["comment_id"]) == ("spam", "submit", "")
    assert second["is_test"] == "1" and json.loads(second["fields"])["content"] == "old spam"
    bad = client.post("/1.1/submit-spam", data={**base, "api_key": "mk_x", "comment_content": "x"})
    assert bad.text == "invalid"


def test_usage_limit_and_key_sites(client: FlaskClient, svc: Services, site_key: str) -> None:
    check(client, site_key, comment_content=SPAM_COMMENT["content"])
    check(client, site_key, comment_content=HAM_COMMENT["content"])
    usage = client.get("/1.2/usage-limit", query_string={"api_key": site_key})
    assert usage.json == {"limit": "none", "usage": 2, "percentage": "0.00", "throttled": False}
    assert client.get("/1.2/usage-limit", query_string={"api_key": "mk_x"}).text == "invalid"

    month = datetime.now(UTC).strftime("%Y-%m")
    sites = client.get("/1.2/key-sites", query_string={"api_key": site_key}).json
    assert sites["total"] == 1 and sites["limit"] == 500 and sites["offset"] == 0
    (row,) = sites[month]
    assert row["site"] == "blog.example" and row["api_calls"] == 2
    assert row["spam"] + row["ham"] == 2 and row["is_revoked"] is False
    filtered = client.get(
        "/1.2/key-sites", query_string={"api_key": site_key, "filter": "other.example"}
    ).json
    assert filtered["total"] == 0 and filtered[month] == []
    csv = client.get(
        "/1.2/key-sites", query_string={"api_key": site_key, "format": "csv", "month": month}
    )
    lines = csv.text.splitlines()
    assert lines[1] == "Site,Total API Calls,Spam,Ham,Missed Spam,False Positives,Is Revoked"
    assert lines[2].startswith("blog.example,2,") and site_key not in csv.text
    earlier = client.get("/1.2/key-sites", query_string={"api_key": site_key, "month": "2001-01"})
    assert earlier.json["2001-01"][0]["api_calls"] == 0
    wrong = client.get("/1.2/key-sites", query_string={"api_key": site_key, "month": "2001-13"})
    assert wrong.status_code == 200 and "month" in wrong.text


def test_native_api_shares_the_counters(
    client: FlaskClient, svc: Services, site_key: str, auth: dict[str, str]
) -> None:
    client.post("/api/v1/comments/check", json=HAM_COMMENT, headers=auth)
    usage = client.get("/1.2/usage-limit", query_string={"api_key": site_key}).json
    assert usage["usage"] == 1


def test_redis_down_is_a_503_text_not_a_500(settings: Settings) -> None:
    down = settings.replace(
        redis_url="redis://127.0.0.1:1/0", redis_cluster=False, redis_timeout=0.2
    )
    client = create_app(down).test_client()
    for path in ("/1.1/comment-check", "/1.1/verify-key", "/1.1/submit-spam"):
        response = client.post(path, data={"api_key": "mk_x", "blog": BLOG, "user_ip": "1.2.3.4"})
        assert response.status_code == 503, path
        assert response.mimetype == "text/plain" and response.headers["Retry-After"]
