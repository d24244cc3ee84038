"""Promoted models shared through Redis, so every node serves the same one.

Each node keeps its models on its own disk (``training.artifact``). Promoting
on any node also *publishes* the version: its manifest and model file go into
Redis with a signature, and ``{models}:current`` names it. Every worker asks
Redis which version is current once per ``MODEL_RELOAD_SECONDS``; a version
missing on its disk is fetched, checked, written beside the others and made
the local CURRENT, after which the usual verifying loader takes over.

Only a deployment whose Redis is shared publishes: with the embedded server
each machine is on its own, and its models directory is the whole truth.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from redis import Redis

from moderation import secret_key
from moderation.errors import ArtifactError
from moderation.keys import Keys
from moderation.settings import Settings
from training import artifact
from training.artifact import MANIFEST_FILE, MODEL_FILE

DEFAULT_KEEP = 5  # published versions kept in Redis (a model is a few MB)


def for_deployment(
    settings: Settings, client: Redis, models_dir: Path | None = None
) -> ModelStore | None:
    """The deployment's store when its Redis is shared (``REDIS_URL``); None
    with the embedded server: one machine, its models directory the truth."""
    if settings.embedded_redis:
        return None
    return ModelStore(client, Keys(settings.redis_prefix), models_dir or settings.models_dir,
                      secret_key.load(settings))  # fmt: skip


def promote(models_dir: Path, version: str, store: ModelStore | None) -> None:
    """Make ``version`` current: on every node through ``store``, or on this one."""
    if store is not None:
        store.promote(version)
    else:
        artifact.promote(models_dir, version)


class ModelStore:
    def __init__(
        self, client: Redis, keys: Keys, models_dir: Path, secret: bytes, keep: int = DEFAULT_KEEP
    ) -> None:
        self.client = client
        self.keys = keys
        self.models_dir = models_dir
        self.keep = max(1, keep)
        # The model is a pickle: loading one runs whatever code it carries. The
        # signature (over the manifest, which holds the model file's sha256) is
        # what keeps "can write to Redis" from becoming "runs code on every
        # node". Its key is derived from SECRET_KEY rather than SECRET_KEY
        # itself because HMAC(SECRET_KEY, <text a commenter chose>) is already
        # stored in Redis (the e-mail and IP hashes of velocity and privacy): a
        # key of its own means those can never double as model signatures.
        self._signing_key = hashlib.sha256(b"model-store signing key\x00" + secret).digest()

    def sign(self, manifest: bytes) -> str:
        return hmac.new(self._signing_key, manifest, hashlib.sha256).hexdigest()

    def current(self) -> str | None:
        """The version Redis names as current, or None before the first publication."""
        version = self.client.get(self.keys.model_current())
        return str(version) if version else None

    def promote(self, version: str) -> None:
        """Make a version of the local models directory current everywhere.

        Published first: if Redis fails, nothing changed anywhere (the other
        order would leave this node alone on the new version until its next sync).
        """
        self.publish(version)
        artifact.promote(self.models_dir, version)

    def publish(self, version: str) -> None:
        """Put a local version into Redis and name it current; prune the oldest."""
        manifest = artifact.read_manifest(self.models_dir, version)  # checks the name too
        artifact.verify(self.models_dir, version, manifest)  # publish only what loads here
        folder = self.models_dir / version
        manifest_bytes = (folder / MANIFEST_FILE).read_bytes()
        model = base64.b64encode((folder / MODEL_FILE).read_bytes()).decode("ascii")
        published = list(self.client.zrange(self.keys.model_versions(), 0, -1))
        newest_last = [v for v in published if v != version] + [version]
        old = newest_last[: max(0, len(newest_last) - self.keep)]  # never ``version``
        # One MULTI (all keys share the {models} slot, so it runs on a cluster
        # too): nobody reads "current" naming a version whose hash is not there.
        # Two publications racing may leave one extra hash behind until the
        # next pruning; neither can delete the version it names current.
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            self.keys.model_artifact(version),
            mapping={
                "manifest": manifest_bytes.decode("utf-8"),
                "model": model,
                "signature": self.sign(manifest_bytes),
            },
        )
        pipe.set(self.keys.model_current(), version)
        pipe.zadd(self.keys.model_versions(), {version: time.time()})
        if old:
            pipe.zrem(self.keys.model_versions(), *old)
            pipe.delete(*(self.keys.model_artifact(v) for v in old))
        pipe.execute()

    def fetch(self, version: str) -> None:
        """Write a published version into the local models directory.

        Raises ArtifactError when Redis does not have it or it does not check
        out. A version already on disk is kept as it is.
        """
        artifact.check_version_name(version)  # before it becomes a path
        fields = self.client.hgetall(self.keys.model_artifact(version))
        if not fields:
            raise ArtifactError(f"model {version} is named current but is not in Redis")
        manifest = str(fields.get("manifest", "")).encode("utf-8")
        signature = str(fields.get("signature", ""))
        if not signature or not hmac.compare_digest(signature, self.sign(manifest)):
            raise ArtifactError(
                f"model {version} in Redis has a missing or wrong signature; not loading it"
                " (tampered, or published with another SECRET_KEY?)"
            )
        try:
            model = base64.b64decode(str(fields.get("model", "")), validate=True)
            wanted = json.loads(manifest)
        except (binascii.Error, ValueError) as exc:
            raise ArtifactError(f"model {version} in Redis is malformed ({exc})") from exc
        # The loader checks these again; checked here too so that a bad copy
        # never lands on disk under the version's name (it would stay there).
        if not isinstance(wanted, dict) or wanted.get("version") != version:
            raise ArtifactError(f"model {version} in Redis: its manifest names another version")
        if hashlib.sha256(model).hexdigest() != wanted.get("sha256"):
            raise ArtifactError(f"model {version} in Redis: sha256 does not match its manifest")
        target = self.models_dir / version
        if target.exists():
            return
        self.models_dir.mkdir(parents=True, exist_ok=True)
        # Written in a sibling, then renamed: a half-written version is never
        # seen. Workers of one node may fetch together; the first rename wins.
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=self.models_dir))
        try:
            (staging / MODEL_FILE).write_bytes(model)
            (staging / MANIFEST_FILE).write_bytes(manifest)
            try:
                os.rename(staging, target)
            except OSError:
                if not target.exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def install(self, version: str) -> None:
        """Make ``version`` (named by Redis) the local CURRENT, fetching it if missing.

        The local pointer moves only to a version that verifies here (sha256,
        library versions): a node that cannot load it keeps its CURRENT, so a
        restarted worker still finds the model it was serving.
        """
        if artifact.current_version(self.models_dir) == version:
            return
        if not (self.models_dir / version / MANIFEST_FILE).is_file():
            self.fetch(version)
        artifact.verify(self.models_dir, version, artifact.read_manifest(self.models_dir, version))
        artifact.promote(self.models_dir, version)

    def sync(self) -> str | None:
        """Follow Redis: the current version, installed locally; None if none is published."""
        version = self.current()
        if version is not None:
            self.install(version)
        return version
