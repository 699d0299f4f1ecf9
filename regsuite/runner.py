"""`run(spec, seed) -> RunResult`: seed, build, compile, fit, evaluate.

No pytest here: the CLI, the bench suite and scripts all call this.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Any

import numpy as np

from . import datasets
from .environment import snapshot
from .results import RunResult
from .specs import DataSpec, ExperimentSpec, ModelSpec, OptimizerSpec, Regularizer


@lru_cache(maxsize=16)
def _prepared(data: DataSpec, data_dir: str | None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays a spec's model sees, prepared once per process per DataSpec."""
    ds = datasets.load(data.dataset, data_dir)
    x_train, y_train = ds.arrays["x_train"], ds.arrays["y_train"]
    if data.train_slice is not None:
        lo, hi = data.train_slice
        x_train, y_train = x_train[lo:hi], y_train[lo:hi]
    out = {"x_train": x_train, "y_train": y_train, "x_test": ds.arrays["x_test"], "y_test": ds.arrays["y_test"]}
    for k in ("x_train", "x_test"):
        x = out[k].astype("float32")
        if data.flatten:
            x = x.reshape(len(x), -1)
        if data.scale is not None:
            x = x / np.float32(data.scale)
        out[k] = x
    if data.one_hot:
        for k in ("y_train", "y_test"):
            out[k] = np.eye(data.one_hot, dtype="float32")[out[k].astype("int64")]
    for a in out.values():
        a.setflags(write=False)
    return out, {data.dataset: ds.fingerprint}


def _keras_value(value: Any) -> Any:
    import keras

    if isinstance(value, Regularizer):
        if value.l1 and value.l2:
            return keras.regularizers.L1L2(l1=value.l1, l2=value.l2)
        return keras.regularizers.L1(value.l1) if value.l1 else keras.regularizers.L2(value.l2)
    return value


def build_model(model: ModelSpec, name: str | None = None):
    """A Keras model from its spec (a Sequential over `keras.Input`)."""
    import keras

    layers = [keras.Input(shape=tuple(model.input_shape))]
    for layer in model.layers:
        cls = getattr(keras.layers, layer.kind)
        layers.append(cls(**{k: _keras_value(v) for k, v in layer.options}))
    return keras.Sequential(layers, name=(name or "model").replace("/", "__"))


def make_optimizer(opt: OptimizerSpec):
    import keras

    return getattr(keras.optimizers, opt.name)(**dict(opt.params))


def param_counts(model) -> dict[str, int]:
    import keras

    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    non_trainable = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    total = int(model.count_params())
    del keras
    return {"total": total, "trainable": trainable, "non_trainable": non_trainable}


def build(spec: ExperimentSpec):
    """Build and compile the spec's model (no data needed)."""
    model = build_model(spec.model, spec.id)
    model.compile(optimizer=make_optimizer(spec.compile.optimizer), loss=spec.compile.loss, metrics=list(spec.compile.metrics))
    return model


def _determinism() -> None:
    if snapshot()["backend"] == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # older TF: determinism is best effort
            pass


def run(spec: ExperimentSpec, seed: int | None = None, *, data_dir: str | os.PathLike | None = None) -> RunResult:
    """Train and evaluate one experiment with one seed."""
    import keras

    seed = spec.seeds[0] if seed is None else int(seed)
    arrays, fingerprints = _prepared(spec.data, str(data_dir) if data_dir else None)
    x, y = arrays["x_train"], arrays["y_train"]
    n = spec.fit.train_count
    if n is not None:
        validation = (x[n:], y[n:])
        x, y = x[:n], y[:n]
    else:
        validation = (arrays["x_test"], arrays["y_test"])
    _determinism()
    keras.utils.set_random_seed(seed)
    model = build(spec)
    start = time.perf_counter()
    history = model.fit(
        x, y,
        batch_size=spec.fit.batch_size,
        epochs=spec.fit.epochs,
        shuffle=spec.fit.shuffle,
        validation_data=validation,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - start
    test = model.evaluate(arrays["x_test"], arrays["y_test"], batch_size=256, verbose=0, return_dict=True)
    result = RunResult(
        experiment=spec.id,
        seed=seed,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        test={k: float(v) for k, v in test.items()},
        params=param_counts(model),
        fit_seconds=fit_seconds,
        spec_digest=spec.digest,
        dataset_fingerprints=fingerprints,
        environment=snapshot(),
    )
    keras.backend.clear_session()
    return result
