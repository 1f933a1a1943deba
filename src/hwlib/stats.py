"""Statistics over seeds: mean, sd and Student-t intervals, paired t-tests by seed, Holm's adjustment."""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats as _scipy_stats

from hwlib.errors import ConfigError

BySeed = Mapping[Any, float] | Sequence[float]  # {seed: value}, or values in seed order


def t_quantile(q: float, df: int) -> float:
    """The ``q``-quantile of Student's t with ``df`` degrees of freedom (0 < q < 1)."""
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ConfigError(f"The degrees of freedom must be a whole number >= 1, got {df!r}.")
    if not 0 < q < 1:
        raise ConfigError(f"A quantile needs 0 < q < 1, got {q!r}.")
    return float(_scipy_stats.t.ppf(q, df))


@dataclass(frozen=True)
class Summary:
    """Mean, sample sd, standard error and Student-t interval of the mean (NaN but the mean for one value)."""

    n: int
    mean: float
    sd: float
    sem: float
    ci_low: float
    ci_high: float


def _values(values: Iterable[float], what: str = "values") -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise ConfigError(f"No {what} to summarize: train at least one seed.")
    bad = [v for v in out if not math.isfinite(v)]
    if bad:
        raise ConfigError(f"The {what} must be finite numbers, got {bad[0]!r}.")
    return out


def summarize(values: Iterable[float], confidence: float = 0.95) -> Summary:
    """Mean, sd and the ``confidence`` Student-t interval ``mean ± t · sd / √n``."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}.")
    v = _values(values)
    n, mean = len(v), statistics.fmean(v)
    if n < 2:
        return Summary(n, mean, math.nan, math.nan, math.nan, math.nan)
    sd = statistics.stdev(v, mean)
    sem = sd / math.sqrt(n)
    half = t_quantile(0.5 + confidence / 2, n - 1) * sem
    return Summary(n, mean, sd, sem, mean - half, mean + half)


@dataclass(frozen=True)
class PairedTest:
    """A paired t-test of ``a - b`` over ``n`` seeds: ``t``, two-sided ``p``, the mean difference and its interval."""

    t: float
    p: float
    mean_difference: float
    n: int
    ci_low: float
    ci_high: float


def paired_test(a: BySeed, b: BySeed, confidence: float = 0.95) -> PairedTest:
    """Paired t-test of two configurations trained with the same seeds (SciPy's ``ttest_rel``, two-sided; all
    differences equal, where SciPy would divide by zero: ``t`` ±inf and ``p`` 0, or NaN and 1 when all zero)."""
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise ConfigError("Give both configurations as {seed: value} mappings, or both as lists in seed order.")
    if isinstance(a, Mapping):
        if set(a) != set(b):
            raise ConfigError("A paired test needs the same seeds for both configurations; seeds only in the first: "
                              f"{sorted(set(a) - set(b)) or 'none'}, "
                              f"only in the second: {sorted(set(b) - set(a)) or 'none'}.")
        a, b = [a[s] for s in sorted(a)], [b[s] for s in sorted(a)]
    va, vb = _values(a, "first values"), _values(b, "second values")
    if len(va) != len(vb):
        raise ConfigError(f"A paired test needs as many values for both configurations, got {len(va)} and {len(vb)}.")
    if len(va) < 2:
        raise ConfigError(f"A paired test needs at least 2 seeds per configuration, got {len(va)}.")
    d = summarize([x - y for x, y in zip(va, vb)], confidence)
    if d.sd == 0:
        t, p = (math.nan, 1.0) if d.mean == 0 else (math.copysign(math.inf, d.mean), 0.0)
        return PairedTest(t, p, d.mean, d.n, d.mean, d.mean)
    with warnings.catch_warnings():  # differences equal up to rounding: a huge t, as it should be
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        r = _scipy_stats.ttest_rel(va, vb)
    ci = r.confidence_interval(confidence)
    return PairedTest(float(r.statistic), float(r.pvalue), d.mean, d.n, float(ci.low), float(ci.high))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down Bonferroni), in the order given."""
    ps = _values(p_values, "p-values")
    if any(not 0 <= p <= 1 for p in ps):
        raise ConfigError(f"p-values must lie between 0 and 1, got {ps}.")
    m = len(ps)
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: ps[i])):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted
