"""The review queue's contract, on a real Redis, through the moderator API."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient

from moderation import create_app
from moderation.moderators import Moderator
from moderation.services import Services
from moderation.settings import Settings

LEASE = 1.0
UNDO = 1.5
PASSWORD = "correct horse battery"


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings.replace(review_lease_seconds=LEASE, undo_seconds=UNDO))


@pytest.fixture
def keys(svc: Services) -> dict[str, str]:
    """Two sites whose every comment goes to review; their site keys."""
    made = {}
    for domain in ("blog.example", "other.example"):
        made[domain] = svc.sites.create(domain)
        svc.sites.set_cutoffs(domain, ham_below=0.0, spam_above=1.0)
    return made


@pytest.fixture
def tokens(client: FlaskClient, svc: Services, keys: dict[str, str]) -> dict[str, dict[str, str]]:
    svc.moderators.create("alice", PASSWORD, sites=["blog.example"])
    svc.moderators.create("bob", PASSWORD, sites=["blog.example", "other.example"])
    svc.moderators.create("carol", PASSWORD, sites=["other.example"])
    svc.moderators.create("root", PASSWORD, admin=True)
    out = {}
    for name in ("alice", "bob", "carol", "root"):
        body = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert body.status_code == 200
        out[name] = {"Authorization": f"Bearer {body.get_json()['token']}"}
    return out


def queue(client: FlaskClient, key: str, *ids: str) -> None:
    for comment_id in ids:
        body = client.post(
            "/api/v1/comments/check",
            json={"id": comment_id, "content": f"Borderline comment number {comment_id}"},
            headers={"Authorization": f"Bearer {key}"},
        ).get_json()
        assert body["verdict"] == "review"
        time.sleep(0.002)  # distinct queue times: the order is observable


def labels(svc: Services) -> list[dict[str, str]]:
    return [e for _, e in svc.redis.xrange(svc.keys.labels())]


def test_login_tokens_and_accounts(client: FlaskClient, svc: Services, tokens: dict) -> None:
    wrong = client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope"})
    assert wrong.status_code == 401
    nobody = client.post("/api/v1/auth/login", json={"username": "zed", "password": PASSWORD})
    assert nobody.status_code == 401 and nobody.get_json() == wrong.get_json()
    missing = client.post("/api/v1/auth/login", json={"username": "alice"})
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "password"
    assert client.get("/api/v1/review").status_code == 401
    assert client.get("/api/v1/review", headers={"Authorization": "Bearer mt_x"}).status_code == 401
    site_key = {"Authorization": f"Bearer {svc.sites.create('third.example')}"}
    assert client.get("/api/v1/review", headers=site_key).status_code == 401  # not a token
    assert client.get("/api/v1/review", headers=tokens["alice"]).status_code == 200
    svc.moderators.disable("alice")
    assert client.get("/api/v1/review", headers=tokens["alice"]).status_code == 401
    again = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert again.status_code == 401
    stored = svc.redis.hget(svc.keys.moderator("bob"), "password")
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    client.post("/api/v1/auth/logout", headers=tokens["bob"])
    assert client.get("/api/v1/review", headers=tokens["bob"]).status_code == 401


def test_list_is_oldest_first_scoped_and_paged(
    client: FlaskClient, keys: dict[str, str], tokens: dict
) -> None:
    queue(client, keys["blog.example"], "b1", "b2", "b3")
    queue(client, keys["other.example"], "o1")
    queue(client, keys["blog.example"], "b4")
    everything = client.get("/api/v1/review", headers=tokens["root"]).get_json()
    assert [i["review_id"] for i in everything["items"]] == [
        "blog.example:b1", "blog.example:b2", "blog.example:b3", "other.example:o1",
        "blog.example:b4",
    ]  # fmt: skip
    depth = everything["depth"]  # an admin sees every site, the empty ones too
    assert (depth["blog.example"], depth["other.example"]) == (4, 1)
    first = everything["items"][0]
    assert first["fields"]["content"] == "Borderline comment number b1"
    assert first["verdict"] == "review" and first["reasons"] and first["claimed_by"] is None
    alice = client.get("/api/v1/review", headers=tokens["alice"]).get_json()
    assert {i["site"] for i in alice["items"]} == {"blog.example"}
    carol = client.get("/api/v1/review?site=blog.example", headers=tokens["carol"])
    assert carol.status_code == 400 and carol.get_json()["error"]["field"] == "site"

    seen, cursor = [], None
    while True:
        url = "/api/v1/review?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=tokens["bob"]).get_json()
        seen += [i["review_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["review_id"] for i in everything["items"]]
    bad = client.get("/api/v1/review?cursor=!!", headers=tokens["bob"])
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "cursor"


def test_claims_leases_and_expiry(client: FlaskClient, keys: dict[str, str], tokens: dict) -> None:
    queue(client, keys["blog.example"], "c1", "c2", "c3")
    a = client.post("/api/v1/review/claim", json={"limit": 2}, headers=tokens["alice"]).get_json()
    assert a["claimed"] == ["blog.example:c1", "blog.example:c2"]
    b = client.post("/api/v1/review/claim", json={"limit": 5, "site": "blog.example"},
                    headers=tokens["bob"]).get_json()  # fmt: skip
    assert b["claimed"] == ["blog.example:c3"]
    claimed_by_then = time.monotonic()  # every claim so far has been made
    listed = client.get("/api/v1/review", headers=tokens["bob"]).get_json()["items"]
    assert [i["claimed_by"] for i in listed] == ["alice", "alice", "bob"]

    # Renewal keeps alice's first item; the second lapses and bob can take it.
    time.sleep(LEASE / 2)
    renewed = client.post("/api/v1/review/renew", json={"ids": ["blog.example:c1",
                          "blog.example:c3"]}, headers=tokens["alice"]).get_json()  # fmt: skip
    assert renewed["renewed"] == ["blog.example:c1"]  # c3 is bob's
    # Just past the first leases, however long the renewal took (a slow
    # machine): c1's renewed lease still has about LEASE / 2 to go.
    time.sleep(max(0.0, claimed_by_then + LEASE + 0.1 - time.monotonic()))
    again = client.post("/api/v1/review/claim", json={"limit": 5}, headers=tokens["bob"])
    assert again.get_json()["claimed"] == ["blog.example:c2", "blog.example:c3"]  # c3 lapsed too
    released = client.post("/api/v1/review/release", json={"ids": ["blog.example:c2"]},
                           headers=tokens["bob"]).get_json()  # fmt: skip
    assert released["released"] == ["blog.example:c2"]
    mine = client.post("/api/v1/review/claim", json={"limit": 5}, headers=tokens["alice"])
    assert mine.get_json()["claimed"] == ["blog.example:c2"]


def test_decisions_labels_idempotence_and_the_blogs_view(
    client: FlaskClient, svc: Services, keys: dict[str, str], tokens: dict
) -> None:
    queue(client, keys["blog.example"], "d1", "d2")
    client.post("/api/v1/review/claim", json={"limit": 1}, headers=tokens["alice"])
    refused = client.post("/api/v1/review/blog.example:d1/decision", json={"label": "spam"},
                          headers=tokens["bob"])  # fmt: skip
    assert refused.status_code == 409 and "alice" in refused.get_json()["error"]["message"]
    ok = client.post(
        "/api/v1/review/blog.example:d1/decision",
        json={"label": "ham", "note": "a real reader"},
        headers=tokens["alice"],
    )
    assert ok.get_json() == {"review_id": "blog.example:d1", "label": "ham", "changed": True}
    repeat = client.post("/api/v1/review/blog.example:d1/decision", json={"label": "ham"},
                         headers=tokens["alice"])  # fmt: skip
    assert repeat.get_json()["changed"] is False
    (entry,) = labels(svc)
    assert (entry["label"], entry["source"], entry["moderator"]) == ("ham", "moderator", "alice")
    assert json.loads(entry["fields"])["content"] == "Borderline comment number d1"
    assert entry["event"].startswith("blog.example:")

    blog = {"Authorization": f"Bearer {keys['blog.example']}"}
    seen = client.get("/api/v1/comments/d1", headers=blog).get_json()
    assert (seen["status"], seen["status_source"], seen["decided_by"]) == (
        "ham", "moderator", "alice")  # fmt: skip
    assert seen["verdict"] == "review"  # what we answered at the time stays on record
    depth = client.get("/api/v1/review", headers=tokens["alice"]).get_json()["depth"]
    assert depth == {"blog.example": 1}

    # An unclaimed item can be decided by anyone who sees its site; others get 404.
    assert client.post("/api/v1/review/blog.example:d2/decision", json={"label": "spam"},
                       headers=tokens["carol"]).status_code == 404  # fmt: skip
    assert client.post("/api/v1/review/blog.example:nope/decision", json={"label": "spam"},
                       headers=tokens["bob"]).status_code == 404  # fmt: skip
    bad = client.post("/api/v1/review/blog.example:d2/decision", json={"label": "maybe"},
                      headers=tokens["bob"])  # fmt: skip
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "label"


def test_bulk_decisions_report_each_item(
    client: FlaskClient, svc: Services, keys: dict[str, str], tokens: dict
) -> None:
    queue(client, keys["blog.example"], "e1", "e2", "e3")
    client.post("/api/v1/review/claim", json={"limit": 1}, headers=tokens["alice"])  # e1
    body = client.post(
        "/api/v1/review/decisions",
        json={"ids": ["blog.example:e1", "blog.example:e2", "blog.example:e3",
                      "blog.example:missing", "other.example:x"], "label": "spam"},
        headers=tokens["bob"],
    ).get_json()  # fmt: skip
    assert [r["ok"] for r in body["results"]] == [False, True, True, False, False]
    assert body["results"][0]["error"] == "conflict"
    assert body["results"][3]["error"] == "not_found"
    assert sorted(json.loads(e["fields"])["content"][-2:] for e in labels(svc)) == ["e2", "e3"]


def test_undo_within_the_window(
    client: FlaskClient, svc: Services, keys: dict[str, str], tokens: dict
) -> None:
    queue(client, keys["blog.example"], "u1", "u2")
    for item in ("u1", "u2"):
        client.post(f"/api/v1/review/blog.example:{item}/decision", json={"label": "spam"},
                    headers=tokens["alice"])  # fmt: skip
    assert client.post("/api/v1/review/blog.example:u1/undo",
                       headers=tokens["bob"]).status_code == 409  # not bob's  # fmt: skip
    undone = client.post("/api/v1/review/blog.example:u1/undo", headers=tokens["alice"])
    assert undone.status_code == 200
    items = client.get("/api/v1/review", headers=tokens["alice"]).get_json()["items"]
    assert [i["review_id"] for i in items] == ["blog.example:u1"]  # back, in its old place
    assert client.post("/api/v1/review/blog.example:u1/undo",
                       headers=tokens["alice"]).status_code == 409  # nothing to undo  # fmt: skip
    entries = labels(svc)
    assert [e.get("type") for e in entries] == ["label", "label", "retract"]
    assert entries[2]["retracts"] == entries[0]["event"]
    blog = {"Authorization": f"Bearer {keys['blog.example']}"}
    assert client.get("/api/v1/comments/u1", headers=blog).get_json()["status"] == "pending"

    time.sleep(UNDO + 0.1)
    late = client.post("/api/v1/review/blog.example:u2/undo", headers=tokens["root"])
    assert late.status_code == 409 and "window" in late.get_json()["error"]["message"]
    # Re-deciding after an undo is a new decision with a new label.
    client.post("/api/v1/review/blog.example:u1/decision", json={"label": "ham"},
                headers=tokens["alice"])  # fmt: skip
    assert [e["label"] for e in labels(svc)][-1] == "ham"


def test_history_is_the_audit_log(client: FlaskClient, keys: dict[str, str], tokens: dict) -> None:
    queue(client, keys["blog.example"], "h1")
    queue(client, keys["other.example"], "h2")
    client.post("/api/v1/review/blog.example:h1/decision", json={"label": "spam"},
                headers=tokens["alice"])  # fmt: skip
    client.post("/api/v1/review/other.example:h2/decision", json={"label": "ham"},
                headers=tokens["carol"])  # fmt: skip
    client.post("/api/v1/review/blog.example:h1/undo", headers=tokens["alice"])
    events = client.get("/api/v1/review/history", headers=tokens["root"]).get_json()["events"]
    assert [(e["type"], e["id"], e["moderator"]) for e in events] == [
        ("undo", "h1", "alice"), ("decision", "h2", "carol"), ("decision", "h1", "alice"),
    ]  # fmt: skip
    decision = events[2]
    assert decision["label"] == "spam" and decision["verdict"] == "review"
    assert 0 <= float(decision["score"]) <= 1 and decision["model_version"]
    alice = client.get("/api/v1/review/history", headers=tokens["alice"]).get_json()["events"]
    assert {e["site"] for e in alice} == {"blog.example"}
    older = client.get(f"/api/v1/review/history?before={events[0]['event']}&limit=1",
                       headers=tokens["root"]).get_json()["events"]  # fmt: skip
    assert [e["event"] for e in older] == [events[1]["event"]]


def test_eight_threads_never_claim_the_same_item(svc: Services, keys: dict[str, str]) -> None:
    records = [
        {"id": f"t{i:04d}", "guid": str(uuid.uuid4()), "site": "blog.example",
         "fields": {"content": f"item {i}"}, "score": 0.5, "verdict": "review",
         "discard": False, "source": "model", "model_version": None,
         "reasons": [{"code": "uncertain", "detail": "x"}], "checked_at": "2026-11-25T00:00:00"}
        for i in range(2000)
    ]  # fmt: skip
    for start in range(0, 2000, 500):
        svc.comments.save_many("blog.example", records[start : start + 500])
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        mod = Moderator(f"m{n}", admin=False, sites=frozenset({"blog.example"}), created_at=0)
        mine = claimed.setdefault(mod.name, [])
        try:
            while True:
                got = svc.review.claim(mod, ["blog.example"], 7, lease=300)
                if not got:
                    return
                mine.extend(got)
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    everything = [item for items in claimed.values() for item in items]
    assert len(everything) == 2000 and len(set(everything)) == 2000
    assert sum(1 for items in claimed.values() if items) > 1  # they really raced


def test_moderators_cli(app: Flask, svc: Services, keys: dict[str, str]) -> None:
    runner = app.test_cli_runner()
    made = runner.invoke(args=["moderators", "create", "zoe", "--sites", "blog.example",
                               "--password-stdin"], input=PASSWORD + "\n")  # fmt: skip
    assert made.exit_code == 0 and "created moderator zoe (blog.example)" in made.output
    short = runner.invoke(args=["moderators", "create", "yan", "--admin", "--password-stdin"],
                          input="short\n")  # fmt: skip
    assert short.exit_code == 1 and "password" in short.output
    scopeless = runner.invoke(args=["moderators", "create", "xi", "--password-stdin"],
                              input=PASSWORD + "\n")  # fmt: skip
    assert scopeless.exit_code == 2
    prompted = runner.invoke(args=["moderators", "create", "wu", "--admin"],
                             input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert prompted.exit_code == 0
    listed = runner.invoke(args=["moderators", "list"]).output.splitlines()
    assert listed == [
        "admin\tactive\tadmin (all sites)",  # made on the first start
        "wu\tactive\tadmin (all sites)",
        "zoe\tactive\tblog.example",
    ]
    assert runner.invoke(args=["moderators", "disable", "zoe"]).exit_code == 0
    assert "zoe\tdisabled" in runner.invoke(args=["moderators", "list"]).output
    assert runner.invoke(args=["moderators", "disable", "nobody"]).exit_code == 1


def test_undo_steps_back_once(client: FlaskClient, keys: dict[str, str], tokens: dict) -> None:
    """Found by make fuzz: ham, then spam, then undo restores "ham by a moderator"
    without the first decision's time; a second undo was a Lua error (503)."""
    queue(client, keys["blog.example"], "twice")
    for label in ("ham", "spam"):
        decided = client.post("/api/v1/review/blog.example:twice/decision",
                              json={"label": label}, headers=tokens["alice"])  # fmt: skip
        assert decided.status_code == 200
    assert client.post("/api/v1/review/blog.example:twice/undo",
                       headers=tokens["alice"]).status_code == 200  # fmt: skip
    again = client.post("/api/v1/review/blog.example:twice/undo", headers=tokens["alice"])
    assert again.status_code == 409 and again.get_json()["error"]["field"] == "id"
    blog = {"Authorization": f"Bearer {keys['blog.example']}"}
    assert client.get("/api/v1/comments/twice", headers=blog).get_json()["status"] == "ham"


@pytest.mark.parametrize(
    ("query", "field"),
    [("before=4-0232780588797429315824125", "before"),  # beyond 64 bits: was a 503
     ("before=%D9%A1", "before"),  # an Arabic-Indic digit passed str.isdigit: was a 503
     ("limit=%D9%A1", "limit"), ("limit=1.0", "limit"), ("limit=0", "limit")],
)  # fmt: skip
def test_history_refuses_what_is_not_an_event_id_or_limit(
    client: FlaskClient, tokens: dict, query: str, field: str
) -> None:
    answer = client.get(f"/api/v1/review/history?{query}", headers=tokens["root"])
    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == field
    assert (
        client.get("/api/v1/review/history?before=&limit=", headers=tokens["root"]).status_code
        == 200
    )


@pytest.mark.parametrize("before", ["0", "0-0", "00-0", "0000-000"])
def test_history_before_the_first_event_is_empty(
    client: FlaskClient, keys: dict[str, str], tokens: dict, before: str
) -> None:
    """Found by make fuzz: Redis refuses an exclusive end of 0-0 (was a 503)."""
    queue(client, keys["blog.example"], "b1")
    client.post("/api/v1/review/blog.example:b1/decision", json={"label": "spam"},
                headers=tokens["alice"])  # fmt: skip
    answer = client.get(f"/api/v1/review/history?before={before}", headers=tokens["root"])
    assert answer.status_code == 200 and answer.get_json()["events"] == []


@pytest.mark.parametrize("limit", ["5", 2.5, True, 0])
def test_claim_limit_is_a_json_whole_number(
    client: FlaskClient, tokens: dict, limit: object
) -> None:
    answer = client.post("/api/v1/review/claim", json={"limit": limit}, headers=tokens["root"])
    assert answer.status_code == 400 and answer.get_json()["error"]["field"] == "limit"
    assert client.post("/api/v1/review/claim", json={"limit": None},
                       headers=tokens["root"]).status_code == 200  # fmt: skip
