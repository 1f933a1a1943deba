"""Notebook settings, findings glued into the prose, tables, provenance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hwlib import analysis, plots, tables
from hwlib import experiments as E
from hwlib.errors import ConfigError, HwlibError
from hwlib.settings import Settings


@pytest.mark.parametrize("params, message", [
    ({"profile": "huge"}, "profile must be one of 'auto', 'full', 'quick', got 'huge'"),
    ({"epochs": "ten"}, "epochs must be a whole number >= 1, or None .*got 'ten'"),
    ({"epochs": 0}, "epochs must be a whole number >= 1"),
    ({"n_train": 2.5}, "n_train must be a whole number"),
    ({"seed": -1}, "seed must be a whole number >= 0"),
    ({"train": "yes"}, "train must be True or False, got 'yes'"),
    ({"data_dir": 3}, "data_dir must be text"),
    ({"n_train": 5}, "n_train must be at least 10"),
    ({"colour": 1}, r"Unknown parameter\(s\) colour"),
])
def test_bad_parameters_stop_with_a_clear_message(params, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_params(**params)


def test_chapter_extras_are_checked_and_go_to_their_chapter_only():
    from hwlib.settings import chapter_parameters, check_parameters

    params = {"profile": "quick", "seeds": 3}
    assert check_parameters(params).profile == "quick"
    assert chapter_parameters("mnist", params) == {"profile": "quick"}
    assert chapter_parameters("reproduction", params) == params
    # The Gaps chapter shares the seed count, has its own sensitivity_seeds, and no variant.
    both = params | {"variant": "stated", "sensitivity_seeds": 2}
    assert chapter_parameters("gaps", both) == {k: v for k, v in both.items() if k != "variant"}
    assert "sensitivity_seeds" not in chapter_parameters("reproduction", both)
    with pytest.raises(ConfigError, match="seeds must be a whole number >= 2"):
        check_parameters({"seeds": 1})
    with pytest.raises(ConfigError, match="Unknown parameter"):
        check_parameters({"mnist_seeds": 3})


def test_settings_apply_profile_and_overrides():
    s = Settings.from_params(profile="quick", epochs=1, seed=3)
    e = s.experiment("cifar10-l2-tuned")
    assert (e.train.epochs, e.train.n_train, e.train.seed, e.train.learning_rate) == (1, 2000, 3, 0.002)
    assert Settings.from_params(variant="stated").experiment("mnist-base") == E.get("mnist-base")
    original = Settings.from_params().experiment("mnist-base")  # the chapters' default: the original code
    assert original == E.prepare("mnist-base", variant="original") and original.train.input_scale == "raw"
    assert Settings.from_params().experiment("cifar10-base").train.batch_size == 64
    for bad in ("homework", 1, None):
        with pytest.raises(ConfigError, match="variant must be one of 'stated', 'original'|Unknown variant"):
            Settings.from_params(variant=bad)


def test_errors_render_as_one_paragraph_in_jupyter():
    err = ConfigError("epochs must be at least 1, got 0.")
    assert err._render_traceback_() == ["ConfigError: epochs must be at least 1, got 0."]
    assert isinstance(err, HwlibError)


class FakeRun:
    def __init__(self, name, acc, loss):
        self.experiment = E.get(name)
        self.metrics = {"test_accuracy": acc, "test_loss": loss}


def sweep_df(accs):
    runs = [FakeRun(n, a, 1 - a) for n, a in zip(E.SWEEPS["mnist"], accs)]
    return tables.sweep_table(runs)


def test_sweep_table_and_facts():
    df = sweep_df([0.98, 0.975, 0.97, 0.96, 0.95, 0.94, 0.85])
    assert list(df["experiment"])[0] == "mnist-k5s1-same"
    assert df["Δ accuracy (pp)"].iloc[0] == 0 and df["Δ accuracy (pp)"].iloc[-1] == pytest.approx(-13.0)
    f = analysis.sweep_facts(df, "mnist-k5s1-same")
    assert (f["configs"], f["base_rank"], f["stride1_n"], f["strided_n"]) == (7, 1, 3, 4)
    assert f["stride1_mean"] == pytest.approx(97.5) and f["strided_mean"] == pytest.approx(92.5)
    assert f["stride_change"] == pytest.approx(-5.0) and f["spread"] == pytest.approx(13.0)
    # A strided configuration that wins moves the base network down to rank 4.
    g = analysis.sweep_facts(sweep_df([0.95, 0.975, 0.97, 0.99, 0.90, 0.89, 0.85]), "mnist-k5s1-same")
    assert g["base_rank"] == 4 and g["stride_change"] == pytest.approx(90.75 - 96.5)
    assert analysis.sweep_facts(df, "not-in-the-sweep")["base_rank"] == 0
    md = tables.to_markdown(df)
    assert "98.00" in md and "0.0200" in md  # accuracies 2 decimals, losses 4


def test_tables_share_one_typography():
    """True minus signs, sentence-case headers, numbers right-aligned, and "mean ± sd" and
    "[low, high]" held on one line by no-break spaces (the book's cells never split them)."""
    df = pd.DataFrame({"experiment": ["a", "b"], "test loss": [0.5, 0.25], "Δ accuracy (pp)": [0.0, -1.5],
                       "p": [0.5, 0.01], "seeds": [3, -2],
                       "ours: mean ± sd": ["98.00 ± 0.10", "n/a"], "95% CI": ["[97.80, 98.20]", "[−1.00, 2.00]"]})
    header, rule, first, second = tables.to_markdown(df).splitlines()
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells == ["Experiment", "Test loss", "Δ accuracy (pp)", "p", "Seeds", "Ours: mean ± sd", "95% CI"]
    right = [c.strip().endswith(":") and not c.strip().startswith(":") for c in rule.strip("|").split("|")]
    assert right == [False, True, True, True, True, False, False]  # numbers right, text left
    assert "-" not in second.replace("|", "").replace(":", "") and "−1.50" in second and "−2" in second
    assert "98.00\u00a0±\u00a00.10" in first and "[97.80,\u00a098.20]" in first
    sizes = tables.to_markdown(pd.DataFrame({"shape": ["28x28x1"], "images": [60000], "kernels": [3216]}))
    assert "28×28×1" in sizes and "60,000" in sizes and "3,216" in sizes  # grouped as in the figures: a column reads alike
    assert tables.num(-0.5, 2) == "−0.50" and tables.num(0.5, 2, sign=True) == "+0.50"
    assert tables.interval(float("nan"), 1.0, 2) == "n/a" and tables.mean_sd(1.0, float("nan"), 1) == "1.0"
    heads = tables.to_markdown(pd.DataFrame(columns=["verdict", "p (Holm)", "Δ accuracy (pp)", "rank: report / ours"]))
    assert [c.strip() for c in heads.splitlines()[0].strip("|").split("|")] == [
        "Verdict", "p (Holm)", "Δ accuracy (pp)", "Rank: report / ours"]


def history(test_acc, train_acc, test_loss):
    n = len(test_acc)
    return pd.DataFrame({"epoch": range(1, n + 1), "loss": np.linspace(1, 0.1, n), "accuracy": train_acc,
                         "test_loss": test_loss, "test_accuracy": test_acc})


def test_curves_table_sets_runs_side_by_side():
    base = analysis.curve_facts(history([0.6, 0.7, 0.699], [0.6, 0.8, 0.9], [1.0, 0.8, 1.1]))
    l2 = analysis.curve_facts(history([0.9, 0.95], [0.85, 0.9], [0.3, 0.2]))
    df = tables.curves_table({"base network": base, "with L2": l2})
    assert list(df.columns) == ["measure", "base network", "with L2"]
    rows = dict(zip(df["measure"], zip(df["base network"], df["with L2"])))
    assert rows["Test accuracy (%)"] == ("69.90", "95.00")
    assert rows["Gap: training − test (points)"] == ("20.10", "−5.00")  # a true minus sign
    assert rows["Lowest test loss"] == ("0.8000 (epoch 2)", "0.2000 (epoch 2)")
    assert rows["Epochs with test above training accuracy"] == ("0 / 3", "2 / 2")


def test_error_tables():
    y = np.array([0, 1, 2, 1, 1])
    proba = np.eye(3)[[0, 2, 2, 2, 1]] * 0.9 + 0.1 / 3
    assert analysis.error_facts(y, proba)["n_wrong"] == 2
    assert analysis.top_confusions(y, proba, ("a", "b", "c")).values.tolist() == [["b", "c", 2]]


def test_reported_table_puts_the_homeworks_numbers_beside_ours():
    from hwlib.reproduction import load_reported

    reported_for = load_reported().for_experiment

    base = reported_for("mnist-base")  # reported as row 1 of the homework's Table 3: the same settings
    assert base is not None and base.experiment == "mnist-k5s1-same"
    assert reported_for("mnist-l2").experiment == "mnist-l2"
    runs = [FakeRun("mnist-base", a, 1 - a) for a in (0.98, 0.982, 0.984)]
    df = tables.reported_table([("base network", base, runs[0], runs), ("other", None, runs[0], runs)])
    assert list(df.columns) == ["network", "measure", "report", "this run", "3 seeds: mean ± sd"]
    assert df.iloc[0].tolist() == ["base network", "test accuracy (%)", f"{base.accuracy:.2f}", "98.00",
                                   "98.20 ± 0.20"]
    assert df.iloc[1]["measure"] == "test loss" and df.iloc[1]["this run"] == "0.0200"
    assert df.iloc[2]["report"] == ""  # nothing reported


def test_architecture_and_changes_tables():
    arch = tables.architecture_table(E.get("mnist-base"))
    assert arch["Parameters"].iloc[-1] == arch["Parameters"].iloc[:-1].sum() == 55018
    changes = tables.changes_table(E.get("cifar10-base"), E.get("cifar10-l2-tuned"))
    assert list(changes["Setting"]) == ["Adam learning rate", "Epochs", "Layers with L2"]
    assert list(changes.iloc[0, 1:]) == ["0.001", "0.002"]
    walk = tables.shape_walk_table(E.get("mnist-k7s3-same"))
    assert walk["Output"].tolist() == ["10x10x4", "5x5x4", "2x2x8", "1x1x8", "1x1x16"]
    assert walk["Formula"][0] == "⌊(28 + 6 − 7) / 3⌋ + 1 = 10"
    names = [e.name for e in E.EXPERIMENTS.values()]
    experiments = tables.experiment_table(list(E.EXPERIMENTS.values())).set_index("Experiment")
    assert list(experiments.index) == names
    assert experiments.loc["mnist-l2", "L2 on"] == "all" and experiments.loc["mnist-base", "L2 on"] == "none"
    assert experiments.loc["cifar10-l2-tuned", "L2 on"] == "conv1, conv3, fc1"
    # The base network is a row of its sweep: the same settings, one run.
    same = experiments["Same run as"]
    assert same["mnist-k5s1-same"] == "mnist-base" and same["cifar10-k3s1-same"] == "cifar10-base"
    assert (same != "").sum() == 2


def test_show_returns_one_png_stamped_with_provenance(tiny_env):
    """Whatever the kernel's backend (Agg here), a figure cell yields a real PNG."""
    import matplotlib

    from hwlib.train import run

    matplotlib.use("Agg")
    r = run(E.get("mnist-base").with_overrides({"epochs": 1, "n_train": 100, "n_test": 50}))
    fig = plots.learning_curves(r.history)
    texts = []
    real_text = fig.text
    fig.text = lambda *a, **k: texts.append(a[2]) or real_text(*a, **k)
    img = plots.show(fig, r)
    assert img.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert texts == [plots.provenance(r)] and r.key in texts[0] and r.data_fingerprint in texts[0]


def test_executed_chapters_keep_every_output_but_stderr():
    from hwlib.book import _not_stderr

    tf_lines = "I0000 00:00:1795755390.022979   27253 port.cc:153] oneDNN custom operations are on.\n"
    assert not _not_stderr({"output_type": "stream", "name": "stderr", "text": tf_lines})
    assert _not_stderr({"output_type": "stream", "name": "stdout", "text": tf_lines})
    assert _not_stderr({"output_type": "display_data", "data": {"text/plain": "x"}})


def test_auto_profile_is_quick_on_binder_and_colab_and_full_elsewhere(monkeypatch):
    for name in ("BINDER_SERVICE_HOST", "BINDER_LAUNCH_HOST", "COLAB_RELEASE_TAG"):
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_params().profile == "full" and Settings.from_params(profile="quick").profile == "quick"
    monkeypatch.setenv("BINDER_SERVICE_HOST", "10.0.0.1")
    assert Settings.from_params().profile == "quick" and Settings.from_params(profile="full").profile == "full"
    monkeypatch.delenv("BINDER_SERVICE_HOST")
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab")
    assert Settings.from_params().profile == "quick"
    with pytest.raises(ConfigError, match="repository must be text"):
        Settings.from_params(repository=3)


def test_dataset_chapter_gives_numbers_and_tables_and_glues_nothing(tiny_env, monkeypatch):
    """A chapter's blocks return numbers, tables and figures; the notebook glues them. The
    feature image's prediction is the network's own, without the examples block before it."""
    import myst_nb

    from hwlib import chapter as C

    monkeypatch.setattr(myst_nb, "glue", lambda *a, **k: pytest.fail("the chapter glued something"))
    settings = Settings.from_params(profile="quick", epochs=1, n_train=100, n_test=50)
    ch = C.DatasetChapter("mnist", settings)
    image = ch.feature_image()
    assert image["index"] == C.FEATURE_IMAGE
    assert image["predicted"] == ch.data.class_names[int(ch.proba[C.FEATURE_IMAGE].argmax())]
    assert image["label"] == ch.data.class_names[int(ch.data.y_test[C.FEATURE_IMAGE])]
    setup = ch.setup()
    assert (setup["epochs"], setup["n_train"], setup["n_test"], setup["pixel_max"]) == (1, 100, 50, 255)
    assert setup["parameters"] == tables.architecture_table(ch.run().experiment)["Parameters"].iloc[-1]
    assert tables.feature_map_table(ch.maps)["Maps"].tolist() == [4, 8, 16]
    assert ch.reported().accuracy > 90  # the homework's base network
    assert ch.show(plots.learning_curves(ch.run().history)).data[:8] == b"\x89PNG\r\n\x1a\n"
    assert ch.sweep_facts()["base_rank"] >= 1  # the base network is the sweep's 5x5, stride-1 row
    assert set(ch.sweep().columns) >= {"kernel", "report: accuracy (%)", "report: loss"}
