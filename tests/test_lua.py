"""Lua scripts in pipelines: one round trip, and nothing run twice when Redis
has lost its scripts (a restart, SCRIPT FLUSH)."""

from __future__ import annotations

import pytest
import redis

from moderation import lua
from moderation.lua import Lua
from moderation.services import Services
from moderation.settings import Settings

INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


def test_pipeline_sends_no_script_exists(svc: Services, settings: Settings) -> None:
    client = svc.redis
    script = Lua(client, INCR_BY)
    key = settings.redis_prefix + "lua:a"
    client.script_load(INCR_BY)
    before = client.info("commandstats").get("cmdstat_script", {}).get("calls", 0)
    pipe = client.pipeline(transaction=False)
    script.queue(pipe, [key], [2])
    script.queue(pipe, [key], [3])
    assert lua.execute(pipe) == [2, 5]
    after = client.info("commandstats").get("cmdstat_script", {}).get("calls", 0)
    assert after == before


def test_lost_scripts_are_loaded_and_only_failed_commands_sent_again(
    svc: Services, settings
) -> None:  # type: ignore[no-untyped-def]
    client = svc.redis
    script = Lua(client, INCR_BY)
    plain, scripted = settings.redis_prefix + "lua:plain", settings.redis_prefix + "lua:scripted"
    client.script_flush()
    pipe = client.pipeline(transaction=False)
    pipe.incr(plain)
    script.queue(pipe, [scripted], [10])
    pipe.incr(plain)
    script.queue(pipe, [scripted], [1])
    assert lua.execute(pipe) == [1, 10, 2, 11]
    assert client.get(plain) == "2"  # the plain commands ran once each
    assert client.get(scripted) == "11"


def test_other_errors_are_raised(svc: Services, settings: Settings) -> None:
    client = svc.redis
    script = Lua(client, INCR_BY)
    key = settings.redis_prefix + "lua:text"
    client.set(key, "not a number")
    pipe = client.pipeline(transaction=False)
    script.queue(pipe, [key], [1])
    with pytest.raises(redis.ResponseError):
        lua.execute(pipe)
