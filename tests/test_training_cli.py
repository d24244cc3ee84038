"""``python -m training train`` and ``evaluate`` end to end on a small dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import tiny_examples
from training import artifact
from training.__main__ import main


@pytest.fixture(autouse=True)
def embedded_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """The file-only CLI: no Redis is used or started (with a shared Redis,
    promotions are also published: tests/test_model_store.py)."""
    for name in ("REDIS_URL", "REDIS_CLUSTER", "REDIS_SENTINEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "labelled.jsonl"
    lines = [
        json.dumps({**e.record, "label": "spam" if e.label else "ham"}) for e in tiny_examples()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_promote_then_evaluate(
    data_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "models"
    assert (
        main(["train", "--data", str(data_file), "--no-starter", "--out", str(out), "--promote"])
        == 0
    )
    version = capsys.readouterr().out.strip().splitlines()[-1]
    assert artifact.current_version(out) == version
    manifest = json.loads((out / version / "manifest.json").read_text())
    assert manifest["data"]["n"] == 120
    assert "out_of_fold" in manifest["metrics"]

    assert main(["evaluate", "--models", str(out), "--data", str(data_file), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    for name in (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "mcc",
        "roc_auc",
        "ham_false_positive_rate",
    ):
        assert 0.0 <= metrics[name] <= 1.0 or name == "mcc"
    assert metrics["n"] == 120 and metrics["model_version"] == version
    policy = metrics["policy"]
    assert policy["auto_decided_share"] + policy["review_share"] == pytest.approx(1.0)
    assert metrics["roc_auc"] > 0.9, "a model evaluated on its own training data ranks well"

    # --if-missing leaves an existing model alone
    assert main(["train", "--out", str(out), "--promote", "--if-missing"]) == 0
    assert artifact.current_version(out) == version


def test_errors_exit_1_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path)]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["evaluate", "--models", str(tmp_path), "--data", str(tmp_path)]) == 1
    assert "no current model" in capsys.readouterr().err
