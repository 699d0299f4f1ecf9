"""The plugin and the real bench tests, driven with pytester and a fake runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regsuite import runner
from regsuite.errors import DataUnavailable
from regsuite.experiments import REGISTRY
from regsuite.plugin import item_experiment
from regsuite.results import measured, write_results
from regsuite.shards import training_groups

from .conftest import fake_run

BENCH = (Path(__file__).parent.parent / "bench" / "test_experiments.py").read_text()
L1 = "keras_regularization/l1"


@pytest.fixture
def fake_runner(monkeypatch):
    state = {"shift": 0.0, "missing": False, "calls": 0, "env": {}}

    def run(spec, seed=None, *, data_dir=None):
        import dataclasses

        state["calls"] += 1
        if state["missing"]:
            raise DataUnavailable("Dataset `mnist` not found. Set REGSUITE_DATA_DIR=/path/to/mirror")
        result = fake_run(spec.id, seed, shift=state["shift"], epochs=spec.fit.epochs, digest=spec.digest)
        return dataclasses.replace(result, environment={**result.environment, **state["env"]})

    monkeypatch.setattr(runner, "run", run)
    return state


@pytest.fixture
def bench(pytester, tmp_path):
    pytester.makepyfile(test_bench=BENCH)
    root = tmp_path / "baselines"

    def go(*args):
        return pytester.runpytest_inprocess("-k", f"test_baseline_bands and {L1}", "--regsuite-seeds=0,1",
                                            f"--regsuite-baselines={root}", *args)

    return go, root / "keras_regularization"


def test_baseline_lifecycle_through_pytest(bench, fake_runner):
    go, folder = bench
    result = go()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no baseline existed; wrote one from this run (2 seed(s))*", "*baseline created:*l1.json*"])
    assert (folder / "l1.json").exists()

    result = go()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*experiments trained: 1 (2 seeded runs*", "*checks: 10 passed, 0 failed*"])

    fake_runner["shift"] = 1.0
    result = go()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*keras_regularization/l1 against*l1.json: * check(s) failed*",
        "*loss@1 outside baseline band*",
        "*fix: if the change is intended, re-record with `pytest bench -k 'keras_regularization/l1' --regsuite-record`*",
        "*obtained: *l1.obtained.json*",
    ])
    assert (folder / "l1.obtained.json").exists()

    result = go("--regsuite-record")
    result.assert_outcomes(skipped=1)
    assert not (folder / "l1.obtained.json").exists()
    go().assert_outcomes(passed=1)


def test_record_cpu_writes_this_cpu_class_own_baseline_and_leaves_the_shared_one(bench, fake_runner):
    go, folder = bench
    go().assert_outcomes(failed=1)  # creates the shared baseline
    go().assert_outcomes(passed=1)
    shared = (folder / "l1.json").read_text()
    fake_runner["env"] = {"cpu_isa": "avx avx2 fma", "onednn": False, "cpu_class": "eigen-avx2-2threads"}
    fake_runner["shift"] = 1.0
    result = go()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*measured on other CPU kernels*record its own with `pytest bench -k "
                                 "'keras_regularization/l1' --regsuite-record-cpu*"])
    go("--regsuite-record-cpu").assert_outcomes(skipped=1)
    own = folder.parent / "cpus" / "eigen-avx2-2threads" / "keras_regularization" / "l1.json"
    assert own.exists() and (folder / "l1.json").read_text() == shared
    assert json.loads(own.read_text())["provenance"]["cpu_class"] == "eigen-avx2-2threads"
    go().assert_outcomes(passed=1)  # judged against its own now
    fake_runner["env"] = {}
    go().assert_outcomes(failed=1)  # another CPU: the shared one, which the shifted numbers miss


def test_runs_are_cached_per_session(pytester, fake_runner, tmp_path):
    pytester.makepyfile(test_bench=BENCH)
    result = pytester.runpytest_inprocess("-k", f"test_behaviour and {L1}", "--regsuite-seeds=0,1,2")
    result.assert_outcomes(failed=1)  # fake numbers are no L1 collapse: every failure is listed at once
    result.stdout.fnmatch_lines(["*keras_regularization/l1: 3 check(s) failed*", "*[[]ParamCount[]]*", "*[[]LossInflation[]]*",
                                 "*[[]Collapse[]]*", "*checks: 0 passed, 3 failed*"])
    assert fake_runner["calls"] == 6  # l1 and baseline, three seeds each, nothing twice


def test_missing_data_skips_with_what_to_set(bench, fake_runner, monkeypatch):
    go, _ = bench
    fake_runner["missing"] = True
    result = go("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*Set REGSUITE_DATA_DIR=/path/to/mirror*"])
    result = go("--regsuite-require-data")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*--regsuite-require-data is set, so this is an error*"])
    monkeypatch.setenv("REGSUITE_REQUIRE_DATA", "1")
    go().assert_outcomes(failed=1)


def test_quick_tier_deselects_slow(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.slow
        def test_trains(): pass
        def test_counts(): pass
    """)
    result = pytester.runpytest_inprocess("--regsuite-tier=quick", "--strict-markers")
    result.assert_outcomes(passed=1, deselected=1)


def test_bad_seeds_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_inprocess("--regsuite-seeds=a,b")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*Invalid value for `--regsuite-seeds`. Expected comma-separated integers such as 0,1,2. Received: --regsuite-seeds='a,b'*"])


def test_options_and_markers_are_registered(pytester):
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(["regsuite: documented Keras/TensorFlow experiments:", "*--regsuite-data-dir=DIR*",
                                 "*--regsuite-require-data*", "*--regsuite-record*", "*--regsuite-tier=*"])
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.slow:*", "@pytest.mark.gpu:*", "@pytest.mark.needs_data:*", "@pytest.mark.regsuite(seeds=None):*"])


def test_registry_parametrizes_with_readable_ids(pytester):
    pytester.makepyfile("def test_x(experiment): assert experiment.id")
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-k", "keras_regularization")
    n = len(REGISTRY)
    result.stdout.fnmatch_lines(["test_*.py::test_x[[]keras_regularization/baseline[]]", f"*5/{n} tests collected ({n - 5} deselected)*"])
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-k", "keras_regularization/l2_dropout")
    result.stdout.fnmatch_lines([f"*1/{n} tests collected ({n - 1} deselected)*"])


def test_gpu_marker_skips_without_a_gpu(pytester, monkeypatch):
    from regsuite import environment

    monkeypatch.setattr(environment, "accelerators", lambda: [])
    pytester.makepyfile("""
        import pytest
        @pytest.mark.gpu
        def test_on_gpu(): pass
    """)
    result = pytester.runpytest_inprocess("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no GPU visible to the Keras backend*"])


def test_seed_selection(pytester, fake_runner, tmp_path):
    pytester.makepyfile(test_bench=BENCH)
    args = ["-k", f"test_baseline_bands and {L1}", f"--regsuite-baselines={tmp_path}"]
    pytester.runpytest_inprocess(*args, "--regsuite-record").assert_outcomes(skipped=1)
    assert fake_runner["calls"] == 5  # recording measures every recorded seed
    pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)
    assert fake_runner["calls"] == 5 + 3  # a check run takes the first three
    pytester.runpytest_inprocess(*args, "--regsuite-max-seeds=1").assert_outcomes(passed=1)
    assert fake_runner["calls"] == 5 + 3 + 1
    result = pytester.runpytest_inprocess(*args, "--regsuite-max-seeds=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def _collected(pytester, *args) -> list[str]:
    result = pytester.runpytest_inprocess("--collect-only", "-q", *args)
    return [line for line in result.stdout.lines if "::" in line]


def test_shards_together_run_every_test_exactly_once_and_keep_an_experiment_together(pytester):
    pytester.makepyfile(test_bench=BENCH + "\n\ndef test_free_one(): pass\n\ndef test_free_two(): pass\n")
    everything = _collected(pytester)
    shards = [_collected(pytester, f"--regsuite-shard={i}/3") for i in (1, 2, 3)]
    flat = [nodeid for shard in shards for nodeid in shard]
    assert sorted(flat) == sorted(everything) and len(set(flat)) == len(flat)
    home = {}
    for i, shard in enumerate(shards):
        for nodeid in shard:
            if "[" in nodeid:
                exp = nodeid.split("[", 1)[1].rstrip("]")
                assert home.setdefault(exp, i) == i, f"{exp} split across shards"
    assert set(home) == {s.id for s in REGISTRY} and len(set(home.values())) == 3
    groups = training_groups(REGISTRY)
    for exp, shard in home.items():  # experiments sharing runs share a shard: no run is trained on two machines
        assert home[groups[exp]] == shard, f"{exp} is on shard {shard}, its group {groups[exp]} is not"


def test_training_groups_join_experiments_that_share_runs():
    groups = training_groups(REGISTRY)
    for spec in REGISTRY:
        for need in (i for c in spec.expectations for i in c.needs()):
            assert groups[need] == groups[spec.id], f"{spec.id} needs {need}'s runs but is in another group"
    # named by the earliest-registered member; an experiment nobody needs stays alone
    assert groups["lab02/deep_relu"] == groups["lab02/deep_sigmoid"] == "lab02/deep_sigmoid"
    assert groups["keras_regularization/l1"] == "keras_regularization/baseline"
    assert [i for i, g in groups.items() if g == "keras_notes/selu"] == ["keras_notes/selu"]
    # two experiments training the same spec are one group, even when no check links them
    a, b = REGISTRY.get("keras_notes/selu"), REGISTRY.get("keras_notes/selu_50")
    twin = a.replace(id="keras_notes/selu_twin", expectations=())
    assert training_groups([a, b, twin]) == {a.id: a.id, b.id: b.id, twin.id: a.id}


def test_an_experiment_training_the_same_spec_reuses_the_run(pytester, fake_runner):
    pytester.makepyfile(test_twin=f"""
from regsuite.experiments import REGISTRY

def test_twin(regsuite):
    spec = REGISTRY.get("{L1}")
    first = regsuite.run(spec, 0)
    again = regsuite.run(spec.replace(id="keras_regularization/l1_twin"), 0)
    assert again.experiment == "keras_regularization/l1_twin" and first.experiment == "{L1}"
    assert again.history == first.history
    assert regsuite.run(spec, 1).seed == 1
""")
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(passed=1)
    assert fake_runner["calls"] == 2  # seed 0 once for both ids, seed 1 once
    result.stdout.fnmatch_lines(["*experiments trained: 2 (2 seeded runs; 1 reused by an experiment training the same spec*"])


def test_shard_of_is_stable():
    from regsuite.shards import shard_of

    # sha256-based: the same on every machine, run and Python hash seed
    assert [shard_of(s.id, 4) for s in list(REGISTRY)[:5]] == [shard_of(s.id, 4) for s in list(REGISTRY)[:5]]
    assert {shard_of(f"k{i}", 4) for i in range(100)} == {0, 1, 2, 3}


@pytest.mark.parametrize("value", ["0/3", "4/3", "x", "1/0"])
def test_bad_shard_is_a_usage_error(pytester, value):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_inprocess(f"--regsuite-shard={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*Invalid value for `--regsuite-shard`. Expected I/N with 1 <= I <= N*"])


FAKE_CONFTEST = '''
from regsuite import runner
from regsuite.results import RunResult


def _fake(spec, seed=None, *, data_dir=None):
    loss = [2.0 / (e + 1) + seed for e in range(spec.fit.epochs)]
    return RunResult(spec.id, seed, {"loss": loss, "accuracy": [0.5] * len(loss)}, {"loss": loss[-1], "accuracy": 0.5},
                     {"total": 1, "trainable": 1, "non_trainable": 0}, 1.0, spec.digest)


runner.run = _fake
'''


def test_results_file_has_every_run_once_serial_and_under_xdist(pytester, tmp_path):
    pytest.importorskip("xdist")
    pytester.makeconftest(FAKE_CONFTEST)
    pytester.makepyfile(test_bench=BENCH)
    args = ["-k", "test_behaviour and keras_regularization", "--regsuite-seeds=0,1", "-p", "no:cacheprovider"]
    serial, parallel = tmp_path / "serial.json", tmp_path / "parallel.json"
    pytester.runpytest_subprocess(*args, f"--regsuite-results={serial}").assert_outcomes(failed=5)
    result = pytester.runpytest_subprocess(*args, f"--regsuite-results={parallel}", "-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(failed=5)
    # the controller's summary holds the workers' counts: 5 experiments' checks, every failure counted
    result.stdout.fnmatch_lines(["*experiments trained: 5 (10 seeded runs*", "*checks: 0 passed, * failed*",
                                 f"*results: {parallel} (*seeded runs)*"])
    a, b = (json.loads(p.read_text()) for p in (serial, parallel))
    assert a["schema_version"] == b["schema_version"] == 1 and a["kind"] == "regsuite-results"
    key = lambda r: (r["experiment"], r["seed"])  # noqa: E731
    assert sorted(map(key, a["runs"])) == sorted(map(key, b["runs"])) and len(a["runs"]) == 10
    assert [measured(r) for r in a["runs"]] == [measured(r) for r in b["runs"]] and b["disagreements"] == []


def test_write_results_keeps_a_run_once_and_lists_disagreeing_copies(tmp_path):
    from regsuite.serial import to_json

    one, same = to_json(fake_run(L1, 0, digest="x")), to_json(fake_run(L1, 0, digest="x"))
    same["fit_seconds"] = 9.0  # wall time differs between identical runs: not a disagreement
    other = to_json(fake_run(L1, 0, shift=0.5, digest="x"))
    doc = write_results(tmp_path / "r.json", [one, same])
    assert len(doc["runs"]) == 1 and doc["disagreements"] == []
    doc = write_results(tmp_path / "r.json", [one, other])
    assert doc["disagreements"] == [{"experiment": L1, "spec_digest": "x", "seed": 0}]
    assert json.loads((tmp_path / "r.json").read_text()) == doc


def test_experiment_is_found_in_an_alteration_id():
    class Item:
        class callspec:
            id = "lab02/l2:l2_factor_read_as_0.1"
            params: dict = {}

    assert item_experiment(Item()) == "lab02/l2"
    Item.callspec.id = "lab02/l2_not_an_id"
    assert item_experiment(Item()) is None


def test_timing_passes_run_every_benchmarks_first_pass_before_any_second(pytester):
    pytester.makepyfile(test_t="""
import pytest

@pytest.mark.parametrize("name", ["a", "b", "c"])
def test_time(name, timing_pass):
    pass

def test_other():
    pass
""")
    result = pytester.runpytest_inprocess("-v", "-p", "no:cacheprovider", "--regsuite-timing-passes=3")
    order = [line.split("::")[1].split(" ")[0] for line in result.outlines if "::test_" in line and "PASSED" in line]
    assert order == [f"test_time[pass{p}-{n}]" for p in (1, 2, 3) for n in "abc"] + ["test_other"]
    bad = pytester.runpytest_inprocess("--regsuite-timing-passes=0")
    assert bad.ret != 0 and "Invalid value for `--regsuite-timing-passes`. Expected a positive int. Received: " \
                           "--regsuite-timing-passes=0" in "\n".join(bad.outlines + bad.errlines)


def test_share_cores_gives_each_worker_its_share_and_keeps_the_users_setting(monkeypatch):
    import os
    import sys

    from regsuite.environment import THREAD_ENV, share_cores

    for k in THREAD_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "3")
    assert share_cores(2, cores=8) == {"TF_NUM_INTRAOP_THREADS": "4"}
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "4" and os.environ["TF_NUM_INTEROP_THREADS"] == "3"
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
    assert share_cores(4, cores=2)["TF_NUM_INTRAOP_THREADS"] == "1"
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    with pytest.raises(RuntimeError, match="before TensorFlow is imported"):
        share_cores(2)


def test_backend_version_names_the_library_whose_kernels_run(monkeypatch):
    from regsuite import environment

    installed = {"tensorflow-cpu": "2.16.1", "jaxlib": "0.10.2", "jax": "0.10.1", "torch": "2.13.0+cpu"}
    monkeypatch.setattr(environment, "_version", installed.get)
    assert [environment.backend_version(b) for b in ("tensorflow", "jax", "torch", "mlx")] == \
        ["2.16.1", "0.10.2", "2.13.0+cpu", None]


def test_quiet_idle_threads_sets_passive_waiting_unless_the_user_chose(monkeypatch):
    import os

    from regsuite.environment import quiet_idle_threads

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert quiet_idle_threads() == {"OMP_WAIT_POLICY": "PASSIVE"} and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert quiet_idle_threads() == {} and os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_xdist_workers_wait_passively_unless_worker_threads_is_off(pytester, monkeypatch):
    """Two workers' spinning OpenMP threads made a PyTorch-backend fit 10x slower than alone."""
    pytest.importorskip("xdist")
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    pytester.makepyfile(test_env="""
        import os
        def test_policy(request):
            expected = None if request.config.getoption("--regsuite-worker-threads") == "off" else "PASSIVE"
            assert os.environ.get("OMP_WAIT_POLICY") == expected
    """)
    pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider",
                                  "--regsuite-worker-threads=off").assert_outcomes(passed=1)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--regsuite-worker-threads=off").assert_outcomes(passed=1)


def test_share_cores_leaves_the_pools_where_tensorflow_runs_its_eigen_kernels(monkeypatch):
    """Measured on an AVX2 EPYC: with Eigen's kernels a model's numbers change with the pool size."""
    import os
    import sys

    from regsuite.environment import THREAD_ENV, onednn_expected, share_cores

    for k in THREAD_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    avx2, vnni = frozenset({"avx", "avx2", "fma"}), frozenset({"avx2", "avx512f", "avx512_vnni"})
    assert share_cores(2, cores=2, flags=avx2) == {} and not any(k in os.environ for k in THREAD_ENV)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert share_cores(2, cores=2, flags=vnni) == {}
    assert onednn_expected(avx2, {"TF_ENABLE_ONEDNN_OPTS": "1"})
    assert not onednn_expected(vnni, {"TF_ENABLE_ONEDNN_OPTS": "false"})
    assert onednn_expected(vnni, {}) == (__import__("platform").machine().lower() in ("x86_64", "amd64"))
    assert not onednn_expected(avx2, {})


@pytest.mark.parametrize("setting", ["auto", "off"])
def test_xdist_workers_share_the_cores_unless_told_not_to(pytester, monkeypatch, setting):
    pytest.importorskip("xdist")
    from regsuite.environment import THREAD_ENV

    for k in THREAD_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")  # the kernels whose numbers do not depend on the pools
    expected = str(max(1, (__import__("os").cpu_count() or 1) // 2)) if setting == "auto" else None
    pytester.makepyfile(f"""
import os
import pytest

@pytest.mark.parametrize("i", [1, 2])
def test_threads(i):
    assert os.environ.get("TF_NUM_INTRAOP_THREADS") == {expected!r}
    assert os.environ.get("TF_NUM_INTEROP_THREADS") == {expected!r}
""")
    result = pytester.runpytest_subprocess("-n", "2", f"--regsuite-worker-threads={setting}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_worker_whose_tensorflow_is_imported_already_keeps_its_pools_and_says_so(pytester, monkeypatch):
    pytest.importorskip("xdist")
    from regsuite.environment import THREAD_ENV

    for k in THREAD_ENV:
        monkeypatch.delenv(k, raising=False)
    pytester.makeconftest("import sys, types\nsys.modules.setdefault('tensorflow', types.ModuleType('tensorflow'))\n")
    pytester.makepyfile("""
import os

def test_threads():
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ
""")
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "-W", "always")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*TensorFlow was imported before the plugin could give this worker its share*"])
