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
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from .environment import accelerators, backend
from .errors import RegsuiteError, invalid_value
from .specs import ExperimentSpec

DEVICES = ("cpu", "gpu")


class DeviceUnavailable(RegsuiteError):
    """The asked-for device is not visible to the active Keras backend."""


@dataclass
class FitTiming:
    """What one timed fit measured."""

    experiment: str
    device: str
    device_name: str
    backend: str
    fit_seconds: float
    first_epoch_seconds: float
    steady_epoch_seconds: float  # median over epochs 2..N
    samples_per_second: float  # steady state, training samples only
    epochs: int
    samples: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def time_fit(spec: ExperimentSpec, seed: int, device: str = "cpu", *, data_dir: str | None = None) -> FitTiming:
    """Build the spec's model and time its documented `fit` on `device`."""
    import keras

    from . import runner

    if spec.procedure != "keras_fit":
        raise invalid_procedure(spec)
    arrays, _ = runner.prepared(spec.data, data_dir)
    x, y, validation = runner.fit_split(spec, arrays)
    marks: list[float] = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            _sync()
            marks.append(time.perf_counter())

    keras.utils.set_random_seed(seed)
    with on_device(device) as name:
        model = runner.build(spec)
        _sync()
        start = time.perf_counter()
        model.fit(**runner.fit_inputs(x, y, spec, seed), epochs=spec.fit.epochs,
                  validation_data=runner.eval_inputs(*validation, spec=spec), callbacks=[EpochClock()], verbose=0)
        _sync()
        end = time.perf_counter()
    keras.backend.clear_session()
    epochs = [b - a for a, b in zip([start] + marks[:-1], marks)]
    steady = statistics.median(epochs[1:]) if len(epochs) > 1 else epochs[0]
    return FitTiming(
        experiment=spec.id, device=device, device_name=name, backend=backend(), fit_seconds=end - start,
        first_epoch_seconds=epochs[0], steady_epoch_seconds=steady, samples_per_second=len(x) / steady,
        epochs=len(epochs), samples=len(x),
    )


def invalid_procedure(spec: ExperimentSpec) -> RegsuiteError:
    return RegsuiteError(invalid_value("procedure", "'keras_fit' (only Keras fits are timed)", spec.procedure, where=spec.id))
