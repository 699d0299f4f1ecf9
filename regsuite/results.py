"""What a run produced, and the per-experiment aggregate checks read.

Metric keys follow one small grammar used by checks, bands and baselines:
`<history metric>@<epoch>` (1-based, or `final`), `test.<metric>`, and
`params.<total|trainable|non_trainable>`, and `extra.<name>` for what a
probe measured (a gradient-norm ratio, a count of TensorBoard scalars).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import SpecError, invalid_value
from .serial import jsonable

_KEY = re.compile(r"^(?:(?P<hist>[a-z_]+)@(?P<epoch>final|[1-9][0-9]*)|test\.(?P<test>[a-z_]+)|params\.(?P<param>total|trainable|non_trainable)|extra\.(?P<extra>[a-z0-9_]+))$")


@dataclass(frozen=True)
class MetricKey:
    """A parsed metric key; see the module docstring for the grammar."""

    text: str
    section: str  # "history", "test" or "params"
    metric: str
    epoch: int | None = None  # None with section "history" means final

    @classmethod
    def parse(cls, text: str) -> "MetricKey":
        m = _KEY.match(text) if isinstance(text, str) else None
        if not m:
            raise SpecError(invalid_value("key", "'loss@1', 'val_accuracy@final', 'test.accuracy', 'params.total' or 'extra.<name>'", text))
        if m["hist"]:
            epoch = None if m["epoch"] == "final" else int(m["epoch"])
            return cls(text, "history", m["hist"], epoch)
        if m["test"]:
            return cls(text, "test", m["test"])
        if m["extra"]:
            return cls(text, "extra", m["extra"])
        return cls(text, "params", m["param"])

    @property
    def is_accuracy(self) -> bool:
        return self.section in ("history", "test") and "acc" in self.metric

    @property
    def is_loss(self) -> bool:
        return "loss" in self.metric or "mse" in self.metric or "mae" in self.metric


@jsonable
@dataclass
class RunResult:
    """One seeded run of one experiment; everything needed to judge it later."""

    experiment: str
    seed: int
    history: dict[str, list[float]]
    test: dict[str, float]
    params: dict[str, int]
    fit_seconds: float
    spec_digest: str
    dataset_fingerprints: dict[str, str] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)

    def value(self, key: str | MetricKey) -> float:
        k = key if isinstance(key, MetricKey) else MetricKey.parse(key)
        if k.section == "params":
            return float(self.params[k.metric])
        if k.section == "extra":
            if k.metric not in self.extra:
                raise KeyError(f"{self.experiment}: no measured extra {k.metric!r} (have {sorted(self.extra)})")
            return float(self.extra[k.metric])
        if k.section == "test":
            if k.metric not in self.test:
                raise KeyError(f"{self.experiment}: no test metric {k.metric!r} (have {sorted(self.test)})")
            return float(self.test[k.metric])
        if k.metric not in self.history:
            raise KeyError(f"{self.experiment}: no history metric {k.metric!r} (have {sorted(self.history)})")
        curve = self.history[k.metric]
        if k.epoch is None:
            return float(curve[-1])
        if k.epoch > len(curve):
            raise KeyError(f"{self.experiment}: {k.text} asks for epoch {k.epoch}, the run has {len(curve)}")
        return float(curve[k.epoch - 1])

    @property
    def epochs(self) -> int:
        return len(next(iter(self.history.values()), []))


@dataclass(frozen=True)
class Outcome:
    """All runs of one experiment (one per seed); checks read means from it."""

    experiment: str
    runs: tuple[RunResult, ...] = ()
    params: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, runs: Sequence[RunResult]) -> "Outcome":
        if not runs:
            raise ValueError("an Outcome needs at least one run")
        return cls(runs[0].experiment, tuple(runs), dict(runs[0].params))

    def values(self, key: str) -> list[float]:
        k = MetricKey.parse(key)
        if k.section == "params" and not self.runs:
            return [float(self.params[k.metric])]
        return [r.value(k) for r in self.runs]

    def mean(self, key: str) -> float:
        return statistics.fmean(self.values(key))


RESULTS_KIND = "regsuite-results"
RESULTS_SCHEMA_VERSION = 1
_VOLATILE = ("fit_seconds", "environment")  # differ between identical runs; not part of what a run measured


def measured(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run's JSON without its wall time and environment: what two identical runs must agree on."""
    return {k: v for k, v in run.items() if k not in _VOLATILE}


def write_results(path: Any, runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Write seeded runs (JSON form) to `path` atomically, one entry per (experiment, spec digest, seed).

    A run trained twice (two xdist workers) is kept once; if the copies measured different numbers, that
    is a determinism finding and is listed under `disagreements`, never silently dropped.
    """
    from pathlib import Path

    from .serial import write_json_atomic

    kept: dict[tuple[str, str, int], Mapping[str, Any]] = {}
    disagreements = []
    for run in runs:
        key = (run["experiment"], run["spec_digest"], int(run["seed"]))
        if key in kept and measured(kept[key]) != measured(run):
            disagreements.append({"experiment": key[0], "spec_digest": key[1], "seed": key[2]})
        kept.setdefault(key, run)
    doc = {"schema_version": RESULTS_SCHEMA_VERSION, "kind": RESULTS_KIND,
           "runs": [kept[k] for k in sorted(kept)], "disagreements": disagreements}
    write_json_atomic(Path(path), doc)
    return doc
