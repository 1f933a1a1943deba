"""What explains the gaps between the report's numbers and ours: the hypotheses, tested.

The Gaps chapter sets the two readings of the homework (:data:`hwlib.experiments.VARIANTS`)
side by side, judges every reported number under each (:func:`side_by_side`, the rule of
:mod:`hwlib.reproduction`) and tests what explains each difference:

- **H1/H2, a setting** (:func:`setting_hypothesis`): does the original code's setting (raw
  MNIST pixels; CIFAR-10 batches of 64) explain the numbers it affects? Judged as a reader
  would: which variant's prediction interval holds each number, and which variant's mean is
  nearer (in points, or in loss).
- **H3, swapped rows** (:func:`label_assignment`): does the report print two rows of a table
  with each other's configuration?
- **H4, an unstable run** (:func:`instability`): do runs collapse to chance, and does that
  explain a number?
- **H5, test above training accuracy** (:func:`epochs_above`).

:func:`closing_table` gives every reported number one explanation, and
:func:`summary_table` counts them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping, Sequence
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


def collect(settings: Any, reported: R.Reported, seeds: int, sensitivity_seeds: int,
            variants: Sequence[str] = ORDER) -> Study:
    """The runs of every experiment ``reported`` needs under each variant, ``seeds`` seeds
    each (:func:`hwlib.reproduction.collect`), and ``sensitivity_seeds`` seeds of every
    sensitivity run (:data:`hwlib.experiments.SENSITIVITY`), with the chapter's overrides
    (``settings``: its :class:`hwlib.settings.Settings`; its own ``variant`` is not used).
    Where a sensitivity value makes a variant's own experiment (e.g. batch 64 is
    ``original``'s CIFAR-10 setting), its point holds that variant's ``seeds`` study runs, so
    that a figure and a table agree on the same runs."""
    from hwlib.settings import progress
    from hwlib.store import RunStore
    from hwlib.train import run

    seed_range = E.seed_list(sensitivity_seeds, "sensitivity_seeds")
    runs = {v: R.collect(settings.for_variant(v), reported, seeds) for v in variants}
    store = RunStore(settings.store)
    sensitivity: dict[str, list[tuple[str, str, Any, Any]]] = {}
    for name, setting, values, on in E.SENSITIVITY:
        for variant in on:
            base = settings.for_variant(variant).experiment(name)
            for value in values:
                exp = base.with_overrides({setting: value})
                # a value that makes a variant's own experiment: that variant's study runs
                same = [v for v in runs if settings.for_variant(v).experiment(name).config_dict() == exp.config_dict()]
                if same:
                    found = runs[same[0]][name]
                else:
                    found = [run(exp.with_overrides({"seed": seed}), store, weights=False,
                                 data_dir=settings.data_dir, train=settings.train, log=progress)
                             for seed in seed_range]
                sensitivity.setdefault(setting, []).extend((name, variant, value, r) for r in found)
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
        df = R.result_table(reported, runs)[["id", "label", "source", "experiment", "dataset", "metric", "reported",
                                             "mean", "sd", "pi_low", "pi_high", "distance_sd", "verdict"]]
        df = df.rename(columns={c: f"{variant} {c}" for c in ("mean", "sd", "pi_low", "pi_high",
                                                               "distance_sd", "verdict")})
        merged = df if merged is None else merged.merge(df, on=["id", "label", "source", "experiment", "dataset",
                                                                 "metric", "reported"])
    return pd.DataFrame(merged).reset_index(drop=True)


def format_side_by_side(table: Any, metric: str, variants: Sequence[str] = ORDER) -> Any:
    """The ``metric`` rows of :func:`side_by_side` for reading: per variant one column,
    "mean ± sd, verdict"."""
    import pandas as pd

    from hwlib.tables import mean_sd, num

    rows = table[table["metric"] == metric]
    digits = 4 if metric == "loss" else 2
    out = {"result": [R.result_name(r) for _, r in rows.iterrows()],
           "reported": [num(v, digits) for v in rows["reported"]]}
    for v in variants:
        out[v] = [f"{mean_sd(m, s, digits)}, {verdict}"
                  for m, s, verdict in zip(rows[f"{v} mean"], rows[f"{v} sd"], rows[f"{v} verdict"])]
    return pd.DataFrame(out).reset_index(drop=True)


def _inside(row: Any, variant: str) -> bool:
    return bool(row[f"{variant} pi_low"] <= row["reported"] <= row[f"{variant} pi_high"])


def setting_hypothesis(table: Any, ids: Sequence[str], original: str = "original",
                       stated: str = "stated") -> tuple[str, Any]:
    """Does the ``original`` setting explain the reported numbers ``ids`` (accuracy and loss)?

    For each number: does each variant's prediction interval hold it, and which variant's
    mean is nearer (points, or loss). **supported** when ``original``'s intervals hold every
    number and ``stated``'s miss at least one; **refuted** when ``original`` holds no more of
    them than ``stated`` and is nearer for no more of them; **open** otherwise (e.g. nearer
    but not inside). Returns the outcome and the evidence, a row per number and metric."""
    import pandas as pd

    from hwlib.tables import num

    rows = table[table["id"].isin(ids)]
    if len(rows) != 2 * len(set(ids)):
        raise ValueError(f"Not every id of {list(ids)} has an accuracy and a loss row.")
    inside = {v: [_inside(r, v) for _, r in rows.iterrows()] for v in (original, stated)}
    gaps_ = {v: (rows[f"{v} mean"] - rows["reported"]).abs().to_numpy() for v in (original, stated)}
    nearer = [original if o < s else stated if s < o else "neither" for o, s in zip(gaps_[original], gaps_[stated])]
    n_in = {v: sum(inside[v]) for v in inside}
    n_near = {v: nearer.count(v) for v in (original, stated)}
    if n_in[original] == len(rows) and n_in[stated] < len(rows):
        outcome = SUPPORTED
    elif n_in[original] <= n_in[stated] and n_near[original] <= n_near[stated]:
        outcome = REFUTED
    else:
        outcome = OPEN
    evidence = pd.DataFrame({
        "result": [f"{r['id']}, {r['metric']}" for _, r in rows.iterrows()],
        "reported": [num(v, 4 if m == "loss" else 2) for v, m in zip(rows["reported"], rows["metric"])],
        **{v: [f"{num(m, 4 if metric == 'loss' else 2)}, {'inside' if i else 'outside'}"
               for m, metric, i in zip(rows[f"{v} mean"], rows["metric"], inside[v])] for v in (original, stated)},
        "nearer": nearer,
    })
    return outcome, evidence


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
    the prediction interval of the configuration it moves to
    (:func:`hwlib.reproduction.verdict_for`)."""
    rows = reported.group(group)
    out = []
    for row, printed, best in assignment.moved:
        r = rows[row - 1]
        entry: dict[str, Any] = {"id": r.id, "row": row, "printed": printed, "moved_to": best}
        for metric in R.METRICS:
            p = R.predict(runs[best], metric)
            entry[metric] = {"reported": getattr(r, metric), "mean": p.mean, "low": p.low, "high": p.high,
                             "verdict": R.verdict_for(getattr(r, metric), p)}
        out.append(entry)
    return out


def _short(name: str) -> str:
    """"cifar10-k3s2-same" -> "3×3 s2" (a sweep configuration, for a table cell)."""
    conv = E.get(name).model.convs[0]
    return f"{conv.kernel}×{conv.kernel} s{conv.stride}"


def assignment_table(assignments: Mapping[str, Assignment]) -> Any:
    """One row per variant: the printed labelling's rank among all assignments, the rows the
    best assignment moves, and the share of assignments that fit at least as well as the
    printed one."""
    import pandas as pd

    from hwlib.tables import num

    return pd.DataFrame([{
        "variant": variant, "printed labels: rank": f"{a.printed_rank} of {a.n_assignments}",
        "best assignment moves": "; ".join(f"row {i}: {_short(p)} → {_short(b)}" for i, p, b in a.moved) or "none",
        "share as close as printed (%)": num(100 * a.share_as_close, 0)} for variant, a in assignments.items()])


def moved_table(moved: Mapping[str, Sequence[Mapping[str, Any]]]) -> Any:
    """Per variant and moved row (:func:`moved_verdicts`): the reported accuracy and loss
    against our prediction interval of the configuration the row moves to, with verdicts."""
    import pandas as pd

    from hwlib.tables import interval, num

    def cell(m: Mapping[str, Any], digits: int) -> str:
        return f"{num(m['reported'], digits)} vs {interval(m['low'], m['high'], digits)}: {m['verdict']}"

    return pd.DataFrame([{"variant": variant, "row": f"{e['row']} ({e['id']})", "read as": _short(e["moved_to"]),
                          "accuracy (%)": cell(e["accuracy"], 2), "loss": cell(e["loss"], 4)}
                         for variant, entries in moved.items() for e in entries])


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


def instability(runs_by_variant: Mapping[str, Sequence[Any]], reported: R.Result) -> tuple[str, Any]:
    """H4: do the runs of ``reported``'s experiment collapse to chance, and does that explain
    the reported number? The report's own run did not collapse, so it is compared with our
    runs that did not collapse either: **supported** when, under some variant, some runs
    collapsed and without them the reported number (accuracy or loss) moves inside our
    prediction interval; **refuted** otherwise (no run collapsed, or leaving the collapsed
    ones out does not bring the number inside). Returns the outcome and a row per variant
    and metric: runs, collapsed runs, and the verdict with and without the collapsed runs."""
    import pandas as pd

    rows, explains = [], False
    for variant, runs in runs_by_variant.items():
        down = {seed for _, seed, _ in R.collapsed({runs[0].experiment.name: runs})}
        kept = [r for r in runs if r.experiment.train.seed not in down]
        for metric in R.METRICS:
            value = getattr(reported, metric)
            every = R.verdict_for(value, R.predict(runs, metric))
            without = R.verdict_for(value, R.predict(kept, metric)) if down and len(kept) >= 2 else "–"
            explains |= bool(down) and every != "reproduced" and without == "reproduced"
            rows.append({"variant": variant, "metric": metric, "runs": len(runs), "collapsed": len(down),
                         "verdict, every run": every, "verdict, without collapsed runs": without})
    return (SUPPORTED if explains else REFUTED), pd.DataFrame(rows)


def seed_table(found: Mapping[str, Any]) -> Any:
    """Each seed's test accuracy (%) per variant from :func:`collapses`, for
    :func:`hwlib.plots.seed_values`."""
    import pandas as pd

    return pd.DataFrame([{"variant": v, "seed": i, "accuracy": a} for v in found if v != "fisher_p"
                         for i, a in enumerate(found[v]["accuracies"])])


def epochs_above(runs: Sequence[Any]) -> list[tuple[int, int, int]]:
    """``(seed, epochs with test accuracy above training accuracy, epochs)`` per run
    (:func:`hwlib.analysis.curve_facts`)."""
    from hwlib.analysis import curve_facts

    facts = [(r.experiment.train.seed, curve_facts(r.history)) for r in runs]
    return sorted((seed, f["epochs_test_above_train"], f["epochs"]) for seed, f in facts)


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
        row = {"variant": variant, "network": R.label(name)}
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


def lag_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """H5's lag, one row per variant (``rows``: the variant, :func:`lag`'s numbers and the
    final accuracies), for reading."""
    import pandas as pd

    from hwlib.tables import num

    return pd.DataFrame([{
        "variant": r["variant"], "rise per epoch (pp)": num(r["rise"], 2),
        "beats next epoch (%)": num(100 * r["beats_next"], 0),
        **{k: num(v, 2) for k, v in r.items() if k.endswith("(%)")}} for r in rows])


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


CAUSES = {"H3": "explained: rows 2 and 4 swapped (H3)", "H4": "explained: unstable runs (H4)"}
UNCERTAIN = "too uncertain to judge"
CATEGORIES = ("reproduced under original", "reproduced under stated only", *CAUSES.values(), UNCERTAIN,
              "unexplained")


def explanation(row: Any, swapped: Collection[tuple[str, str]] = (), unstable: Collection[tuple[str, str]] = ()) -> str:
    """What explains one reported number (a row of :func:`side_by_side`), in this order: a row
    of a table read as swapped (``swapped``: ``{(result id, metric)}`` that H3 reproduces, so a
    moved row's accuracy and loss are read alike); reproduced under a variant; reproduced once
    collapsed runs are set aside (``unstable``, H4); too uncertain (an interval it lies in was
    too wide); else unexplained."""
    where = (row["id"], row["metric"])
    if where in swapped:
        return CAUSES["H3"]
    if row["original verdict"] == "reproduced":
        return "reproduced under original"
    if row["stated verdict"] == "reproduced":
        return "reproduced under stated only"
    if where in unstable:
        return CAUSES["H4"]
    if "too uncertain" in (row["original verdict"], row["stated verdict"]):
        return UNCERTAIN
    return "unexplained"


def closing_table(table: Any, swapped: Collection[tuple[str, str]] = (),
                  unstable: Collection[tuple[str, str]] = ()) -> Any:
    """Every reported number, one row per result: its accuracy and loss, each with what
    explains it (:func:`explanation`)."""
    import pandas as pd

    from hwlib.tables import num

    ex = {(r["id"], r["metric"]): explanation(r, swapped, unstable) for _, r in table.iterrows()}
    loss = {r["id"]: r["reported"] for _, r in table[table["metric"] == "loss"].iterrows()}
    return pd.DataFrame([{
        "result": R.result_name(r),
        "accuracy (%)": num(r["reported"], 2), "accuracy: explanation": ex[(r["id"], "accuracy")],
        "loss": num(loss[r["id"]], 4), "loss: explanation": ex[(r["id"], "loss")],
    } for _, r in table[table["metric"] == "accuracy"].iterrows()])


def summary_table(closing: Any) -> Any:
    """How many reported accuracies and losses each kind of explanation covers (every kind,
    zero included), for the chapter's opening."""
    import pandas as pd

    return pd.DataFrame({"explanation": CATEGORIES,
                         "accuracies": [int((closing["accuracy: explanation"] == c).sum()) for c in CATEGORIES],
                         "losses": [int((closing["loss: explanation"] == c).sum()) for c in CATEGORIES]})
