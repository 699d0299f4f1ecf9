"""Keras backend facts that decide whether an experiment agrees across backends.

mnist_init's nets train on unscaled 0-255 pixels, so their softmax outputs
saturate in the first steps. On TensorFlow, Keras computes a softmax layer's
crossentropy from the logits it kept on the tensor (`_keras_logits`); other
backends clip the probabilities to [eps, 1 - eps], and the gradient of a
saturated wrong answer is then zero. That is why mnist_init/{base, he_normal}
stall on JAX (final loss 4-7 against TensorFlow's 0.1, measured on seeds 0-4)
and why those experiments have JAX baselines of their own. If this fact
changes, those baselines are stale: re-record them.
"""

from __future__ import annotations

import numpy as np
import pytest

from regsuite.environment import backend as keras_backend

keras = pytest.importorskip("keras")


def _saturated_loss_and_gradient() -> tuple[float, np.ndarray]:
    """Sparse crossentropy of a softmax whose true class 0 has logit 0 and the wrong class 40, and its gradient
    with respect to the logits."""
    logits = np.array([[0.0, 40.0]], dtype="float32")
    target = np.array([0])
    loss = keras.losses.SparseCategoricalCrossentropy()
    backend = keras_backend()
    if backend == "tensorflow":
        import tensorflow as tf

        z = tf.Variable(logits)
        with tf.GradientTape() as tape:
            value = loss(target, keras.activations.softmax(z))
        return float(value), np.asarray(tape.gradient(value, z))
    if backend == "jax":
        import jax

        fn = lambda z: loss(target, keras.activations.softmax(z))  # noqa: E731
        return float(fn(logits)), np.asarray(jax.grad(fn)(logits))
    if backend == "torch":
        import torch

        z = torch.tensor(logits, requires_grad=True)
        value = loss(target, keras.activations.softmax(z))
        value.backward()
        return float(value.detach()), z.grad.numpy()
    pytest.skip(f"no gradient probe for the {backend!r} backend")


def test_a_saturated_softmax_crossentropy_is_from_logits_on_tensorflow_only():
    value, grad = _saturated_loss_and_gradient()
    if keras_backend() == "tensorflow":
        # From the logits: loss 40 (= 40 - 0), gradient softmax - onehot = [-1, 1].
        np.testing.assert_allclose(value, 40.0, rtol=1e-5)
        np.testing.assert_allclose(grad, [[-1.0, 1.0]], atol=1e-6)
    else:
        # From probabilities clipped at epsilon: loss -log(1e-7) = 16.118, and no gradient at all.
        np.testing.assert_allclose(value, -np.log(keras.backend.epsilon()), rtol=1e-4)
        np.testing.assert_array_equal(grad, np.zeros_like(grad))
