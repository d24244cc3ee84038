"""Model artifacts on disk: write, promote, and load only what checks out.

Layout under a models directory::

    <version>/model.joblib     the pickled SpamModel
    <version>/manifest.json    what it is and what it needs (below)
    CURRENT                    the promoted version, replaced atomically

A pickle runs code when it is loaded and is only valid for the library
versions that wrote it (scikit-learn's persistence guidance). So the manifest
records the format version, Python and library versions, the featurizer
version, the data fingerprint, the code revision, metrics, cutoffs and the
sha256 of ``model.joblib``; :func:`load` checks all of it *before* unpickling
and raises :class:`ArtifactError` saying what did not match. Only artifacts
from a models directory the operator controls are ever loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy
import scipy
import sklearn

from moderation.errors import ArtifactError
from training.cutoffs import Cutoffs
from training.features import FEATURIZER_VERSION
from training.model import SpamModel

FORMAT_VERSION = 1
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "CURRENT"
_VERSION_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class LoadedArtifact:
    version: str
    model: SpamModel
    cutoffs: Cutoffs
    manifest: dict[str, Any]


def runtime_versions() -> dict[str, str]:
    """What a pickle depends on; an artifact loads only where these match."""
    return {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
    }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def code_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def save(
    model: SpamModel,
    out_dir: Path,
    *,
    cutoffs: Cutoffs,
    metrics: dict[str, Any],
    data: dict[str, Any],
) -> str:
    """Write a new version folder; returns the version (not yet promoted)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{data['fingerprint'][:6]}"
    version, n = base, 1
    while (out_dir / version).exists():
        n += 1
        version = f"{base}-{n}"
    # Build in a temporary sibling and rename: a half-written version never
    # appears under its final name.
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    joblib.dump(model, staging / MODEL_FILE)
    manifest = {
        "format_version": FORMAT_VERSION,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "featurizer_version": FEATURIZER_VERSION,
        "runtime": runtime_versions(),
        "code_revision": code_revision(),
        "data": data,
        "metrics": metrics,
        "cutoffs": cutoffs.as_dict(),
        "sha256": sha256_file(staging / MODEL_FILE),
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.rename(staging, out_dir / version)
    return version


def promote(models_dir: Path, version: str) -> None:
    """Point CURRENT at ``version`` atomically (write a temp file, then rename)."""
    check_version_name(version)
    if not (models_dir / version / MANIFEST_FILE).is_file():
        raise ArtifactError(f"no model version {version!r} in {models_dir}")
    fd, tmp = tempfile.mkstemp(prefix=".current-", dir=models_dir)
    with os.fdopen(fd, "w") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, models_dir / POINTER_FILE)


def current_version(models_dir: Path) -> str | None:
    try:
        version = (models_dir / POINTER_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return version or None


def check_version_name(version: str) -> None:
    if not _VERSION_RE.match(version):
        raise ArtifactError(f"bad model version name {version!r}")


def read_manifest(models_dir: Path, version: str) -> dict[str, Any]:
    check_version_name(version)
    path = models_dir / version / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable ({exc})") from exc
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path}: not a JSON object")
    return manifest


def verify(models_dir: Path, version: str, manifest: dict[str, Any]) -> None:
    """Raise ArtifactError unless the manifest matches this runtime and the file."""
    where = models_dir / version
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{where}: format {manifest.get('format_version')!r}, this code reads {FORMAT_VERSION}"
        )
    if manifest.get("version") != version:
        raise ArtifactError(f"{where}: manifest names version {manifest.get('version')!r}")
    if manifest.get("featurizer_version") != FEATURIZER_VERSION:
        raise ArtifactError(
            f"{where}: featurizer {manifest.get('featurizer_version')!r},"
            f" this code has {FEATURIZER_VERSION}"
        )
    wanted = manifest.get("runtime") or {}
    for name, have in runtime_versions().items():
        if wanted.get(name) != have:
            raise ArtifactError(
                f"{where}: written with {name} {wanted.get(name)!r}, running {have!r}; retrain"
            )
    model_path = where / MODEL_FILE
    if not model_path.is_file():
        raise ArtifactError(f"{model_path}: missing")
    if sha256_file(model_path) != manifest.get("sha256"):
        raise ArtifactError(f"{model_path}: sha256 does not match the manifest (tampered?)")
    try:
        cutoffs = manifest["cutoffs"]
        Cutoffs(float(cutoffs["ham_below"]), float(cutoffs["spam_above"]),
                float(cutoffs["discard_above"]))  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{where}: manifest cutoffs malformed ({exc})") from exc


def load(models_dir: Path, version: str | None = None) -> LoadedArtifact:
    """Load ``version`` (default: CURRENT) after verifying its manifest."""
    version = version or current_version(models_dir)
    if version is None:
        raise ArtifactError(f"{models_dir}: no current model (run: python -m training train)")
    manifest = read_manifest(models_dir, version)
    verify(models_dir, version, manifest)
    model = joblib.load(models_dir / version / MODEL_FILE)
    if not isinstance(model, SpamModel):
        raise ArtifactError(f"{models_dir / version}: not a SpamModel")
    c = manifest["cutoffs"]
    cutoffs = Cutoffs(float(c["ham_below"]), float(c["spam_above"]), float(c["discard_above"]))
    return LoadedArtifact(version, model, cutoffs, manifest)
