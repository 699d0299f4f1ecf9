"""Seed document 000, "Keras Regularization" (R keras, Keras 2 on TensorFlow 1).

A 1024-unit sigmoid MLP on the first 5,000 MNIST training images, raw 0-255
pixels (the document never scales them), trained on the first 499 and
validated on the last 4,501 (`validation_split=0.9`), SGD lr 0.01, batch 32,
30 epochs; test accuracy on all 10,000 test images. Five variants: none,
L2(0.1), L1(0.1), dropout 0.5, and 2048 units with L2(0.1) + dropout 0.5.
Every documented number below is copied from the document's printed output.
"""

from __future__ import annotations

from ..checks import BetterThan, Collapse, FallsBy, LossInflation, ParamCount
from ..specs import (
    CompileSpec,
    DataSpec,
    Documented,
    ExperimentSpec,
    Fidelity,
    FitSpec,
    ModelSpec,
    OptimizerSpec,
    Regularizer,
    dense,
    dropout,
    steps_per_execution_note,
)

SOURCE = "000_d143af6b9c5b0ac6.txt"
DOC = "keras_regularization"

DATA = DataSpec(dataset="mnist", train_slice=(0, 5000), scale=None, flatten=True, one_hot=10)
# Keras 2's optimizer_sgd(lr=0.01): momentum 0, no Nesterov, no decay.
COMPILE = CompileSpec(
    optimizer=OptimizerSpec("SGD", {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
    loss="categorical_crossentropy",
    metrics=("accuracy",),
    steps_per_execution=64,
)
# validation_split=0.9 of 5,000 rows: Keras 2 and 3 both floor 5000 * 0.1
# (= 499.99999999999994 in floating point) to 499 training rows.
FIT = FitSpec(epochs=30, batch_size=32, train_count=499, documented_validation_split=0.9)
ENVIRONMENT = "R keras (Keras 2.x on TensorFlow 1.x), printed as 'Train on 499 samples, validate on 4501 samples'"
FIDELITY = Fidelity(
    accuracy_abs=0.03,
    loss_rel=0.10,
    why=(
        "The documented run is a single draw from Keras 2 / TensorFlow 1 random streams (other initial "
        "weights, other shuffles), so its numbers should fall in the spread of our seeds; the margin "
        "(3 accuracy points, 10% of a loss) allows for framework differences in initialiser and "
        "float arithmetic, and is stated once for the whole document."
    ),
)
ASSUMPTIONS = (
    "Pixels stay raw 0-255 floats: the document converts with as.numeric and never divides by 255.",
    "Training rows are the first 499 of the 5,000 and validation rows the last 4,501, as Keras' "
    "validation_split takes the tail; the split is spelled out instead of passed as validation_split.",
    "SGD hyper-parameters other than lr are Keras 2's defaults (momentum 0, nesterov False, decay 0).",
    "Test accuracy is computed with model.evaluate on all 10,000 test images; the document's helper "
    "takes argmax of predict(), which gives the same accuracy.",
    steps_per_execution_note(COMPILE.steps_per_execution),
)

_BASELINE = {
    "loss": (2.0056, 1.0589, 0.7058, 0.5248, 0.4093, 0.3277, 0.2751, 0.2378, 0.2105, 0.1911, 0.1743, 0.1611, 0.1516, 0.1426, 0.1348, 0.1286, 0.1235, 0.1181, 0.1135, 0.1093, 0.1055, 0.1016, 0.0983, 0.0953, 0.0923, 0.0898, 0.0869, 0.0845, 0.0823, 0.0801),
    "accuracy": (0.3427, 0.7996, 0.8878, 0.9419, 0.9619, 0.9760, 0.9880, 0.9900, 0.9920, 0.9920, 0.9920, 0.9920, 0.9920, 0.9980, 0.9960, 0.9960, 0.9980, 0.9980, 0.9980, 0.9980, 0.9980, 0.9980, 0.9980, 0.9980, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000),
    "val_loss": (1.5531, 1.2474, 1.0766, 0.9919, 0.9194, 0.8821, 0.8677, 0.8296, 0.8103, 0.7962, 0.7850, 0.7723, 0.7622, 0.7556, 0.7464, 0.7416, 0.7326, 0.7303, 0.7222, 0.7193, 0.7129, 0.7098, 0.7033, 0.7011, 0.6999, 0.6936, 0.6896, 0.6882, 0.6847, 0.6830),
    "val_accuracy": (0.5701, 0.6694, 0.7216, 0.7392, 0.7567, 0.7638, 0.7578, 0.7736, 0.7778, 0.7776, 0.7818, 0.7838, 0.7872, 0.7863, 0.7898, 0.7876, 0.7914, 0.7898, 0.7923, 0.7936, 0.7958, 0.7949, 0.7983, 0.7974, 0.7960, 0.7980, 0.7989, 0.7987, 0.7985, 0.7987),
}
_BASELINE_TEST_ACC = 0.7931  # "Accuracy on data is: 79.310000"
_L2 = {
    "loss": (88.1708, 81.9642, 76.6034, 71.7159, 67.1801, 62.9584, 59.0146, 55.3262, 51.8771, 48.6478, 45.6248, 42.7900, 40.1335, 37.6416, 35.3058, 33.1158, 31.0615, 29.1348, 27.3283, 25.6333, 24.0440, 22.5534, 21.1552, 19.8438, 18.6134, 17.4596, 16.3774, 15.3624, 14.4101, 13.5171),
    "accuracy": (0.3587, 0.7695, 0.8697, 0.9218, 0.9599, 0.9920, 0.9940, 0.9940, 0.9960, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000),
    "val_loss": (84.8603, 79.3499, 74.3825, 69.7094, 65.3891, 61.3363, 57.5528, 54.0217, 50.6958, 47.5862, 44.6632, 41.9287, 39.3615, 36.9598, 34.7022, 32.5853, 30.6035, 28.7365, 26.9901, 25.3513, 23.8145, 22.3734, 21.0222, 19.7538, 18.5643, 17.4488, 16.4013, 15.4161, 14.4965, 13.6330),
    "val_accuracy": (0.5237, 0.6639, 0.6790, 0.7421, 0.7529, 0.7656, 0.7776, 0.7703, 0.7783, 0.7832, 0.7885, 0.7883, 0.7896, 0.7876, 0.7889, 0.7909, 0.7905, 0.7949, 0.7938, 0.7945, 0.7974, 0.7978, 0.7985, 0.7976, 0.8023, 0.8000, 0.8025, 0.8049, 0.8040, 0.8045),
}
_L2_TEST_ACC = 0.8058  # "Accuracy on data is: 80.580000"
_L1 = {
    "loss": (1785.2297, 852.7304, 280.0506, 71.5677, 63.9500, 63.0584, 61.3745, 61.0569, 61.4836, 62.6924, 60.0915, 61.8833, 62.2545, 61.5555, 61.3534, 62.0704, 61.2334, 59.1037, 60.0951, 61.5159, 60.1841, 60.2358, 59.3979, 59.3613, 59.0373, 60.4352, 59.0127, 57.6234, 57.9505, 56.8575),
    "accuracy": (0.3848, 0.7615, 0.6473, 0.3186, 0.2044, 0.2385, 0.2605, 0.2204, 0.2485, 0.2305, 0.2665, 0.2184, 0.2365, 0.2405, 0.2064, 0.2605, 0.1904, 0.2385, 0.2405, 0.2204, 0.2325, 0.2044, 0.2345, 0.2425, 0.2505, 0.2144, 0.2184, 0.2505, 0.2325, 0.2826),
    "val_loss": (1220.3727, 482.5384, 115.0753, 66.7889, 64.4912, 66.5936, 58.0090, 58.4634, 61.5128, 62.4906, 62.7789, 60.1265, 63.1126, 64.7248, 67.5796, 62.5856, 60.5134, 64.9267, 66.8212, 62.8443, 61.3460, 58.4594, 58.2181, 56.2199, 68.2091, 66.9557, 59.0704, 58.1992, 59.2909, 61.6420),
    "val_accuracy": (0.5146, 0.6392, 0.3039, 0.1069, 0.2322, 0.1991, 0.2419, 0.1393, 0.1073, 0.1866, 0.2535, 0.2044, 0.2446, 0.1955, 0.2266, 0.1888, 0.1975, 0.1031, 0.1775, 0.0878, 0.1997, 0.2802, 0.1238, 0.2188, 0.1497, 0.1569, 0.1537, 0.2084, 0.3097, 0.3253),
}
_L1_TEST_ACC = 0.3137  # "Accuracy on data is: 31.370000"
_DROPOUT = {
    "loss": (2.2396, 1.4942, 1.1086, 0.9636, 0.7768, 0.6749, 0.6095, 0.5373, 0.4906, 0.4308, 0.4454, 0.3915, 0.3171, 0.3165, 0.2935, 0.2756, 0.2798, 0.2467, 0.2252, 0.2177, 0.2125, 0.1995, 0.1868, 0.1955, 0.1779, 0.1641, 0.1634, 0.1598, 0.1462, 0.1352),
    "accuracy": (0.2505, 0.4870, 0.6874, 0.7275, 0.7836, 0.8236, 0.8417, 0.8517, 0.8677, 0.8878, 0.8818, 0.8918, 0.9279, 0.9198, 0.9319, 0.9459, 0.9319, 0.9499, 0.9619, 0.9559, 0.9579, 0.9719, 0.9699, 0.9639, 0.9679, 0.9719, 0.9679, 0.9659, 0.9760, 0.9860),
    "val_loss": (1.5683, 1.2963, 1.1065, 0.9713, 0.8931, 0.8310, 0.7930, 0.7667, 0.7473, 0.7187, 0.6940, 0.6893, 0.6742, 0.6649, 0.6424, 0.6371, 0.6245, 0.6245, 0.6141, 0.6040, 0.5978, 0.5987, 0.5925, 0.5877, 0.5811, 0.5810, 0.5802, 0.5739, 0.5666, 0.5704),
    "val_accuracy": (0.5425, 0.6241, 0.6983, 0.7358, 0.7592, 0.7698, 0.7732, 0.7785, 0.7792, 0.7832, 0.7920, 0.7876, 0.7969, 0.8038, 0.8043, 0.8045, 0.8100, 0.8069, 0.8149, 0.8163, 0.8198, 0.8149, 0.8212, 0.8192, 0.8198, 0.8205, 0.8198, 0.8189, 0.8265, 0.8232),
}
_DROPOUT_TEST_ACC = 0.8192  # "Accuracy on data is: 81.920000"
_L2_DROPOUT = {
    "loss": (112.2160, 104.5343, 97.7437, 91.5911, 85.8799, 80.4959, 75.4605, 70.7796, 66.4126, 62.2594, 58.3965, 54.7713, 51.3562, 48.1587, 45.1754, 42.3787, 39.7404, 37.2721, 34.9669, 32.7975, 30.7575, 28.8517, 27.0614, 25.3779, 23.8075, 22.3358, 20.9489, 19.6474, 18.4272, 17.2813),
    "accuracy": (0.3186, 0.6393, 0.8096, 0.8557, 0.8858, 0.9078, 0.9178, 0.9419, 0.9299, 0.9619, 0.9639, 0.9619, 0.9860, 0.9860, 0.9840, 0.9840, 0.9920, 0.9940, 0.9940, 0.9920, 0.9980, 0.9980, 0.9980, 1.0000, 0.9960, 0.9940, 1.0000, 0.9980, 1.0000, 1.0000),
    "val_loss": (107.7351, 100.9413, 94.6192, 88.6806, 83.1937, 78.0556, 73.2524, 68.7351, 64.4925, 60.5213, 56.7890, 53.2896, 50.0133, 46.9399, 44.0489, 41.3556, 38.8238, 36.4492, 34.2052, 32.1161, 30.1569, 28.3271, 26.5868, 24.9682, 23.4496, 22.0349, 20.6936, 19.4332, 18.2538, 17.1515),
    "val_accuracy": (0.6219, 0.6499, 0.7236, 0.7765, 0.7947, 0.7969, 0.8025, 0.8083, 0.8080, 0.8200, 0.8223, 0.8258, 0.8289, 0.8307, 0.8360, 0.8356, 0.8318, 0.8347, 0.8389, 0.8349, 0.8347, 0.8360, 0.8436, 0.8374, 0.8451, 0.8391, 0.8431, 0.8438, 0.8449, 0.8451),
}
_L2_DROPOUT_TEST_ACC = 0.8444  # "Accuracy on data is: 84.440000"


def _spec(name: str, section: str, title: str, layers: tuple, history: dict, test_acc: float,
          total: int, expectations: tuple) -> ExperimentSpec:
    exp_id = f"{DOC}/{name}"
    return ExperimentSpec(
        id=exp_id,
        source=SOURCE,
        section=section,
        title=title,
        data=DATA,
        model=ModelSpec(input_shape=(784,), layers=layers),
        compile=COMPILE,
        fit=FIT,
        documented=Documented(
            history=history,
            test={"accuracy": test_acc},
            params={"total": total, "trainable": total, "non_trainable": 0},
            environment=ENVIRONMENT,
        ),
        expectations=(ParamCount(exp_id, total, total, 0),) + expectations,
        fidelity=FIDELITY,
        assumptions=ASSUMPTIONS,
    )


def _id(name: str) -> str:
    return f"{DOC}/{name}"


SOFTMAX = dense(10, "softmax")
SPECS = (
    _spec(
        "baseline", "동기 부여를 위해 적은 데이터로 너무 많은 노드를 추가해 보자!",
        "1024 sigmoid units on 499 images, no regularisation",
        (dense(1024, "sigmoid"), SOFTMAX), _BASELINE, _BASELINE_TEST_ACC, 814_090, (),
    ),
    _spec(
        "l2", "L1 and L2 weight regularization",
        "hidden kernel L2(0.1): the penalty dominates the loss",
        (dense(1024, "sigmoid", kernel_regularizer=Regularizer(l2=0.1)), SOFTMAX), _L2, _L2_TEST_ACC, 814_090,
        (LossInflation(_id("l2"), over=_id("baseline"), factor=20.0), FallsBy(_id("l2"), factor=5.0)),
    ),
    _spec(
        "l1", "L1 weight regularization",
        "hidden kernel L1(0.1): the penalty collapses accuracy",
        (dense(1024, "sigmoid", kernel_regularizer=Regularizer(l1=0.1)), SOFTMAX), _L1, _L1_TEST_ACC, 814_090,
        (
            LossInflation(_id("l1"), over=_id("baseline"), factor=300.0),
            Collapse(_id("l1"), reference=_id("baseline"), at_most=0.5, drop_at_least=0.25),
        ),
    ),
    _spec(
        "dropout", "Dropout",
        "Dropout(0.5) after the hidden layer",
        (dense(1024, "sigmoid"), dropout(0.5), SOFTMAX), _DROPOUT, _DROPOUT_TEST_ACC, 814_090,
        (BetterThan(_id("dropout"), than=_id("baseline"), key="test.accuracy"),),
    ),
    _spec(
        "l2_dropout", "Combining different types of regularization",
        "2048 sigmoid units with L2(0.1), then Dropout(0.5)",
        (dense(2048, "sigmoid", kernel_regularizer=Regularizer(l2=0.1)), dropout(0.5), SOFTMAX),
        _L2_DROPOUT, _L2_DROPOUT_TEST_ACC, 1_628_170,
        (BetterThan(_id("l2_dropout"), than=_id("baseline"), key="test.accuracy"),),
    ),
)
