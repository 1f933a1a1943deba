"""What a chapter's figures and numbers come from: probabilities, example picks, feature maps,
weights, and the facts it states about curves, a sweep and errors (accuracies in percent)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import softmax

from hwlib.errors import ConfigError
from hwlib.train import HISTORY_COLUMNS


def predict_proba(model: Any, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities ``(N, n_classes)``: the float64 softmax of the model's logits."""
    return softmax(np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64), axis=1)


def check_table(frame: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    """Stop with a clear error unless ``frame`` (called ``what``) has the columns ``needed`` and a row."""
    missing = sorted(set(needed) - set(frame.columns))
    if missing:
        raise ConfigError(f"The {what} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}.")
    if len(frame) == 0:
        raise ConfigError(f"The {what} is empty.")


def _correct(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Whether the most probable class of each row is the true label."""
    y_true, proba = np.asarray(y_true), np.asarray(proba)
    if proba.ndim != 2 or len(proba) != len(y_true):
        raise ConfigError(f"proba must be (N, n_classes), one row per label: got {proba.shape} for {len(y_true)}.")
    return proba.argmax(axis=1) == y_true


def pick_examples(y_true: np.ndarray, proba: np.ndarray, n: int = 5, correct: bool = True) -> np.ndarray:
    """Indices of the first ``n`` test images classified right (or wrong), in test-set order."""
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}.")
    hits = _correct(y_true, proba)
    return np.flatnonzero(hits if correct else ~hits)[:n]


def feature_maps(model: Any, image: np.ndarray) -> dict[str, np.ndarray]:
    """Activations ``(H, W, C)``, after the ReLU, of every ``conv*`` layer for one ``image``."""
    import keras

    image = np.asarray(image, dtype=np.float32)
    if image.shape != tuple(model.input_shape[1:]):
        raise ConfigError(f"image must have the model's input shape {model.input_shape[1:]}, got {image.shape}.")
    names = [layer.name for layer in model.layers if layer.name.startswith("conv")]
    outputs = keras.Model(model.input, {name: model.get_layer(name).output for name in names})(
        image[np.newaxis], training=False)
    return {name: keras.ops.convert_to_numpy(outputs[name])[0] for name in names}


def layer_weights(model: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{layer name: (kernel, bias)}`` for every Conv2D and Dense layer, in model order."""
    return {layer.name: tuple(layer.get_weights()) for layer in model.layers
            if type(layer).__name__ in ("Conv2D", "Dense")}


def curve_facts(history: Any) -> dict[str, Any]:
    """One run's learning-curve numbers: at the last epoch ``train_acc``, ``test_acc``, ``test_loss`` and ``gap``
    (train - test, points); the best test accuracy and lowest test loss and their first epochs; ``test_loss_rise``
    (% above that lowest); ``epochs_test_above_train`` (test above Keras' running-mean training accuracy)."""
    check_table(history, HISTORY_COLUMNS, "history")
    h = history.sort_values("epoch")
    epochs = h["epoch"].to_numpy(dtype=int)
    train, test, loss = (h[c].to_numpy(dtype=float) for c in ("accuracy", "test_accuracy", "test_loss"))
    best, lowest = int(np.argmax(test)), int(np.argmin(loss))
    return {
        "epochs": len(epochs), "train_acc": 100 * float(train[-1]), "test_acc": 100 * float(test[-1]),
        "test_loss": float(loss[-1]), "gap": 100 * float(train[-1] - test[-1]),
        "best_test_acc": 100 * float(test[best]), "best_epoch": int(epochs[best]),
        "min_test_loss": float(loss[lowest]), "min_test_loss_epoch": int(epochs[lowest]),
        "test_loss_rise": 100 * float(loss[-1] - loss[lowest]) / float(loss[lowest]),
        "epochs_test_above_train": int((test > train).sum()),
    }


def sweep_facts(df: Any, base_name: str) -> dict[str, Any]:
    """A sweep's (:func:`hwlib.tables.sweep_table`) accuracy spread; count and mean accuracy (NaN for none) of
    stride-1 and strided configurations and their difference; the rank of ``base_name`` (0: absent)."""
    acc = df["test accuracy (%)"].astype(float)
    stride1, strided = acc[df["stride"] == 1], acc[df["stride"] > 1]
    s1, s2 = float(stride1.mean()), float(strided.mean())
    names = list(df["experiment"])
    return {"configs": len(df), "spread": float(acc.max() - acc.min()), "stride1_n": len(stride1), "stride1_mean": s1,
            "strided_n": len(strided), "strided_mean": s2, "stride_change": s2 - s1,
            "base_rank": names.index(base_name) + 1 if base_name in names else 0}


def error_facts(y_true: Any, proba: Any) -> dict[str, Any]:
    """``n_test``, ``n_wrong``, ``error_rate`` and the mean probability of the prediction when
    right (``conf_right``) and wrong (``conf_wrong``), in percent (NaN when there is none)."""
    hits = _correct(y_true, proba)
    conf = np.asarray(proba).max(axis=1)

    def percent(values: np.ndarray) -> float:
        return 100 * float(values.mean()) if len(values) else float("nan")

    return {"n_test": int(len(hits)), "n_wrong": int((~hits).sum()), "error_rate": percent(~hits),
            "conf_right": percent(conf[hits]), "conf_wrong": percent(conf[~hits])}


def top_confusions(y_true: Any, proba: Any, class_names: Sequence[str], n: int = 3) -> Any:
    """The ``n`` most frequent mistakes, most frequent first (ties in class order)."""
    y_true = np.asarray(y_true)
    wrong = ~_correct(y_true, proba)
    counts = Counter(zip(y_true[wrong].tolist(), np.asarray(proba).argmax(axis=1)[wrong].tolist()))
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]
    return pd.DataFrame([(class_names[t], class_names[p], c) for (t, p), c in top],
                        columns=["true class", "predicted", "images"])
