"""The real Python Akismet client (PyPI ``akismet``) against our server, over HTTP.

The client hard-codes https://rest.akismet.com; like any httpx user, we give
it an HTTP client whose transport sends those requests to our server
instead - the one-URL change, made where this client allows it.
"""

from __future__ import annotations

from collections.abc import Iterator

import akismet
import httpx
import pytest

from moderation.services import Services
from tests.conftest import HAM_COMMENT, SPAM_COMMENT

BLOG = "https://blog.example/"


class ToService(httpx.BaseTransport):
    """Sends every request to ``base`` (scheme, host, port), path and body unchanged."""

    def __init__(self, base: str) -> None:
        self.base = httpx.URL(base)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port
        )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def http(live_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(transport=ToService(live_url), timeout=10) as client:
        yield client


def test_verify_key_valid_and_invalid(http: httpx.Client, site_key: str) -> None:
    client = akismet.SyncClient.validated_client(
        config=akismet.Config(key=site_key, url=BLOG), http_client=http
    )
    assert client.verify_key() is True
    assert client.verify_key(key="mk_not-a-key", url=BLOG) is False
    with pytest.raises(akismet.APIKeyError):
        akismet.SyncClient.validated_client(
            config=akismet.Config(key="mk_not-a-key", url=BLOG), http_client=http
        )


def test_comment_check_ham_spam_discard(http: httpx.Client, svc: Services, site_key: str) -> None:
    client = akismet.SyncClient(config=akismet.Config(key=site_key, url=BLOG), http_client=http)
    ip = "203.0.113.50"
    spam = client.comment_check(
        user_ip=ip, comment_content="Hello", comment_author="akismet-guaranteed-spam"
    )
    assert spam == akismet.CheckResponse.SPAM
    ham = client.comment_check(user_ip=ip, comment_content="Hello", user_role="administrator")
    assert ham == akismet.CheckResponse.HAM
    # Blatant spam (above the model's discard cutoff) comes with the pro tip.
    blatant = client.comment_check(
        user_ip=ip,
        comment_content=SPAM_COMMENT["content"],
        comment_author=SPAM_COMMENT["author"],
        comment_author_url=SPAM_COMMENT["author_url"],
        is_test=True,
    )
    assert blatant == akismet.CheckResponse.DISCARD
    by_model = client.comment_check(user_ip=ip, comment_content=HAM_COMMENT["content"])
    assert by_model == akismet.CheckResponse.HAM
    assert svc.comments.usage("blog.example", _month())["calls"] == 4


def test_discard_through_the_honeypot(http: httpx.Client, site_key: str) -> None:
    """A filled honeypot is blatant too. The Python client sends only its own
    arguments, not the field a honeypot_field_name names, so this request is
    made by hand and read by the client's own response handling."""
    response = http.post(
        "https://rest.akismet.com/1.1/comment-check",
        data={"api_key": site_key, "blog": BLOG, "user_ip": "203.0.113.50",
              "comment_content": "Hello", "honeypot_field_name": "hp_url",
              "hp_url": "http://bot.example"},
    )  # fmt: skip
    assert akismet._common._handle_check_response(response) == akismet.CheckResponse.DISCARD


def test_submit_spam_and_ham(http: httpx.Client, svc: Services, site_key: str) -> None:
    client = akismet.SyncClient(config=akismet.Config(key=site_key, url=BLOG), http_client=http)
    ip = "203.0.113.51"
    assert client.comment_check(user_ip=ip, comment_content=HAM_COMMENT["content"]) == 0
    assert client.submit_spam(user_ip=ip, comment_content=HAM_COMMENT["content"]) is True
    assert client.submit_ham(user_ip=ip, comment_content="never checked before") is True
    entries = [e for _, e in svc.redis.xrange(svc.keys.labels())]
    assert [(e["label"], e["source"]) for e in entries] == [("spam", "feedback"), ("ham", "submit")]
    assert svc.comments.usage("blog.example", _month())["missed_spam"] == 1


def _month() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m")
