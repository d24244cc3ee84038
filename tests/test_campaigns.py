"""Campaigns and velocity: near-duplicates across sites, cluster decisions, bursts."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from moderation import create_app
from moderation.campaigns import MIN_SIMILARITY, signature, similarity
from moderation.policy import HAM, REVIEW, SPAM, Crowd, CrowdRules, decide, with_crowd
from moderation.services import Services
from moderation.settings import Settings
from moderation.velocity import VelocityCounter, bursts, identities
from training.cutoffs import Cutoffs

PASSWORD = "correct horse battery"
WAVE = (
    "Earn $500 a day from home with this simple trick, my cousin did it and quit "
    "her job last month. Visit http://easy-cash-home.biz/start now before it is gone!"
)
VARIANTS = [
    # reworded words
    WAVE.replace("simple", "easy").replace("cousin", "sister").replace("$500", "$700"),
    # another link
    WAVE.replace("http://easy-cash-home.biz/start", "https://bit.ly/3xCash"),
    # look-alike letters and invisible characters
    WAVE.replace("Earn", "Еаrn").replace("home", "h\u200bome").replace("trick", "trісk"),
    # added emoji and shouting punctuation
    "🔥🔥 " + WAVE.replace("!", "!!! 💰💰💰"),
]
UNRELATED = (
    "I tried your sourdough recipe over the weekend and the crust came out great, "
    "but the crumb was a bit dense. Should I let it proof longer?"
)


def test_variants_sign_alike_and_unrelated_text_does_not() -> None:
    base = signature(WAVE)
    assert base is not None
    for variant in VARIANTS:
        sig = signature(variant)
        assert sig is not None and similarity(base, sig) >= MIN_SIMILARITY, variant
    other = signature(UNRELATED)
    assert other is not None and similarity(base, other) < 0.1
    assert signature("Nice post, thanks!") is None  # too short to tell a campaign


def test_variants_land_in_one_cluster_across_sites(svc: Services) -> None:
    items = [("a.example", "1", signature(WAVE))]
    items += [(f"{s}.example", str(i), signature(v))
              for i, (s, v) in enumerate(zip("bcde", VARIANTS, strict=True), 2)]  # fmt: skip
    items.append(("a.example", "9", signature(UNRELATED)))
    found = [svc.campaigns.observe([item], now=1000.0 + i)[0] for i, item in enumerate(items)]
    wave = {c.cluster for c in found[:5] if c}
    assert len(wave) == 1
    last = found[4]
    assert last is not None and (last.size, last.sites, last.last_hour) == (5, 5, 5)
    assert found[5] is not None and found[5].cluster not in wave and found[5].size == 1
    # The same comment seen again is not a new member.
    again = svc.campaigns.observe([("a.example", "1", signature(WAVE))], now=1010.0)[0]
    assert again is not None and again.size == 5


CUT = Cutoffs(0.2, 0.8, 0.97)
RULES = CrowdRules(growth=5, growth_sites=2, boost=2.0)


@pytest.mark.parametrize(
    ("score", "crowd", "verdict", "code"),
    [
        (0.1, Crowd(cluster_size=3, sites=2, confirmed_spam=1), SPAM, "campaign"),
        (0.5, Crowd(cluster_size=3, sites=2, confirmed_spam=1, confirmed_ham=1), REVIEW,
         "uncertain"),  # a person disagreed: no rule
        (0.5, Crowd(cluster_size=9, sites=3, last_hour=9), SPAM, "campaign_growth"),  # 0.5 -> 0.88
        (0.5, Crowd(cluster_size=9, sites=1, last_hour=9), REVIEW, "uncertain"),  # one site
        (0.1, Crowd(bursts=("9 comments from this IP address in the last minute",)), REVIEW,
         "velocity"),
        (0.9, Crowd(bursts=("burst",)), SPAM, "token"),  # spam stays spam
        (0.1, Crowd(cluster_size=2, sites=1), HAM, "token"),
    ],
)  # fmt: skip
def test_crowd_policy(score: float, crowd: Crowd, verdict: str, code: str) -> None:
    decision = decide(score, CUT, (), ({"code": "token", "detail": "x", "weight": 1.0},))
    settled, new_score = with_crowd(decision, score, CUT, crowd, RULES)
    assert settled.verdict == verdict
    assert settled.reasons[0]["code"] == code
    if code == "campaign_growth":
        assert new_score is not None and new_score > score


def test_campaign_detail_names_the_signal() -> None:
    decision = decide(0.3, CUT, (), ())
    crowd = Crowd(cluster_size=38, sites=5, confirmed_spam=12, age_seconds=7200)
    settled, _ = with_crowd(decision, 0.3, CUT, crowd, RULES)
    assert settled.reasons[0]["detail"] == (
        "same text as 37 comments on 5 sites in 2 hours, 12 already marked spam"
    )


def test_velocity_windows_slide_and_expire(svc: Services) -> None:
    counter = VelocityCounter(svc.redis, svc.settings.redis_prefix, b"secret")
    who = {"ip": "203.0.113.9", "site": "blog.example"}

    def at(t: float, n: int) -> dict:
        return counter.count([(f"c{n}", who)], now=t)[0]

    assert at(0, 1)["ip"] == (1, 1, 1)
    assert at(30, 2)["ip"] == (2, 2, 2)
    assert at(70, 3)["ip"] == (2, 3, 3)  # the first left the minute
    assert at(3700, 4)["ip"] == (1, 1, 4)  # only itself within the hour
    assert at(86500, 5)["ip"] == (1, 1, 2)  # only t=3700 is still within the day
    keys = [k for k in svc.redis.scan_iter(match=f"{svc.settings.redis_prefix}*velocity*")]
    assert keys and all("203.0.113.9" not in k for k in keys)
    for key in keys:
        assert all("203.0.113.9" not in m for m in svc.redis.zrange(key, 0, -1))
    limits = {"ip": (5, 30, 200), "site": (100, 1000, 10000)}
    assert bursts({"ip": (6, 6, 6), "site": (6, 6, 6)}, limits)[0].detail() == (
        "6 comments from this IP address in the last minute"
    )
    assert identities({"author_email": "A@Gmail.com", "author_url": "http://x.shop.co.uk/a"},
                      "b.example") == {"site": "b.example", "email": "a@gmail.com",
                                       "url_domain": "shop.co.uk"}  # fmt: skip


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings.replace(velocity_limits=(("ip", (3, 30, 200)),)))


@pytest.fixture
def wave_setup(client: FlaskClient, svc: Services) -> dict[str, dict[str, str]]:
    headers = {}
    for domain in ("a.example", "b.example", "c.example"):
        key = svc.sites.create(domain)
        svc.sites.set_cutoffs(domain, ham_below=0.0, spam_above=1.0)  # the model never decides
        headers[domain] = {"Authorization": f"Bearer {key}"}
    svc.moderators.create("root", PASSWORD, admin=True)
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD})
    headers["mod"] = {"Authorization": f"Bearer {token.get_json()['token']}"}
    return headers


def check(client: FlaskClient, headers: dict, comment_id: str, content: str, **more: str) -> dict:
    body = client.post("/api/v1/comments/check", json={"id": comment_id, "content": content,
                       **more}, headers=headers)  # fmt: skip
    assert body.status_code == 200
    return body.get_json()


def test_one_human_spam_decision_catches_the_rest_of_the_wave(
    client: FlaskClient, svc: Services, wave_setup: dict
) -> None:
    first = check(client, wave_setup["a.example"], "w1", WAVE)
    assert first["verdict"] == "review"
    decided = client.post("/api/v1/review/a.example:w1/decision", json={"label": "spam"},
                          headers=wave_setup["mod"])  # fmt: skip
    assert decided.status_code == 200
    caught = [check(client, wave_setup[s], f"w{i}", v)
              for i, (s, v) in enumerate(zip(["b.example", "c.example", "a.example",
                                              "b.example"], VARIANTS, strict=True), 2)]  # fmt: skip
    assert [c["verdict"] for c in caught] == ["spam"] * 4
    reason = caught[-1]["reasons"][0]
    assert reason["code"] == "campaign" and "1 already marked spam" in reason["detail"]
    assert check(client, wave_setup["c.example"], "x1", UNRELATED)["verdict"] == "review"


def test_a_human_ham_in_the_cluster_stops_the_rule(
    client: FlaskClient, svc: Services, wave_setup: dict
) -> None:
    check(client, wave_setup["a.example"], "w1", WAVE)
    check(client, wave_setup["b.example"], "w2", VARIANTS[0])
    for item, label in (("a.example:w1", "spam"), ("b.example:w2", "ham")):
        client.post(f"/api/v1/review/{item}/decision", json={"label": label},
                    headers=wave_setup["mod"])  # fmt: skip
    assert check(client, wave_setup["c.example"], "w3", VARIANTS[1])["verdict"] == "review"


def test_cluster_decision_decides_every_member_once_and_undoes_the_lot(
    client: FlaskClient, svc: Services, wave_setup: dict
) -> None:
    sites = ["a.example", "b.example", "c.example"]
    texts = [WAVE, *VARIANTS[:2]]
    items = [
        check(client, wave_setup[s], f"w{i}", t)
        for i, (s, t) in enumerate(zip(sites, texts, strict=True))
    ]
    listed = client.get("/api/v1/review", headers=wave_setup["mod"]).get_json()["items"]
    clusters = {i["cluster"]["id"] for i in listed}
    assert len(clusters) == 1 and all(i["cluster"]["size"] == 3 for i in listed)
    cluster = clusters.pop()
    assert items[0]["review_id"] == "a.example:w0"
    result = client.post(f"/api/v1/review/clusters/{cluster}/decision", json={"label": "spam"},
                         headers=wave_setup["mod"]).get_json()  # fmt: skip
    assert sorted(r["review_id"] for r in result["results"] if r["ok"]) == [
        "a.example:w0", "b.example:w1", "c.example:w2"]  # fmt: skip
    labels = [e for _, e in svc.redis.xrange(svc.keys.labels())]
    assert len(labels) == 3 and {e["label"] for e in labels} == {"spam"}
    again = client.post(f"/api/v1/review/clusters/{cluster}/decision", json={"label": "spam"},
                        headers=wave_setup["mod"]).get_json()  # fmt: skip
    assert again["results"] == []  # nothing pending any more: each decided once
    history = client.get("/api/v1/review/history", headers=wave_setup["mod"]).get_json()["events"]
    assert sorted(e["id"] for e in history if e["type"] == "decision") == ["w0", "w1", "w2"]

    undone = client.post(f"/api/v1/review/clusters/{cluster}/undo", headers=wave_setup["mod"])
    assert sorted(undone.get_json()["undone"]) == ["a.example:w0", "b.example:w1", "c.example:w2"]
    depth = client.get("/api/v1/review", headers=wave_setup["mod"]).get_json()["depth"]
    assert sum(depth.values()) == 3
    retractions = [e for _, e in svc.redis.xrange(svc.keys.labels()) if e["type"] == "retract"]
    assert len(retractions) == 3
    # Undone, the cluster has no confirmed spam any more: the next variant is not caught.
    assert check(client, wave_setup["a.example"], "w9", VARIANTS[2])["verdict"] == "review"
    assert client.post(f"/api/v1/review/clusters/{cluster}/undo",
                       headers=wave_setup["mod"]).status_code == 409  # fmt: skip


def test_a_velocity_burst_goes_to_review(client: FlaskClient, svc: Services) -> None:
    key = svc.sites.create("blog.example")
    svc.sites.set_cutoffs("blog.example", ham_below=0.99, spam_above=1.0)  # all ham by score
    headers = {"Authorization": f"Bearer {key}"}
    verdicts = [check(client, headers, f"v{i}", f"Comment number {i} about the weather here",
                      user_ip="198.51.100.4")["verdict"] for i in range(5)]  # fmt: skip
    assert verdicts == ["ham", "ham", "ham", "review", "review"]
    stored = svc.comments.get("blog.example", "v4").record
    assert stored["reasons"][0]["code"] == "velocity"
    assert stored["velocity"]["ip"] == [5, 5, 5]
    other = check(client, headers, "v9", "A comment from someone else entirely here",
                  user_ip="198.51.100.5")  # fmt: skip
    assert other["verdict"] == "ham"
