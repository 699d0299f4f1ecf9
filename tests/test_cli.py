from __future__ import annotations

import json
import os
import subprocess
import sys

from regsuite import cli, runner
from regsuite.experiments import REGISTRY

from .conftest import fake_run, write_mnist_npz


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for spec in REGISTRY:
        assert spec.id in out
    assert "000_d143af6b9c5b0ac6.txt" in out


def test_unknown_experiment_lists_close_matches(capsys):
    assert cli.main(["run", "keras_regularization/l1x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("regsuite: error: Invalid value for `experiment`. Expected a registered experiment id. "
                          "Received: experiment='keras_regularization/l1x'. Did you mean: keras_regularization/l1")


def test_run_prints_history_beside_documented(capsys, monkeypatch):
    monkeypatch.setattr(runner, "run", lambda spec, seed=None, data_dir=None: fake_run(spec.id, 0, epochs=30, digest=spec.digest))
    assert cli.main(["run", "keras_regularization/l1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.strip().startswith("epoch"))
    assert "loss (ours)" in header and "loss (doc)" in header and "val_accuracy (doc)" in header
    first = next(line for line in lines if line.split()[:1] == ["1"])
    assert "1785.2297" in first and "0.3848" in first  # the document's epoch 1
    assert any(line.startswith("test accuracy:") and "documented: 0.3137" in line for line in lines)


def test_plain_trains_each_named_experiment_once_with_one_step_per_call(capsys, monkeypatch, tmp_path):
    seen = []

    def run(spec, seed=None, data_dir=None):
        seen.append((spec.id, os.environ.get(runner.PLAIN_LOOP_ENV)))
        if spec.id == "lab02/tf_lowlevel_mlp":
            raise runner.UnsupportedBackend("TensorFlow only")
        return fake_run(spec.id, spec.seeds[0], digest=spec.digest)

    monkeypatch.setattr(runner, "run", run)
    monkeypatch.delenv(runner.PLAIN_LOOP_ENV, raising=False)
    ids = ["keras_regularization/l1", "lab02/tf_lowlevel_mlp", "imdb/original"]
    assert cli.main(["plain", *ids, "--results", str(tmp_path / "r.json")]) == 0
    assert seen == [(i, "1") for i in ids] and runner.PLAIN_LOOP_ENV not in os.environ
    out = capsys.readouterr().out
    assert "lab02/tf_lowlevel_mlp: skipped - TensorFlow only" in out and "plain way: 2 runs in" in out
    runs = json.loads((tmp_path / "r.json").read_text())["runs"]
    assert sorted((r["experiment"], r["seed"]) for r in runs) == [("imdb/original", 0), ("keras_regularization/l1", 0)]


def test_data_reports_found_and_missing(capsys, tmp_path):
    assert cli.main(["data", "--data-dir", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("mnist: MISSING - Dataset `mnist` not found.") and "REGSUITE_DATA_DIR" in line for line in lines)
    assert any(line.startswith("imdb: MISSING - Dataset `imdb` not found.") for line in lines)
    write_mnist_npz(tmp_path / "mnist.npz")
    assert cli.main(["data", "--data-dir", str(tmp_path)]) == 1  # imdb is still missing
    lines = capsys.readouterr().out.splitlines()
    assert f"mnist: mirror: {tmp_path / 'mnist.npz'}  sha256:" in "\n".join(lines)


def test_console_script_and_import_stay_light():
    code = ("import sys, regsuite, regsuite.experiments, regsuite.checks, regsuite.baselines, regsuite.runner, regsuite.cli;"
            "print(sorted(m for m in ('tensorflow', 'keras', 'pytest', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
