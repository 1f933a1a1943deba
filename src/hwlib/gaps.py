"""Hypotheses H1–H5 on the gaps between the report's numbers and ours, summed up by :func:`closing_table`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest, fisher_exact

from hwlib import experiments as E
from hwlib import reproduction as R
from hwlib.analysis import curve_facts, predict_proba
from hwlib.config import DATASET_NAMES
from hwlib.tables import interval, mean_sd, num

SUPPORTED, REFUTED, OPEN = "supported", "refuted", "open"
ORDER = (E.DEFAULT_VARIANT, *(v for v in E.VARIANTS if v != E.DEFAULT_VARIANT))  # the chapters' own first


@dataclass
class Study:
    """``runs[variant][experiment]``: a run per seed; ``sensitivity[setting]``: (experiment, variant, value, run)."""

    runs: dict[str, dict[str, list[Any]]]
    sensitivity: dict[str, list[tuple[str, str, Any, Any]]]

    def all_runs(self) -> list[Any]:
        """Every run once (one run may stand for several experiments or variants)."""
        found = [r for by_name in self.runs.values() for rs in by_name.values() for r in rs]
        found += [r for rows in self.sensitivity.values() for *_, r in rows]
        return list({r.key: r for r in found}.values())


def collect(settings: Any, reported: R.Reported, seeds: int, sensitivity_seeds: int) -> Study:
    """The runs of the reported experiments per variant and of the sensitivity studies (reusing a variant's own)."""
    seed_range = E.seed_list(sensitivity_seeds, "sensitivity_seeds")
    runs = {v: R.collect(settings.for_variant(v), reported, seeds) for v in ORDER}
    sensitivity: dict[str, list[tuple[str, str, Any, Any]]] = {}
    for name, setting, values, on in E.SENSITIVITY:
        for variant, value in itertools.product(on, values):
            exp = settings.for_variant(variant).experiment(name).with_overrides({setting: value})
            same = [v for v in runs if settings.for_variant(v).experiment(name).config_dict() == exp.config_dict()]
            found = (runs[same[0]][name] if same
                     else [settings.run_of(exp.with_overrides({"seed": seed})) for seed in seed_range])
            sensitivity.setdefault(setting, []).extend((name, variant, value, r) for r in found)
    return Study(runs, sensitivity)


def variant_table() -> Any:
    """The settings the variants set differently: a row per dataset and setting, a column per variant."""
    labels = {"input_scale": "input pixels", "batch_size": "batch size"}
    shown = {"unit": "divided by 255 (0–1)", "raw": "raw (0–255)"}
    rows = []
    for dataset, title in DATASET_NAMES.items():
        for key in sorted({k for v in ORDER for k in E.VARIANTS[v].get(dataset, {})}):
            values = {v: getattr(E.with_variant(E.get(f"{dataset}-base"), v).train, key) for v in ORDER}
            rows.append({"dataset": title, "setting": labels.get(key, key)}
                        | {v: shown.get(value, str(value)) for v, value in values.items()})
    return pd.DataFrame(rows)


def side_by_side(reported: R.Reported, runs_by_variant: Mapping[str, Mapping]) -> Any:
    """Per reported number and metric: the value and, per variant, our ``<variant> mean``, sd, interval, verdict."""
    keys = ["id", "label", "source", "experiment", "dataset", "metric", "reported"]
    ours = ["mean", "sd", "pi_low", "pi_high", "distance_sd", "verdict"]
    return pd.concat([R.result_table(reported, runs).set_index(keys)[ours].add_prefix(f"{v} ")
                      for v, runs in runs_by_variant.items()], axis=1).reset_index()


def format_side_by_side(table: Any, metric: str) -> Any:
    """The ``metric`` rows of :func:`side_by_side` for reading: per variant "mean ± sd, verdict"."""
    rows = table[table["metric"] == metric]
    digits = 4 if metric == "loss" else 2
    return pd.DataFrame({"result": [R.result_name(r) for _, r in rows.iterrows()],
                         "reported": [num(v, digits) for v in rows["reported"]],
                         **{v: [f"{mean_sd(m, s, digits)}, {verdict}" for m, s, verdict in
                                zip(rows[f"{v} mean"], rows[f"{v} sd"], rows[f"{v} verdict"])] for v in ORDER}})


def setting_hypothesis(table: Any, ids: Sequence[str]) -> tuple[str, Any]:
    """H1/H2: do the original variant's intervals hold the numbers of ``ids`` where the stated's miss?"""
    rows = table[table["id"].isin(ids)]
    if len(rows) != 2 * len(set(ids)):
        raise ValueError(f"Not every id of {list(ids)} has an accuracy and a loss row.")
    both = ("original", "stated")
    inside = {v: rows["reported"].between(rows[f"{v} pi_low"], rows[f"{v} pi_high"]).tolist() for v in both}
    off = {v: (rows[f"{v} mean"] - rows["reported"]).abs().to_numpy() for v in both}
    nearer = ["original" if o < s else "stated" if s < o else "neither" for o, s in zip(off["original"], off["stated"])]
    n_in = {v: sum(inside[v]) for v in both}
    outcome = (SUPPORTED if n_in["original"] == len(rows) and n_in["stated"] < len(rows)
               else REFUTED if n_in["original"] <= n_in["stated"] and nearer.count("original") <= nearer.count("stated")
               else OPEN)
    digits = [4 if m == "loss" else 2 for m in rows["metric"]]
    return outcome, pd.DataFrame({"result": [f"{r['id']}, {r['metric']}" for _, r in rows.iterrows()],
                                  "reported": [num(v, d) for v, d in zip(rows["reported"], digits)],
                                  **{v: [f"{num(m, d)}, {'inside' if i else 'outside'}"
                                         for m, d, i in zip(rows[f"{v} mean"], digits, inside[v])] for v in both},
                                  "nearer": nearer})


@dataclass(frozen=True)
class Assignment:
    """:func:`label_assignment`'s result: per row the printed and best-fitting configuration, and the rows moved."""

    configs: tuple[str, ...]
    printed_distance: float
    printed_rank: int
    best: tuple[str, ...]
    share_as_close: float
    n_assignments: int
    moved: list[dict[str, Any]]


def label_assignment(rows: Sequence[R.Result], runs: Mapping[str, Sequence[Any]]) -> Assignment:
    """H3: every assignment of configurations to ``rows``, scored by distance from our means in pooled sds."""
    configs = tuple(r.experiment for r in rows)
    if len(set(configs)) != len(configs):
        raise ValueError(f"Each row needs its own configuration, got {list(configs)}.")
    ours = {c: [R.predict(runs[c], metric) for metric in R.METRICS] for c in configs}
    pooled = [math.sqrt(sum(ours[c][k].sd ** 2 for c in configs) / len(configs)) for k in (0, 1)]

    def distance(assigned: Sequence[str]) -> float:
        return sum(((r.accuracy - ours[c][0].mean) / pooled[0]) ** 2 + ((r.loss - ours[c][1].mean) / pooled[1]) ** 2
                   for r, c in zip(rows, assigned))

    scored = sorted((distance(p), p) for p in itertools.permutations(configs))
    printed, best = distance(configs), scored[0][1]
    moved = [{"row": i + 1, "id": r.id, "printed": c, "moved_to": b}
             | {m: {"reported": getattr(r, m), "low": p.low, "high": p.high, "verdict": R.verdict_for(getattr(r, m), p)}
                for m, p in zip(R.METRICS, ours[b])}
             for i, (r, c, b) in enumerate(zip(rows, configs, best)) if c != b]
    return Assignment(configs, printed, 1 + sum(d < printed for d, _ in scored), best,
                      sum(d <= printed for d, _ in scored) / len(scored), len(scored), moved)


def swap_outcome(assignments: Mapping[str, Assignment], rows: tuple[int, int]) -> str:
    """H3: **supported** if each best assignment only swaps ``rows`` (1-based), **refuted** if each is as printed."""
    a, b = (row - 1 for row in rows)
    results = set()
    for x in assignments.values():
        swapped = tuple(x.configs[b if i == a else a if i == b else i] for i in range(len(x.configs)))
        results.add("swapped" if x.best == swapped else "printed" if x.printed_rank == 1 else "other")
    return SUPPORTED if results <= {"swapped"} else REFUTED if results <= {"printed"} else OPEN


def _short(name: str) -> str:
    """"cifar10-k3s2-same" -> "3×3 s2"."""
    conv = E.get(name).model.convs[0]
    return f"{conv.kernel}×{conv.kernel} s{conv.stride}"


def assignment_table(assignments: Mapping[str, Assignment]) -> Any:
    """Per variant: the printed labelling's rank, the rows the best assignment moves, the share as close."""
    return pd.DataFrame([{
        "variant": variant, "printed labels: rank": f"{a.printed_rank} of {a.n_assignments}",
        "best assignment moves": "; ".join(f"row {m['row']}: {_short(m['printed'])} → {_short(m['moved_to'])}"
                                           for m in a.moved) or "none",
        "share as close as printed (%)": num(100 * a.share_as_close, 0)} for variant, a in assignments.items()])


def moved_table(moved: Mapping[str, Sequence[Mapping[str, Any]]]) -> Any:
    """Per variant and moved row (``Assignment.moved``): the reported numbers against our interval."""
    return pd.DataFrame([{"variant": variant, "row": f"{e['row']} ({e['id']})", "read as": _short(e["moved_to"])}
                         | {column: f"{num(m['reported'], d)} vs {interval(m['low'], m['high'], d)}: {m['verdict']}"
                            for column, m, d in (("accuracy (%)", e["accuracy"], 2), ("loss", e["loss"], 4))}
                         for variant, entries in moved.items() for e in entries])


def collapses(runs_by_variant: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Collapsed runs of all ``runs``, the exact 95% ``bound`` of their rate, ``fisher_p``, ``seeds``."""
    counts = [(len(R.collapsed(runs)), len(runs)) for runs in runs_by_variant.values()]
    down, n = (sum(column) for column in zip(*counts))
    out = {"runs": n, "collapsed": down, "bound": float(binomtest(down, n).proportion_ci(0.95, method="exact").high),
           "seeds": pd.DataFrame([{"variant": v, "seed": i, "accuracy": 100 * r.metrics["test_accuracy"]}
                                  for v, runs in runs_by_variant.items() for i, r in enumerate(runs)])}
    if len(counts) >= 2:
        out["fisher_p"] = float(fisher_exact([[c, k - c] for c, k in counts[:2]]).pvalue)
    return out


def instability(runs_by_variant: Mapping[str, Sequence], reported: R.Result) -> tuple[str, Any]:
    """H4: **supported** if some reported number is reproduced only without collapsed runs; else **refuted**."""
    rows, explains = [], False
    for variant, runs in runs_by_variant.items():
        down = {r.experiment.train.seed for r in R.collapsed(runs)}
        kept = [r for r in runs if r.experiment.train.seed not in down]
        for metric in R.METRICS:
            value = getattr(reported, metric)
            every = R.verdict_for(value, R.predict(runs, metric))
            without = R.verdict_for(value, R.predict(kept, metric)) if down and len(kept) >= 2 else "–"
            explains |= every != "reproduced" and without == "reproduced"
            rows.append({"variant": variant, "metric": metric, "runs": len(runs), "collapsed": len(down),
                         "verdict, every run": every, "verdict, without collapsed runs": without})
    return (SUPPORTED if explains else REFUTED), pd.DataFrame(rows)


def epochs_above(runs: Sequence[Any]) -> list[tuple[int, int, int]]:
    """H5: ``(seed, epochs with test accuracy above training accuracy, epochs)`` per run."""
    facts = [(r.experiment.train.seed, curve_facts(r.history)) for r in runs]
    return sorted((seed, f["epochs_test_above_train"], f["epochs"]) for seed, f in facts)


def above_outcome(counts: Sequence[tuple[int, int, int]]) -> str:
    """H5: **supported** if every seed's test accuracy beats training in every epoch, **refuted** if no seed's does."""
    full = [above == epochs for _, above, epochs in counts]
    return SUPPORTED if all(full) else REFUTED if not any(full) else OPEN


def above_table(counts: Mapping[tuple[str, str], Sequence]) -> Any:
    """``{(variant, experiment): epochs_above(...)}``: a row each, a column per seed ("above / epochs")."""
    return pd.DataFrame([{"variant": variant, "network": R.label(name)}
                         | {f"seed {seed}": f"{above} / {epochs}" for seed, above, epochs in per_seed}
                         for (variant, name), per_seed in counts.items()])


def lag(runs: Sequence[Any]) -> dict[str, float]:
    """Training accuracy's mean ``rise`` per epoch (points); ``beats_next``: how often test beats the next epoch's."""
    h = pd.concat([r.history.assign(next_train=r.history["accuracy"].shift(-1)) for r in runs])
    h = h.dropna(subset=["next_train"])
    return {"rise": float((100 * (h["next_train"] - h["accuracy"])).mean()),
            "beats_next": float((h["test_accuracy"] > h["next_train"]).mean())}


def lag_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """H5's lag per variant (``rows``: the variant, :func:`lag`'s numbers and final accuracies "(%)")."""
    return pd.DataFrame([{"variant": r["variant"], "rise per epoch (pp)": num(r["rise"], 2),
                          "beats next epoch (%)": num(100 * r["beats_next"], 0),
                          **{k: num(v, 2) for k, v in r.items() if k.endswith("(%)")}} for r in rows])


def evaluated_accuracy(run: Any, x: Any, y: Any) -> float:
    """The accuracy (%) of a run's final weights on ``x``, ``y`` (Keras' training accuracy is a running mean)."""
    return 100 * float(np.mean(np.argmax(predict_proba(run.load_model(), x), axis=1) == np.asarray(y)))


def sensitivity_table(runs: Sequence[tuple[str, str, Any, Any]], setting: str) -> Any:
    """Mean and sd over seeds of the test accuracy (%) and loss per variant and value of ``setting``."""
    df = pd.DataFrame([{"variant": variant, setting: value, "seed": r.experiment.train.seed,
                        "accuracy": 100 * r.metrics["test_accuracy"], "loss": r.metrics["test_loss"]}
                       for _, variant, value, r in runs])
    return df.groupby(["variant", setting]).agg(
        seeds=("seed", "nunique"), accuracy_mean=("accuracy", "mean"), accuracy_sd=("accuracy", "std"),
        loss_mean=("loss", "mean"), loss_sd=("loss", "std")).reset_index()


CAUSES = {"H3": "explained: rows 2 and 4 swapped (H3)", "H4": "explained: unstable runs (H4)"}
UNCERTAIN = "too uncertain to judge"
CATEGORIES = ("reproduced under original", "reproduced under stated only", *CAUSES.values(), UNCERTAIN, "unexplained")


def closing_table(table: Any, swapped: Collection[tuple] = (), unstable: Collection[tuple] = ()) -> Any:
    """Every result of :func:`side_by_side`, its accuracy and loss each explained by the first rule that holds."""
    def explain(row: Any) -> str:
        where, original, stated = (row["id"], row["metric"]), row["original verdict"], row["stated verdict"]
        rules = [(where in swapped, CAUSES["H3"]), (original == "reproduced", "reproduced under original"),
                 (stated == "reproduced", "reproduced under stated only"), (where in unstable, CAUSES["H4"]),
                 ("too uncertain" in (original, stated), UNCERTAIN)]
        return next((cause for holds, cause in rules if holds), "unexplained")

    loss = {row["id"]: row for _, row in table[table["metric"] == "loss"].iterrows()}
    return pd.DataFrame([{"result": R.result_name(r), "accuracy (%)": num(r["reported"], 2),
                          "accuracy: explanation": explain(r), "loss": num(loss[r["id"]]["reported"], 4),
                          "loss: explanation": explain(loss[r["id"]])}
                         for _, r in table[table["metric"] == "accuracy"].iterrows()])


def summary_table(closing: Any) -> Any:
    """How many reported accuracies and losses each kind of explanation covers (zeros included)."""
    return pd.DataFrame({"explanation": CATEGORIES,
                         "accuracies": [int((closing["accuracy: explanation"] == c).sum()) for c in CATEGORIES],
                         "losses": [int((closing["loss: explanation"] == c).sum()) for c in CATEGORIES]})
