"""The checks are not blind: an altered experiment fails at least one of them.

Each case changes one thing the document's lesson depends on, trains the
altered spec (one seed), and runs the original experiment's real checks —
its expectations and its baseline bands — against it.
"""

from __future__ import annotations

import dataclasses

import pytest

from regsuite import baselines
from regsuite.checks import run_checks
from regsuite.experiments import REGISTRY
from regsuite.specs import ExperimentSpec, Layer, ModelSpec, OptimizerSpec, Regularizer


def _l1_to_l2(spec: ExperimentSpec) -> ExperimentSpec:
    def swap(layer: Layer) -> Layer:
        reg = layer.kwargs.get("kernel_regularizer")
        if isinstance(reg, Regularizer) and reg.l1:
            return Layer(layer.kind, {**layer.kwargs, "kernel_regularizer": Regularizer(l2=reg.l1)})
        return layer

    return spec.replace(model=ModelSpec(spec.model.input_shape, tuple(swap(l) for l in spec.model.layers)))


def _map_layers(spec: ExperimentSpec, fn) -> ExperimentSpec:
    return spec.replace(model=ModelSpec(spec.model.input_shape, tuple(fn(l) for l in spec.model.layers)))


def _relu_to_sigmoid(layer: Layer) -> Layer:
    if layer.kwargs.get("activation") == "relu":
        return Layer(layer.kind, {**layer.kwargs, "activation": "sigmoid"})
    return layer


def _l2_factor(factor: float):
    def fn(layer: Layer) -> Layer:
        reg = layer.kwargs.get("kernel_regularizer")
        if isinstance(reg, Regularizer) and reg.l2:
            return Layer(layer.kind, {**layer.kwargs, "kernel_regularizer": Regularizer(l1=reg.l1, l2=factor)})
        return layer

    return fn


def _drop_dropout(spec: ExperimentSpec) -> ExperimentSpec:
    return spec.replace(model=ModelSpec(spec.model.input_shape, tuple(l for l in spec.model.layers if l.kind != "Dropout")))


def _lr(spec: ExperimentSpec, lr: float) -> ExperimentSpec:
    opt = spec.compile.optimizer
    new = OptimizerSpec(opt.name, {**dict(opt.params), "learning_rate": lr})
    return spec.replace(compile=dataclasses.replace(spec.compile, optimizer=new))


ALTERATIONS = {
    "l1_becomes_l2": ("keras_regularization/l1", _l1_to_l2),
    "dropout_removed": ("keras_regularization/dropout", _drop_dropout),
    "sgd_lr_0.1": ("keras_regularization/baseline", lambda s: _lr(s, 0.1)),
    "relu_becomes_sigmoid": ("lab02/deep_relu", lambda s: _map_layers(s, _relu_to_sigmoid)),
    "adam_lr_left_at_default": ("lab02/keras_mlp", lambda s: _lr(s, 0.001)),
    "l2_factor_read_as_0.1": ("lab02/l2", lambda s: _map_layers(s, _l2_factor(0.1))),
}


@pytest.mark.slow
@pytest.mark.needs_data
@pytest.mark.regsuite(seeds=(0,))
@pytest.mark.parametrize("alteration", list(ALTERATIONS), ids=[f"{e}:{n}" for n, (e, _) in ALTERATIONS.items()])
def test_alteration_is_caught(alteration, regsuite, regsuite_seeds):
    exp_id, alter = ALTERATIONS[alteration]
    original = REGISTRY.get(exp_id)
    altered = alter(original)
    assert altered.digest != original.digest, f"{alteration} did not change {exp_id}"
    assert (altered.fit, altered.compile.steps_per_execution) == (original.fit, original.compile.steps_per_execution), (
        f"{alteration} changed how {exp_id} is run, not only what it runs")
    path = baselines.active_path(regsuite.baseline_root, exp_id, regsuite.backend, regsuite.cpu_class)
    if not path.exists():
        pytest.fail(f"no baseline at {path}; record it with `{baselines.record_command(exp_id, regsuite.backend)}`", pytrace=False)
    checks = list(original.expectations) + baselines.band_checks(exp_id, baselines.load(path, original))
    needed = {i for c in original.expectations for i in c.needs()} - {exp_id}
    outcomes = {i: regsuite.outcome(REGISTRY.get(i), regsuite_seeds) for i in sorted(needed)}
    outcomes[exp_id] = regsuite.outcome(altered, regsuite_seeds)
    failures = run_checks(checks, outcomes)
    assert failures, f"{alteration}: the altered {exp_id} passed all {len(checks)} checks; the suite is blind to it"
    caught = sorted({f.split("]", 1)[0].lstrip("[") for f in failures})
    regsuite.notes.append(f"sensitivity {exp_id}:{alteration}: {len(failures)} of {len(checks)} checks fail ({', '.join(caught)})")
