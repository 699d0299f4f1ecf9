"""API drift: what the five documents call, and whether today's Keras/TensorFlow still has it.

Each entry names a Python API a document calls, how to probe for it, and its
replacement. `expected_present` is the state measured on the versions in
`constraints.txt`; the bench test fails when a probe disagrees — a new API
disappeared (drift to handle) or a known-missing one came back (stale list).
The R keras calls of document 000 (`optimizer_sgd(lr=)`, `layer_dense`, ...)
belong to the R package and are out of this Python probe's reach.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from .errors import SpecError, invalid_value


@dataclass(frozen=True)
class Api:
    """One documented call: where it is written, how to probe it, what replaces it."""

    name: str
    documents: tuple[str, ...]
    probe: str  # "attr:<dotted path>", "import:<module>" or "call:<name of a function in CALL_PROBES>"
    expected_present: bool
    replacement: str

    def present(self) -> bool:
        kind, _, target = self.probe.partition(":")
        if kind == "attr":
            return _resolve(target) is not None
        if kind == "import":
            try:
                importlib.import_module(target)
            except ImportError:
                return False
            return True
        if kind == "call":
            if target not in CALL_PROBES:
                raise SpecError(invalid_value("probe", f"call:<one of {sorted(CALL_PROBES)}>", self.probe))
            try:
                CALL_PROBES[target]()
            except (TypeError, ValueError, AttributeError, NotImplementedError):
                return False
            return True
        raise SpecError(invalid_value("probe", "'attr:...', 'import:...' or 'call:...'", self.probe))


def _resolve(path: str) -> object | None:
    """`a.b.c` as attribute lookups from the longest importable module prefix; None if any step is missing."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def _sgd_lr() -> None:
    import keras

    keras.optimizers.SGD(lr=0.01)


def _optimizer_decay() -> None:
    import warnings

    import keras

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keras.optimizers.SGD(learning_rate=0.01, decay=1e-6)
    if any("no longer supported" in str(w.message) for w in caught):
        raise ValueError("decay= is accepted and ignored")


def _checkpoint_period() -> None:
    import keras

    keras.callbacks.ModelCheckpoint("model.keras", period=1)


def _predict_classes() -> None:
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.predict_classes  # noqa: B018 - the attribute is the probe


def _leaky_alpha() -> None:
    import keras

    keras.layers.LeakyReLU(alpha=0.2)


def _flatten_input_shape() -> None:
    import warnings

    import keras

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras 3 accepts it with a UserWarning
        keras.layers.Flatten(input_shape=[28, 28])


def _h5_save() -> None:
    import os
    import tempfile

    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with tempfile.TemporaryDirectory() as d:
        model.save(os.path.join(d, "model.h5"))


CALL_PROBES: dict[str, Callable[[], None]] = {
    "sgd_lr": _sgd_lr,
    "optimizer_decay": _optimizer_decay,
    "checkpoint_period": _checkpoint_period,
    "predict_classes": _predict_classes,
    "leaky_alpha": _leaky_alpha,
    "flatten_input_shape": _flatten_input_shape,
    "h5_save": _h5_save,
}

D001, D002, D003 = "001 (Lab02)", "002 (Keras notes)", "003 (IMDB)"

APIS: tuple[Api, ...] = (
    # Gone or renamed.
    Api("optimizer argument lr=", (D001, D002), "call:sgd_lr", False, "learning_rate="),
    Api("optimizer argument decay=", (D002,), "call:optimizer_decay", False,
        "a keras.optimizers.schedules.LearningRateSchedule as learning_rate (Keras 3 accepts decay= and "
        "silently ignores it, with only a warning)"),
    Api("ModelCheckpoint(period=)", (D002,), "call:checkpoint_period", False, "save_freq= (in batches or 'epoch')"),
    Api("Sequential.predict_classes", (D002,), "call:predict_classes", False, "np.argmax(model.predict(x), axis=-1)"),
    Api("keras.backend.tensorflow_backend.set_session", (D001,), "attr:keras.backend.tensorflow_backend.set_session",
        False, "nothing: TF 2 runs eagerly; tf.config.experimental.set_memory_growth for allow_growth"),
    Api("tf.ConfigProto", (D001,), "attr:tensorflow.ConfigProto", False, "tf.compat.v1.ConfigProto, or tf.config.*"),
    Api("tf.Session", (D001,), "attr:tensorflow.Session", False, "eager execution / tf.function (tf.compat.v1.Session)"),
    Api("tf.placeholder", (D001,), "attr:tensorflow.placeholder", False, "function arguments / keras.Input"),
    Api("tf.random_normal", (D001,), "attr:tensorflow.random_normal", False, "tf.random.normal"),
    Api("tf.global_variables_initializer", (D001,), "attr:tensorflow.global_variables_initializer", False,
        "nothing: variables initialise on creation"),
    Api("tf.train.GradientDescentOptimizer", (D001,), "attr:tensorflow.train.GradientDescentOptimizer", False,
        "keras.optimizers.SGD"),
    Api("tf.train.AdamOptimizer", (D001,), "attr:tensorflow.train.AdamOptimizer", False, "keras.optimizers.Adam"),
    Api("tf.summary.FileWriter", (D001,), "attr:tensorflow.summary.FileWriter", False, "tf.summary.create_file_writer"),
    Api("tf.summary.merge_all", (D001,), "attr:tensorflow.summary.merge_all", False,
        "nothing: summaries are written inside a writer's as_default()"),
    Api("tf.layers.dense", (D001,), "attr:tensorflow.layers.dense", False, "keras.layers.Dense"),
    Api("tf.compat.v1.keras.backend.set_session", (D002,), "attr:tensorflow.compat.v1.keras.backend.set_session",
        False, "keras.utils.set_random_seed + tf.config.experimental.enable_op_determinism"),
    Api("LeakyReLU(alpha=)", (D002,), "call:leaky_alpha", True,
        "negative_slope= (Keras 3 still accepts alpha= as a deprecated alias)"),
    # Typos in the notes: never existed in any Keras.
    Api("keras.model.Sequential (typo in the notes)", (D002,), "attr:keras.model.Sequential", False,
        "keras.models.Sequential"),
    Api("keras.callbacks.ModelEarlyStopping (typo in the notes)", (D002,), "attr:keras.callbacks.ModelEarlyStopping",
        False, "keras.callbacks.EarlyStopping"),
    # Still there (a change here is new drift).
    Api("tf.compat.v1.ConfigProto", (D002,), "attr:tensorflow.compat.v1.ConfigProto", True, ""),
    Api("tf.compat.v1.Session", (D002,), "attr:tensorflow.compat.v1.Session", True, ""),
    Api("tf.compat.v1.get_default_graph", (D002,), "attr:tensorflow.compat.v1.get_default_graph", True, ""),
    Api("tf.nn.softmax_cross_entropy_with_logits", (D001,), "attr:tensorflow.nn.softmax_cross_entropy_with_logits",
        True, ""),
    Api("tf.random.set_seed", (D002,), "attr:tensorflow.random.set_seed", True, ""),
    Api("keras.utils.to_categorical", (D001,), "attr:keras.utils.to_categorical", True, ""),
    Api("keras.utils.plot_model", (D002,), "attr:keras.utils.plot_model", True, ""),
    Api("keras.datasets.imdb", (D003,), "attr:keras.datasets.imdb.load_data", True, ""),
    Api("keras.regularizers.l1 / l2", (D001, D002, D003), "attr:keras.regularizers.l2", True, ""),
    Api("keras.constraints.max_norm", (D002,), "attr:keras.constraints.max_norm", True, ""),
    Api("keras.layers.concatenate", (D002,), "attr:keras.layers.concatenate", True, ""),
    Api("keras.layers.AlphaDropout", (D002,), "attr:keras.layers.AlphaDropout", True, ""),
    Api("keras.layers.PReLU", (D002,), "attr:keras.layers.PReLU", True, ""),
    Api("keras.callbacks.ReduceLROnPlateau", (D002,), "attr:keras.callbacks.ReduceLROnPlateau", True, ""),
    Api("keras.callbacks.TensorBoard", (D001,), "attr:keras.callbacks.TensorBoard", True, ""),
    Api("Flatten(input_shape=)", (D002,), "call:flatten_input_shape", True,
        "keras.Input(shape) as the first layer (Keras 3 warns)"),
    Api("model.save('x.h5')", (D002,), "call:h5_save", True, "model.save('x.keras') (h5 is legacy)"),
)


def report() -> list[dict[str, object]]:
    """Every documented API with its measured state beside the expected one."""
    return [{"api": a.name, "documents": a.documents, "present": a.present(), "expected_present": a.expected_present,
             "replacement": a.replacement} for a in APIS]
