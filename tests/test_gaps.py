"""The hypotheses that explain the gaps: label swaps, settings, collapses, epochs above."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from hwlib import experiments as E
from hwlib import gaps

OURS = {  # (accuracy mean, sd, loss mean, sd): four configurations far enough apart
    "k3s1": (69.4, 0.5, 1.42, 0.05), "k3s2": (60.5, 0.4, 1.13, 0.02),
    "k5s2": (62.8, 0.8, 1.11, 0.03), "k5s1": (66.6, 0.6, 1.55, 0.06),
}


def test_printed_labels_that_fit_are_ranked_first():
    reported = [("k3s1", 69.0, 1.40), ("k3s2", 60.9, 1.12), ("k5s2", 62.5, 1.10), ("k5s1", 66.0, 1.50)]
    a = gaps.label_assignment(reported, OURS)
    assert a.printed_rank == 1 and a.best == a.configs and a.moved == [] and a.n_assignments == 24
    assert a.share_as_close == pytest.approx(1 / 24)
    # By hand: each metric in units of our sd pooled over the four configurations.
    pooled_acc = ((0.5**2 + 0.4**2 + 0.8**2 + 0.6**2) / 4) ** 0.5
    pooled_loss = ((0.05**2 + 0.02**2 + 0.03**2 + 0.06**2) / 4) ** 0.5
    by_hand = sum(((acc - OURS[c][0]) / pooled_acc) ** 2 + ((loss - OURS[c][2]) / pooled_loss) ** 2
                  for c, acc, loss in reported)
    assert a.printed_distance == pytest.approx(by_hand)


def test_rows_2_and_4_swapped_are_found():
    # The numbers of k5s1 printed on the k3s2 row and the other way round.
    reported = [("k3s1", 69.0, 1.40), ("k3s2", 66.0, 1.50), ("k5s2", 62.5, 1.10), ("k5s1", 60.9, 1.12)]
    a = gaps.label_assignment(reported, OURS)
    assert a.best == ("k3s1", "k5s1", "k5s2", "k3s2")
    assert a.moved == [(2, "k3s2", "k5s1"), (4, "k5s1", "k3s2")]
    assert a.printed_rank > 1 and a.best_distance < a.printed_distance


def test_label_assignment_needs_matching_configurations():
    with pytest.raises(ValueError, match="its own configuration"):
        gaps.label_assignment([("k3s1", 1, 1), ("k3s1", 2, 2)], {"k3s1": (1, 1, 1, 1), "k3s2": (1, 1, 1, 1)})


def table(rows):
    return pd.DataFrame(rows, columns=["id", "metric", "original verdict", "stated verdict",
                                       "original distance_sd", "stated distance_sd"])


def test_setting_hypothesis_rule():
    supported = table([("A", "accuracy", "reproduced", "not reproduced", 0.5, 6.0),
                       ("B", "accuracy", "reproduced", "reproduced", 0.2, 0.4)])
    outcome, numbers = gaps.setting_hypothesis(supported, ["A", "B"])
    assert outcome == "supported" and numbers["reproduced_original"] == 2 and numbers["reproduced_stated"] == 1
    refuted = table([("A", "accuracy", "not reproduced", "not reproduced", 7.0, 5.0)])
    assert gaps.setting_hypothesis(refuted, ["A"])[0] == "refuted"
    closer = table([("A", "accuracy", "rank only", "not reproduced", 3.0, 5.0)])
    assert gaps.setting_hypothesis(closer, ["A"])[0] == "open"
    with pytest.raises(ValueError, match="accuracy row"):
        gaps.setting_hypothesis(closer, ["A", "Z"])


def fake(name, seed, acc, train_acc=None, history=None):
    exp = E.get(name).with_overrides({"seed": seed})
    return SimpleNamespace(experiment=exp, key=f"{name}-{seed}-{acc}", history=history,
                           metrics={"test_accuracy": acc, "train_accuracy": acc if train_acc is None else train_acc})


def test_collapses_per_variant_with_fisher():
    stated = [fake("cifar10-l2-tuned", s, a) for s, a in enumerate([0.68, 0.10, 0.67, 0.10, 0.66])]
    original = [fake("cifar10-l2-tuned", s, a) for s, a in enumerate([0.68, 0.69, 0.67, 0.70, 0.66])]
    out = gaps.collapses({"stated": stated, "original": original})
    assert (out["stated"]["collapsed"], out["original"]["collapsed"]) == (2, 0)
    assert out["stated"]["accuracies"][1] == pytest.approx(10.0)
    assert out["fisher_p"] == pytest.approx(0.4444444, abs=1e-6)  # R: fisher.test(matrix(c(2,3,0,5),2))


def test_epochs_above_counts_per_seed():
    h = pd.DataFrame({"epoch": [1, 2, 3], "accuracy": [0.9, 0.95, 0.97], "test_accuracy": [0.95, 0.96, 0.96]})
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
    side = pd.DataFrame([
        {"id": "A", "source": "T1", "metric": "accuracy", "reported": 98.4,
         "original verdict": "reproduced", "stated verdict": "not reproduced"},
        {"id": "B", "source": "T2", "metric": "accuracy", "reported": 69.1,
         "original verdict": "not reproduced", "stated verdict": "not reproduced"},
        {"id": "C", "source": "T3", "metric": "accuracy", "reported": 67.9,
         "original verdict": "inconclusive", "stated verdict": "rank only"},
        {"id": "D", "source": "T4", "metric": "accuracy", "reported": 60.0,
         "original verdict": "rank only", "stated verdict": "reproduced"},
        {"id": "A", "source": "T1", "metric": "loss", "reported": 0.1,
         "original verdict": "reproduced", "stated verdict": "reproduced"}])
    closing = gaps.closing_table(side, {"B": gaps.CAUSES["H3"]})
    assert list(closing["explanation"]) == ["reproduced under original", gaps.CAUSES["H3"], "unexplained",
                                            "reproduced under stated"]
    assert gaps.explained_counts(closing) == {"n": 4, "reproduced_original": 1, "reproduced_stated_only": 1,
                                              "caused": 1, "unexplained": 1}
