"""A chapter's parameters, checked, and the experiments and runs they select.

A chapter's ``parameters`` cell holds literals only; its next cell is::

    settings = Settings.from_params(profile=profile, variant=variant, epochs=epochs, ...)

which checks every parameter (a wrong type or value stops there with a one-paragraph
:class:`~hwlib.errors.ConfigError`) and then gives the chapter its experiments and runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hwlib import experiments as E
from hwlib.config import Experiment
from hwlib.errors import ConfigError
from hwlib.store import RunStore

# Parameters a chapter has beyond :class:`Settings`' fields, and fields it does not have (the
# Gaps chapter compares both variants, so it has no ``variant``).
EXTRA_PARAMETERS = {"reproduction": ("seeds",), "gaps": ("seeds", "sensitivity_seeds")}
OMITTED_PARAMETERS = {"gaps": ("variant",)}


@dataclass(frozen=True)
class Settings:
    """A chapter's parameters, checked.

    ``profile``: ``"full"`` (the homework's settings), ``"quick"`` (small stratified
    subsets, 2 epochs) or ``"auto"`` (quick on Binder or Colab, :func:`online_service`, full
    elsewhere); ``epochs``, ``n_train``, ``n_test``, ``batch_size``: override the
    profile for every experiment of the chapter (``None`` keeps it); ``seed``: the
    training seed; ``variant``: the reading of the homework (``"original"`` or ``"stated"``,
    see :data:`hwlib.experiments.VARIANTS`); ``data_dir``/``store``: where the datasets and the run store are
    (``None``: the usual look-up); ``train``: train runs missing from the store (``False``
    fails instead, for a build that must only read committed results); ``repository``: the
    book's git repository, which a chapter opened where hwlib is missing (Colab) installs
    hwlib from (``hwlib report`` sets it from ``$HWLIB_REPO_URL``).
    """

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
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise ConfigError(f"Unknown parameter(s) {', '.join(unknown)}. Parameters: {', '.join(sorted(names))}.")
        s = cls(**params)
        if s.profile == "auto":
            s = dataclasses.replace(s, profile="quick" if online_service() else "full")
        if s.profile not in E.PROFILES:
            raise ConfigError(f"profile must be one of 'auto', {', '.join(map(repr, E.PROFILES))}, got {s.profile!r}.")
        if not isinstance(s.variant, str):
            raise ConfigError(f"variant must be one of {', '.join(map(repr, E.VARIANTS))}, got {s.variant!r}.")
        E.check_variant(s.variant)
        for name in ("epochs", "n_train", "n_test", "batch_size"):
            _check_optional_int(name, getattr(s, name))
        if isinstance(s.seed, bool) or not isinstance(s.seed, int) or s.seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {s.seed!r}.")
        for name in ("data_dir", "store", "repository"):
            value = getattr(s, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be text (a folder path, or the repository URL) or None, got {value!r}.")
        if not isinstance(s.train, bool):
            raise ConfigError(f"train must be True or False, got {s.train!r}.")
        for name in E.EXPERIMENTS:  # every override must make sense for every experiment
            s.experiment(name)
        return s

    def for_variant(self, variant: str) -> Settings:
        """These settings under another variant (checked)."""
        return dataclasses.replace(self, variant=E.check_variant(variant))

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
                   data_dir=self.data_dir, train=self.train, log=progress)

    def seed_runs(self, name: str, seeds: int) -> list:
        """The runs of experiment ``name`` with seeds ``0..seeds-1`` (stored or trained).

        Only seed 0 keeps its weights (when the figures need them), as `hwlib sweep --seeds`.
        """
        from hwlib.train import run

        if self.seed:
            raise ConfigError(f"This chapter trains seeds 0..N-1 itself; leave seed at 0 (got {self.seed}) "
                              "and set the number of seeds instead.")
        store = RunStore(self.store)
        exps = [self.experiment(name).with_overrides({"seed": s}) for s in E.seed_list(seeds)]
        return [run(exp, store, weights=E.keeps_weights(exp, several_seeds=True), data_dir=self.data_dir,
                    train=self.train, log=progress) for exp in exps]

    def data(self, name: str):
        """The dataset (with the experiment's subset) that experiment ``name`` uses."""
        from hwlib.train import load_data

        return load_data(self.experiment(name), self.data_dir)


def check_parameters(params: dict[str, Any]) -> Settings:
    """Check parameters meant for every chapter: :class:`Settings`' fields plus any chapter's
    extras (:data:`EXTRA_PARAMETERS`, each a number of seeds >= 2)."""
    extras = {name for names in EXTRA_PARAMETERS.values() for name in names}
    for name in sorted(extras & set(params)):
        E.seed_list(params[name], name)
    return Settings.from_params(**{k: v for k, v in params.items() if k not in extras})


def chapter_parameters(chapter: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without what the chapter does not have: the extras of other chapters and
    the fields it omits (papermill would warn about them)."""
    others = {name for c, names in EXTRA_PARAMETERS.items() if c != chapter for name in names}
    dropped = (others - set(EXTRA_PARAMETERS.get(chapter, ()))) | set(OMITTED_PARAMETERS.get(chapter, ()))
    return {k: v for k, v in params.items() if k not in dropped}


def progress(message: str) -> None:
    """A chapter's progress (a run read from the store, each epoch of a run it trains), on
    stderr: papermill's ``--log-output`` shows it, the book leaves stderr out, and ``hwlib
    report`` drops it from the committed chapters."""
    import sys

    print(message, file=sys.stderr, flush=True)


def _check_optional_int(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, or None for the profile's value; got {value!r}.")


def online_service() -> str | None:
    """"Binder" or "Colab" when this kernel runs there (a chapter then defaults to the quick
    profile: minutes, not hours, on a borrowed machine), else None."""
    import os
    import sys

    if os.environ.get("BINDER_SERVICE_HOST") or os.environ.get("BINDER_LAUNCH_HOST"):
        return "Binder"
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "Colab"
    return None
