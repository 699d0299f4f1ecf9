"""The registry: one module per source document registers its experiments."""

from __future__ import annotations

from ..specs import ExperimentSpec, Registry
from . import imdb, keras_notes, keras_regularization, lab02, mnist_init

REGISTRY = Registry()
for _module in (keras_regularization, lab02, keras_notes, imdb, mnist_init):
    for _spec in _module.SPECS:
        REGISTRY.register(_spec)


def get(exp_id: str) -> ExperimentSpec:
    """The spec registered under `exp_id` (error lists close matches)."""
    return REGISTRY.get(exp_id)
