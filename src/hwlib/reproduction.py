"""The report's numbers and claims (``reported.yml``) judged by our seeds (see ``docs/reproduction.md``)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hwlib import experiments as E
from hwlib.config import DATASET_NAMES, N_CLASSES
from hwlib.errors import ConfigError
from hwlib.stats import holm, paired_test, summarize, t_quantile
from hwlib.tables import interval, mean_sd, num

ALPHA = 0.05
CONFIDENCE = 0.95
MAX_RELATIVE_HALF_WIDTH = 0.25  # an interval of mean ± more than 25% of the mean decides nothing
METRICS = {"accuracy": "test_accuracy", "loss": "test_loss"}  # reported name -> metrics.json key
VERDICTS = ("reproduced", "too uncertain", "not reproduced")
RANGES = {"accuracy": (0.0, 100.0), "loss": (0.0, math.inf)}  # where a metric can lie
OUTCOMES = ("confirmed", "reversed", "not significant")  # of one paired comparison
CHANCE_MARGIN = 0.01  # a run within 1 point of chance accuracy (train and test) never learned
CHECKS = {"ranking": {"group"}, "stride_hurts": {"dataset"},  # the claim tests reported.yml may name: their fields
          "closes_gap_costs_accuracy": {"base", "other"}, "generalizes_better": {"base", "other"}}
KNOWN = {"experiment": E.EXPERIMENTS, "base": E.EXPERIMENTS, "other": E.EXPERIMENTS,  # names reported.yml may use
         "test": CHECKS, "dataset": E.SWEEPS}
METRIC_NAMES = {"test_accuracy": "test accuracy", "gap": "train − test gap", "test_loss": "test loss"}
Request = tuple[str, str, str]  # (a, b, metric): "a is better than b in metric"


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
    """One qualitative statement of the report and the check (``test`` in :data:`CHECKS`) that decides it."""

    id: str
    source: str
    statement: str
    test: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class Reported:
    results: tuple[Result, ...]
    claims: tuple[Claim, ...]

    def experiments(self) -> list[str]:
        """Every experiment the results and claims need, in first-mention order."""
        names = [r.experiment for r in self.results]
        names += [name for c in self.claims for request in _requests(self, c) for name in request[:2]]
        return list(dict.fromkeys(names))

    def group(self, name: str) -> list[Result]:
        """A group's results in the file's order (the report's table)."""
        return [r for r in self.results if r.group == name]

    def ranked(self, name: str) -> list[Result]:
        """A group's results from the best to the worst reported accuracy."""
        return sorted(self.group(name), key=lambda r: -r.accuracy)

    def for_experiment(self, name: str) -> Result | None:
        """The reported result of the network ``name`` trains (a base network is row 1 of its sweep table)."""
        config = E.get(name).config_dict()
        return next((r for r in self.results if E.get(r.experiment).config_dict() == config), None)


def _bad(path: Any, where: str, what: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {what}. Fix the file (its header explains each field).")


def _rows(doc: dict, key: str, path: Path, fields: set[str]) -> Iterator[tuple[str, dict]]:
    """``(where, row)`` of each entry of ``doc[key]``, checked: a mapping with ``fields``, names in :data:`KNOWN`."""
    for i, row in enumerate(doc.get(key) or []):
        where = f"{key}[{i}]"
        if not isinstance(row, dict) or not fields <= set(row):
            raise _bad(path, where, f"expected a mapping with the fields {', '.join(sorted(fields))}, got {row!r}")
        for k, known in KNOWN.items():
            if k in row and row[k] not in known:
                raise _bad(path, where, f"unknown {k} {row[k]!r} (known: {', '.join(known)})")
        yield where, row


def load_reported(path: str | Path | None = None) -> Reported:
    """Read and check the reported values (default: the ``reported.yml`` shipped with hwlib)."""
    path = Path(path) if path is not None else Path(__file__).with_name("reported.yml")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"The reported-values file {path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list) or not doc["results"]:
        raise _bad(path, "top level", "expected a mapping with a non-empty `results` list (and `claims`)")
    results: list[Result] = []
    for where, row in _rows(doc, "results", path, {"id", "experiment", "source", "accuracy", "loss"}):
        if str(row["id"]) in {r.id for r in results}:
            raise _bad(path, where, f"duplicate id {row['id']!r}")
        for metric, rule in (("accuracy", "a percentage from 0 to 100"), ("loss", "a finite number >= 0")):
            v, (low, high) = row[metric], RANGES[metric]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high or math.isinf(v):
                raise _bad(path, where, f"{metric} must be {rule}, got {v!r}")
        results.append(Result(str(row["id"]), row["experiment"], str(row["source"]), str(row.get("group") or ""),
                              float(row["accuracy"]), float(row["loss"])))
    claims = []
    for where, row in _rows(doc, "claims", path, {"id", "source", "statement", "test"}):
        params = {k: str(v) for k, v in row.items() if k not in {"id", "source", "statement", "test"}}
        if set(params) != CHECKS[row["test"]]:
            fields = ", ".join(sorted(CHECKS[row["test"]]))
            raise _bad(path, where, f"test {row['test']!r} takes exactly the field(s) {fields}")
        if "group" in params and len([r for r in results if r.group == params["group"]]) < 2:
            raise _bad(path, where, f"group {params['group']!r} needs at least two results")
        claims.append(Claim(str(row["id"]), str(row["source"]), str(row["statement"]), row["test"], params))
    return Reported(tuple(results), tuple(claims))


def collect(settings: Any, reported: Reported, seeds: int) -> dict[str, list[Any]]:
    """The runs (seeds ``0..seeds-1``) of every experiment ``reported`` needs, from a chapter's ``Settings``."""
    return {name: settings.seed_runs(name, seeds) for name in reported.experiments()}


def label(name: str, dataset: bool = True) -> str:
    """An experiment in words: "CIFAR-10, 3×3 stride 2" (``dataset`` false: "3×3 stride 2")."""
    exp = E.get(name)
    base, conv = E.get(f"{exp.dataset}-base"), exp.model.convs[0]
    if exp.model.l2_layers:
        text = "tuned L2" if exp.train.learning_rate != base.train.learning_rate else "L2 on every layer"
    else:
        text = f"{conv.kernel}×{conv.kernel} stride {conv.stride}"
        text += ", valid padding" if conv.padding == "valid" else ""
        text += " (base network)" if exp.model == base.model else ""
    return f"{DATASET_NAMES[exp.dataset]}, {text}" if dataset else text


def values(runs: Sequence[Any], metric: str) -> dict[int, float]:
    """``{seed: value}`` of a metrics.json key or of ``gap`` (train - test accuracy), accuracies and gaps in %."""
    out: dict[int, float] = {}
    for r in runs:
        seed, m = r.experiment.train.seed, r.metrics
        if seed in out:
            raise ConfigError(f"Two runs of {r.experiment.name} have the same seed {seed}.")
        value = float(m["train_accuracy"]) - float(m["test_accuracy"]) if metric == "gap" else float(m[metric])
        out[seed] = value if metric == "test_loss" else 100.0 * value
    return out


def collapsed(runs: Iterable[Any]) -> list[Any]:
    """The runs, each once, that end with train and test accuracy at chance: they never learned."""
    unique = {r.key: r for r in runs}.values()  # one run can stand for two experiments (mnist-base, mnist-k5s1-same)
    chance = 1.0 / N_CLASSES + CHANCE_MARGIN
    return [r for r in unique if max(r.metrics["test_accuracy"], r.metrics["train_accuracy"]) <= chance]


@dataclass(frozen=True)
class Prediction:
    """Our mean and sd over ``n`` seeds and the prediction interval for one new run (clipped)."""

    n: int
    mean: float
    sd: float
    low: float
    high: float
    half_width: float


def prediction_interval(values: Sequence[float], metric: str = "accuracy") -> Prediction:
    """``mean ± t((1 + CONFIDENCE) / 2, n - 1) · sd · √(1 + 1/n)``, clipped to :data:`RANGES` of ``metric``."""
    s = summarize(values, CONFIDENCE)
    if s.n < 2:
        raise ConfigError("A prediction interval needs at least two seeds.")
    half = distance_cutoff(s.n) * s.sd
    lo, hi = RANGES[metric]
    return Prediction(s.n, s.mean, s.sd, max(lo, s.mean - half), min(hi, s.mean + half), half)


def distance_cutoff(n: int) -> float:
    """How far, in seed sds, a value may lie from the mean of ``n`` seeds inside the prediction interval."""
    return t_quantile((1 + CONFIDENCE) / 2, n - 1) * math.sqrt(1 + 1 / n)


def predict(runs: Sequence[Any], metric: str) -> Prediction:
    """The prediction interval of ``metric`` ("accuracy" in %, or "loss") over ``runs``."""
    return prediction_interval(list(values(runs, METRICS[metric]).values()), metric)


def verdict_for(value: float, prediction: Prediction) -> str:
    """**not reproduced** outside the interval; inside, **reproduced**, or **too uncertain** if it is too wide."""
    if not prediction.low <= value <= prediction.high:
        return "not reproduced"
    return "too uncertain" if prediction.half_width > MAX_RELATIVE_HALF_WIDTH * abs(prediction.mean) else "reproduced"


def result_table(reported: Reported, runs: Mapping[str, Sequence[Any]]) -> Any:
    """Per reported number and metric: the value, ours over the seeds, the prediction interval and the verdict."""
    rows = []
    for r in reported.results:
        if not runs.get(r.experiment):
            raise ConfigError(f"No runs of {r.experiment} (needed for {r.id}, {r.source}).")
        for metric in METRICS:
            p, value = predict(runs[r.experiment], metric), getattr(r, metric)
            rows.append({
                "id": r.id, "label": label(r.experiment), "source": r.source, "experiment": r.experiment,
                "dataset": E.EXPERIMENTS[r.experiment].dataset, "metric": metric, "reported": value,
                "seeds": p.n, "mean": p.mean, "sd": p.sd, "pi_low": p.low, "pi_high": p.high,
                "pi_half_width": p.half_width, "difference": p.mean - value,
                "distance_sd": (value - p.mean) / p.sd if p.sd > 0 else math.copysign(math.inf, value - p.mean),
                "verdict": verdict_for(value, p),
            })
    return pd.DataFrame(rows)


def result_name(row: Any) -> str:
    """A result's code and its configuration in words: "T6.2: CIFAR-10, 3×3 stride 2"."""
    return f"{row['id']}: {row['label']}"


def format_result_table(df: Any, metric: str) -> Any:
    """The ``metric`` rows of :func:`result_table` for reading."""
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
    counts = {plural: [int(((results["metric"] == m) & (results["verdict"] == v)).sum()) for v in VERDICTS]
              for m, plural in (("accuracy", "accuracies"), ("loss", "losses"))}
    return pd.DataFrame({"verdict": VERDICTS, **counts})


def example_table(row: Any) -> Any:
    """One accuracy row of :func:`result_table` worked through step by step: what, formula, value."""
    n = int(row["seeds"])
    t = t_quantile((1 + CONFIDENCE) / 2, n - 1)
    return pd.DataFrame([
        ("seeds", "n", str(n)),
        ("our mean ± seed sd (%)", "", mean_sd(row["mean"], row["sd"], 2)),
        ("Student's t", f"97.5 % quantile, {n - 1} degrees of freedom", num(t, 3)),
        ("half-width (points)", "t · sd · √(1 + 1/n)", num(row["pi_half_width"], 2)),
        ("prediction interval (%)", "mean ± half-width", interval(row["pi_low"], row["pi_high"], 2)),
        ("reported (%)", "", num(row["reported"], 2)),
        ("for contrast: confidence interval of the mean, half-width", "t · sd / √n",
         num(t * row["sd"] / math.sqrt(n), 2)),
    ], columns=["step", "formula", "value"])


@dataclass(frozen=True)
class Comparison:
    """``a`` compared with ``b`` on ``metric`` over the seeds; the claim says ``a > b``."""

    a: str
    b: str
    metric: str
    mean_difference: float  # a - b (accuracies and gaps in percentage points)
    ci_low: float
    ci_high: float
    p: float
    p_holm: float

    @property
    def outcome(self) -> str:
        """'confirmed' (significantly a > b), 'reversed' (significantly a < b) or 'not significant'."""
        return "not significant" if not self.p_holm < ALPHA else "confirmed" if self.mean_difference > 0 else "reversed"


def _requests(reported: Reported, claim: Claim) -> list[Request]:
    """The comparisons a claim makes, each "a better than b"."""
    params = claim.params
    if claim.test == "ranking":  # each configuration beats the next one down the report's table
        rows = reported.ranked(params["group"])
        return [(x.experiment, y.experiment, "test_accuracy") for x, y in zip(rows, rows[1:])]
    if claim.test == "stride_hurts":  # a stride beats the next larger one with the same kernel
        convs = sorted((E.EXPERIMENTS[n].model.convs[0].kernel, E.EXPERIMENTS[n].model.convs[0].stride, n)
                       for n in E.SWEEPS[params["dataset"]])
        return [(a[2], b[2], "test_accuracy") for a, b in zip(convs, convs[1:]) if a[0] == b[0]]
    base, other = params["base"], params["other"]
    if claim.test == "closes_gap_costs_accuracy":  # base: larger gap, higher test accuracy
        return [(base, other, "gap"), (base, other, "test_accuracy")]
    return [(other, base, "test_accuracy"), (base, other, "gap")]  # generalizes_better


def _all_pairs(reported: Reported, group: str) -> list[Request]:
    """Every pair of a group's configurations, the better one by the report first."""
    return [(x.experiment, y.experiment, "test_accuracy") for x, y in itertools.combinations(reported.ranked(group), 2)]


def comparisons(reported: Reported, runs: Mapping[str, Sequence[Any]]) -> dict[Request, Comparison]:
    """The claims' paired t-tests (a ranking: all pairs) by ``(a, b, metric)``, both ways, Holm per dataset."""
    requests = [r for c in reported.claims if c.test == "ranking" for r in _all_pairs(reported, c.params["group"])]
    requests += [r for c in reported.claims if c.test != "ranking" for r in _requests(reported, c)]
    families: dict[str, list[Request]] = {}
    for a, b, metric in requests:
        family = families.setdefault(E.EXPERIMENTS[a].dataset, [])
        if (a, b, metric) not in family and (b, a, metric) not in family:
            family.append((a, b, metric))
    found: dict[Request, Comparison] = {}
    for family in families.values():
        tests = [paired_test(values(runs[a], metric), values(runs[b], metric), CONFIDENCE) for a, b, metric in family]
        for (a, b, metric), t, p in zip(family, tests, holm([t.p for t in tests])):
            found[(a, b, metric)] = Comparison(a, b, metric, t.mean_difference, t.ci_low, t.ci_high, t.p, p)
            found[(b, a, metric)] = Comparison(b, a, metric, -t.mean_difference, -t.ci_high, -t.ci_low, t.p, p)
    return found


def check_claim(reported: Reported, claim: Claim, comps: Mapping[Request, Comparison]) -> tuple[str, list[Comparison]]:
    """The verdict on one claim and its comparisons (from the dataset's Holm family)."""
    found = [comps[request] for request in _requests(reported, claim)]
    outcomes = {c.outcome for c in found}
    verdict = "contradicted" if "reversed" in outcomes else "supported" if outcomes == {"confirmed"} else "not shown"
    return verdict, found


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def pairwise_table(reported: Reported, group: str, comps: Mapping[Request, Comparison]) -> Any:
    """Every pair of a group's configurations (the report's better first): difference, interval, p, outcome."""
    return pd.DataFrame([{
        "better in the report": label(c.a, dataset=False), "worse in the report": label(c.b, dataset=False),
        "difference (pp)": num(c.mean_difference, 2, sign=True),
        "95% CI (pp)": interval(c.ci_low, c.ci_high, 2, sign=True), "p (Holm)": _p(c.p_holm), "our seeds": c.outcome,
    } for c in (comps[request] for request in _all_pairs(reported, group))])


def pairs_summary(pairs: Mapping[str, Any]) -> Any:
    """How many pairs of each sweep table (:func:`pairwise_table` by dataset) got each outcome."""
    names = {"mnist": "MNIST (Table 3)", "cifar10": "CIFAR-10 (Table 6)"}
    return pd.DataFrame([{"table": names[d], "pairs": len(df), **{o: int((df["our seeds"] == o).sum())
                                                                    for o in OUTCOMES}} for d, df in pairs.items()])


def claim_tables(reported: Reported, comps: Mapping[Request, Comparison]) -> tuple[Any, Any]:
    """The claims (counts of comparisons confirmed and reversed, verdict) and their comparisons, a row each."""
    claims, evidence = [], []
    for claim in reported.claims:
        verdict, found = check_claim(reported, claim, comps)
        claims.append({"id": claim.id, "source": claim.source, "claim": claim.statement, "comparisons": len(found),
                       "confirmed": sum(c.outcome == "confirmed" for c in found),
                       "reversed": sum(c.outcome == "reversed" for c in found), "verdict": verdict})
        evidence += [{"statement of": claim.source,
                      "comparison": f"{DATASET_NAMES[E.get(c.a).dataset]}: {label(c.a, False)} vs {label(c.b, False)}",
                      "metric": METRIC_NAMES[c.metric], "difference": num(c.mean_difference, 2, sign=True),
                      "p (Holm)": _p(c.p_holm), "outcome": c.outcome} for c in found]
    return pd.DataFrame(claims), pd.DataFrame(evidence)


def histories(runs: Sequence[Any]) -> Any:
    """The histories of several runs in long format (a ``seed`` column): :func:`hwlib.plots.learning_curves` bands."""
    return pd.concat([r.history.assign(seed=r.experiment.train.seed) for r in runs], ignore_index=True)


def band_table(bands: Mapping[str, Any]) -> Any:
    """Per experiment (``bands``: :func:`histories` by name): last-epoch accuracy ranges and mean gap."""
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
    rows = [{"item": f"{r['id']} {r['metric']}", "value": num(r["mean"], 4 if r["metric"] == "loss" else 2),
             "seeds": str(r["seeds"]), "verdict": r["verdict"]} for _, r in results.iterrows()]
    rows += [{"item": c["id"], "value": f"{c['confirmed']}/{c['comparisons']} confirmed", "seeds": "",
              "verdict": c["verdict"]} for _, c in claims.iterrows()]
    return pd.DataFrame(rows)
