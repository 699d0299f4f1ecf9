"""Seed document 004: weight-initialisation notes (tf.keras on TensorFlow 2).

MNIST with raw 0-255 pixels (the notes never scale them). Encoded so far:
the initialiser part — the three Dense(256, relu) layers with 'uniform',
'normal' and 'he_normal' kernels, and the notes' claims about all-zero
against random initial weights. The seven trained 64-32-10 models of the
notes (issue 7) are not registered yet: they need measured baselines.
"""

from __future__ import annotations

from ..checks import ValueIn
from ..specs import CompileSpec, DataSpec, Documented, ExperimentSpec, FitSpec, ModelSpec, OptimizerSpec, dense

SOURCE = "004_efb321b93dd4a3e5.txt"
DOC = "mnist_init"
ENVIRONMENT = "tf.keras (TensorFlow 2.x), Jupyter"
DATA = DataSpec(dataset="mnist", scale=None, flatten=False)
RAW_PIXELS = "Pixels stay raw 0-255 floats: the notes load mnist and never divide by 255."


def _id(name: str) -> str:
    return f"{DOC}/{name}"


INITIALIZERS = ExperimentSpec(
    id=_id("initializers"), source=SOURCE, section="가중치의 초기화",
    title="Dense(256, relu) kernels with 'uniform', 'normal', 'he_normal'; zero vs random init symmetry",
    data=DATA,
    model=ModelSpec(input_shape=(784,), layers=tuple(
        dense(256, "relu", kernel_initializer=k) for k in ("uniform", "normal", "he_normal"))),
    compile=CompileSpec(OptimizerSpec("SGD", {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
                        "sparse_categorical_crossentropy", ()),
    fit=FitSpec(epochs=20, batch_size=256),  # 20 training steps of one batch for the symmetry probe
    documented=Documented(environment=ENVIRONMENT, note="The notes build the three layers and print nothing."),
    procedure="init_probe",
    expectations=(
        # Keras 3 documents: 'uniform' = RandomUniform(-0.05, 0.05); 'normal' = RandomNormal(0, 0.05);
        # 'he_normal' = VarianceScaling(2, 'fan_in', 'truncated_normal'), whose truncated normal is drawn with
        # stddev sqrt(2 / fan_in) / 0.87962566 and cut at 2 of those, so the kernel's std is sqrt(2 / 784) =
        # 0.050508 and |w| <= 2 x 0.050508 / 0.87962566 = 0.114842. 200,704 draws: std error far below 1%.
        ValueIn(_id("initializers"), "extra.uniform_min", -0.05, -0.0499),
        ValueIn(_id("initializers"), "extra.uniform_max", 0.0499, 0.05),
        ValueIn(_id("initializers"), "extra.uniform_std", 0.0286, 0.0291),  # 0.1 / sqrt(12) = 0.02887
        ValueIn(_id("initializers"), "extra.normal_std", 0.0495, 0.0505),
        ValueIn(_id("initializers"), "extra.normal_mean", -0.0005, 0.0005),
        ValueIn(_id("initializers"), "extra.he_normal_std", 0.0500, 0.0510),
        ValueIn(_id("initializers"), "extra.he_normal_max", 0.11, 0.114842),
        ValueIn(_id("initializers"), "extra.he_normal_min", -0.114842, -0.11),
        # The notes' claims: all-zero weights never break symmetry (relu'(0) = 0 and zero output weights give
        # zero gradients, so every hidden unit stays identical); random initialisation does break it.
        ValueIn(_id("initializers"), "extra.zeros_unit_spread", 0.0, 0.0),
        ValueIn(_id("initializers"), "extra.glorot_uniform_unit_spread", 1e-3, 10.0),
    ),
    assumptions=(RAW_PIXELS,
        "The three layers are built each on a flat 784-pixel input (fan_in 784), as they would be first layers.",
        "The symmetry probe trains Dense(8, relu) -> Dense(10, softmax) for 20 SGD(0.01) steps on the first 256 "
        "training images, from all-zero kernels and biases ('zeros') and from 'glorot_uniform' kernels.",
    ),
)

SPECS = (INITIALIZERS,)
