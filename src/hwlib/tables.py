"""Every table of the report, as a pandas DataFrame (and as Markdown for the book).

One typography for every table of the book: numbers carry a true minus sign (U+2212, as
the figures' axes do; :func:`hwlib.numfmt.num`, also importable as ``tables.num``),
headers are in sentence case (:func:`header`), sizes read "5×5", and in the book a
"mean ± sd" or "[low, high]" never breaks across lines (:func:`to_markdown`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from hwlib.config import DATASET_SHAPES, Experiment, shape_walk
from hwlib.numfmt import MINUS, num  # noqa: F401 (tables.num: the chapters' and reproduction's formatter)


def architecture_table(exp: Experiment) -> pd.DataFrame:
    """Tables 1 and 4: layer type, details, output shape and parameters, read from the
    built Keras model."""
    from hwlib.models import architecture_rows, build_experiment

    rows = architecture_rows(build_experiment(exp))
    df = pd.DataFrame(rows).rename(columns={"layer": "Layer", "type": "Type", "details": "Details",
                                            "output_shape": "Output shape", "params": "Parameters"})
    total = pd.DataFrame([{"Layer": "total", "Type": "", "Details": "", "Output shape": "",
                           "Parameters": int(df["Parameters"].sum())}])
    return pd.concat([df, total], ignore_index=True)


def hyperparameter_table(exp: Experiment) -> pd.DataFrame:
    """Tables 2 and 5: the training settings, read from the config."""
    t, m = exp.train, exp.model
    data = "all" if t.n_train is None else f"{t.n_train} (stratified subset)"
    rows = [
        ("Optimizer", f"Adam (learning rate {t.learning_rate:g})"),
        ("Loss", "Sparse categorical cross-entropy (from logits)"),
        ("Epochs", str(t.epochs)),
        ("Batch size", str(t.batch_size)),
        ("Activation", "ReLU (hidden layers)"),
        ("L2 regularization", f"{m.l2:g} on {', '.join(m.l2_layers)}" if m.l2_layers else "none"),
        ("Training images", data),
        ("Test images", "all" if t.n_test is None else f"{t.n_test} (stratified subset)"),
        ("Seed", str(t.seed)),
    ]
    return pd.DataFrame(rows, columns=["Setting", "Value"])


def sweep_table(runs: Sequence[Any]) -> pd.DataFrame:
    """Tables 3 and 6: one row per configuration, best to worst test accuracy.

    Columns: kernel, stride, padding, test loss, test accuracy (%), and the accuracy
    difference to the best row in percentage points (0 for the best).
    """
    rows = []
    for r in runs:
        conv = r.experiment.model.convs[0]
        rows.append({
            "experiment": r.experiment.name,
            "kernel": f"{conv.kernel}x{conv.kernel}",
            "stride": conv.stride,
            "padding": conv.padding,
            "test loss": r.metrics["test_loss"],
            "test accuracy (%)": 100 * r.metrics["test_accuracy"],
        })
    df = pd.DataFrame(rows).sort_values("test accuracy (%)", ascending=False, kind="stable")
    df["Δ accuracy (pp)"] = df["test accuracy (%)"] - df["test accuracy (%)"].iloc[0]
    return df.reset_index(drop=True).round({"test loss": 4, "test accuracy (%)": 2, "Δ accuracy (pp)": 2})


def sweep_seed_table(runs_by_config: Mapping[str, Sequence[Any]], confidence: float = 0.95) -> pd.DataFrame:
    """Tables 3 and 6 over seeds: one row per configuration, best to worst mean accuracy.

    ``runs_by_config`` maps a configuration's name to its runs (one per seed). Columns:
    kernel, stride, padding, the number of seeds, then for test accuracy (%) and test loss
    the mean, the sample standard deviation and the Student-t ``confidence`` interval of
    the mean (:func:`hwlib.stats.summarize`; NaN with one seed), and the difference of the
    mean accuracy to the best row in percentage points (0 for the best).
    """
    from hwlib.stats import summarize

    level = f"{100 * confidence:g}%"
    rows = []
    for name, runs in runs_by_config.items():
        if not runs:
            continue
        conv = runs[0].experiment.model.convs[0]
        acc = summarize([100 * r.metrics["test_accuracy"] for r in runs], confidence)
        loss = summarize([r.metrics["test_loss"] for r in runs], confidence)
        rows.append({
            "experiment": name,
            "kernel": f"{conv.kernel}x{conv.kernel}",
            "stride": conv.stride,
            "padding": conv.padding,
            "seeds": acc.n,
            "test accuracy (%)": acc.mean,
            "accuracy sd (pp)": acc.sd,
            f"accuracy {level} CI low (%)": acc.ci_low,
            f"accuracy {level} CI high (%)": acc.ci_high,
            "test loss": loss.mean,
            "loss sd": loss.sd,
            f"loss {level} CI low": loss.ci_low,
            f"loss {level} CI high": loss.ci_high,
        })
    df = pd.DataFrame(rows).sort_values("test accuracy (%)", ascending=False, kind="stable")
    df["Δ accuracy (pp)"] = df["test accuracy (%)"] - df["test accuracy (%)"].iloc[0]
    df = df.reset_index(drop=True)
    return df.round({c: 4 if "loss" in c else 2 for c in df.columns if df[c].dtype.kind == "f"})


def format_seed_table(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`sweep_seed_table` for reading: ``mean ± sd`` and ``[low, high]`` in one cell each."""
    level = next(c for c in df.columns if c.startswith("accuracy ") and c.endswith(" CI low (%)")).split()[1]
    out = df[["experiment", "kernel", "stride", "padding", "seeds"]].copy()
    out["test accuracy (%) mean ± sd"] = [mean_sd(m, s, 2)
                                          for m, s in zip(df["test accuracy (%)"], df["accuracy sd (pp)"])]
    out[f"accuracy {level} CI"] = [interval(lo, hi, 2) for lo, hi in zip(df[f"accuracy {level} CI low (%)"],
                                                                         df[f"accuracy {level} CI high (%)"])]
    out["test loss mean ± sd"] = [mean_sd(m, s, 4) for m, s in zip(df["test loss"], df["loss sd"])]
    out[f"loss {level} CI"] = [interval(lo, hi, 4)
                               for lo, hi in zip(df[f"loss {level} CI low"], df[f"loss {level} CI high"])]
    out["Δ accuracy (pp)"] = [num(d, 2) for d in df["Δ accuracy (pp)"]]
    return out


NBSP = "\u00a0"


def mean_sd(mean: float, sd: float, digits: int) -> str:
    """"mean ± sd" (just the mean when ``sd`` is NaN: one seed)."""
    return num(mean, digits) + ("" if pd.isna(sd) else f" ± {num(sd, digits)}")


def interval(low: float, high: float, digits: int, sign: bool = False) -> str:
    """"[low, high]", or "n/a" when there is no interval (one seed)."""
    return "n/a" if pd.isna(low) else f"[{num(low, digits, sign)}, {num(high, digits, sign)}]"


def header(name: str) -> str:
    """A column name in sentence case ("test loss" -> "Test loss"); a name that starts
    with a one-letter symbol (p, t, n) or a sign (Δ) is left as it is."""
    first = name.split(" ", 1)[0]
    return name if len(first) == 1 or not first[0].isalpha() else name[0].upper() + name[1:]


def changes_table(original: Experiment, changed: Experiment) -> pd.DataFrame:
    """Table 7: the settings that differ between two experiments, original vs changed."""
    def l2(e: Experiment) -> str:
        return ", ".join(e.model.l2_layers) if e.model.l2_layers else "none"

    candidates = [
        ("Adam learning rate", f"{original.train.learning_rate:g}", f"{changed.train.learning_rate:g}"),
        ("Epochs", str(original.train.epochs), str(changed.train.epochs)),
        ("Batch size", str(original.train.batch_size), str(changed.train.batch_size)),
        ("L2 factor", f"{original.model.l2:g}", f"{changed.model.l2:g}"),
        ("Layers with L2", l2(original), l2(changed)),
    ]
    rows = [r for r in candidates if r[1] != r[2]]
    return pd.DataFrame(rows, columns=["Setting", "Original", "Changed"])


def shape_walk_table(exp: Experiment) -> pd.DataFrame:
    """The output-size formula applied layer by layer to an experiment's network, written
    as the book writes it (⌊…⌋, a true minus sign)."""
    def formula(text: str) -> str:
        return re.sub(r"floor\((.*)\)( \+ 1 = \d+)$", "⌊\\1⌋\\2", text).replace(" - ", f" {MINUS} ")

    rows = [{"Layer": s.layer, "Input size": s.input_size, "Formula": formula(s.formula),
             "Output": f"{s.output_size}x{s.output_size}x{s.channels}"}
            for s in shape_walk(exp.model, DATASET_SHAPES[exp.dataset])]
    return pd.DataFrame(rows)


def experiment_table(experiments: Sequence[Experiment]) -> pd.DataFrame:
    """One row per experiment: its first convolution's kernel, stride and padding, epochs,
    batch size, pixel range, the layers with L2 ("all" when every weighted layer has it)
    and its config key."""
    def l2(e: Experiment) -> str:
        layers = e.model.l2_layers
        return "none" if not layers else "all" if set(layers) == set(e.model.layer_names()) else ", ".join(layers)

    return pd.DataFrame([{
        "Experiment": e.name, "Kernel": f"{e.model.convs[0].kernel}x{e.model.convs[0].kernel}",
        "Stride": e.model.convs[0].stride, "Padding": e.model.convs[0].padding, "Epochs": e.train.epochs,
        "Batch": e.train.batch_size, "Pixels": "0–255" if e.train.input_scale == "raw" else "0–1",
        "L2 on": l2(e), "Config key": e.key()} for e in experiments])


def feature_map_table(maps: Mapping[str, Any]) -> pd.DataFrame:
    """One row per convolution layer: how many feature maps it makes and their size."""
    return pd.DataFrame([{"Layer": name, "Maps": int(m.shape[2]), "Size (pixels)": f"{m.shape[0]}x{m.shape[1]}"}
                         for name, m in maps.items()])


def curves_table(facts: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Several runs' learning-curve numbers side by side (``facts``: a column name for each
    run and its :func:`hwlib.analysis.curve_facts`): one row per number."""
    rows = {
        "Test accuracy (%)": lambda f: num(f["test_acc"], 2),
        "Training accuracy (%)": lambda f: num(f["train_acc"], 2),
        "Gap: training − test (points)": lambda f: num(f["gap"], 2),
        "Best test accuracy (%)": lambda f: f"{num(f['best_test_acc'], 2)} (epoch {f['best_epoch']})",
        "Test loss": lambda f: num(f["test_loss"], 4),
        "Lowest test loss": lambda f: f"{num(f['min_test_loss'], 4)} (epoch {f['min_test_loss_epoch']})",
        "Epochs with test above training accuracy":
            lambda f: f"{f['epochs_test_above_train']} / {f['epochs']}",
    }
    return pd.DataFrame([{"measure": name, **{run: cell(f) for run, f in facts.items()}}
                         for name, cell in rows.items()])


def reported_table(rows: Sequence[tuple[str, Any, Any, Sequence[Any]]]) -> pd.DataFrame:
    """The homework's numbers beside ours: for each ``(network, reported, run, seed_runs)``
    (``reported``: a :class:`hwlib.reproduction.Result` or ``None``), the reported test
    accuracy and loss, this run's, and the mean ± sd over ``seed_runs``; two rows per
    network (accuracy, loss)."""
    from hwlib.stats import summarize

    out = []
    for network, rep, run, seeds in rows:
        n = len(seeds)
        acc = summarize([100 * r.metrics["test_accuracy"] for r in seeds])
        loss = summarize([r.metrics["test_loss"] for r in seeds])
        for measure, reported, ours, s, digits in (
                ("test accuracy (%)", rep.accuracy if rep else None, 100 * run.metrics["test_accuracy"], acc, 2),
                ("test loss", rep.loss if rep else None, run.metrics["test_loss"], loss, 4)):
            out.append({"network": network, "measure": measure,
                        "report": "" if reported is None else num(reported, digits),
                        "this run": num(ours, digits),
                        f"{n} seeds: mean ± sd": mean_sd(s.mean, s.sd, digits)})
    return pd.DataFrame(out)


def dataset_table(summaries: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The datasets as loaded: split sizes, image shape, pixel mean/std (train)."""
    rows = []
    for s in summaries:
        fmt = lambda v: ", ".join(f"{x:.4f}" for x in v)  # noqa: E731
        rows.append({
            "Dataset": s["name"], "Training images": s["train"]["n"], "Test images": s["test"]["n"],
            "Image shape": "x".join(map(str, DATASET_SHAPES[s["name"]])),
            "Pixel mean (train)": fmt(s["train"]["mean"]), "Pixel std (train)": fmt(s["train"]["std"]),
            "Fingerprint": s["fingerprint"],
        })
    return pd.DataFrame(rows)


def _float_format(column: str) -> str:
    name = column.lower()
    if "loss" in name:
        return ".4f"
    if "accuracy" in name or "(pp)" in name or "(%)" in name:
        return ".2f"
    return "g"


_PLUS_MINUS = re.compile(r"(?<=\S) ± (?=\S)")
_INTERVAL = re.compile(r"\[([^\]\s]+), ([^\]\s]+)\]")


def _keep_together(text: str) -> str:
    """No line break inside "mean ± sd" or "[low, high]": their spaces become no-break spaces."""
    return _INTERVAL.sub(f"[\\1,{NBSP}\\2]", _PLUS_MINUS.sub(f"{NBSP}±{NBSP}", text))


_TIMES = re.compile(r"(?<=\d)x(?=\d)")


def _cell(value: Any, fmt: str) -> str:
    """A cell as printed: numbers by ``fmt`` with a true minus sign, whole numbers of five
    digits or more grouped by thousands (60,000), "5x5" as "5×5", text kept together."""
    if isinstance(value, str):
        return _keep_together(_TIMES.sub("×", value))
    if pd.isna(value):
        return ""
    if isinstance(value, float):
        return format(value, fmt).replace("-", MINUS)
    return format(value, "," if abs(value) >= 10_000 else "").replace("-", MINUS)


def to_markdown(df: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (for `glue:md` inside a numbered `{table}`):
    headers in sentence case (:func:`header`), losses with 4 decimals, accuracies and
    differences in points with 2, true minus signs, numeric columns right-aligned. Text is
    printed as it is (tabulate would otherwise re-read "71.20" as a number and print 71.2),
    except that "5x5" reads "5×5" and "mean ± sd" and "[low, high]" are kept on one line;
    whole numbers of five digits or more are grouped by thousands."""
    cells = pd.DataFrame({header(str(c)): [_cell(v, _float_format(str(c))) for v in df[c]] for c in df.columns})
    align = ["right" if pd.api.types.is_numeric_dtype(df[c]) else "left" for c in df.columns]
    return cells.to_markdown(index=False, disable_numparse=True, colalign=align)
