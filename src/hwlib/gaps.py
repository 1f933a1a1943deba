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

from hwlib import experiments as E
from hwlib import reproduction as R

SUPPORTED, REFUTED, OPEN = "supported", "refuted", "open"
# The variants in the order the chapter shows them: the chapters' own first.
ORDER = (E.DEFAULT_VARIANT, *(v for v in E.VARIANTS if v != E.DEFAULT_VARIANT))


# ---------------------------------------------------------------------------------------
# The runs: every reported experiment under each variant, and the sensitivity studies
# ---------------------------------------------------------------------------------------
@dataclass
class Study:
    """The runs the chapter reads: ``runs[variant][experiment]`` (one run per seed) and the
    sensitivity runs as ``(experiment, variant, value, run)``, keyed by their setting."""

    runs: dict[str, dict[str, list[Any]]]
    sensitivity: dict[str, list[tuple[str, str, Any, Any]]]

    def all_runs(self) -> list[Any]:
        """Every run once (one run may stand for several experiments or variants)."""
        found = [r for by_name in self.runs.values() for rs in by_name.values() for r in rs]
        found += [r for rows in self.sensitivity.values() for *_, r in rows]
        return list({r.key: r for r in found}.values())


def collect(settings: Any, reported: R.Reported, seeds: Mapping[str, int], by_name: Mapping[str, int],
            sensitivity_seeds: int, variants: Sequence[str] = ORDER) -> Study:
    """The runs of every experiment ``reported`` needs under each variant
    (:func:`hwlib.reproduction.collect`), and ``sensitivity_seeds`` seeds of every
    sensitivity run (:data:`hwlib.experiments.SENSITIVITY`), with the chapter's overrides
    (``settings``: its :class:`hwlib.settings.Settings`; its own ``variant`` is not used)."""
    from hwlib.store import RunStore
    from hwlib.train import run

    seed_range = R.seed_list(sensitivity_seeds, "sensitivity_seeds")
    runs = {v: R.collect(settings.for_variant(v), reported, seeds, by_name) for v in variants}
    store = RunStore(settings.store)
    sensitivity: dict[str, list[tuple[str, str, Any, Any]]] = {}
    for name, setting, values, on in E.SENSITIVITY:
        for variant in on:
            base = settings.for_variant(variant).experiment(name)
            for value in values:
                for seed in seed_range:
                    exp = base.with_overrides({setting: value, "seed": seed})
                    sensitivity.setdefault(setting, []).append(
                        (name, variant, value, run(exp, store, weights=False, data_dir=settings.data_dir,
                                                   train=settings.train)))
    return Study(runs, sensitivity)


def variant_table(variants: Sequence[str] = ORDER) -> Any:
    """The settings the variants set differently, per dataset: one row per setting, one
    column per variant (read from :data:`hwlib.experiments.VARIANTS` and the experiments)."""
    import pandas as pd

    labels = {"input_scale": "input pixels", "batch_size": "batch size"}
    shown = {"unit": "divided by 255 (0–1)", "raw": "raw (0–255)"}
    rows = []
    for dataset in ("mnist", "cifar10"):
        base = next(e for e in E.EXPERIMENTS.values() if e.dataset == dataset)
        keys = sorted({k for v in variants for k in E.VARIANTS[v].get(dataset, {})})
        for key in keys:
            row = {"dataset": {"mnist": "MNIST", "cifar10": "CIFAR-10"}[dataset], "setting": labels.get(key, key)}
            for v in variants:
                value = getattr(E.with_variant(base, v).train, key)
                row[v] = shown.get(value, str(value))
            rows.append(row)
    return pd.DataFrame(rows)


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


def offsets(table: Any, ids: Sequence[str], variant: str) -> dict[str, float]:
    """How the reported numbers ``ids`` sit against our means under ``variant``: the mean
    accuracy difference (reported - ours, points) and the mean ratio of the losses
    (reported / ours)."""
    rows = table[table["id"].isin(ids)]
    acc, loss = rows[rows["metric"] == "accuracy"], rows[rows["metric"] == "loss"]
    points = float((acc["reported"] - acc[f"{variant} mean"]).mean())
    return {"points": points, "abs_points": abs(points), "direction": "lower" if points < 0 else "higher",
            "loss_ratio": float((loss["reported"] / loss[f"{variant} mean"]).mean())}


def penalty_phrase(match: float, factor: float) -> str:
    """How raw pixels at L2 ``factor`` behave, given the factor ``match`` that gives scaled
    pixels the same accuracy."""
    if math.isclose(match, factor):
        return "raw pixels act like the same penalty"
    return f"raw pixels act like a {'weaker' if match < factor else 'stronger'} penalty"


def lag_phrase(final_train: float, final_test: float) -> str:
    """What the final weights say about H5: is the training set, scored like the test set,
    still below it?"""
    if final_train < final_test:
        return ("scored with the same weights as the test set, the training images come out worse, so the lag "
                "of the running mean is not the whole explanation")
    return ("scored with the same weights as the test set, the training images come out at least as well, so "
            "the crossing of the curves comes from the running mean")


def per_variant(phrases: Mapping[str, str]) -> str:
    """One sentence from a phrase per variant: "Under both variants, X." when they agree."""
    if len(set(phrases.values())) == 1:
        return f"Under {'both' if len(phrases) == 2 else 'all'} variants, {next(iter(phrases.values()))}."
    return "; ".join(f"{'Under' if i == 0 else 'under'} {v}, {p}" for i, (v, p) in enumerate(phrases.items())) + "."


def verdict_counts(table: Any, metric: str, variant: str) -> dict[str, int]:
    """How many ``metric`` rows of :func:`side_by_side` got each verdict under ``variant``."""
    rows = table[table["metric"] == metric]
    return R.tally(rows[f"{variant} verdict"], R.VERDICTS)


def format_side_by_side(table: Any, metric: str, variants: Sequence[str] = ("original", "stated")) -> Any:
    """The ``metric`` rows of :func:`side_by_side` for reading: per variant our mean ± sd and
    the verdict with the distance in seed sds."""
    import pandas as pd

    from hwlib.tables import mean_sd, num

    rows = table[table["metric"] == metric]
    digits = 4 if metric == "loss" else 2
    out = {"result": rows["id"], "configuration": rows["experiment"],
           "reported": [num(v, digits) for v in rows["reported"]]}
    for v in variants:
        out[f"{v}: mean ± sd"] = [mean_sd(m, s, digits) for m, s in zip(rows[f"{v} mean"], rows[f"{v} sd"])]
        out[f"{v}: verdict (sd)"] = [f"{verdict} ({num(d, 1, sign=True)})"
                                     for verdict, d in zip(rows[f"{v} verdict"], rows[f"{v} distance_sd"])]
    return pd.DataFrame(out).reset_index(drop=True)


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


def table_rows(table: Any, reported: R.Reported, group: str, variant: str
               ) -> tuple[list[tuple[str, float, float]], dict[str, tuple[float, float, float, float]]]:
    """The arguments of :func:`label_assignment` for a table of the report (``group``, e.g.
    "Table 6") under ``variant``: its rows, and our mean and sd of accuracy (%) and loss, read
    from the :func:`side_by_side` ``table``."""
    rows = reported.group(group)
    ours = table[table["id"].isin([r.id for r in rows])].set_index(["id", "metric"])
    stats = {r.experiment: tuple(float(ours.loc[(r.id, metric), f"{variant} {what}"])
                                 for metric in ("accuracy", "loss") for what in ("mean", "sd"))
             for r in rows}
    return [(r.experiment, r.accuracy, r.loss) for r in rows], stats


def swap_outcome(assignments: Mapping[str, Assignment], rows: tuple[int, int]) -> str:
    """H3's rule: **supported** when under every variant the best assignment is the printed
    one with ``rows`` (1-based) exchanged and nothing else moved (of all assignments, the
    swapped one fits best, which a labelling drawn at random would do with probability
    1/n!); **refuted** when under every variant the printed labelling fits best; **open**
    otherwise."""
    a, b = rows
    results = []
    for assignment in assignments.values():
        swapped = list(assignment.configs)
        swapped[a - 1], swapped[b - 1] = swapped[b - 1], swapped[a - 1]
        results.append("swapped" if assignment.best == tuple(swapped)
                       else "printed" if assignment.printed_rank == 1 else "other")
    if all(r == "swapped" for r in results):
        return SUPPORTED
    if all(r == "printed" for r in results):
        return REFUTED
    return OPEN


def moved_verdicts(reported: R.Reported, group: str, runs: Mapping[str, Sequence[Any]],
                   assignment: Assignment) -> list[dict[str, Any]]:
    """For each row the best assignment moves: the reported accuracy and loss judged against
    the prediction interval of the configuration it moves to (the rule of
    :func:`hwlib.reproduction.verdict_for`, without the rank clause: ``reproduced``,
    ``inconclusive`` or ``not reproduced``)."""
    rows = reported.group(group)
    out = []
    for row, printed, best in assignment.moved:
        r = rows[row - 1]
        entry: dict[str, Any] = {"id": r.id, "row": row, "printed": printed, "moved_to": best}
        for metric, key in R.METRICS.items():
            scale = 100.0 if metric == "accuracy" else 1.0
            p = R.prediction_interval([scale * v for v in R.values(runs[best], key).values()], metric)
            entry[metric] = {"reported": getattr(r, metric), "mean": p.mean, "low": p.low, "high": p.high,
                             "verdict": R.verdict_for(getattr(r, metric), p, same_rank=False)}
        out.append(entry)
    return out


def _short(name: str) -> str:
    """"cifar10-k3s2-same" -> "3×3 s2" (a sweep configuration, for a table cell)."""
    conv = E.get(name).model.convs[0]
    return f"{conv.kernel}×{conv.kernel} s{conv.stride}"


def assignment_table(assignments: Mapping[str, Assignment]) -> Any:
    """One row per variant: the printed assignment's distance and rank, the rows the best
    assignment moves, its distance, and the share of assignments as close as the printed one."""
    import pandas as pd

    from hwlib.tables import num

    rows = []
    for variant, a in assignments.items():
        moved = "; ".join(f"row {i}: {_short(p)} → {_short(b)}" for i, p, b in a.moved) or "none"
        rows.append({"variant": variant, "printed: distance": num(a.printed_distance, 1),
                     "printed: rank": f"{a.printed_rank} of {a.n_assignments}", "best assignment moves": moved,
                     "best: distance": num(a.best_distance, 1), "share as close as printed": num(a.share_as_close, 3)})
    return pd.DataFrame(rows)


def moved_markdown(moved: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """A Markdown list: per variant and moved row (:func:`moved_verdicts`), the reported
    accuracy and loss against our prediction interval of the configuration it moves to."""
    from hwlib.tables import interval, num

    lines = []
    for variant, entries in moved.items():
        if not entries:
            lines.append(f"- `{variant}`: the best assignment moves no row.")
        for e in entries:
            a, lo = e["accuracy"], e["loss"]
            lines.append(
                f"- `{variant}`, row {e['row']} ({e['id']}, printed as {_short(e['printed'])}) read as "
                f"{_short(e['moved_to'])}: accuracy {num(a['reported'], 2)}% against our prediction interval "
                f"{interval(a['low'], a['high'], 2)}, *{a['verdict']}*; loss {num(lo['reported'], 4)} against "
                f"{interval(lo['low'], lo['high'], 4)}, *{lo['verdict']}*.")
    return "\n".join(lines)


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


def collapse_bound(collapsed: int, n: int, confidence: float = 0.95) -> float:
    """The upper end of the exact (Clopper–Pearson) ``confidence`` interval for the chance
    that a run collapses, from ``collapsed`` of ``n`` runs (:func:`scipy.stats.binomtest`)."""
    from scipy.stats import binomtest

    return float(binomtest(collapsed, n).proportion_ci(confidence, method="exact").high)


def tuned_numbers(found: Mapping[str, Any], table: Any, result_id: str = "S2.4b") -> dict[str, Any]:
    """The numbers of H4 for the chapter (``found``: :func:`collapses`): per variant the runs,
    collapses, lowest accuracy, and our mean, sd and verdict for ``result_id``; over both the
    collapses, the Clopper-Pearson bound (%) and Fisher's p."""
    variants = [v for v in found if v != "fisher_p"]
    row = table[(table["id"] == result_id) & (table["metric"] == "accuracy")].iloc[0]
    n = sum(found[v]["n"] for v in variants)
    down = sum(found[v]["collapsed"] for v in variants)
    out: dict[str, Any] = {"n": n, "collapsed": down, "bound": 100 * collapse_bound(down, n),
                           "fisher_p": found.get("fisher_p", math.nan), "reported": row["reported"]}
    for v in variants:
        out |= {f"{v}_n": found[v]["n"], f"{v}_collapsed": found[v]["collapsed"],
                f"{v}_min": min(found[v]["accuracies"]), f"{v}_mean": row[f"{v} mean"], f"{v}_sd": row[f"{v} sd"],
                f"{v}_verdict": row[f"{v} verdict"]}
    return out


def seed_table(found: Mapping[str, Any]) -> Any:
    """Each seed's test accuracy (%) per variant from :func:`collapses`, for
    :func:`hwlib.plots.seed_values`."""
    import pandas as pd

    return pd.DataFrame([{"variant": v, "seed": i, "accuracy": a} for v in found if v != "fisher_p"
                         for i, a in enumerate(found[v]["accuracies"])])


def instability_outcome(found: Mapping[str, Any], variants: Sequence[str] = ("original", "stated")) -> str:
    """H4's rule (``found``: :func:`collapses`): **supported** when at least one run of some
    variant collapsed; **refuted** when none did under any variant; (with 5 seeds per variant
    "none" still allows a collapse rate up to :func:`collapse_bound`, which the chapter
    states)."""
    return SUPPORTED if any(found[v]["collapsed"] for v in variants) else REFUTED


def epochs_above(runs: Sequence[Any]) -> list[tuple[int, int, int]]:
    """``(seed, epochs with test accuracy above training accuracy, epochs)`` per run."""
    out = []
    for r in runs:
        h = r.history
        out.append((r.experiment.train.seed, int((h["test_accuracy"] > h["accuracy"]).sum()), len(h)))
    return sorted(out)


def above_outcome(counts: Sequence[tuple[int, int, int]]) -> str:
    """H5 for one variant (``counts``: :func:`epochs_above`): **supported** when every seed
    has test accuracy above training accuracy in every epoch, **refuted** when no seed has,
    **open** otherwise (some seeds, or most epochs)."""
    full = [above == epochs for _, above, epochs in counts]
    return SUPPORTED if all(full) else REFUTED if not any(full) else OPEN


def above_table(counts: Mapping[tuple[str, str], Sequence[tuple[int, int, int]]]) -> Any:
    """``{(variant, experiment): epochs_above(...)}`` as a table: one row per variant and
    experiment, one column per seed ("above / epochs")."""
    import pandas as pd

    rows = []
    for (variant, name), per_seed in counts.items():
        row = {"variant": variant, "network": name}
        row |= {f"seed {seed}": f"{above} / {epochs}" for seed, above, epochs in per_seed}
        rows.append(row)
    return pd.DataFrame(rows)


def lag(runs: Sequence[Any]) -> dict[str, float]:
    """How the running-mean training accuracy lags: per run, epoch ``e + 1``'s running mean
    (the weights during the next epoch) minus epoch ``e``'s, averaged over epochs and runs
    (percentage points); and the share of epochs whose test accuracy beats even the next
    epoch's running mean."""
    import numpy as np

    steps, beats = [], []
    for r in runs:
        h = r.history
        train, test = h["accuracy"].to_numpy(), h["test_accuracy"].to_numpy()
        steps.extend(100 * np.diff(train))
        beats.extend(test[:-1] > train[1:])
    if not steps:  # one epoch: no next epoch to compare with
        return {"rise": math.nan, "beats_next": math.nan}
    return {"rise": float(np.mean(steps)), "beats_next": float(np.mean(beats))}


def evaluated_accuracy(run: Any, x: Any, y: Any) -> float:
    """The accuracy (%) of a run's final weights on ``x``, ``y`` (e.g. the whole training set,
    which Keras' per-epoch training accuracy does not measure)."""
    import numpy as np

    from hwlib.analysis import predict_proba

    return 100 * float(np.mean(np.argmax(predict_proba(run.load_model(), x), axis=1) == np.asarray(y)))


def nearest(df: Any, setting: str, variant: str, accuracy: float) -> Any:
    """The value of ``setting`` whose mean accuracy under ``variant`` (a
    :func:`sensitivity_table`) is closest to ``accuracy``."""
    part = df[df["variant"] == variant]
    return part.loc[(part["accuracy_mean"] - accuracy).abs().idxmin(), setting]


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


CAUSES = {"H3": "rows 2 and 4 of the table swapped (H3)", "H4": "an unstable run: seeds collapse to chance (H4)"}
INCONCLUSIVE = "inconclusive: our interval is too wide to judge"


def closing_table(table: Any, causes: Mapping[str, str], metric: str = "accuracy") -> Any:
    """Every reported number (``metric`` rows of :func:`side_by_side`) and what explains it:
    reproduced under which variant(s); else the cause a supported hypothesis gives it
    (``causes``: ``{result id: cause}``); else "inconclusive" when an interval it lies in was
    too wide to judge; else "unexplained"."""
    import pandas as pd

    rows = []
    for _, r in table[table["metric"] == metric].iterrows():
        under = [v for v in ("original", "stated") if r[f"{v} verdict"] == "reproduced"]
        if under:
            status = "reproduced under " + " and ".join(under)
        elif r["id"] in causes:
            status = causes[r["id"]]
        elif "inconclusive" in (r["original verdict"], r["stated verdict"]):
            status = INCONCLUSIVE
        else:
            status = "unexplained"
        rows.append({"result": r["id"], "source": r["source"], "reported": r["reported"],
                     "original": r["original verdict"], "stated": r["stated verdict"], "explanation": status})
    return pd.DataFrame(rows)


def format_closing(accuracy: Any, loss: Any) -> Any:
    """The closing tables of both metrics (:func:`closing_table`) as one, a row per result."""
    import pandas as pd

    from hwlib.tables import num

    loss = loss.set_index("result")
    return pd.DataFrame({
        "result": accuracy["result"],
        "accuracy (%)": [num(v, 2) for v in accuracy["reported"]],
        "what explains it": accuracy["explanation"],
        "loss": [num(loss.loc[r, "reported"], 4) for r in accuracy["result"]],
        "what explains the loss": [loss.loc[r, "explanation"] for r in accuracy["result"]],
    })


def explained_counts(closing: Any) -> dict[str, int]:
    """How many numbers each kind of explanation covers (for the chapter's first paragraph)."""
    status = closing["explanation"]
    return {"n": len(status),
            "reproduced_original": int(status.str.contains("under original").sum()),
            "reproduced_stated_only": int((status == "reproduced under stated").sum()),
            "caused": int(status.isin(CAUSES.values()).sum()),
            "inconclusive": int((status == INCONCLUSIVE).sum()),
            "unexplained": int((status == "unexplained").sum())}
