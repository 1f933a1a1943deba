"""Statistics over seeds: mean, standard deviation, Student-t intervals, paired t-tests.

A configuration trained with seeds ``0..n-1`` gives ``n`` values of a metric.
:func:`summarize` gives their mean, sample standard deviation (``n - 1`` in the
denominator) and the Student-t confidence interval of the mean,
``mean ± t(1 - α/2, n - 1) · sd / √n``. :func:`paired_test` compares two configurations
trained with the same seeds: a paired t-test on the per-seed differences (the seed fixes
the initialisation and the shuffling, so pairing by seed removes that shared noise).

The t distribution and the paired test are SciPy's (``scipy.stats.t``,
``scipy.stats.ttest_rel`` with its ``confidence_interval``); this module adds the checks
and messages, the pairing by seed, and :func:`holm`.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as _scipy_stats

from hwlib.errors import ConfigError


def t_quantile(q: float, df: int) -> float:
    """The ``q``-quantile of Student's t with ``df`` degrees of freedom (0 < q < 1)."""
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ConfigError(f"The degrees of freedom must be a whole number >= 1, got {df!r}.")
    if not 0 < q < 1:
        raise ConfigError(f"A quantile needs 0 < q < 1, got {q!r}.")
    return float(_scipy_stats.t.ppf(q, df))


# ---------------------------------------------------------------------------------------
# Summaries over seeds
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and the Student-t confidence interval of the mean.

    With one value the standard deviation and the interval are NaN (undefined).
    """

    n: int
    mean: float
    sd: float
    sem: float
    ci_low: float
    ci_high: float
    confidence: float = 0.95


def _values(values: Iterable[float], what: str = "values") -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise ConfigError(f"No {what} to summarize: train at least one seed.")
    bad = [v for v in out if not math.isfinite(v)]
    if bad:
        raise ConfigError(f"The {what} must be finite numbers, got {bad[0]!r}.")
    return out


def _check_confidence(confidence: float) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}.")


def summarize(values: Iterable[float], confidence: float = 0.95) -> Summary:
    """Mean, sd and the ``confidence`` Student-t interval: ``mean ± t · sd / √n``."""
    _check_confidence(confidence)
    v = _values(values)
    n, mean = len(v), statistics.fmean(v)
    if n < 2:
        return Summary(n, mean, math.nan, math.nan, math.nan, math.nan, confidence)
    sd = statistics.stdev(v, mean)
    sem = sd / math.sqrt(n)
    half = t_quantile(0.5 + confidence / 2, n - 1) * sem
    return Summary(n, mean, sd, sem, mean - half, mean + half, confidence)


# ---------------------------------------------------------------------------------------
# Paired comparison of two configurations over the same seeds
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairedTest:
    """A paired t-test of ``a - b`` over seeds.

    ``t`` and the two-sided ``p``; ``mean_difference`` (a - b) with its ``confidence``
    interval; ``n`` pairs (``df = n - 1``). All differences equal: ``sd_difference`` 0,
    ``t`` ±inf and ``p`` 0 (or, all zero, ``t`` NaN and ``p`` 1).
    """

    t: float
    p: float
    mean_difference: float
    n: int
    sd_difference: float
    ci_low: float
    ci_high: float
    confidence: float = 0.95

    @property
    def df(self) -> int:
        return self.n - 1

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p < alpha


def _pairs(a: Mapping[Any, float] | Sequence[float], b: Mapping[Any, float] | Sequence[float]
           ) -> tuple[list[float], list[float]]:
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise ConfigError("Give both configurations as {seed: value} mappings, or both as lists in seed order.")
    if isinstance(a, Mapping):
        assert isinstance(b, Mapping)
        if set(a) != set(b):
            only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
            raise ConfigError(
                "A paired test needs the same seeds for both configurations; seeds only in the "
                f"first: {only_a or 'none'}, only in the second: {only_b or 'none'}."
            )
        seeds = sorted(a)
        return _values((a[s] for s in seeds), "first values"), _values((b[s] for s in seeds), "second values")
    va, vb = _values(a, "first values"), _values(b, "second values")
    if len(va) != len(vb):
        raise ConfigError(f"A paired test needs as many values for both configurations, got {len(va)} and {len(vb)}.")
    return va, vb


def paired_test(a_by_seed: Mapping[Any, float] | Sequence[float],
                b_by_seed: Mapping[Any, float] | Sequence[float],
                confidence: float = 0.95) -> PairedTest:
    """Paired t-test of two configurations trained with the same seeds.

    ``a_by_seed``/``b_by_seed``: ``{seed: metric}`` (the same seeds) or two lists in the
    same seed order. ``t = mean(d) / (sd(d) / √n)`` for ``d = a - b``, ``df = n - 1``,
    two-sided ``p``.
    """
    _check_confidence(confidence)
    va, vb = _pairs(a_by_seed, b_by_seed)
    n = len(va)
    if n < 2:
        raise ConfigError(f"A paired test needs at least 2 seeds per configuration, got {n}.")
    d = summarize([x - y for x, y in zip(va, vb)], confidence)
    if d.sd == 0:  # SciPy would divide by zero: the limits, stated
        t, p = (math.nan, 1.0) if d.mean == 0 else (math.copysign(math.inf, d.mean), 0.0)
        return PairedTest(t, p, d.mean, n, 0.0, d.mean, d.mean, confidence)
    with warnings.catch_warnings():  # differences equal up to rounding: a huge t, as it should be
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        r = _scipy_stats.ttest_rel(va, vb)
    ci = r.confidence_interval(confidence)
    return PairedTest(float(r.statistic), float(r.pvalue), d.mean, n, d.sd, float(ci.low), float(ci.high),
                      confidence)


def by_seed(runs: Iterable[Any], metric: str = "test_accuracy") -> dict[int, float]:
    """``{seed: metrics[metric]}`` of stored runs (objects with ``.experiment`` and ``.metrics``)."""
    out: dict[int, float] = {}
    for r in runs:
        seed = r.experiment.train.seed
        if seed in out:
            raise ConfigError(f"Two runs of {r.experiment.name} have the same seed {seed}.")
        out[seed] = float(r.metrics[metric])
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down Bonferroni), in the order given.

    Comparing each adjusted p with α controls the family-wise error rate of the whole set
    of comparisons at α: the smallest p is multiplied by ``m``, the next by ``m - 1`` and
    so on, each kept at least as large as the one before and at most 1.
    """
    ps = _values(p_values, "p-values")
    if any(not 0 <= p <= 1 for p in ps):
        raise ConfigError(f"p-values must lie between 0 and 1, got {ps}.")
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted
