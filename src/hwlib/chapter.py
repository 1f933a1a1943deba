"""A dataset chapter of the book (MNIST or CIFAR-10): its runs, and the numbers, tables and
figures it builds from them. It glues nothing: the notebook glues what it states, in its own words."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import pandas as pd

from hwlib import analysis, experiments, plots, tables
from hwlib.reproduction import load_reported
from hwlib.stats import summarize

FEATURE_IMAGE = 4  # the test image of the feature maps: the homework's, so its figures can be held next to ours
N_EXAMPLES = 5  # the first five right (and wrong) test images, as in the homework
NETWORKS = {"base": "base network", "l2": "with L2", "l2-tuned": "tuned L2"}  # experiment name ends: table names


@dataclass
class DatasetChapter:
    """The runs and blocks of the chapter on ``dataset`` under ``settings`` (a :class:`hwlib.settings.Settings`)."""

    dataset: str
    settings: Any

    def __post_init__(self) -> None:
        self.data = self.settings.data(f"{self.dataset}-base")
        self._runs: dict[str, Any] = {}
        # The networks of NETWORKS the chapter has (tuned L2 where the homework has it).
        self.networks = [n for n in NETWORKS if f"{self.dataset}-{n}" in experiments.EXPERIMENTS]

    def run(self, network: str = "base") -> Any:
        """The run of ``network``: "base", "l2", "l2-tuned" or a sweep configuration ("k5s1-same")."""
        if network not in self._runs:
            self._runs[network] = self.settings.run(f"{self.dataset}-{network}")
        return self._runs[network]

    @cached_property
    def sweep_runs(self) -> list[Any]:
        return [self.run(name.removeprefix(f"{self.dataset}-")) for name in experiments.SWEEPS[self.dataset]]

    def seed_runs(self, network: str = "base") -> list[Any]:
        """The study's seeds 0..N-1 of ``network`` under the chapter's variant and profile."""
        name = f"{self.dataset}-{network}"
        return replace(self.settings, seed=0).seed_runs(name, experiments.STUDY_SEEDS)

    @cached_property
    def model(self) -> Any:
        return self.run("base").load_model()

    @cached_property
    def proba(self) -> Any:
        """The base network's class probabilities of every test image."""
        return analysis.predict_proba(self.model, self.data.x_test)

    @cached_property
    def maps(self) -> dict[str, Any]:
        return analysis.feature_maps(self.model, self.data.x_test[FEATURE_IMAGE])

    def show(self, figure: Any, network: str = "base") -> Any:
        """``figure`` as a PNG stamped with the provenance of ``network``'s run."""
        return plots.show(figure, self.run(network))

    def setup(self) -> dict[str, Any]:
        """How the runs are trained (``pixel_max``: 255 for raw pixels, 1 for pixels divided by 255)."""
        train = self.settings.experiment(f"{self.dataset}-base").train
        return {"epochs": train.epochs, "batch_size": train.batch_size,
                "pixel_max": 255 if train.input_scale == "raw" else 1,
                "n_train": len(self.data.y_train), "n_test": len(self.data.y_test),
                "parameters": self.run("base").metrics["params"]}  # as stored: no second model build

    def curve_facts(self, network: str = "base") -> dict[str, Any]:
        return analysis.curve_facts(self.run(network).history)

    def sweep_facts(self) -> dict[str, Any]:
        """:func:`hwlib.analysis.sweep_facts`; the base network is the sweep's run with its key."""
        base = next((r.experiment.name for r in self.sweep_runs if r.key == self.run("base").key), "")
        return analysis.sweep_facts(tables.sweep_table(self.sweep_runs), base)

    def seed_facts(self, network: str = "base") -> dict[str, Any]:
        """Over the study's seeds of ``network``: ``n``, mean and sd of the test accuracy (%)."""
        acc = summarize([100 * r.metrics["test_accuracy"] for r in self.seed_runs(network)])
        return {"n": acc.n, "acc_mean": acc.mean, "acc_sd": acc.sd}

    def reported(self, network: str = "base") -> Any:
        """The homework's result for ``network`` (a :class:`hwlib.reproduction.Result`), or None."""
        return load_reported().for_experiment(f"{self.dataset}-{network}")

    def feature_image(self) -> dict[str, Any]:
        """The feature maps' test image: its ``index``, ``label`` and the base network's ``predicted`` class."""
        names = self.data.class_names
        return {"index": FEATURE_IMAGE, "label": names[int(self.data.y_test[FEATURE_IMAGE])],
                "predicted": names[int(self.proba[FEATURE_IMAGE].argmax())]}

    def sweep(self) -> Any:
        """The homework's Table 3 or 6, best to worst, with the homework's numbers beside ours."""
        df = tables.sweep_table(self.sweep_runs)
        rep = list(map(load_reported().for_experiment, df["experiment"]))
        df["report: accuracy (%)"] = [r.accuracy if r else float("nan") for r in rep]
        df["report: loss"] = [r.loss if r else float("nan") for r in rep]
        return df[["kernel", "stride", "padding", "test accuracy (%)", "test loss", "Δ accuracy (pp)",
                   "report: accuracy (%)", "report: loss"]]

    def curves(self, *networks: str) -> Any:
        """The learning-curve numbers of ``networks`` (default: all the chapter's) side by side."""
        return tables.curves_table({NETWORKS[n]: self.curve_facts(n) for n in networks or self.networks})

    def reported_table(self) -> Any:
        """The homework's numbers beside this run's and the mean ± sd over the study's seeds."""
        return tables.reported_table([(NETWORKS[n], self.reported(n), self.run(n), self.seed_runs(n))
                                      for n in self.networks])

    def examples(self, correct: bool) -> Any:
        """The first five right (or wrong) test images, in test-set order."""
        d = self.data
        pick = analysis.pick_examples(d.y_test, self.proba, n=N_EXAMPLES, correct=correct)
        return self.show(plots.examples(d.x_test[pick], d.y_test[pick], self.proba[pick], d.class_names))

    def key_numbers(self) -> str:
        """The final test numbers of the chapter's runs, one line each (checked by nbval)."""
        runs = [self.run("base"), *self.sweep_runs, *(self.run(n) for n in self.networks[1:])]
        rows = [{"experiment": r.experiment.name, "run": r.key, "test_loss": f"{r.metrics['test_loss']:.4f}",
                 "test_accuracy": f"{100 * r.metrics['test_accuracy']:.2f}"} for r in runs]
        return pd.DataFrame(rows).to_string(index=False)
