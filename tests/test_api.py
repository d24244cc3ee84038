"""The native API through Flask's test client: success and error paths of every route."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from moderation.privacy import ip_prefix, stored_fields
from moderation.schema import MAX_BATCH
from moderation.services import Services
from tests.conftest import HAM_COMMENT, SPAM_COMMENT

CHECK = "/api/v1/comments/check"
BATCH = "/api/v1/comments/check-batch"


def test_check_answers_verdict_score_and_reasons(client: FlaskClient, auth: dict) -> None:
    spam = client.post(CHECK, json={**SPAM_COMMENT, "id": "s1"}, headers=auth)
    ham = client.post(CHECK, json={**HAM_COMMENT, "id": "h1"}, headers=auth)
    assert spam.status_code == ham.status_code == 200
    s, h = spam.get_json(), ham.get_json()
    assert s["score"] > h["score"]
    for body in (s, h):
        assert body["verdict"] in ("ham", "spam", "review")
        assert 0.0 <= body["score"] <= 1.0
        assert body["reasons"], "every verdict carries its reasons"
        assert all({"code", "detail"} <= set(r) for r in body["reasons"])
        assert body["model_version"]
        assert body["source"] == "model"
    assert s["verdict"] != "ham" and h["verdict"] != "spam"
    assert s["id"] == "s1"


def test_model_reasons_point_to_the_spam_evidence(client: FlaskClient, auth: dict) -> None:
    body = client.post(CHECK, json=SPAM_COMMENT, headers=auth).get_json()
    weights = [r["weight"] for r in body["reasons"] if "weight" in r]
    assert weights and all(w > 0 for w in weights), "spam reasons push toward spam"


def test_generated_ids_are_unique(client: FlaskClient, auth: dict) -> None:
    a = client.post(CHECK, json=HAM_COMMENT, headers=auth).get_json()
    b = client.post(CHECK, json=HAM_COMMENT, headers=auth).get_json()
    assert a["id"] != b["id"]


def test_same_id_twice_is_one_comment(client: FlaskClient, auth: dict, svc: Services) -> None:
    first = client.post(CHECK, json={**HAM_COMMENT, "id": "42"}, headers=auth).get_json()
    again = client.post(
        CHECK, json={**SPAM_COMMENT, "id": "42"}, headers=auth
    ).get_json()  # a retry with other content keeps the first answer
    assert again == first
    keys = list(svc.redis.scan_iter(match=svc.keys.comment("blog.example", "*")))
    assert len(keys) == 1


def test_integer_ids_are_accepted_as_strings(client: FlaskClient, auth: dict) -> None:
    body = client.post(CHECK, json={**HAM_COMMENT, "id": 1234}, headers=auth).get_json()
    assert body["id"] == "1234"
    assert client.get("/api/v1/comments/1234", headers=auth).get_json()["id"] == "1234"


def test_honeypot_decides_spam_by_rule(client: FlaskClient, auth: dict) -> None:
    body = client.post(CHECK, json={**HAM_COMMENT, "honeypot": "x"}, headers=auth).get_json()
    assert (body["verdict"], body["source"]) == ("spam", "rules")
    assert body["reasons"][0]["code"] == "honeypot"


def test_review_is_stored_pending(client: FlaskClient, auth: dict, svc: Services) -> None:
    svc.sites.set_cutoffs("blog.example", 0.0001, 0.9999)  # everything uncertain
    body = client.post(CHECK, json={**HAM_COMMENT, "id": "r1"}, headers=auth).get_json()
    assert body["verdict"] == "review" and body["status"] == "pending"
    assert body["review_id"]
    assert body["reasons"][0]["code"] == "uncertain"
    assert svc.redis.zscore(svc.keys.pending("blog.example"), "r1") is not None


def test_get_returns_the_stored_comment(client: FlaskClient, auth: dict) -> None:
    checked = client.post(CHECK, json={**SPAM_COMMENT, "id": "g1"}, headers=auth).get_json()
    got = client.get("/api/v1/comments/g1", headers=auth)
    assert got.status_code == 200
    assert got.get_json() == checked


def test_get_unknown_or_other_sites_comment_is_404(
    client: FlaskClient, auth: dict, svc: Services
) -> None:
    other = {"Authorization": f"Bearer {svc.sites.create('other.example')}"}
    client.post(CHECK, json={**HAM_COMMENT, "id": "mine"}, headers=auth)
    for headers, cid in ((auth, "nope"), (other, "mine")):
        response = client.get(f"/api/v1/comments/{cid}", headers=headers)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_feedback_labels_and_changes_status(client: FlaskClient, auth: dict, svc: Services) -> None:
    client.post(CHECK, json={**HAM_COMMENT, "id": "f1"}, headers=auth)
    response = client.post("/api/v1/comments/f1/feedback", json={"label": "spam"}, headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["status_source"], body["changed"]) == ("spam", "feedback", True)
    entries = svc.redis.xrange(svc.keys.labels())
    assert len(entries) == 1
    entry = entries[0][1]
    assert (entry["site"], entry["comment_id"], entry["label"]) == ("blog.example", "f1", "spam")
    assert json.loads(entry["fields"])["content"] == HAM_COMMENT["content"]
    # the same feedback again is idempotent; a change of mind is a new label
    again = client.post("/api/v1/comments/f1/feedback", json={"label": "spam"}, headers=auth)
    assert again.get_json()["changed"] is False
    client.post("/api/v1/comments/f1/feedback", json={"label": "ham"}, headers=auth)
    assert [e[1]["label"] for e in svc.redis.xrange(svc.keys.labels())] == ["spam", "ham"]
    assert client.get("/api/v1/comments/f1", headers=auth).get_json()["status"] == "ham"


def test_feedback_takes_a_review_item_out_of_pending(
    client: FlaskClient, auth: dict, svc: Services
) -> None:
    svc.sites.set_cutoffs("blog.example", 0.0001, 0.9999)
    client.post(CHECK, json={**HAM_COMMENT, "id": "p1"}, headers=auth)
    client.post("/api/v1/comments/p1/feedback", json={"label": "ham"}, headers=auth)
    assert svc.redis.zscore(svc.keys.pending("blog.example"), "p1") is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"label": "maybe"}, 400, "label"),
        ({}, 400, "label"),
        (["spam"], 400, "label"),
    ],
)
def test_feedback_errors(client: FlaskClient, auth: dict, body, status, field) -> None:
    client.post(CHECK, json={**HAM_COMMENT, "id": "e1"}, headers=auth)
    response = client.post("/api/v1/comments/e1/feedback", json=body, headers=auth)
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field


def test_feedback_on_unknown_comment_is_404(client: FlaskClient, auth: dict) -> None:
    response = client.post("/api/v1/comments/zz/feedback", json={"label": "ham"}, headers=auth)
    assert response.status_code == 404


def test_batch_answers_in_order(client: FlaskClient, auth: dict) -> None:
    comments = [{**SPAM_COMMENT, "id": "b1"}, {**HAM_COMMENT, "id": "b2"}, HAM_COMMENT]
    response = client.post(BATCH, json={"comments": comments}, headers=auth)
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["id"] for r in results[:2]] == ["b1", "b2"]
    assert results[0]["score"] > results[1]["score"]
    single = client.post(CHECK, json={**HAM_COMMENT, "id": "b2"}, headers=auth).get_json()
    assert single == results[1], "batch and single checks share idempotency"


def test_batch_limits(client: FlaskClient, auth: dict) -> None:
    too_many = {"comments": [{"content": "hi"}] * (MAX_BATCH + 1)}
    for body in (too_many, {"comments": []}, {"comments": "x"}, []):
        response = client.post(BATCH, json=body, headers=auth)
        assert response.status_code == 400
        assert response.get_json()["error"]["field"] == "comments"


def test_batch_names_the_bad_item(client: FlaskClient, auth: dict) -> None:
    body = {"comments": [HAM_COMMENT, {"content": 5}]}
    response = client.post(BATCH, json=body, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "comments[1].content"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "content", "is required"),
        ({"content": "   "}, "content", "must not be empty"),
        ({"content": 12}, "content", "must be a string"),
        ({"content": "x" * 65537}, "content", "at most 65536"),
        ({"content": "hi", "author": ["a"]}, "author", "must be a string"),
        ({"content": "hi", "user_ip": "999.1.1.1"}, "user_ip", "IPv4 or IPv6"),
        ({"content": "hi", "created_at": "yesterday"}, "created_at", "ISO 8601"),
        ({"content": "hi", "id": "a b"}, "id", "1-128"),
        ({"content": "hi", "is_test": "yes"}, "is_test", "true or false"),
        ({"content": "a\x00b"}, "content", "NUL"),
        ({"content": "a\ud800b"}, "content", "surrogates"),
        ({"content": "bell\x07 escape\x1b[31m"}, "content", "control characters"),
        ({"content": "hi", "author": "C1\x9b control"}, "author", "control characters"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(
    client: FlaskClient, auth: dict, body, field, message
) -> None:
    response = client.post(CHECK, data=json.dumps(body), headers=auth)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == field
    assert message in error["message"]


@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff\xfe", b"[1, 2"])
def test_bad_json_is_400(client: FlaskClient, auth: dict, raw: bytes) -> None:
    response = client.post(CHECK, data=raw, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    ("raw", "message", "field"),
    [
        (b'{"content": "a", "content": "b"}', "appears twice", "content"),
        (b'{"content": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply", None),
        (b'{"content": "x", "id": 1' + b"0" * 5000 + b"}", "not valid JSON", None),
        (b'{"content": "x", "id": NaN}', "NaN is not a JSON number", None),
        (b'{"content": "x", "id": -Infinity}', "Infinity is not a JSON number", None),
        (b'{"content": "x", "id": 1e400}', "must be a whole number", "id"),
    ],
)
def test_hostile_json_is_400_saying_why(
    client: FlaskClient, auth: dict, raw: bytes, message: str, field: str | None
) -> None:
    """Duplicate keys, deep nesting (it exhausted the parser: a 500), huge and
    non-standard numbers: each a 400 that names the problem."""
    response = client.post(CHECK, data=raw, headers=auth)
    assert response.status_code == 400, response.text
    error = response.get_json()["error"]
    assert message in error["message"]
    assert error.get("field") == field


def test_text_keeps_tabs_and_newlines(client: FlaskClient, auth: dict) -> None:
    response = client.post(CHECK, json={"content": "line one\n\tline two\r\n"}, headers=auth)
    assert response.status_code == 200


def test_non_object_body_is_400(client: FlaskClient, auth: dict) -> None:
    response = client.post(CHECK, json=["content"], headers=auth)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"},
     {"Authorization": "Bearer mk_unknown"}, {"Authorization": "Bearer nonsense"}],
)  # fmt: skip
def test_missing_or_unknown_key_is_401(client: FlaskClient, headers: dict) -> None:
    for response in (
        client.post(CHECK, json=HAM_COMMENT, headers=headers),
        client.get("/api/v1/comments/1", headers=headers),
    ):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert "Bearer" in response.headers["WWW-Authenticate"]


def test_revoked_key_is_401(client: FlaskClient, auth: dict, svc: Services) -> None:
    assert client.post(CHECK, json=HAM_COMMENT, headers=auth).status_code == 200
    svc.sites.revoke("blog.example")
    response = client.post(CHECK, json=HAM_COMMENT, headers=auth)
    assert response.status_code == 401


def test_body_over_the_limit_is_413(client: FlaskClient, auth: dict, svc: Services) -> None:
    big = b'{"content": "' + b"a" * svc.settings.max_body_bytes + b'"}'
    response = client.post(CHECK, data=big, headers=auth)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_unknown_route_and_wrong_method_are_json(client: FlaskClient, auth: dict) -> None:
    missing = client.get("/api/v1/nothing", headers=auth)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.put(CHECK, headers=auth)
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]


def test_unknown_fields_are_ignored(client: FlaskClient, auth: dict) -> None:
    body = {**HAM_COMMENT, "id": "u1", "wp_extra": {"nested": [1, 2]}}
    assert client.post(CHECK, json=body, headers=auth).status_code == 200


def test_stored_record_keeps_fields_and_result(
    client: FlaskClient, auth: dict, svc: Services
) -> None:
    body = {**HAM_COMMENT, "id": "k1", "user_ip": "2001:db8::1", "is_test": True}
    answer = client.post(CHECK, json=body, headers=auth).get_json()
    stored = svc.comments.get("blog.example", "k1").record
    assert stored["site"] == "blog.example"
    assert stored["fields"]["is_test"] is True
    # The IP address only as its keyed hash (moderation/privacy.py).
    assert "user_ip" not in stored["fields"]
    assert stored["fields"]["user_ip_hash"] == svc.scorer.velocity.hashed("2001:db8::1")
    for name in ("score", "verdict", "source", "model_version", "reasons", "checked_at"):
        assert stored[name] == answer[name]


def test_ip_addresses_are_stored_only_as_keyed_hashes(
    client: FlaskClient, auth: dict, svc: Services
) -> None:
    """Nowhere in Redis - comment records, indexes, the labels stream - is the
    address in clear; two comments from one address share a hash, and the
    hash depends on the deployment's secret."""
    address = "203.0.113.77"
    for n, ip in enumerate([address, address, "198.51.100.9"]):
        body = {**HAM_COMMENT, "id": f"ip{n}", "user_ip": ip}
        assert client.post(CHECK, json=body, headers=auth).status_code == 200
    client.post("/api/v1/comments/ip0/feedback", json={"label": "spam"}, headers=auth)
    hashes = [svc.comments.get("blog.example", f"ip{n}").record["fields"]["user_ip_hash"]
              for n in range(3)]  # fmt: skip
    assert hashes[0] == hashes[1] != hashes[2]
    assert "user_ip_prefix" not in svc.comments.get("blog.example", "ip0").record["fields"]
    for name in svc.redis.scan_iter(match=svc.keys.pattern()):
        kind = svc.redis.type(name)
        if kind == "hash":
            values = list(svc.redis.hgetall(name).values())
        elif kind == "string":
            values = [svc.redis.get(name)]
        elif kind == "stream":
            values = [str(entry) for entry in svc.redis.xrange(name)]
        else:
            continue
        assert not any(address in str(v) for v in values), name
    assert len(svc.redis.xrange(svc.keys.labels())) >= 1  # the label went through


@pytest.mark.parametrize(
    ("address", "prefix"),
    [("203.0.113.77", "203.0.113.0/24"), ("2001:db8:1:2::5", "2001:db8:1::/48"), ("x", None)],
)
def test_ip_prefix(address: str, prefix: str | None) -> None:
    assert ip_prefix(address) == prefix
    kept = stored_fields({"user_ip": address}, lambda a: "h", keep_prefix=True)
    assert kept.get("user_ip_prefix") == prefix and kept["user_ip_hash"] == "h"
    assert "user_ip" not in kept
