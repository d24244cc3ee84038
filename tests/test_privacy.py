"""A commenter's personal data: minimised for training, purged on time,
exported and erased on request - in Redis, the labels stream, the label
dataset on disk and the spool."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.privacy import keyed_hash, training_fields
from moderation.services import Services
from training import labels
from training.features import text_and_meta

DAY = 86400

ALICE = {
    "author": "Alice",
    "author_email": "Alice@Example.org",
    "author_url": "https://alice.example.org/me",
    "user_ip": "203.0.113.7",
    "user_agent": "Firefox/140",
    "referrer": "https://search.example/?q=alice",
}
BOB = {"author": "Bob", "author_email": "bob@example.net", "user_ip": "198.51.100.9"}


REPLY = "A thoughtful reply about the post, thanks for it."


def _check(
    client: FlaskClient, auth: dict[str, str], comment_id: str, who: dict[str, str],
    content: str = REPLY,
) -> dict[str, Any]:  # fmt: skip
    response = client.post("/api/v1/comments/check", headers=auth,
                           json={"id": comment_id, "content": content, **who})  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def _stored(svc: Services, comment_id: str) -> dict[str, Any]:
    return svc.comments.get("blog.example", comment_id).record["fields"]  # type: ignore[no-any-return]


texts = st.text(st.characters(codec="utf-8"), max_size=80)


@settings(max_examples=300, deadline=None)
@given(
    content=texts,
    author=texts,
    email=st.one_of(st.emails(), texts),
    url=st.one_of(
        texts, st.from_regex(r"https?://(www\.){0,2}[a-z]{1,8}\.[a-z]{2,3}(:\d{2})?/\w*")
    ),
    comment_type=st.sampled_from(["", "comment", "Trackback"]),
    lang=st.sampled_from(["", "en", "ru, en", "ja"]),
)
def test_the_label_dataset_keeps_exactly_what_training_reads(
    content: str, author: str, email: str, url: str, comment_type: str, lang: str
) -> None:
    fields = {"content": content, "author": author, "author_email": email, "author_url": url,
              "comment_type": comment_type, "lang": lang, "user_ip_hash": "ab" * 16,
              "user_agent": "Mozilla/5.0", "referrer": "https://x.example/"}  # fmt: skip
    kept = training_fields(fields, lambda value: keyed_hash(b"k" * 32, value))
    assert text_and_meta(kept) == text_and_meta(fields)
    assert not {"user_ip_hash", "user_agent", "referrer"} & kept.keys()
    if "@" in email.strip():
        assert "@" in kept["author_email"] and kept["author_email"].startswith("@")
        assert kept["author_email_hash"] == keyed_hash(b"k" * 32, email.strip().lower())


def test_purge_removes_the_authors_fields_then_the_comment(
    client: FlaskClient, svc: Services, auth: dict[str, str]
) -> None:
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)  # all to review
    answer = _check(client, auth, "c1", ALICE)
    assert answer["verdict"] == "review"
    svc.review.decide(svc.moderators.create("mod", "a long enough password", admin=True),
                      answer["review_id"], "ham")  # fmt: skip
    _check(client, auth, "c2", BOB)
    now = time.time()

    assert svc.personal.purge(now).anonymised == 0  # nothing is old enough yet
    purged = svc.personal.purge(now + 31 * DAY)
    assert purged.anonymised == 2 and purged.deleted == 0
    fields = _stored(svc, "c1")
    assert fields["content"].startswith("A thoughtful reply")
    assert not {"author", "author_email", "author_url", "user_ip_hash", "user_agent",
                "referrer"} & fields.keys()  # fmt: skip
    got = client.get("/api/v1/comments/c1", headers=auth)
    assert got.status_code == 200 and got.get_json()["status"] == "ham"

    purged = svc.personal.purge(now + 366 * DAY)
    assert purged.deleted == 2 and purged.events >= 1
    assert client.get("/api/v1/comments/c1", headers=auth).status_code == 404
    assert svc.review.history(["blog.example"], 10) == []
    assert not list(svc.redis.scan_iter(match=svc.keys.guid("blog.example", "*")))
    assert not list(svc.redis.scan_iter(match=svc.keys.content("blog.example", "*")))
    # A comment id may be used again once its comment is gone.
    assert _check(client, auth, "c1", BOB)["id"] == "c1"


def test_labels_reach_disk_minimised_and_leave_the_stream(
    client: FlaskClient, svc: Services, auth: dict[str, str]
) -> None:
    _check(client, auth, "c1", ALICE)
    client.post("/api/v1/comments/c1/feedback", json={"label": "spam"}, headers=auth)
    assert labels.drain(svc.redis, svc.keys.labels(), svc.settings.labels_dir,
                        keep=svc.personal.minimal) == 1  # fmt: skip
    [line] = list(labels.read(svc.settings.labels_dir))
    fields = json.loads(line["fields"])
    assert fields["author_email"] == "@example.org"
    assert fields["author_url"] == "http://alice.example.org/"
    assert fields["author_email_hash"] == svc.scorer.velocity.hashed("alice@example.org")
    assert not {"user_ip_hash", "user_agent", "referrer"} & fields.keys()
    assert "203.0.113.7" not in json.dumps(line) and "Alice@" not in json.dumps(line)

    assert svc.redis.xlen(svc.keys.labels()) == 1
    assert svc.personal.purge().labels_trimmed == 1  # it is on disk: out of Redis
    assert svc.redis.xlen(svc.keys.labels()) == 0
    client.post("/api/v1/comments/c1/feedback", json={"label": "ham"}, headers=auth)
    assert svc.personal.purge().labels_trimmed == 0  # not drained yet: kept
    assert svc.redis.xlen(svc.keys.labels()) == 1


def _export(app: Flask, email: str) -> dict[str, Any]:
    result = app.test_cli_runner().invoke(args=["privacy", "export", "--email", email])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_export_and_erase_a_commenter_everywhere(
    app: Flask, client: FlaskClient, svc: Services, auth: dict[str, str]
) -> None:
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)
    _check(client, auth, "a1", ALICE)  # queued for review
    _check(client, auth, "a2", ALICE, "Another comment of mine, on another post.")
    _check(client, auth, "a4", ALICE, "A third one, still waiting for a moderator.")
    _check(client, auth, "b1", BOB)
    _check(client, auth, "b2", BOB, "Bob again, waiting in the queue.")
    client.post("/api/v1/comments/a1/feedback", json={"label": "ham"}, headers=auth)
    client.post("/api/v1/comments/b1/feedback", json={"label": "spam"}, headers=auth)
    labels.drain(svc.redis, svc.keys.labels(), svc.settings.labels_dir, keep=svc.personal.minimal)
    # Drained labels stay in the stream until the purge trims them; one more.
    client.post("/api/v1/comments/a2/feedback", json={"label": "ham"}, headers=auth)
    # A check spooled while Redis was away, not yet replayed.
    spooled = {**svc.comments.get("blog.example", "a2").record, "id": "a3"}
    svc.spool.append("blog.example", [spooled])

    exported = _export(app, " ALICE@example.org ")
    assert exported["counts"] == {"comments": 3, "labels_stream": 2, "label_dataset": 1, "spool": 1}
    assert {c["id"] for c in exported["stores"]["comments"]} == {"a1", "a2", "a4"}
    assert exported["stores"]["comments"][0]["record"]["fields"]["author"] == "Alice"
    assert "bob@example.net" not in json.dumps(exported)
    assert svc.redis.exists(svc.scorer.velocity.key("email", "alice@example.org"))

    assert svc.review.depth(["blog.example"]) == {"blog.example": 2}  # a4 and b2
    erase = ["privacy", "erase", "--email", "alice@example.org", "--yes"]
    result = app.test_cli_runner().invoke(args=erase)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["erased"] == exported["counts"]
    after = _export(app, "alice@example.org")
    assert after["counts"] == {"comments": 0, "labels_stream": 0, "label_dataset": 0, "spool": 0}
    assert client.get("/api/v1/comments/a1", headers=auth).status_code == 404
    assert svc.review.depth(["blog.example"]) == {"blog.example": 1}  # b2
    assert not svc.redis.exists(svc.scorer.velocity.key("email", "alice@example.org"))
    # Bob's data is untouched.
    bob = _export(app, "bob@example.net")["counts"]
    assert bob == {"comments": 2, "labels_stream": 1, "label_dataset": 1, "spool": 0}
    assert svc.spool.size() == 0


def test_privacy_commands_refuse_what_is_not_an_address(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["privacy", "erase", "--email", "nobody", "--yes"])
    assert result.exit_code == 1
    assert "email" in result.output
    unconfirmed = app.test_cli_runner().invoke(
        args=["privacy", "erase", "--email", "a@b.example"], input="n\n"
    )
    assert unconfirmed.exit_code == 1  # aborted: nothing erased without a yes
