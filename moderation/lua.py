"""Lua scripts called by their SHA, in pipelines without an extra round trip.

redis-py sends ``SCRIPT EXISTS`` before every pipeline that holds a
``Script`` call: on the scoring path that was a second round trip for each
pipeline (the campaign and velocity step, the save). Here a pipeline carries
plain ``EVALSHA`` commands, and :func:`execute` handles the one case that
needs the source - Redis restarted or flushed its scripts (``NOSCRIPT``) - by
loading the scripts that failed and sending again only the commands that
failed, so nothing that succeeded runs twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.client import Pipeline
from redis.cluster import ClusterPipeline
from redis.exceptions import NoScriptError

# SHA -> source of every script made here (the same few for the whole process).
_SOURCES: dict[str, str] = {}


class Lua:
    def __init__(self, client: redis.Redis, source: str) -> None:
        self._script = client.register_script(source)
        self.sha: str = self._script.sha
        _SOURCES[self.sha] = source

    def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run it now (redis-py loads it on NOSCRIPT)."""
        return self._script(keys=keys, args=args)

    def queue(self, pipe: Pipeline[Any], keys: Sequence[Any], args: Sequence[Any]) -> None:
        """Add a call to ``pipe``; run the pipeline with :func:`execute`."""
        # execute_command, not pipe.evalsha: a ClusterPipeline refuses the
        # method (redis-py cannot tell its keys) but routes the command by
        # its declared keys like any other.
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


def execute(pipe: Pipeline[Any]) -> list[Any]:
    """``pipe.execute()`` for pipelines holding :meth:`Lua.queue` calls: one
    round trip, unless Redis has lost the scripts; raises the first error."""
    if not len(pipe):
        return []
    stack = _queued(pipe)
    results: list[Any] = pipe.execute(raise_on_error=False)
    missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
    if missing:  # the pipeline is empty again after execute(): reuse it
        # EVAL with the source (which also caches it) rather than SCRIPT
        # LOAD: on a cluster, SCRIPT LOAD names no key to route it by.
        for i in missing:
            command = _args(stack[i])
            pipe.execute_command("EVAL", _SOURCES[command[1]], *command[2:])
        again = pipe.execute(raise_on_error=False)
        for i, result in zip(missing, again, strict=True):
            results[i] = result
    for result in results:
        if isinstance(result, redis.RedisError):
            raise result
    return results


def _queued(pipe: Pipeline[Any]) -> list[Any]:
    """The commands queued in ``pipe`` (a shallow copy: execute() empties it).
    redis-py keeps them in ``command_stack`` on a Pipeline, in its execution
    strategy's queue on a ClusterPipeline (whose ``command_stack`` stays empty)."""
    if isinstance(pipe, ClusterPipeline):
        return list(pipe._execution_strategy.command_queue)
    return list(pipe.command_stack)


def _args(command: Any) -> tuple[Any, ...]:
    """A queued command's arguments: (args, options) on a Pipeline, a
    PipelineCommand on a ClusterPipeline. Read only for a NOSCRIPT resend."""
    return tuple(command.args if hasattr(command, "args") else command[0])
