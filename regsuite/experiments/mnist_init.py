"""Seed document 004: weight-initialisation notes (tf.keras on TensorFlow 2).

MNIST with raw 0-255 pixels (the notes never scale them). The initialiser
part — the three Dense(256, relu) layers with 'uniform', 'normal' and
'he_normal' kernels, and the notes' claims about all-zero against random
initial weights — and the seven trained 64-32-10 models (sparse categorical
cross-entropy, 'adam', 10 epochs at batch 32, the test images as
validation data). The notes print no results: every band is measured.
"""

from __future__ import annotations

from ..checks import BetterThan, DefaultDrift, LossInflation, ParamCount, ValueIn
from ..specs import (
    CompileSpec,
    DataSpec,
    Documented,
    ExperimentSpec,
    FitSpec,
    Layer,
    ModelSpec,
    OptimizerSpec,
    Regularizer,
    dense,
    dropout,
    steps_per_execution_note,
)

SOURCE = "004_efb321b93dd4a3e5.txt"
DOC = "mnist_init"
ENVIRONMENT = "tf.keras (TensorFlow 2.x), Jupyter"
DATA = DataSpec(dataset="mnist", scale=None, flatten=False)
ADAM = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}
COMPILE = CompileSpec(
    OptimizerSpec("Adam", ADAM, documented="'adam'", era_defaults=ADAM, today_defaults=ADAM),
    "sparse_categorical_crossentropy", ("accuracy",),
    steps_per_execution=64,
)
FIT = FitSpec(epochs=10, batch_size=32)  # fit() without batch_size: Keras' default 32, pinned
ASSUMPTIONS = (
    "Pixels stay raw 0-255 floats: the notes load mnist and never divide by 255.",
    "batch_size is Keras' default 32 (the notes pass none), pinned; 'adam' is TF 2's Adam defaults, pinned.",
    steps_per_execution_note(COMPILE.steps_per_execution),
    "LeakyReLU(alpha=0.2) is LeakyReLU(negative_slope=0.2): Keras 3 renamed the argument.",
)


RAW_PIXELS = ASSUMPTIONS[0]


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

FLAT = Layer("Flatten")



def _spec(name: str, section: str, title: str, layers: tuple, total: int, non_trainable: int = 0,
          expectations: tuple = (), **extra) -> ExperimentSpec:
    exp_id = _id(name)
    return ExperimentSpec(
        id=exp_id, source=SOURCE, section=section, title=title, data=DATA,
        model=ModelSpec(input_shape=(28, 28), layers=(FLAT,) + layers),
        compile=COMPILE, fit=FIT,
        documented=Documented(params={"total": total, "trainable": total - non_trainable, "non_trainable": non_trainable},
                              environment=ENVIRONMENT, note="The notes print no training output; every band is measured by regsuite."),
        expectations=(ParamCount(exp_id, total, total - non_trainable, non_trainable),
                      DefaultDrift(exp_id, "Adam", COMPILE.optimizer.today_defaults)) + expectations,
        assumptions=ASSUMPTIONS + extra.pop("assumptions", ()),
        **extra,
    )


NORMAL_L2 = Regularizer(l2=0.001)
NORMAL_L1 = Regularizer(l1=0.001)
HEAD = (dense(10, "softmax"),)
BASE_TOTAL = 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10  # 52,650
BN_TOTAL = BASE_TOTAL + 4 * (64 + 32)  # + gamma, beta, moving mean, moving variance: 53,034

def _lower_val_loss(a: str, b: str) -> BetterThan:
    """A's final val_loss below B's, seed by seed and on the means: how the notes' plots compare models."""
    return BetterThan(_id(a), than=_id(b), key="val_loss@final", higher_is_better=False, per_seed=True)


# The notes plot val_loss curves and imply each technique beats 'No Setting'. Measured over seeds 0-4
# (baselines/mnist_init, final val_loss, mean +- sd): base 0.177 +- 0.011, he_normal 0.189 +- 0.016,
# l2 0.203 +- 0.012, l1 0.380 +- 0.017, dropout_l1 1.075 +- 0.050, batchnorm 0.124 +- 0.017,
# leaky_relu 0.122 +- 0.004. What held on all 5 seeds is asserted below; where the opposite held on
# all 5 seeds, the opposite is asserted (marked "claim does not hold"); He vs default held on 1 of 5
# seeds only and is asserted neither way.
TRAINED = (
    _spec("base", "가중치의 초기화 (default)", "64-32-10, default init", (dense(64, "relu"), dense(32, "relu")) + HEAD, BASE_TOTAL),
    _spec("he_normal", "가중치 초기 설정을 해준 경우", "he_normal on the first layer",
          (dense(64, "relu", kernel_initializer="he_normal"), dense(32, "relu")) + HEAD, BASE_TOTAL),
    _spec("l2", "Regularization: 규제 L2 적용", "L2(0.001) and 'normal' init on both hidden layers",
          (dense(64, "relu", kernel_initializer="normal", kernel_regularizer=NORMAL_L2),
           dense(32, "relu", kernel_initializer="normal", kernel_regularizer=NORMAL_L2)) + HEAD, BASE_TOTAL,
          expectations=(
              # the penalty inflates the training loss: 1.52-1.72x base's at epoch 10 (not at epoch 1, where
              # base's raw-pixel start is worse: 0.38-0.53x)
              LossInflation(_id("l2"), over=_id("base"), factor=1.4, key="loss@final"),
              _lower_val_loss("l2", "l1"),  # L2 beats L1 on every seed
              _lower_val_loss("base", "l2"),  # claim does not hold: no regularisation ends lower than L2
          )),
    _spec("l1", "Regularization: 규제 L1 적용", "L1(0.001) and 'normal' init on both hidden layers",
          (dense(64, "relu", kernel_initializer="normal", kernel_regularizer=NORMAL_L1),
           dense(32, "relu", kernel_initializer="normal", kernel_regularizer=NORMAL_L1)) + HEAD, BASE_TOTAL,
          expectations=(
              LossInflation(_id("l1"), over=_id("base"), factor=3.0, key="loss@final"),  # 3.26-3.64x
              _lower_val_loss("base", "l1"),  # claim does not hold
          )),
    _spec("dropout_l1", "Drop Out", "L1(0.01), 'normal' init, Dropout(0.2) after each hidden layer",
          (dense(64, "relu", kernel_initializer="normal", kernel_regularizer=Regularizer(l1=0.01)), dropout(0.2),
           dense(32, "relu", kernel_initializer="normal", kernel_regularizer=Regularizer(l1=0.01)), dropout(0.2)) + HEAD,
          BASE_TOTAL,
          expectations=(
              LossInflation(_id("dropout_l1"), over=_id("base"), factor=2.5),  # epoch 1: 2.73-3.48x
              LossInflation(_id("dropout_l1"), over=_id("base"), factor=8.0, key="loss@final"),  # 10.9-12.4x
              _lower_val_loss("base", "dropout_l1"),  # claim does not hold (L1 0.01 dominates the dropout)
              _lower_val_loss("l1", "dropout_l1"),  # ...and it ends above L1(0.001) alone too
          )),
    _spec("batchnorm", "Batch Normalization(배치 정규화)", "BatchNormalization after each hidden relu",
          (dense(64, "relu"), Layer("BatchNormalization"), dense(32, "relu"), Layer("BatchNormalization")) + HEAD,
          BN_TOTAL, non_trainable=2 * (64 + 32),
          expectations=(_lower_val_loss("batchnorm", "base"),)),
    _spec("leaky_relu", "Activation Function: LeakyReLU", "Dense -> BatchNormalization -> LeakyReLU(0.2), twice",
          (dense(64), Layer("BatchNormalization"), Layer("LeakyReLU", {"negative_slope": 0.2}),
           dense(32), Layer("BatchNormalization"), Layer("LeakyReLU", {"negative_slope": 0.2})) + HEAD,
          BN_TOTAL, non_trainable=2 * (64 + 32),
          expectations=(_lower_val_loss("leaky_relu", "base"),)),
)

SPECS = (INITIALIZERS,) + TRAINED
