from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regsuite.checks import ParamCount, check_keys
from regsuite.errors import SpecError, UnknownExperiment
from regsuite.experiments import REGISTRY
from regsuite.serial import canonical, from_json, to_json
from regsuite.specs import (
    DOCUMENTS, CompileSpec, DataSpec, Documented, ExperimentSpec, FitSpec, ModelSpec, OptimizerSpec,
    Regularizer, dense, dropout,
)


def make_spec(**over) -> ExperimentSpec:
    base = dict(
        id="keras_regularization/tiny",
        source="000.txt",
        section="s",
        title="t",
        data=DataSpec("mnist", (0, 60), None, True, 10),
        model=ModelSpec((784,), (dense(4, "sigmoid"), dense(10, "softmax"))),
        compile=CompileSpec(OptimizerSpec("SGD", {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
                            "categorical_crossentropy"),
        fit=FitSpec(epochs=2, batch_size=8, train_count=40),
        documented=Documented(),
    )
    base.update(over)
    return ExperimentSpec(**base)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: make_spec(id="Bad Id"), "Invalid value for `id`. Expected '<document>/<experiment>' in lower_snake_case. Received: id='Bad Id'"),
        (lambda: make_spec(id="nodoc/x"), "Invalid value for `id`. Expected a document prefix among"),
        (lambda: make_spec(tier="slowest"), "Invalid value for `tier`. Expected one of ('quick', 'full'). Received: tier='slowest'"),
        (lambda: make_spec(seeds=(1, 1)), "Invalid value for `seeds`. Expected a non-empty tuple of distinct ints. Received: seeds=(1, 1)"),
        (lambda: dense(0), "Invalid value for `units`. Expected a positive int. Received: units=0"),
        (lambda: dropout(1.0), "Invalid value for `rate`. Expected a float in [0, 1). Received: rate=1.0"),
        (lambda: Regularizer(l1=-1), "Invalid value for `l1`. Expected a non-negative float. Received: l1=-1"),
        (lambda: OptimizerSpec("SGD", {}), "Invalid value for `params`. Expected an explicit learning_rate"),
        (lambda: FitSpec(epochs=0, batch_size=1), "Invalid value for `epochs`. Expected a positive int. Received: epochs=0"),
        (lambda: DataSpec("mnist", (5, 5)), "Invalid value for `train_slice`. Expected (start, stop) with 0 <= start < stop"),
    ],
)
def test_spec_validation_messages(build, message):
    with pytest.raises(SpecError) as info:
        build()
    assert message in str(info.value)


def test_unknown_experiment_lists_close_matches():
    with pytest.raises(UnknownExperiment) as info:
        REGISTRY.get("keras_regularization/l3")
    msg = str(info.value)
    assert msg.startswith("Invalid value for `experiment`. Expected a registered experiment id. Received: experiment='keras_regularization/l3'")
    assert "keras_regularization/l1" in msg and "keras_regularization/l2" in msg


def test_registry_rejects_duplicate_ids():
    from regsuite.specs import Registry

    reg = Registry()
    reg.register(make_spec())
    with pytest.raises(SpecError, match="an id not registered yet"):
        reg.register(make_spec())


@pytest.mark.parametrize("spec", list(REGISTRY), ids=lambda s: s.id)
def test_registered_specs_are_consistent(spec):
    assert spec.document in DOCUMENTS
    for metric, values in spec.documented.history.items():
        stopped_early = spec.fit.early_stopping is not None and len(values) < spec.fit.epochs
        assert len(values) == spec.fit.epochs or stopped_early, f"{spec.id}: documented {metric} has {len(values)} epochs"
    counts = [c for c in spec.expectations if isinstance(c, ParamCount)]
    if spec.procedure != "init_probe":  # the initialiser probe builds separate layers, no one model
        assert len(counts) == 1 and counts[0].total == spec.documented.params["total"]
    check_keys(spec.expectations)
    for check in spec.expectations:
        assert all(i in REGISTRY for i in check.needs()), f"{spec.id}: {check} needs an unknown experiment"
    assert spec.assumptions, f"{spec.id} records no assumptions"


def test_keras_regularization_is_the_document():
    ids = [s.id for s in REGISTRY if s.document == "keras_regularization"]
    assert ids == [f"keras_regularization/{n}" for n in ("baseline", "l2", "l1", "dropout", "l2_dropout")]
    l1 = REGISTRY.get("keras_regularization/l1")
    assert l1.documented.history["loss"][0] == 1785.2297
    assert l1.documented.history["loss"][-1] == 56.8575
    assert l1.documented.history["accuracy"][-1] == 0.2826
    assert l1.documented.test == {"accuracy": 0.3137}
    assert l1.fit.train_count == 499 and l1.data.train_slice == (0, 5000) and l1.data.scale is None


def test_digest_tracks_what_a_run_measures():
    a = make_spec()
    assert a.digest == make_spec(title="other title").digest
    lr = CompileSpec(OptimizerSpec("SGD", {"learning_rate": 0.1, "momentum": 0.0, "nesterov": False}), "categorical_crossentropy")
    assert a.digest != make_spec(compile=lr).digest


layers = st.lists(
    st.one_of(
        st.builds(
            lambda u, act, reg: dense(u, act, **({"kernel_regularizer": reg} if reg else {})),
            st.integers(1, 4096),
            st.sampled_from(["relu", "sigmoid", "softmax", None]),
            st.one_of(st.none(), st.builds(Regularizer, l1=st.floats(0.001, 10), l2=st.floats(0, 10))),
        ),
        st.builds(dropout, st.floats(0, 0.99)),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(layers=layers, lr=st.floats(1e-6, 1.0), epochs=st.integers(1, 500), seeds=st.sets(st.integers(0, 10**6), min_size=1, max_size=6))
def test_spec_json_round_trip(layers, lr, epochs, seeds):
    spec = make_spec(
        model=ModelSpec((784,), tuple(layers)),
        compile=CompileSpec(OptimizerSpec("Adam", {"learning_rate": lr}), "categorical_crossentropy"),
        fit=FitSpec(epochs=epochs, batch_size=32),
        seeds=tuple(sorted(seeds)),
    )
    text = json.dumps(to_json(spec))
    back = from_json(json.loads(text))
    assert back == spec
    assert canonical(back) == canonical(spec) and back.digest == spec.digest


def test_every_registered_spec_round_trips():
    for spec in REGISTRY:
        assert from_json(json.loads(json.dumps(to_json(spec)))) == spec


def test_mnist_init_trained_specs_have_the_documented_parameter_counts():
    """The seven trained models of the weight-initialisation notes (52,650; batch norm adds 192 non-trainable)."""
    from regsuite import runner
    from regsuite.experiments import mnist_init

    assert all(s.id in REGISTRY for s in mnist_init.TRAINED)
    counts = {s.name: runner.param_counts(runner.build(s)) for s in mnist_init.TRAINED}
    plain = {"total": 52_650, "trainable": 52_650, "non_trainable": 0}
    with_bn = {"total": 53_034, "trainable": 52_842, "non_trainable": 192}
    assert counts == {"base": plain, "he_normal": plain, "l2": plain, "l1": plain, "dropout_l1": plain,
                      "batchnorm": with_bn, "leaky_relu": with_bn}
