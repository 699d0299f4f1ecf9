from __future__ import annotations

import json
from pathlib import Path
import os

import pytest

from regsuite import baselines, environment
from regsuite.errors import BaselineError
from regsuite.serial import write_json_atomic

from .conftest import fake_run
from .test_specs import make_spec

SPEC = make_spec(
    expectations=(),
    assumptions=("an assumption",),
    fit=make_spec().fit.__class__(epochs=3, batch_size=8, train_count=40),
)


def runs(shift=0.0, seeds=(0, 1, 2)):
    return [fake_run(SPEC.id, s, shift=shift, digest=SPEC.digest) for s in seeds]


def test_baseline_document_has_provenance_and_documented_section():
    data = baselines.make_baseline(SPEC, runs())
    assert data["schema_version"] == baselines.SCHEMA_VERSION and data["experiment"] == SPEC.id
    prov = data["provenance"]
    for key in ("runs", "seeds", "python", "tensorflow", "keras", "numpy", "backend", "device", "cpu", "cpu_isa",
                "onednn", "intra_op_threads", "dataset_fingerprints", "date", "command"):
        assert key in prov, key
    assert prov["seeds"] == [0, 1, 2] and prov["runs"] == 3
    assert prov["command"] == "pytest bench -k 'keras_regularization/tiny' --regsuite-record --regsuite-data-dir=$REGSUITE_DATA_DIR"
    assert data["documented"]["label"].startswith("documented:")
    assert data["assumptions"] == ["an assumption"]
    assert set(data["bands"]) >= {"loss@1", "loss@3", "val_accuracy@2", "test.accuracy"}


def test_lifecycle_missing_ok_mismatch_record(tmp_path):
    path = baselines.path_for(tmp_path, SPEC.id)
    v = baselines.compare_or_record(SPEC, runs(), tmp_path)
    assert v.status == "created" and path.exists()
    assert v.failures and "no baseline existed; wrote one from this run (3 seed(s))" in v.failures[0]

    v = baselines.compare_or_record(SPEC, runs(), tmp_path)
    assert (v.status, v.failures, v.checked) == ("ok", [], 2 * 4 + 2)

    before = path.read_text()
    v = baselines.compare_or_record(SPEC, runs(shift=1.0), tmp_path)
    assert v.status == "mismatch" and v.failed >= 1
    assert v.obtained == tmp_path / "keras_regularization" / "tiny.obtained.json" and v.obtained.exists()
    assert "loss@1 outside baseline band" in "\n".join(v.failures)
    assert path.read_text() == before, "a mismatch must never touch the stored baseline"

    assert not any("other CPU kernels" in f for f in v.failures), "same machine: no CPU note"

    v = baselines.compare_or_record(SPEC, runs(shift=1.0), tmp_path, record=True)
    assert v.status == "recorded" and not (tmp_path / "keras_regularization" / "tiny.obtained.json").exists()
    assert baselines.compare_or_record(SPEC, runs(shift=1.0), tmp_path).status == "ok"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: "{not json", "is not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2)"),
        (lambda d: json.dumps([1]), "Invalid value for `document`. Expected a JSON object. Received: document='list'"),
        (lambda d: json.dumps({**d, "schema_version": 0}),
         "Invalid value for `schema_version`. Expected 1 (this regsuite's schema). Received: schema_version=0. The file is stale"),
        (lambda d: json.dumps({**d, "kind": "other"}), "Invalid value for `kind`. Expected 'regsuite.baseline'. Received: kind='other'"),
        (lambda d: json.dumps({**d, "experiment": "keras_regularization/other"}),
         "Invalid value for `experiment`. Expected 'keras_regularization/tiny'. Received: experiment='keras_regularization/other'. The file belongs to another experiment"),
        (lambda d: json.dumps({**d, "spec_digest": "0" * 16}), "It was recorded for another version of the spec and was not overwritten"),
        (lambda d: json.dumps({**d, "bands": {"loss@1": {"lo": 2, "hi": 1}}}), "band 'loss@1' is malformed"),
        (lambda d: json.dumps({**d, "bands": {}}), "Invalid value for `bands`. Expected a non-empty object"),
    ],
)
def test_bad_baseline_is_a_clear_error_and_never_overwritten(tmp_path, mutate, message):
    path = baselines.path_for(tmp_path, SPEC.id)
    path.parent.mkdir(parents=True)
    text = mutate(baselines.make_baseline(SPEC, runs()))
    path.write_text(text)
    with pytest.raises(BaselineError) as info:
        baselines.compare_or_record(SPEC, runs(), tmp_path)
    assert str(info.value).startswith(str(path)) and message in str(info.value)
    assert path.read_text() == text
    assert not baselines.obtained_path(path).exists()


def test_atomic_write_leaves_nothing_half_written(tmp_path):
    path = tmp_path / "b.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(os.listdir(tmp_path)) == [".b.json.lock", "b.json"]  # the writers' lock, gitignored


def _hammer(path: str, worker: int) -> None:
    for i in range(30):
        write_json_atomic(Path(path), {"worker": worker, "i": i, "pad": "x" * 20_000})


def test_concurrent_writers_leave_one_whole_file(tmp_path):
    """pytest-xdist workers writing the same baseline: every read sees one writer's whole document."""
    import multiprocessing

    path = tmp_path / "b.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(str(path), w)) for w in range(4)]
    for p in procs:
        p.start()
    seen = 0
    while any(p.is_alive() for p in procs):
        if path.exists():
            doc = json.loads(path.read_text())
            assert len(doc["pad"]) == 20_000
            seen += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert json.loads(path.read_text())["i"] == 29
    assert sorted(os.listdir(tmp_path)) == [".b.json.lock", "b.json"]


def test_restamp_only_for_an_unchanged_spec(tmp_path):
    path = baselines.path_for(tmp_path, SPEC.id)
    write_json_atomic(path, {**baselines.make_baseline(SPEC, runs()), "spec_digest": "old-scheme"})
    before = json.loads(path.read_text())
    assert baselines.restamp(path, SPEC) is True
    after = json.loads(path.read_text())
    assert after["spec_digest"] == SPEC.digest and after["measured"] == before["measured"] and after["bands"] == before["bands"]
    assert "digest scheme changed, spec unchanged, numbers untouched" in after["provenance"]["restamped"]
    assert baselines.restamp(path, SPEC) is False
    other = SPEC.replace(fit=SPEC.fit.__class__(epochs=4, batch_size=8, train_count=40))
    with pytest.raises(BaselineError, match="differs from keras_regularization/tiny as registered now; re-measure with"):
        baselines.restamp(path, other)


def test_digest_ignores_fields_at_their_default():
    from regsuite.serial import canonical

    assert "tensorboard" not in canonical(SPEC.fit) and "early_stopping" not in canonical(SPEC.fit)
    assert SPEC.digest != SPEC.replace(fit=SPEC.fit.__class__(epochs=3, batch_size=8, train_count=40, tensorboard=True)).digest


def _on(backend, rs):
    import dataclasses

    return [dataclasses.replace(r, environment={**r.environment, "backend": backend}) for r in rs]


def test_another_backend_is_judged_against_the_shared_baseline_until_it_has_its_own(tmp_path):
    shared = baselines.path_for(tmp_path, SPEC.id)
    jax_own = tmp_path / "backends" / "jax" / "keras_regularization" / "tiny.json"
    assert baselines.path_for(tmp_path, SPEC.id, "jax") == jax_own
    assert baselines.path_for(tmp_path, SPEC.id, "tensorflow") == shared
    baselines.compare_or_record(SPEC, runs(), tmp_path)  # the shared one, measured on TensorFlow
    assert baselines.compare_or_record(SPEC, _on("jax", runs()), tmp_path).status == "ok"

    v = baselines.compare_or_record(SPEC, _on("jax", runs(shift=1.0)), tmp_path)
    assert v.status == "mismatch" and v.path == shared and v.obtained == jax_own.with_name("tiny.obtained.json")
    assert "judged on jax against the shared baseline measured on tensorflow" in v.failures[-1]
    assert "`KERAS_BACKEND=jax pytest bench -k 'keras_regularization/tiny' --regsuite-record" in v.failures[-1]

    before = shared.read_text()
    v = baselines.compare_or_record(SPEC, _on("jax", runs(shift=1.0)), tmp_path, record=True)
    assert v.status == "recorded" and v.path == jax_own and shared.read_text() == before
    assert json.loads(jax_own.read_text())["provenance"]["command"].startswith("KERAS_BACKEND=jax pytest bench")
    assert baselines.active_path(tmp_path, SPEC.id, "jax") == jax_own
    assert baselines.compare_or_record(SPEC, _on("jax", runs(shift=1.0)), tmp_path).status == "ok"
    assert baselines.compare_or_record(SPEC, runs(), tmp_path).status == "ok"  # TensorFlow still on the shared one


def test_a_backend_folder_holding_another_backends_baseline_is_an_error(tmp_path):
    path = baselines.path_for(tmp_path, SPEC.id, "torch")
    write_json_atomic(path, baselines.make_baseline(SPEC, _on("jax", runs())))
    with pytest.raises(BaselineError, match=r"Invalid value for `provenance.backend`. Expected 'torch' \(the backend "
                                            r"folder it is stored in\). Received: provenance.backend='jax'"):
        baselines.compare_or_record(SPEC, _on("torch", runs()), tmp_path)


def _on_cpu(rs, **facts):
    import dataclasses

    env = {"backend": "tensorflow", "device": "cpu", "cpu": "AMD EPYC", "cpu_isa": "avx avx2 fma", "onednn": False,
           "intra_op_threads": "default", "cpu_count": 2, **facts}
    env["cpu_class"] = environment.cpu_class(env)
    return [dataclasses.replace(r, environment={**r.environment, **env}) for r in rs]


def test_cpu_class_names_the_kernels_the_numbers_depend_on():
    base = {"backend": "tensorflow", "device": "cpu", "cpu_count": 2, "intra_op_threads": "default"}
    assert environment.cpu_class({**base, "cpu_isa": "avx avx2 fma", "onednn": False}) == "eigen-avx2-2threads"
    assert environment.cpu_class({**base, "cpu_isa": "avx avx2 fma", "onednn": False,
                                  "intra_op_threads": "1"}) == "eigen-avx2-1threads"
    assert environment.cpu_class({**base, "cpu_isa": "avx avx2 fma avx512f avx512_vnni", "onednn": True,
                                  "intra_op_threads": "1"}) == "onednn-avx512"  # oneDNN: the pool does not matter
    assert environment.cpu_class({**base, "backend": "jax", "cpu_isa": "avx2"}) is None
    assert environment.cpu_class({**base, "device": "gpu", "cpu_isa": "avx2"}) is None


def test_a_mismatch_on_other_cpu_kernels_says_so_and_a_match_does_not(tmp_path):
    """Same model name, other kernels (measured: AVX2 EPYC with Eigen vs the baselines' EPYC): the note says which."""
    path = baselines.path_for(tmp_path, SPEC.id)
    baselines.compare_or_record(SPEC, runs(), tmp_path)
    data = json.loads(path.read_text())
    for key in ("cpu_isa", "onednn", "intra_op_threads", "cpu_class"):
        del data["provenance"][key]  # a baseline recorded before regsuite recorded them
    data["provenance"]["cpu"] = "AMD EPYC"  # the same model name
    write_json_atomic(path, data)
    v = baselines.compare_or_record(SPEC, _on_cpu(runs(shift=1.0)), tmp_path)
    assert v.status == "mismatch"
    text = "\n".join(v.failures)
    assert ("the baseline was measured on other CPU kernels than this run (cpu_isa 'not recorded' -> 'avx avx2 fma'; "
            "onednn 'not recorded' -> False; cpu_class 'not recorded' -> 'eigen-avx2-2threads')") in text
    assert "record its own with `pytest bench -k 'keras_regularization/tiny' --regsuite-record-cpu" in text
    assert baselines.compare_or_record(SPEC, _on_cpu(runs()), tmp_path).status == "ok"


def test_a_run_on_another_backend_gets_the_backend_note_not_tensorflow_kernel_facts(tmp_path):
    """Measured: a torch run judged against the shared TensorFlow baseline was told "onednn 'not recorded' ->
    None", a fact about TensorFlow's kernels that it never ran; the backend is the difference to name."""
    path = baselines.path_for(tmp_path, SPEC.id)
    baselines.compare_or_record(SPEC, runs(), tmp_path)
    data = json.loads(path.read_text())
    for key in ("cpu_isa", "onednn", "intra_op_threads", "cpu_class"):
        del data["provenance"][key]
    write_json_atomic(path, data)
    torch_facts = {"backend": "torch", "cpu_isa": "avx avx2 fma avx512f", "onednn": None, "cpu_class": None}
    v = baselines.compare_or_record(SPEC, _on_cpu(runs(shift=1.0), **torch_facts), tmp_path)
    assert v.status == "mismatch" and v.path == path
    text = "\n".join(v.failures)
    assert "judged on torch against the shared baseline measured on tensorflow" in text
    assert "other CPU kernels" not in text and "onednn" not in text

    own = baselines.path_for(tmp_path, SPEC.id, "torch")
    assert baselines.compare_or_record(SPEC, _on_cpu(runs(), **torch_facts), tmp_path, record=True).path == own
    other_isa = {**torch_facts, "cpu_isa": "avx avx2 fma"}
    v = baselines.compare_or_record(SPEC, _on_cpu(runs(shift=1.0), **other_isa), tmp_path)
    assert v.status == "mismatch" and v.path == own
    text = "\n".join(v.failures)
    # torch's own kernels do depend on the ISA; oneDNN and the CPU class stay TensorFlow's facts
    assert ("other CPU kernels than this run (cpu_isa 'avx avx2 fma avx512f' -> 'avx avx2 fma'): the numbers"
            in text)
    assert "record its own with" not in text  # --regsuite-record-cpu is TensorFlow's


def test_a_cpu_class_is_judged_against_the_shared_baseline_until_it_has_its_own(tmp_path):
    shared = baselines.path_for(tmp_path, SPEC.id)
    own = tmp_path / "cpus" / "eigen-avx2-2threads" / "keras_regularization" / "tiny.json"
    assert baselines.path_for(tmp_path, SPEC.id, "tensorflow", "eigen-avx2-2threads") == own
    assert baselines.path_for(tmp_path, SPEC.id, "jax", "eigen-avx2-2threads") == \
        tmp_path / "backends" / "jax" / "keras_regularization" / "tiny.json"
    baselines.compare_or_record(SPEC, runs(), tmp_path)
    before = shared.read_text()
    assert baselines.active_path(tmp_path, SPEC.id, "tensorflow", "eigen-avx2-2threads") == shared

    v = baselines.compare_or_record(SPEC, _on_cpu(runs(shift=1.0)), tmp_path, record=True, cpu_own=True)
    assert v.status == "recorded" and v.path == own and shared.read_text() == before
    prov = json.loads(own.read_text())["provenance"]
    assert prov["cpu_class"] == "eigen-avx2-2threads" and "--regsuite-record-cpu" in prov["command"]
    assert baselines.active_path(tmp_path, SPEC.id, "tensorflow", "eigen-avx2-2threads") == own
    assert baselines.compare_or_record(SPEC, _on_cpu(runs(shift=1.0)), tmp_path).status == "ok"
    assert baselines.compare_or_record(SPEC, runs(), tmp_path).status == "ok"  # other CPUs: still the shared one
    v = baselines.compare_or_record(SPEC, _on_cpu(runs(shift=1.0), intra_op_threads="1"), tmp_path)
    assert v.status == "mismatch" and v.path == shared  # another pool size with Eigen: another class
    assert v.obtained == shared.with_name("tiny.obtained.json")

    v = baselines.compare_or_record(SPEC, _on_cpu(runs(shift=2.0)), tmp_path)
    assert v.status == "mismatch" and v.path == own and v.obtained == own.with_name("tiny.obtained.json")
    with pytest.raises(BaselineError, match="Invalid value for `cpu_class`. Expected a CPU class"):
        baselines.compare_or_record(SPEC, runs(), tmp_path, record=True, cpu_own=True)


def test_a_cpu_folder_holding_another_class_baseline_is_an_error(tmp_path):
    path = baselines.path_for(tmp_path, SPEC.id, cpu="onednn-avx512")
    write_json_atomic(path, baselines.make_baseline(SPEC, _on_cpu(runs())))
    with pytest.raises(BaselineError, match=r"Invalid value for `provenance.cpu_class`. Expected 'onednn-avx512' \(the "
                                            r"CPU class folder it is stored in\). Received: "
                                            r"provenance.cpu_class='eigen-avx2-2threads'"):
        baselines.compare_or_record(SPEC, _on_cpu(runs(), cpu_isa="avx2 avx512f avx512_vnni", onednn=True), tmp_path)
