"""The pytest plugin: options, markers, registry parametrization, summary.

Thin on purpose: everything it does is a call into the library. Loaded
through the `pytest11` entry point, so `pytest bench` needs no conftest.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pytest

from . import baselines, datasets
from .checks import Check, run_checks
from .errors import DataUnavailable, RegsuiteError, invalid_value
from .results import Outcome, RunResult
from .specs import ExperimentSpec

_STATE = pytest.StashKey["RegsuiteSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("regsuite", "regsuite: documented Keras/TensorFlow experiments")
    group.addoption("--regsuite-data-dir", metavar="DIR", default=None,
                    help=f"dataset mirror folder (default: ${datasets.ENV_VAR}), tried before Keras' cache and downloader")
    group.addoption("--regsuite-require-data", action="store_true",
                    default=os.environ.get("REGSUITE_REQUIRE_DATA", "") not in ("", "0"),
                    help="a missing dataset is an error instead of a skip (default: $REGSUITE_REQUIRE_DATA; CI sets it)")
    group.addoption("--regsuite-record", action="store_true", default=False,
                    help="re-measure and rewrite the baselines of the selected experiments")
    group.addoption("--regsuite-record-cpu", action="store_true", default=False,
                    help="re-measure the selected experiments and write them as this CPU class's own baselines "
                         "(baselines/cpus/<class>/), for experiments whose numbers truly differ on these CPU kernels")
    group.addoption("--regsuite-tier", choices=("quick", "full"), default="full",
                    help="quick: parameter counts, properties and API checks only; full (default): train every experiment")
    group.addoption("--regsuite-seeds", metavar="N,N,...", default=None,
                    help="seeds to run (default: the first --regsuite-max-seeds of each experiment's recorded seeds)")
    group.addoption("--regsuite-max-seeds", metavar="N", type=int, default=3,
                    help="check the first N recorded seeds of each experiment (default 3; --regsuite-record uses all)")
    group.addoption("--regsuite-baselines", metavar="DIR", default=None,
                    help="baseline folder (default: <rootdir>/baselines)")
    group.addoption("--regsuite-bench-budget", metavar="SECONDS", type=float, default=5.0,
                    help="timed seconds per training benchmark, as epochs (at least 5, at most 15; default 5)")
    group.addoption("--regsuite-timing-passes", metavar="N", type=int, default=2,
                    help="time each training benchmark in N passes over the whole timing run, each with a fresh "
                         "model, all first passes before any second (as asv interleaves rounds); default 2")
    group.addoption("--regsuite-shard", metavar="I/N", default=None,
                    help="run shard I of N (1-based): the tests of experiments sharing seeded runs go to one shard, "
                         "chosen by a hash of their training group; other tests by a hash of their node id")
    group.addoption("--regsuite-plain-loop", action="store_true", default=False,
                    help="train one step per compiled call (ignore specs' steps_per_execution): the plain way the "
                         "documents run, same numbers, more overhead; for timing comparisons")
    group.addoption("--regsuite-worker-threads", choices=("auto", "off"), default="auto",
                    help="auto (default): under pytest-xdist each worker's TensorFlow gets cores / workers threads "
                         "where it runs its oneDNN kernels (same numbers, no oversubscription; with its Eigen "
                         "kernels the numbers depend on the pool size, so the pools stay), and OpenMP's idle "
                         "threads (PyTorch's) sleep instead of spin; off: the libraries' defaults")
    group.addoption("--regsuite-results", metavar="FILE", default=None,
                    help="write every seeded run's measured numbers to FILE (JSON) at the end; under pytest-xdist "
                         "the workers' runs are merged into it")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: trains models; deselected by --regsuite-tier=quick")
    config.addinivalue_line("markers", "gpu: needs a GPU visible to the active Keras backend")
    config.addinivalue_line("markers", "needs_data: loads a dataset (skips, or errors under --regsuite-require-data)")
    config.addinivalue_line("markers", "regsuite(seeds=None): per-test regsuite settings, e.g. the seeds to run")
    config.addinivalue_line("markers", "timing: a pytest-benchmark timing; run these serially (`-m timing`)")
    config.stash[_STATE] = RegsuiteSession.from_config(config)
    parse_shard(config.getoption("--regsuite-shard"))  # a bad value is a usage error before collection
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and config.getoption("--regsuite-worker-threads") == "auto":
        from .environment import quiet_idle_threads, share_cores

        quiet_idle_threads()
        try:
            share_cores(int(workerinput["workercount"]))
        except RuntimeError:  # a conftest imported TensorFlow: its thread pools are set already
            config.issue_config_time_warning(pytest.PytestConfigWarning(
                "--regsuite-worker-threads=auto: TensorFlow was imported before the plugin could give this worker "
                "its share of the cores; it keeps its own thread pools"), stacklevel=2)
    if config.getoption("--regsuite-plain-loop"):
        from .runner import PLAIN_LOOP_ENV

        os.environ[PLAIN_LOOP_ENV] = "1"


def _parse_seeds(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        seeds = ()
    if not seeds:
        raise pytest.UsageError(invalid_value("--regsuite-seeds", "comma-separated integers such as 0,1,2", text))
    return seeds


def _positive(n: int) -> int:
    if n < 1:
        raise pytest.UsageError(invalid_value("--regsuite-max-seeds", "a positive int", n))
    return n


@dataclass
class RegsuiteSession:
    """Per-session state: options, the run cache, and what the summary reports."""

    data_dir: str | None
    require_data: bool
    record: bool
    tier: str
    seeds: tuple[int, ...] | None
    baseline_root: Path
    max_seeds: int = 3
    record_cpu: bool = False
    bench_budget: float = 5.0
    timing_passes: int = 2
    timings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    runs: dict[tuple[str, str, int], RunResult] = field(default_factory=dict)
    checks_passed: int = 0
    checks_failed: int = 0
    train_seconds: float = 0.0
    written: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    results_path: Path | None = None
    worker_runs: list[dict[str, Any]] = field(default_factory=list)  # runs reported by xdist workers, as JSON

    @classmethod
    def from_config(cls, config: pytest.Config) -> "RegsuiteSession":
        opt = config.getoption
        root = opt("--regsuite-baselines")
        return cls(
            data_dir=opt("--regsuite-data-dir"),
            require_data=opt("--regsuite-require-data"),
            record=opt("--regsuite-record") or opt("--regsuite-record-cpu"),
            record_cpu=opt("--regsuite-record-cpu"),
            tier=opt("--regsuite-tier"),
            seeds=_parse_seeds(opt("--regsuite-seeds")),
            baseline_root=Path(root) if root else Path(config.rootpath) / "baselines",
            max_seeds=_positive(opt("--regsuite-max-seeds")),
            bench_budget=opt("--regsuite-bench-budget"),
            timing_passes=opt("--regsuite-timing-passes"),
            results_path=Path(opt("--regsuite-results")) if opt("--regsuite-results") else None,
        )

    @property
    def backend(self) -> str:
        """The active Keras backend: it picks the baselines a run is judged against."""
        from .environment import backend

        return backend()

    @property
    def cpu_class(self) -> str | None:
        """The CPU kernels TensorFlow runs here: on TensorFlow they pick the baselines too (imports the backend)."""
        from .environment import snapshot

        return snapshot()["cpu_class"]

    def seeds_for(self, spec: ExperimentSpec, override: Iterable[int] | None = None) -> tuple[int, ...]:
        """A test's mark, else --regsuite-seeds, else all recorded seeds when recording, else the first few."""
        if override is not None:
            return tuple(override)
        if self.seeds:
            return self.seeds
        return spec.seeds if self.record else spec.seeds[: self.max_seeds]

    def all_runs(self) -> list[dict[str, Any]]:
        """This process's runs and those xdist workers reported, as JSON."""
        from .serial import to_json

        return [to_json(r) for r in self.runs.values()] + self.worker_runs

    def export(self) -> dict[str, Any]:
        """What an xdist worker sends the controller (plain JSON types: it crosses a process boundary)."""
        return {"runs": self.all_runs(), "checks_passed": self.checks_passed, "checks_failed": self.checks_failed,
                "train_seconds": self.train_seconds, "written": self.written, "notes": self.notes,
                "timings": [[k[0], k[1], v] for k, v in self.timings.items()]}

    def absorb(self, payload: dict[str, Any]) -> None:
        self.worker_runs += payload["runs"]
        self.checks_passed += payload["checks_passed"]
        self.checks_failed += payload["checks_failed"]
        self.train_seconds += payload["train_seconds"]
        self.written += payload["written"]
        self.notes += payload["notes"]
        self.timings.update({(a, b): v for a, b, v in payload["timings"]})

    def missing_data(self, exc: DataUnavailable) -> None:
        if self.require_data:
            pytest.fail(f"{exc} (--regsuite-require-data is set, so this is an error)", pytrace=False)
        pytest.skip(str(exc))

    def require(self, dataset: str) -> None:
        """Skip (or fail, when data is required) unless `dataset` can be loaded."""
        from . import datasets

        try:
            datasets.load(dataset, self.data_dir)
        except DataUnavailable as exc:
            self.missing_data(exc)

    def run(self, spec: ExperimentSpec, seed: int) -> RunResult:
        """One seeded run, cached for the session under the spec's digest: a spec that trains exactly what
        another does (a sensitivity alteration that is a registered experiment) reuses its run, relabelled."""
        import dataclasses

        from . import runner

        key = (spec.id, spec.digest, seed)
        if key in self.runs:
            return self.runs[key]
        twin = next((r for r in self.runs.values() if (r.spec_digest, r.seed) == key[1:]), None)
        if twin is not None:
            self.runs[key] = dataclasses.replace(twin, experiment=spec.id)
            return self.runs[key]
        try:
            start = time.perf_counter()
            self.runs[key] = runner.run(spec, seed, data_dir=self.data_dir)
            self.train_seconds += time.perf_counter() - start
        except DataUnavailable as exc:
            self.missing_data(exc)
        except runner.UnsupportedBackend as exc:
            pytest.skip(str(exc))
        return self.runs[key]

    def outcome(self, spec: ExperimentSpec, seeds: Iterable[int] | None = None) -> Outcome:
        return Outcome.of([self.run(spec, s) for s in self.seeds_for(spec, seeds)])

    def judge(self, checks: list[Check], outcomes: dict[str, Outcome]) -> list[str]:
        """Run checks, count them for the summary, return every failure."""
        failures = run_checks(checks, outcomes)
        self.checks_failed += len(failures)
        self.checks_passed += len(checks) - len(failures)
        return failures


@pytest.fixture(scope="session")
def regsuite(request: pytest.FixtureRequest) -> RegsuiteSession:
    """The session's regsuite state: runs experiments once, caches outcomes."""
    return request.config.stash[_STATE]


@pytest.fixture
def regsuite_seeds(request: pytest.FixtureRequest, regsuite: RegsuiteSession) -> tuple[int, ...] | None:
    """Seeds set on the test by `@pytest.mark.regsuite(seeds=...)`, else None."""
    mark = request.node.get_closest_marker("regsuite")
    seeds = mark.kwargs.get("seeds") if mark else None
    return tuple(seeds) if seeds is not None else None


def fail_with(failures: list[str], title: str) -> None:
    """Fail a test with every collected failure listed."""
    if failures:
        pytest.fail(f"{title}: {len(failures)} check(s) failed\n" + "\n".join(f"- {f}" for f in failures), pytrace=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "experiment" in metafunc.fixturenames:
        from .experiments import REGISTRY

        specs = list(REGISTRY)
        metafunc.parametrize("experiment", specs, ids=[s.id for s in specs])
    if "timing_pass" in metafunc.fixturenames:
        n = metafunc.config.stash[_STATE].timing_passes
        if n < 1:
            raise pytest.UsageError(invalid_value("--regsuite-timing-passes", "a positive int", n))
        metafunc.parametrize("timing_pass", range(1, n + 1), ids=[f"pass{i}" for i in range(1, n + 1)])


def _passes_in_order(items: list[pytest.Item]) -> None:
    """Every benchmark's pass 1 before any pass 2: a slow stretch of the machine then hits one pass of many
    benchmarks, not every round of one (the order of everything else is kept)."""
    at = [i for i, it in enumerate(items) if "timing_pass" in getattr(getattr(it, "callspec", None), "params", {})]
    ordered = sorted((items[i] for i in at), key=lambda it: it.callspec.params["timing_pass"])
    for i, it in zip(at, ordered):
        items[i] = it


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'I/N' -> (I, N), 1 <= I <= N."""
    if text is None:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        i = n = 0
    if not 1 <= i <= n:
        raise pytest.UsageError(invalid_value("--regsuite-shard", "I/N with 1 <= I <= N, such as 2/4", text))
    return i, n


def item_experiment(item: pytest.Item) -> str | None:
    """The experiment id a test belongs to: its spec parameter, else the registry id its parametrize id starts
    with ('lab02/l2:l2_factor_read_as_0.1' -> 'lab02/l2'), so sharding and xdist grouping keep them together."""
    from .experiments import REGISTRY

    callspec = getattr(item, "callspec", None)
    for name in ("experiment", "spec"):
        spec = getattr(callspec, "params", {}).get(name)
        if isinstance(spec, ExperimentSpec):
            return spec.id
    callspec_id = getattr(callspec, "id", "")
    hits = [s.id for s in REGISTRY if callspec_id == s.id or callspec_id.startswith((f"{s.id}:", f"{s.id}-"))]
    return max(hits, key=len) if hits else None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's worker reads the xdist_group marks added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from .experiments import REGISTRY
    from .shards import shard_of, training_groups

    groups = training_groups(REGISTRY)
    item_group = {id(it): groups.get(item_experiment(it) or "") for it in items}
    drop: list[pytest.Item] = []
    shard = parse_shard(config.getoption("--regsuite-shard"))
    if shard is not None:
        i, n = shard
        drop += [it for it in items if shard_of(item_group[id(it)] or it.nodeid, n) != i - 1]
    if config.stash[_STATE].tier == "quick":
        drop += [it for it in items if it.get_closest_marker("slow") and it not in drop]
    if drop:
        gone = set(map(id, drop))
        config.hook.pytest_deselected(items=drop)
        items[:] = [it for it in items if id(it) not in gone]
    _passes_in_order(items)
    if config.pluginmanager.hasplugin("xdist"):
        # With `--dist loadgroup` the tests of experiments that share seeded runs share one worker, so each
        # run is trained once.
        for it in items:
            group = item_group[id(it)]
            if group:
                it.add_marker(pytest.mark.xdist_group(group))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("gpu"):
        from .environment import accelerators, backend

        if not accelerators():
            pytest.skip(f"no GPU visible to the Keras backend {backend()!r}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand everything to the controller
        workeroutput["regsuite"] = state.export()
        return
    if state.results_path is not None and (state.runs or state.worker_runs):
        from .results import write_results

        write_results(state.results_path, state.all_runs())
        state.written.append(f"results: {state.results_path} ({len(state.all_runs())} seeded runs)")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: fold a finished worker's runs and counts into the controller's summary."""
    payload = getattr(node, "workeroutput", {}).get("regsuite")
    state = node.config.stash.get(_STATE, None)
    if payload and state is not None:
        state.absorb(payload)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not (state.runs or state.worker_runs or state.checks_passed or state.checks_failed
                             or state.written or state.timings):
        return
    tr = terminalreporter
    tr.section("regsuite")
    if state.timings:
        _timing_summary(tr, state.timings)
    runs = state.all_runs()
    if runs:
        experiments = sorted({r["experiment"] for r in runs})
        unique = len({(r["experiment"], r["spec_digest"], r["seed"]) for r in runs})
        trained = len({(r["spec_digest"], r["seed"]) for r in runs})
        again = f"; {len(runs) - unique} trained again by a second worker" if len(runs) > unique else ""
        reused = f"; {unique - trained} reused by an experiment training the same spec" if unique > trained else ""
        tr.write_line(f"experiments trained: {len(experiments)} ({trained} seeded runs{again}{reused}, "
                      f"{state.train_seconds:.1f} s training and evaluation)")
    if runs or state.checks_passed or state.checks_failed:
        tr.write_line(f"checks: {state.checks_passed} passed, {state.checks_failed} failed")
    tr.write_line(f"wall time: {time.perf_counter() - state.started:.1f} s")
    for line in state.written + state.notes:
        tr.write_line(line)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Saved benchmark runs carry what `regsuite perf compare` needs to call two runs comparable."""
    from . import datasets
    from .environment import machine_info as info

    machine_info.update(info())
    machine_info["dataset_fingerprints"] = datasets.loaded_fingerprints()


def _timing_summary(tr: Any, timings: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Steady-state epoch medians per experiment and device (passes pooled), GPU/CPU speedup, peak RSS per document."""
    ids = sorted({k[0] for k in timings})
    tr.write_line("training speed (median steady-state epoch, training only):")
    tr.write_line(f"  {'experiment':<36} {'cpu s/epoch':>12} {'gpu s/epoch':>12} {'gpu speedup':>12} "
                  f"{'GFLOP/s cpu':>12} {'of matmul':>10}")
    for exp_id in ids:
        cpu, gpu = timings.get((exp_id, "cpu")), timings.get((exp_id, "gpu"))
        speed = f"{cpu['steady_epoch_seconds'] / gpu['steady_epoch_seconds']:.2f}x" if cpu and gpu else "-"
        frac = cpu.get("fraction_of_reference") if cpu else None
        cpu_s, gpu_s = (f"{info['steady_epoch_seconds']:.4f}" if info else "-" for info in (cpu, gpu))
        gflops = f"{cpu['achieved_gflops']:.2f}" if cpu else "-"
        tr.write_line(f"  {exp_id:<36} {cpu_s:>12} {gpu_s:>12} {speed:>12} {gflops:>12} "
                      f"{(f'{frac:.1%}' if frac else '-'):>10}")
    peaks: dict[str, float] = {}
    for (exp_id, _), info in timings.items():
        doc = exp_id.split("/")[0]
        peaks[doc] = max(peaks.get(doc, 0.0), info["peak_rss_mb"])
    tr.write_line("peak RSS of the process by the end of each document's (first-pass) timings (MiB): "
                  + ", ".join(f"{d} {v:.0f}" for d, v in sorted(peaks.items(), key=lambda kv: kv[1])))


def baseline_verdict(state: RegsuiteSession, spec: ExperimentSpec, outcome: Outcome) -> baselines.Verdict:
    """The baseline lifecycle for a test; records what it wrote for the summary."""
    try:
        verdict = baselines.compare_or_record(spec, outcome.runs, state.baseline_root, record=state.record,
                                              cpu_own=state.record_cpu)
    except RegsuiteError as exc:
        pytest.fail(str(exc), pytrace=False)
    if verdict.status in ("created", "recorded"):
        state.written.append(f"baseline {verdict.status}: {verdict.path}")
    if verdict.obtained:
        state.written.append(f"obtained: {verdict.obtained}")
    state.checks_passed += verdict.checked - verdict.failed
    state.checks_failed += verdict.failed
    return verdict
