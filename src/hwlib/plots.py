"""Every figure kind of the book, in one style.

Each function first applies :func:`set_style` and returns a
:class:`matplotlib.figure.Figure`. It never calls ``plt.show()``, and the figure is
already closed in pyplot: a notebook shows it only where it is displayed (the last
expression of a cell, ``display(fig)``, a glue), once, and ``fig.savefig`` still
works. Figures are 8-10 inches wide, the width of a book page, with heights that
follow the number of rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.typing import ColorType
from numpy.typing import ArrayLike

from hwlib.train import HISTORY_COLUMNS

PALETTE = "colorblind"
COLORS = {"train": sns.color_palette(PALETTE)[0], "test": sns.color_palette(PALETTE)[1]}
FEATURE_CMAP = "viridis"
WIDTH = 9.0  # inches: the width of a full-width figure
HIST_COLUMNS = 3  # panels per row of the all-layers weight histogram grid
MAX_BINS = 50  # at most this many histogram bins
FMAP_COLUMNS = 8  # panels per row of a feature-map grid
FMAP_PANEL = 1.6  # inches: the largest feature-map panel
COLORBAR_SPACE = 0.8  # inches of figure width kept for a colour bar
EXAMPLE_PANEL = 1.8  # inches: the width of one example image

_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 12,
    "image.interpolation": "nearest",
}


def set_style() -> None:
    """The book's one look: seaborn "whitegrid", "notebook" context, a fixed palette.

    Resets the style each time it is called (so it is idempotent) and sets the figure
    and save resolutions and font sizes that read well in HTML and PDF.
    """
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE, rc=_RC)


def _figure(width: float, height: float) -> Figure:
    """A new figure in the book style, with constrained layout, closed in pyplot.

    Made through pyplot so a notebook's inline backend is set up to display it; closed
    so the backend does not show it a second time at the end of the cell.
    """
    set_style()
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig


def _rows(n: int, columns: int) -> int:
    """Rows of a grid of ``n`` panels with ``columns`` per row (at least one)."""
    return max(1, math.ceil(n / columns))


def _grid(fig: Figure, n: int, max_columns: int) -> list[Axes]:
    """``n`` axes on a grid of at most ``max_columns`` columns, filled row by row."""
    columns = max(1, min(n, max_columns))
    rows = _rows(n, columns)
    return [fig.add_subplot(rows, columns, i + 1) for i in range(n)]


# -- learning curves ------------------------------------------------------------------


def learning_curves(history: pd.DataFrame | None, title: str | None = None,
                    band: pd.DataFrame | None = None) -> Figure:
    """Accuracy (left) and loss (right) per epoch, for the training and the test set.

    ``history``: one run's history (``epoch``, ``loss``, ``accuracy``, ``test_loss``,
    ``test_accuracy``). ``band``: instead of ``history``, the histories of several
    seeds in long format (the same columns plus ``seed``); the mean of the seeds is drawn
    as a line, their minimum to maximum as a shaded band. Pass one of the two.
    """
    if (history is None) == (band is None):
        raise ValueError("Pass either history (one run) or band (several seeds), not both or neither.")
    frame = history if band is None else band
    needed = set(HISTORY_COLUMNS) | ({"seed"} if band is not None else set())
    missing = needed - set(frame.columns)
    if missing:
        raise ValueError(f"The history lacks the column(s) {', '.join(sorted(missing))}.")
    if len(frame) == 0:
        raise ValueError("The history is empty: there is no epoch to plot.")
    metrics = [column for column in HISTORY_COLUMNS if column != "epoch"]
    stats = frame.groupby("epoch")[metrics].agg(["mean", "min", "max"])
    epochs = stats.index.to_numpy()

    fig = _figure(WIDTH, 3.4)
    acc_ax, loss_ax = fig.subplots(1, 2)
    for ax, metric in ((acc_ax, "accuracy"), (loss_ax, "loss")):
        handles = []
        for split, column in (("train", metric), ("test", f"test_{metric}")):
            color = COLORS[split]
            (line,) = ax.plot(epochs, stats[(column, "mean")], marker="o", markersize=4, color=color)
            if band is None:
                handles.append(line)
            else:
                shade = ax.fill_between(epochs, stats[(column, "min")], stats[(column, "max")],
                                        color=color, alpha=0.25, linewidth=0)
                handles.append((line, shade))
        legend_title = None if band is None else f"mean, min–max of {frame['seed'].nunique()} seeds"
        ax.legend(handles, ["train", "test"], title=legend_title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    acc_ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{100 * value:g}%"))
    if title:
        fig.suptitle(title)
    return fig


# -- weight histograms ----------------------------------------------------------------


def _histogram(ax: Axes, values: np.ndarray, title: str, color: ColorType,
               title_size: float = 10) -> None:
    """A histogram of ``values`` titled with ``title`` and their n, mean and std."""
    values = np.asarray(values, dtype=np.float64).ravel()
    bins = min(MAX_BINS, len(np.histogram_bin_edges(values, bins="auto")) - 1)
    ax.hist(values, bins=bins, color=color, edgecolor="white", linewidth=0.3)
    ax.set_title(f"{title} (n = {values.size:,})\nmean = {values.mean():.3g}, std = {values.std():.3g}",
                 fontsize=title_size)
    ax.set_ylabel("count")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def weight_histograms(kernel: np.ndarray, bias: np.ndarray, layer: str) -> Figure:
    """Histograms of a layer's weights (left) and biases (right), with n, mean and std."""
    fig = _figure(WIDTH, 3.2)
    weight_ax, bias_ax = fig.subplots(1, 2)
    _histogram(weight_ax, kernel, f"{layer} weights", COLORS["train"])
    _histogram(bias_ax, bias, f"{layer} biases", COLORS["test"])
    weight_ax.set_xlabel("weight")
    bias_ax.set_xlabel("bias")
    return fig


def all_weight_histograms(weights: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """One histogram of the weights (kernel) of each layer, on a grid titled by layer."""
    if not weights:
        raise ValueError("No layers given: weights must map at least one layer name to (kernel, bias).")
    fig = _figure(WIDTH, 2.8 * _rows(len(weights), HIST_COLUMNS))
    for ax, (layer, (kernel, _bias)) in zip(_grid(fig, len(weights), HIST_COLUMNS), weights.items()):
        _histogram(ax, kernel, layer, COLORS["train"], title_size=9)
        ax.set_xlabel("weight")
    return fig


# -- images ---------------------------------------------------------------------------


def _show_image(ax: Axes, image: np.ndarray) -> None:
    """Draw an (H, W, 1) image in grayscale or an (H, W, 3) one in colour, without ticks."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"An image must be (H, W, 1) or (H, W, 3), got {image.shape}.")
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(np.clip(image, 0, 1))
    _bare(ax)


def _bare(ax: Axes) -> None:
    """No ticks and no grid: for panels that show an image."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def examples(images: ArrayLike, y_true: ArrayLike, y_pred: ArrayLike, proba: ArrayLike,
             class_names: Sequence[str], title: str | None = None) -> Figure:
    """A row of test images, each titled with its true and predicted class.

    The title reads "true: X" over "pred: Y (p = 0.97)", p being the probability of the
    predicted class (``proba`` holds one row of class probabilities per image). With no
    images the figure says so. One row, at most :data:`WIDTH` wide.
    """
    images, y_true, y_pred, proba = (np.asarray(a) for a in (images, y_true, y_pred, proba))
    n = len(images)
    if not len(y_true) == len(y_pred) == len(proba) == n:
        raise ValueError(
            f"images, y_true, y_pred and proba must have one entry per image: got {n}, "
            f"{len(y_true)}, {len(y_pred)} and {len(proba)}."
        )
    if n == 0:
        fig = _figure(WIDTH / 2, 1.2)
        fig.text(0.5, 0.5, "no images", ha="center", va="center", fontsize=12)
    else:
        fig = _figure(min(WIDTH, max(EXAMPLE_PANEL * n, 4.0)), 2.4)
        for ax, image, true, pred, row in zip(_grid(fig, n, n), images, y_true, y_pred, proba):
            _show_image(ax, image)
            ax.set_title(f"true: {class_names[int(true)]}\npred: {class_names[int(pred)]} "
                         f"(p = {row[int(pred)]:.2f})", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def input_image(image: np.ndarray, label: str) -> Figure:
    """The image the feature maps are computed for, titled with its label."""
    fig = _figure(3.0, 3.2)
    ax = fig.add_subplot()
    _show_image(ax, image)
    ax.set_title(f"label: {label}")
    return fig


def feature_maps(maps: np.ndarray, layer: str) -> Figure:
    """Every filter's activation map of one layer for one image, on one colour scale.

    ``maps`` is ``(H, W, C)``: C panels titled "filter 1" to "filter C" (numbered from
    1), at most 8 per row, sharing one colour scale and one colour bar.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.shape[-1] == 0:
        raise ValueError(f"maps must be (H, W, C) with C >= 1, got {maps.shape}.")
    channels = maps.shape[-1]
    columns = min(channels, FMAP_COLUMNS)
    panel = min(FMAP_PANEL, (WIDTH - COLORBAR_SPACE) / columns)
    fig = _figure(columns * panel + COLORBAR_SPACE, _rows(channels, columns) * (panel + 0.2) + 0.5)
    low, high = float(maps.min()), float(maps.max())
    high = high if high > low else low + 1.0  # a constant map still gets a valid scale
    axes = _grid(fig, channels, FMAP_COLUMNS)
    for k, ax in enumerate(axes):
        shown = ax.imshow(maps[..., k], cmap=FEATURE_CMAP, vmin=low, vmax=high)
        ax.set_title(f"filter {k + 1}", fontsize=8 if columns == FMAP_COLUMNS else 10)
        _bare(ax)
    fig.colorbar(shown, ax=axes, shrink=0.8, label="activation")
    fig.suptitle(f"{layer}: {channels} feature maps, {maps.shape[0]}×{maps.shape[1]} each")
    return fig


# -- reproduction: reported values against our intervals -------------------------------


def reproduction_intervals(results: pd.DataFrame, metric: str = "accuracy") -> Figure:
    """Each reported value (a cross) against our mean and the prediction interval for one
    new run (a dot with an error bar, already clipped to the metric's range), one row per
    reported result and one panel per dataset.

    ``results``: :func:`hwlib.reproduction.result_table` (columns id, source, experiment,
    dataset, metric, reported, mean, pi_low, pi_high, verdict).
    """
    needed = {"id", "experiment", "dataset", "metric", "reported", "mean", "pi_low", "pi_high", "verdict"}
    missing = needed - set(results.columns)
    if missing:
        raise ValueError(f"The result table lacks the column(s) {', '.join(sorted(missing))}.")
    rows = results[results["metric"] == metric]
    if len(rows) == 0:
        raise ValueError(f"The result table has no {metric!r} rows.")
    datasets = list(dict.fromkeys(rows["dataset"]))
    heights = [int((rows["dataset"] == d).sum()) for d in datasets]
    fig = _figure(WIDTH, 0.9 + 0.32 * sum(heights))
    axes = fig.subplots(len(datasets), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    ours_color, reported_color = COLORS["test"], "0.15"
    for ax, dataset in zip(axes, datasets):
        part = rows[rows["dataset"] == dataset].reset_index(drop=True)
        y = np.arange(len(part))[::-1]
        ax.errorbar(part["mean"], y, xerr=[part["mean"] - part["pi_low"], part["pi_high"] - part["mean"]],
                    fmt="o", color=ours_color, capsize=3, label="ours: mean and 95% prediction interval")
        ax.scatter(part["reported"], y, marker="x", s=40, color=reported_color, zorder=3, label="reported")
        ax.set_yticks(y, [f"{i} {e}" for i, e in zip(part["id"], part["experiment"])])
        if metric == "accuracy":  # an interval may reach past 0-100 %: show the possible range only
            shown = pd.concat([part["reported"], part["pi_low"], part["pi_high"]])
            pad = 0.05 * (shown.max() - shown.min()) or 1.0
            ax.set_xlim(max(0.0, shown.min() - pad), min(100.0, shown.max() + pad))
        ax.set_title(dataset)
        ax.grid(axis="y", visible=False)
    axes[-1].set_xlabel("test loss" if metric == "loss" else "test accuracy (%)")
    axes[0].legend(loc="lower left")
    return fig
