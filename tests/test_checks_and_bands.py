from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from regsuite.bands import ACC_FLOOR, LOSS_REL_FLOOR, Band, band_from_samples
from regsuite.checks import (
    BetterThan, Collapse, DocumentedNear, FallsBy, InBand, LossInflation, MonotoneDecrease, ParamCount, run_checks,
)
from regsuite.errors import SpecError
from regsuite.results import MetricKey, Outcome

from .conftest import fake_run


def outcome(exp_id, seeds=(0, 1, 2), **kw):
    return Outcome.of([fake_run(exp_id, s, **kw) for s in seeds])


def test_metric_key_grammar():
    assert MetricKey.parse("loss@1").epoch == 1
    assert MetricKey.parse("val_accuracy@final").epoch is None
    assert MetricKey.parse("test.accuracy").section == "test"
    assert MetricKey.parse("params.non_trainable").metric == "non_trainable"
    with pytest.raises(SpecError, match=r"Invalid value for `key`\. Expected 'loss@1'.*Received: key='loss@0'"):
        MetricKey.parse("loss@0")


def test_param_count_reports_every_wrong_count():
    o = {"a/x": Outcome("a/x", params={"total": 10, "trainable": 8, "non_trainable": 2})}
    assert ParamCount("a/x", 10, 8, 2)(o) is None
    msg = ParamCount("a/x", 11, 8, 3)(o)
    assert msg == "a/x: parameter count total = 10 (expected 11), non_trainable = 2 (expected 3)"


def test_loss_inflation_and_falls_by():
    o = {"a/big": outcome("a/big", shift=100.0), "a/small": outcome("a/small")}
    assert LossInflation("a/big", over="a/small", factor=20)(o) is None
    msg = LossInflation("a/small", over="a/big", factor=20)(o)
    assert msg.startswith("a/small: loss@1 = ") and "(expected >= 20x)" in msg
    assert FallsBy("a/small", factor=2.5)(o) is None  # 2.0.. -> 0.67..: about 3x
    assert "(expected >= 5x)" in FallsBy("a/small", factor=5)(o)


def test_collapse_needs_both_conditions():
    o = {"a/low": outcome("a/low", shift=0.4), "a/ref": outcome("a/ref")}
    assert Collapse("a/low", reference="a/ref", at_most=0.5, drop_at_least=0.25)(o) is None
    msg = Collapse("a/ref", reference="a/low", at_most=0.5, drop_at_least=0.25)(o)
    assert msg.startswith("a/ref: test.accuracy did not collapse: ") and "> 0.5" in msg and "below a/low's" in msg


def test_better_than_is_strict_and_antisymmetric():
    o = {"a/good": outcome("a/good"), "a/bad": outcome("a/bad", shift=0.1), "a/same": outcome("a/same")}
    assert BetterThan("a/good", than="a/bad")(o) is None
    assert BetterThan("a/bad", than="a/good")(o) == (
        f"a/bad: test.accuracy = {o['a/bad'].mean('test.accuracy'):.4g} is not higher than a/good's "
        f"{o['a/good'].mean('test.accuracy'):.4g}"
    )
    assert BetterThan("a/good", than="a/same")(o) is not None  # equal is not better
    assert BetterThan("a/good", than="a/bad", key="test.loss", higher_is_better=False)(o) is None


def test_monotone_decrease():
    o = {"a/x": outcome("a/x")}
    assert MonotoneDecrease("a/x", "loss")(o) is None
    assert "rises" in MonotoneDecrease("a/x", "accuracy")(o)


def test_in_band_names_each_failing_seed():
    o = {"a/x": outcome("a/x")}
    vals = o["a/x"].values("loss@1")
    assert InBand("a/x", "loss@1", Band(min(vals), max(vals)))(o) is None
    msg = InBand("a/x", "loss@1", Band(0.0, 1.0))(o)
    assert msg.startswith("a/x: loss@1 outside baseline band [0, 1]: seed 0: ") and "seed 2:" in msg


def test_run_checks_collects_all_failures_with_hints():
    o = {"keras_regularization/x": outcome("keras_regularization/x")}
    checks = [
        ParamCount("keras_regularization/x", 99),
        InBand("keras_regularization/x", "test.loss", Band(100, 200)),
        ParamCount("keras_regularization/x", 100),
        BetterThan("keras_regularization/x", than="keras_regularization/missing"),
    ]
    failures = run_checks(checks, o)
    assert len(failures) == 3
    assert "fix: the documented behaviour no longer holds" in failures[0]
    assert "fix: if the change is intended, re-record with `pytest bench -k 'keras_regularization/x' --regsuite-record`" in failures[1]
    assert failures[2] == "[BetterThan] needs outcomes of ['keras_regularization/missing'], which were not run"


def test_documented_near():
    assert DocumentedNear("a/x", "loss@1", 2.0, Band(1.9, 2.1))() is None
    msg = DocumentedNear("a/x", "loss@1", 2.5, Band(1.9, 2.1))()
    assert run_checks([DocumentedNear("a/x", "loss@1", 2.0, Band(1.9, 2.1))], {}) == []
    assert msg == "a/x: documented loss@1 = 2.5 outside measured band widened by the fidelity tolerance [1.9, 2.1] (off by 0.4)"


def test_band_rejects_inverted_bounds():
    with pytest.raises(SpecError, match=r"Invalid value for `band`\. Expected finite lo <= hi\. Received: band=\(2\.0, 1\.0\)"):
        Band(2.0, 1.0)


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=200)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=10))
def test_accuracy_band_contains_samples_and_stays_in_unit_interval(xs):
    b = band_from_samples(xs, accuracy=True)
    assert all(x in b for x in xs)
    assert 0.0 <= b.lo <= b.hi <= 1.0
    assert b.hi - b.lo >= min(2 * ACC_FLOOR, 1.0) - 1e-12 or b.lo == 0.0 or b.hi == 1.0


@settings(max_examples=200)
@given(st.lists(st.floats(1e-3, 1e4), min_size=1, max_size=10))
def test_loss_band_contains_samples_with_relative_floor(xs):
    b = band_from_samples(xs, accuracy=False)
    assert all(x in b for x in xs)
    mean = sum(xs) / len(xs)
    assert b.lo <= min(xs) - LOSS_REL_FLOOR * mean * (1 - 1e-9)
    assert b.hi >= max(xs) + LOSS_REL_FLOOR * mean * (1 - 1e-9)


@given(finite, finite, st.floats(0, 10), st.floats(0, 1))
def test_widened_band_contains_original(a, b, abs_pad, rel_pad):
    band = Band(min(a, b), max(a, b))
    wide = band.widened(abs_pad=abs_pad, rel_pad=rel_pad)
    assert wide.lo <= band.lo and wide.hi >= band.hi
    x = (a + b) / 2
    assume(math.isfinite(x))
    assert x in band and x in wide and band.distance(x) == 0.0


def test_band_from_samples_rejects_nan():
    with pytest.raises(SpecError, match="Expected a non-empty list of finite floats"):
        band_from_samples([1.0, float("nan")], accuracy=False)


@given(a=st.floats(1e-3, 1e4), b=st.floats(1e-3, 1e4), k=st.floats(1, 1000))
def test_loss_inflation_verdict_and_message(a, b, k):
    from regsuite.results import RunResult

    def o(name, v):
        r = RunResult(name, 0, {"loss": [v]}, {}, {}, 0.0, "d")
        return Outcome.of([r])

    msg = LossInflation("a/x", over="a/y", factor=k)({"a/x": o("a/x", a), "a/y": o("a/y", b)})
    assert (msg is None) == (a >= k * b)
    if msg:
        assert f"{a:.4g}" in msg and f"{b:.4g}" in msg and f"(expected >= {k:g}x)" in msg


@given(
    history=st.dictionaries(st.sampled_from(["loss", "accuracy", "val_loss"]), st.lists(st.floats(0, 1e3), min_size=1, max_size=5), min_size=1),
    test=st.dictionaries(st.sampled_from(["loss", "accuracy"]), st.floats(0, 1)),
    seed=st.integers(0, 2**31),
)
def test_run_result_json_round_trip(history, test, seed):
    import json

    from regsuite.results import RunResult
    from regsuite.serial import from_json, to_json

    r = RunResult("a/x", seed, history, test, {"total": 1}, 0.5, "d", {"mnist": "sha256:0"}, {"keras": "3"})
    back = from_json(json.loads(json.dumps(to_json(r))))
    assert back.history == {k: tuple(v) for k, v in history.items()} and back.test == test and back.seed == seed
