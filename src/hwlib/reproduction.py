"""The report's numbers and claims (``reported.yml`` beside this module), judged by our seeds.

**A number** (:func:`result_table`). A reported number is *one run*, so it is compared with
where one new run of ours would fall: the 95 % Student-t **prediction interval** for a single
new run, ``mean ± t(0.975, n-1) · sd · sqrt(1 + 1/n)`` over our ``n`` seeds, clipped to the
metric's range (accuracy 0-100 %, loss >= 0). The confidence interval of our *mean* would be
the wrong yardstick: it narrows as seeds are added, so more seeds would make a faithful single
run *less* likely to count as reproduced. A reported test accuracy or test loss is

- **reproduced** when it lies inside that interval and the interval is informative (its
  half-width is at most :data:`MAX_RELATIVE_HALF_WIDTH` of our mean);
- **too uncertain** when it lies inside an interval wider than that (e.g. one seed never
  learned): the interval admits a clearly better and a broken network alike;
- **not reproduced** otherwise.

Inside the interval means ``|reported - mean| / sd <= t · sqrt(1 + 1/n)`` (the distance in
seed sds, :func:`distance_cutoff`): the cut-off grows as the number of seeds shrinks.

**A claim** (:func:`claim_table`). Every comparison is a paired t-test over seeds (two-sided,
α = 0.05; the seed fixes initial weights and shuffling, so runs of two configurations with
the same seed are paired). The Holm adjustment runs over one family per dataset: every
comparison made between that dataset's runs (all pairs of the sweep table and each claim's
comparisons), each computed once (:class:`Comparisons`). A claim is **supported** when every
comparison it makes is significant in the claimed direction, **contradicted** when one is
significant in the opposite direction, and **not shown** otherwise.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hwlib import experiments as E
from hwlib.config import N_CLASSES
from hwlib.errors import ConfigError
from hwlib.stats import by_seed, holm, paired_test, summarize, t_quantile

ALPHA = 0.05
CONFIDENCE = 0.95
MAX_RELATIVE_HALF_WIDTH = 0.25  # an interval of mean ± more than 25% of the mean decides nothing
METRICS = {"accuracy": "test_accuracy", "loss": "test_loss"}  # reported name -> metrics.json key
VERDICTS = ("reproduced", "too uncertain", "not reproduced")
RANGES = {"accuracy": (0.0, 100.0), "loss": (0.0, math.inf)}  # where a metric can lie
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

    def by_id(self, result_id: str) -> Result:
        """The result ``result_id`` (e.g. "S1.4")."""
        for r in self.results:
            if r.id == result_id:
                return r
        raise KeyError(f"No reported result {result_id!r} in {self.path}.")

    def for_experiment(self, name: str) -> Result | None:
        """The reported result of the network ``name`` trains (an experiment with the same
        settings counts: a base network is reported as row 1 of its sweep table)."""
        key = E.get(name).key()
        return next((r for r in self.results if E.get(r.experiment).key() == key), None)

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
        missing = {"id", "experiment", "source", "accuracy", "loss"} - set(row)
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
        results.append(Result(str(row["id"]), row["experiment"], str(row["source"]), str(row.get("group") or ""),
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
def collect(settings: Any, reported: Reported, seeds: int) -> dict[str, list[Any]]:
    """The runs of every experiment ``reported`` needs, seeds ``0..seeds-1`` each
    (``settings``: a chapter's :class:`hwlib.settings.Settings`: profile, variant, store,
    training on a miss)."""
    E.seed_list(seeds)
    return {name: settings.seed_runs(name, seeds) for name in reported.experiments()}


def label(name: str, dataset: bool = True) -> str:
    """An experiment in words: "CIFAR-10, 3×3 stride 2", "MNIST, L2 on every layer" (without
    the dataset's name when ``dataset`` is false: "3×3 stride 2")."""
    exp = E.get(name)
    if not dataset:
        return label(name).split(", ", 1)[1]
    dataset = {"mnist": "MNIST", "cifar10": "CIFAR-10"}[exp.dataset]
    if exp.model.l2_layers:
        tuned = exp.train.learning_rate != E.get(f"{exp.dataset}-base").train.learning_rate
        return f"{dataset}, {'tuned L2' if tuned else 'L2 on every layer'}"
    conv = exp.model.convs[0]
    text = f"{dataset}, {conv.kernel}×{conv.kernel} stride {conv.stride}"
    text += ", valid padding" if conv.padding == "valid" else ""
    return text + (" (base network)" if exp.model == E.get(f"{exp.dataset}-base").model else "")


def values(runs: Sequence[Any], metric: str) -> dict[int, float]:
    """``{seed: value}`` of a metrics.json key (:func:`hwlib.stats.by_seed`), or of ``gap``
    (train - test accuracy)."""
    if metric == "gap":
        train, test = by_seed(runs, "train_accuracy"), by_seed(runs, "test_accuracy")
        return {seed: train[seed] - test[seed] for seed in train}
    return by_seed(runs, metric)


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


def _scale(key: str) -> float:
    """Losses as they are; accuracies and gaps in percent."""
    return 1.0 if key == "test_loss" else 100.0


@dataclass(frozen=True)
class Prediction:
    """Where one new run of ours would fall: our mean and sd over ``n`` seeds and the
    prediction interval for a single new run (``low``/``high`` clipped to the metric's range,
    ``clipped`` saying whether clipping changed it)."""

    n: int
    mean: float
    sd: float
    low: float
    high: float
    half_width: float
    clipped: bool


def prediction_interval(values: Sequence[float], metric: str = "accuracy",
                        confidence: float = CONFIDENCE) -> Prediction:
    """The Student-t prediction interval for one new value, ``mean ± t · sd · sqrt(1 + 1/n)``
    with ``t`` the ``(1 + confidence) / 2`` quantile of t with ``n - 1`` degrees of freedom,
    clipped to :data:`RANGES` of ``metric`` (values in percent for accuracy)."""
    s = summarize(values, confidence)
    if s.n < 2:
        raise ConfigError("A prediction interval needs at least two seeds.")
    half = t_quantile((1 + confidence) / 2, s.n - 1) * s.sd * math.sqrt(1 + 1 / s.n)
    lo, hi = RANGES[metric]
    low, high = max(lo, s.mean - half), min(hi, s.mean + half)
    return Prediction(s.n, s.mean, s.sd, low, high, half, (low, high) != (s.mean - half, s.mean + half))


def distance_cutoff(n: int, confidence: float = CONFIDENCE) -> float:
    """How far, in seed sds, a value may lie from the mean of ``n`` seeds and still be inside
    the prediction interval: ``t((1 + confidence) / 2, n - 1) · sqrt(1 + 1/n)``."""
    return t_quantile((1 + confidence) / 2, n - 1) * math.sqrt(1 + 1 / n)


def predict(runs: Sequence[Any], metric: str, confidence: float = CONFIDENCE) -> Prediction:
    """The prediction interval of ``metric`` ("accuracy" in %, or "loss") over ``runs``."""
    key = METRICS[metric]
    return prediction_interval([_scale(key) * v for v in values(runs, key).values()], metric, confidence)


def result_table(reported: Reported, runs: Mapping[str, Sequence[Any]],
                 confidence: float = CONFIDENCE) -> Any:
    """One row per reported number and metric: the reported value, ours over the seeds, the
    verdict. ``runs`` maps each experiment name to its runs (one per seed). Columns: id,
    label, source, experiment, dataset, group, metric, reported, seeds, mean, sd, pi_low,
    pi_high (clipped), pi_half_width, clipped, difference (ours - reported; accuracies in
    points), distance_sd ((reported - mean) / sd), verdict."""
    import pandas as pd

    rows = []
    for r in reported.results:
        if not runs.get(r.experiment):
            raise ConfigError(f"No runs of {r.experiment} (needed for {r.id}, {r.source}).")
        for metric in METRICS:
            p, value = predict(runs[r.experiment], metric, confidence), getattr(r, metric)
            rows.append({
                "id": r.id, "label": label(r.experiment), "source": r.source, "experiment": r.experiment,
                "dataset": E.EXPERIMENTS[r.experiment].dataset, "group": r.group, "metric": metric,
                "reported": value, "seeds": p.n, "mean": p.mean, "sd": p.sd,
                "pi_low": p.low, "pi_high": p.high, "pi_half_width": p.half_width, "clipped": p.clipped,
                "difference": p.mean - value,
                "distance_sd": (value - p.mean) / p.sd if p.sd > 0 else math.copysign(math.inf, value - p.mean),
                "verdict": verdict_for(value, p),
            })
    return pd.DataFrame(rows)


def verdict_for(value: float, prediction: Prediction) -> str:
    """The rule of the module docstring: inside an informative prediction interval, inside a
    too wide one, or outside."""
    if math.isnan(prediction.half_width):
        raise ConfigError("A verdict needs a prediction interval: train at least two seeds.")
    if prediction.low <= value <= prediction.high:
        wide = prediction.half_width > MAX_RELATIVE_HALF_WIDTH * abs(prediction.mean)
        return "too uncertain" if wide else "reproduced"
    return "not reproduced"


def worked_example(results: Any, result_id: str, metric: str = "accuracy",
                   confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The numbers of one verdict, for the chapter's worked example: our n, mean, sd, the t
    quantile, the factor sqrt(1 + 1/n), the prediction interval's half-width and ends, the
    confidence interval of the mean's half-width (for contrast), the reported value, verdict."""
    row = results[(results["id"] == result_id) & (results["metric"] == metric)].iloc[0]
    n = int(row["seeds"])
    t = t_quantile((1 + confidence) / 2, n - 1)
    return {"id": result_id, "source": row["source"], "experiment": row["experiment"], "n": n, "df": n - 1,
            "mean": row["mean"], "sd": row["sd"], "t": t, "factor": math.sqrt(1 + 1 / n),
            "half": row["pi_half_width"], "low": row["pi_low"], "high": row["pi_high"],
            "ci_half": t * row["sd"] / math.sqrt(n), "reported": row["reported"],
            "distance_sd": abs(row["distance_sd"]), "verdict": row["verdict"],
            "inside": "inside" if row["pi_low"] <= row["reported"] <= row["pi_high"] else "outside"}


def result_name(row: Any) -> str:
    """A result's code and its configuration in words: "T6.2: CIFAR-10, 3×3 stride 2"."""
    return f"{row['id']}: {row['label']}"


def format_result_table(df: Any, metric: str) -> Any:
    """The ``metric`` rows of :func:`result_table` for reading, one row per reported result."""
    import pandas as pd

    from hwlib.tables import interval, mean_sd, num

    rows = df[df["metric"] == metric]
    digits = 4 if metric == "loss" else 2
    return pd.DataFrame({
        "result": [result_name(r) for _, r in rows.iterrows()],
        "reported": [num(v, digits) for v in rows["reported"]],
        "ours: mean ± sd": [mean_sd(v, s, digits) for v, s in zip(rows["mean"], rows["sd"])],
        "95% prediction interval": [interval(lo, hi, digits) for lo, hi in zip(rows["pi_low"], rows["pi_high"])],
        "distance (sd)": [num(d, 1, sign=True) for d in rows["distance_sd"]],
        "verdict": rows["verdict"],
    }).reset_index(drop=True)


def summary_table(results: Any) -> Any:
    """How many reported accuracies and losses (:func:`result_table`) got each verdict."""
    import pandas as pd

    counts = {plural: [int(((results["metric"] == m) & (results["verdict"] == v)).sum()) for v in VERDICTS]
              for m, plural in (("accuracy", "accuracies"), ("loss", "losses"))}
    return pd.DataFrame({"verdict": VERDICTS, **counts})


def example_table(example: Mapping[str, Any]) -> Any:
    """:func:`worked_example` as a table of steps: what, formula, value."""
    import pandas as pd

    from hwlib.tables import interval, num

    return pd.DataFrame([
        ("seeds", "n", str(example["n"])),
        ("our mean ± seed sd (%)", "", f"{num(example['mean'], 2)} ± {num(example['sd'], 2)}"),
        ("Student's t", f"97.5 % quantile, {example['df']} degrees of freedom", num(example["t"], 3)),
        ("half-width (points)", "t · sd · √(1 + 1/n)", num(example["half"], 2)),
        ("prediction interval (%)", "mean ± half-width", interval(example["low"], example["high"], 2)),
        ("reported (%)", "", num(example["reported"], 2)),
        ("for contrast: confidence interval of the mean, half-width", "t · sd / √n", num(example["ci_half"], 2)),
    ], columns=["step", "formula", "value"])


def tally(values: Any, labels: Sequence[str]) -> dict[str, int]:
    """How many of ``values`` (a Series) are each of ``labels`` (every label present, 0 if none)."""
    counts = values.value_counts()
    return {label: int(counts.get(label, 0)) for label in labels}


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


    def flipped(self) -> Comparison:
        """The same comparison read the other way round (``b`` against ``a``)."""
        return Comparison(self.b, self.a, self.metric, self.n, -self.mean_difference, -self.ci_high,
                          -self.ci_low, -self.t, self.p, self.p_holm)


def compare(runs: Mapping[str, Sequence[Any]], a: str, b: str, metric: str = "test_accuracy") -> Comparison:
    """Paired t-test of ``a - b`` over the seeds both have (accuracy-like metrics in points)."""
    scale = _scale(metric)
    va, vb = values(runs[a], metric), values(runs[b], metric)
    common = sorted(set(va) & set(vb))
    t = paired_test({s: scale * va[s] for s in common}, {s: scale * vb[s] for s in common}, CONFIDENCE)
    return Comparison(a, b, metric, t.n, t.mean_difference, t.ci_low, t.ci_high, t.t, t.p)


Request = tuple[str, str, str]  # (a, b, metric): "a is better than b in metric"


class Comparisons:
    """Every paired comparison the chapter makes, each computed once and Holm-adjusted
    within one family per dataset (see the module docstring): all pairs of each group a
    ``ranking`` claim orders, and the comparisons of every claim."""

    def __init__(self, reported: Reported, runs: Mapping[str, Sequence[Any]]):
        requests: list[Request] = []
        for claim in reported.claims:
            if claim.test == "ranking":
                rows = reported.ranked(claim.params["group"])
                requests += [(x.experiment, y.experiment, "test_accuracy") for x, y in itertools.combinations(rows, 2)]
            requests += REQUESTS[claim.test](reported, claim.params)
        canonical: dict[tuple[frozenset[str], str], Request] = {}
        for a, b, metric in requests:
            canonical.setdefault((frozenset((a, b)), metric), (a, b, metric))
        families: dict[str, list[Comparison]] = {}
        for a, b, metric in canonical.values():
            families.setdefault(E.EXPERIMENTS[a].dataset, []).append(compare(runs, a, b, metric))
        self._by_pair = {}
        self.family_sizes = {}
        for dataset, comps in families.items():
            self.family_sizes[dataset] = len(comps)
            for c in _with_holm(comps):
                self._by_pair[(frozenset((c.a, c.b)), c.metric)] = c

    def get(self, a: str, b: str, metric: str = "test_accuracy") -> Comparison:
        """The comparison "``a`` better than ``b``" (flipped if it was computed the other way)."""
        c = self._by_pair[(frozenset((a, b)), metric)]
        return c if (c.a, c.b) == (a, b) else c.flipped()


def _with_holm(comps: list[Comparison]) -> list[Comparison]:
    adjusted = holm([c.p for c in comps]) if comps else []
    return [Comparison(**{**c.__dict__, "p_holm": p}) for c, p in zip(comps, adjusted)]


def _claim_verdict(comps: Sequence[Comparison]) -> str:
    outcomes = {c.outcome for c in comps}
    if "reversed" in outcomes:
        return "contradicted"
    return "supported" if outcomes == {"confirmed"} else "not shown"


def pairwise_table(reported: Reported, group: str, comps: Comparisons) -> Any:
    """Every pair of a group's configurations, the better one by the report first: the
    paired difference of test accuracy, its interval, t, p and the Holm-adjusted p (within
    the dataset's family), and whether our seeds confirm, reverse or cannot tell the
    report's order."""
    import pandas as pd

    rows = reported.ranked(group)
    return pd.DataFrame([{
        "better in the report": label(c.a, dataset=False), "worse in the report": label(c.b, dataset=False),
        "seeds": c.n,
        "difference (pp)": c.mean_difference, "ci_low": c.ci_low, "ci_high": c.ci_high,
        "t": c.t, "p": c.p, "p (Holm)": c.p_holm, "our seeds": c.outcome,
    } for c in (comps.get(x.experiment, y.experiment) for x, y in itertools.combinations(rows, 2))])


def format_pairwise_table(df: Any) -> Any:
    """:func:`pairwise_table` for reading: the difference and its interval in two columns."""
    import pandas as pd

    from hwlib.tables import interval, num

    return pd.DataFrame({
        "better in the report": df["better in the report"],
        "worse in the report": df["worse in the report"],
        "difference (pp)": [num(d, 2, sign=True) for d in df["difference (pp)"]],
        "95% CI (pp)": [interval(lo, hi, 2, sign=True) for lo, hi in zip(df["ci_low"], df["ci_high"])],
        "p (Holm)": [_p(p) for p in df["p (Holm)"]],
        "our seeds": df["our seeds"],
    })


def pairs_summary(pairs: Mapping[str, Any]) -> Any:
    """How many pairs of each sweep table (:func:`pairwise_table`, by dataset) our seeds
    confirm, reverse or cannot tell apart."""
    import pandas as pd

    names = {"mnist": "MNIST (Table 3)", "cifar10": "CIFAR-10 (Table 6)"}
    return pd.DataFrame([{"table": names[d], "pairs": len(df), **tally(df["our seeds"], OUTCOMES)}
                         for d, df in pairs.items()])


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _ranking(reported: Reported, params: Mapping[str, str]) -> list[Request]:
    """Each configuration beats the next one down the report's table (adjacent pairs)."""
    rows = reported.ranked(params["group"])
    return [(x.experiment, y.experiment, "test_accuracy") for x, y in zip(rows, rows[1:])]


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


def _stride(reported: Reported, params: Mapping[str, str]) -> list[Request]:
    """Smaller stride beats larger stride, kernel by kernel."""
    return [(a, b, "test_accuracy") for a, b in stride_pairs(params["dataset"])]


def _gap_cost(reported: Reported, params: Mapping[str, str]) -> list[Request]:
    """The base run's train - test gap exceeds the other's; its test accuracy too."""
    base, other = params["base"], params["other"]
    return [(base, other, "gap"), (base, other, "test_accuracy")]


def _generalizes(reported: Reported, params: Mapping[str, str]) -> list[Request]:
    """The other run is more accurate on the test set, with a smaller train - test gap."""
    base, other = params["base"], params["other"]
    return [(other, base, "test_accuracy"), (base, other, "gap")]


REQUESTS: dict[str, Callable[[Reported, Mapping[str, str]], list[Request]]] = {
    "ranking": _ranking,
    "stride_hurts": _stride,
    "closes_gap_costs_accuracy": _gap_cost,
    "generalizes_better": _generalizes,
}
CHECKS = REQUESTS  # the claim tests reported.yml may name
CHECK_PARAMS = {"ranking": {"group"}, "stride_hurts": {"dataset"},
                "closes_gap_costs_accuracy": {"base", "other"}, "generalizes_better": {"base", "other"}}
METRIC_NAMES = {"test_accuracy": "test accuracy", "gap": "train − test gap", "test_loss": "test loss"}


def check_claim(reported: Reported, claim: Claim, comps: Comparisons) -> tuple[str, list[Comparison]]:
    """The verdict on one claim and its comparisons (from the dataset's Holm family)."""
    found = [comps.get(a, b, metric) for a, b, metric in REQUESTS[claim.test](reported, claim.params)]
    return _claim_verdict(found), found


def claim_table(reported: Reported, comps: Comparisons) -> Any:
    """One row per claim: source, statement, how many of its comparisons our seeds confirm
    and reverse, the verdict."""
    import pandas as pd

    rows = []
    for claim in reported.claims:
        verdict, found = check_claim(reported, claim, comps)
        rows.append({"id": claim.id, "source": claim.source, "claim": claim.statement, "comparisons": len(found),
                     "confirmed": sum(c.outcome == "confirmed" for c in found),
                     "reversed": sum(c.outcome == "reversed" for c in found), "verdict": verdict})
    return pd.DataFrame(rows)


def evidence_table(reported: Reported, comps: Comparisons) -> Any:
    """The comparisons behind every claim, one row each, in the direction the claim states:
    where the homework makes the claim, the two configurations in words, the metric, our mean paired difference
    (points; loss as it is), the Holm-adjusted p-value and the outcome."""
    import pandas as pd

    from hwlib.tables import num

    rows = []
    for claim in reported.claims:
        for c in check_claim(reported, claim, comps)[1]:
            dataset = label(c.a).split(", ", 1)[0]
            rows.append({"statement of": claim.source,
                         "comparison": f"{dataset}: {label(c.a, False)} vs {label(c.b, False)}",
                         "metric": METRIC_NAMES[c.metric], "difference": num(c.mean_difference, 2, sign=True),
                         "p (Holm)": _p(c.p_holm), "outcome": c.outcome})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# Learning curves of several seeds
# ---------------------------------------------------------------------------------------
def histories(runs: Sequence[Any]) -> Any:
    """The histories of several runs in long format (a ``seed`` column), for ``plots.learning_curves(band=)``."""
    import pandas as pd

    return pd.concat([r.history.assign(seed=r.experiment.train.seed) for r in runs], ignore_index=True)


def band_table(bands: Mapping[str, Any]) -> Any:
    """After the last epoch, per experiment (``bands``: :func:`histories` by name): the range
    over the seeds of the test and training accuracy (%), and the mean train - test gap."""
    import pandas as pd

    from hwlib.tables import interval, num

    rows = []
    for name, h in bands.items():
        last = h[h["epoch"] == h["epoch"].max()]
        test, trained = 100 * last["test_accuracy"], 100 * last["accuracy"]
        rows.append({"network": label(name), "seeds": int(h["seed"].nunique()),
                     "test accuracy": interval(test.min(), test.max(), 2),
                     "training accuracy": interval(trained.min(), trained.max(), 2),
                     "gap (pp)": num(float((trained - test).mean()), 2)})
    return pd.DataFrame(rows)


def key_verdicts(results: Any, claims: Any) -> Any:
    """The chapter's key numbers and verdicts, one line each (checked by nbval)."""
    import pandas as pd

    rows = [{"item": f"{r['id']} {r['metric']}",
             "value": f"{r['mean']:.4f}" if r["metric"] == "loss" else f"{r['mean']:.2f}",
             "seeds": str(r["seeds"]), "verdict": r["verdict"]} for _, r in results.iterrows()]
    rows += [{"item": c["id"], "value": f"{c['confirmed']}/{c['comparisons']} confirmed", "seeds": "",
              "verdict": c["verdict"]} for _, c in claims.iterrows()]
    return pd.DataFrame(rows)
