"""The suite users run: every registered experiment, parametrized by id.

`pytest bench -k keras_regularization` selects one document,
`-k keras_regularization/l1` one experiment.
"""

from __future__ import annotations

import os

import pytest

from regsuite import baselines, runner
from regsuite.environment import backend as keras_backend
from regsuite.errors import DataUnavailable
from regsuite.checks import DefaultDrift, ParamCount
from regsuite.experiments import REGISTRY
from regsuite.plugin import baseline_verdict, fail_with
from regsuite.results import Outcome


def test_parameter_counts(experiment, regsuite):
    """The built model has exactly the documented parameter counts (no data, no training)."""
    checks = [c for c in experiment.expectations if isinstance(c, ParamCount)]
    if not checks:
        pytest.skip(f"{experiment.id}: the document builds no model to count here ({experiment.procedure})")
    outcome = Outcome(experiment.id, params=runner.param_counts(runner.build(experiment)))
    fail_with(regsuite.judge(checks, {experiment.id: outcome}), experiment.id)


def test_optimizer_defaults(experiment, regsuite, record_property):
    """API drift: the installed Keras' optimizer defaults are the ones the spec recorded.

    The drift already known (the document's Keras against today's) is reported, not failed: the spec
    pins the document-era values, so the run is unaffected.
    """
    opt = experiment.compile.optimizer
    checks = [c for c in experiment.expectations if isinstance(c, DefaultDrift)]
    if not checks:
        pytest.skip(f"{experiment.id}: the document spelled out every {opt.name} hyper-parameter it relied on")
    known = {k: (v, dict(opt.today_defaults)[k]) for k, v in opt.era_defaults if dict(opt.today_defaults).get(k) != v}
    record_property("known_default_drift", {k: {"document_era": a, "today": b} for k, (a, b) in known.items()})
    fail_with(regsuite.judge(checks, {}), experiment.id)


def test_keras_split_matches_documented_validation_split(experiment, regsuite):
    """API drift: the explicit train/validation counts are what today's Keras `validation_split` would give."""
    fit = experiment.fit
    if fit.documented_validation_split is None:
        pytest.skip(f"{experiment.id} uses no validation_split")
    import numpy as np

    slicing = pytest.importorskip("keras.src.trainers.data_adapters.array_slicing",
                                  reason="Keras moved its private train_validation_split helper; compare by hand")
    data = experiment.data
    if data.train_slice is not None and data.holdout is None:
        n = data.train_slice[1] - data.train_slice[0]
    else:  # the training part is what a split leaves: count it on the prepared arrays
        try:
            n = len(runner.prepared(data, regsuite.data_dir)[0]["x_train"])
        except DataUnavailable as exc:
            regsuite.missing_data(exc)
    rows = np.zeros(n)
    train, _ = slicing.train_validation_split((rows,), validation_split=fit.documented_validation_split)
    assert len(train[0]) == fit.train_count, (
        f"{experiment.id}: Keras {__import__('keras').__version__} trains on {len(train[0])} rows with "
        f"validation_split={fit.documented_validation_split}; the spec pins {fit.train_count} as the document printed"
    )


@pytest.mark.slow
@pytest.mark.needs_data
def test_behaviour(experiment, regsuite, regsuite_seeds):
    """The behaviour the document teaches (inflation, collapse, better-than …), on seed means."""
    needed = {i for c in experiment.expectations for i in c.needs()}
    outcomes = {i: regsuite.outcome(REGISTRY.get(i), regsuite_seeds) for i in sorted(needed)}
    fail_with(regsuite.judge(list(experiment.expectations), outcomes), experiment.id)


@pytest.mark.slow
@pytest.mark.needs_data
def test_baseline_bands(experiment, regsuite, regsuite_seeds):
    """Each seed's first-epoch, last-epoch and test metrics lie in the stored band."""
    outcome = regsuite.outcome(experiment, regsuite_seeds)
    verdict = baseline_verdict(regsuite, experiment, outcome)
    if verdict.status == "recorded":
        pytest.skip(f"re-recorded {verdict.path}; nothing was compared")
    fail_with(verdict.failures, f"{experiment.id} against {verdict.path}")


def test_documented_fidelity(experiment, regsuite):
    """Every documented number lies in the stored measured band, widened by the spec's stated tolerance.

    Judged on the backend's reference baseline, not a CPU class's own: how our measurement compares with the
    document is one finding per backend (the spec's known deviations), while a CPU class's baseline only says
    what its own kernels reproduce."""
    doc = experiment.documented
    if not (doc.history or doc.test):
        pytest.skip(f"{experiment.source} prints no training results for {experiment.id}: nothing to compare")
    if not doc.reproducible:
        pytest.skip(f"{experiment.id}: the documented numbers are not reproducible by construction ({doc.note})")
    path = baselines.active_path(regsuite.baseline_root, experiment.id, regsuite.backend)
    if not path.exists():
        pytest.fail(f"no baseline at {path}; record it with `{baselines.record_command(experiment.id, regsuite.backend)}`", pytrace=False)
    checks = baselines.fidelity_checks(experiment, baselines.load(path, experiment))
    assert checks, f"{experiment.id}: no documented number has a measured band to compare with"
    known = dict(experiment.fidelity.known_deviations)
    failures = regsuite.judge([c for c in checks if c.key not in known], {})
    failures += [
        f"{experiment.id}: known deviation {c.key} ({known[c.key]}) now matches the document; "
        "remove it from Fidelity.known_deviations"
        for c in checks
        if c.key in known and c() is None
    ]
    fail_with(failures, f"{experiment.id} against the document")


@pytest.mark.slow
@pytest.mark.needs_data
def test_steps_per_execution_leaves_the_history_unchanged(experiment, regsuite):
    """Where a spec runs several steps per compiled call, the run the suite judges begins exactly as the plain
    path's: 2 epochs trained one step per call give the same first 2 epochs of every logged metric."""
    import dataclasses

    spe = experiment.compile.steps_per_execution
    if spe == 1:
        pytest.skip(f"{experiment.id} runs one step per compiled call already")
    if os.environ.get(runner.PLAIN_LOOP_ENV):
        pytest.skip("--regsuite-plain-loop is set: both paths would be the plain one")
    if runner.steps_per_execution(experiment) == 1:
        pytest.skip(f"Keras' {keras_backend()} trainer runs one step per call: both paths would be the plain one")
    seed = experiment.seeds[0]
    judged = regsuite.run(experiment, seed)  # the behaviour and band tests' run, trained once per session
    n = min(2, judged.epochs)
    plain = experiment.replace(fit=dataclasses.replace(experiment.fit, epochs=n),
                               compile=dataclasses.replace(experiment.compile, steps_per_execution=1))
    first = {k: v[:n] for k, v in judged.history.items()}
    assert first == regsuite.run(plain, seed).history, f"{experiment.id}: steps_per_execution={spe} changed the history"
