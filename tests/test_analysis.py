"""Analysis: probabilities, example picks, feature maps, weights, accuracy-curve facts."""

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


# -- pick_examples, feature_image_index ------------------------------------------------


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


def test_feature_image_index_is_the_first_correct_image():
    y_true = np.array([3, 1, 2, 2])
    assert A.feature_image_index(y_true, one_hot_proba([0, 0, 2, 2])) == 2
    assert isinstance(A.feature_image_index(y_true, one_hot_proba([3, 0, 0, 0])), int)
    with pytest.raises(ValueError, match="No test image"):
        A.feature_image_index(y_true, one_hot_proba([0, 0, 0, 0]))


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


def test_feature_maps_of_chosen_layers_and_rgb_images():
    rgb = tiny_model(shape=(32, 32, 3))
    image = np.random.default_rng(1).random((32, 32, 3), dtype=np.float32)
    maps = A.feature_maps(rgb, image, layers=["conv2"])
    assert list(maps) == ["conv2"] and maps["conv2"].shape == (16, 16, 8)
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


# -- accuracy_gap ----------------------------------------------------------------------


def history(train: list[float], test: list[float], epochs: list[int] | None = None) -> pd.DataFrame:
    epochs = epochs or list(range(1, len(train) + 1))
    return pd.DataFrame({"epoch": epochs, "loss": 1.0, "accuracy": train, "test_loss": 1.0,
                         "test_accuracy": test})


def test_accuracy_gap_finds_where_overfitting_starts():
    gap = A.accuracy_gap(history([0.5, 0.6, 0.7, 0.8, 0.9], [0.5, 0.6, 0.62, 0.621, 0.618]))
    assert gap["best_epoch"] == 4 and gap["best_test_accuracy"] == pytest.approx(0.621)
    assert gap["plateau_epoch"] == 3  # 0.62 is within 0.5 pp of 0.621
    assert gap["overfit_epoch"] == 3
    assert gap["train_accuracy"] == pytest.approx(0.9) and gap["test_accuracy"] == pytest.approx(0.618)
    assert gap["gap"] == pytest.approx(0.618 - 0.9)
    assert gap["test_above_train"] is False and gap["epochs"] == 5


def test_accuracy_gap_with_test_above_train_and_still_improving():
    gap = A.accuracy_gap(history([0.80, 0.85, 0.90], [0.85, 0.90, 0.95]))
    assert gap["test_above_train"] is True and gap["test_above_train_every_epoch"] is True
    assert gap["gap"] == pytest.approx(0.05)
    assert gap["plateau_epoch"] == 3 and gap["overfit_epoch"] is None


def test_accuracy_gap_is_not_overfitting_when_training_stalls_too():
    gap = A.accuracy_gap(history([0.90, 0.90, 0.90, 0.902], [0.80, 0.85, 0.85, 0.85]))
    assert gap["plateau_epoch"] == 2 and gap["overfit_epoch"] is None
    assert gap["test_above_train_every_epoch"] is False
    assert A.accuracy_gap(history([0.90, 0.90, 0.90, 0.902], [0.80, 0.85, 0.85, 0.85]),
                          tolerance=0.001)["overfit_epoch"] == 2


def test_accuracy_gap_orders_epochs_and_handles_one_epoch():
    shuffled = history([0.9, 0.5, 0.7], [0.6, 0.5, 0.6], epochs=[3, 1, 2])
    gap = A.accuracy_gap(shuffled)
    assert gap["train_accuracy"] == pytest.approx(0.9) and gap["plateau_epoch"] == 2
    assert gap["overfit_epoch"] == 2
    single = A.accuracy_gap(history([0.7], [0.8]))
    assert single["plateau_epoch"] == single["best_epoch"] == 1 and single["overfit_epoch"] is None


def test_accuracy_gap_rejects_bad_histories():
    with pytest.raises(ValueError, match="test_accuracy"):
        A.accuracy_gap(pd.DataFrame({"epoch": [1], "accuracy": [0.5]}))
    with pytest.raises(ValueError, match="empty"):
        A.accuracy_gap(history([], []))
