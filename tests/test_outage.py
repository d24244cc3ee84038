"""A Redis outage while comments are being checked: answered, spooled, replayed once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from moderation import create_app
from moderation.redis_server import EmbeddedRedis
from moderation.services import Services
from moderation.settings import Settings
from moderation.spool import Spool
from moderation.worker import Worker
from tests.conftest import HAM_COMMENT


def test_comments_checked_while_redis_is_down_reach_the_queue_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    # A Redis of our own (embedded, with its AOF) that this test can stop and start.
    own = settings.replace(redis_url=None, var_dir=tmp_path / "var", redis_timeout=0.2)
    app = create_app(own)
    svc: Services = app.extensions["moderation"]
    client = app.test_client()
    blog = {"Authorization": f"Bearer {svc.sites.create('blog.example')}"}
    svc.sites.set_cutoffs("blog.example", ham_below=0.0, spam_above=1.0)
    before = client.post("/api/v1/comments/check", json={"id": "before", **HAM_COMMENT},
                         headers=blog)  # fmt: skip
    assert before.status_code == 200  # the key is now known to this process
    assert "X-Moderation-Degraded" not in before.headers

    server = EmbeddedRedis(own.redis_dir)
    server.stop(only_if_unused=False)
    answers = []
    for comment_id in ("o1", "o2", "o3", "o2"):  # o2 sent twice: a client retry
        response = client.post("/api/v1/comments/check",
                               json={"id": comment_id, "content": f"outage {comment_id}"},
                               headers=blog)  # fmt: skip
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["X-Moderation-Degraded"] == "storage"
        answers.append(response.get_json())
    anonymous = client.post("/api/v1/comments/check", json={"content": "no id"}, headers=blog)
    assert anonymous.status_code == 200
    assert [a["verdict"] for a in answers] == ["review"] * 4
    assert Spool(own.spool_dir).size() == 5
    assert client.get("/readyz").get_json()["spool"] == {"records": 5}
    unknown = client.post("/api/v1/comments/check", json=HAM_COMMENT,
                          headers={"Authorization": "Bearer mk_never-seen"})  # fmt: skip
    assert unknown.status_code == 503  # a key never seen cannot be checked without Redis

    server.ensure_running()
    replayed_at = time.time()
    worker = Worker(svc)
    assert worker.replay_spool() == 5
    assert Spool(own.spool_dir).size() == 0 and Spool(own.spool_dir).files() == []
    pending = svc.redis.zrange(svc.keys.pending("blog.example"), 0, -1)
    anonymous_id = anonymous.get_json()["id"]
    assert sorted(pending) == sorted(["before", "o1", "o2", "o3", anonymous_id])
    for comment_id in ("o1", "o2", "o3"):
        stored = svc.comments.get("blog.example", comment_id)
        assert stored.record["fields"]["content"] == f"outage {comment_id}"
        # Queued as of its check during the outage, not as of the replay.
        assert float(stored.extra["queued_at"]) < replayed_at
    assert worker.replay_spool() == 0  # nothing twice
    svc.redis.connection_pool.disconnect()
    server.stop(only_if_unused=False)


def test_replay_waits_for_redis_and_keeps_the_spool(settings: Settings, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append("blog.example", [{"id": "a"}, {"id": "b"}])
    spool.append("other.example", [{"id": "c"}])
    (tmp_path / "spool" / "spool-999.jsonl").write_text('{"site": "x", "record": {"id"')
    seen: list[tuple[str, list]] = []

    def down(domain: str, records: list) -> None:
        from moderation.errors import RedisUnavailable

        raise RedisUnavailable("still down")

    assert spool.replay(down) == 0
    assert spool.size() == 4
    assert spool.replay(lambda d, r: seen.append((d, r))) == 3  # the torn line is skipped
    assert sorted(d for d, _ in seen) == ["blog.example", "other.example"]
    assert spool.files() == []


def test_records_appended_while_a_replay_takes_the_file_are_not_lost(tmp_path: Path) -> None:
    # Web workers keep spooling while the background worker replays (Redis
    # back for some, or flapping). A writer that opened the file just before
    # a replay renamed it must not append to the renamed file after the
    # replay has read it: the replay deletes it.
    spool = Spool(tmp_path / "spool")
    replayed: list[str] = []
    writing = threading.Event()
    writing.set()

    def write(writer: int) -> None:
        for i in range(300):
            spool.append("blog.example", [{"id": f"{writer}-{i}"}])

    def replay() -> None:
        while writing.is_set():
            spool.replay(lambda d, records: replayed.extend(r["id"] for r in records))

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    replayer = threading.Thread(target=replay)
    replayer.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    replayer.join()
    spool.replay(lambda d, records: replayed.extend(r["id"] for r in records))
    assert len(replayed) == len(set(replayed)) == 4 * 300
    assert spool.files() == []
