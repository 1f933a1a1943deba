"""A chapter's parameters, checked by :meth:`Settings.from_params`, and the experiments and runs they select."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields, replace
from typing import Any

from hwlib import experiments as E
from hwlib.config import Experiment
from hwlib.errors import ConfigError
from hwlib.train import load_data, run

# Parameters a chapter has beyond Settings' fields, and fields it lacks (Gaps compares both variants).
EXTRA_PARAMETERS = {"reproduction": ("seeds",), "gaps": ("seeds", "sensitivity_seeds")}
OMITTED_PARAMETERS = {"gaps": ("variant",)}
_COUNT = (lambda v: v is None or type(v) is int and v >= 1, "a whole number >= 1, or None for the profile's value;")
_TEXT = (lambda v: v is None or isinstance(v, str), "text (a folder path, or the repository URL) or None,")
# parameter: (whether a value is good, what it must be), in the order they are checked
CHECKS = {"profile": (lambda v: v in E.PROFILES, f"one of 'auto', {', '.join(map(repr, E.PROFILES))},"),
          "variant": (lambda v: isinstance(v, str), f"one of {', '.join(map(repr, E.VARIANTS))},"),
          "epochs": _COUNT, "n_train": _COUNT, "n_test": _COUNT, "batch_size": _COUNT,
          "seed": (lambda v: type(v) is int and v >= 0, "a whole number >= 0,"), "data_dir": _TEXT, "store": _TEXT,
          "repository": _TEXT, "train": (lambda v: isinstance(v, bool), "True or False,")}


@dataclass(frozen=True)
class Settings:
    """A chapter's parameters (the chapters' parameters cell describes each)."""

    profile: str = "auto"
    epochs: int | None = None
    n_train: int | None = None
    n_test: int | None = None
    batch_size: int | None = None
    seed: int = 0
    variant: str = E.DEFAULT_VARIANT
    data_dir: str | None = None
    store: str | None = None
    train: bool = True
    repository: str | None = None

    @classmethod
    def from_params(cls, **params: Any) -> Settings:
        names = {f.name for f in fields(cls)}
        if unknown := sorted(set(params) - names):
            raise ConfigError(f"Unknown parameter(s) {', '.join(unknown)}. Parameters: {', '.join(sorted(names))}.")
        s = cls(**params)
        if s.profile == "auto":  # quick on Binder and Colab, full elsewhere
            online = any(map(os.environ.get, ("BINDER_SERVICE_HOST", "BINDER_LAUNCH_HOST", "COLAB_RELEASE_TAG")))
            s = replace(s, profile="quick" if online or "google.colab" in sys.modules else "full")
        for name, (good, what) in CHECKS.items():
            if not good(getattr(s, name)):
                raise ConfigError(f"{name} must be {what} got {getattr(s, name)!r}.")
        E.check_variant(s.variant)
        for name in E.EXPERIMENTS:  # every override must make sense for every experiment
            s.experiment(name)
        return s

    def for_variant(self, variant: str) -> Settings:
        """These settings under another variant (checked)."""
        return replace(self, variant=E.check_variant(variant))

    def experiment(self, name: str) -> Experiment:
        """The experiment ``name`` in this profile and variant, with the overrides applied."""
        overrides = {k: getattr(self, k) for k in ("epochs", "n_train", "n_test", "batch_size", "seed")
                     if getattr(self, k)}  # None (the profile's value) and seed 0 override nothing
        exp = E.prepare(name, self.profile, self.variant)
        return exp.with_overrides(overrides) if overrides else exp

    def run(self, name: str) -> Any:
        """The run of experiment ``name`` (its weights kept when the figures need them)."""
        return self.run_of(self.experiment(name), weights=name in E.NEEDS_WEIGHTS)

    def run_of(self, exp: Experiment, weights: bool = False) -> Any:
        """The run of ``exp``: from the store, or trained when ``train``."""
        return run(exp, self.store, weights=weights, data_dir=self.data_dir, train=self.train,
                   log=lambda line: print(line, file=sys.stderr, flush=True))  # papermill logs it, the book not

    def seed_runs(self, name: str, seeds: int) -> list:
        """The runs of experiment ``name`` with seeds ``0..seeds-1``; only seed 0 keeps its weights."""
        if self.seed:
            raise ConfigError(f"This chapter trains seeds 0..N-1 itself; leave seed at 0 (got {self.seed}) "
                              "and set the number of seeds instead.")
        exps = [self.experiment(name).with_overrides({"seed": s}) for s in E.seed_list(seeds)]
        return [self.run_of(exp, weights=E.keeps_weights(exp, several_seeds=True)) for exp in exps]

    def data(self, name: str) -> Any:
        """The dataset (with the experiment's subset) that experiment ``name`` uses."""
        return load_data(self.experiment(name), self.data_dir)


def check_parameters(params: dict[str, Any]) -> Settings:
    """Check parameters meant for every chapter: Settings' fields and every chapter's numbers of seeds."""
    extras = {name for names in EXTRA_PARAMETERS.values() for name in names}
    for name in sorted(extras & set(params)):
        E.seed_list(params[name], name)
    return Settings.from_params(**{k: v for k, v in params.items() if k not in extras})


def chapter_parameters(chapter: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without what ``chapter`` does not have (papermill would warn about them)."""
    others = {name for c, names in EXTRA_PARAMETERS.items() if c != chapter for name in names}
    dropped = (others - set(EXTRA_PARAMETERS.get(chapter, ()))) | set(OMITTED_PARAMETERS.get(chapter, ()))
    return {k: v for k, v in params.items() if k not in dropped}
