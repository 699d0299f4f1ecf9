"""Settings scans: when a document prints results but hides the settings that made them.

Each candidate replaces a spec's data and optimizer; it is trained with the
given seeds and scored on the document's printed first-epoch numbers (the
ones least shaped by later randomness): mean relative error of the losses
plus mean absolute error of the accuracies. The result is evidence, stored
as JSON beside the baselines, for the choice written into the spec.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import SpecError, invalid_value
from .results import MetricKey
from .serial import to_json, write_json_atomic
from .specs import CompileSpec, DataSpec, ExperimentSpec

SCHEMA_VERSION = 1
KIND = "regsuite.settings_scan"


@dataclass(frozen=True)
class Candidate:
    """One guess at the hidden settings: a data preparation and an optimizer, each with a label."""

    data_label: str
    data: DataSpec
    optimizer_label: str
    compile: CompileSpec

    @property
    def label(self) -> str:
        return f"{self.data_label} + {self.optimizer_label}"


def grid(data: Mapping[str, DataSpec], compiles: Mapping[str, CompileSpec]) -> list[Candidate]:
    """Every data preparation with every optimizer."""
    return [Candidate(d, data[d], o, compiles[o]) for d, o in itertools.product(data, compiles)]


def first_epoch_score(documented: Mapping[str, Sequence[float]], history: Mapping[str, Sequence[float]]) -> float:
    """Distance of a run's first epoch from the printed one: mean |ours/doc - 1| of the losses
    plus mean |ours - doc| of the accuracies."""
    losses, accs = [], []
    for metric, values in documented.items():
        if not values or metric not in history:
            raise SpecError(invalid_value("history", f"a run logging {metric!r}", sorted(history)))
        ours, doc = float(history[metric][0]), float(values[0])
        if MetricKey.parse(f"{metric}@1").is_accuracy:
            accs.append(abs(ours - doc))
        else:
            losses.append(abs(ours / doc - 1.0))
    return (statistics.fmean(losses) if losses else 0.0) + (statistics.fmean(accs) if accs else 0.0)


def scan(spec: ExperimentSpec, candidates: Sequence[Candidate], seeds: Sequence[int], *,
         data_dir: str | None = None) -> list[dict[str, Any]]:
    """Train every candidate with every seed; rows sorted best first (mean score over seeds)."""
    from . import runner

    if not spec.documented.history:
        raise SpecError(invalid_value("documented.history", "printed per-epoch numbers to score against", {},
                                      where=spec.id))
    rows = []
    for cand in candidates:
        variant = spec.replace(data=cand.data, compile=cand.compile)
        scores, firsts = [], []
        for seed in seeds:
            result = runner.run(variant, seed, data_dir=data_dir)
            scores.append(first_epoch_score(spec.documented.history, result.history))
            firsts.append({m: result.history[m][0] for m in spec.documented.history})
        rows.append({"candidate": cand.label, "data": cand.data_label, "optimizer": cand.optimizer_label,
                     "score": statistics.fmean(scores), "scores": scores, "first_epoch": firsts})
    return sorted(rows, key=lambda r: r["score"])


def choose(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """One data preparation for the whole document (the one whose best-optimizer scores sum lowest),
    then each experiment's best optimizer under it."""
    data_labels = {r["data"] for rows in results.values() for r in rows}

    def best(rows, data_label):
        return min((r for r in rows if r["data"] == data_label), key=lambda r: r["score"])

    totals = {d: sum(best(rows, d)["score"] for rows in results.values()) for d in sorted(data_labels)}
    data_label = min(totals, key=totals.get)
    return {"data": data_label, "data_totals": totals,
            "optimizers": {exp: best(rows, data_label)["optimizer"] for exp, rows in results.items()},
            "scores": {exp: best(rows, data_label)["score"] for exp, rows in results.items()}}


def write(path: Path, results: Mapping[str, Sequence[Mapping[str, Any]]], seeds: Sequence[int],
          command: str, environment: Mapping[str, Any]) -> dict[str, Any]:
    """Store a scan's rows and the choice they lead to, atomically."""
    doc = {
        "schema_version": SCHEMA_VERSION, "kind": KIND,
        "rule": ("score = mean |ours/doc - 1| over the printed first-epoch losses + mean |ours - doc| over the "
                 "printed first-epoch accuracies, averaged over the seeds; one data preparation for the document "
                 "(lowest sum of the experiments' best scores), then each experiment's best optimizer under it"),
        "choice": choose(results),
        "results": {k: list(v) for k, v in results.items()},
        "provenance": {"seeds": list(seeds), "command": command,
                       "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
                       **{k: environment.get(k) for k in ("tensorflow", "keras", "numpy", "backend", "device", "cpu")}},
    }
    write_json_atomic(path, to_json(doc))
    return doc
