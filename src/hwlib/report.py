"""What the book's chapters call: notebook parameters, runs, provenance, and papermill.

A chapter's ``parameters`` cell holds literals only; its next cell is::

    settings = report.Settings.from_params(profile=profile, epochs=epochs, ...)

which checks every parameter (a wrong type or value stops there with a one-paragraph
:class:`~hwlib.errors.ConfigError`) and then gives the chapter its experiments and runs.
:func:`execute_chapters` runs the chapters with papermill (``hwlib report``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwlib import __version__
from hwlib import experiments as E
from hwlib.config import Experiment
from hwlib.errors import ConfigError, HwlibError
from hwlib.store import RunStore, project_root

CHAPTERS = ("intro", "mnist", "cifar10", "reproduction")
# Parameters a chapter has beyond :class:`Settings`' fields.
EXTRA_PARAMETERS = {"reproduction": ("mnist_seeds", "cifar10_seeds")}


@dataclass(frozen=True)
class Settings:
    """A chapter's parameters, checked.

    ``profile``: ``"full"`` (the homework's settings) or ``"quick"`` (small stratified
    subsets, 2 epochs); ``epochs``, ``n_train``, ``n_test``, ``batch_size``: override the
    profile for every experiment of the chapter (``None`` keeps it); ``seed``: the
    training seed; ``variant``: the reading of the homework (``"original"`` or ``"stated"``,
    see :data:`hwlib.experiments.VARIANTS`); ``data_dir``/``store``: where the datasets and the run store are
    (``None``: the usual look-up); ``train``: train runs missing from the store (``False``
    fails instead, for a build that must only read committed results).
    """

    profile: str = "full"
    epochs: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    batch_size: int | None = None
    seed: int = 0
    variant: str = E.DEFAULT_VARIANT
    data_dir: str | None = None
    store: str | None = None
    train: bool = True

    @classmethod
    def from_params(cls, **params: Any) -> "Settings":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise ConfigError(f"Unknown parameter(s) {', '.join(unknown)}. Parameters: {', '.join(sorted(names))}.")
        s = cls(**params)
        if s.profile not in E.PROFILES:
            raise ConfigError(f"profile must be one of {', '.join(map(repr, E.PROFILES))}, got {s.profile!r}.")
        if not isinstance(s.variant, str):
            raise ConfigError(f"variant must be one of {', '.join(map(repr, E.VARIANTS))}, got {s.variant!r}.")
        E.check_variant(s.variant)
        for name in ("epochs", "n_train", "n_test", "batch_size"):
            _check_optional_int(name, getattr(s, name))
        if isinstance(s.seed, bool) or not isinstance(s.seed, int) or s.seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {s.seed!r}.")
        for name in ("data_dir", "store"):
            value = getattr(s, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a folder path (text) or None, got {value!r}.")
        if not isinstance(s.train, bool):
            raise ConfigError(f"train must be True or False, got {s.train!r}.")
        for name in E.EXPERIMENTS:  # every override must make sense for every experiment
            s.experiment(name)
        return s

    def overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in ("epochs", "n_train", "n_test", "batch_size")
                               if getattr(self, k) is not None}
        if self.seed:
            out["seed"] = self.seed
        return out

    def experiment(self, name: str) -> Experiment:
        """The experiment ``name`` in this profile, with the overrides applied."""
        exp = E.prepare(name, self.profile, self.variant)
        return exp.with_overrides(self.overrides()) if self.overrides() else exp

    def run(self, name: str):
        """The stored (or newly trained) run of experiment ``name``."""
        from hwlib.train import run

        return run(self.experiment(name), RunStore(self.store), weights=name in E.NEEDS_WEIGHTS,
                   data_dir=self.data_dir, train=self.train)

    def seed_runs(self, name: str, seeds: int) -> list:
        """The runs of experiment ``name`` with seeds ``0..seeds-1`` (stored or trained).

        Only seed 0 keeps its weights (when the figures need them), as `hwlib sweep --seeds`.
        """
        from hwlib.reproduction import seed_list
        from hwlib.train import run

        if self.seed:
            raise ConfigError(f"This chapter trains seeds 0..N-1 itself; leave seed at 0 (got {self.seed}) "
                              "and set the number of seeds instead.")
        store = RunStore(self.store)
        exps = [self.experiment(name).with_overrides({"seed": s}) for s in seed_list(seeds)]
        return [run(exp, store, weights=E.keeps_weights(exp, several_seeds=True), data_dir=self.data_dir,
                    train=self.train) for exp in exps]

    def data(self, name: str):
        """The dataset (with the experiment's subset) that experiment ``name`` uses."""
        from hwlib.train import load_data

        return load_data(self.experiment(name), self.data_dir)


def check_parameters(params: dict[str, Any]) -> Settings:
    """Check parameters meant for every chapter: :class:`Settings`' fields plus any chapter's
    extras (:data:`EXTRA_PARAMETERS`, each a number of seeds >= 2)."""
    from hwlib.reproduction import seed_list

    extras = {name for names in EXTRA_PARAMETERS.values() for name in names}
    for name in sorted(extras & set(params)):
        seed_list(params[name], name)
    return Settings.from_params(**{k: v for k, v in params.items() if k not in extras})


def chapter_parameters(chapter: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without the extras of other chapters (papermill would warn about them)."""
    others = {name for c, names in EXTRA_PARAMETERS.items() if c != chapter for name in names}
    return {k: v for k, v in params.items() if k not in others}


def _check_optional_int(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, or None for the profile's value; got {value!r}.")


MAX_LISTED_EXPERIMENTS = 3  # a figure of more experiments names its runs by a digest


def provenance(run: Any) -> str:
    """One line that identifies a figure's source: experiment, run key, seed, data, code.

    ``run`` may be a list of runs (a figure over seeds or experiments): then every
    experiment with its seeds and run keys, and the data and code they share.
    """
    runs = list(run) if isinstance(run, (list, tuple)) else [run]
    runs = list({r.key: r for r in runs}.values())  # one run may stand for two experiments
    if not runs:
        raise ValueError("provenance() needs at least one run.")
    commits = sorted({(r.provenance.get("git") or {}).get("commit", "")[:8] for r in runs} - {""})
    code = f"hwlib {__version__}" + (f" @ {', '.join(commits)}" if commits else "")
    data = ", ".join(sorted({r.data_fingerprint for r in runs}))
    if len(runs) == 1:
        r = runs[0]
        return f"{r.experiment.name} · run {r.key} · seed {r.experiment.train.seed} · data {data} · {code}"
    by_name: dict[str, list[Any]] = {}
    for r in runs:
        by_name.setdefault(r.experiment.name, []).append(r)
    if len(by_name) <= MAX_LISTED_EXPERIMENTS:
        parts = [f"{name} seeds {','.join(str(r.experiment.train.seed) for r in rs)} "
                 f"(runs {' '.join(r.key[:8] for r in rs)})" for name, rs in by_name.items()]
        return f"{' · '.join(parts)} · data {data} · {code}"
    # Too many to list: name the set of runs by a digest of their keys (sorted).
    import hashlib

    digest = hashlib.sha256(" ".join(sorted(r.key for r in runs)).encode()).hexdigest()[:12]
    seeds = sorted({r.experiment.train.seed for r in runs})
    return (f"{len(runs)} runs of {len(by_name)} experiments, seeds {seeds[0]}–{seeds[-1]} · run-set "
            f"{digest} (sha256 of the sorted run keys) · data {data} · {code}")


# ---------------------------------------------------------------------------------------
# Executing the chapters (papermill)
# ---------------------------------------------------------------------------------------
def book_dir() -> Path:
    root = project_root()
    if root is None:
        raise HwlibError("`hwlib report` runs from a checkout of hwlib (it needs the book/ folder).")
    return root / "book"


def execute_chapters(parameters: dict[str, Any] | None = None, chapters: tuple[str, ...] = CHAPTERS,
                     log=print) -> list[Path]:
    """Execute each chapter with papermill, in place, so ``jupyter-book build`` renders it.

    A chapter is written to a temporary file first and moved over the source only when it
    ran to the end: a failed chapter never replaces a good one (it is kept under
    ``book/_build/failed/`` to look at).
    """
    import papermill as pm

    book = book_dir()
    done = []
    for chapter in chapters:
        src = book / f"{chapter}.ipynb"
        scratch = book / "_build" / "papermill"
        scratch.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(suffix=f"-{chapter}.ipynb", dir=scratch)
        os.close(fd)
        tmp = Path(tmp_name)
        log(f"executing {src.relative_to(book.parent)} ...")
        try:
            pm.execute_notebook(str(src), str(tmp), parameters=chapter_parameters(chapter, parameters or {}),
                                cwd=str(book),
                                kernel_name="python3", progress_bar=False)
        except pm.PapermillExecutionError as exc:
            failed = book / "_build" / "failed" / src.name
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(tmp, failed)
            raise HwlibError(
                f"Chapter {src.name} stopped in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                f"(the executed notebook is in {failed}; {src.name} is unchanged)."
            ) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _tidy(tmp)
        os.replace(tmp, src)
        done.append(src)
    return done


# TensorFlow's C++ start-up lines (oneDNN notice, absl) carry timestamps and pids.
_TF_LOG = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} \d\d:\d\d:\d\d)")


def _without_tf_log(output: Any) -> Any:
    """The output without TensorFlow's C++ log lines (None if nothing else is left)."""
    if output.get("output_type") != "stream" or output.get("name") != "stderr":
        return output
    kept = [line for line in output["text"].splitlines(keepends=True) if not _TF_LOG.match(line)]
    if not kept:
        return None
    output["text"] = "".join(kept)
    return output


def _tidy(path: Path) -> None:
    """Hide papermill's injected-parameters cell in the book, and drop its wall-clock
    metadata so re-executing unchanged results leaves the committed notebook unchanged."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for meta in [nb.metadata.get("papermill", {})] + [c.metadata.get("papermill", {}) for c in nb.cells]:
        for key in ("start_time", "end_time", "duration", "exception", "status"):
            meta.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in map(_without_tf_log, cell.outputs) if o is not None]
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            cell.id = "injected-parameters"  # papermill draws a random id each run
            if "remove-cell" not in tags:
                tags.append("remove-cell")
    meta = nb.metadata.get("papermill", {})
    meta.pop("environment_variables", None)
    for key in ("input_path", "output_path"):  # machine-specific, temporary
        meta.pop(key, None)
    nbformat.write(nb, path)


# ---------------------------------------------------------------------------------------
# Findings: every result-dependent value or phrase the prose glues in
# ---------------------------------------------------------------------------------------
def _config_text(row: Any) -> str:
    return f"{row['kernel']} kernels with stride {row['stride']} and {row['padding']} padding"


def sweep_findings(df: Any, base_name: str) -> dict[str, Any]:
    """What the prose says about Table 3 / Table 6 (``df`` from ``tables.sweep_table``)."""
    acc = "test accuracy (%)"
    best, second, worst = df.iloc[0], df.iloc[min(1, len(df) - 1)], df.iloc[-1]
    stride1, strided = df[df["stride"] == 1], df[df["stride"] > 1]
    if len(stride1) and len(strided):
        if stride1[acc].min() > strided[acc].max():
            verdict = "every stride-1 configuration beats every strided one"
        elif stride1[acc].mean() > strided[acc].mean():
            verdict = "stride-1 configurations do better on average, but not every one beats every strided one"
        else:
            verdict = "strided configurations do as well as or better than stride 1 on average"
    else:
        verdict = "the sweep has no strided configuration to compare"
    base_rank = int(df.index[df["experiment"].isin([base_name])][0]) + 1 if base_name in set(df["experiment"]) else 0
    return {
        "best_config": _config_text(best), "best_acc": float(best[acc]), "best_loss": float(best["test loss"]),
        "second_config": _config_text(second), "second_gap": float(-second["Δ accuracy (pp)"]),
        "worst_config": _config_text(worst), "worst_acc": float(worst[acc]),
        "worst_gap": float(-worst["Δ accuracy (pp)"]),
        "stride1_mean": float(stride1[acc].mean()) if len(stride1) else float("nan"),
        "strided_mean": float(strided[acc].mean()) if len(strided) else float("nan"),
        "stride_verdict": verdict,
        "base_rank": base_rank,
        "base_is_best": "is" if base_rank == 1 else "is not",
    }


OVERFIT_LOSS_RISE = 0.10  # a final test loss 10% above its minimum counts as overfitting


def curve_findings(history: Any) -> dict[str, Any]:
    """Where the learning curves end, where the test accuracy plateaus, and whether the
    test loss turns up (accuracies in percent)."""
    from hwlib.analysis import PLATEAU_TOLERANCE, accuracy_gap

    g = accuracy_gap(history)
    h = history.sort_values("epoch").reset_index(drop=True)
    i_min = int(h["test_loss"].idxmin())
    rise = float(h["test_loss"].iloc[-1] - h["test_loss"].iloc[i_min])
    min_epoch = int(h["epoch"].iloc[i_min])
    tol = 100 * PLATEAU_TOLERANCE
    if g["overfit_epoch"] is not None:
        plateau = (f"from epoch {g['overfit_epoch']} on, the test accuracy stays within {tol:g} point of "
                   "its best while the training accuracy keeps rising")
    else:
        plateau = "the test accuracy keeps pace with the training accuracy up to the last epoch"
    min_loss = float(h["test_loss"].iloc[i_min])
    if rise > OVERFIT_LOSS_RISE * min_loss:
        loss = (f"the test loss is lowest after epoch {min_epoch} and has risen by {rise:.3f} "
                f"({100 * rise / min_loss:.0f}%) by the end while the training loss keeps falling: "
                "the network overfits")
    elif rise > 0:
        loss = (f"the test loss is lowest after epoch {min_epoch} and ends within "
                f"{100 * rise / min_loss:.0f}% of that minimum: at most mild overfitting")
    else:
        loss = "the test loss is still at its lowest at the last epoch: no sign of overfitting yet"
    return {
        "epochs": g["epochs"],
        "test_acc": 100 * g["test_accuracy"], "train_acc": 100 * g["train_accuracy"],
        "test_loss": float(h["test_loss"].iloc[-1]), "train_loss": float(h["loss"].iloc[-1]),
        "gap": 100 * abs(g["gap"]),
        "test_vs_train": "above" if g["test_above_train"] else "below",
        "relation_phrase": (
            "the test accuracy is above the training accuracy at every epoch"
            if g["test_above_train_every_epoch"] else
            f"the test accuracy ends {'above' if g['test_above_train'] else 'below'} the training accuracy"),
        "best_test_epoch": g["best_epoch"], "best_test_acc": 100 * g["best_test_accuracy"],
        "min_test_loss_epoch": min_epoch, "test_loss_rise": rise,
        "plateau_phrase": plateau, "overfit_phrase": loss,
    }


def compare_findings(base: Any, other: Any) -> dict[str, Any]:
    """How a variant (L2, tuned) compares with the base run at the end of training."""
    b, o = curve_findings(base.history), curve_findings(other.history)
    diff = o["test_acc"] - b["test_acc"]
    return {
        **{f"other_{k}": v for k, v in o.items()},
        "acc_diff": abs(diff),
        "acc_direction": "higher" if diff > 0 else "lower",
        "gap_base": b["gap"], "gap_other": o["gap"],
        "gap_direction": "narrower" if o["gap"] < b["gap"] else "wider",
    }


def example_findings(y_true: Any, proba: Any, class_names: tuple[str, ...]) -> dict[str, Any]:
    """Errors on the test set: how many, the most common confusion, confidence."""
    import numpy as np

    y_true = np.asarray(y_true)
    pred = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    wrong = pred != y_true
    pairs = np.zeros((len(class_names), len(class_names)), dtype=int)
    np.add.at(pairs, (y_true[wrong], pred[wrong]), 1)
    t, p = np.unravel_index(pairs.argmax(), pairs.shape)
    return {
        "n_test": int(len(y_true)), "n_wrong": int(wrong.sum()),
        "top_true": class_names[t], "top_pred": class_names[p], "top_count": int(pairs[t, p]),
        "conf_right": 100 * float(conf[~wrong].mean()) if (~wrong).any() else float("nan"),
        "conf_wrong": 100 * float(conf[wrong].mean()) if wrong.any() else float("nan"),
    }


def glue_all(prefix: str, values: dict[str, Any]) -> None:
    """Glue every value as ``{prefix}_{name}`` (not displayed) for the chapter's prose; a
    space in a name becomes ``_`` (a glue key is one word in the prose's roles)."""
    from myst_nb import glue

    for name, value in values.items():
        name = name.replace(" ", "_")
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
            value = value.item()  # a NumPy scalar glues as 'np.float64(...)', which no format spec reads
        glue(f"{prefix}_{name}", value, display=False)


def glue_table(name: str, df: Any) -> None:
    """Glue a DataFrame as Markdown, for a numbered ``{table}`` with ``{glue:md}`` inside."""
    from IPython.display import Markdown
    from myst_nb import glue

    from hwlib.tables import to_markdown

    glue(name, Markdown(to_markdown(df)), display=False)


def show(fig: Any, run: Any) -> Any:
    """Stamp a figure with its provenance line (below the plot; ``run`` may be a list of
    runs) and return it as a PNG (:func:`hwlib.plots.png`).

    The PNG is rendered here (not by the notebook's matplotlib backend), so the chapter
    shows exactly one image per figure whatever backend the kernel runs with (papermill,
    nbval, ``MPLBACKEND=Agg``), and the PDF gets the same bitmap as the HTML.
    """
    from IPython.display import Image

    from hwlib import plots

    plots.stamp(fig, provenance(run))
    return Image(data=plots.png(fig), format="png")


def key_numbers(runs: list[Any]) -> Any:
    """The final test numbers of a chapter's runs, one row each (checked by nbval)."""
    import pandas as pd

    return pd.DataFrame([{
        "experiment": r.experiment.name, "run": r.key,
        "test_loss": f"{r.metrics['test_loss']:.4f}",
        "test_accuracy": f"{100 * r.metrics['test_accuracy']:.2f}",
    } for r in runs])
