"""The homework's experiments as data (base nets, sweeps, L2 runs), the two readings of the homework
(:data:`VARIANTS`), the profiles and the study the book trains."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hwlib.config import DATASET_NAMES, ConvLayer, Experiment, ModelSpec, TrainSpec
from hwlib.errors import ConfigError

PROFILES = ("full", "quick")
QUICK = {"epochs": 2, "n_train": 2000, "n_test": 1000}

# Two readings of the homework, as overrides per dataset: "stated" is what the report states
# (Keras defaults where it is silent); "original" is what its code ran (docs/variants.md).
VARIANTS: dict[str, dict[str, dict[str, object]]] = {
    "stated": {},
    "original": {"mnist": {"input_scale": "raw"}, "cifar10": {"batch_size": 64}},
}
DEFAULT_VARIANT = "original"
VARIANT_HELP = {
    "stated": "the report's stated settings, Keras defaults elsewhere (MNIST pixels / 255, batch 32)",
    "original": "what the homework's code ran: raw 0..255 MNIST pixels, CIFAR-10 batch 64",
}

# (kernel, stride, padding) rows of Table 3 and Table 6, in the report's order.
MNIST_SWEEP = ((5, 1, "same"), (3, 1, "valid"), (7, 1, "same"), (5, 2, "same"),
               (7, 3, "same"), (3, 2, "same"), (3, 3, "same"))
CIFAR_SWEEP = ((3, 1, "same"), (3, 2, "same"), (5, 2, "same"), (5, 1, "same"))
NETS = {"mnist": ((4, 8, 16), (64,)), "cifar10": ((16, 32, 64), (64, 128))}  # filters, dense units


def _net(dataset: str, kernel: int, stride: int = 1, padding: str = "same", **model: Any) -> ModelSpec:
    """conv/pool, conv/pool, conv, flatten, dense..., output."""
    filters, dense = NETS[dataset]
    convs = tuple(ConvLayer(f, kernel, stride, padding, pool=i < 2) for i, f in enumerate(filters))
    return ModelSpec(convs=convs, dense=dense, **model)


def sweep_name(dataset: str, kernel: int, stride: int, padding: str) -> str:
    return f"{dataset}-k{kernel}s{stride}-{padding}"


def _build() -> dict[str, Experiment]:
    """The experiments; a title names their part of the homework, never a setting (an override could change it)."""
    mnist, cifar = TrainSpec(epochs=10), TrainSpec(epochs=15)
    exps = [
        Experiment("mnist-base", "mnist", _net("mnist", 5), mnist, "MNIST base net (Table 1)"),
        Experiment("mnist-l2", "mnist", _net("mnist", 5, l2_layers=tuple(_net("mnist", 5).layer_names())), mnist,
                   "MNIST L2 regularization (Figures 13-14)"),
        Experiment("cifar10-base", "cifar10", _net("cifar10", 3), cifar, "CIFAR-10 base net (Table 4)"),
        Experiment("cifar10-l2", "cifar10", _net("cifar10", 3, l2_layers=tuple(_net("cifar10", 3).layer_names())),
                   cifar, "CIFAR-10 L2 regularization (Figures 28-29)"),
        Experiment("cifar10-l2-tuned", "cifar10", _net("cifar10", 3, l2_layers=("conv1", "conv3", "fc1")),
                   TrainSpec(epochs=20, learning_rate=0.002), "CIFAR-10 tuned L2 run (Table 7)"),
    ]
    for dataset, rows, train, table in (("mnist", MNIST_SWEEP, mnist, "Table 3"),
                                        ("cifar10", CIFAR_SWEEP, cifar, "Table 6")):
        exps += [Experiment(sweep_name(dataset, *row), dataset, _net(dataset, *row), train,
                            f"{DATASET_NAMES[dataset]} sweep row ({table})") for row in rows]
    return {e.name: e for e in exps}


EXPERIMENTS: dict[str, Experiment] = _build()
SWEEPS: dict[str, tuple[str, ...]] = {
    "mnist": tuple(sweep_name("mnist", *row) for row in MNIST_SWEEP),
    "cifar10": tuple(sweep_name("cifar10", *row) for row in CIFAR_SWEEP),
}
# The experiments whose weights the figures need; sweep runs keep only metrics and history.
NEEDS_WEIGHTS = frozenset({"mnist-base", "mnist-l2", "cifar10-base", "cifar10-l2", "cifar10-l2-tuned"})

STUDY_SEEDS = 5  # seeds per experiment and variant in the book's study
# Sensitivity studies of the Gaps chapter: (experiment, setting, values, variants), seeds
# 0..SENSITIVITY_SEEDS-1.
SENSITIVITY = (
    ("mnist-l2", "l2", (0.0001, 0.001, 0.003, 0.01, 0.03, 0.1), ("stated", "original")),
    ("cifar10-base", "batch_size", (32, 64, 128), ("stated",)),
)
SENSITIVITY_SEEDS = 2


def seed_list(n: Any, what: str = "seeds", at_least: int = 2) -> list[int]:
    """Seeds ``0..n-1``, ``n`` a whole number >= ``at_least`` (two for a standard deviation or a paired test)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < at_least:
        raise ConfigError(f"{what} must be a whole number >= {at_least} (seeds 0..{what}-1 are used), got {n!r}.")
    return list(range(n))


def sensitivity_runs(profile: str = "full") -> list[tuple[str, str, Any, Experiment]]:
    """``(experiment name, variant, value, experiment)`` of every sensitivity run, seed 0 first."""
    return [(name, variant, value, prepare(name, profile, variant).with_overrides({setting: value, "seed": seed}))
            for seed in range(SENSITIVITY_SEEDS) for name, setting, values, variants in SENSITIVITY
            for variant in variants for value in values]


def study(profile: str = "full", variants: Sequence[str] | None = None) -> list[tuple[Experiment, bool, int]]:
    """Every run of the book's study as ``(experiment, keep weights, tier)``; lower tiers train first: 0 is seed
    0 of every experiment under :data:`DEFAULT_VARIANT` (the chapters' runs), 1 its further seeds, 2 and 3 the
    same for the next variant, last the sensitivity runs."""
    if variants is None:
        variants = [DEFAULT_VARIANT] + [v for v in VARIANTS if v != DEFAULT_VARIANT]
    jobs = []
    for v, variant in enumerate(variants):
        for seed in range(STUDY_SEEDS):
            for name in EXPERIMENTS:
                exp = prepare(name, profile, variant).with_overrides({"seed": seed})
                jobs.append((exp, keeps_weights(exp, several_seeds=True), 2 * v + (seed > 0)))
    return jobs + [(exp, False, 2 * len(variants)) for _, variant, _, exp in sensitivity_runs(profile)
                   if variant in variants]


def keeps_weights(exp: Experiment, several_seeds: bool) -> bool:
    """Whether a run keeps its weights: the figures' experiments, seed 0 only among several seeds."""
    return exp.name in NEEDS_WEIGHTS and (not several_seeds or exp.train.seed == 0)


def get(name: str) -> Experiment:
    """The experiment called ``name``; a :class:`ConfigError` lists the known names."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(f"Unknown experiment {name!r}. Known experiments: {', '.join(EXPERIMENTS)} "
                          "(run `hwlib list`).") from None


def sweep(dataset: str) -> list[Experiment]:
    """The sweep experiments of ``dataset`` (Table 3 or Table 6), in the report's order."""
    if dataset not in SWEEPS:
        raise ConfigError(f"No sweep for {dataset!r}. Sweeps exist for: {', '.join(SWEEPS)}.")
    return [EXPERIMENTS[n] for n in SWEEPS[dataset]]


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ConfigError(f"Unknown variant {variant!r}. Choose one of: "
                          + "; ".join(f"{v} ({VARIANT_HELP[v]})" for v in VARIANTS) + ".")
    return variant


def with_variant(exp: Experiment, variant: str) -> Experiment:
    """``exp`` as the ``variant`` reading of the homework runs it (:data:`VARIANTS`)."""
    overrides = VARIANTS[check_variant(variant)].get(exp.dataset, {})
    return exp.with_overrides(dict(overrides)) if overrides else exp


def with_profile(exp: Experiment, profile: str) -> Experiment:
    """``exp`` in the ``full`` (homework) or ``quick`` (CI: a subset, 2 epochs) profile."""
    if profile not in PROFILES:
        raise ConfigError(f"Unknown profile {profile!r}. Choose one of: {', '.join(PROFILES)}.")
    return exp.with_overrides(QUICK) if profile == "quick" else exp


def prepare(name: str, profile: str = "full", variant: str = DEFAULT_VARIANT) -> Experiment:
    """Experiment ``name`` under ``variant`` in ``profile``: what a command or chapter trains."""
    return with_profile(with_variant(get(name), variant), profile)
