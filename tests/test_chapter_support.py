"""Notebook settings, findings glued into the prose, tables, provenance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hwlib import analysis, provenance, tables
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

    params = {"profile": "quick", "mnist_seeds": 3, "cifar10_seeds": 2}
    assert check_parameters(params).profile == "quick"
    assert chapter_parameters("mnist", params) == {"profile": "quick"}
    assert chapter_parameters("reproduction", params) == params
    # The Gaps chapter shares the seed counts, has its own sensitivity_seeds, and no variant.
    both = params | {"variant": "stated", "sensitivity_seeds": 2, "tuned_seeds": 3}
    assert chapter_parameters("gaps", both) == {k: v for k, v in both.items() if k != "variant"}
    assert "sensitivity_seeds" not in chapter_parameters("reproduction", both)
    with pytest.raises(ConfigError, match="cifar10_seeds must be a whole number >= 2"):
        check_parameters({"cifar10_seeds": 1})
    with pytest.raises(ConfigError, match="Unknown parameter"):
        check_parameters({"seeds": 3})


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


def test_sweep_table_and_findings():
    df = sweep_df([0.98, 0.975, 0.97, 0.96, 0.95, 0.94, 0.85])
    assert list(df["experiment"])[0] == "mnist-k5s1-same"
    assert df["Δ accuracy (pp)"].iloc[0] == 0 and df["Δ accuracy (pp)"].iloc[-1] == pytest.approx(-13.0)
    f = analysis.sweep_findings(df, "mnist-k5s1-same")
    assert f["best_config"] == "5x5 kernels with stride 1 and same padding"
    assert f["base_is_best"] == "is" and f["base_rank"] == 1
    assert f["stride_verdict"] == "every stride-1 configuration beats every strided one"
    assert f["worst_gap"] == pytest.approx(13.0)
    # A strided configuration that wins flips the verdict and the base's rank.
    g = analysis.sweep_findings(sweep_df([0.95, 0.975, 0.97, 0.99, 0.90, 0.89, 0.85]), "mnist-k5s1-same")
    assert g["base_is_best"] == "is not" and g["base_rank"] == 4
    assert g["stride_verdict"].startswith("stride-1 configurations do better on average")
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
    assert tables.num(-0.5, 2) == "−0.50" and tables.num(0.5, 2, sign=True) == "+0.50"
    assert tables.interval(float("nan"), 1.0, 2) == "n/a" and tables.mean_sd(1.0, float("nan"), 1) == "1.0"
    assert [tables.header(h) for h in ("verdict", "p (Holm)", "Δ accuracy (pp)", "rank: report / ours")] == [
        "Verdict", "p (Holm)", "Δ accuracy (pp)", "Rank: report / ours"]


def history(test_acc, train_acc, test_loss):
    n = len(test_acc)
    return pd.DataFrame({"epoch": range(1, n + 1), "loss": np.linspace(1, 0.1, n), "accuracy": train_acc,
                         "test_loss": test_loss, "test_accuracy": test_acc})


def test_curve_findings_detect_overfitting_or_not():
    over = analysis.curve_findings(history([0.6, 0.7, 0.699], [0.6, 0.8, 0.9], [1.0, 0.8, 1.1]))
    assert over["test_vs_train"] == "below" and over["min_test_loss_epoch"] == 2
    assert over["overfit_phrase"].startswith("the test loss is lowest after epoch 2")
    assert over["plateau_phrase"].startswith("from epoch 2 on, the test accuracy stays within 0.5 point")
    assert over["test_loss_rise"] == pytest.approx(0.3) and over["gap"] == pytest.approx(20.1)
    fine = analysis.curve_findings(history([0.9, 0.95], [0.85, 0.9], [0.3, 0.2]))
    assert fine["test_vs_train"] == "above" and "no sign of overfitting" in fine["overfit_phrase"]
    mild = analysis.curve_findings(history([0.6, 0.7, 0.7], [0.6, 0.8, 0.9], [1.0, 0.8, 0.82]))
    assert mild["overfit_phrase"] == ("the test loss is lowest after epoch 2 and ends within 2% of "
                                      "that minimum: at most mild overfitting")
    assert fine["relation_phrase"] == "the test accuracy is above the training accuracy at every epoch"
    assert over["relation_phrase"] == "the test accuracy ends below the training accuracy"
    assert "keeps pace" in fine["plateau_phrase"]


def test_example_findings_counts_confusions():
    y = np.array([0, 1, 2, 1, 1])
    proba = np.eye(3)[[0, 2, 2, 2, 1]] * 0.9 + 0.1 / 3
    f = analysis.example_findings(y, proba, ("a", "b", "c"))
    assert (f["n_wrong"], f["top_true"], f["top_pred"], f["top_count"]) == (2, "b", "c", 2)


def test_architecture_and_changes_tables():
    arch = tables.architecture_table(E.get("mnist-base"))
    assert arch["Parameters"].iloc[-1] == arch["Parameters"].iloc[:-1].sum() == 55018
    changes = tables.changes_table(E.get("cifar10-base"), E.get("cifar10-l2-tuned"))
    assert list(changes["Setting"]) == ["Adam learning rate", "Epochs", "Layers with L2"]
    assert list(changes.iloc[0, 1:]) == ["0.001", "0.002"]
    walk = tables.shape_walk_table(E.get("mnist-k7s3-same"))
    assert walk["Output"].tolist() == ["10x10x4", "5x5x4", "2x2x8", "1x1x8", "1x1x16"]


def test_show_returns_one_png_stamped_with_provenance(tiny_env):
    """Whatever the kernel's backend (Agg here), a figure cell yields a real PNG."""
    import matplotlib

    from hwlib import plots
    from hwlib.train import run

    matplotlib.use("Agg")
    r = run(E.get("mnist-base").with_overrides({"epochs": 1, "n_train": 100, "n_test": 50}))
    fig = plots.learning_curves(r.history)
    texts = []
    real_text = fig.text
    fig.text = lambda *a, **k: texts.append(a[2]) or real_text(*a, **k)
    img = provenance.show(fig, r)
    assert img.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert texts == [provenance.provenance(r)] and r.key in texts[0] and r.data_fingerprint in texts[0]


def test_executed_chapters_drop_only_tensorflow_log_lines():
    from hwlib.book import _without_tf_log

    tf_lines = ("I0000 00:00:1795755390.022979   27253 port.cc:153] oneDNN custom operations are on.\n"
                "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    assert _without_tf_log({"output_type": "stream", "name": "stderr", "text": tf_lines}) is None
    kept = _without_tf_log({"output_type": "stream", "name": "stderr", "text": tf_lines + "UserWarning: x\n"})
    assert kept["text"] == "UserWarning: x\n"
    stdout = {"output_type": "stream", "name": "stdout", "text": tf_lines}
    assert _without_tf_log(stdout) is stdout


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


def test_feature_map_prose_uses_the_real_prediction_without_the_examples_block(tiny_env, monkeypatch):
    """features() alone (no predictions() before it) still names what the network predicts."""
    from hwlib import chapter as C

    glued = {}
    monkeypatch.setattr(C.glue, "glue_all", lambda prefix, values: glued.update(
        {f"{prefix}_{k}": v for k, v in values.items()}))
    settings = Settings.from_params(profile="quick", epochs=1, n_train=100, n_test=50)
    ch = C.DatasetChapter("mnist", settings)
    ch.features()
    idx = C.FEATURE_IMAGE
    predicted = ch.data.class_names[int(ch.proba[idx].argmax())]
    assert glued["mnist_fmap_predicted"] == predicted
    assert glued["mnist_fmap_label"] == ch.data.class_names[int(ch.data.y_test[idx])]
