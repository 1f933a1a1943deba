"""Analysis: probabilities, example picks, feature maps, weights, curve and error facts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hwlib import analysis as A
from hwlib.config import ConvLayer, ModelSpec
from hwlib.models import build

TINY_SPEC = ModelSpec(convs=(ConvLayer(4, 3, pool=True), ConvLayer(8, 3, pool=True), ConvLayer(16, 3)),
                      dense=(8,))


def tiny_model(spec: ModelSpec = TINY_SPEC, shape: tuple[int, int, int] = (28, 28, 1)):
    """An untrained tiny network, seeded so its weights are the same in every run."""
    import keras

    keras.utils.set_random_seed(0)
    return build(spec, shape)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).random((6, 28, 28, 1), dtype=np.float32)


def one_hot_proba(pred: list[int], n_classes: int = 10) -> np.ndarray:
    """Probabilities that put 0.91 on the predicted class and 0.01 on each other."""
    proba = np.full((len(pred), n_classes), 0.01)
    proba[np.arange(len(pred)), pred] = 0.91
    return proba


# -- predict_proba ---------------------------------------------------------------------


def test_predict_proba_is_the_softmax_of_the_logits(model, images):
    proba = A.predict_proba(model, images)
    logits = model.predict(images, verbose=0).astype(np.float64)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert proba.shape == (6, 10) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(proba, expected, rtol=1e-6)
    np.testing.assert_allclose(A.predict_proba(model, images, batch_size=4), proba, rtol=1e-5)


class FixedLogits:
    """A stand-in model whose logits are given (predict ignores its input)."""

    def __init__(self, logits: np.ndarray):
        self.logits = logits

    def predict(self, x, batch_size: int, verbose: int) -> np.ndarray:
        return self.logits


def test_predict_proba_does_not_overflow_on_large_logits():
    logits = np.array([[1000.0, 0.0, 999.0] + [0.0] * 7, [-1000.0] * 10], dtype=np.float32)
    proba = A.predict_proba(FixedLogits(logits), np.zeros((2, 1)))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba[0, :3], [1 / (1 + np.exp(-1)), 0, 1 / (1 + np.exp(1))], atol=1e-12)
    np.testing.assert_allclose(proba[1], 0.1)


# -- pick_examples ---------------------------------------------------------------------


def test_pick_examples_returns_the_first_right_and_wrong_images_in_order():
    y_true = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    proba = one_hot_proba([0, 9, 2, 9, 4, 5, 9, 7])
    np.testing.assert_array_equal(A.pick_examples(y_true, proba, n=3, correct=True), [0, 2, 4])
    np.testing.assert_array_equal(A.pick_examples(y_true, proba, n=5, correct=True), [0, 2, 4, 5, 7])
    np.testing.assert_array_equal(A.pick_examples(y_true, proba, n=5, correct=False), [1, 3, 6])
    np.testing.assert_array_equal(A.pick_examples(y_true, proba, n=2, correct=False), [1, 3])
    again = A.pick_examples(y_true, proba, n=3, correct=True)
    np.testing.assert_array_equal(again, [0, 2, 4])


def test_pick_examples_with_no_wrong_image_is_empty_not_an_error():
    y_true = np.arange(10)
    wrong = A.pick_examples(y_true, one_hot_proba(list(range(10))), n=5, correct=False)
    assert wrong.shape == (0,) and np.issubdtype(wrong.dtype, np.integer)
    assert len(A.pick_examples(y_true, one_hot_proba(list(range(10))), n=0)) == 0


def test_pick_examples_rejects_bad_input():
    with pytest.raises(ValueError, match="one row per label"):
        A.pick_examples(np.arange(3), one_hot_proba([0, 1]))
    with pytest.raises(ValueError, match="n must be"):
        A.pick_examples(np.arange(2), one_hot_proba([0, 1]), n=-1)


# -- feature_maps, layer_weights -------------------------------------------------------


def forward_to(model, image: np.ndarray, name: str) -> np.ndarray:
    """The output of layer ``name``, by calling the layers one after another."""
    x = image[np.newaxis]
    for layer in model.layers[1:]:
        x = layer(x)
        if layer.name == name:
            return np.asarray(x)[0]
    raise KeyError(name)


def test_feature_maps_are_the_conv_layer_outputs(model, images):
    maps = A.feature_maps(model, images[0])
    assert list(maps) == ["conv1", "conv2", "conv3"]
    for name, activation in maps.items():
        assert activation.shape == tuple(model.get_layer(name).output.shape[1:])
        assert (activation >= 0).all()  # after the ReLU
        np.testing.assert_allclose(activation, forward_to(model, images[0], name), rtol=1e-5, atol=1e-6)
    assert [m.shape for m in maps.values()] == [(28, 28, 4), (14, 14, 8), (7, 7, 16)]
    again = A.feature_maps(model, images[0])
    for name in maps:
        np.testing.assert_array_equal(again[name], maps[name])


def test_feature_maps_of_rgb_images():
    rgb = tiny_model(shape=(32, 32, 3))
    image = np.random.default_rng(1).random((32, 32, 3), dtype=np.float32)
    maps = A.feature_maps(rgb, image)
    assert [m.shape for m in maps.values()] == [(32, 32, 4), (16, 16, 8), (8, 8, 16)]
    with pytest.raises(ValueError, match="input shape"):
        A.feature_maps(rgb, image[..., :1])


def test_layer_weights_lists_every_weighted_layer_in_order(model):
    weights = A.layer_weights(model)
    assert list(weights) == ["conv1", "conv2", "conv3", "fc1", "output"]
    shapes = {name: (kernel.shape, bias.shape) for name, (kernel, bias) in weights.items()}
    assert shapes == {
        "conv1": ((3, 3, 1, 4), (4,)),
        "conv2": ((3, 3, 4, 8), (8,)),
        "conv3": ((3, 3, 8, 16), (16,)),
        "fc1": ((7 * 7 * 16, 8), (8,)),
        "output": ((8, 10), (10,)),
    }
    np.testing.assert_array_equal(weights["fc1"][0], model.get_layer("fc1").get_weights()[0])
    two_dense = tiny_model(ModelSpec(convs=(ConvLayer(2, 3),), dense=(4, 3)))
    assert list(A.layer_weights(two_dense)) == ["conv1", "fc1", "fc2", "output"]


# -- curve_facts -----------------------------------------------------------------------


def history(train: list[float], test: list[float], epochs: list[int] | None = None,
            test_loss: list[float] | None = None) -> pd.DataFrame:
    epochs = epochs or list(range(1, len(train) + 1))
    return pd.DataFrame({"epoch": epochs, "loss": 1.0, "accuracy": train,
                         "test_loss": test_loss or [1.0] * len(train), "test_accuracy": test})


def test_curve_facts_read_the_last_and_the_best_epoch():
    f = A.curve_facts(history([0.5, 0.6, 0.7, 0.8, 0.9], [0.5, 0.6, 0.62, 0.621, 0.618]))
    assert f["best_epoch"] == 4 and f["best_test_acc"] == pytest.approx(62.1)
    assert f["train_acc"] == pytest.approx(90.0) and f["test_acc"] == pytest.approx(61.8)
    assert f["gap"] == pytest.approx(90.0 - 61.8) and f["epochs"] == 5
    assert f["epochs_test_above_train"] == 0
    tie = A.curve_facts(history([0.5, 0.6, 0.7], [0.6, 0.7, 0.7]))
    assert tie["best_epoch"] == 2  # the first epoch reaching the best


def test_curve_facts_with_test_above_train():
    f = A.curve_facts(history([0.80, 0.85, 0.90], [0.85, 0.90, 0.95]))
    assert f["gap"] == pytest.approx(-5.0)  # negative: the test accuracy is the higher
    assert f["epochs_test_above_train"] == 3


def test_curve_facts_measure_how_far_the_test_loss_rose_from_its_minimum():
    rising = A.curve_facts(history([0.6, 0.8, 0.9], [0.6, 0.7, 0.699], test_loss=[1.0, 0.8, 1.1]))
    assert rising["min_test_loss_epoch"] == 2 and rising["min_test_loss"] == pytest.approx(0.8)
    assert rising["test_loss"] == pytest.approx(1.1) and rising["test_loss_rise"] == pytest.approx(37.5)
    falling = A.curve_facts(history([0.6, 0.8], [0.6, 0.7], test_loss=[0.3, 0.2]))
    assert falling["min_test_loss_epoch"] == 2 and falling["test_loss_rise"] == 0


def test_curve_facts_order_epochs_and_handle_one_epoch():
    f = A.curve_facts(history([0.9, 0.5, 0.7], [0.6, 0.5, 0.6], epochs=[3, 1, 2]))
    assert f["train_acc"] == pytest.approx(90.0) and f["test_acc"] == pytest.approx(60.0)
    assert f["best_epoch"] == 2 and f["epochs_test_above_train"] == 0
    single = A.curve_facts(history([0.7], [0.8]))
    assert single["best_epoch"] == 1 and single["epochs_test_above_train"] == 1


def test_curve_facts_reject_bad_histories():
    with pytest.raises(ValueError, match="test_accuracy"):
        A.curve_facts(pd.DataFrame({"epoch": [1], "accuracy": [0.5]}))
    with pytest.raises(ValueError, match="empty"):
        A.curve_facts(history([], []))


# -- error_facts, top_confusions -----------------------------------------------------


def test_error_facts_count_mistakes_and_confidence():
    y = np.array([0, 1, 2, 1, 1])
    proba = np.eye(3)[[0, 2, 2, 2, 1]] * 0.9 + 0.1 / 3  # predicted 0, 2, 2, 2, 1: two wrong
    proba[0] = [0.5, 0.3, 0.2]
    f = A.error_facts(y, proba)
    assert (f["n_test"], f["n_wrong"]) == (5, 2) and f["error_rate"] == pytest.approx(40.0)
    assert f["conf_right"] == pytest.approx(100 * (0.5 + 2 * (0.9 + 0.1 / 3)) / 3)
    assert f["conf_wrong"] == pytest.approx(100 * (0.9 + 0.1 / 3))
    none_wrong = A.error_facts(np.array([0, 1]), np.eye(3)[[0, 1]])
    assert none_wrong["n_wrong"] == 0 and np.isnan(none_wrong["conf_wrong"])


def test_top_confusions_are_the_most_frequent_mistakes_first():
    y = np.array([1, 1, 1, 2, 2, 0, 0])
    pred = [2, 2, 0, 0, 0, 0, 1]  # 1->2 twice, 2->0 twice, 1->0 once, 0->1 once
    df = A.top_confusions(y, one_hot_proba(pred, 3), ("a", "b", "c"), n=3)
    assert list(df.columns) == ["true class", "predicted", "images"]
    assert df.values.tolist() == [["b", "c", 2], ["c", "a", 2], ["a", "b", 1]]  # ties in class order
    assert len(A.top_confusions(y, one_hot_proba(pred, 3), ("a", "b", "c"), n=10)) == 4
    assert A.top_confusions(np.array([0, 1]), one_hot_proba([0, 1], 3), ("a", "b", "c")).empty
