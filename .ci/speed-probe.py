"""Where one steady imdb/original training epoch spends its CPU time, on the TensorFlow and NumPy of the interpreter
running it, and (with IDs) other experiments' steady epochs in a fresh process: what README *TensorFlow versions*
measured to tell 2.21's two slowdowns apart. Run it with each version's interpreter (a tox env's python and this
one), interleaved, and compare; it prints one JSON line.

    REGSUITE_DATA_DIR=../shared/datasets python3.11 .ci/speed-probe.py [ID ...]

Each part: median process CPU seconds (all threads) and wall seconds over its repeats, one process.
  rows     MultiHotRows.rows: one 512-row batch expanded to dense float32 (NumPy only)
  tf_step  a tf.function step on one fixed dense batch: the 10000-16-16-1 matmuls, gradients, an SGD update (kernels)
  keras_step  Model.train_on_batch of the suite's compiled imdb/original model on one fixed batch (Keras' step)
  from_generator  tf.data.Dataset.from_generator yielding 30 precomputed batches (TensorFlow's generator path only)
  adapter  Keras' PyDataset adapter's tf.data dataset for one epoch, no model (what fit() iterates)
  fit      one epoch of Model.fit over the suite's PyDataset (what the timing benchmark times)
  ID       one steady epoch of that experiment, built and warmed as regsuite.timing.EpochBench does (median of 5),
           timed first, in the fresh process, and again on a new model after the imdb parts ("ID after imdb")
"""
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras.src.trainers.data_adapters import get_data_adapter  # noqa: E402

from regsuite import experiments, runner, timing  # noqa: E402


def timed(fn, repeats: int) -> dict:
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return {"cpu": round(statistics.median(cpu), 4), "wall": round(statistics.median(wall), 4), "repeats": repeats}


def steady(ids: list[str], data_dir: str, out: dict, suffix: str) -> None:
    """Each experiment's steady epoch on a freshly built model, as the timing benchmark builds and warms it."""
    for exp_id in ids:
        spec = experiments.get(exp_id)
        bench = timing.EpochBench(spec, spec.seeds[0], "cpu", data_dir=data_dir)
        out[exp_id + suffix] = timed(bench.epoch, 5)
        bench.close()


def main() -> None:
    data_dir = os.environ.get("REGSUITE_DATA_DIR")
    if not data_dir:
        sys.exit("Invalid value for `REGSUITE_DATA_DIR`. Expected the dataset mirror's folder. Received: "
                 "REGSUITE_DATA_DIR=<unset>")
    out: dict = {}
    steady(sys.argv[1:], data_dir, out, "")  # first, in the fresh process
    spec = experiments.get("imdb/original")
    arrays, _ = runner.prepared(spec.data, data_dir)
    x, y, _ = runner.fit_split(spec, arrays)
    rng = np.random.RandomState(0)
    idx = [rng.permutation(len(x))[:512] for _ in range(8)]
    out.update({"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                "steps_per_epoch": -(-len(x) // spec.fit.batch_size)})
    turn = iter(range(10**9))
    out["rows"] = timed(lambda: x.rows(idx[next(turn) % 8]), 60)

    xb, yb = tf.constant(x.rows(idx[0])), tf.constant(y[idx[0]].reshape(-1, 1))
    weights = [tf.Variable(tf.random.stateless_normal(s, (0, 0), stddev=0.01)) for s in ((10000, 16), (16, 16), (16, 1))]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.nn.relu(xb @ weights[0]) @ weights[1])
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(yb, h @ weights[2]))
        for v, g in zip(weights, tape.gradient(loss, weights)):
            v.assign_sub(0.001 * g)
        return loss

    step()
    out["tf_step"] = timed(lambda: step().numpy(), 100)

    keras.utils.set_random_seed(0)
    model = runner.build(spec)
    xn, yn = x.rows(idx[0]), y[idx[0]]
    model.train_on_batch(xn, yn)
    out["keras_step"] = timed(lambda: model.train_on_batch(xn, yn), 100)

    inputs = runner.fit_inputs(x, y, spec, 0)
    batches = [inputs["x"][i] for i in range(len(inputs["x"]))]
    signature = (tf.TensorSpec((None, x.width), tf.float32), tf.TensorSpec((None,), tf.float32))
    options = tf.data.Options()  # as Keras' adapter sets them when the PyDataset has its own workers
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1

    def from_generator():
        for _ in tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=signature).with_options(options):
            pass

    out["from_generator"] = timed(from_generator, 7)
    adapter = get_data_adapter(inputs["x"], shuffle=False)

    def adapter_epoch():
        adapter.on_epoch_begin()
        for _ in adapter.get_tf_dataset():
            pass
        adapter.on_epoch_end()

    out["adapter"] = timed(adapter_epoch, 7)
    model.fit(**inputs, epochs=1, verbose=0)
    out["fit"] = timed(lambda: model.fit(**inputs, epochs=1, verbose=0), 5)
    keras.backend.clear_session()
    steady(sys.argv[1:], data_dir, out, " after imdb")  # fresh models again, now that imdb has trained
    print(json.dumps(out))


if __name__ == "__main__":
    main()
