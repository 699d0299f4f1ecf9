"""JSON round-trip for frozen spec dataclasses, and atomic JSON files.

Specs and checks are data; this module turns them into plain JSON and back
so a spec can be fingerprinted, stored beside its baseline, and compared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import BaselineError, invalid_value

_TYPES: dict[str, type] = {}


def jsonable(cls: type) -> type:
    """Class decorator: register a dataclass for `to_json`/`from_json`."""
    _TYPES[cls.__name__] = cls
    return cls


def _is_default(f: dataclasses.Field, value: Any) -> bool:
    if f.default is not dataclasses.MISSING:
        return value == f.default
    if f.default_factory is not dataclasses.MISSING:
        return value == f.default_factory()
    return False


def to_json(obj: Any, *, omit_defaults: bool = False) -> Any:
    """Plain JSON value for a spec object (dataclasses tagged with `type`).

    `omit_defaults` leaves out fields at their default, so adding a field
    with a default to a spec class does not change existing digests.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"type": type(obj).__name__}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if omit_defaults and _is_default(f, value):
                continue
            out[f.name] = to_json(value, omit_defaults=omit_defaults)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_json(v, omit_defaults=omit_defaults) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_json(v, omit_defaults=omit_defaults) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)  # JSON has no NaN/inf; keep them readable
    return obj


def from_json(value: Any) -> Any:
    """Inverse of `to_json`: lists become tuples, tagged dicts dataclasses."""
    if isinstance(value, list):
        return tuple(from_json(v) for v in value)
    if isinstance(value, dict):
        if "type" in value and isinstance(value["type"], str) and value["type"] in _TYPES:
            cls = _TYPES[value["type"]]
            kwargs = {k: from_json(v) for k, v in value.items() if k != "type"}
            return cls(**kwargs)
        return {k: from_json(v) for k, v in value.items()}
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return value


def canonical(obj: Any) -> str:
    """Stable JSON text of an object, default-valued fields left out: the basis of spec digests."""
    return json.dumps(to_json(obj, omit_defaults=True), sort_keys=True, separators=(",", ":"))


def digest(obj: Any) -> str:
    """sha256 of `canonical(obj)`, short enough to read in a message."""
    return hashlib.sha256(canonical(obj).encode()).hexdigest()[:16]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so a reader never sees half a file: temp file, fsync, rename.

    Writers of one path (pytest-xdist workers) take turns on a lock file beside it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n"
    with _locked(path):
        _write(path, text)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: the rename alone keeps files whole
        yield
        return
    lock = path.parent / f".{path.name}.lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make a shared baseline unreadable to others
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_json(path: Path, *, kind: str, schema_version: int) -> dict[str, Any]:
    """Read a regsuite JSON file, refusing malformed or other-schema files."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"{path}: cannot be read ({exc.strerror}).") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"{path}: is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from exc
    if not isinstance(data, dict):
        raise BaselineError(invalid_value("document", "a JSON object", type(data).__name__, where=str(path)))
    if data.get("kind") != kind:
        raise BaselineError(invalid_value("kind", repr(kind), data.get("kind"), where=str(path)))
    version = data.get("schema_version")
    if version != schema_version:
        raise BaselineError(
            invalid_value("schema_version", f"{schema_version} (this regsuite's schema)", version, where=str(path))
            + ". The file is stale or from another regsuite; re-record it."
        )
    return data
