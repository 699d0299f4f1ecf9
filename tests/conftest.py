from __future__ import annotations

import numpy as np
import pytest

from regsuite import datasets
from regsuite.results import RunResult

pytest_plugins = ["pytester"]


def fake_run(exp_id: str, seed: int, *, shift: float = 0.0, epochs: int = 3, digest: str = "d") -> RunResult:
    """A deterministic stand-in for a trained run: values vary a little with the seed."""
    rng = np.random.default_rng(seed)
    loss = [2.0 / (e + 1) + 0.01 * rng.random() + shift for e in range(epochs)]
    acc = [min(1.0, 0.5 + 0.1 * e + 0.01 * rng.random()) for e in range(epochs)]
    return RunResult(
        experiment=exp_id,
        seed=seed,
        history={"loss": loss, "accuracy": acc, "val_loss": [v + 0.1 for v in loss], "val_accuracy": [a - 0.05 for a in acc]},
        test={"loss": loss[-1] + 0.1, "accuracy": max(0.0, acc[-1] - 0.05 - shift)},
        params={"total": 100, "trainable": 100, "non_trainable": 0},
        fit_seconds=1.0,
        spec_digest=digest,
        dataset_fingerprints={"mnist": "sha256:0"},
        environment={"python": "3.11", "keras": "3", "backend": "tensorflow", "device": "cpu"},
    )


@pytest.fixture(autouse=True)
def _isolated_data(monkeypatch, tmp_path_factory):
    """No test sees the real mirror, Keras' cache, or a network downloader."""
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)
    monkeypatch.delenv("REGSUITE_REQUIRE_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path_factory.mktemp("sklearn_home")))
    datasets.clear_cache()
    yield
    datasets.clear_cache()


def write_mnist_npz(path, n_train: int = 60, n_test: int = 20, **override) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays.update(override)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
