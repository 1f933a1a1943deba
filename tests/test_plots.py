"""Figures: one style, what each panel shows, edge cases, sizes for the book."""

from __future__ import annotations

import io
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from PIL import Image

from hwlib import plots as P
from hwlib.numfmt import sig

# conftest.py sets MPLBACKEND=Agg before matplotlib is imported

DIGITS = tuple(str(d) for d in range(10))
RNG = np.random.default_rng(0)
DISPLAY_WIDTH_PX = 672  # CSS pixels: the width the HTML book shows a full-width figure at
MIN_TEXT_PX = 10  # the smallest text a reader should have to read, in CSS pixels


def png_records(image: bytes) -> dict[str, str]:
    with Image.open(io.BytesIO(image)) as im:
        return dict(im.text)


def text_px_on_screen(image: bytes, shown_width_px: float = DISPLAY_WIDTH_PX, text: str = "min-text") -> float:
    """The height in CSS pixels of a P.png's smallest text (or "provenance" line), as its
    records say, when the image is shown at most ``shown_width_px`` wide (never enlarged)."""
    with Image.open(io.BytesIO(image)) as im:
        return float(im.text[f"hwlib:{text}-px"]) * min(1.0, shown_width_px / im.size[0])


def run_history(epochs: int = 5, shift: float = 0.0) -> pd.DataFrame:
    e = np.arange(1, epochs + 1)
    return pd.DataFrame({"epoch": e, "loss": 1 / e + shift, "accuracy": 0.5 + e / 20 + shift,
                         "test_loss": 1.2 / e + shift, "test_accuracy": 0.45 + e / 25 - shift})


def data_axes(fig: Figure) -> list:
    """The figure's axes without its colour bars."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def colorbars(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def bar_total(ax) -> float:
    return sum(patch.get_height() for patch in ax.patches)


def dots(ax) -> int:
    """How many values a panel shows as dots (a strip), not bars."""
    return sum(len(c.get_offsets()) for c in ax.collections)


@pytest.fixture(autouse=True)
def book_figures():
    """Every figure fits a book page and none is left open in pyplot."""
    made: list[Figure] = []
    yield made
    assert plt.get_fignums() == []
    for fig in made:
        assert 3.0 <= fig.get_figwidth() <= 10.0


def test_set_style_is_idempotent_and_sets_the_book_look():
    matplotlib.rcParams["figure.dpi"] = 42
    P.set_style()
    first = dict(matplotlib.rcParams)
    P.set_style()
    assert dict(matplotlib.rcParams) == first
    assert matplotlib.rcParams["figure.dpi"] == 110 and matplotlib.rcParams["savefig.dpi"] == 150
    assert matplotlib.rcParams["axes.grid"] is True


def test_learning_curves_draw_train_and_test_per_epoch(book_figures):
    hist = run_history()
    fig = P.learning_curves(hist)
    book_figures.append(fig)
    assert isinstance(fig, Figure)
    acc_ax, loss_ax = fig.axes
    for ax, metric in ((acc_ax, "accuracy"), (loss_ax, "loss")):
        assert ax.get_ylabel() == metric and ax.get_xlabel() == "epoch"
        train, test = ax.get_lines()
        np.testing.assert_array_equal(train.get_xdata(), hist["epoch"])
        np.testing.assert_allclose(train.get_ydata(), hist[metric])
        np.testing.assert_allclose(test.get_ydata(), hist[f"test_{metric}"])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]
    fig.canvas.draw()
    assert acc_ax.get_yticklabels()[1].get_text().endswith("%")


def test_learning_curves_put_epochs_on_integer_ticks():
    for ax in P.learning_curves(run_history(epochs=2)).axes:
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 2]
        assert ticks == [1.0, 2.0]


def test_learning_curves_band_draws_the_seed_mean_and_its_range(book_figures):
    seeds = pd.concat([run_history(shift=s).assign(seed=i) for i, s in enumerate((0.0, 0.02, -0.01))])
    fig = P.learning_curves(seeds)
    book_figures.append(fig)
    acc_ax = fig.axes[0]
    train_line = acc_ax.get_lines()[0]
    np.testing.assert_allclose(train_line.get_ydata(), seeds.groupby("epoch")["accuracy"].mean())
    bands = [c for c in acc_ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(seeds["accuracy"].min())
    assert ys.max() == pytest.approx(seeds["accuracy"].max())
    assert "3 seeds" in acc_ax.get_legend().get_title().get_text()


def test_learning_curves_need_every_column_and_an_epoch():
    with pytest.raises(ValueError, match="test_loss"):
        P.learning_curves(run_history().drop(columns="test_loss"))
    with pytest.raises(ValueError, match="history is empty"):
        P.learning_curves(run_history().iloc[:0])


def test_weight_histograms_count_every_weight_and_show_a_few_biases_as_dots(book_figures):
    kernel, bias = RNG.normal(0, 0.1, (5, 5, 1, 4)), np.array([0.5, 0.5, 1.5, 1.5])
    fig = P.weight_histograms(kernel, bias, "conv1")
    book_figures.append(fig)
    weight_ax, bias_ax = fig.axes
    assert bar_total(weight_ax) == 100 and dots(weight_ax) == 0
    assert dots(bias_ax) == 4 and len(bias_ax.patches) == 0  # one dot per bias, no bars
    assert bias_ax.get_ylabel() == "one dot per value" and list(bias_ax.get_yticks()) == []
    assert weight_ax.get_title().startswith("conv1 weights (n = 100)")
    assert bias_ax.get_title() == "conv1 biases (n = 4)\nmean = 1, std = 0.5"
    assert f"mean = {sig(kernel.mean())}" in weight_ax.get_title()


@pytest.mark.parametrize("n, as_dots", [(10, True), (P.MAX_DOTS, True), (P.MAX_DOTS + 1, False)])
def test_a_layer_of_few_values_is_drawn_as_dots_and_of_more_as_a_histogram(n, as_dots):
    bias_ax = P.weight_histograms(RNG.normal(size=500), RNG.normal(size=n), "fc2").axes[1]
    assert (dots(bias_ax), bar_total(bias_ax)) == ((n, 0) if as_dots else (0, n))
    assert bias_ax.get_ylabel() == ("one dot per value" if as_dots else "count")


def test_dots_show_every_value_where_they_are():
    bias = np.array([-0.4, -0.1, 0.0, 0.3])
    bias_ax = P.weight_histograms(RNG.normal(size=500), bias, "conv1").axes[1]
    bias_ax.figure.draw_without_rendering()  # the swarm places its dots when drawn
    np.testing.assert_allclose(sorted(bias_ax.collections[0].get_offsets()[:, 0]), bias)
    low, high = bias_ax.get_xlim()
    assert low < -0.4 and high > 0.3


def test_weight_histograms_of_constant_biases():
    fig = P.weight_histograms(np.ones((3, 2)), np.zeros(2), "output")
    assert dots(fig.axes[1]) == 2 and "std = 0" in fig.axes[1].get_title()


def test_all_weight_histograms_have_one_panel_per_layer_in_order(book_figures):
    names = ["conv1", "conv2", "conv3", "fc1", "fc2", "output"]
    weights = {name: (RNG.normal(size=(i + 2, 30)), np.zeros(3)) for i, name in enumerate(names)}
    fig = P.all_weight_histograms(weights)
    book_figures.append(fig)
    sizes = [(i + 2) * 30 for i in range(6)]
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == [f"{n} (n = {k})" for n, k in zip(names, sizes)]
    assert all(0.98 * k <= bar_total(ax) <= k for ax, k in zip(fig.axes, sizes))  # all but the robust cut
    assert fig.get_figheight() > P.all_weight_histograms(dict(list(weights.items())[:3])).get_figheight()
    with pytest.raises(ValueError, match="No layers"):
        P.all_weight_histograms({})


def test_examples_title_each_image_with_true_and_predicted_class(book_figures):
    images = RNG.random((3, 28, 28, 1))
    proba = np.full((3, 10), 0.02)
    proba[[0, 1, 2], [7, 1, 3]] = 0.82
    fig = P.examples(images, [7, 2, 3], proba, DIGITS)
    book_figures.append(fig)
    assert len(fig.axes) == 3
    assert fig.axes[1].get_title() == "true: 2\npred: 1\np = 0.82"
    for ax, image in zip(fig.axes, images):
        (shown,) = ax.get_images()
        assert shown.get_array().shape == (28, 28) and shown.get_cmap().name == "gray"
        np.testing.assert_allclose(shown.get_array(), image[..., 0])
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    raw = P.examples(np.round(images * 255), [7, 2, 3], proba, DIGITS)  # raw pixels 0..255: the same greys
    for ax, image in zip(raw.axes, images):
        np.testing.assert_allclose(ax.get_images()[0].get_array(), np.round(image[..., 0] * 255) / 255)
    plt.close(raw)


def test_examples_show_rgb_images_in_colour_with_class_names():
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    proba = np.eye(10)[[9, 1]] * 0.9 + 0.01
    fig = P.examples(RNG.random((2, 32, 32, 3)), [1, 1], proba, names)
    assert fig.axes[0].get_images()[0].get_array().shape == (32, 32, 3)
    assert fig.axes[0].get_title() == "true: automobile\npred: truck\np = 0.91"


def test_example_titles_fit_their_panel_and_do_not_overlap():
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    fig = P.examples(RNG.random((5, 32, 32, 3)), [1] * 5, np.eye(10)[[1] * 5] * 0.5 + 0.05, names)
    fig.draw_without_rendering()
    titles = [ax.title.get_window_extent() for ax in fig.axes]
    cells = [ax.get_window_extent() for ax in fig.axes]
    gap = (cells[1].x0 - cells[0].x1) / 2  # half the space between two images
    assert all(t.width <= c.width + 2 * gap for t, c in zip(titles, cells))
    assert all(left.x1 <= right.x0 for left, right in zip(titles, titles[1:]))


def test_examples_without_images_say_so():
    fig = P.examples(np.zeros((0, 28, 28, 1)), [], np.zeros((0, 10)), DIGITS)
    assert [t.get_text() for t in fig.texts] == ["no images"]
    assert not any(ax.get_images() for ax in fig.axes)
    with pytest.raises(ValueError, match="one entry per image"):
        P.examples(np.zeros((2, 28, 28, 1)), [1], np.zeros((2, 10)), DIGITS)


def test_input_image_is_titled_with_its_label(book_figures):
    image = RNG.random((32, 32, 3))
    fig = P.input_image(image, "cat")
    book_figures.append(fig)
    (ax,) = fig.axes
    assert "cat" in ax.get_title()
    np.testing.assert_allclose(ax.get_images()[0].get_array(), image)
    with pytest.raises(ValueError, match="image must be"):
        P.input_image(RNG.random((28, 28)), "7")


@pytest.mark.parametrize("channels, columns", [(4, 4), (16, 8), (64, 8)])
def test_feature_maps_scale_each_map_on_its_own_and_label_the_grid(channels, columns, book_figures):
    maps = RNG.random((7, 7, channels)) * np.arange(1, channels + 1)
    fig = P.feature_maps(maps, "conv3")
    book_figures.append(fig)
    panels = data_axes(fig)
    assert len(panels) == channels and len(colorbars(fig)) == 1
    assert [ax.get_title() for ax in panels[:columns]] == [str(c) for c in range(1, columns + 1)]
    assert all(ax.get_title() == "" for ax in panels[columns:])  # no per-panel "filter N"
    assert [ax.get_ylabel() for ax in panels[::columns]] == [f"+{r * columns}" for r in range(channels // columns)]
    for k, ax in enumerate(panels):
        (shown,) = ax.get_images()
        m = maps[..., k]
        np.testing.assert_allclose(shown.get_array(), (m - m.min()) / (m.max() - m.min()))
        assert shown.get_clim() == (0.0, 1.0)
    fig.canvas.draw()
    assert len({round(ax.get_position().x0, 3) for ax in panels}) == columns
    assert "conv3" in fig.get_suptitle() and "its own range" in fig.get_suptitle()


def flat_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_gid() == P.DEAD_LABEL]


def test_feature_maps_of_a_dead_layer_and_bad_shapes():
    fig = P.feature_maps(np.zeros((4, 4, 2)), "conv1")
    for ax in data_axes(fig):
        (shown,) = ax.get_images()
        assert shown.get_clim() == (0.0, 1.0) and not shown.get_array().any()
        assert flat_labels(ax) == ["dead"]
    assert "2 dead (0 everywhere)" in fig.get_suptitle()
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        P.feature_maps(np.zeros((4, 4)), "conv1")


def test_only_flat_feature_maps_are_labelled_dead_or_constant(book_figures):
    maps = RNG.random((6, 6, 16))
    maps[..., 3] = 0.0  # a dead filter (after a ReLU)
    maps[..., 9] = 0.0
    maps[..., 12] = 0.7  # a constant, non-zero map
    maps[..., 5] = np.where(np.arange(36).reshape(6, 6) == 0, 0.0, 0.4)  # one pixel differs: not flat
    fig = P.feature_maps(maps, "conv3")
    book_figures.append(fig)
    labels = {k: flat_labels(ax) for k, ax in enumerate(data_axes(fig)) if flat_labels(ax)}
    assert labels == {3: ["dead"], 9: ["dead"], 12: ["constant"]}
    assert fig.get_suptitle().endswith("; 2 dead (0 everywhere); 1 constant (one value everywhere)")
    fig.draw_without_rendering()
    for k in labels:  # the label sits inside its panel
        panel, (text,) = data_axes(fig)[k], data_axes(fig)[k].texts
        box = text.get_window_extent()
        assert panel.get_window_extent().contains((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
    assert "dead" not in P.feature_maps(RNG.random((6, 6, 4)), "conv1").get_suptitle()


def test_robust_histograms_leave_out_a_few_extreme_weights_and_say_how_many(book_figures):
    bulk = RNG.normal(0, 0.01, 10_000)
    kernel = np.concatenate([bulk, [-0.9, 0.8, 0.95]])
    fig = P.weight_histograms(kernel, np.zeros(3), "fc1")
    book_figures.append(fig)
    weight_ax = fig.axes[0]
    low, high = np.percentile(kernel, (0.5, 99.5), method="nearest")
    clipped = int(((kernel < low) | (kernel > high)).sum())
    assert 3 <= clipped <= 0.011 * kernel.size
    assert bar_total(weight_ax) == kernel.size - clipped
    assert f"{clipped:,} outside [{sig(low)}, {sig(high)}]" in weight_ax.get_title()
    assert weight_ax.get_xlim()[1] < 0.1  # the bulk fills the panel, not the three outliers
    assert "outside" not in fig.axes[1].get_title()  # nothing left out, nothing said


def accuracy_results(ci: dict[int, tuple[float, float]]) -> pd.DataFrame:
    """Three MNIST results at about 98-99 %, with the intervals ``ci`` replaced by row."""
    df = pd.DataFrame({"id": ["T3.1", "T3.2", "T3.3"], "experiment": ["a", "b", "c"], "dataset": "mnist",
                       "metric": "accuracy", "reported": [99.0, 98.5, 98.0], "mean": [98.9, 98.6, 97.9],
                       "pi_low": [98.7, 98.4, 97.7], "pi_high": [99.1, 98.8, 98.1], "verdict": "reproduced"})
    for row, (low, high) in ci.items():
        df.loc[row, ["pi_low", "pi_high"]] = low, high
    return df


def test_intervals_past_the_metrics_range_are_cut_with_a_marker(book_figures):
    fig = P.reproduction_intervals(accuracy_results({1: (-24.86, 102.73)}))
    book_figures.append(fig)
    (ax,) = fig.axes
    low, high = ax.get_xlim()
    assert 0 <= low and high <= 100
    assert high - low < 5  # the collapsed row does not squeeze the other two
    markers = {line.get_marker(): line.get_xdata().tolist() for line in ax.get_lines()
               if line.get_gid() == P.CUT_MARKER and len(line.get_xdata())}
    assert markers == {"<": [low], ">": [high]}
    assert "interval continues past the axis" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_intervals_inside_the_axis_have_no_marker():
    fig = P.reproduction_intervals(accuracy_results({}))
    assert not [line for line in fig.axes[0].get_lines() if line.get_gid() == P.CUT_MARKER and len(line.get_xdata())]
    assert "interval continues past the axis" not in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(ValueError, match="no accuracy rows"):
        P.reproduction_intervals(accuracy_results({}).assign(metric="loss"))


def sensitivity_table() -> pd.DataFrame:
    return pd.DataFrame({"variant": ["stated"] * 3 + ["original"] * 3, "l2": [1e-4, 1e-2, 1e-1] * 2,
                         "accuracy_mean": [98.9, 96.4, 90.0, 98.9, 98.4, 97.0], "accuracy_sd": [0.1] * 6,
                         "loss_mean": [0.04, 0.35, 0.9, 0.04, 0.13, 0.3], "loss_sd": [0.01] * 6})


def every_figure_kind() -> dict[str, Figure]:
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    layers = {n: (RNG.normal(0, 0.05, 3000), np.zeros(8)) for n in ("conv1", "conv2", "conv3", "fc1", "fc2", "output")}
    seeds = pd.DataFrame({"variant": ["original"] * 5 + ["stated"] * 5, "seed": list(range(5)) * 2,
                          "accuracy": [65.1, 67.9, 61.2, 66.0, 64.3, 10.0, 66.1, 67.0, 64.2, 63.9]})
    return {
        "learning curves": P.learning_curves(run_history(epochs=20)),
        "weight histograms": P.weight_histograms(RNG.normal(0, 0.05, 5000), RNG.normal(0, 0.1, 64), "conv3"),
        "all weight histograms": P.all_weight_histograms(layers),
        "examples": P.examples(RNG.random((5, 32, 32, 3)), [1] * 5, np.eye(10)[[2] * 5] * 0.5 + 0.05, names),
        "input image": P.input_image(RNG.random((32, 32, 3)), "cat"),
        "64 feature maps": P.feature_maps(RNG.random((4, 4, 64)), "conv3"),
        "4 feature maps": P.feature_maps(RNG.random((28, 28, 4)), "conv1"),
        "intervals": P.reproduction_intervals(accuracy_results({1: (-24.86, 102.73)})),
        "sensitivity": P.sensitivity(sensitivity_table(), "l2", reported=(98.44, 0.1263), marked=0.01, xlabel="L2"),
        "seed values": P.seed_values(seeds, reported=67.95, chance=10.0),
    }


LONG_PROVENANCE = ("mnist-base seeds 0,1,2,3,4 (runs 0123abcd 4567ef01 89abcdef 01234567 89abcdef) · "
                   "data 3f1a2b3c4d5e6f70 · hwlib 0.1.0 @ 8001016a")


@pytest.mark.parametrize("kind", list(every_figure_kind()))
def test_text_is_at_least_10_px_where_the_html_shows_the_figure(kind):
    """Stamped with a long provenance line, shrunk to the HTML's content width."""
    fig = every_figure_kind()[kind]
    P.stamp(fig, LONG_PROVENANCE)
    image = P.png(fig)
    assert text_px_on_screen(image) >= MIN_TEXT_PX
    assert text_px_on_screen(image, text="provenance") >= MIN_TEXT_PX
    width = Image.open(io.BytesIO(image)).size[0]
    assert width <= (P.WIDTH + 0.3) * P.SAVE_DPI  # the provenance line wraps instead of widening the image


@pytest.mark.parametrize("kind", list(every_figure_kind()))
def test_the_provenance_line_sits_right_under_the_figure(kind):
    """Below everything else the figure shows, with no blank band between (Figs. 8, 22, 23
    had one under their images)."""
    fig = every_figure_kind()[kind]
    P.stamp(fig, LONG_PROVENANCE)
    fig.draw_without_rendering()
    (line,) = [t for t in fig.texts if t.get_gid() == P.PROVENANCE]
    others = [a.get_tightbbox() for a in [*fig.axes, *fig.legends] if a.get_visible()]
    others += [t.get_window_extent() for t in fig.texts if t is not line and t.get_text()]
    content_bottom = min(b.y0 for b in others if b.height > 0)
    gap_pt = (content_bottom - line.get_window_extent().y1) * 72 / fig.dpi
    assert 0 <= gap_pt <= 8, f"{gap_pt:.1f} pt between the figure and its provenance line"


def test_the_provenance_line_is_recorded_only_when_stamped():
    records = png_records(P.png(P.learning_curves(run_history())))
    assert "hwlib:min-text-px" in records and "hwlib:provenance-px" not in records
    fig = P.learning_curves(run_history())
    P.stamp(fig, "mnist-base · run 0123 · seed 0")
    fig.texts[-1].set_fontsize(6)  # a provenance line smaller than every other text
    image = P.png(fig)
    assert text_px_on_screen(image, shown_width_px=10_000, text="provenance") == pytest.approx(6 * 150 / 72, rel=0.01)
    assert text_px_on_screen(image, shown_width_px=10_000) == pytest.approx(6 * 150 / 72, rel=0.01)


def test_text_size_on_screen_follows_the_shrink():
    fig = P.learning_curves(run_history())
    image = P.png(fig)
    full = text_px_on_screen(image, shown_width_px=10_000)
    assert full == pytest.approx(P.SMALLEST_FONT * P.SAVE_DPI / 72, rel=0.01)
    assert text_px_on_screen(image, shown_width_px=336) < MIN_TEXT_PX  # at half the width: too small
    buf = io.BytesIO()
    P.learning_curves(run_history()).savefig(buf, format="png")
    assert not [key for key in png_records(buf.getvalue()) if key.startswith("hwlib:")]  # only P.png records


def test_figures_save_as_png(tmp_path):
    path = tmp_path / "curves.png"
    P.learning_curves(run_history()).savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_sensitivity_figure_has_a_line_per_variant_and_the_reported_values():
    df = sensitivity_table()
    fig = P.sensitivity(df, "l2", reported=(98.44, 0.1263), marked=0.01, xlabel="L2 factor")
    left, right = fig.axes
    assert left.get_xscale() == "log" and left.get_ylabel() == "test accuracy (%)"
    labels = left.get_legend_handles_labels()[1]
    assert sorted(labels) == ["original", "stated", "the homework"]
    assert right.lines[-2].get_ydata()[0] == 0.1263  # the reported loss
    assert [t.get_text() for t in left.get_xticklabels()] == ["0.0001", "0.01", "0.1"]  # the values tried
    assert left.get_xlabel() == "L2 factor"
    with pytest.raises(ValueError, match="lacks the column"):
        P.sensitivity(df.drop(columns="loss_sd"), "l2", reported=(98.44, 0.1263), marked=0.01, xlabel="L2")


def test_sensitivity_error_on_a_log_axis():
    fig = P.sensitivity(sensitivity_table(), "l2", reported=(98.44, 0.1263), marked=0.01, xlabel="L2", error_log=True)
    left = fig.axes[0]
    assert left.get_yscale() == "log" and left.get_ylabel() == "test error (%, log scale)"
    reported = [line for line in left.lines if line.get_linestyle() == "--"][0]
    assert reported.get_ydata()[0] == pytest.approx(100 - 98.44)
    original = [c for c in left.containers if c.get_label() == "original"][0]
    assert list(original.lines[0].get_ydata()) == pytest.approx([100 - 98.9, 100 - 98.4, 100 - 97.0])


def test_seed_values_show_every_seed_the_report_and_chance_only_when_near():
    df = pd.DataFrame({"variant": ["original"] * 3 + ["stated"] * 3, "seed": [0, 1, 2] * 2,
                       "accuracy": [65.0, 66.0, 64.0, 63.0, 67.0, 66.5]})
    fig = P.seed_values(df, reported=67.95, chance=10.0)
    ax = fig.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 6
    assert [line.get_xdata()[0] for line in ax.lines] == [67.95]  # no chance line: no run near it
    low, high = ax.get_xlim()
    assert 55 < low < 63 and 67.95 < high < 75  # the range shows the seeds, not 0-100
    collapsed = P.seed_values(df.assign(accuracy=[65.0, 10.0, 64.0, 63.0, 67.0, 66.5]), reported=67.95, chance=10.0)
    assert 10.0 in [line.get_xdata()[0] for line in collapsed.axes[0].lines]
    with pytest.raises(ValueError, match="lacks the column"):
        P.seed_values(df.drop(columns="seed"), reported=67.95, chance=10.0)
    # No random jitter: the same data draws the same image (an executed chapter must not change).
    assert P.png(P.seed_values(df, 67.95, 10.0)) == P.png(P.seed_values(df, 67.95, 10.0))


def visible_tick_labels(axis) -> list[str]:
    axis.figure.draw_without_rendering()
    low, high = sorted(axis.get_view_interval())
    index = 0 if axis is axis.axes.xaxis else 1
    return [t.get_text() for t in axis.get_ticklabels(which="both")
            if t.get_text() and low <= t.get_position()[index] <= high]


def test_log_count_axes_have_plain_tick_labels():
    few = np.repeat(np.linspace(-0.2, 0.2, 8), [2, 8, 15, 16, 19, 17, 15, 8])  # counts 2 to 19 (Fig. 14's conv1)
    many = np.concatenate([np.zeros(250_000), RNG.normal(0, 0.01, 12_000)])  # a spike of 250,000 (fc1)
    fig = P.all_weight_histograms({"conv1": (few, np.zeros(4)), "fc1": (many, np.zeros(64))}, log_counts=True)
    few_ax, many_ax = fig.axes
    assert visible_tick_labels(few_ax.yaxis) == ["2", "5", "10", "20"]
    labels = visible_tick_labels(many_ax.yaxis)
    assert labels[-3:] == ["1,000", "10,000", "100,000"]
    assert all(label.replace(",", "").isdigit() for label in labels)  # no 10^k, no 2×10¹
    assert few_ax.yaxis.get_minor_locator().tick_values(1, 100) == []


def test_titles_never_use_e_notation_or_a_hyphen_for_minus():
    tiny = RNG.normal(9.36e-05, 0.005, 262_144)
    tiny -= tiny.mean() - 9.36e-05  # mean exactly 9.36e-05, as Fig. 29's fc1
    negative = RNG.normal(-7e-05, 0.06, 1_280)
    negative -= negative.mean() + 7e-05
    fig = P.all_weight_histograms({"fc1": (tiny, np.zeros(64)), "output": (negative, np.zeros(10))},
                                  log_counts=True)
    fc1, output = (ax.get_title() for ax in fig.axes)
    assert "mean = 0.0000936," in fc1 and "mean = \u22120.00007," in output
    for title in (fc1, output):
        assert not re.search(r"\de[+\-\u2212]?\d", title) and "-" not in title, title


def test_log_counts_show_the_tails_of_a_spike():
    rng = np.random.default_rng(0)
    kernel = np.concatenate([np.zeros(5000), rng.normal(0, 0.05, 200)])
    fig = P.all_weight_histograms({"fc1": (kernel, np.zeros(3))}, log_counts=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "count (log scale)"
    assert P.all_weight_histograms({"fc1": (kernel, np.zeros(3))}).axes[0].get_yscale() == "linear"
