"""The model a worker serves, swapped in without a restart when CURRENT changes.

Each worker checks the pointer at most every ``MODEL_RELOAD_SECONDS`` (one
small file read) and loads a new version through the verifying loader. A
version the loader refuses is logged and reported by /readyz; the worker keeps
serving the model it had (or none: then every comment goes to review) and does
not retry the refused version until the pointer changes again.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from moderation.errors import ArtifactError
from training import artifact
from training.artifact import LoadedArtifact

log = logging.getLogger(__name__)


class CurrentModel:
    def __init__(self, models_dir: Path, reload_seconds: float) -> None:
        self.models_dir = models_dir
        self.reload_seconds = reload_seconds
        self.loaded: LoadedArtifact | None = None
        self.error: str | None = None
        self._refused: str | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> LoadedArtifact | None:
        if time.monotonic() - self._checked_at >= self.reload_seconds:
            self.refresh()
        return self.loaded

    @property
    def version(self) -> str | None:
        return self.loaded.version if self.loaded else None

    def refresh(self) -> None:
        with self._lock:
            self._checked_at = time.monotonic()
            try:
                version = artifact.current_version(self.models_dir)
            except OSError as exc:
                self.error = f"cannot read {self.models_dir}: {exc}"
                return
            if version is None:
                if self.loaded is None:
                    self.error = f"no model in {self.models_dir} (run: python -m training train)"
                return
            if version in (self.version, self._refused):
                return
            try:
                self.loaded = artifact.load(self.models_dir, version)
            except (ArtifactError, OSError, ValueError) as exc:
                self._refused = version
                self.error = f"refused model {version}: {exc}"
                log.error("%s; still serving %s", self.error, self.version or "no model")
                return
            self.error = None
            self._refused = None
            log.info("serving model %s", version)
