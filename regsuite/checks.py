"""Checks: small objects that return a failure message, or None.

Behaviour checks (inflation, collapse, better-than …) are part of a spec's
data and read seed means from `Outcome`s; band and fidelity checks are built
from a stored baseline. `run_checks` evaluates a list and returns every
failure, each with a hint on how to fix it, so a test reports them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

from .bands import Band
from .results import MetricKey, Outcome
from .serial import jsonable

Outcomes = Mapping[str, Outcome]

BEHAVIOUR_HINT = (
    "the documented behaviour no longer holds; if Keras/TensorFlow changed it on purpose, "
    "re-measure with `regsuite run {id}` and update the expectation in regsuite/experiments/{doc}.py "
    "with the evidence in the commit"
)
BAND_HINT = (
    "if the change is intended, re-record with `pytest bench -k '{id}' --regsuite-record` "
    "and say in the commit why the truth moved"
)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _seeds_outside(outcome: Outcome, key: str, ok) -> str:
    """'seed 3: 0.41, seed 4: 0.39' for the seeds whose value of `key` is not `ok`; '' if none."""
    return ", ".join(f"seed {r.seed}: {_fmt(v)}" for r, v in zip(outcome.runs, outcome.values(key)) if not ok(v))


class Check:
    """Base class. Subclasses are frozen dataclasses with an `experiment`.

    A `static` check needs no training: only the built model or the
    installed libraries (parameter counts, library defaults).
    """

    experiment: str
    static: ClassVar[bool] = False

    def needs(self) -> tuple[str, ...]:
        """Experiment ids whose outcomes this check reads."""
        return (self.experiment,)

    def __call__(self, outcomes: Outcomes) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def hint(self) -> str:
        return BEHAVIOUR_HINT.format(id=self.experiment, doc=self.experiment.split("/")[0])

    @property
    def label(self) -> str:
        return type(self).__name__


@jsonable
@dataclass(frozen=True)
class ParamCount(Check):
    """Exact parameter counts, as the document's model summary printed them."""

    static: ClassVar[bool] = True
    experiment: str
    total: int
    trainable: int | None = None
    non_trainable: int | None = None

    def __call__(self, outcomes: Outcomes) -> str | None:
        got = outcomes[self.experiment].params
        wrong = [
            f"{name} = {got.get(name)} (expected {want})"
            for name, want in (("total", self.total), ("trainable", self.trainable), ("non_trainable", self.non_trainable))
            if want is not None and got.get(name) != want
        ]
        return f"{self.experiment}: parameter count {', '.join(wrong)}" if wrong else None


@jsonable
@dataclass(frozen=True)
class RatioAtLeast(Check):
    """A's seed-mean value of `key` is at least `factor` times B's."""

    experiment: str
    over: str
    factor: float
    key: str = "loss@1"

    def needs(self) -> tuple[str, ...]:
        return (self.experiment, self.over)

    def __call__(self, outcomes: Outcomes) -> str | None:
        a, b = outcomes[self.experiment].mean(self.key), outcomes[self.over].mean(self.key)
        if b > 0 and a >= self.factor * b:
            return None
        ratio = a / b if b else float("inf")
        return (
            f"{self.experiment}: {self.key} = {_fmt(a)} is {ratio:.3g}x {self.over}'s {_fmt(b)} "
            f"(expected >= {self.factor:g}x)"
        )


@jsonable
@dataclass(frozen=True)
class LossInflation(RatioAtLeast):
    """A regulariser's penalty inflates the loss: A's first-epoch loss >= factor x B's."""


@jsonable
@dataclass(frozen=True)
class ValueIn(Check):
    """Every seed's `key` lies in [lo, hi]: for exact facts (a count, a bound)."""

    experiment: str
    key: str
    lo: float
    hi: float

    def __call__(self, outcomes: Outcomes) -> str | None:
        bad = _seeds_outside(outcomes[self.experiment], self.key, lambda v: self.lo <= v <= self.hi)
        return f"{self.experiment}: {self.key} outside [{self.lo:g}, {self.hi:g}]: {bad}" if bad else None


@jsonable
@dataclass(frozen=True)
class DefaultDrift(Check):
    """The installed Keras' optimizer defaults are the ones recorded in the spec.

    Fails when a default moves again (a new drift to record); the known drift
    between the document's Keras and today's is reported by `known_drift`.
    """

    static: ClassVar[bool] = True
    experiment: str
    optimizer: str
    today_defaults: tuple[tuple[str, Any], ...]

    def needs(self) -> tuple[str, ...]:
        return ()

    def installed(self) -> dict[str, Any]:
        import inspect

        import keras

        sig = inspect.signature(getattr(keras.optimizers, self.optimizer).__init__)
        return {k: sig.parameters[k].default if k in sig.parameters else "<no such argument>" for k, _ in self.today_defaults}

    def __call__(self, outcomes: Outcomes | None = None) -> str | None:
        import keras

        got = self.installed()
        moved = [f"{k}: recorded {v!r}, installed {got[k]!r}" for k, v in self.today_defaults if got[k] != v]
        if not moved:
            return None
        return f"{self.experiment}: Keras {keras.__version__} changed {self.optimizer} defaults again ({'; '.join(moved)})"

    @property
    def hint(self) -> str:
        return "record the new defaults in the spec's OptimizerSpec.today_defaults (the pinned params keep the run unchanged)"


@jsonable
@dataclass(frozen=True)
class FallsBy(Check):
    """Training still works: the value at `end` is at most 1/factor of `start`."""

    experiment: str
    factor: float
    start: str = "loss@1"
    end: str = "loss@final"

    def __call__(self, outcomes: Outcomes) -> str | None:
        o = outcomes[self.experiment]
        s, e = o.mean(self.start), o.mean(self.end)
        if e > 0 and s / e >= self.factor:
            return None
        return (
            f"{self.experiment}: {self.start} = {_fmt(s)} -> {self.end} = {_fmt(e)} falls {s / e if e else float('inf'):.3g}x "
            f"(expected >= {self.factor:g}x)"
        )


@jsonable
@dataclass(frozen=True)
class Collapse(Check):
    """A too-strong penalty collapses accuracy: at most `at_most`, and
    at least `drop_at_least` below the reference experiment."""

    experiment: str
    reference: str
    at_most: float
    drop_at_least: float
    key: str = "test.accuracy"

    def needs(self) -> tuple[str, ...]:
        return (self.experiment, self.reference)

    def __call__(self, outcomes: Outcomes) -> str | None:
        a, ref = outcomes[self.experiment].mean(self.key), outcomes[self.reference].mean(self.key)
        problems = []
        if a > self.at_most:
            problems.append(f"{_fmt(a)} > {self.at_most:g}")
        if ref - a < self.drop_at_least:
            problems.append(f"only {ref - a:.4g} below {self.reference}'s {_fmt(ref)} (expected >= {self.drop_at_least:g})")
        return f"{self.experiment}: {self.key} did not collapse: {'; '.join(problems)}" if problems else None


@jsonable
@dataclass(frozen=True)
class BetterThan(Check):
    """A beats B on a metric (seed means), by at least `margin`."""

    experiment: str
    than: str
    key: str = "test.accuracy"
    higher_is_better: bool = True
    margin: float = 0.0
    per_seed: bool = False  # also hold seed by seed, not only on the means

    def needs(self) -> tuple[str, ...]:
        return (self.experiment, self.than)

    def __call__(self, outcomes: Outcomes) -> str | None:
        word = "higher" if self.higher_is_better else "lower"
        sign = 1.0 if self.higher_is_better else -1.0
        if self.per_seed:
            mine, theirs = outcomes[self.experiment], outcomes[self.than]
            lost = [
                f"seed {r.seed}: {_fmt(a)} vs {_fmt(b)}"
                for r, a, b in zip(mine.runs, mine.values(self.key), theirs.values(self.key))
                if sign * (a - b) <= self.margin
            ]
            if lost:
                return f"{self.experiment}: {self.key} not {word} than {self.than}'s on every seed ({', '.join(lost)})"
        a, b = outcomes[self.experiment].mean(self.key), outcomes[self.than].mean(self.key)
        gain = sign * (a - b)
        if gain > self.margin:
            return None
        return (
            f"{self.experiment}: {self.key} = {_fmt(a)} is not {word} than {self.than}'s {_fmt(b)}"
            + (f" by >= {self.margin:g}" if self.margin else "")
        )


@jsonable
@dataclass(frozen=True)
class MonotoneDecrease(Check):
    """Every seed's curve never rises by more than `tolerance` (relative)."""

    experiment: str
    metric: str = "loss"
    tolerance: float = 0.0

    def __call__(self, outcomes: Outcomes) -> str | None:
        rises = [
            f"seed {r.seed} epoch {i + 1}->{i + 2}: {_fmt(c[i])} -> {_fmt(c[i + 1])}"
            for r in outcomes[self.experiment].runs
            for c in [r.history[self.metric]]
            for i in range(len(c) - 1)
            if c[i + 1] > c[i] * (1 + self.tolerance)
        ]
        return f"{self.experiment}: {self.metric} rises: {'; '.join(rises)}" if rises else None


@jsonable
@dataclass(frozen=True)
class InBand(Check):
    """Every seed's value of `key` lies inside the baseline's band."""

    experiment: str
    key: str
    band: Band

    def __call__(self, outcomes: Outcomes) -> str | None:
        bad = _seeds_outside(outcomes[self.experiment], self.key, self.band.__contains__)
        return f"{self.experiment}: {self.key} outside baseline band {self.band}: {bad}" if bad else None

    @property
    def hint(self) -> str:
        return BAND_HINT.format(id=self.experiment)


@jsonable
@dataclass(frozen=True)
class DocumentedNear(Check):
    """A documented number lies inside our measured band, widened by the
    spec's fidelity tolerance (documented runs used other frameworks)."""

    experiment: str
    key: str
    documented: float
    band: Band

    def needs(self) -> tuple[str, ...]:
        return ()  # compares stored numbers only: nothing needs to be trained

    def __call__(self, outcomes: Outcomes | None = None) -> str | None:
        if self.documented in self.band:
            return None
        return (
            f"{self.experiment}: documented {self.key} = {_fmt(self.documented)} outside measured band "
            f"widened by the fidelity tolerance {self.band} (off by {_fmt(self.band.distance(self.documented))})"
        )

    @property
    def hint(self) -> str:
        return (
            "a documented number we cannot reproduce: if it is a known deviation, list it in the spec's "
            "Fidelity.known_deviations with the reason; never widen the tolerance to hide it"
        )


def run_checks(checks: Sequence[Check], outcomes: Outcomes) -> list[str]:
    """Every failure of `checks`, each followed by its fix hint."""
    failures = []
    for check in checks:
        missing = [e for e in check.needs() if e not in outcomes]
        if missing:
            failures.append(f"[{check.label}] needs outcomes of {missing}, which were not run")
            continue
        msg = check(outcomes)
        if msg:
            failures.append(f"[{check.label}] {msg}\n    fix: {check.hint}")
    return failures


def check_keys(checks: Sequence[Check]) -> None:
    """Validate every metric key a list of checks uses (fails fast on typos)."""
    for c in checks:
        for attr in ("key", "start", "end"):
            if hasattr(c, attr):
                MetricKey.parse(getattr(c, attr))


@jsonable
@dataclass(frozen=True)
class Overfits(Check):
    """Every seed's `metric` curve bottoms out by epoch `min_within` and ends at
    least `final_over_min` times above its minimum (the textbook overfitting curve)."""

    experiment: str
    metric: str = "val_loss"
    min_within: int = 5
    final_over_min: float = 1.8

    def __call__(self, outcomes: Outcomes) -> str | None:
        bad = []
        for r in outcomes[self.experiment].runs:
            curve = r.history[self.metric]
            best = min(range(len(curve)), key=curve.__getitem__)
            if best + 1 > self.min_within:
                bad.append(f"seed {r.seed}: minimum at epoch {best + 1} (expected <= {self.min_within})")
            if curve[-1] < self.final_over_min * curve[best]:
                bad.append(f"seed {r.seed}: final {_fmt(curve[-1])} is {curve[-1] / curve[best]:.3g}x the minimum "
                           f"{_fmt(curve[best])} (expected >= {self.final_over_min:g}x)")
        return f"{self.experiment}: {self.metric} does not overfit as documented: {'; '.join(bad)}" if bad else None


@jsonable
@dataclass(frozen=True)
class EarlyStopped(Check):
    """Every seed stopped exactly `patience` epochs after its best epoch, which lies within `best_within`."""

    experiment: str
    patience: int
    best_within: int

    def __call__(self, outcomes: Outcomes) -> str | None:
        bad = []
        for r in outcomes[self.experiment].runs:
            ran, best = int(r.extra["epochs_run"]), int(r.extra["best_epoch"])
            if ran - best != self.patience:
                bad.append(f"seed {r.seed}: stopped after epoch {ran}, {ran - best} after its best epoch {best} "
                           f"(expected {self.patience})")
            if best > self.best_within:
                bad.append(f"seed {r.seed}: best epoch {best} (expected <= {self.best_within})")
        return f"{self.experiment}: early stopping: {'; '.join(bad)}" if bad else None
