"""Model artifacts: round trip, atomic promotion, refusal of what does not match."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from moderation.current_model import CurrentModel
from moderation.errors import ArtifactError
from training import artifact
from training.artifact import MANIFEST_FILE, MODEL_FILE

RECORDS = [{"content": "buy cheap pills http://rx.example now"}, {"content": "thanks, nice post"}]


@pytest.fixture
def models(models_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the session's models directory, free to damage."""
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    return copy


def _edit_manifest(models: Path, change: dict) -> None:
    version = artifact.current_version(models)
    assert version
    _edit_manifest_at(models, version, change)


def test_round_trip_scores_the_same(models: Path) -> None:
    loaded = artifact.load(models)
    again = artifact.load(models, loaded.version)
    assert np.allclose(loaded.model.scores(RECORDS), again.model.scores(RECORDS))
    manifest = loaded.manifest
    assert manifest["sha256"] == artifact.sha256_file(models / loaded.version / MODEL_FILE)
    assert manifest["runtime"] == artifact.runtime_versions()
    assert {"ham_below", "spam_above", "discard_above"} == set(manifest["cutoffs"])
    assert 0 <= loaded.cutoffs.ham_below < loaded.cutoffs.spam_above <= 1
    assert manifest["data"]["fingerprint"]


def test_tampered_model_file_is_refused(models: Path) -> None:
    version = artifact.current_version(models)
    with open(models / str(version) / MODEL_FILE, "ab") as handle:
        handle.write(b"\x00")
    with pytest.raises(ArtifactError, match="sha256"):
        artifact.load(models)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"runtime": {**artifact.runtime_versions(), "scikit-learn": "0.1"}}, "scikit-learn"),
        ({"format_version": 99}, "format"),
        ({"featurizer_version": 0}, "featurizer"),
        ({"version": "someone-else"}, "names version"),
        ({"cutoffs": {"ham_below": "x"}}, "cutoffs"),
    ],
)
def test_mismatched_manifest_is_refused(models: Path, change: dict, message: str) -> None:
    _edit_manifest(models, change)
    with pytest.raises(ArtifactError, match=message):
        artifact.load(models)


def test_missing_or_unreadable_manifest_is_refused(models: Path) -> None:
    version = str(artifact.current_version(models))
    (models / version / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable"):
        artifact.load(models)
    (models / version / MANIFEST_FILE).unlink()
    with pytest.raises(ArtifactError, match="missing"):
        artifact.load(models)


def test_promote_refuses_unknown_and_bad_versions(models: Path) -> None:
    for bad in ("nope", "../etc", "a/b"):
        with pytest.raises(ArtifactError):
            artifact.promote(models, bad)
    assert not list(models.glob(".current-*")), "no temp file left behind"


def test_current_model_hot_swaps_and_keeps_serving_on_refusal(models: Path) -> None:
    current = CurrentModel(models, reload_seconds=0.0)
    first = current.get()
    assert first is not None and current.error is None
    # A second version appears and is promoted: the holder picks it up.
    second = first.version + "-b"
    shutil.copytree(models / first.version, models / second)
    _edit_manifest_at(models, second, {"version": second})
    artifact.promote(models, second)
    loaded = current.get()
    assert loaded is not None and loaded.version == second
    # A tampered third version is refused; the second keeps serving.
    third = first.version + "-c"
    shutil.copytree(models / first.version, models / third)
    _edit_manifest_at(models, third, {"version": third, "sha256": "0" * 64})
    artifact.promote(models, third)
    assert current.get() is loaded
    assert current.error is not None and "refused model" in current.error


def test_no_model_is_reported(tmp_path: Path) -> None:
    current = CurrentModel(tmp_path, reload_seconds=0.0)
    assert current.get() is None
    assert current.error is not None and "no model" in current.error


def _edit_manifest_at(models: Path, version: str, change: dict) -> None:
    path = models / version / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest.update(change)
    path.write_text(json.dumps(manifest))
