"""What the figures and the numbers of a chapter are computed from.

Pure functions, NumPy in and out: class probabilities of a trained model, the
correctly and wrongly classified test images to show, the activations of the
convolution layers for one image (feature maps), the weights of every layer, and the
numbers a chapter states about a learning curve, a sweep and the test-set errors (final
accuracies, the best epoch, the most frequent mistakes). They
return numbers and tables, never words: the prose is the chapter's. Keras is imported
inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

WEIGHTED_LAYERS = ("Conv2D", "Dense")
"""Keras layer classes whose kernel and bias :func:`layer_weights` returns."""

def predict_proba(model: Any, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities ``(N, n_classes)``: the softmax of the model's logits.

    The output layer of :func:`hwlib.models.build` emits logits; the softmax is taken
    here in float64 (shifted by the row maximum, so large logits do not overflow), so
    every row sums to 1.
    """
    logits = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _correct(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Boolean mask: whether the most probable class of each row is the true label."""
    y_true = np.asarray(y_true)
    proba = np.asarray(proba)
    if proba.ndim != 2 or len(proba) != len(y_true):
        raise ValueError(
            f"proba must be (N, n_classes) with one row per label: got {proba.shape} for "
            f"{len(y_true)} labels."
        )
    return proba.argmax(axis=1) == y_true


def pick_examples(y_true: np.ndarray, proba: np.ndarray, n: int = 5, correct: bool = True) -> np.ndarray:
    """Indices of the first ``n`` test images, in test-set order, classified right (or wrong).

    ``correct=False`` picks misclassified images. Fewer than ``n`` indices (possibly none)
    come back when fewer such images exist. The prediction is the most probable class.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}.")
    hits = _correct(y_true, proba)
    return np.flatnonzero(hits if correct else ~hits)[:n]


def conv_layer_names(model: Any) -> list[str]:
    """Names of the model's convolution layers (``conv1``, ``conv2``, ...), in order."""
    return [layer.name for layer in model.layers if layer.name.startswith("conv")]


def feature_maps(model: Any, image: np.ndarray,
                 layers: list[str] | None = None) -> dict[str, np.ndarray]:
    """Activations ``(H, W, C)`` of the named layers for one ``image`` ``(H, W, C)``.

    ``layers`` defaults to every convolution layer (:func:`conv_layer_names`); the dict
    keeps their order. The activations are the layers' outputs after their ReLU.
    """
    import keras

    image = np.asarray(image, dtype=np.float32)
    if image.shape != tuple(model.input_shape[1:]):
        raise ValueError(
            f"image must have the model's input shape {model.input_shape[1:]}, got {image.shape}."
        )
    names = conv_layer_names(model) if layers is None else list(layers)
    probe = keras.Model(model.input, {name: model.get_layer(name).output for name in names})
    outputs = probe(image[np.newaxis], training=False)
    return {name: keras.ops.convert_to_numpy(outputs[name])[0] for name in names}


def layer_weights(model: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{layer name: (kernel, bias)}`` for every Conv2D and Dense layer, in model order."""
    weights = {}
    for layer in model.layers:
        if type(layer).__name__ in WEIGHTED_LAYERS:
            kernel, bias = layer.get_weights()
            weights[layer.name] = (kernel, bias)
    return weights


# ---------------------------------------------------------------------------------------
# Facts: the numbers a chapter's prose and small tables state (no words: the prose is the
# chapter's)
# ---------------------------------------------------------------------------------------
def curve_facts(history: Any) -> dict[str, Any]:
    """The numbers a chapter states about one run's learning curves, accuracies in percent.

    ``history`` is a run's history DataFrame (``epoch``, ``loss``, ``accuracy``,
    ``test_loss``, ``test_accuracy``), in any row order. Returned:

    * ``epochs``; ``train_acc``, ``test_acc``, ``train_loss``, ``test_loss``: at the last
      epoch; ``gap``: training minus test accuracy at the last epoch, in percentage points
      (negative when the test accuracy is the higher).
    * ``best_test_acc`` and ``best_epoch``: the highest test accuracy and the first epoch
      reaching it.
    * ``min_test_loss`` and ``min_test_loss_epoch``: the lowest test loss and its first
      epoch; ``test_loss_rise``: how far the last test loss is above that minimum, in
      percent of it (0 when the last epoch is the lowest).
    * ``epochs_test_above_train``: in how many epochs the test accuracy is above the
      training accuracy (the running mean over the epoch's batches, as Keras reports it).
    """
    missing = {"epoch", "loss", "accuracy", "test_loss", "test_accuracy"} - set(history.columns)
    if missing:
        raise ValueError(f"history lacks the column(s) {', '.join(sorted(missing))}.")
    if len(history) == 0:
        raise ValueError("history is empty: it needs at least one epoch.")
    h = history.sort_values("epoch")
    epochs = h["epoch"].to_numpy(dtype=int)
    train, test = h["accuracy"].to_numpy(dtype=float), h["test_accuracy"].to_numpy(dtype=float)
    test_loss = h["test_loss"].to_numpy(dtype=float)

    best = int(np.argmax(test))
    lowest = int(np.argmin(test_loss))
    return {
        "epochs": len(epochs),
        "train_acc": 100 * float(train[-1]), "test_acc": 100 * float(test[-1]),
        "train_loss": float(h["loss"].iloc[-1]), "test_loss": float(test_loss[-1]),
        "gap": 100 * float(train[-1] - test[-1]),
        "best_test_acc": 100 * float(test[best]), "best_epoch": int(epochs[best]),
        "min_test_loss": float(test_loss[lowest]), "min_test_loss_epoch": int(epochs[lowest]),
        "test_loss_rise": 100 * float(test_loss[-1] - test_loss[lowest]) / float(test_loss[lowest]),
        "epochs_test_above_train": int((test > train).sum()),
    }


def sweep_facts(df: Any, base_name: str) -> dict[str, Any]:
    """The numbers a chapter states about a kernel/stride sweep (``df`` from
    :func:`hwlib.tables.sweep_table`, best row first), accuracies in percent:
    ``configs``; ``best_acc``, ``worst_acc`` and ``spread`` (best minus worst, points);
    ``stride1_n``/``stride1_mean`` and ``strided_n``/``strided_mean``: how many
    configurations have stride 1 (or more) and their mean accuracy (NaN for none);
    ``stride_change``: ``strided_mean - stride1_mean``; ``base_rank``: the rank of
    ``base_name`` (1 is the best; 0 when it is not in the sweep)."""
    acc = df["test accuracy (%)"].astype(float)
    stride1, strided = acc[df["stride"] == 1], acc[df["stride"] > 1]
    names = list(df["experiment"])
    s1 = float(stride1.mean()) if len(stride1) else float("nan")
    s2 = float(strided.mean()) if len(strided) else float("nan")
    return {
        "configs": len(df), "best_acc": float(acc.max()), "worst_acc": float(acc.min()),
        "spread": float(acc.max() - acc.min()),
        "stride1_n": len(stride1), "stride1_mean": s1, "strided_n": len(strided), "strided_mean": s2,
        "stride_change": s2 - s1,
        "base_rank": names.index(base_name) + 1 if base_name in names else 0,
    }


def error_facts(y_true: Any, proba: Any) -> dict[str, Any]:
    """How many test images are misclassified and how sure the network is: ``n_test``,
    ``n_wrong``, ``error_rate`` (percent), and the mean probability (percent) the network
    gives its prediction when it is right (``conf_right``) and when it is wrong
    (``conf_wrong``; NaN when there is no such image)."""
    hits = _correct(y_true, proba)
    conf = np.asarray(proba).max(axis=1)
    return {
        "n_test": int(len(hits)), "n_wrong": int((~hits).sum()),
        "error_rate": 100 * float((~hits).mean()) if len(hits) else float("nan"),
        "conf_right": 100 * float(conf[hits].mean()) if hits.any() else float("nan"),
        "conf_wrong": 100 * float(conf[~hits].mean()) if (~hits).any() else float("nan"),
    }


def top_confusions(y_true: Any, proba: Any, class_names: Sequence[str], n: int = 3) -> Any:
    """The ``n`` most frequent mistakes as a DataFrame (``true class``, ``predicted``,
    ``images``), most frequent first (ties in class order); fewer rows when fewer kinds of
    mistake occur."""
    import pandas as pd

    y_true = np.asarray(y_true)
    wrong = ~_correct(y_true, proba)
    pairs = np.zeros((len(class_names), len(class_names)), dtype=int)
    np.add.at(pairs, (y_true[wrong], np.asarray(proba).argmax(axis=1)[wrong]), 1)
    order = np.argsort(-pairs, axis=None, kind="stable")[:n]
    rows = [(class_names[t], class_names[p], int(pairs[t, p]))
            for t, p in zip(*np.unravel_index(order, pairs.shape)) if pairs[t, p] > 0]
    return pd.DataFrame(rows, columns=["true class", "predicted", "images"])
