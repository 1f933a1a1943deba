"""What explains the gaps between the report's numbers and ours: the hypotheses, tested.

The Reproduction chapter judges the report against one reading of the homework. This
module sets the two readings (:data:`hwlib.experiments.VARIANTS`) side by side and tests
the hypotheses that the facts about the original code predict:

- **H1/H2 — a setting explains numbers** (:func:`setting_hypothesis`): raw MNIST inputs
  (H1) or CIFAR-10 batches of 64 (H2) explain the numbers they target when those numbers
  are reproduced under ``original``. Rule: **supported** when every targeted number is
  reproduced under ``original`` and at least one was not under ``stated``; **refuted** when
  none is reproduced under ``original`` and ``original`` is not closer to the report (mean
  distance in seed sds) than ``stated``; **open** otherwise.
- **H3 — swapped labels** (:func:`label_assignment`): are two rows of a table printed with
  each other's configuration? Every assignment of the reported rows to the configurations is
  scored by its distance ``sum((reported - our mean)^2 / pooled sd^2)`` over accuracy and
  loss (each metric in units of our seed sd pooled over the table's configurations); the
  printed labelling should fit best if it is right. Reported: the printed labelling's
  distance and rank among all assignments, the best assignment, and the share of
  assignments at least as close as the printed one (a permutation check).
- **H4 — an unstable run** (:func:`collapses`): how often a configuration's seeds end at
  chance level under each variant, with Fisher's exact test between the variants.
- **H5 — test above training accuracy** (:func:`epochs_above`): per seed, in how many epochs
  the test accuracy beats the training accuracy, which Keras reports as the running mean
  over the epoch's batches (so it lags the weights the test set sees at the epoch's end).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwlib import reproduction as R

SUPPORTED, REFUTED, OPEN = "supported", "refuted", "open"


# ---------------------------------------------------------------------------------------
# Both variants side by side
# ---------------------------------------------------------------------------------------
def side_by_side(reported: R.Reported, runs_by_variant: Mapping[str, Mapping[str, Sequence[Any]]]) -> Any:
    """One row per reported number and metric: the reported value, and per variant our mean,
    sd, prediction interval, distance in sds and verdict (columns ``<variant> mean`` ...)."""
    import pandas as pd

    merged = None
    for variant, runs in runs_by_variant.items():
        df = R.result_table(reported, runs)[["id", "source", "experiment", "dataset", "metric", "reported",
                                             "mean", "sd", "pi_low", "pi_high", "distance_sd", "verdict"]]
        df = df.rename(columns={c: f"{variant} {c}" for c in ("mean", "sd", "pi_low", "pi_high",
                                                               "distance_sd", "verdict")})
        merged = df if merged is None else merged.merge(df, on=["id", "source", "experiment", "dataset",
                                                                 "metric", "reported"])
    return pd.DataFrame(merged).reset_index(drop=True)


def setting_hypothesis(table: Any, ids: Sequence[str], metric: str = "accuracy",
                       original: str = "original", stated: str = "stated") -> tuple[str, dict[str, Any]]:
    """The outcome of "the ``original`` settings explain the numbers ``ids``" (the rule of the
    module docstring) and its numbers: how many are reproduced under each variant and the
    mean absolute distance in seed sds under each."""
    rows = table[(table["id"].isin(ids)) & (table["metric"] == metric)]
    if len(rows) != len(set(ids)):
        raise ValueError(f"Not every id of {list(ids)} has a {metric} row.")
    under = {v: int((rows[f"{v} verdict"] == "reproduced").sum()) for v in (original, stated)}
    dist = {v: float(rows[f"{v} distance_sd"].abs().mean()) for v in (original, stated)}
    if under[original] == len(rows) and under[stated] < len(rows):
        outcome = SUPPORTED
    elif under[original] == 0 and not dist[original] < dist[stated]:
        outcome = REFUTED
    else:
        outcome = OPEN
    return outcome, {"n": len(rows), "reproduced_original": under[original], "reproduced_stated": under[stated],
                     "distance_original": dist[original], "distance_stated": dist[stated]}


# ---------------------------------------------------------------------------------------
# H3: swapped labels
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Assignment:
    """The result of :func:`label_assignment` (``configs[i]`` is the configuration the report
    prints on row ``i``; ``best[i]`` the one that fits row ``i`` best)."""

    configs: tuple[str, ...]
    printed_distance: float
    printed_rank: int  # 1 = the printed labelling fits best
    best: tuple[str, ...]
    best_distance: float
    share_as_close: float  # assignments at least as close as the printed one, over all
    n_assignments: int

    @property
    def moved(self) -> list[tuple[int, str, str]]:
        """Rows whose best configuration is not the printed one: (row, printed, best)."""
        return [(i + 1, a, b) for i, (a, b) in enumerate(zip(self.configs, self.best)) if a != b]


def label_assignment(reported: Sequence[tuple[str, float, float]],
                     ours: Mapping[str, tuple[float, float, float, float]]) -> Assignment:
    """Test whether a table's rows carry the right configurations.

    ``reported``: the table's rows as ``(configuration, accuracy, loss)``; ``ours``:
    ``{configuration: (accuracy mean, accuracy sd, loss mean, loss sd)}`` over our seeds.
    See the module docstring for the distance and what is reported.
    """
    configs = tuple(r[0] for r in reported)
    if set(configs) != set(ours) or len(set(configs)) != len(configs):
        raise ValueError("Each reported row needs its own configuration, and ours must cover the same ones.")
    pooled = [math.sqrt(sum(ours[c][k] ** 2 for c in configs) / len(configs)) for k in (1, 3)]
    if not all(p > 0 for p in pooled):
        raise ValueError("Our seeds must vary (a pooled sd of 0 leaves no scale for the distance).")

    def distance(assigned: Sequence[str]) -> float:
        return sum(((acc - ours[c][0]) / pooled[0]) ** 2 + ((loss - ours[c][2]) / pooled[1]) ** 2
                   for (_, acc, loss), c in zip(reported, assigned))

    scored = sorted((distance(p), p) for p in itertools.permutations(configs))
    printed = distance(configs)
    rank = 1 + sum(d < printed for d, _ in scored)
    return Assignment(configs, printed, rank, scored[0][1], scored[0][0],
                      sum(d <= printed for d, _ in scored) / len(scored), len(scored))


# ---------------------------------------------------------------------------------------
# H4 and H5
# ---------------------------------------------------------------------------------------
def collapses(runs_by_variant: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Per variant: the seeds, their test accuracies (%), how many ended at chance level
    (:func:`hwlib.reproduction.collapsed`); and Fisher's exact test (two-sided) of the
    collapse counts between the first two variants."""
    from scipy.stats import fisher_exact

    out: dict[str, Any] = {}
    counts = []
    for variant, runs in runs_by_variant.items():
        name = runs[0].experiment.name
        down = R.collapsed({name: runs})
        out[variant] = {"n": len(runs), "collapsed": len(down),
                        "accuracies": [100 * r.metrics["test_accuracy"] for r in runs]}
        counts.append([len(down), len(runs) - len(down)])
    if len(counts) >= 2:
        out["fisher_p"] = float(fisher_exact(counts[:2]).pvalue)
    return out


def epochs_above(runs: Sequence[Any]) -> list[tuple[int, int, int]]:
    """``(seed, epochs with test accuracy above training accuracy, epochs)`` per run."""
    out = []
    for r in runs:
        h = r.history
        out.append((r.experiment.train.seed, int((h["test_accuracy"] > h["accuracy"]).sum()), len(h)))
    return sorted(out)


# ---------------------------------------------------------------------------------------
# Sensitivity studies and the closing table
# ---------------------------------------------------------------------------------------
def sensitivity_table(runs: Sequence[tuple[str, str, Any, Any]], setting: str) -> Any:
    """Mean and sd over seeds of the final test accuracy (%) and loss, per variant and value
    of ``setting``. ``runs``: ``(experiment name, variant, value, run)`` as
    :func:`hwlib.experiments.sensitivity_runs` lists them (with their runs)."""
    import pandas as pd

    rows = [{"variant": variant, setting: value, "seed": r.experiment.train.seed,
             "accuracy": 100 * r.metrics["test_accuracy"], "loss": r.metrics["test_loss"]}
            for _, variant, value, r in runs]
    df = pd.DataFrame(rows)
    out = df.groupby(["variant", setting]).agg(
        seeds=("seed", "nunique"), accuracy_mean=("accuracy", "mean"), accuracy_sd=("accuracy", "std"),
        loss_mean=("loss", "mean"), loss_sd=("loss", "std")).reset_index()
    return out


CAUSES = {"H3": "labels swapped with another row", "H4": "an unstable run (seeds collapse to chance)"}


def closing_table(table: Any, causes: Mapping[str, str], metric: str = "accuracy") -> Any:
    """Every reported number (``metric`` rows of :func:`side_by_side`) and what explains it:
    reproduced under which variant(s), else the cause a supported hypothesis gives it
    (``causes``: ``{result id: cause}``), else "unexplained"."""
    import pandas as pd

    rows = []
    for _, r in table[table["metric"] == metric].iterrows():
        under = [v for v in ("original", "stated") if r[f"{v} verdict"] == "reproduced"]
        if under:
            status = "reproduced under " + " and ".join(under)
        else:
            status = causes.get(r["id"], "unexplained")
        rows.append({"result": r["id"], "source": r["source"], "reported": r["reported"],
                     "original": r["original verdict"], "stated": r["stated verdict"], "explanation": status})
    return pd.DataFrame(rows)


def explained_counts(closing: Any) -> dict[str, int]:
    """How many numbers each kind of explanation covers (for the chapter's first paragraph)."""
    status = closing["explanation"]
    return {"n": len(status),
            "reproduced_original": int(status.str.contains("under original").sum()),
            "reproduced_stated_only": int((status == "reproduced under stated").sum()),
            "caused": int(status.isin(CAUSES.values()).sum()),
            "unexplained": int((status == "unexplained").sum())}
