"""What the figures and the prose of a chapter are computed from.

Pure functions, NumPy in and out: class probabilities of a trained model, the
correctly and wrongly classified test images to show, the activations of the
convolution layers for one image (feature maps), the weights of every layer, and the
facts about a learning curve that the prose states (final accuracies, where the test
accuracy stops improving, where overfitting starts). Keras is imported inside the
functions that need it.
"""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

WEIGHTED_LAYERS = ("Conv2D", "Dense")
"""Keras layer classes whose kernel and bias :func:`layer_weights` returns."""

PLATEAU_TOLERANCE = 0.005
"""Accuracy (as a fraction) within which the test accuracy counts as at its best: 0.5 pp."""


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


def feature_image_index(y_true: np.ndarray, proba: np.ndarray) -> int:
    """The test image whose feature maps are shown: the first correctly classified one."""
    first = pick_examples(y_true, proba, n=1, correct=True)
    if len(first) == 0:
        raise ValueError(
            "No test image is classified correctly, so there is no image for the feature maps."
        )
    return int(first[0])


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


class AccuracyGap(TypedDict):
    """What :func:`accuracy_gap` reports about a learning curve (accuracies as fractions)."""

    epochs: int
    train_accuracy: float
    test_accuracy: float
    gap: float
    test_above_train: bool
    test_above_train_every_epoch: bool
    best_test_accuracy: float
    best_epoch: int
    plateau_epoch: int
    overfit_epoch: int | None


def accuracy_gap(history: Any, tolerance: float = PLATEAU_TOLERANCE) -> AccuracyGap:
    """The facts about a run's accuracy curves that a chapter's prose states.

    ``history`` is a run's history DataFrame (``epoch``, ``accuracy``,
    ``test_accuracy``, ...). Returned, with accuracies as fractions:

    * ``train_accuracy``, ``test_accuracy``: at the last epoch; ``gap`` = test − train
      (positive when the test accuracy is the higher, as with strong L2);
      ``test_above_train``: ``gap > 0``; ``test_above_train_every_epoch``: the test
      accuracy is above the training accuracy at every epoch.
    * ``best_test_accuracy`` and ``best_epoch``: the maximum of the test accuracy and
      the first epoch reaching it.
    * ``plateau_epoch``: the epoch after which the test accuracy stops improving, i.e.
      the first epoch whose test accuracy is within ``tolerance`` (0.5 percentage
      point) of its maximum. After it, the test accuracy gains at most ``tolerance``.
    * ``overfit_epoch``: where overfitting starts: ``plateau_epoch`` if the training
      accuracy still rises by more than ``tolerance`` from that epoch to the last one
      (the training accuracy keeps rising while the test accuracy no longer does);
      ``None`` otherwise (the test accuracy improves until the end, or the training
      accuracy stalls with it).
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}.")
    missing = {"epoch", "accuracy", "test_accuracy"} - set(history.columns)
    if missing:
        raise ValueError(f"history lacks the column(s) {', '.join(sorted(missing))}.")
    if len(history) == 0:
        raise ValueError("history is empty: it needs at least one epoch.")
    ordered = history.sort_values("epoch")
    epochs = ordered["epoch"].to_numpy(dtype=int)
    train = ordered["accuracy"].to_numpy(dtype=float)
    test = ordered["test_accuracy"].to_numpy(dtype=float)

    best = int(np.argmax(test))
    plateau = int(np.flatnonzero(test >= test[best] - tolerance)[0])
    overfits = train[-1] - train[plateau] > tolerance
    return AccuracyGap(
        epochs=len(epochs),
        train_accuracy=float(train[-1]),
        test_accuracy=float(test[-1]),
        gap=float(test[-1] - train[-1]),
        test_above_train=bool(test[-1] > train[-1]),
        test_above_train_every_epoch=bool(np.all(test > train)),
        best_test_accuracy=float(test[best]),
        best_epoch=int(epochs[best]),
        plateau_epoch=int(epochs[plateau]),
        overfit_epoch=int(epochs[plateau]) if overfits else None,
    )


# ---------------------------------------------------------------------------------------
# Findings: every result-dependent value or phrase the prose states
# ---------------------------------------------------------------------------------------
def _config_text(row: Any) -> str:
    return f"{row['kernel']} kernels with stride {row['stride']} and {row['padding']} padding"


def sweep_findings(df: Any, base_name: str) -> dict[str, Any]:
    """What the prose says about Table 3 / Table 6 (``df`` from ``tables.sweep_table``)."""
    acc = "test accuracy (%)"
    best, second, worst = df.iloc[0], df.iloc[min(1, len(df) - 1)], df.iloc[-1]
    stride1, strided = df[df["stride"] == 1], df[df["stride"] > 1]
    if len(stride1) and len(strided):
        if stride1[acc].min() > strided[acc].max():
            verdict = "every stride-1 configuration beats every strided one"
        elif stride1[acc].mean() > strided[acc].mean():
            verdict = "stride-1 configurations do better on average, but not every one beats every strided one"
        else:
            verdict = "strided configurations do as well as or better than stride 1 on average"
    else:
        verdict = "the sweep has no strided configuration to compare"
    base_rank = int(df.index[df["experiment"].isin([base_name])][0]) + 1 if base_name in set(df["experiment"]) else 0
    return {
        "best_config": _config_text(best), "best_acc": float(best[acc]), "best_loss": float(best["test loss"]),
        "second_config": _config_text(second), "second_gap": float(-second["Δ accuracy (pp)"]),
        "worst_config": _config_text(worst), "worst_acc": float(worst[acc]),
        "worst_gap": float(-worst["Δ accuracy (pp)"]),
        "stride1_mean": float(stride1[acc].mean()) if len(stride1) else float("nan"),
        "strided_mean": float(strided[acc].mean()) if len(strided) else float("nan"),
        "stride_verdict": verdict,
        "base_rank": base_rank,
        "base_is_best": "is" if base_rank == 1 else "is not",
    }


OVERFIT_LOSS_RISE = 0.10  # a final test loss 10% above its minimum counts as overfitting


def curve_findings(history: Any) -> dict[str, Any]:
    """Where the learning curves end, where the test accuracy plateaus, and whether the
    test loss turns up (accuracies in percent)."""
    g = accuracy_gap(history)
    h = history.sort_values("epoch").reset_index(drop=True)
    i_min = int(h["test_loss"].idxmin())
    rise = float(h["test_loss"].iloc[-1] - h["test_loss"].iloc[i_min])
    min_epoch = int(h["epoch"].iloc[i_min])
    tol = 100 * PLATEAU_TOLERANCE
    if g["overfit_epoch"] is not None:
        plateau = (f"from epoch {g['overfit_epoch']} on, the test accuracy stays within {tol:g} point of "
                   "its best while the training accuracy keeps rising")
    else:
        plateau = "the test accuracy keeps pace with the training accuracy up to the last epoch"
    min_loss = float(h["test_loss"].iloc[i_min])
    if rise > OVERFIT_LOSS_RISE * min_loss:
        loss = (f"the test loss is lowest after epoch {min_epoch} and has risen by {rise:.3f} "
                f"({100 * rise / min_loss:.0f}%) by the end while the training loss keeps falling: "
                "the network overfits")
    elif rise > 0:
        loss = (f"the test loss is lowest after epoch {min_epoch} and ends within "
                f"{100 * rise / min_loss:.0f}% of that minimum: at most mild overfitting")
    else:
        loss = "the test loss is still at its lowest at the last epoch: no sign of overfitting yet"
    return {
        "epochs": g["epochs"],
        "test_acc": 100 * g["test_accuracy"], "train_acc": 100 * g["train_accuracy"],
        "test_loss": float(h["test_loss"].iloc[-1]), "train_loss": float(h["loss"].iloc[-1]),
        "gap": 100 * abs(g["gap"]),
        "test_vs_train": "above" if g["test_above_train"] else "below",
        "relation_phrase": (
            "the test accuracy is above the training accuracy at every epoch"
            if g["test_above_train_every_epoch"] else
            f"the test accuracy ends {'above' if g['test_above_train'] else 'below'} the training accuracy"),
        "best_test_epoch": g["best_epoch"], "best_test_acc": 100 * g["best_test_accuracy"],
        "min_test_loss_epoch": min_epoch, "test_loss_rise": rise,
        "plateau_phrase": plateau, "overfit_phrase": loss,
    }


def compare_findings(base: Any, other: Any) -> dict[str, Any]:
    """How a variant (L2, tuned) compares with the base run at the end of training."""
    b, o = curve_findings(base.history), curve_findings(other.history)
    diff = o["test_acc"] - b["test_acc"]
    return {
        **{f"other_{k}": v for k, v in o.items()},
        "acc_diff": abs(diff),
        "acc_direction": "higher" if diff > 0 else "lower",
        "gap_base": b["gap"], "gap_other": o["gap"],
        "gap_direction": "narrower" if o["gap"] < b["gap"] else "wider",
    }


def example_findings(y_true: Any, proba: Any, class_names: tuple[str, ...]) -> dict[str, Any]:
    """Errors on the test set: how many, the most common confusion, confidence."""
    y_true = np.asarray(y_true)
    pred = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    wrong = pred != y_true
    pairs = np.zeros((len(class_names), len(class_names)), dtype=int)
    np.add.at(pairs, (y_true[wrong], pred[wrong]), 1)
    t, p = np.unravel_index(pairs.argmax(), pairs.shape)
    return {
        "n_test": int(len(y_true)), "n_wrong": int(wrong.sum()),
        "top_true": class_names[t], "top_pred": class_names[p], "top_count": int(pairs[t, p]),
        "conf_right": 100 * float(conf[~wrong].mean()) if (~wrong).any() else float("nan"),
        "conf_wrong": 100 * float(conf[wrong].mean()) if wrong.any() else float("nan"),
    }
