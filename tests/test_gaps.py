"""The hypotheses that explain the gaps: label swaps, settings, collapses, epochs above."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from hwlib import experiments as E
from hwlib import gaps

OURS = {  # (accuracy mean, sd, loss mean, sd): four configurations far enough apart
    "cifar10-k3s1-same": (69.4, 0.5, 1.42, 0.05), "cifar10-k3s2-same": (60.5, 0.4, 1.13, 0.02),
    "cifar10-k5s2-same": (62.8, 0.8, 1.11, 0.03), "cifar10-k5s1-same": (66.6, 0.6, 1.55, 0.06),
}


def ours_runs():
    """Three seeds of each configuration of OURS, at mean - sd, mean and mean + sd."""
    runs = {}
    for name, (acc, acc_sd, loss, loss_sd) in OURS.items():
        runs[name] = [fake(name, s, (acc + d * acc_sd) / 100) for s, d in enumerate((-1, 0, 1))]
        for r, d in zip(runs[name], (-1, 0, 1)):
            r.metrics["test_loss"] = loss + d * loss_sd
    return runs


def printed(rows):
    return [gaps.R.Result(f"T6.{i + 1}", name, "", "Table 6", acc, loss) for i, (name, acc, loss) in enumerate(rows)]


def test_printed_labels_that_fit_are_ranked_first():
    reported = [("cifar10-k3s1-same", 69.0, 1.40), ("cifar10-k3s2-same", 60.9, 1.12),
                ("cifar10-k5s2-same", 62.5, 1.10), ("cifar10-k5s1-same", 66.0, 1.50)]
    a = gaps.label_assignment(printed(reported), ours_runs())
    assert a.printed_rank == 1 and a.best == a.configs and a.moved == [] and a.n_assignments == 24
    assert a.share_as_close == pytest.approx(1 / 24)
    # By hand: each metric in units of our sd pooled over the four configurations.
    pooled_acc = ((0.5**2 + 0.4**2 + 0.8**2 + 0.6**2) / 4) ** 0.5
    pooled_loss = ((0.05**2 + 0.02**2 + 0.03**2 + 0.06**2) / 4) ** 0.5
    by_hand = sum(((acc - OURS[c][0]) / pooled_acc) ** 2 + ((loss - OURS[c][2]) / pooled_loss) ** 2
                  for c, acc, loss in reported)
    assert a.printed_distance == pytest.approx(by_hand)


def test_rows_2_and_4_swapped_are_found():
    # The numbers of 5x5 stride 1 printed on the 3x3 stride 2 row and the other way round.
    reported = [("cifar10-k3s1-same", 69.0, 1.40), ("cifar10-k3s2-same", 66.0, 1.50),
                ("cifar10-k5s2-same", 62.5, 1.10), ("cifar10-k5s1-same", 60.9, 1.12)]
    a = gaps.label_assignment(printed(reported), ours_runs())
    assert a.best == ("cifar10-k3s1-same", "cifar10-k5s1-same", "cifar10-k5s2-same", "cifar10-k3s2-same")
    assert [(m["row"], m["printed"], m["moved_to"]) for m in a.moved] == [
        (2, "cifar10-k3s2-same", "cifar10-k5s1-same"), (4, "cifar10-k5s1-same", "cifar10-k3s2-same")]
    assert a.printed_rank > 1


def test_label_assignment_needs_a_configuration_per_row():
    with pytest.raises(ValueError, match="its own configuration"):
        gaps.label_assignment(printed([("cifar10-k3s1-same", 1, 1), ("cifar10-k3s1-same", 2, 2)]), ours_runs())


def side(rows):
    """A side_by_side table from (id, metric, reported, original mean, original interval,
    stated mean, stated interval)."""
    return pd.DataFrame([{"id": i, "metric": m, "reported": rep,
                          "original mean": om, "original pi_low": olo, "original pi_high": ohi,
                          "stated mean": sm, "stated pi_low": slo, "stated pi_high": shi}
                         for i, m, rep, om, (olo, ohi), sm, (slo, shi) in rows])


def test_setting_hypothesis_rule():
    # Supported: original holds both numbers, stated misses one.
    supported = side([("A", "accuracy", 98.0, 98.1, (97.5, 98.7), 98.9, (98.5, 99.3)),
                      ("A", "loss", 0.08, 0.07, (0.05, 0.09), 0.04, (0.03, 0.05))])
    outcome, evidence = gaps.setting_hypothesis(supported, ["A"])
    assert outcome == "supported"
    assert list(evidence["nearer"]) == ["original", "original"]
    assert list(evidence["original"]) == ["98.10, inside", "0.0700, inside"]
    assert list(evidence["stated"]) == ["98.90, outside", "0.0400, outside"]
    # Neither holds the numbers, but original is nearer in both: open, not refuted (a reader
    # would call original the better reading).
    nearer = side([("B", "accuracy", 71.2, 69.8, (68.5, 71.1), 69.1, (67.0, 71.0)),
                   ("B", "loss", 1.12, 1.20, (1.13, 1.27), 1.35, (1.20, 1.50))])
    assert gaps.setting_hypothesis(nearer, ["B"])[0] == "open"
    # Stated holds as many and is nearer as often: refuted.
    refuted = side([("C", "accuracy", 62.5, 63.3, (61.3, 65.2), 62.2, (60.0, 64.5)),
                    ("C", "loss", 1.11, 1.06, (0.99, 1.13), 1.10, (1.08, 1.12))])
    assert gaps.setting_hypothesis(refuted, ["C"])[0] == "refuted"
    with pytest.raises(ValueError, match="accuracy and a loss row"):
        gaps.setting_hypothesis(supported, ["A", "Z"])


def fake(name, seed, acc, train_acc=None, history=None):
    exp = E.get(name).with_overrides({"seed": seed})
    return SimpleNamespace(experiment=exp, key=f"{name}-{seed}-{acc}", history=history,
                           metrics={"test_accuracy": acc, "train_accuracy": acc if train_acc is None else train_acc})


def test_collapses_count_bound_and_fisher():
    stated = [fake("cifar10-l2-tuned", s, a) for s, a in enumerate([0.68, 0.10, 0.67, 0.10, 0.66])]
    original = [fake("cifar10-l2-tuned", s, a) for s, a in enumerate([0.68, 0.69, 0.67, 0.70, 0.66])]
    out = gaps.collapses({"stated": stated, "original": original})
    assert (out["collapsed"], out["runs"]) == (2, 10)
    assert out["fisher_p"] == pytest.approx(0.4444444, abs=1e-6)  # R: fisher.test(matrix(c(2,3,0,5),2))
    assert out["bound"] == pytest.approx(0.5560955, abs=1e-6)  # R: binom.test(2, 10)$conf.int[2]
    none = gaps.collapses({"original": original + [fake("cifar10-l2-tuned", s, 0.68) for s in range(5, 10)]})
    assert none["bound"] == pytest.approx(0.3084971, abs=1e-6) and "fisher_p" not in none  # binom.test(0, 10)


def test_epochs_above_counts_per_seed():
    h = pd.DataFrame({"epoch": [1, 2, 3], "accuracy": [0.9, 0.95, 0.97], "test_accuracy": [0.95, 0.96, 0.96],
                      "loss": [0.3, 0.2, 0.1], "test_loss": [0.2, 0.2, 0.2]})
    runs = [fake("mnist-l2", 1, 0.96, history=h), fake("mnist-l2", 0, 0.96, history=h.assign(accuracy=0.99))]
    assert gaps.epochs_above(runs) == [(0, 0, 3), (1, 2, 3)]


def test_sensitivity_table_means_per_variant_and_value():
    runs = [("mnist-l2", v, l2, fake("mnist-l2", s, acc))
            for v, l2, s, acc in [("stated", 0.01, 0, 0.96), ("stated", 0.01, 1, 0.97),
                                  ("original", 0.01, 0, 0.985), ("original", 0.01, 1, 0.983)]]
    for *_, r in runs:
        r.metrics["test_loss"] = 0.1
    df = gaps.sensitivity_table(runs, "l2")
    row = df[(df["variant"] == "stated") & (df["l2"] == 0.01)].iloc[0]
    assert row["seeds"] == 2 and row["accuracy_mean"] == pytest.approx(96.5)
    assert row["accuracy_sd"] == pytest.approx(0.7071068, abs=1e-6)


def test_closing_table_explains_each_number_once():
    def row(i, metric, reported, original, stated):
        return {"id": i, "label": "MNIST, 5×5 stride 1", "metric": metric, "reported": reported,
                "original verdict": original, "stated verdict": stated}

    table = pd.DataFrame([
        row("A", "accuracy", 98.4, "reproduced", "not reproduced"), row("A", "loss", 0.1, "reproduced", "reproduced"),
        row("B", "accuracy", 69.1, "not reproduced", "not reproduced"),
        row("B", "loss", 1.5, "reproduced", "not reproduced"),
        row("C", "accuracy", 67.9, "too uncertain", "not reproduced"),
        row("C", "loss", 1.0, "not reproduced", "not reproduced"),
        row("D", "accuracy", 60.0, "not reproduced", "reproduced"),
        row("D", "loss", 1.0, "not reproduced", "too uncertain")])
    # A swap covers both numbers of a moved row, whatever their verdicts unswapped; an
    # unstable run explains a number only where no variant reproduces it.
    closing = gaps.closing_table(table, swapped={("B", "accuracy"), ("B", "loss")},
                                 unstable={("A", "accuracy"), ("C", "loss")})
    assert list(closing["accuracy: explanation"]) == ["reproduced under original", gaps.CAUSES["H3"], gaps.UNCERTAIN,
                                                      "reproduced under stated only"]
    assert list(closing["loss: explanation"]) == ["reproduced under original", gaps.CAUSES["H3"], gaps.CAUSES["H4"],
                                                  gaps.UNCERTAIN]
    assert closing.iloc[0]["result"] == "A: MNIST, 5×5 stride 1" and closing.iloc[0]["accuracy (%)"] == "98.40"
    summary = gaps.summary_table(closing).set_index("explanation")
    assert list(summary.index) == list(gaps.CATEGORIES)  # every kind, zero included
    assert summary["accuracies"].sum() == summary["losses"].sum() == 4
    assert summary.loc[gaps.CAUSES["H3"]].tolist() == [1, 1] and summary.loc[gaps.CAUSES["H4"]].tolist() == [0, 1]


def _assignment(configs, best, rank):
    return gaps.Assignment(tuple(configs), 10.0, rank, tuple(best), rank / 24, 24, [])


def test_swap_outcome_rule():
    printed = ("k3s1", "k3s2", "k5s2", "k5s1")
    swapped = ("k3s1", "k5s1", "k5s2", "k3s2")
    other = ("k3s2", "k3s1", "k5s2", "k5s1")
    assert gaps.swap_outcome({"original": _assignment(printed, swapped, 5),
                              "stated": _assignment(printed, swapped, 3)}, (2, 4)) == "supported"
    assert gaps.swap_outcome({"original": _assignment(printed, printed, 1),
                              "stated": _assignment(printed, printed, 1)}, (2, 4)) == "refuted"
    assert gaps.swap_outcome({"original": _assignment(printed, swapped, 5),
                              "stated": _assignment(printed, other, 2)}, (2, 4)) == "open"


def test_assignment_and_moved_verdicts_of_table_6():
    reported = gaps.R.load_reported()
    rows = reported.group("Table 6")
    # Our runs: each configuration's seeds spread around a chosen mean.
    means = {"cifar10-k3s1-same": (0.694, 1.42), "cifar10-k3s2-same": (0.605, 1.13),
             "cifar10-k5s2-same": (0.628, 1.11), "cifar10-k5s1-same": (0.666, 1.55)}
    runs = {}
    for name, (acc, loss) in means.items():
        runs[name] = []
        for seed, d in enumerate((-0.004, 0.0, 0.004)):
            r = fake(name, seed, acc + d)
            r.metrics["test_loss"] = loss + 10 * d
            runs[name].append(r)
    a = gaps.label_assignment(rows, runs)
    assert a.configs == tuple(r.experiment for r in rows)
    # The report's rows 2 and 4 fit each other's configuration best.
    assert [(m["row"], m["printed"], m["moved_to"]) for m in a.moved] == [
        (2, "cifar10-k3s2-same", "cifar10-k5s1-same"), (4, "cifar10-k5s1-same", "cifar10-k3s2-same")]
    moved = a.moved
    assert [m["id"] for m in moved] == ["T6.2", "T6.4"]
    # Row 2 (69.08 %) against our k5s1 interval: 66.6 ± t(2)·0.4·sqrt(4/3) = 66.6 ± 1.99 -> outside.
    assert moved[0]["accuracy"]["high"] == pytest.approx(66.6 + 4.302653 * 0.4 * (4 / 3) ** 0.5, abs=1e-4)
    assert moved[0]["accuracy"]["verdict"] == "not reproduced"
    shown = gaps.moved_table({"original": moved, "stated": []})
    assert shown.iloc[0][["variant", "row", "read as"]].tolist() == ["original", "2 (T6.2)", "5×5 s1"]
    assert shown.iloc[0]["accuracy (%)"].startswith("69.08 vs [") and shown.iloc[0]["accuracy (%)"].endswith(
        ": not reproduced")
    table = gaps.assignment_table({"original": a})
    assert table.iloc[0]["printed labels: rank"] == f"{a.printed_rank} of 24"
    assert "row 2: 3×3 s2 → 5×5 s1" in table.iloc[0]["best assignment moves"]


def test_instability_rule():
    reported = gaps.R.Result("S2.4b", "cifar10-l2-tuned", "Section 2.4", "", 67.95, 1.07)

    def runs(accs, loss=1.07):
        out = [fake("cifar10-l2-tuned", s, a) for s, a in enumerate(accs)]
        for r in out:
            r.metrics["test_loss"] = 2.3 if r.metrics["test_accuracy"] < 0.2 else loss + 0.01 * r.experiment.train.seed
        return out

    # A collapsed seed makes the interval too wide; without it the reported number is inside.
    outcome, evidence = gaps.instability({"original": runs([0.68, 0.67, 0.69, 0.68, 0.67]),
                                          "stated": runs([0.68, 0.10, 0.67, 0.69, 0.68])}, reported)
    assert outcome == "supported"
    row = evidence[(evidence["variant"] == "stated") & (evidence["metric"] == "accuracy")].iloc[0]
    assert (row["collapsed"], row["verdict, every run"], row["verdict, without collapsed runs"]) == (
        1, "too uncertain", "reproduced")
    # No collapse: nothing to explain.
    assert gaps.instability({"original": runs([0.60, 0.61, 0.62])}, reported)[0] == "refuted"
    # Collapses that do not bring the number inside explain nothing.
    assert gaps.instability({"stated": runs([0.50, 0.10, 0.51, 0.52], loss=1.4)}, reported)[0] == "refuted"


def test_above_outcome_table_and_lag():
    assert gaps.above_outcome([(0, 10, 10), (1, 10, 10)]) == "supported"
    assert gaps.above_outcome([(0, 10, 10), (1, 8, 10)]) == "open"
    assert gaps.above_outcome([(0, 9, 10), (1, 8, 10)]) == "refuted"
    table = gaps.above_table({("original", "mnist-l2"): [(0, 8, 10), (1, 10, 10)]})
    assert table.to_dict("records") == [{"variant": "original", "network": "MNIST, L2 on every layer",
                                         "seed 0": "8 / 10", "seed 1": "10 / 10"}]
    h = pd.DataFrame({"accuracy": [0.90, 0.94, 0.96], "test_accuracy": [0.95, 0.95, 0.97]})
    lag = gaps.lag([fake("mnist-l2", 0, 0.97, history=h)])
    assert lag["rise"] == pytest.approx(3.0)  # (4 + 2) / 2 points
    assert lag["beats_next"] == pytest.approx(0.5)  # 0.95 > 0.94, 0.95 < 0.96
    assert math.isnan(gaps.lag([fake("mnist-l2", 0, 0.9, history=h.iloc[:1])])["rise"])


def test_variant_table_and_side_by_side_format():
    table = gaps.variant_table()
    assert list(table.columns) == ["dataset", "setting", "original", "stated"]
    assert table.to_dict("records") == [
        {"dataset": "MNIST", "setting": "input pixels", "original": "raw (0–255)", "stated": "divided by 255 (0–1)"},
        {"dataset": "CIFAR-10", "setting": "batch size", "original": "64", "stated": "32"}]
    side_ = pd.DataFrame([{"id": "S1.4", "label": "MNIST, L2 on every layer", "metric": "accuracy", "reported": 98.44,
                           "original mean": 98.17, "original sd": 0.39, "original verdict": "reproduced",
                           "stated mean": 96.39, "stated sd": 1.03, "stated verdict": "not reproduced"}])
    out = gaps.format_side_by_side(side_, "accuracy")
    assert out.iloc[0].to_dict() == {"result": "S1.4: MNIST, L2 on every layer", "reported": "98.44",
                                     "original": "98.17 ± 0.39, reproduced", "stated": "96.39 ± 1.03, not reproduced"}


def test_settings_for_variant_checks_the_name():
    from hwlib.errors import ConfigError
    from hwlib.settings import Settings

    s = Settings.from_params(profile="full")
    assert s.for_variant("stated").experiment("mnist-base").train.input_scale == "unit"
    assert s.for_variant("original").experiment("mnist-base").train.input_scale == "raw"
    with pytest.raises(ConfigError, match="Unknown variant 'orginal'"):
        s.for_variant("orginal")


def test_collapse_seeds_and_lag_table():
    stated = [fake("cifar10-l2-tuned", s, a) for s, a in enumerate([0.68, 0.10, 0.67])]
    original = [fake("cifar10-l2-tuned", s, a) for s, a in enumerate([0.68, 0.69, 0.66])]
    seeds = gaps.collapses({"original": original, "stated": stated})["seeds"]
    assert list(seeds.columns) == ["variant", "seed", "accuracy"] and len(seeds) == 6
    assert seeds[seeds["variant"] == "stated"]["accuracy"].tolist() == pytest.approx([68.0, 10.0, 67.0])
    lag = gaps.lag_table([{"variant": "original", "rise": 0.5, "beats_next": 0.7, "test set (%)": 98.0}])
    assert lag.iloc[0].to_dict() == {"variant": "original", "rise per epoch (pp)": "0.50",
                                     "beats next epoch (%)": "70", "test set (%)": "98.00"}
