from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from regsuite import datasets
from regsuite.errors import DataError, DataUnavailable

from .conftest import write_mnist_npz


def test_mirror_from_env_then_argument(tmp_path, monkeypatch):
    env_dir, arg_dir = tmp_path / "env", tmp_path / "arg"
    env_dir.mkdir(), arg_dir.mkdir()
    write_mnist_npz(env_dir / "mnist.npz", n_train=30)
    write_mnist_npz(arg_dir / "mnist.npz", n_train=40)
    monkeypatch.setenv(datasets.ENV_VAR, str(env_dir))
    ds = datasets.load("mnist", download=False)
    assert ds.source == f"mirror: {env_dir / 'mnist.npz'}" and len(ds.arrays["x_train"]) == 30
    ds = datasets.load("mnist", arg_dir, download=False)
    assert len(ds.arrays["x_train"]) == 40 and ds.fingerprint.startswith("sha256:")


def test_loaded_once_per_process(tmp_path):
    write_mnist_npz(tmp_path / "mnist.npz")
    a = datasets.load("mnist", tmp_path, download=False)
    (tmp_path / "mnist.npz").unlink()
    assert datasets.load("mnist", tmp_path, download=False) is a


def test_keras_cache_is_second(tmp_path, monkeypatch):
    home = tmp_path / "kh"
    (home / "datasets").mkdir(parents=True)
    write_mnist_npz(home / "datasets" / "mnist.npz")
    monkeypatch.setenv("KERAS_HOME", str(home))
    empty = tmp_path / "mirror"
    empty.mkdir()
    ds = datasets.load("mnist", empty, download=False)
    assert ds.source == f"keras cache: {home / 'datasets' / 'mnist.npz'}"


def test_downloader_is_last(tmp_path, monkeypatch):
    calls = []

    def fake_download():
        calls.append(1)
        return {"x_train": np.zeros((2, 28, 28), np.uint8), "y_train": np.zeros(2, np.uint8),
                "x_test": np.zeros((1, 28, 28), np.uint8), "y_test": np.zeros(1, np.uint8)}

    monkeypatch.setitem(datasets.LOADERS, "mnist", datasets.LOADERS["mnist"].__class__(
        "mnist.npz", datasets.LOADERS["mnist"].read, fake_download))
    assert datasets.load("mnist").source == "downloaded by the library" and calls == [1]


def test_missing_everywhere_says_what_to_set(tmp_path, monkeypatch):
    def offline():
        raise OSError("network unreachable")

    monkeypatch.setitem(datasets.LOADERS, "mnist", datasets.LOADERS["mnist"].__class__(
        "mnist.npz", datasets.LOADERS["mnist"].read, offline))
    with pytest.raises(DataUnavailable) as info:
        datasets.load("mnist")
    msg = str(info.value)
    assert msg.startswith("Dataset `mnist` not found. Tried: no mirror configured ($REGSUITE_DATA_DIR unset)")
    assert "the library's downloader (OSError: network unreachable)" in msg
    assert msg.endswith("Set REGSUITE_DATA_DIR=/path/to/mirror or pass --regsuite-data-dir=/path/to/mirror (a folder holding mnist.npz).")


def test_an_empty_cache_folder_left_by_a_failed_download_is_not_a_dataset(tmp_path, monkeypatch):
    # keras.datasets.fashion_mnist makes ~/.keras/datasets/fashion-mnist before it downloads; offline, the folder
    # stays empty, and every later load must still say what to set, not report a broken dataset.
    home = tmp_path / "kh"
    (home / "datasets" / "fashion-mnist").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    with pytest.raises(DataUnavailable) as info:
        datasets.load("fashion_mnist", download=False)
    assert f"{home / 'datasets' / 'fashion-mnist'} (keras cache: an empty folder)" in str(info.value)
    assert "Set REGSUITE_DATA_DIR=/path/to/mirror" in str(info.value)


def test_mirror_that_is_not_a_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(DataUnavailable, match=r"Invalid value for `data_dir`\. Expected an existing directory holding the dataset mirror\. Received: data_dir='.*nope' \(from \$REGSUITE_DATA_DIR\)"):
        datasets.load("mnist", download=False)


def test_unknown_dataset():
    with pytest.raises(DataUnavailable, match=r"Invalid value for `dataset`\. Expected one of \['california_housing', 'fashion_mnist', 'imdb', 'mnist'\]\. Received: dataset='cifar'"):
        datasets.load("cifar", download=False)


def test_truncated_npz_names_the_file(tmp_path):
    write_mnist_npz(tmp_path / "mnist.npz")
    data = (tmp_path / "mnist.npz").read_bytes()
    (tmp_path / "mnist.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as info:
        datasets.load("mnist", tmp_path, download=False)
    assert str(info.value).startswith(f"{tmp_path / 'mnist.npz'}: not a readable npz archive, the file is corrupt or truncated (")


def test_garbage_file_names_the_file(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="not a readable npz archive"):
        datasets.load("mnist", tmp_path, download=False)


def test_missing_array(tmp_path):
    write_mnist_npz(tmp_path / "mnist.npz", y_test=None)
    with pytest.raises(DataError) as info:
        datasets.load("mnist", tmp_path, download=False)
    assert "Invalid value for `arrays`. Expected an npz holding ['x_test', 'x_train', 'y_test', 'y_train']" in str(info.value)
    assert str(info.value).endswith("(missing ['y_test'])")


def test_wrong_shape(tmp_path):
    write_mnist_npz(tmp_path / "mnist.npz", x_train=np.zeros((60, 784), np.uint8))
    with pytest.raises(DataError, match=r"mnist\.npz: Invalid value for `x_train\.shape`\. Expected \(N, 28, 28\)\. Received: x_train\.shape=\(60, 784\)"):
        datasets.load("mnist", tmp_path, download=False)


def test_mismatched_rows(tmp_path):
    write_mnist_npz(tmp_path / "mnist.npz", y_train=np.zeros(59, np.uint8))
    with pytest.raises(DataError, match="x_train has 60 rows but y_train has 59"):
        datasets.load("mnist", tmp_path, download=False)


arrays = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    hnp.arrays(st.sampled_from([np.uint8, np.float32]), hnp.array_shapes(max_dims=2, max_side=5)),
    min_size=1,
)


@settings(max_examples=100)
@given(arrays)
def test_fingerprint_is_stable_and_sensitive(arrs):
    fp = datasets.fingerprint(arrs)
    assert fp == datasets.fingerprint({k: v.copy() for k, v in reversed(list(arrs.items()))})
    name = sorted(arrs)[0]
    changed = dict(arrs)
    changed[name] = np.append(arrs[name].ravel(), np.zeros(1, arrs[name].dtype))
    assert datasets.fingerprint(changed) != fp
