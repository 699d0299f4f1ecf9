"""Stored baselines and their lifecycle, after pytest-regressions.

- missing: write one from this run and fail (review it, commit it, re-run);
- out of band: write `<name>.obtained.json` beside it and fail;
- `record=True` (`--regsuite-record`): re-measure and rewrite.

A baseline holds the measured runs, the bands derived from them, the
document's own numbers (labelled as documented), the spec's assumptions and a
provenance block that says how to re-make it.
"""

from __future__ import annotations

import datetime as _dt
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import __version__
from .bands import RULE, Band, band_from_samples
from .checks import Check, DocumentedNear, InBand, run_checks
from .errors import BaselineError, invalid_value
from .results import MetricKey, Outcome, RunResult
from .serial import read_json, to_json, write_json_atomic
from .specs import ExperimentSpec

SCHEMA_VERSION = 1
KIND = "regsuite.baseline"
DOCUMENTED_LABEL = "documented: copied from the source document's printed output, not measured by regsuite"


DEFAULT_BACKEND = "tensorflow"


def path_for(root: Path, exp_id: str, backend: str | None = None, cpu: str | None = None) -> Path:
    """Where an experiment's baseline is stored: the shared one (measured on TensorFlow), another `backend`'s
    own under `<root>/backends/<backend>/`, or on TensorFlow a CPU class's own under `<root>/cpus/<cpu>/`."""
    doc, name = exp_id.split("/", 1)
    if backend not in (None, DEFAULT_BACKEND):
        base = Path(root) / "backends" / backend
    else:
        base = Path(root) / "cpus" / cpu if cpu else Path(root)
    return base / doc / f"{name}.json"


def active_path(root: Path, exp_id: str, backend: str | None = None, cpu: str | None = None) -> Path:
    """The baseline a run is judged against: its backend's own, or on TensorFlow its CPU class's own, where one
    is stored (they disagree there, measured), else the shared one, so agreement is what is tested."""
    own = path_for(root, exp_id, backend, None if backend not in (None, DEFAULT_BACKEND) else cpu)
    return own if own.exists() else path_for(root, exp_id)


def obtained_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(".json")] + ".obtained.json")


def record_command(exp_id: str, backend: str | None = None, cpu: bool = False) -> str:
    prefix = "" if backend in (None, DEFAULT_BACKEND) else f"KERAS_BACKEND={backend} "
    option = "--regsuite-record-cpu" if cpu else "--regsuite-record"
    return f"{prefix}pytest bench -k '{exp_id}' {option} --regsuite-data-dir=$REGSUITE_DATA_DIR"


def _stats(xs: Sequence[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(xs),
        "sd": statistics.stdev(xs) if len(xs) > 1 else 0.0,
        "min": min(xs),
        "max": max(xs),
    }


def band_keys(runs: Sequence[RunResult]) -> list[str]:
    """Every key a baseline stores a band for: each metric at each epoch, each test metric."""
    epochs = min(r.epochs for r in runs)
    keys = [f"{m}@{e}" for m in runs[0].history for e in range(1, epochs + 1)]
    if any(r.epochs != epochs for r in runs):  # early stopping: each run's own last epoch
        keys += [f"{m}@final" for m in runs[0].history]
    return keys + [f"test.{m}" for m in runs[0].test] + [f"extra.{m}" for m in sorted(runs[0].extra)]


def make_baseline(spec: ExperimentSpec, runs: Sequence[RunResult], *, command: str | None = None) -> dict[str, Any]:
    """A baseline document from measured runs (one per seed)."""
    if not runs:
        raise BaselineError(invalid_value("runs", "at least one measured run", runs))
    outcome = Outcome.of(runs)
    env = runs[0].environment
    bands = {}
    for key in band_keys(runs):
        bands[key] = to_json(band_from_samples(outcome.values(key), accuracy=MetricKey.parse(key).is_accuracy))
    epochs = min(r.epochs for r in runs)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "experiment": spec.id,
        "spec_digest": spec.digest,
        "title": spec.title,
        "source": {"document": spec.source, "section": spec.section},
        "measured": {
            "label": "measured by regsuite: one run per seed",
            "params": dict(runs[0].params),
            "epochs": epochs,
            "runs": [
                {"seed": r.seed, "history": r.history, "test": r.test, "extra": r.extra,
                 "fit_seconds": round(r.fit_seconds, 3)}
                for r in runs
            ],
            "summary": {
                **{f"{m}@{e}": _stats(outcome.values(f"{m}@{e}")) for m in runs[0].history for e in (1, epochs)},
                **{f"test.{m}": _stats(outcome.values(f"test.{m}")) for m in runs[0].test},
                **{f"extra.{m}": _stats(outcome.values(f"extra.{m}")) for m in sorted(runs[0].extra)},
            },
        },
        "bands": bands,
        "band_rule": RULE,
        "documented": {"label": DOCUMENTED_LABEL, **to_json(spec.documented)},
        "fidelity": to_json(spec.fidelity),
        "assumptions": list(spec.assumptions),
        "provenance": {
            "runs": len(runs),
            "seeds": [r.seed for r in runs],
            "python": env.get("python"),
            "tensorflow": env.get("tensorflow"),
            "keras": env.get("keras"),
            "numpy": env.get("numpy"),
            "backend": env.get("backend"),
            "backend_version": env.get("backend_version"),
            "device": env.get("device"),
            "accelerators": env.get("accelerators"),
            "cpu": env.get("cpu"),
            "cpu_isa": env.get("cpu_isa"),
            "onednn": env.get("onednn"),
            "intra_op_threads": env.get("intra_op_threads"),
            "cpu_class": env.get("cpu_class"),
            "cpu_count": env.get("cpu_count"),
            "platform": env.get("platform"),
            "dataset_fingerprints": runs[0].dataset_fingerprints,
            "fit_seconds_median": round(statistics.median(r.fit_seconds for r in runs), 3),
            "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
            "regsuite": __version__,
            "command": command or record_command(spec.id),
        },
        "spec": to_json(spec),
    }


@dataclass(frozen=True)
class Baseline:
    """A loaded, validated baseline."""

    path: Path
    data: dict[str, Any]
    bands: dict[str, Band] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return int(self.data["measured"]["epochs"])


def load(path: Path, spec: ExperimentSpec) -> Baseline:
    """Read and validate a baseline for `spec`; any problem names the file."""
    data = read_json(path, kind=KIND, schema_version=SCHEMA_VERSION)
    where = str(path)
    if data.get("experiment") != spec.id:
        raise BaselineError(invalid_value("experiment", repr(spec.id), data.get("experiment"), where=where)
                            + ". The file belongs to another experiment; it was not overwritten.")
    own = Path(path).parent.parent
    for folder, key, what in (("backends", "backend", "backend"), ("cpus", "cpu_class", "CPU class")):
        if own.parent.name == folder and (data.get("provenance") or {}).get(key) != own.name:
            raise BaselineError(invalid_value(f"provenance.{key}", f"{own.name!r} (the {what} folder it is stored in)",
                                              (data.get("provenance") or {}).get(key), where=where))
    if data.get("spec_digest") != spec.digest:
        raise BaselineError(
            invalid_value("spec_digest", f"{spec.digest!r} (the spec as it is now)", data.get("spec_digest"), where=where)
            + ". It was recorded for another version of the spec and was not overwritten; if the spec change "
            f"is intended, re-record with `{record_command(spec.id)}`."
        )
    raw = data.get("bands")
    if not isinstance(raw, dict) or not raw:
        raise BaselineError(invalid_value("bands", "a non-empty object of key -> {lo, hi}", type(raw).__name__, where=where))
    bands = {}
    for key, b in raw.items():
        try:
            MetricKey.parse(key)
            bands[key] = Band(float(b["lo"]), float(b["hi"]))
        except Exception as exc:
            raise BaselineError(f"{where}: band {key!r} is malformed ({exc})") from exc
    for section in ("measured", "provenance", "documented"):
        if not isinstance(data.get(section), dict):
            raise BaselineError(invalid_value(section, "an object", type(data.get(section)).__name__, where=where))
    return Baseline(Path(path), data, bands)


def band_checks(exp_id: str, baseline: Baseline) -> list[Check]:
    """Per-seed band checks on the values that judge a run: epoch 1, the last epoch, the test metrics."""
    last = baseline.epochs
    checked = []
    for key, band in baseline.bands.items():
        k = MetricKey.parse(key)
        if k.section == "test" or k.epoch in (1, last) or (k.section == "history" and k.epoch is None):
            checked.append(InBand(exp_id, key, band))
    return checked


def fidelity_checks(spec: ExperimentSpec, baseline: Baseline) -> list[DocumentedNear]:
    """One check per documented number that has a measured band."""
    f = spec.fidelity
    doc = spec.documented
    pairs = [(f"{m}@{i + 1}", v) for m, vals in doc.history.items() for i, v in enumerate(vals)
             if f.epochs is None or i < f.epochs]
    pairs += [(f"test.{m}", v) for m, v in doc.test.items()]
    out = []
    for key, value in pairs:
        band = baseline.bands.get(key)
        if band is None:
            continue
        acc = MetricKey.parse(key).is_accuracy
        wide = band.widened(abs_pad=f.accuracy_abs) if acc else band.widened(rel_pad=f.loss_rel)
        out.append(DocumentedNear(spec.id, key, float(value), wide))
    return out


@dataclass
class Verdict:
    """What the lifecycle did and what failed."""

    status: str  # "ok", "created", "recorded" or "mismatch"
    path: Path
    failures: list[str] = field(default_factory=list)
    obtained: Path | None = None
    checked: int = 0
    failed: int = 0


def compare_or_record(spec: ExperimentSpec, runs: Sequence[RunResult], root: Path, *, record: bool = False,
                      command: str | None = None, cpu_own: bool = False) -> Verdict:
    """Run the baseline lifecycle for one experiment's fresh runs.

    The runs' backend and CPU class pick the file (`active_path`); recording, or a missing baseline, writes
    that backend's own (TensorFlow's is the shared one), never another backend's; `cpu_own` writes the runs'
    CPU class's own instead of the shared one."""
    env = runs[0].environment if runs else {}
    backend, cpu = env.get("backend"), env.get("cpu_class")
    if cpu_own and not cpu:
        raise BaselineError(invalid_value("cpu_class", "a CPU class (TensorFlow on the CPU) to record for", cpu,
                                          where=spec.id))
    own = path_for(root, spec.id, backend, cpu if cpu_own else None)
    path = own if record else active_path(root, spec.id, backend, cpu)
    fresh = make_baseline(spec, runs, command=command or record_command(spec.id, backend, cpu_own))
    stale = obtained_path(own if path == path_for(root, spec.id) else path)
    if record:
        write_json_atomic(own, fresh)
        obtained_path(own).unlink(missing_ok=True)
        return Verdict("recorded", own)
    if not path.exists():
        write_json_atomic(own, fresh)
        return Verdict("created", own, [
            f"{own}: no baseline existed; wrote one from this run ({len(runs)} seed(s)). "
            "Review it, commit it, and run again."
        ])
    baseline = load(path, spec)
    checks = band_checks(spec.id, baseline)
    failures = run_checks(checks, {spec.id: Outcome.of(runs)})
    if failures:
        write_json_atomic(stale, fresh)
        n = len(failures)
        failures.append(f"obtained results written to {stale} (diff it against {path})")
        other_cpu = cpu_difference(baseline.data["provenance"], env)
        if other_cpu:
            failures.append(other_cpu + (f"; where this CPU class truly differs, record its own with "
                                         f"`{record_command(spec.id, cpu=True)}`" if cpu and backend in
                                         (None, DEFAULT_BACKEND) else ""))
        if backend not in (None, DEFAULT_BACKEND) and path == path_for(root, spec.id):
            failures.append(f"judged on {backend} against the shared baseline measured on {DEFAULT_BACKEND}; where "
                            f"the backends truly differ, record {backend}'s own with "
                            f"`{record_command(spec.id, backend)}` and list it in the README's agreement table")
        return Verdict("mismatch", path, failures, stale, len(checks), n)
    stale.unlink(missing_ok=True)
    return Verdict("ok", path, checked=len(checks))


# the pool size matters only with Eigen, and cpu_class carries it there
CPU_FACTS = ("cpu", "cpu_isa", "onednn", "cpu_class")
# oneDNN and the CPU class are TensorFlow's kernels; another backend's run records None for them
OTHER_BACKEND_CPU_FACTS = ("cpu", "cpu_isa")


def cpu_difference(provenance: Mapping[str, Any], environment: Mapping[str, Any]) -> str | None:
    """Where a baseline was measured on other CPU kernels than the run judged against it, say so: TensorFlow's
    kernels (oneDNN or Eigen, AVX2 or AVX-512, the pool size with Eigen) round differently, and a chaotic
    experiment then lands elsewhere, as a new seed would.

    A run on another backend than the baseline's gets no CPU note: its kernels are another library's, and the
    backend note names that cause (a torch run judged against a TensorFlow baseline was told of oneDNN)."""
    backend = environment.get("backend")
    if provenance.get("backend", DEFAULT_BACKEND) != backend:
        return None
    facts = CPU_FACTS if backend in (None, DEFAULT_BACKEND) else OTHER_BACKEND_CPU_FACTS
    differs = [f"{k} {provenance.get(k, 'not recorded')!r} -> {environment.get(k)!r}" for k in facts
               if provenance.get(k, "not recorded") != environment.get(k)]
    if not differs:
        return None
    return ("the baseline was measured on other CPU kernels than this run (" + "; ".join(differs) + "): the numbers "
            "may differ as another seed's would; a band that fails only here is a finding about this CPU, to record "
            "in the README's CPU table, not a reason to widen it")


def restamp(path: Path, spec: ExperimentSpec) -> bool:
    """Give a baseline the current digest of an *unchanged* spec (after the digest scheme changed).

    The measured numbers are untouched; refused unless the spec stored in the file, read with
    today's spec classes, equals the registered spec in everything a run measures.
    Returns whether the file was rewritten.
    """
    from .serial import from_json

    data = read_json(path, kind=KIND, schema_version=SCHEMA_VERSION)
    if data.get("experiment") != spec.id:
        raise BaselineError(invalid_value("experiment", repr(spec.id), data.get("experiment"), where=str(path)))
    stored = from_json(data.get("spec"))
    if not isinstance(stored, ExperimentSpec) or stored.digest != spec.digest:
        raise BaselineError(
            f"{path}: the spec it was measured with differs from {spec.id} as registered now; "
            f"re-measure with `{record_command(spec.id)}` instead of restamping"
        )
    if data.get("spec_digest") == spec.digest:
        return False
    data["provenance"]["restamped"] = (
        f"spec_digest {data.get('spec_digest')} -> {spec.digest}: digest scheme changed, spec unchanged, numbers untouched"
    )
    data["spec_digest"] = spec.digest
    write_json_atomic(path, data)
    return True
