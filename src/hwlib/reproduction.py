"""The original report's numbers and claims, checked against our runs over several seeds.

The reported values are data (``reported.yml`` beside this module, each with the table or
section it comes from); this module turns them, with the stored runs of seeds ``0..n-1``,
into the Reproduction chapter's tables and verdicts.

Numbers (:func:`result_table`). For each reported test accuracy and test loss:

- **reproduced** — the reported value lies inside the 95 % Student-t confidence interval of
  our mean over the seeds, and that interval is informative: its half-width is at most
  :data:`MAX_RELATIVE_HALF_WIDTH` of our mean;
- **inconclusive** — it lies inside an interval wider than that (the seeds disagree too much,
  e.g. one run never learned, to confirm anything);
- **close** — it lies outside, but it keeps its rank: ranked within its group (the rows of
  the report's table, or a base run and its L2 variants) by that metric, the configuration
  takes the same place by the report's numbers as by our means;
- **not reproduced** — otherwise.

Claims (:func:`claim_table`). Every comparison is a paired t-test over seeds (two-sided,
α = 0.05; the seed fixes initial weights and shuffling, so runs of two configurations with
the same seed are paired), with Holm-adjusted p-values within a claim. A claim is

- **supported** — every comparison it makes is significant in the claimed direction;
- **contradicted** — at least one is significant in the opposite direction;
- **not shown** — otherwise (the seeds cannot tell the difference from noise).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from hwlib import experiments as E
from hwlib.errors import ConfigError
from hwlib.stats import by_seed, holm, paired_test, summarize

ALPHA = 0.05
CONFIDENCE = 0.95
MAX_RELATIVE_HALF_WIDTH = 0.25  # an interval of mean ± more than 25% of the mean decides nothing
METRICS = {"accuracy": "test_accuracy", "loss": "test_loss"}  # reported name -> metrics.json key
HIGHER_IS_BETTER = {"accuracy": True, "loss": False}
VERDICTS = ("reproduced", "inconclusive", "close", "not reproduced")
CLAIM_VERDICTS = ("supported", "not shown", "contradicted")
OUTCOMES = ("confirmed", "reversed", "not significant")  # of one paired comparison


# ---------------------------------------------------------------------------------------
# The reported values
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Result:
    """One reported result: a configuration's test accuracy (%) and test loss."""

    id: str
    experiment: str
    source: str
    group: str
    accuracy: float
    loss: float


@dataclass(frozen=True)
class Claim:
    """One qualitative statement of the report and the check that decides it."""

    id: str
    source: str
    statement: str
    test: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class Reported:
    report: str
    results: tuple[Result, ...]
    claims: tuple[Claim, ...]
    path: str

    def experiments(self) -> list[str]:
        """Every experiment the results and claims need, in first-mention order."""
        names = [r.experiment for r in self.results]
        for c in self.claims:
            names += [c.params[k] for k in ("base", "other") if k in c.params]
            if "group" in c.params:
                names += [r.experiment for r in self.results if r.group == c.params["group"]]
            if "dataset" in c.params:
                names += list(E.SWEEPS[c.params["dataset"]])
        return list(dict.fromkeys(names))

    def group(self, name: str) -> list[Result]:
        return [r for r in self.results if r.group == name]

    def ranked(self, name: str) -> list[Result]:
        """A group's results from the best to the worst reported accuracy (the report's order)."""
        return sorted(self.group(name), key=lambda r: -r.accuracy)


def default_path() -> Path:
    return Path(str(resources.files("hwlib").joinpath("reported.yml")))


def _bad(path: Any, where: str, what: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {what}. Fix the file (its header explains each field).")


def load_reported(path: str | Path | None = None) -> Reported:
    """Read and check the reported values (default: the ``reported.yml`` shipped with hwlib)."""
    import yaml

    path = Path(path) if path is not None else default_path()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"The reported-values file {path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list) or not doc["results"]:
        raise _bad(path, "top level", "expected a mapping with a non-empty `results` list (and `claims`)")
    results, seen = [], set()
    for i, row in enumerate(doc["results"]):
        where = f"results[{i}]"
        if not isinstance(row, dict):
            raise _bad(path, where, f"expected a mapping, got {row!r}")
        missing = {"id", "experiment", "source", "group", "accuracy", "loss"} - set(row)
        if missing:
            raise _bad(path, where, f"missing field(s) {', '.join(sorted(missing))}")
        if row["id"] in seen:
            raise _bad(path, where, f"duplicate id {row['id']!r}")
        seen.add(row["id"])
        if row["experiment"] not in E.EXPERIMENTS:
            raise _bad(path, where, f"unknown experiment {row['experiment']!r} (known: {', '.join(E.EXPERIMENTS)})")
        for metric in METRICS:
            v = row[metric]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise _bad(path, where, f"{metric} must be a number >= 0, got {v!r}")
        if row["accuracy"] > 100:
            raise _bad(path, where, f"accuracy is in percent (0-100), got {row['accuracy']!r}")
        results.append(Result(str(row["id"]), row["experiment"], str(row["source"]), str(row["group"]),
                              float(row["accuracy"]), float(row["loss"])))
    claims = []
    for i, row in enumerate(doc.get("claims") or []):
        where = f"claims[{i}]"
        if not isinstance(row, dict):
            raise _bad(path, where, f"expected a mapping, got {row!r}")
        missing = {"id", "source", "statement", "test"} - set(row)
        if missing:
            raise _bad(path, where, f"missing field(s) {', '.join(sorted(missing))}")
        if row["test"] not in CHECKS:
            raise _bad(path, where, f"unknown test {row['test']!r} (known: {', '.join(CHECKS)})")
        params = {k: str(v) for k, v in row.items() if k not in {"id", "source", "statement", "test"}}
        needed = CHECK_PARAMS[row["test"]]
        if set(params) != needed:
            raise _bad(path, where, f"test {row['test']!r} takes exactly the field(s) {', '.join(sorted(needed))}")
        for k in ("base", "other"):
            if k in params and params[k] not in E.EXPERIMENTS:
                raise _bad(path, where, f"unknown experiment {params[k]!r} in {k}")
        if "dataset" in params and params["dataset"] not in E.SWEEPS:
            raise _bad(path, where, f"no sweep for dataset {params['dataset']!r} (known: {', '.join(E.SWEEPS)})")
        if "group" in params and len([r for r in results if r.group == params["group"]]) < 2:
            raise _bad(path, where, f"group {params['group']!r} needs at least two results")
        claims.append(Claim(str(row["id"]), str(row["source"]), str(row["statement"]), row["test"], params))
    return Reported(str(doc.get("report", "")), tuple(results), tuple(claims), str(path))


# ---------------------------------------------------------------------------------------
# Runs over seeds
# ---------------------------------------------------------------------------------------
def seed_list(n: Any, what: str = "seeds") -> list[int]:
    """Seeds ``0..n-1``; a study needs at least two (a standard deviation, a paired test)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError(f"{what} must be a whole number >= 2 (seeds 0..{what}-1 are used), got {n!r}.")
    return list(range(n))


def collect(settings: Any, reported: Reported, seeds: Mapping[str, int]) -> dict[str, list[Any]]:
    """The runs of every experiment ``reported`` needs: seeds ``0..seeds[dataset]-1``.

    ``settings``: a chapter's :class:`hwlib.report.Settings` (profile, store, training on a
    miss); ``seeds``: the number of seeds per dataset, e.g. ``{"mnist": 5, "cifar10": 3}``.
    """
    for dataset, n in seeds.items():
        seed_list(n, f"{dataset}_seeds")
    runs = {}
    for name in reported.experiments():
        dataset = E.EXPERIMENTS[name].dataset
        if dataset not in seeds:
            raise ConfigError(f"How many seeds for {dataset}? Give {dataset}_seeds (needed by {name}).")
        runs[name] = settings.seed_runs(name, seeds[dataset])
    return runs


def values(runs: Sequence[Any], metric: str) -> dict[int, float]:
    """``{seed: value}`` of a metrics.json key (:func:`hwlib.stats.by_seed`), or of ``gap``
    (train - test accuracy)."""
    if metric == "gap":
        train, test = by_seed(runs, "train_accuracy"), by_seed(runs, "test_accuracy")
        return {seed: train[seed] - test[seed] for seed in train}
    return by_seed(runs, metric)


N_CLASSES = 10  # MNIST and CIFAR-10 alike
CHANCE_MARGIN = 0.01  # a run within 1 point of chance accuracy (train and test) never learned


def collapsed(runs: Mapping[str, Sequence[Any]], n_classes: int = N_CLASSES) -> list[tuple[str, int, float]]:
    """Runs that ended at chance level, ``(experiment, seed, test accuracy)``: final training
    and test accuracy both within :data:`CHANCE_MARGIN` of ``1 / n_classes`` (a network that
    died early, e.g. every ReLU switched off, and predicts one class)."""
    chance = 1.0 / n_classes
    out, seen = [], set()
    for name, rs in runs.items():
        for r in rs:
            if r.key in seen:  # an experiment that is another's run (mnist-base is mnist-k5s1-same)
                continue
            seen.add(r.key)
            m = r.metrics
            if max(m["test_accuracy"], m["train_accuracy"]) <= chance + CHANCE_MARGIN:
                out.append((name, r.experiment.train.seed, float(m["test_accuracy"])))
    return out


def unique_runs(runs: Mapping[str, Sequence[Any]]) -> int:
    """How many distinct runs (keys) ``runs`` holds."""
    return len({r.key for rs in runs.values() for r in rs})


def collapsed_text(found: Sequence[tuple[str, int, float]]) -> str:
    """:func:`collapsed` in words, for the prose."""
    if not found:
        return "none of the runs"
    return "; ".join(f"{name} seed {seed} (test accuracy {100 * acc:.2f}%)" for name, seed, acc in found)


def _scale(key: str) -> float:
    """Losses as they are; accuracies and gaps in percent."""
    return 1.0 if key == "test_loss" else 100.0


def _rank(ids: Sequence[str], score: Mapping[str, float], higher_better: bool) -> dict[str, int]:
    order = sorted(ids, key=lambda i: -score[i] if higher_better else score[i])
    return {i: order.index(i) + 1 for i in ids}


def result_table(reported: Reported, runs: Mapping[str, Sequence[Any]],
                 confidence: float = CONFIDENCE) -> Any:
    """One row per reported number: the reported value, ours over the seeds, the verdict.

    ``runs`` maps each experiment name to its runs (one per seed). Columns: id, source,
    experiment, dataset, metric, reported, seeds, mean, sd, ci_low, ci_high, difference
    (ours - reported; accuracies in percentage points), rank_reported, rank_ours (within
    the result's group), verdict.
    """
    import pandas as pd

    rows = []
    for metric, key in METRICS.items():
        scale = _scale(key)
        means = {}
        for r in reported.results:
            if not runs.get(r.experiment):
                raise ConfigError(f"No runs of {r.experiment} (needed for {r.id}, {r.source}).")
            means[r.id] = summarize([scale * v for v in values(runs[r.experiment], key).values()], confidence)
        for r in reported.results:
            group = [g.id for g in reported.group(r.group)]
            rep_rank = _rank(group, {g.id: getattr(g, metric) for g in reported.group(r.group)},
                             HIGHER_IS_BETTER[metric])[r.id]
            our_rank = _rank(group, {g: means[g].mean for g in group}, HIGHER_IS_BETTER[metric])[r.id]
            s, value = means[r.id], getattr(r, metric)
            verdict = verdict_for(value, s.ci_low, s.ci_high, rep_rank == our_rank, s.mean)
            rows.append({
                "id": r.id, "source": r.source, "experiment": r.experiment,
                "dataset": E.EXPERIMENTS[r.experiment].dataset, "group": r.group, "metric": metric,
                "reported": value, "seeds": s.n, "mean": s.mean, "sd": s.sd,
                "ci_low": s.ci_low, "ci_high": s.ci_high, "difference": s.mean - value,
                "rank_reported": rep_rank, "rank_ours": our_rank, "verdict": verdict,
            })
    order = {r.id: i for i, r in enumerate(reported.results)}
    df = pd.DataFrame(rows)
    df["_order"] = df["id"].map(order)
    return df.sort_values(["_order", "metric"], kind="stable").drop(columns="_order").reset_index(drop=True)


def verdict_for(value: float, ci_low: float, ci_high: float, same_rank: bool, mean: float | None = None) -> str:
    """The rule of the module docstring: inside an informative interval, inside a too wide
    one, outside but with the same rank, or none of these. ``mean``: our mean (default: the
    interval's centre)."""
    if math.isnan(ci_low) or math.isnan(ci_high):
        raise ConfigError("A verdict needs a confidence interval: train at least two seeds.")
    if ci_low <= value <= ci_high:
        centre = (ci_low + ci_high) / 2 if mean is None else mean
        wide = (ci_high - ci_low) / 2 > MAX_RELATIVE_HALF_WIDTH * abs(centre)
        return "inconclusive" if wide else "reproduced"
    return "close" if same_rank else "not reproduced"


def format_result_table(df: Any, metric: str) -> Any:
    """The ``metric`` rows of :func:`result_table` for reading, one row per reported result."""
    import pandas as pd

    from hwlib.tables import interval, mean_sd, num

    rows = df[df["metric"] == metric]
    digits = 4 if metric == "loss" else 2
    return pd.DataFrame({
        "result": rows["id"],
        "configuration": rows["experiment"],
        "reported": [num(v, digits) for v in rows["reported"]],
        "ours: mean ± sd": [mean_sd(v, s, digits) for v, s in zip(rows["mean"], rows["sd"])],
        "ours: 95% CI": [interval(lo, hi, digits) for lo, hi in zip(rows["ci_low"], rows["ci_high"])],
        "difference": [num(d, digits, sign=True) for d in rows["difference"]],
        "rank: report / ours": [f"{a} / {b}" for a, b in zip(rows["rank_reported"], rows["rank_ours"])],
        "verdict": rows["verdict"],
    }).reset_index(drop=True)


def tally(values: Any, labels: Sequence[str]) -> dict[str, int]:
    """How many of ``values`` (a Series) are each of ``labels`` (every label present, 0 if none)."""
    counts = values.value_counts()
    return {label: int(counts.get(label, 0)) for label in labels}


def verdict_counts(df: Any) -> dict[str, int]:
    """How many rows of a result table got each verdict."""
    return tally(df["verdict"], VERDICTS)


# ---------------------------------------------------------------------------------------
# Paired comparisons and the qualitative claims
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """``a`` compared with ``b`` on ``metric`` over the seeds; the claim says ``a > b``."""

    a: str
    b: str
    metric: str
    n: int
    mean_difference: float  # a - b (accuracies and gaps in percentage points)
    ci_low: float
    ci_high: float
    t: float
    p: float
    p_holm: float = math.nan

    @property
    def outcome(self) -> str:
        """'confirmed' (significantly a > b), 'reversed' (significantly a < b) or 'not significant'."""
        if not self.p_holm < ALPHA:
            return "not significant"
        return "confirmed" if self.mean_difference > 0 else "reversed"


def compare(runs: Mapping[str, Sequence[Any]], a: str, b: str, metric: str = "test_accuracy") -> Comparison:
    """Paired t-test of ``a - b`` over the seeds both have (accuracy-like metrics in points)."""
    scale = _scale(metric)
    va, vb = values(runs[a], metric), values(runs[b], metric)
    common = sorted(set(va) & set(vb))
    t = paired_test({s: scale * va[s] for s in common}, {s: scale * vb[s] for s in common}, CONFIDENCE)
    return Comparison(a, b, metric, t.n, t.mean_difference, t.ci_low, t.ci_high, t.t, t.p)


def _with_holm(comps: list[Comparison]) -> list[Comparison]:
    adjusted = holm([c.p for c in comps]) if comps else []
    return [Comparison(**{**c.__dict__, "p_holm": p}) for c, p in zip(comps, adjusted)]


def _claim_verdict(comps: Sequence[Comparison]) -> str:
    outcomes = {c.outcome for c in comps}
    if "reversed" in outcomes:
        return "contradicted"
    return "supported" if outcomes == {"confirmed"} else "not shown"


def pairwise_table(reported: Reported, group: str, runs: Mapping[str, Sequence[Any]]) -> Any:
    """Every pair of a group's configurations, the better one by the report first: the
    paired difference of test accuracy, its interval, t, p and Holm-adjusted p (over the
    group's pairs), and whether our seeds confirm, reverse or cannot tell the report's order."""
    import pandas as pd

    rows = reported.ranked(group)
    comps = _with_holm([compare(runs, x.experiment, y.experiment) for x, y in itertools.combinations(rows, 2)])
    return pd.DataFrame([{
        "better in the report": c.a, "worse in the report": c.b, "seeds": c.n,
        "difference (pp)": c.mean_difference, "ci_low": c.ci_low, "ci_high": c.ci_high,
        "t": c.t, "p": c.p, "p (Holm)": c.p_holm, "our seeds": c.outcome,
    } for c in comps])


def format_pairwise_table(df: Any) -> Any:
    """:func:`pairwise_table` for reading: the difference and its interval in two columns."""
    import pandas as pd

    from hwlib.tables import interval, num

    return pd.DataFrame({
        "better in the report": df["better in the report"],
        "worse in the report": df["worse in the report"],
        "difference (pp)": [num(d, 2, sign=True) for d in df["difference (pp)"]],
        "95% CI (pp)": [interval(lo, hi, 2, sign=True) for lo, hi in zip(df["ci_low"], df["ci_high"])],
        "p": [_p(p) for p in df["p"]],
        "p (Holm)": [_p(p) for p in df["p (Holm)"]],
        "our seeds": df["our seeds"],
    })


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _check_ranking(reported: Reported, params: Mapping[str, str], runs) -> list[Comparison]:
    """Each configuration beats the next one down the report's table (adjacent pairs)."""
    rows = reported.ranked(params["group"])
    return [compare(runs, x.experiment, y.experiment) for x, y in zip(rows, rows[1:])]


def stride_pairs(dataset: str) -> list[tuple[str, str]]:
    """(smaller stride, next larger stride) pairs of a sweep's configurations with the same kernel."""
    by_kernel: dict[int, list[Any]] = {}
    for name in E.SWEEPS[dataset]:
        conv = E.EXPERIMENTS[name].model.convs[0]
        by_kernel.setdefault(conv.kernel, []).append((conv.stride, name))
    pairs = []
    for kernel in sorted(by_kernel):
        ordered = sorted(by_kernel[kernel])
        pairs += [(a[1], b[1]) for a, b in zip(ordered, ordered[1:])]
    return pairs


def _check_stride(reported: Reported, params: Mapping[str, str], runs) -> list[Comparison]:
    """Smaller stride beats larger stride, kernel by kernel."""
    return [compare(runs, a, b) for a, b in stride_pairs(params["dataset"])]


def _check_gap_cost(reported: Reported, params: Mapping[str, str], runs) -> list[Comparison]:
    """The base run's train - test gap exceeds the other's; its test accuracy too."""
    base, other = params["base"], params["other"]
    return [compare(runs, base, other, "gap"), compare(runs, base, other, "test_accuracy")]


def _check_generalizes(reported: Reported, params: Mapping[str, str], runs) -> list[Comparison]:
    """The other run is more accurate on the test set, with a smaller train - test gap."""
    base, other = params["base"], params["other"]
    return [compare(runs, other, base, "test_accuracy"), compare(runs, base, other, "gap")]


CHECKS: dict[str, Callable[..., list[Comparison]]] = {
    "ranking": _check_ranking,
    "stride_hurts": _check_stride,
    "closes_gap_costs_accuracy": _check_gap_cost,
    "generalizes_better": _check_generalizes,
}
CHECK_PARAMS = {"ranking": {"group"}, "stride_hurts": {"dataset"},
                "closes_gap_costs_accuracy": {"base", "other"}, "generalizes_better": {"base", "other"}}
_METRIC_TEXT = {"test_accuracy": "test accuracy", "gap": "train − test accuracy gap", "test_loss": "test loss"}


_OUTCOME_TEXT = {"confirmed": "confirmed", "reversed": "reversed", "not significant": "n.s."}


def describe(c: Comparison) -> str:
    """One comparison in words: 'a > b in test accuracy: +0.41 pp, p_Holm 0.012, confirmed'."""
    from hwlib.tables import num

    unit = "" if c.metric == "test_loss" else " pp"
    return (f"{c.a} > {c.b} in {_METRIC_TEXT[c.metric]}: {num(c.mean_difference, 2, sign=True)}{unit}, "
            f"p_Holm {_p(c.p_holm)}, {_OUTCOME_TEXT[c.outcome]}")


def check_claim(reported: Reported, claim: Claim, runs: Mapping[str, Sequence[Any]]) -> tuple[str, list[Comparison]]:
    """The verdict on one claim and its comparisons (Holm-adjusted within the claim)."""
    comps = _with_holm(CHECKS[claim.test](reported, claim.params, runs))
    return _claim_verdict(comps), comps


def claim_table(reported: Reported, runs: Mapping[str, Sequence[Any]]) -> Any:
    """One row per claim: source, statement, the comparisons it makes, the verdict."""
    import pandas as pd

    rows = []
    for claim in reported.claims:
        verdict, comps = check_claim(reported, claim, runs)
        rows.append({"id": claim.id, "source": claim.source, "claim": claim.statement,
                     "evidence": "; ".join(describe(c) for c in comps), "comparisons": len(comps),
                     "confirmed": sum(c.outcome == "confirmed" for c in comps),
                     "reversed": sum(c.outcome == "reversed" for c in comps), "verdict": verdict})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# Learning curves of several seeds
# ---------------------------------------------------------------------------------------
def histories(runs: Sequence[Any]) -> Any:
    """The histories of several runs in long format (a ``seed`` column), for ``plots.learning_curves(band=)``."""
    import pandas as pd

    return pd.concat([r.history.assign(seed=r.experiment.train.seed) for r in runs], ignore_index=True)


def key_numbers(results: Any, claims: Any) -> Any:
    """The chapter's key numbers and verdicts, one line each (checked by nbval)."""
    import pandas as pd

    rows = [{"item": f"{r['id']} {r['metric']}", "value": f"{r['mean']:.4f}" if r["metric"] == "loss" else f"{r['mean']:.2f}",
             "seeds": str(r["seeds"]), "verdict": r["verdict"]} for _, r in results.iterrows()]
    rows += [{"item": c["id"], "value": f"{c['confirmed']}/{c['comparisons']} confirmed", "seeds": "",
              "verdict": c["verdict"]} for _, c in claims.iterrows()]
    return pd.DataFrame(rows)
