"""Timing one training run on a chosen device, first epoch apart from the rest.

General on purpose: any `keras_fit` experiment can be timed, on `cpu` or
`gpu`, through the active Keras backend. The first epoch holds tracing and
compilation, so it is reported on its own; the steady state is the median of
the other epochs. Numbers are medians and ratios, never one absolute time.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from typing import Any, Iterator

import numpy as np

from .environment import accelerators, backend, snapshot
from .errors import RegsuiteError, invalid_value
from .specs import ExperimentSpec

DEVICES = ("cpu", "gpu")


class DeviceUnavailable(RegsuiteError):
    """The asked-for device is not visible to the active Keras backend."""


@contextlib.contextmanager
def on_device(device: str) -> Iterator[str]:
    """Place computation on `device` for the active backend; yields the device's name."""
    if device not in DEVICES:
        raise DeviceUnavailable(invalid_value("device", f"one of {DEVICES}", device))
    b = backend()
    if device == "gpu" and not accelerators():
        raise DeviceUnavailable(f"no GPU visible to the Keras backend {b!r}")
    if b == "tensorflow":
        import tensorflow as tf

        name = "/GPU:0" if device == "gpu" else "/CPU:0"
        with tf.device(name):
            yield (accelerators()[0] if device == "gpu" else _cpu_name())
    elif b == "jax":
        import jax

        dev = jax.devices("gpu" if device == "gpu" else "cpu")[0]
        with jax.default_device(dev):
            yield str(dev)
    elif b == "torch":
        import torch

        # Keras' torch backend places tensors on its own default device; name it so a mismatch is visible.
        yield torch.cuda.get_device_name(0) if device == "gpu" else _cpu_name()
    else:
        yield _cpu_name()


def _cpu_name() -> str:
    from .environment import cpu_model

    return f"{cpu_model()} ({os.cpu_count()} cores)"


def _sync() -> None:
    """Wait for queued device work, so a timer never stops early."""
    b = backend()
    if b == "jax":
        import jax

        (jax.device_put(0.0) + 0).block_until_ready()
    elif b == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def train_flops_per_step(model, batch_size: int) -> float:
    """Analytic FLOPs of one training step from the layer shapes: every 2-D kernel (Dense) costs
    2 x fan_in x units per sample forward, and the backward pass twice that; activations,
    normalisation and the optimizer update are left out (they are a few per cent here)."""
    forward = sum(2.0 * int(np.prod(w.shape)) for w in model.trainable_weights
                  if len(w.shape) == 2 and w.path.endswith("kernel"))
    return 3.0 * forward * batch_size


def matmul_gflops(device: str = "cpu", n: int = 2048, repeats: int = 7) -> float:
    """The machine's reference: median GFLOP/s of an n x n float32 matmul on `device` (after a warm-up)."""
    import keras

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    times = []
    with on_device(device):
        ta, tb = keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b)
        keras.ops.convert_to_numpy(keras.ops.matmul(ta, tb))  # warm-up: kernels, allocations
        for _ in range(repeats):
            start = time.perf_counter()
            out = keras.ops.matmul(ta, tb)
            keras.ops.convert_to_numpy(out[0, 0])  # forces completion on any backend
            _sync()
            times.append(time.perf_counter() - start)
    return 2.0 * n**3 / statistics.median(times) / 1e9


class Control:
    """A fixed small Keras training epoch timed right before each round of a benchmark.

    The machine's speed drifts within a run (on a shared VM, whole stretches of a
    minute run 15-45 % slower in CPU time, measured), and that drift hits
    Keras's small-batch fit loop (Python, op dispatch, threads) more than a big
    matmul: measured over 16 benchmarks x 5 unchanged runs, the run-to-run CV of
    the medians divided by a 512² matmul chain was 8.5 % (median), divided by
    this control 4.4 %. A round divided by the control timed
    next to it keeps the benchmark's own cost and drops most of that drift. What
    slows every Keras fit alike is divided out too, on purpose: runs of other
    library versions are not comparable anyway (`perf.COMPARABLE_KEYS`).
    """

    KIND = "keras-fit: Dense 64-64-10 relu/softmax, sgd, 4096 x 64 float32, batch 128, 1 epoch"

    def __init__(self, device: str = "cpu", samples: int = 4096) -> None:
        import keras

        rng = np.random.default_rng(0)
        self.device = device
        self._x = rng.standard_normal((samples, 64), dtype=np.float32)
        self._y = rng.integers(0, 10, samples)
        with on_device(device):
            self._model = keras.Sequential([
                keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10, activation="softmax")])
            self._model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        self.seconds()  # warm-up: tracing, kernels, allocations

    def seconds(self) -> tuple[float, float]:
        """(wall seconds, process CPU seconds) of one pass of the workload."""
        with on_device(self.device):
            _sync()
            start, cpu_start = time.perf_counter(), time.process_time()
            self._model.fit(self._x, self._y, batch_size=128, epochs=1, verbose=0, shuffle=False)
            _sync()
            return time.perf_counter() - start, time.process_time() - cpu_start


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class EpochBench:
    """One experiment's model, built and traced on a device, trained one epoch per call.

    The first epoch (tracing and compilation) is timed on its own at construction;
    each later call is one steady-state epoch of training only (no validation, no
    callbacks), the device synchronised before the clock stops.
    """

    def __init__(self, spec: ExperimentSpec, seed: int, device: str = "cpu", *, data_dir: str | None = None) -> None:
        import keras

        from . import runner

        if spec.procedure != "keras_fit":
            raise invalid_procedure(spec)
        self.spec, self.device = spec, device
        arrays, self.fingerprints = runner.prepared(spec.data, data_dir)
        x, y, _ = runner.fit_split(spec, arrays)
        self.samples = len(x)
        self._inputs = runner.fit_inputs(x, y, spec, seed)
        self._device_ctx = on_device(device)
        self.device_name = self._device_ctx.__enter__()
        keras.utils.set_random_seed(seed)
        self._grads = runner.custom_gradient_names()
        self.model = runner.build(spec)
        self.first_epoch_seconds = self._one_epoch()
        self.flops_per_step = train_flops_per_step(self.model, spec.fit.batch_size)
        self.steps_per_epoch = -(-self.samples // spec.fit.batch_size)

    def _one_epoch(self) -> float:
        _sync()
        start = time.perf_counter()
        self.model.fit(**self._inputs, epochs=1, verbose=0)
        _sync()
        return time.perf_counter() - start

    def epoch(self) -> float:
        """Train one more epoch; returns its seconds."""
        return self._one_epoch()

    def close(self) -> None:
        """Leave the device, clear the Keras session and free this model's traced graphs
        (`runner.clear_session`: TensorFlow would otherwise keep them for the whole process)."""
        from . import runner

        self._device_ctx.__exit__(None, None, None)
        self.model = None  # the last reference this object holds to the traced model
        runner.clear_session(since=self._grads)

    def report(self, epoch_seconds: list[float], reference_gflops: float | None) -> dict[str, Any]:
        """What a benchmark's extra_info carries, from its per-round epoch times."""
        from .runner import steps_per_execution

        steady = statistics.median(epoch_seconds)
        achieved = self.flops_per_step * self.steps_per_epoch / steady / 1e9
        snap = snapshot()
        return {
            "experiment": self.spec.id, "device": self.device, "device_name": self.device_name,
            "backend": backend(), "first_epoch_seconds": self.first_epoch_seconds,
            "steady_epoch_seconds": steady, "samples_per_second": self.samples / steady,
            "train_flops_per_step": self.flops_per_step, "achieved_gflops": achieved,
            "reference_matmul_gflops": reference_gflops,
            "fraction_of_reference": achieved / reference_gflops if reference_gflops else None,
            "samples": self.samples, "batch_size": self.spec.fit.batch_size,
            "steps_per_execution": steps_per_execution(self.spec),
            "tensorflow": snap["tensorflow"], "keras": snap["keras"], "numpy": snap["numpy"],
            "dataset_fingerprints": dict(self.fingerprints), "peak_rss_mb": peak_rss_mb(),
        }


def rounds_for(seconds_per_round: float, budget_seconds: float, *, least: int = 5, most: int = 15) -> int:
    """Timed rounds for one benchmark: as many as fit the budget, at least enough for a rank test
    (5 vs 5 rounds can reach p = 0.008), at most `most`."""
    if seconds_per_round <= 0:
        return most
    return max(least, min(most, int(budget_seconds // seconds_per_round)))


def pass_share(budget_seconds: float, passes: int, *, least: int = 5, most: int = 15) -> tuple[float, int, int]:
    """One pass's (budget, least rounds, most rounds) when a benchmark is timed in `passes` passes whose
    rounds are pooled: together they keep the budget and still reach `least` rounds."""
    if passes < 1:
        raise RegsuiteError(invalid_value("passes", "a positive int", passes))
    return budget_seconds / passes, -(-least // passes), max(1, most // passes)


def invalid_procedure(spec: ExperimentSpec) -> RegsuiteError:
    return RegsuiteError(invalid_value("procedure", "'keras_fit' (only Keras fits are timed)", spec.procedure, where=spec.id))
