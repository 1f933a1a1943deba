"""Figures: one style, what each panel shows, edge cases, sizes for the book."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from hwlib import plots as P

# conftest.py sets MPLBACKEND=Agg before matplotlib is imported

DIGITS = tuple(str(d) for d in range(10))
RNG = np.random.default_rng(0)


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
    fig = P.learning_curves(hist, title="MNIST base")
    book_figures.append(fig)
    assert isinstance(fig, Figure) and fig.get_suptitle() == "MNIST base"
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
    fig = P.learning_curves(None, band=seeds)
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


def test_learning_curves_need_exactly_one_source():
    with pytest.raises(ValueError, match="either history"):
        P.learning_curves(run_history(), band=run_history().assign(seed=0))
    with pytest.raises(ValueError, match="either history"):
        P.learning_curves(None)
    with pytest.raises(ValueError, match="seed"):
        P.learning_curves(None, band=run_history())
    with pytest.raises(ValueError, match="test_loss"):
        P.learning_curves(run_history().drop(columns="test_loss"))


def test_weight_histograms_count_every_weight_and_bias(book_figures):
    kernel, bias = RNG.normal(0, 0.1, (5, 5, 1, 4)), np.array([0.5, 0.5, 1.5, 1.5])
    fig = P.weight_histograms(kernel, bias, "conv1")
    book_figures.append(fig)
    weight_ax, bias_ax = fig.axes
    assert bar_total(weight_ax) == 100 and bar_total(bias_ax) == 4
    assert weight_ax.get_title().startswith("conv1 weights (n = 100)")
    assert bias_ax.get_title() == "conv1 biases (n = 4)\nmean = 1, std = 0.5"
    assert f"mean = {kernel.mean():.3g}" in weight_ax.get_title()


def test_weight_histograms_of_constant_biases():
    fig = P.weight_histograms(np.ones((3, 2)), np.zeros(2), "output")
    assert bar_total(fig.axes[1]) == 2 and "std = 0" in fig.axes[1].get_title()


def test_all_weight_histograms_have_one_panel_per_layer_in_order(book_figures):
    names = ["conv1", "conv2", "conv3", "fc1", "fc2", "output"]
    weights = {name: (RNG.normal(size=(i + 2, 3)), np.zeros(3)) for i, name in enumerate(names)}
    fig = P.all_weight_histograms(weights)
    book_figures.append(fig)
    assert [ax.get_title().split(" ")[0] for ax in fig.axes] == names
    assert [bar_total(ax) for ax in fig.axes] == [(i + 2) * 3 for i in range(6)]
    assert fig.get_figheight() > P.all_weight_histograms(dict(list(weights.items())[:3])).get_figheight()
    with pytest.raises(ValueError, match="No layers"):
        P.all_weight_histograms({})


def test_examples_title_each_image_with_true_and_predicted_class(book_figures):
    images = RNG.random((3, 28, 28, 1))
    proba = np.full((3, 10), 0.02)
    proba[[0, 1, 2], [7, 1, 3]] = 0.82
    fig = P.examples(images, [7, 2, 3], [7, 1, 3], proba, DIGITS, title="wrong ones")
    book_figures.append(fig)
    assert len(fig.axes) == 3 and fig.get_suptitle() == "wrong ones"
    assert fig.axes[1].get_title() == "true: 2\npred: 1 (p = 0.82)"
    for ax, image in zip(fig.axes, images):
        (shown,) = ax.get_images()
        assert shown.get_array().shape == (28, 28) and shown.get_cmap().name == "gray"
        np.testing.assert_allclose(shown.get_array(), image[..., 0])
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []


def test_examples_show_rgb_images_in_colour_with_class_names():
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    proba = np.eye(10)[[9, 1]] * 0.9 + 0.01
    fig = P.examples(RNG.random((2, 32, 32, 3)), [1, 1], [9, 1], proba, names)
    assert fig.axes[0].get_images()[0].get_array().shape == (32, 32, 3)
    assert fig.axes[0].get_title() == "true: automobile\npred: truck (p = 0.91)"


def test_examples_without_images_say_so():
    fig = P.examples(np.zeros((0, 28, 28, 1)), [], [], np.zeros((0, 10)), DIGITS)
    assert [t.get_text() for t in fig.texts] == ["no images"]
    assert not any(ax.get_images() for ax in fig.axes)
    with pytest.raises(ValueError, match="one entry per image"):
        P.examples(np.zeros((2, 28, 28, 1)), [1], [1, 2], np.zeros((2, 10)), DIGITS)


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
def test_feature_maps_show_every_filter_on_one_colour_scale(channels, columns,
                                                            book_figures):
    maps = RNG.random((7, 7, channels)) * np.arange(1, channels + 1)
    fig = P.feature_maps(maps, "conv3")
    book_figures.append(fig)
    panels = data_axes(fig)
    assert [ax.get_title() for ax in panels] == [f"filter {k}" for k in range(1, channels + 1)]
    assert len(colorbars(fig)) == 1
    for k, ax in enumerate(panels):
        (shown,) = ax.get_images()
        np.testing.assert_array_equal(shown.get_array(), maps[..., k])
        assert shown.get_clim() == (maps.min(), maps.max())
    fig.canvas.draw()
    assert len({round(ax.get_position().x0, 3) for ax in panels}) == columns
    assert "conv3" in fig.get_suptitle()


def test_feature_maps_of_a_dead_layer_and_bad_shapes():
    fig = P.feature_maps(np.zeros((4, 4, 2)), "conv1")
    assert [ax.get_images()[0].get_clim() for ax in data_axes(fig)] == [(0.0, 1.0)] * 2
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        P.feature_maps(np.zeros((4, 4)), "conv1")


def test_figures_save_as_png(tmp_path):
    path = tmp_path / "curves.png"
    P.learning_curves(run_history()).savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG"
