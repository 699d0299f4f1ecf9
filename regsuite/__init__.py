"""regsuite: regression benchmarks for documented Keras/TensorFlow experiments.

Importing the package is cheap: TensorFlow and Keras load only when a model
is built or trained.
"""

from __future__ import annotations

__version__ = "0.1.0"
