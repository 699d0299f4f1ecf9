"""Versions, backend, device and CPU: what every result and baseline records."""

from __future__ import annotations

import os
import platform
import sys
from functools import lru_cache
from importlib import metadata
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def backend() -> str:
    """The Keras backend that a run will use (without importing Keras)."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def accelerators() -> list[str]:
    """GPUs visible to the active Keras backend (imports it)."""
    b = backend()
    try:
        if b == "tensorflow":
            import tensorflow as tf

            return [d.name for d in tf.config.list_physical_devices("GPU")]
        if b == "jax":
            import jax

            return [str(d) for d in jax.devices() if d.platform == "gpu"]
        if b == "torch":
            import torch

            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken GPU stack means "no GPU", not a crash
        return []
    return []


def memory_gb() -> float | None:
    """Physical memory in GiB (Linux), rounded to one decimal."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


THREAD_ENV = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def share_cores(workers: int, cores: int | None = None) -> dict[str, str]:
    """Give this process its share of the cores (TensorFlow's thread pools), as one of `workers` processes.

    Two workers whose TensorFlow each runs a pool per core oversubscribe the machine; one pool each is
    faster in sum. The numbers do not change (the suite's results are compared bit for bit). Must run
    before TensorFlow starts; a variable the user set is kept. Returns what was set."""
    if "tensorflow" in sys.modules:
        raise RuntimeError("share_cores() must run before TensorFlow is imported")
    n = max(1, (cores or os.cpu_count() or 1) // max(1, workers))
    set_now = {k: str(n) for k in THREAD_ENV if k not in os.environ}
    os.environ.update(set_now)
    return set_now


def machine_info() -> dict[str, Any]:
    """What makes two timing runs comparable: the machine and the library versions."""
    snap = snapshot()
    return {"cpu_model": snap["cpu"], "cpu_count": snap["cpu_count"], "memory_gb": memory_gb(),
            "gpu": ", ".join(snap["accelerators"]) or "none", "backend": snap["backend"],
            "tensorflow": snap["tensorflow"], "keras": snap["keras"], "numpy": snap["numpy"],
            "python": snap["python"]}


@lru_cache(maxsize=1)
def snapshot() -> dict[str, Any]:
    """Everything a result records about where it was measured."""
    gpus = accelerators()
    return {
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow") or _version("tensorflow-cpu"),
        "keras": _version("keras"),
        "numpy": _version("numpy"),
        "backend": backend(),
        "device": "gpu" if gpus else "cpu",
        "accelerators": gpus,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }
