"""The background worker: spool replay and webhook delivery.

``python -m moderation worker`` (``make run`` starts one beside gunicorn).
Each round: replay the disk spool into Redis if anything is waiting, retry
the webhook deliveries that are due, and deliver new decisions - the last
step waits on the sites' event streams (a blocking Redis read), so an idle
worker costs nothing and a decision is sent within a moment. Any number of
workers may run: the consumer group hands each new event to one of them,
and retries are leased.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType

from moderation.errors import REDIS_ERRORS, RedisUnavailable
from moderation.services import Services
from moderation.webhooks import WebhookSender

log = logging.getLogger(__name__)

BLOCK_MS = 1000  # at most; always under the Redis socket timeout (REDIS_TIMEOUT)
OUTAGE_PAUSE = 2.0  # seconds between rounds while Redis is down


class Worker:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self.webhooks = WebhookSender(
            svc.settings, svc.redis, svc.keys, svc.sites, svc.metrics, consumer=self.name
        )
        self.stop = threading.Event()
        # A blocking read as long as the socket timeout raced it: "Timeout
        # reading", a warning and a pause that delayed webhooks.
        self.block_ms = max(10, min(BLOCK_MS, int(svc.settings.redis_timeout * 500)))

    def replay_spool(self) -> int:
        def save(domain: str, records: list[dict]) -> None:  # type: ignore[type-arg]
            stored = self.svc.comments.save_many(domain, records)
            self.svc.comments.weak_labels(domain, stored)

        return self.svc.spool.replay(save)

    def run_once(self, block_ms: int = 0) -> int:
        """One round; returns how much work it did (records replayed, events handled)."""
        done = self.replay_spool()
        done += self.webhooks.deliver_due()
        done += self.webhooks.deliver_new(block_ms)
        return done

    def run_forever(self) -> None:
        log.info("worker %s started", self.name)
        while not self.stop.is_set():
            try:
                if not self.webhooks.hooked_sites():
                    # Nothing to block on: no site has a webhook (yet).
                    self.replay_spool()
                    self.stop.wait(self.block_ms / 1000)
                    continue
                self.run_once(self.block_ms)
            except (*REDIS_ERRORS, RedisUnavailable) as exc:  # type: ignore[misc]
                log.warning("worker: Redis unavailable (%s); retrying", exc)
                self.stop.wait(OUTAGE_PAUSE)
        log.info("worker %s stopped", self.name)

    def handle_signals(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
