"""Every experiment of the homework, as data.

MNIST (report section 1, 10 epochs): the base net, the Table 3 kernel/stride sweep and
L2 on all layers. CIFAR-10 (section 2, 15 epochs): the base net, the Table 6 sweep, L2 on
all layers and the tuned L2 run of Table 7. :func:`quick` derives the small CI-sized
profile from any experiment, :func:`with_variant` the ``original`` or ``stated`` reading
of the homework (:data:`VARIANTS`); :func:`prepare` does both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from hwlib.config import ConvLayer, Experiment, ModelSpec, TrainSpec, validate
from hwlib.errors import ConfigError

PROFILES = ("full", "quick")
QUICK = {"epochs": 2, "n_train": 2000, "n_test": 1000}

# Two readings of the homework, as overrides per dataset applied to every experiment:
# "stated" is what the report states (plus Keras defaults where it is silent); "original"
# is what the homework's code actually ran (the facts: docs/variants.md): raw
# 0..255 MNIST pixels, and CIFAR-10 trained with batches of 64.
VARIANTS: dict[str, dict[str, dict[str, object]]] = {
    "stated": {},
    "original": {"mnist": {"input_scale": "raw"}, "cifar10": {"batch_size": 64}},
}
DEFAULT_VARIANT = "original"
VARIANT_HELP = {
    "stated": "the report's stated settings, Keras defaults elsewhere (MNIST pixels / 255, batch 32)",
    "original": "what the homework's code ran: raw 0..255 MNIST pixels, CIFAR-10 batch 64",
}


def _net(filters: tuple[int, ...], kernel: int, stride: int, padding: str, dense: tuple[int, ...]) -> ModelSpec:
    """conv/pool, conv/pool, conv, flatten, dense..., output (pooling after conv1, conv2)."""
    convs = tuple(
        ConvLayer(f, kernel, stride, padding, pool=i < 2) for i, f in enumerate(filters)
    )
    return ModelSpec(convs=convs, dense=dense)


MNIST_FILTERS, MNIST_DENSE = (4, 8, 16), (64,)
CIFAR_FILTERS, CIFAR_DENSE = (16, 32, 64), (64, 128)

# (kernel, stride, padding) rows of Table 3 and Table 6, in the report's order.
MNIST_SWEEP = ((5, 1, "same"), (3, 1, "valid"), (7, 1, "same"), (5, 2, "same"),
               (7, 3, "same"), (3, 2, "same"), (3, 3, "same"))
CIFAR_SWEEP = ((3, 1, "same"), (3, 2, "same"), (5, 2, "same"), (5, 1, "same"))


def _mnist(kernel: int = 5, stride: int = 1, padding: str = "same", **model) -> ModelSpec:
    return dataclasses.replace(_net(MNIST_FILTERS, kernel, stride, padding, MNIST_DENSE), **model)


def _cifar(kernel: int = 3, stride: int = 1, padding: str = "same", **model) -> ModelSpec:
    return dataclasses.replace(_net(CIFAR_FILTERS, kernel, stride, padding, CIFAR_DENSE), **model)


def sweep_name(dataset: str, kernel: int, stride: int, padding: str) -> str:
    return f"{dataset}-k{kernel}s{stride}-{padding}"


def _build() -> dict[str, Experiment]:
    mnist_train, cifar_train = TrainSpec(epochs=10), TrainSpec(epochs=15)
    mnist_all = tuple(_mnist().layer_names())
    cifar_all = tuple(_cifar().layer_names())
    exps = [
        Experiment("mnist-base", "mnist", _mnist(), mnist_train,
                   "MNIST base net (Table 1): 5x5 kernels, stride 1, same padding"),
        Experiment("mnist-l2", "mnist", _mnist(l2_layers=mnist_all), mnist_train,
                   "MNIST base net with L2 (0.01) on every layer (Figures 13-14)"),
        Experiment("cifar10-base", "cifar10", _cifar(), cifar_train,
                   "CIFAR-10 base net (Table 4): 3x3 kernels, stride 1, same padding"),
        Experiment("cifar10-l2", "cifar10", _cifar(l2_layers=cifar_all), cifar_train,
                   "CIFAR-10 base net with L2 (0.01) on every layer (Figures 28-29)"),
        Experiment("cifar10-l2-tuned", "cifar10", _cifar(l2_layers=("conv1", "conv3", "fc1")),
                   TrainSpec(epochs=20, learning_rate=0.002),
                   "CIFAR-10 tuned L2 (Table 7): lr 0.002, 20 epochs, L2 on conv1, conv3, fc1"),
    ]
    for k, s, p in MNIST_SWEEP:
        exps.append(Experiment(sweep_name("mnist", k, s, p), "mnist", _mnist(k, s, p), mnist_train,
                               f"MNIST sweep (Table 3): {k}x{k} kernels, stride {s}, {p} padding"))
    for k, s, p in CIFAR_SWEEP:
        exps.append(Experiment(sweep_name("cifar10", k, s, p), "cifar10", _cifar(k, s, p), cifar_train,
                               f"CIFAR-10 sweep (Table 6): {k}x{k} kernels, stride {s}, {p} padding"))
    return {e.name: validate(e) for e in exps}


EXPERIMENTS: dict[str, Experiment] = _build()
SWEEPS: dict[str, tuple[str, ...]] = {
    "mnist": tuple(sweep_name("mnist", *row) for row in MNIST_SWEEP),
    "cifar10": tuple(sweep_name("cifar10", *row) for row in CIFAR_SWEEP),
}
# Experiments whose trained weights the report's figures need (histograms, examples,
# feature maps); sweep runs keep only their metrics and history.
NEEDS_WEIGHTS = frozenset({"mnist-base", "mnist-l2", "cifar10-base", "cifar10-l2", "cifar10-l2-tuned"})


# Seeds per experiment in the study the book reports (the Reproduction chapter and the
# Gaps chapter): 5 for every experiment, so that every prediction interval rests on 5 seeds.
STUDY_SEEDS = 5
# Sensitivity studies of the Gaps chapter: (experiment, setting, values), every value under
# each listed variant, seeds 0..SENSITIVITY_SEEDS-1.
SENSITIVITY = (
    ("mnist-l2", "l2", (0.0001, 0.001, 0.003, 0.01, 0.03, 0.1), ("stated", "original")),
    ("cifar10-base", "batch_size", (32, 64, 128), ("stated",)),
)
SENSITIVITY_SEEDS = 2


def seed_list(n: Any, what: str = "seeds", at_least: int = 2) -> list[int]:
    """Seeds ``0..n-1``, checked: a whole number, at least ``at_least`` (two for a standard
    deviation or a paired test)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < at_least:
        raise ConfigError(f"{what} must be a whole number >= {at_least} (seeds 0..{what}-1 are used), got {n!r}.")
    return list(range(n))


def study_seeds(name: str) -> int:
    """How many seeds the book's study trains for experiment ``name``."""
    get(name)
    return STUDY_SEEDS


def sensitivity_runs(profile: str = "full") -> list[tuple[str, str, Any, Experiment]]:
    """``(experiment name, variant, value, experiment)`` of every sensitivity run, seed 0
    first (:data:`SENSITIVITY`)."""
    out = []
    for seed in range(SENSITIVITY_SEEDS):
        for name, setting, values, variants in SENSITIVITY:
            for variant in variants:
                for value in values:
                    exp = prepare(name, profile, variant).with_overrides({setting: value, "seed": seed})
                    out.append((name, variant, value, exp))
    return out


def study(profile: str = "full", variants: Sequence[str] | None = None) -> list[tuple[Experiment, bool]]:
    """Every run of the book's study, as ``(experiment, keep weights)``, in the order worth
    training them: the chapters' variant (:data:`DEFAULT_VARIANT`) first, so that an
    interrupted study still completes a book soonest; within a variant seed 0 of every
    experiment (the chapters' runs), then the further seeds; then the sensitivity runs.
    Configurations that coincide (the base net and its sweep row) are listed once per name;
    the executor trains them once. :func:`study_tiers` numbers these groups."""
    return [(exp, weights) for exp, weights, _ in _study(profile, variants)]


def study_tiers(profile: str = "full", variants: Sequence[str] | None = None) -> list[int]:
    """The group of each run of :func:`study` (same order), 0 first: seed 0 of the first
    variant, its further seeds, seed 0 of the next variant, ..., the sensitivity runs. The
    executor starts a lower group first and, within a group, the longest run first."""
    return [tier for _, _, tier in _study(profile, variants)]


def _study(profile: str, variants: Sequence[str] | None) -> list[tuple[Experiment, bool, int]]:
    if variants is None:
        variants = [DEFAULT_VARIANT] + [v for v in VARIANTS if v != DEFAULT_VARIANT]
    jobs: list[tuple[Experiment, bool, int]] = []
    for v, variant in enumerate(variants):
        for seed in range(STUDY_SEEDS):
            for name in EXPERIMENTS:
                exp = prepare(name, profile, variant).with_overrides({"seed": seed})
                jobs.append((exp, keeps_weights(exp, several_seeds=True), 2 * v + (seed > 0)))
    jobs += [(exp, False, 2 * len(variants)) for _, variant, _, exp in sensitivity_runs(profile)
             if variant in variants]
    return jobs


def keeps_weights(exp: Experiment, several_seeds: bool) -> bool:
    """Whether a run of ``exp`` stores its weights: only experiments the figures need, and
    in a study over several seeds only their seed 0 (the run the figures show)."""
    return exp.name in NEEDS_WEIGHTS and (not several_seeds or exp.train.seed == 0)


def get(name: str) -> Experiment:
    """The experiment called ``name``; a :class:`ConfigError` lists the known names."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown experiment {name!r}. Known experiments: {', '.join(EXPERIMENTS)} "
            "(run `hwlib list`)."
        ) from None


def sweep(dataset: str) -> list[Experiment]:
    """The sweep experiments of ``dataset`` (Table 3 or Table 6), in the report's order."""
    if dataset not in SWEEPS:
        raise ConfigError(f"No sweep for {dataset!r}. Sweeps exist for: {', '.join(SWEEPS)}.")
    return [EXPERIMENTS[n] for n in SWEEPS[dataset]]


def quick(exp: Experiment, **overrides) -> Experiment:
    """The CI-sized version of ``exp``: a stratified subset and few epochs."""
    settings = dict(QUICK, **overrides)
    return exp.with_overrides(settings)


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ConfigError(
            f"Unknown variant {variant!r}. Choose one of: "
            + "; ".join(f"{v} ({VARIANT_HELP[v]})" for v in VARIANTS) + "."
        )
    return variant


def with_variant(exp: Experiment, variant: str) -> Experiment:
    """``exp`` as the ``variant`` reading of the homework runs it (:data:`VARIANTS`)."""
    overrides = VARIANTS[check_variant(variant)].get(exp.dataset, {})
    return exp.with_overrides(dict(overrides)) if overrides else exp


def prepare(name: str, profile: str = "full", variant: str = DEFAULT_VARIANT) -> Experiment:
    """Experiment ``name`` under ``variant`` in ``profile``: what a command or chapter trains."""
    return with_profile(with_variant(get(name), variant), profile)


def with_profile(exp: Experiment, profile: str) -> Experiment:
    """``exp`` in the ``full`` (homework) or ``quick`` (CI) profile."""
    if profile == "full":
        return exp
    if profile == "quick":
        return quick(exp)
    raise ConfigError(f"Unknown profile {profile!r}. Choose one of: {', '.join(PROFILES)}.")
