"""CPU vs GPU training time of the fits a document times (pytest-benchmark).

The IMDB document (실습 2-4) times `fit` of its original and L2 models: CPU
36.6 s / 37.4 s, GPU 24.9 s / 23.4 s on Colab (1.47x and 1.60x). The GPU
cases skip, with the reason, where no GPU is visible to the Keras backend.
Run benchmarks in their own serial invocation: `pytest bench -k timing`.
"""

from __future__ import annotations

import pytest

from regsuite import timing
from regsuite.errors import DataUnavailable
from regsuite.experiments import REGISTRY

DOCUMENTED = {  # seconds for model.fit, as printed (Colab)
    "imdb/original": {"cpu": 36.6, "gpu": 24.9, "tpu": 40.1},
    "imdb/l2": {"cpu": 37.4, "gpu": 23.4, "tpu": 39.3},
}
_results: dict[tuple[str, str], timing.FitTiming] = {}


@pytest.mark.slow
@pytest.mark.needs_data
@pytest.mark.parametrize("device", ["cpu", pytest.param("gpu", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("exp_id", list(DOCUMENTED))
def test_fit_time(benchmark, regsuite, exp_id, device):
    spec = REGISTRY.get(exp_id)
    benchmark.group = f"{spec.document} fit time"
    seed = spec.seeds[0]
    last: dict[str, timing.FitTiming] = {}

    def fit() -> None:
        try:
            last["t"] = timing.time_fit(spec, seed, device, data_dir=regsuite.data_dir)
        except DataUnavailable as exc:
            regsuite.missing_data(exc)

    benchmark.pedantic(fit, rounds=2, iterations=1, warmup_rounds=0)
    t = last["t"]
    _results[(exp_id, device)] = t
    benchmark.extra_info.update(t.as_dict())
    benchmark.extra_info["documented_seconds"] = DOCUMENTED[exp_id]
    assert t.epochs == spec.fit.epochs and t.samples == 25_000
    assert t.samples_per_second > 0 and t.first_epoch_seconds > 0
    other = "gpu" if device == "cpu" else "cpu"
    if (exp_id, other) in _results:
        cpu, gpu = _results[(exp_id, "cpu")], _results[(exp_id, "gpu")]
        doc = DOCUMENTED[exp_id]
        benchmark.extra_info["gpu_over_cpu_speedup"] = cpu.fit_seconds / gpu.fit_seconds
        benchmark.extra_info["documented_speedup"] = doc["cpu"] / doc["gpu"]
