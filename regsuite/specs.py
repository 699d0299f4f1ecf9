"""Experiments as data: frozen dataclasses and the registry.

A spec says everything a run needs — data slice and preprocessing, layers,
every optimizer hyper-parameter, fit settings, the document's printed
numbers and the behaviour the document teaches — so that nothing depends on
a library default that can drift between Keras releases.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from .errors import SpecError, UnknownExperiment, invalid_value
from .serial import digest, jsonable

DOCUMENTS: tuple[str, ...] = ("keras_regularization", "lab02", "keras_notes", "imdb", "mnist_init")
_ID = re.compile(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")
TIERS = ("quick", "full")


def _options(value: Mapping[str, Any] | tuple) -> tuple[tuple[str, Any], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), v) for k, v in items))


@jsonable
@dataclass(frozen=True)
class Regularizer:
    """A weight penalty, spelled out (Keras 2 and 3 agree on l1/l2 factors)."""

    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self) -> None:
        for name in ("l1", "l2"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v < 0:
                raise SpecError(invalid_value(name, "a non-negative float", v))


@jsonable
@dataclass(frozen=True)
class MaxNorm:
    """A kernel constraint: each unit's incoming weight vector rescaled to norm <= max_value."""

    max_value: float
    axis: int = 0


@jsonable
@dataclass(frozen=True)
class Layer:
    """One Keras layer: its class name in `keras.layers` and its arguments."""

    kind: str
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not self.kind[:1].isupper():
            raise SpecError(invalid_value("kind", "a keras.layers class name such as 'Dense'", self.kind))
        object.__setattr__(self, "options", _options(self.options))

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)


def steps_per_execution_note(n: int) -> str:
    """The assumption a spec states when it trains `n` batches per compiled call."""
    return (f"steps_per_execution={n} runs {n} batches per compiled call; the batches and their order are "
            "unchanged, and a bench test checks a 2-epoch history is identical to the plain path.")


def dense(units: int, activation: str | None = None, **options: Any) -> Layer:
    """`Dense` layer spec; `options` are further keyword arguments."""
    if not isinstance(units, int) or units < 1:
        raise SpecError(invalid_value("units", "a positive int", units))
    return Layer("Dense", {"units": units, "activation": activation, **options})


def dropout(rate: float) -> Layer:
    """`Dropout` layer spec."""
    if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise SpecError(invalid_value("rate", "a float in [0, 1)", rate))
    return Layer("Dropout", {"rate": rate})


@jsonable
@dataclass(frozen=True)
class ModelSpec:
    """A sequential model: an input shape and its layers in order."""

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        if not self.layers:
            raise SpecError(invalid_value("layers", "at least one layer", self.layers))


@jsonable
@dataclass(frozen=True)
class WideDeepSpec:
    """A functional wide & deep regressor: a deep path of Dense layers, concatenated with the wide input.

    `deep` and `wide` are column ranges [start, stop) of the feature matrix;
    `wide=None` feeds the whole input to both paths through one `Input`.
    `aux_output` adds a second Dense(1) head on the last hidden layer.
    """

    input_dim: int
    deep: tuple[int, int]
    wide: tuple[int, int] | None = None
    hidden: tuple[int, ...] = (30, 30)
    activation: str = "relu"
    aux_output: bool = False

    def __post_init__(self) -> None:
        for name in ("deep", "wide"):
            r = getattr(self, name)
            if r is not None and not (len(r) == 2 and 0 <= r[0] < r[1] <= self.input_dim):
                raise SpecError(invalid_value(name, f"a column range (start, stop) within 0..{self.input_dim}", r))
        if self.wide is None and tuple(self.deep) != (0, self.input_dim):
            raise SpecError(invalid_value("deep", f"(0, {self.input_dim}) when there is no separate wide input", self.deep))

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("main_output", "aux_output") if self.aux_output else ("output",)


@jsonable
@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer with every hyper-parameter pinned (never a default).

    Where the document left hyper-parameters to the library, `documented`
    says how it wrote the optimizer, `era_defaults` holds the defaults of the
    Keras it ran on (the values pinned in `params`), and `today_defaults` the
    installed Keras' defaults when the spec was written, so drift is visible.
    """

    name: str
    params: tuple[tuple[str, Any], ...]
    documented: str = ""
    era_defaults: tuple[tuple[str, Any], ...] = ()
    today_defaults: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        for f in ("params", "era_defaults", "today_defaults"):
            object.__setattr__(self, f, _options(getattr(self, f)))
        if "learning_rate" not in dict(self.params):
            raise SpecError(invalid_value("params", "an explicit learning_rate", dict(self.params)))


@jsonable
@dataclass(frozen=True)
class CompileSpec:
    optimizer: OptimizerSpec
    loss: str | tuple[str, ...]  # a tuple: one loss per output, in output order
    metrics: tuple[str, ...] = ("accuracy",)
    loss_weights: tuple[float, ...] | None = None
    # Keras runs this many steps per compiled call: less per-step overhead, the same
    # batches in the same order (a bench test checks the history is unchanged).
    steps_per_execution: int = 1


@jsonable
@dataclass(frozen=True)
class FitSpec:
    """Fit settings. `train_count` splits the training arrays explicitly.

    Keras' `validation_split` keeps the *last* fraction for validation and
    rounds the split point in a version-dependent way; the exact counts are
    spelled out instead, with the document's own setting kept for reference.
    """

    epochs: int
    batch_size: int
    train_count: int | None = None
    documented_validation_split: float | None = None
    shuffle: bool = True
    tensorboard: bool = False
    # keras.callbacks.EarlyStopping arguments, every one spelled out.
    early_stopping: tuple[tuple[str, Any], ...] | None = None
    # ModelCheckpoint(monitor=checkpoint, save_best_only=True), then the best model
    # reloaded from the file and evaluated on the test set, as the document does.
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        if self.early_stopping is not None:
            object.__setattr__(self, "early_stopping", _options(self.early_stopping))
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SpecError(invalid_value(name, "a positive int", v))



@jsonable
@dataclass(frozen=True)
class DataSpec:
    """Which dataset, which slice, and how its arrays are prepared."""

    dataset: str
    train_slice: tuple[int, int] | None = None
    scale: float | None = None  # None: raw values, as some documents use
    flatten: bool = True
    one_hot: int | None = None
    # (test_size, random_state): sklearn's train_test_split of the training
    # arrays; the held-out part replaces the dataset's own test set.
    holdout: tuple[float, int] | None = None
    # IMDB: keras.datasets.imdb.load_data(num_words=...) semantics, then
    # multi-hot rows of width num_words (float32: the document's float64 ones
    # and zeros are the same numbers at half the memory).
    num_words: int | None = None
    multi_hot: bool = False
    # Validation data: rows [start, stop) of the dataset's training arrays, or
    # (test_size, random_state): a second train_test_split of the training part.
    validation_slice: tuple[int, int] | None = None
    validation_holdout: tuple[float, int] | None = None
    # sklearn's StandardScaler fitted on the training part only, applied to every split.
    standardize: bool = False

    def __post_init__(self) -> None:
        for name in ("train_slice", "validation_slice"):
            r = getattr(self, name)
            if r is not None and not (isinstance(r[0], int) and isinstance(r[1], int) and 0 <= r[0] < r[1]):
                raise SpecError(invalid_value(name, "(start, stop) with 0 <= start < stop", r))
        if self.validation_slice is not None and self.validation_holdout is not None:
            raise SpecError(invalid_value("validation_holdout", "None when validation_slice is set", self.validation_holdout))


@jsonable
@dataclass(frozen=True)
class Documented:
    """What the source document printed, copied verbatim.

    `history` maps Keras 3 metric names to per-epoch values; `test` holds
    the document's test metrics; `params` the printed summary counts.
    """

    history: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    test: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, int] = field(default_factory=dict)
    environment: str = ""
    reproducible: bool = True
    note: str = ""


@jsonable
@dataclass(frozen=True)
class Fidelity:
    """How far a documented number may sit outside our measured band.

    Accuracies get an absolute margin, losses a relative one: the documented
    run is one draw from another framework's random streams.
    """

    accuracy_abs: float = 0.03
    loss_rel: float = 0.10
    why: str = ""
    known_deviations: tuple[tuple[str, str], ...] = ()
    epochs: int | None = None  # compare only the first N epochs (None: all)


@jsonable
@dataclass(frozen=True)
class ExperimentSpec:
    """One documented experiment, with its id `<document>/<name>`."""

    id: str
    source: str
    section: str
    title: str
    data: DataSpec
    model: ModelSpec | WideDeepSpec
    compile: CompileSpec
    fit: FitSpec
    documented: Documented
    expectations: tuple[Any, ...] = ()
    fidelity: Fidelity = Fidelity()
    assumptions: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    tier: str = "full"
    procedure: str = "keras_fit"
    probes: tuple[str, ...] = ()
    backends: tuple[str, ...] | None = None  # None: every Keras backend
    # `regsuite perf compare` reports a slowdown only above this fraction (None: the default, 10 %).
    timing_min_effect: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise SpecError(invalid_value("id", "'<document>/<experiment>' in lower_snake_case", self.id))
        if self.document not in DOCUMENTS:
            raise SpecError(invalid_value("id", f"a document prefix among {DOCUMENTS}", self.id))
        if self.tier not in TIERS:
            raise SpecError(invalid_value("tier", f"one of {TIERS}", self.tier))
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise SpecError(invalid_value("seeds", "a non-empty tuple of distinct ints", self.seeds))

    @property
    def document(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[1]

    @property
    def digest(self) -> str:
        """Fingerprint of everything that changes what a run measures."""
        return digest({"data": self.data, "model": self.model, "compile": self.compile, "fit": self.fit,
                       "procedure": self.procedure, "probes": self.probes})

    def replace(self, **changes: Any) -> "ExperimentSpec":
        return dataclasses.replace(self, **changes)


class Registry:
    """Experiments by id, in registration order."""

    def __init__(self) -> None:
        self._specs: dict[str, ExperimentSpec] = {}

    def register(self, spec: ExperimentSpec) -> ExperimentSpec:
        if spec.id in self._specs:
            raise SpecError(invalid_value("id", "an id not registered yet", spec.id))
        self._specs[spec.id] = spec
        return spec

    def __iter__(self) -> Iterator[ExperimentSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, exp_id: object) -> bool:
        return exp_id in self._specs

    def get(self, exp_id: str) -> ExperimentSpec:
        try:
            return self._specs[exp_id]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(exp_id, list(self._specs), n=5, cutoff=0.5)
            close += [k for k in self._specs if exp_id and exp_id in k and k not in close]
            hint = f" Did you mean: {', '.join(close)}?" if close else " Run `regsuite list` to see them."
            raise UnknownExperiment(
                invalid_value("experiment", "a registered experiment id", exp_id) + "." + hint
            ) from None

    def ids(self) -> list[str]:
        return list(self._specs)
