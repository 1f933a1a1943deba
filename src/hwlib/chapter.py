"""A dataset chapter of the book (MNIST or CIFAR-10), one call per block.

The MNIST and CIFAR-10 chapters tell the same story about two datasets: the network, the
kernel/stride sweep, the learning curves, the weights, right and wrong predictions,
feature maps and L2 regularization. :class:`DatasetChapter` computes each block's runs,
tables, figures and glued values, so that a chapter keeps only its prose and one-line
cells (``chapter.sweep()``, ``chapter.curves()``, ...). Glue keys are
``{dataset}_{block}_{name}``, e.g. ``mnist_sweep_best_acc``.

Where the homework reported a number, the chapter shows it beside ours (the sweep's
"reported" columns; ``*_reported_*`` and ``*_seeds_*`` glue keys for the base and L2
networks: our mean and sd over the study's seeds of the chapter's variant).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from hwlib import analysis, glue, plots, provenance, tables
from hwlib import experiments as E
from hwlib.reproduction import Result, load_reported
from hwlib.stats import summarize

# Presentation choices of the original homework's code, followed so a reader can hold our
# figures next to the original's: the feature maps of test image 4, and the first five
# correctly and the first five wrongly classified test images, in test-set order.
FEATURE_IMAGE = 4
N_EXAMPLES = 5


def reported_for(experiment: str) -> Result | None:
    """The homework's reported result for ``experiment`` (its own row, not a sweep alias)."""
    rows = [r for r in load_reported().results if r.experiment == experiment]
    return rows[0] if rows else None


def seed_summary(runs: list[Any]) -> dict[str, Any]:
    """Mean and sd over seeds of the final test accuracy (%) and loss of ``runs``."""
    acc = summarize([100 * r.metrics["test_accuracy"] for r in runs])
    loss = summarize([r.metrics["test_loss"] for r in runs])
    return {"n": acc.n, "acc_mean": acc.mean, "acc_sd": acc.sd, "loss_mean": loss.mean, "loss_sd": loss.sd}


def above_train(history: Any) -> dict[str, Any]:
    """How often the test accuracy is above the (running-mean) training accuracy, and what
    the last epoch did to it (points)."""
    h = history.sort_values("epoch")
    above = int((h["test_accuracy"] > h["accuracy"]).sum())
    last_change = 100 * float(h["test_accuracy"].iloc[-1] - h["test_accuracy"].iloc[-2]) if len(h) > 1 else 0.0
    if above == len(h):
        phrase = f"the test accuracy is above the training accuracy at every one of the {len(h)} epochs"
    elif above == 0:
        phrase = "the test accuracy stays below the training accuracy at every epoch"
    else:
        phrase = f"the test accuracy is above the training accuracy in {above} of the {len(h)} epochs"
    if last_change < 0:
        phrase += f", and the last epoch lowers the test accuracy by {-last_change:.2f} points"
    return {"epochs_above": above, "epochs": len(h), "last_change": last_change, "above_phrase": phrase}


@dataclass
class DatasetChapter:
    """The blocks of the chapter on ``dataset`` under ``settings`` (a checked
    :class:`hwlib.settings.Settings`)."""

    dataset: str
    settings: Any
    glued: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base = self.settings.run(f"{self.dataset}-base")
        self.data = self.settings.data(f"{self.dataset}-base")
        self.runs: list[Any] = [self.base]
        exp = self.base.experiment
        self.glue("", {"epochs": exp.train.epochs, "n_train": len(self.data.y_train),
                       "n_test": len(self.data.y_test), "profile": self.settings.profile,
                       "variant": self.settings.variant, "variant_text": E.VARIANT_HELP[self.settings.variant],
                       "batch_size": exp.train.batch_size,
                       "input_scale": "raw 0–255 pixel values" if exp.train.input_scale == "raw"
                       else "pixel values divided by 255"})

    # -- helpers ---------------------------------------------------------------------------
    def glue(self, block: str, values: dict[str, Any]) -> None:
        prefix = f"{self.dataset}_{block}" if block else self.dataset
        glue.glue_all(prefix, values)
        self.glued += [f"{prefix}_{k}" for k in values]

    def name(self, what: str) -> str:
        return f"{self.dataset}-{what}"

    def _quote(self, block: str, run: Any) -> None:
        """Glue the homework's number for ``run``'s experiment beside ours over the seeds."""
        rep = reported_for(run.experiment.name)
        seeds = self.settings.seed_runs(run.experiment.name, E.study_seeds(run.experiment.name))
        s = seed_summary(seeds)
        self.glue(block, {"reported_acc": rep.accuracy if rep else float("nan"),
                          "reported_loss": rep.loss if rep else float("nan"),
                          "reported_source": rep.source if rep else "",
                          "seeds_n": s["n"], "seeds_acc_mean": s["acc_mean"], "seeds_acc_sd": s["acc_sd"],
                          "seeds_loss_mean": s["loss_mean"], "seeds_loss_sd": s["loss_sd"]})

    # -- blocks ----------------------------------------------------------------------------
    def network(self) -> None:
        """The architecture and training-settings tables."""
        glue.glue_table(f"{self.dataset}_arch", tables.architecture_table(self.base.experiment))
        glue.glue_table(f"{self.dataset}_hparams", tables.hyperparameter_table(self.base.experiment))

    def sweep(self) -> None:
        """The kernel/stride table (ours best to worst, the homework's numbers beside)."""
        self.sweep_runs = [self.settings.run(name) for name in E.SWEEPS[self.dataset]]
        self.runs += self.sweep_runs
        df = tables.sweep_table(self.sweep_runs)
        reported = {r.experiment: r for r in load_reported().results}
        df["reported accuracy (%)"] = [reported[n].accuracy if n in reported else float("nan")
                                       for n in df["experiment"]]
        df["reported loss"] = [reported[n].loss if n in reported else float("nan") for n in df["experiment"]]
        glue.glue_table(f"{self.dataset}_sweep", df)
        self.glue("sweep", analysis.sweep_findings(df, E.SWEEPS[self.dataset][0]))  # row 1: the base net

    def curves(self) -> Any:
        """The base network's learning curves (figure), its findings and the reported numbers."""
        self.glue("base", analysis.curve_findings(self.base.history) | above_train(self.base.history))
        self._quote("base", self.base)
        return provenance.show(plots.learning_curves(self.base.history), self.base)

    @cached_property
    def weights(self) -> dict[str, Any]:
        return analysis.layer_weights(self.base.load_model())

    def weight_histogram(self, layer: str) -> Any:
        return provenance.show(plots.weight_histograms(*self.weights[layer], layer), self.base)

    @cached_property
    def model(self) -> Any:
        return self.base.load_model()

    @cached_property
    def proba(self) -> Any:
        """The base network's class probabilities for every test image."""
        return analysis.predict_proba(self.model, self.data.x_test)

    @cached_property
    def pred(self) -> Any:
        return self.proba.argmax(axis=1)

    def predictions(self) -> None:
        """Glue the error counts and confidences of the test-set predictions."""
        self.glue("ex", analysis.example_findings(self.data.y_test, self.proba, self.data.class_names))

    def examples(self, correct: bool) -> Any:
        """The first five correctly (or wrongly) classified test images, in test-set order."""
        pick = analysis.pick_examples(self.data.y_test, self.proba, n=N_EXAMPLES, correct=correct)
        d = self.data
        return provenance.show(plots.examples(d.x_test[pick], d.y_test[pick], self.pred[pick], self.proba[pick],
                                          d.class_names), self.base)

    def features(self) -> None:
        """Feature maps of test image :data:`FEATURE_IMAGE` (the original's choice)."""
        idx = FEATURE_IMAGE
        self.maps = analysis.feature_maps(self.model, self.data.x_test[idx])
        label = self.data.class_names[int(self.data.y_test[idx])]
        predicted = self.data.class_names[int(self.pred[idx])]
        self.glue("fmap", {f"{name}_size": "x".join(map(str, m.shape[:2])) for name, m in self.maps.items()}
                  | {f"{name}_filters": m.shape[2] for name, m in self.maps.items()}
                  | {"label": label, "index": idx, "predicted": predicted,
                     "prediction_phrase": ("which the base network classifies correctly" if predicted == label
                                           else f"which the base network takes for a {predicted}")})

    def input_image(self) -> Any:
        idx = FEATURE_IMAGE
        label = self.data.class_names[int(self.data.y_test[idx])]
        return provenance.show(plots.input_image(self.data.x_test[idx], label), self.base)

    def feature_map(self, layer: str) -> Any:
        return provenance.show(plots.feature_maps(self.maps[layer], layer), self.base)

    def l2(self) -> Any:
        """The L2 network: its findings against the base network, the reported numbers, and
        its learning curves (figure)."""
        self.l2_run = self.settings.run(self.name("l2"))
        self.runs.append(self.l2_run)
        exp = self.l2_run.experiment
        self.glue("l2", analysis.compare_findings(self.base, self.l2_run) | above_train(self.l2_run.history)
                  | {"factor": exp.model.l2, "layers": ", ".join(exp.model.l2_layers)})
        self._quote("l2", self.l2_run)
        return provenance.show(plots.learning_curves(self.l2_run.history), self.l2_run)

    def l2_weights(self) -> Any:
        weights = analysis.layer_weights(self.l2_run.load_model())
        return provenance.show(plots.all_weight_histograms(weights, log_counts=True), self.l2_run)

    def tuned(self) -> Any:
        """The tuned L2 network (CIFAR-10): what changed, its findings, its curves (figure)."""
        self.tuned_run = self.settings.run(self.name("l2-tuned"))
        self.runs.append(self.tuned_run)
        glue.glue_table(f"{self.dataset}_tuned_changes",
                          tables.changes_table(self.l2_run.experiment, self.tuned_run.experiment))
        self.glue("tuned", analysis.compare_findings(self.base, self.tuned_run))
        self.glue("tuned_vs_l2", analysis.compare_findings(self.l2_run, self.tuned_run))
        self._quote("tuned", self.tuned_run)
        return provenance.show(plots.learning_curves(self.tuned_run.history), self.tuned_run)

    def key_numbers(self) -> str:
        """The chapter's runs' final numbers, one line each (checked by nbval)."""
        return glue.key_numbers(self.runs).to_string(index=False)
