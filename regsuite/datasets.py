"""Dataset loaders that honour an offline mirror.

Search order for each dataset: the mirror directory (an explicit argument,
else `$REGSUITE_DATA_DIR`), then the library's own cache (Keras':
`$KERAS_HOME/datasets` or `~/.keras/datasets`; scikit-learn's:
`$SCIKIT_LEARN_DATA` or `~/scikit_learn_data`), and only then the
library's downloader. A file that is
found but unusable is an error naming the file, never a silent fall-through.
Each dataset is loaded once per process and fingerprinted (sha256 of its
arrays), and the fingerprint goes into every result.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .errors import DataError, DataUnavailable, invalid_value

ENV_VAR = "REGSUITE_DATA_DIR"
OPTION = "--regsuite-data-dir"


@dataclass(frozen=True)
class Dataset:
    """Arrays of one dataset, where they came from, and their fingerprint."""

    name: str
    arrays: Mapping[str, np.ndarray]
    source: str
    fingerprint: str


def keras_cache_dir() -> Path:
    """Where Keras caches downloads: `$KERAS_HOME/datasets` or `~/.keras/datasets`."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def sklearn_cache_dir() -> Path:
    """scikit-learn's data home: `$SCIKIT_LEARN_DATA` or `~/scikit_learn_data`."""
    return Path(os.environ.get("SCIKIT_LEARN_DATA") or os.path.join(os.path.expanduser("~"), "scikit_learn_data"))


@dataclass(frozen=True)
class _Loader:
    filename: str  # a file, or a folder of files, under the mirror and under the library's cache
    read: Callable[[Path], dict[str, np.ndarray]]
    download: Callable[[], dict[str, np.ndarray]]
    cache: tuple[str, Callable[[], Path]] = ("keras cache", keras_cache_dir)


def fingerprint(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over names, dtypes, shapes and bytes of the arrays, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        if a.dtype == object:  # ragged rows: hash their contents, never their addresses
            for row in a:
                r = np.asarray(row, dtype=np.int64)
                h.update(len(r).to_bytes(8, "little"))
                h.update(r.tobytes())
        else:
            h.update(a.tobytes())
    return "sha256:" + h.hexdigest()


def _read_npz(path: Path, expected: Mapping[str, tuple[int | None, ...]]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in expected if k not in npz.files]
            if missing:
                raise DataError(
                    f"{path}: " + invalid_value("arrays", f"an npz holding {sorted(expected)}", sorted(npz.files))
                    + f" (missing {missing})"
                )
            arrays = {k: npz[k] for k in expected}
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable npz archive, the file is corrupt or truncated ({type(exc).__name__}: {exc})") from exc
    for k, shape in expected.items():
        got = arrays[k].shape
        if len(got) != len(shape) or any(w is not None and w != g for w, g in zip(shape, got)):
            raise DataError(f"{path}: " + invalid_value(f"{k}.shape", str(shape).replace("None", "N"), got))
    return arrays


def _check_pairs(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    for split in ("train", "test"):
        nx, ny = len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"])
        if nx != ny:
            raise DataError(f"{path}: x_{split} has {nx} rows but y_{split} has {ny}")


def _read_mnist(path: Path) -> dict[str, np.ndarray]:
    shape = {"x_train": (None, 28, 28), "y_train": (None,), "x_test": (None, 28, 28), "y_test": (None,)}
    arrays = _read_npz(path, shape)
    _check_pairs(path, arrays)
    return arrays


def _download_mnist() -> dict[str, np.ndarray]:
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Object arrays need pickle; allow nothing but NumPy's array reconstruction."""

    ALLOWED = frozenset({("numpy", "ndarray"), ("numpy", "dtype"),
                         ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")})

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: only NumPy arrays may be stored here")


def _read_npy_restricted(fp: io.BytesIO) -> np.ndarray:
    try:
        return np.lib.format.read_array(fp, allow_pickle=False)
    except ValueError:  # an object array: its payload is a pickle stream after the header
        fp.seek(0)
        major, _ = np.lib.format.read_magic(fp)
        (np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0)(fp)
        return _ArrayOnlyUnpickler(fp).load()


def _read_imdb(path: Path) -> dict[str, np.ndarray]:
    """The raw Keras-layout imdb.npz: object arrays of word-index lists, read without arbitrary unpickling."""
    names = ("x_train", "y_train", "x_test", "y_test")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {m[: -len(".npy")]: m for m in archive.namelist() if m.endswith(".npy")}
            missing = [k for k in names if k not in members]
            if missing:
                raise DataError(f"{path}: " + invalid_value(
                    "arrays", "an npz holding ['x_test', 'x_train', 'y_test', 'y_train']", sorted(members))
                    + f" (missing {missing})")
            arrays = {k: _read_npy_restricted(io.BytesIO(archive.read(members[k]))) for k in names}
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise DataError(f"{path}: not a readable npz archive, the file is corrupt or truncated ({type(exc).__name__}: {exc})") from exc
    for k in ("x_train", "x_test"):
        if arrays[k].ndim != 1:
            raise DataError(f"{path}: " + invalid_value(f"{k}.shape", "(N,) of word-index lists", arrays[k].shape))
    _check_pairs(path, arrays)
    return arrays


def _download_imdb() -> dict[str, np.ndarray]:
    import keras

    # The raw file, as keras.datasets.imdb.load_data downloads it (hash-checked); processed by imdb_load_data.
    path = keras.utils.get_file(
        "imdb.npz", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz",
        file_hash="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    )
    return _read_imdb(Path(path))


def imdb_load_data(raw: Mapping[str, np.ndarray], num_words: int, *, seed: int = 113,
                   start_char: int = 1, oov_char: int = 2, index_from: int = 3) -> dict[str, np.ndarray]:
    """`keras.datasets.imdb.load_data(num_words=...)` semantics on the raw arrays: both splits
    shuffled by one RandomState(seed), `start_char` prepended, indices shifted by `index_from`,
    words ranked at or beyond `num_words` replaced by `oov_char`."""
    rng = np.random.RandomState(seed)
    out: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        idx = np.arange(len(raw[f"x_{split}"]))
        rng.shuffle(idx)
        seqs = [[start_char] + [w + index_from if w + index_from < num_words else oov_char for w in x]
                for x in raw[f"x_{split}"][idx]]
        arr = np.empty(len(seqs), dtype=object)
        arr[:] = seqs
        out[f"x_{split}"], out[f"y_{split}"] = arr, raw[f"y_{split}"][idx]
    return out


FASHION_FILES = {"x_train": "train-images-idx3-ubyte.gz", "y_train": "train-labels-idx1-ubyte.gz",
                 "x_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz"}


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """One gzipped IDX file (uint8 payload): magic 0x0000 0x08 <ndim>, then big-endian dims."""
    import gzip

    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable gzip file, the file is corrupt or truncated ({type(exc).__name__}: {exc})") from exc
    head = 4 + 4 * ndim
    if len(raw) < head or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise DataError(f"{path}: " + invalid_value("magic", f"an IDX header 00 00 08 {ndim:02x} (uint8, {ndim} dims)", raw[:4].hex(" ")))
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) - head != int(np.prod(dims)):
        raise DataError(f"{path}: the header promises {dims} = {int(np.prod(dims))} bytes but {len(raw) - head} follow")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims)


def _read_fashion(folder: Path) -> dict[str, np.ndarray]:
    """The four IDX files of Fashion-MNIST, as keras.datasets.fashion_mnist caches them."""
    missing = [f for f in FASHION_FILES.values() if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{folder}: " + invalid_value("files", f"a folder holding {sorted(FASHION_FILES.values())}",
                                                      sorted(p.name for p in folder.iterdir()) if folder.is_dir() else str(folder))
                        + f" (missing {missing})")
    arrays = {k: _read_idx(folder / f, 3 if k.startswith("x") else 1) for k, f in FASHION_FILES.items()}
    for k in ("x_train", "x_test"):
        if arrays[k].shape[1:] != (28, 28):
            raise DataError(f"{folder / FASHION_FILES[k]}: " + invalid_value(f"{k}.shape", "(N, 28, 28)", arrays[k].shape))
    _check_pairs(folder, arrays)
    return arrays


def _download_fashion() -> dict[str, np.ndarray]:
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


HOUSING_FILE = "cal_housing_py3.pkz"


def _housing(data_home: Path | None, download: bool) -> dict[str, np.ndarray]:
    from sklearn.datasets import fetch_california_housing

    bunch = fetch_california_housing(data_home=None if data_home is None else str(data_home),
                                     download_if_missing=download)
    return {"data": np.asarray(bunch.data, dtype=np.float64), "target": np.asarray(bunch.target, dtype=np.float64)}


def _read_housing(path: Path) -> dict[str, np.ndarray]:
    """scikit-learn's own cache file, read by scikit-learn itself (no download)."""
    try:
        arrays = _housing(path.parent, download=False)
    except Exception as exc:  # joblib/zlib/pickle raise many kinds on a damaged file
        raise DataError(f"{path}: scikit-learn could not read its California housing cache, the file is corrupt "
                        f"or truncated ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if arrays["data"].shape != (20640, 8) or arrays["target"].shape != (20640,):
        raise DataError(f"{path}: " + invalid_value("shape", "data (20640, 8) and target (20640,)",
                                                    (arrays["data"].shape, arrays["target"].shape)))
    return arrays


LOADERS: dict[str, _Loader] = {
    "mnist": _Loader("mnist.npz", _read_mnist, _download_mnist),
    "imdb": _Loader("imdb.npz", _read_imdb, _download_imdb),
    "fashion_mnist": _Loader("fashion-mnist", _read_fashion, _download_fashion),
    "california_housing": _Loader(HOUSING_FILE, _read_housing, lambda: _housing(None, download=True),
                                  ("scikit-learn cache", sklearn_cache_dir)),
}

_cache: dict[tuple[str, str | None], Dataset] = {}
_lock = threading.Lock()


def mirror_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The configured mirror: the explicit argument, else `$REGSUITE_DATA_DIR`."""
    value = data_dir if data_dir not in (None, "") else os.environ.get(ENV_VAR) or None
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataUnavailable(
            invalid_value("data_dir", "an existing directory holding the dataset mirror", str(value))
            + f" (from {'the argument' if data_dir else '$' + ENV_VAR})"
        )
    return path


def candidates(name: str, data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The files tried for `name`, in order, with how each was configured."""
    loader = _loader(name)
    out = []
    mirror = mirror_dir(data_dir)
    if mirror is not None:
        out.append(("mirror", mirror / loader.filename))
    label, where = loader.cache
    out.append((label, where() / loader.filename))
    return out


def _loader(name: str) -> _Loader:
    if name not in LOADERS:
        raise DataUnavailable(invalid_value("dataset", f"one of {sorted(LOADERS)}", name))
    return LOADERS[name]


def load(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Dataset:
    """Load `name` once per process: mirror, Keras cache, then the downloader."""
    mirror = mirror_dir(data_dir)
    key = (name, str(mirror) if mirror else None)
    with _lock:
        if key in _cache:
            return _cache[key]
        ds = _load_uncached(name, data_dir, download=download)
        _cache[key] = ds
        return ds


def _load_uncached(name: str, data_dir: str | os.PathLike | None, *, download: bool) -> Dataset:
    loader = _loader(name)
    tried = []
    for how, path in candidates(name, data_dir):
        # An empty folder is what a failed Keras download leaves (it makes the folder first): not a dataset.
        if path.is_dir() and not any(path.iterdir()):
            tried.append(f"{path} ({how}: an empty folder)")
            continue
        if path.exists():
            arrays = loader.read(path)
            return Dataset(name, arrays, f"{how}: {path}", fingerprint(arrays))
        tried.append(f"{path} ({how}: not there)")
    if mirror_dir(data_dir) is None:
        tried.insert(0, f"no mirror configured (${ENV_VAR} unset)")
    if download:
        try:
            arrays = loader.download()
        except Exception as exc:  # the downloaders raise many kinds on no network
            tried.append(f"the library's downloader ({type(exc).__name__}: {str(exc)[:200]})")
        else:
            return Dataset(name, arrays, "downloaded by the library", fingerprint(arrays))
    else:
        tried.append("downloads disabled")
    raise DataUnavailable(
        f"Dataset `{name}` not found. Tried: {'; '.join(tried)}. "
        f"Set {ENV_VAR}=/path/to/mirror or pass {OPTION}=/path/to/mirror "
        f"(a folder holding {loader.filename})."
    )


def loaded_fingerprints() -> dict[str, str]:
    """Fingerprints of the datasets this process has loaded, by name."""
    with _lock:
        return {name: ds.fingerprint for (name, _), ds in sorted(_cache.items())}


def clear_cache() -> None:
    """Forget loaded datasets (tests use it; a run never needs to)."""
    with _lock:
        _cache.clear()
