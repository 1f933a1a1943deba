"""Statistics over seeds: Student t, mean/sd/CI, the paired t-test, the seed table."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from hwlib import experiments as E
from hwlib import stats, tables
from hwlib.errors import ConfigError


@pytest.mark.parametrize("df, t975", [
    (1, 12.7062047362), (2, 4.30265272975), (3, 3.18244630528), (4, 2.77644510520),
    (9, 2.26215716280), (10, 2.22813885199), (29, 2.04522964213), (100, 1.98397151852),
])
def test_t_quantiles_match_the_tables(df, t975):
    # R's qt(0.975, df); the 95% interval of df + 1 values is mean -+ t975 * sem.
    assert stats.t_quantile(0.975, df) == pytest.approx(t975, abs=1e-9)
    assert stats.t_quantile(0.025, df) == pytest.approx(-t975, abs=1e-9)
    s = stats.summarize([float(i % 3) for i in range(df + 1)])
    assert (s.ci_high - s.mean) / s.sem == pytest.approx(t975, abs=1e-9)
    assert (s.mean - s.ci_low) / s.sem == pytest.approx(t975, abs=1e-9)


def test_t_quantile_edges():
    assert stats.t_quantile(0.5, 7) == 0.0
    assert stats.t_quantile(0.75, 1) == pytest.approx(1.0)  # Cauchy: tan(pi / 4)
    for bad in (0, 1.5, True):
        with pytest.raises(ConfigError, match="degrees of freedom"):
            stats.t_quantile(0.9, bad)
    with pytest.raises(ConfigError, match="0 < q < 1"):
        stats.t_quantile(1.0, 3)


def test_summary_by_hand():
    # 97, 98, 99: mean 98, sd sqrt(((-1)^2 + 0 + 1^2) / 2) = 1, sem 1/sqrt(3),
    # 95% CI 98 -+ 4.302652730 / sqrt(3) = 98 -+ 2.484137712.
    s = stats.summarize([97.0, 98.0, 99.0])
    assert (s.n, s.mean, s.sd) == (3, 98.0, 1.0)
    assert s.sem == pytest.approx(0.5773502692)
    assert (s.ci_low, s.ci_high) == (pytest.approx(95.515862288), pytest.approx(100.484137712))
    assert (s.ci_high - s.ci_low) / 2 == pytest.approx(2.484137712)
    # 0.2, 0.4, 0.4, 0.8: mean 0.45, sd sqrt((0.0625 + 0.0025 * 2 + 0.1225) / 3) = 0.2516611,
    # 90% CI: t(0.95, 3) = 2.353363435, half width 2.353363435 * 0.2516611 / 2 = 0.2961252.
    s = stats.summarize([0.2, 0.4, 0.4, 0.8], confidence=0.90)
    assert s.mean == pytest.approx(0.45) and s.sd == pytest.approx(0.2516611478)
    assert (s.ci_high - s.ci_low) / 2 == pytest.approx(0.2961251706)
    one = stats.summarize([0.9])
    assert one.mean == 0.9 and math.isnan(one.sd) and math.isnan(one.ci_low)
    assert (stats.summarize([5, 5, 5]).mean, stats.summarize([5, 5, 5]).sd) == (5.0, 0.0)
    with pytest.raises(ConfigError, match="No values"):
        stats.summarize([])
    with pytest.raises(ConfigError, match="finite"):
        stats.summarize([1.0, math.nan])
    with pytest.raises(ConfigError, match="confidence"):
        stats.summarize([1.0, 2.0], confidence=95)


# Student's sleep data (Cushny & Peebles 1905): R's t.test(a, b, paired = TRUE) gives
# t = -4.0621, df = 9, p-value = 0.002833, mean difference -1.58, 95% CI -2.4598858 -0.7001142.
SLEEP_A = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_B = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_paired_test_on_student_sleep_data():
    r = stats.paired_test(SLEEP_A, SLEEP_B)
    assert r.t == pytest.approx(-4.062127683, abs=1e-8) and r.n == 10
    assert r.p == pytest.approx(0.002832890, abs=1e-8)
    assert r.mean_difference == pytest.approx(-1.58)
    assert (r.ci_low, r.ci_high) == (pytest.approx(-2.4598858), pytest.approx(-0.7001142))
    # Given by seed (any order), the pairs are matched by seed.
    a = dict(zip(range(10), SLEEP_A))
    b = {s: SLEEP_B[s] for s in reversed(range(10))}
    assert stats.paired_test(a, b).t == pytest.approx(r.t)
    swapped = stats.paired_test(b, a)
    assert swapped.t == pytest.approx(-r.t) and swapped.p == pytest.approx(r.p)


def test_paired_test_edges():
    same = stats.paired_test([1, 2, 3], [1, 2, 3])
    assert math.isnan(same.t) and same.p == 1.0
    same_shift = stats.paired_test([2, 3, 4], [1, 2, 3])
    assert same_shift.t == math.inf and same_shift.p == 0.0
    assert (same_shift.mean_difference, same_shift.ci_low, same_shift.ci_high) == (1.0, 1.0, 1.0)
    # By hand, d = 1, 2, 4: mean 7/3, sd sqrt(7/3), sem sqrt(7/9), t = sqrt(7) with df 2, where
    # P(|T| < t) = t / sqrt(2 + t^2), so the two-sided p = 1 - sqrt(7)/3; the 95% CI is
    # 7/3 -+ 4.30265272975 * sqrt(7/9).
    r = stats.paired_test([1, 2, 4], [0, 0, 0])
    assert r.t == pytest.approx(math.sqrt(7)) and r.p == pytest.approx(1 - math.sqrt(7) / 3)
    half = 4.30265272975 * math.sqrt(7 / 9)
    assert (r.ci_low, r.ci_high) == (pytest.approx(7 / 3 - half), pytest.approx(7 / 3 + half))
    with pytest.raises(ConfigError, match=r"same seeds .* only in the first: \[2\], only in the second: \[3\]"):
        stats.paired_test({0: 1.0, 1: 2.0, 2: 3.0}, {0: 1.0, 1: 2.0, 3: 3.0})
    with pytest.raises(ConfigError, match="at least 2 seeds"):
        stats.paired_test([1.0], [2.0])
    with pytest.raises(ConfigError, match="as many values"):
        stats.paired_test([1.0, 2.0], [2.0, 3.0, 4.0])


def fake_run(name: str, seed: int, acc: float, loss: float):
    exp = E.get(name).with_overrides({"seed": seed})
    return SimpleNamespace(experiment=exp, metrics={"test_accuracy": acc, "test_loss": loss})


def test_sweep_seed_table_orders_by_mean_and_shows_sd_and_ci():
    runs = {
        "mnist-k3s3-same": [fake_run("mnist-k3s3-same", s, a, 0.3) for s, a in enumerate((0.90, 0.92, 0.94))],
        "mnist-k5s1-same": [fake_run("mnist-k5s1-same", s, a, loss) for s, (a, loss) in
                            enumerate(((0.97, 0.10), (0.98, 0.08), (0.99, 0.06)))],
    }
    df = tables.sweep_seed_table(runs)
    assert list(df.columns) == ["experiment", "kernel", "stride", "padding", "seeds",
                                "test accuracy (%) mean ± sd", "accuracy 95% CI",
                                "test loss mean ± sd", "loss 95% CI", "Δ accuracy (pp)"]
    assert list(df["experiment"]) == ["mnist-k5s1-same", "mnist-k3s3-same"]
    best = df.iloc[0]
    assert (best["kernel"], best["stride"], best["padding"], best["seeds"]) == ("5x5", 1, "same", 3)
    assert best["test accuracy (%) mean ± sd"] == "98.00 ± 1.00" and best["accuracy 95% CI"] == "[95.52, 100.48]"
    assert best["test loss mean ± sd"] == "0.0800 ± 0.0200" and best["loss 95% CI"] == "[0.0303, 0.1297]"
    assert list(df["Δ accuracy (pp)"]) == ["0.00", "−6.00"]
    assert df.iloc[1]["test loss mean ± sd"] == "0.3000 ± 0.0000"
    one = tables.sweep_seed_table({"mnist-k5s1-same": runs["mnist-k5s1-same"][:1]}).iloc[0]
    assert (one["test accuracy (%) mean ± sd"], one["accuracy 95% CI"]) == ("97.00", "n/a")  # one seed
    md = tables.to_markdown(df)
    assert "Test accuracy (%) mean ± sd" in md and "[95.52,\u00a0100.48]" in md
