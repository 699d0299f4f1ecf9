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


# The distribution whose version is the backend's: its kernels decide the numbers and the speed.
BACKEND_DISTS = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jaxlib", "jax"), "torch": ("torch",)}


def backend_version(name: str) -> str | None:
    """The installed version of the library behind Keras backend `name` (None where it is not installed)."""
    return next(filter(None, map(_version, BACKEND_DISTS.get(name, (name,)))), None)


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


# CPU features that matter to TensorFlow's numbers: which kernels run (oneDNN or Eigen, AVX2 or AVX-512).
ISA_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
# TensorFlow turns its oneDNN kernels on by default on x86 only where the CPU has one of these
# (TensorFlow 2.9 release notes; TF_ENABLE_ONEDNN_OPTS overrides either way).
ONEDNN_DEFAULT_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_isa(flags: frozenset[str] | None = None) -> str:
    """The CPU features among ISA_FLAGS, space-separated: same model name, different kernels, different numbers."""
    flags = cpu_flags() if flags is None else flags
    return " ".join(f for f in ISA_FLAGS if f in flags) or "unknown"


def onednn_expected(flags: frozenset[str] | None = None, env: Any = None) -> bool:
    """Whether TensorFlow will run its oneDNN kernels here (without importing it).

    Measured on a 2-core AVX2 EPYC without them (TensorFlow's Eigen kernels): a model's numbers change with
    TF_NUM_INTRAOP_THREADS; with oneDNN on, 1 and 2 threads gave the same numbers."""
    env = os.environ if env is None else env
    setting = env.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
    if setting in ("1", "true"):
        return True
    if setting in ("0", "false"):
        return False
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in ONEDNN_DEFAULT_FLAGS)


def onednn_enabled() -> bool | None:
    """TensorFlow's own answer once it is imported (None where it is not, or cannot say)."""
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except Exception:  # a private module: its absence means "cannot say"
        return None


def cpu_class(env: Any) -> str | None:
    """The CPU kernels a TensorFlow run's numbers depend on, as a folder name: 'onednn-avx512', 'eigen-avx2-2threads'.

    With oneDNN the numbers follow the ISA; with Eigen also the intra-op pool (TensorFlow's default: one thread per
    schedulable core). None off TensorFlow or on a GPU, where other folders apply."""
    if env.get("backend") != "tensorflow" or env.get("device") != "cpu":
        return None
    isa = set(str(env.get("cpu_isa") or "").split())
    level = next((name for flag, name in (("avx512f", "avx512"), ("avx2", "avx2"), ("avx", "avx")) if flag in isa), "x86")
    if env.get("onednn"):
        return f"onednn-{level}"
    threads = env.get("intra_op_threads")
    threads = env.get("cpu_count") if threads in (None, "default") else threads
    return f"eigen-{level}-{threads}threads"


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


def share_cores(workers: int, cores: int | None = None, *, flags: frozenset[str] | None = None) -> dict[str, str]:
    """Give this process its share of the cores (TensorFlow's thread pools), as one of `workers` processes.

    Two workers whose TensorFlow each runs a pool per core oversubscribe the machine; one pool each is
    faster in sum. Only where TensorFlow runs its oneDNN kernels, whose numbers do not depend on the pool
    size (the suite's results are compared bit for bit); with its Eigen kernels they do, so the pools are
    left as a serial run has them. Must run before TensorFlow starts; a variable the user set is kept.
    Returns what was set."""
    if "tensorflow" in sys.modules:
        raise RuntimeError("share_cores() must run before TensorFlow is imported")
    if not onednn_expected(flags):
        return {}
    n = max(1, (cores or os.cpu_count() or 1) // max(1, workers))
    set_now = {k: str(n) for k in THREAD_ENV if k not in os.environ}
    os.environ.update(set_now)
    return set_now


def quiet_idle_threads() -> dict[str, str]:
    """Let OpenMP's idle threads sleep instead of spin (OMP_WAIT_POLICY=PASSIVE), as one of several processes.

    PyTorch's CPU kernels run on OpenMP, whose threads spin while they wait: two xdist workers, each with a
    thread per core, then spend the cores spinning (measured: a PyTorch-backend fit 10x slower than alone).
    The thread count, which PyTorch's numbers depend on, stays. A variable the user set is kept. Returns what
    was set."""
    if "OMP_WAIT_POLICY" in os.environ:
        return {}
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return {"OMP_WAIT_POLICY": "PASSIVE"}


def machine_info() -> dict[str, Any]:
    """What makes two timing runs comparable: the machine and the library versions."""
    snap = snapshot()
    return {"cpu_model": snap["cpu"], "cpu_isa": snap["cpu_isa"], "cpu_count": snap["cpu_count"],
            "memory_gb": memory_gb(),
            "gpu": ", ".join(snap["accelerators"]) or "none", "backend": snap["backend"],
            "backend_version": snap["backend_version"],
            "tensorflow": snap["tensorflow"], "keras": snap["keras"], "numpy": snap["numpy"],
            "python": snap["python"]}


@lru_cache(maxsize=1)
def snapshot() -> dict[str, Any]:
    """Everything a result records about where it was measured."""
    gpus = accelerators()
    snap = {
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow") or _version("tensorflow-cpu"),
        "keras": _version("keras"),
        "numpy": _version("numpy"),
        "backend": backend(),
        "backend_version": backend_version(backend()),
        "device": "gpu" if gpus else "cpu",
        "accelerators": gpus,
        "cpu": cpu_model(),
        "cpu_isa": cpu_isa(),
        "cpu_count": os.cpu_count(),
        "onednn": onednn_enabled(),
        # The variable each backend's CPU kernels size their pool by (PyTorch's numbers depend on it too).
        "intra_op_threads": os.environ.get("OMP_NUM_THREADS" if backend() == "torch" else "TF_NUM_INTRAOP_THREADS",
                                           "default"),
        "platform": platform.platform(),
    }
    if snap["onednn"] is None and snap["backend"] == "tensorflow":
        snap["onednn"] = onednn_expected()  # TensorFlow cannot say: its documented default for this CPU
    snap["cpu_class"] = cpu_class(snap)
    return snap
