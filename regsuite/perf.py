"""Performance tracking over saved pytest-benchmark runs: compare and history.

A change between two runs is reported only when it is both significant on
the per-round samples (two-sided Mann-Whitney U, as airspeed velocity does)
and larger than a minimum effect on the medians (default 10 %, overridable
per experiment; optionally raised to 4 x a benchmark's run-to-run
coefficient of variation measured on earlier runs of unchanged code). Runs from different machines or library versions are not
comparable: that is reported as such, never as a regression. With
`confirm`, a flagged benchmark is timed again in a fresh process and stays a
regression only if that re-timing, against the same old run, is one too: a
run's medians drift between processes (measured here: 8 of 410 unchanged
comparisons flagged at 11-32 %), and the rounds inside one run cannot show
that drift, a second process can. With `reference` (`--reference-runs`), the old side is several runs pooled,
so one unlucky old run no longer decides.

Which samples (`metric`): by default a CPU benchmark is judged on each
round's process CPU seconds divided by the CPU seconds of a fixed control
workload (a small Keras training epoch, `timing.Control`) timed just before
that round, "cpu-rel"; two runs whose controls differ are judged on CPU
seconds. On a
shared virtual machine a round's wall time also holds stalls in which the
process does not run at all (measured: epochs 80 % longer in wall time with
no more CPU time), and whole stretches of a run are 15-45 % slower in CPU
time too (measured between runs); the first is left out by counting CPU
seconds, the second is divided out by the control, which slows with them.
Extra work in the benchmark itself (a slower kernel, a retrace, a repeated
epoch) is not in the control, so it is still seen. Runs saved without those
samples, GPU benchmarks and the matmul reference are judged on wall seconds;
`metric` can force "cpu", "wall", "cpu-rel" or "wall-rel".
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Mapping, Sequence

from .errors import RegsuiteError, invalid_value

ALPHA = 0.05
MIN_EFFECT = 0.10
# What must match for two runs to be comparable (keys of pytest-benchmark's machine_info).
# cpu_isa: one model name ("AMD EPYC") covers CPUs with and without AVX-512, whose kernels differ.
COMPARABLE_KEYS = ("cpu_model", "cpu_isa", "cpu_count", "memory_gb", "gpu", "backend", "backend_version", "tensorflow",
                   "keras", "numpy", "python")
EXIT_OK, EXIT_REGRESSION, EXIT_ERROR, EXIT_NOT_COMPARABLE = 0, 1, 2, 3
METRICS = ("auto", "cpu-rel", "wall-rel", "cpu", "wall")
NOISE_K = 4.0
MIN_HISTORY = 3
# Under a storage folder: re-timings of flagged benchmarks (`rerun_command`), kept apart from the runs themselves.
CONFIRM_DIR = "confirmations"


class PerfError(RegsuiteError):
    """Saved runs missing, unreadable, or without the per-round samples a comparison needs."""


@dataclass(frozen=True)
class SavedRun:
    """One saved pytest-benchmark run."""

    path: Path
    machine: Mapping[str, Any]
    commit: Mapping[str, Any]
    datetime: str
    samples: Mapping[str, tuple[float, ...]]  # benchmark fullname -> per-round seconds
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    node_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # benchmark -> its passes' pytest ids

    @property
    def name(self) -> str:
        return self.path.stem

    def cpu_samples(self, benchmark: str) -> tuple[float, ...] | None:
        """Per-round CPU seconds of a CPU-device benchmark, if the run saved them."""
        return self._cpu_series(benchmark, "cpu_seconds")

    def _cpu_series(self, benchmark: str, key: str) -> tuple[float, ...] | None:
        info = self.extra.get(benchmark, {})
        values = info.get(key)
        if info.get("device") != "cpu" or not values:
            return None
        return tuple(float(v) for v in values)

    def control_kind(self, benchmark: str) -> str:
        """The control workload the rounds were divided by (runs before it was named used a 512² matmul chain)."""
        return str(self.extra.get(benchmark, {}).get("control_kind", "matmul 512x512 x10"))

    def _relative(self, benchmark: str, metric: str) -> tuple[float, ...] | None:
        """Each round divided by the control workload timed just before it (see `timing.Control`)."""
        rounds = self.cpu_samples(benchmark) if metric == "cpu-rel" else self.samples[benchmark]
        control = self._cpu_series(benchmark, "control_cpu_seconds" if metric == "cpu-rel" else "control_wall_seconds")
        if rounds is None or control is None or len(control) != len(rounds) or min(control) <= 0:
            return None
        return tuple(r / c for r, c in zip(rounds, control))

    def metric_samples(self, benchmark: str, metric: str = "auto") -> tuple[str, tuple[float, ...]]:
        """(metric used, samples) for one benchmark. `auto`: a CPU benchmark's CPU seconds per round divided by
        its control's ('cpu-rel') where the run saved both, else its CPU seconds, else wall seconds. A named
        metric the benchmark has no samples for falls back to wall seconds; the metric used is returned."""
        if metric not in METRICS:
            raise PerfError(invalid_value("metric", f"one of {METRICS}", metric))
        if metric == "wall":
            return "wall", self.samples[benchmark]
        for kind in (("cpu-rel", "cpu") if metric == "auto" else (metric,)):
            values = self._relative(benchmark, kind) if kind.endswith("-rel") else self.cpu_samples(benchmark)
            if values is not None:
                return kind, values
        return "wall", self.samples[benchmark]  # a GPU or reference benchmark, or an older run: wall seconds


def load_run(path: Path, passes: Collection[int] | None = None) -> SavedRun:
    """Read one pytest-benchmark JSON file; its benchmarks must carry their per-round data. `passes`: keep only
    these timing passes' rounds (a benchmark timed in one pass counts as pass 1), e.g. to judge a process's first
    models apart from its later ones."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PerfError(f"{path}: not a readable pytest-benchmark JSON file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise PerfError(f"{path}: " + invalid_value("benchmarks", "a list (a pytest-benchmark JSON file)",
                                                    type(data.get("benchmarks") if isinstance(data, dict) else data).__name__))
    samples: dict[str, tuple[float, ...]] = {}
    extra: dict[str, dict[str, Any]] = {}
    node_ids: dict[str, tuple[str, ...]] = {}
    for bench in data["benchmarks"]:
        stats = bench.get("stats") or {}
        values = stats.get("data")
        if not values:
            raise PerfError(f"{path}: benchmark {bench.get('fullname')!r} has no per-round data; save runs with "
                            "--benchmark-save-data (pyproject.toml's addopts do)")
        if passes is not None and pass_number(bench["fullname"]) not in passes:
            continue
        name, info = benchmark_name(bench["fullname"]), dict(bench.get("extra_info") or {})
        node_ids[name] = node_ids.get(name, ()) + (bench["fullname"],)
        if name in samples:  # another pass of the same benchmark: pool its rounds, round by round
            samples[name] += tuple(float(v) for v in values)
            for key in PER_ROUND_KEYS:
                extra[name][key] = list(extra[name].get(key) or []) + list(info.get(key) or [])
            extra[name]["passes_pooled"] = extra[name].get("passes_pooled", 1) + 1
        else:
            samples[name], extra[name] = tuple(float(v) for v in values), info
    return SavedRun(path, dict(data.get("machine_info") or {}), dict(data.get("commit_info") or {}),
                    str(data.get("datetime", "")), samples, extra, node_ids)


_PASS_ID = re.compile(r"-pass(\d+)(?=[-\]])|(?<=\[)pass(\d+)-")  # the timing pass in a benchmark's pytest id
PER_ROUND_KEYS = ("cpu_seconds", "control_cpu_seconds", "control_wall_seconds")


def pass_number(fullname: str) -> int:
    """The timing pass a benchmark's rounds come from ('...[pass2-lab02/l1-cpu]' -> 2); 1 where it has none."""
    found = _PASS_ID.search(fullname)
    return int(found.group(1) or found.group(2)) if found else 1


def parse_passes(text: str) -> frozenset[int]:
    """'1' or '1,2' -> the timing passes to keep."""
    try:
        passes = frozenset(int(part) for part in text.split(","))
    except ValueError:
        passes = frozenset()
    if not passes or min(passes) < 1:
        raise PerfError(invalid_value("timing-pass", "pass numbers from 1, comma-separated (e.g. 1 or 1,2)", text))
    return passes


def benchmark_name(fullname: str) -> str:
    """A benchmark's name without its timing pass ('...[lab02/l1-cpu-pass2]' -> '...[lab02/l1-cpu]'): the
    passes of one benchmark are pooled into one sample set."""
    return _PASS_ID.sub("", fullname)


def saved_runs(storage: Path) -> list[Path]:
    """Every saved run under a pytest-benchmark storage folder, oldest first (file names start with a counter)."""
    storage = Path(storage)
    if not storage.is_dir():
        raise PerfError(invalid_value("storage", "a folder of saved pytest-benchmark runs", str(storage))
                        + " (run `pytest bench -k timing` first; runs are saved with --benchmark-autosave)")
    runs = (p for p in storage.rglob("*.json") if CONFIRM_DIR not in p.relative_to(storage).parts)
    return sorted(runs, key=lambda p: (p.name, str(p)))


def resolve(storage: Path, names: Sequence[str]) -> list[Path]:
    """Runs by path, file stem, or counter prefix ('0003'); with no names, the last two saved runs."""
    runs = saved_runs(storage)
    if not names:
        if len(runs) < 2:
            raise PerfError(f"{storage}: {len(runs)} saved run(s); a comparison needs two")
        return runs[-2:]
    out = []
    for name in names:
        if Path(name).is_file():
            out.append(Path(name))
            continue
        hits = [p for p in runs if p.stem == name or p.stem.startswith(f"{name}_")]
        if len(hits) != 1:
            raise PerfError(invalid_value("run", f"one saved run under {storage} (a path, a file stem or a counter)",
                                          name) + (f" ({len(hits)} match)" if hits else " (none match)"))
        out.append(hits[0])
    return out


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann-Whitney U p-value (exact for small samples without ties)."""
    from scipy.stats import mannwhitneyu

    if len(a) < 2 or len(b) < 2:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided", method="auto").pvalue)


def incomparable(old: Mapping[str, Any], new: Mapping[str, Any], across: Sequence[str] = ()) -> list[str]:
    """The machine/library facts that differ between two runs, leaving out those in `across` (see `across_keys`)."""
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in COMPARABLE_KEYS
            if k not in across and old.get(k) != new.get(k)]


def across_keys(text: str) -> tuple[str, ...]:
    """The facts `--across` lets differ ('tensorflow,numpy'): a study of one upgrade on one machine, e.g. TensorFlow
    2.16 against 2.21, where by default other library versions make two runs not comparable."""
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    wrong = [k for k in keys if k not in COMPARABLE_KEYS]
    if not keys or wrong:
        raise PerfError(invalid_value("across", f"comma-separated keys among {', '.join(COMPARABLE_KEYS)}", text))
    return keys


@dataclass(frozen=True)
class Change:
    benchmark: str
    old_median: float
    new_median: float
    p_value: float
    min_effect: float
    metric: str = "wall"

    @property
    def ratio(self) -> float:
        return self.new_median / self.old_median

    @property
    def verdict(self) -> str:
        significant = self.p_value < ALPHA
        if significant and self.ratio - 1 > self.min_effect:
            return "regression"
        if significant and 1 - self.ratio > self.min_effect:
            return "improvement"
        return "unchanged"


def noise_floors(runs: Sequence[SavedRun], metric: str = "auto", k: float = NOISE_K) -> dict[str, float]:
    """Per benchmark, `k` x the coefficient of variation of its medians across `runs` (earlier comparable runs),
    for benchmarks in at least `MIN_HISTORY` of them: the smallest change this machine's run-to-run noise makes
    unlikely. k = 4: for two runs' medians each off by CV, 4 CV is 2.8 standard deviations of their difference,
    about one false alarm in 400 one-sided comparisons if the noise were normal."""
    medians: dict[str, list[float]] = {}
    for run in runs:
        for name in run.samples:
            medians.setdefault(name, []).append(statistics.median(run.metric_samples(name, metric)[1]))
    return {name: k * statistics.stdev(ms) / statistics.fmean(ms) for name, ms in medians.items()
            if len(ms) >= MIN_HISTORY}


def noise_runs(source: str, storage: Path, old: SavedRun, passes: Collection[int] | None = None) -> list[SavedRun]:
    """The unchanged runs noise floors come from, all comparable with `old`: 'none'; 'earlier' (those saved in
    `storage` before `old`); or another storage folder's."""
    if source == "none":
        return []
    runs = [load_run(p, passes) for p in saved_runs(Path(storage if source == "earlier" else source))]
    if source == "earlier":
        runs = [r for r in runs if r.name < old.name]
    return [r for r in runs if not incomparable(r.machine, old.machine)]


def reference_runs(storage: Path, old: SavedRun, n: int, passes: Collection[int] | None = None) -> list[SavedRun]:
    """`old` and up to `n` - 1 runs saved before it in `storage` that are comparable with it, oldest first."""
    earlier = [load_run(p, passes) for p in saved_runs(Path(storage)) if p.name < old.path.name]
    earlier = [r for r in earlier if not incomparable(r.machine, old.machine)]
    return earlier[max(0, len(earlier) - (n - 1)):] + [old] if n > 1 else [old]


def reference(runs: Sequence[SavedRun]) -> SavedRun:
    """The comparable runs `runs` (oldest first) as one reference run: each benchmark's rounds from every run
    that has it, pooled the way one run's passes are. One run's median can sit 10 % off the others' on this kind
    of machine (measured: kr/l1's in 1 of 5 unchanged runs); a pooled reference no longer rests on one run."""
    if not runs:
        raise PerfError(invalid_value("runs", "at least one saved run", []))
    newest = runs[-1]
    for run in runs[:-1]:
        differs = incomparable(run.machine, newest.machine)
        if differs:
            raise PerfError(f"{run.path}: not comparable with {newest.path} ({'; '.join(differs)})")
    if len(runs) == 1:
        return newest
    samples: dict[str, tuple[float, ...]] = {}
    extra: dict[str, dict[str, Any]] = {}
    control: dict[str, str] = {}
    for run in runs:
        for name, values in run.samples.items():
            info = run.extra.get(name, {})
            if name not in samples:
                samples[name], extra[name] = tuple(values), {**info, "runs_pooled": 1}
                control[name] = run.control_kind(name)
                continue
            samples[name] += tuple(values)
            mine = extra[name]
            for key in PER_ROUND_KEYS:  # a series only where every pooled run has it; controls only if one kind
                one_scale = key == "cpu_seconds" or run.control_kind(name) == control[name]
                both = mine.get(key) and info.get(key) and one_scale
                mine[key] = list(mine[key]) + list(info[key]) if both else None
            mine["runs_pooled"] += 1
    return SavedRun(newest.path, newest.machine, newest.commit, newest.datetime, samples, extra, newest.node_ids)


def compare(old: SavedRun, new: SavedRun, min_effects: Mapping[str, float] | None = None,
            default_min_effect: float = MIN_EFFECT, metric: str = "auto",
            noise: Mapping[str, float] | None = None) -> list[Change]:
    """Every benchmark the two runs share, judged by the rule above (both runs on the same metric). `noise`
    (see `noise_floors`) raises a benchmark's minimum effect to its measured run-to-run noise."""
    out = []
    for name in sorted(set(old.samples) & set(new.samples)):
        kind_a, a = old.metric_samples(name, metric)
        kind_b, b = new.metric_samples(name, metric)
        # One run saved less than the other, or their rounds were divided by different control workloads (not
        # one scale): judge both on what both have.
        if kind_a != kind_b or (kind_a.endswith("-rel") and old.control_kind(name) != new.control_kind(name)):
            common = "cpu" if {kind_a, kind_b} <= {"cpu-rel", "cpu"} else "wall"
            kind_a, a = old.metric_samples(name, common)
            kind_b, b = new.metric_samples(name, common)
        effect = max(_min_effect_for(name, min_effects or {}, default_min_effect), (noise or {}).get(name, 0.0))
        out.append(Change(name, statistics.median(a), statistics.median(b), mann_whitney_p(a, b), effect, kind_a))
    return out


def rerun_command(run: SavedRun, benchmarks: Sequence[str], storage: Path) -> list[str]:
    """The pytest command that times `benchmarks` again as `run` timed them (same passes and budget), in a fresh
    process, saving under `storage`/CONFIRM_DIR. Run it from the folder the run was made in (node ids are
    relative to that rootdir)."""
    import sys

    missing = [b for b in benchmarks if b not in run.node_ids]
    if missing:
        raise PerfError(f"{run.path}: " + invalid_value("benchmarks", "benchmarks of this run", missing))
    info = run.extra.get(benchmarks[0], {}) if benchmarks else {}
    settings = [f"--regsuite-timing-passes={info['timing_passes']}"] if info.get("timing_passes") else []
    settings += [f"--regsuite-bench-budget={info['bench_budget']}"] if info.get("bench_budget") else []
    nodes = [n for b in benchmarks for n in run.node_ids[b]]
    target = Path(storage).resolve() / CONFIRM_DIR
    return [sys.executable, "-m", "pytest", *nodes, "-p", "no:cacheprovider", "-q", *settings,
            f"--benchmark-storage=file://{target}"]


def confirm(old: SavedRun, rerun: SavedRun, flagged: Sequence[Change], min_effects: Mapping[str, float] | None = None,
            default_min_effect: float = MIN_EFFECT, metric: str = "auto",
            noise: Mapping[str, float] | None = None, across: Sequence[str] = ()) -> list[tuple[Change, Change]]:
    """Each flagged change beside the re-timing's change against the same old run, by the same rule; a
    regression is confirmed when both say so."""
    differs = incomparable(old.machine, rerun.machine, across)
    if differs:
        raise PerfError(f"{rerun.path}: the re-timing is not comparable with {old.path} ({'; '.join(differs)})")
    again = {c.benchmark: c for c in compare(old, rerun, min_effects, default_min_effect, metric, noise)}
    missing = [c.benchmark for c in flagged if c.benchmark not in again]
    if missing:
        raise PerfError(f"{rerun.path}: " + invalid_value("benchmarks", "a re-timing of every flagged benchmark",
                                                         sorted(again)) + f" (missing {missing})")
    return [(c, again[c.benchmark]) for c in flagged]


def _min_effect_for(benchmark: str, overrides: Mapping[str, float], default: float) -> float:
    """An override applies when its experiment id appears in the benchmark's name (its parametrize id)."""
    hits = [v for k, v in overrides.items() if f"[{k}-" in benchmark or f"-{k}]" in benchmark or f"[{k}]" in benchmark]
    return max(hits) if hits else default


def spec_min_effects() -> dict[str, float]:
    """Per-experiment overrides written in the specs (`ExperimentSpec.timing_min_effect`)."""
    from .experiments import REGISTRY

    return {s.id: s.timing_min_effect for s in REGISTRY if s.timing_min_effect is not None}


def cv(samples: Sequence[float]) -> float:
    """Coefficient of variation of the per-round samples."""
    return statistics.stdev(samples) / statistics.fmean(samples) if len(samples) > 1 else 0.0


def history_rows(runs: Sequence[SavedRun], min_effects: Mapping[str, float] | None = None,
                 metric: str = "auto") -> dict[str, list[dict]]:
    """Per benchmark, one row per run (median, CV) with a step change marked where the rule flags the pair."""
    rows: dict[str, list[dict]] = {}
    prev: SavedRun | None = None
    for run in runs:
        changes = {}
        if prev is not None and not incomparable(prev.machine, run.machine):
            changes = {c.benchmark: c for c in compare(prev, run, min_effects, metric=metric)}
        for name in run.samples:
            kind, samples = run.metric_samples(name, metric)
            c = changes.get(name)
            rows.setdefault(name, []).append({
                "run": run.name, "metric": kind, "median": statistics.median(samples), "cv": cv(samples),
                "wall_median": statistics.median(run.samples[name]), "rounds": len(samples),
                "step": c.verdict if c and c.verdict != "unchanged" else "",
                "commit": str(run.commit.get("id", ""))[:10],
            })
        prev = run
    return rows


def plot_history(rows: Mapping[str, list[dict]], out_dir: Path) -> list[Path]:
    """One PNG per benchmark group (experiment), median per run, step changes marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, series in sorted(rows.items()):
        fig, ax = plt.subplots(figsize=(6, 3))
        xs = list(range(len(series)))
        ax.plot(xs, [r["median"] for r in series], marker="o", color="tab:blue")
        for x, r in zip(xs, series):
            if r["step"]:
                ax.axvline(x, color="tab:red" if r["step"] == "regression" else "tab:green", ls="--", lw=1)
                ax.annotate(r["step"], (x, r["median"]), textcoords="offset points", xytext=(4, 6), fontsize=7)
        ax.set_xticks(xs, [r["run"].split("_")[0] for r in series], fontsize=7)
        metric = series[-1].get("metric", "wall")
        ax.set_ylabel(f"median {metric} " + ("(round / control)" if metric.endswith("-rel") else "seconds / round"))
        ax.set_title(name, fontsize=8)
        fig.tight_layout()
        path = out_dir / (_safe(name) + ".png")
        tmp = path.with_suffix(".png.tmp")
        fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        tmp.replace(path)
        written.append(path)
    return written


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("_")[:150]
