"""The model a worker serves, swapped in without a restart when CURRENT changes.

Each worker checks the pointer at most every ``MODEL_RELOAD_SECONDS`` (one
small file read) and loads a new version through the verifying loader. A
version the loader refuses is logged and reported by /readyz; the worker keeps
serving the model it had (or none: then every comment goes to review) and does
not retry the refused version until the pointer changes again.

With a shared Redis (a :class:`~moderation.model_store.ModelStore`), the
version Redis names comes first: one GET per reload interval, and a fetch
only when it changed. When Redis cannot be reached, names nothing yet, or names a version
that does not check out here, the local CURRENT is served as before; the last
case is reported and not fetched again until Redis names another version.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from moderation.errors import REDIS_ERRORS, ArtifactError, RedisUnavailable
from moderation.model_store import ModelStore
from training import artifact
from training.artifact import LoadedArtifact

log = logging.getLogger(__name__)


class CurrentModel:
    def __init__(
        self, models_dir: Path, reload_seconds: float, store: ModelStore | None = None
    ) -> None:
        self.models_dir = models_dir
        self.reload_seconds = reload_seconds
        self.store = store
        self.loaded: LoadedArtifact | None = None
        self._local_error: str | None = None
        self._remote_error: str | None = None
        self._refused: str | None = None
        self._refused_remote: tuple[str, str] | None = None  # (version, why)
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> LoadedArtifact | None:
        if time.monotonic() - self._checked_at >= self.reload_seconds:
            self.refresh()
        return self.loaded

    @property
    def version(self) -> str | None:
        return self.loaded.version if self.loaded else None

    @property
    def error(self) -> str | None:
        """Why the promoted model is not the one served (for /readyz), or None."""
        return "; ".join(e for e in (self._remote_error, self._local_error) if e) or None

    def refresh(self) -> None:
        with self._lock:
            self._checked_at = time.monotonic()
            if self.store is not None:
                self._remote_error = self._sync(self.store)
            self._load_local()

    def _sync(self, store: ModelStore) -> str | None:
        """Point the local CURRENT at the version Redis names; the reason it was not, or None."""
        version = None
        try:
            version = store.current()
            if version is None:
                return None  # nothing published yet: the local CURRENT rules
            if self._refused_remote and self._refused_remote[0] == version:
                return self._refused_remote[1]
            store.install(version)
        except (*REDIS_ERRORS, RedisUnavailable) as exc:  # type: ignore[misc]
            problem = f"cannot ask Redis for the current model ({exc}); serving the local CURRENT"
        except ArtifactError as exc:
            problem = f"refused model {version} from Redis: {exc}"
            self._refused_remote = (str(version), problem)
        except OSError as exc:  # disk full, permissions: tried again at the next check
            problem = f"cannot install model {version} from Redis: {exc}"
        else:
            self._refused_remote = None
            return None
        if problem != self._remote_error:  # once, not at every check
            log.error("%s; still serving %s", problem, self.version or "no model")
        return problem

    def _load_local(self) -> None:
        try:
            version = artifact.current_version(self.models_dir)
        except OSError as exc:
            self._local_error = f"cannot read {self.models_dir}: {exc}"
            return
        if version is None:
            if self.loaded is None:
                self._local_error = f"no model in {self.models_dir} (run: python -m training train)"
            return
        if version in (self.version, self._refused):
            return
        try:
            self.loaded = artifact.load(self.models_dir, version)
        except (ArtifactError, OSError, ValueError) as exc:
            self._refused = version
            self._local_error = f"refused model {version}: {exc}"
            log.error("%s; still serving %s", self._local_error, self.version or "no model")
            return
        self._local_error = None
        self._refused = None
        log.info("serving model %s", version)
