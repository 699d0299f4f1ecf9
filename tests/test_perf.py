"""`regsuite perf compare | history` on saved pytest-benchmark runs: the rule and each exit code."""

from __future__ import annotations

import json

import numpy as np
import pytest

from regsuite import cli, perf

MACHINE = {"cpu_model": "EPYC", "cpu_isa": "avx avx2 fma", "cpu_count": 2, "memory_gb": 23.4, "gpu": "none", "backend": "tensorflow",
           "backend_version": "2.21.0", "tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.4.6", "python": "3.11.7"}
NAMES = ("test_train_time[cpu-keras_regularization/l1]", "test_train_time[cpu-imdb/original]")


def save_run(storage, counter: int, *, slow: dict | None = None, seed: int = 0, rounds: int = 7,
             machine: dict | None = None, data: bool = True, control: float | None = None) -> None:
    """`control`: also save CPU seconds per round (the wall samples) and a control workload of about that many
    seconds timed before each round, as `bench/test_timing.py` does."""
    rng = np.random.default_rng(seed)
    benches = []
    for name in NAMES:
        samples = 1.0 + 0.03 * rng.standard_normal(rounds)  # ~3 % noise
        samples *= 1 + (slow or {}).get(name, 0.0)
        stats = {"median": float(np.median(samples))}
        if data:
            stats["data"] = samples.tolist()
        extra = {}
        if control is not None:
            controls = (control * (1 + 0.01 * rng.standard_normal(rounds))).tolist()
            extra = {"device": "cpu", "cpu_seconds": samples.tolist(), "control_cpu_seconds": controls,
                     "control_wall_seconds": controls, "control_kind": "keras"}
        benches.append({"name": name, "fullname": f"bench/test_timing.py::{name}", "stats": stats, "extra_info": extra})
    folder = storage / "Linux-CPython-3.11-64bit"
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"machine_info": machine or MACHINE, "commit_info": {"id": f"abc{counter}"},
           "datetime": f"2026-11-23T00:00:0{counter}", "benchmarks": benches}
    (folder / f"{counter:04d}_abc{counter}_20261123.json").write_text(json.dumps(doc))


def run_cli(capsys, *args) -> tuple[int, str]:
    code = cli.main(["perf", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_unchanged_runs_exit_0(tmp_path, capsys):
    save_run(tmp_path, 1, seed=1)
    save_run(tmp_path, 2, seed=2)
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path))
    assert code == 0 and "0 regression(s)" in out and "2 benchmark(s) compared" in out


def test_a_20_percent_slowdown_exits_1_and_names_the_benchmark(tmp_path, capsys):
    save_run(tmp_path, 1, seed=1)
    save_run(tmp_path, 2, seed=2, slow={NAMES[0]: 0.20})
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path))
    assert code == 1 and "1 regression(s)" in out
    line = next(line for line in out.splitlines() if "keras_regularization/l1" in line)
    assert line.endswith("regression")
    assert next(line for line in out.splitlines() if "imdb/original" in line).endswith("unchanged")


def test_a_significant_but_small_change_is_not_a_regression(tmp_path):
    save_run(tmp_path, 1, seed=1, rounds=40)
    save_run(tmp_path, 2, seed=2, rounds=40, slow={NAMES[0]: 0.05})
    old, new = (perf.load_run(p) for p in perf.resolve(tmp_path, []))
    change = next(c for c in perf.compare(old, new) if "l1" in c.benchmark)
    assert change.p_value < perf.ALPHA and change.verdict == "unchanged"  # 5 % < the 10 % minimum effect
    assert perf.compare(old, new, default_min_effect=0.02)[1].verdict == "regression"


def test_a_large_but_noisy_change_is_not_a_regression():
    old = perf.SavedRun(perf.Path("a"), MACHINE, {}, "", {"b": (1.0, 2.0, 0.5)})
    new = perf.SavedRun(perf.Path("b"), MACHINE, {}, "", {"b": (1.3, 0.6, 2.1)})
    (change,) = perf.compare(old, new)
    assert change.ratio > 1.1 and change.p_value >= perf.ALPHA and change.verdict == "unchanged"


def test_per_experiment_minimum_effect_overrides_the_default(tmp_path):
    save_run(tmp_path, 1, seed=1)
    save_run(tmp_path, 2, seed=2, slow={NAMES[0]: 0.20})
    old, new = (perf.load_run(p) for p in perf.resolve(tmp_path, []))
    verdicts = {c.benchmark: c.verdict for c in perf.compare(old, new, {"keras_regularization/l1": 0.3})}
    assert verdicts[f"bench/test_timing.py::{NAMES[0]}"] == "unchanged"


@pytest.mark.parametrize("change, shown", [
    ({"keras": "3.16.0"}, "keras: '3.15.1' -> '3.16.0'"),
    ({"cpu_isa": "avx avx2 fma avx512f avx512_vnni"}, "cpu_isa: 'avx avx2 fma' -> 'avx avx2 fma avx512f avx512_vnni'"),
    ({"backend": "torch", "backend_version": "2.13.0"}, "backend_version: '2.21.0' -> '2.13.0'"),
])
def test_other_machine_or_versions_exit_3(tmp_path, capsys, change, shown):
    save_run(tmp_path, 1, seed=1)
    save_run(tmp_path, 2, seed=2, slow={NAMES[0]: 0.5}, machine={**MACHINE, **change})
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path))
    assert code == 3 and "not comparable" in out and shown in out
    assert "regression" not in out


@pytest.mark.parametrize("setup, args, message", [
    (lambda p: None, [], "Invalid value for `storage`. Expected a folder of saved pytest-benchmark runs"),
    (lambda p: save_run(p, 1), [], "1 saved run(s); a comparison needs two"),
    (lambda p: (save_run(p, 1), save_run(p, 2, data=False)), [], "has no per-round data; save runs with "
                                                                  "--benchmark-save-data"),
    (lambda p: (save_run(p, 1), save_run(p, 2)), ["0009", "0001"], "Invalid value for `run`"),
    (lambda p: (save_run(p, 1), save_run(p, 2)), ["0001"], "Invalid value for `runs`. Expected none"),
])
def test_usage_and_infrastructure_errors_exit_2(tmp_path, capsys, setup, args, message):
    storage = tmp_path / "store"
    if setup(storage) is None and not storage.exists() and args == [] and "storage" not in message:
        storage.mkdir()
    code, out = run_cli(capsys, "compare", *args, "--storage", str(storage))
    assert code == 2 and message in out


def test_named_runs_by_counter(tmp_path, capsys):
    for i, slow in ((1, 0.0), (2, 0.2), (3, 0.0)):
        save_run(tmp_path, i, seed=i, slow={NAMES[0]: slow})
    code, _ = run_cli(capsys, "compare", "0001", "0003", "--storage", str(tmp_path))
    assert code == 0
    code, _ = run_cli(capsys, "compare", "0001", "0002", "--storage", str(tmp_path))
    assert code == 1


def test_malformed_run_names_the_file(tmp_path):
    bad = tmp_path / "0001_x.json"
    bad.write_text("{not json")
    with pytest.raises(perf.PerfError, match="0001_x.json: not a readable pytest-benchmark JSON file"):
        perf.load_run(bad)


def test_history_marks_the_step_and_writes_plots(tmp_path, capsys):
    for i in range(1, 6):
        save_run(tmp_path, i, seed=i, slow={NAMES[0]: 0.2 if i >= 4 else 0.0})
    code, out = run_cli(capsys, "history", "--storage", str(tmp_path), "--plots", str(tmp_path / "plots"))
    assert code == 0
    l1 = [line for line in out.split("keras_regularization/l1]")[1].splitlines() if line.startswith("  ")]
    assert [("regression" in line) for line in l1] == [False, False, False, True, False]
    pngs = sorted((tmp_path / "plots").glob("*.png"))
    assert len(pngs) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def _run(wall: tuple[float, ...], cpu: tuple[float, ...] | None, device: str = "cpu",
         control: tuple[float, ...] | None = None, control_kind: str | None = None) -> perf.SavedRun:
    extra = {"device": device} | ({"cpu_seconds": list(cpu)} if cpu is not None else {})
    if control is not None:
        extra |= {"control_cpu_seconds": list(control), "control_wall_seconds": list(control)}
    if control_kind is not None:
        extra["control_kind"] = control_kind
    return perf.SavedRun(perf.Path("r"), MACHINE, {}, "", {"b": wall}, {"b": extra})


STEADY = (1.00, 1.01, 0.99, 1.02, 0.98, 1.00, 1.01)
STALLED = (1.80, 1.81, 0.99, 1.79, 1.80, 1.01, 1.78)  # wall time with stalls the process did not run in


def test_cpu_benchmarks_are_judged_on_cpu_seconds_so_wall_stalls_are_no_regression():
    old, new = _run(STEADY, STEADY), _run(STALLED, STEADY)
    (auto,) = perf.compare(old, new)
    assert auto.metric == "cpu" and auto.verdict == "unchanged"
    (wall,) = perf.compare(old, new, metric="wall")
    assert wall.metric == "wall" and wall.verdict == "regression"


def test_extra_cpu_work_is_a_regression_on_cpu_seconds():
    (change,) = perf.compare(_run(STEADY, STEADY), _run(STEADY, tuple(t * 1.2 for t in STEADY)))
    assert change.metric == "cpu" and change.verdict == "regression" and change.ratio == pytest.approx(1.2)


def test_gpu_benchmarks_and_runs_without_cpu_seconds_use_wall_time():
    (gpu,) = perf.compare(_run(STEADY, STEADY, "gpu"), _run(STALLED, STEADY, "gpu"))
    assert gpu.metric == "wall" and gpu.verdict == "regression"
    (mixed,) = perf.compare(_run(STEADY, None), _run(STALLED, STEADY))  # an older run saved no CPU seconds
    assert mixed.metric == "wall"


def test_a_metric_without_samples_falls_back_to_wall_and_says_so_and_a_bad_metric_is_an_error():
    assert _run(STEADY, None).metric_samples("b", "cpu") == ("wall", STEADY)
    with pytest.raises(perf.PerfError, match=r"Invalid value for `metric`. Expected one of .* Received: metric='gpu'"):
        _run(STEADY, STEADY).metric_samples("b", "gpu")


def test_history_reports_the_metric_and_the_wall_median(tmp_path, capsys):
    save_run(tmp_path, 1, seed=1)
    save_run(tmp_path, 2, seed=2)
    code, out = run_cli(capsys, "history", "--storage", str(tmp_path), "--metric", "wall")
    assert code == 0 and "wall median" in out and " wall median " in out


CONTROL = (0.050, 0.051, 0.049, 0.050, 0.052, 0.050, 0.049)


def test_a_slow_stretch_of_the_machine_is_divided_out_by_the_control():
    slow = tuple(t * 1.35 for t in STEADY)  # the machine 35 % slower: the rounds and their control alike
    old = _run(STEADY, STEADY, control=CONTROL)
    new = _run(slow, slow, control=tuple(c * 1.35 for c in CONTROL))
    (auto,) = perf.compare(old, new)
    assert auto.metric == "cpu-rel" and auto.verdict == "unchanged" and auto.ratio == pytest.approx(1.0)
    (cpu,) = perf.compare(old, new, metric="cpu")
    assert cpu.verdict == "regression"


def test_extra_work_with_a_steady_control_is_a_regression_on_the_relative_metric():
    old = _run(STEADY, STEADY, control=CONTROL)
    new = _run(STEADY, tuple(t * 1.2 for t in STEADY), control=CONTROL)
    (change,) = perf.compare(old, new)
    assert change.metric == "cpu-rel" and change.verdict == "regression" and change.ratio == pytest.approx(1.2, rel=0.02)


def test_a_run_without_controls_is_compared_on_cpu_seconds():
    (change,) = perf.compare(_run(STEADY, STEADY, control=CONTROL), _run(STEADY, STEADY))
    assert change.metric == "cpu"
    assert _run(STEADY, STEADY).metric_samples("b", "wall-rel")[0] == "wall"


def test_rounds_divided_by_different_control_workloads_are_judged_on_cpu_seconds():
    slow = tuple(t * 1.35 for t in STEADY)
    old = _run(STEADY, STEADY, control=CONTROL)  # saved before the control was named: the matmul chain
    new = _run(slow, slow, control=tuple(c * 1.35 for c in CONTROL), control_kind="keras-fit")
    (auto,) = perf.compare(old, new)
    assert auto.metric == "cpu" and auto.verdict == "regression"
    (wall_rel,) = perf.compare(old, new, metric="wall-rel")
    assert wall_rel.metric == "wall"
    (same,) = perf.compare(_run(STEADY, STEADY, control=CONTROL, control_kind="keras-fit"), new)
    assert same.metric == "cpu-rel" and same.verdict == "unchanged"


def test_a_benchmarks_timing_passes_are_pooled_round_by_round(tmp_path):
    def entry(pass_, wall, cpu, control):
        name = f"test_train_time[pass{pass_}-keras_regularization/l1-cpu]"
        return {"name": name, "fullname": f"bench/test_timing.py::{name}", "stats": {"data": wall},
                "extra_info": {"device": "cpu", "cpu_seconds": cpu, "control_cpu_seconds": control,
                               "control_wall_seconds": control, "timing_pass": pass_}}

    doc = {"machine_info": MACHINE, "commit_info": {}, "datetime": "",
           "benchmarks": [entry(1, [1.0, 1.1, 1.2], [1.0, 1.1, 1.2], [0.5, 0.5, 0.6]),
                          entry(2, [2.0, 2.2, 2.4], [2.0, 2.2, 2.4], [1.0, 1.1, 1.2])]}
    path = tmp_path / "0001_x.json"
    path.write_text(json.dumps(doc))
    run = perf.load_run(path)
    name = "bench/test_timing.py::test_train_time[keras_regularization/l1-cpu]"
    assert list(run.samples) == [name] and run.samples[name] == (1.0, 1.1, 1.2, 2.0, 2.2, 2.4)
    assert run.extra[name]["passes_pooled"] == 2
    # each round stays paired with the control timed before it: pass 2's machine was twice as slow
    assert run.metric_samples(name) == ("cpu-rel", pytest.approx((2.0, 2.2, 2.0, 2.0, 2.0, 2.0)))
    assert perf.benchmark_name("t[lab02/l1-cpu-pass12]") == "t[lab02/l1-cpu]"
    assert perf.benchmark_name("t[pass3-lab02/l1-cpu]") == "t[lab02/l1-cpu]"
    assert perf.benchmark_name("t[lab02/bypass1-cpu]") == "t[lab02/bypass1-cpu]"


def test_noise_floors_are_4_cvs_of_earlier_medians_and_need_3_runs():
    runs = [_run(STEADY, tuple(t * f for t in STEADY)) for f in (1.0, 1.1, 0.9)]
    (floor,) = perf.noise_floors(runs).values()
    assert floor == pytest.approx(4 * 0.1, rel=0.02)  # medians 1.0, 1.1, 0.9: CV 10 %
    assert perf.noise_floors(runs[:2]) == {}


def test_a_change_inside_the_benchmarks_measured_noise_is_not_a_regression(tmp_path, capsys):
    for counter, (seed, slow) in enumerate([(1, 0.0), (2, 0.25), (3, -0.2), (4, 0.0), (5, 0.3)], start=1):
        save_run(tmp_path, counter, seed=seed, slow={NAMES[0]: slow})
    # 0004 vs 0005: +30 %, inside the ~90 % floor the earlier runs' spread sets
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--noise-runs", "earlier")
    assert code == 0 and "from 3 comparable run(s) of 'earlier'" in out
    line = next(line for line in out.splitlines() if "keras_regularization/l1" in line)
    assert line.endswith("unchanged") and "10%" not in line
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path))  # the default: no floors, 10 %
    assert code == 1 and "from 0 comparable run(s) of 'none'" in out
    other = tmp_path / "calm"
    for counter in (1, 2, 3):
        save_run(other, counter, seed=10 + counter)
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--noise-runs", str(other))
    assert code == 1 and "2 benchmark(s) from 3 comparable run(s)" in out


def _fake_rerun(monkeypatch, storage, *, slow: float, code: int = 0, machine: dict | None = None) -> list:
    """Stand in for the pytest re-timing: record the command, save a run under the confirmations folder."""
    calls = []

    def call(cmd):
        calls.append(cmd)
        save_run(storage / perf.CONFIRM_DIR, len(calls), seed=50 + len(calls), slow={NAMES[0]: slow},
                 machine=machine)
        return code

    monkeypatch.setattr("subprocess.call", call)
    return calls


@pytest.mark.parametrize("slow_again, code, verdict", [(0.20, 1, "confirmed"), (0.0, 0, "not confirmed")])
def test_confirm_retimes_the_flagged_benchmark_and_keeps_it_only_if_flagged_again(
        tmp_path, capsys, monkeypatch, slow_again, code, verdict):
    save_run(tmp_path, 1, seed=1)
    save_run(tmp_path, 2, seed=2, slow={NAMES[0]: 0.20})
    calls = _fake_rerun(monkeypatch, tmp_path, slow=slow_again)
    got, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--confirm")
    assert got == code and f"{1 if code else 0} regression(s) (confirmed)" in out
    assert len(calls) == 1 and f"bench/test_timing.py::{NAMES[0]}" in calls[0]
    assert f"bench/test_timing.py::{NAMES[1]}" not in calls[0]  # only the flagged one is re-timed
    assert f"--benchmark-storage=file://{(tmp_path / perf.CONFIRM_DIR).resolve()}" in calls[0]
    line = next(line for line in out.splitlines() if NAMES[0] in line and "then" in line)
    assert line.endswith(f" {verdict}")
    # the re-timing is no run of its own: the next plain compare still sees the two runs
    assert [p.name[:4] for p in perf.saved_runs(tmp_path)] == ["0001", "0002"]


def test_confirm_runs_nothing_when_nothing_is_flagged(tmp_path, capsys, monkeypatch):
    save_run(tmp_path, 1, seed=1)
    save_run(tmp_path, 2, seed=2)
    calls = _fake_rerun(monkeypatch, tmp_path, slow=0.2)
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--confirm")
    assert code == 0 and calls == [] and "0 regression(s) (confirmed)" in out


@pytest.mark.parametrize("code, machine, message", [
    (4, None, "the re-timing exited 4 and saved 1 run(s)"),
    (0, {**MACHINE, "cpu_model": "Xeon"}, "the re-timing is not comparable with"),
])
def test_a_failed_or_incomparable_retiming_is_an_infrastructure_error(tmp_path, capsys, monkeypatch, code, machine,
                                                                      message):
    save_run(tmp_path, 1, seed=1)
    save_run(tmp_path, 2, seed=2, slow={NAMES[0]: 0.20})
    _fake_rerun(monkeypatch, tmp_path, slow=0.2, code=code, machine=machine)
    got, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--confirm")
    assert got == 2 and message in out


def test_rerun_command_times_every_pass_with_the_runs_settings(tmp_path):
    def entry(pass_):
        return {"name": "x", "fullname": f"bench/test_timing.py::test_train_time[{pass_}-lab02/l1-cpu]",
                "stats": {"data": [1.0, 1.1, 0.9]},
                "extra_info": {"timing_passes": 2, "bench_budget": 7.5, "device": "cpu"}}

    path = tmp_path / "0001_x.json"
    path.write_text(json.dumps({"machine_info": MACHINE, "benchmarks": [entry("pass1"), entry("pass2")]}))
    run = perf.load_run(path)
    cmd = perf.rerun_command(run, ["bench/test_timing.py::test_train_time[lab02/l1-cpu]"], tmp_path)
    assert cmd[1:3] == ["-m", "pytest"]
    assert [c for c in cmd if "::" in c] == [f"bench/test_timing.py::test_train_time[pass{i}-lab02/l1-cpu]"
                                             for i in (1, 2)]
    assert "--regsuite-timing-passes=2" in cmd and "--regsuite-bench-budget=7.5" in cmd
    with pytest.raises(perf.PerfError, match=r"Invalid value for `benchmarks`. Expected benchmarks of this run"):
        perf.rerun_command(run, ["test_train_time[lab02/l2-cpu]"], tmp_path)


def test_a_pooled_reference_keeps_every_runs_rounds_and_refuses_another_machine():
    a = _run(STEADY, STEADY, control=STEADY, control_kind="keras")
    b = _run(tuple(t * 1.1 for t in STEADY), tuple(t * 1.1 for t in STEADY), control=STEADY, control_kind="keras")
    pooled = perf.reference([a, b])
    assert pooled.samples["b"] == STEADY + tuple(t * 1.1 for t in STEADY)
    kind, values = pooled.metric_samples("b")
    assert kind == "cpu-rel" and len(values) == 2 * len(STEADY)
    mixed = perf.reference([a, _run(STEADY, STEADY, control=STEADY, control_kind="matmul")])
    assert mixed.metric_samples("b")[0] == "cpu"  # rounds divided by two different controls are not one scale
    other = perf.SavedRun(perf.Path("x.json"), MACHINE | {"keras": "3.0.0"}, {}, "", {"b": STEADY}, {"b": {}})
    with pytest.raises(perf.PerfError, match="x.json: not comparable .*keras: '3.0.0' -> '3.15.1'"):
        perf.reference([other, a])


def test_reference_runs_pool_the_old_run_with_the_ones_before_it(tmp_path, capsys):
    # 0002 is an unlucky (fast) old run: alone it makes an unchanged 0004 look 25 % slower
    for counter, slow in [(1, 0.0), (2, -0.2), (3, 0.0), (4, 0.0)]:
        save_run(tmp_path, counter, seed=counter, slow={NAMES[0]: slow})
    code, out = run_cli(capsys, "compare", "0002", "0004", "--storage", str(tmp_path))
    assert code == 1
    code, out = run_cli(capsys, "compare", "0002", "0004", "--storage", str(tmp_path), "--reference-runs", "5")
    assert code == 0 and "reference: 2 comparable run(s) pooled: 0001, 0002" in out
    save_run(tmp_path, 5, seed=5, slow={NAMES[0]: 0.3})
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--reference-runs", "3")
    assert code == 1 and "pooled: 0002, 0003, 0004" in out
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--reference-runs", "0")
    expected = "Invalid value for `reference-runs`. Expected a whole number >= 1. Received: reference-runs=0"
    assert code == 2 and expected in out


TF216 = {**MACHINE, "backend_version": "2.16.2", "tensorflow": "2.16.2", "numpy": "1.26.4"}


def test_across_lets_the_named_versions_differ_and_judges_cpu_seconds(tmp_path, capsys):
    # TensorFlow 2.16 -> 2.21 makes l1 20 % slower, and the control (a Keras fit) with it
    save_run(tmp_path, 1, seed=1, machine=TF216, control=0.08)
    save_run(tmp_path, 2, seed=2, slow={NAMES[0]: 0.20}, control=0.08 * 1.2)
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path))
    assert code == 3 and "pass --across backend_version,tensorflow,numpy" in out
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--across", "backend_version,tensorflow,numpy")
    assert code == 1 and "across: backend_version: '2.16.2' -> '2.21.0'; tensorflow: '2.16.2' -> '2.21.0'" in out
    line = next(line for line in out.splitlines() if NAMES[0] in line)
    assert " cpu " in line and line.endswith("regression")
    # on the control-relative metric the same change is divided out: why --across judges CPU seconds
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--across", "backend_version,tensorflow,numpy",
                        "--metric", "cpu-rel")
    assert code == 0 and "0 regression(s)" in out


@pytest.mark.parametrize("across, code, shown", [
    ("tensorflow", 3, "numpy: '1.26.4' -> '2.4.6'"),  # a difference not named still makes them not comparable
    ("tensorflow,tf", 2, "Invalid value for `across`. Expected comma-separated keys among cpu_model, cpu_isa"),
    (",", 2, "Received: across=','"),
])
def test_across_refuses_what_it_does_not_name(tmp_path, capsys, across, code, shown):
    save_run(tmp_path, 1, seed=1, machine=TF216)
    save_run(tmp_path, 2, seed=2)
    got, out = run_cli(capsys, "compare", "--storage", str(tmp_path), f"--across={across}")
    assert got == code and shown in out


def test_each_side_may_pool_several_runs(tmp_path, capsys):
    # interleaved A B A B; the second A is unlucky (fast), so against it alone an unchanged B looks slower
    for counter, machine, slow in [(1, TF216, 0.0), (2, MACHINE, 0.0), (3, TF216, -0.2), (4, MACHINE, 0.0)]:
        save_run(tmp_path, counter, seed=counter, machine=machine, slow={NAMES[0]: slow})
    args = ("--storage", str(tmp_path), "--across", "backend_version,tensorflow,numpy")
    assert run_cli(capsys, "compare", "0003", "0004", *args)[0] == 1
    code, out = run_cli(capsys, "compare", "0001,0003", "0002,0004", *args)
    assert code == 0 and "old: 2 runs pooled: 0001, 0003" in out and "new: 2 runs pooled: 0002, 0004" in out
    code, out = run_cli(capsys, "compare", "0001,0002", "0004", *args)
    assert code == 2 and "0001_abc1_20261123.json: not comparable with" in out  # one side, one set of versions
    code, out = run_cli(capsys, "compare", "0001,0003", "0004", *args, "--reference-runs", "2")
    assert code == 2 and "Invalid value for `reference-runs`. Expected 1 where the old side names several runs" in out


@pytest.mark.parametrize("machine, code, shown", [
    (None, 1, "1 regression(s) (confirmed)"),  # re-timed on the new run's versions
    (TF216, 2, "the re-timing is not comparable with the new run"),  # re-timed on the old side's: refused
])
def test_confirm_across_versions_retimes_the_new_side(tmp_path, capsys, monkeypatch, machine, code, shown):
    save_run(tmp_path, 1, seed=1, machine=TF216)
    save_run(tmp_path, 2, seed=2, slow={NAMES[0]: 0.20})
    _fake_rerun(monkeypatch, tmp_path, slow=0.20, machine=machine)
    got, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--confirm",
                       "--across", "backend_version,tensorflow,numpy")
    assert got == code and shown in out


def save_passes(storage, counter: int, slow_pass2: float, *, seed: int) -> None:
    """A run of one CPU benchmark timed in two passes (pytest ids `[pass1-…]`, `[pass2-…]`), pass 2 `slow_pass2`
    slower, with CPU seconds per round, as `bench/test_timing.py` saves them."""
    rng = np.random.default_rng(seed)
    benches = []
    for p, slow in ((1, 0.0), (2, slow_pass2)):
        samples = ((1.0 + 0.03 * rng.standard_normal(15)) * (1 + slow)).tolist()
        benches.append({"name": f"test_train_time[pass{p}-lab02/l1-cpu]",
                        "fullname": f"bench/test_timing.py::test_train_time[pass{p}-lab02/l1-cpu]",
                        "stats": {"data": samples}, "extra_info": {"device": "cpu", "cpu_seconds": samples}})
    folder = storage / "Linux-CPython-3.11-64bit"
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"machine_info": MACHINE, "commit_info": {"id": f"abc{counter}"}, "datetime": f"2026-12-02T00:00:0{counter}",
           "benchmarks": benches}
    (folder / f"{counter:04d}_abc{counter}_20261202.json").write_text(json.dumps(doc))


def test_timing_pass_judges_one_pass_apart_from_the_pooled_rounds(tmp_path, capsys):
    save_passes(tmp_path, 1, 0.0, seed=1)
    save_passes(tmp_path, 2, 0.40, seed=2)  # only the later models of the new run are slower
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path))
    assert code == 1 and "1 regression(s)" in out  # both passes pooled: the slow pass 2 shows
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--timing-pass", "1")
    assert code == 0 and "timing passes: 1 only" in out and "0 regression(s), 0 improvement(s), 1 benchmark(s)" in out
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--timing-pass", "2")
    assert code == 1 and "timing passes: 2 only" in out and "1 regression(s)" in out


def test_pass_numbers_and_a_bad_timing_pass(tmp_path, capsys):
    assert perf.pass_number("t[pass2-lab02/l1-cpu]") == 2
    assert perf.pass_number("t[lab02/l1-cpu-pass12]") == 12
    assert perf.pass_number("t[lab02/bypass3-cpu]") == 1  # not a pass id; a benchmark timed in one pass is pass 1
    assert perf.parse_passes("1,2") == {1, 2}
    for bad in ("0", "first", "1,,2", ""):
        with pytest.raises(perf.PerfError, match=rf"Invalid value for `timing-pass`. Expected pass numbers from 1, "
                                                 rf"comma-separated \(e.g. 1 or 1,2\). Received: timing-pass='{bad}'$"):
            perf.parse_passes(bad)
    save_passes(tmp_path, 1, 0.0, seed=1)
    save_passes(tmp_path, 2, 0.0, seed=2)
    code, out = run_cli(capsys, "compare", "--storage", str(tmp_path), "--timing-pass", "x")
    assert code == 2 and "Invalid value for `timing-pass`" in out
