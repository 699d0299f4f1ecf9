"""API drift of the data path: our loaders against the libraries' own, on the same files."""

from __future__ import annotations

import numpy as np
import pytest

from regsuite import datasets
from regsuite.errors import DataUnavailable


@pytest.mark.needs_data
def test_imdb_semantics_match_keras_load_data(regsuite, monkeypatch):
    """`imdb_load_data(num_words=10000)` equals `keras.datasets.imdb.load_data(num_words=10000)` read from the same file."""
    try:
        ds = datasets.load("imdb", regsuite.data_dir, download=False)
    except DataUnavailable as exc:
        regsuite.missing_data(exc)
    path = ds.source.split(": ", 1)[1]
    keras_imdb = pytest.importorskip("keras.src.datasets.imdb", reason="Keras moved its imdb module; compare by hand")
    monkeypatch.setattr(keras_imdb, "get_file", lambda *a, **k: path)  # the mirror's bytes differ from Keras' hash
    (xk, yk), (xtk, ytk) = keras_imdb.load_data(num_words=10_000)
    ours = datasets.imdb_load_data(ds.arrays, 10_000)
    assert np.array_equal(yk, ours["y_train"]) and np.array_equal(ytk, ours["y_test"])
    assert all(list(a) == list(b) for a, b in zip(xk, ours["x_train"]))
    assert all(list(a) == list(b) for a, b in zip(xtk, ours["x_test"]))
