"""`run(spec, seed) -> RunResult`: seed, build, compile, fit, evaluate.

Most experiments are a plain Keras `fit` (procedure `keras_fit`); a document
that trains another way (a TensorFlow-1 graph loop, bare gradient descent)
names a procedure registered in `PROCEDURES`. Probes measure something
beside training (a gradient-norm ratio at initialisation). No pytest here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from . import datasets
from .environment import backend as active_backend, snapshot
from .errors import RegsuiteError, SpecError, invalid_value
from .results import RunResult
from .specs import DataSpec, ExperimentSpec, MaxNorm, ModelSpec, OptimizerSpec, Regularizer, WideDeepSpec


# Set (to anything) to train every spec one step per compiled call, the plain way the documents
# write it: the numbers are the same (a bench test checks), only the per-step overhead differs.
PLAIN_LOOP_ENV = "REGSUITE_PLAIN_LOOP"


class UnsupportedBackend(RegsuiteError):
    """The experiment cannot run on the active Keras backend (the message says why)."""


@lru_cache(maxsize=16)
def prepared(data: DataSpec, data_dir: str | None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays a spec's model sees, prepared once per process per DataSpec."""
    ds = datasets.load(data.dataset, data_dir)
    raw = datasets.imdb_load_data(ds.arrays, data.num_words) if data.num_words else ds.arrays
    if "data" in raw:  # a feature table (scikit-learn's layout): the holdout makes the test split
        if data.holdout is None:
            raise SpecError(invalid_value("holdout", f"(test_size, random_state) for the table {data.dataset!r}", None))
        raw = {"x_train": raw["data"], "y_train": raw["target"], "x_test": None, "y_test": None}
    x_train, y_train = raw["x_train"], raw["y_train"]
    x_test, y_test = raw["x_test"], raw["y_test"]
    out: dict[str, Any] = {}
    if data.validation_slice is not None:
        lo, hi = data.validation_slice
        out["x_valid"], out["y_valid"] = x_train[lo:hi], y_train[lo:hi]
    if data.train_slice is not None:
        lo, hi = data.train_slice
        x_train, y_train = x_train[lo:hi], y_train[lo:hi]
    if data.holdout is not None:
        x_train, y_train, x_test, y_test = _split(x_train, y_train, *data.holdout)
    if data.validation_holdout is not None:
        x_train, y_train, out["x_valid"], out["y_valid"] = _split(x_train, y_train, *data.validation_holdout)
    out.update({"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test})
    xs = [k for k in ("x_train", "x_valid", "x_test") if k in out]
    for k in xs:
        if data.multi_hot:
            out[k] = MultiHotRows.from_sequences(out[k], data.num_words)
            continue
        x = out[k].astype("float64" if data.standardize else "float32")
        if data.flatten:
            x = x.reshape(len(x), -1)
        if data.scale is not None:
            x = x / x.dtype.type(data.scale)
        out[k] = x
    if data.standardize:
        from sklearn.preprocessing import StandardScaler

        flat = {k: out[k].reshape(len(out[k]), -1) for k in xs}  # one feature per column (pixel)
        scaler = StandardScaler().fit(flat["x_train"])
        for k in xs:
            out[k] = scaler.transform(flat[k]).astype("float32").reshape(out[k].shape)
    for k in ("y_train", "y_valid", "y_test"):
        if k not in out:
            continue
        if data.one_hot:
            out[k] = np.eye(data.one_hot, dtype="float32")[out[k].astype("int64")]
        elif data.multi_hot or out[k].dtype == np.float64:
            out[k] = out[k].astype("float32")
    for a in out.values():
        a.setflags(write=False)
    return out, {data.dataset: ds.fingerprint}


def _split(x, y, test_size: float, random_state: int):
    """sklearn's train_test_split; splitting the row indices shuffles exactly as splitting the arrays would."""
    from sklearn.model_selection import train_test_split

    train_idx, test_idx = train_test_split(np.arange(len(x)), test_size=test_size, random_state=random_state)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


class MultiHotRows:
    """Multi-hot rows kept compact (CSR: sorted unique indices per row) and expanded per batch.

    25,000 x 10,000 dense float32 rows are 1 GB a split, and the TensorFlow
    data path copies them again; the compact store is ~25 MB a split and a
    batch of 512 rows is expanded to exactly the values the dense array held.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, width: int) -> None:
        self.indptr, self.indices, self.width = indptr, indices, width

    @classmethod
    def from_sequences(cls, sequences, width: int) -> "MultiHotRows":
        rows = [np.unique(np.asarray(s, dtype=np.int32)) for s in sequences]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=indptr[1:])
        indices = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        return cls(indptr, indices, width)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.width)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """Dense float32 rows `idx`, in that order."""
        idx = np.asarray(idx)
        out = np.zeros((len(idx), self.width), dtype="float32")
        starts, ends = self.indptr[idx], self.indptr[idx + 1]
        counts = ends - starts
        row_of = np.repeat(np.arange(len(idx)), counts)
        cols = self.indices[np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])] if len(idx) else []
        out[row_of, cols] = 1.0
        return out

    def dense(self) -> np.ndarray:
        return self.rows(np.arange(len(self)))

    def setflags(self, write: bool) -> None:
        self.indptr.setflags(write=write)
        self.indices.setflags(write=write)


def _batches(x: "MultiHotRows", y: np.ndarray, batch_size: int, shuffle: bool, seed: int):
    """A keras.utils.PyDataset over compact rows; reshuffled each epoch by a seeded RandomState."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False, max_queue_size=2)
            self.rng = np.random.RandomState(seed)
            self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

        def __len__(self) -> int:
            return -(-len(x) // batch_size)

        def __getitem__(self, i: int):
            idx = self.order[i * batch_size:(i + 1) * batch_size]
            return x.rows(idx), y[idx]

        def on_epoch_end(self) -> None:
            if shuffle:
                self.order = self.rng.permutation(len(x))

    return Batches()


def _keras_value(value: Any) -> Any:
    import keras

    if isinstance(value, MaxNorm):
        return keras.constraints.MaxNorm(max_value=value.max_value, axis=value.axis)
    if isinstance(value, Regularizer):
        if value.l1 and value.l2 or not (value.l1 or value.l2):
            return keras.regularizers.L1L2(l1=value.l1, l2=value.l2)
        return keras.regularizers.L1(value.l1) if value.l1 else keras.regularizers.L2(value.l2)
    return value


def build_model(model: ModelSpec | WideDeepSpec, name: str | None = None):
    """A Keras model from its spec (a Sequential over `keras.Input`, or a functional wide & deep net)."""
    import keras

    if isinstance(model, WideDeepSpec):
        return _wide_deep(model, name)
    layers = [keras.Input(shape=tuple(model.input_shape))]
    for layer in model.layers:
        cls = getattr(keras.layers, layer.kind, None)
        if not isinstance(cls, type):
            raise SpecError(invalid_value("kind", "a layer class in keras.layers", layer.kind, where=name))
        layers.append(cls(**{k: _keras_value(v) for k, v in layer.options}))
    return keras.Sequential(layers, name=(name or "model").replace("/", "__"))


def _wide_deep(spec: WideDeepSpec, name: str | None):
    import keras

    deep_in = keras.Input(shape=(spec.deep[1] - spec.deep[0],), name="deep_input" if spec.wide else "input")
    wide_in = keras.Input(shape=(spec.wide[1] - spec.wide[0],), name="wide_input") if spec.wide else deep_in
    h = deep_in
    for units in spec.hidden:
        h = keras.layers.Dense(units, activation=spec.activation)(h)
    concat = keras.layers.concatenate([wide_in, h])
    outputs = [keras.layers.Dense(1, name=spec.output_names[0])(concat)]
    if spec.aux_output:
        outputs.append(keras.layers.Dense(1, name="aux_output")(h))
    inputs = [wide_in, deep_in] if spec.wide else [deep_in]
    return keras.Model(inputs=inputs, outputs=outputs, name=(name or "model").replace("/", "__"))


def model_inputs(model: ModelSpec | WideDeepSpec, x):
    """What the model is fed: the array, or its wide and deep column ranges (in the model's input order)."""
    if isinstance(model, WideDeepSpec) and model.wide is not None:
        return (x[:, model.wide[0]:model.wide[1]], x[:, model.deep[0]:model.deep[1]])
    return x


def model_targets(model: ModelSpec | WideDeepSpec, y):
    """One target per output: the aux head learns the same target as the main one."""
    return (y, y) if isinstance(model, WideDeepSpec) and model.aux_output else y


def make_optimizer(opt: OptimizerSpec):
    import keras

    return getattr(keras.optimizers, opt.name)(**dict(opt.params))


def param_counts(model) -> dict[str, int]:
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    non_trainable = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return {"total": int(model.count_params()), "trainable": trainable, "non_trainable": non_trainable}


def steps_per_execution(spec: ExperimentSpec) -> int:
    """The steps per compiled call a run of `spec` really takes: the spec's, except on the plain loop and on
    PyTorch, whose Keras trainer refuses more than one (the numbers are the same either way)."""
    if os.environ.get(PLAIN_LOOP_ENV) or active_backend() == "torch":
        return 1
    return spec.compile.steps_per_execution


def build(spec: ExperimentSpec):
    """Build the spec's model (no data needed); compile it where Keras trains it."""
    model = build_model(spec.model, spec.id)
    if spec.procedure != "keras_fit":
        return model  # trained by its own loop: the spec's loss may be no Keras loss name
    c = spec.compile
    spe = steps_per_execution(spec)
    model.compile(optimizer=make_optimizer(c.optimizer), loss=c.loss if isinstance(c.loss, str) else list(c.loss),
                  loss_weights=None if c.loss_weights is None else list(c.loss_weights),
                  metrics=list(c.metrics) or None, steps_per_execution=spe)
    return model


def _determinism() -> None:
    if snapshot()["backend"] == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # older TF: determinism is best effort
            pass


# --- probes: measurements beside training, on the freshly built model -------


def _grad_norm_ratio(spec: ExperimentSpec, model, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """||dL/dW|| of the first Dense kernel over that of the last hidden one, on one batch at initialisation."""
    import keras

    n = spec.fit.batch_size
    x = keras.ops.convert_to_tensor(arrays["x_train"][:n])
    y = keras.ops.convert_to_tensor(arrays["y_train"][:n])
    kernels = [w for w in model.trainable_weights if w.path.endswith("kernel")]
    grads = _gradients(model, x, y, kernels)
    norms = [float(np.linalg.norm(np.asarray(g))) for g in grads]
    first, last_hidden = norms[0], norms[-2]
    return {"grad_norm_first": first, "grad_norm_last_hidden": last_hidden, "grad_ratio_first_last": first / last_hidden}


def _gradients(model, x, y, weights) -> list:
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
        return tape.gradient(loss, weights)
    if backend == "jax":
        import jax

        values = [w.value for w in weights]

        def loss_of(vs):
            mapping = list(zip(weights, vs))
            with keras.StatelessScope(state_mapping=mapping):
                return model.compute_loss(x=x, y=y, y_pred=model(x, training=True))

        return jax.grad(loss_of)(values)
    if backend == "torch":
        model.zero_grad()
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
        loss.backward()
        return [w.value.grad.detach().cpu().numpy() for w in weights]
    raise UnsupportedBackend(f"gradient probe: backend {backend!r} is not supported")


SELU_DEPTHS = (10, 50, 100)


def _selu_stats(spec: ExperimentSpec, model, arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean and std of the SELU activations at depths 10, 50, 100 of the freshly built net.

    Input: the first 1,000 training rows standardised pixel by pixel (statistics of those
    rows; a constant pixel keeps scale 1), the condition the notes state for self-normalisation.
    """
    import keras

    x = np.asarray(arrays["x_train"][:1000], dtype=np.float64).reshape(1000, -1)
    std = x.std(axis=0)
    h = ((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype("float32")
    out: dict[str, float] = {}
    depth = 0
    for layer in model.layers:
        h = layer(h, training=False)
        if getattr(layer, "activation", None) is not None and layer.__class__.__name__ == "Dense" \
                and layer.get_config().get("activation") == "selu":
            depth += 1
            if depth in SELU_DEPTHS:
                a = keras.ops.convert_to_numpy(h)  # np.asarray fails on a torch tensor that needs grad
                out[f"selu_mean_at_{depth}"] = float(a.mean())
                out[f"selu_std_at_{depth}"] = float(a.std())
    return out


PROBES: dict[str, Callable[..., dict[str, float]]] = {"grad_norm_ratio": _grad_norm_ratio, "selu_stats": _selu_stats}


# --- procedures ----------------------------------------------------------------


def _tensorboard_readback(log_dir: str, history: dict[str, list[float]]) -> dict[str, float]:
    """Read the callback's event files back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, float] = {}
    for split, prefix in (("train", ""), ("validation", "val_")):
        path = os.path.join(log_dir, split)
        acc = EventAccumulator(path, size_guidance={"tensors": 0, "scalars": 0})
        acc.Reload()
        tags = set(acc.Tags().get("tensors", [])) | set(acc.Tags().get("scalars", []))
        for metric in ("loss", "accuracy"):
            tag = f"epoch_{metric}"
            if tag not in tags:
                out[f"tb_{split}_{metric}_count"] = 0.0
                continue
            events = acc.Tensors(tag) if tag in acc.Tags().get("tensors", []) else acc.Scalars(tag)
            values = [float(np.asarray(_tensor_value(e))) for e in sorted(events, key=lambda e: e.step)]
            out[f"tb_{split}_{metric}_count"] = float(len(values))
            ref = history.get(prefix + metric, [])
            if len(ref) == len(values):
                out[f"tb_{split}_{metric}_max_abs_diff"] = float(np.max(np.abs(np.asarray(values) - np.asarray(ref))))
    return out


def _tensor_value(event: Any) -> Any:
    if hasattr(event, "tensor_proto"):
        from tensorboard.util import tensor_util

        return tensor_util.make_ndarray(event.tensor_proto)
    return event.value


def _keras_fit(spec: ExperimentSpec, seed: int, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    import keras

    x, y, validation = fit_split(spec, arrays)
    model = build(spec)
    extra: dict[str, float] = {}
    for probe in spec.probes:
        extra.update(PROBES[probe](spec, model, arrays))
    callbacks, log_dir, ckpt_dir = [], None, None
    if spec.fit.tensorboard:
        log_dir = tempfile.mkdtemp(prefix="regsuite-tb-")
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir))
    if spec.fit.early_stopping is not None:
        callbacks.append(keras.callbacks.EarlyStopping(**dict(spec.fit.early_stopping)))
    if spec.fit.checkpoint is not None:
        ckpt_dir = tempfile.mkdtemp(prefix="regsuite-ckpt-")
        ckpt_path = os.path.join(ckpt_dir, "best.keras")
        callbacks.append(keras.callbacks.ModelCheckpoint(ckpt_path, monitor=spec.fit.checkpoint, save_best_only=True))
    try:
        start = time.perf_counter()
        history = model.fit(
            **fit_inputs(x, y, spec, seed),
            epochs=spec.fit.epochs,
            validation_data=eval_inputs(*validation, spec=spec),
            callbacks=callbacks,
            verbose=0,
        )
        fit_seconds = time.perf_counter() - start
        hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        if spec.fit.early_stopping is not None:
            monitor = dict(spec.fit.early_stopping)["monitor"]
            extra["epochs_run"] = float(len(hist[monitor]))
            extra["best_epoch"] = float(int(np.argmin(hist[monitor])) + 1)
        if log_dir:
            extra.update(_tensorboard_readback(log_dir, hist))
        if ckpt_dir:
            model, more = _reload_best(spec, ckpt_path, hist, validation)
            extra.update(more)
        constrained = [la for la in model.layers if getattr(la, "kernel_constraint", None) is not None]
        if constrained:  # the largest incoming-weight norm of any unit after training
            extra["max_column_norm"] = max(float(np.linalg.norm(keras.ops.convert_to_numpy(la.kernel), axis=0).max())
                                           for la in constrained)
    finally:
        for d in (log_dir, ckpt_dir):
            if d:
                shutil.rmtree(d, ignore_errors=True)
    if isinstance(arrays["x_test"], MultiHotRows):
        test = model.evaluate(_batches(arrays["x_test"], arrays["y_test"], 256, False, 0), verbose=0, return_dict=True)
    else:
        test = model.evaluate(model_inputs(spec.model, arrays["x_test"]), model_targets(spec.model, arrays["y_test"]),
                              batch_size=256, verbose=0, return_dict=True)
    return {"history": hist, "test": {k: float(v) for k, v in test.items()}, "params": param_counts(model),
            "fit_seconds": fit_seconds, "extra": extra}


def fit_split(spec: ExperimentSpec, arrays: dict[str, Any]) -> tuple[Any, Any, tuple[Any, Any]]:
    """Training rows and validation data: an explicit train_count split (Keras' validation_split keeps the
    tail), else the prepared validation arrays, else the test set (as the documents pass validation_data)."""
    x, y = arrays["x_train"], arrays["y_train"]
    n = spec.fit.train_count
    if n is not None:
        return x[:n], y[:n], (x[n:], y[n:])
    if "x_valid" in arrays:
        return x, y, (arrays["x_valid"], arrays["y_valid"])
    return x, y, (arrays["x_test"], arrays["y_test"])


def _reload_best(spec: ExperimentSpec, path: str, hist: dict[str, list[float]], validation) -> tuple[Any, dict[str, float]]:
    """Reload the checkpointed model and show it holds the best epoch's weights.

    Its validation loss, evaluated again, is compared with the best epoch's logged one:
    `checkpoint_gap` is their relative difference (float summation order only).
    """
    import keras

    best = keras.models.load_model(path)
    monitored = hist[spec.fit.checkpoint]
    best_epoch = int(np.argmin(monitored))
    again = best.evaluate(*eval_inputs(*validation, spec=spec), batch_size=spec.fit.batch_size, verbose=0, return_dict=True)
    key = spec.fit.checkpoint.removeprefix("val_")
    gap = abs(float(again[key]) - monitored[best_epoch]) / abs(monitored[best_epoch])
    return best, {"checkpoint_best_epoch": float(best_epoch + 1), "checkpoint_gap": gap,
                  "checkpoint_last_epoch_gap": abs(float(again[key]) - monitored[-1]) / abs(monitored[best_epoch])}


def fit_inputs(x, y, spec: ExperimentSpec, seed: int) -> dict[str, Any]:
    """fit()'s data arguments: arrays with Keras' own batching, or compact rows as a PyDataset."""
    if isinstance(x, MultiHotRows):
        return {"x": _batches(x, y, spec.fit.batch_size, spec.fit.shuffle, seed)}
    return {"x": model_inputs(spec.model, x), "y": model_targets(spec.model, y), "batch_size": spec.fit.batch_size,
            "shuffle": spec.fit.shuffle}


def eval_inputs(x, y, spec: ExperimentSpec):
    """Validation or test data in the form fit()/evaluate() take for this spec's model."""
    if isinstance(x, MultiHotRows):
        return _batches(x, y, 512, False, 0)
    return (model_inputs(spec.model, x), model_targets(spec.model, y))


def _tf_lowlevel(spec: ExperimentSpec, seed: int, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The TensorFlow-1 graph loop of the Lab02 document, ported to TF2.

    Dense(10, relu) -> Dense(10, sigmoid) as raw variables (glorot-uniform
    kernels, zero biases, as `tf.layers.dense`), loss
    `softmax_cross_entropy_with_logits` on the *sigmoid outputs* (the
    document's quirk, kept), `len(train) // batch` steps an epoch of indices
    drawn with replacement, and after each epoch one random batch of the
    validation set. `test.*` evaluates all validation rows once at the end.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UnsupportedBackend(
            f"{spec.id} is the document's TensorFlow graph code and runs on the TensorFlow backend only "
            f"(active backend: {keras.backend.backend()!r})"
        )
    import tensorflow as tf

    x_train, y_train = arrays["x_train"], arrays["y_train"]
    x_val, y_val = arrays["x_test"], arrays["y_test"]
    batch, epochs = spec.fit.batch_size, spec.fit.epochs
    rng = np.random.RandomState(seed)
    init = keras.initializers.GlorotUniform(seed=seed)
    dims = [layer.kwargs["units"] for layer in spec.model.layers]
    w1 = tf.Variable(init((x_train.shape[1], dims[0])))
    b1 = tf.Variable(tf.zeros(dims[0]))
    w2 = tf.Variable(keras.initializers.GlorotUniform(seed=seed + 1)((dims[0], dims[1])))
    b2 = tf.Variable(tf.zeros(dims[1]))
    variables = [w1, b1, w2, b2]
    opt = make_optimizer(spec.compile.optimizer)

    def forward(x, y):
        out = tf.sigmoid(tf.nn.relu(x @ w1 + b1) @ w2 + b2)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=out))
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(out, 1), tf.argmax(y, 1)), tf.float32))
        return loss, acc

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss, _ = forward(x, y)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return forward(x, y)  # the document logs loss/accuracy after the step, on the same batch

    evaluate = tf.function(forward)
    hist: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    steps = len(x_train) // batch
    start = time.perf_counter()
    for _ in range(epochs):
        for _ in range(steps):
            idx = rng.choice(len(x_train), size=batch)
            loss, acc = train_step(x_train[idx], y_train[idx])
        idx = rng.choice(len(x_val), size=batch)
        vloss, vacc = evaluate(x_val[idx], y_val[idx])
        for k, v in (("loss", loss), ("accuracy", acc), ("val_loss", vloss), ("val_accuracy", vacc)):
            hist[k].append(float(v))
    fit_seconds = time.perf_counter() - start
    tloss, tacc = evaluate(x_val, y_val)
    n = sum(int(np.prod(v.shape)) for v in variables)
    return {"history": hist, "test": {"loss": float(tloss), "accuracy": float(tacc)},
            "params": {"total": n, "trainable": n, "non_trainable": 0}, "fit_seconds": fit_seconds, "extra": {}}


def linear_gd(w: float, b: float, lr: float, steps: int, xs=(1.0, 2.0, 3.0), ys=(1.0, 2.0, 3.0)) -> list[float]:
    """Plain gradient descent on mean((w x + b - y)^2); the loss before each step and after the last."""
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    losses = []
    for _ in range(steps):
        r = w * x + b - y
        losses.append(float(np.mean(r * r)))
        w, b = w - lr * float(np.mean(2 * r * x)), b - lr * float(np.mean(2 * r))
    r = w * x + b - y
    losses.append(float(np.mean(r * r)))
    return losses


def _linear_gd(spec: ExperimentSpec, seed: int, arrays: dict[str, np.ndarray] | None) -> dict[str, Any]:
    """The document's y = w x + b: w, b ~ N(0, 1), plain gradient descent, one history entry per step."""
    rng = np.random.default_rng(seed)
    w, b = (float(v) for v in rng.standard_normal(2))
    lr = dict(spec.compile.optimizer.params)["learning_rate"]
    start = time.perf_counter()
    losses = linear_gd(w, b, lr, spec.fit.epochs)
    fit_seconds = time.perf_counter() - start
    return {"history": {"loss": losses[1:]}, "test": {"loss": losses[-1]},
            "params": {"total": 2, "trainable": 2, "non_trainable": 0}, "fit_seconds": fit_seconds,
            "extra": {"initial_loss": losses[0], "w0": w, "b0": b}}


def _init_probe(spec: ExperimentSpec, seed: int, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The weight-initialisation notes: statistics of each built kernel, and whether units stay identical.

    Each layer of the spec is built alone on a flat MNIST input, and its kernel's min, max, mean and std
    recorded. Then a Dense(8, relu) -> Dense(10, softmax) net is trained `fit.epochs` steps of one batch
    from all-zero weights and from 'glorot_uniform': the spread of the hidden kernel's columns (max over
    units of max |w_unit - w_unit0|) measures whether the units ever became different.
    """
    import keras

    x = arrays["x_train"].reshape(len(arrays["x_train"]), -1)
    extra: dict[str, float] = {}
    start = time.perf_counter()
    for layer in spec.model.layers:
        dense = build_model(ModelSpec((x.shape[1],), (layer,)), spec.id).layers[-1]
        w = keras.ops.convert_to_numpy(dense.kernel)
        name = layer.kwargs["kernel_initializer"]
        extra.update({f"{name}_min": float(w.min()), f"{name}_max": float(w.max()),
                      f"{name}_mean": float(w.mean()), f"{name}_std": float(w.std())})
    xb, yb = x[: spec.fit.batch_size], arrays["y_train"][: spec.fit.batch_size]
    for init in ("zeros", "glorot_uniform"):
        net = build_model(ModelSpec((x.shape[1],), (dense_layer(8, "relu", init), dense_layer(10, "softmax", init))))
        net.compile(optimizer=make_optimizer(spec.compile.optimizer), loss=spec.compile.loss)
        for _ in range(spec.fit.epochs):
            net.train_on_batch(xb, yb)
        k = keras.ops.convert_to_numpy(net.layers[0].kernel)
        extra[f"{init}_unit_spread"] = float(np.abs(k - k[:, :1]).max())
        extra[f"{init}_kernel_abs_max"] = float(np.abs(k).max())
    return {"history": {}, "test": {}, "params": {"total": 0, "trainable": 0, "non_trainable": 0},
            "fit_seconds": time.perf_counter() - start, "extra": extra}


def dense_layer(units: int, activation: str, initializer: str):
    from .specs import dense

    return dense(units, activation, kernel_initializer=initializer)


PROCEDURES: dict[str, Callable[[ExperimentSpec, int, Any], dict[str, Any]]] = {
    "keras_fit": _keras_fit,
    "tf_lowlevel": _tf_lowlevel,
    "linear_gd": _linear_gd,
    "init_probe": _init_probe,
}


def run(spec: ExperimentSpec, seed: int | None = None, *, data_dir: str | os.PathLike | None = None) -> RunResult:
    """Train and evaluate one experiment with one seed."""
    import keras

    if spec.procedure not in PROCEDURES:
        raise SpecError(invalid_value("procedure", f"one of {sorted(PROCEDURES)}", spec.procedure, where=spec.id))
    backend = keras.backend.backend()
    if spec.backends is not None and backend not in spec.backends:
        raise UnsupportedBackend(f"{spec.id} runs on the {', '.join(spec.backends)} backend only (active: {backend!r})")
    seed = spec.seeds[0] if seed is None else int(seed)
    if spec.data.dataset == "none":
        arrays, fingerprints = None, {}
    else:
        arrays, fingerprints = prepared(spec.data, str(data_dir) if data_dir else None)
    _determinism()
    grads = custom_gradient_names()
    keras.utils.set_random_seed(seed)
    out = PROCEDURES[spec.procedure](spec, seed, arrays)
    result = RunResult(
        experiment=spec.id,
        seed=seed,
        history=out["history"],
        test=out["test"],
        params=out["params"],
        fit_seconds=out["fit_seconds"],
        spec_digest=spec.digest,
        dataset_fingerprints=fingerprints,
        environment=snapshot(),
        extra=out["extra"],
    )
    clear_session(since=grads)
    return result


def custom_gradient_names() -> frozenset[str]:
    """The `CustomGradient-*` names in TensorFlow's global gradient registry now; empty off the
    TensorFlow backend or where TensorFlow's private registry has moved."""
    registry = _gradient_registry()
    return frozenset(k for k in registry if k.startswith("CustomGradient-")) if registry is not None else frozenset()


def _gradient_registry() -> dict | None:
    import sys

    if active_backend() != "tensorflow" or "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
    except (ImportError, AttributeError):
        return None
    return registry if isinstance(registry, dict) else None


def clear_session(since: frozenset[str] | None = None) -> int:
    """`keras.backend.clear_session()`, then drop the custom gradients registered after `since` was
    taken (`custom_gradient_names()`), and collect; returns how many were dropped.

    Why: Keras 3's TensorFlow optimizer sums gradients through `tf.custom_gradient`, and every trace
    registers a uniquely named gradient in TensorFlow's process-global registry that nothing ever
    removes; it holds the traced train function's whole graph past `clear_session()` (TensorFlow 2.16
    and 2.21 alike; what it costs: README *TensorFlow versions*, re-made by `.ci/leak-probe.py`).
    The names are unique per trace, so an entry registered after `since` belongs to a model built
    since then; with `since=None` nothing is dropped.
    """
    import gc

    import keras

    keras.backend.clear_session()
    registry = _gradient_registry()
    stale = custom_gradient_names() - since if since is not None and registry is not None else frozenset()
    for name in stale:
        del registry[name]
    gc.collect()
    return len(stale)
