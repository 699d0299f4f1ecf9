"""The runner on a tiny real model: TensorFlow/Keras do the training."""

from __future__ import annotations

import pytest

from regsuite import runner
from regsuite.specs import ModelSpec, dense

from .conftest import write_mnist_npz
from .test_specs import make_spec


@pytest.fixture
def mirror(tmp_path):
    write_mnist_npz(tmp_path / "mnist.npz", n_train=60, n_test=20)
    return tmp_path


def test_run_returns_everything_a_baseline_needs(mirror):
    spec = make_spec()
    r = runner.run(spec, 3, data_dir=mirror)
    assert r.experiment == spec.id and r.seed == 3 and r.spec_digest == spec.digest
    assert set(r.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == spec.fit.epochs for v in r.history.values())
    assert set(r.test) == {"loss", "accuracy"}
    assert r.params == {"total": 784 * 4 + 4 + 4 * 10 + 10, "trainable": 3190, "non_trainable": 0}
    assert r.dataset_fingerprints["mnist"].startswith("sha256:")
    assert {"tensorflow", "keras", "numpy", "backend", "device", "cpu"} <= set(r.environment)
    assert r.fit_seconds > 0


def test_same_seed_same_history_other_seed_differs(mirror):
    spec = make_spec()
    a, b, c = (runner.run(spec, s, data_dir=mirror) for s in (1, 1, 2))
    assert a.history == b.history and a.test == b.test
    assert a.history != c.history


def test_explicit_split_matches_train_count(mirror):
    # 40 training rows at batch 8 is 5 steps; the 20 remaining rows validate.
    spec = make_spec(model=ModelSpec((784,), (dense(10, "softmax"),)))
    model = runner.build(spec)
    assert runner.param_counts(model)["total"] == 7850
    r = runner.run(spec, 0, data_dir=mirror)
    assert len(r.history["val_loss"]) == 2


def test_unknown_layer_kind_is_a_spec_error():
    from regsuite.errors import SpecError
    from regsuite.specs import Layer

    spec = make_spec(model=ModelSpec((784,), (Layer("Dence", {"units": 3}),)))
    with pytest.raises(SpecError, match=r"keras_regularization/tiny: Invalid value for `kind`\. Expected a layer class in keras\.layers\. Received: kind='Dence'"):
        runner.build(spec)


def test_linear_gd_matches_hand_computation():
    # one step from w = b = 0 on x = y = [1, 2, 3]: grad_w = -2 * mean(x * y) = -28/3, grad_b = -4
    losses = runner.linear_gd(0.0, 0.0, 0.1, 1)
    assert losses[0] == pytest.approx(14 / 3)
    w, b = 0.1 * 28 / 3, 0.1 * 4
    assert losses[1] == pytest.approx(sum((w * x + b - x) ** 2 for x in (1, 2, 3)) / 3)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300)
@given(w=st.floats(-3, 3), b=st.floats(-3, 3), lr=st.floats(1e-6, 0.1, exclude_min=False))
def test_gradient_descent_never_increases_the_convex_loss(w, b, lr):
    """The loss's largest curvature is about 11.1, so any lr <= 0.1 < 2 / 11.1 descends."""
    losses = runner.linear_gd(w, b, lr, 100)
    for before, after in zip(losses, losses[1:]):
        assert after <= before + 1e-12 * max(losses[0], 1.0)


@pytest.mark.parametrize("backend, plain_loop, expected", [
    ("tensorflow", False, 16), ("jax", False, 16), ("torch", False, 1), ("tensorflow", True, 1),
])
def test_a_run_takes_the_specs_steps_per_call_except_where_keras_or_the_user_allows_one(
        monkeypatch, backend, plain_loop, expected):
    """Keras' PyTorch trainer raises on steps_per_execution > 1, so a spec's 64 cannot reach it."""
    import dataclasses

    spec = make_spec()
    spec = spec.replace(compile=dataclasses.replace(spec.compile, steps_per_execution=16))
    monkeypatch.setattr(runner, "active_backend", lambda: backend)
    if plain_loop:
        monkeypatch.setenv(runner.PLAIN_LOOP_ENV, "1")
    else:
        monkeypatch.delenv(runner.PLAIN_LOOP_ENV, raising=False)
    assert runner.steps_per_execution(spec) == expected
