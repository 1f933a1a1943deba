"""The Reproduction chapter's logic: the reported values file, verdicts, paired claims."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import pandas as pd
import pytest

from hwlib import experiments as E
from hwlib import glue, plots, tables
from hwlib import reproduction as R
from hwlib.errors import ConfigError
from hwlib.stats import holm


def fake_run(name: str, seed: int, acc: float, loss: float = 0.1, train_acc: float | None = None):
    exp = E.EXPERIMENTS[name].with_overrides({"seed": seed})
    metrics = {"test_accuracy": acc, "test_loss": loss,
               "train_accuracy": acc if train_acc is None else train_acc}
    return SimpleNamespace(experiment=exp, metrics=metrics, key=f"{name}-{seed}", data_fingerprint="f" * 16,
                           provenance={"git": {"commit": "abcdef0123456789"}})


def runs_for(values: dict[str, list[float]], **kw) -> dict[str, list]:
    return {name: [fake_run(name, s, v, **kw) for s, v in enumerate(vs)] for name, vs in values.items()}


def write(tmp_path, text: str):
    p = tmp_path / "reported.yml"
    p.write_text(text)
    return p


ONE_GROUP = """
results:
  - {id: A, experiment: mnist-k5s1-same, source: "Table 3, row 1", group: g, accuracy: 98.0, loss: 0.05}
  - {id: B, experiment: mnist-k3s3-same, source: "Table 3, row 7", group: g, accuracy: 90.0, loss: 0.30}
claims:
  - {id: c, source: "Table 3", statement: "A beats B", test: ranking, group: g}
"""


# -- the reported values file -----------------------------------------------------------
def test_shipped_file_lists_every_reported_number_with_its_source():
    rep = R.load_reported()
    assert len(rep.results) == 14 and len({r.id for r in rep.results}) == 14
    # A number the report prints twice is one result: the base networks are row 1 of their sweep tables.
    assert len({(r.accuracy, r.loss) for r in rep.results}) == 14
    assert rep.for_experiment("mnist-base").id == "T3.1" and rep.for_experiment("cifar10-base").id == "T6.1"
    assert rep.for_experiment("cifar10-l2").id == "S2.4a"
    # Tables 3 and 6, in the report's order, are exactly our sweeps.
    for group, dataset in (("Table 3", "mnist"), ("Table 6", "cifar10")):
        rows = rep.group(group)
        assert tuple(r.experiment for r in rows) == E.SWEEPS[dataset]
        assert [r.accuracy for r in rows] == sorted((r.accuracy for r in rows), reverse=True)
        assert all(r.source.startswith(group) for r in rows)
    assert {"mnist-base", "mnist-l2", "cifar10-base", "cifar10-l2", "cifar10-l2-tuned"} <= set(rep.experiments())
    assert {c.test for c in rep.claims} == set(R.CHECKS)


@pytest.mark.parametrize("text, message", [
    ("results: []", "non-empty `results`"),
    ("results:\n  - {id: A, experiment: mnist-base, source: s, group: g, accuracy: 98}", "expected a mapping with the fields accuracy, experiment, id, loss, source"),
    ("results:\n  - {id: A, experiment: nope, source: s, group: g, accuracy: 98, loss: 0.1}", "unknown experiment 'nope'"),
    ("results:\n  - {id: A, experiment: mnist-base, source: s, group: g, accuracy: 980, loss: 0.1}", "percent"),
    ("results:\n  - {id: A, experiment: mnist-base, source: s, group: g, accuracy: high, loss: 0.1}", "accuracy must be a percentage from 0 to 100"),
    ("results:\n  - {id: A, experiment: mnist-base, source: s, group: g, accuracy: 98, loss: -1}", "loss must be a finite number >= 0"),
    (ONE_GROUP.replace("id: B", "id: A"), "duplicate id 'A'"),
    (ONE_GROUP.replace("test: ranking", "test: vibes"), "unknown test 'vibes'"),
    (ONE_GROUP.replace("group: g}\n", "group: g, dataset: mnist}\n", 1).replace(
        'statement: "A beats B", test: ranking, group: g}', 'statement: "A beats B", test: ranking}'),
     "takes exactly the field(s) group"),
    (ONE_GROUP.replace('test: ranking, group: g}', 'test: ranking, group: h}'), "group 'h' needs at least two"),
    ("results: [\n", "not valid YAML"),
])
def test_a_bad_reported_file_is_a_clear_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match="reported.yml") as err:
        R.load_reported(write(tmp_path, text))
    assert message in str(err.value)


def test_a_missing_reported_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        R.load_reported(tmp_path / "nope.yml")


# -- statistics and verdicts --------------------------------------------------------------
def test_holm_adjusts_step_down_and_keeps_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.3, 0.4]) == pytest.approx([0.6, 0.6])
    assert holm([0.9, 0.8, 0.7]) == pytest.approx([1.0, 1.0, 1.0])
    with pytest.raises(ConfigError):
        holm([1.5])


# Hand-computed reference: values 97.9, 98.1, 98.0 -> mean 98.0, sd 0.1, n 3; t(0.975, 2) =
# 4.302652730 (R: qt(0.975, 2)). Confidence interval of the mean: 98 ± 4.302652730 * 0.1 /
# sqrt(3) = 98 ± 0.248414; prediction interval for one new run: 98 ± 4.302652730 * 0.1 *
# sqrt(1 + 1/3) = 98 ± 0.496828 (R: predict(lm(y ~ 1), data.frame(1), interval = "prediction")).
THREE = [97.9, 98.1, 98.0]


def test_prediction_interval_matches_the_reference_values():
    p = R.prediction_interval(THREE)
    assert (p.n, p.mean, p.sd) == (3, pytest.approx(98.0), pytest.approx(0.1))
    assert p.half_width == pytest.approx(0.496828, abs=1e-6)
    assert (p.low, p.high) == (pytest.approx(97.503172, abs=1e-6), pytest.approx(98.496828, abs=1e-6))
    # Five values, 95%: t(0.975, 4) = 2.776445105; sd of 1..5 is sqrt(2.5).
    q = R.prediction_interval([1, 2, 3, 4, 5], "loss")
    assert q.half_width == pytest.approx(2.776445105 * math.sqrt(2.5) * math.sqrt(1.2))


def test_a_value_outside_the_ci_of_the_mean_but_inside_the_prediction_interval_is_reproduced():
    p = R.prediction_interval(THREE)
    assert not 98.0 - 0.248414 <= 98.4 <= 98.0 + 0.248414  # outside the CI of the mean
    assert R.verdict_for(98.4, p) == "reproduced"
    assert R.verdict_for(98.6, p) == "not reproduced"
    # Inside the interval is a distance of at most t * sqrt(1 + 1/n) seed sds.
    assert R.distance_cutoff(3) == pytest.approx(4.302652730 * math.sqrt(4 / 3))
    assert R.distance_cutoff(5) == pytest.approx(2.776445105 * math.sqrt(1.2))
    assert (98.4 - p.mean) / p.sd < R.distance_cutoff(3) < (98.6 - p.mean) / p.sd


def test_the_interval_is_clipped_to_the_metric_range_and_a_wide_one_is_too_uncertain():
    # The tuned CIFAR-10 run with one collapsed seed: 10.00, 53.22, 53.60 (%).
    p = R.prediction_interval([10.0, 53.22, 53.60])
    assert p.low == 0.0 and p.high == 100.0 and p.half_width > 100
    assert R.verdict_for(67.95, p) == "too uncertain"
    assert R.verdict_for(67.95, R.prediction_interval([64.0, 66.0, 65.0])) == "reproduced"  # ± 4.97 of 65
    assert R.verdict_for(30.0, p) == "too uncertain"
    assert R.prediction_interval([0.01, 0.02, 0.015], "loss").low == 0.0  # a loss is never negative


def test_values_are_by_seed_in_percent_and_a_repeated_seed_is_an_error():
    runs = [fake_run("mnist-base", s, acc, loss=0.1 * s, train_acc=acc + 0.01) for s, acc in enumerate((0.9, 0.92))]
    assert R.values(runs, "test_accuracy") == {0: pytest.approx(90.0), 1: pytest.approx(92.0)}
    assert R.values(runs, "gap") == {0: pytest.approx(1.0), 1: pytest.approx(1.0)}
    assert R.values(runs, "test_loss") == {0: 0.0, 1: 0.1}
    with pytest.raises(ConfigError, match="Two runs of mnist-base have the same seed 0"):
        R.values(runs + runs[:1], "test_accuracy")


def test_verdict_needs_two_seeds():
    with pytest.raises(ConfigError, match="two seeds"):
        R.prediction_interval([98.0])


def test_seed_list_needs_at_least_two():
    assert E.seed_list(3) == [0, 1, 2]
    for bad in (1, 0, -2, 2.5, True, "3"):
        with pytest.raises(ConfigError, match=">= 2"):
            E.seed_list(bad)


def test_result_table_means_intervals_and_verdicts(tmp_path):
    rep = R.load_reported(write(tmp_path, ONE_GROUP))
    # A: around 98.0 (the reported value is inside); B: far above the reported 90.0.
    runs = {"mnist-k5s1-same": [fake_run("mnist-k5s1-same", s, a, 0.05 + d) for s, (a, d) in
                                enumerate([(0.979, 0.0), (0.981, 0.001), (0.980, -0.001)])],
            "mnist-k3s3-same": [fake_run("mnist-k3s3-same", s, a, 0.01 + d) for s, (a, d) in
                                enumerate([(0.950, 0.0), (0.952, 0.001), (0.951, 0.002)])]}
    df = R.result_table(rep, runs)
    assert list(df["id"]) == ["A", "A", "B", "B"] and list(df["metric"]) == ["accuracy", "loss"] * 2
    a = df[(df["id"] == "A") & (df["metric"] == "accuracy")].iloc[0]
    assert a["mean"] == pytest.approx(98.0) and a["sd"] == pytest.approx(0.1) and a["seeds"] == 3
    assert a["pi_low"] == pytest.approx(97.503172, abs=1e-5) and a["verdict"] == "reproduced"
    assert a["distance_sd"] == pytest.approx(0.0, abs=1e-9)
    b = df[(df["id"] == "B") & (df["metric"] == "accuracy")].iloc[0]
    assert b["difference"] == pytest.approx(95.1 - 90.0)
    assert b["verdict"] == "not reproduced" and b["distance_sd"] == pytest.approx(-51.0)
    summary = R.summary_table(df).set_index("verdict")
    assert (summary["accuracies"] + summary["losses"]).to_dict() == {"reproduced": 2, "too uncertain": 0,
                                                                      "not reproduced": 2}
    assert summary.loc["reproduced", "accuracies"] == 1 and summary.loc["not reproduced", "losses"] == 1
    shown = R.format_result_table(df, "accuracy")
    assert list(shown["result"]) == ["A: MNIST, 5×5 stride 1 (base network)", "B: MNIST, 3×3 stride 3"]
    assert shown.loc[0, "ours: mean ± sd"] == "98.00 ± 0.10"
    assert shown.loc[0, "95% prediction interval"] == "[97.50, 98.50]"
    assert shown.loc[1, "distance (sd)"] == "−51.0"
    assert "| 98.14 " in tables.to_markdown(R.format_result_table(
        df.assign(reported=[98.14, 0.05, 71.2, 0.3]), "accuracy")).replace("98.140", "x")
    assert "| 71.20 " in tables.to_markdown(R.format_result_table(df.assign(reported=71.2), "accuracy"))


def test_result_table_names_a_missing_experiment(tmp_path):
    rep = R.load_reported(write(tmp_path, ONE_GROUP))
    with pytest.raises(ConfigError, match="No runs of mnist-k3s3-same"):
        R.result_table(rep, runs_for({"mnist-k5s1-same": [0.98, 0.97]}))


def test_claims_supported_contradicted_or_not_shown(tmp_path):
    rep = R.load_reported(write(tmp_path, ONE_GROUP))
    claim = rep.claims[0]

    def verdict(runs):
        return R.check_claim(rep, claim, R.comparisons(rep, runs))

    clear = runs_for({"mnist-k5s1-same": [0.98, 0.975, 0.981], "mnist-k3s3-same": [0.90, 0.896, 0.902]})
    assert verdict(clear)[0] == "supported"
    flipped = runs_for({"mnist-k5s1-same": [0.90, 0.896, 0.902], "mnist-k3s3-same": [0.98, 0.975, 0.981]})
    v, comps = verdict(flipped)
    assert v == "contradicted" and comps[0].outcome == "reversed" and comps[0].mean_difference < 0
    noisy = runs_for({"mnist-k5s1-same": [0.98, 0.90, 0.95], "mnist-k3s3-same": [0.90, 0.97, 0.94]})
    assert verdict(noisy)[0] == "not shown"
    table = R.claim_tables(rep, R.comparisons(rep, clear))[0]
    assert table.loc[0, "verdict"] == "supported" and table.loc[0, "confirmed"] == 1


def test_one_pair_has_one_p_value_and_one_outcome_in_every_table():
    """The pairwise table and the claims read the same comparison from one Holm family per
    dataset: 3x3-valid vs 7x7 cannot be significant in one table and not in the other."""
    rep = R.load_reported()
    runs = runs_for({n: [0.99 - 0.004 * i + 0.0007 * ((s * (i + 3)) % 5) for s in range(5)]
                     for i, n in enumerate(rep.experiments())})
    comps = R.comparisons(rep, runs)
    pairs = R.pairwise_table(rep, "Table 3", comps)
    shown = {(r["better in the report"], r["worse in the report"]): r for _, r in pairs.iterrows()}
    claims = R.claim_tables(rep, comps)[0]
    mirror = {"confirmed": "reversed", "reversed": "confirmed", "not significant": "not significant"}
    checked = set()
    for claim in rep.claims:
        for c in R.check_claim(rep, claim, comps)[1]:
            if c.metric != "test_accuracy" or E.EXPERIMENTS[c.a].dataset != "mnist":
                continue
            a, b = R.label(c.a, dataset=False), R.label(c.b, dataset=False)
            if (a, b) not in shown and (b, a) not in shown:  # base vs L2: no pair of Table 3
                continue
            row, outcome = (shown[(a, b)], c.outcome) if (a, b) in shown else (shown[(b, a)], mirror[c.outcome])
            assert row["p (Holm)"] == ("< 0.001" if c.p_holm < 0.001 else f"{c.p_holm:.3f}")
            assert row["our seeds"] == outcome
            checked.add(claim.test)
    assert checked == {"ranking", "stride_hurts"}
    # The MNIST family: the 21 sweep pairs, plus base vs L2 in accuracy and gap, once each
    # (the stride pairs are sweep pairs already).
    assert len([k for k in comps if E.EXPERIMENTS[k[0]].dataset == "mnist"]) == 2 * (21 + 2)  # both ways round
    assert len(claims) == len(rep.claims)
    flipped = comps[("mnist-k3s3-same", "mnist-k3s2-same", "test_accuracy")]
    straight = comps[("mnist-k3s2-same", "mnist-k3s3-same", "test_accuracy")]
    assert flipped.mean_difference == -straight.mean_difference and flipped.p_holm == straight.p_holm


def test_stride_claims_compare_the_same_kernel():
    rep = R.load_reported()
    comps = R.comparisons(rep, runs_for({n: [0.9, 0.91, 0.92] for n in rep.experiments()}))
    pairs = {c.id: [(x.a, x.b) for x in R.check_claim(rep, c, comps)[1]] for c in rep.claims if c.test == "stride_hurts"}
    assert pairs == {"mnist-stride": [("mnist-k3s1-valid", "mnist-k3s2-same"), ("mnist-k3s2-same", "mnist-k3s3-same"),
                                      ("mnist-k5s1-same", "mnist-k5s2-same"), ("mnist-k7s1-same", "mnist-k7s3-same")],
                     "cifar10-stride": [("cifar10-k3s1-same", "cifar10-k3s2-same"),
                                        ("cifar10-k5s1-same", "cifar10-k5s2-same")]}


def test_gap_claims_use_train_minus_test_accuracy():
    rep = R.load_reported()
    claim = next(c for c in rep.claims if c.id == "cifar10-l2")
    # Base gap: 20 - 0.1 s points (mean 19.9); L2 gap: 1 + 0.5 s points (mean 1.5).
    runs = {"cifar10-base": [fake_run("cifar10-base", s, 0.70 + 0.002 * s, train_acc=0.90 + 0.001 * s) for s in range(3)],
            "cifar10-l2": [fake_run("cifar10-l2", s, 0.49 - 0.003 * s, train_acc=0.50 + 0.002 * s) for s in range(3)]}
    verdict, comps = R.check_claim(rep, claim, R.comparisons(rep, {**runs, **_others(rep, runs)}))
    assert verdict == "supported"
    assert comps[0].metric == "gap" and comps[0].mean_difference == pytest.approx(19.9 - 1.5)
    claim = next(c for c in rep.claims if c.id == "mnist-l2")
    # Over 5 seeds (the MNIST family holds 23 comparisons: n = 3 could not reach Holm's bar).
    runs = {"mnist-base": [fake_run("mnist-base", s, 0.99 - 0.001 * s, train_acc=0.995) for s in range(5)],
            "mnist-l2": [fake_run("mnist-l2", s, 0.95 + 0.0005 * s * s, train_acc=0.96) for s in range(5)]}
    assert R.check_claim(rep, claim, R.comparisons(rep, {**runs, **_others(rep, runs)}))[0] == "contradicted"


def _others(rep, runs):
    """Runs for every experiment of ``rep`` not in ``runs`` (the families need them all)."""
    n = len(next(iter(runs.values())))
    return runs_for({name: [0.5 + 0.01 * i] + [0.52 - 0.01 * s for s in range(1, n)]
                     for i, name in enumerate(rep.experiments()) if name not in runs})


def test_pairwise_table_tests_every_pair_with_holm():
    rep = R.load_reported()
    names = E.SWEEPS["cifar10"]
    runs = runs_for({n: [0.70 - 0.05 * i + 0.001 * s for s in range(3)] for i, n in enumerate(names)})
    for r in runs[names[1]]:
        r.metrics["test_accuracy"] += 0.0003 * r.experiment.train.seed ** 2  # some noise
    comps = R.comparisons(rep, {**runs, **_others(rep, runs)})
    df = R.pairwise_table(rep, "Table 6", comps)
    assert len(df) == 6 and set(df["our seeds"]) <= {"confirmed", "reversed", "not significant"}
    pairs = [comps[(a, b, "test_accuracy")] for a, b in itertools.combinations(names, 2)]
    assert all(c.p_holm >= c.p for c in pairs) and any(c.p_holm > c.p for c in pairs)
    assert df.columns[0] == "better in the report" and df.loc[0, "difference (pp)"].startswith("+")
    assert df.loc[0, "95% CI (pp)"].startswith("[")


def test_collect_asks_the_settings_for_each_experiment_and_dataset():
    from hwlib.settings import Settings

    rep = R.load_reported()
    calls = []
    settings = SimpleNamespace(seed_runs=lambda name, n: calls.append((name, n)) or [])
    R.collect(settings, rep, 5)
    assert ("mnist-l2", 5) in calls and ("cifar10-l2-tuned", 5) in calls
    assert len(calls) == len(set(calls)) == len(rep.experiments())
    with pytest.raises(ConfigError, match="seeds must be"):  # before anything trains
        R.collect(Settings.from_params(profile="full", train=False), rep, 1)


def test_histories_and_band_figure_and_provenance_of_several_runs():
    runs = []
    for s in range(3):
        r = fake_run("mnist-base", s, 0.98)
        r.history = pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.3], "accuracy": [0.8, 0.9],
                                  "test_loss": [0.4, 0.35], "test_accuracy": [0.85, 0.88 + 0.01 * s]})
        runs.append(r)
    h = R.histories(runs)
    assert list(h["seed"].unique()) == [0, 1, 2] and len(h) == 6
    line = plots.provenance(runs)
    assert "mnist-base seeds 0,1,2 (runs mnist-ba mnist-ba mnist-ba)" in line and "@ abcdef01" in line
    many = [fake_run(name, s, 0.9) for name in E.SWEEPS["mnist"] for s in range(2)]
    line = plots.provenance(many)
    assert line.startswith("14 runs of 7 experiments, seeds 0–1 · run-set ") and "data ffff" in line
    assert plots.provenance(list(reversed(many))) == line  # the digest ignores order
    assert plots.provenance(many + many[:3]) == line  # a run listed twice counts once
    seeds13 = [fake_run("mnist-l2", s, 0.9) for s in range(13)]  # one experiment, too many runs to list
    assert plots.provenance(seeds13).startswith("13 runs of 1 experiment, seeds 0–12 · run-set ")
    assert plots.provenance(seeds13[:12]).startswith("mnist-l2 seeds 0,1,2,3,4,5,6,7,8,9,10,11 (runs ")
    image = plots.show(plots.learning_curves(h), runs)
    assert image.data[:4] == b"\x89PNG"


def test_intervals_figure_has_a_panel_per_dataset():
    rep = R.load_reported()
    runs = runs_for({n: [0.9, 0.91, 0.92] for n in rep.experiments()})
    df = R.result_table(rep, runs)
    fig = plots.reproduction_intervals(df)
    assert [ax.get_title() for ax in fig.axes] == ["mnist", "cifar10"]
    with pytest.raises(ValueError, match="lacks the column"):
        plots.reproduction_intervals(df.drop(columns="verdict"))


def test_seed_runs_train_seeds_and_keep_weights_of_seed_0_only(tiny_env):
    from hwlib.settings import Settings

    s = Settings.from_params(epochs=1, n_train=100, n_test=50)
    runs = s.seed_runs("mnist-base", 2)
    assert [r.experiment.train.seed for r in runs] == [0, 1]
    assert [r.entry.weights_path is not None for r in runs] == [True, False]
    assert len({r.key for r in runs}) == 2
    with pytest.raises(ConfigError, match="leave seed at 0"):
        Settings.from_params(epochs=1, n_train=100, n_test=50, seed=3).seed_runs("mnist-base", 2)


def test_glue_values_glues_numpy_scalars_as_plain_numbers(monkeypatch):
    import myst_nb
    import numpy as np

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    glue.glue_values({"x_a": np.float64(95.26), "x_b": np.int64(3), "x_c": "text"})
    assert glued == {"x_a": 95.26, "x_b": 3, "x_c": "text"}
    assert type(glued["x_a"]) is float and type(glued["x_b"]) is int


def test_collapsed_runs_are_the_ones_at_chance_level():
    runs = {"cifar10-l2-tuned": [fake_run("cifar10-l2-tuned", 0, 0.59, train_acc=0.61),
                                 fake_run("cifar10-l2-tuned", 1, 0.10, train_acc=0.0976)],
            "cifar10-l2": [fake_run("cifar10-l2", 0, 0.105, train_acc=0.30)]}  # test low, but it learned
    runs["again"] = runs["cifar10-l2-tuned"]  # the same runs under another name count once
    found = R.collapsed(r for rs in runs.values() for r in rs)
    assert [(r.experiment.name, r.experiment.train.seed) for r in found] == [("cifar10-l2-tuned", 1)]


def test_keeps_weights_only_where_figures_need_them_and_seed_0_of_a_study():
    base, sweep = E.get("mnist-base"), E.get("mnist-k3s2-same")
    assert E.keeps_weights(base, several_seeds=False) and not E.keeps_weights(sweep, several_seeds=False)
    assert E.keeps_weights(base.with_overrides({"seed": 3}), several_seeds=False)  # a single run, any seed
    assert not E.keeps_weights(base.with_overrides({"seed": 3}), several_seeds=True)
    assert E.keeps_weights(base, several_seeds=True)


def test_evidence_is_a_table_of_comparisons_per_claim(tmp_path):
    rep = R.load_reported(write(tmp_path, ONE_GROUP))
    clear = runs_for({"mnist-k5s1-same": [0.98, 0.975, 0.981], "mnist-k3s3-same": [0.90, 0.896, 0.902]})
    table = R.claim_tables(rep, R.comparisons(rep, clear))[1]
    row = table.iloc[0]
    assert (row["statement of"], row["metric"], row["outcome"]) == ("Table 3", "test accuracy", "confirmed")
    assert row["comparison"] == "MNIST: 5×5 stride 1 (base network) vs 3×3 stride 3"
    assert row["difference"] == "+7.93"


def test_labels_name_a_configuration_in_words():
    assert R.label("cifar10-k3s2-same") == "CIFAR-10, 3×3 stride 2"
    assert R.label("mnist-k3s1-valid", dataset=False) == "3×3 stride 1, valid padding"
    assert R.label("cifar10-base") == "CIFAR-10, 3×3 stride 1 (base network)"
    assert R.label("cifar10-l2-tuned") == "CIFAR-10, tuned L2" and R.label("mnist-l2") == "MNIST, L2 on every layer"
