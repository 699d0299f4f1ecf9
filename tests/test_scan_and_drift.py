"""The settings scan's scoring and choice, and the API drift probes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regsuite import api_drift, scan
from regsuite.errors import SpecError

DOC = {"loss": (2.0, 1.0), "accuracy": (0.5, 0.7), "val_loss": (1.5, 1.2), "val_accuracy": (0.6, 0.8)}


def test_first_epoch_score_is_relative_loss_error_plus_absolute_accuracy_error():
    ours = {"loss": [2.2, 9.0], "accuracy": [0.45, 0.0], "val_loss": [1.5, 9.0], "val_accuracy": [0.7, 0.0]}
    # losses: |2.2/2 - 1| = 0.1 and 0 -> 0.05; accuracies: 0.05 and 0.1 -> 0.075; later epochs ignored
    assert scan.first_epoch_score(DOC, ours) == pytest.approx(0.125)


@given(st.floats(0.01, 10), st.floats(0, 1))
def test_first_epoch_score_is_zero_only_on_the_printed_numbers(loss, acc):
    ours = {"loss": [loss], "accuracy": [acc]}
    doc = {"loss": (loss,), "accuracy": (acc,)}
    assert scan.first_epoch_score(doc, ours) == 0
    assert scan.first_epoch_score(doc, {"loss": [loss * 1.1], "accuracy": [acc]}) == pytest.approx(0.1)


def test_first_epoch_score_needs_the_documented_metrics():
    with pytest.raises(SpecError, match=r"Invalid value for `history`. Expected a run logging 'val_loss'"):
        scan.first_epoch_score({"val_loss": (1.0,)}, {"loss": [1.0]})


def _row(data, opt, score):
    return {"data": data, "optimizer": opt, "score": score}


def test_choose_one_data_preparation_then_each_best_optimizer():
    results = {
        "a": [_row("raw", "sgd", 0.1), _row("raw", "adam", 0.3), _row("std", "sgd", 0.2), _row("std", "adam", 0.15)],
        "b": [_row("raw", "sgd", 0.5), _row("raw", "adam", 0.4), _row("std", "sgd", 0.1), _row("std", "adam", 0.3)],
    }
    choice = scan.choose(results)
    # raw: 0.1 + 0.4 = 0.5; std: 0.15 + 0.1 = 0.25 -> std, even though raw is a's best
    assert choice["data"] == "std"
    assert choice["optimizers"] == {"a": "adam", "b": "sgd"}


def test_write_is_atomic_json_with_schema(tmp_path):
    path = tmp_path / "scan.json"
    doc = scan.write(path, {"a": [_row("raw", "sgd", 0.1)]}, [42], "regsuite scan a", {"keras": "3"})
    stored = json.loads(path.read_text())
    assert stored["schema_version"] == scan.SCHEMA_VERSION and stored["kind"] == scan.KIND
    assert stored["choice"] == doc["choice"] and stored["provenance"]["seeds"] == [42]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".scan.json.lock", "scan.json"]


def test_api_probe_kinds():
    assert api_drift.Api("json.dumps", (), "attr:json.dumps", True, "").present()
    assert not api_drift.Api("json.nope", (), "attr:json.nope", False, "").present()
    assert not api_drift.Api("no module", (), "attr:no_such_module_xyz.f", False, "").present()
    assert api_drift.Api("json", (), "import:json", True, "").present()
    assert not api_drift.Api("x", (), "import:no_such_module_xyz", False, "").present()


def test_api_probe_errors_use_the_grammar():
    with pytest.raises(SpecError, match=r"Invalid value for `probe`. Expected 'attr:...', 'import:...'"):
        api_drift.Api("x", (), "bogus:x", True, "").present()
    with pytest.raises(SpecError, match=r"Invalid value for `probe`. Expected call:<one of"):
        api_drift.Api("x", (), "call:nope", True, "").present()


def test_every_drift_entry_names_a_document_and_gone_ones_a_replacement():
    for api in api_drift.APIS:
        assert api.documents, api.name
        if not api.expected_present:
            assert api.replacement, api.name
