"""Every table of the report as a DataFrame, and :func:`to_markdown`, the book's one table typography."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from hwlib.config import DATASET_SHAPES, Experiment, shape_walk
from hwlib.numfmt import MINUS, minus, num
from hwlib.stats import summarize


def architecture_table(exp: Experiment) -> pd.DataFrame:
    """Tables 1 and 4: each layer of the built Keras model, and the total of parameters."""
    from hwlib.models import architecture_rows, build_experiment

    df = pd.DataFrame(architecture_rows(build_experiment(exp)))
    df.columns = ["Layer", "Type", "Details", "Output shape", "Parameters"]
    df.loc[len(df)] = ["total", "", "", "", int(df["Parameters"].sum())]
    return df


def hyperparameter_table(exp: Experiment) -> pd.DataFrame:
    """Tables 2 and 5: the training settings, read from the config."""
    t, m = exp.train, exp.model
    return pd.DataFrame([
        ("Optimizer", f"Adam (learning rate {t.learning_rate:g})"),
        ("Loss", "Sparse categorical cross-entropy (from logits)"),
        ("Epochs", str(t.epochs)), ("Batch size", str(t.batch_size)), ("Activation", "ReLU (hidden layers)"),
        ("L2 regularization", f"{m.l2:g} on {', '.join(m.l2_layers)}" if m.l2_layers else "none"),
        ("Training images", "all" if t.n_train is None else f"{t.n_train} (stratified subset)"),
        ("Test images", "all" if t.n_test is None else f"{t.n_test} (stratified subset)"),
        ("Seed", str(t.seed)),
    ], columns=["Setting", "Value"])


def _conv(exp: Experiment) -> dict[str, Any]:
    conv = exp.model.convs[0]
    return {"kernel": f"{conv.kernel}x{conv.kernel}", "stride": conv.stride, "padding": conv.padding}


def _ranked(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows best to worst test accuracy, with the difference to the best in points."""
    df = pd.DataFrame(rows).sort_values("test accuracy (%)", ascending=False, kind="stable")
    df["Δ accuracy (pp)"] = df["test accuracy (%)"] - df["test accuracy (%)"].iloc[0]
    return df.reset_index(drop=True)


def sweep_table(runs: Sequence[Any]) -> pd.DataFrame:
    """Tables 3 and 6: each run's first convolution, test loss and accuracy (%), best first."""
    df = _ranked([{"experiment": r.experiment.name, **_conv(r.experiment), "test loss": r.metrics["test_loss"],
                   "test accuracy (%)": 100 * r.metrics["test_accuracy"]} for r in runs])
    return df.round({"test loss": 4, "test accuracy (%)": 2, "Δ accuracy (pp)": 2})


def sweep_seed_table(runs_by_config: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """Tables 3 and 6 over seeds, best mean first: test accuracy (%) and loss as mean ± sd and 95% t-interval."""
    rows = []
    for name, runs in runs_by_config.items():
        acc = summarize([100 * r.metrics["test_accuracy"] for r in runs])
        loss = summarize([r.metrics["test_loss"] for r in runs])
        rows.append({"experiment": name, **_conv(runs[0].experiment), "seeds": acc.n, "test accuracy (%)": acc.mean,
                     "test accuracy (%) mean ± sd": mean_sd(acc.mean, acc.sd, 2),
                     "accuracy 95% CI": interval(acc.ci_low, acc.ci_high, 2),
                     "test loss mean ± sd": mean_sd(loss.mean, loss.sd, 4),
                     "loss 95% CI": interval(loss.ci_low, loss.ci_high, 4)})
    df = _ranked(rows)
    df["Δ accuracy (pp)"] = [num(d, 2) for d in df["Δ accuracy (pp)"]]
    return df.drop(columns="test accuracy (%)")


def mean_sd(mean: float, sd: float, digits: int) -> str:
    """"mean ± sd" (just the mean when ``sd`` is NaN: one seed)."""
    return num(mean, digits) + ("" if pd.isna(sd) else f" ± {num(sd, digits)}")


def interval(low: float, high: float, digits: int, sign: bool = False) -> str:
    """"[low, high]", or "n/a" when there is no interval (one seed)."""
    return "n/a" if pd.isna(low) else f"[{num(low, digits, sign)}, {num(high, digits, sign)}]"


def changes_table(original: Experiment, changed: Experiment) -> pd.DataFrame:
    """Table 7: the settings that differ between two experiments, original vs changed."""
    def settings(e: Experiment) -> dict[str, str]:
        return {"Adam learning rate": f"{e.train.learning_rate:g}", "Epochs": str(e.train.epochs),
                "Batch size": str(e.train.batch_size), "L2 factor": f"{e.model.l2:g}",
                "Layers with L2": ", ".join(e.model.l2_layers) or "none"}

    old, new = settings(original), settings(changed)
    return pd.DataFrame([(k, old[k], new[k]) for k in old if old[k] != new[k]],
                        columns=["Setting", "Original", "Changed"])


def shape_walk_table(exp: Experiment) -> pd.DataFrame:
    """The output-size formula applied layer by layer to an experiment's network (⌊…⌋, "−")."""
    steps = shape_walk(exp.model, DATASET_SHAPES[exp.dataset])
    return pd.DataFrame([{
        "Layer": s.layer, "Input size": s.input_size,
        "Formula": re.sub(r"floor\((.*)\)( \+ 1 = \d+)$", "⌊\\1⌋\\2", s.formula).replace(" - ", f" {MINUS} "),
        "Output": f"{s.output_size}x{s.output_size}x{s.channels}"} for s in steps])


def experiment_table(experiments: Sequence[Experiment]) -> pd.DataFrame:
    """One row per experiment: its settings, the layers with L2 ("all": every one), and the first
    experiment listed before it with the same settings (the two are one run)."""
    def l2(e: Experiment) -> str:
        layers = e.model.l2_layers
        return "none" if not layers else "all" if set(layers) == set(e.model.layer_names()) else ", ".join(layers)

    configs = [e.config_dict() for e in experiments]
    firsts = [experiments[configs.index(c)].name for c in configs]
    return pd.DataFrame([{
        "Experiment": e.name, **{k.capitalize(): v for k, v in _conv(e).items()}, "Epochs": e.train.epochs,
        "Batch": e.train.batch_size, "Pixels": "0–255" if e.train.input_scale == "raw" else "0–1", "L2 on": l2(e),
        "Same run as": "" if first == e.name else first} for e, first in zip(experiments, firsts)])


def feature_map_table(maps: Mapping[str, Any]) -> pd.DataFrame:
    """One row per convolution layer: how many feature maps it makes and their size."""
    return pd.DataFrame([{"Layer": name, "Maps": int(m.shape[2]), "Size (pixels)": f"{m.shape[0]}x{m.shape[1]}"}
                         for name, m in maps.items()])


def curves_table(facts: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Runs' :func:`hwlib.analysis.curve_facts` side by side (a column each), one row per number."""
    rows = {"Test accuracy (%)": "{test_acc:.2f}", "Training accuracy (%)": "{train_acc:.2f}",
            "Gap: training − test (points)": "{gap:.2f}",
            "Best test accuracy (%)": "{best_test_acc:.2f} (epoch {best_epoch})", "Test loss": "{test_loss:.4f}",
            "Lowest test loss": "{min_test_loss:.4f} (epoch {min_test_loss_epoch})",
            "Epochs with test above training accuracy": "{epochs_test_above_train} / {epochs}"}
    return pd.DataFrame([{"measure": name, **{run: minus(text.format(**f)) for run, f in facts.items()}}
                         for name, text in rows.items()])


def reported_table(rows: Sequence[tuple[str, Any, Any, Sequence[Any]]]) -> pd.DataFrame:
    """Per ``(network, reported, run, seed_runs)``: the reported test accuracy and loss, the run's, and ours."""
    out = []
    for network, rep, run, seeds in rows:
        for measure, key, scale, digits in (("test accuracy (%)", "accuracy", 100, 2), ("test loss", "loss", 1, 4)):
            s = summarize([scale * r.metrics[f"test_{key}"] for r in seeds])
            out.append({"network": network, "measure": measure,
                        "report": "" if rep is None else num(getattr(rep, key), digits),
                        "this run": num(scale * run.metrics[f"test_{key}"], digits),
                        f"{len(seeds)} seeds: mean ± sd": mean_sd(s.mean, s.sd, digits)})
    return pd.DataFrame(out)


def dataset_table(summaries: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The datasets as loaded: split sizes, image shape, pixel mean/std (train)."""
    return pd.DataFrame([{
        "Dataset": s["name"], "Training images": s["train"]["n"], "Test images": s["test"]["n"],
        "Image shape": "x".join(map(str, DATASET_SHAPES[s["name"]])),
        **{f"Pixel {k} (train)": ", ".join(f"{x:.4f}" for x in s["train"][k]) for k in ("mean", "std")},
        "Fingerprint": s["fingerprint"]} for s in summaries])


def _cell(value: Any, column: str) -> str:
    """A cell as printed: losses 4 decimals, accuracies and points 2, true minus, 1,000, 5×5, unbroken ± and [a, b]."""
    if isinstance(value, str):
        value = re.sub(r"(?<=\d)x(?=\d)", "×", value)
        value = re.sub(r"(?<=\S) ± (?=\S)", "\u00a0±\u00a0", value)
        return re.sub(r"\[([^\]\s]+), ([^\]\s]+)\]", "[\\1,\u00a0\\2]", value)
    if pd.isna(value):
        return ""
    if isinstance(value, float):
        name = column.lower()
        return minus(format(value, ".4f" if "loss" in name else ".2f" if re.search(r"accuracy|\(pp\)|\(%\)", name)
                            else "g"))
    return minus(format(value, ","))


def to_markdown(df: pd.DataFrame) -> str:
    """A DataFrame as Markdown for ``glue:md``: headers in sentence case (but "p", "Δ …"), :func:`_cell`, numbers
    right-aligned, text as it is (tabulate would re-read "71.20" as a number and print 71.2)."""
    heads = [c if len(c.split(" ", 1)[0]) == 1 or not c[0].isalpha() else c[0].upper() + c[1:] for c in map(str, df)]
    cells = pd.DataFrame({h: [_cell(v, str(c)) for v in df[c]] for h, c in zip(heads, df.columns)})
    align = ["right" if pd.api.types.is_numeric_dtype(df[c]) else "left" for c in df.columns]
    return cells.to_markdown(index=False, disable_numparse=True, colalign=align)
