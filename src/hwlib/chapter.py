"""A dataset chapter of the book (MNIST or CIFAR-10): its runs, tables, figures and numbers.

The MNIST and CIFAR-10 chapters tell the same story about two datasets: the network, the
kernel/stride sweep, the learning curves, the weights, right and wrong predictions,
feature maps and L2 regularization. :class:`DatasetChapter` gives each block in one call:
a table (a DataFrame), a figure (a PNG stamped with its provenance) or the numbers the
prose states (a dict). It glues nothing and writes no prose: the chapter glues what it
states, under keys written out whole, and says it in its own words.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hwlib import analysis, experiments, glue, plots, provenance, tables
from hwlib.reproduction import load_reported

# Presentation choices of the original homework's code, followed so a reader can hold our
# figures next to the original's: the feature maps of test image 4, and the first five
# correctly and the first five wrongly classified test images, in test-set order.
FEATURE_IMAGE = 4
N_EXAMPLES = 5
# The networks of a chapter beside its base network, as the experiment names end, and
# their names in the chapter's tables.
NETWORKS = {"base": "base network", "l2": "with L2", "l2-tuned": "tuned L2"}


@dataclass
class DatasetChapter:
    """The blocks of the chapter on ``dataset`` under ``settings`` (a checked
    :class:`hwlib.settings.Settings`)."""

    dataset: str
    settings: Any

    def __post_init__(self) -> None:
        self.data = self.settings.data(f"{self.dataset}-base")
        self._runs: dict[str, Any] = {}

    # -- runs ------------------------------------------------------------------------------
    def run(self, network: str = "base") -> Any:
        """The run of the chapter's ``network`` (``"base"``, ``"l2"``, ``"l2-tuned"`` or a
        sweep configuration such as ``"k5s1-same"``)."""
        if network not in self._runs:
            self._runs[network] = self.settings.run(f"{self.dataset}-{network}")
        return self._runs[network]

    @property
    def base(self) -> Any:
        return self.run("base")

    @cached_property
    def sweep_runs(self) -> list[Any]:
        prefix = f"{self.dataset}-"
        return [self.run(name.removeprefix(prefix)) for name in experiments.SWEEPS[self.dataset]]

    def seed_runs(self, network: str = "base") -> list[Any]:
        """The study's seeds 0..N-1 of ``network`` under the chapter's variant and profile."""
        name = f"{self.dataset}-{network}"
        return dataclasses.replace(self.settings, seed=0).seed_runs(name, experiments.study_seeds(name))

    # -- numbers ---------------------------------------------------------------------------
    def setup(self) -> dict[str, Any]:
        """How the chapter's runs are trained: ``epochs``, ``batch_size``, ``pixel_max``
        (255 for raw pixels, 1 for pixels divided by 255), ``n_train``, ``n_test`` and the
        base network's ``parameters``."""
        train = self.settings.experiment(f"{self.dataset}-base").train
        arch = self.architecture()
        return {"epochs": train.epochs, "batch_size": train.batch_size,
                "pixel_max": 255 if train.input_scale == "raw" else 1,
                "n_train": len(self.data.y_train), "n_test": len(self.data.y_test),
                "parameters": int(arch["Parameters"].iloc[-1])}

    def curve_facts(self, network: str = "base") -> dict[str, Any]:
        """:func:`hwlib.analysis.curve_facts` of ``network``'s run."""
        return analysis.curve_facts(self.run(network).history)

    def sweep_facts(self) -> dict[str, Any]:
        """:func:`hwlib.analysis.sweep_facts` of the sweep (the base network's rank in it: the
        row that is the same run)."""
        base = next((r.experiment.name for r in self.sweep_runs if r.key == self.base.key), "")
        return analysis.sweep_facts(tables.sweep_table(self.sweep_runs), base)

    def seed_facts(self, network: str = "base") -> dict[str, Any]:
        """Over the study's seeds of ``network``: ``n``, and the mean and sd of the test
        accuracy (%) and loss."""
        from hwlib.stats import summarize

        runs = self.seed_runs(network)
        acc = summarize([100 * r.metrics["test_accuracy"] for r in runs])
        loss = summarize([r.metrics["test_loss"] for r in runs])
        return {"n": acc.n, "acc_mean": acc.mean, "acc_sd": acc.sd, "loss_mean": loss.mean, "loss_sd": loss.sd}

    def reported(self, network: str = "base") -> dict[str, float]:
        """The homework's test ``accuracy`` (%) and ``loss`` for ``network`` (NaN if none)."""
        rep = load_reported().for_experiment(f"{self.dataset}-{network}")
        return {"accuracy": rep.accuracy if rep else float("nan"), "loss": rep.loss if rep else float("nan")}

    def error_facts(self) -> dict[str, Any]:
        """:func:`hwlib.analysis.error_facts` of the base network on the test set."""
        return analysis.error_facts(self.data.y_test, self.proba)

    def feature_image(self) -> dict[str, Any]:
        """The feature maps' test image: its ``index``, ``label`` and the base network's
        ``predicted`` class."""
        idx = FEATURE_IMAGE
        names = self.data.class_names
        return {"index": idx, "label": names[int(self.data.y_test[idx])], "predicted": names[int(self.pred[idx])]}

    # -- tables ----------------------------------------------------------------------------
    def architecture(self) -> Any:
        """The homework's Table 1 or 4: the base network, read from the built model."""
        return tables.architecture_table(self.base.experiment)

    def hyperparameters(self) -> Any:
        """The homework's Table 2 or 5: the base network's training settings."""
        return tables.hyperparameter_table(self.base.experiment)

    def sweep(self) -> Any:
        """The homework's Table 3 or 6: each kernel/stride configuration, best to worst,
        with the homework's numbers beside ours."""
        df = tables.sweep_table(self.sweep_runs)
        reported = load_reported()
        rep = [reported.for_experiment(name) for name in df["experiment"]]
        df["report: accuracy (%)"] = [r.accuracy if r else float("nan") for r in rep]
        df["report: loss"] = [r.loss if r else float("nan") for r in rep]
        return df[["kernel", "stride", "padding", "test accuracy (%)", "test loss", "Δ accuracy (pp)",
                   "report: accuracy (%)", "report: loss"]]

    def curves(self, *networks: str) -> Any:
        """The learning-curve numbers of ``networks`` (default: all of the chapter's) side by
        side (:func:`hwlib.tables.curves_table`)."""
        networks = networks or tuple(self.networks())
        return tables.curves_table({NETWORKS[n]: self.curve_facts(n) for n in networks})

    def confusions(self, n: int = 3) -> Any:
        """The base network's ``n`` most frequent mistakes on the test set."""
        return analysis.top_confusions(self.data.y_test, self.proba, self.data.class_names, n)

    def feature_maps_table(self) -> Any:
        """How many feature maps each convolution layer makes, and their size."""
        return tables.feature_map_table(self.maps)

    def tuned_changes(self) -> Any:
        """The homework's Table 7: the settings the tuned L2 run changes."""
        return tables.changes_table(self.run("l2").experiment, self.run("l2-tuned").experiment)

    def reported_table(self) -> Any:
        """The homework's numbers for the chapter's networks beside this run's and the
        mean ± sd over the study's seeds (:func:`hwlib.tables.reported_table`)."""
        return tables.reported_table([(NETWORKS[n], load_reported().for_experiment(f"{self.dataset}-{n}"), self.run(n),
                                       self.seed_runs(n)) for n in self.networks()])

    # -- figures ---------------------------------------------------------------------------
    def learning_curves(self, network: str = "base") -> Any:
        """Accuracy and loss per epoch of ``network``'s run."""
        run = self.run(network)
        return provenance.show(plots.learning_curves(run.history), run)

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

    def examples(self, correct: bool) -> Any:
        """The first five correctly (or wrongly) classified test images, in test-set order."""
        pick = analysis.pick_examples(self.data.y_test, self.proba, n=N_EXAMPLES, correct=correct)
        d = self.data
        return provenance.show(plots.examples(d.x_test[pick], d.y_test[pick], self.pred[pick], self.proba[pick],
                                              d.class_names), self.base)

    @cached_property
    def maps(self) -> dict[str, Any]:
        """Feature maps of test image :data:`FEATURE_IMAGE` (the original's choice)."""
        return analysis.feature_maps(self.model, self.data.x_test[FEATURE_IMAGE])

    def input_image(self) -> Any:
        label = self.data.class_names[int(self.data.y_test[FEATURE_IMAGE])]
        return provenance.show(plots.input_image(self.data.x_test[FEATURE_IMAGE], label), self.base)

    def feature_map(self, layer: str) -> Any:
        return provenance.show(plots.feature_maps(self.maps[layer], layer), self.base)

    def l2_weights(self) -> Any:
        """The weight histograms of every layer of the L2 network."""
        run = self.run("l2")
        return provenance.show(plots.all_weight_histograms(analysis.layer_weights(run.load_model()),
                                                           log_counts=True), run)

    def networks(self) -> list[str]:
        """The chapter's networks beside the sweep: base, L2 and, where the homework has
        it, tuned L2."""
        return [n for n in NETWORKS if f"{self.dataset}-{n}" in experiments.EXPERIMENTS]

    def key_numbers(self) -> str:
        """The final numbers of the chapter's runs (base, sweep, L2, tuned L2), one line
        each (checked by nbval)."""
        runs = [self.base, *self.sweep_runs, *(self.run(n) for n in self.networks()[1:])]
        return glue.key_numbers(runs).to_string(index=False)
