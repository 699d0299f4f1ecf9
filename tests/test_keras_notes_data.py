"""Loaders and preparation for the Keras notes: Fashion-MNIST IDX files, scikit-learn's housing cache."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from regsuite import datasets, runner
from regsuite.errors import DataError, SpecError
from regsuite.specs import DataSpec, WideDeepSpec


def _idx(path, array: np.ndarray, magic: bytes | None = None, truncate: int = 0) -> None:
    head = magic if magic is not None else bytes([0, 0, 8, array.ndim])
    head += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = array.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as fh:
        fh.write(head + payload[: len(payload) - truncate])


def write_fashion(folder, n_train: int = 12, n_test: int = 5, **broken) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28)), "y_train": rng.integers(0, 10, n_train),
              "x_test": rng.integers(0, 256, (n_test, 28, 28)), "y_test": rng.integers(0, 10, n_test)}
    for key, name in datasets.FASHION_FILES.items():
        _idx(folder / name, arrays[key], **broken.get(key, {}))


def test_fashion_idx_folder_from_the_mirror(tmp_path):
    write_fashion(tmp_path / "fashion-mnist")
    ds = datasets.load("fashion_mnist", tmp_path, download=False)
    assert ds.source == f"mirror: {tmp_path / 'fashion-mnist'}"
    assert ds.arrays["x_train"].shape == (12, 28, 28) and ds.arrays["y_test"].shape == (5,)
    assert ds.arrays["x_train"].dtype == np.uint8


def test_fashion_keras_cache_is_second(tmp_path, monkeypatch):
    home = tmp_path / "kh"
    write_fashion(home / "datasets" / "fashion-mnist")
    monkeypatch.setenv("KERAS_HOME", str(home))
    (tmp_path / "mirror").mkdir()
    assert datasets.load("fashion_mnist", tmp_path / "mirror", download=False).source.startswith("keras cache: ")


@pytest.mark.parametrize("broken, message", [
    ({"x_train": {"magic": b"\x00\x00\x08\x01"}}, "Invalid value for `magic`. Expected an IDX header 00 00 08 03"),
    ({"y_test": {"truncate": 2}}, "the header promises (5,) = 5 bytes but 3 follow"),
])
def test_fashion_bad_idx_names_the_file(tmp_path, broken, message):
    write_fashion(tmp_path / "fashion-mnist", **broken)
    with pytest.raises(DataError) as err:
        datasets.load("fashion_mnist", tmp_path, download=False)
    assert message in str(err.value) and "fashion-mnist" in str(err.value) and "ubyte.gz" in str(err.value)


def test_fashion_missing_file_and_not_gzip(tmp_path):
    write_fashion(tmp_path / "a" / "fashion-mnist")
    (tmp_path / "a" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"missing \['t10k-labels-idx1-ubyte.gz'\]"):
        datasets.load("fashion_mnist", tmp_path / "a", download=False)
    write_fashion(tmp_path / "b" / "fashion-mnist")
    (tmp_path / "b" / "fashion-mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: not a readable gzip file"):
        datasets.load("fashion_mnist", tmp_path / "b", download=False)


def _housing_cache(folder, rows: int = 20640) -> None:
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    table = np.random.default_rng(0).uniform(1, 5, size=(rows, 9))  # target first, as scikit-learn stores it
    joblib.dump(table, folder / datasets.HOUSING_FILE, compress=6)


def test_housing_from_the_mirror_and_then_sklearns_cache(tmp_path, monkeypatch):
    _housing_cache(tmp_path / "mirror")
    ds = datasets.load("california_housing", tmp_path / "mirror", download=False)
    assert ds.arrays["data"].shape == (20640, 8) and ds.arrays["target"].shape == (20640,)
    datasets.clear_cache()
    _housing_cache(tmp_path / "skl")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "skl"))
    (tmp_path / "empty").mkdir()
    ds = datasets.load("california_housing", tmp_path / "empty", download=False)
    assert ds.source == f"scikit-learn cache: {tmp_path / 'skl' / datasets.HOUSING_FILE}"


def test_housing_bad_cache_names_the_file(tmp_path):
    (tmp_path / datasets.HOUSING_FILE).write_bytes(b"garbage")
    with pytest.raises(DataError, match="cal_housing_py3.pkz: scikit-learn could not read"):
        datasets.load("california_housing", tmp_path, download=False)
    datasets.clear_cache()
    _housing_cache(tmp_path / "small", rows=10)
    with pytest.raises(DataError, match=r"Invalid value for `shape`. Expected data \(20640, 8\)"):
        datasets.load("california_housing", tmp_path / "small", download=False)


def test_housing_missing_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "nowhere"))
    (tmp_path / "m").mkdir()
    with pytest.raises(datasets.DataUnavailable, match="Set REGSUITE_DATA_DIR=/path/to/mirror or pass "
                                                       "--regsuite-data-dir"):
        datasets.load("california_housing", tmp_path / "m", download=False)


def test_prepared_housing_splits_and_standardises_on_the_training_part_only(tmp_path):
    _housing_cache(tmp_path)
    spec = DataSpec(dataset="california_housing", holdout=(0.25, 42), validation_holdout=(0.25, 42),
                    standardize=True, flatten=False)
    arrays, prints = runner.prepared(spec, str(tmp_path))
    assert [len(arrays[k]) for k in ("x_train", "x_valid", "x_test")] == [11_610, 3_870, 5_160]
    np.testing.assert_allclose(arrays["x_train"].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(arrays["x_train"].std(axis=0), 1, atol=1e-4)
    assert abs(arrays["x_test"].mean()) > 1e-4  # the test split is transformed, not refitted
    assert arrays["x_train"].dtype == np.float32 and arrays["y_train"].dtype == np.float32
    assert set(prints) == {"california_housing"}


def test_prepared_table_without_holdout_is_a_spec_error(tmp_path):
    _housing_cache(tmp_path)
    with pytest.raises(SpecError, match="Invalid value for `holdout`"):
        runner.prepared(DataSpec(dataset="california_housing", flatten=False), str(tmp_path))


def test_validation_slice_comes_from_the_raw_training_rows(tmp_path):
    write_fashion(tmp_path / "fashion-mnist", n_train=12)
    spec = DataSpec(dataset="fashion_mnist", train_slice=(0, 6), validation_slice=(6, 10), scale=255.0,
                    flatten=False, standardize=True)
    arrays, _ = runner.prepared(spec, str(tmp_path))
    raw = datasets.load("fashion_mnist", tmp_path).arrays
    np.testing.assert_array_equal(arrays["y_valid"], raw["y_train"][6:10])
    assert arrays["x_train"].shape == (6, 28, 28)
    per_pixel = arrays["x_train"].reshape(6, -1)
    np.testing.assert_allclose(per_pixel.mean(axis=0), 0, atol=1e-5)


def test_wide_deep_inputs_and_validation():
    spec = WideDeepSpec(input_dim=8, wide=(0, 5), deep=(2, 8), aux_output=True)
    x = np.arange(16, dtype="float32").reshape(2, 8)
    wide, deep = runner.model_inputs(spec, x)
    np.testing.assert_array_equal(wide, x[:, :5])
    np.testing.assert_array_equal(deep, x[:, 2:])
    assert runner.model_targets(spec, np.zeros(2))[1].shape == (2,)
    assert spec.output_names == ("main_output", "aux_output")
    with pytest.raises(SpecError, match=r"Invalid value for `deep`. Expected a column range"):
        WideDeepSpec(input_dim=8, deep=(5, 9), wide=(0, 5))
    with pytest.raises(SpecError, match=r"Expected \(0, 8\) when there is no separate wide input"):
        WideDeepSpec(input_dim=8, deep=(2, 8))
    with pytest.raises(SpecError, match="Invalid value for `validation_holdout`"):
        DataSpec(dataset="x", validation_slice=(0, 2), validation_holdout=(0.25, 42))
