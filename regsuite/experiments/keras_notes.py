"""Seed document 002: the Keras notes ("1.Keras", tf.keras on TensorFlow 2).

Part A: three functional models on California housing, with printed
training output (`Train on 13932 samples ...`: TensorFlow 2.0/2.1's fit loop).
Part B: the deep Fashion-MNIST nets of the notes; three of them are printed
as trained on 3,000 images with 1,000 for validation, but the document never
shows that data slice, its scaling or the optimizer. The settings below were
chosen by `regsuite scan keras_notes/l2` (and /dropout, /alpha_dropout): every
candidate in `FASHION_CANDIDATES` trained with seed 42 and scored on the
printed first-epoch numbers; the best one is used, and the evidence is stored
in each spec's assumptions and so in its baseline.
"""

from __future__ import annotations

import dataclasses

from ..checks import LossInflation, ParamCount, ValueIn
from ..scan import grid
from ..specs import (
    CompileSpec,
    DataSpec,
    Documented,
    ExperimentSpec,
    Fidelity,
    FitSpec,
    Layer,
    MaxNorm,
    ModelSpec,
    OptimizerSpec,
    Regularizer,
    WideDeepSpec,
    dense,
    dropout,
    steps_per_execution_note,
)

SOURCE = "002_0574cc3a2044483b.txt"
DOC = "keras_notes"
ENVIRONMENT = "tf.keras on TensorFlow 2.0/2.1 (the 'Train on N samples' fit loop), Jupyter; np and tf seeds 42"


def _id(name: str) -> str:
    return f"{DOC}/{name}"


# --- Part A: California housing ---------------------------------------------------------------

# TF 2.0/2.1's keras.optimizers.Adam() defaults, pinned (Keras 3's are the same).
ADAM = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}
HOUSING = DataSpec(dataset="california_housing", holdout=(0.25, 42), standardize=True, flatten=False)
HOUSING_FIDELITY = Fidelity(
    accuracy_abs=0.03, loss_rel=0.15,
    why=("One printed run on TF 2.0/2.1 with seed 42 through other random streams (initial weights, shuffles); "
         "an MSE/MAE regression over 20 epochs wanders by more than a classifier's loss, so 15% of a loss/MAE."),
)
HOUSING_ASSUMPTIONS = (
    "Data: fetch_california_housing (the mirror's cal_housing_py3.pkz), train_test_split(random_state=42, "
    "test_size=0.25), StandardScaler fitted on the training part only, as the notes do.",
    "batch_size is Keras' default 32 (the notes pass none), pinned.",
    "validation_split=0.1 of 15,480 rows: Keras keeps the last 1,548 rows for validation (13,932 train, as "
    "printed); the split is spelled out as train_count.",
    "ModelCheckpoint writes '.keras' instead of the notes' '.h5' (Keras 3's native format; the reload-and-"
    "evaluate step is the same): the best epoch by val_loss is reloaded and evaluated on the test set.",
)


def _history(loss, mae, val_loss, val_mae) -> dict:
    return {"loss": loss, "mae": mae, "val_loss": val_loss, "val_mae": val_mae}


WIDE_DEEP_DOC = _history(
    (1.2714, 0.4575, 0.4028, 0.3859, 0.3777, 0.3623, 0.3529, 0.3528, 0.3401, 0.3327, 0.3253, 0.3326, 0.3199,
     0.3134, 0.3154, 0.3089, 0.3038, 0.3093, 0.3055, 0.2974),
    (0.7803, 0.4815, 0.4528, 0.4426, 0.4340, 0.4266, 0.4203, 0.4146, 0.4106, 0.4052, 0.3996, 0.3981, 0.3941,
     0.3906, 0.3899, 0.3871, 0.3838, 0.3857, 0.3818, 0.3791),
    (0.5292, 0.4444, 0.4167, 0.4041, 0.3984, 0.3939, 0.3919, 0.3707, 0.3718, 0.3597, 0.3531, 0.3549, 0.3451,
     0.3410, 0.3394, 0.3398, 0.3418, 0.3329, 0.3270, 0.3276),
    (0.5308, 0.4684, 0.4612, 0.4473, 0.4475, 0.4420, 0.4565, 0.4242, 0.4382, 0.4188, 0.4077, 0.4084, 0.4098,
     0.4103, 0.4134, 0.4016, 0.3968, 0.4041, 0.3973, 0.3939),
)
TWO_INPUTS_DOC = _history(
    (1.9678, 0.6454, 0.4604, 0.4035, 0.3843, 0.3839, 0.3790, 0.3765, 0.3719, 0.3734, 0.3554, 0.3534, 0.3979,
     0.3500, 0.3523, 0.3560, 0.3476, 0.3466, 0.3513, 0.4286),
    (0.9584, 0.5834, 0.4914, 0.4580, 0.4443, 0.4393, 0.4345, 0.4309, 0.4277, 0.4253, 0.4219, 0.4187, 0.4224,
     0.4165, 0.4169, 0.4163, 0.4140, 0.4127, 0.4138, 0.4160),
    (0.8532, 0.5605, 0.4588, 0.4304, 0.4091, 0.4024, 0.3906, 0.3849, 0.3786, 0.3763, 0.3720, 0.3697, 0.3776,
     0.3698, 0.3660, 0.3660, 0.3669, 0.3648, 0.3807, 0.3666),
    (0.6661, 0.5385, 0.4945, 0.4856, 0.4536, 0.4589, 0.4438, 0.4405, 0.4390, 0.4317, 0.4311, 0.4267, 0.4222,
     0.4285, 0.4218, 0.4267, 0.4213, 0.4244, 0.4339, 0.4337),
)
TWO_OUTPUTS_DOC = {
    "loss": (1.8883, 0.9823, 0.8026),
    "main_output_loss": (1.6250, 0.8154, 0.6846),
    "aux_output_loss": (4.2522, 2.4865, 1.8636),
    "val_loss": (2.8143, 1.1709, 0.7997),
    "val_main_output_loss": (2.7901, 1.0813, 0.7003),
    "val_aux_output_loss": (3.0215, 1.9739, 1.6921),
}


def _housing(name: str, section: str, title: str, model: WideDeepSpec, total: int, documented: Documented,
             compile: CompileSpec, fit: FitSpec, data: DataSpec = HOUSING, assumptions: tuple = (),
             expectations: tuple = (), known: tuple = ()) -> ExperimentSpec:
    exp_id = _id(name)
    return ExperimentSpec(
        id=exp_id, source=SOURCE, section=section, title=title, data=data, model=model, compile=compile, fit=fit,
        documented=documented, fidelity=dataclasses.replace(HOUSING_FIDELITY, known_deviations=known),
        expectations=(ParamCount(exp_id, total, total, 0),) + expectations,
        assumptions=HOUSING_ASSUMPTIONS + assumptions,
    )


ADAM_MSE = CompileSpec(OptimizerSpec("Adam", ADAM, documented="keras.optimizers.Adam()", era_defaults=ADAM,
                                     today_defaults=ADAM), "mean_squared_error", ("mae",), steps_per_execution=64)
CHECKPOINTED = FitSpec(epochs=20, batch_size=32, train_count=13_932, documented_validation_split=0.1,
                       checkpoint="val_loss")


def _restores_best(exp_id: str) -> tuple:
    # The reloaded model's validation loss, evaluated again, is the best epoch's logged val_loss: the checkpoint
    # really holds the best epoch's weights (the gap is float summation order only).
    return (ValueIn(exp_id, "extra.checkpoint_gap", 0.0, 1e-5),)


SPECS_A = (
    _housing(
        "wide_deep", "지름길이 있는 model",
        "Wide & deep: Input(8) -> Dense 30 -> Dense 30, concatenated with the input -> Dense(1); best checkpoint",
        WideDeepSpec(input_dim=8, deep=(0, 8)), 1_239,
        Documented(history=WIDE_DEEP_DOC, test={"loss": 0.3075, "mae": 0.3845},
                   params={"total": 1_239, "trainable": 1_239, "non_trainable": 0}, environment=ENVIRONMENT),
        ADAM_MSE, CHECKPOINTED, expectations=_restores_best(_id("wide_deep")),
        assumptions=(steps_per_execution_note(ADAM_MSE.steps_per_execution),),
    ),
    _housing(
        "two_inputs", "입력층이 여러개인 model",
        "Two inputs: wide = features 0-4, deep = features 5-7 -> Dense 30 -> Dense 30, concatenated -> Dense(1)",
        WideDeepSpec(input_dim=8, wide=(0, 5), deep=(5, 8)), 1_086,
        Documented(history=TWO_INPUTS_DOC, test={"loss": 0.3471, "mae": 0.4150},
                   params={"total": 1_086, "trainable": 1_086, "non_trainable": 0}, environment=ENVIRONMENT),
        ADAM_MSE, CHECKPOINTED, expectations=_restores_best(_id("two_inputs")),
        known=(("loss@20", "the printed run's last-epoch training loss jumps 0.3513 -> 0.4286 while its MAE moves "
                           "0.4138 -> 0.4160 and its val_loss falls: a squared-error spike of that run's last batches; "
                           "our 5 seeds end at 0.348-0.353 (band with 15%: 0.283-0.418)"),),
        assumptions=("The prose says features 0-4 go wide and 2-7 deep (3 shared); the code slices "
                     "X[:, 0:5] wide and X[:, 5:] deep (3 features, Input(shape=[3])), and its printed summary "
                     "(120 = 3 x 30 + 30 params in the first Dense, 1,086 in all) confirms the code: the code is "
                     "followed.", steps_per_execution_note(ADAM_MSE.steps_per_execution)),
    ),
    _housing(
        "two_outputs", "출력층에 여러개인 model",
        "Main + auxiliary output: wide = features 0-4, deep = 2-7; MSE/MSE weighted 0.9/0.1, SGD lr 1e-3, 3 epochs",
        WideDeepSpec(input_dim=8, wide=(0, 5), deep=(2, 8), aux_output=True), 1_207,
        Documented(history=TWO_OUTPUTS_DOC,
                   test={"loss": 0.7431, "main_output_loss": 0.6384, "aux_output_loss": 1.7135},
                   params={"total": 1_207, "trainable": 1_207, "non_trainable": 0}, environment=ENVIRONMENT),
        CompileSpec(OptimizerSpec("SGD", {"learning_rate": 1e-3, "momentum": 0.0, "nesterov": False},
                                  documented="keras.optimizers.SGD(lr=1e-3)"),
                    ("mse", "mse"), (), loss_weights=(0.9, 0.1)),
        FitSpec(epochs=3, batch_size=32),
        data=DataSpec(dataset="california_housing", holdout=(0.25, 42), validation_holdout=(0.25, 42),
                      standardize=True, flatten=False),
        assumptions=("Split twice with random_state=42 (default test_size 0.25): 11,610 train / 3,870 validation / "
                     "5,160 test, as printed; the scaler is fitted on the 11,610.",
                     "Keras 3 needs loss=['mse', 'mse'] (one per output) with loss_weights=[0.9, 0.1], as written; "
                     "SGD(lr=1e-3) is SGD(learning_rate=1e-3), momentum 0.",
                     "Keras 3 reports the per-output test losses as means of per-batch means (the last, smaller "
                     "batch weighs like a full one); the total loss is sample-weighted. Differences are far below "
                     "the bands."),
    ),
)


# --- Part B: Fashion-MNIST deep nets ------------------------------------------------------------

# Chosen by the settings scan (`regsuite scan keras_notes/l2 keras_notes/dropout keras_notes/alpha_dropout`, seeds
# 42 and 0; evidence in baselines/keras_notes/settings_scan.json). One data preparation for the document: the
# lowest sum of the three experiments' best first-epoch scores (0.302 for the first 3,000 / next 1,000 images,
# pixels / 255 then standardised pixel by pixel on the 3,000; 0.399 for the same slices of Geron's split; 0.451 and
# 0.521 without standardising); then each printed run's best optimizer under it.
FASHION_DATA = DataSpec(dataset="fashion_mnist", train_slice=(0, 3000), validation_slice=(3000, 4000),
                        scale=255.0, flatten=False, standardize=True)
NADAM = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
NADAM_002 = {**NADAM, "learning_rate": 0.002}
SGD_001 = {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}
SGD_NESTEROV = {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True}


def _fashion_compile(name: str, params: dict, how: str) -> CompileSpec:
    return CompileSpec(OptimizerSpec(name, params, documented=f"not shown; {how}"),
                       "sparse_categorical_crossentropy", ("accuracy",))


# score 0.105 (next best under this data: 0.179 adam)
FASHION_COMPILE = _fashion_compile("Nadam", NADAM_002, "the settings scan's best for the printed L2 run")
# score 0.126 (next: 0.185 nadam lr 0.001)
DROPOUT_COMPILE = _fashion_compile("SGD", SGD_NESTEROV, "the settings scan's best for the printed dropout run")
# score 0.072 (next under this data: 0.342 adam)
ALPHA_COMPILE = _fashion_compile("SGD", SGD_001, "the settings scan's best for the printed alpha-dropout run")
FASHION_EVIDENCE = (
    "scored against the printed first epoch over 24 candidates (2 slices x 2 scalings x 6 optimizers) with seeds 42 "
    "and 0, the first 3,000 / next 1,000 training images with pixels / 255 standardised pixel by pixel (statistics "
    "of the 3,000) won; optimizers: Nadam lr 0.002 for L2 (Keras 2.2's default rate), SGD lr 0.01 with Nesterov "
    "momentum 0.9 for dropout, plain SGD lr 0.01 for alpha dropout (baselines/keras_notes/settings_scan.json). "
    "The unprinted nets use the L2 net's Nadam lr 0.002."
)
FASHION_ASSUMPTIONS = (
    "The notes print 'Train on 3000 samples, validate on 1000 samples' but never show the slice, the scaling or "
    "the optimizer: chosen by the settings scan (`regsuite scan keras_notes/l2 keras_notes/dropout "
    "keras_notes/alpha_dropout`): " + FASHION_EVIDENCE,
    "batch_size is Keras' default 32, pinned; the test set is the 10,000 Fashion-MNIST test images, standardised "
    "with the training statistics.",
)
FASHION_FIDELITY = Fidelity(
    accuracy_abs=0.05, loss_rel=0.20,
    why=("Three 2-3 epoch runs on 3,000 images with settings the notes do not show (chosen by a scan): early "
         "epochs of small runs move a lot between frameworks' random streams, so 5 accuracy points / 20% of a "
         "loss; known_deviations lists the printed numbers the chosen settings do not reach."),
)
FLAT = Layer("Flatten")
SOFTMAX = dense(10, "softmax")
PLAIN_TOTAL = 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10  # 266,610


def _he(units: int, activation: str | None = None, **kw) -> Layer:
    return dense(units, activation, kernel_initializer="he_normal", **kw)


def _lecun(units: int, **kw) -> Layer:
    return dense(units, "selu", kernel_initializer="lecun_normal", **kw)


def _fashion(name: str, section: str, title: str, layers: tuple, total: int, *, non_trainable: int = 0,
             epochs: int = 2, history: dict | None = None, expectations: tuple = (), probes: tuple = (),
             assumptions: tuple = (), known: tuple = (), compile: CompileSpec = FASHION_COMPILE) -> ExperimentSpec:
    exp_id = _id(name)
    note = ("Printed: 'Train on 3000 samples, validate on 1000 samples'." if history else
            "The notes build this model and print no training output: trained briefly on the same slice, "
            "every band measured by regsuite.")
    return ExperimentSpec(
        id=exp_id, source=SOURCE, section=section, title=title, data=FASHION_DATA,
        model=ModelSpec(input_shape=(28, 28), layers=(FLAT,) + layers),
        compile=compile, fit=FitSpec(epochs=epochs, batch_size=32),
        documented=Documented(history=history or {}, params={"total": total, "trainable": total - non_trainable,
                                                              "non_trainable": non_trainable},
                              environment=ENVIRONMENT, note=note),
        expectations=(ParamCount(exp_id, total, total - non_trainable, non_trainable),) + expectations,
        fidelity=dataclasses.replace(FASHION_FIDELITY, known_deviations=known),
        assumptions=FASHION_ASSUMPTIONS + assumptions, probes=probes,
    )


L2_01 = Regularizer(l2=0.01)
# Dense 300 on 784 pixels, the first Dense 100 on 300 units, the other 100-unit layers on 100, softmax on 100.
SELU_100_TOTAL = (784 * 300 + 300) + (300 * 100 + 100) + 98 * (100 * 100 + 100) + (100 * 10 + 10)  # 1,256,410
SELU_50_TOTAL = (784 * 300 + 300) + (300 * 100 + 100) + 49 * (100 * 100 + 100) + (100 * 10 + 10)  # 761,510
BN_TOTAL = 4 * 784 + (784 * 300 + 300) + 4 * 300 + (300 * 100 + 100) + 4 * 100 + (100 * 10 + 10)  # 271,346
BN_NON_TRAINABLE = 2 * (784 + 300 + 100)  # moving mean and variance: 2,368

SPECS_B = (
    _fashion("leaky_relu", "LeakyRelu", "Dense 300/100 he_normal, each followed by LeakyReLU() (slope 0.3)",
             (_he(300), Layer("LeakyReLU"), _he(100), Layer("LeakyReLU"), SOFTMAX), PLAIN_TOTAL,
             assumptions=("LeakyReLU() keeps Keras 2's default slope 0.3 (Keras 3: negative_slope=0.3).",)),
    _fashion("prelu", "PReLU", "Dense 300/100 he_normal, each followed by PReLU (one learned slope per unit)",
             (_he(300), Layer("PReLU"), _he(100), Layer("PReLU"), SOFTMAX), PLAIN_TOTAL + 300 + 100),
    _fashion("selu", "SELU", "Dense(300, selu, lecun_normal) then 99 x Dense(100, selu, lecun_normal): 100 SELU layers",
             (_lecun(300),) + tuple(_lecun(100) for _ in range(99)) + (SOFTMAX,), SELU_100_TOTAL, epochs=1,
             probes=("selu_stats",),
             # Self-normalisation at depths 10, 50, 100 of the untrained net on standardised input. Measured over
             # seeds 0-4: means -0.050..0.044, stds 0.952..1.042; asserted at about twice those deviations.
             expectations=tuple(
                 check for d in (10, 50, 100) for check in (
                     ValueIn(_id("selu"), f"extra.selu_mean_at_{d}", -0.1, 0.1),
                     ValueIn(_id("selu"), f"extra.selu_std_at_{d}", 0.9, 1.1)))),
    _fashion("selu_50", "매우 깊은 신경망", "Dense(300, selu, lecun_normal) then 50 x Dense(100, selu, lecun_normal)",
             (_lecun(300),) + tuple(_lecun(100) for _ in range(50)) + (SOFTMAX,), SELU_50_TOTAL, epochs=1),
    _fashion("batchnorm", "BatchNormalization",
             "BatchNormalization before each Dense: Flatten -> BN -> Dense 300 relu -> BN -> Dense 100 relu -> BN -> softmax",
             (Layer("BatchNormalization"), dense(300, "relu"), Layer("BatchNormalization"), dense(100, "relu"),
              Layer("BatchNormalization"), SOFTMAX), BN_TOTAL, non_trainable=BN_NON_TRAINABLE,
             assumptions=("The notes then promise a use_bias=False version, but the code they print is identical to "
                          "the first (no use_bias argument): one model is registered. In it a relu sits between each "
                          "Dense and the next BN, so the Dense biases are not cancelled by BN here; the claim itself "
                          "(Dense -> BN) is checked as a property in bench/test_keras_notes_api.py.",)),
    _fashion("elu", "L1과 L2 규제 (control)", "The L2 net without its penalties: Dense 300/100 elu he_normal -> softmax",
             (_he(300, "elu"), _he(100, "elu"), SOFTMAX), PLAIN_TOTAL,
             assumptions=("Not in the notes: the L2 net with its penalties removed, the reference the L2 loss "
                          "inflation is measured against.",)),
    _fashion("l2", "L1과 L2 규제", "Dense 300/100 elu he_normal and the softmax layer, each kernel with L2(0.01)",
             (_he(300, "elu", kernel_regularizer=L2_01), _he(100, "elu", kernel_regularizer=L2_01),
              dense(10, "softmax", kernel_regularizer=L2_01)), PLAIN_TOTAL,
             history={"loss": (6.1249, 2.5630), "accuracy": (0.7300, 0.8033),
                      "val_loss": (3.6329, 1.8545), "val_accuracy": (0.8130, 0.7830)},
             # measured: epoch-1 loss 6.51 +- 0.08 against the same net without penalties' 0.85 +- 0.02 (7.7x)
             expectations=(LossInflation(_id("l2"), over=_id("elu"), factor=5.0),)),
    _fashion("dropout", "드롭아웃 규제", "Dropout(0.2) before each Dense; Dense 300/100 elu he_normal",
             (dropout(0.2), _he(300, "elu"), dropout(0.2), _he(100, "elu"), dropout(0.2), SOFTMAX), PLAIN_TOTAL,
             history={"loss": (0.8582, 0.5891), "accuracy": (0.6943, 0.7987),
                      "val_loss": (0.5637, 0.5779), "val_accuracy": (0.8090, 0.7950)},
             compile=DROPOUT_COMPILE),
    _fashion("alpha_dropout", "알파 드롭아웃 (SELU) 규제",
             "AlphaDropout(0.2) before each Dense; Dense 300/100 selu lecun_normal",
             (Layer("AlphaDropout", {"rate": 0.2}), _lecun(300), Layer("AlphaDropout", {"rate": 0.2}), _lecun(100),
              Layer("AlphaDropout", {"rate": 0.2}), SOFTMAX), PLAIN_TOTAL, epochs=3,
             history={"loss": (1.7262, 1.1510, 1.0511), "accuracy": (0.3863, 0.5670, 0.6127),
                      "val_loss": (1.0407, 0.9109, 0.9423), "val_accuracy": (0.7100, 0.7480, 0.7380)},
             compile=ALPHA_COMPILE),
    _fashion("max_norm", "맥스 Norm 규제", "Dense 300/100 selu lecun_normal with kernel_constraint=max_norm(1.0)",
             (_lecun(300, kernel_constraint=MaxNorm(1.0)), _lecun(100, kernel_constraint=MaxNorm(1.0)), SOFTMAX),
             PLAIN_TOTAL, expectations=(ValueIn(_id("max_norm"), "extra.max_column_norm", 0.0, 1.0 + 1e-5),)),
)

SPECS = SPECS_A + SPECS_B

# --- the settings scan behind FASHION_DATA and the optimizers ---------------------------------------

SCANNED = (_id("l2"), _id("dropout"), _id("alpha_dropout"))
_SLICES = {"first 3000 / next 1000": ((0, 3000), (3000, 4000)),
           "Geron's split: rows 5000-7999 / 0-999": ((5000, 8000), (0, 1000))}
_SCALINGS = {"pixels / 255": False, "pixels / 255, standardised": True}
SCAN_DATA = {f"{s}, {c}": DataSpec(dataset="fashion_mnist", train_slice=tr, validation_slice=va, scale=255.0,
                                   flatten=False, standardize=std)
             for s, (tr, va) in _SLICES.items() for c, std in _SCALINGS.items()}


def _compile(name: str, params: dict, label: str) -> CompileSpec:
    return CompileSpec(OptimizerSpec(name, params, documented=f"not shown; candidate {label}"),
                       "sparse_categorical_crossentropy", ("accuracy",))


SCAN_OPTIMIZERS = {
    "nadam (TF 2 default lr 0.001)": _compile("Nadam", NADAM, "nadam"),
    "nadam lr 0.002 (Keras 2.2 default)": _compile("Nadam", {**NADAM, "learning_rate": 0.002}, "nadam 0.002"),
    "adam": _compile("Adam", {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}, "adam"),
    "sgd lr 0.01": _compile("SGD", {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}, "sgd"),
    "sgd lr 0.01, nesterov momentum 0.9": _compile("SGD", {"learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
                                                   "sgd nesterov"),
    "rmsprop": _compile("RMSprop", {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7}, "rmsprop"),
}


FASHION_CANDIDATES = grid(SCAN_DATA, SCAN_OPTIMIZERS)
