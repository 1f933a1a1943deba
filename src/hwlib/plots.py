"""Every figure kind of the book, in one style, and :func:`show`: a figure as a PNG stamped with its provenance."""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Image
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator, NullLocator
from matplotlib.typing import ColorType
from numpy.typing import ArrayLike

from hwlib import __version__
from hwlib.analysis import check_table
from hwlib.errors import ConfigError
from hwlib.numfmt import sig
from hwlib.reproduction import RANGES  # where a metric can lie
from hwlib.train import HISTORY_COLUMNS

PALETTE = "colorblind"
PALETTE_COLORS = sns.color_palette(PALETTE)
COLORS = {"train": PALETTE_COLORS[0], "test": PALETTE_COLORS[1]}
SAVE_DPI = 150
WIDTH = 6.9  # inches: a full-width figure, which the HTML book shows 672 CSS pixels wide
SMALLEST_FONT = 9  # points: tick labels, legends, panel titles, the provenance line
MAX_DOTS = 32  # a panel of at most this many values shows one dot per value, not a histogram
CUT_MARKER = "interval-cut"  # the gid of the triangles that end a cut interval
DEAD_LABEL = "feature-map-flat"  # the gid of the "dead" / "constant" label on a feature map
PROVENANCE = "provenance"  # the gid of a figure's provenance line

_RC = {"figure.dpi": 110, "savefig.dpi": SAVE_DPI, "savefig.bbox": "tight", "font.size": 10, "axes.titlesize": 10,
       "axes.labelsize": 10, "figure.titlesize": 11, "image.interpolation": "nearest",
       **dict.fromkeys(("xtick.labelsize", "ytick.labelsize", "legend.fontsize", "legend.title_fontsize"),
                       SMALLEST_FONT)}


def set_style() -> None:
    """The book's one look: seaborn "whitegrid", a fixed palette, resolutions, font sizes."""
    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE, rc=_RC)


def _figure(width: float, height: float, layout: str = "constrained") -> Figure:
    """A book-style figure made through pyplot (for the inline backend), closed there (not to be shown twice)."""
    set_style()
    fig = plt.figure(figsize=(width, height), layout=layout)
    plt.close(fig)
    return fig


def _grid(fig: Figure, n: int, max_columns: int) -> list[Axes]:
    """``n`` axes on a grid of at most ``max_columns`` columns, filled row by row."""
    columns = min(n, max_columns)
    return [fig.add_subplot(math.ceil(n / columns), columns, i + 1) for i in range(n)]


class _PlainLogLocator(Locator):
    """Log-axis ticks at the powers of ten in view or, if fewer than three, at 1, 2, 5 times each."""

    def __call__(self) -> Sequence[float]:
        low, high = sorted(self.axis.get_view_interval())
        low = max(low, np.finfo(float).tiny)
        decades = 10.0 ** np.arange(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        if ((decades >= low) & (decades <= high)).sum() >= 3:
            return decades
        return np.outer(decades, (1.0, 2.0, 5.0)).ravel()


def _log_y(ax: Axes) -> None:
    """A log y axis with a few plain tick labels (1, 20, 10,000, 0.5; never 2×10¹), no minor ticks."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(_PlainLogLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 and v == round(v) else sig(v)))
    ax.yaxis.set_minor_locator(NullLocator())


def stamp(fig: Figure, line: str) -> None:
    """Write ``line`` (the provenance) right under the figure's content, wrapped to its width."""
    fig.draw_without_rendering()  # lays the figure out, so its content's bottom edge is known
    height = fig.get_figheight()
    bottom = fig.get_tightbbox().y0 / height  # the bounding box is in inches
    fig.text(0.5, bottom - 4 / 72 / height, line, ha="center", va="top", fontsize=SMALLEST_FONT,
             color="0.3", wrap=True, gid=PROVENANCE)


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (then closed), recording the pixel heights of its smallest text and provenance line."""
    fig.draw_without_rendering()  # tick labels exist only once drawn
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    records = {"min-text": texts, "provenance": [t for t in texts if t.get_gid() == PROVENANCE]}
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=SAVE_DPI, bbox_inches="tight",
                metadata={f"hwlib:{kind}-px": f"{min(t.get_fontsize() for t in ts) * SAVE_DPI / 72:.2f}"
                          for kind, ts in records.items() if ts})
    plt.close(fig)
    return buf.getvalue()


def provenance(run: Any) -> str:
    """A figure's provenance: each experiment's seeds and run keys (or their digest), data fingerprint, code version."""
    runs = list({r.key: r for r in (run if isinstance(run, (list, tuple)) else [run])}.values())
    if not runs:
        raise ConfigError("A figure's provenance needs at least one run.")
    commits = sorted({(r.provenance.get("git") or {}).get("commit", "")[:8] for r in runs} - {""})
    tail = f" · data {', '.join(sorted({r.data_fingerprint for r in runs}))} · hwlib {__version__}"
    tail += f" @ {', '.join(commits)}" if commits else ""
    if len(runs) == 1:
        return f"{runs[0].experiment.name} · run {runs[0].key} · seed {runs[0].experiment.train.seed}{tail}"
    names = dict.fromkeys(r.experiment.name for r in runs)
    by_name = {name: [r for r in runs if r.experiment.name == name] for name in names}
    if len(by_name) <= 3 and len(runs) <= 12:
        return " · ".join(f"{name} seeds {','.join(str(r.experiment.train.seed) for r in rs)} "
                          f"(runs {' '.join(r.key[:8] for r in rs)})" for name, rs in by_name.items()) + tail
    digest = hashlib.sha256(" ".join(sorted(r.key for r in runs)).encode()).hexdigest()[:12]
    seeds = sorted({r.experiment.train.seed for r in runs})
    return (f"{len(runs)} runs of {len(by_name)} experiment{'s' if len(by_name) > 1 else ''}, seeds {seeds[0]}–"
            f"{seeds[-1]} · run-set {digest} (sha256 of the sorted run keys){tail}")


def show(fig: Figure, run: Any) -> Image:
    """``fig`` stamped with the :func:`provenance` of ``run``, as a PNG made here (one image, in HTML and PDF)."""
    stamp(fig, provenance(run))
    return Image(data=png(fig), format="png")


def learning_curves(history: pd.DataFrame) -> Figure:
    """Accuracy and loss per epoch, training and test, of a run's ``history`` (``seed`` column: mean, min–max band)."""
    check_table(history, HISTORY_COLUMNS, "history")
    band_title = f"mean, min–max of {history['seed'].nunique()} seeds" if "seed" in history.columns else None
    stats = history.groupby("epoch")[list(HISTORY_COLUMNS[1:])].agg(["mean", "min", "max"])
    epochs = stats.index.to_numpy()
    fig = _figure(WIDTH, 3.4)
    acc_ax, loss_ax = fig.subplots(1, 2)
    for ax, metric in ((acc_ax, "accuracy"), (loss_ax, "loss")):
        handles = []
        for split, column in (("train", metric), ("test", f"test_{metric}")):
            (line,) = ax.plot(epochs, stats[(column, "mean")], marker="o", markersize=4, color=COLORS[split])
            handles.append((line, ax.fill_between(epochs, stats[(column, "min")], stats[(column, "max")], alpha=0.25,
                                                  color=COLORS[split], linewidth=0)) if band_title else line)
        ax.legend(handles, ["train", "test"], title=band_title)
        ax.set(xlabel="epoch", ylabel=metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    acc_ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{100 * value:g}%"))
    return fig


def _distribution(ax: Axes, values: ArrayLike, title: str, xlabel: str, color: ColorType,
                  log_counts: bool = False) -> None:
    """``values`` as dots (up to :data:`MAX_DOTS`) or a 0.5–99.5th percentile histogram; n, mean, std in the title."""
    values = np.asarray(values, dtype=np.float64).ravel()
    note = ""
    if values.size <= MAX_DOTS:
        sns.swarmplot(x=values, ax=ax, color=color, size=6)
        ax.set_yticks([])
        ax.set_ylabel("one dot per value")
    else:
        low, high = (float(v) for v in np.percentile(values, (0.5, 99.5), method="nearest"))
        inside = values[(values >= low) & (values <= high)]
        bins = min(50, len(np.histogram_bin_edges(inside, bins="auto")) - 1)
        ax.hist(inside, bins=bins, color=color, edgecolor="white", linewidth=0.3)
        if inside.size < values.size:
            note = f"\n{values.size - inside.size:,} outside [{sig(low)}, {sig(high)}]"
        if log_counts:
            _log_y(ax)
            ax.set_ylabel("count (log scale)")
        else:
            ax.set_ylabel("count")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{title} (n = {values.size:,})\nmean = {sig(values.mean())}, std = {sig(values.std())}{note}",
                 fontsize=SMALLEST_FONT)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.set_xlabel(xlabel)


def weight_histograms(kernel: np.ndarray, bias: np.ndarray, layer: str) -> Figure:
    """The distributions of a layer's weights (left) and biases (right)."""
    fig = _figure(WIDTH, 2.9)
    left, right = fig.subplots(1, 2)
    _distribution(left, kernel, f"{layer} weights", "weight", COLORS["train"])
    _distribution(right, bias, f"{layer} biases", "bias", COLORS["test"])
    return fig


def all_weight_histograms(weights: dict[str, tuple[np.ndarray, np.ndarray]], log_counts: bool = False) -> Figure:
    """The weight (kernel) distribution of each layer, two to a row, titled by layer."""
    if not weights:
        raise ConfigError("No layers given: weights must map at least one layer name to (kernel, bias).")
    fig = _figure(WIDTH, 2.6 * math.ceil(len(weights) / 2))
    for ax, (layer, (kernel, _bias)) in zip(_grid(fig, len(weights), 2), weights.items()):
        _distribution(ax, kernel, layer, "weight", COLORS["train"], log_counts)
    return fig


def _show_image(ax: Axes, image: np.ndarray) -> None:
    """Draw an (H, W, 1) image in grayscale or an (H, W, 3) one in colour, pixels in 0..1 or 0..255, without ticks."""
    image = np.asarray(image, dtype=float)
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ConfigError(f"An image must be (H, W, 1) or (H, W, 3), got {image.shape}.")
    image = np.clip(image / 255 if image.max(initial=0) > 1 else image, 0, 1)  # raw pixels: the original MNIST
    ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[])


def examples(images: ArrayLike, y_true: ArrayLike, proba: ArrayLike, class_names: Sequence[str]) -> Figure:
    """A row of test images, each titled with its true class, the most probable one and its probability."""
    images, y_true, proba = (np.asarray(a) for a in (images, y_true, proba))
    n = len(images)
    if not len(y_true) == len(proba) == n:
        raise ConfigError(f"images, y_true and proba need one entry per image, got {n}, {len(y_true)}, {len(proba)}.")
    if n == 0:
        fig = _figure(WIDTH / 2, 1.2)
        fig.text(0.5, 0.5, "no images", ha="center", va="center", fontsize=12)
        return fig
    panel = min(1.35, WIDTH / n)
    fig = _figure(max(panel * n, 4.0), panel + 0.65, layout="compressed")  # 0.65 in for the 3-line titles
    for ax, image, true, row in zip(_grid(fig, n, n), images, y_true, proba):
        pred = int(row.argmax())
        _show_image(ax, image)
        ax.set_title(f"true: {class_names[int(true)]}\npred: {class_names[pred]}\np = {row[pred]:.2f}",
                     fontsize=SMALLEST_FONT)
    return fig


def input_image(image: np.ndarray, label: str) -> Figure:
    """The image the feature maps are computed for, titled with its label."""
    fig = _figure(3.0, 3.2, layout="compressed")
    ax = fig.add_subplot()
    _show_image(ax, image)
    ax.set_title(f"label: {label}")
    return fig


def feature_maps(maps: np.ndarray, layer: str) -> Figure:
    """Each filter's map in ``maps`` (H, W, C) scaled to its own range on a labelled grid; flat maps marked, counted."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3 or maps.shape[-1] == 0:
        raise ConfigError(f"maps must be (H, W, C) with C >= 1, got {maps.shape}.")
    channels = maps.shape[-1]
    columns = min(channels, 8)
    rows = math.ceil(channels / columns)
    panel = min(1.4, (WIDTH - 0.9) / columns)  # 0.9 inches for the colour bar
    fig = _figure(columns * panel + 0.9, rows * panel + 0.9)
    lows, highs = maps.min(axis=(0, 1)), maps.max(axis=(0, 1))
    scaled = np.divide(maps - lows, highs - lows, out=np.zeros_like(maps), where=highs > lows)
    flat = np.where(lows == highs, np.where(highs == 0, "dead", "constant"), "")
    axes = _grid(fig, channels, columns)
    for k, ax in enumerate(axes):
        shown = ax.imshow(scaled[..., k], cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set(xticks=[], yticks=[])
        row, column = divmod(k, columns)
        if row == 0:
            ax.set_title(str(column + 1), fontsize=SMALLEST_FONT)
        if column == 0:
            ax.set_ylabel(f"+{row * columns}", rotation=0, ha="right", va="center", fontsize=SMALLEST_FONT)
        if flat[k]:
            ax.text(0.5, 0.5, flat[k], transform=ax.transAxes, ha="center", va="center", fontsize=SMALLEST_FONT,
                    color="white", gid=DEAD_LABEL,
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "0.15", "alpha": 0.7, "linewidth": 0})
    fig.colorbar(shown, ax=axes, shrink=0.8 if rows > 1 else 1.0, label="fraction of the map's range")
    notes = "".join(f"; {(flat == kind).sum()} {kind} ({what})" for kind, what in
                    (("dead", "0 everywhere"), ("constant", "one value everywhere")) if (flat == kind).any())
    fig.suptitle(f"{layer}: {channels} feature maps, {maps.shape[0]}×{maps.shape[1]} each (each map scaled to "
                 f"its own range);\nfilter = row label + column{notes}", fontsize=10)
    return fig


def reproduction_intervals(results: pd.DataFrame) -> Figure:
    """Reported accuracies (x) vs our mean and prediction interval, per dataset; cut intervals end in a triangle."""
    check_table(results, ["id", "experiment", "dataset", "metric", "reported", "mean", "pi_low", "pi_high", "verdict"],
                "result table")
    rows = results[results["metric"] == "accuracy"]
    if len(rows) == 0:
        raise ConfigError("The result table has no accuracy rows.")
    groups = rows.groupby("dataset", sort=False)
    fig = _figure(WIDTH, 1.2 + 0.3 * len(rows))
    axes = fig.subplots(groups.ngroups, 1, gridspec_kw={"height_ratios": groups.size().tolist()}, squeeze=False)[:, 0]
    for ax, (dataset, part) in zip(axes, groups):
        # The axis takes in the intervals only as far as the spread of reported values and means.
        low, high = part[["reported", "mean"]].stack().agg(["min", "max"])
        spread = (high - low) or abs(high) or 1.0
        low = max(min(part["pi_low"].min(), low), low - spread)
        high = min(max(part["pi_high"].max(), high), high + spread)
        pad = 0.03 * (high - low)
        low, high = max(RANGES["accuracy"][0], low - pad), min(RANGES["accuracy"][1], high + pad)
        y = np.arange(len(part))[::-1]
        lo, hi = part["pi_low"].clip(lower=low), part["pi_high"].clip(upper=high)
        ax.errorbar(part["mean"], y, xerr=[part["mean"] - lo, hi - part["mean"]], fmt="o", color=COLORS["test"],
                    capsize=3, label="ours: mean, 95% prediction interval")
        cut_low, cut_high = (part["pi_low"] < low).to_numpy(), (part["pi_high"] > high).to_numpy()
        for cut, edge, marker in ((cut_low, low, "<"), (cut_high, high, ">")):
            if cut.any():  # (an empty unclipped line would still claim room in the layout)
                ax.plot(np.full(cut.sum(), edge), y[cut], marker, color=COLORS["test"], clip_on=False, markersize=7,
                        gid=CUT_MARKER)
        ax.scatter(part["reported"], y, marker="x", s=40, color="0.15", zorder=3, label="reported")
        ax.set_yticks(y, [f"{i} {e}" for i, e in zip(part["id"], part["experiment"])])
        ax.set_xlim(low, high)
        ax.grid(axis="y", visible=False)
        ax.set_title(dataset)
    axes[-1].set_xlabel("test accuracy (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    if any(line.get_gid() == CUT_MARKER for ax in axes for line in ax.lines):
        handles.append(plt.Line2D([], [], marker=">", linestyle="none", color=COLORS["test"]))
        labels.append("interval continues past the axis")
    fig.legend(handles, labels, loc="outside upper center", ncols=3, frameon=False)
    return fig


def sensitivity(df: pd.DataFrame, setting: str, reported: tuple[float, float], marked: float, xlabel: str,
                error_log: bool = False) -> Figure:
    """Accuracy (or error) and loss ± sd per variant against ``setting``; ``reported`` dashed, ``marked`` dotted."""
    check_table(df, ["variant", setting, "accuracy_mean", "accuracy_sd", "loss_mean", "loss_sd"], "sensitivity table")
    fig = _figure(WIDTH, 2.9)
    axes = fig.subplots(1, 2)
    ylabels = ("test error (%, log scale)" if error_log else "test accuracy (%)", "test loss")
    if error_log:
        df = df.assign(accuracy_mean=100 - df["accuracy_mean"])
        reported = (100 - reported[0], reported[1])
        _log_y(axes[0])
    for i, (variant, part) in enumerate(df.groupby("variant", sort=True)):
        part = part.sort_values(setting)
        for ax, metric in zip(axes, ("accuracy", "loss")):
            ax.errorbar(part[setting], part[f"{metric}_mean"], yerr=part[f"{metric}_sd"].fillna(0), marker="o",
                        capsize=3, color=PALETTE_COLORS[i], label=variant)
    values = sorted(df[setting].unique())
    for ax, metric, value in zip(axes, ylabels, reported):
        ax.axhline(value, color="0.2", linestyle="--", linewidth=1, label="the homework")
        ax.axvline(marked, color="0.5", linestyle=":", linewidth=1)
        ax.set(xscale="log", xlabel=xlabel, ylabel=metric)
        ax.set_xticks(values, [sig(v) for v in values])  # the values tried, as plain numbers
        ax.minorticks_off()
    axes[0].legend(loc="best")
    return fig


def seed_values(df: pd.DataFrame, reported: float, chance: float) -> Figure:
    """Each seed's final test accuracy, a row per variant; the reported value dashed, chance dotted if runs near it."""
    check_table(df, ["variant", "seed", "accuracy"], "seed table")
    fig = _figure(WIDTH, 0.9 + 0.45 * df["variant"].nunique())
    ax = fig.subplots()
    variants = list(dict.fromkeys(df["variant"]))
    for row, variant in enumerate(variants):
        part = df[df["variant"] == variant].sort_values("seed")
        offsets = np.linspace(-0.12, 0.12, len(part)) if len(part) > 1 else np.zeros(1)
        ax.scatter(part["accuracy"], row + offsets, s=45, color=PALETTE_COLORS[row], zorder=3)
    ax.set_yticks(range(len(variants)), variants)
    ax.set_ylim(len(variants) - 0.5, -0.5)
    lines = [(reported, "the homework", "--", "0.2", None)]
    if min(df["accuracy"]) < chance + 10:
        lines.append((chance, "chance", ":", "0.5", "0.3"))
    for x, label, linestyle, color, text_color in lines:
        ax.axvline(x, color=color, linestyle=linestyle, linewidth=1)
        ax.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -2),
                    textcoords="offset points", va="top", fontsize=SMALLEST_FONT, color=text_color)
    values = [*df["accuracy"], *(x for x, *_ in lines)]
    low, high = min(values), max(values)
    pad = max(0.5, 0.08 * (high - low))
    ax.set_xlim(low - pad, high + pad)
    ax.set_xlabel("test accuracy (%) after the last epoch, one dot per seed")
    return fig
