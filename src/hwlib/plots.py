"""Every figure kind of the book, in one style.

Each function first applies :func:`set_style` and returns a
:class:`matplotlib.figure.Figure`. It never calls ``plt.show()``, and the figure is
already closed in pyplot: a notebook shows it only where it is displayed (the last
expression of a cell, ``display(fig)``, a glue), once, and ``fig.savefig`` still
works. :func:`stamp` writes a figure's provenance line under it; :func:`png` renders a
figure for the book. Numbers in titles and on axes are plain decimals with a true minus
sign (:mod:`hwlib.numfmt`), never e-notation.

Sizes are chosen for where the figures are read: the HTML book shows an image at most
:data:`DISPLAY_WIDTH_PX` CSS pixels wide (the width of a full-width figure in a 1280 px
wide browser window), shrinking a wider PNG to fit. A figure :data:`WIDTH` inches wide
saved at :data:`SAVE_DPI` is shrunk by ``DISPLAY_WIDTH_PX / (WIDTH * SAVE_DPI)``, so its
smallest text (:data:`SMALLEST_FONT` points: tick labels, legends, panel titles, the
provenance line) still measures at least :data:`MIN_TEXT_PX` pixels on screen
(:func:`text_px_on_screen` checks it); the PDF prints the same PNG about as wide as its
text column.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator, NullLocator
from matplotlib.typing import ColorType
from numpy.typing import ArrayLike

from hwlib.errors import ConfigError
from hwlib.numfmt import sig
from hwlib.reproduction import RANGES as METRIC_RANGES  # what a metric can be
from hwlib.train import HISTORY_COLUMNS

PALETTE = "colorblind"
PALETTE_COLORS = sns.color_palette(PALETTE)
COLORS = {"train": PALETTE_COLORS[0], "test": PALETTE_COLORS[1]}
FEATURE_CMAP = "viridis"
DISPLAY_WIDTH_PX = 672  # CSS pixels: the width a full-width figure is shown at in a 1280 px window
MIN_TEXT_PX = 10  # the smallest text a reader should have to read, in CSS pixels
SAVE_DPI = 150  # the resolution of the PNGs in the book
WIDTH = 6.9  # inches: the width of a full-width figure (1035 px at SAVE_DPI, shown at about 2/3)
SMALLEST_FONT = 9  # points: tick labels, legends, panel titles, the provenance line
HIST_COLUMNS = 2  # panels per row of the all-layers weight histogram grid
MAX_BINS = 50  # at most this many histogram bins
MAX_DOTS = 32  # a panel of at most this many values shows one dot per value, not a histogram
ROBUST_PERCENTILES = (0.5, 99.5)  # the range a "robust" histogram shows
ORIGINAL_RANGE = (-1.0, 1.0)  # the homework's histogram range (with MAX_BINS bins)
FMAP_COLUMNS = 8  # panels per row of a feature-map grid
FMAP_PANEL = 1.4  # inches: the largest feature-map panel
COLORBAR_SPACE = 0.9  # inches of figure width kept for a colour bar
EXAMPLE_PANEL = 1.35  # inches: the width of one example image
EXAMPLE_TITLE = 0.65  # inches above an example image for its three-line title
CUT_MARKER = "interval-cut"  # the gid of the triangles that end a cut interval
DEAD_LABEL = "feature-map-flat"  # the gid of the "dead" / "constant" label on a feature map
PROVENANCE = "provenance"  # the gid of a figure's provenance line
PROVENANCE_COLOR = "0.3"
PROVENANCE_GAP = 4 / 72  # inches between a figure and its provenance line
SPANS = ("robust", "original", "full")
FMAP_SCALES = ("per_map", "shared")

_RC = {"figure.dpi": 110, "savefig.dpi": SAVE_DPI, "savefig.bbox": "tight", "font.size": 10, "axes.titlesize": 10,
       "axes.labelsize": 10, "figure.titlesize": 11, "image.interpolation": "nearest",
       **dict.fromkeys(("xtick.labelsize", "ytick.labelsize", "legend.fontsize", "legend.title_fontsize"),
                       SMALLEST_FONT)}


def set_style() -> None:
    """The book's one look: seaborn "whitegrid", "notebook" context, a fixed palette.

    Resets the style each time it is called (so it is idempotent) and sets the figure
    and save resolutions and font sizes that read well in HTML and PDF.
    """
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE, rc=_RC)


# -- helpers ----------------------------------------------------------------------------


def _figure(width: float, height: float, layout: str = "constrained") -> Figure:
    """A new figure in the book style, with constrained layout, closed in pyplot.

    Made through pyplot so a notebook's inline backend is set up to display it; closed
    so the backend does not show it a second time at the end of the cell. Images take
    ``layout="compressed"``: constrained layout moves an image (a fixed-aspect panel) a
    little at each drawing, and the provenance line has to stay where :func:`stamp` put it.
    """
    set_style()
    fig = plt.figure(figsize=(width, height), layout=layout)
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


def _require(frame: pd.DataFrame, needed: Iterable[str], what: str) -> None:
    """Refuse a table that lacks any of the ``needed`` columns, naming them."""
    missing = sorted(set(needed) - set(frame.columns))
    if missing:
        raise ConfigError(f"The {what} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}.")


def _choice(name: str, value: str, choices: Sequence[str]) -> None:
    """Refuse a ``value`` of parameter ``name`` that is not one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}.")


def _bare(ax: Axes) -> None:
    """No ticks and no grid: for panels that show an image."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def _plain_tick(value: float, _position: object = None) -> str:
    """A tick label as a plain number: 1, 20, 10,000 or 0.5 (never 2×10¹ or 1e+04)."""
    return f"{value:,.0f}" if value >= 1 and value == round(value) else sig(value)


class _PlainLogLocator(Locator):
    """Major ticks of a log axis at the powers of ten in view, or, where fewer than three
    are in view, at 1, 2 and 5 times each power (2, 5, 10, 20 on an axis from 2 to 22)."""

    def __call__(self) -> Sequence[float]:
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        low, high = sorted((vmin, vmax))
        low = max(low, np.finfo(float).tiny)
        decades = 10.0 ** np.arange(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        if ((decades >= low) & (decades <= high)).sum() >= 3:
            return decades
        return np.outer(decades, (1.0, 2.0, 5.0)).ravel()


def _plain_log(axis: Axis) -> None:
    """Label a log-scaled axis with plain numbers at a few ticks, and no minor ticks."""
    axis.set_major_locator(_PlainLogLocator())
    axis.set_major_formatter(FuncFormatter(_plain_tick))
    axis.set_minor_locator(NullLocator())


def _reference_line(ax: Axes, x: float, label: str, linestyle: str, color: ColorType,
                    text_color: ColorType | None = None) -> None:
    """A vertical line at ``x``, labelled at the top of the axes."""
    ax.axvline(x, color=color, linestyle=linestyle, linewidth=1)
    ax.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -2),
                textcoords="offset points", va="top", fontsize=SMALLEST_FONT, color=text_color)


# -- rendering for the book ------------------------------------------------------------


def stamp(fig: Figure, line: str) -> None:
    """Write ``line`` (a figure's provenance) right under what the figure shows (its
    drawn content, not its canvas, so no blank band comes between), wrapped to the
    figure's width at :data:`SMALLEST_FONT`: as legible as the tick labels, and never
    widening the image (a wider image is shrunk more in the HTML)."""
    fig.draw_without_rendering()  # lays the figure out, so its content's bottom edge is known
    height = fig.get_figheight()
    bottom = fig.get_tightbbox().y0 / height  # the bounding box is in inches
    fig.text(0.5, bottom - PROVENANCE_GAP / height, line, ha="center", va="top", fontsize=SMALLEST_FONT,
             color=PROVENANCE_COLOR, wrap=True, gid=PROVENANCE)


def _texts(fig: Figure) -> list[Text]:
    """Every visible, non-empty text of the figure (titles, labels, ticks, legends, notes)."""
    fig.draw_without_rendering()  # tick labels exist only once drawn (a closed figure's canvas draws nothing)
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def png(fig: Figure) -> bytes:
    """The figure as the PNG the book shows, closed afterwards.

    The PNG records the height in image pixels of its smallest text (every text, the
    provenance line included) in a text chunk ``hwlib:min-text-px``, and, when the figure
    is stamped (:func:`stamp`), that of its provenance line in ``hwlib:provenance-px``, so
    a test can check the text size a reader sees wherever the image is shown (the
    image's displayed width over its pixel width, times that value)."""
    texts = _texts(fig)
    if not texts:
        raise ConfigError("The figure shows no text.")
    records = {"min-text": min(t.get_fontsize() for t in texts)}
    stamped = [t.get_fontsize() for t in texts if t.get_gid() == PROVENANCE]
    if stamped:
        records["provenance"] = min(stamped)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=SAVE_DPI, bbox_inches="tight",
                metadata={f"hwlib:{kind}-px": f"{pt * SAVE_DPI / 72:.2f}" for kind, pt in records.items()})
    plt.close(fig)
    return buf.getvalue()


def text_px_on_screen(image: bytes, shown_width_px: float = DISPLAY_WIDTH_PX, text: str = "min-text") -> float:
    """The height in CSS pixels of a PNG's smallest text (``text="min-text"``) or of its
    provenance line (``text="provenance"``), as recorded by :func:`png`, when the image is
    shown at most ``shown_width_px`` wide (never enlarged, as in the HTML book)."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as im:
        width, value = im.size[0], im.text.get(f"hwlib:{text}-px")
    if value is None:
        raise ConfigError(f"The PNG has no hwlib:{text}-px record: it was not made by hwlib.plots.png"
                          + (" from a stamped figure (hwlib.plots.stamp)." if text == "provenance" else "."))
    return float(value) * min(1.0, shown_width_px / width)


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
        raise ConfigError("Pass either history (one run) or band (several seeds), not both or neither.")
    frame = history if band is None else band
    _require(frame, [*HISTORY_COLUMNS, *(["seed"] if band is not None else [])], "history")
    if len(frame) == 0:
        raise ConfigError("The history is empty: there is no epoch to plot.")
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


# -- weights and biases ---------------------------------------------------------------


def histogram_range(values: np.ndarray, span: str) -> tuple[float, float]:
    """The range a histogram of ``values`` shows.

    ``"robust"``: from the 0.5th to the 99.5th percentile (:data:`ROBUST_PERCENTILES`, taken
    as data values, so a small sample loses nothing), so that a few large weights cannot
    squeeze the bulk of the distribution into one bar; ``"original"``: the homework's
    [−1, 1]; ``"full"``: minimum to maximum.
    """
    _choice("span", span, SPANS)
    if span == "robust":
        low, high = np.percentile(values, ROBUST_PERCENTILES, method="nearest")
    elif span == "original":
        low, high = ORIGINAL_RANGE
    else:
        low, high = values.min(), values.max()
    return float(low), float(high)


def _distribution(ax: Axes, values: ArrayLike, title: str, color: ColorType, span: str,
                  log_counts: bool = False) -> int:
    """The distribution of ``values``, titled with ``title`` and their n, mean and std.

    At most :data:`MAX_DOTS` values are drawn as one dot each, every value shown (a swarm:
    dots that would overlap move apart vertically): a histogram of a few values is a few
    bars that say nothing. More values make a histogram over :func:`histogram_range`
    (``span``); values outside the range are left out and counted in the title;
    ``log_counts``: counts on a log scale (a spike at 0 no longer hides the rest).
    Returns how many were left out."""
    values = np.asarray(values, dtype=np.float64).ravel()
    low, high = histogram_range(values, span)
    clipped = 0
    if values.size <= MAX_DOTS:
        sns.swarmplot(x=values, ax=ax, color=color, size=6)
        ax.set_yticks([])
        ax.set_ylabel("one dot per value")
    else:
        inside = values[(values >= low) & (values <= high)]
        bins = MAX_BINS if span == "original" else min(MAX_BINS, len(np.histogram_bin_edges(inside, bins="auto")) - 1)
        ax.hist(inside, bins=bins, range=(low, high) if high > low else None, color=color,
                edgecolor="white", linewidth=0.3)
        clipped = values.size - inside.size
        if log_counts:
            ax.set_yscale("log")
            _plain_log(ax.yaxis)
            ax.set_ylabel("count (log scale)")
        else:
            ax.set_ylabel("count")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    note = f"\n{clipped:,} outside [{sig(low)}, {sig(high)}]" if clipped else ""
    ax.set_title(f"{title} (n = {values.size:,})\nmean = {sig(values.mean())}, std = {sig(values.std())}{note}",
                 fontsize=SMALLEST_FONT)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    return clipped


def weight_histograms(kernel: np.ndarray, bias: np.ndarray, layer: str, span: str = "robust") -> Figure:
    """The distributions of a layer's weights (left) and biases (right), with n, mean and
    std: a histogram, or one dot per value for at most :data:`MAX_DOTS` values (the biases
    of a small layer).

    ``span`` (:func:`histogram_range`): ``"robust"`` (default) shows the 0.5th to 99.5th
    percentile and counts the values left out in the panel's title; ``"original"`` is the
    homework's choice, [−1, 1] in 50 bins; ``"full"`` shows every value.
    """
    fig = _figure(WIDTH, 2.9)
    for ax, values, noun, label, color in zip(fig.subplots(1, 2), (kernel, bias), ("weights", "biases"),
                                              ("weight", "bias"), COLORS.values()):
        _distribution(ax, values, f"{layer} {noun}", color, span)
        ax.set_xlabel(label)
    return fig


def all_weight_histograms(weights: dict[str, tuple[np.ndarray, np.ndarray]], span: str = "robust",
                          log_counts: bool = False) -> Figure:
    """One histogram of the weights (kernel) of each layer, on a grid titled by layer;
    ``span`` as in :func:`weight_histograms`; ``log_counts``: counts on a log scale with
    plain tick labels (for L2-regularized weights, most of which sit at 0)."""
    if not weights:
        raise ConfigError("No layers given: weights must map at least one layer name to (kernel, bias).")
    fig = _figure(WIDTH, 2.6 * _rows(len(weights), HIST_COLUMNS))
    for ax, (layer, (kernel, _bias)) in zip(_grid(fig, len(weights), HIST_COLUMNS), weights.items()):
        _distribution(ax, kernel, layer, COLORS["train"], span, log_counts)
        ax.set_xlabel("weight")
    return fig


# -- images ---------------------------------------------------------------------------


def _show_image(ax: Axes, image: np.ndarray) -> None:
    """Draw an (H, W, 1) image in grayscale or an (H, W, 3) one in colour, without ticks."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ConfigError(f"An image must be (H, W, 1) or (H, W, 3), got {image.shape}.")
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(np.clip(image, 0, 1))
    _bare(ax)


def examples(images: ArrayLike, y_true: ArrayLike, y_pred: ArrayLike, proba: ArrayLike,
             class_names: Sequence[str], title: str | None = None) -> Figure:
    """A row of test images, each titled with its true and predicted class.

    The title has three short lines, so it fits its image: "true: X", "pred: Y" and
    "p = 0.97", p being the probability of the predicted class (``proba`` holds one row
    of class probabilities per image). With no images the figure says so. One row, at
    most :data:`WIDTH` wide.
    """
    images, y_true, y_pred, proba = (np.asarray(a) for a in (images, y_true, y_pred, proba))
    n = len(images)
    if not len(y_true) == len(y_pred) == len(proba) == n:
        raise ConfigError(f"images, y_true, y_pred and proba must have one entry per image: got {n}, "
                          f"{len(y_true)}, {len(y_pred)} and {len(proba)}.")
    if n == 0:
        fig = _figure(WIDTH / 2, 1.2)
        fig.text(0.5, 0.5, "no images", ha="center", va="center", fontsize=12)
    else:
        panel = min(EXAMPLE_PANEL, WIDTH / n)
        fig = _figure(max(panel * n, 4.0), panel + EXAMPLE_TITLE + (0.3 if title else 0.0), layout="compressed")
        for ax, image, true, pred, row in zip(_grid(fig, n, n), images, y_true, y_pred, proba):
            _show_image(ax, image)
            ax.set_title(f"true: {class_names[int(true)]}\npred: {class_names[int(pred)]}\n"
                         f"p = {row[int(pred)]:.2f}", fontsize=SMALLEST_FONT)
    if title:
        fig.suptitle(title)
    return fig


def input_image(image: np.ndarray, label: str) -> Figure:
    """The image the feature maps are computed for, titled with its label."""
    fig = _figure(3.0, 3.2, layout="compressed")
    ax = fig.add_subplot()
    _show_image(ax, image)
    ax.set_title(f"label: {label}")
    return fig


def feature_maps(maps: np.ndarray, layer: str, scale: str = "per_map") -> Figure:
    """Every filter's activation map of one layer for one image, on a labelled grid.

    ``maps`` is ``(H, W, C)``, drawn at most :data:`FMAP_COLUMNS` to a row, filter ``k``
    (numbered from 1) at row offset + column: the columns are numbered 1 to 8 along the
    top and each row is labelled with the offset of its first filter (+0, +8, ...).

    ``scale="per_map"`` (the default) stretches each map on its own from its minimum (dark)
    to its maximum (bright), so every map shows its pattern even when a few filters
    respond much more strongly than the rest (the colour bar then reads 0-1 of each map's
    own range). ``scale="shared"`` puts every map on one colour scale in activation units,
    which compares the strength of the filters.

    A map with one value everywhere shows no pattern (drawn dark on the per-map scale):
    it is labelled "dead" when that value is 0 (the filter does not respond to this
    image at all, as after a ReLU) and "constant" otherwise, and the title counts them.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3 or maps.shape[-1] == 0:
        raise ConfigError(f"maps must be (H, W, C) with C >= 1, got {maps.shape}.")
    _choice("scale", scale, FMAP_SCALES)
    channels = maps.shape[-1]
    columns = min(channels, FMAP_COLUMNS)
    rows = _rows(channels, columns)
    panel = min(FMAP_PANEL, (WIDTH - COLORBAR_SPACE) / columns)
    fig = _figure(columns * panel + COLORBAR_SPACE, rows * panel + 0.9)
    shown_maps, (low, high) = _fmap_scale(maps, scale)
    axes = _grid(fig, channels, FMAP_COLUMNS)
    lows, highs = maps.min(axis=(0, 1)), maps.max(axis=(0, 1))
    flat = np.where(lows == highs, np.where(highs == 0, "dead", "constant"), "")
    for k, ax in enumerate(axes):
        shown = ax.imshow(shown_maps[..., k], cmap=FEATURE_CMAP, vmin=low, vmax=high)
        _bare(ax)
        row, column = divmod(k, columns)
        if row == 0:
            ax.set_title(str(column + 1), fontsize=SMALLEST_FONT)
        if column == 0:
            ax.set_ylabel(f"+{row * columns}", rotation=0, ha="right", va="center", fontsize=SMALLEST_FONT)
        if flat[k]:
            ax.text(0.5, 0.5, flat[k], transform=ax.transAxes, ha="center", va="center", fontsize=SMALLEST_FONT,
                    color="white", gid=DEAD_LABEL,
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "0.15", "alpha": 0.7, "linewidth": 0})
    label = "activation" if scale == "shared" else "fraction of the map's range"
    fig.colorbar(shown, ax=axes, shrink=0.8 if rows > 1 else 1.0, label=label)
    how = "one colour scale" if scale == "shared" else "each map scaled to its own range"
    notes = "".join(f"; {(flat == kind).sum()} {kind} ({what})" for kind, what in
                    (("dead", "0 everywhere"), ("constant", "one value everywhere")) if (flat == kind).any())
    fig.suptitle(f"{layer}: {channels} feature maps, {maps.shape[0]}×{maps.shape[1]} each ({how});\n"
                 f"filter = row label + column{notes}", fontsize=10)
    return fig


def _fmap_scale(maps: np.ndarray, scale: str) -> tuple[np.ndarray, tuple[float, float]]:
    """The maps as drawn and their colour limits: per map rescaled to 0-1 (a constant map
    to 0), or unchanged on their shared minimum to maximum."""
    if scale == "per_map":
        low = maps.min(axis=(0, 1), keepdims=True)
        span = maps.max(axis=(0, 1), keepdims=True) - low
        return np.divide(maps - low, span, out=np.zeros_like(maps), where=span > 0), (0.0, 1.0)
    low, high = float(maps.min()), float(maps.max())
    return maps, (low, high if high > low else low + 1.0)  # a constant map still gets a valid scale


# -- reproduction: reported values against our intervals -------------------------------


def reproduction_intervals(results: pd.DataFrame, metric: str = "accuracy") -> Figure:
    """Each reported value (a cross) against our mean and the prediction interval for one
    new run (a dot with an error bar, already clipped to the metric's range), one row per
    reported result and one panel per dataset.

    ``results``: :func:`hwlib.reproduction.result_table` (columns id, source, experiment,
    dataset, metric, reported, mean, pi_low, pi_high, verdict).

    Each panel's axis spans the reported values and our means, and the intervals only
    as far as :func:`axis_limits` allows, within the metric's possible range
    (:data:`METRIC_RANGES`): an interval that reaches further, like the one of a
    configuration with a run that never learned, is cut at the axis and ends in a triangle
    pointing outwards, so it cannot squeeze every other row into a corner.
    """
    _require(results, ["id", "experiment", "dataset", "metric", "reported", "mean", "pi_low", "pi_high", "verdict"],
             "result table")
    _choice("metric", metric, list(METRIC_RANGES))
    rows = results[results["metric"] == metric]
    if len(rows) == 0:
        raise ConfigError(f"The result table has no {metric!r} rows.")
    datasets = list(dict.fromkeys(rows["dataset"]))
    heights = [int((rows["dataset"] == d).sum()) for d in datasets]
    fig = _figure(WIDTH, 1.2 + 0.3 * sum(heights))
    axes = fig.subplots(len(datasets), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
    clipped_any = False
    for ax, dataset in zip(axes, datasets):
        part = rows[rows["dataset"] == dataset].reset_index(drop=True)
        clipped_any |= _interval_panel(ax, part, METRIC_RANGES[metric])
        ax.set_title(dataset)
    axes[-1].set_xlabel("test loss" if metric == "loss" else "test accuracy (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    if clipped_any:
        handles.append(plt.Line2D([], [], marker=">", linestyle="none", color=COLORS["test"]))
        labels.append("interval continues past the axis")
    fig.legend(handles, labels, loc="outside upper center", ncols=3, frameon=False)
    return fig


def axis_limits(part: pd.DataFrame, possible: tuple[float, float]) -> tuple[float, float]:
    """The x range of an interval panel, within the metric's ``possible`` range: the
    reported values and our means, widened to take in the intervals, but by at most the
    spread of those points on each side (then padded by 3%)."""
    points = pd.concat([part["reported"], part["mean"]])
    low, high = points.min(), points.max()
    spread = (high - low) or abs(high) or 1.0
    low = max(min(part["pi_low"].min(), low), low - spread)
    high = min(max(part["pi_high"].max(), high), high + spread)
    pad = 0.03 * (high - low)
    return max(possible[0], low - pad), min(possible[1], high + pad)


def _interval_panel(ax: Axes, part: pd.DataFrame, possible: tuple[float, float]) -> bool:
    """One dataset's rows: intervals cut at the axis limits (a triangle where cut), means,
    reported values. Returns whether any interval was cut."""
    ours_color, reported_color = COLORS["test"], "0.15"
    low, high = axis_limits(part, possible)
    y = np.arange(len(part))[::-1]
    lo, hi = part["pi_low"].clip(lower=low), part["pi_high"].clip(upper=high)
    ax.errorbar(part["mean"], y, xerr=[part["mean"] - lo, hi - part["mean"]], fmt="o", color=ours_color,
                capsize=3, label="ours: mean, 95% prediction interval")
    cut_low, cut_high = (part["pi_low"] < low).to_numpy(), (part["pi_high"] > high).to_numpy()
    for cut, edge, marker in ((cut_low, low, "<"), (cut_high, high, ">")):
        if cut.any():  # (an empty unclipped line would still claim room in the layout)
            ax.plot(np.full(cut.sum(), edge), y[cut], marker, color=ours_color, clip_on=False, markersize=7,
                    gid=CUT_MARKER)
    ax.scatter(part["reported"], y, marker="x", s=40, color=reported_color, zorder=3, label="reported")
    ax.set_yticks(y, [f"{i} {e}" for i, e in zip(part["id"], part["experiment"])])
    ax.set_xlim(low, high)
    ax.grid(axis="y", visible=False)
    return bool(cut_low.any() or cut_high.any())


def sensitivity(df: pd.DataFrame, setting: str, reported: tuple[float, float] | None = None,
                marked: float | None = None, log_x: bool = True, xlabel: str | None = None,
                error_log: bool = False) -> Figure:
    """Test accuracy (left) and loss (right) against ``setting``, one line per variant with
    the seed sd as error bars (``df``: :func:`hwlib.gaps.sensitivity_table`); the homework's
    reported accuracy and loss as dashed lines, and the value it used (``marked``) as a
    vertical line. ``error_log`` draws the test error (100 − accuracy) on a log axis instead,
    so that 1 % and 50 % are both readable."""
    _require(df, ["variant", setting, "accuracy_mean", "accuracy_sd", "loss_mean", "loss_sd"], "sensitivity table")
    fig = _figure(WIDTH, 2.9)
    axes = fig.subplots(1, 2)
    for i, (variant, part) in enumerate(df.groupby("variant", sort=True)):
        part = part.sort_values(setting)
        for ax, metric in zip(axes, ("accuracy", "loss")):
            mean = part[f"{metric}_mean"]
            if metric == "accuracy" and error_log:
                mean = 100 - mean
            ax.errorbar(part[setting], mean, yerr=part[f"{metric}_sd"].fillna(0), marker="o",
                        capsize=3, color=PALETTE_COLORS[i], label=variant)
    if error_log:
        axes[0].set_yscale("log", nonpositive="clip")
        _plain_log(axes[0].yaxis)
        reported = None if reported is None else (100 - reported[0], reported[1])
    ylabels = ("test error (%, log scale)" if error_log else "test accuracy (%)", "test loss")
    values = sorted(df[setting].unique())
    for ax, metric, value in zip(axes, ylabels, reported or (None, None)):
        if value is not None:
            ax.axhline(value, color="0.2", linestyle="--", linewidth=1, label="the homework")
        if marked is not None:
            ax.axvline(marked, color="0.5", linestyle=":", linewidth=1)
        if log_x:
            ax.set_xscale("log")
        ax.set_xticks(values, [sig(v) for v in values])  # the values tried, as plain numbers
        ax.minorticks_off()
        ax.set_xlabel(xlabel or setting.replace("_", " "))
        ax.set_ylabel(metric)
    axes[0].legend(loc="best")
    return fig


def seed_values(df: pd.DataFrame, reported: float | None = None, chance: float | None = None) -> Figure:
    """Each seed's final test accuracy (%), one row of dots per variant (``df``: columns
    ``variant``, ``seed``, ``accuracy``), the homework's value as a dashed line; the chance
    level is drawn (and the axis reaches it) only when a run got near it."""
    _require(df, ["variant", "seed", "accuracy"], "seed table")
    fig = _figure(WIDTH, 0.9 + 0.45 * df["variant"].nunique())
    ax = fig.subplots()
    variants = list(dict.fromkeys(df["variant"]))
    for row, variant in enumerate(variants):
        part = df[df["variant"] == variant].sort_values("seed")
        # Seeds spread evenly across the row (a fixed offset per seed, not random jitter: the
        # chapter's figure must come out the same on every execution).
        offsets = np.linspace(-0.12, 0.12, len(part)) if len(part) > 1 else np.zeros(1)
        ax.scatter(part["accuracy"], row + offsets, s=45, color=PALETTE_COLORS[row], zorder=3)
    ax.set_yticks(range(len(variants)), variants)
    ax.set_ylim(len(variants) - 0.5, -0.5)
    values = list(df["accuracy"])
    if reported is not None:
        _reference_line(ax, reported, "the homework", "--", "0.2")
        values.append(reported)
    if chance is not None and min(df["accuracy"]) < chance + 10:
        _reference_line(ax, chance, "chance", ":", "0.5", text_color="0.3")
        values.append(chance)
    low, high = min(values), max(values)
    pad = max(0.5, 0.08 * (high - low))
    ax.set_xlim(low - pad, high + pad)
    ax.set_xlabel("test accuracy (%) after the last epoch, one dot per seed")
    ax.set_ylabel("")
    return fig
