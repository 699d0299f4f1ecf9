"""Seed document 001, "Lab02" (Jupyter, standalone Keras 2.2 on TensorFlow 1).

MNIST training images only, /255, flattened, one-hot, split 48,000 / 12,000
by `train_test_split(test_size=0.2, random_state=2019)`; batch 1,024, 10
epochs, validation on the 12,000. A TensorFlow-1 graph MLP against the same
model in Keras, y = wx + b by gradient descent, five optimizers, vanishing
gradients in a 9-hidden-layer net, and L1 / L2 / no / input-dropout
regularisation. The document prints no results: every band is measured by us.
"""

from __future__ import annotations

from ..checks import BetterThan, Collapse, DefaultDrift, LossInflation, MonotoneDecrease, ParamCount, RatioAtLeast, ValueIn
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
)

SOURCE = "001_bf54800b3120bf3b.txt"
DOC = "lab02"
ENVIRONMENT = "Jupyter notebook, standalone Keras 2.2 (keras.backend.tensorflow_backend.set_session) on TensorFlow 1.x"

DATA = DataSpec(dataset="mnist", scale=255.0, flatten=True, one_hot=10, holdout=(0.2, 2019))
FIT = FitSpec(epochs=10, batch_size=1024)
LR = 0.0006

# Keras 2.2 defaults the document relied on, and Keras 3's (inspected on 3.15.1).
ADAM_ERA = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}
ADAM_TODAY = {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}
SGD_ERA = {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}
SGD_TODAY = {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}
# Keras 2.2's Adagrad: lr 0.01, accumulators start at zero; Keras 3: lr 0.001, accumulators start at 0.1.
ADAGRAD_ERA = {"learning_rate": 0.01, "initial_accumulator_value": 0.0, "epsilon": 1e-7}
ADAGRAD_TODAY = {"learning_rate": 0.001, "initial_accumulator_value": 0.1, "epsilon": 1e-7}
# Keras 2.2's RMSprop had no momentum and no centred variant: both are off.
RMSPROP_ERA = {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}
RMSPROP_TODAY = {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}


def _opt(name: str, documented: str, era: dict, today: dict, **overrides) -> OptimizerSpec:
    return OptimizerSpec(name, {**era, **overrides}, documented=documented, era_defaults=era, today_defaults=today)


ADAM_DEFAULT = _opt("Adam", "'Adam'", ADAM_ERA, ADAM_TODAY)
ADAM_LR = _opt("Adam", "keras.optimizers.Adam(lr = learning_rate)  # 0.0006", ADAM_ERA, ADAM_TODAY, learning_rate=LR)

ASSUMPTIONS = (
    "The document loads MNIST.npy/Label.npy from its own data folder; we use the 60,000 MNIST training "
    "images of the mirror, which is what those files hold (48,000 + 12,000 = 60,000 as the document splits).",
    "Optimizers given by name or with only lr use Keras 2.2's defaults, pinned explicitly; today's Keras "
    "defaults are recorded beside them and a check reports any further drift.",
    "The optimizer comparison and regularisers pass validation_data=[test_x, test_y] as the Adam model does.",
)


def _id(name: str) -> str:
    return f"{DOC}/{name}"


def _spec(name: str, section: str, title: str, layers: tuple, optimizer: OptimizerSpec, total: int,
          expectations: tuple = (), *, fit: FitSpec = FIT, input_shape: tuple = (784,), data: DataSpec = DATA,
          loss: str = "categorical_crossentropy", assumptions: tuple = (), **extra) -> ExperimentSpec:
    exp_id = _id(name)
    drift = (DefaultDrift(exp_id, optimizer.name, optimizer.today_defaults),) if optimizer.today_defaults else ()
    return ExperimentSpec(
        id=exp_id,
        source=SOURCE,
        section=section,
        title=title,
        data=data,
        model=ModelSpec(input_shape=input_shape, layers=layers),
        compile=CompileSpec(optimizer=optimizer, loss=loss, metrics=("accuracy",)),
        fit=fit,
        documented=Documented(params={"total": total, "trainable": total, "non_trainable": 0}, environment=ENVIRONMENT,
                              note="The document prints no training output; every band is measured by regsuite."),
        expectations=(ParamCount(exp_id, total, total, 0),) + drift + expectations,
        assumptions=ASSUMPTIONS + assumptions,
        **extra,
    )


MLP = (dense(10, "relu", name="hidden"), dense(10, "softmax", name="output"))
DEEP_UNITS = (700, 600, 500, 400, 300, 200, 100, 50, 10)


def _deep(activation: str) -> tuple:
    names = ["hidden"] + [f"hidden{i}" for i in range(2, 10)]
    return tuple(dense(u, activation, name=n) for u, n in zip(DEEP_UNITS, names)) + (dense(10, "softmax", name="output"),)


def _reg(l1: float, l2: float) -> tuple:
    return (dense(10, "relu", name="hidden", kernel_regularizer=Regularizer(l1=l1, l2=l2)), dense(10, "softmax", name="output"))


TB_EPOCHS = (float(FIT.epochs), float(FIT.epochs))

SPECS = (
    _spec(
        "tf_lowlevel_mlp", "3. Tensorflow로 MLP 만들어보기",
        "TensorFlow graph MLP (ported to TF2): relu -> sigmoid, softmax cross-entropy on the sigmoid outputs",
        (dense(10, "relu"), dense(10, "sigmoid")),
        OptimizerSpec("Adam", {"learning_rate": LR, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8},
                      documented="tf.train.AdamOptimizer(learning_rate=0.0006)  # TF1 defaults: epsilon 1e-8"),
        7960,
        loss="tf.nn.softmax_cross_entropy_with_logits(logits=sigmoid outputs)",
        procedure="tf_lowlevel",
        backends=("tensorflow",),
        assumptions=(
            "Ported from tf.placeholder/Session to tf.GradientTape in a tf.function; variables initialised as "
            "tf.layers.dense does (glorot-uniform kernels, zero biases).",
            "The loss applies softmax cross-entropy to the sigmoid outputs, as the document's code does (a quirk: "
            "it treats probabilities as logits); kept on purpose.",
            "Each epoch is 46 steps of 1,024 indices drawn with replacement (np.random.choice); loss/accuracy are "
            "logged on the last training batch after its step, val_* on 1,024 random validation rows; test.* "
            "evaluates all 12,000 validation rows once at the end (the document does not).",
        ),
    ),
    _spec(
        "keras_mlp", "4. Keras로 MLP 만들어보기",
        "the same 784-10-10 MLP in Keras, Adam(0.0006), with the TensorBoard callback",
        MLP, ADAM_LR, 7960,
        (
            ValueIn(_id("keras_mlp"), "extra.tb_train_loss_count", *TB_EPOCHS),
            ValueIn(_id("keras_mlp"), "extra.tb_train_accuracy_count", *TB_EPOCHS),
            ValueIn(_id("keras_mlp"), "extra.tb_validation_loss_count", *TB_EPOCHS),
            ValueIn(_id("keras_mlp"), "extra.tb_validation_accuracy_count", *TB_EPOCHS),
            ValueIn(_id("keras_mlp"), "extra.tb_train_loss_max_abs_diff", 0.0, 1e-5),
            ValueIn(_id("keras_mlp"), "extra.tb_validation_accuracy_max_abs_diff", 0.0, 1e-5),
            # The document's point: the same model. Keras' (proper softmax loss) ends more accurate on every
            # seed (0.889 +- 0.003 against the quirky graph port's 0.821 +- 0.047 on all 12,000 rows).
            BetterThan(_id("keras_mlp"), than=_id("tf_lowlevel_mlp"), key="test.accuracy", per_seed=True),
            BetterThan(_id("keras_mlp"), than=_id("sgd"), key="val_accuracy@final", per_seed=True),
            BetterThan(_id("keras_mlp"), than=_id("momentum"), key="val_accuracy@final", per_seed=True),
        ),
        fit=FitSpec(epochs=10, batch_size=1024, tensorboard=True),
    ),
    _spec(
        "linear_gd", "Optimization / 경사하강법(Gradient Descent): 가중치 값의 변화를 관찰해보는 예제",
        "y = wx + b on x = y = [1, 2, 3]: plain gradient descent, lr 0.0006, 100 steps",
        (dense(1),),
        _opt("SGD", "tf.train.GradientDescentOptimizer(learning_rate = 0.0006)", SGD_ERA, SGD_TODAY, learning_rate=LR),
        2,
        (MonotoneDecrease(_id("linear_gd"), "loss"),),
        input_shape=(1,),
        data=DataSpec(dataset="none", flatten=False),
        fit=FitSpec(epochs=100, batch_size=3),
        loss="mean_squared_error",
        procedure="linear_gd",
        assumptions=("w and b start from N(0, 1) draws of a NumPy generator seeded with the run's seed; the "
                     "history holds the loss after each of the 100 steps (float64).",),
    ),
    # Orderings of final validation accuracy that held on every one of 5 seeds with a margin of at least
    # one point (Adam here is item 2's keras_mlp, lr 0.0006). RMSProp > Adagrad (min margin 0.4 points)
    # and Adagrad > Adam (0.7 points) also held on every seed but by less than a point: not asserted.
    _spec("sgd", "5.1 Stochastic Gradient Descent(SGD)", "optimizer 'SGD' (Keras 2.2 defaults: lr 0.01, no momentum)",
          MLP, _opt("SGD", "'SGD'", SGD_ERA, SGD_TODAY), 7960),
    _spec("momentum", "5.2 Momentum", "SGD with momentum 0.7 (lr 0.01)",
          MLP, _opt("SGD", "keras.optimizers.SGD(momentum = 0.7)", SGD_ERA, SGD_TODAY, momentum=0.7), 7960,
          (BetterThan(_id("momentum"), than=_id("sgd"), key="val_accuracy@final", per_seed=True),)),
    _spec("adagrad", "5.3 Adagrad", "optimizer 'Adagrad' (Keras 2.2 defaults: lr 0.01, accumulators from 0)",
          MLP, _opt("Adagrad", "'Adagrad'", ADAGRAD_ERA, ADAGRAD_TODAY), 7960,
          (BetterThan(_id("adagrad"), than=_id("sgd"), key="val_accuracy@final", per_seed=True),
           BetterThan(_id("adagrad"), than=_id("momentum"), key="val_accuracy@final", per_seed=True))),
    _spec("rmsprop", "5.4 RMSProp", "optimizer 'RMSProp' (Keras 2.2 defaults: lr 0.001, rho 0.9)",
          MLP, _opt("RMSprop", "'RMSProp'", RMSPROP_ERA, RMSPROP_TODAY), 7960,
          (BetterThan(_id("rmsprop"), than=_id("sgd"), key="val_accuracy@final", per_seed=True),
           BetterThan(_id("rmsprop"), than=_id("momentum"), key="val_accuracy@final", per_seed=True),
           BetterThan(_id("rmsprop"), than=_id("keras_mlp"), key="val_accuracy@final", per_seed=True))),
    _spec("deep_sigmoid", "6. Vanishing Gradient 확인하기", "nine sigmoid hidden layers (700 ... 10), Adam",
          _deep("sigmoid"), ADAM_DEFAULT, 1_677_270, probes=("grad_norm_ratio",)),
    _spec("deep_relu", "6. Vanishing Gradient 확인하기", "the same nine hidden layers with relu, Adam",
          _deep("relu"), ADAM_DEFAULT, 1_677_270,
          (
              # first-layer / last-hidden-layer gradient-norm ratio at initialisation, one batch of 1,024:
              # relu 4.7 +- 1.2, sigmoid 4.7e-5 +- 1.5e-5 over 5 seeds; per seed relu/sigmoid 4.9e4 ... 1.9e5.
              RatioAtLeast(_id("deep_relu"), over=_id("deep_sigmoid"), factor=1e4, key="extra.grad_ratio_first_last"),
              # val accuracy after epoch 1: relu 0.87 +- 0.04, sigmoid 0.10 (chance); per-seed gap >= 0.71.
              BetterThan(_id("deep_relu"), than=_id("deep_sigmoid"), key="val_accuracy@1", margin=0.5, per_seed=True),
          ),
          probes=("grad_norm_ratio",)),
    # Regularisers: first-epoch loss over zero's was 11.7-12.1x (l1) and 51-53x (l2) on 5 seeds.
    _spec("l1", "7.1 L1 Parameter 추가", "hidden kernel l1_l2(l1=0.1, l2=0), Adam", _reg(0.1, 0.0), ADAM_DEFAULT, 7960,
          (LossInflation(_id("l1"), over=_id("zero"), factor=8.0),
           Collapse(_id("l1"), reference=_id("zero"), at_most=0.2, drop_at_least=0.5, key="val_accuracy@final"))),
    _spec("l2", "7.2 L2 Parameter 추가", "hidden kernel l1_l2(l1=0, l2=10.0), Adam", _reg(0.0, 10.0), ADAM_DEFAULT, 7960,
          (LossInflation(_id("l2"), over=_id("zero"), factor=35.0),
           BetterThan(_id("l2"), than=_id("l1"), key="val_accuracy@final", per_seed=True),
           BetterThan(_id("zero"), than=_id("l2"), key="val_accuracy@final", per_seed=True))),
    _spec("zero", "7.3 비교군 생성", "hidden kernel l1_l2(l1=0, l2=0), Adam", _reg(0.0, 0.0), ADAM_DEFAULT, 7960),
    _spec("input_dropout", "7.4 Dropout 사용해보기", "Dropout(0.8) on the input, then Dense(10, softmax), Adam",
          (Layer("Dropout", {"rate": 0.8, "name": "hidden"}), dense(10, "softmax", name="output")), ADAM_DEFAULT, 7850,
          (BetterThan(_id("zero"), than=_id("input_dropout"), key="val_accuracy@final", per_seed=True),
           BetterThan(_id("input_dropout"), than=_id("l2"), key="val_accuracy@final", per_seed=True))),
)
