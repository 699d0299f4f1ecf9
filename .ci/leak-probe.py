"""Does a long process's leak of traced graphs slow later training? What README *TensorFlow versions* measured.

Times one experiment's steady epoch (TIMED, median of 7, built and warmed as regsuite.timing.EpochBench does), then
builds, trains one epoch and closes LEAKS benches of another (FILLER), then times TIMED again on a new model. With
`--keep` each close is a bare `keras.backend.clear_session()` (what the suite did before runner.clear_session), so
TensorFlow's gradient registry keeps every FILLER model's traced graph; without it, the suite's own close. Prints one
JSON line: gc-tracked objects, eager-context functions, CustomGradient entries, and the after / before ratios.

    REGSUITE_DATA_DIR=../shared/datasets python3.11 .ci/leak-probe.py [--keep] [TIMED FILLER LEAKS]

Defaults: keras_notes/leaky_relu keras_notes/selu_50 15. Run with and without --keep, interleaved, and compare.
"""
import gc
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402,F401
from tensorflow.python.eager import context  # noqa: E402

from regsuite import experiments, runner, timing  # noqa: E402


def steady(spec, data_dir: str) -> dict:
    bench = timing.EpochBench(spec, spec.seeds[0], "cpu", data_dir=data_dir)
    bench.epoch()  # the warm epoch the benchmark also takes
    cpu, wall = [], []
    for _ in range(7):
        c, w = time.process_time(), time.perf_counter()
        bench.epoch()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    bench.close()
    return {"cpu": statistics.median(cpu), "wall": statistics.median(wall)}


def state() -> dict:
    gc.collect()
    return {"objects": len(gc.get_objects()), "context_functions": len(context.context().list_function_names()),
            "custom_gradients": len(runner.custom_gradient_names())}


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--keep"]
    keep = "--keep" in sys.argv[1:]
    data_dir = os.environ.get("REGSUITE_DATA_DIR")
    if not data_dir:
        sys.exit("Invalid value for `REGSUITE_DATA_DIR`. Expected the dataset mirror's folder. Received: "
                 "REGSUITE_DATA_DIR=<unset>")
    timed_id, filler_id, leaks = (args + ["keras_notes/leaky_relu", "keras_notes/selu_50", "15"][len(args):])[:3]
    timed_spec, filler = experiments.get(timed_id), experiments.get(filler_id)
    before = steady(timed_spec, data_dir)
    start = state()
    for _ in range(int(leaks)):
        bench = timing.EpochBench(filler, filler.seeds[0], "cpu", data_dir=data_dir)
        if keep:
            bench._grads = None  # runner.clear_session(since=None) drops nothing: the old bare clear_session
        bench.close()
    leaked = state()
    after = steady(timed_spec, data_dir)
    print(json.dumps({"timed": timed_id, "filler": filler_id, "leaks": int(leaks), "keep": keep,
                      "tensorflow": tf.__version__, "keras": keras.__version__, "start": start, "after_leaks": leaked,
                      "before": before, "after": after,
                      "ratio_cpu": after["cpu"] / before["cpu"], "ratio_wall": after["wall"] / before["wall"]}))


if __name__ == "__main__":
    main()
