"""Training speed of every experiment, CPU vs GPU (pytest-benchmark), tracked from run to run.

One benchmark per Keras-trained experiment and device, grouped by source
document. Each round is one steady-state epoch of training only (no
validation), the device synchronised; the first epoch (tracing, compilation)
is timed apart and reported in `extra_info` with samples/s, analytic FLOPs
per step, achieved GFLOP/s and that as a fraction of this machine's own
float32 matmul figure. Rounds per experiment fit a time budget
(`--regsuite-bench-budget`, seconds per benchmark, default 5, counted from a
warm epoch and the control where epochs are short; at least 5 rounds so a
rank test can see a change, at most 15), split over `--regsuite-timing-passes`
passes (default 2): every benchmark's first pass runs before any second one,
each with a fresh model, and `regsuite perf` pools a benchmark's passes. The GPU cases skip, with the
reason, where no GPU is visible to the Keras backend. Runs are saved
(pyproject's addopts) for `regsuite perf compare` / `regsuite perf history`.

Run them serially (pytest-benchmark disables itself under xdist):
`pytest bench -m timing`.
"""

from __future__ import annotations

import functools
import os
import statistics
import time

import pytest

from regsuite import timing
from regsuite.errors import DataUnavailable
from regsuite.experiments import REGISTRY

DOCUMENTED = {  # the IMDB document's printed model.fit seconds (Colab)
    "imdb/original": {"cpu": 36.6, "gpu": 24.9, "tpu": 40.1},
    "imdb/l2": {"cpu": 37.4, "gpu": 23.4, "tpu": 39.3},
}
TIMED = [s for s in REGISTRY if s.procedure == "keras_fit"]
DEVICES = ["cpu", pytest.param("gpu", marks=pytest.mark.gpu)]
# Test-only hook for the regression rule's evidence: REGSUITE_INJECT_SLOWDOWN="<experiment id>=0.2" makes that
# experiment's every timed epoch 20 % slower: extra work inside the timed call (a busy loop until both the wall and
# the CPU clock have run 20 % more), as a slower kernel would cost; a sleep would cost no CPU time.
INJECT_ENV = "REGSUITE_INJECT_SLOWDOWN"


def _injected(exp_id: str) -> float:
    raw = os.environ.get(INJECT_ENV, "")
    name, _, frac = raw.partition("=")
    return float(frac) if name == exp_id and frac else 0.0


def _skip_if_disabled(benchmark) -> None:
    if benchmark.disabled:
        pytest.skip("pytest-benchmark is disabled here (pytest-xdist or --benchmark-disable): nothing would be "
                    "timed; run the timings serially with `pytest bench -m timing`")


def _pooled(earlier: dict | None, info: dict, epochs: list[float], timing_pass: int) -> dict:
    """The terminal summary's entry: steady state over every pass so far; peak RSS as the first pass saw it
    (by a later pass the process has run every other document)."""
    if earlier is None or timing_pass == 1:
        return {**info, "pooled_epoch_seconds": list(epochs)}
    pooled = earlier["pooled_epoch_seconds"] + list(epochs)
    steady = statistics.median(pooled)
    return {**info, "pooled_epoch_seconds": pooled, "steady_epoch_seconds": steady,
            "achieved_gflops": info["achieved_gflops"] * info["steady_epoch_seconds"] / steady,
            "fraction_of_reference": (info["fraction_of_reference"] * info["steady_epoch_seconds"] / steady
                                      if info.get("fraction_of_reference") else None),
            "peak_rss_mb": earlier["peak_rss_mb"]}


@pytest.fixture(scope="session")
def reference_gflops():
    """This machine's float32 matmul GFLOP/s per device, measured once per session."""
    return functools.cache(timing.matmul_gflops)


@pytest.fixture(scope="session")
def control():
    """One control workload per device for the whole run (`timing.Control`): built and traced once, not once per
    benchmark (it outlives `keras.backend.clear_session()`), which saved about 0.5 s per benchmark here."""
    return functools.cache(timing.Control)


@pytest.mark.timing
@pytest.mark.parametrize("device", DEVICES)
def test_matmul_reference(benchmark, device, reference_gflops):
    """2048 x 2048 float32 matmul: the yardstick each experiment's achieved GFLOP/s is divided by."""
    _skip_if_disabled(benchmark)
    benchmark.group = f"reference ({device})"
    gflops = benchmark.pedantic(lambda: timing.matmul_gflops(device), rounds=5, iterations=1)
    benchmark.extra_info.update({"gflops": gflops, "device": device, "session_reference": reference_gflops(device)})
    assert gflops > 0


@pytest.mark.slow
@pytest.mark.timing
@pytest.mark.needs_data
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec", TIMED, ids=[s.id for s in TIMED])
def test_train_time(benchmark, regsuite, spec, device, timing_pass, reference_gflops, control):
    _skip_if_disabled(benchmark)
    benchmark.group = f"{spec.document} ({device})"
    try:
        bench = timing.EpochBench(spec, spec.seeds[0], device, data_dir=regsuite.data_dir)
    except DataUnavailable as exc:
        regsuite.missing_data(exc)
    slowdown = _injected(spec.id)
    epochs: list[float] = []
    cpu_seconds: list[float] = []
    controls: list[tuple[float, float]] = []

    def before_round() -> None:  # pedantic's setup: run before each round, outside pytest-benchmark's timer
        controls.append(workload.seconds())

    def one_epoch() -> None:
        start, cpu_start = time.perf_counter(), time.process_time()
        bench.epoch()
        if slowdown:
            wall_until = time.perf_counter() + slowdown * (time.perf_counter() - start)
            cpu_until = time.process_time() + slowdown * (time.process_time() - cpu_start)
            while time.perf_counter() < wall_until or time.process_time() < cpu_until:
                pass
        epochs.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)

    try:
        workload = control(device)
        passes = regsuite.timing_passes
        budget, least, most = timing.pass_share(regsuite.bench_budget, passes)
        per_round = bench.first_epoch_seconds
        if per_round * least < budget:  # short epochs: a warm epoch (a warm-up round) tells the steady cost
            per_round = bench.epoch() + workload.seconds()[0]
        rounds = timing.rounds_for(per_round, budget, least=least, most=most)
        benchmark.pedantic(one_epoch, setup=before_round, rounds=rounds, iterations=1, warmup_rounds=0)
    finally:
        bench.close()
    info = bench.report(epochs, reference_gflops(device))
    info["injected_slowdown"] = slowdown
    info["timing_pass"], info["timing_passes"] = timing_pass, passes  # `perf` pools a benchmark's passes
    info["bench_budget"] = regsuite.bench_budget  # with the passes: how `perf compare --confirm` re-times it
    # The process's CPU seconds per round (all threads): what `regsuite perf compare` judges CPU benchmarks on.
    info["cpu_seconds"] = cpu_seconds
    info["steady_epoch_cpu_seconds"] = statistics.median(cpu_seconds)
    # The control workload timed before each round (wall, CPU): `perf compare` divides each round by it.
    info["control_wall_seconds"] = [c[0] for c in controls]
    info["control_cpu_seconds"] = [c[1] for c in controls]
    info["control_kind"] = timing.Control.KIND
    if spec.id in DOCUMENTED:
        info["documented_fit_seconds"] = DOCUMENTED[spec.id]
    benchmark.extra_info.update(info)
    regsuite.timings[(spec.id, device)] = _pooled(regsuite.timings.get((spec.id, device)), info, epochs, timing_pass)
    assert len(epochs) == rounds == len(cpu_seconds) == len(controls) and all(t > 0 for t in epochs)
    assert info["samples_per_second"] > 0 and info["train_flops_per_step"] > 0
