from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from regsuite import datasets, runner
from regsuite.errors import DataError


def ragged(rows):
    arr = np.empty(len(rows), dtype=object)
    arr[:] = rows
    return arr


def write_imdb(path, **override):
    arrays = {
        "x_train": ragged([[1, 5, 9999], [4, 2], [7], [3, 3, 3]]),
        "y_train": np.array([1, 0, 1, 0]),
        "x_test": ragged([[2, 2], [9996, 1]]),
        "y_test": np.array([0, 1]),
    }
    arrays.update(override)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def test_reads_raw_object_arrays(tmp_path):
    write_imdb(tmp_path / "imdb.npz")
    ds = datasets.load("imdb", tmp_path, download=False)
    assert [list(x) for x in ds.arrays["x_test"]] == [[2, 2], [9996, 1]]
    assert ds.fingerprint == datasets.fingerprint(ds.arrays)


def test_load_data_semantics_by_hand():
    raw = {"x_train": ragged([[1, 9997], [5]]), "y_train": np.array([1, 0]),
           "x_test": ragged([[2]]), "y_test": np.array([1])}
    out = datasets.imdb_load_data(raw, 10_000)
    idx = np.arange(2)
    np.random.RandomState(113).shuffle(idx)  # the train split is shuffled first
    expected = [[[1, 4, 2], [1, 8]][i] for i in idx]  # start 1, +3; 9997 + 3 = 10000 is past num_words -> OOV 2
    assert [list(x) for x in out["x_train"]] == expected
    assert list(out["y_train"]) == [[1, 0][i] for i in idx]
    assert [list(x) for x in out["x_test"]] == [[1, 5]]


def test_multi_hot_is_exact():
    """The document's vectorize_sequences, row for row, whichever rows a batch takes and in which order."""
    seqs = ragged([[1, 4, 4], [2], [], [5, 0]])
    rows = runner.MultiHotRows.from_sequences(seqs, 6)
    dense = rows.dense()
    assert dense.dtype == np.float32 and rows.shape == (4, 6)
    assert dense.tolist() == [[0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0], [0] * 6, [1, 0, 0, 0, 0, 1]]
    assert rows.rows(np.array([3, 0, 3])).tolist() == [dense[3].tolist(), dense[0].tolist(), dense[3].tolist()]


def test_batches_cover_every_row_once_per_epoch_in_a_seeded_order():
    rows = runner.MultiHotRows.from_sequences(ragged([[i % 6] for i in range(10)]), 6)
    y = np.arange(10, dtype="float32")
    a, b = runner._batches(rows, y, 4, True, seed=7), runner._batches(rows, y, 4, True, seed=7)
    assert len(a) == 3
    seen = np.concatenate([a[i][1] for i in range(len(a))])
    assert sorted(seen.tolist()) == list(range(10))
    assert all(np.array_equal(a[i][0], b[i][0]) for i in range(3))
    first = seen.copy()
    a.on_epoch_end()
    assert sorted(np.concatenate([a[i][1] for i in range(3)]).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate([a[i][1] for i in range(3)]), first)


def test_fingerprint_of_ragged_rows_hashes_contents():
    a = {"x": ragged([[1, 2], [3]])}
    b = {"x": ragged([[1, 2], [3]])}
    c = {"x": ragged([[1], [2, 3]])}
    assert datasets.fingerprint(a) == datasets.fingerprint(b) != datasets.fingerprint(c)


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "imdb.npz"
    header = io.BytesIO()
    arr = np.empty(1, dtype=object)
    np.lib.format.write_array(header, arr, allow_pickle=True)
    payload = header.getvalue()
    start = payload.index(b"\n") + 1  # after the .npy header
    evil = payload[:start] + pickle.dumps(Evil(), protocol=2)
    with zipfile.ZipFile(path, "w") as z:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            z.writestr(f"{name}.npy", evil)
    with pytest.raises(DataError, match=r"imdb\.npz: not a readable npz archive.*refusing to unpickle \w*builtins?_*\.print"):
        datasets.load("imdb", tmp_path, download=False)


def test_missing_and_truncated(tmp_path):
    write_imdb(tmp_path / "imdb.npz", y_test=None)
    with pytest.raises(DataError, match=r"\(missing \['y_test'\]\)"):
        datasets.load("imdb", tmp_path, download=False)
    datasets.clear_cache()
    write_imdb(tmp_path / "imdb.npz")
    data = (tmp_path / "imdb.npz").read_bytes()
    (tmp_path / "imdb.npz").write_bytes(data[:100])
    with pytest.raises(DataError, match="not a readable npz archive, the file is corrupt or truncated"):
        datasets.load("imdb", tmp_path, download=False)
